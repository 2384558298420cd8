//! Micro QR and rMQR on both scan routes: every code says its `format`, a request's `formats`
//! narrows what is looked for (and gets its own cache entry), and a name not in the list is 400.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn both_routes_report_the_format_and_version_of_each_code() {
    let app = spawn_app(&[]).await;
    let (rmqr, rmqr_text) = rmqr_png();
    let cases = [
        (micro_qr_png("MICRO 42"), "MICRO 42", "MicroQRCode", 4),
        (rmqr, rmqr_text.as_str(), "rMQRCode", 18),
        (
            qr_png("https://example.com/qr"),
            "https://example.com/qr",
            "QRCode",
            2,
        ),
    ];
    for (png, text, format, version) in cases {
        let url = app.images.put("code.png", png.clone());
        let by_url = app.scan_url(&url).await;
        let by_upload = app.upload_png(png).await;
        for answer in [by_url, by_upload] {
            let code = &answer.assert_success()["codes"][0];
            assert_eq!(code["content"], text, "{code}");
            assert_eq!(
                (code["format"].as_str(), code["version"].as_i64()),
                (Some(format), Some(version))
            );
        }
    }
}

#[tokio::test]
async fn a_request_narrowing_formats_finds_only_those_whatever_the_cache_holds() {
    let app = spawn_app(&[]).await;
    let micro = micro_qr_png("MICRO 42");
    let url = app.images.put("micro.png", micro.clone());

    // The same bytes, first with every format (a cached success), then for QR only.
    let all = app.upload_json(&micro, json!({})).await;
    assert_eq!(all.assert_success()["codes"][0]["format"], "MicroQRCode");
    app.upload_json(&micro, json!({"formats": ["qr"]}))
        .await
        .assert_failure(200, 1008);
    let body = json!({"url": url, "formats": ["qr", "rmqr"]}).to_string();
    app.post_scan_url(body, None)
        .await
        .assert_failure(200, 1008);

    let body = json!({"url": url, "formats": ["microqr"]}).to_string();
    let narrowed = app.post_scan_url(body, None).await;
    assert_eq!(narrowed.assert_success()["content"], "MICRO 42");
    // Multipart and raw uploads name them in the query.
    let raw = app
        .client
        .post(app.url("/api/v1/qrcode/scan?formats=qr"))
        .header("content-type", "image/png")
        .body(micro)
        .send()
        .await
        .expect("qrscan answers");
    answer(raw).await.assert_failure(200, 1008);
}

#[tokio::test]
async fn an_unknown_format_name_is_a_bad_request_on_both_routes() {
    let app = spawn_app(&[]).await;
    let rest = spawn_app(&["--http-status", "rest"]).await;
    let url = app.images.put("micro.png", micro_qr_png("MICRO 42"));
    for (app, status) in [(&app, 200), (&rest, 400)] {
        let body = json!({"url": url, "formats": ["qr", "aztec"]}).to_string();
        let named = app.post_scan_url(body, None).await;
        named.assert_failure(status, 400);
        assert!(named.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`aztec`")));
        let upload = app
            .upload_json(
                &micro_qr_png("MICRO 42"),
                json!({"formats": ["datamatrix"]}),
            )
            .await;
        upload.assert_failure(status, 400);
        let body = json!({"url": url, "formats": []}).to_string();
        app.post_scan_url(body, None)
            .await
            .assert_failure(status, 400);
        let query = app
            .client
            .post(app.url("/api/v1/qrcode/scan?formats=qr,pdf417"))
            .header("content-type", "image/png")
            .body(micro_qr_png("MICRO 42"))
            .send()
            .await
            .expect("qrscan answers");
        answer(query).await.assert_failure(status, 400);
    }
}

#[tokio::test]
async fn a_server_looking_for_qr_only_ignores_micro_codes_and_refuses_requests_for_them() {
    let app = spawn_app(&["--formats", "qr"]).await;
    let url = app.images.put("micro.png", micro_qr_png("MICRO 42"));
    app.scan_url(&url).await.assert_failure(200, 1008);
    // A request may narrow the server's formats, never widen them.
    let body = json!({"url": url, "formats": ["microqr"]}).to_string();
    let answer = app.post_scan_url(body, None).await;
    answer.assert_failure(200, 400);
    assert!(answer.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("--formats qr")));
}
