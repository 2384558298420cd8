//! What the search has found so far on one image (`Found`): the codes read, and what the
//! detectors saw that no code read explains (finder patterns, pairs of them, symbols sampled and
//! not read). The plan's gates ask it for `Evidence`; the crop-based rows ask it where to look.

use crate::code::QrCode;
use crate::detect::{Damaged, Detected};
use crate::error::DecodeError;
use crate::geometry::{Bounds, Pattern};
use crate::plan::{Evidence, Otherwise, Step};

/// How many strategies must see a pair of finder patterns for it to count: a symbol's show in
/// most binarizations; the finder-like shapes of photos without a code flicker, one here, one
/// there. Seen by one strategy, 5 of the zxing-cpp corpus's 46 photos without a code passed;
/// by two, 2.
pub const PAIR_SEEN_BY: u32 = 2;

/// Most finder patterns of one strategy's view that `Found` pairs up: photos of many codes
/// show hundreds, nearly all on codes read. A bound on work: 20 and 80 read the same on both
/// corpora (584, 133; 2026-12-07).
const MAX_PAIRED_PER_VIEW: usize = 40;

/// Most finder patterns, pairs of them and damaged symbols `Found` keeps: each new one is
/// compared with those kept, so without a bound a field of finder-like targets made every merge
/// quadratic. Over both corpora the most kept were 559 patterns, 1,810 pairs and 44 damaged
/// symbols (a BoofCV `lots` photo of 60 codes); past a bound, more are not kept, which can only
/// make the search go on (what is kept unexplained stays so) or stop at the budget.
pub(crate) const MAX_KEPT_PATTERNS: usize = 4096;
pub(crate) const MAX_KEPT_PAIRS: usize = 8192;
pub(crate) const MAX_KEPT_DAMAGED: usize = 256;

/// Finder patterns, anywhere, that count as `Evidence::TwoPatterns` while nothing is read: a
/// symbol shows three, and one with a damaged pattern two.
const UNEXPLAINED_PATTERNS: usize = 2;

/// Once codes are read, finder-like shapes with modules this many times finer than the finest
/// code read's are texture, not codes: a monitor's pixel grid around the code on its screen,
/// halftone dots, a fabric's weave. Over both corpora every code read after the first had
/// modules at least 0.66 of the finest read before it, and so had the finder patterns that
/// led to it; the screen grids of BoofCV's monitor photos are 12 to 26 times finer than their
/// codes, and kept the costly rows going for up to half a second after the code was read.
const TEXTURE_FINER_THAN_READ: f32 = 8.0;

/// Once codes are read, finder-like shapes this many times fainter than the faintest code read
/// (`Pattern::contrast`; a code's is its clearest finder pattern's) are texture too: a
/// stucco wall's shadows at a code's own scale kept the sharpened crop's row going (31 ms)
/// after all 60 codes of a BoofCV `lots` photo were read (the wall's shapes mostly 0 to 33
/// grey levels, the codes 152 to 240). Over both corpora every code read after the first was at
/// least 0.2 as clear as the faintest read before it (a code under a bright spot beside a
/// clean one); at 8 that leaves a margin of 1.6.
const TEXTURE_FAINTER_THAN_READ: f32 = 8.0;

/// What counts as texture, not codes, once codes are read: finder patterns and symbols with
/// modules under `module` pixels, finder patterns under `contrast` grey levels. Nothing until
/// a code is read.
#[derive(Clone, Copy)]
struct Texture {
    module: f32,
    contrast: f32,
}

/// Whether a plan row runs, given what the rows before it found.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Run,
    Skip,
    Stop,
}

/// What the strategies have found so far.
#[derive(Default)]
pub struct Found {
    pub(crate) codes: Vec<QrCode>,
    /// The symbols sampled but not read, each place once, in the order found, with their
    /// bounding boxes.
    pub(crate) damaged: Vec<(Bounds, Damaged)>,
    /// Candidates seen without a place (a detector panicked while following one).
    pub(crate) lost: usize,
    /// Finder patterns confirmed by any strategy, each place once.
    pub(crate) patterns: Vec<Pattern>,
    /// Pairs of finder patterns that can be one symbol's, both seen in one strategy's view,
    /// each pair once, with how many strategies saw it: where a symbol the views so far did
    /// not sample may lie.
    pub(crate) pairs: Vec<([Pattern; 2], u32)>,
}

/// Whether two finder patterns can be two of one symbol's: of about one size (foreshortening
/// shrinks the far one, up to half), and apart by at least the two patterns' widths (version
/// 1: 14 modules, two widths) and at most a version 40 symbol's 170 modules.
fn one_symbols(a: &Pattern, b: &Pattern) -> bool {
    let distance = (a.x - b.x).hypot(a.y - b.y);
    within_one_symbol(a, b) && distance >= a.size + b.size
}

/// Whether two finder patterns lie within one symbol's reach of each other: of about one size,
/// and apart by at most a version 40 symbol's 170 modules. Closer than `one_symbols` allows
/// counts too: the sightings of one pattern in different views, or a pattern and a module
/// cluster beside it, that scale misjudged (a BoofCV `lots` photo's last code was read after
/// three such sightings, 40-100 pixels apart at 52 pixels wide).
fn within_one_symbol(a: &Pattern, b: &Pattern) -> bool {
    let (small, large) = (a.size.min(b.size), a.size.max(b.size));
    let distance = (a.x - b.x).hypot(a.y - b.y);
    large <= 2.0 * small && distance <= 25.0 * (small + large) / 2.0
}

impl Found {
    /// Adds what one run of a strategy saw; its codes are already stamped with the strategy.
    pub fn merge(&mut self, codes: Vec<QrCode>, detected: Detected) {
        self.lost += detected.lost;
        // Codes first: a triple made across codes this run read is told apart by them.
        codes.into_iter().for_each(|c| self.add(c));
        let free = self.unexplained_of(&detected.patterns);
        for (i, &a) in free.iter().enumerate() {
            for &b in free[i + 1..].iter().filter(|&&b| one_symbols(a, b)) {
                let full = self.pairs.len() >= MAX_KEPT_PAIRS;
                let known = self
                    .pairs
                    .iter_mut()
                    .find(|([c, d], _)| (a.near(c) && b.near(d)) || (a.near(d) && b.near(c)));
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
            let known = self.patterns.iter().any(|p| p.near(&pattern));
            if !known {
                self.patterns.push(pattern);
            }
        }
        let below = self.texture_below();
        for symbol in detected.damaged {
            if self.damaged.len() >= MAX_KEPT_DAMAGED {
                break;
            }
            let bounds = symbol.corners.bounds();
            let center = bounds.center();
            let known = self.damaged.iter().any(|(b, _)| b.contains(center));
            if !known && !self.explains(&bounds, &symbol, below) {
                self.damaged.push((bounds, symbol));
            }
        }
    }

    /// Whether plan row `step` runs: stop once what was read explains everything seen, skip
    /// or stop where too little of a code was seen (`plan::When`).
    pub fn gate(&self, step: &Step) -> Gate {
        let nothing_read = self.codes.is_empty();
        if !step.when.always && !nothing_read && !self.expects_more() {
            return Gate::Stop;
        }
        if let Some((evidence, otherwise)) = step.when.unread_needs {
            if nothing_read && !self.saw(evidence) {
                return match otherwise {
                    Otherwise::Skip => Gate::Skip,
                    Otherwise::Stop => Gate::Stop,
                };
            }
        }
        if step.when.needs.iter().any(|&e| !self.saw(e)) {
            return Gate::Stop;
        }
        Gate::Run
    }

    /// Whether the detectors saw `evidence` that no code read explains.
    pub fn saw(&self, evidence: Evidence) -> bool {
        match evidence {
            // One finder pattern, or a candidate.
            Evidence::AnySign => !self.patterns.is_empty() || self.saw_candidate(),
            Evidence::TwoPatterns => {
                self.patterns.len() >= UNEXPLAINED_PATTERNS || self.saw_candidate()
            }
            Evidence::Symbol => self.saw_candidate() || !self.pair_surroundings().is_empty(),
            Evidence::UnreadSymbol => !self.unexplained_damaged().is_empty() || self.lost > 0,
        }
    }

    /// Whether a detector sampled a symbol that no decoder could read.
    pub(crate) fn saw_candidate(&self) -> bool {
        !self.damaged.is_empty() || self.lost > 0
    }

    /// Boxes around the pairs of finder patterns no code read explains, where the rest of their
    /// symbol lies: the pair's bounding box grown by half their distance each way (the crop
    /// around a box adds half the box each side again), so a third pattern beside either end,
    /// or across the diagonal, is inside. A pair inside an earlier box is left to it.
    pub fn pair_surroundings(&self) -> Vec<Bounds> {
        let mut boxes: Vec<Bounds> = Vec::new();
        let below = self.texture_below();
        for ([a, b], _) in self.pairs.iter().filter(|(_, seen)| *seen >= PAIR_SEEN_BY) {
            let inside = |p: &Pattern| boxes.iter().any(|r| r.contains(p.centre()));
            let unexplained = |p| self.unexplained_pattern(p, below);
            if !unexplained(a) || !unexplained(b) || (inside(a) && inside(b)) {
                continue;
            }
            let grow = (a.x - b.x).hypot(a.y - b.y) / 2.0;
            boxes.push(Bounds {
                left: a.x.min(b.x) - grow,
                top: a.y.min(b.y) - grow,
                right: a.x.max(b.x) + grow,
                bottom: a.y.max(b.y) + grow,
            });
        }
        boxes
    }

    /// Whether `point` lies on a code already read.
    fn explained(&self, point: [f32; 2]) -> bool {
        self.codes.iter().any(|c| c.quad().contains(point))
    }

    /// What is texture, not codes, given the codes read (`TEXTURE_FINER_THAN_READ`,
    /// `TEXTURE_FAINTER_THAN_READ`): nothing until a code is read.
    fn texture_below(&self) -> Texture {
        let finest = self.codes.iter().map(QrCode::module_size).reduce(f32::min);
        // A code's contrast is its clearest finder pattern's; a code with none known (read
        // by a detector that keeps no patterns) says nothing.
        let faintest = self
            .codes
            .iter()
            .filter_map(|code| {
                let on_it = self
                    .patterns
                    .iter()
                    .filter(|p| code.quad().contains(p.centre()));
                on_it.map(|p| p.contrast).reduce(f32::max)
            })
            .reduce(f32::min);
        Texture {
            module: finest.map_or(0.0, |module| module / TEXTURE_FINER_THAN_READ),
            contrast: faintest.map_or(0.0, |contrast| contrast / TEXTURE_FAINTER_THAN_READ),
        }
    }

    /// Whether a finder pattern points to a code not read yet: off every code read, and not
    /// texture (`texture_below`).
    fn unexplained_pattern(&self, pattern: &Pattern, texture: Texture) -> bool {
        pattern.module() >= texture.module
            && pattern.contrast >= texture.contrast
            && !self.explained(pattern.centre())
    }

    /// The first `MAX_PAIRED_PER_VIEW` of `patterns` that point to codes not read yet: the
    /// ones worth pairing, a bounded number of them.
    fn unexplained_of<'a>(&self, patterns: &'a [Pattern]) -> Vec<&'a Pattern> {
        let below = self.texture_below();
        patterns
            .iter()
            .filter(|p| self.unexplained_pattern(p, below))
            .take(MAX_PAIRED_PER_VIEW)
            .collect()
    }

    /// Whether codes read account for a damaged symbol: one lies on its centre (the symbol was
    /// read after all), or on one of its finder patterns (a triple made across codes: a
    /// finder pattern belongs to one symbol). Without the second, every photo of several codes
    /// ran the costly strategies around triples of their patterns. A "symbol" of texture, its
    /// modules under `below` (`texture_below`, computed once by the caller), is accounted for too.
    fn explains(&self, bounds: &Bounds, symbol: &Damaged, below: Texture) -> bool {
        symbol.module < below.module
            || self.explained(bounds.center())
            || symbol.finders.iter().any(|&p| self.explained(p))
    }

    /// The bounding boxes of the symbols sampled but not read that codes read do not explain.
    pub fn unexplained_damaged(&self) -> Vec<Bounds> {
        self.unexplained_damaged_finer_than(f32::INFINITY)
    }

    /// The bounding boxes of the unexplained damaged symbols (`unexplained_damaged`) whose
    /// modules are under `module` image pixels: what a row made for small modules crops around.
    pub fn unexplained_damaged_finer_than(&self, module: f32) -> Vec<Bounds> {
        let below = self.texture_below();
        self.damaged
            .iter()
            .filter(|(bounds, symbol)| {
                symbol.module < module && !self.explains(bounds, symbol, below)
            })
            .map(|(bounds, _)| *bounds)
            .collect()
    }

    /// Whether what the detectors saw points to codes not read yet: a symbol sampled and not
    /// read, or two finder patterns that can be one symbol's (`within_one_symbol`), neither on a
    /// code read nor texture finer than the codes read (`TEXTURE_FINER_THAN_READ`). Two lone
    /// patterns at opposite ends of a photo of 60 codes, all read, had kept six more rows
    /// running. The first `MAX_PAIRED_PER_VIEW` patterns are paired: past that many off every
    /// code, a pair among them is all but certain, and the work stays bounded.
    fn expects_more(&self) -> bool {
        let unexplained = self.unexplained_of(&self.patterns);
        let pair = unexplained
            .iter()
            .enumerate()
            .any(|(i, a)| unexplained[i + 1..].iter().any(|b| within_one_symbol(a, b)));
        pair || !self.unexplained_damaged().is_empty()
    }

    /// Adds a code unless one already read lies on it: two strategies, or two finder-pattern
    /// triples, reading one symbol. Decided by place, not text: two symbols can hold one text.
    fn add(&mut self, code: QrCode) {
        let duplicate = self.codes.iter().any(|c| {
            c.quad().contains(code.quad().center()) || code.quad().contains(c.quad().center())
        });
        if !duplicate {
            self.codes.push(code);
        }
    }

    /// The codes read, largest first; or why there are none.
    pub fn finish(mut self) -> Result<Vec<QrCode>, DecodeError> {
        if self.codes.is_empty() {
            return Err(if self.saw_candidate() {
                DecodeError::Unreadable
            } else {
                DecodeError::NoCode
            });
        }
        // Largest first; ties top-to-bottom, then left-to-right (API.md section 2).
        self.codes.sort_by(|a, b| {
            let (a, b) = (a.quad(), b.quad());
            b.area()
                .total_cmp(&a.area())
                .then_with(|| a.top_left().0.total_cmp(&b.top_left().0))
                .then_with(|| a.top_left().1.total_cmp(&b.top_left().1))
        });
        Ok(self.codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Quad;
    use crate::plan::PLAN;
    use crate::read::correction::Correction;
    use crate::symbology::{EcLevel, Format};
    use crate::text;

    fn pattern([x, y, size]: [f32; 3]) -> Pattern {
        Pattern {
            x,
            y,
            size,
            contrast: f32::INFINITY,
        }
    }

    /// What a strategy that confirmed `patterns` (centre, size) and nothing else saw.
    fn seen(patterns: &[[f32; 3]]) -> Detected {
        Detected {
            patterns: patterns.iter().map(|&p| pattern(p)).collect(),
            ..Detected::default()
        }
    }

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
                corners: Quad([[x, y], [x + 8.0, y], [x + 8.0, y + 8.0], [x, y + 8.0]]),
                finders: vec![[x + 1.0, y + 1.0]],
                module: 1.0,
            })
            .collect();
        let mut found = Found::default();
        for _ in 0..3 {
            found.merge(
                Vec::new(),
                Detected {
                    patterns: patterns.iter().map(|&p| pattern(p)).collect(),
                    damaged: damaged.clone(),
                    ..Detected::default()
                },
            );
        }
        assert_eq!(found.patterns.len(), MAX_KEPT_PATTERNS);
        assert_eq!(found.damaged.len(), MAX_KEPT_DAMAGED);
        assert!(found.pairs.len() <= MAX_KEPT_PAIRS);
        // What is kept still says a code may be there: the search goes on, to the budget.
        assert!(found.saw(Evidence::Symbol) && found.saw_candidate());
    }

    #[test]
    fn strategies_run_as_far_as_what_was_seen_of_a_code_allows() {
        let steps = |found: &Found| PLAN[..8].iter().map(|s| found.gate(s)).collect::<Vec<_>>();
        use Gate::{Run, Skip, Stop};
        // Nothing seen: both polarities' scans and the views that find patterns the working
        // one misses, not the midrange threshold, and nothing from the evidence gate on.
        let mut found = Found::default();
        assert_eq!(steps(&found)[..7], [Run, Run, Skip, Run, Run, Run, Stop]);
        // One finder pattern: the midrange threshold too, still not past the gate.
        found.merge(Vec::new(), seen(&[[100.0, 100.0, 14.0]]));
        assert_eq!(steps(&found)[..7], [Run, Run, Run, Run, Run, Run, Stop]);
        // Two, but never as a pair of one symbol seen twice: on to the pair gate.
        found.merge(Vec::new(), seen(&[[900.0, 900.0, 14.0]]));
        assert_eq!(steps(&found), [Run, Run, Run, Run, Run, Run, Run, Run]);
        // The first row that needs a pair seen twice.
        let pair_gate = PLAN
            .iter()
            .position(|s| s.when.needs.contains(&Evidence::Symbol));
        assert_eq!(found.gate(&PLAN[pair_gate.unwrap()]), Stop);
    }

    #[test]
    fn a_pair_of_finder_patterns_counts_once_two_strategies_saw_it_and_no_code_explains_it() {
        let pair = vec![[100.0, 100.0, 14.0], [200.0, 100.0, 14.0]];
        let mut found = Found::default();
        // Too close (under two widths), too far (over 25), too unlike in size: no pair.
        found.merge(
            Vec::new(),
            seen(&[[0.0, 0.0, 14.0], [20.0, 0.0, 14.0], [400.0, 0.0, 14.0]]),
        );
        found.merge(
            Vec::new(),
            seen(&[[0.0, 0.0, 14.0], [20.0, 0.0, 14.0], [400.0, 0.0, 14.0]]),
        );
        found.merge(Vec::new(), seen(&[[0.0, 300.0, 10.0], [60.0, 300.0, 30.0]]));
        found.merge(Vec::new(), seen(&[[0.0, 300.0, 10.0], [60.0, 300.0, 30.0]]));
        assert!(!found.saw(Evidence::Symbol));
        // One strategy saw the pair: a photo's finder-like shapes do that.
        found.merge(Vec::new(), seen(&pair));
        assert!(!found.saw(Evidence::Symbol));
        // A second one, the pattern nudged by a pixel: a symbol's.
        found.merge(
            Vec::new(),
            seen(&[[101.0, 100.0, 14.0], [200.0, 101.0, 13.0]]),
        );
        assert!(found.saw(Evidence::Symbol));
        let Bounds {
            left,
            top,
            right,
            bottom,
        } = found.pair_surroundings()[0];
        assert!(left <= 50.0 && top <= 50.0 && right >= 250.0 && bottom >= 150.0);
        // A code read over one of its patterns explains it.
        found.add(square_code(80.0, 80.0, 40.0));
        assert!(!found.saw(Evidence::Symbol));
    }

    #[test]
    fn a_code_holds_the_points_inside_its_corners_and_a_degenerate_one_holds_none() {
        let code = |points| QrCode {
            content: text::decode_segments(&[0x40, 0x14, 0x10, 0xec], 1).unwrap(),
            format: Format::QRCode,
            version: 1,
            ec_level: EcLevel::M,
            points,
            strategy: PLAN[0].strategy,
            correction: Correction::default(),
            page: None,
        };
        let square = code([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]);
        assert!(square.quad().contains([5.0, 5.0]));
        assert!(!square.quad().contains([15.0, 5.0]));
        let mut reversed = square.points;
        reversed.reverse();
        assert!(code(reversed).quad().contains([5.0, 5.0]));
        assert!(!code([[3.0, 3.0]; 4]).quad().contains([3.0, 3.0]));
    }

    /// A version 1 code read, as a square of `side` pixels with its top-left corner at `(x, y)`.
    fn square_code(x: f32, y: f32, side: f32) -> QrCode {
        QrCode {
            content: text::decode_segments(&[0x40, 0x14, 0x10, 0xec], 1).unwrap(),
            format: Format::QRCode,
            version: 1,
            ec_level: EcLevel::M,
            points: [[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
            strategy: PLAN[0].strategy,
            correction: Correction::default(),
            page: None,
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
        found.merge(
            vec![square_code(0.0, 0.0, 100.0), square_code(150.0, 0.0, 100.0)],
            Detected {
                damaged: vec![Damaged::new(square(0.0, 0.0, 250.0), &grid)],
                ..Detected::default()
            },
        );
        assert!(found.unexplained_damaged().is_empty());
        assert!(!found.expects_more());
        // A damaged symbol below them shares no pattern with them: the costly strategies look.
        let below = Damaged::new(square(0.0, 300.0, 100.0), &grid);
        found.merge(
            Vec::new(),
            Detected {
                damaged: vec![below],
                ..Detected::default()
            },
        );
        assert_eq!(
            found.unexplained_damaged(),
            vec![Bounds {
                left: 0.0,
                top: 300.0,
                right: 100.0,
                bottom: 400.0
            }]
        );
        assert!(found.expects_more());
        // A triple seen before the code that explains it is read, in a later strategy.
        let mut found = Found::default();
        found.merge(
            Vec::new(),
            Detected {
                damaged: vec![Damaged::new(square(0.0, 0.0, 250.0), &grid)],
                ..Detected::default()
            },
        );
        assert_eq!(found.unexplained_damaged().len(), 1);
        found.merge(vec![square_code(0.0, 0.0, 100.0)], Detected::default());
        assert!(found.unexplained_damaged().is_empty());
    }

    #[test]
    fn once_a_code_is_read_texture_and_lone_patterns_do_not_keep_the_search_going() {
        let grid = rxing::common::BitMatrix::with_single_dimension(21).unwrap();
        let read = || {
            let mut found = Found::default();
            // A version 1 code read with 10-pixel modules.
            found.merge(vec![square_code(0.0, 0.0, 210.0)], Detected::default());
            found
        };
        // A screen's pixel grid beside it: finder-like shapes of 1-pixel modules, and a
        // "symbol" sampled from three of them.
        let mut found = read();
        let texture = [
            [300.0, 300.0, 7.0],
            [330.0, 300.0, 7.0],
            [300.0, 330.0, 7.0],
        ];
        let symbol = [
            [300.0, 300.0],
            [321.0, 300.0],
            [321.0, 321.0],
            [300.0, 321.0],
        ];
        found.merge(
            Vec::new(),
            Detected {
                damaged: vec![Damaged::new(symbol, &grid)],
                ..seen(&texture)
            },
        );
        assert!(found.unexplained_damaged().is_empty());
        assert!(!found.expects_more());
        // Modules a fifth of the code's are another code's.
        found.merge(
            Vec::new(),
            seen(&[[600.0, 600.0, 14.0], [700.0, 600.0, 14.0]]),
        );
        assert!(found.expects_more());

        // Two patterns farther apart than a version 40 symbol reaches.
        let mut found = read();
        found.merge(
            Vec::new(),
            seen(&[[300.0, 300.0, 70.0], [4000.0, 300.0, 70.0]]),
        );
        assert!(!found.expects_more());
        // A third within reach of one of them.
        found.merge(Vec::new(), seen(&[[1500.0, 300.0, 70.0]]));
        assert!(found.expects_more());
    }

    #[test]
    fn once_a_code_is_read_shapes_far_fainter_than_it_do_not_keep_the_search_going() {
        // A version 1 code read with 10-pixel modules, its finder patterns 150 grey levels
        // clear (one of them, seen in a blurred view, 90).
        let with_contrast = |[x, y, size]: [f32; 3], contrast: f32| Pattern {
            contrast,
            ..pattern([x, y, size])
        };
        let read = || {
            let mut found = Found::default();
            let finders = [[35.0, 35.0, 70.0], [175.0, 35.0, 70.0], [35.0, 175.0, 70.0]];
            let mut on_code: Vec<Pattern> =
                finders.iter().map(|&f| with_contrast(f, 150.0)).collect();
            on_code.push(with_contrast([36.0, 36.0, 70.0], 90.0));
            let detected = Detected {
                patterns: on_code,
                ..Detected::default()
            };
            found.merge(vec![square_code(0.0, 0.0, 210.0)], detected);
            found
        };
        let shapes = |contrast: f32| Detected {
            patterns: vec![
                with_contrast([400.0, 300.0, 60.0], contrast),
                with_contrast([550.0, 300.0, 60.0], contrast),
            ],
            ..Detected::default()
        };
        // A wall's shadows at the code's scale, a tenth as clear: texture.
        let mut found = read();
        found.merge(Vec::new(), shapes(15.0));
        assert!(!found.expects_more());
        assert!(found.pair_surroundings().is_empty());
        // A code under a bright spot, a fifth as clear as the clearest: maybe a code.
        let mut found = read();
        found.merge(Vec::new(), shapes(30.0));
        assert!(found.expects_more());
        // Before any code is read, nothing is texture.
        let mut found = Found::default();
        found.merge(Vec::new(), shapes(15.0));
        found.merge(Vec::new(), shapes(15.0));
        assert_eq!(found.pair_surroundings().len(), 1);
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
