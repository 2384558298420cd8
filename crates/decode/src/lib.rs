//! Image bytes -> every QR code in the image (API.md section 6). Pure and synchronous: no tokio,
//! no network; callers run it off the async runtime.
//!
//! The work has three steps, each in its own file. `load` turns the bytes into one grey image
//! under the pixel and memory limits. `strategy` lists the ways of looking for symbols in it
//! (a view of the image and a detector), cheapest first; this file runs them until the image's
//! codes are read or the time budget is spent, and merges what they find. Each symbol's module
//! grid goes through one decoder (`detect::read_grid`: rxing's format reader, our
//! Reed-Solomon in `codewords`, then `text::decode_segments`), so every detector reports text the same way. Third-party
//! detectors are called inside `catch_unwind`: one hostile image must not take down a request
//! or the server.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod append;
mod codewords;
mod correction;
mod deadline;
mod detect;
mod format;
mod grey_grid;
mod load;
mod packed_png;
mod pixels;
mod png_rows;
mod reed_solomon;
mod scan_rows;
mod strategy;
#[cfg(test)]
mod testkit;
pub mod text;

use std::time::{Duration, Instant};

use image::GrayImage;

pub use self::append::join_structured_append;
pub use self::correction::Correction;
pub use self::deadline::Deadline;
use self::detect::{Damaged, Detected};
pub use self::format::{Format, Formats};
pub use self::load::{load_luma, sniff_format};
use self::strategy::Views;
pub use self::strategy::{
    Binarizer, Strategy, View, ALWAYS_TRIED, CHEAP_STRATEGIES, COSTLY_STRATEGIES,
    EVIDENCE_NEEDED_FROM, PAIR_NEEDED_FROM, SIGN_NEEDED_AT,
};
use crate::text::Content;

/// The limits one decode runs under; built by `EngineConfig::decode_options` from the flags.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Largest width x height accepted, checked from the header (`--max-pixels`).
    pub max_pixels: u64,
    /// Largest allocation the image decoder may make; for a JPEG, its frame and (progressive)
    /// coefficients together (`--max-decode-memory`).
    pub max_decoder_bytes: u64,
    /// Time after which no further strategy is started (`--decode-budget`).
    pub budget: Duration,
    /// The symbologies looked for (`--formats`, narrowed by a request's `formats`).
    pub formats: Formats,
}

impl DecodeOptions {
    /// Whether a decoder that holds `needed` bytes at its peak for a `width` x `height` image may
    /// run: every format's loader asks this before it allocates, so they refuse alike (1006).
    pub(crate) fn memory_for(
        &self,
        width: u32,
        height: u32,
        needed: u64,
    ) -> Result<(), DecodeError> {
        if needed > self.max_decoder_bytes {
            return Err(DecodeError::TooMuchMemory {
                width,
                height,
                needed: Some(needed),
                limit: self.max_decoder_bytes,
            });
        }
        Ok(())
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: 40_000_000,
            max_decoder_bytes: 512 * 1024 * 1024,
            budget: Duration::from_secs(2),
            formats: Formats::default(),
        }
    }
}

/// One decoded symbol: a QR Code, a Micro QR Code or an rMQR.
#[derive(Clone, Debug, PartialEq)]
pub struct QrCode {
    pub content: Content,
    pub format: Format,
    /// The symbol's own version number: 1-40 for QR Code, 1-4 for M1-M4, 1-32 for rMQR
    /// (R7x43 to R17x139, in ISO/IEC 23941's order).
    pub version: u8,
    pub ec_level: EcLevel,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the symbol.
    pub points: [[f32; 2]; 4],
    /// The strategy that found it (for a joined structured-append set, the one that found its
    /// first part), for metrics and tuning.
    pub strategy: Strategy,
    /// How much of its error correction the reading used (`correction.rs`); for a joined
    /// structured-append set, all its parts'.
    pub correction: Correction,
}

/// Error-correction level of a code, as API.md section 2 spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum EcLevel {
    L,
    M,
    Q,
    H,
}

impl QrCode {
    fn area(&self) -> f32 {
        // Shoelace formula over the quadrilateral.
        let p = &self.points;
        let mut twice = 0.0;
        for i in 0..4 {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            twice += a[0] * b[1] - b[0] * a[1];
        }
        (twice / 2.0).abs()
    }

    fn top_left(&self) -> (f32, f32) {
        let y = self
            .points
            .iter()
            .map(|p| p[1])
            .fold(f32::INFINITY, f32::min);
        let x = self
            .points
            .iter()
            .map(|p| p[0])
            .fold(f32::INFINITY, f32::min);
        (y, x)
    }

    /// Whether `point` lies inside the symbol's quadrilateral (convex, either winding).
    fn contains(&self, point: [f32; 2]) -> bool {
        // A degenerate quadrilateral (all corners on a line) would "contain" every point on
        // that line and, collapsed to a point, every point at all: it holds none.
        if self.area() <= 0.0 {
            return false;
        }
        let p = &self.points;
        let sides = (0..4).map(|i| {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            (b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0])
        });
        let (mut left, mut right) = (false, false);
        for side in sides {
            left |= side < 0.0;
            right |= side > 0.0;
        }
        !(left && right)
    }

    fn center(&self) -> [f32; 2] {
        let sum = self
            .points
            .iter()
            .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
        [sum[0] / 4.0, sum[1] / 4.0]
    }
}

/// Why no code came out of an image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a supported image: {0}")]
    NotAnImage(String),
    #[error("image is {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    /// Decoding would allocate more than `--max-decode-memory` (`limit` bytes); `needed` is
    /// what our own count says, when the decoder that refused is ours.
    #[error("{}", memory_refusal(*width, *height, *needed, *limit))]
    TooMuchMemory {
        width: u32,
        height: u32,
        needed: Option<u64>,
        limit: u64,
    },
    #[error(
        "image is {width}x{height} pixels, its long side over {max_ratio} times its short side"
    )]
    TooElongated {
        width: u32,
        height: u32,
        max_ratio: u32,
    },
    #[error("no QR code found in the image")]
    NoCode,
    #[error("a QR code was found but could not be read")]
    Unreadable,
}

/// The sentence of a `TooMuchMemory` refusal.
fn memory_refusal(width: u32, height: u32, needed: Option<u64>, limit: u64) -> String {
    match needed {
        Some(needed) => format!(
            "image is {width}x{height} pixels and needs {needed} bytes of decoder memory, over the limit of {limit} bytes"
        ),
        None => format!(
            "image is {width}x{height} pixels and needs more decoder memory than the limit of {limit} bytes"
        ),
    }
}

/// Finds and reads every QR code in an encoded image, largest first.
pub fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<Vec<QrCode>, DecodeError> {
    let started = Instant::now();
    let grey = load_luma(bytes, options)?;
    decode_luma(&grey, options, started)
}

/// Runs the detection strategies on a grey image, cheapest first, until every code the
/// evidence points to is read or the budget (counted from `started`) is spent. Evidence is what
/// the detectors saw and no code read explains: finder patterns outside every code read, and
/// symbols sampled but not read. A complete structured-append set among the codes is also
/// returned joined, as the first code.
pub fn decode_luma(
    grey: &GrayImage,
    options: &DecodeOptions,
    started: Instant,
) -> Result<Vec<QrCode>, DecodeError> {
    let deadline = Deadline::after(started, options.budget);
    let mut views = Views::new(grey, options.formats);
    let mut found = Found::default();
    let steps = CHEAP_STRATEGIES.iter().map(|s| (s, false));
    let steps = steps.chain(COSTLY_STRATEGIES.iter().map(|s| (s, true)));
    for (index, (&strategy, costly)) in steps.enumerate() {
        if deadline.passed() {
            break;
        }
        match found.next_step(index) {
            Step::Run => {}
            Step::Skip => continue,
            Step::Stop => break,
        }
        // The costly strategies look where a symbol was sampled and not read.
        let mut around = found.unexplained_damaged();
        if costly && around.is_empty() && found.lost == 0 {
            break;
        }
        // `FinderAround` also around pairs of finder patterns no triple made a symbol of.
        if matches!(strategy, Strategy::FinderAround { .. }) {
            around.extend(found.pair_surroundings());
        }
        let strategy_started = Instant::now();
        let detected = views.run(strategy, deadline, &around);
        // `RUST_LOG=qrscan_decode=trace`: where one image's time goes, strategy by strategy.
        tracing::trace!(
            index,
            strategy = strategy.label(),
            micros = strategy_started.elapsed().as_micros() as u64,
            codes = detected.codes.len(),
            patterns = detected.patterns.len(),
            damaged = detected.damaged.len(),
            "strategy ran"
        );
        found.merge(detected);
    }
    let mut codes = found.finish()?;
    if let Some(joined) = join_structured_append(&codes) {
        codes.insert(0, joined);
    }
    Ok(codes)
}

/// Runs one strategy alone on a grey image, with no budget: what `decode_luma` would get from
/// it. For measuring which strategies read which images (`examples/corpus.rs --strategies`).
/// Strategies that work on crops (`FinderCrops`, `Rqrr`, ...) get the damaged symbols the cheap
/// strategies saw (and `FinderAround` their pairs of finder patterns). `formats` are the
/// symbologies looked for.
pub fn run_strategy(grey: &GrayImage, strategy: Strategy, formats: Formats) -> Vec<QrCode> {
    let mut views = Views::new(grey, formats);
    let mut damaged = Found::default();
    if matches!(
        strategy,
        Strategy::Rqrr { .. }
            | Strategy::FinderCrops { .. }
            | Strategy::FinderAround { .. }
            | Strategy::ZoomedCrops { .. }
    ) {
        for &cheap in CHEAP_STRATEGIES {
            damaged.merge(Detected {
                codes: Vec::new(),
                ..views.run(cheap, Deadline::NONE, &[])
            });
        }
    }
    let mut around = damaged.unexplained_damaged();
    if matches!(strategy, Strategy::FinderAround { .. }) {
        around.extend(damaged.pair_surroundings());
    }
    let mut found = Found::default();
    found.merge(views.run(strategy, Deadline::NONE, &around));
    found.codes
}

/// What the loop does with the next strategy, given what the ones before found.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Run,
    Skip,
    Stop,
}

/// What the strategies have found so far.
#[derive(Default)]
struct Found {
    codes: Vec<QrCode>,
    /// The symbols sampled but not read, each place once, in the order found, with their
    /// bounding boxes (left, top, right, bottom, image pixels).
    damaged: Vec<([f32; 4], Damaged)>,
    /// Candidates seen without a place (a detector panicked while following one).
    lost: usize,
    /// Finder patterns confirmed by any strategy (centre, size; image pixels), each place once.
    patterns: Vec<[f32; 3]>,
    /// Pairs of finder patterns that can be one symbol's, both seen in one strategy's view,
    /// each pair once, with how many strategies saw it: where a symbol the views so far did
    /// not sample may lie.
    pairs: Vec<([[f32; 3]; 2], u32)>,
}

/// Whether two finder patterns (centre, size) are one: each centre within half the larger's
/// width of the other.
fn near(a: &[f32; 3], b: &[f32; 3]) -> bool {
    let reach = a[2].max(b[2]) / 2.0;
    (a[0] - b[0]).abs() <= reach && (a[1] - b[1]).abs() <= reach
}

/// How many strategies must see a pair of finder patterns for it to count: a symbol's show in
/// most binarizations; the finder-like shapes of photos without a code flicker, one here, one
/// there. Seen by one strategy, 5 of the zxing-cpp corpus's 46 photos without a code passed;
/// by two, 2.
const PAIR_SEEN_BY: u32 = 2;

/// Most finder patterns of one strategy's view that `Found` pairs up: photos of many codes
/// show hundreds, nearly all on codes read.
const MAX_PAIRED_PER_VIEW: usize = 40;

/// Whether two finder patterns (centre, size) can be two of one symbol's: of about one size
/// (foreshortening shrinks the far one, up to half), and apart by at least the two patterns'
/// widths (version 1: 14 modules, two widths) and at most a version 40 symbol's 170 modules.
fn one_symbols(a: &[f32; 3], b: &[f32; 3]) -> bool {
    let (small, large) = (a[2].min(b[2]), a[2].max(b[2]));
    let distance = (a[0] - b[0]).hypot(a[1] - b[1]);
    let width = (small + large) / 2.0;
    large <= 2.0 * small && (2.0 * width..=25.0 * width).contains(&distance)
}

/// Most finder patterns, pairs of them and damaged symbols `Found` keeps: each new one is
/// compared with those kept, so without a bound a field of finder-like targets made every merge
/// quadratic. Over both corpora the most kept were 559 patterns, 1,810 pairs and 44 damaged
/// symbols (a BoofCV `lots` photo of 60 codes); past a bound, more are not kept, which can only
/// make the search go on (what is kept unexplained stays so) or stop at the budget.
const MAX_KEPT_PATTERNS: usize = 4096;
const MAX_KEPT_PAIRS: usize = 8192;
const MAX_KEPT_DAMAGED: usize = 256;

/// Finder patterns outside every code read, past which `decode_luma` keeps looking: a symbol
/// shows three, and one with a damaged pattern two.
const UNEXPLAINED_PATTERNS: usize = 2;

impl Found {
    fn merge(&mut self, detected: Detected) {
        self.lost += detected.lost;
        // Codes first: a triple made across codes this run read is told apart by them.
        detected.codes.into_iter().for_each(|c| self.add(c));
        let free: Vec<_> = detected
            .patterns
            .iter()
            .filter(|p| !self.explained([p[0], p[1]]))
            .take(MAX_PAIRED_PER_VIEW)
            .collect();
        for (i, &a) in free.iter().enumerate() {
            for &b in free[i + 1..].iter().filter(|&&b| one_symbols(a, b)) {
                let full = self.pairs.len() >= MAX_KEPT_PAIRS;
                let known = self
                    .pairs
                    .iter_mut()
                    .find(|([c, d], _)| (near(a, c) && near(b, d)) || (near(a, d) && near(b, c)));
                match known {
                    Some((_, seen)) => *seen += 1,
                    None if !full => self.pairs.push(([*a, *b], 1)),
                    None => {}
                }
            }
        }
        for pattern in detected.patterns {
            if self.patterns.len() >= MAX_KEPT_PATTERNS {
                break;
            }
            let known = self.patterns.iter().any(|p| near(p, &pattern));
            if !known {
                self.patterns.push(pattern);
            }
        }
        for symbol in detected.damaged {
            if self.damaged.len() >= MAX_KEPT_DAMAGED {
                break;
            }
            let bounds = bounding_box(&symbol.corners);
            let center = centre_of(&bounds);
            let known = self.damaged.iter().any(|(b, _)| {
                (b[0]..=b[2]).contains(&center[0]) && (b[1]..=b[3]).contains(&center[1])
            });
            if !known && !self.explains(&bounds, &symbol) {
                self.damaged.push((bounds, symbol));
            }
        }
    }

    /// Whether a detector sampled a symbol that no decoder could read.
    fn saw_candidate(&self) -> bool {
        !self.damaged.is_empty() || self.lost > 0
    }

    /// The gates of `CHEAP_STRATEGIES` (and beyond) for strategy `index`: stop once what was
    /// read explains everything seen, skip or stop where too little of a code was seen.
    fn next_step(&self, index: usize) -> Step {
        let nothing_read = self.codes.is_empty();
        if index >= ALWAYS_TRIED && !nothing_read && !self.expects_more() {
            Step::Stop
        } else if index == SIGN_NEEDED_AT && nothing_read && !self.saw_any_sign() {
            Step::Skip
        } else if (index >= EVIDENCE_NEEDED_FROM && nothing_read && !self.saw_evidence())
            || (index >= PAIR_NEEDED_FROM && !self.saw_symbol())
        {
            Step::Stop
        } else {
            Step::Run
        }
    }

    /// Whether the detectors saw the least sign of a code: one finder pattern, or a candidate.
    fn saw_any_sign(&self) -> bool {
        !self.patterns.is_empty() || self.saw_candidate()
    }

    /// Whether the detectors saw anything of a code: two finder patterns, or a candidate.
    fn saw_evidence(&self) -> bool {
        self.patterns.len() >= UNEXPLAINED_PATTERNS || self.saw_candidate()
    }

    /// Whether the detectors saw a symbol, or most of one: a candidate, or two finder patterns
    /// of one symbol, both in one strategy's view, in `PAIR_SEEN_BY` strategies. Patterns
    /// gathered one per strategy, as photos without a code show, are not.
    fn saw_symbol(&self) -> bool {
        self.saw_candidate() || !self.pair_surroundings().is_empty()
    }

    /// Boxes around the pairs of finder patterns no code read explains, where the rest of their
    /// symbol lies: the pair's bounding box grown by half their distance each way (the crop
    /// around a box adds half the box each side again), so a third pattern beside either end,
    /// or across the diagonal, is inside. A pair inside an earlier box is left to it.
    fn pair_surroundings(&self) -> Vec<[f32; 4]> {
        let mut boxes: Vec<[f32; 4]> = Vec::new();
        for ([a, b], _) in self.pairs.iter().filter(|(_, seen)| *seen >= PAIR_SEEN_BY) {
            let inside = |p: &[f32; 3]| {
                boxes
                    .iter()
                    .any(|r| (r[0]..=r[2]).contains(&p[0]) && (r[1]..=r[3]).contains(&p[1]))
            };
            if self.explained([a[0], a[1]])
                || self.explained([b[0], b[1]])
                || (inside(a) && inside(b))
            {
                continue;
            }
            let grow = (a[0] - b[0]).hypot(a[1] - b[1]) / 2.0;
            boxes.push([
                a[0].min(b[0]) - grow,
                a[1].min(b[1]) - grow,
                a[0].max(b[0]) + grow,
                a[1].max(b[1]) + grow,
            ]);
        }
        boxes
    }

    /// Whether `point` lies on a code already read.
    fn explained(&self, point: [f32; 2]) -> bool {
        self.codes.iter().any(|c| c.contains(point))
    }

    /// Whether codes read account for a damaged symbol: one lies on its centre (the symbol was
    /// read after all), or on one of its finder patterns (a triple made across codes: a
    /// finder pattern belongs to one symbol). Without the second, every photo of several codes
    /// ran the costly strategies around triples of their patterns.
    fn explains(&self, bounds: &[f32; 4], symbol: &Damaged) -> bool {
        self.explained(centre_of(bounds)) || symbol.finders.iter().any(|&p| self.explained(p))
    }

    /// The bounding boxes of the symbols sampled but not read that codes read do not explain.
    fn unexplained_damaged(&self) -> Vec<[f32; 4]> {
        self.damaged
            .iter()
            .filter(|(bounds, symbol)| !self.explains(bounds, symbol))
            .map(|(bounds, _)| *bounds)
            .collect()
    }

    /// Whether what the detectors saw points to codes not read yet.
    fn expects_more(&self) -> bool {
        let patterns = self.patterns.iter();
        let unexplained = patterns.filter(|p| !self.explained([p[0], p[1]])).count();
        unexplained >= UNEXPLAINED_PATTERNS || !self.unexplained_damaged().is_empty()
    }

    /// Adds a code unless one already read lies on it: two strategies, or two finder-pattern
    /// triples, reading one symbol. Decided by place, not text: two symbols can hold one text.
    fn add(&mut self, code: QrCode) {
        let duplicate = self
            .codes
            .iter()
            .any(|c| c.contains(code.center()) || code.contains(c.center()));
        if !duplicate {
            self.codes.push(code);
        }
    }

    fn finish(mut self) -> Result<Vec<QrCode>, DecodeError> {
        if self.codes.is_empty() {
            return Err(if self.saw_candidate() {
                DecodeError::Unreadable
            } else {
                DecodeError::NoCode
            });
        }
        // Largest first; ties top-to-bottom, then left-to-right (API.md section 2).
        self.codes.sort_by(|a, b| {
            b.area()
                .total_cmp(&a.area())
                .then_with(|| a.top_left().0.total_cmp(&b.top_left().0))
                .then_with(|| a.top_left().1.total_cmp(&b.top_left().1))
        });
        Ok(self.codes)
    }
}

/// The centre of a box (left, top, right, bottom).
fn centre_of(b: &[f32; 4]) -> [f32; 2] {
    [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]
}

/// The smallest axis-aligned box (left, top, right, bottom) holding four points.
fn bounding_box(points: &[[f32; 2]; 4]) -> [f32; 4] {
    let xs = points.map(|p| p[0]);
    let ys = points.map(|p| p[1]);
    let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
    let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
    [min(xs), min(ys), max(xs), max(ys)]
}

#[cfg(test)]
mod tests {
    use super::testkit::{assert_centre, assert_corners, micro_qr, qr_field};
    use super::*;
    use crate::text;

    #[test]
    fn what_the_strategies_saw_is_kept_up_to_a_bound_however_much_a_view_shows() {
        // A field of finder-like targets, 100 x 100 of them, and a damaged "symbol" at each.
        let patterns: Vec<[f32; 3]> = (0..10_000)
            .map(|i| {
                [
                    (i % 100) as f32 * 9.0 + 4.5,
                    (i / 100) as f32 * 9.0 + 4.5,
                    7.0,
                ]
            })
            .collect();
        let damaged: Vec<Damaged> = patterns
            .iter()
            .map(|&[x, y, _]| Damaged {
                corners: [[x, y], [x + 8.0, y], [x + 8.0, y + 8.0], [x, y + 8.0]],
                finders: vec![[x + 1.0, y + 1.0]],
            })
            .collect();
        let mut found = Found::default();
        for _ in 0..3 {
            found.merge(Detected {
                patterns: patterns.clone(),
                damaged: damaged.clone(),
                ..Detected::default()
            });
        }
        assert_eq!(found.patterns.len(), MAX_KEPT_PATTERNS);
        assert_eq!(found.damaged.len(), MAX_KEPT_DAMAGED);
        assert!(found.pairs.len() <= MAX_KEPT_PAIRS);
        // What is kept still says a code may be there: the search goes on, to the budget.
        assert!(found.saw_symbol() && found.saw_candidate());
    }

    #[test]
    fn strategies_run_as_far_as_what_was_seen_of_a_code_allows() {
        let steps = |found: &Found| (0..8).map(|i| found.next_step(i)).collect::<Vec<_>>();
        let seen = |patterns: &[[f32; 3]]| Detected {
            patterns: patterns.to_vec(),
            ..Detected::default()
        };
        use Step::{Run, Skip, Stop};
        // Nothing seen: both polarities' scans and the views that find patterns the working
        // one misses, not the midrange threshold, and nothing from the evidence gate on.
        let mut found = Found::default();
        assert_eq!(steps(&found)[..7], [Run, Run, Skip, Run, Run, Run, Stop]);
        // One finder pattern: the midrange threshold too, still not past the gate.
        found.merge(seen(&[[100.0, 100.0, 14.0]]));
        assert_eq!(steps(&found)[..7], [Run, Run, Run, Run, Run, Run, Stop]);
        // Two, but never as a pair of one symbol seen twice: on to the pair gate.
        found.merge(seen(&[[900.0, 900.0, 14.0]]));
        assert_eq!(steps(&found), [Run, Run, Run, Run, Run, Run, Run, Run]);
        assert_eq!(found.next_step(PAIR_NEEDED_FROM), Stop);
    }

    /// `grey` turned clockwise by `degrees` (a multiple of 90), and where a point of it goes.
    fn turned(grey: &GrayImage, degrees: u32) -> (GrayImage, impl Fn([f32; 2]) -> [f32; 2]) {
        let (w, h) = (grey.width() as f32, grey.height() as f32);
        let image = match degrees {
            90 => image::imageops::rotate90(grey),
            180 => image::imageops::rotate180(grey),
            270 => image::imageops::rotate270(grey),
            _ => grey.clone(),
        };
        let map = move |[x, y]: [f32; 2]| match degrees {
            90 => [h - y, x],
            180 => [w - x, h - y],
            270 => [y, w - x],
            _ => [x, y],
        };
        (image, map)
    }

    #[test]
    fn a_micro_qr_code_is_read_at_any_turn_with_its_format_version_and_corners() {
        let (scale, quiet) = (4, 8.0);
        let symbol = micro_qr("MICRO-QR1", 3, scale);
        // M3 is 15 modules a side; corners are the symbol's own, finder pattern first.
        let (near, far) = (quiet, quiet + 15.0 * scale as f32);
        let corners = [[near, near], [far, near], [far, far], [near, far]];
        for degrees in [0, 90, 180, 270] {
            let (image, map) = turned(&symbol, degrees);
            let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
            assert_eq!(codes.len(), 1, "at {degrees}");
            let code = &codes[0];
            assert_eq!(code.content.text, "MICRO-QR1");
            assert_eq!(code.format, Format::MicroQRCode);
            assert_eq!((code.version, code.ec_level), (3, EcLevel::M));
            assert_corners(code, corners.map(&map));
        }
    }

    #[test]
    fn a_mirrored_or_light_on_dark_micro_qr_code_is_read() {
        let symbol = micro_qr("12345678", 2, 5);
        let mut mirrored = image::imageops::flip_horizontal(&symbol);
        let code = &decode_luma(&mirrored, &DecodeOptions::default(), Instant::now()).unwrap()[0];
        assert_eq!(
            (code.content.text.as_str(), code.format),
            ("12345678", Format::MicroQRCode)
        );
        image::imageops::invert(&mut mirrored);
        let code = &decode_luma(&mirrored, &DecodeOptions::default(), Instant::now()).unwrap()[0];
        assert_eq!(code.content.text, "12345678");
    }

    #[test]
    fn an_rmqr_code_is_read_at_any_turn_with_its_format_version_and_corners() {
        // fixtures/README.md: R13x43 (version 18), level M, 4 px per module, 2-module margin.
        let bytes = include_bytes!("../../../fixtures/rmqr-r13x43.png");
        let expected = include_str!("../../../fixtures/rmqr-r13x43.txt");
        let grey = load_luma(bytes, &DecodeOptions::default()).unwrap();
        let (near, right, bottom) = (8.0, 8.0 + 43.0 * 4.0, 8.0 + 13.0 * 4.0);
        let corners = [[near, near], [right, near], [right, bottom], [near, bottom]];
        for degrees in [0, 90, 180, 270] {
            let (image, map) = turned(&grey, degrees);
            let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
            assert_eq!(codes.len(), 1, "at {degrees}");
            let code = &codes[0];
            assert_eq!(code.content.text, expected);
            assert_eq!(code.format, Format::RMQRCode);
            assert_eq!((code.version, code.ec_level), (18, EcLevel::M));
            assert_corners(code, corners.map(&map));
        }
    }

    #[test]
    fn only_the_formats_asked_for_are_looked_for() {
        let micro = micro_qr("MICRO-QR1", 3, 4);
        let qr_only = DecodeOptions {
            formats: Formats::QR,
            ..DecodeOptions::default()
        };
        let found = decode_luma(&micro, &qr_only, Instant::now());
        assert_eq!(found.unwrap_err(), DecodeError::NoCode);
        let rmqr_only = DecodeOptions {
            formats: Formats::parse("rmqr").unwrap(),
            ..DecodeOptions::default()
        };
        assert!(decode_luma(&micro, &rmqr_only, Instant::now()).is_err());
        let qr = qr_field("https://example.com/qr", 4, 1);
        let micro_only = DecodeOptions {
            formats: Formats::parse("microqr,rmqr").unwrap(),
            ..DecodeOptions::default()
        };
        assert!(decode_luma(&qr, &micro_only, Instant::now()).is_err());
        let code = &decode_luma(&qr, &DecodeOptions::default(), Instant::now()).unwrap()[0];
        assert_eq!(code.format, Format::QRCode);
    }

    #[test]
    fn a_photo_cropped_tight_to_the_symbol_is_read_inside_a_margin() {
        // No quiet zone and half of the finder patterns' outer ring cut off, as by a tight crop
        // of a photo: the scan cannot confirm patterns that start at the image's edge. Light
        // noise keeps it from being read as a generated image.
        let scale = 6;
        let code = qr_field("https://example.com/cropped-tight", scale, 1);
        // Cut through the outer ring of the finder patterns, half a module in.
        let quiet = 4 * scale + scale / 2;
        let side = code.width() - 2 * quiet;
        let mut state = 0x1234_5677_u32;
        let tight = GrayImage::from_fn(side, side, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let pixel = i32::from(code.get_pixel(x + quiet, y + quiet).0[0]);
            let noise = i32::from(state as u8 % 41) - 20;
            image::Luma([(pixel + noise).clamp(0, 255) as u8])
        });
        let codes = decode_luma(&tight, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/cropped-tight");
        assert_eq!(codes[0].strategy.label(), "finder/padded/localaverage");
        // Points are in the cropped image's pixels: the symbol's corners are its corners.
        assert_centre(&codes[0], [side as f32 / 2.0; 2]);
    }

    #[test]
    fn a_code_under_heavy_sensor_noise_is_read() {
        // Noise of about 60 grey levels (the sum of four uniform draws) breaks the runs of the
        // finder patterns for the 8x8 local threshold; the blurred view restores them.
        let clean = qr_field("https://example.com/noisy-photo", 6, 1);
        let mut state = 0x2545_f491_u32;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            i32::from(state as u8) - 128
        };
        let noisy = GrayImage::from_fn(clean.width(), clean.height(), |x, y| {
            let noise: i32 = (0..4).map(|_| uniform()).sum::<i32>() * 60 / 148;
            let pixel = i32::from(clean.get_pixel(x, y).0[0]) + noise;
            image::Luma([pixel.clamp(0, 255) as u8])
        });
        let codes = decode_luma(&noisy, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/noisy-photo");
        assert_eq!(codes[0].strategy.label(), "finder/blurred/otsu");
    }

    #[test]
    fn a_code_photographed_at_a_steep_angle_is_read_squashed_back_to_square() {
        // Foreshortened to 1/2.8 of its width: the finder-pattern scan's cross-checks reject
        // patterns that much taller than wide, in every view but the squashed one.
        let flat = qr_field("https://example.com/steep-angle", 6, 1);
        let narrow = image::imageops::resize(
            &flat,
            (flat.width() as f32 / 2.8) as u32,
            flat.height(),
            image::imageops::FilterType::Triangle,
        );
        let mut page = GrayImage::from_pixel(
            narrow.width() + 80,
            narrow.height() + 80,
            image::Luma([255]),
        );
        image::imageops::replace(&mut page, &narrow, 40, 40);
        for (image, strategy) in [
            (page.clone(), "finder-around/halfheight/localaverage"),
            (
                image::imageops::rotate90(&page),
                "finder-around/halfwidth/localaverage",
            ),
        ] {
            let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
            assert_eq!(codes.len(), 1);
            assert_eq!(codes[0].content.text, "https://example.com/steep-angle");
            assert_eq!(codes[0].strategy.label(), strategy);
            // The corners are in the image's pixels, not the squashed view's.
            assert_centre(
                &codes[0],
                [image.width() as f32 / 2.0, image.height() as f32 / 2.0],
            );
        }
    }

    #[test]
    fn an_out_of_focus_code_is_read_sharpened() {
        // A Gaussian blur of 4 pixels at 6 pixels a module: single modules fade into their
        // neighbours' grey, and only the sharpened crop gets them back.
        let sharp = qr_field("https://example.com/out-of-focus", 6, 1);
        let soft = image::imageops::blur(&sharp, 4.0);
        let codes = decode_luma(&soft, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/out-of-focus");
        assert_eq!(
            codes[0].strategy.label(),
            "finder-around-sharpened/working/localaverage"
        );
    }

    #[test]
    fn a_pair_of_finder_patterns_counts_once_two_strategies_saw_it_and_no_code_explains_it() {
        let pair = vec![[100.0, 100.0, 14.0], [200.0, 100.0, 14.0]];
        let seen = |patterns: &[[f32; 3]]| Detected {
            patterns: patterns.to_vec(),
            ..Detected::default()
        };
        let mut found = Found::default();
        // Too close (under two widths), too far (over 25), too unlike in size: no pair.
        found.merge(seen(&[
            [0.0, 0.0, 14.0],
            [20.0, 0.0, 14.0],
            [400.0, 0.0, 14.0],
        ]));
        found.merge(seen(&[
            [0.0, 0.0, 14.0],
            [20.0, 0.0, 14.0],
            [400.0, 0.0, 14.0],
        ]));
        found.merge(seen(&[[0.0, 300.0, 10.0], [60.0, 300.0, 30.0]]));
        found.merge(seen(&[[0.0, 300.0, 10.0], [60.0, 300.0, 30.0]]));
        assert!(!found.saw_symbol());
        // One strategy saw the pair: a photo's finder-like shapes do that.
        found.merge(seen(&pair));
        assert!(!found.saw_symbol());
        // A second one, the pattern nudged by a pixel: a symbol's.
        found.merge(seen(&[[101.0, 100.0, 14.0], [200.0, 101.0, 13.0]]));
        assert!(found.saw_symbol());
        let [left, top, right, bottom] = found.pair_surroundings()[0];
        assert!(left <= 50.0 && top <= 50.0 && right >= 250.0 && bottom >= 150.0);
        // A code read over one of its patterns explains it.
        found.add(square_code(80.0, 80.0, 40.0));
        assert!(!found.saw_symbol());
    }

    #[test]
    fn a_code_holds_the_points_inside_its_corners_and_a_degenerate_one_holds_none() {
        let code = |points| QrCode {
            content: text::decode_segments(&[0x40, 0x14, 0x10, 0xec], 1).unwrap(),
            format: Format::QRCode,
            version: 1,
            ec_level: EcLevel::M,
            points,
            strategy: CHEAP_STRATEGIES[0],
            correction: Correction::default(),
        };
        let square = code([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]);
        assert!(square.contains([5.0, 5.0]));
        assert!(!square.contains([15.0, 5.0]));
        let mut reversed = square.points;
        reversed.reverse();
        assert!(code(reversed).contains([5.0, 5.0]));
        assert!(!code([[3.0, 3.0]; 4]).contains([3.0, 3.0]));
    }

    /// A version 1 code read, as a square of `side` pixels with its top-left corner at `(x, y)`.
    fn square_code(x: f32, y: f32, side: f32) -> QrCode {
        QrCode {
            content: text::decode_segments(&[0x40, 0x14, 0x10, 0xec], 1).unwrap(),
            format: Format::QRCode,
            version: 1,
            ec_level: EcLevel::M,
            points: [[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
            strategy: CHEAP_STRATEGIES[0],
            correction: Correction::default(),
        }
    }

    #[test]
    fn a_triple_across_codes_read_is_not_a_damaged_symbol_and_one_beside_them_is() {
        let grid = rxing::common::BitMatrix::with_single_dimension(21).unwrap();
        let square = |x: f32, y: f32, side: f32| {
            [[x, y], [x + side, y], [x + side, y + side], [x, y + side]]
        };
        let mut found = Found::default();
        // Two codes side by side, read in the run that also sampled a triple of their patterns:
        // its top-left finder pattern lies on the first, its centre on neither.
        found.merge(Detected {
            codes: vec![square_code(0.0, 0.0, 100.0), square_code(150.0, 0.0, 100.0)],
            damaged: vec![Damaged::new(square(0.0, 0.0, 250.0), &grid)],
            ..Detected::default()
        });
        assert!(found.unexplained_damaged().is_empty());
        assert!(!found.expects_more());
        // A damaged symbol below them shares no pattern with them: the costly strategies look.
        let below = Damaged::new(square(0.0, 300.0, 100.0), &grid);
        found.merge(Detected {
            damaged: vec![below],
            ..Detected::default()
        });
        assert_eq!(
            found.unexplained_damaged(),
            vec![[0.0, 300.0, 100.0, 400.0]]
        );
        assert!(found.expects_more());
        // A triple seen before the code that explains it is read, in a later strategy.
        let mut found = Found::default();
        found.merge(Detected {
            damaged: vec![Damaged::new(square(0.0, 0.0, 250.0), &grid)],
            ..Detected::default()
        });
        assert_eq!(found.unexplained_damaged().len(), 1);
        found.merge(Detected {
            codes: vec![square_code(0.0, 0.0, 100.0)],
            ..Detected::default()
        });
        assert!(found.unexplained_damaged().is_empty());
    }

    #[test]
    fn codes_are_ordered_largest_first_then_top_then_left() {
        let code = square_code;
        let found = Found {
            codes: vec![
                code(100.0, 0.0, 10.0),
                code(0.0, 50.0, 20.0),
                code(0.0, 0.0, 10.0),
            ],
            ..Found::default()
        };
        let order: Vec<_> = found
            .finish()
            .unwrap()
            .iter()
            .map(|c| c.points[0])
            .collect();
        assert_eq!(order, vec![[0.0, 50.0], [0.0, 0.0], [100.0, 0.0]]);
    }
}
