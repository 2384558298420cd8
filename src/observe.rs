//! The request middleware: a request id (`x-request-id`, taken from the caller when it is sane,
//! generated otherwise, and returned on the response), one log line per request (route, code,
//! status, latency; never a header value, so `Authorization` cannot leak), and request metrics.
//! It sees only the metrics and the trusted proxies, never the application state, so it sits
//! below the handlers: they leave a `ResponseCode` on the response and this layer reads it. It
//! decides the request's `ClientAddr` (`client.rs`) once, logs it, and leaves it on the request
//! for the rate limits.

use std::sync::Arc;
use std::time::Instant;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::client::{ClientAddr, TrustedProxies};
use crate::metrics::Metrics;

/// The header carrying the request id in both directions.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The envelope `code` of a response, left by the handler for this middleware to log and count.
#[derive(Clone, Copy, Debug)]
pub struct ResponseCode(pub u32);

/// The route a handler reached through the router's fallback answers as (the legacy decoder,
/// whose path matches in any case), left on the response in place of the matched path.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

/// An id from the caller is kept if it is short and printable; anything else is replaced.
fn request_id(request: &Request) -> HeaderValue {
    request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            // A hyphenated UUID is always a valid header value.
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("invalid"))
        })
}

/// Logs, counts and tags every request.
pub async fn observe(
    State((metrics, proxies)): State<(Arc<Metrics>, Arc<TrustedProxies>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(ClientAddr::UNKNOWN, |peer| {
            proxies.client(peer.0.ip(), request.headers())
        });
    request.extensions_mut().insert(client);
    // Unmatched paths share one label, so a scanner probing random URLs cannot grow the metrics.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let _in_flight = metrics.in_flight();

    let mut response = next.run(request).await;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let code = response
        .extensions()
        .get::<ResponseCode>()
        .map_or(u32::from(status), |c| c.0);
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or(route, |label| label.0.to_owned());
    metrics.observe_request(&route, code, elapsed);
    tracing::info!(
        request_id = %id.to_str().unwrap_or_default(),
        %method,
        route,
        %client,
        status,
        code,
        // Whole microseconds: `as_secs_f64() * 1000.0` logged 0.015113000000000001.
        latency_ms = elapsed.as_micros() as f64 / 1000.0,
        "request"
    );
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(id: &str) -> Request {
        Request::builder()
            .header("x-request-id", id)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn a_sane_caller_id_is_kept_and_anything_else_is_replaced() {
        assert_eq!(request_id(&with_id("abc-123")), "abc-123");
        let long = "x".repeat(200);
        for bad in ["", "has space", long.as_str()] {
            let id = request_id(&with_id(bad));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 36, "a generated UUID");
        }
    }
}
