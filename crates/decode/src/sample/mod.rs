//! Sampling a symbol's module grid again, when the sampler's first grid did not read: one
//! module sampler (`ModuleGrid`, nine points over each module's middle) under two readings of
//! the points, the majority of a binarization's bits (`majority_grid`) and the grey pixels with
//! the blur undone (`grey_grid`); the symbol sampled with its fourth corner moved
//! (`resample`); and sampled along its own module edges (`follow`).

pub(crate) mod follow;
pub(crate) mod grey_grid;
pub(crate) mod resample;

use image::GrayImage;
use rxing::common::{BitMatrix, DetectorRXingResult, PerspectiveTransform, Quadrilateral};

pub(crate) use self::resample::resample;
use crate::geometry::Placement;
use crate::read::{read_grid, Decoded, Unread};

/// Reads a sampled symbol again from other grids of it, which `regrid` makes from the symbol's
/// corners (clockwise from top-left, in the view's pixels) and side: the first that reads.
pub(crate) fn read_regridded(
    sampled: &impl DetectorRXingResult,
    at: Placement,
    regrid: impl FnOnce([rxing::Point; 4], u32) -> Vec<BitMatrix>,
) -> Option<Decoded> {
    read_regridded_by(sampled, at, regrid, read_grid)
}

/// `read_regridded` with another reader than the QR one: `read_micro`'s, for Micro QR.
pub(crate) fn read_regridded_by(
    sampled: &impl DetectorRXingResult,
    at: Placement,
    regrid: impl FnOnce([rxing::Point; 4], u32) -> Vec<BitMatrix>,
    read: impl Fn(&BitMatrix, [[f32; 2]; 4]) -> Result<Decoded, Unread>,
) -> Option<Decoded> {
    let side = sampled.getBits().width();
    // The samplers report top-left, top-right, bottom-left, bottom-right.
    let &[tl, tr, bl, br] = sampled.getPoints() else {
        return None;
    };
    regrid([tl, tr, br, bl], side)
        .iter()
        .find_map(|grid| read(grid, sampled_corners(sampled, at)).ok())
}

/// Where in a module the sampler looks, across and down: a 3x3 lattice over its middle. A
/// scratch, a glare streak or a crease thinner than half a module moves at most three of the
/// nine points.
const MODULE_POINTS: [f32; 3] = [0.3, 0.5, 0.7];

/// A symbol's module grid laid over a view: where each module's nine points fall in its pixels.
/// The one module sampler of both re-griddings, `majority_grid` (the bits) and `grey_grid`
/// (the grey pixels).
pub(crate) struct ModuleGrid {
    transform: PerspectiveTransform,
}

impl ModuleGrid {
    /// The `side` x `side` grid inside `corners` (clockwise from top-left, in the view's pixels).
    pub fn over(corners: [rxing::Point; 4], side: u32) -> Option<ModuleGrid> {
        let outline = Quadrilateral::rectangle(side as i32, side as i32, None);
        let transform = PerspectiveTransform::quadrilateralToQuadrilateral(
            outline,
            Quadrilateral::from(corners),
        )
        .ok()?;
        Some(ModuleGrid { transform })
    }

    /// The point (`u`, `v`) of the symbol, in modules from its top-left corner, in the view's
    /// pixels.
    pub fn point(&self, u: f32, v: f32) -> rxing::Point {
        self.transform.transform_point(rxing::Point { x: u, y: v })
    }

    /// The nine points of module (`x`, `y`) in the view's pixels, row by row.
    pub fn points(&self, x: u32, y: u32) -> impl Iterator<Item = rxing::Point> + '_ {
        MODULE_POINTS.iter().flat_map(move |&dy| {
            MODULE_POINTS.iter().map(move |&dx| {
                self.transform.transform_point(rxing::Point {
                    x: x as f32 + dx,
                    y: y as f32 + dy,
                })
            })
        })
    }
}

/// The `side` x `side` module grid inside `corners` (clockwise from top-left, in `bits`'
/// pixels), each module dark when at least five of its nine points are. A thin scratch no
/// longer flips the module its centre falls on; over BoofCV's photos, read where the centre
/// sampling of a symbol whose format reads fails: glare +2, curved +1.
pub(crate) fn majority_grid(
    bits: &BitMatrix,
    corners: [rxing::Point; 4],
    side: u32,
) -> Option<BitMatrix> {
    let modules = ModuleGrid::over(corners, side)?;
    let dark = |p: &rxing::Point| {
        p.x >= 0.0 && p.y >= 0.0 && bits.try_get(p.x as u32, p.y as u32).unwrap_or(false)
    };
    let mut grid = BitMatrix::with_single_dimension(side).ok()?;
    for y in 0..side {
        for x in 0..side {
            if modules.points(x, y).filter(dark).count() >= 5 {
                grid.set(x, y);
            }
        }
    }
    Some(grid)
}

/// The corners of a sampled symbol in the caller's image, clockwise from top-left; the
/// samplers report top-left, top-right, bottom-left, bottom-right.
pub(crate) fn sampled_corners(sampled: &impl DetectorRXingResult, at: Placement) -> [[f32; 2]; 4] {
    let corner = |i: usize| {
        sampled
            .getPoints()
            .get(i)
            .map_or([0.0, 0.0], |p| at.to_image(p.x, p.y))
    };
    [corner(0), corner(1), corner(3), corner(2)]
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

/// Solves least-squares normal equations, `N` rows each augmented with its right-hand side
/// (`W` = `N` + 1 columns), by Gaussian elimination with pivoting; `None` when singular.
fn solve<const N: usize, const W: usize>(mut rows: [[f64; W]; N]) -> Option<[f64; N]> {
    debug_assert_eq!(W, N + 1);
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| rows[i][col].abs().total_cmp(&rows[j][col].abs()))?;
        if rows[pivot][col].abs() < 1e-9 {
            return None;
        }
        rows.swap(col, pivot);
        let pivot_row = rows[col];
        for (index, row) in rows.iter_mut().enumerate() {
            if index != col {
                let factor = row[col] / pivot_row[col];
                for (value, subtrahend) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *value -= factor * subtrahend;
                }
            }
        }
    }
    Some(std::array::from_fn(|i| rows[i][N] / rows[i][i]))
}

/// A `side` x `side` grid from its modules row by row, dark set.
fn to_grid(dark: &[bool], side: u32) -> Option<BitMatrix> {
    let mut grid = BitMatrix::with_single_dimension(side).ok()?;
    for (i, _) in dark.iter().enumerate().filter(|(_, &d)| d) {
        grid.set(i as u32 % side, i as u32 / side);
    }
    Some(grid)
}
