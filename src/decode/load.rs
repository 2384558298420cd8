//! Image bytes -> one grey image: sniff the format from the bytes, check the pixel count from the
//! header before any pixel is decoded, decode under `image::Limits` (or libwebp, or our own
//! expansion of packed grey PNGs), and composite transparency onto white.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};

use super::{packed_png, DecodeError, DecodeOptions};

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
    if format == ImageFormat::WebP {
        if let Some(grey) = load_webp(bytes, width, height, options) {
            return grey;
        }
    }
    if format == ImageFormat::Png {
        if let Some(grey) = packed_png::load(bytes, options.max_decoder_bytes) {
            return grey;
        }
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

/// Still WebP images through libwebp, which decodes them three to four times faster than the
/// pure-Rust decoder `image` uses (WebP is most of the corpus, and its loading was most of the
/// time). `None` for animated files, which are left to `image` (it reads their first frame).
fn load_webp(
    bytes: &[u8],
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> Option<Result<GrayImage, DecodeError>> {
    let features = webp::BitstreamFeatures::new(bytes)?;
    if features.has_animation() {
        return None;
    }
    // libwebp allocates the whole RGBA frame at once: check it against the decoder's memory cap.
    if u64::from(width) * u64::from(height) * 4 > options.max_decoder_bytes {
        return Some(Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        }));
    }
    let Some(decoded) = webp::Decoder::new(bytes).decode() else {
        return Some(Err(DecodeError::NotAnImage(
            "the WebP data is corrupt".into(),
        )));
    };
    let (width, height) = (decoded.width(), decoded.height());
    Some(Ok(if decoded.is_alpha() {
        grey_from_rgba(&decoded, width, height)
    } else {
        grey_from_rgb(&decoded, width, height)
    }))
}

/// Grey conversion that puts transparent pixels on white, so black-on-transparent codes stay dark-on-light.
fn to_luma_on_white(image: DynamicImage) -> GrayImage {
    let (width, height) = (image.width(), image.height());
    match image {
        DynamicImage::ImageLuma8(grey) => grey,
        DynamicImage::ImageRgb8(rgb) => grey_from_rgb(rgb.as_raw(), width, height),
        DynamicImage::ImageRgba8(rgba) => grey_from_rgba(rgba.as_raw(), width, height),
        image if !image.color().has_alpha() => image.into_luma8(),
        image => {
            let with_alpha = image.into_luma_alpha8();
            GrayImage::from_fn(width, height, |x, y| {
                let [luma, alpha] = with_alpha.get_pixel(x, y).0;
                image::Luma([on_white(u32::from(luma), u32::from(alpha))])
            })
        }
    }
}

/// Rec. 709 luma, the coefficients `image` uses, in integers: `image`'s own conversion goes
/// through floats and rounding and cost more than the detection of a clean code.
fn luma(r: u8, g: u8, b: u8) -> u32 {
    (u32::from(r) * 2126 + u32::from(g) * 7152 + u32::from(b) * 722) / 10_000
}

fn on_white(luma: u32, alpha: u32) -> u8 {
    ((luma * alpha + 255 * (255 - alpha)) / 255) as u8
}

fn grey_from_rgb(raw: &[u8], width: u32, height: u32) -> GrayImage {
    let grey = raw
        .chunks_exact(3)
        .map(|p| luma(p[0], p[1], p[2]) as u8)
        .collect();
    GrayImage::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}

fn grey_from_rgba(raw: &[u8], width: u32, height: u32) -> GrayImage {
    let grey = raw
        .chunks_exact(4)
        .map(|p| on_white(luma(p[0], p[1], p[2]), u32::from(p[3])))
        .collect();
    GrayImage::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::super::testkit::{png, qr_rgba};
    use super::*;

    #[test]
    fn lossy_and_transparent_webp_codes_are_read() {
        let (opaque, side) = qr_rgba("https://example.com/webp", [255, 255, 255, 255]);
        let rgb: Vec<u8> = opaque
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let lossy = webp::Encoder::from_rgb(&rgb, side, side).encode(80.0);
        let codes = decode(&lossy, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/webp");

        // Black modules on a transparent background: readable only once put on white.
        let (clear, side) = qr_rgba("transparent webp", [0, 0, 0, 0]);
        let lossless = webp::Encoder::from_rgba(&clear, side, side).encode_lossless();
        let codes = decode(&lossless, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "transparent webp");
    }

    #[test]
    fn a_corrupt_webp_is_not_an_image_and_its_frame_counts_against_the_memory_cap() {
        let (rgba, side) = qr_rgba("cut short", [255, 255, 255, 255]);
        let bytes = webp::Encoder::from_rgba(&rgba, side, side).encode_lossless();
        let err = decode(&bytes[..bytes.len() / 2], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)), "{err:?}");

        let frame = u64::from(side) * u64::from(side) * 4;
        let capped = DecodeOptions {
            max_decoder_bytes: frame - 1,
            ..DecodeOptions::default()
        };
        let err = decode(&bytes, &capped).unwrap_err();
        assert!(matches!(err, DecodeError::TooManyPixels { .. }), "{err:?}");
        let at_cap = DecodeOptions {
            max_decoder_bytes: frame,
            ..DecodeOptions::default()
        };
        assert_eq!(
            decode(&bytes, &at_cap).unwrap()[0].content.text,
            "cut short"
        );
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
}
