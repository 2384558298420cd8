//! Rate limits (API.md section 4, code 429 with `Retry-After`): a token bucket per API key, and
//! per client address for requests without a valid key (`--rate-limit`, `--rate-burst`; off by
//! default). The buckets are governor's GCRA cells, one atomic word each, kept in a bounded cache
//! (`MAX_BUCKETS`), so an attacker rotating keys or addresses cannot grow memory. A bucket idle
//! long enough to have refilled is forgotten, which changes nothing: a new one starts full too.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

use super::auth::KeyId;
use crate::config::RateLimit;
use crate::error::ApiError;

/// Buckets kept at most. Each is a few hundred bytes with the cache's bookkeeping, so the
/// limiter stays under about 30 MiB however many clients there are. Past it, the least used
/// buckets are dropped first.
pub const MAX_BUCKETS: u64 = 100_000;

/// Whose requests share a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// A valid API key.
    Key(KeyId),
    /// A client address (`ClientAddr::bucket`): no keys configured, or no valid key presented.
    Address(IpAddr),
}

impl Bucket {
    /// The label of `qrscan_rate_limited_total`.
    pub fn kind(self) -> &'static str {
        match self {
            Bucket::Key(_) => "key",
            Bucket::Address(_) => "address",
        }
    }
}

/// The rate limiter of the API routes; `check` lets everything through when limits are off.
pub struct RateLimiter {
    limit: Option<(
        Quota,
        moka::sync::Cache<Bucket, Arc<DefaultDirectRateLimiter>>,
    )>,
    clock: DefaultClock,
}

impl RateLimiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        let limit = limit.map(|limit| {
            let quota = Quota::with_period(limit.period)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(limit.burst);
            // A bucket refills completely in `burst` periods; after that long idle it is full,
            // and forgetting it loses nothing.
            let refill = limit.period.saturating_mul(limit.burst.get());
            let buckets = moka::sync::Cache::builder()
                .max_capacity(MAX_BUCKETS)
                .time_to_idle(refill.max(Duration::from_secs(1)))
                .build();
            (quota, buckets)
        });
        RateLimiter {
            limit,
            clock: DefaultClock::default(),
        }
    }

    /// Takes a token from `bucket`'s bucket, or says when one will be there.
    pub fn check(&self, bucket: Bucket) -> Result<(), ApiError> {
        let Some((quota, buckets)) = &self.limit else {
            return Ok(());
        };
        let cell = buckets.get_with(bucket, || Arc::new(governor::RateLimiter::direct(*quota)));
        cell.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Whole seconds, rounded up: retrying at the stated time always finds a token.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::rate_limited(seconds)
        })
    }

    /// Buckets held now (for `/metrics`).
    pub fn buckets(&self) -> u64 {
        self.limit.as_ref().map_or(0, |(_, buckets)| {
            buckets.run_pending_tasks();
            buckets.entry_count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn limiter(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(Some(
            RateLimit::new(per_second, Some(burst)).expect("valid limit"),
        ))
    }

    fn address(n: u32) -> Bucket {
        Bucket::Address(IpAddr::V4(n.into()))
    }

    #[test]
    fn off_lets_everything_through() {
        let limiter = RateLimiter::new(None);
        for _ in 0..1000 {
            assert!(limiter.check(address(1)).is_ok());
        }
        assert_eq!(limiter.buckets(), 0);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_answers_429_with_a_whole_retry_after() {
        // One token per 100 s: nothing refills while the test runs.
        let limiter = limiter(0.01, 3);
        for _ in 0..3 {
            assert!(limiter.check(address(1)).is_ok());
        }
        let refused = limiter.check(address(1)).expect_err("over the burst");
        assert_eq!(refused.kind, ErrorKind::RateLimited);
        let retry_after = refused.retry_after.expect("a Retry-After");
        assert!((99..=100).contains(&retry_after), "{retry_after}");
        // Other buckets are untouched.
        assert!(limiter.check(address(2)).is_ok());
    }

    #[test]
    fn rotating_addresses_cannot_grow_the_buckets_past_the_cap() {
        let limiter = limiter(0.01, 1);
        let rotations = u32::try_from(MAX_BUCKETS).unwrap() * 2;
        for n in 0..rotations {
            let _ = limiter.check(address(n));
        }
        let held = limiter.buckets();
        assert!(held <= MAX_BUCKETS, "{held} buckets");
        assert!(held > 0);
    }
}
