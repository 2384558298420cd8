//! qrscan: a local-first, offline, drop-in replacement for cli.im's `POST /api/v1/qrcode/scan_url`.
//! It fetches an image (or takes one from disk), finds every QR code in it, and classifies the
//! provider of each from a rules table. `../shared/API.md` is the contract. Decoding itself, image
//! bytes to codes, is the `qrscan_decode` crate (`crates/decode/`): pure and synchronous, it knows
//! nothing of this crate, tokio or HTTP.
//!
//! # Layout
//!
//! Dependencies point one way. Each line names a module and the modules its `use crate::...`
//! lines (and `crate::` paths) reach; every one of them is on a line below it, so there is no
//! circle. Tests may use more.
//!
//! ```text
//! main      -> cli commands server telemetry          (through the library, `qrscan::`)
//! commands  -> server listener http error scan config cli fetch budget pdf_sandbox
//! telemetry -> cli
//! cli       -> config
//! server    -> openapi http listener observe scan config client fetch metrics budget
//! openapi   -> http error scan config classify
//! http      -> observe error scan config fetch client payload metrics budget
//! listener  -> config metrics
//! observe   -> client metrics
//! error     -> scan config fetch budget
//! scan      -> config fetch classify payload metrics budget
//! config    -> fetch classify client pdf_sandbox
//! fetch     -> budget
//! budget, classify, client, metrics, payload, pdf_sandbox: no other module
//! ```
//!
//! Inside a folder the same holds between its files (`mod.rs` uses its files and re-exports,
//! none uses it back):
//!
//! ```text
//! http:     mod -> deqr -> deepscan -> admission -> body -> auth -> state -> limit -> caller
//!           (each uses only files to its right; request and envelope use none of them)
//! config:   mod -> runtime -> flags | keys
//! listener: mod -> activity -> framer
//! fetch:    mod -> file | policy, file -> error
//! payload:  mod -> contact | emvco, contact -> fields
//! budget:   mod -> mapped
//! ```
//!
//! - `cli`: clap definitions (the `--help` text); `commands`: what each subcommand does, the
//!   only place `anyhow` is used.
//! - `server`: state construction, the route table, `serve(listener, state, shutdown)`.
//! - `listener`: the accept loop and the connection cap (`mod`), each connection's header-read
//!   and idle timeouts (`activity`) and where its request heads and bodies end (`framer`); the
//!   peer address on each request, and closing connections on shutdown.
//! - `openapi`: the OpenAPI document and its route; it names the handlers, nothing names it.
//! - `http`: the edge: thin handlers and the probes (`mod`), `AppState` (`state`), what a
//!   request carries (`request`) and reading its body under the limits (`body`), the envelope
//!   (`envelope`); before each scan handler authentication says who the caller is (`auth`,
//!   `caller`) and admission whether it may go on (`admission`: the rate limit of `limit`, then
//!   the key); cli.im's other two calls (`deepscan`, `deqr`).
//! - `client`: the client address of a request (the socket peer, or what trusted proxies say).
//! - `observe`: the request middleware (request id, log line, request metrics); `metrics`: the
//!   Prometheus registry, which knows nothing of axum.
//! - `error`: the one table of codes, messages and HTTP statuses.
//! - `scan`: the use case: fetch -> decode on a bounded pool -> classify.
//! - `config`: the flags and `QRSCAN_*` variables (`flags`), validated once into the typed
//!   configuration `serve` and `scan` run with (`runtime`: `Service`, `Engine`, `ConfigError`),
//!   and the API keys in force (`keys`).
//! - `fetch`: `ImageUrl`, `Fetcher`, `Proxy`, `FetchError` (`error`), the address policy
//!   (`policy`), `file:` URLs under the root (`file`) and every download limit.
//! - `classify`: `Provider` and the rules table; pure.
//! - `payload`: a code's text -> its `content_type` and parsed `payload` (Wi-Fi, contacts,
//!   e-mail, SMS, phone, geo, EMVCo); pure.
//! - `budget`: the server-wide budget of image bytes held in memory, the capped buffer every
//!   body and download is read into, and the memory-mapped bytes under it.
//! - `telemetry`: logging set-up.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod budget;
pub mod classify;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod fetch;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod payload;
pub mod pdf_sandbox;
pub mod scan;
pub mod server;
pub mod telemetry;
