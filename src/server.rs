//! The service: `AppState` construction, `router` (the only list of routes and layers) and
//! `serve`, which runs on a listener and a shutdown signal the caller owns. The top of the
//! library: it wires `http`, `observe`, `openapi` and `scan` together; nothing but `commands`
//! (and the tests) refers to it.

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::budget::ByteBudget;
use crate::config::ServeConfig;
use crate::fetch::policy::{Lookup, SystemLookup};
use crate::http::{self, ApiKeys, AppState};
use crate::metrics::Metrics;
use crate::scan::{DecodePool, ResultCache, Scanner};

/// Builds the shared state from a validated configuration.
pub fn build_state(config: &ServeConfig) -> anyhow::Result<Arc<AppState>> {
    build_state_with_lookup(config, Arc::new(SystemLookup))
}

/// Like `build_state`, resolving image hosts through `lookup`: tests answer any address for any
/// name without sending a DNS query.
pub fn build_state_with_lookup(
    config: &ServeConfig,
    lookup: Arc<dyn Lookup>,
) -> anyhow::Result<Arc<AppState>> {
    let workers = config.workers.unwrap_or_else(crate::config::cpu_count);
    let metrics = Arc::new(Metrics::default());
    let scanner = Scanner::new(
        &config.engine,
        lookup,
        DecodePool::new(workers, config.queue),
        ResultCache::new(config.cache_entries),
        ByteBudget::new(config.max_buffered_bytes),
        metrics.clone(),
    )?;
    let fetch_options = scanner.fetcher.options();
    tracing::info!(
        policy = %fetch_options.addresses.summary(),
        allow_hosts = fetch_options.hosts.allow.len(),
        deny_hosts = fetch_options.hosts.deny.len(),
        file_root = ?fetch_options.file_root,
        proxy = fetch_options.proxy.is_some(),
        "fetch policy"
    );
    if config.max_buffered_bytes < config.engine.max_image_bytes {
        tracing::warn!(
            max_buffered_bytes = config.max_buffered_bytes,
            max_image_bytes = config.engine.max_image_bytes,
            "images larger than --max-buffered-bytes are always refused with 503"
        );
    }
    let api_keys = ApiKeys::new(&config.api_keys);
    if !api_keys.is_enabled() {
        tracing::warn!("no API key configured: every caller may use the API (set QRSCAN_API_KEYS)");
    }
    Ok(Arc::new(AppState {
        scanner,
        metrics,
        api_keys,
        http_status: config.http_status,
    }))
}

/// Every route and layer of the service.
pub fn router(state: Arc<AppState>) -> Router {
    // Multipart bodies are cut here; the other bodies are read (and cut) by the handlers.
    let max_body = http::framed_limit(state.scanner.fetcher.options().max_bytes);
    let max_body = usize::try_from(max_body).unwrap_or(usize::MAX);
    let api = Router::new()
        .route("/api/v1/qrcode/scan_url", post(http::scan_url))
        .route("/api/v1/qrcode/scan", post(http::scan_upload))
        .layer(DefaultBodyLimit::max(max_body))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::require_api_key,
        ));
    Router::new()
        .merge(api)
        .route("/", get(http::page))
        .route("/healthz", get(http::healthz))
        .route("/metrics", get(http::metrics))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::observe::observe,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
