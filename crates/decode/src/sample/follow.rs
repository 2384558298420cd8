//! A symbol sampled again along its own module edges: for print on a curved or creased surface
//! (fabric, a bottle, a bent page), where one homography from the corners puts the modules
//! between the finder patterns half a module off while the format information, beside them,
//! still reads.
//!
//! The grid first sampled says which neighbouring modules differ in colour; between two such
//! modules the binarization changes colour where the symbol's edge really is. Each edge found
//! is a measurement of how far the modules there have moved from the homography's grid, across
//! for edges between columns and down for edges between rows. A smooth displacement over the
//! symbol (a biquadratic with cubes in each direction, fitted by least squares to all edges) moves
//! every module's sampling point, and the symbol is sampled again; a few rounds, each grid
//! offered to error correction, which judges.

use rxing::common::BitMatrix;

use super::ModuleGrid;

/// Rounds of measuring the edges and refitting; each gives a grid, and each round's edges are
/// searched from the last round's grid, so a displacement found in part is found whole a round
/// or two later. zxing-cpp samples at the four turns and BoofCV codes: one round 136 / 133 /
/// 134 / 137 and 585, two 137 / 135 / 135 / 137 and 587, three 137 / 136 / 136 / 137 and 587,
/// four 137 / 136 / 136 / 137 and 588, six no more than four.
const ROUNDS: usize = 4;

/// Steps a module is searched in for its edge: an eighth of a module. A sixteenth read the same
/// codes on both corpora and cost 4% more CPU over BoofCV's half.
const STEP: f32 = 1.0 / 8.0;

/// The terms of the displacement, over the symbol scaled to 0..1: 1, s, t, s², st, t², s²t,
/// st², s²t², s³, t³ (the cubes for a cylinder's squeeze towards its sides).
const TERMS: usize = 11;

/// Fewest edges for a fit in one direction: a tenth of what a small symbol shows.
const MIN_EDGES: usize = 3 * TERMS;

/// The largest symbol followed: version 13, 69 modules a side. One smooth displacement serves
/// symbols of up to 6 alignment patterns; from version 14 on, 13 and more give the alignment
/// sampler a grid that bends piecewise already. Over both corpora and the four turns, the
/// symbols this read were versions 1 to 7, while following the few larger ones (up to version
/// 30) was a third of the time of a BoofCV `high_version` photo, for no read: the cost grows
/// with the modules, 4 rounds over every edge.
const MAX_SIDE: u32 = 69;

/// Grids of the `side` x `side` symbol inside `corners` (clockwise from top-left, in `bits`'
/// pixels), sampled along its measured edges: one a round. None past `MAX_SIDE`.
pub fn grids(bits: &BitMatrix, corners: [rxing::Point; 4], side: u32) -> Vec<BitMatrix> {
    if side > MAX_SIDE {
        return Vec::new();
    }
    let Some(modules) = ModuleGrid::over(corners, side) else {
        return Vec::new();
    };
    let mut sampler = Sampler {
        bits,
        modules,
        side: side as f32,
        across: [0.0; TERMS],
        down: [0.0; TERMS],
    };
    let mut out = Vec::with_capacity(ROUNDS);
    let mut grid = sampler.grid(side);
    for _ in 0..ROUNDS {
        let Some((across, down)) = sampler.fit_edges(&grid, side) else {
            break;
        };
        sampler.across = across;
        sampler.down = down;
        let next = sampler.grid(side);
        // The same modules as the round before: the rounds left would find the same edges.
        if next == grid && !out.is_empty() {
            break;
        }
        grid = next;
        match super::to_grid(&grid, side) {
            Some(matrix) => out.push(matrix),
            None => break,
        }
    }
    out
}

/// The homography and the displacement fitted so far, in modules.
struct Sampler<'a> {
    bits: &'a BitMatrix,
    modules: ModuleGrid,
    side: f32,
    across: [f64; TERMS],
    down: [f64; TERMS],
}

impl Sampler<'_> {
    /// Where the point (`u`, `v`) of the symbol, in modules, lies in `bits` once displaced.
    fn displaced(&self, u: f32, v: f32) -> rxing::Point {
        let terms = terms(u / self.side, v / self.side);
        self.modules.point(
            u + evaluate(&self.across, &terms),
            v + evaluate(&self.down, &terms),
        )
    }

    /// Whether the point (`u`, `v`) of the symbol, in modules, is dark once displaced; outside
    /// the image is light.
    fn dark(&self, u: f32, v: f32) -> bool {
        self.dark_at(self.displaced(u, v))
    }

    fn dark_at(&self, p: rxing::Point) -> bool {
        p.x >= 0.0 && p.y >= 0.0 && self.bits.try_get(p.x as u32, p.y as u32).unwrap_or(false)
    }

    /// Each module's centre, row by row; outside the symbol (index -1 or `side`) is light.
    fn grid(&self, side: u32) -> Vec<bool> {
        let n = side as usize;
        (0..n * n)
            .map(|i| self.dark((i % n) as f32 + 0.5, (i / n) as f32 + 0.5))
            .collect()
    }

    /// The displacement across and down that the edges between differing neighbours of `grid`
    /// measure, each added to the present one; `None` with too few edges to fit.
    fn fit_edges(&self, grid: &[bool], side: u32) -> Option<([f64; TERMS], [f64; TERMS])> {
        let n = side as isize;
        let colour = |x: isize, y: isize| {
            (0..n).contains(&x) && (0..n).contains(&y) && grid[(y * n + x) as usize]
        };
        let mut across = Normal::default();
        let mut down = Normal::default();
        for a in -1..n {
            for b in 0..n {
                // Between columns a and a + 1 on row b, then between rows a and a + 1 on column b.
                let middle = b as f32 + 0.5;
                if colour(a, b) != colour(a + 1, b) {
                    let edge = a as f32 + 1.0;
                    let line = self.line([edge - 0.5, middle], [edge + 0.5, middle]);
                    if let Some(moved) = edge_offset(line, colour(a, b)) {
                        let terms = terms(edge / self.side, middle / self.side);
                        across.add(&terms, f64::from(evaluate(&self.across, &terms) + moved));
                    }
                }
                if colour(b, a) != colour(b, a + 1) {
                    let edge = a as f32 + 1.0;
                    let line = self.line([middle, edge - 0.5], [middle, edge + 0.5]);
                    if let Some(moved) = edge_offset(line, colour(b, a)) {
                        let terms = terms(middle / self.side, edge / self.side);
                        down.add(&terms, f64::from(evaluate(&self.down, &terms) + moved));
                    }
                }
            }
        }
        Some((across.solve()?, down.solve()?))
    }

    /// The colour along the module-long segment of the symbol from `from` to `to` (in
    /// modules), by where along it (0 at `from`, 1 at `to`). Within one module the displaced
    /// homography is as good as straight: its ends are mapped, the points between them
    /// interpolated (mapping each of the nine points had been a third of a follow's time).
    fn line(&self, [u0, v0]: [f32; 2], [u1, v1]: [f32; 2]) -> impl Fn(f32) -> bool + '_ {
        let (start, end) = (self.displaced(u0, v0), self.displaced(u1, v1));
        move |along: f32| {
            self.dark_at(rxing::Point {
                x: start.x + (end.x - start.x) * along,
                y: start.y + (end.y - start.y) * along,
            })
        }
    }
}

/// Where the colour changes from `before` along a module-long segment centred on an expected
/// edge, which `line` samples (0 half a module before the edge, 1 half a module after), as the
/// distance from the expected edge in modules: the change nearest it. `None` when the segment
/// does not change colour.
fn edge_offset(line: impl Fn(f32) -> bool, before: bool) -> Option<f32> {
    let steps = (1.0 / STEP) as i32;
    let mut previous = line(0.0);
    let mut nearest: Option<f32> = None;
    for step in 1..=steps {
        let along = step as f32 * STEP;
        let now = line(along);
        if previous == before && now != before {
            let moved = along - STEP / 2.0 - 0.5;
            if nearest.is_none_or(|best| moved.abs() < best.abs()) {
                nearest = Some(moved);
            }
        }
        previous = now;
    }
    nearest
}

/// The displacement's terms at (s, t), both 0..1 over the symbol.
fn terms(s: f32, t: f32) -> [f64; TERMS] {
    let (s, t) = (f64::from(s), f64::from(t));
    [
        1.0,
        s,
        t,
        s * s,
        s * t,
        t * t,
        s * s * t,
        s * t * t,
        s * s * t * t,
        s * s * s,
        t * t * t,
    ]
}

fn evaluate(coefficients: &[f64; TERMS], terms: &[f64; TERMS]) -> f32 {
    coefficients
        .iter()
        .zip(terms)
        .map(|(c, t)| c * t)
        .sum::<f64>() as f32
}

/// The normal equations of a least-squares fit of the displacement, built one edge at a time.
#[derive(Default)]
struct Normal {
    rows: [[f64; TERMS + 1]; TERMS],
    count: usize,
}

impl Normal {
    fn add(&mut self, terms: &[f64; TERMS], value: f64) {
        for (row, &term) in self.rows.iter_mut().zip(terms) {
            for (cell, &other) in row.iter_mut().zip(terms) {
                *cell += term * other;
            }
            row[TERMS] += term * value;
        }
        self.count += 1;
    }

    /// The coefficients; a little ridge keeps the terms the edges say little about near zero.
    fn solve(mut self) -> Option<[f64; TERMS]> {
        if self.count < MIN_EDGES {
            return None;
        }
        let ridge = 1e-3 * self.count as f64;
        for (i, row) in self.rows.iter_mut().enumerate() {
            row[i] += ridge;
        }
        super::solve(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::read_grid;
    use crate::testkit::qr_field;

    const SCALE: u32 = 6;

    /// `text`'s symbol printed on a bulging surface: every point moved towards the bottom right
    /// by `bulge` modules times sin(pi u) sin(pi v), u and v its place across the symbol (0 at
    /// the edges, so the corners and the finder patterns' outer edges stay put), then
    /// binarized. Returns the bits, the symbol's corners and its side in modules.
    fn bulged(text: &str, bulge: f32) -> (BitMatrix, [rxing::Point; 4], u32) {
        let flat = qr_field(text, SCALE, 1);
        let side = flat.width() / SCALE - 8;
        let (near, far) = ((4 * SCALE) as f32, ((4 + side) * SCALE) as f32);
        let span = far - near;
        let mut bits = BitMatrix::with_single_dimension(flat.width()).unwrap();
        for y in 0..flat.height() {
            for x in 0..flat.width() {
                let (u, v) = ((x as f32 - near) / span, (y as f32 - near) / span);
                let shift = if (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v) {
                    bulge
                        * SCALE as f32
                        * (std::f32::consts::PI * u).sin()
                        * (std::f32::consts::PI * v).sin()
                } else {
                    0.0
                };
                // The pixel shows what lies `shift` up and left of it on the flat print.
                let (sx, sy) = ((x as f32 - shift).round(), (y as f32 - shift).round());
                let dark = sx >= 0.0
                    && sy >= 0.0
                    && flat
                        .get_pixel_checked(sx as u32, sy as u32)
                        .is_some_and(|p| p.0[0] < 128);
                if dark {
                    bits.set(x, y);
                }
            }
        }
        let corners = [(near, near), (far, near), (far, far), (near, far)]
            .map(|(x, y)| rxing::Point { x, y });
        (bits, corners, side)
    }

    fn reads(grid: &BitMatrix, text: &str) -> bool {
        read_grid(grid, [[0.0; 2]; 4]).is_ok_and(|code| code.content.text == text)
    }

    /// Bulged by 0.7 of a module in its middle, a version 4 symbol does not read sampled through
    /// its corners by the majority of nine points (103 of its 1,089 modules wrong), and reads
    /// sampled along its edges (none wrong). At 0.9 of a module the first grid's edges are
    /// more than half a module off, past what the search looks at, and it stays unread.
    #[test]
    fn a_symbol_on_a_curved_surface_reads_sampled_along_its_edges() {
        let text = "https://example.com/printed-on-a-curved-surface/0123456789";
        let (bits, corners, side) = bulged(text, 0.7);
        assert_eq!(side, 33, "version 4");
        let majority = crate::sample::majority_grid(&bits, corners, side).unwrap();
        assert!(!reads(&majority, text));
        let followed = grids(&bits, corners, side);
        assert!(followed.iter().any(|grid| reads(grid, text)));
    }

    /// A flat symbol's edges are where the corners put them: no displacement is fitted, and
    /// the grid is the symbol.
    #[test]
    fn a_flat_symbol_is_sampled_where_it_is() {
        let text = "https://example.com/flat";
        let (bits, corners, side) = bulged(text, 0.0);
        let followed = grids(&bits, corners, side);
        assert!(!followed.is_empty());
        assert!(followed.iter().all(|grid| reads(grid, text)));
    }

    /// A symbol past version 13 is left to the alignment patterns' piecewise grid.
    #[test]
    fn symbols_past_version_13_are_not_followed() {
        let (bits, corners, side) = bulged(&"0123456789abcdef".repeat(25), 0.0);
        assert!(side > MAX_SIDE, "{side} modules");
        assert!(grids(&bits, corners, side).is_empty());
    }

    /// A symbol with no edges to measure gives no grid rather than a guess.
    #[test]
    fn a_blank_area_gives_no_grid() {
        let bits = BitMatrix::with_single_dimension(300).unwrap();
        let corners = [(24.0, 24.0), (246.0, 24.0), (246.0, 246.0), (24.0, 246.0)]
            .map(|(x, y)| rxing::Point { x, y });
        assert!(grids(&bits, corners, 37).is_empty());
    }
}
