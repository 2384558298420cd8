//! Image bytes -> every QR code in the image (API.md section 6). Pure and synchronous: no tokio,
//! no network; callers run it off the async runtime.
//!
//! The work has three steps. `load_luma` sniffs the format from the bytes, checks the pixel count
//! from the header before any pixel is decoded, decodes under `image::Limits`, and composites
//! transparency onto white. Detectors then look for symbols in that grey image under a list of
//! strategies, cheapest first, until one finds a readable code or the time budget is spent. Each
//! symbol's module grid goes through one decoder (rxing's Reed-Solomon and format reader) and
//! `text::decode_segments`, so every detector reports text the same way. Third-party detectors are
//! called inside `catch_unwind`: one hostile image must not take down a request or the server.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};
use rxing::common::BitMatrix;

use crate::text::{self, Content};

/// The limits one decode runs under; all come from `Config`.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Largest width x height accepted, checked from the header (`--max-pixels`).
    pub max_pixels: u64,
    /// Largest allocation the image decoder may make (`--max-decode-memory`).
    pub max_decoder_bytes: u64,
    /// Time after which no further strategy is started (`--decode-budget`).
    pub budget: Duration,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: 40_000_000,
            max_decoder_bytes: 512 * 1024 * 1024,
            budget: Duration::from_secs(2),
        }
    }
}

/// One decoded QR symbol.
#[derive(Clone, Debug, PartialEq)]
pub struct QrCode {
    pub content: Content,
    /// 1-40.
    pub version: u8,
    /// `L`, `M`, `Q` or `H`.
    pub ec_level: &'static str,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the symbol.
    pub points: [[f32; 2]; 4],
}

impl QrCode {
    fn area(&self) -> f32 {
        // Shoelace formula over the quadrilateral.
        let p = &self.points;
        let mut twice = 0.0;
        for i in 0..4 {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            twice += a[0] * b[1] - b[0] * a[1];
        }
        (twice / 2.0).abs()
    }

    fn top_left(&self) -> (f32, f32) {
        let y = self.points.iter().map(|p| p[1]).fold(f32::INFINITY, f32::min);
        let x = self.points.iter().map(|p| p[0]).fold(f32::INFINITY, f32::min);
        (y, x)
    }

    fn center(&self) -> [f32; 2] {
        let sum = self
            .points
            .iter()
            .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
        [sum[0] / 4.0, sum[1] / 4.0]
    }
}

/// Why no code came out of an image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a supported image: {0}")]
    NotAnImage(String),
    #[error("image is {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("no QR code found in the image")]
    NoCode,
    #[error("a QR code was found but could not be read")]
    Unreadable,
}

/// The formats API.md section 6 accepts.
const ACCEPTED_FORMATS: [ImageFormat; 5] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Gif,
    ImageFormat::WebP,
    ImageFormat::Bmp,
];

/// Sniffs the format of `bytes`; `None` when it is not one we decode.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| ACCEPTED_FORMATS.contains(f))
}

/// Finds and reads every QR code in an encoded image, largest first.
pub fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<Vec<QrCode>, DecodeError> {
    let started = Instant::now();
    let grey = load_luma(bytes, options)?;
    decode_luma(&grey, options, started)
}

/// Decodes the image under the limits and returns it as 8-bit grey, transparency on white.
pub fn load_luma(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let format = sniff_format(bytes).ok_or_else(|| {
        DecodeError::NotAnImage("the format is not PNG, JPEG, GIF, WebP or BMP".into())
    })?;
    let corrupt = |e: image::ImageError| DecodeError::NotAnImage(format!("{e}"));
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(corrupt)?;
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(options.max_decoder_bytes);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        },
        other => corrupt(other),
    })?;
    Ok(to_luma_on_white(image))
}

/// Grey conversion that puts transparent pixels on white, so black-on-transparent codes stay dark-on-light.
fn to_luma_on_white(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let with_alpha = image.into_luma_alpha8();
    GrayImage::from_fn(with_alpha.width(), with_alpha.height(), |x, y| {
        let [luma, alpha] = with_alpha.get_pixel(x, y).0;
        let (luma, alpha) = (u32::from(luma), u32::from(alpha));
        image::Luma([((luma * alpha + 255 * (255 - alpha)) / 255) as u8])
    })
}

/// Runs the detection strategies on a grey image, cheapest first, until one reads a code.
pub fn decode_luma(
    grey: &GrayImage,
    options: &DecodeOptions,
    started: Instant,
) -> Result<Vec<QrCode>, DecodeError> {
    let mut found = Found::default();
    let inverted = invert(grey);
    let strategies: [&dyn Fn(&mut Found); 2] = [
        &|found| detect_rqrr(grey, found),
        &|found| detect_rqrr(&inverted, found),
    ];
    for strategy in strategies {
        if started.elapsed() > options.budget {
            break;
        }
        strategy(&mut found);
        if !found.codes.is_empty() {
            break;
        }
    }
    found.finish()
}

fn invert(grey: &GrayImage) -> GrayImage {
    let mut out = grey.clone();
    image::imageops::invert(&mut out);
    out
}

/// What the strategies have found so far.
#[derive(Default)]
struct Found {
    codes: Vec<QrCode>,
    /// A detector saw something code-like that no decoder could read.
    candidates: usize,
}

impl Found {
    /// Adds a code unless the same content was already found at the same place.
    fn add(&mut self, code: QrCode) {
        let center = code.center();
        let duplicate = self.codes.iter().any(|c| {
            let other = c.center();
            c.content == code.content
                && (center[0] - other[0]).abs() < 8.0
                && (center[1] - other[1]).abs() < 8.0
        });
        if !duplicate {
            self.codes.push(code);
        }
    }

    fn finish(mut self) -> Result<Vec<QrCode>, DecodeError> {
        if self.codes.is_empty() {
            return Err(if self.candidates > 0 {
                DecodeError::Unreadable
            } else {
                DecodeError::NoCode
            });
        }
        // Largest first; ties top-to-bottom, then left-to-right (API.md section 2).
        self.codes.sort_by(|a, b| {
            b.area()
                .total_cmp(&a.area())
                .then_with(|| a.top_left().0.total_cmp(&b.top_left().0))
                .then_with(|| a.top_left().1.total_cmp(&b.top_left().1))
        });
        Ok(self.codes)
    }
}

/// rqrr: finder-pattern detection on its own adaptive threshold.
fn detect_rqrr(grey: &GrayImage, found: &mut Found) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            grey.width() as usize,
            grey.height() as usize,
            |x, y| grey.get_pixel(x as u32, y as u32).0[0],
        );
        let mut codes = Vec::new();
        let mut unreadable = 0;
        for grid in prepared.detect_grids() {
            let size = rqrr::BitGrid::size(&grid.grid);
            let modules = |x: usize, y: usize| rqrr::BitGrid::bit(&grid.grid, y, x);
            let points = grid.bounds.map(|p| [p.x as f32, p.y as f32]);
            match read_modules(size, modules, points) {
                Some(code) => codes.push(code),
                None => unreadable += 1,
            }
        }
        (codes, unreadable)
    }));
    match outcome {
        Ok((codes, unreadable)) => {
            found.candidates += unreadable;
            codes.into_iter().for_each(|c| found.add(c));
        }
        // rqrr asserts in its geometry code on some real photos; it saw a candidate before failing.
        Err(_) => found.candidates += 1,
    }
}

/// Reads a sampled module grid (`true` = dark) as a QR symbol.
fn read_modules(
    size: usize,
    module: impl Fn(usize, usize) -> bool,
    points: [[f32; 2]; 4],
) -> Option<QrCode> {
    let version = u8::try_from(size.checked_sub(17)? / 4).ok()?;
    if !(1..=40).contains(&version) || size != usize::from(version) * 4 + 17 {
        return None;
    }
    let mut matrix = BitMatrix::with_single_dimension(size as u32).ok()?;
    for y in 0..size {
        for x in 0..size {
            if module(x, y) {
                matrix.set(x as u32, y as u32);
            }
        }
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        rxing::qrcode::decoder::qrcode_decoder::decode_bitmatrix(&matrix)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn garbage_is_not_an_image() {
        let err = decode(b"<html>hello</html>", &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)));
    }

    #[test]
    fn a_truncated_png_is_not_an_image() {
        let bytes = png(&DynamicImage::new_luma8(64, 64));
        let err = decode(&bytes[..bytes.len() / 2], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)), "{err:?}");
    }

    #[test]
    fn the_pixel_limit_is_checked_from_the_header() {
        let bytes = png(&DynamicImage::new_luma8(300, 200));
        let options = DecodeOptions {
            max_pixels: 300 * 200 - 1,
            ..DecodeOptions::default()
        };
        assert_eq!(
            decode(&bytes, &options).unwrap_err(),
            DecodeError::TooManyPixels {
                width: 300,
                height: 200,
                limit: 59_999
            }
        );
        let at_limit = DecodeOptions {
            max_pixels: 300 * 200,
            ..options
        };
        assert_eq!(decode(&bytes, &at_limit).unwrap_err(), DecodeError::NoCode);
    }

    #[test]
    fn transparency_is_composited_onto_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let grey = to_luma_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(grey.as_raw(), &vec![255, 0]);
    }

    #[test]
    fn codes_are_ordered_largest_first_then_top_then_left() {
        let code = |x: f32, y: f32, side: f32| QrCode {
            content: text::decode_segments(&[0x40, 0x14, 0x10, 0xec], 1).unwrap(),
            version: 1,
            ec_level: "M",
            points: [[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
        };
        let found = Found {
            codes: vec![
                code(100.0, 0.0, 10.0),
                code(0.0, 50.0, 20.0),
                code(0.0, 0.0, 10.0),
            ],
            candidates: 0,
        };
        let order: Vec<_> = found
            .finish()
            .unwrap()
            .iter()
            .map(|c| c.points[0])
            .collect();
        assert_eq!(order, vec![[0.0, 50.0], [0.0, 0.0], [100.0, 0.0]]);
    }
}
