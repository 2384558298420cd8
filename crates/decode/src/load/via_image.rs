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

    /// A little-endian TIFF whose one IFD declares `width` x `height` grey pixels and whose one
    /// strip is 8 bytes: what a decompression bomb looks like from its header.
    fn tiff_claiming(width: u32, height: u32) -> Vec<u8> {
        let entries: [(u16, u16, u32); 8] = [
            (256, 4, width),              // ImageWidth, LONG
            (257, 4, height),             // ImageLength
            (258, 3, 8),                  // BitsPerSample
            (259, 3, 1),                  // Compression: none
            (262, 3, 1),                  // Photometric: black is zero
            (273, 4, 8 + 2 + 8 * 12 + 4), // StripOffsets: just past the IFD
            (278, 4, height),             // RowsPerStrip
            (279, 4, 8),                  // StripByteCounts
        ];
        let mut bytes = b"II*\0".to_vec();
        bytes.extend(8u32.to_le_bytes());
        bytes.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            bytes.extend(tag.to_le_bytes());
            bytes.extend(kind.to_le_bytes());
            bytes.extend(1u32.to_le_bytes());
            if kind == 3 {
                bytes.extend((value as u16).to_le_bytes());
                bytes.extend([0, 0]);
            } else {
                bytes.extend(value.to_le_bytes());
            }
        }
        bytes.extend(0u32.to_le_bytes());
        bytes.extend([0u8; 8]);
        bytes
    }

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
        let bomb = tiff_claiming(100_000, 100_000);
        assert!(bomb.len() < 200);
        let started = std::time::Instant::now();
        let refused = load_luma(&bomb, &DecodeOptions::default());
        assert!(
            matches!(refused, Err(DecodeError::TooManyPixels { .. })),
            "{refused:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Within the pixel limit, its frame is counted against the memory cap before decoding.
        let small_cap = DecodeOptions {
            max_decoder_bytes: 1 << 20,
            ..DecodeOptions::default()
        };
        let refused = load_luma(&tiff_claiming(4000, 4000), &small_cap);
        assert!(
            matches!(refused, Err(DecodeError::TooMuchMemory { needed: Some(n), .. }) if n == 2 * 16_000_000),
            "{refused:?}"
        );
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
