//! The HTTP edge: the envelope, request parsing and thin handlers. Handlers turn a request into a
//! call to `scan` and its result into the envelope; codes and statuses come from `error.rs`.
//!
//! Request bodies are parsed here by hand rather than with axum's `Json` extractor, so a malformed
//! body is code 400 in our envelope instead of axum's plain-text rejection, and every body is
//! read chunk by chunk against the scanner's `ByteBudget` (503 when it has no room).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use subtle::ConstantTimeEq;

use axum::extract::FromRequest;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;

use crate::budget::{ByteBudget, HeldBytes};
use crate::config::HttpStatusMode;
use crate::error::{ApiError, ErrorKind};
use crate::fetch::FetchError;
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
        (status = 200, description = "The envelope; `openapi.rs` lists its codes here", body = Envelope),
        (status = 403, description = "API keys are configured and the bearer key is missing or wrong (compat mode; 401 in rest mode)", body = Envelope),
        (status = 503, description = BUSY, body = Envelope),
    ),
    security(("bearer" = []))
)]
pub async fn scan_url(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = async {
        let scanner = &state.scanner;
        // A `data:` URL makes this body as large as an upload, so it is held the same way.
        let max_bytes = scanner.fetcher.options().max_bytes;
        let limit = framed_limit(max_bytes);
        let body = read_body(request.into_body(), &scanner.budget, limit, max_bytes);
        let body = within_fetch_timeout(scanner, body).await?;
        let url = parse_scan_url_body(body.as_ref())?;
        // `url` is a copy of the body: the body's reservation now stands for it.
        let _url = body.into_reservation();
        scanner.scan_url(&url).await
    }
    .await;
    respond(state.http_status, result)
}

/// 503 `description` of the scan routes.
const BUSY: &str = "decode queue full or image memory budget spent; retry after `Retry-After`";

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
        (status = 200, description = "The envelope; `openapi.rs` lists its codes here", body = Envelope),
        (status = 403, description = "API keys are configured and the bearer key is missing or wrong (compat mode; 401 in rest mode)", body = Envelope),
        (status = 503, description = BUSY, body = Envelope),
    ),
    security(("bearer" = []))
)]
pub async fn scan_upload(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let upload = read_upload(request, &state.scanner);
    let result = match within_fetch_timeout(&state.scanner, upload).await {
        Ok(bytes) => state.scanner.scan_bytes(bytes).await,
        Err(err) => Err(err),
    };
    respond(state.http_status, result)
}

/// The largest body that can carry an image of `max_bytes`: base64 and multipart framing make a
/// body larger than the image in it.
pub fn framed_limit(max_bytes: u64) -> usize {
    usize::try_from(max_bytes.saturating_mul(4) / 3 + 64 * 1024).unwrap_or(usize::MAX)
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError::from(FetchError::TooLarge { limit: max_bytes })
}

/// Runs `read` (the reading of a request body) within `--fetch-timeout`, the time a download
/// of the same image would get: a client trickling its body must not hold a connection, and
/// the bytes it has sent, for ever. Past it, 1004.
async fn within_fetch_timeout<T>(
    scanner: &Scanner,
    read: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let limit = scanner.fetcher.options().fetch_timeout;
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            ErrorKind::FetchTimeout,
            "the request body did not arrive within the time limit",
        ))
    })
}

/// Reads a body chunk by chunk, each held against `budget` as it arrives: more than `limit`
/// bytes is 1005 (naming the image limit `max_bytes`), a chunk the budget cannot take at once
/// is 503.
async fn read_body(
    body: Body,
    budget: &ByteBudget,
    limit: usize,
    max_bytes: u64,
) -> Result<HeldBytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut held = budget.buffer(limit);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if held.len() + chunk.len() > limit {
            return Err(too_large(max_bytes));
        }
        if let Err(busy) = held.extend_from_slice(&chunk) {
            let mut left = limit - held.len();
            discard_rest(async move {
                while let Some(Ok(chunk)) = stream.next().await {
                    let Some(still) = left.checked_sub(chunk.len()) else {
                        return;
                    };
                    left = still;
                }
            });
            return Err(busy.into());
        }
    }
    Ok(held)
}

/// How long the rest of a refused body is read for.
const DISCARD_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `drain`, which reads and drops the rest of a refused request body, beside the 503: a
/// client still sending would otherwise see the connection reset instead of the answer. The
/// bytes are dropped as they arrive, so this holds no budget.
fn discard_rest(drain: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(tokio::time::timeout(DISCARD_FOR, drain));
}

/// The image bytes of an upload, whatever its form, within the byte limit and the byte budget.
async fn read_upload(request: Request, scanner: &Scanner) -> Result<HeldBytes, ApiError> {
    let max_bytes = scanner.fetcher.options().max_bytes;
    let max_len = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let budget = &scanner.budget;
    let check_size = |bytes: HeldBytes| {
        if bytes.is_empty() {
            Err(ApiError::bad_request("the uploaded image is empty"))
        } else if bytes.len() > max_len {
            Err(too_large(max_bytes))
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

    match essence.as_str() {
        "multipart/form-data" => {
            // Streamed: only the `file` field is kept, and it is held as it arrives.
            let bad = |err: axum::extract::multipart::MultipartError| {
                if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(max_bytes)
                } else {
                    ApiError::bad_request(format!("bad multipart body: {}", err.body_text()))
                }
            };
            let mut multipart = axum::extract::Multipart::from_request(request, &())
                .await
                .map_err(|e| ApiError::bad_request(format!("bad multipart body: {}", e.body_text())))?;
            while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
                if field.name() != Some("file") {
                    continue;
                }
                let mut held = budget.buffer(max_len);
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if held.len() + chunk.len() > max_len {
                        return Err(too_large(max_bytes));
                    }
                    if let Err(busy) = held.extend_from_slice(&chunk) {
                        drop(field);
                        // The body limit of the multipart reader bounds this.
                        discard_rest(async move {
                            while let Ok(Some(mut field)) = multipart.next_field().await {
                                while let Ok(Some(_)) = field.chunk().await {}
                            }
                        });
                        return Err(busy.into());
                    }
                }
                return check_size(held);
            }
            Err(ApiError::bad_request("the multipart body has no `file` field"))
        }
        "application/json" => {
            let limit = framed_limit(max_bytes);
            let body = read_body(request.into_body(), budget, limit, max_bytes).await?;
            let value: serde_json::Value = serde_json::from_slice(body.as_ref()).map_err(|e| {
                ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
            })?;
            // `value` holds a copy of the body: the body's reservation now stands for it.
            let _value = body.into_reservation();
            let image = match value.get("image") {
                Some(serde_json::Value::String(image)) if !image.trim().is_empty() => image.trim(),
                Some(serde_json::Value::String(_)) => return Err(ApiError::bad_request("`image` is empty")),
                Some(_) => return Err(ApiError::bad_request("`image` must be a string")),
                None => return Err(ApiError::bad_request("the request body has no `image` field")),
            };
            let bytes = if image.starts_with("data:") {
                crate::fetch::decode_data_url(image, max_bytes, budget).map_err(|err| match err {
                    FetchError::TooLarge { .. } => too_large(max_bytes),
                    FetchError::Busy(busy) => busy.into(),
                    _ => ApiError::bad_request("`image` is not a valid base64 data: URL"),
                })?
            } else {
                if (image.len() as u64) / 4 * 3 > max_bytes + 3 {
                    return Err(too_large(max_bytes));
                }
                decode_base64(image, budget, max_len)?
            };
            check_size(bytes)
        }
        t if t.starts_with("image/") || t == "application/octet-stream" => {
            check_size(read_body(request.into_body(), budget, max_len, max_bytes).await?)
        }
        "" => Err(ApiError::bad_request(
            "missing Content-Type: send multipart/form-data, image/*, application/octet-stream or application/json",
        )),
        other => Err(ApiError::bad_request(format!(
            "unsupported Content-Type `{other}`: send multipart/form-data, image/*, application/octet-stream or application/json"
        ))),
    }
}

/// Decodes standard base64 a block at a time, holding the bytes against `budget` as they come.
fn decode_base64(text: &str, budget: &ByteBudget, max_len: usize) -> Result<HeldBytes, ApiError> {
    let mut reader = base64::read::DecoderReader::new(text.as_bytes(), &STANDARD);
    // The decoded bytes are three quarters of the text.
    let mut held = budget.buffer(max_len.min(text.len() / 4 * 3 + 3));
    let mut block = [0u8; 8 * 1024];
    loop {
        let read = std::io::Read::read(&mut reader, &mut block)
            .map_err(|_| ApiError::bad_request("`image` is not valid base64"))?;
        if read == 0 {
            return Ok(held);
        }
        held.extend_from_slice(&block[..read])?;
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
    let scanner = &state.scanner;
    state
        .metrics
        .observe_load(scanner.pool.admitted(), scanner.budget.held());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
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
