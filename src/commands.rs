//! What each subcommand does: `serve` binds and runs the service, `scan` runs the same use case as
//! the API on local inputs and prints one JSON line each, `health` probes a running service.
//! Exit codes: 0 success, 1 some input had no code (or the service is unhealthy), 2 usage or I/O.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;

use crate::api::Envelope;
use crate::cli::{Cli, Command, HealthArgs, ScanArgs, ScanInput};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::fetch::Fetcher;
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
    envelope: Envelope<ScanData>,
}

async fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let engine = &args.engine;
    let fetch_options = engine.fetch_options()?;
    let max_bytes = fetch_options.max_bytes;
    let scanner = Scanner {
        fetcher: Fetcher::new(fetch_options)?,
        decode_options: engine.decode_options(),
        rules: engine.load_rules()?,
        provider_case: engine.provider_case,
        pool: DecodePool::new(1, usize::MAX / 2),
        // Identical inputs on one command line decode once.
        cache: ResultCache::new(256),
        metrics: Default::default(),
    };
    let (mut io_error, mut missed) = (false, false);
    let mut stdout = std::io::stdout().lock();
    for input in &args.inputs {
        let result = match ScanInput::parse(input) {
            ScanInput::Url(url) => scanner.scan_url(&url).await,
            ScanInput::Stdin => match read_capped(std::io::stdin().lock(), max_bytes) {
                Ok(bytes) => scanner.scan_bytes(bytes).await,
                Err(err) => {
                    io_error |= err.kind == crate::error::ErrorKind::FetchFailed;
                    Err(err)
                }
            },
            ScanInput::File(path) => match std::fs::File::open(&path) {
                Ok(file) => match read_capped(file, max_bytes) {
                    Ok(bytes) => scanner.scan_bytes(bytes).await,
                    Err(err) => Err(err),
                },
                Err(err) => {
                    io_error = true;
                    Err(ApiError::new(
                        crate::error::ErrorKind::FetchFailed,
                        format!("cannot read {}: {err}", path.display()),
                    ))
                }
            },
        };
        missed |= result.is_err();
        let line = ScanLine {
            input,
            envelope: Envelope::from_result(&result),
        };
        serde_json::to_writer(&mut stdout, &line)?;
        writeln!(stdout)?;
    }
    stdout.flush()?;
    Ok(if io_error {
        ExitCode::from(2)
    } else if missed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
