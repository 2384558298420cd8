//! `qrscan scan` on files, stdin and URLs: one JSON line per input, exit status 0 / 1 / 2.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::*;

fn qrscan() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qrscan"));
    command.env("RUST_LOG", "warn");
    command
}

fn lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect()
}

#[test]
fn scan_reads_a_file_and_prints_the_envelope_with_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("code.png");
    std::fs::write(&path, qr_png("https://qr.alipay.com/cli")).expect("write");
    let output = qrscan().arg("scan").arg(&path).output().expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["input"], path.to_str().expect("utf-8"));
    assert_eq!(lines[0]["code"], 0);
    assert_eq!(lines[0]["data"]["content"], "https://qr.alipay.com/cli");
    assert_eq!(lines[0]["data"]["provider"], "Alipay");
}

#[test]
fn scan_prints_each_codes_content_type_confidence_and_payload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wifi.png");
    std::fs::write(&path, qr_png("WIFI:T:WPA;S:cli;P:secret;;")).expect("write");
    let output = qrscan().arg("scan").arg(&path).output().expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let code = &lines(&output.stdout)[0]["data"]["codes"][0];
    assert_eq!(code["content_type"], "wifi");
    assert_eq!(code["confidence"], 1.0);
    assert_eq!(code["payload"]["type"], "wifi");
    assert_eq!(code["payload"]["ssid"], "cli");
}

#[test]
fn scan_reads_stdin() {
    let mut child = qrscan()
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&qr_png("wxp://stdin"))
        .expect("write");
    let output = child.wait_with_output().expect("exits");
    assert_eq!(output.status.code(), Some(0));
    let lines = lines(&output.stdout);
    assert_eq!(
        (
            lines[0]["input"].as_str(),
            lines[0]["data"]["provider"].as_str()
        ),
        (Some("-"), Some("WechatPay"))
    );
}

#[test]
fn scan_exits_1_when_an_input_has_no_code_and_keeps_input_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (good, blank) = (dir.path().join("good.png"), dir.path().join("blank.png"));
    std::fs::write(&good, qr_png("https://jd.com/a")).expect("write");
    std::fs::write(&blank, blank_png()).expect("write");
    let output = qrscan()
        .arg("scan")
        .arg(&blank)
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["code"].as_i64(), lines[1]["code"].as_i64()),
        (Some(1008), Some(0))
    );
    assert!(lines[0]["data"].is_null());
}

#[test]
fn scan_exits_2_on_a_missing_file_or_bad_usage() {
    let output = qrscan()
        .args(["scan", "/definitely/not/here.png"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(lines(&output.stdout)[0]["code"], 400);
    let usage = qrscan().args(["scan"]).output().expect("runs");
    assert_eq!(usage.status.code(), Some(2));
    let bad_flag = qrscan()
        .args(["scan", "--max-image-bytes", "lots", "x.png"])
        .output()
        .expect("runs");
    assert_eq!(bad_flag.status.code(), Some(2));
}

#[test]
fn scan_says_plainly_that_a_missing_file_does_not_exist_and_calls_it_no_fetch_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-file.png");

    let output = qrscan().arg("scan").arg(&missing).output().expect("runs");
    let text = qrscan()
        .args(["scan", "--format", "text"])
        .arg(&missing)
        .output()
        .expect("runs");

    assert_eq!(output.status.code(), Some(2));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["input"], missing.to_str().expect("utf-8"));
    assert_eq!(
        lines[0]["code"], 400,
        "a local file is not fetched: not 1003"
    );
    assert_eq!(lines[0]["message"], "the file does not exist");
    assert!(lines[0]["data"].is_null());
    assert_eq!(text.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&text.stderr);
    let said = format!("{}: the file does not exist (400)", missing.display());
    assert!(stderr.contains(&said), "{stderr}");
    assert!(stderr.contains("errors 1"), "{stderr}");
}

#[test]
fn scan_of_a_folder_without_images_says_so_in_its_place_instead_of_printing_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("no-images");
    std::fs::create_dir_all(empty.join("nested")).expect("mkdir");
    std::fs::write(empty.join("notes.txt"), b"not an image").expect("write");
    let good = dir.path().join("good.png");
    std::fs::write(&good, qr_png("https://cli.im/after-the-folder")).expect("write");

    let output = qrscan()
        .arg("scan")
        .arg(&empty)
        .arg(&good)
        .output()
        .expect("runs");

    assert_eq!(output.status.code(), Some(2));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 2, "one line for the folder, one for the image");
    assert_eq!(lines[0]["input"], empty.to_str().expect("utf-8"));
    assert_eq!(lines[0]["code"], 400);
    assert_eq!(
        lines[0]["message"],
        "a folder with no images in it (looked for .png .jpg .jpeg .gif .webp .bmp .tif .tiff .heic .heif .avif .jxl .svg files, in every folder below)"
    );
    assert_eq!(
        (
            lines[1]["code"].as_i64(),
            lines[1]["data"]["content"].as_str()
        ),
        (Some(0), Some("https://cli.im/after-the-folder"))
    );
}

#[test]
fn scan_says_permission_denied_for_a_file_this_user_may_not_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = dir.path().join("locked.png");
    std::fs::write(&locked, qr_png("https://cli.im/locked")).expect("write");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    // Root reads a mode-000 file; a write-only sysctl file is refused even to root.
    let locked = [locked, "/proc/sys/vm/drop_caches".into()]
        .into_iter()
        .find(|path| {
            std::fs::File::open(path)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
        })
        .expect("a file this user may not read");

    let output = qrscan().arg("scan").arg(&locked).output().expect("runs");

    assert_eq!(output.status.code(), Some(2));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["code"], 400);
    assert_eq!(
        lines[0]["message"],
        "permission denied: this user may not read it"
    );
}

#[test]
fn serve_and_scan_refuse_a_bad_engine_flag_at_start_with_the_same_message_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("missing-rules.toml");

    let serve = qrscan()
        .args(["serve", "--listen", "127.0.0.1:0", "--rules"])
        .arg(&rules)
        .output()
        .expect("runs");
    let scan = qrscan()
        .args(["scan", "--rules"])
        .arg(&rules)
        .arg("x.png")
        .output()
        .expect("runs");

    assert_eq!(
        (serve.status.code(), scan.status.code()),
        (Some(2), Some(2))
    );
    let (serve, scan) = (
        String::from_utf8_lossy(&serve.stderr),
        String::from_utf8_lossy(&scan.stderr),
    );
    let expected = format!(
        "qrscan: --rules {}: cannot read rules file",
        rules.display()
    );
    assert!(serve.starts_with(&expected), "{serve}");
    assert_eq!(serve, scan);
}

#[test]
fn scan_reads_a_data_url() {
    use base64::Engine;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(qr_png("https://cli.im/cli-data"));
    let output = qrscan()
        .arg("scan")
        .arg(format!("data:image/png;base64,{encoded}"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(lines(&output.stdout)[0]["data"]["provider"], "Caoliao");
}

#[tokio::test]
async fn health_exits_0_against_a_running_server_and_1_when_none_answers() {
    let app = spawn_app(&[]).await;
    let listen = app.address.to_string();
    let ok = tokio::task::spawn_blocking(move || {
        qrscan().args(["health", "--listen", &listen]).output()
    })
    .await
    .expect("task")
    .expect("runs");
    assert_eq!(ok.status.code(), Some(0));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let down = qrscan()
        .args(["health", "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .expect("runs");
    assert_eq!(down.status.code(), Some(1));
}

#[tokio::test]
async fn serve_logs_one_json_line_per_request_and_never_the_api_key() {
    use std::io::BufRead;
    let mut child = qrscan()
        .env("RUST_LOG", "info")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--api-keys",
            "s3cret-key-in-logs?",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut logs = Vec::new();
    let address = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).expect("reads") > 0,
            "server exited early: {logs:?}"
        );
        let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        logs.push(line.clone());
        if event["message"] == "qrscan listening" {
            break event["address"].as_str().expect("address").to_owned();
        }
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let response = client
        .post(format!("http://{address}/api/v1/qrcode/scan"))
        .bearer_auth("s3cret-key-in-logs?")
        .header("content-type", "image/png")
        .body(qr_png("https://cli.im/logged"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], 0);
    // SIGTERM: graceful shutdown, then the process exits and stderr ends.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = stderr.lines().map_while(Result::ok).collect();
        (child.wait().expect("exits"), rest)
    })
    .await
    .expect("task");
    logs.extend(status.1);
    assert!(status.0.success(), "clean exit on SIGTERM: {logs:?}");
    let all = logs.join("");
    assert!(!all.contains("s3cret-key-in-logs"), "{all}");
    let requests: Vec<serde_json::Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 1, "{all}");
    assert_eq!(requests[0]["route"], "/api/v1/qrcode/scan");
    assert_eq!(
        (requests[0]["status"].as_i64(), requests[0]["code"].as_i64()),
        (Some(200), Some(0))
    );
    assert!(requests[0]["latency_ms"].is_number() && requests[0]["request_id"].is_string());
    // Milliseconds to the microsecond, as written: not 0.015113000000000001.
    let latency = requests[0]["latency_ms"].to_string();
    let decimals = latency.split('.').nth(1).map_or(0, str::len);
    assert!(decimals <= 3, "latency_ms {latency}");
}

#[test]
fn logs_written_to_a_file_or_pipe_carry_no_colour_codes() {
    use std::io::BufRead;
    let mut child = qrscan()
        .env("RUST_LOG", "info")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut logs = String::new();
    while !logs.contains("qrscan listening") {
        assert!(
            stderr.read_line(&mut logs).expect("reads") > 0,
            "server exited early: {logs}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();

    assert!(!logs.contains('\u{1b}'), "escape codes in {logs:?}");
}

/// A folder with codes, a blank image, a non-image with an image extension, a non-image file
/// that the walk must skip, and a nested folder.
fn mixed_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.png"), qr_png("https://qr.alipay.com/a")).expect("write");
    std::fs::write(dir.path().join("b-blank.png"), blank_png()).expect("write");
    std::fs::write(dir.path().join("c-broken.jpg"), b"not really a jpeg").expect("write");
    std::fs::write(dir.path().join("notes.txt"), b"skip me").expect("write");
    std::fs::create_dir(dir.path().join("d")).expect("mkdir");
    std::fs::write(dir.path().join("d/e.PNG"), qr_png("wxp://nested\tcode")).expect("write");
    dir
}

#[test]
fn scan_walks_a_folder_in_order_whatever_the_jobs_and_summarises() {
    let dir = mixed_folder();
    let root = dir.path().to_str().expect("utf-8");
    let expected =
        ["a.png", "b-blank.png", "c-broken.jpg", "d/e.PNG"].map(|f| format!("{root}/{f}"));
    for jobs in ["1", "4"] {
        let output = qrscan()
            .args(["scan", "--jobs", jobs, root])
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(1), "some inputs had no code");
        let lines = lines(&output.stdout);
        let inputs: Vec<&str> = lines
            .iter()
            .map(|l| l["input"].as_str().expect("input"))
            .collect();
        assert_eq!(inputs, expected, "--jobs {jobs}");
        let codes: Vec<i64> = lines
            .iter()
            .map(|l| l["code"].as_i64().expect("code"))
            .collect();
        assert_eq!(codes, vec![0, 1008, 1007, 0]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("scanned 4, with codes 2, without 2, errors 0"),
            "{stderr}"
        );
    }
}

#[test]
fn scan_text_format_prints_one_escaped_line_per_code() {
    let dir = mixed_folder();
    let root = dir.path().to_str().expect("utf-8");
    let output = qrscan()
        .args(["scan", "--format", "text", root])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = format!("{root}/a.png\tAlipay\thttps://qr.alipay.com/a\n{root}/d/e.PNG\tWechatPay\twxp://nested\\tcode\n");
    assert_eq!(stdout, expected);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("b-blank.png: no QR code found"), "{stderr}");
}

#[test]
fn scan_text_format_escapes_control_characters_so_a_code_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evil.png");
    // Clear the screen, retitle the window, ring the bell, back over a character, a NUL, a DEL
    // and the C1 CSI.
    let payload = "pay\u{1b}[2J\u{1b}]0;owned\u{7}here\u{8}\u{0}\u{7f}\u{9b}0m";
    std::fs::write(&path, qr_png(payload)).expect("write");

    let output = qrscan()
        .args(["scan", "--format", "text"])
        .arg(&path)
        .output()
        .expect("runs");

    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let expected = format!(
        "{}\tOther\tpay\\u{{1b}}[2J\\u{{1b}}]0;owned\\u{{7}}here\\u{{8}}\\u{{0}}\\u{{7f}}\\u{{9b}}0m\n",
        path.display()
    );
    assert_eq!(stdout, expected);
    assert!(!stdout
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n'));
}

/// A folder of `count` images with codes, `00.png` to `NN.png`.
fn folder_of_codes(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..count {
        let path = dir.path().join(format!("{i:02}.png"));
        std::fs::write(path, qr_png(&format!("https://example.com/{i}"))).expect("write");
    }
    dir
}

#[test]
fn scan_piped_into_a_reader_that_stops_early_ends_quietly() {
    // `qrscan scan DIR | head -1`: the reader closes the pipe after one line.
    let dir = folder_of_codes(40);
    let mut child = qrscan()
        .args(["scan", "--jobs", "1", "--format", "text"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("a first line");
    drop(stdout);

    let output = child.wait_with_output().expect("exits");

    assert_eq!(
        output.status.code(),
        Some(0),
        "every code written so far was read"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn scan_with_stderr_closed_does_not_panic() {
    // `qrscan scan DIR 2>&1 | head -1`: stderr is the closed pipe when the summary is written.
    let dir = folder_of_codes(3);
    let mut child = qrscan()
        .args(["scan", "--format", "text"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stderr.take());

    let status = child.wait().expect("exits");

    assert_eq!(status.code(), Some(0), "no panic (101), no error (2)");
}

#[test]
fn a_folder_walk_takes_pdfs_only_when_pdf_pages_are_read_and_draws_them_in_a_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::copy(root.join("qr-segno.pdf"), dir.path().join("a.pdf")).expect("copy");
    std::fs::write(
        dir.path().join("b.png"),
        qr_png("https://cli.im/beside-a-pdf"),
    )
    .expect("write");

    let without = qrscan().arg("scan").arg(dir.path()).output().expect("runs");
    let inputs: Vec<String> = lines(&without.stdout)
        .iter()
        .map(|line| line["input"].as_str().expect("input").to_owned())
        .collect();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert!(inputs[0].ends_with("b.png"), "{inputs:?}");

    // This binary draws the page in a child of itself (`render-pdf-page`).
    let with = qrscan()
        .args(["scan", "--pdf-pages", "1"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let lines = lines(&with.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["data"]["content"], "https://example.com/pdf");
    assert_eq!(lines[0]["data"]["codes"][0]["page"], 1);
    assert_eq!(lines[1]["data"]["content"], "https://cli.im/beside-a-pdf");
}
