//! The service: `AppState` construction, `router` (the only list of routes and layers) and
//! `serve`, which runs on a listener and a shutdown signal the caller owns, and sequences the
//! drain; the accept loop and its connection limits are `listener`'s. The top of the library: it
//! wires `http`, `observe`, `openapi`, `listener` and `scan` together; nothing but `commands`
//! (and the tests) refers to it.

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::budget::ByteBudget;
use crate::client::TrustedProxies;
use crate::config::{ConnectionLimits, Drain, ServeConfig};
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
    scanner.fetcher.warm()?;
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
    let api_keys = ApiKeys::new(&config.api_keys, config.api_keys_file.as_deref())?;
    if !api_keys.is_enabled() {
        tracing::warn!(
            "no API key configured: every caller may use the API (set QRSCAN_API_KEYS or QRSCAN_API_KEYS_FILE)"
        );
    } else if api_keys.count() == 0 {
        tracing::warn!(
            "the API keys file holds no key: every API request is refused until it does"
        );
    }
    let rate_limit = config.rate_limit()?;
    if let Some(limit) = rate_limit {
        tracing::info!(
            period_ms = limit.period.as_secs_f64() * 1000.0,
            burst = limit.burst.get(),
            max_buckets = http::MAX_BUCKETS,
            "rate limit per API key, or per client address without a valid key"
        );
    }
    Ok(Arc::new(AppState {
        scanner,
        metrics,
        api_keys,
        http_status: config.http_status,
        readiness: http::Readiness::default(),
        limiter: http::RateLimiter::new(rate_limit),
        proxies: Arc::new(TrustedProxies::new(config.trusted_proxies.clone())),
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
    // cli.im's DeepScan calls, over the same use case with their own answers to a refusal.
    let deepscan = Router::new()
        .route(
            "/x-deepscan/vision/detect",
            post(http::deepscan::detect_json),
        )
        .route(
            "/x-deepscan/vision/detect/upload",
            post(http::deepscan::detect_upload),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::deepscan::require_api_key,
        ));
    Router::new()
        .merge(api)
        .merge(deepscan)
        .route("/", get(http::page))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        // The legacy decoder's path matches in any case, which routes cannot: the fallback
        // serves it (`http::deqr`), under the body limit of the upload routes.
        .fallback(http::fallback)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            (state.metrics.clone(), state.proxies.clone()),
            crate::observe::observe,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, then drains (`Drain`): `/readyz` turns 503 at once, new
/// requests are still served for `drain.delay`, then the listener closes and the requests in
/// flight get `drain.timeout` to finish. Past it, returns anyway; the connections left are cut.
/// Every connection is held to `connections` (`listener`).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Drain,
    connections: ConnectionLimits,
) -> std::io::Result<()> {
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let after_close = state.clone();
    let mut server = tokio::spawn(crate::listener::serve_connections(
        listener,
        router(state.clone()),
        connections,
        state.metrics.clone(),
        async move {
            let _ = closed.await;
        },
        move || {
            tracing::info!(
                in_flight = after_close.metrics.requests_in_flight(),
                "no longer accepting connections; finishing requests in flight"
            );
        },
    ));
    tokio::select! {
        ended = &mut server => return ended.map_err(std::io::Error::other),
        () = shutdown => {}
    }
    state.readiness.start_draining();
    tracing::info!(
        drain_delay_ms = drain.delay.as_millis(),
        shutdown_timeout_ms = drain.timeout.as_millis(),
        "draining: /readyz answers 503, requests are still served"
    );
    tokio::time::sleep(drain.delay).await;
    let _ = close.send(());
    match tokio::time::timeout(drain.timeout, &mut server).await {
        Ok(ended) => ended.map_err(std::io::Error::other),
        Err(_) => {
            tracing::warn!(
                in_flight = state.metrics.requests_in_flight(),
                "shutdown timeout reached; requests still in flight are cut"
            );
            server.abort();
            Ok(())
        }
    }
}

/// Re-reads the API keys file on every SIGHUP, for as long as the server runs. A file that
/// cannot be read keeps the keys in force, and says so in the log.
pub async fn reload_keys_on_hangup(state: Arc<AppState>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: API keys are read only at start");
            return;
        };
        while hangups.recv().await.is_some() {
            match state.api_keys.reload() {
                Ok(keys) => tracing::info!(keys, "SIGHUP: API keys reloaded"),
                Err(err) => tracing::error!(%err, "SIGHUP: API keys kept as they were"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = state;
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
    tracing::info!("shutdown signal received");
}
