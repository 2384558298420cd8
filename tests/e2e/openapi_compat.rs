//! The OpenAPI document describes the DeepScan and legacy decoder routes as they answer: real
//! answers (single, batch, error, success and failure) validate against its schemas, and the
//! DeepScan routes declare every status of their error table.

use std::collections::BTreeSet;

use base64::Engine;
use qrscan::error::DeepScanCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn validator(document: &Value, schema: Value) -> jsonschema::Validator {
    let mut schema = schema;
    schema["components"] = document["components"].clone();
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_conforms(validator: &jsonschema::Validator, body: &Value) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{body} does not match: {errors:?}");
}

#[tokio::test]
async fn deepscan_and_deqr_answers_match_the_served_document() {
    let app = spawn_app(&["--api-keys", "doc-key"]).await;
    let document = app.get("/openapi.json").await.body;
    let detect = &document["paths"]["/x-deepscan/vision/detect"]["post"]["responses"];
    let success = validator(
        &document,
        detect["200"]["content"]["application/json"]["schema"].clone(),
    );
    let failure = validator(
        &document,
        json!({"$ref": "#/components/schemas/ErrorResponse"}),
    );
    let deqr = validator(
        &document,
        json!({"$ref": "#/components/schemas/DeqrResponse"}),
    );

    let png = qr_png("MECARD:N:Doe,John;TEL:123;;");
    let image = base64::engine::general_purpose::STANDARD.encode(&png);
    let url = app.images.put("doc.png", png);
    let post = |body: Value| {
        app.client
            .post(app.url("/x-deepscan/vision/detect"))
            .bearer_auth("doc-key")
            .body(body.to_string())
            .send()
    };
    let single = answer(post(json!({ "url": url })).await.unwrap()).await;
    assert_conforms(&success, &single.body);
    let batch = answer(
        post(json!({ "urls": [url, "ftp://x"], "image": image }))
            .await
            .unwrap(),
    )
    .await;
    assert!(batch.body["results"].is_array());
    assert_conforms(&success, &batch.body);
    let refused = answer(post(json!({})).await.unwrap()).await;
    assert_conforms(&failure, &refused.body);

    let read = app
        .get(&format!("/Api/Browser/deqr?key=doc-key&data={}", url))
        .await;
    assert_eq!(read.body["status"], 1);
    assert_conforms(&deqr, &read.body);
    let failed = app.get("/Api/Browser/deqr").await;
    assert_eq!(failed.body["status"], 0);
    assert_conforms(&deqr, &failed.body);

    // The envelope's codes carry the payload, described too.
    let envelope = validator(&document, json!({"$ref": "#/components/schemas/Envelope"}));
    let scanned = app
        .post_scan_url(json!({ "url": url }).to_string(), Some("doc-key"))
        .await;
    assert_eq!(
        scanned.body["data"]["codes"][0]["payload"]["type"],
        "mecard"
    );
    assert_conforms(&envelope, &scanned.body);
    for (text, kind) in [
        (EMVCO, "emvco"),
        (
            "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Roe\nTEL;TYPE=CELL:+15550100\nEND:VCARD",
            "vcard",
        ),
        ("WIFI:T:WPA;S:home;P:pw;;", "wifi"),
        ("mailto:a@example.com?subject=hi", "email"),
        ("SMSTO:10086:hi", "sms"),
        ("tel:+15550100", "phone"),
        ("geo:39.9,116.4", "geo"),
    ] {
        let url = app.images.put("payload.png", qr_png(text));
        let scanned = app
            .post_scan_url(json!({ "url": url }).to_string(), Some("doc-key"))
            .await;
        assert_eq!(
            scanned.body["data"]["codes"][0]["payload"]["type"], kind,
            "{text}"
        );
        assert_conforms(&envelope, &scanned.body);
    }
}

/// EMVCo's own merchant-presented example: templates, a language template in Chinese, its CRC.
const EMVCO: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678\
    520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.72530315655020162\
    33030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";

#[tokio::test]
async fn the_deepscan_routes_declare_every_status_of_their_table() {
    for (args, keys) in [(&["--api-keys", "k"][..], true), (&[][..], false)] {
        let app = spawn_app(args).await;
        let document = app.get("/openapi.json").await.body;
        let expected: BTreeSet<String> = DeepScanCode::ALL
            .iter()
            .filter(|&&code| keys || code != DeepScanCode::Unauthorized)
            .map(|code| code.status().as_u16().to_string())
            .chain(["200".to_owned()])
            .collect();
        for path in [
            "/x-deepscan/vision/detect",
            "/x-deepscan/vision/detect/upload",
        ] {
            let operation = &document["paths"][path]["post"];
            let declared: BTreeSet<String> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            assert_eq!(declared, expected, "{path}");
            assert_eq!(operation["security"].is_array(), keys, "{path}");
        }
        for method in ["get", "post"] {
            let operation = &document["paths"]["/Api/Browser/deqr"][method];
            let statuses: Vec<&String> =
                operation["responses"].as_object().unwrap().keys().collect();
            assert_eq!(statuses, ["200"], "{method}");
        }
    }
}
