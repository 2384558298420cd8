//! Auth, health, status modes and shutdown: the parts of the contract around a scan.

use crate::helpers::*;

#[tokio::test]
async fn without_keys_the_api_is_open() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("a.png", qr_png("https://cli.im/open"));
    app.post_scan_url(serde_json::json!({ "url": url }).to_string(), None)
        .await
        .assert_success();
}

#[tokio::test]
async fn with_keys_a_missing_or_wrong_key_is_403_and_a_right_key_scans() {
    let app = spawn_app(&["--api-keys", "k-one,k-two"]).await;
    let url = app.images.put("a.png", qr_png("https://cli.im/auth"));
    let body = serde_json::json!({ "url": url }).to_string();
    app.post_scan_url(body.clone(), None)
        .await
        .assert_failure(403, 403);
    app.post_scan_url(body.clone(), Some("k-three"))
        .await
        .assert_failure(403, 403);
    let data = app
        .post_scan_url(body.clone(), Some("k-two"))
        .await
        .assert_success()
        .clone();
    assert_eq!(data["content"], "https://cli.im/auth");
    // The health check needs no key.
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn in_rest_mode_a_missing_key_is_401_with_a_bearer_challenge() {
    let app = spawn_app(&["--api-keys", "secret", "--http-status", "rest"]).await;
    let answer = app
        .post_scan_url(r#"{"url":"http://127.0.0.1/x.png"}"#.into(), None)
        .await;
    answer.assert_failure(401, 403);
    assert_eq!(
        answer
            .headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("Bearer")
    );
}

#[tokio::test]
async fn auth_is_checked_before_the_body_so_bad_requests_without_a_key_are_403() {
    let app = spawn_app(&["--api-keys", "secret"]).await;
    app.post_scan_url("{broken".into(), None)
        .await
        .assert_failure(403, 403);
    app.post_scan_url("{broken".into(), Some("secret"))
        .await
        .assert_failure(200, 400);
}

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app(&[]).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn a_success_is_200_in_both_modes_with_the_same_envelope() {
    for mode in ["compat", "rest"] {
        let app = spawn_app(&["--http-status", mode]).await;
        let url = app.images.put("a.png", qr_png("wxp://both-modes"));
        let data = app.scan_url(&url).await.assert_success().clone();
        assert_eq!(data["provider"], "WechatPay", "{mode}");
    }
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let app = spawn_app(&[]).await;
    app.images
        .put("slow.png", qr_png("https://cli.im/in-flight"));
    let url = app.images.url("/slow/400/slow.png");
    let client = app.client.clone();
    let endpoint = app.url("/api/v1/qrcode/scan_url");
    let in_flight = tokio::spawn(async move {
        answer(
            client
                .post(endpoint)
                .json(&serde_json::json!({ "url": url }))
                .send()
                .await
                .expect("answers"),
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let address = app.address;
    app.stop().await;
    let finished = in_flight.await.expect("task");
    assert_eq!(
        finished.assert_success()["content"],
        "https://cli.im/in-flight"
    );
    // After shutdown nothing accepts new connections.
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}
