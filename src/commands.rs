//! What each subcommand does: `serve` binds and runs the service, `scan` runs the same use case as
//! the API on local inputs and prints one JSON line each, `health` probes a running service.
//! Exit codes: 0 success, 1 some input had no code (or the service is unhealthy), 2 usage or I/O;
//! which one an input earns is decided by the type of its failure (`Failure`). Input parsing
//! (`ScanInput`) lives here too: `cli.rs` holds the clap definitions only.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;

use crate::budget::{ByteBudget, HeldBytes};
use crate::http::Envelope;
use futures_util::StreamExt;

use crate::cli::{Cli, Command, HealthArgs, OutputFormat, ScanArgs};
use crate::config::ServeFlags;
use crate::error::ApiError;
use crate::fetch::policy::SystemLookup;
use crate::scan::{DecodePool, ResultCache, ScanData, ScanError, Scanner};
use crate::server;

/// Runs the parsed command line and says how the process should exit.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::RenderPdfPage(args) = &cli.command {
        // A child drawing one page needs no runtime, and each thread would add to the address
        // space its parent limits.
        return Ok(crate::pdf_sandbox::child_main(
            args.page,
            args.max_pixels,
            args.max_decode_memory,
        ));
    }
    if !matches!(cli.command, Command::Serve(_)) {
        // `main` held them for `serve`; the other commands end on them as any program does.
        server::release_signals();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(config) => {
            let exit = runtime.block_on(serve(config));
            // Past the shutdown timeout, what is left (a decode near its budget) is not waited for.
            runtime.shutdown_timeout(Duration::from_millis(100));
            exit
        }
        Command::Scan(args) => runtime.block_on(scan(args)),
        Command::Health(args) => runtime.block_on(health(args)),
        Command::RenderPdfPage(_) => unreachable!("answered above, before the runtime"),
    }
}

async fn serve(flags: ServeFlags) -> anyhow::Result<ExitCode> {
    // First: from here on a SIGHUP, SIGTERM or SIGINT is handled, never the end of the process.
    let (hangups, shutdown) = server::catch_signals()?;
    let config = flags.validate()?;
    let (listen, admin_listen) = (config.listen, config.admin_listen);
    let (connections, drain) = (config.connections, config.drain);
    let state = server::build_state(config);
    // The HTTP client is built now, so a server that cannot start one fails here, not on its
    // first download.
    state.scanner.fetcher.warm()?;
    let admin = match admin_listen {
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {address} (--admin-listen): {e}"))?;
            tracing::info!(address = %listener.local_addr()?, "qrscan admin listening");
            Some(tokio::spawn(server::serve_admin(
                listener,
                state.clone(),
                connections,
            )))
        }
        None => None,
    };
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "qrscan listening");
    let reloader = tokio::spawn(server::reload_keys_on_hangup(state.clone(), hangups));
    fit_open_files_limit(connections.max_connections + server::ADMIN_CONNECTIONS);
    server::serve(listener, state, shutdown.received(), drain, connections).await?;
    reloader.abort();
    if let Some(admin) = admin {
        admin.abort();
    }
    tracing::info!("qrscan stopped");
    Ok(ExitCode::SUCCESS)
}

/// Makes room for `max_connections` client sockets and as many downloads (one per request in
/// flight), plus some for the process itself; warns when the hard limit does not allow it,
/// since then accepting fails (and is retried) before the cap is reached.
fn fit_open_files_limit(max_connections: usize) {
    let needed = 2 * max_connections as u64 + 64;
    #[cfg(target_os = "linux")]
    match crate::listener::raise_open_files_limit(needed) {
        Ok(limit) if limit >= needed => {}
        Ok(limit) => tracing::warn!(
            open_files_limit = limit,
            needed,
            "the open-files limit is below 2 x --max-connections + 64: lower --max-connections or raise the hard limit (ulimit -Hn)"
        ),
        Err(err) => tracing::warn!(%err, needed, "cannot read or raise the open-files limit"),
    }
    #[cfg(not(target_os = "linux"))]
    let _ = needed;
}

/// One output line of `qrscan scan`: the API envelope plus the input it answers.
#[derive(Serialize)]
struct ScanLine<'a> {
    input: &'a str,
    #[serde(flatten)]
    envelope: Envelope,
}

/// File extensions a folder walk picks up; and `.pdf` when PDF pages are read (`--pdf-pages`):
/// otherwise every PDF in a folder of documents would be a line saying PDFs are off.
const IMAGE_EXTENSIONS: [&str; 13] = [
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif", "jxl", "svg",
];

/// One output line to come: an input to scan, or a folder the walk found no image in.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Scan(String),
    Unreadable { input: String, why: Unreadable },
}

impl Item {
    /// The input the line answers.
    fn input(&self) -> &str {
        match self {
            Item::Scan(input) | Item::Unreadable { input, .. } => input,
        }
    }
}

/// Expands folders into the images under them (sorted, so runs are repeatable); other inputs
/// pass through unchanged. A folder with no image under it is a line of its own saying so,
/// not silence.
fn expand_inputs(inputs: &[String], with_pdfs: bool) -> Vec<Item> {
    let mut expanded = Vec::new();
    for input in inputs {
        let path = std::path::Path::new(input);
        if input == "-" || !path.is_dir() {
            expanded.push(Item::Scan(input.clone()));
            continue;
        }
        let mut unopened = None;
        let mut images: Vec<String> = walkdir::WalkDir::new(path)
            .follow_links(true)
            .into_iter()
            .filter_map(|entry| {
                entry
                    .map_err(|err| {
                        if err.depth() == 0 {
                            unopened = err.io_error().map(Unreadable::from_io);
                        }
                    })
                    .ok()
            })
            .filter(|entry| entry.file_type().is_file())
            .filter(|entry| {
                entry
                    .path()
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.as_str()) || (with_pdfs && e == "pdf")
                    })
            })
            .map(|entry| entry.path().display().to_string())
            .collect();
        if images.is_empty() {
            let why = unopened.unwrap_or(Unreadable::NoImages);
            expanded.push(Item::Unreadable {
                input: input.clone(),
                why,
            });
            continue;
        }
        images.sort();
        expanded.extend(images.into_iter().map(Item::Scan));
    }
    expanded
}

/// Where `scan` reads one input from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ScanInput {
    Stdin,
    Url(String),
    File(PathBuf),
}

impl ScanInput {
    /// `-` is stdin; anything with a URL scheme we fetch is a URL; the rest are paths.
    fn parse(input: &str) -> Self {
        let lower = input.to_ascii_lowercase();
        if input == "-" {
            ScanInput::Stdin
        } else if ["http://", "https://", "data:", "file:"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            ScanInput::Url(input.to_owned())
        } else {
            ScanInput::File(PathBuf::from(input))
        }
    }
}

/// Why a local input could not be read at all. Nothing was fetched, so it is no fetch failure
/// (1003): it is answered 400, an input the caller must fix (`ApiError::unreadable_input`), and
/// makes the exit status 2. Each message says plainly what is wrong; every output form names
/// the input beside it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum Unreadable {
    #[error("the file does not exist")]
    Missing,
    #[error("permission denied: this user may not read it")]
    Denied,
    #[error("a folder with no images in it (looked for {} files, in every folder below)", IMAGE_EXTENSIONS.map(|e| format!(".{e}")).join(" "))]
    NoImages,
    #[error("cannot be read: {0}")]
    Failed(String),
}

impl Unreadable {
    /// An input that could not be opened or read because of `err`.
    fn from_io(err: &std::io::Error) -> Self {
        match err.kind() {
            std::io::ErrorKind::NotFound => Unreadable::Missing,
            std::io::ErrorKind::PermissionDenied => Unreadable::Denied,
            _ => Unreadable::Failed(err.to_string()),
        }
    }
}

/// Why one input gave no codes; the variant decides the exit status.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The input could not be read at all (a missing file, a folder without images, a broken
    /// pipe): exit status 2.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// The input was read, and the scan refused it or found nothing in it: exit status 1.
    #[error(transparent)]
    Scan(#[from] ScanError),
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unreadable(why) => ApiError::unreadable_input(why.to_string()),
            Failure::Scan(err) => err.into(),
        }
    }
}

async fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let jobs = args.jobs.unwrap_or_else(crate::config::cpu_count);
    let engine = args.engine.validate()?;
    let scanner = Scanner::new(
        engine,
        Arc::new(SystemLookup),
        DecodePool::new(jobs, usize::MAX / 2),
        // Identical inputs on one command line decode once.
        ResultCache::new(256),
        // At most `jobs` inputs are in memory at once already.
        ByteBudget::unbounded(),
        Default::default(),
    );
    let max_bytes = scanner.fetcher.options().max_bytes;
    let inputs = expand_inputs(&args.inputs, scanner.decode_options.pdf.pages > 0);
    let progress = progress_bar(inputs.len());
    let scanner = &scanner;
    // `buffered` runs up to `jobs` scans at once and yields them in input order.
    let mut results = futures_util::stream::iter(inputs.iter())
        .map(|item| async move {
            let result = match item {
                Item::Scan(input) => scan_one(scanner, input, max_bytes).await,
                Item::Unreadable { why, .. } => Err(why.clone().into()),
            };
            (item.input(), result)
        })
        .buffered(jobs.max(1));

    let (mut with_codes, mut without, mut errors) = (0usize, 0usize, 0usize);
    let mut stdout = std::io::stdout().lock();
    while let Some((input, result)) = results.next().await {
        match &result {
            Ok(_) => with_codes += 1,
            Err(Failure::Scan(_)) => without += 1,
            Err(Failure::Unreadable(_)) => errors += 1,
        }
        let result = result.map_err(ApiError::from);
        let written = match args.format {
            OutputFormat::Json => {
                let line = ScanLine {
                    input,
                    envelope: Envelope::from_result(&result),
                };
                serde_json::to_writer(&mut stdout, &line)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(stdout))
            }
            OutputFormat::Text => match &result {
                Ok(data) => data.codes.iter().try_for_each(|code| {
                    writeln!(
                        stdout,
                        "{}\t{}\t{}",
                        one_line(input),
                        code.provider,
                        one_line(&code.content)
                    )
                }),
                Err(err) => {
                    progress.suspend(|| {
                        say(format_args!(
                            "{}: {} ({})",
                            one_line(input),
                            one_line(&err.message),
                            err.code()
                        ))
                    });
                    Ok(())
                }
            },
        };
        match written {
            // The reader has gone (`qrscan scan DIR | head`): nobody wants the rest, and that
            // is no error of the scan's. Stop quietly, with the status of what was written.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                progress.finish_and_clear();
                return Ok(status(errors, without));
            }
            written => written?,
        }
        progress.inc(1);
    }
    match stdout.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        flushed => flushed?,
    }
    progress.finish_and_clear();
    say(format_args!(
        "scanned {}, with codes {with_codes}, without {without}, errors {errors}, in {:.2} s",
        inputs.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(status(errors, without))
}

/// A line for people on stderr. Unlike `eprintln!`, which panics when it cannot write (stderr
/// closed, as in `qrscan scan DIR 2>&1 | head -1`), a line nobody can read is dropped.
pub fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `scan`'s exit status for what it has seen (the README's "Exit status").
fn status(errors: usize, without: usize) -> ExitCode {
    if errors > 0 {
        ExitCode::from(2)
    } else if without > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Scans one input, or says why it could not.
async fn scan_one(scanner: &Scanner, input: &str, max_bytes: u64) -> Result<ScanData, Failure> {
    let bytes = match ScanInput::parse(input) {
        ScanInput::Url(url) => return Ok(scanner.scan_url(&url, scanner.formats()).await?),
        ScanInput::Stdin => read_capped(std::io::stdin().lock(), &scanner.budget, max_bytes)?,
        ScanInput::File(path) => {
            let file = std::fs::File::open(&path).map_err(|err| Unreadable::from_io(&err))?;
            read_capped(file, &scanner.budget, max_bytes)?
        }
    };
    Ok(scanner.scan_bytes(bytes, scanner.formats()).await?)
}

/// Keeps a text-format field on one line and inert on a terminal: a backslash, tab and line
/// breaks become `\\`, `\t`, `\n`, `\r`, and every other character that `needs_escape` as
/// `\u{1b}` (its code point in hex). A QR payload is written by whoever printed the code, so
/// printed raw it could move the cursor, recolour or clear the screen, retitle the window, or
/// make a line read other than it is.
fn one_line(text: &str) -> String {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '\t' => line.push_str("\\t"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c if needs_escape(c) => {
                // Writing to a String cannot fail.
                let _ = write!(line, "\\u{{{:x}}}", u32::from(c));
            }
            c => line.push(c),
        }
    }
    line
}

/// Characters a terminal or a text viewer acts on instead of showing: the control characters
/// (C0 with NUL, BEL, BS and ESC; DEL; C1, whose CSI U+009B some terminals take as ESC `[`), the
/// Unicode line and paragraph separators, and the bidirectional controls, which reorder what a
/// line displays.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A progress bar on stderr, only for people: a terminal, and more than a handful of inputs.
fn progress_bar(total: usize) -> indicatif::ProgressBar {
    if total <= 8 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// Reads at most `limit` bytes, a chunk at a time, into a buffer of `budget`: more is refused
/// like an oversized download (1005), a read failure makes the input unreadable.
fn read_capped(
    mut reader: impl Read,
    budget: &ByteBudget,
    limit: u64,
) -> Result<HeldBytes, Failure> {
    let mut held = budget.buffer(limit);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => return Ok(held),
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(Unreadable::from_io(&err).into()),
        };
        held.push(&chunk[..read])
            .map_err(|refused| ScanError::Fetch(refused.into()))?;
    }
}

async fn health(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let mut address = args.admin_listen.unwrap_or(args.listen);
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    crate::fetch::install_crypto_provider();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()?;
    let url = format!("http://{address}/healthz");
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            eprintln!("{url} answered {}", response.status());
            Ok(ExitCode::from(1))
        }
        Err(err) => {
            eprintln!("{url} is not answering: {err}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_output_escapes_every_control_character_a_terminal_would_act_on() {
        let payload = "a\u{1b}[2J\u{1b}]0;title\u{7}b\u{8}\u{0}c\u{7f}\u{9b}31m\u{85}d";
        assert_eq!(
            one_line(payload),
            "a\\u{1b}[2J\\u{1b}]0;title\\u{7}b\\u{8}\\u{0}c\\u{7f}\\u{9b}31m\\u{85}d"
        );
        // Line and paragraph separators and bidirectional overrides are escaped too.
        assert_eq!(
            one_line("x\u{2028}y\u{202e}z\u{2066}"),
            "x\\u{2028}y\\u{202e}z\\u{2066}"
        );
    }

    #[test]
    fn text_output_keeps_printable_text_and_escapes_tabs_breaks_and_backslashes_as_before() {
        assert_eq!(
            one_line("MEBKM:URL:http\\://x;;\t\r\n"),
            "MEBKM:URL:http\\\\://x;;\\t\\r\\n"
        );
        let printable = "https://qr.alipay.com/FKX 支付宝 ｑｒ é 🙂";
        assert_eq!(one_line(printable), printable);
        // An escape written in the payload itself stays distinguishable from one we wrote.
        assert_eq!(one_line("\\u{1b}"), "\\\\u{1b}");
    }
}
