//! `POST /api/v1/qrcode/scan`: multipart, raw body and JSON uploads, each bad form, the size limit, auth.

use base64::Engine;

use crate::helpers::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn upload_reads_a_multipart_file_field() {
    let app = spawn_app(&[]).await;
    let answer = app
        .upload_multipart("file", &qr_png("https://qr.alipay.com/upload"))
        .await;
    let data = answer.assert_success();
    assert_eq!(
        (data["content"].as_str(), data["provider"].as_str()),
        (Some("https://qr.alipay.com/upload"), Some("Alipay"))
    );
}

#[tokio::test]
async fn upload_reads_a_raw_image_body() {
    let app = spawn_app(&[]).await;
    for content_type in ["image/png", "application/octet-stream", "IMAGE/WEBP"] {
        let answer = app.upload(content_type, qr_png("wxp://raw"), None).await;
        assert_eq!(
            answer.assert_success()["provider"],
            "WechatPay",
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn upload_reads_json_with_base64_or_a_data_url() {
    let app = spawn_app(&[]).await;
    let png = qr_png("https://jd.com/json");
    for image in [b64(&png), format!("data:image/png;base64,{}", b64(&png))] {
        let body = serde_json::json!({ "image": image })
            .to_string()
            .into_bytes();
        let answer = app.upload("application/json", body, None).await;
        assert_eq!(answer.assert_success()["provider"], "JD");
    }
}

/// `bytes` in base64 as the `base64` command prints it: lines of 76 characters, each ending
/// with `line_break`.
fn wrapped_b64(bytes: &[u8], line_break: &str) -> String {
    let text = b64(bytes);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(76)
        .map(|line| std::str::from_utf8(line).expect("ascii"))
        .collect();
    lines.join(line_break) + line_break
}

#[tokio::test]
async fn upload_and_data_urls_read_base64_wrapped_at_76_columns() {
    let app = spawn_app(&[]).await;
    let png = qr_png("https://jd.com/wrapped");
    for line_break in ["\n", "\r\n"] {
        let wrapped = wrapped_b64(&png, line_break);
        assert!(wrapped.matches(line_break).count() > 2, "{wrapped}");
        let data_url = format!("data:image/png;base64,{wrapped}");
        for image in [wrapped.clone(), data_url.clone()] {
            let body = serde_json::json!({ "image": image })
                .to_string()
                .into_bytes();
            let answer = app.upload("application/json", body, None).await;
            assert_eq!(
                answer.assert_success()["content"],
                "https://jd.com/wrapped",
                "{line_break:?}"
            );
        }
        let answer = app.scan_url(&data_url).await;
        assert_eq!(answer.assert_success()["content"], "https://jd.com/wrapped");
    }
}

#[tokio::test]
async fn upload_still_refuses_base64_broken_by_anything_but_line_breaks() {
    let app = spawn_app(&[]).await;
    let encoded = b64(&qr_png("https://jd.com/broken"));
    let (head, tail) = encoded.split_at(76);
    for image in [
        format!("{head} {tail}"),
        format!("{head}\t{tail}"),
        format!("{head}\n@@@@\n{tail}"),
        format!("{head}\u{0}{tail}"),
        format!("{head}\n\n====\n{tail}"),
    ] {
        let body = serde_json::json!({ "image": image })
            .to_string()
            .into_bytes();
        let answer = app.upload("application/json", body, None).await;
        answer.assert_failure(200, 400);
        assert_eq!(answer.body["message"], "`image` is not valid base64");
    }
}

#[tokio::test]
async fn upload_refuses_each_bad_form_with_400() {
    let app = spawn_app(&[]).await;
    let png = qr_png("x");
    app.upload_multipart("picture", &png)
        .await
        .assert_failure(200, 400);
    app.upload_multipart("file", b"")
        .await
        .assert_failure(200, 400);
    app.upload("multipart/form-data", b"garbage".to_vec(), None)
        .await
        .assert_failure(200, 400);
    app.upload("image/png", Vec::new(), None)
        .await
        .assert_failure(200, 400);
    app.upload(
        "application/json",
        br#"{"image":"@@not base64@@"}"#.to_vec(),
        None,
    )
    .await
    .assert_failure(200, 400);
    app.upload(
        "application/json",
        br#"{"image":"data:image/png;base64,@@@"}"#.to_vec(),
        None,
    )
    .await
    .assert_failure(200, 400);
    app.upload("application/json", br#"{"picture":"AAAA"}"#.to_vec(), None)
        .await
        .assert_failure(200, 400);
    app.upload("application/json", b"{broken".to_vec(), None)
        .await
        .assert_failure(200, 400);
    app.upload("text/plain", png.clone(), None)
        .await
        .assert_failure(200, 400);
    let rest = spawn_app(&["--http-status", "rest"]).await;
    rest.upload("text/plain", png, None)
        .await
        .assert_failure(400, 400);
}

#[tokio::test]
async fn upload_decodes_what_it_receives_and_reports_non_images_and_blank_images() {
    let app = spawn_app(&[]).await;
    app.upload("image/png", b"<html></html>".to_vec(), None)
        .await
        .assert_failure(200, 1007);
    app.upload("image/png", blank_png(), None)
        .await
        .assert_failure(200, 1008);
}

#[tokio::test]
async fn upload_over_the_byte_limit_is_1005_in_every_form() {
    let app = spawn_app(&["--max-image-bytes", "2KiB"]).await;
    let big = vec![7u8; 2049];
    app.upload("image/png", big.clone(), None)
        .await
        .assert_failure(200, 1005);
    app.upload_multipart("file", &big)
        .await
        .assert_failure(200, 1005);
    let json = serde_json::json!({ "image": b64(&big) })
        .to_string()
        .into_bytes();
    app.upload("application/json", json, None)
        .await
        .assert_failure(200, 1005);
    // Far past the limit, refused from its Content-Length (expect_continue.rs has the rest).
    app.upload("image/png", vec![0u8; 1024 * 1024], None)
        .await
        .assert_failure(200, 1005);
    let rest = spawn_app(&["--http-status", "rest", "--max-image-bytes", "2KiB"]).await;
    rest.upload("application/octet-stream", big, None)
        .await
        .assert_failure(413, 1005);
}

#[tokio::test]
async fn upload_above_axum_default_2mb_limit_is_accepted_up_to_max_image_bytes() {
    let app = spawn_app(&[]).await;
    // A valid PNG padded past 2 MB with an ancillary chunk the decoder skips.
    let png = padded_qr_png("https://cli.im/large-upload", 3 * 1024 * 1024);
    let answer = app.upload("image/png", png, None).await;
    assert_eq!(
        answer.assert_success()["content"],
        "https://cli.im/large-upload"
    );
}

#[tokio::test]
async fn upload_needs_a_key_when_keys_are_configured() {
    let app = spawn_app(&["--api-keys", "up-key"]).await;
    let png = qr_png("https://cli.im/auth-upload");
    app.upload("image/png", png.clone(), None)
        .await
        .assert_failure(403, 403);
    app.upload("image/png", png.clone(), Some("nope"))
        .await
        .assert_failure(403, 403);
    let answer = app.upload("image/png", png, Some("up-key")).await;
    assert_eq!(
        answer.assert_success()["content"],
        "https://cli.im/auth-upload"
    );
}

#[tokio::test]
async fn upload_answers_1008_for_an_image_too_thin_for_any_code_and_1006_past_100_to_1() {
    // Arrange: a column a pixel wide, a strip just past 100:1, and a code in a 20:1 banner.
    let column = png(&image::DynamicImage::new_luma8(1, 100_000));
    let strip = png(&image::DynamicImage::new_luma8(7, 701));
    let code = qr_gray("https://cli.im/banner", 4);
    let side = code.width();
    let banner = image::GrayImage::from_fn(side * 20, side, |x, y| {
        *code
            .get_pixel_checked(x.wrapping_sub(side * 10), y)
            .unwrap_or(&image::Luma([255]))
    });
    let banner = png(&image::DynamicImage::ImageLuma8(banner));
    for (mode, unprocessable) in [("compat", 200), ("rest", 422)] {
        let app = spawn_app(&["--http-status", mode]).await;

        // Act and assert.
        app.upload_png(column.clone())
            .await
            .assert_failure(unprocessable, 1008);
        let refused = app.upload_png(strip.clone()).await;
        refused.assert_failure(unprocessable, 1006);
        let message = refused.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("100 times"), "{message}");
        let data = app.upload_png(banner.clone()).await;
        assert_eq!(data.assert_success()["content"], "https://cli.im/banner");
    }
}
