//! Image bytes -> one grey image: sniff the format from the bytes, check the pixel count and the
//! shape from the header before any pixel is decoded, decode under `image::Limits` (or libwebp,
//! or zune-jpeg directly, or the png crate a row at a time), and composite transparency onto
//! white. One file per format family: `png` (and `packed_png` for 1-, 2- and 4-bit grey),
//! `jpeg`, `webp`, `heif` (HEIC through heifer, AVIF through rav1d in `av1`), `jxl` (jxl-oxide),
//! `svg` (rendered by resvg); GIF, BMP and TIFF go through `image` (`via_image`). `pixel` holds the colour-to-grey rules they share.
//!
//! The shape is checked because a cost per row or column is paid whatever the pixel count: a
//! 1 x 40,000,000 PNG is within the pixel limit, yet spent 4.3 s and 354 MiB in the png crate's
//! row loop. An image whose short side is under `MIN_SIDE` cannot hold any symbol we read, so it
//! answers "no code" at once; one whose long side is over `MAX_ASPECT_RATIO` times its short side
//! is refused with the pixel limit's error.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, ImageReader};

mod av1;
mod heif;
mod jpeg;
mod jxl;
mod packed_png;
mod pixel;
mod png;
mod svg;
mod via_image;
mod webp;

use self::jpeg::load_jpeg;
pub(crate) use self::pixel::luma;
use self::webp::load_webp;
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// The formats API.md section 6 accepts, as far as this crate reads them.
const ACCEPTED_FORMATS: [ImageFormat; 6] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Gif,
    ImageFormat::WebP,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
];

/// The shortest side that can hold a symbol: an rMQR code is 7 modules tall (R7x43 to R7x139)
/// and a module takes at least a pixel. QR Code needs 21 and Micro QR 11, but the rule does
/// not depend on `--formats`: it says what no image can hold, not what was looked for.
pub const MIN_SIDE: u32 = 7;

/// How many times its short side an image's long side may be. No photo in the zxing-cpp and
/// BoofCV corpora goes past 2.7:1; the most elongated images there are generated (an R17x139
/// rMQR at 6.8:1, a strip of EAN-8 codes at 37:1), and an R7x139 rMQR without its quiet zone
/// is 20:1. A phone's scrolling screenshot 1080 pixels wide reaches 34:1 at the default
/// `--max-pixels`, 720 wide 77:1: 100 keeps all of them and bounds the rows (or columns) of an
/// image at the pixel limit to 63,200.
pub const MAX_ASPECT_RATIO: u32 = 100;

/// Sniffs the format of `bytes`; `None` when it is not one we decode.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| ACCEPTED_FORMATS.contains(f))
}

/// Decodes the image under the limits and returns it as 8-bit grey, transparency on white.
pub fn load_luma(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let Some(format) = sniff_format(bytes) else {
        if heif::is_heif(bytes) {
            return heif::load(bytes, options);
        }
        if jxl::is_jxl(bytes) {
            return jxl::load(bytes, options);
        }
        if svg::is_svg(bytes) {
            return svg::load(bytes, options);
        }
        return Err(DecodeError::NotAnImage(
            "the format is not PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC, AVIF, JPEG XL or SVG".into(),
        ));
    };
    let (width, height) = header_dimensions(bytes, format)?;
    check_header(width, height, options.max_pixels)?;
    if format == ImageFormat::WebP {
        if let Some(grey) = load_webp(bytes, width, height, options) {
            return grey;
        }
    }
    if format == ImageFormat::Jpeg {
        if let Some(grey) = load_jpeg(bytes, width, height, options) {
            return grey;
        }
    }
    if format == ImageFormat::Png {
        if let Some(grey) = packed_png::load(bytes, options) {
            return grey;
        }
        return png::load(bytes, options);
    }
    via_image::load(bytes, format, width, height, options)
}

/// The width and height the image's header declares. A PNG's come from its IHDR chunk alone:
/// `image`'s reader reads every chunk before the pixels and sizes a row first, under its own
/// limits, so a 2147483647x1 PNG failed there ("Memory limit exceeded", 1007) before the checks
/// below could answer it.
fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), DecodeError> {
    if format == ImageFormat::Png {
        return png::dimensions(bytes);
    }
    // No header of these formats holds compressed metadata (JPEG's ICC and Exif segments,
    // WebP's chunks and GIF's extensions are stored as they are): what `image` reads of it is
    // bounded by the bytes.
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| DecodeError::NotAnImage(format!("{e}")))
}

/// Refuses, from the header, shapes that cannot hold a code, images over the pixel limit, and
/// shapes no real image has (the module doc says why). A side under `MIN_SIDE` answers "no
/// code" first, whatever the pixel count: it is true of any such image, and API.md promises it.
pub(crate) fn check_header(width: u32, height: u32, max_pixels: u64) -> Result<(), DecodeError> {
    let (short, long) = (width.min(height), width.max(height));
    if short < MIN_SIDE {
        return Err(DecodeError::NoCode);
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    if u64::from(long) > u64::from(short) * u64::from(MAX_ASPECT_RATIO) {
        return Err(DecodeError::TooElongated {
            width,
            height,
            max_ratio: MAX_ASPECT_RATIO,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::jpeg::{grey_in_place, jpeg_decoder_bytes};
    use super::pixel::{grey_from_rgb, grey_from_rgba, luma, to_luma_on_white};
    use super::webp::{webp_luma, webp_yuv_bytes};
    use super::*;
    use crate::decode;
    use crate::testkit::{png, qr_field, qr_rgba};
    use image::DynamicImage;

    /// A code on white as an opaque lossy WebP of `quality`, and its side in pixels.
    fn lossy_qr_webp(text: &str, quality: f32) -> (Vec<u8>, u32) {
        let (rgba, side) = qr_rgba(text, [255, 255, 255, 255]);
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let bytes = ::webp::Encoder::from_rgb(&rgb, side, side).encode(quality);
        (bytes.to_vec(), side)
    }

    #[test]
    fn lossy_and_transparent_webp_codes_are_read() {
        let (lossy, _) = lossy_qr_webp("https://example.com/webp", 80.0);
        let codes = decode(&lossy, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/webp");

        // Black modules on a transparent background: readable only once put on white.
        let (clear, side) = qr_rgba("transparent webp", [0, 0, 0, 0]);
        let lossless = ::webp::Encoder::from_rgba(&clear, side, side).encode_lossless();
        let codes = decode(&lossless, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "transparent webp");
    }

    #[test]
    fn a_corrupt_webp_is_not_an_image_and_its_frame_counts_against_the_memory_cap() {
        let (rgba, side) = qr_rgba("cut short", [255, 255, 255, 255]);
        let bytes = ::webp::Encoder::from_rgba(&rgba, side, side).encode_lossless();
        let err = decode(&bytes[..bytes.len() / 2], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)), "{err:?}");

        let frame = u64::from(side) * u64::from(side) * 4;
        assert_frame_is_capped_at(&bytes, frame, "cut short");
    }

    /// `bytes` are refused one byte under a decoder memory cap of `frame` and read at it.
    fn assert_frame_is_capped_at(bytes: &[u8], frame: u64, text: &str) {
        let capped = DecodeOptions {
            max_decoder_bytes: frame - 1,
            ..DecodeOptions::default()
        };
        let err = decode(bytes, &capped).unwrap_err();
        assert!(matches!(err, DecodeError::TooMuchMemory { .. }), "{err:?}");
        let at_cap = DecodeOptions {
            max_decoder_bytes: frame,
            ..DecodeOptions::default()
        };
        assert_eq!(decode(bytes, &at_cap).unwrap()[0].content.text, text);
    }

    /// Two greys of one image differ by under a level on average and by 3 at most: the
    /// rounding of two conversions.
    fn assert_nearly_equal(ours: &GrayImage, reference: &GrayImage) {
        let differences: Vec<i32> = ours
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .collect();
        let mean = differences.iter().sum::<i32>() as f32 / differences.len() as f32;
        let largest = differences.iter().copied().max().unwrap();
        assert!(
            mean < 1.0 && largest <= 3,
            "mean difference {mean}, largest {largest}"
        );
    }

    #[test]
    fn lossy_webp_is_read_as_its_luma_plane_with_the_grey_of_an_rgb_decode() {
        // A grey ramp: every level. (On colour the two greys differ by design: the Y plane
        // weighs red, green and blue as Rec. 601 does, `luma` as Rec. 709.)
        let (width, height) = (256u32, 64u32);
        let rgb: Vec<u8> = (0..height)
            .flat_map(|_| (0..width).flat_map(|x| [x as u8; 3]))
            .collect();
        let bytes = ::webp::Encoder::from_rgb(&rgb, width, height).encode(90.0);
        let grey = webp_luma(&bytes, width, height, false).unwrap();
        let decoded = ::webp::Decoder::new(&bytes).decode().unwrap();
        let from_rgb = grey_from_rgb(&decoded, width, height);
        assert_nearly_equal(&grey, &from_rgb);
        // Black stays black and white white: the studio range is stretched to the full one.
        let darkest = *grey.as_raw().iter().min().unwrap();
        let lightest = *grey.as_raw().iter().max().unwrap();
        assert!(darkest <= 2 && lightest >= 250, "{darkest}..{lightest}");
        assert!(webp_luma(&bytes[..bytes.len() / 2], width, height, false).is_none());
    }

    #[test]
    fn lossy_webp_with_alpha_is_its_luma_plane_put_on_white_as_an_rgba_decode_puts_it() {
        // Grey levels across, opacity down: every mix of the two.
        let (width, height) = (256u32, 64u32);
        let rgba: Vec<u8> = (0..height)
            .flat_map(|y| (0..width).flat_map(move |x| [x as u8, x as u8, x as u8, (y * 4) as u8]))
            .collect();
        let bytes = ::webp::Encoder::from_rgba(&rgba, width, height).encode(90.0);
        let features = ::webp::BitstreamFeatures::new(&bytes).unwrap();
        assert!(features.has_alpha());
        let grey = webp_luma(&bytes, width, height, true).unwrap();
        let decoded = ::webp::Decoder::new(&bytes).decode().unwrap();
        let from_rgba = grey_from_rgba(&decoded, width, height);
        assert_nearly_equal(&grey, &from_rgba);
        // The transparent top row is white whatever its grey.
        assert!(grey.as_raw()[..width as usize].iter().all(|&v| v >= 253));
        assert!(webp_luma(&bytes[..bytes.len() / 2], width, height, true).is_none());

        // A black-on-transparent code, lossy: read, and its four planes count against the cap.
        let (clear, side) = qr_rgba("lossy transparent", [0, 0, 0, 0]);
        let lossy = ::webp::Encoder::from_rgba(&clear, side, side).encode(90.0);
        let frame = webp_yuv_bytes(side, side) + u64::from(side * side);
        assert_frame_is_capped_at(&lossy, frame, "lossy transparent");
    }

    #[test]
    fn a_lossy_webp_frame_counts_its_three_planes_against_the_memory_cap() {
        let (bytes, side) = lossy_qr_webp("lossy under a cap", 90.0);
        let frame = webp_yuv_bytes(side, side);
        assert_eq!(
            frame,
            u64::from(side * side) + 2 * u64::from(side.div_ceil(2)).pow(2)
        );
        assert_frame_is_capped_at(&bytes, frame, "lossy under a cap");
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

    /// A real 1x1 grey PNG whose header is rewritten to claim `width` x `height`: past the
    /// header checks, decoding its pixels fails, so an answer other than `NotAnImage` was given
    /// from the header alone.
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(&DynamicImage::new_luma8(1, 1));
        // IHDR's data follows the 8-byte signature and the chunk's length and type.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn an_image_thinner_than_the_smallest_symbol_has_no_code_without_decoding_its_pixels() {
        let options = DecodeOptions::default();
        let widest = i32::MAX as u32;
        for (width, height) in [
            (1, 40_000_000),
            (40_000_000, 1),
            (2, 20_000_000),
            (6, 600),
            (widest, 1),
            (1, widest),
            (6, widest),
        ] {
            let bytes = png_claiming(width, height);
            let answer = decode(&bytes, &options);
            assert_eq!(answer.unwrap_err(), DecodeError::NoCode, "{width}x{height}");
        }
        // At the smallest side the pixels are decoded (and this body has none).
        let answer = decode(&png_claiming(MIN_SIDE, 600), &options);
        assert!(
            matches!(answer, Err(DecodeError::NotAnImage(_))),
            "{answer:?}"
        );
    }

    #[test]
    fn an_image_longer_than_the_ratio_allows_is_refused_from_its_header() {
        let options = DecodeOptions::default();
        let over = MIN_SIDE * MAX_ASPECT_RATIO + 1;
        for (width, height) in [
            (MIN_SIDE, over),
            (over, MIN_SIDE),
            (632, 63_201),
            (100, 400_000),
        ] {
            let answer = decode(&png_claiming(width, height), &options);
            assert_eq!(
                answer.unwrap_err(),
                DecodeError::TooElongated {
                    width,
                    height,
                    max_ratio: MAX_ASPECT_RATIO
                }
            );
        }
        // The pixel limit is checked first; both are 1006 to a client.
        let answer = decode(&png_claiming(7, 40_000_000), &options);
        assert!(
            matches!(answer, Err(DecodeError::TooManyPixels { .. })),
            "{answer:?}"
        );
        // At the ratio, the pixels are decoded.
        for (width, height) in [(MIN_SIDE, MIN_SIDE * MAX_ASPECT_RATIO), (63_200, 632)] {
            let answer = decode(&png_claiming(width, height), &options);
            assert!(
                matches!(answer, Err(DecodeError::NotAnImage(_))),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn a_code_in_a_wide_banner_or_a_long_screenshot_is_still_read() {
        let code = qr_field("https://example.com/banner", 4, 1);
        let side = code.width();
        // 20:1 either way, the code near one end.
        let wide = GrayImage::from_fn(side * 20, side, |x, y| {
            *code
                .get_pixel_checked(x.wrapping_sub(side), y)
                .unwrap_or(&image::Luma([255]))
        });
        let tall = image::imageops::rotate90(&wide);
        for banner in [wide, tall] {
            let bytes = png(&DynamicImage::ImageLuma8(banner));
            let codes = decode(&bytes, &DecodeOptions::default()).unwrap();
            assert_eq!(codes[0].content.text, "https://example.com/banner");
        }
    }

    #[test]
    fn baseline_and_progressive_colour_jpegs_are_read() {
        // fixtures/README.md: a colour 4:2:0 progressive JPEG; image's encoder writes baseline.
        let progressive = include_bytes!("../../../../fixtures/progressive.jpg");
        let expected = include_str!("../../../../fixtures/progressive.txt");
        let codes = decode(progressive, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, expected);

        let (rgba, side) = qr_rgba("https://example.com/baseline", [255, 255, 255, 255]);
        let colour = image::RgbaImage::from_raw(side, side, rgba).unwrap();
        let mut baseline = Vec::new();
        DynamicImage::ImageRgba8(colour)
            .to_rgb8()
            .write_to(&mut Cursor::new(&mut baseline), ImageFormat::Jpeg)
            .unwrap();
        let grey = load_luma(&baseline, &DecodeOptions::default()).unwrap();
        assert_eq!(grey.dimensions(), (side, side));
        let codes = decode(&baseline, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/baseline");
    }

    #[test]
    fn a_progressive_jpegs_coefficients_count_against_the_memory_cap() {
        let progressive = include_bytes!("../../../../fixtures/progressive.jpg");
        // 429 x 429, three components, padded to 432 x 432 blocks of coefficients; the frame
        // is the Y plane alone, a byte a pixel.
        let needed = 429 * 429 + 432 * 432 * 3 * 2;
        assert_eq!(jpeg_decoder_bytes(429, 429, 1, 3, true), needed);
        assert_eq!(jpeg_decoder_bytes(429, 429, 1, 1, false), 429 * 429);
        let capped = DecodeOptions {
            max_decoder_bytes: needed - 1,
            ..DecodeOptions::default()
        };
        let err = decode(progressive, &capped).unwrap_err();
        assert!(matches!(err, DecodeError::TooMuchMemory { .. }), "{err:?}");
        let at_cap = DecodeOptions {
            max_decoder_bytes: needed,
            ..DecodeOptions::default()
        };
        assert!(decode(progressive, &at_cap).is_ok());
    }

    #[test]
    fn a_truncated_jpeg_is_not_an_image() {
        let progressive = include_bytes!("../../../../fixtures/progressive.jpg");
        let err = load_luma(&progressive[..200], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)), "{err:?}");
    }

    #[test]
    fn grey_in_place_is_the_grey_of_each_rgb_pixel() {
        let rgb = vec![255, 255, 255, 0, 0, 0, 255, 0, 0, 10, 200, 30];
        let expected: Vec<u8> = rgb
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]) as u8)
            .collect();
        assert_eq!(grey_in_place(rgb), expected);
        assert_eq!(expected[..3], [255, 0, 54]);
    }

    #[test]
    fn transparency_is_composited_onto_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let grey = to_luma_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(grey.as_raw(), &vec![255, 0]);
    }
}
