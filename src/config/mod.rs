//! Configuration (API.md section 7), parsed and validated once at start-up. Every option is a
//! flag and a `QRSCAN_<NAME>` environment variable (`flags.rs`, the clap definitions and their
//! `--help` text); one step per subcommand turns the flags into the typed configuration the rest
//! of the crate runs on (`runtime.rs`: `ServeFlags::validate` -> `Service`, and
//! `EngineFlags::validate` -> `Engine`, which `serve` and `scan` both go through), or into a
//! `ConfigError` naming the flag. The API keys in force (`keys.rs`) are part of it: read then,
//! and again on SIGHUP. Secrets (API keys) are redacted in `Debug` and never logged.
//!
//! Depends only on the option types of the layers below (`fetch`, `classify`, `client`, the
//! decoder's), never on the HTTP edge or the use case.

mod flags;
mod keys;
mod runtime;

pub use self::flags::{parse_size, EngineFlags, HttpStatusMode, ProviderCase, ServeFlags};
pub use self::keys::{ApiKeys, KeysFileError};
pub use self::runtime::{
    cpu_count, ConfigError, ConnectionLimits, Drain, Engine, PoolSize, RateLimit, RateLimitError,
    Service,
};
