//! Images for the decoder's unit tests, generated from their expected text.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageFormat};

use super::QrCode;

/// A small deterministic generator (xorshift32): the same numbers on every run, so a failing
/// test reproduces.
pub struct Xorshift(pub u32);

impl Xorshift {
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
}

pub fn png(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

/// A QR code of `text` as RGBA pixels, 4 pixels per module with a 4-module quiet zone;
/// light modules get `light` (a transparent one tests compositing).
pub fn qr_rgba(text: &str, light: [u8; 4]) -> (Vec<u8>, u32) {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let modules = code.width();
    let side = (modules + 8) * 4;
    let mut rgba = Vec::with_capacity(side * side * 4);
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / 4).wrapping_sub(4), (y / 4).wrapping_sub(4));
            let dark = mx < modules && my < modules && code[(mx, my)] == qrcode::Color::Dark;
            rgba.extend(if dark { [0, 0, 0, 255] } else { light });
        }
    }
    (rgba, side as u32)
}

/// `count` x `count` copies of the code for `text`, `scale` pixels per module, each with a
/// 4-module quiet zone.
pub fn qr_field(text: &str, scale: u32, count: u32) -> GrayImage {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let modules = code.width() as u32;
    let cell = modules + 8;
    GrayImage::from_fn(cell * scale * count, cell * scale * count, |x, y| {
        let (mx, my) = (
            (x / scale % cell).wrapping_sub(4),
            (y / scale % cell).wrapping_sub(4),
        );
        let dark =
            mx < modules && my < modules && code[(mx as usize, my as usize)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    })
}

/// A Micro QR symbol of `text` at `version` (2-4 for M2-M4) and level M, `scale` pixels per
/// module, with the 2-module quiet zone Micro QR asks for. Level M because qrcode 0.14 writes
/// M3-L symbols that rxing does not read, while segno's M3-L symbols and the
/// corpus's (microqrcode-1/1.png) read.
pub fn micro_qr(text: &str, version: i16, scale: u32) -> GrayImage {
    let code =
        qrcode::QrCode::with_version(text, qrcode::Version::Micro(version), qrcode::EcLevel::M)
            .unwrap();
    let modules = code.width() as u32;
    let side = (modules + 4) * scale;
    GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale).wrapping_sub(2), (y / scale).wrapping_sub(2));
        let dark =
            mx < modules && my < modules && code[(mx as usize, my as usize)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    })
}

/// Asserts that `code`'s centre is within 4 pixels of `expected`, in the caller's pixels.
pub fn assert_centre(points: &[[f32; 2]; 4], expected: [f32; 2]) {
    let [x, y] = crate::geometry::Quad(*points).center();
    assert!(
        (x - expected[0]).abs() < 4.0 && (y - expected[1]).abs() < 4.0,
        "centre ({x}, {y}), expected {expected:?}"
    );
}

/// Asserts that `code`'s corners (top-left, top-right, bottom-right, bottom-left of the symbol)
/// are each within 2 pixels of `expected`.
pub fn assert_corners(code: &QrCode, expected: [[f32; 2]; 4]) {
    let close = code
        .points
        .iter()
        .zip(&expected)
        .all(|(p, e)| (p[0] - e[0]).abs() <= 2.0 && (p[1] - e[1]).abs() <= 2.0);
    assert!(close, "corners {:?}, expected {expected:?}", code.points);
}
