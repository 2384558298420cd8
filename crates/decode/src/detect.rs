//! Detectors: find QR symbols in one prepared image and read each one's module grid. Two
//! detectors with different failure modes: zxing-cpp's finder-pattern detector (as ported in
//! rxing's `cpp_port`, on a binarized `BitMatrix`; follows alignment patterns across large,
//! curved or tilted symbols) and rqrr (flood-fills regions on its own threshold; reads some
//! damaged finder patterns the scan-line detector rejects). Both hand their grids to
//! `read_grid`, the only path from QR modules to text: `codewords::read` (rxing's format and
//! version reader, unmasking and block layout, our Reed-Solomon, the mirrored retry) then
//! `text::decode_segments`.
//!
//! Micro QR and rMQR symbols have one finder pattern each, so they are looked for from the
//! finder patterns no QR symbol read claimed, with the port's single-pattern samplers, and
//! read by `read_micro`: the port's decoder (which knows their format information, codeword
//! placement and bit streams) then `text::from_payload`, the same charset rules.
//!
//! Every third-party call runs inside `catch_unwind`: both libraries index and assert in their
//! geometry code, and one hostile image must not take down a worker.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::GrayImage;
use rxing::common::cpp_essentials::ConcentricPattern;
use rxing::common::{
    BitMatrix, DefaultGridSampler, DetectorRXingResult, GridSampler, PerspectiveTransform,
    Quadrilateral, SamplerControl,
};
use rxing::qrcode::common::ErrorCorrectionLevel;
use rxing::qrcode::cpp_port::detector::{
    DetectPureMQR, DetectPureQR, DetectPureRMQR, FinderPatternSet, GenerateFinderPatternSets,
    SampleMQR, SampleQR, SampleRMQR,
};

use super::codewords;
use super::correction;
use super::deadline::Deadline;
use super::grey_grid;
use super::scan_rows;
use super::strategy::Strategy;
use super::{EcLevel, Format, Formats, QrCode};
use crate::text;

/// Most damaged symbols one detector run reports.
const MAX_DAMAGED: usize = 1024;

/// What one detector run saw: the codes it read, and the symbols it read the format of but
/// not the data. Those turn "no code" into "unreadable code", unlock the costly strategies, and
/// tell them where to look.
#[derive(Default)]
pub struct Detected {
    pub codes: Vec<QrCode>,
    /// The symbols sampled whose format read and whose data did not.
    pub damaged: Vec<Damaged>,
    /// Candidates without a place: the detector panicked while following one.
    pub lost: usize,
    /// Finder patterns the scan confirmed, as centre and size in the caller's image pixels:
    /// evidence of symbols, read or not.
    pub patterns: Vec<[f32; 3]>,
}

/// Where the bits a detector looks at sit in the caller's image, and which strategy looks:
/// a view `scale` times smaller than the image (across, down: the squashed views shrink one
/// axis only), or a crop of one with its top-left corner at `origin` (in view pixels).
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    pub origin: [f32; 2],
    pub scale: [f32; 2],
    pub strategy: Strategy,
}

impl Placement {
    /// A point of the detector's bits in the caller's image pixels.
    fn to_image(self, x: f32, y: f32) -> [f32; 2] {
        [
            (x + self.origin[0]) * self.scale[0],
            (y + self.origin[1]) * self.scale[1],
        ]
    }
}

/// A symbol whose format and version were read and whose data was not: a code is there.
#[derive(Clone, Debug)]
pub struct Damaged {
    /// Its corners in the caller's image pixels, clockwise from top-left.
    pub corners: [[f32; 2]; 4],
    /// Where its grid puts the centres of its finder patterns, in the caller's image pixels:
    /// three for QR, the one of Micro QR and rMQR. A finder pattern belongs to one symbol, so
    /// a "symbol" that shares one with a code read is a triple made across codes.
    pub finders: Vec<[f32; 2]>,
}

impl Damaged {
    /// The damaged symbol a sampled grid of `modules` with `corners` shows.
    pub(super) fn new(corners: [[f32; 2]; 4], modules: &BitMatrix) -> Self {
        let (width, height) = (modules.width() as f32, modules.height() as f32);
        // Module coordinates to image pixels, bilinear between the corners: close enough to
        // the symbol's perspective to tell which code a finder pattern lies on.
        let at = |x: f32, y: f32| {
            let (u, v) = (x / width, y / height);
            let [tl, tr, br, bl] = corners;
            let mix = |i: usize| {
                (1.0 - u) * (1.0 - v) * tl[i]
                    + u * (1.0 - v) * tr[i]
                    + u * v * br[i]
                    + (1.0 - u) * v * bl[i]
            };
            [mix(0), mix(1)]
        };
        let finders = if width == height && width >= 21.0 {
            vec![at(3.5, 3.5), at(width - 3.5, 3.5), at(3.5, height - 3.5)]
        } else {
            vec![at(3.5, 3.5)]
        };
        Damaged { corners, finders }
    }
}

impl Detected {
    fn count(&mut self, unread: Unread, points: [[f32; 2]; 4], modules: &BitMatrix) {
        // Bounded: a field of finder-like targets gives a "symbol" per triple sampled, and
        // `Found` keeps at most `MAX_KEPT_DAMAGED` (256) of them anyway.
        if unread == Unread::Damaged && self.damaged.len() < MAX_DAMAGED {
            self.damaged.push(Damaged::new(points, modules));
        }
    }

    /// What a detector that panicked had seen: a candidate, somewhere.
    fn panicked() -> Self {
        Detected {
            lost: 1,
            ..Detected::default()
        }
    }
}

/// The grey pixels a view's bits were binarized from, for reading symbols from them
/// (`grey_grid`), and how far that is worth going.
#[derive(Clone, Copy)]
pub struct Grey<'a> {
    pub pixels: &'a GrayImage,
    /// Whether each of `resample`'s samplings (up to 25 a symbol, the fourth corner moved) is
    /// read from the pixels too, or only the first tried (for version 1 the parallelogram of the
    /// finder patterns, for larger symbols the one whose alignment pattern agrees best).
    /// The first in every strategy read one more BoofCV code (bright spots) for about 2% more
    /// CPU on the zxing-cpp corpus; all of them, in the crops around symbols no strategy read,
    /// one more (damaged) for 1%; all of them in every strategy cost 8%.
    pub resampled: bool,
}

/// zxing-cpp's detector: scan every third row for 1:1:3:1:1 runs, confirm each as a
/// concentric pattern, group patterns into plausible triples (most plausible first), sample
/// each triple through its alignment-pattern grid. A triple whose symbol reads claims its
/// patterns, so they are not reused for a lesser triple. Points are mapped back to the caller's
/// image through `at`. `deadline` stops the walk over triples, which can be long on busy photos.
/// Then the patterns no code claimed are tried in the triples zxing-cpp's wider rules allow
/// and rxing's port does not (`tilted_sets`): symbols photographed at a steep angle. Then, if
/// nothing was read, pairs of patterns no triple used get a third where a square symbol puts it
/// (`completed_sets`): symbols that lost a finder pattern. Then, when `formats` asks for them,
/// each pattern no code read lies on is tried as the finder pattern of a Micro QR or rMQR
/// symbol. `grey`, when given, holds the pixels `bits` was binarized from: a symbol whose format
/// reads and whose data does not is read from them as well, the blur undone (`grey_grid`).
pub fn finder(
    bits: &BitMatrix,
    grey: Option<Grey>,
    at: Placement,
    deadline: Deadline,
    formats: Formats,
    resampling: Resampling,
) -> Detected {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut detected = Detected::default();
        let mut patterns = scan_rows::finder_patterns(bits, deadline, scan_rows::MAX_PATTERNS);
        detected.patterns = patterns
            .iter()
            .map(|p| {
                let [x, y] = at.to_image(p.p.x, p.p.y);
                [x, y, p.size as f32 * at.scale[0].max(at.scale[1])]
            })
            .collect();
        let sets = if formats.contains(Format::QRCode) {
            GenerateFinderPatternSets(&mut patterns)
        } else {
            Default::default()
        };

        let mut used: Vec<ConcentricPattern> = Vec::new();
        let mut sample = |set: &FinderPatternSet, used: &mut Vec<ConcentricPattern>| {
            if [set.bl, set.tl, set.tr].iter().any(|p| used.contains(p)) {
                return;
            }
            let Ok(sampled) = SampleQR(bits, set) else {
                return;
            };
            let points = sampled_corners(&sampled, at);
            let read = match read_grid(sampled.getBits(), points, at.strategy) {
                Err(Unread::Damaged) if sampled.getBits().width() <= resampling.largest_side() => {
                    let side = sampled.getBits().width();
                    resample(bits, grey, set, at, side, deadline, false).ok_or(Unread::Damaged)
                }
                read => read,
            };
            let read = match read {
                // The same grid, each module the majority of nine points instead of its centre.
                Err(Unread::Damaged) => read_regridded(&sampled, at, |corners, side| {
                    majority_grid(bits, corners, side).into_iter().collect()
                })
                .ok_or(Unread::Damaged),
                read => read,
            };
            let read = match (read, grey) {
                // Each module from the grey pixels, the blur undone (`grey_grid`).
                (Err(Unread::Damaged), Some(grey)) => {
                    read_regridded(&sampled, at, |corners, side| {
                        grey_grid::grids(grey.pixels, corners, side)
                    })
                    .ok_or(Unread::Damaged)
                }
                (read, _) => read,
            };
            match read {
                Ok(code) => {
                    used.extend([set.bl, set.tl, set.tr]);
                    detected.codes.push(code);
                }
                Err(unread) => detected.count(unread, points, sampled.getBits()),
            }
        };
        for set in &sets {
            if deadline.passed() {
                break;
            }
            sample(set, &mut used);
        }
        let mut tilted = Vec::new();
        if formats.contains(Format::QRCode) {
            // The patterns no code claimed, in the triples rxing's narrower rules left out.
            tilted = tilted_sets(&patterns, &used, &sets);
            for set in &tilted {
                if deadline.passed() {
                    break;
                }
                sample(set, &mut used);
            }
        }
        if formats.contains(Format::QRCode) && detected.codes.is_empty() {
            // Two patterns left, the third lost: completed where the symbol's square puts it.
            // In the crops around unread symbols (few patterns, bounded work), also the pairs a
            // triple used: curved symbols whose third pattern the triple placed badly.
            let exclude: [&[FinderPatternSet]; 2] = match resampling {
                Resampling::Version1 => [&sets, &tilted],
                Resampling::UpToVersion6 => [&[], &[]],
            };
            for (set, side) in completed_sets(&patterns, &used, exclude) {
                if deadline.passed() {
                    break;
                }
                if let Some(code) = resample(bits, grey, &set, at, side, deadline, true) {
                    used.extend([set.bl, set.tl, set.tr]);
                    detected.codes.push(code);
                    break;
                }
            }
        }
        if formats.any_micro() {
            for &pattern in &patterns {
                if deadline.passed() {
                    break;
                }
                let [x, y] = at.to_image(pattern.p.x, pattern.p.y);
                if used.contains(&pattern) || detected.codes.iter().any(|c| c.contains([x, y])) {
                    continue;
                }
                single_pattern(bits, pattern, at, formats, &mut detected);
            }
        }
        detected
    }));
    // A panic inside the port means it was following a candidate when it failed.
    outcome.unwrap_or_else(|_| Detected::panicked())
}

/// Which symbols `finder` samples again, their fourth corner moved, when their format reads and
/// their data does not (`resample`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resampling {
    /// Version 1 (21 modules), which has no alignment pattern to place its fourth corner by:
    /// cheap enough for every strategy.
    Version1,
    /// Versions 1 to 6 (up to 41 modules, those without version information), whose one
    /// alignment pattern the sampler may not find: for crops around symbols no strategy read.
    /// On every strategy it spent the budget on BoofCV's photos of 60 codes.
    UpToVersion6,
}

impl Resampling {
    fn largest_side(self) -> u32 {
        match self {
            Resampling::Version1 => 21,
            Resampling::UpToVersion6 => 41,
        }
    }
}

/// How far `resample` moves the fourth corner, in modules along each side: up to a module each
/// way, half a module at a time, nearest first. All that BoofCV's photos needed; up to a module
/// and a half read no more.
const CORNER_NUDGES: [f32; 5] = [0.0, -0.5, 0.5, -1.0, 1.0];

/// How many of `resample`'s samplings of a symbol with an alignment pattern (version 2 and up)
/// are decoded: those whose alignment pattern agrees best. On BoofCV's photos the one that
/// read was always among the best two (all 25 decoded: the same 554 codes, 2 the best only:
/// 554, the best alone: 553, none: 551); twice that, for margin.
const ALIGNED_TRIES: usize = 4;

/// Samples a symbol of `side` modules again, its fourth corner moved. The sampler places the
/// corner opposite the top-left finder pattern from the alignment pattern near it, or when
/// there is none (version 1) or it is not found, by estimate (the symbol's edge lines when
/// tilted, else a parallelogram); under perspective that is a module or two off, enough to
/// misread the far half of the grid while the format, next to the finder patterns, still
/// reads. The tries are around the parallelogram the three finder patterns make, itself first
/// (the sampler may have used another estimate). Called only for such a symbol
/// (`Unread::Damaged`): at most 25 samplings, all decoded for version 1, the `ALIGNED_TRIES`
/// whose alignment pattern agrees best for larger symbols; error correction rejects the wrong
/// ones. The corners reported are the sampling's, the moved one within a module of the symbol's.
fn resample(
    bits: &BitMatrix,
    grey: Option<Grey>,
    set: &FinderPatternSet,
    at: Placement,
    side: u32,
    deadline: Deadline,
    format_unknown: bool,
) -> Option<QrCode> {
    let (tl, tr, bl) = (set.tl.p, set.tr.p, set.bl.p);
    // Finder pattern centres are `side - 7` modules apart.
    let span = side.checked_sub(7)? as f32;
    let (across, down) = ((tr - tl) / span, (bl - tl) / span);
    let estimate = tr - tl + bl;
    let centres = Quadrilateral::rectangle(side as i32, side as i32, Some(3.5));
    let outline = Quadrilateral::rectangle(side as i32, side as i32, None);
    if format_unknown {
        // Without a timing pattern by the finder patterns (the nudges do not move it), no
        // symbol: read from the image through the parallelogram, 2 x (side - 16) points.
        let pixels = Quadrilateral::from([tl, tr, estimate, bl]);
        let transform = PerspectiveTransform::quadrilateralToQuadrilateral(centres, pixels).ok()?;
        let dark = |x: f32, y: f32| {
            let p = transform.transform_point(rxing::Point { x, y });
            p.x >= 0.0 && p.y >= 0.0 && bits.try_get(p.x as u32, p.y as u32).unwrap_or(false)
        };
        if timing_agreement(side, |x, y| dark(x as f32 + 0.5, y as f32 + 0.5))
            < MIN_TIMING_AGREEMENT
        {
            return None;
        }
    }
    let mut samplings = Vec::with_capacity(CORNER_NUDGES.len().pow(2));
    for &dy in &CORNER_NUDGES {
        for &dx in &CORNER_NUDGES {
            if deadline.passed() {
                return None;
            }
            let br = estimate + across * dx + down * dy;
            let pixels = Quadrilateral::from([tl, tr, br, bl]);
            let Ok(transform) = PerspectiveTransform::quadrilateralToQuadrilateral(centres, pixels)
            else {
                continue;
            };
            let control = SamplerControl::new(side, side, transform);
            let Ok((grid, _)) = DefaultGridSampler.sample_grid(bits, side, side, &[control]) else {
                continue;
            };
            // Clockwise from top-left, as `sampled_corners` gives them.
            let corner = |i: usize| {
                let p = transform.transform_point(outline.0[i]);
                at.to_image(p.x, p.y)
            };
            let corners = [0, 1, 2, 3].map(corner);
            let view_corners = [0, 1, 2, 3].map(|i| transform.transform_point(outline.0[i]));
            if format_unknown && dx == 0.0 && dy == 0.0 {
                // The parallelogram first: without a format there (by the finder patterns,
                // which the nudges do not move), no symbol. Decoded here, so not again below.
                match read_grid(&grid, corners, at.strategy) {
                    Ok(code) => return Some(code),
                    Err(Unread::NotASymbol) => return None,
                    Err(Unread::Damaged) => continue,
                }
            }
            let score = alignment_agreement(&grid);
            samplings.push((score, grid, corners, view_corners));
        }
    }
    // Error correction is what costs (a failed Reed-Solomon decode is most of a try): with an
    // alignment pattern to go by, only the samplings that show it best are decoded. Best first;
    // the sort is stable, so ties stay nearest first.
    samplings.sort_by_key(|&(agreeing, _, _, _)| std::cmp::Reverse(agreeing));
    let tries = if side > 21 {
        ALIGNED_TRIES
    } else {
        samplings.len()
    };
    // How many of them are read from the grey pixels too (`Grey::resampled`).
    let grey_tries = grey.map_or(0, |grey| if grey.resampled { tries } else { 1 });
    for (index, (_, grid, corners, view_corners)) in samplings.into_iter().take(tries).enumerate() {
        if deadline.passed() {
            return None;
        }
        if let Ok(code) = read_grid(&grid, corners, at.strategy) {
            return Some(code);
        }
        // From the grey pixels too, the blur undone: a symbol both blurred and tilted needs both.
        if let Some(code) = grey.filter(|_| index < grey_tries).and_then(|grey| {
            grey_grid::grids(grey.pixels, view_corners, side)
                .iter()
                .find_map(|grid| read_grid(grid, corners, at.strategy).ok())
        }) {
            return Some(code);
        }
    }
    None
}

/// Reads a sampled symbol again from other grids of it, which `regrid` makes from the symbol's
/// corners (clockwise from top-left, in the view's pixels) and side: the first that reads.
fn read_regridded(
    sampled: &impl DetectorRXingResult,
    at: Placement,
    regrid: impl FnOnce([rxing::Point; 4], u32) -> Vec<BitMatrix>,
) -> Option<QrCode> {
    let side = sampled.getBits().width();
    // The samplers report top-left, top-right, bottom-left, bottom-right.
    let &[tl, tr, bl, br] = sampled.getPoints() else {
        return None;
    };
    regrid([tl, tr, br, bl], side)
        .iter()
        .find_map(|grid| read_grid(grid, sampled_corners(sampled, at), at.strategy).ok())
}

/// Where in a module `majority_grid` samples, across and down: a 3x3 lattice over its middle.
const MAJORITY_POINTS: [f32; 3] = [0.3, 0.5, 0.7];

/// The `side` x `side` module grid inside `corners` (clockwise from top-left, in `bits`'
/// pixels), each module dark when at least five of nine points over its middle are. A
/// scratch, a glare streak or a crease thinner than half a module no longer flips the module
/// its centre falls on; over BoofCV's photos, read where the centre sampling of a symbol whose
/// format reads fails: glare +2, curved +1.
fn majority_grid(bits: &BitMatrix, corners: [rxing::Point; 4], side: u32) -> Option<BitMatrix> {
    let outline = Quadrilateral::rectangle(side as i32, side as i32, None);
    let transform =
        PerspectiveTransform::quadrilateralToQuadrilateral(outline, Quadrilateral::from(corners))
            .ok()?;
    let dark = |x: f32, y: f32| {
        let p = transform.transform_point(rxing::Point { x, y });
        p.x >= 0.0 && p.y >= 0.0 && bits.try_get(p.x as u32, p.y as u32).unwrap_or(false)
    };
    let mut grid = BitMatrix::with_single_dimension(side).ok()?;
    for y in 0..side {
        for x in 0..side {
            let votes = MAJORITY_POINTS
                .iter()
                .flat_map(|&dy| MAJORITY_POINTS.iter().map(move |&dx| (dx, dy)))
                .filter(|&(dx, dy)| dark(x as f32 + dx, y as f32 + dy))
                .count();
            if votes >= 5 {
                grid.set(x, y);
            }
        }
    }
    Some(grid)
}

/// Share of its modules the better of a sampled grid's two timing patterns must show as they
/// are for `resample` to go on with a symbol whose format it does not know yet.
const MIN_TIMING_AGREEMENT: f32 = 0.8;

/// The share of modules of the better of a sampled grid's two timing patterns (row and column
/// 6, between the finder patterns' separators) that alternate as they should, dark first.
/// Random modules pass the format's check about half the time, the timing's almost never.
fn timing_agreement(side: u32, dark: impl Fn(u32, u32) -> bool) -> f32 {
    if side < 21 {
        return 0.0;
    }
    let run = 8..side - 8;
    let count = run.len() as f32;
    let along = |module: &dyn Fn(u32) -> bool| {
        run.clone().filter(|&i| module(i) == (i % 2 == 0)).count() as f32 / count
    };
    along(&|x| dark(x, 6)).max(along(&|y| dark(6, y)))
}

/// How many of the 25 modules of the alignment pattern nearest the bottom-right corner a
/// sampled grid of version 2 to 6 shows as they are (dark ring, light ring, dark centre, centred
/// 6.5 modules in from that corner); 0 for other sizes.
fn alignment_agreement(grid: &BitMatrix) -> u32 {
    let side = grid.width();
    if !(25..=41).contains(&side) {
        return 0;
    }
    let centre = side - 7;
    let mut agreeing = 0;
    for dy in -2i32..=2 {
        for dx in -2i32..=2 {
            let dark = dx.abs().max(dy.abs()) != 1;
            let (x, y) = (
                centre.wrapping_add_signed(dx),
                centre.wrapping_add_signed(dy),
            );
            agreeing += u32::from(grid.get(x, y) == dark);
        }
    }
    agreeing
}

/// The corners of a sampled symbol in the caller's image, clockwise from top-left; the
/// samplers report top-left, top-right, bottom-left, bottom-right.
fn sampled_corners(sampled: &impl DetectorRXingResult, at: Placement) -> [[f32; 2]; 4] {
    let corner = |i: usize| {
        sampled
            .getPoints()
            .get(i)
            .map_or([0.0, 0.0], |p| at.to_image(p.x, p.y))
    };
    [corner(0), corner(1), corner(3), corner(2)]
}

/// Most unclaimed finder patterns `completed_sets` pairs up: two symbols missing one each.
const MAX_COMPLETED_PATTERNS: usize = 4;

/// Triples for a symbol that lost one finder pattern (torn, covered, washed out by glare), with
/// the symbol's side in modules: each pair of unclaimed patterns of about one size, and the third
/// pattern where a square symbol puts it. A pair along a side has the third on either side of
/// either end; a diagonal pair has it at either right-angled corner. Each is tried at the side
/// the pair's distance and module size give. Pairs in `tried` (sampled with a third pattern
/// of their own) are left out: on whole views, trying them too cost a third more decoding time;
/// in the crops around unread symbols they read 2 curved codes of the zxing-cpp corpus per turn
/// and one of BoofCV's for no time that shows.
fn completed_sets(
    patterns: &[ConcentricPattern],
    skip: &[ConcentricPattern],
    tried: [&[FinderPatternSet]; 2],
) -> Vec<(FinderPatternSet, u32)> {
    let free: Vec<ConcentricPattern> = patterns
        .iter()
        .filter(|p| !skip.contains(p))
        .copied()
        .collect();
    if free.len() < 2 || free.len() > MAX_COMPLETED_PATTERNS {
        return Vec::new();
    }
    let mut sets = Vec::new();
    for (i, a) in free.iter().enumerate() {
        for b in &free[i + 1..] {
            let (small, large) = (a.size.min(b.size), a.size.max(b.size));
            if small <= 0 || large * 2 > small * 3 {
                continue;
            }
            // A pair already sampled with a third pattern of its own had its chance.
            let holds = |set: &FinderPatternSet, p: &ConcentricPattern| {
                [set.bl, set.tl, set.tr].contains(p)
            };
            if tried
                .iter()
                .flat_map(|sets| sets.iter())
                .any(|set| holds(set, a) && holds(set, b))
            {
                continue;
            }
            // A finder pattern is 7 modules across.
            let module = f64::from(a.size + b.size) / 14.0;
            let (vx, vy) = (f64::from(b.p.x - a.p.x), f64::from(b.p.y - a.p.y));
            let distance = vx.hypot(vy);
            let at = |x: f64, y: f64| rxing::Point {
                x: x as f32,
                y: y as f32,
            };
            let (ax, ay, bx, by) = (
                f64::from(a.p.x),
                f64::from(a.p.y),
                f64::from(b.p.x),
                f64::from(b.p.y),
            );
            // (corner, the two others, centre distance in modules between corner and others).
            let mut triples = Vec::new();
            for sign in [1.0, -1.0] {
                let (nx, ny) = (-vy * sign, vx * sign);
                triples.push((a.p, b.p, at(ax + nx, ay + ny), distance));
                triples.push((b.p, a.p, at(bx + nx, by + ny), distance));
                let (mx, my) = ((ax + bx) / 2.0, (ay + by) / 2.0);
                triples.push((
                    at(mx + nx / 2.0, my + ny / 2.0),
                    a.p,
                    b.p,
                    distance / 2f64.sqrt(),
                ));
            }
            for (corner, one, other, span) in triples {
                let modules = span / module + 7.0;
                let version = ((modules - 17.0) / 4.0).round();
                if !(1.0..=40.0).contains(&version) {
                    continue;
                }
                let pattern = |p: rxing::Point| ConcentricPattern { p, size: a.size };
                // Clockwise in image coordinates: top-right, then bottom-left.
                let cross = (one.x - corner.x) * (other.y - corner.y)
                    - (one.y - corner.y) * (other.x - corner.x);
                let (tr, bl) = if cross > 0.0 {
                    (one, other)
                } else {
                    (other, one)
                };
                let set = FinderPatternSet {
                    bl: pattern(bl),
                    tl: pattern(corner),
                    tr: pattern(tr),
                };
                // The nearest version only: a version either way read nothing more on BoofCV.
                sets.push((set, 17 + 4 * version as u32));
            }
        }
    }
    sets
}

/// Most extra sets `tilted_sets` returns, the most plausible first, as zxing-cpp keeps.
const MAX_TILTED_SETS: usize = 256;
/// Most patterns `tilted_sets` combines: its work grows with the cube of the count.
const MAX_TILTED_PATTERNS: usize = 40;

/// Triples of finder patterns that may be a strongly tilted symbol, by zxing-cpp's rules, which
/// rxing's faster port narrowed: the corner angle within 45 degrees of square (the port: 30),
/// distances scaled by the square of the size ratio (foreshortening shrinks the far patterns),
/// and ordered by how far the triangle is from an isosceles right one. Only triples of patterns
/// outside `skip` (patterns of codes read) that rxing did not propose (`proposed`) come back.
fn tilted_sets(
    patterns: &[ConcentricPattern],
    skip: &[ConcentricPattern],
    proposed: &[FinderPatternSet],
) -> Vec<FinderPatternSet> {
    let mut free: Vec<ConcentricPattern> = patterns
        .iter()
        .filter(|p| !skip.contains(p))
        .copied()
        .collect();
    free.sort_by_key(|p| p.size);
    free.truncate(MAX_TILTED_PATTERNS);
    let key = |a: &ConcentricPattern, b: &ConcentricPattern, c: &ConcentricPattern| {
        let mut k = [(a.p.x, a.p.y), (b.p.x, b.p.y), (c.p.x, c.p.y)]
            .map(|(x, y)| (x.to_bits(), y.to_bits()));
        k.sort_unstable();
        k
    };
    // A set, not a list: a busy view proposes up to 105 triples a pattern.
    let known: HashSet<_> = proposed.iter().map(|s| key(&s.bl, &s.tl, &s.tr)).collect();
    let squared = |a: &ConcentricPattern, b: &ConcentricPattern| {
        let (dx, dy) = (f64::from(a.p.x - b.p.x), f64::from(a.p.y - b.p.y));
        (dx * dx + dy * dy) * (f64::from(b.size) / f64::from(a.size)).powi(2)
    };
    let (cos_upper, cos_lower) = (
        std::f64::consts::FRAC_PI_4.cos(),
        (3.0 * std::f64::consts::FRAC_PI_4).cos(),
    );
    let mut sets: Vec<(f64, FinderPatternSet)> = Vec::new();
    let n = free.len();
    for i in 0..n.saturating_sub(2) {
        for j in i + 1..n - 1 {
            for k in j + 1..n {
                let (mut a, mut b, mut c) = (&free[i], &free[j], &free[k]);
                // Sorted by size: past twice the smallest, no later pattern fits either.
                if c.size > a.size * 2 {
                    break;
                }
                let (mut ab, mut bc, mut ac) = (squared(a, b), squared(b, c), squared(a, c));
                if bc >= ab && bc >= ac {
                    std::mem::swap(&mut a, &mut b);
                    std::mem::swap(&mut bc, &mut ac);
                } else if ab >= ac && ab >= bc {
                    std::mem::swap(&mut b, &mut c);
                    std::mem::swap(&mut ab, &mut ac);
                }
                let (dist_ab, dist_bc) = (ab.sqrt(), bc.sqrt());
                if dist_ab > 2.0 * dist_bc || dist_bc > 2.0 * dist_ab {
                    continue;
                }
                let module = 2.0 * f64::from(a.size + b.size + c.size) / 21.0;
                let modules = (dist_ab + dist_bc) / module + 7.0;
                if !(21.0 * 0.9..=177.0 * 1.5).contains(&modules) {
                    continue;
                }
                let cos = (ab + bc - ac) / (2.0 * dist_ab * dist_bc);
                if cos.is_nan() || cos > cos_upper || cos < cos_lower {
                    continue;
                }
                let score = (ac - 2.0 * ab).abs() + (ac - 2.0 * bc).abs();
                let cross = f64::from(c.p.x - b.p.x) * f64::from(a.p.y - b.p.y)
                    - f64::from(c.p.y - b.p.y) * f64::from(a.p.x - b.p.x);
                if cross < 0.0 {
                    std::mem::swap(&mut a, &mut c);
                }
                if known.contains(&key(a, b, c)) {
                    continue;
                }
                sets.push((
                    score,
                    FinderPatternSet {
                        bl: *a,
                        tl: *b,
                        tr: *c,
                    },
                ));
            }
        }
    }
    sets.sort_by(|x, y| x.0.total_cmp(&y.0));
    sets.truncate(MAX_TILTED_SETS);
    sets.into_iter().map(|(_, set)| set).collect()
}

/// How many finder patterns zxing-cpp's scan confirms in `bits`, counted up to `limit`: a cheap
/// count (at most one pass) of what a triple-testing detector would have to combine.
pub fn finder_pattern_count(bits: &BitMatrix, limit: usize) -> usize {
    catch_unwind(AssertUnwindSafe(|| {
        scan_rows::finder_patterns(bits, Deadline::NONE, limit).len()
    }))
    .unwrap_or(0)
}

/// A Micro QR or rMQR symbol around one finder pattern, tried in that order (a Micro QR sampler
/// checks the quiet zone a corner of a larger symbol lacks; the rMQR one does not). A sampler
/// that reads format information finds one most of the time on any finder-like shape (15 or
/// 18 bits, three errors allowed), so a symbol that does not read is no evidence of a code:
/// it neither turns "no code" into "unreadable" nor unlocks the costly strategies.
fn single_pattern(
    bits: &BitMatrix,
    pattern: ConcentricPattern,
    at: Placement,
    formats: Formats,
    detected: &mut Detected,
) {
    for format in [Format::MicroQRCode, Format::RMQRCode] {
        if !formats.contains(format) {
            continue;
        }
        let sampled = match format {
            Format::MicroQRCode => SampleMQR(bits, pattern),
            _ => SampleRMQR(bits, pattern),
        };
        let Ok(sampled) = sampled else {
            continue;
        };
        let points = sampled_corners(&sampled, at);
        match read_micro(sampled.getBits(), points, at.strategy, formats) {
            Ok(code) => {
                detected.codes.push(code);
                return;
            }
            Err(unread) => detected.count(unread, points, sampled.getBits()),
        }
    }
}

/// zxing-cpp's "pure" detector: the image holds one unskewed symbol and a white margin, as in
/// generated images and screenshots. Needs no finder-pattern scan, so it reads symbols of one
/// pixel per module, below what the scan can confirm. It expects the symbol upright, so the
/// image is first turned by the multiple of 90 degrees its corners call for.
pub fn pure(bits: &BitMatrix, at: Placement, formats: Formats) -> Detected {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // Anything but a square (or, for rMQR, a band) of dark pixels is rejected in one pass.
        let Some(bounds) = bits.getEnclosingRectangle() else {
            return Detected::default();
        };
        let mut detected = if formats.contains(Format::QRCode) {
            pure_qr(bits, bounds, at)
        } else {
            Detected::default()
        };
        if detected.codes.is_empty() && formats.any_micro() {
            pure_micro(bits, bounds, at, formats, &mut detected);
        }
        detected
    }));
    outcome.unwrap_or_default()
}

/// `pure` for a QR symbol, whose dark pixels span `[left, top, width, height]` of `bits`.
fn pure_qr(bits: &BitMatrix, [left, top, width, height]: [u32; 4], at: Placement) -> Detected {
    let mut detected = Detected::default();
    if width.abs_diff(height) > 1 || width < 21 {
        return detected;
    }
    // A symbol has finder patterns in three corners of its bounding box; the light corner
    // says how far to turn it upright (bottom-right light), so only one turn is tried.
    let (right, bottom) = (left + width - 1, top + height - 1);
    let dark = |x: u32, y: u32, dx: i32, dy: i32| {
        bits.get(x, y) || bits.get(x.saturating_add_signed(dx), y.saturating_add_signed(dy))
    };
    let steps = [
        (right, bottom, -1, -1),
        (left, bottom, 1, -1),
        (left, top, 1, 1),
        (right, top, -1, 1),
    ];
    let corners = steps.map(|(x, y, dx, dy)| dark(x, y, dx, dy));
    let Some(turns) = corners.iter().position(|&d| !d) else {
        return detected;
    };
    if corners.iter().filter(|&&d| d).count() != 3 {
        return detected;
    }
    // The three dark corners must each start a finder pattern (a version 1 symbol's is a third
    // of its side) before the image is copied and turned: a photo's dark border passes the
    // corner test above and nothing else.
    let finders = steps
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != turns)
        .all(|(_, &step)| {
            let (x, y, dx, dy) = step;
            let at = |x: u32, y: u32| finder_on_diagonal(bits, x, y, dx, dy);
            let next = (x.saturating_add_signed(dx), y.saturating_add_signed(dy));
            at(x, y)
                .or_else(|| at(next.0, next.1))
                .is_some_and(|side| side as f32 <= width as f32 * 7.0 / 21.0 + 2.0)
        });
    if !finders {
        return detected;
    }
    let mut turned = bits.clone();
    for _ in 0..turns {
        turned.rotate90();
    }
    let Ok(sampled) = DetectPureQR(&turned) else {
        return detected;
    };
    // Corners come top-left, top-right, bottom-right, bottom-left of the turned image.
    let corner = |i: usize| {
        let p = sampled
            .getPoints()
            .get(i)
            .map_or([0.0, 0.0], |p| [p.x, p.y]);
        let [x, y] = unturn(p, turns as u32, turned.width(), turned.height());
        at.to_image(x, y)
    };
    let points = [0, 1, 2, 3].map(corner);
    match read_grid(sampled.getBits(), points, at.strategy) {
        Ok(code) => detected.codes.push(code),
        Err(unread) => detected.count(unread, points, sampled.getBits()),
    }
    detected
}

/// `pure` for a Micro QR or rMQR symbol. The port's pure detectors expect the finder pattern
/// top-left, and rMQR's long side horizontal, so the image is turned until the corner of the
/// box holding a finder pattern is top-left: any corner of a square box, the two that lay a
/// band flat (a band is at least twice as long as high; R13x27 is the squarest rMQR). Only
/// corners where a finder pattern starts are turned to, since a turn copies the whole image:
/// a square photo would otherwise pay three copies per strategy.
fn pure_micro(
    bits: &BitMatrix,
    [left, top, width, height]: [u32; 4],
    at: Placement,
    formats: Formats,
    detected: &mut Detected,
) {
    let (long, short) = (width.max(height), width.min(height));
    let (format, turns): (Format, &[u32]) = if long - short <= 1 && short >= 11 {
        (Format::MicroQRCode, &[0, 1, 2, 3])
    } else if short >= 7 && long >= 2 * short {
        (
            Format::RMQRCode,
            if width > height { &[0, 2] } else { &[1, 3] },
        )
    } else {
        return;
    };
    if !formats.contains(format) {
        return;
    }
    let (right, bottom) = (left + width - 1, top + height - 1);
    // The corner that turn `n` brings to the top-left (`rotate90` turns counter-clockwise),
    // and the diagonal step from it into the box.
    let corners = [
        (left, top, 1, 1),
        (right, top, -1, 1),
        (right, bottom, -1, -1),
        (left, bottom, 1, -1),
    ];
    let mut turned: Option<BitMatrix> = None;
    let mut done = 0;
    // The finder pattern is 7 modules of the 11-17 of a Micro QR symbol's side, of the 7-17 of
    // an rMQR symbol's height: its diagonal is that share of the box's short side.
    let share = if format == Format::MicroQRCode {
        7.0 / 17.0..=7.0 / 11.0
    } else {
        7.0 / 17.0..=1.0
    };
    for &turns in turns {
        let (x, y, dx, dy) = corners[turns as usize];
        let Some(side) = finder_on_diagonal(bits, x, y, dx, dy) else {
            continue;
        };
        // A pixel either way for aliasing.
        let (low, high) = (share.start() * short as f32, share.end() * short as f32);
        if !(low - 2.0..=high + 2.0).contains(&(side as f32)) {
            continue;
        }
        let turned = turned.get_or_insert_with(|| bits.clone());
        while done < turns {
            turned.rotate90();
            done += 1;
        }
        let sampled = match format {
            Format::MicroQRCode => DetectPureMQR(turned),
            _ => DetectPureRMQR(turned),
        };
        let Ok(sampled) = sampled else {
            continue;
        };
        // Corners come top-left, top-right, bottom-right, bottom-left of the turned image.
        let corner = |i: usize| {
            let p = sampled
                .getPoints()
                .get(i)
                .map_or([0.0, 0.0], |p| [p.x, p.y]);
            let [x, y] = unturn(p, turns, turned.width(), turned.height());
            at.to_image(x, y)
        };
        let points = [0, 1, 2, 3].map(corner);
        match read_micro(sampled.getBits(), points, at.strategy, formats) {
            Ok(code) => {
                detected.codes.push(code);
                return;
            }
            Err(unread) => detected.count(unread, points, sampled.getBits()),
        }
    }
}

/// The side in pixels of the finder pattern in the corner at (`x`, `y`): the diagonal from
/// there, stepping (`dx`, `dy`), crosses dark, light, dark, light, dark runs of about
/// 1:1:3:1:1. `None` when it does not. The last run may end at the image's edge (an R7 rMQR
/// symbol is only as tall as its pattern).
fn finder_on_diagonal(bits: &BitMatrix, x: u32, y: u32, dx: i32, dy: i32) -> Option<u32> {
    let mut runs = [0u32; 5];
    let mut run = 0;
    let (mut x, mut y) = (x, y);
    loop {
        let dark = bits.get(x, y);
        if dark != (run % 2 == 0) {
            run += 1;
            if run == runs.len() {
                break;
            }
        }
        runs[run] += 1;
        match (x.checked_add_signed(dx), y.checked_add_signed(dy)) {
            (Some(nx), Some(ny)) if nx < bits.width() && ny < bits.height() => (x, y) = (nx, ny),
            _ if run == runs.len() - 1 => break,
            _ => return None,
        }
    }
    let side = runs.iter().sum::<u32>();
    let module = side as f32 / 7.0;
    runs.iter()
        .zip([1.0, 1.0, 3.0, 1.0, 1.0])
        .all(|(&r, w)| (r as f32 - w * module).abs() <= module * 0.75 + 1.0)
        .then_some(side)
}

/// Maps a point of a matrix turned `turns` times by `BitMatrix::rotate90` (counter-clockwise)
/// back to the original matrix; `width` and `height` are the turned matrix's.
fn unturn(mut p: [f32; 2], turns: u32, width: u32, height: u32) -> [f32; 2] {
    let (mut width, mut height) = (width as f32, height as f32);
    for _ in 0..turns {
        // rotate90 sends (x, y) to (y, W - x) in continuous coordinates, W the width before
        // turning, which is the height after it.
        p = [height - p[1], p[0]];
        (width, height) = (height, width);
    }
    p
}

/// rqrr: finds finder patterns as flood-filled regions of its own adaptive threshold. `grey`
/// is a crop of a view, placed in the caller's image by `at`. rqrr has no deadline and copies the whole image for every triple of finder
/// patterns it tries, so callers give it crops around single symbols, never a busy photo.
pub fn rqrr(grey: &GrayImage, at: Placement) -> Detected {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            grey.width() as usize,
            grey.height() as usize,
            |x, y| grey.get_pixel(x as u32, y as u32).0[0],
        );
        let mut detected = Detected::default();
        for grid in prepared.detect_grids() {
            let size = rqrr::BitGrid::size(&grid.grid);
            let Ok(mut matrix) = BitMatrix::with_single_dimension(size as u32) else {
                continue;
            };
            for y in 0..size {
                for x in 0..size {
                    if rqrr::BitGrid::bit(&grid.grid, y, x) {
                        matrix.set(x as u32, y as u32);
                    }
                }
            }
            let points = grid.bounds.map(|p| at.to_image(p.x as f32, p.y as f32));
            match read_grid(&matrix, points, at.strategy) {
                Ok(code) => detected.codes.push(code),
                Err(unread) => detected.count(unread, points, &matrix),
            }
        }
        detected
    }));
    // rqrr asserts in its geometry code on some real photos; it saw a candidate before failing.
    outcome.unwrap_or_else(|_| Detected::panicked())
}

/// Why a sampled grid gave no code.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    /// No format information: not a QR symbol (finder-like shapes in a photo), or one sampled
    /// too badly to tell.
    NotASymbol,
    /// Format and version were read, the data was not: a code is there, damaged or sampled
    /// slightly off. Evidence worth the costly strategies.
    Damaged,
}

/// Reads a sampled module grid (set = dark) as a QR symbol: the one path to text.
pub fn read_grid(
    modules: &BitMatrix,
    points: [[f32; 2]; 4],
    strategy: Strategy,
) -> Result<QrCode, Unread> {
    let size = modules.width();
    if size != modules.height() || size < 21 || !(size - 17).is_multiple_of(4) {
        return Err(Unread::NotASymbol);
    }
    let version = u8::try_from((size - 17) / 4).map_err(|_| Unread::NotASymbol)?;
    if !(1..=40).contains(&version) {
        return Err(Unread::NotASymbol);
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| codewords::read(modules)))
        .map_err(|_| Unread::Damaged)?
        .map_err(|e| match e {
            // Reed-Solomon failed after the format information was read.
            rxing::Exceptions::ChecksumException(_) => Unread::Damaged,
            _ => Unread::NotASymbol,
        })?;
    let content = text::decode_segments(&decoded.data, version).map_err(|_| Unread::Damaged)?;
    let ec_level = match decoded.level {
        ErrorCorrectionLevel::L => EcLevel::L,
        ErrorCorrectionLevel::M => EcLevel::M,
        ErrorCorrectionLevel::Q => EcLevel::Q,
        ErrorCorrectionLevel::H => EcLevel::H,
        ErrorCorrectionLevel::Invalid => return Err(Unread::Damaged),
    };
    Ok(QrCode {
        content,
        format: Format::QRCode,
        version,
        ec_level,
        points,
        strategy,
        correction: decoded.correction,
    })
}

/// Reads a sampled Micro QR or rMQR module grid (set = dark), told apart by its shape, with
/// rxing's port of zxing-cpp's decoder: format information (mirrored too, for Micro QR),
/// unmasking, Reed-Solomon and the bit stream.
///
/// A grid that does not read is `Damaged` (evidence of a code, worth the costly strategies)
/// only when it is a Micro QR grid whose 15 format bits are exactly a valid codeword: the
/// sampler accepts three wrong bits, which most finder-like shapes in photos pass, while an
/// exact codeword happens by chance once in 500 tries. rMQR grids are never evidence.
pub fn read_micro(
    modules: &BitMatrix,
    points: [[f32; 2]; 4],
    strategy: Strategy,
    formats: Formats,
) -> Result<QrCode, Unread> {
    let format = match (modules.width(), modules.height()) {
        (w, h) if w == h && (11..=17).contains(&w) => Format::MicroQRCode,
        (w, h) if w > h => Format::RMQRCode,
        _ => return Err(Unread::NotASymbol),
    };
    if !formats.contains(format) {
        return Err(Unread::NotASymbol);
    }
    let unread = || {
        if format == Format::MicroQRCode && exact_micro_format(modules) {
            Unread::Damaged
        } else {
            Unread::NotASymbol
        }
    };
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        rxing::qrcode::cpp_port::decoder::Decode(modules)
    }))
    .map_err(|_| unread())?
    .map_err(|_| unread())?;
    if !decoded.isValid() {
        return Err(unread());
    }
    let payload = decoded.content();
    let eci_text = payload.has_eci.then(|| payload.to_string());
    let content = text::from_payload(payload.bytes(), eci_text);
    // The port spells levels as letters; an M1 symbol (error detection only) reports L.
    let ec_level = match decoded.ecLevel() {
        "L" => EcLevel::L,
        "M" => EcLevel::M,
        "Q" => EcLevel::Q,
        "H" => EcLevel::H,
        _ => return Err(Unread::Damaged),
    };
    Ok(QrCode {
        content,
        format,
        version: u8::try_from(decoded.versionNumber()).map_err(|_| Unread::NotASymbol)?,
        ec_level,
        points,
        strategy,
        // rxing read the grid, so its codewords are there to count; if not, nothing is known.
        correction: catch_unwind(AssertUnwindSafe(|| correction::micro_correction(modules)))
            .ok()
            .flatten()
            .unwrap_or_default(),
    })
}

/// Whether the format information of a sampled Micro QR grid is a valid codeword without a
/// wrong bit. The bits are where the port's decoder reads them: row 8 from column 1 to 8, then
/// column 8 from row 7 up to row 1.
fn exact_micro_format(modules: &BitMatrix) -> bool {
    let row = (1..9).map(|x| modules.get(x, 8));
    let column = (1..=7).rev().map(|y| modules.get(8, y));
    let bits = row
        .chain(column)
        .fold(0u32, |bits, dark| (bits << 1) | u32::from(dark));
    rxing::qrcode::common::FormatInformation::DecodeMQR(bits).hammingDistance == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Image pixels as they are: the placement of a view that is the image.
    fn identity() -> Placement {
        Placement {
            origin: [0.0, 0.0],
            scale: [1.0; 2],
            strategy: super::super::CHEAP_STRATEGIES[0],
        }
    }

    /// The finder-pattern detector with the defaults: no deadline, every format, version 1
    /// resampled.
    fn find(bits: &BitMatrix, grey: Option<Grey>) -> Detected {
        finder(
            bits,
            grey,
            identity(),
            Deadline::NONE,
            Formats::default(),
            Resampling::Version1,
        )
    }

    fn pattern(x: f32, y: f32, size: i32) -> ConcentricPattern {
        ConcentricPattern {
            p: rxing::Point { x, y },
            size,
        }
    }

    #[test]
    fn a_resampled_version_1_symbol_reads_with_its_own_corners() {
        // 21 modules at 6 pixels, a 4-module quiet zone: the symbol spans 24..150.
        let grey = super::super::testkit::qr_field("V1 CODE", 6, 1);
        let bits = super::super::pixels::local_average(&grey, Deadline::NONE).unwrap();
        let mut patterns =
            scan_rows::finder_patterns(&bits, Deadline::NONE, scan_rows::MAX_PATTERNS);
        let sets = GenerateFinderPatternSets(&mut patterns);
        let at = identity();
        // A clean symbol reads at its own place (the first try, the parallelogram, is right),
        // the moved corner within a module of the symbol's.
        let code = resample(&bits, None, &sets[0], at, 21, Deadline::NONE, false).expect("reads");
        assert_eq!(code.content.text, "V1 CODE");
        let (near, far) = (24.0, 150.0);
        let expected = [[near, near], [far, near], [far, far], [near, far]];
        for (i, (p, e)) in code.points.iter().zip(expected).enumerate() {
            let off = (p[0] - e[0]).abs().max((p[1] - e[1]).abs());
            let allowed = if i == 2 { 6.0 } else { 2.0 };
            assert!(off <= allowed, "corner {i} at {p:?}, expected {e:?}");
        }
        assert_eq!(Resampling::Version1.largest_side(), 21);
        assert!(
            resample(&bits, None, &sets[0], at, 6, Deadline::NONE, false).is_none(),
            "no symbol is 6 modules"
        );
        let past = Deadline::after(std::time::Instant::now(), std::time::Duration::ZERO);
        assert!(
            resample(&bits, None, &sets[0], at, 21, past, false).is_none(),
            "past the deadline"
        );
    }

    #[test]
    fn a_symbol_with_a_finder_pattern_painted_over_is_read_from_the_other_two() {
        for corner in 0..3 {
            // Version 3 at 6 pixels a module, a 4-module quiet zone.
            let mut grey =
                super::super::testkit::qr_field("TWO PATTERNS LEFT, THE THIRD GONE", 6, 1);
            let side = grey.width() / 6 - 8;
            let (x0, y0) = match corner {
                0 => (4, 4),
                1 => (4 + side - 7, 4),
                _ => (4, 4 + side - 7),
            };
            for y in y0 * 6..(y0 + 7) * 6 {
                for x in x0 * 6..(x0 + 7) * 6 {
                    grey.put_pixel(x, y, image::Luma([255]));
                }
            }
            let bits = super::super::pixels::local_average(&grey, Deadline::NONE).unwrap();
            assert_eq!(
                scan_rows::finder_patterns(&bits, Deadline::NONE, scan_rows::MAX_PATTERNS).len(),
                2,
                "corner {corner}"
            );
            let seen = find(&bits, None);
            assert_eq!(seen.codes.len(), 1, "corner {corner}");
            assert_eq!(
                seen.codes[0].content.text,
                "TWO PATTERNS LEFT, THE THIRD GONE"
            );
        }
    }

    /// A symbol blurred by more than half a module: the finder patterns survive the
    /// binarization, the data does not; given the grey pixels, the finder reads it from them
    /// (`grey_grid`).
    #[test]
    fn a_blurred_symbol_reads_from_the_grey_pixels_the_bits_came_from() {
        let text = "https://example.com/blurred";
        let grey = image::imageops::blur(&crate::testkit::qr_field(text, 6, 1), 3.25);
        let bits = super::super::pixels::local_average(&grey, Deadline::NONE).unwrap();
        let from_bits = find(&bits, None);
        assert!(from_bits.codes.is_empty());
        assert!(!from_bits.damaged.is_empty(), "the format reads");
        let with_grey = find(
            &bits,
            Some(Grey {
                pixels: &grey,
                resampled: false,
            }),
        );
        assert_eq!(with_grey.codes.len(), 1);
        assert_eq!(with_grey.codes[0].content.text, text);
    }

    #[test]
    fn majority_sampling_reads_modules_a_thin_scratch_crosses_at_their_centre() {
        let symbol = qrcode::QrCode::with_version(
            b"SCRATCHED",
            qrcode::Version::Normal(2),
            qrcode::EcLevel::L,
        )
        .unwrap();
        let side = symbol.width() as u32;
        let colours = symbol.to_colors();
        let (scale, quiet) = (10u32, 40u32);
        let pixels = side * scale + 2 * quiet;
        let mut bits = BitMatrix::with_single_dimension(pixels).unwrap();
        for y in 0..side * scale {
            for x in 0..side * scale {
                let module = (y / scale * side + x / scale) as usize;
                // A light scratch two pixels wide through the middle of every module row.
                let scratched = (4..6).contains(&(y % scale));
                if colours[module] == qrcode::Color::Dark && !scratched {
                    bits.set(x + quiet, y + quiet);
                }
            }
        }
        let (near, far) = (quiet as f32, (quiet + side * scale) as f32);
        let corners = [(near, near), (far, near), (far, far), (near, far)]
            .map(|(x, y)| rxing::Point { x, y });
        let grid = majority_grid(&bits, corners, side).unwrap();
        for (i, colour) in colours.iter().enumerate() {
            let (x, y) = (i as u32 % side, i as u32 / side);
            assert_eq!(
                grid.get(x, y),
                *colour == qrcode::Color::Dark,
                "module {x},{y}"
            );
        }
        // The centre of each module lies on the scratch: sampled there, every module is light.
        let centre =
            |x: u32, y: u32| bits.get(quiet + x * scale + scale / 2, quiet + y * scale + scale / 2);
        assert!((0..side).all(|y| (0..side).all(|x| !centre(x, y))));
    }

    #[test]
    fn alignment_agreement_counts_the_modules_of_the_bottom_right_alignment_pattern() {
        let symbol = qrcode::QrCode::with_version(
            b"ALIGNMENT",
            qrcode::Version::Normal(3),
            qrcode::EcLevel::L,
        )
        .unwrap();
        let side = symbol.width() as u32;
        let mut grid = BitMatrix::with_single_dimension(side).unwrap();
        for (i, colour) in symbol.to_colors().into_iter().enumerate() {
            if colour == qrcode::Color::Dark {
                grid.set(i as u32 % side, i as u32 / side);
            }
        }
        assert_eq!(alignment_agreement(&grid), 25);
        // The centre module flipped: one module fewer agrees.
        grid.flip_coords(side - 7, side - 7);
        assert_eq!(alignment_agreement(&grid), 24);
        let blank = BitMatrix::with_single_dimension(side).unwrap();
        assert_eq!(alignment_agreement(&blank), 8, "only the light ring agrees");
        // Version 1 has no alignment pattern to go by.
        let version_1 = BitMatrix::with_single_dimension(21).unwrap();
        assert_eq!(alignment_agreement(&version_1), 0);
    }

    #[test]
    fn tilted_sets_propose_the_strongly_tilted_triples_rxing_leaves_out() {
        // The finder patterns of a code photographed at a steep angle (BoofCV's perspective
        // set): foreshortened, so the corner is far from square and the sizes differ.
        let mut patterns = vec![
            pattern(426.1, 321.4, 31),
            pattern(432.6, 422.4, 28),
            pattern(498.3, 448.2, 33),
        ];
        let proposed = GenerateFinderPatternSets(&mut patterns);
        assert!(proposed.is_empty(), "rxing's rules reject the triple");
        let sets = tilted_sets(&patterns, &[], &proposed);
        assert_eq!(sets.len(), 1);
        // The corner pattern is the one opposite the longest side.
        assert_eq!(sets[0].tl, pattern(432.6, 422.4, 28));

        // Patterns of a code already read are not reused, and a far-off pattern of another
        // size makes no set.
        assert!(tilted_sets(&patterns, &patterns[..1], &[]).is_empty());
        let lone = [
            pattern(0.0, 0.0, 30),
            pattern(100.0, 0.0, 30),
            pattern(2000.0, 40.0, 90),
        ];
        assert!(tilted_sets(&lone, &[], &[]).is_empty());
    }

    #[test]
    fn unturn_undoes_rotate90() {
        // A 4x2 matrix with one set bit at (3, 0); turned once it is 2x4.
        let mut bits = BitMatrix::new(4, 2).unwrap();
        bits.set(3, 0);
        let mut turned = bits.clone();
        turned.rotate90();
        let (w, h) = (turned.width(), turned.height());
        let (x, y) = (0..w)
            .flat_map(|x| (0..h).map(move |y| (x, y)))
            .find(|&(x, y)| turned.get(x, y))
            .unwrap();
        // The centre of the module maps back to the centre of the original one.
        let back = unturn([x as f32 + 0.5, y as f32 + 0.5], 1, w, h);
        assert_eq!(back, [3.5, 0.5]);
    }
}
