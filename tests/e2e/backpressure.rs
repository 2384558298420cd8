//! Load shedding: past the byte budget (`--max-buffered-bytes`) or the decode queue, a request is
//! refused at once with 503 and `Retry-After`, and the server is fine afterwards. Each test waits
//! on the server's own gauges (`/metrics`) rather than on a clock.

use tokio::io::AsyncReadExt;

use crate::helpers::*;

const KIB: usize = 1024;

#[tokio::test]
async fn an_upload_larger_than_the_byte_budget_is_503_with_retry_after() {
    let app = spawn_app(&["--max-buffered-bytes", "1MiB"]).await;

    let answer = app.upload_png(vec![0u8; 2 * KIB * KIB]).await;

    answer.assert_busy();
    assert_eq!(app.get("/healthz").await.body["status"], "ok");
    app.assert_released_and_serving("https://cli.im/after-503")
        .await;
}

#[tokio::test]
async fn a_stalled_upload_holds_only_what_it_sent_and_others_past_the_rest_get_503() {
    let app = spawn_app(&["--max-buffered-bytes", "1MiB"]).await;
    let image = padded_qr_png("https://cli.im/budget-upload", 600 * KIB);

    // It declares 4 MiB, four times the budget: only the 512 KiB that arrived are held.
    let stalled = app.stalled_upload(512 * KIB, 4096 * KIB).await;
    app.wait_for_metric(HELD, |held| held >= (512 * KIB) as f64)
        .await;
    let refused = app.upload_png(image.clone()).await;
    drop(stalled);
    app.wait_for_metric(HELD, |held| held == 0.0).await;
    let accepted = app.upload_png(image).await;

    refused.assert_busy();
    assert_eq!(
        accepted.assert_success()["content"],
        "https://cli.im/budget-upload"
    );
}

#[tokio::test]
async fn an_upload_that_stalls_past_the_fetch_timeout_is_1004_and_frees_its_bytes() {
    let app = spawn_app(&["--fetch-timeout", "300ms"]).await;
    let mut stalled = app.stalled_upload(64 * KIB, 256 * KIB).await;
    app.wait_for_metric(HELD, |held| held >= (64 * KIB) as f64)
        .await;

    // The server answers and closes while the client still owes most of its body. The guard
    // only keeps a regression from hanging the suite.
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stalled.read_to_end(&mut response),
    )
    .await
    .expect("the server answers a stalled upload")
    .expect("reads the answer");
    let response = String::from_utf8_lossy(&response);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let envelope: serde_json::Value = serde_json::from_str(body).expect("an envelope");
    assert_eq!(envelope["code"], 1004, "{response}");
    app.assert_released_and_serving("https://cli.im/after-stall")
        .await;
}

#[tokio::test]
async fn a_stalled_download_holds_only_what_arrived_and_others_past_the_rest_get_503() {
    let app = spawn_app(&["--max-buffered-bytes", "1MiB"]).await;
    let image = app.images.put(
        "big.png",
        padded_qr_png("https://cli.im/budget-download", 600 * KIB),
    );
    // The upstream declares 8 MiB, eight times the budget, and sends 512 KiB.
    let stalled_url = app
        .images
        .url(&format!("/stall/{}/{}", 512 * KIB, 8192 * KIB));

    let (stalled, refused) = tokio::join!(app.scan_url(&stalled_url), async {
        app.wait_for_metric(HELD, |held| held >= (512 * KIB) as f64)
            .await;
        let refused = app.scan_url(&image).await;
        app.images.release_stalled();
        refused
    });
    let accepted = app.scan_url(&image).await;

    refused.assert_busy();
    stalled.assert_failure(200, 1003);
    assert_eq!(
        accepted.assert_success()["content"],
        "https://cli.im/budget-download"
    );
}

#[tokio::test]
async fn a_decode_past_the_workers_and_the_queue_is_503_with_retry_after() {
    let app = spawn_app(&["--workers", "1", "--queue", "0", "--cache-entries", "0"]).await;
    let slow = app.images.put("unreadable.png", unreadable_codes_png());
    let fast = app.images.put("fast.png", qr_png("https://cli.im/queue"));

    let (holder, refused) = tokio::join!(app.scan_url(&slow), async {
        app.wait_for_metric("qrscan_decodes_admitted", |n| n >= 1.0)
            .await;
        app.scan_url(&fast).await
    });
    let after = app.scan_url(&fast).await;

    refused.assert_busy();
    assert!(
        [1008, 1009].contains(&holder.code()),
        "the holder ran to the end of its decode: {}",
        holder.body
    );
    assert_eq!(after.assert_success()["content"], "https://cli.im/queue");
}
