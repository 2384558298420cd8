//! The OpenAPI document describes what the server really answers: real responses of the running
//! server, successes and failures of both scan routes, are validated against its schemas.

use crate::helpers::*;

/// A validator for `#/components/schemas/{name}` of the served document.
async fn validator(app: &TestApp, name: &str) -> jsonschema::Validator {
    let document = app.get("/openapi.json").await;
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
    let schema = serde_json::json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": document.body["components"],
    });
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_conforms(validator: &jsonschema::Validator, body: &serde_json::Value) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{body} does not match the document: {errors:?}"
    );
}

#[tokio::test]
async fn the_document_lists_every_route_and_the_bearer_scheme() {
    let app = spawn_app(&[]).await;
    let document = app.get("/openapi.json").await.body;
    for path in [
        "/api/v1/qrcode/scan_url",
        "/api/v1/qrcode/scan",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let providers = &document["components"]["schemas"]["Provider"]["enum"];
    assert_eq!(
        providers,
        &serde_json::json!([
            "Alipay",
            "WechatPay",
            "WechatOfficialAccountPost",
            "JD",
            "Caoliao",
            "Other"
        ])
    );
}

#[tokio::test]
async fn real_responses_of_both_scan_routes_match_the_envelope_schema() {
    let app = spawn_app(&["--api-keys", "doc-key"]).await;
    let envelope = validator(&app, "Envelope").await;
    let two = app.images.put(
        "two.png",
        two_codes_png("https://qr.alipay.com/doc", "wxp://doc"),
    );
    let blank = app.images.put("blank.png", blank_png());
    let body = |url: &str| serde_json::json!({ "url": url }).to_string();

    let success = app.post_scan_url(body(&two), Some("doc-key")).await;
    success.assert_success();
    assert_conforms(&envelope, &success.body);
    for answer in [
        app.post_scan_url(body(&blank), Some("doc-key")).await,
        app.post_scan_url(body("ftp://x/"), Some("doc-key")).await,
        app.post_scan_url("{".into(), Some("doc-key")).await,
        app.post_scan_url(body(&two), None).await,
        app.get("/nope").await,
    ] {
        assert_ne!(answer.code(), 0);
        assert_conforms(&envelope, &answer.body);
    }
    let upload = app
        .client
        .post(app.url("/api/v1/qrcode/scan"))
        .bearer_auth("doc-key")
        .header("content-type", "image/png")
        .body(qr_png("https://cli.im/doc"))
        .send()
        .await
        .expect("answers");
    let upload = answer(upload).await;
    upload.assert_success();
    assert_conforms(&envelope, &upload.body);
}

#[tokio::test]
async fn the_schema_rejects_what_the_contract_forbids() {
    // The conformance test above is only worth something if the schema can say no.
    let app = spawn_app(&[]).await;
    let envelope = validator(&app, "Envelope").await;
    let code = serde_json::json!({"content": "x", "provider": "Other", "points": [[0, 0], [1, 0], [1, 1], [0, 1]], "format": "QRCode", "version": 1, "ec_level": "M", "encoding": "UTF-8"});
    let good = serde_json::json!({"code": 0, "message": "ok", "data": {"content": "x", "provider": "Other", "codes": [code]}});
    assert!(envelope.is_valid(&good));
    let mut unknown_format = good.clone();
    unknown_format["data"]["codes"][0]["format"] = "Aztec".into();
    for bad in [
        unknown_format,
        serde_json::json!({"code": 0, "message": "ok"}),
        serde_json::json!({"code": 0, "message": "ok", "data": {"content": "x", "provider": "Paypal", "codes": []}}),
        serde_json::json!({"code": 0, "message": "ok", "data": {"content": "x", "provider": "Other", "codes": [{"content": "x"}]}}),
    ] {
        assert!(!envelope.is_valid(&bad), "{bad}");
    }
}
