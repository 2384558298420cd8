//! One test per provider, the transparent and inverted cases, and several codes in one image.

use crate::helpers::*;

async fn scan_generated(text: &str) -> serde_json::Value {
    let app = spawn_app(&[]).await;
    let url = app.images.put("code.png", qr_png(text));
    let answer = app.scan_url(&url).await;
    answer.assert_success().clone()
}

async fn assert_provider(text: &str, provider: &str) {
    let data = scan_generated(text).await;
    assert_eq!(data["content"], text);
    assert_eq!(data["provider"], provider, "{data}");
    assert_eq!(data["codes"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn scan_url_reads_an_alipay_code() {
    assert_provider("HTTPS://QR.ALIPAY.COM/FKX07101FL", "Alipay").await;
}

#[tokio::test]
async fn scan_url_reads_a_wechat_pay_code() {
    assert_provider("wxp://f2f0dEaDbEeF0123", "WechatPay").await;
}

#[tokio::test]
async fn scan_url_reads_a_wechat_official_account_post() {
    assert_provider(
        "https://mp.weixin.qq.com/s/AbCdEf123",
        "WechatOfficialAccountPost",
    )
    .await;
}

#[tokio::test]
async fn scan_url_reads_a_jd_code() {
    assert_provider("https://item.jd.com/100012043978.html", "JD").await;
}

#[tokio::test]
async fn scan_url_reads_a_caoliao_code() {
    assert_provider("https://cli.im/url/xyz", "Caoliao").await;
}

#[tokio::test]
async fn scan_url_reads_other_text_as_other() {
    assert_provider("Hello, 世界! Not a URL.", "Other").await;
}

#[tokio::test]
async fn scan_url_reads_black_modules_on_a_transparent_background() {
    let app = spawn_app(&[]).await;
    let url = app
        .images
        .put("t.png", qr_png_transparent("https://cli.im/transparent"));
    let data = app.scan_url(&url).await.assert_success().clone();
    assert_eq!(data["content"], "https://cli.im/transparent");
    assert_eq!(data["provider"], "Caoliao");
}

#[tokio::test]
async fn scan_url_reads_light_modules_on_a_dark_background() {
    let app = spawn_app(&[]).await;
    let url = app
        .images
        .put("i.png", qr_png_inverted("https://qr.alipay.com/inverted"));
    let data = app.scan_url(&url).await.assert_success().clone();
    assert_eq!(data["content"], "https://qr.alipay.com/inverted");
    assert_eq!(data["provider"], "Alipay");
}

#[tokio::test]
async fn scan_url_returns_every_code_largest_first() {
    let app = spawn_app(&[]).await;
    let url = app.images.put(
        "two.png",
        two_codes_png("https://jd.com/big", "wxp://small"),
    );
    let data = app.scan_url(&url).await.assert_success().clone();
    assert_eq!(data["content"], "https://jd.com/big");
    assert_eq!(data["provider"], "JD");
    let codes = data["codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 2, "{data}");
    assert_eq!(codes[1]["content"], "wxp://small");
    assert_eq!(codes[1]["provider"], "WechatPay");
    // The big code is on the left: its corners lie left of the small one's.
    let x = |code: &serde_json::Value| code["points"][0][0].as_f64().expect("x");
    assert!(x(&codes[0]) < x(&codes[1]), "{data}");
}

#[tokio::test]
async fn provider_case_lower_spells_providers_in_lower_case() {
    let app = spawn_app(&["--provider-case", "lower"]).await;
    let url = app.images.put("c.png", qr_png("https://cli.im/lower"));
    let data = app.scan_url(&url).await.assert_success().clone();
    assert_eq!(data["provider"], "caoliao");
}

#[tokio::test]
async fn a_rules_file_replaces_the_built_in_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nprovider = \"JD\"\nhost = \"example.org\"\n",
    )
    .expect("write");
    let app = spawn_app(&["--rules", rules.to_str().expect("utf-8 path")]).await;
    let url = app
        .images
        .put("r.png", qr_png("https://shop.example.org/x"));
    let data = app.scan_url(&url).await.assert_success().clone();
    assert_eq!(data["provider"], "JD");
}

#[tokio::test]
async fn an_image_that_panics_a_third_party_decoder_is_answered_and_the_server_stays_up() {
    let app = spawn_app(&[]).await;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/rqrr-panic");
    let bytes = std::fs::read(format!("{fixture}.png")).expect("fixture");
    let expected = std::fs::read_to_string(format!("{fixture}.txt")).expect("fixture text");
    let url = app.images.put("panic.png", bytes);
    let answer = app.scan_url(&url).await;
    // Read correctly, or answered as "no code"/"unreadable": never a 500 or a dropped connection.
    match answer.code() {
        0 => assert_eq!(answer.assert_success()["content"], expected.as_str()),
        1008 | 1009 => answer.assert_failure(200, answer.code()),
        other => panic!("unexpected code {other}: {}", answer.body),
    }
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn each_code_reports_its_error_correction_level_and_version() {
    let app = spawn_app(&[]).await;
    for (level, name) in [
        (qrcode::EcLevel::L, "L"),
        (qrcode::EcLevel::M, "M"),
        (qrcode::EcLevel::Q, "Q"),
        (qrcode::EcLevel::H, "H"),
    ] {
        let image = image::DynamicImage::ImageLuma8(qr_gray_at("https://cli.im/ec", 6, level));
        let url = app.images.put(&format!("ec-{name}.png"), png(&image));
        let data = app.scan_url(&url).await.assert_success().clone();
        assert_eq!(data["codes"][0]["ec_level"], name, "{data}");
        assert_eq!(
            data["codes"][0]["version"].as_i64(),
            Some(qr_version("https://cli.im/ec", level))
        );
    }
}
