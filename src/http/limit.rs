//! Rate limits (API.md section 4, code 429 with `Retry-After`): a token bucket per API key, and
//! per client address for requests without a valid key (`--rate-limit`, `--rate-burst`; off by
//! default).
//!
//! A bucket is one GCRA cell: the instant it will be full again. Past that instant it is full,
//! exactly like a bucket never seen, so forgetting it loses nothing; before it, it is still
//! limiting, and it is never forgotten. The buckets are bounded (`MAX_BUCKETS` for addresses,
//! as many again for keys) and ordered by that instant, so room for a new one is made by
//! forgetting a full one. When every bucket held is still limiting, a new address is refused
//! (429, retry when the first of them is full) instead: rotating addresses past the bound buys a
//! client nothing. Keys and addresses are kept apart, so a flood of addresses never refuses a
//! valid key.
//!
//! It decides nothing about keys: `Bucket::of` reads which bucket a `Caller` counts against, and
//! admission (`admission.rs`) applies the limit to each request.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::caller::{Caller, KeyId};
use crate::config::RateLimit;
use crate::error::ApiError;

/// Address buckets kept at most (and as many key buckets, which only valid keys get). 100,000
/// of them take 7.3 MiB of resident memory, 76 bytes each (`examples/rate_limit_memory.rs`).
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
    /// The bucket `caller` counts against: its key's when it proved one, else its address's.
    pub fn of(caller: &Caller) -> Self {
        caller
            .key()
            .map_or(Bucket::Address(caller.client.bucket()), Bucket::Key)
    }

    /// The label of `qrscan_rate_limited_total`.
    pub fn kind(self) -> &'static str {
        match self {
            Bucket::Key(_) => "key",
            Bucket::Address(_) => "address",
        }
    }
}

/// Nanoseconds since the limiter was made: the clock of every bucket.
type Nanos = u64;

/// The token bucket of `RateLimit` as GCRA: a token every `period`, `capacity` (= burst x
/// period) of them saved up.
#[derive(Clone, Copy, Debug)]
struct Gcra {
    period: Nanos,
    capacity: Nanos,
}

impl Gcra {
    fn new(limit: RateLimit) -> Self {
        let period = u64::try_from(limit.period.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        Gcra {
            period,
            capacity: period.saturating_mul(u64::from(limit.burst.get())),
        }
    }

    /// Takes a token from a bucket full again at `full_at`: the bucket's next `full_at`, or the
    /// wait until a token is there.
    fn take(self, full_at: Nanos, now: Nanos) -> Result<Nanos, Nanos> {
        let next = full_at.max(now).saturating_add(self.period);
        let level = next - now;
        if level > self.capacity {
            Err(level - self.capacity)
        } else {
            Ok(next)
        }
    }
}

/// What `Table::pop_full` found at the top.
enum Top {
    /// A full bucket, now forgotten.
    Forgotten,
    /// Every bucket still limiting; the first is full after this wait.
    Limiting(Nanos),
    /// No bucket at all.
    Empty,
}

/// At most `capacity` buckets, each by the instant it is full again.
struct Table<K> {
    capacity: usize,
    full_at: HashMap<K, Nanos>,
    /// One entry per bucket, earliest first. An entry's instant is the bucket's `full_at` when it
    /// was pushed; taking a token only moves `full_at` later, so it is a lower bound, made exact
    /// when it reaches the top (`pop_full`). Kept lazily: a token costs no heap operation.
    by_time: BinaryHeap<Reverse<(Nanos, K)>>,
    /// Whether the table is full of limiting buckets and that was logged.
    warned: bool,
}

impl<K: Copy + Eq + Hash + Ord> Table<K> {
    fn new(capacity: usize) -> Self {
        Table {
            capacity,
            full_at: HashMap::new(),
            by_time: BinaryHeap::new(),
            warned: false,
        }
    }

    /// Takes a token from `key`'s bucket at `now`, or says how long to wait.
    fn take(&mut self, key: K, gcra: Gcra, now: Nanos) -> Result<(), Nanos> {
        if let Some(full_at) = self.full_at.get_mut(&key) {
            *full_at = gcra.take(*full_at, now)?;
            return Ok(());
        }
        if self.full_at.len() >= self.capacity {
            if let Top::Limiting(wait) = self.pop_full(now) {
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(
                        buckets = self.full_at.len(),
                        "every rate-limit bucket is still limiting: new clients are refused until one is full again"
                    );
                }
                return Err(wait);
            }
            self.warned = false;
        }
        // A new bucket is full: the first token never fails (burst >= 1).
        let full_at = gcra.take(now, now)?;
        self.full_at.insert(key, full_at);
        self.by_time.push(Reverse((full_at, key)));
        Ok(())
    }

    /// Forgets the bucket that is full first, if it is full by `now`; else how long until it is.
    fn pop_full(&mut self, now: Nanos) -> Top {
        while let Some(&Reverse((at, key))) = self.by_time.peek() {
            let Some(&full_at) = self.full_at.get(&key) else {
                // Every entry has its bucket; should one not, it has nothing to forget.
                self.by_time.pop();
                continue;
            };
            if full_at <= now {
                self.by_time.pop();
                self.full_at.remove(&key);
                return Top::Forgotten;
            }
            if full_at > at {
                // Tokens were taken since it was pushed: put it back at its true place.
                self.by_time.pop();
                self.by_time.push(Reverse((full_at, key)));
                continue;
            }
            // The earliest bucket is exact and still limiting, so every one is.
            return Top::Limiting(full_at - now);
        }
        Top::Empty
    }

    /// Forgets every bucket full by `now`; returns how many are left (all still limiting).
    fn forget_full(&mut self, now: Nanos) -> usize {
        while let Top::Forgotten = self.pop_full(now) {}
        self.full_at.len()
    }
}

/// The rate limiter of the API routes; `check` lets everything through when limits are off.
pub struct RateLimiter {
    limit: Option<Limits>,
}

struct Limits {
    gcra: Gcra,
    start: Instant,
    keys: Mutex<Table<KeyId>>,
    addresses: Mutex<Table<IpAddr>>,
}

impl RateLimiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self::with_capacity(limit, MAX_BUCKETS)
    }

    /// Like `new`, keeping at most `capacity` buckets of each kind.
    fn with_capacity(limit: Option<RateLimit>, capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        RateLimiter {
            limit: limit.map(|limit| Limits {
                gcra: Gcra::new(limit),
                start: Instant::now(),
                keys: Mutex::new(Table::new(capacity)),
                addresses: Mutex::new(Table::new(capacity)),
            }),
        }
    }

    /// Takes a token from `bucket`'s bucket, or says when one will be there.
    pub fn check(&self, bucket: Bucket) -> Result<(), ApiError> {
        let Some(limits) = &self.limit else {
            return Ok(());
        };
        let now = u64::try_from(limits.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        limits.take(bucket, now).map_err(|wait| {
            // Whole seconds, rounded up: retrying at the stated time always finds a token.
            ApiError::rate_limited(wait.div_ceil(1_000_000_000))
        })
    }

    /// Buckets still limiting now (for `/metrics`); full ones are forgotten here.
    pub fn buckets(&self) -> u64 {
        self.limit.as_ref().map_or(0, |limits| {
            let now = u64::try_from(limits.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let keys = lock(&limits.keys).forget_full(now);
            let addresses = lock(&limits.addresses).forget_full(now);
            (keys + addresses) as u64
        })
    }
}

impl Limits {
    fn take(&self, bucket: Bucket, now: Nanos) -> Result<(), Nanos> {
        match bucket {
            Bucket::Key(key) => lock(&self.keys).take(key, self.gcra, now),
            Bucket::Address(address) => lock(&self.addresses).take(address, self.gcra, now),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while a table is locked; a poisoned one is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const SECOND: Nanos = 1_000_000_000;

    fn limit(per_second: f64, burst: u32) -> Option<RateLimit> {
        Some(RateLimit::new(per_second, Some(burst)).expect("valid limit"))
    }

    fn limiter(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(limit(per_second, burst))
    }

    fn address(n: u32) -> Bucket {
        Bucket::Address(IpAddr::V4(n.into()))
    }

    /// Takes a token at `seconds` on the limiter's clock; the wait in seconds when refused.
    fn take_at(limiter: &RateLimiter, bucket: Bucket, seconds: f64) -> Result<(), f64> {
        let limits = limiter.limit.as_ref().expect("limits on");
        let now = (seconds * SECOND as f64) as Nanos;
        limits
            .take(bucket, now)
            .map_err(|wait| wait as f64 / SECOND as f64)
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
    fn a_bucket_refills_one_token_a_period_up_to_its_burst() {
        // A token every 2 s, 2 at once.
        let limiter = limiter(0.5, 2);
        let bucket = address(1);
        assert_eq!(take_at(&limiter, bucket, 0.0), Ok(()));
        assert_eq!(take_at(&limiter, bucket, 0.0), Ok(()));
        assert_eq!(take_at(&limiter, bucket, 0.5), Err(1.5));
        assert_eq!(take_at(&limiter, bucket, 2.0), Ok(()));
        assert_eq!(take_at(&limiter, bucket, 2.0), Err(2.0));
        // Idle for long: still only the burst.
        assert_eq!(take_at(&limiter, bucket, 100.0), Ok(()));
        assert_eq!(take_at(&limiter, bucket, 100.0), Ok(()));
        assert_eq!(take_at(&limiter, bucket, 100.0), Err(2.0));
    }

    #[test]
    fn rotating_addresses_past_the_cap_never_frees_a_bucket_that_is_still_limiting() {
        // One token per 100 s: every bucket below stays limiting for the whole test.
        let limiter = limiter(0.01, 1);
        let cap = u32::try_from(MAX_BUCKETS).unwrap();
        for n in 0..cap + cap / 2 {
            let _ = limiter.check(address(n));
        }

        // The first, the last let in, and one past the cap: all still refused.
        for n in [0, cap / 2, cap - 1, cap, cap + cap / 2 - 1, cap * 3] {
            let refused = limiter.check(address(n)).expect_err("still limited");
            assert_eq!(refused.kind, ErrorKind::RateLimited, "address {n}");
            assert!(refused.retry_after.is_some_and(|s| s <= 100), "address {n}");
        }
        assert_eq!(limiter.buckets(), MAX_BUCKETS);
    }

    #[test]
    fn room_is_made_by_forgetting_the_bucket_full_first_and_only_once_it_is_full() {
        // A token every 10 s, one at a time; room for three buckets.
        let limiter = RateLimiter::with_capacity(limit(0.1, 1), 3);
        let (a, b, c, d, e, f) = (
            address(1),
            address(2),
            address(3),
            address(4),
            address(5),
            address(6),
        );
        for (bucket, at) in [(a, 0.0), (b, 1.0), (c, 2.0)] {
            assert_eq!(take_at(&limiter, bucket, at), Ok(()));
        }

        // Full of limiting buckets: a newcomer waits for the first to be full (a, at 10 s).
        assert_eq!(take_at(&limiter, d, 5.0), Err(5.0));
        // At 10.5 s a is full and forgotten for d; b (full at 11 s) still limits.
        assert_eq!(take_at(&limiter, d, 10.5), Ok(()));
        assert_eq!(take_at(&limiter, b, 10.5), Err(0.5));
        // c takes a token again at 12.5 s, so it is full at 22.5 s, not at 12 s.
        assert_eq!(take_at(&limiter, c, 12.5), Ok(()));
        // At 13 s, b is full (11 s): forgotten for e.
        assert_eq!(take_at(&limiter, e, 13.0), Ok(()));
        // At 14 s: c (22.5 s), d (20.5 s) and e (23 s) all limit; d is full first.
        assert_eq!(take_at(&limiter, f, 14.0), Err(6.5));
        assert_eq!(take_at(&limiter, c, 14.0), Err(8.5));
        assert_eq!(take_at(&limiter, d, 14.0), Err(6.5));
    }

    #[test]
    fn a_flood_of_addresses_never_refuses_a_valid_key() {
        let limiter = RateLimiter::with_capacity(limit(0.01, 1), 2);
        for n in 0..3 {
            let _ = take_at(&limiter, address(n), 0.0);
        }
        assert!(take_at(&limiter, address(9), 0.0).is_err(), "no room");

        let key = Bucket::Key(KeyId::of(b"key-one"));

        assert_eq!(take_at(&limiter, key, 0.0), Ok(()));
        assert_eq!(take_at(&limiter, key, 0.0), Err(100.0));
    }

    #[test]
    fn the_bucket_count_leaves_out_buckets_that_are_full_again() {
        // A token every millisecond: full again at once.
        let limiter = limiter(1000.0, 1);
        for n in 0..10 {
            assert!(limiter.check(address(n)).is_ok());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(limiter.buckets(), 0);
    }
}
