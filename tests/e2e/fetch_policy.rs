//! Issue 3's vectors, black-box: every loopback spelling refused under the default policy, an
//! `--allow-cidr` server whose redirects are re-checked, the limits, `data:` and `file:` URLs.
//! Only loopback is ever contacted; other ranges are proven at unit level in `fetch::policy`,
//! and a name resolving to one is answered by a stub resolver, never by DNS.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use qrscan::fetch::policy::Lookup;

use crate::helpers::*;

async fn assert_healthy(app: &TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(
        (health.status, health.body.clone()),
        (200, serde_json::json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn the_default_policy_refuses_every_spelling_of_loopback_with_1002() {
    let app = spawn_app_with(&[]).await;
    let port = app.images.address.port();
    app.images.put("a.png", qr_png("https://cli.im/never"));
    for host in [
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "127.1".to_owned(),
        "2130706433".to_owned(),
        "0x7f.1".to_owned(),
        "0x7f000001".to_owned(),
        "0177.0.0.1".to_owned(),
        "[::1]".to_owned(),
        "[::ffff:127.0.0.1]".to_owned(),
        "[::ffff:7f00:1]".to_owned(),
        "0.0.0.0".to_owned(),
        "0".to_owned(),
        "LocalHost".to_owned(),
    ] {
        let started = std::time::Instant::now();
        let answer = app
            .scan_url(&format!("http://{host}:{port}/img/a.png"))
            .await;
        answer.assert_failure(200, 1002);
        let message = answer.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            !message.contains("127.0.0.1") && !message.contains("::1"),
            "{host}: {message}"
        );
        eprintln!("refused http://{host}:{port}/ in {:?}", started.elapsed());
    }
    let rest = spawn_app_with(&["--http-status", "rest"]).await;
    rest.scan_url(&format!("http://localhost:{port}/img/a.png"))
        .await
        .assert_failure(403, 1002);
    assert_healthy(&app).await;
}

#[tokio::test]
async fn deny_host_refuses_a_host_that_loopback_would_otherwise_allow() {
    let app = spawn_app(&["--deny-host", "localhost"]).await;
    let port = app.images.address.port();
    app.images.put("a.png", qr_png("x"));
    app.scan_url(&format!("http://localhost:{port}/img/a.png"))
        .await
        .assert_failure(200, 1002);
    let allow_only = spawn_app(&["--allow-host", "*.images.test"]).await;
    allow_only
        .scan_url(&allow_only.images.url("/img/a.png"))
        .await
        .assert_failure(200, 1002);
}

/// qrscan allowed to reach only 127.0.0.2, beside an image server bound there.
async fn app_allowing_only_127_0_0_2() -> TestApp {
    let images = ImageServer::start("127.0.0.2:0").await;
    spawn_app_beside(&["--allow-cidr", "127.0.0.2/32"], images).await
}

#[tokio::test]
async fn an_allowed_cidr_is_fetched_but_a_redirect_out_of_it_is_refused() {
    let app = app_allowing_only_127_0_0_2().await;
    let url = app.images.put("ok.png", qr_png("https://cli.im/cidr"));
    assert_eq!(
        app.scan_url(&url).await.assert_success()["content"],
        "https://cli.im/cidr"
    );

    // A redirect to 127.0.0.1 (the qrscan port itself, so nothing else is touched) is refused.
    let target = format!("http://127.0.0.1:{}/healthz", app.address.port());
    let hop = app.images.url(&format!("/redirect?to={target}"));
    app.scan_url(&hop).await.assert_failure(200, 1002);
    let by_name = format!("http://localhost:{}/healthz", app.address.port());
    let hop = app.images.url(&format!("/redirect?to={by_name}"));
    app.scan_url(&hop).await.assert_failure(200, 1002);
    // A redirect to another scheme is refused too.
    let hop = app.images.url("/redirect?to=file:///etc/passwd");
    app.scan_url(&hop).await.assert_failure(200, 1002);
    assert_healthy(&app).await;
}

#[tokio::test]
async fn a_redirect_loop_and_too_many_hops_are_1003() {
    let app = app_allowing_only_127_0_0_2().await;
    app.scan_url(&app.images.url("/loop"))
        .await
        .assert_failure(200, 1003);
    let url = app.images.put("deep.png", qr_png("https://cli.im/deep"));
    let chain = |hops: usize| {
        (0..hops).fold(url.clone(), |to, _| {
            app.images.url(&format!("/redirect?to={}", urlencode(&to)))
        })
    };
    assert_eq!(
        app.scan_url(&chain(5)).await.assert_success()["content"],
        "https://cli.im/deep"
    );
    app.scan_url(&chain(6)).await.assert_failure(200, 1003);
    assert_healthy(&app).await;
}

#[tokio::test]
async fn a_redirect_does_not_tell_the_next_host_the_url_it_came_from() {
    let app = app_allowing_only_127_0_0_2().await;
    let image = app.images.put("moved.png", qr_png("https://cli.im/moved"));
    let hop = app.images.url(&format!(
        "/redirect?to={}&token=not-for-the-next-host",
        urlencode(&image)
    ));

    let answer = app.scan_url(&hop).await;

    assert_eq!(answer.assert_success()["content"], "https://cli.im/moved");
    let requests = app.images.headers_of("/img/moved.png");
    assert_eq!(requests.len(), 1);
    let headers = &requests[0];
    assert!(
        headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|agent| agent.starts_with("qrscan/")),
        "{headers:?}"
    );
    assert_eq!(headers.get("referer"), None, "{headers:?}");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header_with_1006() {
    let app = spawn_app(&[]).await;
    let url = app.images.put("bomb.png", png_claiming(40_000, 40_000));
    let started = std::time::Instant::now();
    app.scan_url(&url).await.assert_failure(200, 1006);
    eprintln!("40000x40000 PNG refused in {:?}", started.elapsed());
    assert_healthy(&app).await;
}

#[tokio::test]
async fn the_decoder_memory_cap_refuses_an_image_that_needs_more() {
    let app = spawn_app(&["--max-decode-memory", "1MiB"]).await;
    // Decoded a row at a time into grey, a colour PNG holds about a byte a pixel: 1.1 MB here.
    let big = image::DynamicImage::ImageRgba8(image::RgbaImage::new(1100, 1000));
    let url = app.images.put("big.png", png(&big));
    let answer = app.scan_url(&url).await;
    answer.assert_failure(200, 1006);
    // The grey frame and two rows of 16-bit RGBA: 1100 x 1000 + 2 x 8 x 1100 bytes.
    assert_eq!(
        answer.body["message"],
        "image is 1100x1000 pixels and needs 1117600 bytes of decoder memory, over the limit of 1048576 bytes"
    );
}

#[tokio::test]
async fn a_png_one_pixel_tall_and_two_billion_wide_has_no_code_from_its_header() {
    let app = spawn_app(&[]).await;
    for (width, height) in [(i32::MAX as u32, 1), (1, i32::MAX as u32)] {
        let url = app.images.put("line.png", png_claiming(width, height));
        let started = std::time::Instant::now();
        let answer = app.scan_url(&url).await;
        answer.assert_failure(200, 1008);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{width}x{height}"
        );
    }
}

/// A real 1x1 PNG whose header is rewritten to claim `width` x `height` (CRC fixed up).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = qr_png("x");
    // IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[tokio::test]
async fn data_urls_scan_without_any_network_and_bad_ones_are_refused() {
    use base64::Engine;
    let app = spawn_app_with(&[]).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(qr_png("https://cli.im/data"));
    let data = app
        .scan_url(&format!("data:image/png;base64,{encoded}"))
        .await;
    assert_eq!(data.assert_success()["content"], "https://cli.im/data");
    app.scan_url("data:image/png;base64,%%%not-base64%%%")
        .await
        .assert_failure(200, 1001);
    app.scan_url("data:text/plain,hello")
        .await
        .assert_failure(200, 1007);
    let small = spawn_app_with(&["--max-image-bytes", "100"]).await;
    small
        .scan_url(&format!("data:image/png;base64,{encoded}"))
        .await
        .assert_failure(200, 1005);
}

#[tokio::test]
async fn file_urls_are_read_only_inside_the_file_root() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("in.png"), qr_png("https://cli.im/file")).expect("write");
    std::fs::write(
        outside.path().join("out.png"),
        qr_png("https://cli.im/outside"),
    )
    .expect("write");
    std::os::unix::fs::symlink(outside.path().join("out.png"), root.path().join("link.png"))
        .expect("symlink");
    let root_arg = root.path().to_str().expect("utf-8").to_owned();
    let app = spawn_app_with(&["--file-root", &root_arg]).await;

    let inside = format!("file://{root_arg}/in.png");
    assert_eq!(
        app.scan_url(&inside).await.assert_success()["content"],
        "https://cli.im/file"
    );
    let outside_name = outside
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name");
    for escape in [
        format!("file://{root_arg}/link.png"),
        format!("file://{root_arg}/../{outside_name}/out.png"),
        format!("file://{root_arg}/%2E%2E/{outside_name}/out.png"),
        format!("file://{}/out.png", outside.path().display()),
    ] {
        app.scan_url(&escape).await.assert_failure(200, 1002);
    }
    assert_healthy(&app).await;
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Opens a FIFO's writing end when dropped: a request stuck in open() on it (the bug this
/// guards against) is released, so a regression fails its test instead of hanging the run.
struct ReleaseFifo(std::path::PathBuf);

impl Drop for ReleaseFifo {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.0);
    }
}

#[tokio::test]
async fn a_fifo_or_a_directory_under_the_file_root_is_refused_at_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let fifo = root.path().join("pipe.png");
    mkfifo(&fifo);
    let _release = ReleaseFifo(fifo);
    std::fs::create_dir(root.path().join("folder.png")).expect("mkdir");
    let root_arg = root.path().to_str().expect("utf-8").to_owned();
    let app = spawn_app_with(&["--file-root", &root_arg, "--fetch-timeout", "30s"]).await;

    for name in ["pipe.png", "folder.png"] {
        let url = format!("file://{root_arg}/{name}");
        let answer = tokio::time::timeout(Duration::from_secs(5), app.scan_url(&url))
            .await
            .unwrap_or_else(|_| panic!("{name} was not answered at once"));
        answer.assert_failure(200, 1002);
        assert_eq!(
            answer.body["message"],
            "image URL is not allowed: the file is not a regular file"
        );
    }
    // Under the root, a missing file may say so: everything there can be fetched anyway.
    let missing = app
        .scan_url(&format!("file://{root_arg}/missing.png"))
        .await;
    missing.assert_failure(200, 1003);
    assert_eq!(
        missing.body["message"],
        "image could not be fetched: no such file"
    );
    assert_healthy(&app).await;
}

#[tokio::test]
async fn a_refused_file_url_answers_the_same_whether_or_not_the_path_exists() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("secret.png"),
        qr_png("https://cli.im/secret"),
    )
    .expect("write");
    let link = |name: &str, target: std::path::PathBuf| {
        std::os::unix::fs::symlink(target, root.path().join(name)).expect("symlink")
    };
    link("to-secret.png", outside.path().join("secret.png"));
    link("to-nothing.png", outside.path().join("missing.png"));
    link("to-outside", outside.path().to_owned());
    let root_arg = root.path().to_str().expect("utf-8").to_owned();
    let out = outside.path().to_str().expect("utf-8").to_owned();
    let app = spawn_app_with(&["--file-root", &root_arg]).await;

    for (existing, missing) in [
        (format!("{out}/secret.png"), format!("{out}/missing.png")),
        (
            format!("{root_arg}/to-secret.png"),
            format!("{root_arg}/to-nothing.png"),
        ),
        (
            format!("{root_arg}/to-outside/secret.png"),
            format!("{root_arg}/to-outside/missing.png"),
        ),
    ] {
        let existing = app.scan_url(&format!("file://{existing}")).await;
        let missing = app.scan_url(&format!("file://{missing}")).await;

        existing.assert_failure(200, 1002);
        assert_eq!(
            (existing.status, existing.body.to_string()),
            (missing.status, missing.body.to_string())
        );
    }
}

/// A resolver answering `answer` for every name, counting the questions; it sends no query.
struct StubLookup {
    answer: Vec<IpAddr>,
    asked: AtomicUsize,
}

impl StubLookup {
    fn answering(address: &str) -> Arc<Self> {
        Arc::new(StubLookup {
            answer: vec![address.parse().expect("an IP address")],
            asked: AtomicUsize::new(0),
        })
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

impl Lookup for StubLookup {
    fn lookup(
        &self,
        _host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.clone();
        Box::pin(async move { Ok(answer) })
    }
}

#[tokio::test]
async fn a_harmless_name_that_resolves_to_a_private_address_is_1002_before_any_connection() {
    // DNS rebinding: the name passes every static check; only its address is blocked. The
    // policy resolver refuses the address before reqwest's connector opens a socket (a resolve
    // error ends the connect), so 10.0.0.1 is never contacted.
    let images = ImageServer::start("127.0.0.1:0").await;
    let port = images.address.port();
    images.put("a.png", qr_png("https://cli.im/rebound"));
    let url = format!("http://images.rebind.test:{port}/img/a.png");
    let private = StubLookup::answering("10.0.0.1");
    let app = spawn_app_resolving(&["--allow-loopback"], images.clone(), private.clone()).await;

    let refused = app.scan_url(&url).await;

    refused.assert_failure(200, 1002);
    let message = refused.body["message"].as_str().unwrap_or_default();
    assert!(!message.contains("10.0.0.1"), "{message}");
    assert_eq!(private.asked(), 1, "the name was judged on its address");
    // The same name answering loopback, which this server allows, is fetched: the refusal was
    // the address's, not the name's.
    let loopback = StubLookup::answering("127.0.0.1");
    let allowed = spawn_app_resolving(&["--allow-loopback"], images, loopback.clone()).await;
    let answer = allowed.scan_url(&url).await;
    assert_eq!(answer.assert_success()["content"], "https://cli.im/rebound");
    assert_eq!(loopback.asked(), 1);
}

/// Issue 14's IPv6 ranges (SIIT `::ffff:0:0:0/96`, local-use NAT64 `64:ff9b:1::/48`, discard-only
/// `100::/64`, deprecated site-local `fec0::/10`) asked for end to end, by `qrscan scan`. Only
/// inside a network namespace that holds nothing but loopback (`unshare -n`, checked before
/// qrscan runs), so that a gap in the policy cannot send a packet off this machine: there a
/// connection attempt fails as 1003, and only a refusal by the policy is 1002.
#[test]
fn ipv6_translated_discard_and_site_local_addresses_are_refused_inside_an_isolated_namespace() {
    let urls = [
        "http://[::ffff:0:7f00:1]:1/a.png",
        "http://[::ffff:0:a00:1]:1/a.png",
        "http://[64:ff9b:1::a00:1]:1/a.png",
        "http://[100::1]:1/a.png",
        "http://[fec0::1]:1/a.png",
        "http://[feff:ffff::1]:1/a.png",
    ];
    // `ip link` lists the interfaces of the namespace it runs in (sysfs would show the
    // host's); anything beside `lo` stops the test before qrscan is started.
    let isolated = r#"ip link set lo up && [ "$(ip -o link show | cut -d: -f2 | tr -d ' ')" = lo ] \
        || { echo "not an isolated namespace: $(ip -o link show)" >&2; exit 99; }
        exec "$0" scan --format json "$@""#;
    let output = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", isolated, env!("CARGO_BIN_EXE_qrscan")])
        .args(urls)
        .env("RUST_LOG", "warn")
        .output()
        .expect("unshare runs (util-linux; needs root or user namespaces)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(99), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect();
    assert_eq!(lines.len(), urls.len(), "{stderr}");
    for (line, url) in lines.iter().zip(urls) {
        assert_eq!(line["input"], url);
        assert_eq!(line["code"], 1002, "{url}: {line}");
    }
}
