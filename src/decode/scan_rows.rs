//! The finder-pattern scan: rxing's `FindFinderPatterns` (a port of zxing-cpp's), the same
//! rows, candidates and cross-checks, with each row's runs of dark and light found a machine
//! word at a time instead of a bit at a time.
//!
//! rxing encodes a row by reading every bit and pushing a run at every change; on the photos
//! without a code, where every strategy scans the whole view, that encoding alone was an eighth
//! of the time. Here a run ends where the word, XORed with the run's colour, has its lowest set
//! bit past the run's start: one `trailing_zeros` per run, whatever its length. The patterns
//! found are exactly rxing's (a test compares the two on noise and on photos).

use rxing::common::cpp_essentials::{
    ConcentricPattern, FindLeftGuardBy, FixedPattern, IsPattern, LocateConcentricPattern,
    PatternType, PatternView,
};
use rxing::common::{BitFieldBaseType, BitMatrix, BIT_FIELD_BASE_BITS};
use rxing::Point;

/// A finder pattern's cross section: dark, light, three dark, light, dark.
const FINDER: FixedPattern<5, 7, false> = FixedPattern::new([1, 1, 3, 1, 1]);

/// Every row-th row is scanned: rxing's "try harder" spacing, fine enough for the smallest
/// pattern (three pixels of centre) to be crossed at least once.
const ROW_STEP: u32 = 3;

/// The finder patterns in `bits`, as rxing's `FindFinderPatterns(bits, true, 0)` finds them.
pub fn finder_patterns(bits: &BitMatrix) -> Vec<ConcentricPattern> {
    let mut found: Vec<ConcentricPattern> = Vec::new();
    let mut runs: Vec<PatternType> = Vec::with_capacity(bits.getWidth() as usize / 2 + 2);
    let mut y = ROW_STEP - 1;
    while y < bits.getHeight() {
        row_runs(bits, y, &mut runs);
        let mut next = PatternView::from_slice(&runs);
        while let Ok(candidate) = find_candidate(next) {
            next = candidate;
            if !next.isValid() {
                break;
            }
            let p = Point {
                x: next.pixelsInFront() as f32
                    + next[0] as f32
                    + next[1] as f32
                    + next[2] as f32 / 2.0,
                y: y as f32 + 0.5,
            };
            // Not inside a pattern found on an earlier row.
            if !found
                .iter()
                .any(|old| Point::distance(p, old.p) < old.size as f32 / 2.0)
            {
                // Three times the cross section's width: room for very skewed patterns.
                let range = next.iter().sum::<PatternType>() as i32 * 3;
                if let Some(pattern) =
                    LocateConcentricPattern::<true, 5, 7>(bits, &FINDER.into(), p, range)
                {
                    found.push(pattern);
                }
            }
            next.skipPair();
            next.skipPair();
            next.extend();
        }
        y += ROW_STEP;
    }
    found
}

/// The next place in `view` that looks like a finder pattern's cross section: rxing's
/// `FindPattern`, a quick ratio test before the full one.
fn find_candidate(view: PatternView<'_>) -> rxing::common::Result<PatternView<'_>> {
    FindLeftGuardBy::<5, _>(view, 5, |view: &PatternView, space_before: Option<f32>| {
        let bars: [PatternType; 5] = std::array::from_fn(|i: usize| view[i]);
        if bars[2] < 3 || bars[2] < 2 * bars[0].max(bars[4]) || bars[2] < bars[1].max(bars[3]) {
            return false;
        }
        IsPattern::<true, 5, 7, false>(view, &FINDER, space_before, 0.1, 0.0, 0.0) != 0.0
    })
}

/// Row `y` of `bits` as alternating run lengths, light first (zero when the row starts dark),
/// and a final zero when it ends dark: rxing's `PatternRow` layout.
fn row_runs(bits: &BitMatrix, y: u32, runs: &mut Vec<PatternType>) {
    runs.clear();
    let width = bits.getWidth() as usize;
    let row = bits.getRow(y);
    let words = row.getBitArray();
    let mut dark = false;
    let mut start = 0usize;
    let mut x = 0usize;
    while x < width {
        let word_index = x / BIT_FIELD_BASE_BITS;
        let offset = x % BIT_FIELD_BASE_BITS;
        // Bits that differ from the run's colour, from x on.
        let word: BitFieldBaseType = words[word_index];
        let differs = (if dark { !word } else { word }) >> offset;
        if differs == 0 {
            x = (word_index + 1) * BIT_FIELD_BASE_BITS;
            continue;
        }
        let end = x + differs.trailing_zeros() as usize;
        if end >= width {
            break;
        }
        runs.push((end - start) as PatternType);
        start = end;
        x = end;
        dark = !dark;
    }
    runs.push((width - start) as PatternType);
    if dark {
        runs.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxing::qrcode::cpp_port::detector::FindFinderPatterns;

    /// rxing's own encoding, bit by bit: the reference for `row_runs`.
    fn runs_bit_by_bit(bits: &BitMatrix, y: u32) -> Vec<PatternType> {
        let mut runs = Vec::new();
        let (mut dark, mut count) = (false, 0);
        for x in 0..bits.getWidth() {
            if bits.get(x, y) != dark {
                runs.push(count);
                count = 0;
                dark = !dark;
            }
            count += 1;
        }
        runs.push(count);
        if dark {
            runs.push(0);
        }
        runs
    }

    /// A matrix of `width` x `height` with pixel (x, y) dark where `dark(x, y)`.
    fn matrix(width: u32, height: u32, mut dark: impl FnMut(u32, u32) -> bool) -> BitMatrix {
        let mut bits = BitMatrix::new(width, height).unwrap();
        for y in 0..height {
            for x in 0..width {
                if dark(x, y) {
                    bits.set(x, y);
                }
            }
        }
        bits
    }

    #[test]
    fn rows_encode_as_rxing_encodes_them() {
        // Widths around word boundaries, rows light, dark, and runs of every length.
        for width in [1, 31, 32, 33, 63, 64, 65, 100, 129] {
            let mut state = 0x9e37_79b9u32;
            let bits = matrix(width, 6, |x, y| match y {
                0 => false,
                1 => true,
                2 => x % 2 == 0,
                3 => x >= width / 2,
                _ => {
                    // Runs of random length from a small xorshift.
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (x ^ y) % 7 < 3 || state % 5 == 0
                }
            });
            let mut runs = Vec::new();
            for y in 0..6 {
                row_runs(&bits, y, &mut runs);
                assert_eq!(runs, runs_bit_by_bit(&bits, y), "width {width}, row {y}");
            }
        }
    }

    #[test]
    fn finds_the_patterns_rxing_finds() {
        // A code among speckles and bars: candidates that fail the cross-checks too.
        let symbol = crate::decode::testkit::qr_field("https://example.com/rows", 4, 1);
        let mut state = 0x2545_f491u32;
        let mut grey = image::GrayImage::from_fn(420, 380, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let speckle = state % 9 == 0 || (y / 7 % 5 == 0 && x / 3 % 4 == 1);
            image::Luma([if speckle { 30 } else { 220 }])
        });
        image::imageops::overlay(&mut grey, &symbol, 60, 50);
        let bits = crate::decode::pixels::local_average(&grey).unwrap();
        let ours = finder_patterns(&bits);
        let theirs = FindFinderPatterns(&bits, true, 0);
        assert!(ours.len() >= 3, "{} patterns", ours.len());
        assert_eq!(
            ours.iter().map(|p| (p.p, p.size)).collect::<Vec<_>>(),
            theirs.iter().map(|p| (p.p, p.size)).collect::<Vec<_>>()
        );
    }
}
