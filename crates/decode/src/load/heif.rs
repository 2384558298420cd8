//! HEIF, the container of HEIC (HEVC, phones' photos) and AVIF (AV1, what image CDNs serve): the
//! primary image's size and transforms read from the container (heifer's ISO-BMFF parser) before
//! any pixel is decoded, then the coded items decoded, each to its luma plane, which is the grey
//! image: HEVC pictures by heifer's decoder, AV1 ones by rav1d (`av1`). A grid's tiles are put
//! together and an alpha item composited onto white here, and the crop, rotation and mirror
//! applied, in the order the file lists them. An image of another kind (an overlay of several, which
//! phones do not write) goes to heifer whole, through RGBA.
//!
//! Neither decoder can be stopped part way: the memory estimate below refuses what would not fit,
//! and the time an allowed picture takes is measured in benches/formats_load.py.

use heifer_isobmff::boxes::{ColorInfo, Property};
use heifer_isobmff::{HeifFile, ItemId};
use image::{imageops, GrayImage};

use super::av1::{self, Plane};
use super::check_header;
use super::pixel::{grey_from_rgba, on_white, stretch_studio_range};
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// The major brands of HEIF files whose primary image is a still picture: HEIC's, AVIF's, and the
/// generic ones (the coded item's type says which codec).
const BRANDS: [&[u8; 4]; 9] = [
    b"heic", b"heix", b"heim", b"heis", b"mif1", b"mif2", b"msf1", b"avif", b"avis",
];

/// What a HEVC picture decoded to its luma holds at its peak, a pixel, checked before decoding:
/// heifer's picture (16-bit samples: 3 bytes a pixel at 4:2:0, 6 at 4:4:4), our grey, an alpha
/// plane, a turned copy. Peak RSS of `qrscan scan --jobs 1` over its 10 MiB base on a 6324 x 6324
/// RGB HEIC (x265, q90): 6.5 bytes a pixel, the decode's own views included.
const HEVC_BYTES_PER_PIXEL: u64 = 7;

/// The same through heifer's RGBA, for overlays: its picture and RGBA canvas, a turned copy and
/// our grey. Peak RSS of `qrscan scan --jobs 1` over its 10 MiB base on a 6324 x 6324 RGB HEIC
/// decoded this way (x265, q90): 7.0 bytes a pixel, the decode's own views included.
const HEIC_RGBA_BYTES_PER_PIXEL: u64 = 8;

/// The same for AVIF: rav1d's picture (8-bit 4:2:0 is 1.5 bytes a pixel) with its padding, our
/// luma copy, an alpha plane, a turned copy. Measured as above (libavif, q90): RGB 3.1, grey 2.5,
/// RGBA 3.5 bytes a pixel.
const AVIF_BYTES_PER_PIXEL: u64 = 4;

/// The largest block HEVC codes a picture in (a CTU of 64 x 64 pixels).
const HEVC_BLOCK: u64 = 64;

/// The auxiliary types that say an item is the alpha plane of the image it references.
const AUXILIARY_ALPHA: [&str; 2] = [
    "urn:mpeg:hevc:2015:auxid:1",
    "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
];

/// Whether `bytes` start like a HEIF file of a still picture.
pub(super) fn is_heif(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && BRANDS.iter().any(|b| bytes[8..12] == **b)
}

fn corrupt(error: impl std::fmt::Display) -> DecodeError {
    DecodeError::NotAnImage(format!("HEIF: {error}"))
}

/// Decodes the primary image of the HEIC or AVIF file in `bytes` to grey.
pub(super) fn load(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let file = HeifFile::parse(bytes).map_err(corrupt)?;
    let primary = file.primary_id;
    let (coded_width, coded_height) = file
        .image_size(primary)
        .map_err(corrupt)?
        .ok_or_else(|| corrupt("the primary image has no size (ispe)"))?;
    let turned = file
        .item_properties(primary)
        .map_err(corrupt)?
        .any(|p| matches!(p, Property::Rotation(1 | 3)));
    let (width, height) = if turned {
        (coded_height, coded_width)
    } else {
        (coded_width, coded_height)
    };
    check_header(width, height, options.max_pixels)?;
    let pixels = u64::from(width) * u64::from(height);
    // HEVC codes a picture in blocks of up to 64 pixels, so a picture may be coded a little larger
    // than the image it holds (a 6324 x 6324 image as 6336 x 6336): the decoders' own limit, which
    // they check against the coded size, allows that and no more.
    let coded_limit =
        (u64::from(coded_width) + HEVC_BLOCK) * (u64::from(coded_height) + HEVC_BLOCK);
    match &codec(&file, primary)? {
        b"av01" => options.memory_for(width, height, pixels * AVIF_BYTES_PER_PIXEL)?,
        b"hvc1" => options.memory_for(width, height, pixels * HEVC_BYTES_PER_PIXEL)?,
        _ => {
            options.memory_for(width, height, pixels * HEIC_RGBA_BYTES_PER_PIXEL)?;
            return load_through_rgba(bytes, coded_limit);
        }
    }
    load_luma_planes(&file, primary, coded_limit)
}

/// An image heifer puts together itself (an overlay), as RGBA, then grey.
fn load_through_rgba(bytes: &[u8], coded_limit: u64) -> Result<GrayImage, DecodeError> {
    let heif_options = heifer::Options {
        max_threads: 1,
        max_pixels: coded_limit,
    };
    let image = heifer::decode_rgba8(bytes, &heif_options).map_err(|e| match e {
        heifer::Error::Unsupported(what) => {
            DecodeError::NotAnImage(format!("HEIC: not read: {what}"))
        }
        other => DecodeError::NotAnImage(format!("HEIC: {other}")),
    })?;
    Ok(grey_from_rgba(&image.data, image.width, image.height))
}

/// The codec of an image item: its own type when coded, its first tile's when a grid.
fn codec(file: &HeifFile<'_>, id: ItemId) -> Result<[u8; 4], DecodeError> {
    let item_type = file.item(id).map_err(corrupt)?.item_type.0;
    if item_type != *b"grid" {
        return Ok(item_type);
    }
    match file.referenced_items(id, b"dimg").first() {
        Some(&tile) => Ok(file.item(tile).map_err(corrupt)?.item_type.0),
        None => Err(corrupt("a grid without tiles")),
    }
}

/// The primary item's luma (a grid's tiles put together), its alpha item on white, then its
/// transforms in the order the file lists them.
fn load_luma_planes(
    file: &HeifFile<'_>,
    primary: ItemId,
    coded_limit: u64,
) -> Result<GrayImage, DecodeError> {
    let mut grey = luma_of_item(file, primary, coded_limit)?;
    let alpha = file
        .referencing_items(primary, b"auxl")
        .into_iter()
        .find(|&aux| is_alpha(file, aux));
    if let Some(alpha) = alpha {
        let alpha = luma_of_item(file, alpha, coded_limit)?;
        if alpha.dimensions() != grey.dimensions() {
            return Err(corrupt("the alpha plane's size is not the image's"));
        }
        for (y, a) in grey.iter_mut().zip(alpha.iter()) {
            *y = on_white(u32::from(*y), u32::from(*a));
        }
    }
    for property in file.item_properties(primary).map_err(corrupt)? {
        grey = match *property {
            Property::CleanAperture {
                width,
                height,
                horiz_offset,
                vert_offset,
            } => clean_aperture(&grey, width, height, horiz_offset, vert_offset)?,
            Property::Rotation(1) => imageops::rotate270(&grey),
            Property::Rotation(2) => imageops::rotate180(&grey),
            Property::Rotation(3) => imageops::rotate90(&grey),
            Property::Mirror(true) => imageops::flip_vertical(&grey),
            Property::Mirror(false) => imageops::flip_horizontal(&grey),
            _ => grey,
        };
    }
    Ok(grey)
}

fn is_alpha(file: &HeifFile<'_>, id: ItemId) -> bool {
    file.item_properties(id).is_ok_and(|mut properties| {
        properties.any(
            |p| matches!(p, Property::AuxiliaryType(t) if AUXILIARY_ALPHA.contains(&t.as_str())),
        )
    })
}

/// One image item's luma as grey: a coded `av01` or `hvc1` item, or a `grid` of them.
fn luma_of_item(
    file: &HeifFile<'_>,
    id: ItemId,
    coded_limit: u64,
) -> Result<GrayImage, DecodeError> {
    let item_type = file.item(id).map_err(corrupt)?.item_type.0;
    match &item_type {
        b"av01" => {
            let obus = file.item_data(id).map_err(corrupt)?;
            let plane = av1::decode_plane(&obus, coded_limit).map_err(corrupt)?;
            Ok(grey_from_plane(plane))
        }
        b"hvc1" => hevc_luma(file, id, coded_limit),
        b"grid" => {
            let grid = file.grid(id).map_err(corrupt)?;
            let tiles = file.referenced_items(id, b"dimg");
            if tiles.len() != usize::from(grid.rows) * usize::from(grid.columns) {
                return Err(corrupt("a grid whose tile count is not rows x columns"));
            }
            check_header(grid.output_width, grid.output_height, coded_limit)?;
            let mut canvas =
                GrayImage::from_pixel(grid.output_width, grid.output_height, image::Luma([255]));
            let (mut x, mut y) = (0i64, 0i64);
            for (index, &tile) in tiles.iter().enumerate() {
                if !matches!(
                    &file.item(tile).map_err(corrupt)?.item_type.0,
                    b"av01" | b"hvc1"
                ) {
                    return Err(corrupt("a grid tile that is not a coded picture"));
                }
                let tile = luma_of_item(file, tile, coded_limit)?;
                imageops::replace(&mut canvas, &tile, x, y);
                x += i64::from(tile.width());
                if (index + 1) % usize::from(grid.columns) == 0 {
                    x = 0;
                    y += i64::from(tile.height());
                }
            }
            Ok(canvas)
        }
        other => Err(corrupt(format!(
            "an image item of type `{}`",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// A HEVC item's luma plane, cropped to the item's size (`ispe`: the coded picture may be larger),
/// at 8 bits, its range taken from the item's `colr` or else the stream's VUI.
fn hevc_luma(file: &HeifFile<'_>, id: ItemId, coded_limit: u64) -> Result<GrayImage, DecodeError> {
    let options = heifer::heifer_hevc_dec::decoder::DecodeOptions {
        max_pixels: coded_limit,
        ..Default::default()
    };
    let stream = file.hevc_bitstream(id).map_err(corrupt)?;
    let frame =
        heifer::heifer_hevc_dec::decoder::decode_picture(&stream, options).map_err(corrupt)?;
    let (coded_width, coded_height) = (frame.widths[0], frame.heights[0]);
    let (width, height) = file
        .image_size(id)
        .map_err(corrupt)?
        .map_or((coded_width, coded_height), |(w, h)| {
            (w.min(coded_width), h.min(coded_height))
        });
    let full_range = file
        .item_properties(id)
        .map_err(corrupt)?
        .find_map(|p| match p {
            Property::Color(ColorInfo::Nclx { full_range, .. }) => Some(*full_range),
            _ => None,
        })
        .unwrap_or(frame.full_range);
    let shift = u32::from(frame.bit_depth[0].saturating_sub(8));
    let luma = &frame.planes[0];
    let mut samples = Vec::with_capacity(width as usize * height as usize);
    for row in luma
        .chunks_exact(coded_width as usize)
        .take(height as usize)
    {
        samples.extend(
            row[..width as usize]
                .iter()
                .map(|&v| (v >> shift).min(255) as u8),
        );
    }
    if samples.len() != width as usize * height as usize {
        return Err(corrupt("a HEVC picture smaller than its planes say"));
    }
    Ok(grey_from_plane(Plane {
        width,
        height,
        samples,
        full_range,
    }))
}

fn grey_from_plane(plane: Plane) -> GrayImage {
    let Plane {
        width,
        height,
        mut samples,
        full_range,
    } = plane;
    if !full_range {
        stretch_studio_range(&mut samples);
    }
    GrayImage::from_raw(width, height, samples).unwrap_or_else(|| GrayImage::new(width, height))
}

/// The clean aperture (`clap`): a crop centred on the image's centre, in fractions of a pixel.
fn clean_aperture(
    grey: &GrayImage,
    width: (u32, u32),
    height: (u32, u32),
    horiz: (i32, u32),
    vert: (i32, u32),
) -> Result<GrayImage, DecodeError> {
    if width.1 == 0 || height.1 == 0 || horiz.1 == 0 || vert.1 == 0 {
        return Err(corrupt("a clean aperture with a zero denominator"));
    }
    let crop_width = f64::from(width.0) / f64::from(width.1);
    let crop_height = f64::from(height.0) / f64::from(height.1);
    let centre_x = f64::from(horiz.0) / f64::from(horiz.1) + (f64::from(grey.width()) - 1.0) / 2.0;
    let centre_y = f64::from(vert.0) / f64::from(vert.1) + (f64::from(grey.height()) - 1.0) / 2.0;
    let left = (centre_x - (crop_width - 1.0) / 2.0).round().max(0.0) as u32;
    let top = (centre_y - (crop_height - 1.0) / 2.0).round().max(0.0) as u32;
    let right = left
        .saturating_add(crop_width.round() as u32)
        .min(grey.width());
    let bottom = top
        .saturating_add(crop_height.round() as u32)
        .min(grey.height());
    if right <= left || bottom <= top {
        return Err(corrupt("a clean aperture outside the image"));
    }
    Ok(imageops::crop_imm(grey, left, top, right - left, bottom - top).to_image())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::assert_centre;
    use crate::{decode, load_luma};

    const HEIC: &[u8] = include_bytes!("../../../../fixtures/qr-q80.heic");
    const AVIF_ALPHA: &[u8] = include_bytes!("../../../../fixtures/qr-alpha.avif");
    const HEIC_TURNED: &[u8] = include_bytes!("../../../../fixtures/qr-orientation-6.heic");
    const AVIF_TURNED: &[u8] = include_bytes!("../../../../fixtures/qr-orientation-6.avif");
    const TURNED_TEXT: &str = include_str!("../../../../fixtures/qr-orientation-6-heif.txt");
    /// The two files above with their `ispe` rewritten to 60000 x 60000 (fixtures/README.md).
    const HEIC_BOMB: &[u8] = include_bytes!("../../../../fixtures/bomb-ispe-60000.heic");
    const AVIF_BOMB: &[u8] = include_bytes!("../../../../fixtures/bomb-ispe-60000.avif");

    #[test]
    fn a_heic_written_by_libheif_is_read() {
        assert!(is_heif(HEIC));
        let codes = decode(HEIC, &DecodeOptions::default()).unwrap();
        assert_eq!(
            codes[0].content.text,
            include_str!("../../../../fixtures/qr-q80.txt")
        );
    }

    #[test]
    fn an_avif_with_alpha_is_read_on_white() {
        assert!(is_heif(AVIF_ALPHA));
        let grey = load_luma(AVIF_ALPHA, &DecodeOptions::default()).unwrap();
        // The corner is transparent black: white once composited, black if the alpha were lost.
        assert!(
            grey.get_pixel(0, 0).0[0] > 240,
            "{:?}",
            grey.get_pixel(0, 0)
        );
        let codes = decode(AVIF_ALPHA, &DecodeOptions::default()).unwrap();
        assert_eq!(
            codes[0].content.text,
            include_str!("../../../../fixtures/qr-alpha.txt")
        );
    }

    #[test]
    fn a_heif_rotation_is_applied_so_corners_are_where_a_viewer_shows_them() {
        // Stored 132 x 172 with `irot` turning it back to 172 x 132: the code is the left
        // 132 x 132 of the picture (both encoders turned Exif orientation 6 into `irot`).
        for turned in [HEIC_TURNED, AVIF_TURNED] {
            let grey = load_luma(turned, &DecodeOptions::default()).unwrap();
            assert_eq!(grey.dimensions(), (172, 132));
            let codes = decode(turned, &DecodeOptions::default()).unwrap();
            assert_eq!(codes[0].content.text, TURNED_TEXT);
            assert_centre(&codes[0].points, [66.0, 66.0]);
        }
    }

    #[test]
    fn heif_bombs_are_refused_from_the_container_before_any_pixel_is_decoded() {
        let started = std::time::Instant::now();
        for bomb in [HEIC_BOMB, AVIF_BOMB] {
            let refused = load_luma(bomb, &DecodeOptions::default());
            assert!(
                matches!(
                    refused,
                    Err(DecodeError::TooManyPixels {
                        width: 60000,
                        height: 60000,
                        ..
                    })
                ),
                "{refused:?}"
            );
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Within the pixel limit, the estimate is counted against the memory cap first.
        for (file, per_pixel) in [
            (HEIC, HEVC_BYTES_PER_PIXEL),
            (AVIF_ALPHA, AVIF_BYTES_PER_PIXEL),
        ] {
            let needed = 198 * 198 * per_pixel;
            let capped = DecodeOptions {
                max_decoder_bytes: needed - 1,
                ..DecodeOptions::default()
            };
            let refused = load_luma(file, &capped);
            assert!(
                matches!(refused, Err(DecodeError::TooMuchMemory { needed: Some(n), .. }) if n == needed),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn an_av1_stream_that_made_rav1d_panic_is_not_an_image() {
        // Found by fuzz/fuzz_targets/decode_avif.rs: rav1d 1.1.0 panicked in `on_error`, and the
        // panic, at its `extern "C"` API, aborted the process (vendor/rav1d/README.qrscan.md).
        let crashed = include_bytes!("../../../../fixtures/corrupt-av1-on-error.avif");
        let refused = load_luma(crashed, &DecodeOptions::default());
        assert!(
            matches!(refused, Err(DecodeError::NotAnImage(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn truncated_and_corrupt_heif_files_are_not_images() {
        for file in [HEIC, AVIF_ALPHA] {
            for cut in [12, 40, file.len() / 2, file.len() - 1] {
                let refused = load_luma(&file[..cut], &DecodeOptions::default());
                assert!(
                    matches!(refused, Err(DecodeError::NotAnImage(_))),
                    "{cut}: {refused:?}"
                );
            }
            // The coded picture's bytes scrambled, the container intact.
            let mut scrambled = file.to_vec();
            let end = scrambled.len();
            scrambled[end - 200..].iter_mut().for_each(|b| *b = !*b);
            let result = load_luma(&scrambled, &DecodeOptions::default());
            assert!(
                matches!(result, Ok(_) | Err(DecodeError::NotAnImage(_))),
                "{result:?}"
            );
        }
    }
}
