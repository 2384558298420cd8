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

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body as _, Incoming};
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
                    Pin::new(&mut connection).graceful_shutdown();
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
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    phase: Phase,
    /// Where the bytes read stand in the requests.
    framer: Framer,
    /// Requests hyper has handed over so far.
    requests: u64,
    /// Bytes read from the socket and not yet handed to hyper: what followed a head whose body
    /// is not known yet (`Framer` must not pass it). The first `ready` have been framed and may go.
    held: Vec<u8>,
    ready: usize,
    /// hyper's read, waiting for `held` to be framed.
    reader: Option<Waker>,
}

/// What `Activity::take_held` gave a read.
enum Held {
    /// Bytes were copied into the read's buffer.
    Handed,
    /// Nothing may be handed until the head read last is handed over (`request_started`).
    Wait,
    /// Nothing held: read the socket.
    Nothing,
}

impl Activity {
    fn new() -> Self {
        Activity {
            state: Mutex::new(State {
                phase: Phase::Head(Instant::now()),
                framer: Framer::default(),
                requests: 0,
                held: Vec::new(),
                ready: 0,
                reader: None,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while the lock is held, so a poisoned lock still holds a valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, next: impl FnOnce(&State) -> Phase) {
        let mut state = self.state();
        state.phase = next(&state);
        drop(state);
        // One waiter (`expired`); a permit is kept if it is not waiting yet.
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        self.state().phase
    }

    /// `fresh` bytes were read from the socket: an idle connection starts on its next request
    /// head. Returns how many of them may go to hyper now; the rest are held (`take_held`).
    fn arrived(&self, fresh: &[u8]) -> usize {
        let mut state = self.state();
        let passed = state.framer.read(fresh);
        state.held.extend_from_slice(&fresh[passed..]);
        let idle = matches!(state.phase, Phase::Idle(_));
        drop(state);
        if idle {
            self.update(|state| match state.phase {
                Phase::Idle(_) => Phase::Head(Instant::now()),
                other => other,
            });
        }
        passed
    }

    /// Hands held bytes that are framed to a read of hyper's into `buf`.
    fn take_held(&self, buf: &mut ReadBuf<'_>, reader: &Waker) -> Held {
        let mut state = self.state();
        if buf.remaining() == 0 {
            return Held::Nothing;
        }
        if state.ready > 0 {
            let n = state.ready.min(buf.remaining());
            buf.put_slice(&state.held[..n]);
            state.held.drain(..n);
            state.ready -= n;
            Held::Handed
        } else if !state.held.is_empty() || state.framer.needs_framing() {
            state.reader = Some(reader.clone());
            Held::Wait
        } else {
            Held::Nothing
        }
    }

    /// hyper handed a request over, its body `length` bytes long (`None`: chunked); the
    /// connection is answering until the guard drops.
    fn request_started(self: &Arc<Self>, length: Option<u64>) -> Answering {
        let mut state = self.state();
        state.requests += 1;
        state.framer.framed(length);
        let State {
            framer,
            held,
            ready,
            reader,
            ..
        } = &mut *state;
        *ready += framer.read(&held[*ready..]);
        let reader = reader.take();
        drop(state);
        if let Some(reader) = reader {
            reader.wake();
        }
        self.update(|state| match state.phase {
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

/// The message boundaries in the bytes of one connection (RFC 9112), as far as the timeouts need
/// them: whether a byte of a request head has arrived that hyper has not handed over as a
/// request yet. A head ends at the first empty line after a line with something on it (empty
/// lines before a request line are skipped, as hyper does); its body's length is hyper's to
/// decide (`framed`); a chunked body ends at the empty line after its last chunk and trailers.
/// On malformed input it may lose step, which only matters until hyper refuses the request and
/// closes the connection.
#[derive(Debug, Default)]
struct Framer {
    at: Frame,
    /// Heads begun: a byte other than CR or LF of each has been read.
    heads: u64,
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    /// In or before a head: whether it has begun, and whether its current line has.
    Head { begun: bool, line: bool },
    /// A head ended; the length of its body is not known until hyper hands the request over.
    Framing,
    /// In a body, with this many bytes left.
    Body(u64),
    /// In the size line of a chunk: the size so far, and whether hex digits still count.
    ChunkSize { size: u64, digits: bool },
    /// In a chunk's data, with this many bytes left.
    ChunkData(u64),
    /// The line end after a chunk's data.
    ChunkEnd,
    /// In the trailer section after the last chunk: whether the current line has begun.
    Trailers { line: bool },
}

impl Default for Frame {
    fn default() -> Self {
        Frame::Head {
            begun: false,
            line: false,
        }
    }
}

impl Framer {
    /// Reads `bytes` up to the end of the first head whose body's length is not known; returns
    /// how many it read.
    fn read(&mut self, bytes: &[u8]) -> usize {
        let mut read = 0;
        while read < bytes.len() {
            let left = (bytes.len() - read) as u64;
            match &mut self.at {
                Frame::Framing => break,
                Frame::Body(rest) | Frame::ChunkData(rest) => {
                    let n = (*rest).min(left);
                    *rest -= n;
                    // `n` is at most `left`, a `usize`.
                    read += n as usize;
                    if *rest == 0 {
                        self.at = match self.at {
                            Frame::Body(_) => Frame::default(),
                            _ => Frame::ChunkEnd,
                        };
                    }
                }
                _ => {
                    self.byte(bytes[read]);
                    read += 1;
                }
            }
        }
        read
    }

    fn byte(&mut self, byte: u8) {
        self.at = match (self.at, byte) {
            (Frame::Head { begun, line: true }, b'\n') => Frame::Head { begun, line: false },
            (Frame::Head { begun: true, .. }, b'\n') => Frame::Framing,
            (head @ Frame::Head { .. }, b'\r' | b'\n') => head,
            (Frame::Head { begun, .. }, _) => {
                if !begun {
                    self.heads += 1;
                }
                Frame::Head {
                    begun: true,
                    line: true,
                }
            }
            (Frame::ChunkSize { size: 0, .. }, b'\n') => Frame::Trailers { line: false },
            (Frame::ChunkSize { size, .. }, b'\n') => Frame::ChunkData(size),
            (Frame::ChunkSize { size, digits: true }, digit) if digit.is_ascii_hexdigit() => {
                let value = (digit as char).to_digit(16).unwrap_or(0);
                Frame::ChunkSize {
                    size: size.saturating_mul(16).saturating_add(u64::from(value)),
                    digits: true,
                }
            }
            (Frame::ChunkSize { size, .. }, _) => Frame::ChunkSize {
                size,
                digits: false,
            },
            (Frame::ChunkEnd, b'\n') => Frame::ChunkSize {
                size: 0,
                digits: true,
            },
            (Frame::Trailers { line: true }, b'\n') => Frame::Trailers { line: false },
            (Frame::Trailers { .. }, b'\n') => Frame::default(),
            (trailers @ Frame::Trailers { .. }, b'\r') => trailers,
            (Frame::Trailers { .. }, _) => Frame::Trailers { line: true },
            (other, _) => other,
        };
    }

    /// The head read last has a body of `length` bytes (`None`: chunked).
    fn framed(&mut self, length: Option<u64>) {
        if let Frame::Framing = self.at {
            self.at = match length {
                Some(0) => Frame::default(),
                Some(length) => Frame::Body(length),
                None => Frame::ChunkSize {
                    size: 0,
                    digits: true,
                },
            };
        }
    }

    fn needs_framing(&self) -> bool {
        matches!(self.at, Frame::Framing)
    }
}

/// A request being answered; dropping it (the response is ready, or the request was dropped)
/// makes the connection idle when it was the last.
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.update(|state| match state.phase {
            Phase::Answering(n) if n > 1 => Phase::Answering(n - 1),
            // A byte of the next head already read (pipelined, maybe in the same write as this
            // request): that head has the header timeout from now, as if read now.
            _ if state.framer.heads > state.requests => Phase::Head(Instant::now()),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// The client socket, telling `Activity` when bytes arrive, and holding back from hyper what
/// follows a head until hyper has handed that head over (`Activity::arrived`).
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
        match self.activity.take_held(buf, cx.waker()) {
            Held::Handed => return Poll::Ready(Ok(())),
            // Woken by `request_started`.
            Held::Wait => return Poll::Pending,
            Held::Nothing => {}
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let filled = buf.filled().len();
        if filled > before {
            let passed = self.activity.arrived(&buf.filled()[before..]);
            buf.set_filled(before + passed);
            if passed == 0 {
                // Not reached: a socket is read only when nothing waits for framing, and then
                // the first byte passes. Were it reached, an empty read would tell hyper EOF.
                return match self.activity.take_held(buf, cx.waker()) {
                    Held::Handed => Poll::Ready(Ok(())),
                    Held::Wait | Held::Nothing => Poll::Pending,
                };
            }
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
        let answering = activity.request_started(Some(0));
        let waited = tokio::time::timeout(4 * IDLE, activity.expired(limits()));
        assert!(waited.await.is_err(), "no timeout while answering");
        drop(answering);

        // Idle, then the first byte of the next request: the header timeout, from that byte.
        let idle = Instant::now();
        tokio::time::sleep(IDLE / 2).await;
        activity.arrived(b"G");
        let reason = activity.expired(limits()).await;
        assert_eq!(reason, "no request head within --header-read-timeout");
        assert!(idle.elapsed() >= IDLE / 2 + HEAD);

        drop(activity.request_started(Some(0)));
        let idle = Instant::now();
        assert_eq!(activity.expired(limits()).await, "idle for --idle-timeout");
        assert!(idle.elapsed() >= IDLE);
    }

    /// Hands `activity`'s held bytes to a read, as `Watched` does.
    fn handed(activity: &Activity) -> Vec<u8> {
        let mut space = [0u8; 256];
        let mut buf = ReadBuf::new(&mut space);
        let waker = Waker::noop();
        match activity.take_held(&mut buf, waker) {
            Held::Handed => buf.filled().to_vec(),
            Held::Wait | Held::Nothing => Vec::new(),
        }
    }

    #[test]
    fn a_pipelined_head_read_with_the_request_before_it_gets_the_header_timeout_after_the_answer() {
        let activity = Arc::new(Activity::new());
        let first = b"GET /a HTTP/1.1\r\nHost: q\r\n\r\n";
        let next = b"GET /b HTTP/1.1\r\nHo";

        // One read: the first head goes to hyper, the next waits for it to be handed over.
        let passed = activity.arrived(&[&first[..], next].concat());
        assert_eq!(passed, first.len());
        assert!(handed(&activity).is_empty());
        let answering = activity.request_started(Some(0));
        assert_eq!(handed(&activity), next);
        drop(answering);

        assert!(matches!(activity.phase(), Phase::Head(_)), "not idle");
    }

    #[test]
    fn a_request_read_alone_leaves_the_connection_idle_after_its_answer() {
        let activity = Arc::new(Activity::new());
        let request = b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let passed = activity.arrived(request);
        let answering = activity.request_started(Some(2));
        assert_eq!([&request[..passed], &handed(&activity)].concat(), request);
        drop(answering);

        assert!(matches!(activity.phase(), Phase::Idle(_)));
    }

    #[test]
    fn the_framer_finds_where_each_head_and_body_ends() {
        let mut framer = Framer::default();
        // Empty lines before a request line are skipped; a head ends at its empty line.
        let post = b"\r\n\r\nPOST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        let get = b"GET /b HTTP/1.1\nHost: q\n\n";
        let bytes = [&post[..], b"hello", get, b"GET /c HT"].concat();

        let first = framer.read(&bytes);
        assert_eq!((first, framer.heads), (post.len(), 1));
        assert!(framer.needs_framing());
        framer.framed(Some(5));
        let second = framer.read(&bytes[first..]);
        assert_eq!((second, framer.heads), (5 + get.len(), 2));
        framer.framed(Some(0));
        let third = framer.read(&bytes[first + second..]);

        assert_eq!((third, framer.heads), (9, 3));
        assert!(!framer.needs_framing());
    }

    #[test]
    fn a_chunked_body_ends_at_the_empty_line_after_its_last_chunk() {
        let mut framer = Framer::default();
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(framer.read(head), head.len());
        framer.framed(None);
        // Data holding line ends and a last-chunk look-alike, an extension, then trailers.
        let with_trailers = b"a;name=value\r\n0\r\n\r\n\r\n\n00\r\n0\r\nExpires: never\r\n\r\n";
        for byte in with_trailers {
            assert_eq!(framer.read(&[*byte]), 1);
        }
        assert_eq!(framer.heads, 1, "a body begins no head");

        assert_eq!(framer.read(head), head.len());
        framer.framed(None);
        let plain = b"3\r\nabc\r\n0\r\n\r\nG";
        assert_eq!(framer.read(plain), plain.len());
        assert_eq!(framer.heads, 3);
    }
}
