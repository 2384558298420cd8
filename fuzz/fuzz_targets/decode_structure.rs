//! Described images -> codes, under the clock: the input is not an image's bytes but a
//! description of one (its size, a tile of pixels, the tile's scale, noise), so a few bytes
//! reach what byte-level mutation of a PNG never would: megapixels of finder-like targets,
//! checkerboards, timing-like stripes, up to `--max-pixels` (40 MP). Any decode that spends
//! more than its budget plus 100 ms is a failure (issue 24: a 12 KB image of finder-like
//! squares held a worker for minutes), and so is a panic.
//!
//! "Spends" is the decoding thread's CPU time, not the wall clock: the deadline is wall-clock
//! time, so up to it the thread can use at most the budget, and past it only the step it was
//! in; on a machine busy with other work (a build beside the fuzzer) the wall clock also counts
//! time the thread was not running, and failed inputs that return in time on an idle one.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use qrscan_decode::{decode_luma, DecodeOptions};

/// The budget each described image is decoded under, and how far past it a decode may return.
const BUDGET: Duration = Duration::from_millis(200);
const SLACK: Duration = Duration::from_millis(100);
/// The largest image described: the default `--max-pixels`.
const MAX_PIXELS: u64 = 40_000_000;

#[derive(Debug, Arbitrary)]
struct Described {
    /// Width and height, each scaled onto 7..=6324 pixels and then cut to `MAX_PIXELS`.
    width: u16,
    height: u16,
    /// The tile, up to 16 x 16 cells (a bit each: dark or light), repeated across the image.
    tile_width: u8,
    tile_height: u8,
    tile: [u16; 16],
    /// Pixels per tile cell, 1 to 8.
    scale: u8,
    /// Grey levels of dark and light cells.
    dark: u8,
    light: u8,
    /// Pixels flipped, out of 256 (0: none), and the generator's seed.
    noise: u8,
    seed: u32,
}

impl Described {
    fn side(value: u16) -> u32 {
        7 + u32::from(value) % 6318
    }

    fn render(&self) -> image::GrayImage {
        let mut width = Self::side(self.width);
        let mut height = Self::side(self.height);
        while u64::from(width) * u64::from(height) > MAX_PIXELS {
            width = (width * 3 / 4).max(7);
            height = (height * 3 / 4).max(7);
        }
        let (tile_width, tile_height) = (
            u32::from(self.tile_width % 16) + 1,
            u32::from(self.tile_height % 16) + 1,
        );
        let scale = u32::from(self.scale % 8) + 1;
        let mut state = self.seed | 1;
        image::GrayImage::from_fn(width, height, |x, y| {
            let (cx, cy) = ((x / scale) % tile_width, (y / scale) % tile_height);
            let mut dark = self.tile[cy as usize] >> cx & 1 == 1;
            if self.noise > 0 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                dark ^= (state & 0xff) < u32::from(self.noise);
            }
            image::Luma([if dark { self.dark } else { self.light }])
        })
    }
}

fuzz_target!(|described: Described| {
    let grey = described.render();
    let options = DecodeOptions {
        budget: BUDGET,
        ..DecodeOptions::default()
    };
    let (started, cpu_before) = (Instant::now(), thread_cpu_time());
    let _ = decode_luma(&grey, &options, started);
    let (took, cpu) = (started.elapsed(), thread_cpu_time() - cpu_before);
    assert!(
        cpu <= BUDGET + SLACK,
        "{}x{} spent {cpu:?} of CPU ({took:?} of wall clock) under a {BUDGET:?} budget: {described:?}",
        grey.width(),
        grey.height()
    );
});

/// The CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant Linux defines.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
