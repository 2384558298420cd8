//! qrscan: a local-first, offline, drop-in replacement for cli.im's `POST /api/v1/qrcode/scan_url`.
//! It fetches an image (or takes one from disk), finds every QR code in it, and classifies the
//! provider of each from a rules table. `../shared/API.md` is the contract. Decoding itself, image
//! bytes to codes, is the `qrscan_decode` crate (`crates/decode/`): pure and synchronous, it knows
//! nothing of this crate, tokio or HTTP.
//!
//! # Layout
//!
//! Dependencies point one way: each arrow is a `use crate::...`, and a module may use any module
//! below it on its path, never one above.
//!
//! ```text
//! main -> commands -> server -> openapi -> http -> observe -> metrics | client
//!      |           |                       http -> error -> scan -> config -> fetch | classify | client | payload
//!      |           |  server -> listener -> metrics | config
//!      |           -> listener | cli -> config                   scan -> metrics | budget
//!      -> telemetry -> cli                 fetch -> budget
//! ```
//!
//! - `cli`: clap definitions (the `--help` text); `commands`: what each subcommand does.
//! - `server`: state construction, the route table, `serve(listener, state, shutdown)`.
//! - `listener`: the accept loop: the connection cap, the header-read and idle timeouts, the
//!   peer address on each request, and closing connections on shutdown.
//! - `openapi`: the OpenAPI document and its route; it names the handlers, nothing names it.
//! - `http`: the edge: state, thin handlers, the envelope, authentication, rate limits, request
//!   bodies, readiness.
//! - `client`: the client address of a request (the socket peer, or what trusted proxies say).
//! - `observe`: the request middleware (request id, log line, request metrics); `metrics`: the
//!   Prometheus registry, which knows nothing of axum.
//! - `error`: the one table of codes, messages and HTTP statuses.
//! - `scan`: the use case: fetch -> decode on a bounded pool -> classify.
//! - `config`: the one typed configuration, flags and `QRSCAN_*` variables, and the option types
//!   it hands to the layers below.
//! - `fetch`: `ImageUrl`, `Fetcher`, the address policy (`policy`), `file:` URLs under the root
//!   (`file`) and every download limit.
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
pub mod scan;
pub mod server;
pub mod telemetry;
