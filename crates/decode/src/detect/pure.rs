//! zxing-cpp's "pure" detectors: an image holding one unskewed symbol and a white margin, as
//! generated images and screenshots are, read without a finder-pattern scan.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rxing::common::{BitMatrix, DetectorRXingResult};
use rxing::qrcode::cpp_port::detector::{DetectPureMQR, DetectPureQR, DetectPureRMQR};

use super::{Detected, Placement};
use crate::read::{read_grid, read_micro};
use crate::symbology::{Format, Formats};

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
    // A symbol has finder patterns in three corners of its bounding box, and the fourth says how
    // far to turn it upright (bottom-right without one), so only one turn is tried. A corner
    // whose pixel and its diagonal neighbour are both light holds no finder pattern: an image
    // with fewer than three dark corners is refused in four reads.
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
    if corners.iter().filter(|&&d| d).count() < 3 {
        return detected;
    }
    // Each dark corner must start a finder pattern (a version 1 symbol's is a third of its
    // side) before the image is copied and turned: a photo's dark border passes the corner test
    // above and nothing else. Data darkens the fourth corner of most symbols at one pixel a
    // module (the bottom-right pixel or its diagonal neighbour: three in four), and there the
    // pattern tells the corners apart.
    let finder_side = |(x, y, dx, dy): (u32, u32, i32, i32)| {
        // The diagonal crosses the rings 1:1:3:1:1, and the outer ring runs dark the
        // pattern's whole side along both edges from the corner: data crossing a corner like
        // the rings on the diagonal alone is common at a pixel a module.
        let at = |x: u32, y: u32| {
            let side = finder_on_diagonal(bits, x, y, dx, dy)?;
            let ring = |step: (i32, i32)| dark_run(bits, x, y, step).abs_diff(side);
            let slack = 1 + side / 7;
            (ring((dx, 0)) <= slack && ring((0, dy)) <= slack).then_some(side)
        };
        let next = (x.saturating_add_signed(dx), y.saturating_add_signed(dy));
        at(x, y)
            .or_else(|| at(next.0, next.1))
            .filter(|&side| side as f32 <= width as f32 * 7.0 / 21.0 + 2.0)
    };
    let sides: [Option<u32>; 4] =
        std::array::from_fn(|i| corners[i].then(|| finder_side(steps[i])).flatten());
    let finders = sides.map(|side| side.is_some());
    if finders.iter().filter(|&&f| f).count() != 3 {
        return detected;
    }
    let Some(turns) = finders.iter().position(|&f| !f) else {
        return detected;
    };
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
    match read_grid(sampled.getBits(), points) {
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
        match read_micro(sampled.getBits(), points, formats) {
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

/// How many dark pixels run from (x, y) on in steps of `step`.
fn dark_run(bits: &BitMatrix, x: u32, y: u32, (dx, dy): (i32, i32)) -> u32 {
    let (mut x, mut y, mut run) = (x, y, 0);
    while x < bits.width() && y < bits.height() && bits.get(x, y) {
        run += 1;
        match (x.checked_add_signed(dx), y.checked_add_signed(dy)) {
            (Some(nx), Some(ny)) => (x, y) = (nx, ny),
            _ => break,
        }
    }
    run
}

/// Maps a point of a matrix turned `turns` times by `BitMatrix::rotate90` (counter-clockwise)
/// back to the original matrix; `width` and `height` are the turned matrix's.
pub(super) fn unturn(mut p: [f32; 2], turns: u32, width: u32, height: u32) -> [f32; 2] {
    let (mut width, mut height) = (width as f32, height as f32);
    for _ in 0..turns {
        // rotate90 sends (x, y) to (y, W - x) in continuous coordinates, W the width before
        // turning, which is the height after it.
        p = [height - p[1], p[0]];
        (width, height) = (height, width);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The symbol for `text` at one pixel a module on a two-pixel light margin.
    fn one_pixel_a_module(text: &str) -> (BitMatrix, bool) {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let n = code.width();
        let mut bits = BitMatrix::with_single_dimension(n as u32 + 4).unwrap();
        for y in 0..n {
            for x in 0..n {
                if code[(x, y)] == qrcode::Color::Dark {
                    bits.set(x as u32 + 2, y as u32 + 2);
                }
            }
        }
        let dark = |x: usize| code[(x, x)] == qrcode::Color::Dark;
        (bits, dark(n - 1) || dark(n - 2))
    }

    #[test]
    fn a_symbol_at_one_pixel_a_module_reads_at_every_turn_whatever_its_fourth_corner_holds() {
        let at = Placement {
            origin: [0.0, 0.0],
            scale: [1.0; 2],
        };
        let mut dark_corners = 0;
        for i in 0..24 {
            let text = format!("ONE PIXEL A MODULE {i}");
            let (mut bits, dark_corner) = one_pixel_a_module(&text);
            dark_corners += usize::from(dark_corner);
            for turn in 0..4 {
                let detected = pure(&bits, at, Formats::default());
                let read = detected.codes.first().map(|c| c.content.text.as_str());
                assert_eq!(
                    read,
                    Some(text.as_str()),
                    "turn {turn}, dark corner {dark_corner}"
                );
                bits.rotate90();
            }
        }
        // Data darkens the fourth corner of most symbols: the case is exercised.
        assert!(dark_corners >= 8, "{dark_corners} of 24");
    }
}
