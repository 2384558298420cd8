//! `qrscan serve` as a process: `/readyz`, the drain on SIGTERM (`--drain-delay`,
//! `--shutdown-timeout`), API keys re-read from `--api-keys-file` on SIGHUP, and the client
//! address in the access log.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

fn client() -> reqwest::Client {
    qrscan::fetch::install_crypto_provider();
    // No pooled connections: each request below opens its own, as a load balancer's probe does.
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// The value of the sample `name` in the process's `/metrics`.
async fn metric(qrscan: &ServeProcess, name: &str) -> f64 {
    let text = client()
        .get(qrscan.url("/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    sample(&text, name)
}

/// Waits until `qrscan` is answering a request other than the `/metrics` scrape that asks.
async fn wait_until_in_flight(qrscan: &ServeProcess) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric(qrscan, "qrscan_in_flight_requests").await < 2.0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn readyz(qrscan: &ServeProcess) -> (u16, Value) {
    let response = client()
        .get(qrscan.url("/readyz"))
        .send()
        .await
        .expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn scan_url(qrscan: &ServeProcess, url: &str) -> reqwest::RequestBuilder {
    client()
        .post(qrscan.url("/api/v1/qrcode/scan_url"))
        .json(&json!({ "url": url }))
}

fn has_message(line: &Value, prefix: &str) -> bool {
    line["message"]
        .as_str()
        .is_some_and(|m| m.starts_with(prefix))
}

/// Waits for the exit off the async threads, for at most `limit`.
async fn exit_within(qrscan: ServeProcess, limit: Duration) -> (ServeProcess, Option<i32>) {
    tokio::task::spawn_blocking(move || {
        let mut qrscan = qrscan;
        let status = qrscan.wait_exit(limit).map(|s| s.code().unwrap_or(-1));
        (qrscan, status)
    })
    .await
    .expect("waits")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_turns_readyz_503_serves_through_the_drain_and_finishes_requests_in_flight() {
    let images = ImageServer::start("127.0.0.1:0").await;
    let url = images.put("code.png", qr_png("https://cli.im/drain"));
    // Longer than the drain delay: still running when the listener closes.
    let slow = images.url("/slow/4000/code.png");
    let qrscan = ServeProcess::start(&[
        "--allow-loopback",
        "--drain-delay",
        "2s",
        "--shutdown-timeout",
        "20s",
    ]);
    assert_eq!(readyz(&qrscan).await, (200, json!({"status": "ready"})));

    let in_flight = tokio::spawn(scan_url(&qrscan, &slow).send());
    wait_until_in_flight(&qrscan).await;
    qrscan.signal(libc::SIGTERM);
    qrscan.wait_for_log(|l| has_message(l, "draining"));

    // The drain: not ready, yet new connections are still served.
    assert_eq!(readyz(&qrscan).await, (503, json!({"status": "draining"})));
    let during = answer(scan_url(&qrscan, &url).send().await.expect("served")).await;
    assert_eq!(during.assert_success()["content"], "https://cli.im/drain");

    // Then the listener closes, and the request from before the signal still completes.
    qrscan.wait_for_log(|l| has_message(l, "no longer accepting"));
    assert!(
        tokio::net::TcpStream::connect(qrscan.address)
            .await
            .is_err(),
        "no new connections after the drain delay"
    );
    let before = answer(in_flight.await.expect("task").expect("answered")).await;
    assert_eq!(before.assert_success()["content"], "https://cli.im/drain");

    let (qrscan, status) = exit_within(qrscan, Duration::from_secs(30)).await;
    assert_eq!(status, Some(0), "{:?}", qrscan.logs());
    assert!(
        !qrscan
            .logs()
            .iter()
            .any(|l| has_message(l, "shutdown timeout reached")),
        "nothing was cut"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_upstream_cannot_hold_the_exit_past_the_shutdown_timeout() {
    let images = ImageServer::start("127.0.0.1:0").await;
    // Part of an image, then nothing for as long as the fetch timeout would allow (2 minutes).
    let stuck = images.url("/stall/100/100000");
    let qrscan = ServeProcess::start(&[
        "--allow-loopback",
        "--fetch-timeout",
        "120s",
        "--shutdown-timeout",
        "1s",
    ]);
    let in_flight = tokio::spawn(scan_url(&qrscan, &stuck).send());
    wait_until_in_flight(&qrscan).await;
    qrscan.signal(libc::SIGTERM);

    // Well before the 120 s fetch timeout: the 1 s shutdown timeout ends it.
    let (qrscan, status) = exit_within(qrscan, Duration::from_secs(60)).await;
    assert_eq!(status, Some(0), "{:?}", qrscan.logs());
    qrscan.wait_for_log(|l| has_message(l, "shutdown timeout reached"));
    assert!(
        in_flight.await.expect("task").is_err(),
        "the stuck request is cut, not answered"
    );
    images.release_stalled();
}

/// Answers `POST scan_url {}` with the bearer `key`: 400 once past authentication, 403 if not.
async fn with_key(qrscan: &ServeProcess, key: &str) -> i64 {
    let response = client()
        .post(qrscan.url("/api/v1/qrcode/scan_url"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("answers");
    answer(response).await.code()
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_rereads_the_keys_file_and_a_broken_file_keeps_the_keys_in_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api-keys");
    std::fs::write(&path, "# issued 2026-12-01\nkey-alpha-5c1e\n").expect("write");
    let qrscan = ServeProcess::start(&[
        "--api-keys-file",
        path.to_str().expect("utf-8"),
        "--api-keys",
        "key-fixed-90ab",
    ]);
    assert_eq!(with_key(&qrscan, "key-alpha-5c1e").await, 400);
    assert_eq!(with_key(&qrscan, "key-fixed-90ab").await, 400);
    assert_eq!(with_key(&qrscan, "key-beta-77d2").await, 403);

    // Rotate the way a mounted Secret does: a new file swapped in whole.
    let next = dir.path().join("api-keys.next");
    std::fs::write(&next, "key-beta-77d2\n").expect("write");
    std::fs::rename(&next, &path).expect("rename");
    qrscan.signal(libc::SIGHUP);
    qrscan.wait_for_log(|l| l["message"] == "SIGHUP: API keys reloaded" && l["keys"] == 2);
    assert_eq!(with_key(&qrscan, "key-beta-77d2").await, 400);
    assert_eq!(with_key(&qrscan, "key-alpha-5c1e").await, 403);
    assert_eq!(with_key(&qrscan, "key-fixed-90ab").await, 400);

    // A reload that cannot read the file changes nothing.
    std::fs::remove_file(&path).expect("remove");
    qrscan.signal(libc::SIGHUP);
    qrscan.wait_for_log(|l| l["message"] == "SIGHUP: API keys kept as they were");
    assert_eq!(with_key(&qrscan, "key-beta-77d2").await, 400);

    let logs = serde_json::to_string(&qrscan.logs()).expect("JSON");
    for key in ["key-alpha-5c1e", "key-beta-77d2", "key-fixed-90ab"] {
        assert!(!logs.contains(key), "{key} was logged");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_names_the_client_a_trusted_proxy_forwarded_for() {
    let qrscan = ServeProcess::start(&["--trusted-proxies", "127.0.0.1/32"]);
    for forwarded in ["198.51.100.7", ""] {
        let mut request = client().get(qrscan.url("/healthz"));
        if !forwarded.is_empty() {
            request = request.header("x-forwarded-for", forwarded);
        }
        request.send().await.expect("answers");
    }
    let clients: Vec<String> = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let seen: Vec<String> = qrscan
                .logs()
                .iter()
                .filter(|l| l["message"] == "request" && l["route"] == "/healthz")
                .filter_map(|l| l["client"].as_str().map(str::to_owned))
                .collect();
            if seen.len() == 2 || tokio::time::Instant::now() > deadline {
                break seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    assert_eq!(clients, ["198.51.100.7", "127.0.0.1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighups_from_the_first_milliseconds_after_start_neither_kill_the_process_nor_are_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api-keys");
    std::fs::write(&path, "key-alpha-5c1e\n").expect("write");
    let mut qrscan = ServeProcess::spawn(&["--api-keys-file", path.to_str().expect("utf-8")]);
    // Not sooner: during `exec` and dynamic loading (about a millisecond) no program can catch a
    // signal. From its runtime's first thread on, qrscan still has its keys to read, its state
    // to build and its address to bind: milliseconds in which SIGHUP used to end it.
    qrscan.wait_until_threaded();

    // 20 over the next 50 ms: while it starts, reads the keys file, binds.
    for _ in 0..20 {
        qrscan.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_micros(2500));
    }

    let ended = qrscan.wait_exit(Duration::from_millis(100));
    assert!(
        ended.is_none(),
        "ended by SIGHUP ({ended:?}): {:?}",
        qrscan.logs()
    );
    qrscan.wait_listening();
    let health = client().get(qrscan.url("/healthz")).send().await;
    assert_eq!(health.expect("answers").status(), 200);
    // The signals held during start-up were delivered once the handler was in place.
    qrscan.wait_for_log(|l| l["message"] == "SIGHUP: API keys reloaded");
    assert_eq!(with_key(&qrscan, "key-alpha-5c1e").await, 400);
}
