//! Test images, generated from their expected text (API.md fixtures rule): QR codes in the forms
//! the tests need, a blank image, and a field of unreadable codes that keeps a decoder busy.
//! Pure (the `qrcode` and `image` crates only), so `examples/budget.rs` includes this file too.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, Luma, Rgba, RgbaImage};

/// Module colours of a QR code for `text` at `level` (true = dark), and its width in modules.
pub fn qr_modules_at(text: &str, level: qrcode::EcLevel) -> (Vec<bool>, usize) {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), level)
        .expect("text fits a QR code");
    let width = code.width();
    let modules = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    (modules, width)
}

/// A grey image of the code for `text`: `scale` pixels per module, 4-module quiet zone.
pub fn qr_gray(text: &str, scale: u32) -> GrayImage {
    qr_gray_at(text, scale, qrcode::EcLevel::M)
}

/// Like `qr_gray`, at a chosen error-correction level.
pub fn qr_gray_at(text: &str, scale: u32, level: qrcode::EcLevel) -> GrayImage {
    let (modules, width) = qr_modules_at(text, level);
    let side = (width as u32 + 8) * scale;
    GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - 4, (y / scale) as i64 - 4);
        let dark = mx >= 0
            && my >= 0
            && (mx as usize) < width
            && (my as usize) < width
            && modules[my as usize * width + mx as usize];
        Luma([if dark { 0 } else { 255 }])
    })
}

pub fn png(image: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("png encodes");
    out
}

/// A PNG of a Micro QR code (M4, level M) for `text`: 6 pixels per module, 2-module quiet zone.
pub fn micro_qr_png(text: &str) -> Vec<u8> {
    let code = qrcode::QrCode::with_version(text, qrcode::Version::Micro(4), qrcode::EcLevel::M)
        .expect("text fits an M4 symbol");
    let (width, scale) = (code.width() as u32, 6);
    let modules = code.to_colors();
    let side = (width + 4) * scale;
    let grey = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale).wrapping_sub(2), (y / scale).wrapping_sub(2));
        let dark =
            mx < width && my < width && modules[(my * width + mx) as usize] == qrcode::Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    png(&image::DynamicImage::ImageLuma8(grey))
}

/// The stored rMQR symbol (no Rust encoder writes rMQR; `fixtures/README.md`) and its text.
pub fn rmqr_png() -> (Vec<u8>, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let png = std::fs::read(root.join("rmqr-r13x43.png")).expect("fixture");
    let text = std::fs::read_to_string(root.join("rmqr-r13x43.txt")).expect("fixture");
    (png, text)
}

/// A PNG of the code for `text`.
pub fn qr_png(text: &str) -> Vec<u8> {
    png(&image::DynamicImage::ImageLuma8(qr_gray(text, 6)))
}

/// Black modules on a fully transparent background (the light modules have alpha 0).
pub fn qr_png_transparent(text: &str) -> Vec<u8> {
    let grey = qr_gray(text, 6);
    let rgba = RgbaImage::from_fn(grey.width(), grey.height(), |x, y| {
        if grey.get_pixel(x, y).0[0] == 0 {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    png(&image::DynamicImage::ImageRgba8(rgba))
}

/// Light modules on a dark background.
pub fn qr_png_inverted(text: &str) -> Vec<u8> {
    let mut grey = qr_gray(text, 6);
    image::imageops::invert(&mut grey);
    png(&image::DynamicImage::ImageLuma8(grey))
}

/// Two codes on one white canvas: `big` at scale 8 on the left, `small` at scale 4 on the right.
pub fn two_codes_png(big: &str, small: &str) -> Vec<u8> {
    let (a, b) = (qr_gray(big, 8), qr_gray(small, 4));
    let mut canvas = GrayImage::from_pixel(
        a.width() + b.width() + 40,
        a.height().max(b.height()) + 40,
        Luma([255]),
    );
    image::imageops::overlay(&mut canvas, &a, 20, 20);
    image::imageops::overlay(&mut canvas, &b, i64::from(a.width()) + 20, 20);
    png(&image::DynamicImage::ImageLuma8(canvas))
}

/// A PNG of the code for `text`, padded to `size` bytes with an ancillary chunk the decoder skips.
pub fn padded_qr_png(text: &str, size: usize) -> Vec<u8> {
    let mut png = qr_png(text);
    let iend = png.split_off(png.len() - 12);
    let padding = vec![0u8; size.saturating_sub(png.len() + 12 + 12)];
    png.extend_from_slice(&(padding.len() as u32).to_be_bytes());
    png.extend_from_slice(b"zzZz");
    png.extend_from_slice(&padding);
    png.extend_from_slice(&[0, 0, 0, 0]); // CRC of an ancillary chunk is not checked by the decoder.
    png.extend_from_slice(&iend);
    png
}

/// A PNG with no code in it.
pub fn blank_png() -> Vec<u8> {
    png(&image::DynamicImage::ImageLuma8(GrayImage::from_fn(
        120,
        80,
        |x, y| Luma([((x * 2 + y) % 256) as u8]),
    )))
}

/// The version (1-40) of the code `qr_modules_at` draws for `text` at `level`.
pub fn qr_version(text: &str, level: qrcode::EcLevel) -> i64 {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), level)
        .expect("text fits a QR code");
    match code.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => i64::from(v),
    }
}

/// `side` x `side` pixels of version-2 codes, `scale` pixels per module, their data modules
/// replaced by noise (xorshift), finder patterns and quiet zones kept: every code is a candidate
/// no strategy can read, so a decoder works on it until its budget is spent.
pub fn unreadable_codes(side: u32, scale: u32) -> GrayImage {
    let (modules, width) = qr_modules_at("https://cli.im/unreadable", qrcode::EcLevel::L);
    let cell = (width as u32 + 8) * scale;
    let mut noise = 0x2545_f491_u32;
    let mut image = GrayImage::from_pixel(side, side, Luma([255]));
    for (tx, ty) in (0..side / cell).flat_map(|y| (0..side / cell).map(move |x| (x, y))) {
        for (i, &dark) in modules.iter().enumerate() {
            let (mx, my) = (i % width, i / width);
            let finder = ((mx < 8 || mx >= width - 8) && my < 8) || (mx < 8 && my >= width - 8);
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            if dark != (!finder && noise & 1 == 0) {
                for (dx, dy) in (0..scale).flat_map(|y| (0..scale).map(move |x| (x, y))) {
                    let x = tx * cell + (mx as u32 + 4) * scale + dx;
                    let y = ty * cell + (my as u32 + 4) * scale + dy;
                    image.put_pixel(x, y, Luma([0]));
                }
            }
        }
    }
    image
}

/// A PNG of `unreadable_codes`, large enough to hold a decode worker for its whole budget.
pub fn unreadable_codes_png() -> Vec<u8> {
    png(&image::DynamicImage::ImageLuma8(unreadable_codes(1000, 3)))
}
