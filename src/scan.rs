//! The use case shared by the API and the CLI: input -> bytes (fetch) -> codes (decode, off the
//! async runtime on a bounded pool) -> providers (classify) -> the `data` object of the envelope.
//!
//! `DecodePool` is the one place CPU work leaves the runtime: at most `workers` decodes run at
//! once, at most `queue` more wait, and anything past that is refused at once with 503 instead of
//! queueing without bound. A decoder panic is an internal error for that request only. `ResultCache`
//! remembers decode results by the SHA-256 of the image bytes and the formats looked for, so
//! identical images decode once per format set.
//! Image bytes are held against the scanner's `ByteBudget` from their first byte until their
//! decode ends; a pool slot is only asked for once the whole image is in memory.
//!
//! Failures are a `ScanError`, which knows nothing of codes or HTTP: `error.rs` maps it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::budget::{ByteBudget, HeldBytes};
use crate::classify::{Provider, Rules};
use crate::config::{Engine, ProviderCase};
use crate::fetch::policy::Lookup;
use crate::fetch::{FetchError, Fetcher, ImageUrl};
use crate::metrics::Metrics;
use crate::payload::{self, ContentType, Payload};
use qrscan_decode::{self as decode, DecodeError, DecodeOptions, EcLevel, Format, Formats, QrCode};

/// Why a scan gave no codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// No image bytes: the URL, the download or the byte budget.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Bytes that hold no readable code.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Every decode worker busy and the queue full.
    #[error("the server is busy decoding other images; retry shortly")]
    Busy,
    /// A bug (a decoder panic); the detail is logged where it happens, never shown.
    #[error("internal error")]
    Internal,
}

/// `data` of a successful response: cli.im's two fields plus every code found.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ScanData {
    /// Text of the first (largest) code.
    pub content: String,
    /// Provider of the first code (lower case under `--provider-case lower`).
    #[schema(value_type = Provider)]
    pub provider: String,
    /// Every code in the image, first one first.
    pub codes: Vec<CodeData>,
}

/// One code in `data.codes`.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CodeData {
    pub content: String,
    #[schema(value_type = Provider)]
    pub provider: String,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left.
    #[schema(value_type = Vec<Vec<f32>>, min_items = 4, max_items = 4)]
    pub points: [[f32; 2]; 4],
    /// The symbology: `QRCode`, `MicroQRCode` or `rMQRCode`.
    pub format: Format,
    /// The symbol's own version: 1-40 for QR Code, 1-4 for Micro QR M1-M4, 1-32 for rMQR
    /// (R7x43 to R17x139 in ISO/IEC 23941's order).
    #[schema(minimum = 1, maximum = 40)]
    pub version: u8,
    pub ec_level: EcLevel,
    /// The charset the text was read with: UTF-8, GB18030, Shift_JIS, ISO-8859-1, ...
    #[schema(value_type = String)]
    pub encoding: &'static str,
    /// DeepScan's class of the text, from its prefix.
    pub content_type: ContentType,
    /// 1 - codewords corrected / correction capacity, over the symbol's blocks (0 to 1).
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// The text parsed, when it is a Wi-Fi, contact, e-mail, SMS, phone, geo or EMVCo payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub payload: Option<Payload>,
    /// The raw payload, only when it is not text in any charset tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub bytes_base64: Option<String>,
    /// The page it was found on, from 1, when the input was a PDF (`--pdf-pages`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false, minimum = 1)]
    pub page: Option<u32>,
}

/// Bounded concurrency for decoding: `workers` running, `queue` waiting, the rest refused.
pub struct DecodePool {
    running: Arc<Semaphore>,
    admitted: AtomicUsize,
    capacity: usize,
}

impl DecodePool {
    /// A pool of `workers` threads' worth of decoding with `queue` places to wait.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        DecodePool {
            running: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            capacity: workers + queue,
        }
    }

    /// Decodes running or waiting for a worker now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Runs `work` on a blocking thread once a worker is free, or refuses at once when full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ScanError> {
        let admitted = self.admitted.fetch_add(1, Ordering::AcqRel);
        let _slot = AdmissionSlot(&self.admitted);
        if admitted >= self.capacity {
            return Err(ScanError::Busy);
        }
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ScanError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "decode task failed");
            ScanError::Internal
        })
    }
}

/// Gives back an admission when the request finishes, however it finishes.
struct AdmissionSlot<'a>(&'a AtomicUsize);

impl Drop for AdmissionSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What one decode produced; cached and shared between identical requests.
type Outcome = Arc<Result<Vec<QrCode>, DecodeError>>;

/// A cache key: the SHA-256 of the image bytes, and the formats looked for in them (a request
/// for QR codes only must not be answered with the Micro QR codes another request found).
type Key = ([u8; 32], Formats);

/// Decode outcomes by SHA-256 of the image bytes and format set. It holds results, never images.
pub struct ResultCache {
    entries: Option<moka::sync::Cache<Key, Outcome>>,
}

impl ResultCache {
    /// A cache of at most `entries` results; 0 disables caching.
    pub fn new(entries: u64) -> Self {
        ResultCache {
            entries: (entries > 0).then(|| moka::sync::Cache::new(entries)),
        }
    }

    fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    fn get(&self, key: &Key) -> Option<Outcome> {
        self.entries.as_ref()?.get(key)
    }

    fn remember(&self, key: Key, outcome: &Result<Vec<QrCode>, DecodeError>) {
        // "No code" may be the time budget running out under load, so only outcomes that the
        // same bytes always produce are kept.
        let deterministic = matches!(
            outcome,
            Ok(_)
                | Err(DecodeError::NotAnImage(_)
                    | DecodeError::TooManyPixels { .. }
                    | DecodeError::TooMuchMemory { .. }
                    | DecodeError::TooElongated { .. })
        );
        if let (Some(cache), true) = (&self.entries, deterministic) {
            cache.insert(key, Arc::new(outcome.clone()));
        }
    }
}

/// Everything a scan needs, built once at start-up and shared.
pub struct Scanner {
    pub fetcher: Fetcher,
    pub decode_options: DecodeOptions,
    pub rules: Rules,
    pub provider_case: ProviderCase,
    pub pool: DecodePool,
    pub cache: ResultCache,
    /// Image bytes in memory across all requests.
    pub budget: ByteBudget,
    pub metrics: Arc<Metrics>,
}

impl Scanner {
    /// A scanner for `engine`'s validated fetch and decode options and rules, resolving image
    /// hosts through `lookup` (the system resolver outside tests), over the given pool, cache,
    /// byte budget and metrics. Nothing here can fail: the configuration was checked before.
    pub fn new(
        engine: Engine,
        lookup: Arc<dyn Lookup>,
        pool: DecodePool,
        cache: ResultCache,
        budget: ByteBudget,
        metrics: Arc<Metrics>,
    ) -> Self {
        Scanner {
            fetcher: Fetcher::with_lookup(engine.fetch, lookup),
            decode_options: engine.decode,
            rules: engine.rules,
            provider_case: engine.provider_case,
            pool,
            cache,
            budget,
            metrics,
        }
    }

    /// The formats looked for when a request does not narrow them (`--formats`).
    pub fn formats(&self) -> Formats {
        self.decode_options.formats
    }

    /// Fetches `url` and scans the image behind it for `formats`.
    pub async fn scan_url(&self, url: &str, formats: Formats) -> Result<ScanData, ScanError> {
        let url = ImageUrl::parse(url, self.fetcher.options())?;
        let started = Instant::now();
        let fetched = self.fetcher.fetch(&url, &self.budget).await;
        let size = fetched.as_ref().map_or(0, HeldBytes::len);
        self.metrics.observe_fetch(started.elapsed(), size);
        self.scan_bytes(fetched?, formats).await
    }

    /// Scans image bytes the caller already has for `formats`. They (and a reservation they
    /// carry) are dropped when the decode ends, even if the caller has gone away.
    pub async fn scan_bytes(
        &self,
        bytes: impl AsRef<[u8]> + Send + 'static,
        formats: Formats,
    ) -> Result<ScanData, ScanError> {
        let key: Key = (Sha256::digest(bytes.as_ref()).into(), formats);
        let cached = self.cache.get(&key);
        if self.cache.is_enabled() {
            self.metrics.observe_cache(cached.is_some());
        }
        let outcome = match cached {
            Some(cached) => (*cached).clone(),
            None => {
                let options = DecodeOptions {
                    formats,
                    ..self.decode_options.clone()
                };
                let (outcome, elapsed) = self
                    .pool
                    .run(move || {
                        let started = Instant::now();
                        (decode::decode(bytes.as_ref(), &options), started.elapsed())
                    })
                    .await?;
                let strategy = outcome.as_ref().ok().and_then(|codes| codes.first());
                self.metrics
                    .observe_decode(elapsed, strategy.map(|c| c.strategy.label()).as_deref());
                self.cache.remember(key, &outcome);
                outcome
            }
        };
        Ok(self.describe(&outcome?))
    }

    /// Classifies decoded codes and shapes them as `data`.
    pub fn describe(&self, codes: &[QrCode]) -> ScanData {
        let codes: Vec<CodeData> = codes
            .iter()
            .map(|code| {
                let provider = self.rules.classify(&code.content.text);
                CodeData {
                    content: code.content.text.clone(),
                    provider: self.spell(provider),
                    points: code.points,
                    format: code.format,
                    version: code.version,
                    ec_level: code.ec_level,
                    encoding: code.content.encoding,
                    content_type: ContentType::of(&code.content.text),
                    confidence: code.correction.confidence(),
                    payload: payload::parse(&code.content.text),
                    bytes_base64: code
                        .content
                        .binary
                        .as_ref()
                        .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                    page: code.page,
                }
            })
            .collect();
        let (content, provider) = codes
            .first()
            .map(|c| (c.content.clone(), c.provider.clone()))
            .unwrap_or_else(|| (String::new(), self.spell(Provider::Other)));
        ScanData {
            content,
            provider,
            codes,
        }
    }

    fn spell(&self, provider: Provider) -> String {
        match self.provider_case {
            ProviderCase::Enum => provider.as_str().to_owned(),
            ProviderCase::Lower => provider.as_str().to_ascii_lowercase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_and_levels_serialize_as_the_api_spells_them() {
        let names = serde_json::to_string(&Format::ALL).unwrap();
        assert_eq!(names, r#"["QRCode","MicroQRCode","rMQRCode"]"#);
        let levels = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];
        assert_eq!(
            serde_json::to_string(&levels).unwrap(),
            r#"["L","M","Q","H"]"#
        );
    }

    #[tokio::test]
    async fn the_pool_refuses_at_once_when_workers_and_queue_are_full() {
        let pool = Arc::new(DecodePool::new(1, 1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let busy = |pool: Arc<DecodePool>,
                    wait: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>| {
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait
                        .lock()
                        .map(|rx| rx.recv_timeout(Duration::from_secs(5)));
                })
                .await
            })
        };
        let running = busy(pool.clone(), wait.clone());
        let queued = busy(pool.clone(), wait.clone());
        while pool.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run(|| ()).await.unwrap_err();
        assert_eq!(refused, ScanError::Busy);
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        assert!(queued.await.unwrap().is_ok());
        assert!(pool.run(|| 7).await.is_ok());
    }

    #[tokio::test]
    async fn a_panic_in_decoding_is_an_internal_error_for_that_request_only() {
        let pool = DecodePool::new(1, 0);
        let err = pool.run(|| panic!("boom")).await.unwrap_err();
        assert_eq!(err, ScanError::Internal);
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }

    #[test]
    fn the_cache_keeps_only_outcomes_the_same_bytes_always_produce() {
        let cache = ResultCache::new(16);
        let key = |byte: u8| ([byte; 32], Formats::ALL);
        let (a, b, c) = (key(1), key(2), key(3));
        cache.remember(a, &Ok(Vec::new()));
        cache.remember(b, &Err(DecodeError::NotAnImage("x".into())));
        cache.remember(c, &Err(DecodeError::NoCode));
        assert!(cache.get(&a).is_some());
        assert!(cache.get(&b).is_some());
        assert!(
            cache.get(&c).is_none(),
            "no-code may be the budget running out"
        );
        let disabled = ResultCache::new(0);
        disabled.remember(a, &Ok(Vec::new()));
        assert!(disabled.get(&a).is_none());
    }

    #[test]
    fn the_same_bytes_looked_at_for_other_formats_are_another_entry() {
        let cache = ResultCache::new(16);
        let digest = [7u8; 32];
        cache.remember((digest, Formats::ALL), &Ok(Vec::new()));
        assert!(cache.get(&(digest, Formats::ALL)).is_some());
        assert!(cache.get(&(digest, Formats::QR)).is_none());
    }
}
