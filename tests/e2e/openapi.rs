//! The OpenAPI document describes what the server really answers: real responses of the running
//! server, successes and failures of both scan routes, are validated against its schemas; the
//! document a server serves declares every status its `--http-status` mode gives the error table,
//! asks for a key exactly when keys are set, and states each field's real constraints.

use std::collections::BTreeSet;

use qrscan::config::HttpStatusMode;
use qrscan::error::ErrorKind;

use crate::helpers::*;

const SCAN_ROUTES: [&str; 2] = ["/api/v1/qrcode/scan_url", "/api/v1/qrcode/scan"];

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
async fn the_document_lists_every_route_and_the_provider_enum() {
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
    let code = serde_json::json!({"content": "x", "provider": "Other", "points": [[0, 0], [1, 0], [1, 1], [0, 1]], "format": "QRCode", "version": 1, "ec_level": "M", "encoding": "UTF-8", "content_type": "text", "confidence": 1.0});
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

/// The schema `schema` stands for: itself, or the component its `$ref` names.
fn resolve<'a>(
    document: &'a serde_json::Value,
    schema: &'a serde_json::Value,
) -> &'a serde_json::Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .expect("a component reference");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn both_scan_routes_declare_every_status_the_error_table_gives_them_in_both_modes() {
    for (flag, mode) in [
        ("compat", HttpStatusMode::Compat),
        ("rest", HttpStatusMode::Rest),
    ] {
        // Arrange: with keys, every kind of the table can reach a scan route but the router's
        // own two (other paths, other methods).
        let app = spawn_app(&["--http-status", flag, "--api-keys", "doc-key"]).await;
        let mut expected: BTreeSet<String> = ErrorKind::ALL
            .iter()
            .filter(|kind| !matches!(kind, ErrorKind::NotFound | ErrorKind::MethodNotAllowed))
            .map(|kind| kind.status(mode).as_u16().to_string())
            .collect();
        expected.insert("200".into());

        // Act
        let document = app.get("/openapi.json").await;

        // Assert
        assert_eq!(document.status, 200);
        for path in SCAN_ROUTES {
            let responses = document.body["paths"][path]["post"]["responses"]
                .as_object()
                .expect("responses");
            let declared: BTreeSet<String> = responses.keys().cloned().collect();
            assert_eq!(declared, expected, "{flag}: {path}");
            for (status, response) in responses {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Envelope",
                    "{flag}: {path} {status}"
                );
            }
        }
        let rest_only = ["400", "401", "413", "415", "422", "502", "504"];
        for status in rest_only {
            assert_eq!(
                expected.contains(status),
                mode == HttpStatusMode::Rest,
                "{flag}: {status}"
            );
        }
    }
}

#[tokio::test]
async fn the_document_asks_for_a_key_exactly_when_keys_are_set() {
    let keys_file = tempfile::NamedTempFile::new().expect("a temporary file");
    let keys_file = keys_file.path().to_str().expect("a UTF-8 path");
    for (args, keys) in [
        (&["--http-status", "rest"][..], false),
        (&["--http-status", "rest", "--api-keys", "doc-key"], true),
        // An empty keys file still turns authentication on (it refuses everyone).
        (&["--api-keys-file", keys_file], true),
    ] {
        let app = spawn_app(args).await;
        let document = app.get("/openapi.json").await.body;
        let scheme = &document["components"]["securitySchemes"]["bearer"];
        assert_eq!(scheme.is_object(), keys, "{args:?}");
        for path in SCAN_ROUTES {
            let operation = &document["paths"][path]["post"];
            if keys {
                assert_eq!(scheme["scheme"], "bearer");
                assert_eq!(
                    operation["security"],
                    serde_json::json!([{"bearer": []}]),
                    "{args:?} {path}"
                );
            } else {
                assert!(operation.get("security").is_none(), "{args:?} {path}");
                assert!(
                    operation["responses"].get("401").is_none(),
                    "{args:?} {path}"
                );
            }
        }
        assert!(
            document.get("security").is_none(),
            "{args:?}: no document-wide security"
        );
    }
}

#[tokio::test]
async fn the_request_schemas_refuse_what_the_server_refuses() {
    let app = spawn_app(&[]).await;
    let document = app.get("/openapi.json").await.body;
    let scan_url = validator(&app, "ScanUrlRequest").await;
    let image = validator(&app, "ScanImageRequest").await;
    for (name, field) in [("ScanUrlRequest", "url"), ("ScanImageRequest", "image")] {
        assert_eq!(
            document["components"]["schemas"][name]["properties"][field]["minLength"], 1,
            "{name}.{field}"
        );
    }
    assert_eq!(
        document["components"]["schemas"]["FormatName"]["enum"],
        serde_json::json!(["qr", "microqr", "rmqr"])
    );

    assert!(scan_url.is_valid(&serde_json::json!({"url": "https://cli.im/x"})));
    assert!(scan_url.is_valid(&serde_json::json!({"url": "u", "formats": ["qr", "rmqr"]})));
    assert!(image.is_valid(&serde_json::json!({"image": "AAAA", "formats": null})));
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"url": ""}),
        serde_json::json!({"url": " \t"}),
        serde_json::json!({"url": 5}),
        serde_json::json!({"url": "u", "formats": []}),
        serde_json::json!({"url": "u", "formats": ["aztec"]}),
    ] {
        assert!(!scan_url.is_valid(&bad), "{bad}");
    }
    for bad in [
        serde_json::json!({"image": ""}),
        serde_json::json!({"image": "  "}),
    ] {
        assert!(!image.is_valid(&bad), "{bad}");
    }
}

#[tokio::test]
async fn raw_and_multipart_uploads_are_typed_as_binary() {
    let app = spawn_app(&[]).await;
    let document = app.get("/openapi.json").await.body;
    let content = &document["paths"]["/api/v1/qrcode/scan"]["post"]["requestBody"]["content"];
    for media in ["application/octet-stream", "image/*"] {
        let schema = resolve(&document, &content[media]["schema"]);
        assert_eq!(schema["type"], "string", "{media}: {schema}");
        assert_eq!(schema["format"], "binary", "{media}: {schema}");
    }
    let form = resolve(&document, &content["multipart/form-data"]["schema"]);
    assert_eq!(form["properties"]["file"]["type"], "string");
    assert_eq!(form["properties"]["file"]["format"], "binary");
}
