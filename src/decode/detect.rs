//! Detectors: find QR symbols in one prepared image and read each one's module grid. Two
//! detectors with different failure modes: zxing-cpp's finder-pattern detector (as ported in
//! rxing's `cpp_port`, on a binarized `BitMatrix`; follows alignment patterns across large,
//! curved or tilted symbols) and rqrr (flood-fills regions on its own threshold; reads some
//! damaged finder patterns the scan-line detector rejects). Both hand their grids to
//! `read_grid`, the only path from modules to text: rxing's decoder (format and version
//! information, unmasking, Reed-Solomon, mirrored retry) then `text::decode_segments`.
//!
//! Every third-party call runs inside `catch_unwind`: both libraries index and assert in their
//! geometry code, and one hostile image must not take down a worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use image::GrayImage;
use rxing::common::cpp_essentials::ConcentricPattern;
use rxing::common::{BitMatrix, DetectorRXingResult};
use rxing::qrcode::cpp_port::detector::{FindFinderPatterns, GenerateFinderPatternSets, SampleQR};

use super::QrCode;
use crate::text;

/// What one detector run saw: the codes it read, and how many symbols it sampled but could
/// not read (they turn "no code" into "unreadable code").
#[derive(Default)]
pub struct Detected {
    pub codes: Vec<QrCode>,
    pub unreadable: usize,
}

/// zxing-cpp's detector: scan every third row for 1:1:3:1:1 runs, confirm each as a
/// concentric pattern, group patterns into plausible triples (most plausible first), sample
/// each triple through its alignment-pattern grid. A triple whose symbol reads claims its
/// patterns, so they are not reused for a lesser triple. `scale` maps the points back to the
/// caller's image; `deadline` stops the walk over triples, which can be long on busy photos.
pub fn finder(bits: &BitMatrix, scale: f32, deadline: Option<Instant>) -> Detected {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut detected = Detected::default();
        let mut patterns = FindFinderPatterns(bits, true, 0);
        let sets = GenerateFinderPatternSets(&mut patterns);
        let mut used: Vec<ConcentricPattern> = Vec::new();
        for set in sets {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            if [set.bl, set.tl, set.tr].iter().any(|p| used.contains(p)) {
                continue;
            }
            let Ok(sampled) = SampleQR(bits, &set) else {
                continue;
            };
            // The sampler reports top-left, top-right, bottom-left, bottom-right.
            let corner = |i: usize| {
                sampled
                    .getPoints()
                    .get(i)
                    .map_or([0.0, 0.0], |p| [p.x * scale, p.y * scale])
            };
            let points = [corner(0), corner(1), corner(3), corner(2)];
            match read_grid(sampled.getBits(), points) {
                Some(code) => {
                    used.extend([set.bl, set.tl, set.tr]);
                    detected.codes.push(code);
                }
                None => detected.unreadable += 1,
            }
        }
        detected
    }));
    // A panic inside the port means it was following a candidate when it failed.
    outcome.unwrap_or(Detected {
        codes: Vec::new(),
        unreadable: 1,
    })
}

/// rqrr: finds finder patterns as flood-filled regions of its own adaptive threshold.
pub fn rqrr(grey: &GrayImage, scale: f32) -> Detected {
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
            let points = grid
                .bounds
                .map(|p| [p.x as f32 * scale, p.y as f32 * scale]);
            match read_grid(&matrix, points) {
                Some(code) => detected.codes.push(code),
                None => detected.unreadable += 1,
            }
        }
        detected
    }));
    // rqrr asserts in its geometry code on some real photos; it saw a candidate before failing.
    outcome.unwrap_or(Detected {
        codes: Vec::new(),
        unreadable: 1,
    })
}

/// Reads a sampled module grid (set = dark) as a QR symbol: the one path to text.
pub fn read_grid(modules: &BitMatrix, points: [[f32; 2]; 4]) -> Option<QrCode> {
    let size = modules.width();
    if size != modules.height() || size < 21 || (size - 17) % 4 != 0 {
        return None;
    }
    let version = u8::try_from((size - 17) / 4).ok()?;
    if !(1..=40).contains(&version) {
        return None;
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        rxing::qrcode::decoder::qrcode_decoder::decode_bitmatrix(modules)
    }))
    .ok()?
    .ok()?;
    let content = text::decode_segments(decoded.getRawBytes(), version).ok()?;
    let ec_level = match decoded.getECLevel() {
        "L" => "L",
        "M" => "M",
        "Q" => "Q",
        _ => "H",
    };
    Some(QrCode {
        content,
        version,
        ec_level,
        points,
    })
}
