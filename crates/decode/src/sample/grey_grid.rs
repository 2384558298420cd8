//! A symbol's modules read again from the grey pixels, with the blur undone module by module.
//!
//! In a defocused photo each module's grey is a mix of its own colour and its neighbours':
//! a light module between dark ones comes out as dark as a dark module by light ones, and no
//! threshold, of pixels or of modules, tells them apart. But the mix is the same across the
//! symbol, and every symbol shows it on modules whose colours are known: the finder patterns,
//! their separators and the timing patterns, with the light quiet zone around the symbol. So
//! the blur is fitted there, as a 3x3 kernel (centre, side and corner weights, plus the
//! paper's level) by least squares on the module greys, and each other module gets the colour
//! that, with its neighbours', best explains the greys around it (iterated conditional modes:
//! sweeps over the modules, each flipped when that lowers the squared error of its 3x3
//! neighbourhood). Used for symbols whose format reads and whose data does not: error
//! correction judges each grid.

use image::GrayImage;
use rxing::common::BitMatrix;

use super::ModuleGrid;
use crate::layout;

/// The timing patterns' row and column, as `known` matches them.
const TIMING: usize = layout::TIMING_LINE as usize;

/// The grids tried: after each of this many sweeps. On BoofCV's photos a third or fourth sweep
/// read nothing the first two did not.
const SWEEPS: usize = 2;

/// Fewest modules with a known neighbourhood the fit needs: every symbol has 147, the three
/// finder patterns; fewer means most of them fell outside the image.
const MIN_FITTED: usize = 40;

/// Grids of the `side` x `side` symbol inside `corners` (clockwise from top-left, in `grey`'s
/// pixels), dark set where the caller's binarization had dark: one after each sweep.
/// Empty when the function patterns do not fit a blur (too few, or no contrast).
pub fn grids(grey: &GrayImage, corners: [rxing::Point; 4], side: u32) -> Vec<BitMatrix> {
    // The function patterns `known` lays out need a QR symbol's size: 21 modules or more.
    if side < layout::MIN_SIDE {
        return Vec::new();
    }
    grids_with(grey, corners, side, known)
}

/// `grids` for a Micro QR symbol of `side` modules (11 to 17), fitted on its one finder
/// pattern, the separator and the two timing patterns along its top and left edges.
pub fn micro_grids(grey: &GrayImage, corners: [rxing::Point; 4], side: u32) -> Vec<BitMatrix> {
    if !(11..=17).contains(&side) {
        return Vec::new();
    }
    grids_with(grey, corners, side, micro_known)
}

/// The fit and the sweeps over a square symbol whose function modules `known` gives.
fn grids_with(
    grey: &GrayImage,
    corners: [rxing::Point; 4],
    side: u32,
    known: fn(usize, usize, usize) -> Option<bool>,
) -> Vec<BitMatrix> {
    let Some(greys) = sample(grey, corners, side) else {
        return Vec::new();
    };
    let n = side as usize;
    let known: Vec<Option<bool>> = (0..n * n).map(|i| known(n, i % n, i / n)).collect();
    let Some(blur) = Blur::fit(&greys, &known, n) else {
        return Vec::new();
    };
    // Start from the threshold halfway between a dark and a light module in a half-dark
    // neighbourhood.
    let halfway = blur.halfway();
    let mut dark: Vec<bool> = (0..n * n)
        .map(|i| known[i].unwrap_or((greys[i] - halfway) * blur.centre() > 0.0))
        .collect();
    let mut predicted: Vec<f32> = (0..n * n)
        .map(|i| blur.predict(&dark, n, i % n, i / n))
        .collect();
    let mut out = Vec::with_capacity(SWEEPS);
    for _ in 0..SWEEPS {
        let mut flipped = 0;
        for y in 0..n {
            for x in 0..n {
                if known[y * n + x].is_some() {
                    continue;
                }
                // The change a flip makes to the predictions of the module and its neighbours,
                // and whether it lowers their squared error.
                let sign = if dark[y * n + x] { -1.0 } else { 1.0 };
                let mut gain = 0.0;
                blur.each_weight(n, x, y, |q, weight| {
                    let before = greys[q] - predicted[q];
                    let after = before - sign * weight;
                    gain += before * before - after * after;
                });
                if gain > 0.0 {
                    dark[y * n + x] = !dark[y * n + x];
                    blur.each_weight(n, x, y, |q, weight| predicted[q] += sign * weight);
                    flipped += 1;
                }
            }
        }
        out.extend(super::to_grid(&dark, side));
        if flipped == 0 {
            break;
        }
    }
    out
}

/// Each module's mean grey over its nine points (`ModuleGrid`), row by row.
fn sample(grey: &GrayImage, corners: [rxing::Point; 4], side: u32) -> Option<Vec<f32>> {
    let modules = ModuleGrid::over(corners, side)?;
    let (width, height) = grey.dimensions();
    let (max_x, max_y) = (width.checked_sub(1)? as f32, height.checked_sub(1)? as f32);
    let mut greys = Vec::with_capacity((side * side) as usize);
    for y in 0..side {
        for x in 0..side {
            let sum: f32 = modules
                .points(x, y)
                .map(|p| {
                    // Clamped: a symbol at the image's edge still has its inside read.
                    let (px, py) = (p.x.clamp(0.0, max_x), p.y.clamp(0.0, max_y));
                    f32::from(grey.get_pixel(px as u32, py as u32).0[0])
                })
                .sum();
            greys.push(sum / 9.0);
        }
    }
    Some(greys)
}

/// The colour (dark = true) every symbol of `side` modules has at (x, y), if it is a function
/// module: the three finder patterns with their separators, the timing patterns, and the dark
/// module by the bottom-left pattern. Format, version, alignment and data modules: `None`.
fn known(side: usize, x: usize, y: usize) -> Option<bool> {
    let last = side - 1;
    match (x, y) {
        (x, y) if x < 8 && y < 8 => Some(finder(x, y)),
        (x, y) if x > last - 8 && y < 8 => Some(finder(last - x, y)),
        (x, y) if x < 8 && y > last - 8 => Some(finder(x, last - y)),
        (8, y) if y == last - 7 => Some(true),
        (x, TIMING) | (TIMING, x) if (8..=last - 8).contains(&x) => Some(x % 2 == 0),
        _ => None,
    }
}

/// The colour a Micro QR symbol of `side` modules has at (x, y), if it is a function module:
/// the finder pattern with its separator in the top-left corner, and the timing patterns that
/// run from it along the top row and the left column, dark on even modules.
fn micro_known(side: usize, x: usize, y: usize) -> Option<bool> {
    match (x, y) {
        (x, y) if x < 8 && y < 8 => Some(finder(x, y)),
        (x, 0) | (0, x) if (8..side).contains(&x) => Some(x % 2 == 0),
        _ => None,
    }
}

/// The colour at offset (`fx`, `fy`) of a finder pattern's 8x8 corner area, counted from the
/// symbol's corner: the pattern's rings, then the light separator.
fn finder(fx: usize, fy: usize) -> bool {
    if fx == 7 || fy == 7 {
        return false;
    }
    fx.min(fy).min(6 - fx).min(6 - fy) != 1
}

/// The kernel's reach in modules, and its weights: the module itself, its four side neighbours,
/// its four corner neighbours. A 5x5 kernel (six weights) read one code fewer on BoofCV's
/// photos and three fewer over the four turns of the zxing-cpp samples.
const RADIUS: isize = 1;
const CLASSES: usize = 3;

fn class(dx: isize, dy: isize) -> usize {
    (dx != 0) as usize + (dy != 0) as usize
}

/// A module's grey as `level` plus the weights of the dark modules among it and its
/// neighbours (negative when dark is darker, positive on an inverted binarization).
struct Blur {
    level: f32,
    weights: [f32; CLASSES],
}

impl Blur {
    /// Least squares over the known modules whose neighbourhood inside the symbol is known
    /// (outside it is the light quiet zone).
    fn fit(greys: &[f32], known: &[Option<bool>], n: usize) -> Option<Blur> {
        let mut normal = [[0f64; UNKNOWNS + 1]; UNKNOWNS];
        let mut fitted = 0;
        for y in 0..n {
            'module: for x in 0..n {
                if known[y * n + x].is_none() {
                    continue;
                }
                let mut features = [0f64; UNKNOWNS];
                features[0] = 1.0;
                for dy in -RADIUS..=RADIUS {
                    for dx in -RADIUS..=RADIUS {
                        let (qx, qy) = (x as isize + dx, y as isize + dy);
                        if !(0..n as isize).contains(&qx) || !(0..n as isize).contains(&qy) {
                            continue;
                        }
                        match known[qy as usize * n + qx as usize] {
                            Some(dark) => features[1 + class(dx, dy)] += f64::from(u8::from(dark)),
                            None => continue 'module,
                        }
                    }
                }
                let grey = f64::from(greys[y * n + x]);
                for (row, &feature) in normal.iter_mut().zip(&features) {
                    for (cell, &other) in row.iter_mut().zip(&features) {
                        *cell += feature * other;
                    }
                    row[UNKNOWNS] += feature * grey;
                }
                fitted += 1;
            }
        }
        if fitted < MIN_FITTED {
            return None;
        }
        let solved = super::solve(normal)?;
        let weights: [f32; CLASSES] = std::array::from_fn(|c| solved[1 + c] as f32);
        let centre = weights[0].abs();
        // Without a centre weight that dominates, the colours cannot be told apart.
        (centre >= 1.0 && weights[1..].iter().all(|w| w.abs() < centre)).then_some(Blur {
            level: solved[0] as f32,
            weights,
        })
    }

    /// The grey of a module halfway: in a neighbourhood half dark, half its own weight.
    fn halfway(&self) -> f32 {
        let mut sum = 0.0;
        for dy in -RADIUS..=RADIUS {
            for dx in -RADIUS..=RADIUS {
                sum += self.weights[class(dx, dy)];
            }
        }
        self.level + 0.5 * sum
    }

    fn centre(&self) -> f32 {
        self.weights[0]
    }

    fn predict(&self, dark: &[bool], n: usize, x: usize, y: usize) -> f32 {
        let mut grey = self.level;
        self.each_weight(n, x, y, |q, weight| {
            if dark[q] {
                grey += weight;
            }
        });
        grey
    }

    /// Calls `f` with each module of the neighbourhood of (x, y) inside the symbol, and the
    /// weight that (x, y)'s colour has in its grey (the kernel is symmetric).
    fn each_weight(&self, n: usize, x: usize, y: usize, mut f: impl FnMut(usize, f32)) {
        for dy in -RADIUS..=RADIUS {
            for dx in -RADIUS..=RADIUS {
                let (qx, qy) = (x as isize + dx, y as isize + dy);
                if (0..n as isize).contains(&qx) && (0..n as isize).contains(&qy) {
                    f(qy as usize * n + qx as usize, self.weights[class(dx, dy)]);
                }
            }
        }
    }
}

/// The fit's unknowns: the level and the weights.
const UNKNOWNS: usize = CLASSES + 1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{read_grid, Unread};
    use crate::testkit::qr_field;

    const SCALE: u32 = 6;

    fn corners(modules: u32) -> [rxing::Point; 4] {
        let (a, b) = ((4 * SCALE) as f32, ((4 + modules) * SCALE) as f32);
        [(a, a), (b, a), (b, b), (a, b)].map(|(x, y)| rxing::Point { x, y })
    }

    fn read(grid: &BitMatrix) -> Result<String, Unread> {
        read_grid(grid, [[0.0; 2]; 4]).map(|code| code.content.text)
    }

    /// Blurred by half a module (a Gaussian of 3 pixels at 6 pixels a module): the module
    /// greys thresholded halfway do not read, the blur undone does.
    #[test]
    fn a_symbol_blurred_beyond_thresholding_reads_with_the_blur_undone() {
        let text = "https://example.com/blurred-symbol";
        let grey = qr_field(text, SCALE, 1);
        let modules = grey.width() / SCALE - 8;
        let blurred = image::imageops::blur(&grey, 3.0);
        let greys = sample(&blurred, corners(modules), modules).unwrap();
        let mut thresholded = BitMatrix::with_single_dimension(modules).unwrap();
        for (i, _) in greys.iter().enumerate().filter(|(_, &g)| g < 128.0) {
            thresholded.set(i as u32 % modules, i as u32 / modules);
        }
        assert!(read(&thresholded).is_err());
        let grids = grids(&blurred, corners(modules), modules);
        assert!(grids.iter().any(|grid| read(grid).as_deref() == Ok(text)));
    }

    /// The same for a Micro QR symbol (M4, two modules of margin), fitted on its one finder
    /// pattern and its two timing patterns.
    #[test]
    fn a_blurred_micro_qr_symbol_reads_with_the_blur_undone() {
        let text = "MICRO BLUR 2026";
        let grey = crate::testkit::micro_qr(text, 4, SCALE);
        let modules = grey.width() / SCALE - 4;
        let (a, b) = ((2 * SCALE) as f32, ((2 + modules) * SCALE) as f32);
        let corners = [(a, a), (b, a), (b, b), (a, b)].map(|(x, y)| rxing::Point { x, y });
        let read = |grid: &BitMatrix| {
            crate::read::read_micro(grid, [[0.0; 2]; 4], crate::Formats::ALL)
                .map(|code| code.content.text)
        };
        let blurred = image::imageops::blur(&grey, 3.0);
        let greys = sample(&blurred, corners, modules).unwrap();
        let mut thresholded = BitMatrix::with_single_dimension(modules).unwrap();
        for (i, _) in greys.iter().enumerate().filter(|(_, &g)| g < 128.0) {
            thresholded.set(i as u32 % modules, i as u32 / modules);
        }
        assert!(read(&thresholded).is_err());
        let micro = micro_grids(&blurred, corners, modules);
        assert!(micro.iter().any(|grid| read(grid).as_deref() == Ok(text)));
        // A QR symbol's layout is not a Micro QR one's, nor the other way round.
        assert!(micro_grids(&blurred, corners, 21).is_empty());
        assert!(grids(&blurred, corners, modules).is_empty());
    }

    #[test]
    fn sides_no_qr_symbol_has_and_degenerate_corners_give_no_grid() {
        let grey = qr_field("tiny", SCALE, 1);
        for side in [0, 1, 11, 17, 20] {
            assert!(grids(&grey, corners(side), side).is_empty(), "side {side}");
        }
        let point = rxing::Point { x: 10.0, y: 10.0 };
        assert!(grids(&grey, [point; 4], 21).is_empty());
        assert!(grids(&GrayImage::new(0, 0), corners(21), 21).is_empty());
    }

    #[test]
    fn the_known_modules_are_those_of_every_symbol() {
        for version in 1..=12 {
            let code = qrcode::QrCode::with_version(
                format!("version {version}"),
                qrcode::Version::Normal(version),
                qrcode::EcLevel::L,
            )
            .unwrap();
            let n = code.width();
            let mut count = 0;
            for y in 0..n {
                for x in 0..n {
                    if let Some(dark) = known(n, x, y) {
                        assert_eq!(
                            dark,
                            code[(x, y)] == qrcode::Color::Dark,
                            "v{version} ({x}, {y})"
                        );
                        count += 1;
                    }
                }
            }
            // Three 8x8 corners, two timing lines, the dark module.
            assert_eq!(count, 3 * 64 + 2 * (n - 16) + 1);
        }
    }

    /// Greys made by a known kernel are fitted back to it.
    #[test]
    fn the_blur_is_fitted_from_the_function_patterns() {
        let n = 25;
        let code =
            qrcode::QrCode::with_version("fit", qrcode::Version::Normal(2), qrcode::EcLevel::M)
                .unwrap();
        let dark: Vec<bool> = (0..n * n)
            .map(|i| code[(i % n, i / n)] == qrcode::Color::Dark)
            .collect();
        let truth = Blur {
            level: 230.0,
            weights: [-120.0, -20.0, -5.0],
        };
        let greys: Vec<f32> = (0..n * n)
            .map(|i| truth.predict(&dark, n, i % n, i / n))
            .collect();
        let known: Vec<Option<bool>> = (0..n * n).map(|i| known(n, i % n, i / n)).collect();
        let fitted = Blur::fit(&greys, &known, n).unwrap();
        let got = [
            fitted.level,
            fitted.weights[0],
            fitted.weights[1],
            fitted.weights[2],
        ];
        let want = [
            truth.level,
            truth.weights[0],
            truth.weights[1],
            truth.weights[2],
        ];
        for (got, want) in got.into_iter().zip(want) {
            assert!((got - want).abs() < 0.01, "{got} against {want}");
        }
        // Flat greys (no contrast) fit no blur.
        assert!(Blur::fit(&vec![128.0; n * n], &known, n).is_none());
    }
}
