//! The one clock every loop of a decode checks: `--decode-budget` as a point in time. Passed
//! by value down to every loop whose work grows with the image or with what it finds (rows
//! scanned, candidates confirmed, triples sampled, crops, resamplings), so a decode's cost is
//! bounded by its budget whatever the image shows. Must not depend on anything but `std`.

use std::time::{Duration, Instant};

/// When a decode must stop starting new work; `Deadline::NONE` never passes (measurements
/// and tests that run one strategy alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// A deadline that never passes.
    pub const NONE: Deadline = Deadline(None);

    /// `budget` after `started`; a budget too large for the clock never passes.
    pub fn after(started: Instant, budget: Duration) -> Self {
        Deadline(started.checked_add(budget))
    }

    /// Whether the time is up. Costs one clock read (about 20 ns): cheap enough once per row
    /// of a scan, far too dear once per pixel.
    pub fn passed(self) -> bool {
        self.0.is_some_and(|at| Instant::now() >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_passes_once_its_budget_is_spent_and_none_never_does() {
        let now = Instant::now();
        assert!(Deadline::after(now, Duration::ZERO).passed());
        assert!(!Deadline::after(now, Duration::from_secs(3600)).passed());
        assert!(!Deadline::NONE.passed());
        assert!(!Deadline::after(now, Duration::MAX).passed());
    }
}
