//! cli.im's legacy web decoder (API.md section 9): `GET`/`POST /Api/Browser/deqr` in any path
//! casing, `data` from the query, an urlencoded form or multipart, base64 whose `+` became
//! spaces, keys by header or `key`, and always HTTP 200 JSON.

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::*;

const PATH: &str = "/Api/Browser/deqr";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Percent-encodes a query or form value.
fn escaped(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn get(app: &TestApp, path: &str, query: &str) -> Answer {
    let url = app.url(&format!("{path}?{query}"));
    answer(app.client.get(url).send().await.expect("answers")).await
}

/// A form POST with `body` written as is, the way scripts concatenate it.
async fn post_form(app: &TestApp, query: &str, body: String) -> Answer {
    let url = app.url(&format!("{PATH}?{query}"));
    let request = app
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    answer(request.send().await.expect("answers")).await
}

/// Asserts a success with `text` and always-200 JSON.
fn assert_read(answer: &Answer, text: &str) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.headers.get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(
        answer.body,
        json!({"status": 1, "data": {"RawData": text, "utf8": text}})
    );
}

/// Asserts a failure: HTTP 200, `status` 0 and a sentence in `data.info`.
fn assert_failed(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], 0, "{}", answer.body);
    let info = answer.body["data"]["info"].as_str().expect("info");
    assert!(!info.is_empty());
    assert_eq!(answer.body["data"].as_object().unwrap().len(), 1);
    info.to_owned()
}

/// An image whose base64 holds at least one `+`, the character form encoding eats.
fn png_with_a_plus(text: &str) -> Vec<u8> {
    (0..400)
        .map(|extra| padded_qr_png(text, 1000 + extra))
        .find(|png| b64(png).contains('+'))
        .expect("some padding puts a + in the base64")
}

#[tokio::test]
async fn a_get_with_an_image_url_in_the_query_answers_raw_data() {
    let app = spawn_app(&[]).await;
    let url = app
        .images
        .put("pay.png", qr_png("https://qr.alipay.com/fkx01"));
    let answer = get(&app, PATH, &format!("data={}", escaped(&url))).await;
    assert_read(&answer, "https://qr.alipay.com/fkx01");
}

#[tokio::test]
async fn the_path_matches_in_any_casing() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("c.png", qr_png("casing"));
    for path in [
        "/Api/Browser/deqr",
        "/api/browser/deqr",
        "/API/BROWSER/DEQR",
    ] {
        let answer = get(&app, path, &format!("data={}", escaped(&url))).await;
        assert_read(&answer, "casing");
    }
    let label = "qrscan_requests_total{route=\"/Api/Browser/deqr\",code=\"0\"}";
    assert_eq!(app.metric(label).await, 3.0);
}

#[tokio::test]
async fn base64_in_the_query_with_or_without_a_data_prefix_is_read() {
    let app = spawn_app(&[]).await;
    let png = qr_png("wxp://f2f0query");
    for data in [b64(&png), format!("data:image/png;base64,{}", b64(&png))] {
        let answer = get(&app, PATH, &format!("data={}", escaped(&data))).await;
        assert_read(&answer, "wxp://f2f0query");
    }
}

#[tokio::test]
async fn a_form_post_of_unescaped_base64_has_its_spaces_read_as_pluses() {
    let app = spawn_app(&[]).await;
    let png = png_with_a_plus("https://cli.im/plus");
    // As a PHP script concatenating "data=" . base64_encode($image) sends it.
    let answer = post_form(&app, "", format!("data={}", b64(&png))).await;
    assert_read(&answer, "https://cli.im/plus");
    // Escaped, as a browser form sends it.
    let answer = post_form(&app, "", format!("data={}&other=1", escaped(&b64(&png)))).await;
    assert_read(&answer, "https://cli.im/plus");
}

#[tokio::test]
async fn a_post_with_data_in_the_query_string_and_no_body_is_read() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("q.png", qr_png("query post"));
    let answer = post_form(&app, &format!("data={}", escaped(&url)), String::new()).await;
    assert_read(&answer, "query post");
}

#[tokio::test]
async fn a_multipart_post_reads_data_as_text_or_as_a_file() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("m.png", qr_png("multipart text"));
    let form = reqwest::multipart::Form::new().text("data", url);
    let response = app.client.post(app.url(PATH)).multipart(form).send().await;
    assert_read(&answer(response.unwrap()).await, "multipart text");

    let file = reqwest::multipart::Part::bytes(qr_png("multipart file")).file_name("qr.png");
    let form = reqwest::multipart::Form::new().part("data", file);
    let response = app.client.post(app.url(PATH)).multipart(form).send().await;
    assert_read(&answer(response.unwrap()).await, "multipart file");
}

#[tokio::test]
async fn every_failure_is_http_200_with_status_0_and_a_sentence() {
    let app = spawn_app(&["--fetch-timeout", "500ms"]).await;
    let blank = app.images.put("blank.png", blank_png());
    let cases: Vec<(String, &str)> = vec![
        (format!("data={}", escaped(&blank)), "no QR code"),
        (String::new(), "no `data`"),
        ("data=%25%25%25".to_owned(), "neither"),
        (
            format!("data={}", escaped(&app.images.url("/status/404"))),
            "404",
        ),
        (
            format!("data={}", escaped(&app.images.url("/html"))),
            "not a supported image",
        ),
        ("data=ftp%3A%2F%2Fexample.com%2Fa.png".to_owned(), "neither"),
    ];
    for (query, says) in cases {
        let info = assert_failed(&get(&app, PATH, &query).await);
        assert!(info.contains(says), "{query}: {info}");
    }
    let refused = spawn_app_with(&[]).await;
    let url = refused.images.put("a.png", qr_png("x"));
    assert_failed(&get(&refused, PATH, &format!("data={}", escaped(&url))).await);
}

#[tokio::test]
async fn with_keys_a_bearer_header_or_a_key_parameter_is_accepted() {
    let app = spawn_app(&["--api-keys", "legacy-key"]).await;
    let url = app.images.put("k.png", qr_png("keyed deqr"));
    let data = format!("data={}", escaped(&url));

    let info = assert_failed(&get(&app, PATH, &data).await);
    assert!(info.contains("API key"), "{info}");
    assert_failed(&get(&app, PATH, &format!("{data}&key=wrong")).await);

    assert_read(
        &get(&app, PATH, &format!("{data}&key=legacy-key")).await,
        "keyed deqr",
    );
    assert_read(
        &post_form(&app, "", format!("{data}&key=legacy-key")).await,
        "keyed deqr",
    );
    let with_header = app
        .client
        .get(app.url(&format!("{PATH}?{data}")))
        .bearer_auth("legacy-key")
        .send()
        .await
        .unwrap();
    assert_read(&answer(with_header).await, "keyed deqr");
}

#[tokio::test]
async fn past_the_rate_limit_the_answer_is_still_http_200_with_status_0() {
    let app = spawn_app(&["--rate-limit", "0.01", "--rate-burst", "1"]).await;
    assert_failed(&get(&app, PATH, "").await);
    let info = assert_failed(&get(&app, PATH, "").await);
    assert!(info.contains("rate limit"), "{info}");
}

#[tokio::test]
async fn other_methods_are_405_in_the_envelope() {
    let app = spawn_app(&[]).await;
    let response = app
        .client
        .put(app.url("/api/browser/deqr"))
        .send()
        .await
        .unwrap();
    let answer = answer(response).await;
    answer.assert_failure(405, 405);
    let _: &Value = &answer.body;
}
