//! The validated configuration: what the service and the scanner run with, built from the flags
//! in one step, `ServeFlags::validate` for `serve` and `EngineFlags::validate` for the part
//! `serve` and `scan` share (the first calls the second, so both subcommands check the same
//! things the same way). Every way the flags can be wrong is a `ConfigError` naming the flag;
//! files the flags name (`--rules`, `--api-keys-file`, `--file-root`) are read or opened here,
//! once. Past this point nothing fails on configuration: a `Scanner` or a server state is built
//! from a `Service` or an `Engine` without an error path.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::flags::{EngineFlags, HttpStatusMode, ProviderCase, ServeFlags};
use super::keys::{ApiKeys, KeysFileError};
use crate::classify::{Rules, RulesError};
use crate::client::ForwardedHeader;
use crate::fetch::policy::{AddressPolicy, HostPolicy};
use crate::fetch::{FetchOptions, Proxy, ProxyError};
use qrscan_decode::{DecodeOptions, PdfOptions};

/// Why the flags cannot be run with. Each message names the flag to change. The error a variant
/// wraps is part of its message, not its `source`, so it is said once however it is printed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--rate-burst needs --rate-limit")]
    BurstWithoutRate,
    #[error("--rate-limit/--rate-burst: {0}")]
    RateLimit(RateLimitError),
    #[error("--file-root {} is not a usable directory: {reason}", path.display())]
    FileRoot {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("--proxy: {0}")]
    Proxy(ProxyError),
    #[error("--rules {}: {reason}", path.display())]
    Rules { path: PathBuf, reason: RulesError },
    #[error("{0}")]
    KeysFile(KeysFileError),
    #[error("--pdf-pages: the path of this program, to draw pages with, is unknown: {0}")]
    PdfRenderer(std::io::Error),
}

/// What `serve` and `scan` share, validated: everything a `Scanner` is built from.
#[derive(Clone, Debug)]
pub struct Engine {
    pub fetch: FetchOptions,
    pub decode: DecodeOptions,
    pub rules: Rules,
    pub provider_case: ProviderCase,
}

/// Everything `serve` runs with, validated.
#[derive(Debug)]
pub struct Service {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub engine: Engine,
    /// The keys in force, the keys file read.
    pub api_keys: ApiKeys,
    pub rate_limit: Option<RateLimit>,
    pub trusted_proxies: Vec<IpNet>,
    pub forwarded_header: ForwardedHeader,
    pub http_status: HttpStatusMode,
    pub pool: PoolSize,
    /// Decode results remembered; 0 disables the cache.
    pub cache_entries: u64,
    /// Image bytes held in memory across all requests.
    pub max_buffered_bytes: u64,
    pub drain: Drain,
    pub connections: ConnectionLimits,
}

/// The decode pool (`--workers`, `--queue`): decodes running at once, and waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSize {
    pub workers: usize,
    pub queue: usize,
}

/// The limits on client connections (`--header-read-timeout`, `--idle-timeout`,
/// `--max-connections`): what a client that connects and then sends slowly, or nothing, can hold.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// The shutdown sequence (`--drain-delay`, `--shutdown-timeout`): not ready at once, still
/// serving for `delay`, then no new connections and `timeout` for the requests in flight.
#[derive(Clone, Copy, Debug, Default)]
pub struct Drain {
    pub delay: Duration,
    pub timeout: Duration,
}

/// A token bucket: one token every `period`, at most `burst` saved up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub period: Duration,
    pub burst: NonZeroU32,
}

/// Why a rate and burst make no token bucket.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RateLimitError {
    #[error("the rate must be between 0.001 and 1000000 requests per second, not {0}")]
    Rate(f64),
    #[error("the burst must be at least 1")]
    Burst,
}

impl RateLimit {
    /// `per_second` tokens a second (0.001 to 1,000,000), `burst` of them at once (default: the
    /// rate rounded up).
    pub fn new(per_second: f64, burst: Option<u32>) -> Result<Self, RateLimitError> {
        if !(0.001..=1_000_000.0).contains(&per_second) {
            return Err(RateLimitError::Rate(per_second));
        }
        let default_burst = per_second.ceil() as u32;
        let burst = NonZeroU32::new(burst.unwrap_or(default_burst)).ok_or(RateLimitError::Burst)?;
        Ok(RateLimit {
            period: Duration::from_secs_f64(1.0 / per_second),
            burst,
        })
    }
}

/// The default number of decode workers (and CLI jobs): the CPUs this process may use.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl EngineFlags {
    /// PDF pages: how many, drawn by children of `--pdf-renderer` (this binary by default).
    fn pdf_options(&self) -> Result<PdfOptions, ConfigError> {
        if self.pdf_pages == 0 {
            return Ok(PdfOptions::default());
        }
        let program = match &self.pdf_renderer {
            Some(program) => program.clone(),
            None => std::env::current_exe().map_err(ConfigError::PdfRenderer)?,
        };
        Ok(PdfOptions {
            pages: self.pdf_pages,
            renderer: Some(crate::pdf_sandbox::renderer(program)),
        })
    }

    /// The fetch and decode options, the proxy checked, `--file-root` made canonical and the
    /// `--rules` file read; the one check of the flags `serve` and `scan` share.
    pub fn validate(&self) -> Result<Engine, ConfigError> {
        let file_root = match &self.file_root {
            Some(dir) => {
                Some(
                    std::fs::canonicalize(dir).map_err(|reason| ConfigError::FileRoot {
                        path: dir.clone(),
                        reason,
                    })?,
                )
            }
            None => None,
        };
        let proxy = match &self.proxy {
            Some(url) => Some(Proxy::new(url.clone()).map_err(ConfigError::Proxy)?),
            None => None,
        };
        let rules = match &self.rules {
            Some(path) => Rules::from_file(path).map_err(|reason| ConfigError::Rules {
                path: path.clone(),
                reason,
            })?,
            None => Rules::default(),
        };
        Ok(Engine {
            fetch: FetchOptions {
                addresses: AddressPolicy {
                    allow_loopback: self.allow_loopback,
                    allow_private: self.allow_private,
                    allow_cidrs: self.allow_cidr.clone(),
                },
                hosts: HostPolicy {
                    allow: self.allow_host.clone(),
                    deny: self.deny_host.clone(),
                },
                file_root,
                proxy,
                connect_timeout: self.connect_timeout,
                fetch_timeout: self.fetch_timeout,
                max_redirects: self.max_redirects,
                max_bytes: self.max_image_bytes,
            },
            decode: DecodeOptions {
                max_pixels: self.max_pixels,
                max_decoder_bytes: self.max_decode_memory,
                budget: self.decode_budget,
                formats: self.formats,
                pdf: self.pdf_options()?,
            },
            rules,
            provider_case: self.provider_case,
        })
    }
}

impl ServeFlags {
    /// Everything `serve` runs with: the engine's options (`EngineFlags::validate`), then the
    /// API keys (the keys file read), then the rate limit.
    pub fn validate(&self) -> Result<Service, ConfigError> {
        let engine = self.engine.validate()?;
        let api_keys = ApiKeys::new(&self.api_keys, self.api_keys_file.as_deref())
            .map_err(ConfigError::KeysFile)?;
        let rate_limit = match (self.rate_limit, self.rate_burst) {
            (None, None) => None,
            (None, Some(_)) => return Err(ConfigError::BurstWithoutRate),
            (Some(rate), burst) => {
                Some(RateLimit::new(rate, burst).map_err(ConfigError::RateLimit)?)
            }
        };
        Ok(Service {
            listen: self.listen,
            admin_listen: self.admin_listen,
            engine,
            api_keys,
            rate_limit,
            trusted_proxies: self.trusted_proxies.clone(),
            forwarded_header: self.forwarded_header,
            http_status: self.http_status,
            pool: PoolSize {
                workers: self.workers.unwrap_or_else(cpu_count),
                queue: self.queue,
            },
            cache_entries: self.cache_entries,
            max_buffered_bytes: self.max_buffered_bytes,
            drain: Drain {
                delay: self.drain_delay,
                timeout: self.shutdown_timeout,
            },
            connections: ConnectionLimits {
                header_read_timeout: self.header_read_timeout,
                idle_timeout: self.idle_timeout,
                max_connections: self.max_connections as usize,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The flags of `qrscan serve`, alone.
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        flags: ServeFlags,
    }

    /// `qrscan serve` with `args`, parsed as the binary parses them, then validated.
    fn serve(args: &[&str]) -> Result<Service, ConfigError> {
        let argv = [&["serve"][..], args].concat();
        Serve::try_parse_from(argv)
            .expect("flags parse")
            .flags
            .validate()
    }

    /// The message of the error `args` give.
    fn refusal(args: &[&str]) -> String {
        serve(args).expect_err("refused").to_string()
    }

    #[test]
    fn rate_limits_take_fractions_and_default_the_burst_to_the_rate() {
        let limit = RateLimit::new(0.5, None).unwrap();
        assert_eq!(limit.period, Duration::from_secs(2));
        assert_eq!(limit.burst.get(), 1);
        let limit = RateLimit::new(10.0, None).unwrap();
        assert_eq!(limit.period, Duration::from_millis(100));
        assert_eq!(limit.burst.get(), 10);
        assert_eq!(RateLimit::new(2.5, Some(7)).unwrap().burst.get(), 7);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(RateLimit::new(bad, None).is_err(), "{bad}");
        }
        assert_eq!(RateLimit::new(1.0, Some(0)), Err(RateLimitError::Burst));
    }

    #[test]
    fn the_defaults_validate_into_the_documented_configuration() {
        let service = serve(&[]).expect("the defaults are valid");
        assert_eq!(service.listen, "127.0.0.1:8080".parse().unwrap());
        assert!(service.rate_limit.is_none());
        assert!(!service.api_keys.is_enabled());
        assert_eq!(service.pool.workers, cpu_count());
        assert_eq!(service.pool.queue, 64);
        assert_eq!(service.engine.fetch.max_bytes, 10 * 1024 * 1024);
        assert_eq!(service.engine.fetch.max_redirects, 5);
        assert!(service.engine.fetch.proxy.is_none() && service.engine.fetch.file_root.is_none());
        assert_eq!(service.engine.decode.max_pixels, 40_000_000);
        assert_eq!(service.connections.max_connections, 1024);
        assert_eq!(service.drain.timeout, Duration::from_secs(15));

        let limited = serve(&["--rate-limit", "4", "--workers", "3"]).expect("valid");
        let limit = limited.rate_limit.expect("a rate limit");
        assert_eq!(
            (limit.period, limit.burst.get()),
            (Duration::from_millis(250), 4)
        );
        assert_eq!(limited.pool.workers, 3);
    }

    #[test]
    fn a_burst_without_a_rate_is_refused_naming_both_flags() {
        assert_eq!(
            refusal(&["--rate-burst", "5"]),
            "--rate-burst needs --rate-limit"
        );
    }

    #[test]
    fn a_rate_out_of_range_or_a_zero_burst_is_refused_naming_the_flags() {
        assert_eq!(
            refusal(&["--rate-limit", "0"]),
            "--rate-limit/--rate-burst: the rate must be between 0.001 and 1000000 requests per second, not 0"
        );
        assert_eq!(
            refusal(&["--rate-limit", "2000000"]),
            "--rate-limit/--rate-burst: the rate must be between 0.001 and 1000000 requests per second, not 2000000"
        );
        assert_eq!(
            refusal(&["--rate-limit", "1", "--rate-burst", "0"]),
            "--rate-limit/--rate-burst: the burst must be at least 1"
        );
    }

    #[test]
    fn a_file_root_that_is_not_there_is_refused_naming_the_flag_and_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nowhere");
        let message = refusal(&["--file-root", missing.to_str().expect("utf-8")]);
        let expected = format!(
            "--file-root {} is not a usable directory: ",
            missing.display()
        );
        assert!(message.starts_with(&expected), "{message}");
    }

    #[test]
    fn a_rules_file_missing_or_malformed_is_refused_naming_the_flag_and_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("rules.toml");
        let missing = missing.to_str().expect("utf-8");
        let message = refusal(&["--rules", missing]);
        assert!(
            message.starts_with(&format!("--rules {missing}: cannot read rules file")),
            "{message}"
        );

        let malformed = dir.path().join("bad.toml");
        std::fs::write(&malformed, "rules = 7").expect("write");
        let malformed = malformed.to_str().expect("utf-8");
        let message = refusal(&["--rules", malformed]);
        assert!(
            message.starts_with(&format!("--rules {malformed}: rules are not valid TOML")),
            "{message}"
        );
    }

    #[test]
    fn an_unreadable_api_keys_file_is_refused_naming_the_flag_and_never_a_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("keys");
        let missing = missing.to_str().expect("utf-8");
        let message = refusal(&["--api-keys", "s3cret", "--api-keys-file", missing]);
        assert!(
            message.starts_with(&format!(
                "cannot read the API keys file {missing} (--api-keys-file): "
            )),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn a_proxy_that_is_not_http_is_refused_naming_the_flag() {
        assert_eq!(
            refusal(&["--proxy", "socks5://127.0.0.1:1080"]),
            "--proxy: scheme `socks5` is not supported; use an http:// or https:// proxy"
        );
        let proxy = serve(&["--proxy", "http://127.0.0.1:3128"]).expect("valid");
        let url = proxy.engine.fetch.proxy.expect("a proxy");
        assert_eq!(url.url().as_str(), "http://127.0.0.1:3128/");
    }
}
