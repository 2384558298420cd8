//! The OpenAPI 3.1 document and its route (`GET /openapi.json`), generated from the handlers'
//! `#[utoipa::path]` annotations and the types' `ToSchema` derives, so it cannot drift from the
//! code; the e2e tests validate real responses against it. The list of envelope codes in the scan
//! routes' descriptions is written from `ErrorKind`, the error table, for the same reason.
//!
//! This module sits above `http` (it names the handlers); nothing below it refers to it.

use std::fmt::Write;

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use crate::error::ErrorKind;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qrscan",
        description = "A local-first, offline, drop-in replacement for cli.im's QR scan_url API."
    ),
    paths(
        crate::http::scan_url,
        crate::http::scan_upload,
        crate::http::healthz,
        crate::http::readyz,
        crate::http::metrics,
        openapi_json,
        crate::http::page
    ),
    components(schemas(crate::http::Envelope, crate::scan::ScanData, crate::scan::CodeData, crate::classify::Provider, crate::decode::EcLevel, crate::decode::Format)),
    modifiers(&BearerAuth, &CodeList),
    tags((name = "scan", description = "Find and classify QR codes"), (name = "service", description = "Operations"))
)]
struct ApiDoc;

/// Adds the `bearer` scheme the scan routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Writes the code list into the 200 answer of every route tagged `scan`.
struct CodeList;

impl Modify for CodeList {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let codes = codes();
        for item in openapi.paths.paths.values_mut() {
            let Some(operation) = item.post.as_mut() else {
                continue;
            };
            if !operation.tags.iter().flatten().any(|tag| tag == "scan") {
                continue;
            }
            if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
                ok.description.clone_from(&codes);
            }
        }
    }
}

/// The envelope codes (API.md section 4), one per `ErrorKind`.
pub fn codes() -> String {
    let mut text = String::from("The envelope. `code`: 0 success");
    for kind in ErrorKind::ALL {
        // Writing to a String cannot fail.
        let _ = write!(text, "; {} {}", kind.code(), kind.meaning());
    }
    text.push_str(
        ". In `--http-status compat` (default) business codes answer HTTP 200; in `rest` each \
         has its own status.",
    );
    text
}

/// The document served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /openapi.json`: this API, described from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document", content_type = "application/json")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_routes_list_every_code_of_the_error_table() {
        let document = serde_json::to_value(document()).unwrap();
        for path in ["/api/v1/qrcode/scan_url", "/api/v1/qrcode/scan"] {
            let description = document["paths"][path]["post"]["responses"]["200"]["description"]
                .as_str()
                .unwrap();
            for kind in ErrorKind::ALL {
                let row = format!("{} {}", kind.code(), kind.meaning());
                assert!(description.contains(&row), "{path} lacks {row}");
            }
        }
    }
}
