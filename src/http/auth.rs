//! Authentication (API.md section 4, code 403): the configured API keys, compared in constant
//! time and never shown, and the middleware that asks for one as a bearer token before any body
//! is read.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::{respond, AppState};
use crate::error::{ApiError, ErrorKind};

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
}
