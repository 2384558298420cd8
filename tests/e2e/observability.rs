//! `/metrics` moves with traffic, and every response carries a request id.

use crate::helpers::*;

async fn metrics_text(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// The value of the first sample line starting with `prefix`, or 0 when absent.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_code_and_the_cache_hits() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("m.png", qr_png("https://cli.im/metrics"));
    let before = metrics_text(&app).await;
    let ok = r#"qrscan_requests_total{route="/api/v1/qrcode/scan_url",code="0"}"#;
    assert_eq!(sample(&before, ok), 0.0);

    app.scan_url(&url).await.assert_success();
    app.scan_url(&url).await.assert_success();
    app.scan_url(&app.images.url("/html"))
        .await
        .assert_failure(200, 1007);

    let after = metrics_text(&app).await;
    assert_eq!(sample(&after, ok), 2.0, "{after}");
    assert_eq!(
        sample(
            &after,
            r#"qrscan_requests_total{route="/api/v1/qrcode/scan_url",code="1007"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&after, "qrscan_cache_hits_total"),
        1.0,
        "the second identical image is a hit"
    );
    assert_eq!(sample(&after, "qrscan_cache_misses_total"), 2.0);
    assert_eq!(sample(&after, "qrscan_fetch_duration_seconds_count"), 3.0);
    assert_eq!(sample(&after, "qrscan_decode_duration_seconds_count"), 2.0);
    assert!(sample(&after, "qrscan_fetched_bytes_total") > 100.0);
    assert_eq!(
        sample(
            &after,
            r#"qrscan_decode_strategy_total{strategy="finder/working/localaverage"}"#
        ),
        1.0,
        "a clean generated code is found by the plan's first row: {after}"
    );
    assert!(
        sample(
            &after,
            r#"qrscan_request_duration_seconds_count{route="/api/v1/qrcode/scan_url"}"#
        ) >= 3.0
    );
    // Only the /metrics request itself is in flight while it renders.
    assert_eq!(sample(&after, "qrscan_in_flight_requests"), 1.0);
}

#[tokio::test]
async fn with_the_cache_disabled_identical_images_decode_every_time() {
    let app = spawn_app(&["--cache-entries", "0"]).await;
    let url = app.images.put("m.png", qr_png("https://cli.im/nocache"));
    app.scan_url(&url).await.assert_success();
    app.scan_url(&url).await.assert_success();
    let text = metrics_text(&app).await;
    assert_eq!(
        sample(&text, "qrscan_decode_duration_seconds_count"),
        2.0,
        "{text}"
    );
    assert_eq!(sample(&text, "qrscan_cache_hits_total"), 0.0);
}

#[tokio::test]
async fn unknown_paths_share_one_metrics_label() {
    let app = spawn_app(&[]).await;
    app.get("/random/probe/1").await.assert_failure(404, 404);
    app.get("/random/probe/2").await.assert_failure(404, 404);
    let text = metrics_text(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"qrscan_requests_total{route="unmatched",code="404"}"#
        ),
        2.0,
        "{text}"
    );
    assert!(!text.contains("/random/probe"));
}

#[tokio::test]
async fn a_request_id_is_echoed_or_generated() {
    let app = spawn_app(&[]).await;
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("answers");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    let generated = app
        .client
        .post(app.url("/api/v1/qrcode/scan_url"))
        .body("{")
        .send()
        .await
        .expect("answers");
    let id = generated.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
}
