//! A symbol sampled again with its fourth corner moved: the corner the sampler places by
//! estimate is a module or two off under perspective, enough to misread the far half of the
//! grid while the format, by the finder patterns, still reads.

use rxing::common::{
    BitMatrix, DefaultGridSampler, GridSampler, PerspectiveTransform, Quadrilateral, SamplerControl,
};
use rxing::qrcode::cpp_port::detector::FinderPatternSet;

use super::Grey;
use super::{follow, grey_grid};
use crate::deadline::Deadline;
use crate::geometry::Placement;
use crate::layout;
use crate::read::{read_grid, Decoded, Unread};

/// How far `resample` moves the fourth corner, in modules along each side: up to a module each
/// way, half a module at a time, nearest first. All that BoofCV's photos needed; up to a module
/// and a half read no more.
const CORNER_NUDGES: [f32; 5] = [0.0, -0.5, 0.5, -1.0, 1.0];

/// How many of `resample`'s samplings, at most, are also sampled along the symbol's edges
/// (`follow`), nearest the first estimate first: over both corpora and the four turns it read
/// at the 1st, 2nd and 4th of 25 and never later, while following all 25 in every crop around
/// an unread symbol was most of `follow`'s time (160 of a 12 MP curved photo's 177 calls).
/// Twice the latest read.
const FOLLOWED_SAMPLINGS: usize = 8;

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
/// whose alignment pattern agrees best for larger symbols; those read from the grey pixels
/// (`Grey::resampled`) are also sampled along their edges (`follow`). Error correction rejects
/// the wrong ones. The corners reported are the sampling's, the moved one within a module of the symbol's.
pub(crate) fn resample(
    bits: &BitMatrix,
    grey: Option<Grey>,
    set: &FinderPatternSet,
    at: Placement,
    side: u32,
    deadline: Deadline,
    format_unknown: bool,
) -> Option<Decoded> {
    let (tl, tr, bl) = (set.tl.p, set.tr.p, set.bl.p);
    // Finder pattern centres are a pattern's width less than the side apart.
    let span = side.checked_sub(layout::FINDER_MODULES)? as f32;
    let (across, down) = ((tr - tl) / span, (bl - tl) / span);
    let estimate = tr - tl + bl;
    let centres = Quadrilateral::rectangle(side as i32, side as i32, Some(layout::FINDER_CENTRE));
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
                match read_grid(&grid, corners) {
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
    let tries = if side > layout::MIN_SIDE {
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
        if let Ok(code) = read_grid(&grid, corners) {
            return Some(code);
        }
        // From the grey pixels too, the blur undone: a symbol both blurred and tilted needs both.
        if let Some(code) = grey.filter(|_| index < grey_tries).and_then(|grey| {
            grey_grid::grids(grey.pixels, view_corners, side)
                .iter()
                .find_map(|grid| read_grid(grid, corners).ok())
        }) {
            return Some(code);
        }
        // Along the symbol's edges too, as often as from the grey pixels but for the first
        // `FOLLOWED_SAMPLINGS` only: a curved symbol whose fourth corner the sampler also
        // placed badly (BoofCV: curved +3, damaged +1; following every sampling tried read no
        // more).
        if index < grey_tries.min(FOLLOWED_SAMPLINGS) {
            let followed = follow::grids(bits, view_corners, side);
            if let Some(code) = followed
                .iter()
                .find_map(|grid| read_grid(grid, corners).ok())
            {
                return Some(code);
            }
        }
    }
    None
}

/// Share of its modules the better of a sampled grid's two timing patterns must show as they
/// are for `resample` to go on with a symbol whose format it does not know yet.
const MIN_TIMING_AGREEMENT: f32 = 0.8;

/// The share of modules of the better of a sampled grid's two timing patterns (row and column
/// 6, between the finder patterns' separators) that alternate as they should, dark first.
/// Random modules pass the format's check about half the time, the timing's almost never.
fn timing_agreement(side: u32, dark: impl Fn(u32, u32) -> bool) -> f32 {
    if side < layout::MIN_SIDE {
        return 0.0;
    }
    let run = 8..side - 8;
    let count = run.len() as f32;
    let along = |module: &dyn Fn(u32) -> bool| {
        run.clone().filter(|&i| module(i) == (i % 2 == 0)).count() as f32 / count
    };
    let line = layout::TIMING_LINE;
    along(&|x| dark(x, line)).max(along(&|y| dark(line, y)))
}

/// How many of the 25 modules of the alignment pattern nearest the bottom-right corner a
/// sampled grid of version 2 to 6 shows as they are (dark ring, light ring, dark centre, centred
/// 6.5 modules in from that corner); 0 for other sizes.
pub(crate) fn alignment_agreement(grid: &BitMatrix) -> u32 {
    let side = grid.width();
    if !(25..=41).contains(&side) {
        return 0;
    }
    let centre = layout::last_alignment_centre(side);
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
