//! Colour to grey, the rules every loader shares: Rec. 709 luma in integers, and transparent
//! pixels composited onto white, so black-on-transparent codes stay dark-on-light.

use image::{DynamicImage, GrayImage};

/// Grey conversion that puts transparent pixels on white, so black-on-transparent codes stay dark-on-light.
pub(crate) fn to_luma_on_white(image: DynamicImage) -> GrayImage {
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
pub(crate) fn luma(r: u8, g: u8, b: u8) -> u32 {
    (u32::from(r) * 2126 + u32::from(g) * 7152 + u32::from(b) * 722) / 10_000
}

pub(super) fn on_white(luma: u32, alpha: u32) -> u8 {
    ((luma * alpha + 255 * (255 - alpha)) / 255) as u8
}

/// Studio-range luma (16 black, 235 white: VP8's, and most HEVC and AV1 pictures') stretched to
/// 0-255 in place, as the codecs' own RGB conversions read it: then it is the grey an RGB decode
/// would give. One lookup a sample.
pub(super) fn stretch_studio_range(luma: &mut [u8]) {
    let full_range: [u8; 256] =
        std::array::from_fn(|y| ((y.saturating_sub(16) * 255 + 219 / 2) / 219).min(255) as u8);
    luma.iter_mut()
        .for_each(|y| *y = full_range[usize::from(*y)]);
}

pub(super) fn grey_from_rgb(raw: &[u8], width: u32, height: u32) -> GrayImage {
    let grey = raw
        .chunks_exact(3)
        .map(|p| luma(p[0], p[1], p[2]) as u8)
        .collect();
    GrayImage::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}

pub(super) fn grey_from_rgba(raw: &[u8], width: u32, height: u32) -> GrayImage {
    let grey = raw
        .chunks_exact(4)
        .map(|p| on_white(luma(p[0], p[1], p[2]), u32::from(p[3])))
        .collect();
    GrayImage::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}
