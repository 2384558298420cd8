//! The OpenAPI 3.1 document and its route (`GET /openapi.json`), generated from the handlers'
//! `#[utoipa::path]` annotations and the types' `ToSchema` derives, so it cannot drift from the
//! code; the e2e tests validate real responses against it, and CI runs schemathesis on it.
//!
//! The scan routes' answers are not written in their annotations: `ScanResponses` fills them
//! from `ErrorKind`, the error table, for the server's `--http-status` mode, one response per
//! status with the codes it carries and the headers `ErrorKind::header` adds. So the document
//! describes the server that serves it: a `rest` server declares 400, 413, 415, 422, 502 and 504
//! where a `compat` one answers 200, and a server without API keys declares neither `security`
//! nor the status of a refused key. `FormatsQuery` writes the pattern of the upload route's
//! `?formats=` from `Format::ALL`, as `Formats::parse` reads it.
//!
//! The DeepScan routes get theirs from `DeepScanCode`, their own table beside it, the same way
//! (`DeepScanResponses`); the legacy decoder always answers 200.
//!
//! This module sits above `http` (it names the handlers); nothing below it refers to it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Object, ObjectBuilder, Ref, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi};

use crate::config::HttpStatusMode;
use crate::error::{self, DeepScanCode, ErrorKind};
use crate::http::AppState;
use qrscan_decode::Format;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qrscan",
        description = "A local-first, offline, drop-in replacement for cli.im's QR scan_url API."
    ),
    paths(
        crate::http::scan_url,
        crate::http::scan_upload,
        crate::http::deepscan::detect_json,
        crate::http::deepscan::detect_upload,
        crate::http::deqr::deqr,
        crate::http::deqr::deqr_post,
        crate::http::healthz,
        crate::http::readyz,
        crate::http::metrics,
        openapi_json,
        crate::http::page
    ),
    components(schemas(crate::http::Envelope, crate::scan::ScanData, crate::scan::CodeData, crate::classify::Provider, qrscan_decode::EcLevel, qrscan_decode::Format, crate::http::deepscan::Batch, crate::http::deepscan::ErrorResponse)),
    tags((name = "scan", description = "Find and classify QR codes"), (name = "deepscan", description = "cli.im's DeepScan calls (API.md section 8)"), (name = "deqr", description = "cli.im's legacy web decoder (API.md section 9)"), (name = "service", description = "Operations"))
)]
struct ApiDoc;

/// What of the server's configuration the document depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Served {
    /// `--http-status`: which status each code answers with.
    pub mode: HttpStatusMode,
    /// Whether API keys are configured (`--api-keys`, `--api-keys-file`): only then do the scan
    /// routes need a bearer key, and only then can they refuse one.
    pub keys: bool,
}

impl Served {
    /// The error kinds a scan route can answer with under this configuration.
    pub fn scan_kinds(self) -> impl Iterator<Item = ErrorKind> {
        ErrorKind::ALL
            .iter()
            .copied()
            .filter(move |&kind| match kind {
                // The router's fallbacks answer these, for other paths and methods, never a scan
                // route's own operation.
                ErrorKind::NotFound | ErrorKind::MethodNotAllowed => false,
                ErrorKind::Unauthorized => self.keys,
                _ => true,
            })
    }
}

/// The routes that carry the envelope and, with keys, need one.
fn scan_operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    openapi
        .paths
        .paths
        .values_mut()
        .filter_map(|item| item.post.as_mut())
        .filter(|operation| operation.tags.iter().flatten().any(|tag| tag == "scan"))
}

/// The DeepScan routes' operations.
fn deepscan_operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&String, &mut utoipa::openapi::path::Operation)> {
    openapi
        .paths
        .paths
        .iter_mut()
        .filter_map(|(path, item)| item.post.as_mut().map(|operation| (path, operation)))
        .filter(|(_, operation)| operation.tags.iter().flatten().any(|tag| tag == "deepscan"))
}

/// Writes the responses of the DeepScan routes from `DeepScanCode`, their error table, and
/// requires the bearer key on them when keys are set.
struct DeepScanResponses(Served);

impl Modify for DeepScanResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let served = self.0;
        for (path, operation) in deepscan_operations(openapi) {
            let mut responses = deepscan_errors(served);
            let detect = Ref::from_schema_name("Detect");
            let success = if path.ends_with("/upload") {
                Content::new(Some(detect))
            } else {
                // One image: a detect answer; a batch: its results.
                let either = OneOfBuilder::new()
                    .item(detect)
                    .item(Ref::from_schema_name("Batch"))
                    .build();
                Content::new(Some(Schema::OneOf(either)))
            };
            let ok = ResponseBuilder::new()
                .description("The codes found: for one image `{count, codes}` (none is not an error), for a batch `{count, results}`")
                .content("application/json", success)
                .build();
            responses.insert(error::SUCCESS.as_u16().to_string(), RefOr::T(ok));
            operation.responses.responses = responses;
            if served.keys {
                operation.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
}

/// The error answers of a DeepScan route under `served`, by status.
fn deepscan_errors(served: Served) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<DeepScanCode>> = BTreeMap::new();
    for &code in DeepScanCode::ALL {
        if code == DeepScanCode::Unauthorized && !served.keys {
            continue;
        }
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let rows: Vec<String> = codes
                .iter()
                .map(|code| format!("{} ({})", code.code(), code.meaning()))
                .collect();
            let text = format!(
                "`{{\"error\": {{code, message}}}}`; `code`: {}.",
                rows.join("; ")
            );
            let body = Content::new(Some(Ref::from_schema_name("ErrorResponse")));
            let mut response = ResponseBuilder::new()
                .description(text)
                .content("application/json", body);
            let retry = codes
                .iter()
                .any(|&c| matches!(c, DeepScanCode::RateLimited | DeepScanCode::Busy));
            if retry {
                let schema = Object::with_type(Type::String);
                response = response.header("retry-after", Header::new(schema));
            }
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

/// The legacy decoder's POST may carry no body at all (everything in its query string), which
/// the annotation cannot say.
struct DeqrOptionalBody;

impl Modify for DeqrOptionalBody {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let deqr = openapi.paths.paths.get_mut(crate::http::deqr::PATH);
        let post = deqr.and_then(|item| item.post.as_mut());
        if let Some(body) = post.and_then(|operation| operation.request_body.as_mut()) {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
}

/// Declares the `bearer` scheme and requires it on the scan routes, when keys are set.
struct BearerAuth(Served);

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if !self.0.keys {
            return;
        }
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
        for operation in scan_operations(openapi) {
            operation.security = Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
        }
    }
}

/// Writes the responses of every route tagged `scan`: one per status `ErrorKind::status` gives
/// the kinds such a route can answer with, each naming its codes.
struct ScanResponses(Served);

impl Modify for ScanResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let responses = scan_responses(self.0);
        for operation in scan_operations(openapi) {
            operation.responses.responses = responses.clone();
        }
    }
}

/// The answers of a scan route under `served`, by status.
fn scan_responses(served: Served) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, (Vec<ErrorKind>, Vec<axum::http::HeaderName>)> =
        BTreeMap::new();
    by_status.insert(error::SUCCESS.as_u16(), Default::default());
    for kind in served.scan_kinds() {
        let (kinds, headers) = by_status
            .entry(kind.status(served.mode).as_u16())
            .or_default();
        kinds.push(kind);
        if let Some((name, _)) = kind.header(served.mode) {
            if !headers.contains(&name) {
                headers.push(name);
            }
        }
    }
    by_status
        .into_iter()
        .map(|(status, (kinds, headers))| {
            let success = (status == error::SUCCESS.as_u16()).then(|| "0 success".to_owned());
            let rows = kinds
                .iter()
                .map(|kind| format!("{} {}", kind.code(), kind.meaning()));
            let rows: Vec<String> = success.into_iter().chain(rows).collect();
            let text = format!("The envelope. `code`: {}.", rows.join("; "));
            let envelope = Content::new(Some(Ref::from_schema_name("Envelope")));
            let mut response = ResponseBuilder::new()
                .description(text)
                .content("application/json", envelope);
            for name in headers {
                let schema = Object::with_type(Type::String);
                response = response.header(name.as_str(), Header::new(schema));
            }
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

/// Gives the `formats` query parameter the grammar `Formats::parse` accepts: one or more format
/// names, comma-separated, each in any ASCII case and with blanks around it. Without it the
/// parameter is any string, and `?formats=` (refused: no format) would be a valid request.
struct FormatsQuery;

impl Modify for FormatsQuery {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let pattern = formats_pattern();
        for operation in scan_operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.name == "formats" && parameter.parameter_in == ParameterIn::Query {
                    let schema = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(pattern.clone()))
                        .build();
                    parameter.schema = Some(RefOr::T(Schema::Object(schema)));
                }
            }
        }
    }
}

/// `^\s*(qr|microqr|rmqr)\s*(,\s*(qr|microqr|rmqr)\s*)*$`, each letter a class of both cases
/// (a JSON Schema pattern has no flags).
fn formats_pattern() -> String {
    let names: Vec<String> = Format::ALL
        .iter()
        .map(|format| {
            format
                .name()
                .chars()
                .map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
                .collect()
        })
        .collect();
    let name = format!(r"\s*({})\s*", names.join("|"));
    format!("^{name}(,{name})*$")
}

/// The document a server configured as `served` serves at `/openapi.json`.
pub fn document(served: Served) -> utoipa::openapi::OpenApi {
    let mut openapi = ApiDoc::openapi();
    ScanResponses(served).modify(&mut openapi);
    BearerAuth(served).modify(&mut openapi);
    DeepScanResponses(served).modify(&mut openapi);
    DeqrOptionalBody.modify(&mut openapi);
    FormatsQuery.modify(&mut openapi);
    openapi
}

/// `GET /openapi.json`: this API as this server answers it, described from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document", content_type = "application/json")))]
pub async fn openapi_json(State(state): State<Arc<AppState>>) -> Json<utoipa::openapi::OpenApi> {
    Json(document(Served {
        mode: state.http_status,
        keys: state.api_keys.is_enabled(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_a_scan_route_can_answer_is_described_under_its_status() {
        for mode in [HttpStatusMode::Compat, HttpStatusMode::Rest] {
            let served = Served { mode, keys: true };
            let document = serde_json::to_value(document(served)).unwrap();
            for path in ["/api/v1/qrcode/scan_url", "/api/v1/qrcode/scan"] {
                let responses = &document["paths"][path]["post"]["responses"];
                for kind in served.scan_kinds() {
                    let status = kind.status(mode).as_u16().to_string();
                    let description = responses[&status]["description"].as_str().unwrap();
                    let row = format!("{} {}", kind.code(), kind.meaning());
                    assert!(
                        description.contains(&row),
                        "{mode:?} {path} {status} lacks {row}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_server_without_keys_cannot_refuse_one() {
        let served = Served {
            mode: HttpStatusMode::Compat,
            keys: false,
        };
        assert!(!served
            .scan_kinds()
            .any(|kind| kind == ErrorKind::Unauthorized));
        let with_keys = Served {
            keys: true,
            ..served
        };
        assert!(with_keys
            .scan_kinds()
            .any(|kind| kind == ErrorKind::Unauthorized));
    }
}
