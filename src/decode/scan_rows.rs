//! The finder-pattern scan: rxing's `FindFinderPatterns` (a port of zxing-cpp's), the same
//! rows, candidates and cross-checks, with each row's runs of dark and light found a machine
//! word at a time instead of a bit at a time.
//!
//! rxing encodes a row by reading every bit and pushing a run at every change; on the photos
//! without a code, where every strategy scans the whole view, that encoding alone was an eighth
//! of the time. Here a run ends where the word, XORed with the run's colour, has its lowest set
//! bit past the run's start: one `trailing_zeros` per run, whatever its length. The 1:1:3:1:1
//! test of five runs is rxing's too, on a plain slice: through rxing's `PatternView` (an index
//! check per access, a sum from the row's start per candidate) it was another twentieth. The
//! patterns found are exactly rxing's: compared on every scan of both corpora, and in a test.

use rxing::common::cpp_essentials::{
    ConcentricPattern, FixedPattern, LocateConcentricPattern, PatternType,
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
        let mut from = 0;
        // The pixels before the candidate's first bar, summed as the candidates move right.
        let (mut in_front, mut summed): (PatternType, usize) = (0, 0);
        while let Some(at) = next_candidate(&runs, from) {
            let bars = &runs[at + 1..at + 6];
            in_front += runs[summed..=at].iter().sum::<PatternType>();
            summed = at + 1;
            let p = Point {
                x: in_front as f32 + bars[0] as f32 + bars[1] as f32 + bars[2] as f32 / 2.0,
                y: y as f32 + 0.5,
            };
            // Not inside a pattern found on an earlier row.
            if !found
                .iter()
                .any(|old| Point::distance(p, old.p) < old.size as f32 / 2.0)
            {
                // Three times the cross section's width: room for very skewed patterns.
                let range = bars.iter().sum::<PatternType>() as i32 * 3;
                if let Some(pattern) =
                    LocateConcentricPattern::<true, 5, 7>(bits, &FINDER.into(), p, range)
                {
                    found.push(pattern);
                }
            }
            from = at + 4;
        }
        y += ROW_STEP;
    }
    found
}

/// Where the next run of a finder pattern's cross section starts in `runs` (a row as
/// `row_runs` gives it), looking from `from` on: `at` such that `runs[at + 1..at + 6]` are its
/// five bars (dark first) and `runs[at]` the light before them. rxing's `FindPattern` over a
/// `PatternView`, with its bounds: the first search may take the row's first bar with any
/// margin before it, and the others need a run after the five bars.
fn next_candidate(runs: &[PatternType], from: usize) -> Option<usize> {
    let len = runs.len();
    // A row of five runs or fewer holds no candidate rxing would keep.
    if len <= 5 || len < from + 6 {
        return None;
    }
    let mut at = from;
    if from == 0 {
        if looks_like_finder(&runs[1..6], f32::MAX) {
            return Some(0);
        }
        // The same bars with the real margin fail too: only the quiet zone test differs.
        at = 2;
    }
    while at + 6 < len {
        if looks_like_finder(&runs[at + 1..at + 6], f32::from(runs[at])) {
            return Some(at);
        }
        at += 2;
    }
    None
}

/// Whether five runs, dark first, are 1:1:3:1:1 within rxing's tolerances (`IsPattern` with
/// the whole pattern's edges, a tenth of a module of quiet zone before it), after its quick
/// test of the centre bar. The arithmetic is rxing's, in its order and precision, so that the
/// same rows give the same candidates.
fn looks_like_finder(bars: &[PatternType], space_before: f32) -> bool {
    let b: [u32; 5] = std::array::from_fn(|i| u32::from(bars[i]));
    if b[2] < 3 || b[2] < 2 * b[0].max(b[4]) || b[2] < b[1].max(b[3]) {
        return false;
    }
    let module = [
        f64::from(b[0] + b[2] + b[4]) / 5.0,
        f64::from(b[1] + b[3]) / 2.0,
    ];
    if module[0].max(module[1]) > 4.0 * module[0].min(module[1]) {
        return false;
    }
    if space_before < 0.1 * module[1] as f32 {
        return false;
    }
    let tolerance = [module[0] * 0.75 + 0.5, module[1] / 3.0 + 0.5];
    const MODULES: [f64; 5] = [1.0, 1.0, 3.0, 1.0, 1.0];
    (0..5).all(|i| (f64::from(b[i]) - MODULES[i] * module[i % 2]).abs() <= tolerance[i % 2])
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
    use crate::decode::testkit::Xorshift;
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
            let mut rng = Xorshift(0x9e37_79b9);
            let bits = matrix(width, 6, |x, y| match y {
                0 => false,
                1 => true,
                2 => x % 2 == 0,
                3 => x >= width / 2,
                _ => {
                    // Runs of random length.
                    (x ^ y) % 7 < 3 || rng.next() % 5 == 0
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
    fn cross_sections_pass_within_rxing_tolerances() {
        let row = |bars: [PatternType; 5]| [&[20][..], &bars, &[20, 4, 4]].concat();
        // Exact, and every bar a module off but the centre: within a module and a half.
        assert_eq!(next_candidate(&row([4, 4, 12, 4, 4]), 0), Some(0));
        assert_eq!(next_candidate(&row([5, 3, 12, 5, 3]), 0), Some(0));
        // A centre too narrow for its sides, spaces of unlike widths, no light between.
        assert_eq!(next_candidate(&row([4, 4, 7, 4, 4]), 0), None);
        assert_eq!(next_candidate(&row([4, 10, 12, 2, 4]), 0), None);
        assert_eq!(next_candidate(&row([4, 0, 12, 4, 4]), 0), None);
        // Found past other runs, two at a time, with the light before it as its margin.
        let later = [&[3, 2, 2][..], &[4, 4, 12, 4, 4], &[20, 4, 4]].concat();
        assert_eq!(next_candidate(&later, 0), Some(2));
        assert_eq!(next_candidate(&later, 4), None);
        let cramped = [&[3, 2, 0][..], &[4, 4, 12, 4, 4], &[20, 4, 4]].concat();
        assert_eq!(next_candidate(&cramped, 0), None);
        // The row's first bar needs no run after the pattern, the others do.
        assert_eq!(next_candidate(&[20, 4, 4, 12, 4, 4], 0), Some(0));
        assert_eq!(next_candidate(&[9, 2, 20, 4, 4, 12, 4, 4, 20], 0), Some(2));
        assert_eq!(next_candidate(&[9, 2, 20, 4, 4, 12, 4, 4], 0), None);
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
