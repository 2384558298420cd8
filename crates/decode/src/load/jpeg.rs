//! JPEG through zune-jpeg, the decoder `image` wraps, called directly: a YCbCr frame's Y plane is
//! the grey image, and an RGB frame turns grey in its own buffer.

use image::GrayImage;

use super::pixel::luma;
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// YCbCr, RGB and grey JPEGs through zune-jpeg (the decoder `image` wraps): the Y plane of a
/// YCbCr one, a byte a pixel, and an RGB one's frame turned to grey in its own buffer (through
/// `image` the RGB frame and its grey copy were both held). `None` for CMYK and YCCK, left to
/// `image`.
pub(super) fn load_jpeg(
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
pub(super) fn grey_in_place(mut rgb: Vec<u8>) -> Vec<u8> {
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
pub(super) fn jpeg_decoder_bytes(
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
