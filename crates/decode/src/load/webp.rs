//! WebP through libwebp: a lossy frame's Y plane straight into the grey image; lossless and
//! transparent frames through libwebp's RGB(A) output.

use std::ffi::c_int;

use image::GrayImage;

use super::pixel::{grey_from_rgb, grey_from_rgba, on_white, stretch_studio_range};
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// Still WebP images through libwebp, which decodes them three to four times faster than the
/// pure-Rust decoder `image` uses (WebP is most of the corpus, and its loading was most of the
/// time). `None` for animated files, which are left to `image` (it reads their first frame).
pub(super) fn load_webp(
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
pub(super) fn webp_yuv_bytes(width: u32, height: u32) -> u64 {
    let chroma = u64::from(width.div_ceil(2)) * u64::from(height.div_ceil(2));
    u64::from(width) * u64::from(height) + 2 * chroma
}

/// Lossy WebP is YUV 4:2:0 inside, and its Y plane is the grey image: libwebp writes it
/// straight into the grey frame, skipping the chroma upsampling, the RGB conversion and the
/// RGB frame (a third of its decoding time, and 3 bytes a pixel). With `alpha`, libwebp also
/// writes the alpha plane, and transparent pixels go on white as in an RGBA decode. `None`
/// when libwebp refuses the data. `width` and `height` are the bitstream's, as libwebp read
/// them.
pub(super) fn webp_luma(bytes: &[u8], width: u32, height: u32, alpha: bool) -> Option<GrayImage> {
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
    stretch_studio_range(&mut luma);
    for (y, &a) in luma.iter_mut().zip(&opacity) {
        *y = on_white(u32::from(*y), u32::from(a));
    }
    GrayImage::from_raw(width, height, luma)
}
