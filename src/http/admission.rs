//! Admission: whether a caller, once authentication (`auth.rs`) has said who it is, may go on
//! to the handler. First a token from its rate-limit bucket (`limit.rs`: a valid key's own
//! bucket, anything else its client address's), or 429 with `Retry-After`; then, where keys are
//! required, a caller without a valid key is refused (403, `auth::require_key`). The limit comes
//! first so that guessing keys costs tokens like any other request. Every route's answer to a
//! refusal starts from the error `check` returns.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::auth;
use super::caller::Caller;
use super::envelope::respond;
use super::limit::Bucket;
use super::state::AppState;
use crate::error::ApiError;

/// Whether `caller` may go on: its rate limit, then its key. A refusal by the limit is counted
/// in `qrscan_rate_limited_total` under its bucket's kind.
pub(super) fn check(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let bucket = Bucket::of(caller);
    if let Err(refusal) = state.limiter.check(bucket) {
        state.metrics.observe_rate_limited(bucket.kind());
        return Err(refusal);
    }
    auth::require_key(caller)
}

/// The `Caller` authentication left on `request`. Without one the routes were wired without
/// `auth::authenticate` before admission: a bug, refused rather than let through.
pub(super) fn caller_of(request: &Request) -> Result<Caller, ApiError> {
    request
        .extensions()
        .get::<Caller>()
        .copied()
        .ok_or_else(|| {
            tracing::error!("admission without authentication: no caller on the request");
            ApiError::internal()
        })
}

/// Middleware of the envelope routes, after `auth::authenticate`: the handler runs only for an
/// admitted caller; anyone else gets the envelope of the refusal.
pub async fn admit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match caller_of(&request).and_then(|caller| check(&state, &caller)) {
        Ok(()) => next.run(request).await,
        Err(refusal) => respond(state.http_status, Err(refusal)),
    }
}
