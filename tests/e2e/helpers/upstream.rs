//! The local image server the fetch tests point qrscan at, bound on 127.0.0.1 (or another
//! loopback address): files by name, and each misbehaviour an upstream can have (slow, trickling,
//! endless, stalled, redirecting, lying about its type). It records the headers of every request
//! it receives, for the tests of what qrscan sends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

/// A local image server with the misbehaviours the tests need.
#[derive(Clone)]
pub struct ImageServer {
    pub address: SocketAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    release: Arc<tokio::sync::watch::Sender<bool>>,
    received: Received,
}

/// The path and headers of every request received, in order.
type Received = Arc<Mutex<Vec<(String, HeaderMap)>>>;

impl ImageServer {
    pub async fn start(bind: &str) -> ImageServer {
        let listener = TcpListener::bind(bind).await.expect("image server binds");
        let address = listener.local_addr().expect("address");
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let release = Arc::new(tokio::sync::watch::Sender::new(false));
        let stalled = release.subscribe();
        let received = Received::default();
        let app = Router::new()
            .route("/img/{name}", get(serve_file))
            .route("/slow/{ms}/{name}", get(serve_slowly))
            .route("/trickle", get(trickle))
            .route("/endless", get(endless))
            .route(
                "/stall/{sent}/{declared}",
                get(move |Path((sent, declared)): Path<(usize, u64)>| {
                    stall(stalled.clone(), sent, declared)
                }),
            )
            .route("/redirect", get(redirect))
            .route(
                "/loop",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
            )
            .route(
                "/html",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "image/png")],
                        "<html><body>not an image</body></html>",
                    )
                }),
            )
            .route(
                "/status/{code}",
                get(|Path(code): Path<u16>| async move {
                    StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT)
                }),
            )
            .with_state(files.clone())
            .layer(axum::middleware::from_fn_with_state(
                received.clone(),
                record,
            ));
        tokio::spawn(async move { axum::serve(listener, app).await });
        ImageServer {
            address,
            files,
            release,
            received,
        }
    }

    /// The headers of every request received for `path` (no query), oldest first.
    pub fn headers_of(&self, path: &str) -> Vec<HeaderMap> {
        let received = self.received.lock().expect("lock");
        received
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, headers)| headers.clone())
            .collect()
    }

    /// Ends every `/stall/...` response, now and later, by breaking off its body.
    pub fn release_stalled(&self) {
        self.release.send_replace(true);
    }

    /// Stores `bytes` and returns the URL that serves them.
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> String {
        self.files
            .lock()
            .expect("lock")
            .insert(name.to_owned(), bytes);
        self.url(&format!("/img/{name}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

async fn record(State(received): State<Received>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    received.lock().expect("lock").push((path, headers));
    next.run(request).await
}

type Files = State<Arc<Mutex<HashMap<String, Vec<u8>>>>>;

async fn serve_file(State(files): Files, Path(name): Path<String>) -> Response {
    match files.lock().expect("lock").get(&name) {
        Some(bytes) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve_slowly(files: Files, Path((ms, name)): Path<(u64, String)>) -> Response {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    serve_file(files, Path(name)).await
}

/// Headers at once, then one byte every 100 ms for a minute.
async fn trickle() -> Response {
    let stream = futures_stream(600, Duration::from_millis(100), 1);
    Response::new(Body::from_stream(stream))
}

/// A chunked body without end (until the client goes away), 64 KiB at a time.
async fn endless() -> Response {
    let stream = futures_stream(usize::MAX, Duration::ZERO, 64 * 1024);
    Response::new(Body::from_stream(stream))
}

/// Declares `declared` bytes, sends `sent` of them at once, then waits for `release_stalled` and
/// breaks off: an upstream that holds a request open with part of its image.
async fn stall(
    mut release: tokio::sync::watch::Receiver<bool>,
    sent: usize,
    declared: u64,
) -> Response {
    let first = futures_util::stream::once(async move { Ok(Bytes::from(vec![0u8; sent])) });
    let rest = futures_util::stream::once(async move {
        let _ = release.wait_for(|released| *released).await;
        Err(std::io::Error::other("released"))
    });
    let mut response = Response::new(Body::from_stream(futures_util::StreamExt::chain(
        first, rest,
    )));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, declared.into());
    response
}

fn futures_stream(
    chunks: usize,
    pause: Duration,
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold(0usize, move |sent| async move {
        if sent >= chunks {
            return None;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Some((Ok(Bytes::from(vec![0u8; size])), sent + 1))
    })
}

async fn redirect(RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let to = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "to")
        .map_or_else(|| "/".to_owned(), |(_, value)| value.into_owned());
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}
