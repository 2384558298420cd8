//! The command line: clap definitions only. Doc comments here are the `--help` text; what each
//! subcommand does lives in `commands.rs`.

use clap::{Parser, Subcommand};

use crate::config::{EngineFlags, ServeFlags};

/// qrscan: a local-first, offline, drop-in replacement for cli.im's QR scan_url API.
#[derive(Debug, Parser)]
#[command(name = "qrscan", version, about)]
pub struct Cli {
    /// Log lines on stderr: `pretty` for people, `json` for log collectors.
    #[arg(long, global = true, env = "QRSCAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

// One value, parsed once at start-up: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (POST /api/v1/qrcode/scan_url).
    Serve(ServeFlags),
    /// Scan files, URLs or stdin and print one JSON line per input.
    Scan(ScanArgs),
    /// Exit 0 when a running qrscan answers /healthz (for container health checks).
    Health(HealthArgs),
    /// Internal: draws one page of the PDF on stdin, as a child of `serve` or `scan` held to
    /// their limits (`pdf_sandbox.rs`).
    #[command(hide = true)]
    RenderPdfPage(RenderPdfPageArgs),
}

#[derive(Debug, clap::Args)]
pub struct RenderPdfPageArgs {
    /// The page, from 0.
    #[arg(long)]
    pub page: u32,
    #[arg(long)]
    pub max_pixels: u64,
    #[arg(long)]
    pub max_decode_memory: u64,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Image files, folders (scanned recursively for .png .jpg .jpeg .gif .webp .bmp .tif .tiff .heic .heif .avif .jxl .svg, and .pdf with --pdf-pages),
    /// http(s):// or data: URLs, or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Inputs scanned at once. Default: the number of CPUs. Output keeps the input order.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,

    /// `json`: one envelope per input. `text`: one `path<TAB>provider<TAB>content` line per code.
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub engine: EngineFlags,
}

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Address of the service; defaults to QRSCAN_LISTEN (0.0.0.0 becomes 127.0.0.1).
    #[arg(long, env = "QRSCAN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// The service's `--admin-listen` address; when set, probed instead of `--listen`, where
    /// clients holding every connection would make the probe wait.
    #[arg(long, env = "QRSCAN_ADMIN_LISTEN")]
    pub admin_listen: Option<std::net::SocketAddr>,
}

/// How `scan` prints results (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Json,
    Text,
}
