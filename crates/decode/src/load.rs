//! Image bytes -> one grey image: sniff the format from the bytes, check the pixel count and the
//! shape from the header before any pixel is decoded, decode under `image::Limits` (or libwebp,
//! or zune-jpeg directly, or the png crate a row at a time), and composite transparency onto
//! white.
//!
//! The shape is checked because a cost per row or column is paid whatever the pixel count: a
//! 1 x 40,000,000 PNG is within the pixel limit, yet spent 4.3 s and 354 MiB in the png crate's
//! row loop. An image whose short side is under `MIN_SIDE` cannot hold any symbol we read, so it
//! answers "no code" at once; one whose long side is over `MAX_ASPECT_RATIO` times its short side
//! is refused with the pixel limit's error.

use std::ffi::c_int;
use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};

use super::{packed_png, png_rows, DecodeError, DecodeOptions};

/// The formats API.md section 6 accepts.
const ACCEPTED_FORMATS: [ImageFormat; 5] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Gif,
    ImageFormat::WebP,
    ImageFormat::Bmp,
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
    let format = sniff_format(bytes).ok_or_else(|| {
        DecodeError::NotAnImage("the format is not PNG, JPEG, GIF, WebP or BMP".into())
    })?;
    let corrupt = |e: image::ImageError| DecodeError::NotAnImage(format!("{e}"));
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
        return png_rows::load(bytes, options);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(options.max_decoder_bytes);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        // The width and height limits are the header's own: only the allocation cap is left.
        image::ImageError::Limits(_) => DecodeError::TooMuchMemory {
            width,
            height,
            needed: None,
            limit: options.max_decoder_bytes,
        },
        other => corrupt(other),
    })?;
    Ok(to_luma_on_white(image))
}

/// The width and height the image's header declares. A PNG's come from its IHDR chunk alone:
/// `image`'s reader reads every chunk before the pixels and sizes a row first, under its own
/// limits, so a 2147483647x1 PNG failed there ("Memory limit exceeded", 1007) before the checks
/// below could answer it.
fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), DecodeError> {
    if format == ImageFormat::Png {
        return png_rows::dimensions(bytes);
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
fn check_header(width: u32, height: u32, max_pixels: u64) -> Result<(), DecodeError> {
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

/// YCbCr, RGB and grey JPEGs through zune-jpeg (the decoder `image` wraps): the Y plane of a
/// YCbCr one, a byte a pixel, and an RGB one's frame turned to grey in its own buffer (through
/// `image` the RGB frame and its grey copy were both held). `None` for CMYK and YCCK, left to
/// `image`.
fn load_jpeg(
    bytes: &[u8],
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> Option<Result<GrayImage, DecodeError>> {
    use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options};
    let corrupt = |e: zune_jpeg::errors::DecodeErrors| DecodeError::NotAnImage(format!("{e}"));
    let zune_options = options::DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(width as usize)
        .set_max_height(height as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), zune_options);
    if let Err(e) = decoder.decode_headers() {
        return Some(Err(corrupt(e)));
    }
    let info = decoder.info()?;
    // A YCbCr JPEG's grey is its Y plane: decoded alone, its chroma is neither upsampled nor
    // colour-converted nor held (a third of the frame's memory and of the decode time). Y is
    // Rec. 601 luma, what zxing-cpp converts colour to; only RGB JPEGs go through `luma`.
    let out = match decoder.input_colorspace()? {
        ColorSpace::RGB => ColorSpace::RGB,
        ColorSpace::YCbCr | ColorSpace::Luma => ColorSpace::Luma,
        _ => return None,
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let progressive = !info.sof.is_sequential_dct();
    let needed = jpeg_decoder_bytes(
        width,
        height,
        out.num_components(),
        info.components,
        progressive,
    );
    if let Err(refused) = options.memory_for(width, height, needed) {
        return Some(Err(refused));
    }
    let frame = match decoder.decode() {
        Ok(frame) => frame,
        Err(e) => return Some(Err(corrupt(e))),
    };
    let grey = if out == ColorSpace::RGB {
        grey_in_place(frame)
    } else {
        frame
    };
    let image = GrayImage::from_raw(width, height, grey);
    Some(image.ok_or_else(|| DecodeError::NotAnImage("the JPEG frame is short".into())))
}

/// RGB pixels to grey in the same buffer, then the buffer shrunk to the grey: pixel `i`'s grey
/// is written at `i`, never past `3 * i`, the first byte of the pixel still to be read. A
/// frame this large is its own memory mapping, so shrinking it hands the rest back at once.
fn grey_in_place(mut rgb: Vec<u8>) -> Vec<u8> {
    let pixels = rgb.len() / 3;
    for i in 0..pixels {
        let p = 3 * i;
        rgb[i] = luma(rgb[p], rgb[p + 1], rgb[p + 2]) as u8;
    }
    rgb.truncate(pixels);
    rgb.shrink_to_fit();
    rgb
}

/// What zune-jpeg holds at its peak while decoding a JPEG, an upper bound: the output frame
/// (`channels` bytes a pixel), and for a progressive JPEG every component's DCT coefficients
/// until the last scan (two bytes each, a coefficient a pixel at full resolution; chroma
/// subsampling makes it less). A baseline JPEG decodes a row of blocks at a time.
fn jpeg_decoder_bytes(
    width: u32,
    height: u32,
    channels: usize,
    components: u8,
    progressive: bool,
) -> u64 {
    let padded = |side: u32| u64::from(side.div_ceil(16) * 16);
    let frame = u64::from(width) * u64::from(height) * channels as u64;
    let coefficients = if progressive {
        padded(width) * padded(height) * u64::from(components) * 2
    } else {
        0
    };
    frame + coefficients
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
    let lossy = matches!(features.format(), Some(webp::BitstreamFormat::Lossy));
    // The frame libwebp writes is allocated whole: check it against the decoder's memory cap.
    let frame_bytes = match (lossy, features.has_alpha()) {
        (true, false) => webp_yuv_bytes(width, height),
        (true, true) => webp_yuv_bytes(width, height) + u64::from(width) * u64::from(height),
        (false, _) => u64::from(width) * u64::from(height) * 4,
    };
    if let Err(refused) = options.memory_for(width, height, frame_bytes) {
        return Some(Err(refused));
    }
    if lossy {
        return Some(
            webp_luma(
                bytes,
                features.width(),
                features.height(),
                features.has_alpha(),
            )
            .ok_or_else(|| DecodeError::NotAnImage("the WebP data is corrupt".into())),
        );
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

/// The Y, U and V planes of a 4:2:0 frame: what `webp_luma` holds.
fn webp_yuv_bytes(width: u32, height: u32) -> u64 {
    let chroma = u64::from(width.div_ceil(2)) * u64::from(height.div_ceil(2));
    u64::from(width) * u64::from(height) + 2 * chroma
}

/// Lossy WebP is YUV 4:2:0 inside, and its Y plane is the grey image: libwebp writes it
/// straight into the grey frame, skipping the chroma upsampling, the RGB conversion and the
/// RGB frame (a third of its decoding time, and 3 bytes a pixel). With `alpha`, libwebp also
/// writes the alpha plane, and transparent pixels go on white as in an RGBA decode. `None`
/// when libwebp refuses the data. `width` and `height` are the bitstream's, as libwebp read
/// them.
fn webp_luma(bytes: &[u8], width: u32, height: u32, alpha: bool) -> Option<GrayImage> {
    let (luma_stride, chroma_stride) = (width as usize, width.div_ceil(2) as usize);
    let mut luma = vec![0u8; luma_stride * height as usize];
    let mut u = vec![0u8; chroma_stride * height.div_ceil(2) as usize];
    let mut v = vec![0u8; u.len()];
    let mut opacity = vec![0u8; if alpha { luma.len() } else { 0 }];
    let mut config = libwebp_sys::WebPDecoderConfig::new().ok()?;
    config.output.colorspace = if alpha {
        libwebp_sys::WEBP_CSP_MODE::MODE_YUVA
    } else {
        libwebp_sys::WEBP_CSP_MODE::MODE_YUV
    };
    config.output.is_external_memory = 1;
    config.output.u.YUVA = libwebp_sys::WebPYUVABuffer {
        y: luma.as_mut_ptr(),
        u: u.as_mut_ptr(),
        v: v.as_mut_ptr(),
        a: if alpha {
            opacity.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        },
        y_stride: c_int::try_from(luma_stride).ok()?,
        u_stride: c_int::try_from(chroma_stride).ok()?,
        v_stride: c_int::try_from(chroma_stride).ok()?,
        a_stride: if alpha {
            c_int::try_from(luma_stride).ok()?
        } else {
            0
        },
        y_size: luma.len(),
        u_size: u.len(),
        v_size: v.len(),
        a_size: opacity.len(),
    };
    // SAFETY: each plane's pointer comes with its buffer's length, and each stride times the
    // rows libwebp writes fits in it (libwebp checks that too, against the bitstream's size,
    // before it writes). The memory is ours (`is_external_memory`), so libwebp frees nothing,
    // and it keeps no pointer to the planes or to `bytes` after it returns.
    let status = unsafe { libwebp_sys::WebPDecode(bytes.as_ptr(), bytes.len(), &mut config) };
    if status != libwebp_sys::VP8StatusCode::VP8_STATUS_OK {
        return None;
    }
    // VP8's luma is studio range, 16 (black) to 235 (white), as libwebp's own RGB conversion
    // reads it: stretched to 0-255 it is the grey an RGB decode would give.
    let full_range: [u8; 256] =
        std::array::from_fn(|y| ((y.saturating_sub(16) * 255 + 219 / 2) / 219).min(255) as u8);
    luma.iter_mut()
        .for_each(|y| *y = full_range[usize::from(*y)]);
    for (y, &a) in luma.iter_mut().zip(&opacity) {
        *y = on_white(u32::from(*y), u32::from(a));
    }
    GrayImage::from_raw(width, height, luma)
}

/// Grey conversion that puts transparent pixels on white, so black-on-transparent codes stay dark-on-light.
pub(super) fn to_luma_on_white(image: DynamicImage) -> GrayImage {
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
pub(super) fn luma(r: u8, g: u8, b: u8) -> u32 {
    (u32::from(r) * 2126 + u32::from(g) * 7152 + u32::from(b) * 722) / 10_000
}

pub(super) fn on_white(luma: u32, alpha: u32) -> u8 {
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
    use super::super::testkit::{png, qr_field, qr_rgba};
    use super::*;

    /// A code on white as an opaque lossy WebP of `quality`, and its side in pixels.
    fn lossy_qr_webp(text: &str, quality: f32) -> (Vec<u8>, u32) {
        let (rgba, side) = qr_rgba(text, [255, 255, 255, 255]);
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let bytes = webp::Encoder::from_rgb(&rgb, side, side).encode(quality);
        (bytes.to_vec(), side)
    }

    #[test]
    fn lossy_and_transparent_webp_codes_are_read() {
        let (lossy, _) = lossy_qr_webp("https://example.com/webp", 80.0);
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
        let bytes = webp::Encoder::from_rgb(&rgb, width, height).encode(90.0);
        let grey = webp_luma(&bytes, width, height, false).unwrap();
        let decoded = webp::Decoder::new(&bytes).decode().unwrap();
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
        let bytes = webp::Encoder::from_rgba(&rgba, width, height).encode(90.0);
        let features = webp::BitstreamFeatures::new(&bytes).unwrap();
        assert!(features.has_alpha());
        let grey = webp_luma(&bytes, width, height, true).unwrap();
        let decoded = webp::Decoder::new(&bytes).decode().unwrap();
        let from_rgba = grey_from_rgba(&decoded, width, height);
        assert_nearly_equal(&grey, &from_rgba);
        // The transparent top row is white whatever its grey.
        assert!(grey.as_raw()[..width as usize].iter().all(|&v| v >= 253));
        assert!(webp_luma(&bytes[..bytes.len() / 2], width, height, true).is_none());

        // A black-on-transparent code, lossy: read, and its four planes count against the cap.
        let (clear, side) = qr_rgba("lossy transparent", [0, 0, 0, 0]);
        let lossy = webp::Encoder::from_rgba(&clear, side, side).encode(90.0);
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
        let progressive = include_bytes!("../../../fixtures/progressive.jpg");
        let expected = include_str!("../../../fixtures/progressive.txt");
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
        let progressive = include_bytes!("../../../fixtures/progressive.jpg");
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
        let progressive = include_bytes!("../../../fixtures/progressive.jpg");
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
