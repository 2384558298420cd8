//! What each subcommand does: `serve` binds and runs the service, `scan` runs the same use case as
//! the API on local inputs and prints one JSON line each, `health` probes a running service.
//! Exit codes: 0 success, 1 some input had no code (or the service is unhealthy), 2 usage or I/O.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;

use crate::api::Envelope;
use crate::budget::ByteBudget;
use futures_util::StreamExt;

use crate::cli::{Cli, Command, HealthArgs, OutputFormat, ScanArgs, ScanInput};
use crate::config::ServeConfig;
use crate::error::{ApiError, ErrorKind};
use crate::scan::{DecodePool, ResultCache, ScanData, Scanner};
use crate::server;

/// Runs the parsed command line and says how the process should exit.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(config) => runtime.block_on(serve(config)),
        Command::Scan(args) => runtime.block_on(scan(args)),
        Command::Health(args) => runtime.block_on(health(args)),
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<ExitCode> {
    let state = server::build_state(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "qrscan listening");
    server::serve(listener, state, server::shutdown_signal()).await?;
    tracing::info!("qrscan stopped");
    Ok(ExitCode::SUCCESS)
}

/// One output line of `qrscan scan`: the API envelope plus the input it answers.
#[derive(Serialize)]
struct ScanLine<'a> {
    input: &'a str,
    #[serde(flatten)]
    envelope: Envelope,
}

/// File extensions a folder walk picks up.
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "gif", "webp", "bmp"];

/// Expands folders into the images under them (sorted, so runs are repeatable); other inputs
/// pass through unchanged.
fn expand_inputs(inputs: &[String]) -> Vec<String> {
    let mut expanded = Vec::new();
    for input in inputs {
        let path = std::path::Path::new(input);
        if input == "-" || !path.is_dir() {
            expanded.push(input.clone());
            continue;
        }
        let mut images: Vec<String> = walkdir::WalkDir::new(path)
            .follow_links(true)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_file())
            .filter(|entry| {
                entry
                    .path()
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .map(|entry| entry.path().display().to_string())
            .collect();
        images.sort();
        expanded.extend(images);
    }
    expanded
}

/// How one input ended, for the exit status and the summary.
enum Outcome {
    Codes,
    NoCodes,
    IoError,
}

async fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let jobs = args.jobs.unwrap_or_else(crate::config::cpu_count);
    let scanner = Scanner::new(
        &args.engine,
        DecodePool::new(jobs, usize::MAX / 2),
        // Identical inputs on one command line decode once.
        ResultCache::new(256),
        // At most `jobs` inputs are in memory at once already.
        ByteBudget::unbounded(),
        Default::default(),
    )?;
    let max_bytes = scanner.fetcher.options().max_bytes;
    let inputs = expand_inputs(&args.inputs);
    let progress = progress_bar(inputs.len());
    let scanner = &scanner;
    // `buffered` runs up to `jobs` scans at once and yields them in input order.
    let mut results = futures_util::stream::iter(inputs.iter())
        .map(|input| async move { (input, scan_one(scanner, input, max_bytes).await) })
        .buffered(jobs.max(1));

    let (mut with_codes, mut without, mut errors) = (0usize, 0usize, 0usize);
    let mut stdout = std::io::stdout().lock();
    while let Some((input, (result, io_error))) = results.next().await {
        let outcome = match (&result, io_error) {
            (_, true) => Outcome::IoError,
            (Ok(_), _) => Outcome::Codes,
            (Err(_), _) => Outcome::NoCodes,
        };
        match outcome {
            Outcome::Codes => with_codes += 1,
            Outcome::NoCodes => without += 1,
            Outcome::IoError => errors += 1,
        }
        match args.format {
            OutputFormat::Json => {
                let line = ScanLine {
                    input,
                    envelope: Envelope::from_result(&result),
                };
                serde_json::to_writer(&mut stdout, &line)?;
                writeln!(stdout)?;
            }
            OutputFormat::Text => match &result {
                Ok(data) => {
                    for code in &data.codes {
                        writeln!(
                            stdout,
                            "{input}\t{}\t{}",
                            code.provider,
                            one_line(&code.content)
                        )?;
                    }
                }
                Err(err) => {
                    progress.suspend(|| eprintln!("{input}: {} ({})", err.message, err.code()))
                }
            },
        }
        progress.inc(1);
    }
    stdout.flush()?;
    progress.finish_and_clear();
    eprintln!(
        "scanned {}, with codes {with_codes}, without {without}, errors {errors}, in {:.2} s",
        inputs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if without > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Scans one input; the flag says whether the failure was an I/O error (exit status 2).
async fn scan_one(
    scanner: &Scanner,
    input: &str,
    max_bytes: u64,
) -> (Result<ScanData, ApiError>, bool) {
    match ScanInput::parse(input) {
        ScanInput::Url(url) => (scanner.scan_url(&url).await, false),
        ScanInput::Stdin => match read_capped(std::io::stdin().lock(), max_bytes) {
            Ok(bytes) => (scanner.scan_bytes(bytes).await, false),
            Err(err) => {
                let io = err.kind == ErrorKind::FetchFailed;
                (Err(err), io)
            }
        },
        ScanInput::File(path) => match std::fs::File::open(&path) {
            Ok(file) => match read_capped(file, max_bytes) {
                Ok(bytes) => (scanner.scan_bytes(bytes).await, false),
                Err(err) => {
                    let io = err.kind == ErrorKind::FetchFailed;
                    (Err(err), io)
                }
            },
            Err(err) => (
                Err(ApiError::new(
                    ErrorKind::FetchFailed,
                    format!("cannot read {}: {err}", path.display()),
                )),
                true,
            ),
        },
    }
}

/// Keeps a text-format record on one line: tabs and line breaks are escaped.
fn one_line(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
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

/// Reads at most `limit` bytes; more is 1005, a read failure is an I/O error (1003).
fn read_capped(reader: impl Read, limit: u64) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            ApiError::new(
                crate::error::ErrorKind::FetchFailed,
                format!("read error: {e}"),
            )
        })?;
    if bytes.len() as u64 > limit {
        return Err(crate::fetch::FetchError::TooLarge { limit }.into());
    }
    Ok(bytes)
}

async fn health(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let mut address = args.listen;
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
