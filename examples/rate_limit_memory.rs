//! The memory the rate limiter's buckets take: fills `MAX_BUCKETS` address buckets (every one
//! still limiting: one request per 100 s, burst 1) and prints the growth of the resident set.
//!
//! ```sh
//! cargo run --release --example rate_limit_memory
//! ```
//!
//! Linux only (it reads `/proc/self/statm`).

use std::net::{IpAddr, Ipv4Addr};

use qrscan::config::RateLimit;
use qrscan::http::{Bucket, RateLimiter, MAX_BUCKETS};

/// Resident set size in bytes, from `/proc/self/statm` (its second field, in pages).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("a resident page count");
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).expect("a page size")
}

fn main() {
    let limit = RateLimit::new(0.01, Some(1)).expect("a valid limit");
    let limiter = RateLimiter::new(Some(limit));
    let before = resident_bytes();
    let addresses = u32::try_from(MAX_BUCKETS).expect("fits");
    for n in 0..addresses {
        // 10.0.0.0 onwards: one bucket each, each left limiting by its one request.
        let address = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
        let _ = limiter.check(Bucket::Address(address));
    }
    let held = limiter.buckets();
    let after = resident_bytes();
    let grown = after.saturating_sub(before);
    println!(
        "{held} buckets: resident set {:.1} MiB -> {:.1} MiB, {:.1} MiB for the buckets ({} bytes each)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        grown as f64 / 1048576.0,
        grown / held.max(1)
    );
}
