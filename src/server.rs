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
use crate::config::{ConnectionLimits, Drain, Service};
use crate::fetch::policy::{Lookup, SystemLookup};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::scan::{DecodePool, ResultCache, Scanner};

/// Builds the shared state from a validated configuration.
pub fn build_state(config: Service) -> Arc<AppState> {
    build_state_with_lookup(config, Arc::new(SystemLookup))
}

/// Like `build_state`, resolving image hosts through `lookup`: tests answer any address for any
/// name without sending a DNS query.
pub fn build_state_with_lookup(config: Service, lookup: Arc<dyn Lookup>) -> Arc<AppState> {
    let metrics = Arc::new(Metrics::default());
    if config.max_buffered_bytes < config.engine.fetch.max_bytes {
        tracing::warn!(
            max_buffered_bytes = config.max_buffered_bytes,
            max_image_bytes = config.engine.fetch.max_bytes,
            "images larger than --max-buffered-bytes are always refused with 503"
        );
    }
    let scanner = Scanner::new(
        config.engine,
        lookup,
        DecodePool::new(config.pool.workers, config.pool.queue),
        ResultCache::new(config.cache_entries),
        ByteBudget::new(config.max_buffered_bytes),
        metrics.clone(),
    );
    let fetch_options = scanner.fetcher.options();
    tracing::info!(
        policy = %fetch_options.addresses.summary(),
        allow_hosts = fetch_options.hosts.allow.len(),
        deny_hosts = fetch_options.hosts.deny.len(),
        file_root = ?fetch_options.file_root,
        proxy = fetch_options.proxy.is_some(),
        "fetch policy"
    );
    let api_keys = config.api_keys;
    if !api_keys.is_enabled() {
        tracing::warn!(
            "no API key configured: every caller may use the API (set QRSCAN_API_KEYS or QRSCAN_API_KEYS_FILE)"
        );
    } else if api_keys.count() == 0 {
        tracing::warn!(
            "the API keys file holds no key: every API request is refused until it does"
        );
    }
    if let Some(limit) = config.rate_limit {
        tracing::info!(
            period_ms = limit.period.as_secs_f64() * 1000.0,
            burst = limit.burst.get(),
            max_buckets = http::MAX_BUCKETS,
            "rate limit per API key, or per client address without a valid key"
        );
    }
    Arc::new(AppState {
        scanner,
        metrics,
        api_keys,
        http_status: config.http_status,
        readiness: http::Readiness::default(),
        limiter: http::RateLimiter::new(config.rate_limit),
        proxies: Arc::new(TrustedProxies::new(
            config.trusted_proxies,
            config.forwarded_header,
        )),
    })
}

/// Connections the admin listener (`--admin-listen`) keeps open at once: a prober or a scraper
/// holds one at a time, so this leaves room for several of each without letting that port hold
/// many file descriptors.
pub const ADMIN_CONNECTIONS: usize = 16;

/// The probes and the metrics, on both listeners.
fn probes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
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
        // The last layer runs first: authentication says who the caller is, then admission
        // (rate limit, then key) decides whether it reaches the handler.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::admit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::authenticate,
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
            http::deepscan::admit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::authenticate,
        ));
    Router::new()
        .merge(api)
        .merge(probes())
        .merge(deepscan)
        .route("/", get(http::page))
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

/// The routes of the admin listener (`--admin-listen`): the probes and the metrics only.
pub fn admin_router(state: Arc<AppState>) -> Router {
    probes()
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            (state.metrics.clone(), state.proxies.clone()),
            crate::observe::observe,
        ))
        .with_state(state)
}

/// Serves `admin_router` on `listener` until the future is dropped, within `connections`'
/// timeouts but with its own cap (`ADMIN_CONNECTIONS`), so clients holding every
/// `--max-connections` slot cannot make a liveness probe wait. It answers through the drain
/// too (`/readyz` 503, `/healthz` 200), after the main listener has closed.
pub async fn serve_admin(
    listener: TcpListener,
    state: Arc<AppState>,
    connections: ConnectionLimits,
) {
    let limits = ConnectionLimits {
        max_connections: ADMIN_CONNECTIONS,
        ..connections
    };
    crate::listener::serve_connections(
        listener,
        admin_router(state),
        limits,
        None,
        std::future::pending(),
        || {},
    )
    .await;
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
        Some(state.metrics.clone()),
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

/// Blocks SIGHUP, SIGTERM and SIGINT on the calling thread and every thread it starts from
/// now on. `main` calls it first: until `catch_signals` installs their handlers, each of these
/// signals would end the process by its default action (Kubernetes may send SIGHUP at any time,
/// and a start-up takes milliseconds); blocked, one sent meanwhile waits. `release_signals`
/// undoes it for commands that do not catch them.
pub fn hold_signals() {
    set_signal_mask(true);
}

/// Lets SIGHUP, SIGTERM and SIGINT in again on the calling thread; one sent while they were
/// held is delivered now.
pub fn release_signals() {
    set_signal_mask(false);
}

#[cfg(target_os = "linux")]
fn set_signal_mask(block: bool) {
    // SAFETY: the set is initialised by sigemptyset before use, and pthread_sigmask only
    // changes the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, signal);
        }
        let how = if block {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

#[cfg(not(target_os = "linux"))]
fn set_signal_mask(_block: bool) {}

/// SIGHUP, caught (`catch_signals`): re-read the API keys.
pub struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

/// SIGTERM and SIGINT, caught (`catch_signals`): drain and stop.
pub struct Shutdown {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

/// Installs the handlers of SIGHUP, SIGTERM and SIGINT, then releases them (`hold_signals`):
/// from here on none ends the process, and one sent while they were held is not lost. The first
/// thing `serve` does, before reading its configuration files or binding.
pub fn catch_signals() -> std::io::Result<(Hangups, Shutdown)> {
    #[cfg(unix)]
    let caught = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            Hangups {
                signal: signal(SignalKind::hangup())?,
            },
            Shutdown {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            },
        )
    };
    #[cfg(not(unix))]
    let caught = (Hangups {}, Shutdown {});
    release_signals();
    Ok(caught)
}

impl Shutdown {
    /// Completes on SIGINT or SIGTERM.
    pub async fn received(self) {
        #[cfg(unix)]
        {
            let Shutdown {
                mut terminate,
                mut interrupt,
            } = self;
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self;
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received");
    }
}

/// Re-reads the API keys file on every SIGHUP, for as long as the server runs. A file that
/// cannot be read keeps the keys in force, and says so in the log.
pub async fn reload_keys_on_hangup(state: Arc<AppState>, hangups: Hangups) {
    #[cfg(unix)]
    {
        let mut hangups = hangups;
        while hangups.signal.recv().await.is_some() {
            match state.api_keys.reload() {
                Ok(keys) => tracing::info!(keys, "SIGHUP: API keys reloaded"),
                Err(err) => tracing::error!(%err, "SIGHUP: API keys kept as they were"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (state, hangups);
}
