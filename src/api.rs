//! The HTTP edge: the envelope, request parsing and thin handlers. Handlers turn a request into a
//! call to `scan` and its result into the envelope; codes and statuses come from `error.rs`.
//!
//! Request bodies are parsed here by hand rather than with axum's `Json` extractor, so a malformed
//! body is code 400 in our envelope instead of axum's plain-text rejection.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use subtle::ConstantTimeEq;

use axum::extract::FromRequest;
use base64::Engine;

use crate::error::{ApiError, ErrorKind, HttpStatusMode};
use crate::fetch::{find_cause, FetchError};
use crate::scan::{ScanData, Scanner};

/// What every handler can reach.
pub struct AppState {
    pub scanner: Scanner,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub api_keys: ApiKeys,
    pub http_status: HttpStatusMode,
}

/// The configured API keys. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct ApiKeys(Vec<Vec<u8>>);

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys([{} redacted])", self.0.len())
    }
}

impl ApiKeys {
    /// Keys from configuration; blank entries are dropped.
    pub fn new(keys: &[String]) -> Self {
        ApiKeys(
            keys.iter()
                .map(|k| k.trim())
                .filter(|k| !k.is_empty())
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        )
    }

    /// Whether authentication is on.
    pub fn is_enabled(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether `candidate` is one of the keys, comparing every key in constant time.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        // No short-circuit: the time taken does not reveal which key (or how much of one) matched.
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |acc, key| {
                acc | key.ct_eq(candidate)
            })
            .into()
    }
}

/// The body of every `/api/...` response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope {
    /// 0 on success; otherwise a code of the table in the route description.
    pub code: u32,
    /// `ok`, or a sentence a person can act on.
    pub message: String,
    /// The result on success, `null` on failure.
    #[schema(required = true)]
    pub data: Option<ScanData>,
}

/// Body of `scan_url`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the hand-parsed body (see `parse_scan_url_body`)
pub struct ScanUrlRequest {
    /// `http(s)` image URL, a `data:` image URL, or `file:` under `--file-root`.
    url: String,
}

/// JSON body of the upload route.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the hand-parsed body (see `read_upload`)
pub struct ScanImageRequest {
    /// The image as base64, or as a `data:` URL.
    image: String,
}

/// Multipart body of the upload route.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ScanImageForm {
    /// The image file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

impl Envelope {
    /// The envelope for a scan outcome.
    pub fn from_result(result: &Result<ScanData, ApiError>) -> Self {
        match result {
            Ok(data) => Envelope {
                code: 0,
                message: "ok".into(),
                data: Some(data.clone()),
            },
            Err(err) => Envelope {
                code: err.code(),
                message: err.message.clone(),
                data: None,
            },
        }
    }
}

/// Renders an outcome as the envelope with the status `mode` gives its code.
pub fn respond(mode: HttpStatusMode, result: Result<ScanData, ApiError>) -> Response {
    let envelope = Envelope::from_result(&result);
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(err) => err.kind.status(mode),
    };
    let mut response = (status, Json(envelope)).into_response();
    let code = result.as_ref().map_or_else(ApiError::code, |_| 0);
    response
        .extensions_mut()
        .insert(crate::observe::ResponseCode(code));
    if let Err(err) = &result {
        let headers = response.headers_mut();
        match err.kind {
            ErrorKind::Unauthorized if mode == HttpStatusMode::Rest => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ErrorKind::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
    }
    response
}

/// `POST /api/v1/qrcode/scan_url` with `{"url": "..."}`.
#[utoipa::path(
    post,
    path = "/api/v1/qrcode/scan_url",
    tag = "scan",
    request_body(content = ScanUrlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = crate::openapi::CODES, body = Envelope),
        (status = 403, description = "API keys are configured and the bearer key is missing or wrong (compat mode; 401 in rest mode)", body = Envelope),
        (status = 503, description = "decode queue full; retry after `Retry-After`", body = Envelope),
    ),
    security(("bearer" = []))
)]
pub async fn scan_url(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let result = match parse_scan_url_body(&body) {
        Ok(url) => state.scanner.scan_url(&url).await,
        Err(err) => Err(err),
    };
    respond(state.http_status, result)
}

/// `POST /api/v1/qrcode/scan`: the image itself, as multipart (`file`), a raw body or JSON.
#[utoipa::path(
    post,
    path = "/api/v1/qrcode/scan",
    tag = "scan",
    request_body(content(
        (ScanImageForm = "multipart/form-data"),
        (Vec<u8> = "application/octet-stream"),
        (Vec<u8> = "image/*"),
        (ScanImageRequest = "application/json"),
    )),
    responses(
        (status = 200, description = crate::openapi::CODES, body = Envelope),
        (status = 403, description = "API keys are configured and the bearer key is missing or wrong (compat mode; 401 in rest mode)", body = Envelope),
        (status = 503, description = "decode queue full; retry after `Retry-After`", body = Envelope),
    ),
    security(("bearer" = []))
)]
pub async fn scan_upload(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let max_bytes = state.scanner.fetcher.options().max_bytes;
    let result = match read_upload(request, max_bytes).await {
        Ok(bytes) => state.scanner.scan_bytes(bytes).await,
        Err(err) => Err(err),
    };
    respond(state.http_status, result)
}

/// The image bytes of an upload, whatever its form, within the byte limit.
async fn read_upload(request: Request, max_bytes: u64) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::from(FetchError::TooLarge { limit: max_bytes });
    // The bytes are handed on as they are: an upload is never copied on its way to the decoder.
    let check_size = |bytes: Bytes| {
        if bytes.is_empty() {
            Err(ApiError::bad_request("the uploaded image is empty"))
        } else if bytes.len() as u64 > max_bytes {
            Err(too_large())
        } else {
            Ok(bytes)
        }
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (parts, body) = request.into_parts();
    // Base64 and multipart framing make the body larger than the image it carries.
    let body_limit =
        usize::try_from(max_bytes.saturating_mul(4) / 3 + 64 * 1024).unwrap_or(usize::MAX);
    let body = axum::body::to_bytes(body, body_limit)
        .await
        .map_err(|err| {
            if find_cause::<http_body_util::LengthLimitError>(&err).is_some() {
                too_large()
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })?;

    match essence.as_str() {
        "multipart/form-data" => {
            let request = Request::from_parts(parts, axum::body::Body::from(body));
            let bad = |detail: String| ApiError::bad_request(format!("bad multipart body: {detail}"));
            let mut multipart = axum::extract::Multipart::from_request(request, &())
                .await
                .map_err(|e| bad(e.body_text()))?;
            while let Some(field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
                if field.name() == Some("file") {
                    return check_size(field.bytes().await.map_err(|e| bad(e.body_text()))?);
                }
            }
            Err(ApiError::bad_request("the multipart body has no `file` field"))
        }
        "application/json" => {
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
            })?;
            let image = match value.get("image") {
                Some(serde_json::Value::String(image)) if !image.trim().is_empty() => image.trim(),
                Some(serde_json::Value::String(_)) => return Err(ApiError::bad_request("`image` is empty")),
                Some(_) => return Err(ApiError::bad_request("`image` must be a string")),
                None => return Err(ApiError::bad_request("the request body has no `image` field")),
            };
            let bytes = if image.starts_with("data:") {
                crate::fetch::decode_data_url(image, max_bytes).map_err(|err| match err {
                    FetchError::TooLarge { .. } => too_large(),
                    _ => ApiError::bad_request("`image` is not a valid base64 data: URL"),
                })?
            } else {
                if (image.len() as u64) / 4 * 3 > max_bytes + 3 {
                    return Err(too_large());
                }
                base64::engine::general_purpose::STANDARD
                    .decode(image)
                    .map_err(|_| ApiError::bad_request("`image` is not valid base64"))?
            };
            check_size(Bytes::from(bytes))
        }
        t if t.starts_with("image/") || t == "application/octet-stream" => check_size(body),
        "" => Err(ApiError::bad_request(
            "missing Content-Type: send multipart/form-data, image/*, application/octet-stream or application/json",
        )),
        other => Err(ApiError::bad_request(format!(
            "unsupported Content-Type `{other}`: send multipart/form-data, image/*, application/octet-stream or application/json"
        ))),
    }
}

/// Extracts `url` from a JSON body, or says what is wrong with the body.
fn parse_scan_url_body(body: &[u8]) -> Result<String, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    match object.get("url") {
        None | Some(serde_json::Value::Null) => {
            Err(ApiError::bad_request("the request body has no `url` field"))
        }
        Some(serde_json::Value::String(url)) if url.trim().is_empty() => {
            Err(ApiError::bad_request("`url` is empty"))
        }
        Some(serde_json::Value::String(url)) => Ok(url.clone()),
        Some(_) => Err(ApiError::bad_request("`url` must be a string")),
    }
}

/// Middleware: when keys are configured, the request must carry one as a bearer token.
pub async fn require_api_key(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if !state.api_keys.is_enabled() {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match presented {
        Some(token) if state.api_keys.accepts(token.as_bytes()) => next.run(request).await,
        Some(_) => respond(
            state.http_status,
            Err(ApiError::new(
                ErrorKind::Unauthorized,
                "the API key is not valid",
            )),
        ),
        None => respond(
            state.http_status,
            Err(ApiError::new(
                ErrorKind::Unauthorized,
                "an API key is required: send `Authorization: Bearer <key>`",
            )),
        ),
    }
}

/// `GET /`: the try-it page, embedded in the binary (no CDN, no build step).
#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, description = "An HTML page to try the service", content_type = "text/html")))]
pub async fn page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("page.html"))
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`: this API, described from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document", content_type = "application/json")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "`{\"status\":\"ok\"}`")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Any unknown path.
pub async fn not_found(State(state): State<Arc<AppState>>) -> Response {
    respond(
        state.http_status,
        Err(ApiError::new(ErrorKind::NotFound, "no such route")),
    )
}

/// A known path with the wrong method.
pub async fn method_not_allowed(State(state): State<Arc<AppState>>) -> Response {
    respond(
        state.http_status,
        Err(ApiError::new(
            ErrorKind::MethodNotAllowed,
            "this route does not accept that method",
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_accept_only_configured_keys_and_never_show_them() {
        let keys = ApiKeys::new(&["alpha".into(), " beta ".into(), "".into()]);
        assert!(keys.is_enabled());
        assert!(keys.accepts(b"alpha"));
        assert!(keys.accepts(b"beta"));
        assert!(!keys.accepts(b"alph"));
        assert!(!keys.accepts(b""));
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("alpha") && !shown.contains("beta"),
            "{shown}"
        );
        assert!(!ApiKeys::new(&[]).is_enabled());
    }

    #[test]
    fn scan_url_bodies_are_checked_field_by_field() {
        assert_eq!(
            parse_scan_url_body(br#"{"url":"http://x/a.png"}"#).unwrap(),
            "http://x/a.png"
        );
        for body in [
            &b"not json"[..],
            b"[1]",
            b"{}",
            br#"{"url":null}"#,
            br#"{"url":5}"#,
            br#"{"url":"  "}"#,
        ] {
            let err = parse_scan_url_body(body).unwrap_err();
            assert_eq!(
                err.kind,
                ErrorKind::BadRequest,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
