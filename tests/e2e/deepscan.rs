//! cli.im's DeepScan routes (API.md section 8): `POST /x-deepscan/vision/detect` with `url`,
//! `image`, `urls`, `images`, and `/detect/upload`; one row of the section per test, every
//! error code, keys and rate limits, over the same use case as the envelope routes.

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::*;

const DETECT: &str = "/x-deepscan/vision/detect";
const UPLOAD: &str = "/x-deepscan/vision/detect/upload";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `POST /x-deepscan/vision/detect` with `body` as sent by `curl -d` (no JSON content type).
async fn detect(app: &TestApp, body: &Value) -> Answer {
    detect_raw(app, body.to_string(), None).await
}

async fn detect_raw(app: &TestApp, body: String, key: Option<&str>) -> Answer {
    let mut request = app.client.post(app.url(DETECT)).body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    answer(request.send().await.expect("qrscan answers")).await
}

async fn upload(app: &TestApp, field: &str, bytes: Vec<u8>) -> Answer {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("qr.png");
    let form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let response = app.client.post(app.url(UPLOAD)).multipart(form).send();
    answer(response.await.expect("qrscan answers")).await
}

/// Asserts a detect answer (200, `count` = the codes) and returns its codes.
fn codes(answer: &Answer) -> &Vec<Value> {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let codes = answer.body["codes"].as_array().expect("codes");
    assert_eq!(answer.body["count"], codes.len(), "{}", answer.body);
    for code in codes {
        let keys: Vec<&str> = code
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "bbox",
                "confidence",
                "content",
                "content_type",
                "format",
                "keypoints"
            ],
            "{code}"
        );
        let bbox = &code["bbox"];
        assert!(bbox["x1"].as_f64() < bbox["x2"].as_f64(), "{code}");
        assert!(bbox["y1"].as_f64() < bbox["y2"].as_f64(), "{code}");
        assert_eq!(code["keypoints"].as_array().unwrap().len(), 4);
    }
    codes
}

/// Asserts `{"error": {"code", "message"}}` with `status`.
fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "{}", answer.body);
    let message = answer.body["error"]["message"].as_str().expect("message");
    assert!(!message.is_empty());
    assert_eq!(answer.body.as_object().unwrap().len(), 1, "{}", answer.body);
}

fn retry_after(answer: &Answer) -> u64 {
    answer
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After: {:?}", answer.headers))
}

#[tokio::test]
async fn a_single_url_answers_count_and_codes_with_deepscans_fields() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("a.png", qr_png("https://cli.im/deepscan"));

    let answer = detect(&app, &json!({ "url": url })).await;

    let codes = codes(&answer);
    assert_eq!(codes.len(), 1);
    let code = &codes[0];
    assert_eq!(code["content"], "https://cli.im/deepscan");
    assert_eq!(code["format"], "QR Code");
    assert_eq!(code["content_type"], "url");
    assert_eq!(code["confidence"], 1.0);
    let keypoints = code["keypoints"].as_array().unwrap();
    assert_eq!(code["bbox"]["x1"], keypoints[0][0]);
    assert_eq!(code["bbox"]["y1"], keypoints[0][1]);
    assert_eq!(
        answer.headers.get("content-type").unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn a_single_image_in_base64_or_a_data_url_is_read() {
    let app = spawn_app(&[]).await;
    let png = qr_png("WIFI:T:WPA;S:cafe;P:secret;;");
    for image in [b64(&png), format!("data:image/png;base64,{}", b64(&png))] {
        let answer = detect(&app, &json!({ "image": image })).await;
        let codes = codes(&answer);
        assert_eq!(codes[0]["content"], "WIFI:T:WPA;S:cafe;P:secret;;");
        assert_eq!(codes[0]["content_type"], "wifi");
    }
}

#[tokio::test]
async fn the_upload_route_reads_the_multipart_file_field() {
    let app = spawn_app(&[]).await;
    let answer = upload(&app, "file", qr_png("tel:+8613800000000")).await;
    let codes = codes(&answer);
    assert_eq!(codes[0]["content"], "tel:+8613800000000");
    assert_eq!(codes[0]["content_type"], "phone");

    assert_error(
        &upload(&app, "picture", qr_png("x")).await,
        400,
        "INVALID_REQUEST",
    );
    assert_error(
        &upload(&app, "file", b"<html>".to_vec()).await,
        415,
        "URL_NOT_IMAGE",
    );
}

#[tokio::test]
async fn an_image_without_a_code_is_zero_codes_not_an_error() {
    let app = spawn_app(&[]).await;
    let answer = detect(&app, &json!({ "image": b64(&blank_png()) })).await;
    assert_eq!(answer.body, json!({"count": 0, "codes": []}));
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn micro_qr_and_rmqr_are_named_as_deepscan_names_them() {
    let app = spawn_app(&[]).await;
    let (rmqr, text) = rmqr_png();
    let micro = detect(&app, &json!({ "image": b64(&micro_qr_png("M4 42")) })).await;
    assert_eq!(codes(&micro)[0]["format"], "Micro QR Code");
    let rect = detect(&app, &json!({ "image": b64(&rmqr) })).await;
    assert_eq!(codes(&rect)[0]["format"], "rMQR Code");
    assert_eq!(codes(&rect)[0]["content"], text.trim_end());
}

/// The texts of a batch answer's items, in order: `Ok(texts)` or `Err(error code)`.
fn items(answer: &Answer) -> Vec<(String, Result<Vec<String>, String>)> {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let results = answer.body["results"].as_array().expect("results");
    let mut total = 0;
    let out = results
        .iter()
        .enumerate()
        .map(|(i, item)| {
            assert_eq!(item["index"], i, "{item}");
            let input = item["input"].as_str().expect("input").to_owned();
            if let Some(error) = item.get("error") {
                assert!(error["message"].is_string());
                return (input, Err(error["code"].as_str().unwrap().to_owned()));
            }
            let codes = item["codes"].as_array().expect("codes");
            assert_eq!(item["count"], codes.len());
            total += codes.len();
            let texts = codes
                .iter()
                .map(|c| c["content"].as_str().unwrap().to_owned());
            (input, Ok(texts.collect()))
        })
        .collect();
    assert_eq!(answer.body["count"], total, "{}", answer.body);
    out
}

fn read(input: &str, text: &str) -> (String, Result<Vec<String>, String>) {
    (input.to_owned(), Ok(vec![text.to_owned()]))
}

#[tokio::test]
async fn a_batch_of_urls_answers_each_in_order() {
    let app = spawn_app(&[]).await;
    let urls: Vec<String> = (0..3)
        .map(|i| {
            app.images
                .put(&format!("{i}.png"), qr_png(&format!("url {i}")))
        })
        .collect();
    let answer = detect(&app, &json!({ "urls": urls })).await;
    assert_eq!(
        items(&answer),
        [
            read("url", "url 0"),
            read("url", "url 1"),
            read("url", "url 2")
        ]
    );
}

#[tokio::test]
async fn a_batch_of_images_answers_each_in_order() {
    let app = spawn_app(&[]).await;
    let images = [b64(&qr_png("img A")), b64(&qr_png("img B"))];
    let answer = detect(&app, &json!({ "images": images })).await;
    assert_eq!(
        items(&answer),
        [read("image", "img A"), read("image", "img B")]
    );
}

#[tokio::test]
async fn url_and_image_together_are_a_batch_of_two() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("u.png", qr_png("by url"));
    let answer = detect(
        &app,
        &json!({ "image": b64(&qr_png("by image")), "url": url }),
    )
    .await;
    assert_eq!(
        items(&answer),
        [read("url", "by url"), read("image", "by image")]
    );
}

#[tokio::test]
async fn a_mixed_batch_keeps_the_order_url_image_urls_images_and_one_failure_fails_alone() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("1.png", qr_png("one"));
    let urls = [
        app.images.put("2.png", qr_png("two")),
        app.images.url("/status/404"),
    ];
    let body = json!({
        "images": [b64(&qr_png("four")), "not base64!"],
        "urls": urls,
        "image": b64(&blank_png()),
        "url": url,
    });
    let answer = detect(&app, &body).await;
    assert_eq!(
        items(&answer),
        [
            read("url", "one"),
            ("image".to_owned(), Ok(vec![])),
            read("url", "two"),
            ("url".to_owned(), Err("URL_DOWNLOAD_FAILED".to_owned())),
            read("image", "four"),
            ("image".to_owned(), Err("INVALID_BASE64".to_owned())),
        ]
    );
}

#[tokio::test]
async fn ten_entries_per_list_are_read_and_eleven_are_batch_too_large() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("same.png", qr_png("ten"));
    let ten_urls = vec![url.clone(); 10];
    let ten_images = vec![b64(&qr_png("ten")); 10];
    let answer = detect(&app, &json!({ "urls": ten_urls, "images": ten_images })).await;
    let items = items(&answer);
    assert_eq!(items.len(), 20);
    assert!(items
        .iter()
        .all(|(_, outcome)| outcome == &Ok(vec!["ten".to_owned()])));

    for field in ["urls", "images"] {
        let eleven = vec![url.clone(); 11];
        let answer = detect(&app, &json!({ field: eleven })).await;
        assert_error(&answer, 400, "BATCH_TOO_LARGE");
    }
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let app = spawn_app(&[]).await;
    for body in [
        "not json",
        "[1]",
        "{}",
        r#"{"url": null}"#,
        r#"{"url": 7}"#,
        r#"{"urls": "http://x/a.png"}"#,
        r#"{"images": [1]}"#,
        r#"{"urls": []}"#,
    ] {
        let answer = detect_raw(&app, body.to_owned(), None).await;
        assert_error(&answer, 400, "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn an_image_that_is_not_base64_is_invalid_base64() {
    let app = spawn_app(&[]).await;
    for image in ["%%%", "data:image/png;base64,%%%", ""] {
        let answer = detect(&app, &json!({ "image": image })).await;
        assert_error(&answer, 400, "INVALID_BASE64");
    }
}

#[tokio::test]
async fn an_invalid_and_a_refused_url_get_the_same_invalid_url() {
    let app = spawn_app(&[]).await;
    let invalid = detect(&app, &json!({ "url": "ftp://example.com/a.png" })).await;
    assert_error(&invalid, 400, "INVALID_URL");
    // Without --allow-loopback, the image server is a blocked address.
    let strict = spawn_app_with(&[]).await;
    let refused = detect(
        &strict,
        &json!({ "url": strict.images.put("a.png", qr_png("x")) }),
    )
    .await;
    assert_error(&refused, 400, "INVALID_URL");
    assert_eq!(
        invalid.body["error"]["message"],
        refused.body["error"]["message"]
    );
}

#[tokio::test]
async fn bytes_that_are_no_image_are_url_not_image() {
    let app = spawn_app(&[]).await;
    let answer = detect(&app, &json!({ "url": app.images.url("/html") })).await;
    assert_error(&answer, 415, "URL_NOT_IMAGE");
    let answer = detect(&app, &json!({ "image": b64(b"plain text, no image") })).await;
    assert_error(&answer, 415, "URL_NOT_IMAGE");
}

#[tokio::test]
async fn a_failed_or_slow_download_is_url_download_failed() {
    let app = spawn_app(&["--fetch-timeout", "300ms"]).await;
    for path in ["/status/404", "/slow/5000/late.png"] {
        let answer = detect(&app, &json!({ "url": app.images.url(path) })).await;
        assert_error(&answer, 502, "URL_DOWNLOAD_FAILED");
    }
}

#[tokio::test]
async fn an_image_over_the_byte_or_pixel_limit_is_image_too_large() {
    let app = spawn_app(&["--max-image-bytes", "1000", "--max-pixels", "10000"]).await;
    let big = padded_qr_png("https://cli.im/big", 4000);
    let url = app.images.put("big.png", big.clone());
    assert_error(
        &detect(&app, &json!({ "url": url })).await,
        413,
        "IMAGE_TOO_LARGE",
    );
    assert_error(
        &detect(&app, &json!({ "image": b64(&big) })).await,
        413,
        "IMAGE_TOO_LARGE",
    );
    let wide = app.images.put("wide.png", qr_png("pixels"));
    assert_error(
        &detect(&app, &json!({ "url": wide })).await,
        413,
        "IMAGE_TOO_LARGE",
    );
}

#[tokio::test]
async fn a_body_declared_over_the_batch_limit_is_image_too_large_before_it_is_sent() {
    // 11 images of at most 1000 bytes, as base64 (1336 each), plus framing: about 145 KiB.
    let app = spawn_app(&["--max-image-bytes", "1000"]).await;
    let mut connection = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST {DETECT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut connection, head.as_bytes())
        .await
        .unwrap();
    // Not a byte of the body is sent: the answer comes anyway.
    let response = raw::read_response(&mut connection)
        .await
        .expect("an answer before the body");
    assert_eq!(response.status(), 413);
    assert_eq!(response.json()["error"]["code"], "IMAGE_TOO_LARGE");

    // A batch within the limit is read: the limit grows with the batch, not one image's.
    let images = vec![b64(&qr_png("small")); 11];
    let answer = detect(&app, &json!({ "image": images[0], "images": &images[1..] })).await;
    assert_eq!(items(&answer).len(), 11);
}

#[tokio::test]
async fn past_the_byte_budget_an_image_is_busy_with_retry_after() {
    let app = spawn_app(&["--max-buffered-bytes", "64KiB"]).await;
    let big = padded_qr_png("https://cli.im/budget", 100 * 1024);
    let answer = detect(&app, &json!({ "url": app.images.put("big.png", big) })).await;
    assert_error(&answer, 503, "BUSY");
    assert_eq!(retry_after(&answer), 1);
    app.wait_for_metric(HELD, |held| held == 0.0).await;
}

#[tokio::test]
async fn with_keys_the_bearer_key_is_required_and_unauthorized_otherwise() {
    let app = spawn_app(&["--api-keys", "deep-key"]).await;
    let url = app.images.put("k.png", qr_png("keyed"));
    let body = json!({ "url": url }).to_string();
    assert_error(
        &detect_raw(&app, body.clone(), None).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &detect_raw(&app, body.clone(), Some("wrong")).await,
        401,
        "UNAUTHORIZED",
    );
    let answer = detect_raw(&app, body, Some("deep-key")).await;
    assert_eq!(codes(&answer)[0]["content"], "keyed");
}

#[tokio::test]
async fn past_the_rate_limit_a_client_is_rate_limited_with_retry_after() {
    let app = spawn_app(&["--rate-limit", "0.01", "--rate-burst", "1"]).await;
    let first = detect(&app, &json!({})).await;
    assert_error(&first, 400, "INVALID_REQUEST");
    let second = detect(&app, &json!({})).await;
    assert_error(&second, 429, "RATE_LIMITED");
    assert!((1..=100).contains(&retry_after(&second)));
}

#[tokio::test]
async fn each_route_is_counted_under_its_own_label_with_the_envelope_code() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("m.png", qr_png("metrics"));
    detect(&app, &json!({ "url": url })).await;
    detect(&app, &json!({ "url": "ftp://x" })).await;
    upload(&app, "file", qr_png("m")).await;
    let line = |route: &str, code: u32| {
        format!("qrscan_requests_total{{route=\"{route}\",code=\"{code}\"}}")
    };
    assert_eq!(app.metric(&line(DETECT, 0)).await, 1.0);
    assert_eq!(app.metric(&line(DETECT, 1001)).await, 1.0);
    assert_eq!(app.metric(&line(UPLOAD, 0)).await, 1.0);
}
