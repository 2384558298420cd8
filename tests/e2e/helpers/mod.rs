//! The harness: `spawn_app()` starts the real server on 127.0.0.1:0 beside a local image server,
//! and QR images are generated here from their expected text. Nothing leaves 127.0.0.1.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Parser;
use image::{GrayImage, ImageFormat, Luma, Rgba, RgbaImage};
use qrscan::cli::{Cli, Command};
use serde_json::Value;
use tokio::net::TcpListener;

/// A running qrscan and its image server.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub images: ImageServer,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A response from qrscan: the HTTP status, the headers and the parsed body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> i64 {
        self.body["code"]
            .as_i64()
            .expect("the envelope has a numeric code")
    }

    /// Asserts a failure envelope: status, code, a message, and `data: null`.
    pub fn assert_failure(&self, status: u16, code: i64) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.code(), code, "code of {}", self.body);
        assert!(
            self.body["data"].is_null(),
            "data must be null: {}",
            self.body
        );
        let message = self.body["message"].as_str().expect("message is a string");
        assert!(!message.is_empty() && message != "ok", "{}", self.body);
    }

    /// Asserts a success envelope and returns `data`.
    pub fn assert_success(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.code(), 0, "{}", self.body);
        assert_eq!(self.body["message"], "ok");
        let data = &self.body["data"];
        assert!(data["content"].is_string(), "{data}");
        assert!(data["provider"].is_string(), "{data}");
        let codes = data["codes"].as_array().expect("data.codes is an array");
        assert!(!codes.is_empty());
        assert_eq!(codes[0]["content"], data["content"]);
        assert_eq!(codes[0]["provider"], data["provider"]);
        for code in codes {
            let points = code["points"].as_array().expect("points");
            assert_eq!(points.len(), 4, "{code}");
            assert!(points
                .iter()
                .all(|p| p.as_array().is_some_and(|xy| xy.len() == 2)));
            assert!((1..=40).contains(&code["version"].as_i64().expect("version")));
            assert!(["L", "M", "Q", "H"].contains(&code["ec_level"].as_str().expect("ec_level")));
            assert!(code["encoding"].is_string());
        }
        data
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// POST /api/v1/qrcode/scan_url with `{"url": url}`.
    pub async fn scan_url(&self, url: &str) -> Answer {
        self.post_scan_url(serde_json::json!({ "url": url }).to_string(), None)
            .await
    }

    /// POST /api/v1/qrcode/scan with `body` as `content_type` and an optional bearer key.
    pub async fn upload(&self, content_type: &str, body: Vec<u8>, key: Option<&str>) -> Answer {
        let mut request = self
            .client
            .post(self.url("/api/v1/qrcode/scan"))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().await.expect("qrscan answers")).await
    }

    /// POST /api/v1/qrcode/scan_url with a raw body and optional bearer key.
    pub async fn post_scan_url(&self, body: String, key: Option<&str>) -> Answer {
        let mut request = self
            .client
            .post(self.url("/api/v1/qrcode/scan_url"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().await.expect("qrscan answers")).await
    }

    /// The value of the first `/metrics` sample line starting with `name`, or 0 when absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let response = self.client.get(self.url("/metrics")).send().await;
        let text = response
            .expect("metrics answer")
            .text()
            .await
            .expect("text");
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Polls `/metrics` until `name` satisfies `holds`: waits on the server's state, not a clock.
    pub async fn wait_for_metric(&self, name: &str, holds: impl Fn(f64) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.metric(name).await;
            if holds(value) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} stayed at {value}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("qrscan answers"),
        )
        .await
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ends cleanly");
        }
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is JSON: {text:?}"));
    Answer {
        status,
        headers,
        body,
    }
}

/// Starts qrscan with loopback allowed (so it can reach the image server) plus `extra` flags.
pub async fn spawn_app(extra: &[&str]) -> TestApp {
    let mut args = vec!["--allow-loopback"];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// Starts qrscan with exactly these `serve` flags.
pub async fn spawn_app_with(args: &[&str]) -> TestApp {
    let images = ImageServer::start("127.0.0.1:0").await;
    spawn_app_beside(args, images).await
}

pub async fn spawn_app_beside(args: &[&str], images: ImageServer) -> TestApp {
    qrscan::fetch::install_crypto_provider();
    let mut argv = vec!["qrscan", "serve", "--listen", "127.0.0.1:0"];
    argv.extend_from_slice(args);
    let Command::Serve(config) = Cli::try_parse_from(&argv).expect("valid flags").command else {
        unreachable!("serve parses as Serve");
    };
    let state = qrscan::server::build_state(&config).expect("state builds");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(qrscan::server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        images,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// A local image server with the misbehaviours the tests need.
#[derive(Clone)]
pub struct ImageServer {
    pub address: SocketAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    release: Arc<tokio::sync::watch::Sender<bool>>,
}

impl ImageServer {
    pub async fn start(bind: &str) -> ImageServer {
        let listener = TcpListener::bind(bind).await.expect("image server binds");
        let address = listener.local_addr().expect("address");
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let release = Arc::new(tokio::sync::watch::Sender::new(false));
        let stalled = release.subscribe();
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
            .with_state(files.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        ImageServer {
            address,
            files,
            release,
        }
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

/// Module colours of a QR code for `text` at `level` (true = dark), and its width in modules.
pub fn qr_modules_at(text: &str, level: qrcode::EcLevel) -> (Vec<bool>, usize) {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), level)
        .expect("text fits a QR code");
    let width = code.width();
    let modules = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    (modules, width)
}

/// A grey image of the code for `text`: `scale` pixels per module, 4-module quiet zone.
pub fn qr_gray(text: &str, scale: u32) -> GrayImage {
    qr_gray_at(text, scale, qrcode::EcLevel::M)
}

/// Like `qr_gray`, at a chosen error-correction level.
pub fn qr_gray_at(text: &str, scale: u32, level: qrcode::EcLevel) -> GrayImage {
    let (modules, width) = qr_modules_at(text, level);
    let side = (width as u32 + 8) * scale;
    GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - 4, (y / scale) as i64 - 4);
        let dark = mx >= 0
            && my >= 0
            && (mx as usize) < width
            && (my as usize) < width
            && modules[my as usize * width + mx as usize];
        Luma([if dark { 0 } else { 255 }])
    })
}

pub fn png(image: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("png encodes");
    out
}

/// A PNG of the code for `text`.
pub fn qr_png(text: &str) -> Vec<u8> {
    png(&image::DynamicImage::ImageLuma8(qr_gray(text, 6)))
}

/// Black modules on a fully transparent background (the light modules have alpha 0).
pub fn qr_png_transparent(text: &str) -> Vec<u8> {
    let grey = qr_gray(text, 6);
    let rgba = RgbaImage::from_fn(grey.width(), grey.height(), |x, y| {
        if grey.get_pixel(x, y).0[0] == 0 {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    png(&image::DynamicImage::ImageRgba8(rgba))
}

/// Light modules on a dark background.
pub fn qr_png_inverted(text: &str) -> Vec<u8> {
    let mut grey = qr_gray(text, 6);
    image::imageops::invert(&mut grey);
    png(&image::DynamicImage::ImageLuma8(grey))
}

/// Two codes on one white canvas: `big` at scale 8 on the left, `small` at scale 4 on the right.
pub fn two_codes_png(big: &str, small: &str) -> Vec<u8> {
    let (a, b) = (qr_gray(big, 8), qr_gray(small, 4));
    let mut canvas = GrayImage::from_pixel(
        a.width() + b.width() + 40,
        a.height().max(b.height()) + 40,
        Luma([255]),
    );
    image::imageops::overlay(&mut canvas, &a, 20, 20);
    image::imageops::overlay(&mut canvas, &b, i64::from(a.width()) + 20, 20);
    png(&image::DynamicImage::ImageLuma8(canvas))
}

/// A PNG of the code for `text`, padded to `size` bytes with an ancillary chunk the decoder skips.
pub fn padded_qr_png(text: &str, size: usize) -> Vec<u8> {
    let mut png = qr_png(text);
    let iend = png.split_off(png.len() - 12);
    let padding = vec![0u8; size.saturating_sub(png.len() + 12 + 12)];
    png.extend_from_slice(&(padding.len() as u32).to_be_bytes());
    png.extend_from_slice(b"zzZz");
    png.extend_from_slice(&padding);
    png.extend_from_slice(&[0, 0, 0, 0]); // CRC of an ancillary chunk is not checked by the decoder.
    png.extend_from_slice(&iend);
    png
}

/// A PNG with no code in it.
pub fn blank_png() -> Vec<u8> {
    png(&image::DynamicImage::ImageLuma8(GrayImage::from_fn(
        120,
        80,
        |x, y| Luma([((x * 2 + y) % 256) as u8]),
    )))
}
