//! What one connection is doing, as far as its timeouts are concerned (`Phase`): waiting for a
//! request head since an instant, answering, or idle since an instant; and `expired`, which
//! completes when it has stayed in a phase past its limit. The socket wrapper (`Watched`)
//! reports every read, and holds back from hyper what follows a head until hyper has handed that
//! head over, so the framing (`framer.rs`) always knows whether a byte of the next head has
//! arrived, however hyper buffered it. Knows nothing of routes or of accepting.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::framer::Framer;
use crate::config::ConnectionLimits;

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
pub(super) struct Activity {
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
    pub(super) fn new() -> Self {
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
    pub(super) fn request_started(self: &Arc<Self>, length: Option<u64>) -> Answering {
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
    pub(super) async fn expired(&self, limits: ConnectionLimits) -> &'static str {
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
pub(super) struct Answering(Arc<Activity>);

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
pub(super) struct Watched {
    pub(super) stream: TcpStream,
    pub(super) activity: Arc<Activity>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
