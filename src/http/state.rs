//! The application state every handler and middleware reaches (`AppState`), built once by
//! `server::build_state`, and whether the process still takes work (`Readiness`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::limit::RateLimiter;
use crate::client::TrustedProxies;
use crate::config::{ApiKeys, HttpStatusMode};
use crate::metrics::Metrics;
use crate::scan::Scanner;

/// What every handler can reach.
pub struct AppState {
    pub scanner: Scanner,
    pub metrics: Arc<Metrics>,
    pub api_keys: ApiKeys,
    pub http_status: HttpStatusMode,
    pub readiness: Readiness,
    pub limiter: RateLimiter,
    pub proxies: Arc<TrustedProxies>,
}

/// Whether this process takes new work: ready from start until a shutdown signal.
#[derive(Debug, Default)]
pub struct Readiness {
    draining: AtomicBool,
}

impl Readiness {
    /// From now on `/readyz` answers 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed)
    }
}
