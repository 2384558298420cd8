//! PNGs other than packed grey (colour, palette, 8 or 16 bits, with transparency) decoded a row
//! at a time straight into grey: through `image` the whole RGB(A) frame was held beside its grey
//! copy, 4 bytes a pixel at the peak instead of about 1.4. Interlaced PNGs, whose rows come in
//! seven passes over the image, are left to `image`.

use std::io::Cursor;

use image::GrayImage;

use super::load::{luma, on_white};
use super::{DecodeError, DecodeOptions};

/// The grey image of a non-interlaced PNG, transparency composited onto white as `load` does
/// for every format; `None` for an interlaced one. The pixel count was checked from the header
/// by the caller; `options.max_decoder_bytes` caps what decoding holds (`decoder_bytes`).
pub fn load(bytes: &[u8], options: &DecodeOptions) -> Option<Result<GrayImage, DecodeError>> {
    let limits = png::Limits {
        bytes: usize::try_from(options.max_decoder_bytes).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    // Palettes and low bit depths to 8-bit samples, a transparent colour (tRNS) to an alpha
    // channel, 16-bit samples to their high byte.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    if reader.info().interlaced {
        return None;
    }
    let (width, height) = (reader.info().width, reader.info().height);
    let needed = decoder_bytes(width, height);
    if needed > options.max_decoder_bytes {
        return Some(Err(DecodeError::TooMuchMemory {
            width,
            height,
            needed: Some(needed),
            limit: options.max_decoder_bytes,
        }));
    }
    let (width, height) = (width as usize, height as usize);
    let channels = match reader.output_color_type().0 {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return None,
    };
    let mut grey = Vec::with_capacity(width * height);
    for _ in 0..height {
        let row = match reader.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Some(Err(DecodeError::NotAnImage(format!("{e}")))),
        };
        let pixels = row.data().chunks_exact(channels).take(width);
        match channels {
            1 => grey.extend(pixels.map(|p| p[0])),
            2 => grey.extend(pixels.map(|p| on_white(u32::from(p[0]), u32::from(p[1])))),
            3 => grey.extend(pixels.map(|p| luma(p[0], p[1], p[2]) as u8)),
            _ => grey.extend(pixels.map(|p| on_white(luma(p[0], p[1], p[2]), u32::from(p[3])))),
        }
    }
    let image = GrayImage::from_raw(width as u32, height as u32, grey);
    Some(image.ok_or_else(|| DecodeError::NotAnImage("the PNG data is truncated".into())))
}

/// What decoding holds at its peak, an upper bound: the grey frame, a byte a pixel, and the
/// decoder's current and previous raw rows, at most 8 bytes a pixel (16-bit RGBA).
fn decoder_bytes(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height) + 2 * 8 * u64::from(width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat};

    /// A PNG of `image` written by `image`'s encoder.
    fn png_of(image: DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// What `image` decodes the same PNG to, made grey as `load` made every PNG before.
    fn through_image(bytes: &[u8]) -> GrayImage {
        let decoded = image::load_from_memory_with_format(bytes, ImageFormat::Png).unwrap();
        super::super::load::to_luma_on_white(decoded)
    }

    fn pattern(x: u32, y: u32, k: u32) -> u8 {
        ((x * 37 + y * 91 + k * 53) % 256) as u8
    }

    #[test]
    fn colour_grey_and_transparent_pngs_give_the_grey_image_gives() {
        let (w, h) = (23, 17);
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2)])
        });
        let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
            let [r, g, b] = rgb.get_pixel(x, y).0;
            image::Rgba([r, g, b, pattern(x, y, 3)])
        });
        let grey_alpha = image::GrayAlphaImage::from_fn(w, h, |x, y| {
            image::LumaA([pattern(x, y, 0), pattern(x, y, 3)])
        });
        let grey = image::GrayImage::from_fn(w, h, |x, y| image::Luma([pattern(x, y, 0)]));
        for image in [
            DynamicImage::ImageRgb8(rgb),
            DynamicImage::ImageRgba8(rgba),
            DynamicImage::ImageLumaA8(grey_alpha),
            DynamicImage::ImageLuma8(grey),
        ] {
            let bytes = png_of(image);
            let ours = load(&bytes, &DecodeOptions::default()).unwrap().unwrap();
            assert_eq!(ours, through_image(&bytes));
        }
    }

    #[test]
    fn sixteen_bit_pngs_keep_their_high_byte() {
        let rgb16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(9, 5, |x, y| {
            let v = |k| u16::from(pattern(x, y, k)) * 257;
            image::Rgb([v(0), v(1), v(2)])
        });
        let bytes = png_of(DynamicImage::ImageRgb16(rgb16));
        let ours = load(&bytes, &DecodeOptions::default()).unwrap().unwrap();
        let theirs = through_image(&bytes);
        for (a, b) in ours.as_raw().iter().zip(theirs.as_raw()) {
            assert!(a.abs_diff(*b) <= 1, "{a} against {b}");
        }
    }

    #[test]
    fn a_truncated_colour_png_is_not_an_image() {
        let rgb = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([pattern(x, y, 0); 3]));
        let bytes = png_of(DynamicImage::ImageRgb8(rgb));
        let cut = load(&bytes[..bytes.len() / 2], &DecodeOptions::default());
        assert!(
            matches!(cut, Some(Err(DecodeError::NotAnImage(_)))),
            "{cut:?}"
        );
    }

    #[test]
    fn the_memory_cap_counts_the_grey_frame_and_two_rows() {
        let rgba = image::RgbaImage::from_pixel(300, 200, image::Rgba([9, 9, 9, 255]));
        let bytes = png_of(DynamicImage::ImageRgba8(rgba));
        let needed = 300 * 200 + 2 * 8 * 300;
        assert_eq!(decoder_bytes(300, 200), needed);
        let capped = |max_decoder_bytes| DecodeOptions {
            max_decoder_bytes,
            ..DecodeOptions::default()
        };
        let over = load(&bytes, &capped(needed - 1));
        assert!(
            matches!(over, Some(Err(DecodeError::TooMuchMemory { .. }))),
            "{over:?}"
        );
        assert!(matches!(load(&bytes, &capped(needed)), Some(Ok(_))));
    }
}
