//! The HTTP edge: the envelope routes' thin handlers, the probes and the fallbacks. Handlers
//! turn a request into a call to `scan` and its result into the envelope; codes and statuses
//! come from `error.rs`. The parts each have a file: `state.rs` (`AppState`, `Readiness`),
//! `request.rs` (what a request may carry and how it is parsed), `body.rs` (reading bodies under
//! the byte limit, the byte budget and the time limit, and the JSON extractor), `envelope.rs`
//! (the response body and `respond`). `deepscan.rs` and `deqr.rs` are the edges of cli.im's two
//! other decode calls over the same `Scanner` (API.md sections 8, 9).
//!
//! Before a handler, two steps, in this order on every scan route: `auth.rs` (authentication)
//! says who the caller is (`caller.rs`: its address and key), then `admission.rs` decides
//! whether it may go on: the rate limit of its bucket (`limit.rs`), then its key.
//!
//! This file only uses the others (and re-exports what `server` and `openapi` name); none of
//! them uses it, and no two of them use each other both ways.

mod admission;
mod auth;
mod body;
mod caller;
pub mod deepscan;
pub mod deqr;
mod envelope;
mod limit;
mod request;
mod state;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use self::admission::admit;
pub use self::auth::authenticate;
pub use self::body::{framed_limit, HeldJson};
pub use self::envelope::{respond, Envelope};
pub use self::limit::{Bucket, RateLimiter, MAX_BUCKETS};
pub use self::request::{
    FormatName, JsonBody, RawImage, ScanImageForm, ScanImageRequest, ScanUrlRequest,
};
pub use self::state::{AppState, Readiness};
use crate::error::{ApiError, ErrorKind};
use crate::scan::Scanner;
use qrscan_decode::Formats;

/// The formats a request looks for: the server's, narrowed by each set the request names (its
/// body's `formats`, the upload route's `?formats=` query). A request left with none is refused.
fn narrow(scanner: &Scanner, requested: &[Option<Formats>]) -> Result<Formats, ApiError> {
    let enabled = scanner.formats();
    let formats = requested
        .iter()
        .flatten()
        .fold(enabled, |formats, &asked| formats.intersection(asked));
    if formats.is_empty() {
        return Err(ApiError::bad_request(format!(
            "none of the requested formats is looked for by this server (--formats {enabled})"
        )));
    }
    Ok(formats)
}

/// `POST /api/v1/qrcode/scan_url` with `{"url": "..."}`.
#[utoipa::path(
    post,
    path = "/api/v1/qrcode/scan_url",
    tag = "scan",
    request_body(content = ScanUrlRequest, content_type = "application/json"),
    // Every status, and `security`, depend on the server's configuration: `openapi.rs`
    // writes them from the error table.
    responses((status = 200, description = "The envelope", body = Envelope))
)]
pub async fn scan_url(
    State(state): State<Arc<AppState>>,
    body: HeldJson<ScanUrlRequest>,
) -> Response {
    // `body` (and the budget a `data:` URL in it takes) is held until the scan ends.
    let result = match narrow(&state.scanner, &[body.value.formats]) {
        Ok(formats) => state
            .scanner
            .scan_url(&body.value.url, formats)
            .await
            .map_err(ApiError::from),
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
        (RawImage = "application/octet-stream"),
        (RawImage = "image/*"),
        (ScanImageRequest = "application/json"),
    )),
    params(("formats" = Option<String>, Query, description = "Comma-separated formats to look for (`qr`, `microqr`, `rmqr`), narrowing the server's `--formats`; for any form of upload")),
    // Every status, and `security`, depend on the server's configuration: `openapi.rs`
    // writes them from the error table.
    responses((status = 200, description = "The envelope", body = Envelope))
)]
pub async fn scan_upload(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = async {
        let query = request::formats_query(request.uri().query())?;
        let upload = body::read_upload(request, &state.scanner);
        let upload = body::within_fetch_timeout(&state.scanner, upload).await?;
        let formats = narrow(&state.scanner, &[query, upload.formats])?;
        Ok(state.scanner.scan_bytes(upload.bytes, formats).await?)
    };
    respond(state.http_status, result.await)
}

/// `GET /`: the try-it page, embedded in the binary (no CDN, no build step).
#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, description = "An HTML page to try the service", content_type = "text/html")))]
pub async fn page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../page.html"))
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let scanner = &state.scanner;
    state
        .metrics
        .observe_load(scanner.pool.admitted(), scanner.budget.held());
    state
        .metrics
        .observe_rate_limit_buckets(state.limiter.buckets());
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

/// `GET /readyz`: 200 while accepting work, 503 from the shutdown signal on (the drain).
#[utoipa::path(get, path = "/readyz", tag = "service", responses(
    (status = 200, description = "`{\"status\":\"ready\"}`: accepting work"),
    (status = 503, description = "`{\"status\":\"draining\"}`: shutting down; send work elsewhere"),
))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.readiness.is_ready() {
        Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        (
            crate::error::NOT_READY,
            Json(serde_json::json!({"status": "draining"})),
        )
            .into_response()
    }
}

/// Paths no route matches: the legacy decoder's in any case (`deqr::is_path`), else 404.
pub async fn fallback(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if deqr::is_path(request.uri().path()) {
        return deqr::deqr(State(state), request).await;
    }
    not_found(State(state)).await
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
