//! Every PNG is decoded from the decoder made here: packed grey ones by `packed_png`, every
//! other kind (colour, palette, 8 or 16 bits, with transparency, interlaced or not) here, a row at
//! a time straight into grey. Through `image` the whole RGB(A) frame was held beside its grey
//! copy: 4 bytes a pixel at the peak instead of about 1.4, and up to 10 for an interlaced 16-bit
//! RGBA one. An interlaced PNG's rows come in seven passes over the image (Adam7); each pass row is
//! turned grey and its pixels put in the grey frame where they belong.
//!
//! The png crate sees only the chunks that draw the image: the critical ones (IHDR, PLTE, IDAT,
//! IEND, and any critical chunk it does not know, which it refuses) and tRNS. Every other chunk,
//! an ICC profile, text, Exif, APNG frames or one nobody knows, is stepped over in the bytes,
//! unread: the crate inflated an iCCP profile as it parsed, up to its allocation limit (a 1 MB
//! chunk cost 512 MiB), kept text and Exif whole, and none of it changes a pixel's grey. The crate
//! may allocate what `--max-decode-memory` leaves after our own buffers, set before it reads a
//! pixel.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

use image::GrayImage;

use super::pixel::{luma, on_white};
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// What the png crate's rows take per pixel of width: its current and previous raw rows, at most
/// 8 bytes a pixel each (16-bit RGBA). The row it hands out, 4 bytes a pixel at most, it counts
/// against its own limit.
const DECODER_ROW_BYTES: u64 = 2 * 8;

/// The width and height in a PNG's header, the only chunk read (13 bytes: the limit is room).
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), DecodeError> {
    let mut decoder = decoder(bytes, 64 * 1024);
    let header = decoder.read_header_info().map_err(not_an_image)?;
    Ok((header.width, header.height))
}

/// A decoder of `bytes` that sees only the chunks that draw the image and may allocate `limit`
/// bytes.
pub(super) fn decoder(bytes: &[u8], limit: u64) -> png::Decoder<KeptChunks<'_>> {
    png::Decoder::new_with_limits(KeptChunks::new(bytes), limits(limit))
}

pub(super) fn limits(bytes: u64) -> png::Limits {
    png::Limits {
        bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
    }
}

/// The answer for a png crate error: the memory cap's when its limit was reached, else corrupt.
pub(super) fn refusal(
    error: png::DecodingError,
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> DecodeError {
    match error {
        png::DecodingError::LimitsExceeded => DecodeError::TooMuchMemory {
            width,
            height,
            needed: None,
            limit: options.max_decoder_bytes,
        },
        other => not_an_image(other),
    }
}

fn not_an_image(error: png::DecodingError) -> DecodeError {
    DecodeError::NotAnImage(format!("{error}"))
}

/// The grey image of a PNG, transparency composited onto white as `load` does for every format.
/// The pixel count and shape were checked from the header by the caller; `decoder_bytes` is
/// checked against `options.max_decoder_bytes` before any other chunk is read.
pub fn load(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let mut decoder = decoder(bytes, options.max_decoder_bytes);
    let header = decoder.read_header_info().map_err(not_an_image)?;
    let (width, height, interlaced) = (header.width, header.height, header.interlaced);
    options.memory_for(width, height, decoder_bytes(width, height, interlaced))?;
    decoder.set_limits(limits(
        options.max_decoder_bytes - grey_bytes(width, height, interlaced),
    ));
    // Palettes and low bit depths to 8-bit samples, a transparent colour (tRNS) to an alpha
    // channel, 16-bit samples to their high byte.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let failed = |e| refusal(e, width, height, options);
    let mut reader = decoder.read_info().map_err(failed)?;
    let channels = match reader.output_color_type().0 {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(DecodeError::NotAnImage(
                "the PNG palette was not expanded".into(),
            ))
        }
    };
    let (width, height) = (width as usize, height as usize);
    // Interlaced rows land all over the frame, so it is there whole from the start (zeroed pages
    // cost nothing until written); plain rows are appended in order.
    let mut grey = if interlaced {
        vec![0u8; width * height]
    } else {
        Vec::with_capacity(width * height)
    };
    let mut pass_row = Vec::with_capacity(if interlaced { width } else { 0 });
    loop {
        let row = match reader.next_interlaced_row() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(failed(e)),
        };
        match row.interlace() {
            png::InterlaceInfo::Null(_) => grey_row(row.data(), channels, width, &mut grey),
            png::InterlaceInfo::Adam7(pass) => {
                pass_row.clear();
                grey_row(row.data(), channels, width, &mut pass_row);
                png::expand_interlaced_row(&mut grey, width, &pass_row, pass, 8);
            }
        }
    }
    let image = GrayImage::from_raw(width as u32, height as u32, grey);
    image.ok_or_else(|| DecodeError::NotAnImage("the PNG data is truncated".into()))
}

/// Appends the grey of each pixel of `row` (`channels` 8-bit samples each, at most `width` of
/// them) to `grey`.
fn grey_row(row: &[u8], channels: usize, width: usize, grey: &mut Vec<u8>) {
    let pixels = row.chunks_exact(channels).take(width);
    match channels {
        1 => grey.extend(pixels.map(|p| p[0])),
        2 => grey.extend(pixels.map(|p| on_white(u32::from(p[0]), u32::from(p[1])))),
        3 => grey.extend(pixels.map(|p| luma(p[0], p[1], p[2]) as u8)),
        _ => grey.extend(pixels.map(|p| on_white(luma(p[0], p[1], p[2]), u32::from(p[3])))),
    }
}

/// What we allocate: the grey frame, a byte a pixel, and for an interlaced PNG a pass row's grey.
fn grey_bytes(width: u32, height: u32, interlaced: bool) -> u64 {
    let pass_row = if interlaced { u64::from(width) } else { 0 };
    u64::from(width) * u64::from(height) + pass_row
}

/// What decoding holds at its peak, an upper bound: our buffers and the png crate's rows.
pub(super) fn decoder_bytes(width: u32, height: u32, interlaced: bool) -> u64 {
    grey_bytes(width, height, interlaced) + DECODER_ROW_BYTES * u64::from(width)
}

/// A PNG's bytes as the png crate reads them: the signature, then only the chunks that draw the
/// image (the module doc says which), each whole with its CRC, in their order. What does not
/// parse as a chunk (a header cut short, a length past the end) is handed on as it is, for the
/// png crate to refuse.
pub(super) struct KeptChunks<'a> {
    bytes: &'a [u8],
    /// The next byte to hand out, and the end of the chunk it is in.
    next: usize,
    end: usize,
    /// How many bytes were handed out: the stream position the png crate sees.
    position: u64,
}

impl<'a> KeptChunks<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let signature = bytes.len().min(8);
        KeptChunks {
            bytes,
            next: 0,
            end: signature,
            position: 0,
        }
    }

    /// Steps over the chunks not kept once the current one is handed out.
    fn skip_to_kept_chunk(&mut self) {
        while self.next == self.end && self.next < self.bytes.len() {
            let rest = &self.bytes[self.next..];
            let Some(&[l0, l1, l2, l3, t0, t1, t2, t3]) = rest.get(..8) else {
                self.end = self.bytes.len();
                return;
            };
            // Length, type, data and CRC.
            let size = u32::from_be_bytes([l0, l1, l2, l3]) as usize + 12;
            if size > rest.len() {
                self.end = self.bytes.len();
                return;
            }
            // The fifth bit of the first letter says whether a chunk is critical (upper case).
            let critical = t0 & 0x20 == 0;
            if critical || [t0, t1, t2, t3] == *b"tRNS" {
                self.end = self.next + size;
            } else {
                self.next += size;
                self.end = self.next;
            }
        }
    }
}

impl BufRead for KeptChunks<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.skip_to_kept_chunk();
        Ok(&self.bytes[self.next..self.end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.end - self.next);
        self.next += amount;
        self.position += amount as u64;
    }
}

impl Read for KeptChunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

/// The png crate reads straight through and never seeks; the position is all it could ask.
impl Seek for KeptChunks<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Current(0) => Ok(self.position),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kept chunks of a PNG are read in order",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_luma;
    use image::{DynamicImage, ImageFormat};
    use std::io::{Cursor, Write};

    /// A PNG of `image` written by `image`'s encoder.
    fn png_of(image: DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// What `image` decodes the same PNG to, made grey as `load` made every PNG before.
    fn through_image(bytes: &[u8]) -> GrayImage {
        let decoded = image::load_from_memory_with_format(bytes, ImageFormat::Png).unwrap();
        super::super::pixel::to_luma_on_white(decoded)
    }

    fn pattern(x: u32, y: u32, k: u32) -> u8 {
        ((x * 37 + y * 91 + k * 53) % 256) as u8
    }

    #[test]
    fn colour_grey_and_transparent_pngs_give_the_grey_image_gives() {
        let (w, h) = (23, 17);
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2)])
        });
        let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
            let [r, g, b] = rgb.get_pixel(x, y).0;
            image::Rgba([r, g, b, pattern(x, y, 3)])
        });
        let grey_alpha = image::GrayAlphaImage::from_fn(w, h, |x, y| {
            image::LumaA([pattern(x, y, 0), pattern(x, y, 3)])
        });
        let grey = image::GrayImage::from_fn(w, h, |x, y| image::Luma([pattern(x, y, 0)]));
        for image in [
            DynamicImage::ImageRgb8(rgb),
            DynamicImage::ImageRgba8(rgba),
            DynamicImage::ImageLumaA8(grey_alpha),
            DynamicImage::ImageLuma8(grey),
        ] {
            let bytes = png_of(image);
            let ours = load(&bytes, &DecodeOptions::default()).unwrap();
            assert_eq!(ours, through_image(&bytes));
        }
    }

    #[test]
    fn sixteen_bit_pngs_keep_their_high_byte() {
        let rgb16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(9, 5, |x, y| {
            let v = |k| u16::from(pattern(x, y, k)) * 257;
            image::Rgb([v(0), v(1), v(2)])
        });
        let bytes = png_of(DynamicImage::ImageRgb16(rgb16));
        let ours = load(&bytes, &DecodeOptions::default()).unwrap();
        let theirs = through_image(&bytes);
        for (a, b) in ours.as_raw().iter().zip(theirs.as_raw()) {
            assert!(a.abs_diff(*b) <= 1, "{a} against {b}");
        }
    }

    #[test]
    fn a_truncated_colour_png_is_not_an_image() {
        let rgb = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([pattern(x, y, 0); 3]));
        let bytes = png_of(DynamicImage::ImageRgb8(rgb));
        let cut = load(&bytes[..bytes.len() / 2], &DecodeOptions::default());
        assert!(matches!(cut, Err(DecodeError::NotAnImage(_))), "{cut:?}");
    }

    #[test]
    fn the_memory_cap_counts_the_grey_frame_and_two_rows() {
        let rgba = image::RgbaImage::from_pixel(300, 200, image::Rgba([9, 9, 9, 255]));
        let bytes = png_of(DynamicImage::ImageRgba8(rgba));
        let needed = 300 * 200 + 2 * 8 * 300;
        assert_eq!(decoder_bytes(300, 200, false), needed);
        let capped = |max_decoder_bytes| DecodeOptions {
            max_decoder_bytes,
            ..DecodeOptions::default()
        };
        let over = load(&bytes, &capped(needed - 1));
        assert!(
            matches!(over, Err(DecodeError::TooMuchMemory { .. })),
            "{over:?}"
        );
        assert!(load(&bytes, &capped(needed)).is_ok());
    }

    /// Adam7's passes: first column, column step, first row, row step.
    const ADAM7: [(u32, u32, u32, u32); 7] = [
        (0, 8, 0, 8),
        (4, 8, 0, 8),
        (0, 4, 4, 8),
        (2, 4, 0, 4),
        (0, 2, 2, 4),
        (1, 2, 0, 2),
        (0, 1, 1, 2),
    ];

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(data);
        let crc = crc32fast::hash(&out[4..]);
        out.extend(crc.to_be_bytes());
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// A PNG written here, plain or interlaced (the png crate's encoder does not interlace):
    /// `rows` are the image's rows packed as PNG packs them, without filter bytes; with
    /// `interlaced` their pixels go out in Adam7's seven passes. `chunks` (PLTE, tRNS, metadata)
    /// follow the header, in order.
    fn png_file(
        (width, height): (u32, u32),
        (colour, depth): (png::ColorType, png::BitDepth),
        rows: &[Vec<u8>],
        chunks: &[Vec<u8>],
        interlaced: bool,
    ) -> Vec<u8> {
        let bits = colour.samples() * depth as usize;
        let plain = [(0, 1, 0, 1)];
        let passes: &[(u32, u32, u32, u32)] = if interlaced { &ADAM7 } else { &plain };
        let mut scanlines = Vec::new();
        for &(x0, dx, y0, dy) in passes {
            let columns: Vec<usize> = (x0..width)
                .step_by(dx as usize)
                .map(|x| x as usize)
                .collect();
            if columns.is_empty() {
                continue; // an empty pass has no scanlines at all
            }
            for y in (y0..height).step_by(dy as usize) {
                let row = &rows[y as usize];
                let mut line = vec![0u8; (columns.len() * bits).div_ceil(8)];
                for (i, x) in columns.iter().enumerate() {
                    for b in 0..bits {
                        let (from, to) = (x * bits + b, i * bits + b);
                        let bit = (row[from / 8] >> (7 - from % 8)) & 1;
                        line[to / 8] |= bit << (7 - to % 8);
                    }
                }
                scanlines.push(0); // filter type None
                scanlines.extend(line);
            }
        }
        let mut header = width.to_be_bytes().to_vec();
        header.extend(height.to_be_bytes());
        header.extend([depth as u8, colour as u8, 0, 0, u8::from(interlaced)]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &header));
        chunks.iter().for_each(|c| out.extend(c));
        out.extend(chunk(b"IDAT", &zlib(&scanlines)));
        out.extend(chunk(b"IEND", b""));
        out
    }

    /// Rows of `width` pixels of `samples` samples at `depth` bits, packed as PNG packs them;
    /// sample `k` of pixel (x, y) is `pattern(x, y, k)` cut to the depth (a 16-bit one gets a
    /// low byte of its own).
    fn rows_of(width: u32, height: u32, samples: usize, depth: png::BitDepth) -> Vec<Vec<u8>> {
        let bits = depth as usize;
        (0..height)
            .map(|y| {
                let mut row = vec![0u8; (width as usize * samples * bits).div_ceil(8)];
                for x in 0..width {
                    for k in 0..samples {
                        let level = pattern(x, y, k as u32);
                        let at = (x as usize * samples + k) * bits;
                        match bits {
                            16 => row[at / 8..at / 8 + 2].copy_from_slice(&[level, level ^ 0x5a]),
                            8 => row[at / 8] = level,
                            _ => row[at / 8] |= (level >> (8 - bits)) << (8 - bits - at % 8),
                        }
                    }
                }
                row
            })
            .collect()
    }

    /// Every colour type and bit depth PNG allows, with and without tRNS, and the chunks each
    /// needs after its header.
    fn every_kind() -> Vec<(png::ColorType, png::BitDepth, Vec<Vec<u8>>)> {
        use png::BitDepth::{Eight, Four, One, Sixteen, Two};
        use png::ColorType::{Grayscale, GrayscaleAlpha, Indexed, Rgb, Rgba};
        let palette = |depth: png::BitDepth| {
            let entries = 1u32 << (depth as u32);
            let colours: Vec<u8> = (0..entries)
                .flat_map(|i| [(i * 7) as u8, (i * 113) as u8, (i * 29) as u8])
                .collect();
            chunk(b"PLTE", &colours)
        };
        let opacity: Vec<u8> = (0..200u32).map(|i| (i * 31) as u8).collect();
        let mut kinds = vec![
            (
                Grayscale,
                Eight,
                vec![chunk(b"tRNS", &[0, pattern(1, 0, 0)])],
            ),
            (Grayscale, One, vec![chunk(b"tRNS", &[0, 1])]),
            (Rgb, Eight, vec![chunk(b"tRNS", &[0, 37, 0, 90, 0, 143])]),
            (
                Indexed,
                Eight,
                vec![palette(Eight), chunk(b"tRNS", &opacity)],
            ),
            (GrayscaleAlpha, Eight, vec![]),
            (GrayscaleAlpha, Sixteen, vec![]),
            (Rgba, Eight, vec![]),
            (Rgba, Sixteen, vec![]),
            (Rgb, Eight, vec![]),
            (Rgb, Sixteen, vec![]),
        ];
        for depth in [One, Two, Four, Eight, Sixteen] {
            kinds.push((Grayscale, depth, vec![]));
        }
        for depth in [One, Two, Four, Eight] {
            kinds.push((Indexed, depth, vec![palette(depth)]));
        }
        kinds
    }

    #[test]
    fn interlaced_pngs_of_every_kind_read_as_the_same_image_written_plain() {
        for (colour, depth, chunks) in every_kind() {
            // Sides that leave some of Adam7's passes short or empty.
            for (width, height) in [(13, 11), (7, 7), (9, 20), (33, 8)] {
                let rows = rows_of(width, height, colour.samples(), depth);
                let write = |interlaced| {
                    png_file((width, height), (colour, depth), &rows, &chunks, interlaced)
                };
                let (plain, interlaced) = (write(false), write(true));
                let options = DecodeOptions::default();
                let ours = load_luma(&interlaced, &options).unwrap();
                let what = format!("{colour:?} {depth:?} {}, {width}x{height}", chunks.len());
                assert_eq!(ours, load_luma(&plain, &options).unwrap(), "{what}");
                if depth != png::BitDepth::Sixteen {
                    // The interlaced file is one `image` reads as we do.
                    assert_eq!(ours, through_image(&interlaced), "{what}");
                }
            }
        }
    }

    #[test]
    fn an_interlaced_png_is_capped_at_its_grey_frame_a_pass_row_and_two_rows() {
        let (width, height) = (300, 200);
        let rows = rows_of(width, height, 4, png::BitDepth::Sixteen);
        let kind = (png::ColorType::Rgba, png::BitDepth::Sixteen);
        let interlaced = png_file((width, height), kind, &rows, &[], true);
        let plain = png_file((width, height), kind, &rows, &[], false);
        // Not the 8 bytes a pixel of the RGBA frame it was decoded to before.
        let needed = 300 * 200 + 300 + 2 * 8 * 300;
        assert_eq!(decoder_bytes(width, height, true), needed);
        let capped = |max_decoder_bytes| DecodeOptions {
            max_decoder_bytes,
            ..DecodeOptions::default()
        };
        let over = load(&interlaced, &capped(needed - 1));
        assert!(
            matches!(over, Err(DecodeError::TooMuchMemory { .. })),
            "{over:?}"
        );
        let at_cap = load(&interlaced, &capped(needed)).unwrap();
        assert_eq!(at_cap, load(&plain, &DecodeOptions::default()).unwrap());
    }

    #[test]
    fn chunks_that_do_not_draw_the_image_are_never_read() {
        let (width, height) = (64, 48);
        let kind = (png::ColorType::Rgb, png::BitDepth::Eight);
        let rows = rows_of(width, height, 3, png::BitDepth::Eight);
        let plain = png_file((width, height), kind, &rows, &[], false);
        let expected = load(&plain, &DecodeOptions::default()).unwrap();
        // 16 MiB behind each compressed one, a MiB in each other one: none fits in what the
        // cap leaves once the grey frame and the rows are counted.
        let inflating = zlib(&vec![0u8; 16 << 20]);
        let raw = vec![0u8; 1 << 20];
        let metadata = [
            chunk(b"iCCP", &[b"icc\0\0".as_slice(), &inflating].concat()),
            chunk(b"zTXt", &[b"Comment\0\0".as_slice(), &inflating].concat()),
            chunk(
                b"iTXt",
                &[b"Comment\0\x01\0\0\0".as_slice(), &inflating].concat(),
            ),
            chunk(b"tEXt", &[b"Comment\0".as_slice(), &raw].concat()),
            chunk(b"eXIf", &[b"MM\0\x2a".as_slice(), &raw].concat()),
            chunk(b"quRK", &raw),
        ];
        let at_cap = DecodeOptions {
            max_decoder_bytes: decoder_bytes(width, height, false),
            ..DecodeOptions::default()
        };
        for one in &metadata {
            let bytes = png_file(
                (width, height),
                kind,
                &rows,
                std::slice::from_ref(one),
                false,
            );
            let kind = String::from_utf8_lossy(&one[4..8]).into_owned();
            assert_eq!(load(&bytes, &at_cap).unwrap(), expected, "{kind}");
            assert_eq!(dimensions(&bytes).unwrap(), (width, height));
        }
        let all = png_file((width, height), kind, &rows, &metadata, false);
        assert_eq!(load(&all, &at_cap).unwrap(), expected);
    }

    #[test]
    fn the_png_crate_is_handed_the_signature_the_critical_chunks_and_trns_only() {
        let (width, height) = (9, 7);
        let kind = (png::ColorType::Indexed, png::BitDepth::Four);
        let rows = rows_of(width, height, 1, png::BitDepth::Four);
        let drawing = [chunk(b"PLTE", &[0; 48]), chunk(b"tRNS", &[0, 255, 9])];
        let plain = png_file((width, height), kind, &rows, &drawing, false);
        let with_metadata = png_file(
            (width, height),
            kind,
            &rows,
            &[
                chunk(b"gAMA", &[0, 0, 177, 143]),
                drawing[0].clone(),
                chunk(b"iCCP", b"not even zlib"),
                drawing[1].clone(),
                chunk(b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0]),
                chunk(b"quRK", &[]),
            ],
            false,
        );
        let handed = |bytes: &[u8]| {
            let mut out = Vec::new();
            KeptChunks::new(bytes).read_to_end(&mut out).unwrap();
            out
        };
        assert_eq!(handed(&with_metadata), plain);
        // A chunk cut short (here the last, IEND) is handed on as it is, for the crate to refuse.
        let cut = &with_metadata[..with_metadata.len() - 5];
        assert_eq!(handed(cut), plain[..plain.len() - 5]);
        assert!(matches!(
            load(cut, &DecodeOptions::default()),
            Err(DecodeError::NotAnImage(_))
        ));
        // An unknown critical chunk reaches the crate, which refuses it.
        let critical = png_file(
            (width, height),
            kind,
            &rows,
            &[drawing[0].clone(), chunk(b"QURK", &[])],
            false,
        );
        assert!(matches!(
            load(&critical, &DecodeOptions::default()),
            Err(DecodeError::NotAnImage(_))
        ));
    }
}
