//! Grey PNGs of 1, 2 or 4 bits per pixel, what most QR code generators write, expanded to
//! 8-bit grey here, a row at a time: the png crate's own expansion goes pixel by pixel through a
//! generic unpacker, and on a clean 429x429 code it cost a fifth of the whole decode. Every other
//! PNG (colour, 8 or 16 bits, with a transparent grey level, interlaced) goes through `png_rows`,
//! whose decoder this one is.

use image::GrayImage;

use super::png as png_rows;
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// The grey image of a packed-grey PNG, `None` when the PNG is of another kind. The pixel count
/// was checked from the header by the caller; `options.max_decoder_bytes` caps the grey frame
/// and the decoder's rows together, as for every PNG.
pub fn load(bytes: &[u8], options: &DecodeOptions) -> Option<Result<GrayImage, DecodeError>> {
    let mut decoder = png_rows::decoder(bytes, options.max_decoder_bytes);
    let header = decoder.read_header_info().ok()?;
    let per_byte = match header.bit_depth {
        png::BitDepth::One => 8,
        png::BitDepth::Two => 4,
        png::BitDepth::Four => 2,
        _ => return None,
    };
    if header.color_type != png::ColorType::Grayscale || header.interlaced {
        return None;
    }
    let (width, height) = (header.width, header.height);
    let needed = png_rows::decoder_bytes(width, height, false);
    if let Err(refused) = options.memory_for(width, height, needed) {
        return Some(Err(refused));
    }
    let frame = u64::from(width) * u64::from(height);
    decoder.set_limits(png_rows::limits(options.max_decoder_bytes - frame));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let failed = |e| png_rows::refusal(e, width, height, options);
    let mut reader = match decoder.read_info() {
        Ok(reader) => reader,
        Err(e) => return Some(Err(failed(e))),
    };
    // A transparent grey level must be composited, which `png_rows` does.
    if reader.info().trns.is_some() {
        return None;
    }
    let grey = match per_byte {
        8 => expand::<8>(&mut reader, width, height),
        4 => expand::<4>(&mut reader, width, height),
        _ => expand::<2>(&mut reader, width, height),
    };
    Some(match grey {
        Ok(grey) => GrayImage::from_raw(width, height, grey)
            .ok_or_else(|| DecodeError::NotAnImage("the PNG data is truncated".into())),
        Err(e) => Err(failed(e)),
    })
}

/// Expands each row of packed pixels, `PER_BYTE` to a byte (most significant bits first, as PNG
/// packs them), to one byte per pixel scaled to 0-255. The pixels of each byte value come from
/// a table, a fixed-size copy each; the last byte of a row may hold padding bits past `width`.
fn expand<const PER_BYTE: usize>(
    reader: &mut png::Reader<png_rows::KeptChunks<'_>>,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, png::DecodingError> {
    let depth = 8 / PER_BYTE;
    let max = (1u16 << depth) - 1;
    let table: Vec<[u8; PER_BYTE]> = (0..=255u16)
        .map(|byte| {
            std::array::from_fn(|k| {
                let value = (byte >> (8 - depth * (k + 1))) & max;
                (value * 255 / max) as u8
            })
        })
        .collect();
    let mut grey = vec![0u8; width as usize * height as usize];
    for pixels in grey.chunks_exact_mut(width as usize) {
        let Some(row) = reader.next_row()? else {
            return Err(png::DecodingError::IoError(
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        };
        let row = row.data();
        let whole_bytes = pixels.len() / PER_BYTE;
        let mut wide = pixels.chunks_exact_mut(PER_BYTE);
        for (out, &byte) in (&mut wide).zip(row) {
            out.copy_from_slice(&table[usize::from(byte)]);
        }
        let tail = wide.into_remainder();
        if let Some(&byte) = row.get(whole_bytes) {
            tail.copy_from_slice(&table[usize::from(byte)][..tail.len()]);
        }
    }
    Ok(grey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// No cap: these tests are about the pixels.
    fn uncapped() -> DecodeOptions {
        DecodeOptions {
            max_decoder_bytes: u64::MAX,
            ..DecodeOptions::default()
        }
    }

    /// A grey PNG of `width` x `height` at `depth` bits, pixel (x, y) = `level(x, y)` (already
    /// within the depth's range), written by the png crate itself.
    fn packed_png(
        width: u32,
        height: u32,
        depth: png::BitDepth,
        level: impl Fn(u32, u32) -> u8,
    ) -> Vec<u8> {
        let bits = depth as usize;
        let row_bytes = (width as usize * bits).div_ceil(8);
        let mut data = vec![0u8; row_bytes * height as usize];
        for y in 0..height {
            for x in 0..width {
                let bit = x as usize * bits;
                let shift = 8 - bits - bit % 8;
                data[y as usize * row_bytes + bit / 8] |= level(x, y) << shift;
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(depth);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn packed_grey_pngs_expand_as_image_expands_them() {
        for (depth, max) in [
            (png::BitDepth::One, 1u32),
            (png::BitDepth::Two, 3),
            (png::BitDepth::Four, 15),
        ] {
            // Widths that end mid-byte leave padding bits that must not become pixels.
            for width in [1, 7, 13, 64, 101] {
                let level = |x: u32, y: u32| ((x * 7 + y * 3) % (max + 1)) as u8;
                let bytes = packed_png(width, 9, depth, level);
                let ours = load(&bytes, &uncapped()).unwrap().unwrap();
                let theirs = image::load_from_memory(&bytes).unwrap().into_luma8();
                assert_eq!(ours, theirs, "depth {depth:?}, width {width}");
            }
        }
    }

    #[test]
    fn other_pngs_are_left_to_png_rows() {
        let grey8 = {
            let mut out = Vec::new();
            image::GrayImage::new(4, 4)
                .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        };
        assert!(load(&grey8, &uncapped()).is_none());
        assert!(load(b"not a png", &uncapped()).is_none());

        // A transparent grey level must be composited, which the general path does.
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 8, 1);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        encoder.set_trns(vec![0u8, 0]);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[0b1010_1010]).unwrap();
        writer.finish().unwrap();
        assert!(load(&out, &uncapped()).is_none());
    }

    #[test]
    fn the_memory_cap_counts_the_grey_frame_and_the_decoders_rows() {
        let bytes = packed_png(300, 200, png::BitDepth::One, |x, y| ((x ^ y) & 1) as u8);
        // Not the packed frame, which is no longer held: a row of it at a time.
        let needed = 300 * 200 + 2 * 8 * 300;
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

    #[test]
    fn a_truncated_packed_png_is_not_an_image() {
        let bytes = packed_png(300, 300, png::BitDepth::One, |x, y| ((x ^ y) & 1) as u8);
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert!(matches!(
            load(cut, &uncapped()),
            Some(Err(DecodeError::NotAnImage(_)))
        ));
    }
}
