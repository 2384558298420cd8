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

use image::{GrayImage, Luma};
use qrscan::decode::{
    decode_luma, run_strategy, DecodeOptions, CHEAP_STRATEGIES, COSTLY_STRATEGIES,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let side: u32 = args.next().map_or(3000, |s| s.parse().expect("SIDE"));
    let scale: u32 = args
        .next()
        .map_or(3, |s| s.parse().expect("PIXELS_PER_MODULE"));
    let each_strategy = args.any(|a| a == "--strategies");

    let image = unreadable_codes(side, scale);
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
        for &strategy in CHEAP_STRATEGIES.iter().chain(COSTLY_STRATEGIES) {
            let started = Instant::now();
            let read = run_strategy(&image, strategy).len();
            println!(
                "{:<32} read {read} in {:.3} s",
                strategy.label(),
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// `side` x `side` pixels of version-2 codes, `scale` pixels per module, data modules replaced
/// by noise (xorshift), finder patterns and quiet zones kept.
fn unreadable_codes(side: u32, scale: u32) -> GrayImage {
    let code = qrcode::QrCode::with_error_correction_level(
        b"https://cli.im/unreadable",
        qrcode::EcLevel::L,
    )
    .expect("text fits a QR code");
    let width = code.width();
    let cell = (width as u32 + 8) * scale;
    let mut noise = 0x2545_f491_u32;
    let mut image = GrayImage::from_pixel(side, side, Luma([255]));
    for (tx, ty) in (0..side / cell).flat_map(|y| (0..side / cell).map(move |x| (x, y))) {
        for my in 0..width {
            for mx in 0..width {
                let finder = ((mx < 8 || mx >= width - 8) && my < 8) || (mx < 8 && my >= width - 8);
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                let dark = code[(mx, my)] == qrcode::Color::Dark;
                if dark != (!finder && noise & 1 == 0) {
                    for (dx, dy) in (0..scale).flat_map(|y| (0..scale).map(move |x| (x, y))) {
                        let x = tx * cell + (mx as u32 + 4) * scale + dx;
                        let y = ty * cell + (my as u32 + 4) * scale + dy;
                        image.put_pixel(x, y, Luma([0]));
                    }
                }
            }
        }
    }
    image
}
