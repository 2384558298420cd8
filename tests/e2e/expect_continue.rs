//! A body declared over the limit is refused from its `Content-Length`, before `100 Continue`
//! and before a byte of it is sent (issue 14); one without a length is cut as it arrives.
//! `--fetch-timeout` is 60 s and answers are awaited 30 s at most, so an answer can only be the
//! early refusal, never a body timing out.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::raw::{self, read_response, RawResponse};
use crate::helpers::*;

/// The default `--max-image-bytes` (10 MiB) plus 1 MiB: the attacker's test.
const OVER_IMAGE_LIMIT: u64 = 11_534_336;
/// Over the limit of bodies that carry an image as base64 (10 MiB as base64 is 13.3 MiB).
const OVER_FRAMED_LIMIT: u64 = 20 * 1024 * 1024;

/// Sends a request head asking `Expect: 100-continue`, and no body; reads the first answer.
async fn ask_first(app: &TestApp, path: &str, content_type: &str, length: u64) -> RawResponse {
    let mut stream = raw::connect(app.address).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: qrscan\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    first_answer(&mut stream).await
}

async fn first_answer(stream: &mut TcpStream) -> RawResponse {
    tokio::time::timeout(Duration::from_secs(30), read_response(stream))
        .await
        .expect("an answer within 30 s")
        .expect("an answer before the connection closed")
}

fn assert_too_large(answer: &RawResponse, status: u16) {
    assert_eq!(answer.status(), status, "{}", answer.status_line);
    let body = answer.json();
    assert_eq!(body["code"], 1005, "{body}");
    assert!(body["data"].is_null(), "{body}");
}

#[tokio::test]
async fn an_upload_declared_over_the_limit_is_1005_at_once_instead_of_100_continue() {
    let app = spawn_app(&["--fetch-timeout", "60s"]).await;
    let multipart = "multipart/form-data; boundary=x";
    for (content_type, length) in [
        ("image/png", OVER_IMAGE_LIMIT),
        ("application/octet-stream", OVER_IMAGE_LIMIT),
        ("application/json", OVER_FRAMED_LIMIT),
        (multipart, OVER_FRAMED_LIMIT),
    ] {
        let answer = ask_first(&app, "/api/v1/qrcode/scan", content_type, length).await;
        assert_too_large(&answer, 200);
    }
    let rest = spawn_app(&["--fetch-timeout", "60s", "--http-status", "rest"]).await;
    let answer = ask_first(&rest, "/api/v1/qrcode/scan", "image/png", OVER_IMAGE_LIMIT).await;
    assert_too_large(&answer, 413);

    // Within the limit the server asks for the body, as before.
    let answer = ask_first(&app, "/api/v1/qrcode/scan", "image/png", 1024).await;
    assert_eq!(answer.status_line, "HTTP/1.1 100 Continue");
}

#[tokio::test]
async fn a_scan_url_body_declared_over_the_limit_is_1005_at_once_instead_of_100_continue() {
    let app = spawn_app(&["--fetch-timeout", "60s"]).await;
    let path = "/api/v1/qrcode/scan_url";
    let answer = ask_first(&app, path, "application/json", OVER_FRAMED_LIMIT).await;
    assert_too_large(&answer, 200);
    let rest = spawn_app(&["--fetch-timeout", "60s", "--http-status", "rest"]).await;
    let answer = ask_first(&rest, path, "application/json", OVER_FRAMED_LIMIT).await;
    assert_too_large(&answer, 413);

    let answer = ask_first(&app, path, "application/json", 64).await;
    assert_eq!(answer.status_line, "HTTP/1.1 100 Continue");
}

#[tokio::test]
async fn a_chunked_upload_with_no_length_is_cut_at_the_limit_as_it_arrives() {
    let app = spawn_app(&["--fetch-timeout", "60s", "--max-image-bytes", "2KiB"]).await;
    let mut stream = raw::connect(app.address).await;
    let head = "POST /api/v1/qrcode/scan HTTP/1.1\r\nHost: qrscan\r\nContent-Type: image/png\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("writes");
    // 3 KiB in 1 KiB chunks, and no last chunk: only the byte limit can end this body.
    for _ in 0..3 {
        stream.write_all(b"400\r\n").await.expect("writes");
        stream.write_all(&[0u8; 1024]).await.expect("writes");
        stream.write_all(b"\r\n").await.expect("writes");
    }

    let answer = first_answer(&mut stream).await;

    assert_too_large(&answer, 200);
}
