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

use crate::error::{ApiError, ErrorKind, HttpStatusMode};
use crate::scan::{ScanData, Scanner};

/// What every handler can reach.
pub struct AppState {
    pub scanner: Scanner,
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
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    pub code: u32,
    pub message: String,
    pub data: Option<T>,
}

impl Envelope<ScanData> {
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
pub async fn scan_url(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let result = match parse_scan_url_body(&body) {
        Ok(url) => state.scanner.scan_url(&url).await,
        Err(err) => Err(err),
    };
    respond(state.http_status, result)
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

/// `GET /healthz`.
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
