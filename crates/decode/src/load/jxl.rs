//! JPEG XL through jxl-oxide (pure Rust): the header's size (orientation applied) checked before
//! any frame is decoded, every allocation of the decoder counted by its tracker against
//! `--max-decode-memory`, the first frame rendered with orientation applied, alpha composited
//! onto white. No thread pool: one decode is one worker's.

use image::GrayImage;
use jxl_oxide::{AllocTracker, JxlImage, PixelFormat};

use super::check_header;
use super::pixel::{luma, on_white};
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// A bare JPEG XL codestream's signature, and the container's first box.
const CODESTREAM: [u8; 2] = [0xff, 0x0a];
const CONTAINER: [u8; 12] = [
    0, 0, 0, 0x0c, b'J', b'X', b'L', b' ', 0x0d, 0x0a, 0x87, 0x0a,
];

/// What a decode holds at its peak, a pixel, checked before rendering: jxl-oxide keeps 32-bit
/// planes (three for XYB, even for a grey image), coefficient buffers and the rendered copy. Peak
/// RSS of `qrscan scan --jobs 1` over its 10 MiB base, 12 MP lossy photos (2026-12-07): RGB 28.3,
/// grey 24.6 bytes a pixel. So at the default 512 MiB cap a JPEG XL is read up to about 18 MP.
const BYTES_PER_PIXEL: u64 = 29;

/// Whether the allocation tracker refused an allocation past the cap somewhere under `error`: its
/// `OutOfMemory` is wrapped by whichever stage asked (a buffer, a modular image, a frame).
fn refused_by_tracker(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<jxl_grid::OutOfMemory>())
}

/// Whether `bytes` start like a JPEG XL image.
pub(super) fn is_jxl(bytes: &[u8]) -> bool {
    bytes.starts_with(&CODESTREAM) || bytes.starts_with(&CONTAINER)
}

/// Decodes the first frame of the JPEG XL image in `bytes` to grey.
pub(super) fn load(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let corrupt = |e: Box<dyn std::error::Error + Send + Sync>| {
        DecodeError::NotAnImage(format!("JPEG XL: {e}"))
    };
    let limit = usize::try_from(options.max_decoder_bytes).unwrap_or(usize::MAX);
    let image = JxlImage::builder()
        .alloc_tracker(AllocTracker::with_limit(limit))
        .read(bytes)
        .map_err(corrupt)?;
    let (width, height) = (image.width(), image.height());
    check_header(width, height, options.max_pixels)?;
    let format = image.pixel_format();
    if matches!(format, PixelFormat::Cmyk | PixelFormat::Cmyka) {
        return Err(DecodeError::NotAnImage("JPEG XL: CMYK is not read".into()));
    }
    let pixels = u64::from(width) * u64::from(height);
    options.memory_for(width, height, pixels * BYTES_PER_PIXEL)?;
    if !image.is_loading_done() {
        return Err(DecodeError::NotAnImage(
            "JPEG XL: the file is truncated".into(),
        ));
    }
    let render = image.render_frame(0).map_err(|e| {
        if refused_by_tracker(e.as_ref()) {
            DecodeError::TooMuchMemory {
                width,
                height,
                needed: None,
                limit: options.max_decoder_bytes,
            }
        } else {
            corrupt(e)
        }
    })?;
    let mut stream = render.stream();
    let (out_width, out_height, out_channels) =
        (stream.width(), stream.height(), stream.channels() as usize);
    let mut samples = vec![0u8; out_width as usize * out_height as usize * out_channels];
    stream.write_to_buffer(&mut samples);
    let grey: Vec<u8> = match out_channels {
        1 => samples,
        2 => samples
            .chunks_exact(2)
            .map(|p| on_white(u32::from(p[0]), u32::from(p[1])))
            .collect(),
        3 => samples
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]) as u8)
            .collect(),
        4 => samples
            .chunks_exact(4)
            .map(|p| on_white(luma(p[0], p[1], p[2]), u32::from(p[3])))
            .collect(),
        other => {
            return Err(DecodeError::NotAnImage(format!(
                "JPEG XL: {other} channels"
            )))
        }
    };
    GrayImage::from_raw(out_width, out_height, grey)
        .ok_or_else(|| DecodeError::NotAnImage("JPEG XL: frame size".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    const Q90: &[u8] = include_bytes!("../../../../fixtures/qr-q90.jxl");

    /// 8000 x 8000 white pixels, lossless, by libjxl: 64 MP in 8.9 KB.
    const BOMB: &[u8] = include_bytes!("../../../../fixtures/bomb-8000x8000.jxl");

    #[test]
    fn a_jpeg_xl_written_by_libjxl_is_read() {
        assert!(is_jxl(Q90));
        let codes = decode(Q90, &DecodeOptions::default()).unwrap();
        assert_eq!(
            codes[0].content.text,
            include_str!("../../../../fixtures/qr-q90.txt")
        );
    }

    #[test]
    fn a_jpeg_xl_bomb_is_refused_from_its_header() {
        let started = std::time::Instant::now();
        let refused = load(BOMB, &DecodeOptions::default());
        assert!(
            matches!(
                refused,
                Err(DecodeError::TooManyPixels {
                    width: 8000,
                    height: 8000,
                    ..
                })
            ),
            "{refused:?}"
        );
        // Within the pixel limit, the frame is counted against the memory cap before decoding.
        let small_cap = DecodeOptions {
            max_pixels: 100_000_000,
            max_decoder_bytes: 64 << 20,
            ..DecodeOptions::default()
        };
        let refused = load(BOMB, &small_cap);
        assert!(
            matches!(refused, Err(DecodeError::TooMuchMemory { needed: Some(n), .. }) if n == 64_000_000 * BYTES_PER_PIXEL),
            "{refused:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_refusal_by_the_allocation_tracker_is_told_from_a_corrupt_file() {
        let refused = AllocTracker::with_limit(0).alloc::<u8>(16).unwrap_err();
        assert!(refused_by_tracker(&refused));
        // Wrapped, as the renderer wraps it, and boxed, as jxl-oxide returns it.
        let wrapped: Box<dyn std::error::Error + Send + Sync> = Box::new(Wrapped(refused));
        assert!(refused_by_tracker(wrapped.as_ref()));
        let corrupt = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "allocation");
        assert!(!refused_by_tracker(&corrupt));
    }

    /// An error whose source is another, as jxl-render's `Error::Buffer` is.
    #[derive(Debug)]
    struct Wrapped(jxl_grid::OutOfMemory);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}", self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_truncated_jpeg_xl_is_not_an_image() {
        for cut in [2, 12, Q90.len() / 2, Q90.len() - 1] {
            let refused = load(&Q90[..cut], &DecodeOptions::default());
            assert!(
                matches!(refused, Err(DecodeError::NotAnImage(_))),
                "{cut}: {refused:?}"
            );
        }
    }
}
