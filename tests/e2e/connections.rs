//! What one client connection can hold (`--header-read-timeout`, `--idle-timeout`,
//! `--max-connections`): a request head trickled a byte at a time is cut, an idle kept-alive
//! connection is closed, yet one idle for longer than the header timeout still serves its next
//! request; past the cap a new connection waits until one closes. Bounds on "was closed" are
//! generous, and each is well short of the other timeout that could have closed it.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::raw::{self, closed_within, read_response, send_get};
use crate::helpers::*;

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_at_the_header_read_timeout() {
    let app = spawn_app(&["--header-read-timeout", "1s"]).await;
    let (mut from_server, mut to_server) = raw::connect(app.address).await.into_split();
    let opened = Instant::now();
    // A head that never ends, a byte every 50 ms: each read is quick, the head never completes.
    let trickle = tokio::spawn(async move {
        let start = b"GET /healthz HTTP/1.1\r\nHost: qrscan\r\nX-Slow: ";
        for byte in start.iter().chain(std::iter::repeat(&b'a')) {
            if to_server.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    // The idle timeout (75 s) and the fetch timeout cannot close it within 30 s.
    let closed = closed_within(&mut from_server, Duration::from_secs(30)).await;

    assert!(closed, "the slow head was still open after 30 s");
    assert!(
        opened.elapsed() >= Duration::from_millis(500),
        "closed at once, not by a timeout"
    );
    trickle.abort();
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let app = spawn_app(&["--idle-timeout", "1s", "--header-read-timeout", "120s"]).await;
    let mut stream = raw::connect(app.address).await;
    send_get(&mut stream, "/healthz").await;
    let answer = read_response(&mut stream).await.expect("an answer");
    assert_eq!(answer.status(), 200);
    assert!(!answer.has_header("connection: close"), "kept alive");

    // Far short of the 120 s header timeout: only the idle timeout can close it.
    let closed = closed_within(&mut stream, Duration::from_secs(30)).await;

    assert!(closed, "the idle connection was still open after 30 s");
}

#[tokio::test]
async fn a_kept_alive_connection_idle_past_the_header_read_timeout_still_serves_its_next_request() {
    // hyper's own header timer runs between requests too, and would close this at 1 s.
    let app = spawn_app(&["--header-read-timeout", "1s"]).await;
    let mut stream = raw::connect(app.address).await;
    send_get(&mut stream, "/healthz").await;
    assert_eq!(
        read_response(&mut stream).await.expect("answer").status(),
        200
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    send_get(&mut stream, "/healthz").await;
    let second = read_response(&mut stream).await;

    let second = second.expect("the same connection serves after 3 s idle");
    assert_eq!(second.status(), 200);
    assert_eq!(second.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn past_max_connections_a_new_connection_waits_until_one_closes() {
    let app = spawn_app(&["--max-connections", "2"]).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = raw::connect(app.address).await;
        send_get(&mut stream, "/healthz").await;
        // Answered, so accepted; kept alive and idle, it keeps its slot.
        assert_eq!(
            read_response(&mut stream).await.expect("answer").status(),
            200
        );
        held.push(stream);
    }

    let mut waiting = raw::connect(app.address).await;
    send_get(&mut waiting, "/healthz").await;
    let early = tokio::time::timeout(Duration::from_millis(500), read_response(&mut waiting)).await;
    assert!(
        early.is_err(),
        "a third connection was served past the cap of 2"
    );

    drop(held.pop());
    let answer = tokio::time::timeout(Duration::from_secs(30), read_response(&mut waiting))
        .await
        .expect("served once a slot freed")
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json(), json!({"status": "ok"}));

    drop((held, waiting));
    // Every closed connection gave its slot back: only the scrape's own is left.
    app.wait_for_metric("qrscan_open_connections", |open| open == 1.0)
        .await;
}

#[tokio::test]
async fn a_partial_head_pipelined_in_the_same_write_as_a_request_is_cut_at_the_header_read_timeout()
{
    let app = spawn_app(&["--header-read-timeout", "1s", "--idle-timeout", "120s"]).await;
    let mut stream = raw::connect(app.address).await;
    let sent = Instant::now();
    // The second head's first bytes arrive with the first request, and nothing after them.
    let pipelined =
        b"GET /healthz HTTP/1.1\r\nHost: qrscan\r\n\r\nGET /healthz HTTP/1.1\r\nHost: q";
    stream.write_all(pipelined).await.expect("writes");
    let first = read_response(&mut stream)
        .await
        .expect("the first request is answered");
    assert_eq!(first.status(), 200);

    // Far short of the 120 s idle timeout: only the header timeout can close it.
    let closed = closed_within(&mut stream, Duration::from_secs(30)).await;

    assert!(
        closed,
        "the unfinished second head was still open after 30 s"
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(500),
        "closed at once, not by a timeout"
    );
}

#[tokio::test]
async fn a_client_that_sends_its_whole_over_size_body_before_reading_still_gets_the_1005_answer() {
    // As nginx sends an upstream request: head and body in full, then it reads. The answer is
    // given from the head; closing at once would reset the connection under the body still
    // arriving (nginx then answers 502).
    let app = spawn_app(&["--max-image-bytes", "1MiB"]).await;
    let mut stream = raw::connect(app.address).await;
    let body = vec![0u8; 4 << 20];
    let head = format!(
        "POST /api/v1/qrcode/scan HTTP/1.1\r\nHost: q\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );

    stream
        .write_all(head.as_bytes())
        .await
        .expect("the head is sent");
    stream
        .write_all(&body)
        .await
        .expect("the whole body is sent: the server reads it away");
    let response = read_response(&mut stream).await.expect("an answer");

    assert_eq!(response.status(), 200);
    assert_eq!(response.json()["code"], 1005);
}

#[tokio::test]
async fn requests_pipelined_in_one_write_are_each_answered_in_order() {
    let app = spawn_app(&["--header-read-timeout", "1s"]).await;
    let mut stream = raw::connect(app.address).await;
    // A body (Content-Length, then chunked) between heads, and the next head right after each.
    let pipelined = b"POST /api/v1/qrcode/scan_url HTTP/1.1\r\nHost: q\r\n\
        Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\
        POST /api/v1/qrcode/scan_url HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n\
        GET /readyz HTTP/1.1\r\nHost: q\r\n\r\n";

    stream.write_all(pipelined).await.expect("writes");

    // The answers follow each other on the wire; read until the last one is in.
    let mut answers = Vec::new();
    let last = br#"{"status":"ready"}"#;
    while !answers.ends_with(last) {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the answers arrive")
            .expect("reads");
        assert!(
            read > 0,
            "closed after {:?}",
            String::from_utf8_lossy(&answers)
        );
        answers.extend_from_slice(&chunk[..read]);
    }
    let answers = String::from_utf8(answers).expect("text");
    let statuses: Vec<&str> = answers.matches("HTTP/1.1 200 OK").collect();
    assert_eq!(statuses.len(), 3, "{answers}");
    let refused = answers.match_indices(r#"{"code":400,"#).count();
    assert_eq!(refused, 2, "each scan_url without `url` is 400: {answers}");
    // Answered, nothing more sent: idle, not cut at the 1 s header timeout.
    let closed = closed_within(&mut stream, Duration::from_secs(3)).await;
    assert!(!closed, "an idle connection was cut at the header timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_every_connection_slot_held_the_admin_listener_still_answers_probes_at_once() {
    let qrscan = ServeProcess::start(&["--max-connections", "1", "--admin-listen", "127.0.0.1:0"]);
    let admin = qrscan.admin_address.expect("the admin address is logged");
    // One idle kept-alive client holds the only slot.
    let mut holder = raw::connect(qrscan.address).await;
    send_get(&mut holder, "/healthz").await;
    assert_eq!(
        read_response(&mut holder).await.expect("answer").status(),
        200
    );
    let mut queued = raw::connect(qrscan.address).await;
    send_get(&mut queued, "/healthz").await;
    let early = tokio::time::timeout(Duration::from_millis(500), read_response(&mut queued)).await;
    assert!(
        early.is_err(),
        "the main listener served past --max-connections 1"
    );

    for (path, body) in [
        ("/healthz", Some(json!({"status": "ok"}))),
        ("/readyz", Some(json!({"status": "ready"}))),
        ("/metrics", None),
    ] {
        let mut probe = raw::connect(admin).await;
        send_get(&mut probe, path).await;
        let answer = tokio::time::timeout(Duration::from_secs(2), read_response(&mut probe))
            .await
            .unwrap_or_else(|_| panic!("{path} on the admin listener waited"))
            .expect("an answer");

        assert_eq!(answer.status(), 200, "{path}");
        match body {
            Some(body) => assert_eq!(answer.json(), body),
            // The main listener's one connection, not the admin's.
            None => assert_eq!(
                sample(
                    &String::from_utf8_lossy(&answer.body),
                    "qrscan_open_connections"
                ),
                1.0
            ),
        }
    }
    // Only the probes: the API is not served there.
    let mut api = raw::connect(admin).await;
    send_get(&mut api, "/openapi.json").await;
    assert_eq!(read_response(&mut api).await.expect("answer").status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn qrscan_health_probes_the_admin_listener_when_qrscan_admin_listen_is_set() {
    let qrscan = ServeProcess::start(&["--admin-listen", "127.0.0.1:0"]);
    let admin = qrscan.admin_address.expect("the admin address is logged");
    // Nothing listens on QRSCAN_LISTEN's port: only the admin address can answer.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");

    let health = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_qrscan"))
            .arg("health")
            .env("QRSCAN_LISTEN", unused.to_string())
            .env("QRSCAN_ADMIN_LISTEN", admin.to_string())
            .output()
    })
    .await
    .expect("task")
    .expect("runs");

    assert_eq!(
        health.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
}
