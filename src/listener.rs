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
//! Every request carries the peer address as `ConnectInfo<SocketAddr>`, as
//! `into_make_service_with_connect_info` gave it (the access log and the rate limiter read it).
//! When `stop` completes the listener is closed at once, connections answering a request finish
//! it and close, idle ones close now. Knows nothing of the routes: `server` hands it the router.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

use crate::config::ConnectionLimits;
use crate::metrics::Metrics;

/// Serves `app` on every connection `listener` accepts, within `limits`, until `stop`
/// completes; then closes the listener, calls `on_closed`, and returns once every connection
/// has closed. Dropping the future cuts the connections still open.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
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
        let open = metrics.connection_opened();
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
            let answering = requests.request_started();
            // A Router is always ready (its `poll_ready` returns `Ready` at once), so `call`
            // needs no `poll_ready` before it.
            let answer = app.clone().call(request);
            async move {
                let response = answer.await;
                drop(answering);
                response
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Off: the timeouts are kept by `activity` instead (see the module documentation).
        builder.header_read_timeout(None);
        let mut connection = pin!(builder.serve_connection(io, service));
        let mut expired = pin!(activity.expired(limits));
        let mut shutting_down = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                reason = &mut expired => {
                    tracing::debug!(%peer, reason, "connection closed");
                    return;
                }
                _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// What a connection is doing, as far as its timeouts are concerned.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for a request head since this instant: the connection opened then, or the
    /// first byte after an idle spell arrived then.
    Head(Instant),
    /// Answering this many requests (one at a time in HTTP/1.1).
    Answering(usize),
    /// Every request answered (the last response handed to hyper) then, nothing read since.
    Idle(Instant),
}

/// The phase of one connection, updated by its socket (`Watched`) and its requests, and
/// watched by `expired`.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, next: impl FnOnce(Phase) -> Phase) {
        // Nothing panics while the lock is held, so a poisoned lock still holds a valid phase.
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = next(*phase);
        drop(phase);
        // One waiter (`expired`); a permit is kept if it is not waiting yet.
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: an idle connection starts on its next request head.
    fn read_some(&self) {
        if matches!(self.phase(), Phase::Idle(_)) {
            self.update(|phase| match phase {
                Phase::Idle(_) => Phase::Head(Instant::now()),
                other => other,
            });
        }
    }

    /// A request head arrived; the connection is answering until the guard drops.
    fn request_started(self: &Arc<Self>) -> Answering {
        self.update(|phase| match phase {
            Phase::Answering(n) => Phase::Answering(n + 1),
            Phase::Head(_) | Phase::Idle(_) => Phase::Answering(1),
        });
        Answering(self.clone())
    }

    /// Completes when the connection has been in one phase past its limit, saying which.
    async fn expired(&self, limits: ConnectionLimits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let (deadline, reason) = match self.phase() {
                Phase::Head(since) => (
                    since + limits.header_read_timeout,
                    "no request head within --header-read-timeout",
                ),
                Phase::Idle(since) => (since + limits.idle_timeout, "idle for --idle-timeout"),
                Phase::Answering(_) => {
                    // Request bodies and handlers have their own limits (--fetch-timeout).
                    changed.await;
                    continue;
                }
            };
            if deadline <= Instant::now() {
                return reason;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = changed => {}
            }
        }
    }
}

/// A request being answered; dropping it (the response is ready, or the request was dropped)
/// makes the connection idle when it was the last.
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Answering(n) if n > 1 => Phase::Answering(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// The client socket, telling `Activity` when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
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

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_millis(100);
    const IDLE: Duration = Duration::from_millis(300);

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: HEAD,
            idle_timeout: IDLE,
            max_connections: 1,
        }
    }

    // Real time, short limits: only lower bounds are asserted (a sleep never ends early).
    #[tokio::test]
    async fn a_connection_gets_the_header_timeout_then_the_idle_timeout_between_requests() {
        let activity = Arc::new(Activity::new());
        let opened = Instant::now();
        let reason = activity.expired(limits()).await;
        assert_eq!(reason, "no request head within --header-read-timeout");
        assert!(opened.elapsed() >= HEAD);

        // Answering: no deadline, for many times both limits.
        let answering = activity.request_started();
        let waited = tokio::time::timeout(4 * IDLE, activity.expired(limits()));
        assert!(waited.await.is_err(), "no timeout while answering");
        drop(answering);

        // Idle, then the first byte of the next request: the header timeout, from that byte.
        let idle = Instant::now();
        tokio::time::sleep(IDLE / 2).await;
        activity.read_some();
        let reason = activity.expired(limits()).await;
        assert_eq!(reason, "no request head within --header-read-timeout");
        assert!(idle.elapsed() >= IDLE / 2 + HEAD);

        drop(activity.request_started());
        let idle = Instant::now();
        assert_eq!(activity.expired(limits()).await, "idle for --idle-timeout");
        assert!(idle.elapsed() >= IDLE);
    }
}
