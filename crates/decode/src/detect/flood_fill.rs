//! rqrr as a detector: finder patterns as flood-filled regions of its own adaptive threshold,
//! each symbol's perspective fitted to its timing patterns. Reads curved and crumpled symbols
//! the scan-line detector samples badly.

use std::panic::{catch_unwind, AssertUnwindSafe};

use image::GrayImage;
use rxing::common::BitMatrix;

use super::{Detected, Placement};
use crate::read::read_grid;

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
            match read_grid(&matrix, points) {
                Ok(code) => detected.codes.push(code),
                Err(unread) => detected.count(unread, points, &matrix),
            }
        }
        detected
    }));
    // rqrr asserts in its geometry code on some real photos; it saw a candidate before failing.
    outcome.unwrap_or_else(|_| Detected::panicked())
}
