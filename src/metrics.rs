//! Prometheus metrics (`GET /metrics`): requests by route and code, latency histograms for the
//! request, the fetch and the decode, bytes fetched, the decode strategy that succeeded, requests
//! in flight, client connections open, decodes admitted to the pool, image bytes held in memory,
//! and result-cache hits and misses.
//!
//! Each `AppState` owns its own registry (no global recorder), so servers started side by side in
//! one process — as the tests do — never mix their numbers. Knows nothing of axum or reqwest.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    code: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StrategyLabels {
    strategy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabels {
    bucket: &'static str,
}

/// 1 ms to ~33 s, doubling: covers a cache hit and a fetch that runs into its timeout.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    fetch_seconds: Histogram,
    decode_seconds: Histogram,
    fetched_bytes: Counter,
    decode_strategy: Family<StrategyLabels, Counter>,
    in_flight: Gauge,
    decodes_admitted: Gauge,
    buffered_bytes: Gauge,
    cache_hits: Counter,
    cache_misses: Counter,
    rate_limited: Family<BucketLabels, Counter>,
    rate_limit_buckets: Gauge,
    open_connections: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("qrscan");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let fetch_seconds = latency_histogram();
        let decode_seconds = latency_histogram();
        let fetched_bytes = Counter::default();
        let decode_strategy = Family::<StrategyLabels, Counter>::default();
        // Every row of the decoder's search plan from the start, at 0: a dashboard sees which
        // strategies never read anything, and the label set is the plan's, not what happened.
        for step in qrscan_decode::PLAN {
            let _counter = decode_strategy.get_or_create(&StrategyLabels {
                strategy: step.strategy.label(),
            });
        }
        let in_flight = Gauge::default();
        let decodes_admitted = Gauge::default();
        let buffered_bytes = Gauge::default();
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let rate_limited = Family::<BucketLabels, Counter>::default();
        let rate_limit_buckets = Gauge::default();
        let open_connections = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by route and envelope code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by route",
            request_seconds.clone(),
        );
        registry.register(
            "fetch_duration_seconds",
            "Time to download an image",
            fetch_seconds.clone(),
        );
        registry.register(
            "decode_duration_seconds",
            "Time to decode an image (cache misses only)",
            decode_seconds.clone(),
        );
        registry.register(
            "fetched_bytes",
            "Image bytes downloaded",
            fetched_bytes.clone(),
        );
        registry.register(
            "decode_strategy",
            "Decodes that found a code, by the strategy that found it",
            decode_strategy.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests being answered now",
            in_flight.clone(),
        );
        registry.register(
            "decodes_admitted",
            "Decodes running or waiting for a worker (--workers + --queue at most)",
            decodes_admitted.clone(),
        );
        registry.register(
            "buffered_bytes",
            "Image bytes held in memory, counted against --max-buffered-bytes",
            buffered_bytes.clone(),
        );
        registry.register(
            "cache_hits",
            "Decode results served from the cache",
            cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Decodes the cache could not answer",
            cache_misses.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with 429, by the bucket they were counted in (key or address)",
            rate_limited.clone(),
        );
        registry.register(
            "rate_limit_buckets",
            "Rate-limit buckets held (one per active key or client address)",
            rate_limit_buckets.clone(),
        );
        registry.register(
            "open_connections",
            "Client connections open now (--max-connections at most)",
            open_connections.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            fetch_seconds,
            decode_seconds,
            fetched_bytes,
            decode_strategy,
            in_flight,
            decodes_admitted,
            buffered_bytes,
            cache_hits,
            cache_misses,
            rate_limited,
            rate_limit_buckets,
            open_connections,
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn observe_request(&self, route: &str, code: u32, elapsed: Duration) {
        let route = route.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                code,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// One download, successful or not.
    pub fn observe_fetch(&self, elapsed: Duration, bytes: usize) {
        self.fetch_seconds.observe(elapsed.as_secs_f64());
        self.fetched_bytes.inc_by(bytes as u64);
    }

    /// One decode that ran (not served from the cache), and the strategy that found a code.
    pub fn observe_decode(&self, elapsed: Duration, strategy: Option<&str>) {
        self.decode_seconds.observe(elapsed.as_secs_f64());
        if let Some(strategy) = strategy {
            self.decode_strategy
                .get_or_create(&StrategyLabels {
                    strategy: strategy.to_owned(),
                })
                .inc();
        }
    }

    /// A cache lookup.
    pub fn observe_cache(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// A request refused by the rate limit; `bucket` is `key` or `address`.
    pub fn observe_rate_limited(&self, bucket: &'static str) {
        self.rate_limited
            .get_or_create(&BucketLabels { bucket })
            .inc();
    }

    /// The number of rate-limit buckets, read when metrics are scraped.
    pub fn observe_rate_limit_buckets(&self, buckets: u64) {
        self.rate_limit_buckets
            .set(i64::try_from(buckets).unwrap_or(i64::MAX));
    }

    /// Marks a request in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Counts a client connection as open until the guard drops; owned, so the connection's
    /// task can hold it.
    pub fn connection_opened(&self) -> OpenConnection {
        self.open_connections.inc();
        OpenConnection(self.open_connections.clone())
    }

    /// Requests being answered now.
    pub fn requests_in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// The load gauges, read from the pool and the byte budget when metrics are scraped.
    pub fn observe_load(&self, decodes_admitted: usize, buffered_bytes: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.decodes_admitted.set(gauge(decodes_admitted));
        self.buffered_bytes.set(gauge(buffered_bytes));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Decrements the in-flight gauge when the request ends, however it ends.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Decrements the open-connections gauge when the connection closes.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_search_plan_is_a_strategy_label_from_the_start() {
        let text = Metrics::default().render();
        for step in qrscan_decode::PLAN {
            let line = format!(
                r#"qrscan_decode_strategy_total{{strategy="{}"}} 0"#,
                step.strategy.label()
            );
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn observations_show_up_in_the_text_exposition() {
        let metrics = Metrics::default();
        metrics.observe_request("/api/v1/qrcode/scan_url", 1008, Duration::from_millis(3));
        metrics.observe_fetch(Duration::from_millis(2), 1234);
        metrics.observe_decode(Duration::from_millis(1), Some("rqrr"));
        metrics.observe_cache(true);
        metrics.observe_load(3, 4096);
        {
            let _guard = metrics.in_flight();
            assert!(metrics.render().contains("qrscan_in_flight_requests 1"));
        }
        let text = metrics.render();
        for line in [
            r#"qrscan_requests_total{route="/api/v1/qrcode/scan_url",code="1008"} 1"#,
            "qrscan_fetched_bytes_total 1234",
            r#"qrscan_decode_strategy_total{strategy="rqrr"} 1"#,
            "qrscan_cache_hits_total 1",
            "qrscan_cache_misses_total 0",
            "qrscan_in_flight_requests 0",
            "qrscan_decodes_admitted 3",
            "qrscan_buffered_bytes 4096",
            "qrscan_fetch_duration_seconds_count 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
