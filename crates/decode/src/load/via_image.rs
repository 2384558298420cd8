//! GIF (first frame), BMP and TIFF (first page) through `image`'s decoders, under its limits:
//! the frame's size counted against `--max-decode-memory` before any pixel is decoded, and the
//! decoders' own allocations capped by it. A TIFF's orientation tag is applied, so the corners
//! reported are in the image as it is meant to be seen.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::pixel::to_luma_on_white;
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// Decodes `bytes` of `format`, whose header declared `width` x `height` (already checked).
pub(super) fn load(
    bytes: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> Result<GrayImage, DecodeError> {
    let corrupt = |e: image::ImageError| match e {
        // The width and height limits are the header's own: only the allocation cap is left.
        image::ImageError::Limits(_) => DecodeError::TooMuchMemory {
            width,
            height,
            needed: None,
            limit: options.max_decoder_bytes,
        },
        other => DecodeError::NotAnImage(format!("{other}")),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(options.max_decoder_bytes);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // The decoded frame and its grey copy are held at once.
    let frame = decoder.total_bytes();
    options.memory_for(
        width,
        height,
        frame.saturating_add(u64::from(width) * u64::from(height)),
    )?;
    let orientation = decoder.orientation().map_err(corrupt)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(to_luma_on_white(image))
}

#[cfg(test)]
mod tests {
    use crate::testkit::assert_centre;
    use crate::{decode, load_luma, DecodeError, DecodeOptions};

    const LZW: &[u8] = include_bytes!("../../../../fixtures/qr-lzw.tif");
    const ORIENTED: &[u8] = include_bytes!("../../../../fixtures/qr-orientation-6.tif");
    const TEXT: &str = include_str!("../../../../fixtures/qr-lzw.txt");

    /// 160 bytes declaring 100000 x 100000 grey pixels (`fixtures/README.md`).
    const BOMB: &[u8] = include_bytes!("../../../../fixtures/bomb-100000x100000.tif");

    #[test]
    fn a_tiff_written_by_pillow_is_read() {
        let codes = decode(LZW, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, TEXT);
    }

    #[test]
    fn a_tiffs_orientation_is_applied_so_corners_are_where_a_viewer_shows_them() {
        // Stored 132 x 172, orientation 6 (turn 90° clockwise to view): the code is the left
        // 132 x 132 of the 172 x 132 picture.
        let grey = load_luma(ORIENTED, &DecodeOptions::default()).unwrap();
        assert_eq!(grey.dimensions(), (172, 132));
        let codes = decode(ORIENTED, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, TEXT);
        assert_centre(&codes[0].points, [66.0, 66.0]);
    }

    #[test]
    fn a_tiff_bomb_is_refused_from_its_header() {
        let started = std::time::Instant::now();
        let refused = load_luma(BOMB, &DecodeOptions::default());
        assert!(
            matches!(refused, Err(DecodeError::TooManyPixels { .. })),
            "{refused:?}"
        );
        // Past the pixel limit, its frame and grey are counted against the memory cap before
        // any pixel is decoded.
        let no_pixel_limit = DecodeOptions {
            max_pixels: u64::MAX,
            ..DecodeOptions::default()
        };
        let refused = load_luma(BOMB, &no_pixel_limit);
        assert!(
            matches!(refused, Err(DecodeError::TooMuchMemory { needed: Some(n), .. }) if n == 2 * 10_000_000_000),
            "{refused:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_truncated_tiff_is_not_an_image() {
        for cut in [8, LZW.len() / 2, LZW.len() - 10] {
            let refused = load_luma(&LZW[..cut], &DecodeOptions::default());
            assert!(
                matches!(refused, Err(DecodeError::NotAnImage(_))),
                "{cut}: {refused:?}"
            );
        }
    }
}
