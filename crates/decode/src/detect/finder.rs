//! zxing-cpp's finder-pattern detector: the scan for 1:1:3:1:1 runs (`scan_rows`), triples of
//! patterns (rxing's, then `triples`' wider ones and completed pairs), each sampled through
//! its alignment-pattern grid and read; what does not read is sampled again (`crate::sample`).
//! Then the patterns no code claimed, as the one finder pattern of a Micro QR or rMQR symbol.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rxing::common::cpp_essentials::ConcentricPattern;
use rxing::common::{BitMatrix, DetectorRXingResult};
use rxing::qrcode::cpp_port::detector::{
    FinderPatternSet, GenerateFinderPatternSets, SampleMQR, SampleQR, SampleRMQR,
};

use super::triples::{completed_sets, tilted_sets};
use super::{scan_rows, Detected, Grey, Placement};
use crate::deadline::Deadline;
use crate::geometry::{Pattern, Quad};
use crate::layout;
use crate::read::{read_grid, read_micro, Unread};
use crate::sample::{follow, grey_grid};
use crate::sample::{majority_grid, read_regridded, read_regridded_by, resample, sampled_corners};
use crate::symbology::{Format, Formats};

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
/// reads and whose data does not is read from them as well, the blur undone (`grey_grid`), and
/// so is a Micro QR symbol that does not read. Last, such a QR symbol is sampled along its own
/// module edges (`follow`). `claimed` are the codes earlier passes read, in the caller's image
/// pixels: a finder pattern on one is that code's, as if this pass had read it, so no triple
/// uses it.
pub fn finder(
    bits: &BitMatrix,
    grey: Option<Grey>,
    at: Placement,
    deadline: Deadline,
    formats: Formats,
    resampling: Resampling,
    claimed: &[Quad],
) -> Detected {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut detected = Detected::default();
        let mut patterns = scan_rows::finder_patterns(bits, deadline, scan_rows::MAX_PATTERNS);
        detected.patterns = patterns
            .iter()
            .map(|p| {
                let [x, y] = at.to_image(p.p.x, p.p.y);
                Pattern {
                    x,
                    y,
                    size: p.size as f32 * at.scale[0].max(at.scale[1]),
                    contrast: grey.map_or(f32::INFINITY, |grey| ring_contrast(grey.pixels, p)),
                }
            })
            .collect();
        // Grouping up to `MAX_PATTERNS` patterns into triples is the longest step without a
        // deadline inside: not started past the deadline (the scan may have run up to it).
        let sets = if formats.contains(Format::QRCode) && !deadline.passed() {
            GenerateFinderPatternSets(&mut patterns)
        } else {
            Default::default()
        };

        // A finder pattern belongs to one symbol: on a photo of many codes, most triples of
        // the patterns on codes already read are made across codes, and sampling each, with
        // every fallback, had cost a BoofCV `lots` photo a third of its time (30 ms of one
        // blurred view's pass, 33 such "symbols", none a code).
        let mut used: Vec<ConcentricPattern> = patterns
            .iter()
            .filter(|p| {
                let at_image = at.to_image(p.p.x, p.p.y);
                claimed.iter().any(|quad| quad.contains(at_image))
            })
            .copied()
            .collect();
        let mut sample = |set: &FinderPatternSet, used: &mut Vec<ConcentricPattern>| {
            if [set.bl, set.tl, set.tr].iter().any(|p| used.contains(p)) {
                return Tried::Skipped;
            }
            let Ok(sampled) = SampleQR(bits, set) else {
                return Tried::Skipped;
            };
            let points = sampled_corners(&sampled, at);
            let read = match read_grid(sampled.getBits(), points) {
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
            let read = match read {
                // Sampled along the symbol's own module edges (`follow`): curved print. Only
                // until this pass reads a code: in a photo of many codes, most damaged
                // "symbols" are triples across codes, and following each tripled the tail.
                Err(Unread::Damaged) if detected.codes.is_empty() => {
                    read_regridded(&sampled, at, |corners, side| {
                        follow::grids(bits, corners, side)
                    })
                    .ok_or(Unread::Damaged)
                }
                read => read,
            };
            match read {
                Ok(code) => {
                    used.extend([set.bl, set.tl, set.tr]);
                    detected.codes.push(code);
                    Tried::Read
                }
                Err(unread) => {
                    detected.count(unread, points, sampled.getBits());
                    Tried::Unread
                }
            }
        };
        let mut unread_in_a_row = 0;
        let mut walk = |set: &FinderPatternSet, used: &mut Vec<ConcentricPattern>| {
            match sample(set, used) {
                Tried::Unread => unread_in_a_row += 1,
                Tried::Read => unread_in_a_row = 0,
                Tried::Skipped => {}
            }
            // Past the deadline, or the triples stopped paying (`MAX_UNREAD_IN_A_ROW`).
            deadline.passed() || unread_in_a_row >= MAX_UNREAD_IN_A_ROW
        };
        for set in &sets {
            if walk(set, &mut used) {
                break;
            }
        }
        let mut tilted = Vec::new();
        if formats.contains(Format::QRCode) && !deadline.passed() {
            // The patterns no code claimed, in the triples rxing's narrower rules left out.
            tilted = tilted_sets(&patterns, &used, &sets);
            for set in &tilted {
                if walk(set, &mut used) {
                    break;
                }
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
                if used.contains(&pattern)
                    || detected.codes.iter().any(|c| c.quad().contains([x, y]))
                {
                    continue;
                }
                single_pattern(bits, grey, pattern, at, formats, &mut detected);
            }
        }
        detected
    }));
    // A panic inside the port means it was following a candidate when it failed.
    outcome.unwrap_or_else(|_| Detected::panicked())
}

/// Triples sampled one after another without a read, past which `finder` stops walking them.
/// Triples come most plausible first (larger patterns, then better-shaped), so on a photo the
/// codes read early: over both corpora no read came after more than 2 unread triples in a row,
/// while a photo of 60 codes seen through a blur gave a run of 1,076 (each one sampled, then
/// resampled and read again from its grey pixels: half a second). The next strategy's view
/// gets its own walk.
const MAX_UNREAD_IN_A_ROW: usize = 32;

/// What became of one triple in `finder`'s walk.
enum Tried {
    /// Not sampled: a pattern of it belongs to a code read, or the sampler refused it.
    Skipped,
    Read,
    /// Sampled, and no reading of it gave a code.
    Unread,
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
    pub(crate) fn largest_side(self) -> u32 {
        match self {
            Resampling::Version1 => layout::side_of(1),
            Resampling::UpToVersion6 => {
                layout::side_of(layout::LAST_VERSION_WITHOUT_VERSION_INFO as u32)
            }
        }
    }
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
    grey: Option<Grey>,
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
        let read = match (read_micro(sampled.getBits(), points, formats), grey) {
            // A blurred Micro QR symbol: each module from the grey pixels, the blur undone.
            (Err(unread), Some(grey)) if format == Format::MicroQRCode => {
                let read = |grid: &BitMatrix, points| read_micro(grid, points, formats);
                read_regridded_by(
                    &sampled,
                    at,
                    |corners, side| grey_grid::micro_grids(grey.pixels, corners, side),
                    read,
                )
                .ok_or(unread)
            }
            (read, _) => read,
        };
        match read {
            Ok(code) => {
                detected.codes.push(code);
                return;
            }
            Err(unread) => detected.count(unread, points, sampled.getBits()),
        }
    }
}

/// How much lighter a finder pattern's light ring is than its dark centre, in grey levels,
/// where it is least so: along each of eight rays from the centre, the lightest point between
/// 1.5 and 3.5 modules out (the ring, whatever the pattern's turn) less the centre, and the
/// least of the eight. Printed codes show a hundred levels or more; the finder-like shapes a
/// textured wall or fabric throws up at a code's scale are open on some side. Light-on-dark
/// patterns the same, with the darkest point less the centre.
fn ring_contrast(grey: &image::GrayImage, pattern: &ConcentricPattern) -> f32 {
    let module = pattern.size as f32 / layout::FINDER_MODULES as f32;
    let (x, y) = (pattern.p.x, pattern.p.y);
    let at = |dx: f32, dy: f32| {
        let px = (x + dx * module).clamp(0.0, (grey.width() - 1) as f32) as u32;
        let py = (y + dy * module).clamp(0.0, (grey.height() - 1) as f32) as u32;
        f32::from(grey.get_pixel(px, py).0[0])
    };
    let centre = at(0.0, 0.0);
    let (mut lighter, mut darker) = (f32::INFINITY, f32::INFINITY);
    for ray in 0..8 {
        let angle = ray as f32 * std::f32::consts::FRAC_PI_4;
        let (dx, dy) = (angle.cos(), angle.sin());
        let (mut light, mut dark) = (0.0f32, 255.0f32);
        for step in 3..=7 {
            let r = step as f32 / 2.0;
            let v = at(dx * r, dy * r);
            light = light.max(v);
            dark = dark.min(v);
        }
        lighter = lighter.min(light - centre);
        darker = darker.min(centre - dark);
    }
    lighter.max(darker).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::super::pure::unturn;
    use super::*;
    use crate::sample::resample::alignment_agreement;

    #[test]
    fn a_finder_pattern_is_clear_at_any_turn_and_a_shape_open_on_one_side_is_not() {
        // A finder pattern of 6-pixel modules, dark 40 on light 200, turned by `turn`
        // radians; `open` cuts its light ring on the right, as a blob of texture is.
        let drawn = |turn: f32, open: bool| {
            image::GrayImage::from_fn(80, 80, |x, y| {
                let (dx, dy) = (x as f32 - 40.0, y as f32 - 40.0);
                let u = (dx * turn.cos() + dy * turn.sin()) / 6.0;
                let v = (dy * turn.cos() - dx * turn.sin()) / 6.0;
                let ring = u.abs().max(v.abs());
                let light_ring = (1.5..2.5).contains(&ring) && !(open && dx > 0.0);
                let dark = ring < 3.5 && !light_ring;
                image::Luma([if dark { 40 } else { 200 }])
            })
        };
        let pattern = ConcentricPattern {
            p: rxing::Point { x: 40.0, y: 40.0 },
            size: 42,
        };
        for turn in [0.0, 0.3, std::f32::consts::FRAC_PI_4] {
            assert_eq!(ring_contrast(&drawn(turn, false), &pattern), 160.0);
            assert_eq!(ring_contrast(&drawn(turn, true), &pattern), 0.0, "{turn}");
        }
        // Light on dark, the same.
        let mut inverted = drawn(0.3, false);
        image::imageops::invert(&mut inverted);
        assert_eq!(ring_contrast(&inverted, &pattern), 160.0);
    }

    /// Image pixels as they are: the placement of a view that is the image.
    fn identity() -> Placement {
        Placement {
            origin: [0.0, 0.0],
            scale: [1.0; 2],
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
            &[],
        )
    }

    fn pattern(x: f32, y: f32, size: i32) -> ConcentricPattern {
        ConcentricPattern {
            p: rxing::Point { x, y },
            size,
        }
    }

    #[test]
    fn finder_patterns_on_a_code_an_earlier_pass_read_are_left_to_it() {
        // Four version 1 symbols, 2 x 2, at 3 pixels a module.
        let grey = crate::testkit::qr_field("CLAIMED", 3, 2);
        let bits = crate::views::binarize::local_average(&grey, Deadline::NONE).unwrap();
        let all = find(&bits, None);
        assert_eq!(all.codes.len(), 4);
        let first = Quad(all.codes[0].points);
        let pass = |claimed: &[Quad]| {
            let (formats, six) = (Formats::default(), Resampling::UpToVersion6);
            finder(
                &bits,
                None,
                identity(),
                Deadline::NONE,
                formats,
                six,
                claimed,
            )
        };
        let seen = pass(&[first]);
        // The other three read; the claimed one's patterns are in no triple, not even one
        // across codes, so nothing is sampled there.
        assert_eq!(seen.codes.len(), 3);
        assert!(seen
            .codes
            .iter()
            .all(|c| !first.contains(Quad(c.points).center())));
        assert!(seen.damaged.is_empty());
        // Its patterns are still reported: evidence is the caller's to weigh.
        assert_eq!(seen.patterns.len(), all.patterns.len());
        // Every code claimed: nothing sampled at all.
        let every: Vec<Quad> = all.codes.iter().map(|c| Quad(c.points)).collect();
        let seen = pass(&every);
        assert!(seen.codes.is_empty() && seen.damaged.is_empty());
    }

    #[test]
    fn the_walk_over_triples_stops_once_they_stop_reading() {
        // 64 version 1 symbols at 3 pixels a module whose data area (modules 9-20 both ways)
        // is blank: each triple's format reads and its data does not, and the 192 finder
        // patterns make many more triples across symbols.
        let mut grey = crate::testkit::qr_field("WALK", 3, 8);
        let cell = (21 + 8) * 3;
        for (x, y, pixel) in grey.enumerate_pixels_mut() {
            let (mx, my) = ((x % cell) / 3, (y % cell) / 3);
            if (4 + 9..4 + 21).contains(&mx) && (4 + 9..4 + 21).contains(&my) {
                *pixel = image::Luma([255]);
            }
        }
        let bits = crate::views::binarize::local_average(&grey, Deadline::NONE).unwrap();
        let seen = find(&bits, None);
        assert!(seen.codes.is_empty());
        assert!(
            seen.patterns.len() >= 3 * 64,
            "{} patterns",
            seen.patterns.len()
        );
        // Each symbol sampled and not read until the walk gave up.
        assert_eq!(seen.damaged.len(), MAX_UNREAD_IN_A_ROW);
    }

    #[test]
    fn a_resampled_version_1_symbol_reads_with_its_own_corners() {
        // 21 modules at 6 pixels, a 4-module quiet zone: the symbol spans 24..150.
        let grey = crate::testkit::qr_field("V1 CODE", 6, 1);
        let bits = crate::views::binarize::local_average(&grey, Deadline::NONE).unwrap();
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
            let mut grey = crate::testkit::qr_field("TWO PATTERNS LEFT, THE THIRD GONE", 6, 1);
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
            let bits = crate::views::binarize::local_average(&grey, Deadline::NONE).unwrap();
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
        let bits = crate::views::binarize::local_average(&grey, Deadline::NONE).unwrap();
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
