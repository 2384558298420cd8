//! Rate limits (`--rate-limit`, `--rate-burst`, `--trusted-proxies`): 429 with `Retry-After` past
//! a bucket's burst, a bucket per key or per client address, forwarding headers believed only
//! from trusted proxies; and requests with two `Authorization` headers refused.
//! The limits are one request per 100 s, so nothing refills while a test runs.

use crate::helpers::*;

/// `POST scan_url {}` with optional bearer key and `X-Forwarded-For`; 400 once admitted.
async fn call(app: &TestApp, key: Option<&str>, forwarded_for: Option<&str>) -> Answer {
    let mut request = app
        .client
        .post(app.url("/api/v1/qrcode/scan_url"))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    answer(request.send().await.expect("answers")).await
}

/// `POST scan_url {}` with these header lines, values as raw bytes; 400 once admitted.
async fn call_with(app: &TestApp, lines: &[(&str, &[u8])]) -> Answer {
    let mut request = app
        .client
        .post(app.url("/api/v1/qrcode/scan_url"))
        .header("content-type", "application/json")
        .body("{}");
    for (name, value) in lines {
        let value = reqwest::header::HeaderValue::from_bytes(value).expect("a header value");
        request = request.header(*name, value);
    }
    answer(request.send().await.expect("answers")).await
}

fn assert_limited(answer: &Answer) {
    answer.assert_failure(429, 429);
    let retry_after: u64 = answer
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After in seconds: {:?}", answer.headers));
    assert!((1..=100).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn past_its_burst_a_client_gets_429_and_a_spoofed_forwarded_for_does_not_help() {
    for mode in ["compat", "rest"] {
        let app = spawn_app(&[
            "--rate-limit",
            "0.01",
            "--rate-burst",
            "2",
            "--http-status",
            mode,
        ])
        .await;
        assert_eq!(call(&app, None, None).await.code(), 400);
        assert_eq!(call(&app, None, Some("198.51.100.1")).await.code(), 400);
        // The peer (127.0.0.1) is not a trusted proxy: the header is ignored, same bucket.
        assert_limited(&call(&app, None, Some("198.51.100.2")).await);
        assert_limited(&call(&app, None, None).await);
        assert_eq!(
            app.metric("qrscan_rate_limited_total{bucket=\"address\"}")
                .await,
            2.0
        );
        assert_eq!(app.metric("qrscan_rate_limit_buckets").await, 1.0);
        // Only the API is limited: probes and metrics still answer.
        assert_eq!(app.get("/healthz").await.status, 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = spawn_app(&[
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "1",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    assert_eq!(call(&app, None, Some("198.51.100.1")).await.code(), 400);
    assert_limited(&call(&app, None, Some("198.51.100.1")).await);
    // A client that put its own fake entry first is still known by what the proxy appended.
    assert_limited(&call(&app, None, Some("203.0.113.50, 198.51.100.1")).await);
    assert_eq!(call(&app, None, Some("198.51.100.2")).await.code(), 400);
    // The proxy's own requests (no header) are a third client.
    assert_eq!(call(&app, None, None).await.code(), 400);
    app.stop().await;
}

#[tokio::test]
async fn behind_a_proxy_appending_x_forwarded_for_a_client_rotating_its_own_forwarded_is_limited() {
    // nginx's default: X-Forwarded-For appended, a client's Forwarded passed on as it came.
    let app = spawn_app(&[
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "1",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    let first = call_with(
        &app,
        &[
            ("forwarded", b"for=192.0.2.1"),
            ("x-forwarded-for", b"198.51.100.1"),
        ],
    )
    .await;
    assert_eq!(first.code(), 400);

    let rotated = call_with(
        &app,
        &[
            ("forwarded", b"for=192.0.2.2"),
            ("x-forwarded-for", b"198.51.100.1"),
        ],
    )
    .await;

    assert_limited(&rotated);
    app.stop().await;
}

#[tokio::test]
async fn a_hop_the_client_wrote_in_bytes_that_are_not_ascii_does_not_earn_it_a_fresh_bucket() {
    let app = spawn_app(&[
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "1",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    assert_eq!(
        call_with(&app, &[("x-forwarded-for", b"198.51.100.1")])
            .await
            .code(),
        400
    );

    // What nginx makes of a client's `X-Forwarded-For: \xff\xfe`: its own hop appended.
    let obs_text = call_with(&app, &[("x-forwarded-for", b"\xff\xfe, 198.51.100.1")]).await;
    let utf8 = call_with(
        &app,
        &[("x-forwarded-for", "caf\u{e9}, 198.51.100.1".as_bytes())],
    )
    .await;

    assert_limited(&obs_text);
    assert_limited(&utf8);
    app.stop().await;
}

#[tokio::test]
async fn with_forwarded_header_forwarded_the_proxys_forwarded_is_read_and_x_forwarded_for_is_not() {
    let app = spawn_app(&[
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "1",
        "--trusted-proxies",
        "127.0.0.1/32",
        "--forwarded-header",
        "forwarded",
    ])
    .await;
    let first = call_with(
        &app,
        &[
            ("x-forwarded-for", b"192.0.2.1"),
            ("forwarded", b"for=\"\xff\", for=198.51.100.1;proto=http"),
        ],
    )
    .await;
    assert_eq!(first.code(), 400);

    let rotated = call_with(
        &app,
        &[
            ("x-forwarded-for", b"192.0.2.2"),
            ("forwarded", b"for=198.51.100.1"),
        ],
    )
    .await;
    let another = call_with(&app, &[("forwarded", b"for=198.51.100.2")]).await;

    assert_limited(&rotated);
    assert_eq!(another.code(), 400, "another client has its own bucket");
    app.stop().await;
}

#[tokio::test]
async fn each_key_has_its_own_bucket_and_wrong_keys_share_their_address_bucket() {
    let app = spawn_app(&[
        "--api-keys",
        "key-one,key-two",
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "2",
    ])
    .await;
    assert_eq!(call(&app, Some("key-one"), None).await.code(), 400);
    assert_eq!(call(&app, Some("key-one"), None).await.code(), 400);
    assert_limited(&call(&app, Some("key-one"), None).await);
    assert_eq!(call(&app, Some("key-two"), None).await.code(), 400);

    // Guessing keys: each guess is a request of this address, and the guesses run out.
    call(&app, Some("guess-1"), None)
        .await
        .assert_failure(403, 403);
    call(&app, Some("guess-2"), None)
        .await
        .assert_failure(403, 403);
    assert_limited(&call(&app, Some("guess-3"), None).await);
    assert_limited(&call(&app, None, None).await);
    assert_eq!(
        app.metric("qrscan_rate_limited_total{bucket=\"key\"}")
            .await,
        1.0
    );
    assert_eq!(
        app.metric("qrscan_rate_limited_total{bucket=\"address\"}")
            .await,
        2.0
    );
    // The valid key's bucket is its own.
    assert_eq!(call(&app, Some("key-two"), None).await.code(), 400);
    app.stop().await;
}

#[tokio::test]
async fn two_authorization_headers_are_refused_even_when_one_is_valid() {
    let app = spawn_app(&["--api-keys", "key-one"]).await;
    for second in ["Bearer key-one", "Bearer wrong"] {
        let response = app
            .client
            .post(app.url("/api/v1/qrcode/scan_url"))
            .header("authorization", "Bearer key-one")
            .header("authorization", second)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("answers");
        let refused = answer(response).await;
        refused.assert_failure(403, 403);
        assert!(
            refused.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("exactly one")),
            "{}",
            refused.body
        );
    }
    assert_eq!(call(&app, Some("key-one"), None).await.code(), 400);
    app.stop().await;
}

#[tokio::test]
async fn readyz_answers_ready_while_serving() {
    let app = spawn_app(&[]).await;
    let ready = app.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body),
        (200, serde_json::json!({"status": "ready"}))
    );
    app.stop().await;
}
