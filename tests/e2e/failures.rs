//! Every failure code reachable by a real request, in both `--http-status` modes.

use crate::helpers::*;

#[tokio::test]
async fn a_body_that_is_not_json_is_400_in_the_envelope() {
    let app = spawn_app(&[]).await;
    app.post_scan_url("{not json".into(), None)
        .await
        .assert_failure(200, 400);
    let rest = spawn_app(&["--http-status", "rest"]).await;
    rest.post_scan_url("{not json".into(), None)
        .await
        .assert_failure(400, 400);
}

#[tokio::test]
async fn a_missing_non_string_or_empty_url_is_400() {
    let app = spawn_app(&[]).await;
    for body in [
        "{}",
        r#"{"url": 42}"#,
        r#"{"url": ""}"#,
        r#"["http://x"]"#,
        r#"{"link":"http://x"}"#,
    ] {
        app.post_scan_url(body.into(), None)
            .await
            .assert_failure(200, 400);
    }
}

#[tokio::test]
async fn an_unknown_route_is_404_and_a_wrong_method_is_405_in_the_envelope() {
    let app = spawn_app(&[]).await;
    app.get("/api/v1/nope").await.assert_failure(404, 404);
    app.get("/api/v1/qrcode/scan_url")
        .await
        .assert_failure(405, 405);
    let deleted = answer(
        app.client
            .delete(app.url("/healthz"))
            .send()
            .await
            .expect("answers"),
    )
    .await;
    deleted.assert_failure(405, 405);
}

#[tokio::test]
async fn scan_url_returns_1001_for_a_url_that_is_not_absolute_or_has_another_scheme() {
    let app = spawn_app(&[]).await;
    for url in [
        "not a url",
        "/relative.png",
        "ftp://127.0.0.1/a.png",
        "file:///etc/passwd",
    ] {
        app.scan_url(url).await.assert_failure(200, 1001);
    }
    let rest = spawn_app(&["--http-status", "rest"]).await;
    rest.scan_url("gopher://x/").await.assert_failure(400, 1001);
}

#[tokio::test]
async fn scan_url_returns_1003_when_the_image_server_answers_404() {
    let app = spawn_app(&[]).await;
    let answer = app.scan_url(&app.images.url("/status/404")).await;
    answer.assert_failure(200, 1003);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("404"),
        "{}",
        answer.body
    );
    let rest = spawn_app(&["--http-status", "rest"]).await;
    rest.scan_url(&rest.images.url("/status/500"))
        .await
        .assert_failure(502, 1003);
}

#[tokio::test]
async fn scan_url_returns_1003_when_nothing_listens_at_the_address() {
    let app = spawn_app(&[]).await;
    // Bind then drop, so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    app.scan_url(&format!("http://127.0.0.1:{port}/a.png"))
        .await
        .assert_failure(200, 1003);
}

#[tokio::test]
async fn scan_url_returns_1004_when_the_image_server_is_too_slow() {
    let app = spawn_app(&["--fetch-timeout", "300ms"]).await;
    app.images.put("late.png", qr_png("late"));
    // Had qrscan waited for the server to wake, the image would have decoded (code 0).
    app.scan_url(&app.images.url("/slow/5000/late.png"))
        .await
        .assert_failure(200, 1004);
    let rest = spawn_app(&["--http-status", "rest", "--fetch-timeout", "300ms"]).await;
    rest.scan_url(&rest.images.url("/trickle"))
        .await
        .assert_failure(504, 1004);
}

#[tokio::test]
async fn scan_url_returns_1005_for_an_endless_body() {
    let app = spawn_app(&["--max-image-bytes", "256KiB"]).await;
    app.scan_url(&app.images.url("/endless"))
        .await
        .assert_failure(200, 1005);
    let rest = spawn_app(&["--http-status", "rest", "--max-image-bytes", "256KiB"]).await;
    rest.scan_url(&rest.images.url("/endless"))
        .await
        .assert_failure(413, 1005);
}

#[tokio::test]
async fn scan_url_returns_1005_when_content_length_is_over_the_limit() {
    let app = spawn_app(&["--max-image-bytes", "1000"]).await;
    let url = app.images.put("big.png", vec![0u8; 1001]);
    app.scan_url(&url).await.assert_failure(200, 1005);
    let url = app.images.put("fits.png", vec![0u8; 1000]);
    // At the limit the bytes are accepted (and then found not to be an image).
    app.scan_url(&url).await.assert_failure(200, 1007);
}

#[tokio::test]
async fn scan_url_returns_1006_when_the_image_has_too_many_pixels() {
    let app = spawn_app(&["--max-pixels", "10000"]).await;
    let url = app
        .images
        .put("wide.png", qr_png("https://cli.im/too-many-pixels"));
    app.scan_url(&url).await.assert_failure(200, 1006);
    let rest = spawn_app(&["--http-status", "rest", "--max-pixels", "10000"]).await;
    let url = rest.images.put("wide.png", qr_png("x"));
    rest.scan_url(&url).await.assert_failure(422, 1006);
}

#[tokio::test]
async fn scan_url_returns_1007_when_the_upstream_sends_html() {
    let app = spawn_app(&[]).await;
    app.scan_url(&app.images.url("/html"))
        .await
        .assert_failure(200, 1007);
    let rest = spawn_app(&["--http-status", "rest"]).await;
    rest.scan_url(&rest.images.url("/html"))
        .await
        .assert_failure(415, 1007);
}

#[tokio::test]
async fn scan_url_returns_1008_when_the_image_has_no_code() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("blank.png", blank_png());
    app.scan_url(&url).await.assert_failure(200, 1008);
    let rest = spawn_app(&["--http-status", "rest"]).await;
    let url = rest.images.put("blank.png", blank_png());
    rest.scan_url(&url).await.assert_failure(422, 1008);
}

#[tokio::test]
async fn the_server_keeps_answering_after_every_failure() {
    let app = spawn_app(&["--max-image-bytes", "64KiB", "--fetch-timeout", "200ms"]).await;
    for path in ["/endless", "/html", "/trickle", "/status/404", "/loop"] {
        let _ = app.scan_url(&app.images.url(path)).await;
    }
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, serde_json::json!({"status": "ok"}));
    app.stop().await;
}

#[tokio::test]
async fn scan_url_returns_1004_when_the_connection_cannot_be_established_in_time() {
    // A listener that never accepts, with a backlog of one: once its queue is full the kernel
    // drops further SYNs, so the next connect hangs until qrscan's connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let address = socket.local_addr().expect("addr");
    let _listener = socket.listen(1).expect("listen");
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(address);
        if let Ok(Ok(stream)) =
            tokio::time::timeout(std::time::Duration::from_millis(100), connect).await
        {
            fillers.push(stream);
        }
    }
    let app = spawn_app(&["--connect-timeout", "200ms", "--fetch-timeout", "5s"]).await;
    let answer = app.scan_url(&format!("http://{address}/a.png")).await;
    answer.assert_failure(200, 1004);
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("did not accept a connection"),
        "the connect timeout fired, not the fetch timeout: {message}"
    );
}
