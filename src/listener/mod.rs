//! The accept loop: each connection the listener accepts is served by hyper's HTTP/1.1
//! connection, within the limits `axum::serve` does not offer (`ConnectionLimits`). At most
//! `max_connections` are open at once: a slot is taken before `accept`, so past the cap a new
//! connection waits, unaccepted, in the kernel's listen backlog until one closes. A request head
//! must arrive within `header_read_timeout` of the connection opening, or of the first byte of
//! the next request on a kept-alive connection; a connection with no request being answered that
//! reads nothing for `idle_timeout` is closed. That is Go's `ReadHeaderTimeout` / `IdleTimeout`
//! split. hyper's own `header_read_timeout` is not used: its timer also runs while a kept-alive
//! connection waits for its next request, so it would close every idle connection at the header
//! timeout, and a load balancer reusing one would get an error.
//!
//! A pipelining client sends its next request before the answer to the last one; those bytes may
//! have been read (into hyper's buffer) when the answer is done, so "nothing read since" cannot
//! tell an idle connection from one in the middle of a head. `Framer` follows the message
//! boundaries in the bytes read (a head ends at its empty line, its body is as long as hyper says
//! when it hands the request over), so the connection waits on the header timeout whenever a
//! byte of the next head has arrived, however it was buffered.
//!
//! Every request carries the peer address as `ConnectInfo<SocketAddr>`, as
//! `into_make_service_with_connect_info` gave it (the access log and the rate limiter read it).
//! When `stop` completes the listener is closed at once, connections answering a request finish
//! it and close, idle ones close now. Knows nothing of the routes: `server` hands it the router.
//!
//! Each connection's timeouts are `activity.rs`'s (its phase, and the socket wrapper that
//! reports reads); where each request head and body ends in the bytes read is `framer.rs`'s.

mod activity;
mod framer;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

use self::activity::{Activity, Watched};
use crate::config::ConnectionLimits;
use crate::metrics::Metrics;

/// Serves `app` on every connection `listener` accepts, within `limits`, until `stop`
/// completes; then closes the listener, calls `on_closed`, and returns once every connection
/// has closed. Dropping the future cuts the connections still open. Connections are counted in
/// `metrics` (`qrscan_open_connections`) when given.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Option<Arc<Metrics>>,
    stop: impl Future<Output = ()>,
    on_closed: impl FnOnce(),
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut stop = pin!(stop);
    loop {
        let (stream, peer, slot) = tokio::select! {
            () = &mut stop => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        // Finished connections are collected here, so at most twice the cap are ever kept.
        while connections.try_join_next().is_some() {}
        let connection = Connection {
            peer,
            app: app.clone(),
            limits,
            activity: Arc::new(Activity::new()),
        };
        let open = metrics.as_ref().map(|metrics| metrics.connection_opened());
        let closing = closing_seen.clone();
        connections.spawn(async move {
            connection.serve(stream, closing).await;
            drop((slot, open));
        });
    }
    drop(listener);
    on_closed();
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

/// Takes a connection slot, then accepts a connection. An accept error that is about one
/// connection is skipped; any other (out of file descriptors) is logged and retried a second
/// later, as hyper's own server did.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    let Ok(slot) = slots.clone().acquire_owned().await else {
        // The semaphore is never closed.
        return std::future::pending().await;
    };
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, peer, slot),
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                tracing::error!(%err, "accept failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// One accepted connection and what its timeouts watch.
struct Connection {
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
}

impl Connection {
    /// Serves requests until the client closes, a timeout expires (the socket is then closed
    /// without an answer: there is no request to answer), or `closing` turns true and the
    /// request being answered, if any, is done.
    async fn serve(self, stream: TcpStream, mut closing: watch::Receiver<bool>) {
        let Connection {
            peer,
            app,
            limits,
            activity,
        } = self;
        let io = TokioIo::new(Watched {
            stream,
            activity: activity.clone(),
        });
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            // hyper's framing of the body: `Content-Length` bytes, or chunked (no exact size).
            let answering = requests.request_started(request.body().size_hint().exact());
            // A Router is always ready (its `poll_ready` returns `Ready` at once), so `call`
            // needs no `poll_ready` before it.
            let answer = app.clone().call(request);
            // Boxed: an `Unpin` future keeps the connection `Unpin`, which polling it without
            // shutting its socket down (`poll_without_shutdown`, for `linger`) needs.
            Box::pin(async move {
                let response = answer.await;
                drop(answering);
                response
            })
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Off: the timeouts are kept by `activity` instead (see the module documentation).
        builder.header_read_timeout(None);
        let mut connection = builder.serve_connection(io, service);
        let mut expired = pin!(activity.expired(limits));
        let mut shutting_down = false;
        let served = loop {
            tokio::select! {
                done = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => {
                    break done.is_ok();
                }
                reason = &mut expired => {
                    tracing::debug!(%peer, reason, "connection closed");
                    return;
                }
                _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                    shutting_down = true;
                    std::pin::Pin::new(&mut connection).graceful_shutdown();
                }
            }
        };
        if served {
            linger(connection.into_parts().io.into_inner().stream).await;
        }
    }
}

/// How long a closing connection keeps reading what its client still sends, in all and
/// between two reads: as nginx's `lingering_time` and `lingering_timeout`, shorter.
const LINGER_TIME: Duration = Duration::from_secs(5);
const LINGER_IDLE: Duration = Duration::from_secs(1);

/// Closes a connection hyper is done with gracefully: our side's end is sent, and what the
/// client still sends is read and thrown away until it closes its side, goes quiet, or
/// `LINGER_TIME` passes. An answer given before the request's body was read (1005 for a body
/// declared over `--max-image-bytes`) ends the connection; closed at once with the body's
/// bytes still arriving, the kernel answers them with a reset, and a client or proxy that
/// sends the whole body before reading (nginx does) gets a write error instead of the answer:
/// nginx made that a 502. A client that closed first costs one read.
async fn linger(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.shutdown().await.is_err() {
        return;
    }
    let until = Instant::now() + LINGER_TIME;
    let mut discard = vec![0u8; 16 * 1024];
    loop {
        let quiet = (Instant::now() + LINGER_IDLE).min(until);
        match tokio::time::timeout_at(quiet, stream.read(&mut discard)).await {
            Ok(Ok(read)) if read > 0 => continue,
            _ => return,
        }
    }
}

/// Raises the soft limit on open files to `needed`, up to the hard limit, and returns the
/// limit in force. Rust does not raise it (Go has since 1.19), and the common default soft
/// limit of 1024 is below what `--max-connections` 1024 needs.
#[cfg(target_os = "linux")]
pub fn raise_open_files_limit(needed: u64) -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur >= needed {
        return Ok(limit.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: needed.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(raised.rlim_cur)
}
