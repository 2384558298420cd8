//! Measures how well `--decode-budget` holds on the worst input we know: a field of QR codes
//! whose finder patterns are intact and whose data is noise. Every code is a candidate no
//! strategy can read, so the decoder works until the budget is spent, and each detector is
//! pushed to its largest number of finder-pattern triples.
//!
//! ```text
//! cargo run --release --example budget -- [SIDE] [PIXELS_PER_MODULE] [--strategies]
//! ```
//!
//! Prints the wall time of `decode_luma` under budgets of 0.2, 1 and 2 s (it should exceed each
//! by at most one sampled triple or one rqrr crop), then with `--strategies` each strategy
//! alone with no budget, which shows what the budget is protecting against.

use std::time::{Duration, Instant};

use qrscan_decode::{decode_luma, run_strategy, DecodeOptions, PLAN};

// The generator the e2e tests use for the same image (`unreadable_codes_png`), written once.
#[allow(dead_code)] // the tests' other images are not used here
#[path = "../tests/e2e/helpers/images.rs"]
mod images;

fn main() {
    let mut args = std::env::args().skip(1);
    let side: u32 = args.next().map_or(3000, |s| s.parse().expect("SIDE"));
    let scale: u32 = args
        .next()
        .map_or(3, |s| s.parse().expect("PIXELS_PER_MODULE"));
    let each_strategy = args.any(|a| a == "--strategies");

    let image = images::unreadable_codes(side, scale);
    for budget in [0.2, 1.0, 2.0] {
        let options = DecodeOptions {
            budget: Duration::from_secs_f64(budget),
            ..DecodeOptions::default()
        };
        let started = Instant::now();
        let outcome = decode_luma(&image, &options, started);
        println!(
            "budget {budget:>3} s: {:?} after {:.3} s",
            outcome.map(|codes| codes.len()),
            started.elapsed().as_secs_f64()
        );
    }
    if each_strategy {
        for strategy in PLAN.iter().map(|step| step.strategy) {
            let started = Instant::now();
            let read = run_strategy(&image, strategy, DecodeOptions::default().formats).len();
            println!(
                "{:<32} read {read} in {:.3} s",
                strategy.label(),
                started.elapsed().as_secs_f64()
            );
        }
    }
}
