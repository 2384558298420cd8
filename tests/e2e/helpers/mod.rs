//! The test kit: `spawn_app()` starts the real server on 127.0.0.1:0 beside a local image server
//! (`upstream.rs`) and returns a `TestApp` with one method per way the tests call it; QR images
//! are generated from their expected text (`images.rs`). Nothing leaves 127.0.0.1.
//!
//! The server logs nothing in tests unless `TEST_LOG` is set (`TEST_LOG=1 cargo test ...`, with
//! `RUST_LOG` to filter), as in zero2prod: then every app in the run logs to stderr.

mod images;
mod process;
pub mod raw;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use qrscan::cli::{Cli, Command, LogFormat};
use qrscan::fetch::policy::{Lookup, SystemLookup};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

pub use self::images::*;
pub use self::process::ServeProcess;
pub use self::upstream::ImageServer;

/// The gauge of image bytes the server holds (uploads, downloads, images waiting to decode).
pub const HELD: &str = "qrscan_buffered_bytes";

/// The multipart boundary of `TestApp::upload_multipart`.
const BOUNDARY: &str = "qrscan-test-boundary";

/// A multipart body with one file field named `field`.
fn multipart(field: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

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

    /// Asserts a 503 with `Retry-After: 1`.
    pub fn assert_busy(&self) {
        self.assert_failure(503, 503);
        assert_eq!(
            self.headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1"),
            "{:?}",
            self.headers
        );
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
            let format = code["format"].as_str().expect("format");
            assert!(
                ["QRCode", "MicroQRCode", "rMQRCode"].contains(&format),
                "{code}"
            );
            assert!(["L", "M", "Q", "H"].contains(&code["ec_level"].as_str().expect("ec_level")));
            assert!(code["encoding"].is_string());
            let content_type = code["content_type"].as_str().expect("content_type");
            assert!(
                ["url", "wifi", "vcard", "email", "phone", "sms", "geo", "text"]
                    .contains(&content_type),
                "{code}"
            );
            let confidence = code["confidence"].as_f64().expect("confidence");
            assert!((0.0..=1.0).contains(&confidence), "{code}");
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

    /// POST /api/v1/qrcode/scan with a JSON body: `image` base64, plus the other `fields`.
    pub async fn upload_json(&self, png: &[u8], fields: Value) -> Answer {
        use base64::Engine;
        let mut body = fields;
        body["image"] = base64::engine::general_purpose::STANDARD.encode(png).into();
        self.upload("application/json", body.to_string().into_bytes(), None)
            .await
    }

    /// POST /api/v1/qrcode/scan with a raw PNG body.
    pub async fn upload_png(&self, body: Vec<u8>) -> Answer {
        self.upload("image/png", body, None).await
    }

    /// POST /api/v1/qrcode/scan with `bytes` as the multipart field `field`.
    pub async fn upload_multipart(&self, field: &str, bytes: &[u8]) -> Answer {
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.upload(&content_type, multipart(field, bytes), None)
            .await
    }

    /// Starts an upload that declares `declared` bytes, sends `sent` of them and stalls until
    /// the returned connection is dropped.
    pub async fn stalled_upload(&self, sent: usize, declared: usize) -> tokio::net::TcpStream {
        let mut connection = tokio::net::TcpStream::connect(self.address)
            .await
            .expect("connects");
        let head = format!(
            "POST /api/v1/qrcode/scan HTTP/1.1\r\nHost: {}\r\nContent-Type: image/png\r\n\
             Content-Length: {declared}\r\n\r\n",
            self.address
        );
        connection.write_all(head.as_bytes()).await.expect("writes");
        connection
            .write_all(&vec![0u8; sent])
            .await
            .expect("writes");
        connection
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
        sample(&text, name)
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

    /// Waits until no image bytes are held, then checks an upload of a code for `text` is read.
    pub async fn assert_released_and_serving(&self, text: &str) {
        self.wait_for_metric(HELD, |held| held == 0.0).await;
        let answer = self.upload_png(qr_png(text)).await;
        assert_eq!(answer.assert_success()["content"], text);
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

/// The value of the first sample line of a `/metrics` text starting with `name`, or 0 when absent.
pub fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
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

/// Starts qrscan with these `serve` flags beside `images`.
pub async fn spawn_app_beside(args: &[&str], images: ImageServer) -> TestApp {
    spawn_app_resolving(args, images, Arc::new(SystemLookup)).await
}

/// Starts qrscan with these `serve` flags beside `images`, resolving every image host name
/// through `lookup` instead of the system resolver.
pub async fn spawn_app_resolving(
    args: &[&str],
    images: ImageServer,
    lookup: Arc<dyn Lookup>,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        qrscan::telemetry::init(LogFormat::Pretty);
    }
    qrscan::fetch::install_crypto_provider();
    let mut argv = vec!["qrscan", "serve", "--listen", "127.0.0.1:0"];
    argv.extend_from_slice(args);
    let Command::Serve(flags) = Cli::try_parse_from(&argv).expect("valid flags").command else {
        unreachable!("serve parses as Serve");
    };
    let config = flags.validate().expect("valid configuration");
    let (drain, connections) = (config.drain, config.connections);
    let state = qrscan::server::build_state_with_lookup(config, lookup);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(qrscan::server::serve(
        listener,
        state,
        async move {
            let _ = rx.await;
        },
        drain,
        connections,
    ));
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
