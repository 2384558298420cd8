//! The flags: every option of `serve` and `scan` as a clap argument and a `QRSCAN_<NAME>`
//! environment variable (API.md section 7), with its default. Doc comments here are the `--help`
//! text. Only what clap itself can check is checked here (a number, a size, a duration, a CIDR);
//! everything else, and anything that needs a file, is `runtime.rs`'s. API keys are redacted in
//! `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::client::ForwardedHeader;
use crate::fetch::policy::HostPattern;
use qrscan_decode::Formats;

/// Options shared by `serve` and `scan`: how images are fetched and decoded.
#[derive(Clone, Debug, clap::Args)]
pub struct EngineFlags {
    /// Allow fetching from loopback addresses (127.0.0.0/8, ::1). For local development and tests.
    #[arg(long, env = "QRSCAN_ALLOW_LOOPBACK")]
    pub allow_loopback: bool,

    /// Allow fetching from private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).
    #[arg(long, env = "QRSCAN_ALLOW_PRIVATE")]
    pub allow_private: bool,

    /// Extra address ranges to allow, comma-separated CIDRs (e.g. 10.1.2.0/24,fd00::/64).
    #[arg(long, env = "QRSCAN_ALLOW_CIDR", value_delimiter = ',')]
    pub allow_cidr: Vec<IpNet>,

    /// Only fetch from these hosts (exact names or `*.suffix`), comma-separated. Empty: any host.
    #[arg(long, env = "QRSCAN_ALLOW_HOST", value_delimiter = ',')]
    pub allow_host: Vec<HostPattern>,

    /// Never fetch from these hosts (exact names or `*.suffix`), comma-separated.
    #[arg(long, env = "QRSCAN_DENY_HOST", value_delimiter = ',')]
    pub deny_host: Vec<HostPattern>,

    /// Serve `file:` URLs from under this directory (and nowhere else). Unset: `file:` is refused.
    #[arg(long, env = "QRSCAN_FILE_ROOT")]
    pub file_root: Option<PathBuf>,

    /// Fetch through this HTTP proxy. Unset: no proxy, whatever the environment says.
    #[arg(long, env = "QRSCAN_PROXY")]
    pub proxy: Option<Url>,

    /// Time limit for the whole download, body included, and for receiving a request body (e.g. 10s, 500ms).
    #[arg(long, env = "QRSCAN_FETCH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub fetch_timeout: Duration,

    /// Time limit for establishing a connection.
    #[arg(long, env = "QRSCAN_CONNECT_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,

    /// Most redirects followed for one image.
    #[arg(long, env = "QRSCAN_MAX_REDIRECTS", default_value_t = 5)]
    pub max_redirects: usize,

    /// Largest image accepted, in bytes or with a unit (10MiB, 512KiB).
    #[arg(long, env = "QRSCAN_MAX_IMAGE_BYTES", default_value = "10MiB", value_parser = parse_size)]
    pub max_image_bytes: u64,

    /// Largest image accepted, in pixels (width x height), checked before decoding.
    #[arg(long, env = "QRSCAN_MAX_PIXELS", default_value_t = 40_000_000)]
    pub max_pixels: u64,

    /// Largest allocation the image decoder may make; for a JPEG, its frame and (progressive)
    /// coefficients together.
    #[arg(long, env = "QRSCAN_MAX_DECODE_MEMORY", default_value = "512MiB", value_parser = parse_size)]
    pub max_decode_memory: u64,

    /// Time after which the decoder stops trying further strategies on one image.
    #[arg(long, env = "QRSCAN_DECODE_BUDGET", default_value = "2s", value_parser = humantime::parse_duration)]
    pub decode_budget: Duration,

    /// Symbologies to look for, comma-separated: `qr` (QR Code), `microqr` (Micro QR, M1-M4),
    /// `rmqr` (rectangular Micro QR). A request's `formats` may narrow this, never widen it.
    #[arg(long, env = "QRSCAN_FORMATS", default_value_t = Formats::default(), value_parser = Formats::parse)]
    pub formats: Formats,

    /// Pages read from a PDF, from the first: 0 refuses PDFs (1007). Each page is drawn in a
    /// child process held to --max-decode-memory and the decode budget, which covers the whole
    /// document.
    #[arg(long, env = "QRSCAN_PDF_PAGES", default_value_t = 0)]
    pub pdf_pages: u32,

    /// The program run to draw a PDF page (`PROGRAM render-pdf-page`). Default: this qrscan
    /// binary.
    #[arg(long, env = "QRSCAN_PDF_RENDERER", value_name = "PROGRAM")]
    pub pdf_renderer: Option<PathBuf>,

    /// Replace the built-in provider rules with this TOML file.
    #[arg(long, env = "QRSCAN_RULES")]
    pub rules: Option<PathBuf>,

    /// Spelling of `provider`: `enum` (Alipay, WechatPay, ...) or `lower` (alipay, wechatpay, ...).
    #[arg(long, env = "QRSCAN_PROVIDER_CASE", value_enum, default_value_t = ProviderCase::Enum)]
    pub provider_case: ProviderCase,
}

/// Options of `qrscan serve` only.
#[derive(Clone, clap::Args)]
pub struct ServeFlags {
    /// Address to listen on.
    #[arg(long, env = "QRSCAN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// A second address serving only `/healthz`, `/readyz` and `/metrics`, on connections of
    /// their own outside `--max-connections`, so probes never wait behind clients. `--listen`
    /// serves them too. Unset: no second listener.
    #[arg(long, env = "QRSCAN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,

    /// API keys callers must send as `Authorization: Bearer KEY`, comma-separated. Unset: no auth.
    #[arg(
        long,
        env = "QRSCAN_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,

    /// File of API keys, one per line (`#` starts a comment line), read at start and again on
    /// SIGHUP, so keys rotate without a restart. Combined with `--api-keys`. While it is set,
    /// authentication is on even if the file holds no key.
    #[arg(long, env = "QRSCAN_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// Requests per second allowed to each API key, or to each client address when no valid key
    /// is sent (e.g. 10, or 0.5 for one every 2 s). Past it: 429 with `Retry-After`. Unset: off.
    #[arg(long, env = "QRSCAN_RATE_LIMIT")]
    pub rate_limit: Option<f64>,

    /// Requests one key or address may send at once before `--rate-limit` applies.
    /// Default: the rate limit rounded up.
    #[arg(long, env = "QRSCAN_RATE_BURST")]
    pub rate_burst: Option<u32>,

    /// Proxies whose forwarding header (`--forwarded-header`) names the client, comma-separated
    /// CIDRs (e.g. 10.0.0.0/8). From any other peer it is ignored.
    #[arg(long, env = "QRSCAN_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,

    /// The header the trusted proxies write the client into: `x-forwarded-for` (nginx, most
    /// load balancers) or `forwarded` (RFC 7239). Only that one is read; the other is whatever
    /// the client sent.
    #[arg(long, env = "QRSCAN_FORWARDED_HEADER", value_enum, default_value_t = ForwardedHeader::XForwardedFor)]
    pub forwarded_header: ForwardedHeader,

    /// `compat`: HTTP 200 for every business outcome, like cli.im. `rest`: a status per code.
    #[arg(long, env = "QRSCAN_HTTP_STATUS", value_enum, default_value_t = HttpStatusMode::Compat)]
    pub http_status: HttpStatusMode,

    /// Threads that decode images. Default: the number of CPUs.
    #[arg(long, env = "QRSCAN_WORKERS")]
    pub workers: Option<usize>,

    /// Decode requests allowed to wait for a worker; past this, 503.
    #[arg(long, env = "QRSCAN_QUEUE", default_value_t = 64)]
    pub queue: usize,

    /// Decode results remembered by SHA-256 of the image bytes; 0 disables the cache.
    #[arg(long, env = "QRSCAN_CACHE_ENTRIES", default_value_t = 1024)]
    pub cache_entries: u64,

    /// Image bytes held in memory across all requests (uploads being read, downloads, images
    /// waiting for or in a decode); a request that needs more is refused at once with 503.
    #[arg(long, env = "QRSCAN_MAX_BUFFERED_BYTES", default_value = "128MiB", value_parser = parse_size)]
    pub max_buffered_bytes: u64,

    /// On SIGTERM or SIGINT, keep serving this long with `/readyz` answering 503, so load
    /// balancers stop sending work before the listener closes (e.g. 5s behind Kubernetes).
    #[arg(long, env = "QRSCAN_DRAIN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    pub drain_delay: Duration,

    /// After the drain delay, how long requests in flight may take to finish before the
    /// process exits anyway.
    #[arg(long, env = "QRSCAN_SHUTDOWN_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,

    /// Time a client has to send a whole request head: from opening the connection, or from
    /// the first byte of its next request on a kept-alive one. Past it the connection is closed.
    #[arg(long, env = "QRSCAN_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Time a kept-alive connection may wait for its next request, sending nothing, before it
    /// is closed. Longer than a load balancer's own idle timeout (60 s on AWS), so the balancer
    /// never reuses a connection this server is closing.
    #[arg(long, env = "QRSCAN_IDLE_TIMEOUT", default_value = "75s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Client connections open at once; past it, new ones wait in the listen backlog until one
    /// closes. Each needs a file descriptor, and each request in flight may need another for its
    /// download: the soft open-files limit is raised to fit, up to the hard limit.
    #[arg(long, env = "QRSCAN_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    #[command(flatten)]
    pub engine: EngineFlags,
}

impl std::fmt::Debug for ServeFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeFlags")
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("api_keys_file", &self.api_keys_file)
            .field("rate_limit", &self.rate_limit)
            .field("rate_burst", &self.rate_burst)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("forwarded_header", &self.forwarded_header)
            .field("http_status", &self.http_status)
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("cache_entries", &self.cache_entries)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("drain_delay", &self.drain_delay)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("engine", &self.engine)
            .finish()
    }
}

/// How business outcomes map to HTTP statuses (`--http-status`); the statuses themselves are
/// decided in `error.rs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpStatusMode {
    /// 200 for every business outcome, like the hosted cli.im API.
    #[default]
    Compat,
    /// A meaningful HTTP status per code, for gateways and dashboards.
    Rest,
}

/// How `provider` is spelled in responses (`--provider-case`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderCase {
    #[default]
    Enum,
    Lower,
}

/// Parses `1048576`, `512KiB`, `10MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 10MiB or 1048576"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_bytes_and_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("2mb"), Ok(2_000_000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10XB").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
