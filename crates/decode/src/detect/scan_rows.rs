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

use crate::deadline::Deadline;

/// A finder pattern's cross section: dark, light, three dark, light, dark.
const FINDER: FixedPattern<5, 7, false> = FixedPattern::new([1, 1, 3, 1, 1]);

/// Every row-th row is scanned: rxing's "try harder" spacing, fine enough for the smallest
/// pattern (three pixels of centre) to be crossed at least once.
const ROW_STEP: u32 = 3;

/// Most finder patterns one scan keeps; the scan stops at the first past it. The busiest photo
/// of either corpus shows 196 in one view (a BoofCV `lots` photo of 60 codes; the zxing-cpp
/// corpus at most 9); a field of finder-like targets shows one per 81 pixels, 12,000 in a
/// megapixel, and what follows the scan (triples, up to 105 a pattern; their samplings) grows
/// with them: the triples alone took 9 MiB for 1024 patterns. 512 is two and a half times the
/// busiest photo, about 170 symbols' worth, and holds the triples under 5 MiB.
pub const MAX_PATTERNS: usize = 512;

/// The finder patterns in `bits`, as rxing's `FindFinderPatterns(bits, true, 0)` finds them,
/// the first `limit` of them (in scan order), as far as the scan got before `deadline`.
pub fn finder_patterns(
    bits: &BitMatrix,
    deadline: Deadline,
    limit: usize,
) -> Vec<ConcentricPattern> {
    let mut found = FoundPatterns::new(bits.getWidth(), bits.getHeight());
    let mut runs: Vec<PatternType> = Vec::with_capacity(bits.getWidth() as usize / 2 + 2);
    let mut y = ROW_STEP - 1;
    while y < bits.getHeight() && found.patterns.len() < limit && !deadline.passed() {
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
            if !found.covers(p) {
                // Three times the cross section's width: room for very skewed patterns.
                let range = bars.iter().sum::<PatternType>() as i32 * 3;
                if let Some(pattern) =
                    LocateConcentricPattern::<true, 5, 7>(bits, &FINDER.into(), p, range)
                {
                    found.push(pattern);
                    if found.patterns.len() >= limit {
                        break;
                    }
                }
            }
            from = at + 4;
        }
        y += ROW_STEP;
    }
    found.patterns
}

/// The patterns a scan has found, indexed by place: "is this candidate inside a pattern found
/// before" was a walk over every pattern found, for every candidate, and on a field of
/// finder-like targets (12,000 a megapixel) that walk was most of a decode's time. Each
/// pattern is entered in the cells of a grid that the square around its disc touches, so a
/// candidate looks at the patterns of its own cell only. A pattern wider than `BIG_CELLS`
/// cells goes on a list instead, which every candidate walks: over 128 pixels wide, they are
/// few in any view, and the scan keeps `MAX_PATTERNS` at most.
struct FoundPatterns {
    patterns: Vec<ConcentricPattern>,
    /// Cells across and down.
    columns: usize,
    rows: usize,
    /// The first entry of each cell's list (`NO_ENTRY` when empty).
    heads: Vec<u32>,
    /// (pattern index, next entry of the same cell).
    entries: Vec<(u32, u32)>,
    big: Vec<u32>,
}

/// A grid cell's side in pixels: a finder pattern of three pixels a module (21 wide) touches
/// four cells at most.
const CELL: u32 = 32;
/// Patterns wider than this many cells go on `FoundPatterns::big`.
const BIG_CELLS: u32 = 4;
const NO_ENTRY: u32 = u32::MAX;

impl FoundPatterns {
    fn new(width: u32, height: u32) -> Self {
        let (columns, rows) = (
            width.div_ceil(CELL) as usize,
            height.div_ceil(CELL) as usize,
        );
        FoundPatterns {
            patterns: Vec::new(),
            columns,
            rows,
            heads: vec![NO_ENTRY; columns * rows],
            entries: Vec::new(),
            big: Vec::new(),
        }
    }

    /// The cells (first and last column, first and last row) that the square of half-side
    /// `reach` around `p` touches, clamped to the grid.
    fn cells(&self, p: Point, reach: f32) -> [usize; 4] {
        let cell = |v: f32, count: usize| ((v.max(0.0) / CELL as f32) as usize).min(count - 1);
        [
            cell(p.x - reach, self.columns),
            cell(p.x + reach, self.columns),
            cell(p.y - reach, self.rows),
            cell(p.y + reach, self.rows),
        ]
    }

    fn push(&mut self, pattern: ConcentricPattern) {
        let index = self.patterns.len() as u32;
        self.patterns.push(pattern);
        if self.heads.is_empty() || pattern.size as u32 > CELL * BIG_CELLS {
            self.big.push(index);
            return;
        }
        let [x0, x1, y0, y1] = self.cells(pattern.p, pattern.size as f32 / 2.0);
        for row in y0..=y1 {
            for column in x0..=x1 {
                let head = &mut self.heads[row * self.columns + column];
                self.entries.push((index, *head));
                *head = (self.entries.len() - 1) as u32;
            }
        }
    }

    /// Whether `p` lies within half its width of a pattern's centre, rxing's test.
    fn covers(&self, p: Point) -> bool {
        let inside = |index: u32| {
            let old = &self.patterns[index as usize];
            Point::distance(p, old.p) < old.size as f32 / 2.0
        };
        if self.big.iter().any(|&index| inside(index)) {
            return true;
        }
        if self.heads.is_empty() {
            return false;
        }
        let [column, _, row, _] = self.cells(p, 0.0);
        let mut entry = self.heads[row * self.columns + column];
        while entry != NO_ENTRY {
            let (index, next) = self.entries[entry as usize];
            if inside(index) {
                return true;
            }
            entry = next;
        }
        false
    }
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
    use crate::testkit::Xorshift;
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
                    (x ^ y) % 7 < 3 || rng.next().is_multiple_of(5)
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

    /// A field of finder-like targets: a 7-module target (1:1:3:1:1 each way) every `pitch`
    /// pixels, `module` pixels a module, on light.
    fn target_field(side: u32, module: u32, pitch: u32) -> BitMatrix {
        matrix(side, side, |x, y| {
            let (i, j) = ((x % pitch) / module, (y % pitch) / module);
            if i >= 7 || j >= 7 {
                return false;
            }
            let ring = i.min(j).min(6 - i).min(6 - j);
            ring != 1
        })
    }

    #[test]
    fn a_field_of_finder_like_targets_is_scanned_up_to_the_limit_and_no_further() {
        // 4,356 targets: the scan keeps the first `MAX_PATTERNS` and stops there.
        let field = target_field(600, 1, 9);
        assert_eq!(
            finder_patterns(&field, Deadline::NONE, MAX_PATTERNS).len(),
            MAX_PATTERNS
        );
        assert_eq!(finder_patterns(&field, Deadline::NONE, 13).len(), 13);
        // A deadline already passed: not one row is scanned.
        let passed = Deadline::after(std::time::Instant::now(), std::time::Duration::ZERO);
        assert!(finder_patterns(&field, passed, MAX_PATTERNS).is_empty());
    }

    #[test]
    fn the_index_of_patterns_found_answers_as_rxing_walk_does_in_crowded_and_large_fields() {
        // Crowded (two pixels a module, a target every 16 pixels: every cell holds several)
        // and large (40 pixels a module: each target goes on the list of big ones), under
        // the limit, so both scans run to the end.
        for (side, module, pitch) in [(200, 2, 16), (640, 40, 300), (300, 3, 23)] {
            let field = target_field(side, module, pitch);
            let ours = finder_patterns(&field, Deadline::NONE, MAX_PATTERNS);
            let theirs = FindFinderPatterns(&field, true, 0);
            assert!(!ours.is_empty() && ours.len() < MAX_PATTERNS);
            assert_eq!(
                ours.iter().map(|p| (p.p, p.size)).collect::<Vec<_>>(),
                theirs.iter().map(|p| (p.p, p.size)).collect::<Vec<_>>(),
                "{side} pixels, {module} a module, every {pitch}"
            );
        }
    }

    #[test]
    fn finds_the_patterns_rxing_finds() {
        // A code among speckles and bars: candidates that fail the cross-checks too.
        let symbol = crate::testkit::qr_field("https://example.com/rows", 4, 1);
        let mut state = 0x2545_f491u32;
        let mut grey = image::GrayImage::from_fn(420, 380, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let speckle = state.is_multiple_of(9) || (y / 7 % 5 == 0 && x / 3 % 4 == 1);
            image::Luma([if speckle { 30 } else { 220 }])
        });
        image::imageops::overlay(&mut grey, &symbol, 60, 50);
        let bits = crate::views::binarize::local_average(&grey, Deadline::NONE).unwrap();
        let ours = finder_patterns(&bits, Deadline::NONE, MAX_PATTERNS);
        let theirs = FindFinderPatterns(&bits, true, 0);
        assert!(ours.len() >= 3, "{} patterns", ours.len());
        assert_eq!(
            ours.iter().map(|p| (p.p, p.size)).collect::<Vec<_>>(),
            theirs.iter().map(|p| (p.p, p.size)).collect::<Vec<_>>()
        );
    }
}
