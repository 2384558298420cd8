//! PDF pages, on request (`DecodeOptions::pdf.pages`, off by default): the first pages of a PDF
//! rendered one at a time by hayro (pure Rust, no fonts of its own: a code is drawn or embedded,
//! never a glyph) and each read as an image, its codes carrying their page number.
//!
//! A PDF is a large attack surface: compressed streams a thousand times their size, images that
//! declare any size, pages of any shape, content that takes any time to draw. What can be
//! checked before drawing is checked per page, in `render_page`: the page's size at our
//! resolution against the pixel limit and the memory cap (a page too large is drawn at a lower
//! resolution, one too elongated refused), and every image the page draws against the pixel limit
//! (refused from its dictionary, 1006). What cannot be (how much a stream inflates to, how long
//! drawing takes) is bounded by whoever runs `render_page`: `PdfOptions::renderer` lets a caller
//! run it elsewhere. The qrscan binary runs it in a child process held to the memory cap and
//! killed at the decode budget; the in-process default suits trusted files only. The decode budget
//! covers the whole document: pages not started by then are not read.

use std::time::Instant;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::object::dict::keys::{HEIGHT, IMAGE, SUBTYPE, WIDTH};
use hayro::hayro_syntax::object::{Name, Stream};
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use image::GrayImage;

use crate::code::QrCode;
use crate::error::DecodeError;
use crate::load::check_header;
use crate::options::{DecodeOptions, RenderedPage};
use crate::runner::decode_luma;

/// The resolution pages are drawn at: 8 pixels a millimetre (203 dpi), 2 pixels for the smallest
/// module printers make (0.25 mm), which the finder detector reads. An A4 page is 1680 x 2376
/// (4 MP); a QR code 2 cm wide is 160 pixels across.
pub const PIXELS_PER_POINT: f32 = 8.0 * 25.4 / 72.0;

/// What drawing a page holds at its peak, a drawn pixel: vello's RGBA pixmap (4 bytes), its
/// coarse and fine buffers, the images the page draws, our grey. Peak RSS of `qrscan
/// render-pdf-page` over its 10 MiB base: 8.1 bytes a pixel for an A4 page holding a 300 dpi
/// scan (4 MP drawn), 5.0 for a poster drawn at the pixel limit (40 MP); above the larger, so a
/// page drawn under a small cap is drawn smaller rather than stopped.
const BYTES_PER_PIXEL: u64 = 9;

/// The longest side vello draws (its pixmaps count pixels in `u16`).
const MAX_SIDE: f32 = u16::MAX as f32;

/// Whether `bytes` are a PDF: its header, which may follow up to 1 KB of anything.
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
}

/// Reads the first `options.pdf.pages` pages of a PDF, page after page, within one decode budget.
/// Codes come page by page (each page's largest first), each with its page number. Without a
/// code on any page, the first page's refusal when a page was refused, else "no code".
pub(crate) fn decode_pages(
    bytes: &[u8],
    options: &DecodeOptions,
    started: Instant,
) -> Result<Vec<QrCode>, DecodeError> {
    if options.pdf.pages == 0 {
        return Err(DecodeError::PdfNotEnabled);
    }
    // hayro draws what it can of a cut file (a blank page, "no code"); a cut file is 1007, as in
    // every other format. A PDF ends with `%%EOF`, within its last 1 KB (ISO 32000-1, 7.5.5).
    if !bytes[bytes.len().saturating_sub(1024)..]
        .windows(5)
        .any(|w| w == b"%%EOF")
    {
        return Err(corrupt(
            "the file is truncated (it does not end with %%EOF)",
        ));
    }
    let mut codes = Vec::new();
    let mut refusal = None;
    let mut unreadable = false;
    let mut page_count = options.pdf.pages;
    let mut index = 0;
    while index < options.pdf.pages.min(page_count) {
        let elapsed = started.elapsed();
        if index > 0 && elapsed >= options.budget {
            break;
        }
        // The renderer has what is left of the budget: the budget is the document's.
        let this_page = DecodeOptions {
            budget: options.budget.saturating_sub(elapsed),
            ..options.clone()
        };
        let drawn = match &options.pdf.renderer {
            Some(renderer) => renderer(bytes, index, &this_page),
            // hayro forbids unsafe code, yet a panic on a hostile file is possible: one file
            // must not take down its caller.
            None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render_page(bytes, index, &this_page)
            }))
            .unwrap_or_else(|_| Err(corrupt(format!("page {} could not be drawn", index + 1)))),
        };
        let page = drawn.and_then(|rendered| {
            page_count = rendered.page_count;
            decode_luma(&rendered.grey, options, started)
        });
        match page {
            Ok(found) => codes.extend(found.into_iter().map(|code| QrCode {
                page: Some(index + 1),
                ..code
            })),
            Err(DecodeError::NoCode) => {}
            Err(DecodeError::Unreadable) => unreadable = true,
            // A file that is not a PDF at all fails on its first page: nothing else to try.
            Err(error @ DecodeError::NotAnImage(_)) if index == 0 => return Err(error),
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
        index += 1;
    }
    match (codes.is_empty(), refusal) {
        (false, _) => Ok(codes),
        (true, Some(refusal)) => Err(refusal),
        (true, None) if unreadable => Err(DecodeError::Unreadable),
        (true, None) => Err(DecodeError::NoCode),
    }
}

fn corrupt(what: impl std::fmt::Display) -> DecodeError {
    DecodeError::NotAnImage(format!("PDF: {what}"))
}

/// Draws page `index` (from 0) of the PDF in `bytes` to grey: the page's size and images checked
/// first (the module doc says which limits hold where). Runs in the caller's process: a caller
/// that cannot trust the file runs it where memory and time are bounded (`PdfOptions::renderer`).
pub fn render_page(
    bytes: &[u8],
    index: u32,
    options: &DecodeOptions,
) -> Result<RenderedPage, DecodeError> {
    let pdf = Pdf::new(bytes.to_vec()).map_err(|e| match e {
        LoadPdfError::Decryption(_) => corrupt("it is encrypted, and qrscan has no password"),
        LoadPdfError::Invalid => corrupt("its structure cannot be read"),
    })?;
    let pages = pdf.pages();
    let page_count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    let Some(page) = pages.get(index as usize) else {
        return Err(corrupt(format!("no page {}", index + 1)));
    };
    for name in page.resources().x_objects.keys() {
        if let Some(image) = page.resources().get_x_object(&name) {
            check_image(&image, options)?;
        }
    }
    let (width_pt, height_pt) = page.render_dimensions();
    let scale = page_scale(width_pt, height_pt, options)?;
    let pixmap = hayro::render(
        page,
        &RenderCache::new(),
        // No fonts of ours (a code is never a glyph), warnings dropped.
        &InterpreterSettings::default(),
        &RenderSettings {
            force_image_interpolation: true,
            ..RenderSettings::default()
        },
        &PixmapSettings {
            x_scale: scale,
            y_scale: scale,
            bg_color: WHITE,
        },
    );
    let (width, height) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
    // On an opaque white background every pixel is opaque: its premultiplied RGB is its RGB.
    let grey = pixmap
        .data()
        .iter()
        .map(|p| crate::load::luma(p.r, p.g, p.b) as u8)
        .collect();
    let grey = GrayImage::from_raw(width, height, grey).ok_or_else(|| corrupt("page size"))?;
    Ok(RenderedPage { page_count, grey })
}

/// An image the page draws, refused from its dictionary when it declares more pixels than the
/// limit: its decoded frame would be that size whatever the page's.
fn check_image(image: &Stream<'_>, options: &DecodeOptions) -> Result<(), DecodeError> {
    let dict = image.dict();
    if dict.get::<Name<'_>>(SUBTYPE).as_deref() != Some(IMAGE) {
        return Ok(());
    }
    let width = dict.get::<u32>(WIDTH).unwrap_or(0);
    let height = dict.get::<u32>(HEIGHT).unwrap_or(0);
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        });
    }
    Ok(())
}

/// The scale a page of `width` x `height` points is drawn at: `PIXELS_PER_POINT`, less for a page
/// whose pixels would pass the pixel limit, the memory cap or vello's longest side. A page too
/// elongated (or too small to hold a code) is refused as an image of that shape would be.
fn page_scale(width: f32, height: f32, options: &DecodeOptions) -> Result<f32, DecodeError> {
    if !(width.is_finite() && height.is_finite() && width > 0.0 && height > 0.0) {
        return Err(corrupt("a page without an area"));
    }
    let pixels_allowed = options
        .max_pixels
        .min(options.max_decoder_bytes / BYTES_PER_PIXEL) as f32;
    let area = width * height;
    let scale = PIXELS_PER_POINT
        .min((pixels_allowed / area).sqrt())
        .min(MAX_SIDE / width.max(height));
    let (pixels_wide, pixels_high) = ((width * scale) as u32, (height * scale) as u32);
    check_header(pixels_wide, pixels_high, options.max_pixels)?;
    Ok(scale)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::decode;
    use crate::options::PdfOptions;

    /// segno's vector PDF: one page, the code drawn as a path.
    const SEGNO: &[u8] = include_bytes!("../../../fixtures/qr-segno.pdf");
    /// Pillow's three pages of images: none, then a code on page 2 and another on page 3.
    const PAGES: &[u8] = include_bytes!("../../../fixtures/qr-pages.pdf");
    /// One page drawing an image that declares 100000 x 100000 grey pixels.
    const IMAGE_BOMB: &[u8] = include_bytes!("../../../fixtures/bomb-image-100000x100000.pdf");

    fn reading(pages: u32) -> DecodeOptions {
        DecodeOptions {
            pdf: PdfOptions {
                pages,
                renderer: None,
            },
            ..DecodeOptions::default()
        }
    }

    #[test]
    fn pdfs_are_refused_unless_pages_are_asked_for() {
        assert!(is_pdf(SEGNO) && is_pdf(PAGES));
        let refused = decode(SEGNO, &DecodeOptions::default());
        assert_eq!(refused, Err(DecodeError::PdfNotEnabled));
        assert!(DecodeError::PdfNotEnabled
            .to_string()
            .contains("--pdf-pages"));
    }

    #[test]
    fn a_vector_code_is_read_with_its_page_number() {
        let codes = decode(SEGNO, &reading(1)).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/pdf");
        assert_eq!(codes[0].page, Some(1));
    }

    #[test]
    fn pages_are_read_from_the_first_up_to_the_number_asked_for_in_page_order() {
        let pages_of = |pages| {
            decode(PAGES, &reading(pages)).map(|codes| {
                codes
                    .iter()
                    .map(|c| (c.page, c.content.text.clone()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(pages_of(1), Err(DecodeError::NoCode));
        let two = (Some(2), "https://example.com/pdf-page-2".to_owned());
        let three = (Some(3), "https://example.com/pdf-page-3".to_owned());
        assert_eq!(pages_of(2), Ok(vec![two.clone()]));
        assert_eq!(pages_of(3), Ok(vec![two.clone(), three.clone()]));
        // More pages asked for than the document has: its three.
        assert_eq!(pages_of(50), Ok(vec![two, three]));
    }

    #[test]
    fn the_renderer_is_asked_for_each_page_with_what_is_left_of_one_budget() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&asked);
        let options = DecodeOptions {
            budget: Duration::from_secs(10),
            pdf: PdfOptions {
                pages: 5,
                renderer: Some(Arc::new(
                    move |_: &[u8], index: u32, page: &DecodeOptions| {
                        record.lock().unwrap().push((index, page.budget));
                        std::thread::sleep(Duration::from_millis(20));
                        Ok(RenderedPage {
                            page_count: 2,
                            grey: GrayImage::from_pixel(64, 64, image::Luma([255])),
                        })
                    },
                )),
            },
            ..DecodeOptions::default()
        };
        assert_eq!(decode(SEGNO, &options), Err(DecodeError::NoCode));
        let asked = asked.lock().unwrap();
        // Two pages in the document: two asks, however many were allowed.
        assert_eq!(asked.iter().map(|a| a.0).collect::<Vec<_>>(), [0, 1]);
        assert!(asked[0].1 <= Duration::from_secs(10));
        assert!(asked[1].1 <= asked[0].1 - Duration::from_millis(20));
    }

    #[test]
    fn an_image_declaring_more_pixels_than_the_limit_is_refused_from_its_dictionary() {
        let started = Instant::now();
        let refused = decode(IMAGE_BOMB, &reading(1));
        assert!(
            matches!(
                refused,
                Err(DecodeError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                })
            ),
            "{refused:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn truncated_and_broken_pdfs_are_not_images() {
        for cut in [10, SEGNO.len() / 2, SEGNO.len() - 8] {
            let refused = decode(&SEGNO[..cut], &reading(1));
            assert!(
                matches!(refused, Err(DecodeError::NotAnImage(_))),
                "{cut}: {refused:?}"
            );
        }
        let no_structure = b"%PDF-1.7\nnothing here\n%%EOF\n";
        let refused = decode(no_structure, &reading(1));
        assert!(
            matches!(refused, Err(DecodeError::NotAnImage(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn pages_are_drawn_at_8_pixels_a_millimetre_less_when_the_limits_say_so() {
        let options = DecodeOptions::default();
        // A4 is 595 x 842 points.
        let a4 = page_scale(595.0, 842.0, &options).unwrap();
        assert_eq!(a4, PIXELS_PER_POINT);
        assert_eq!(((595.0 * a4) as u32, (842.0 * a4) as u32), (1679, 2376));
        // A 5 m poster (the largest page PDF allows) fits the pixel limit instead.
        let poster = page_scale(14_400.0, 14_400.0, &options).unwrap();
        let side = (14_400.0 * poster) as u64;
        assert!(side * side <= options.max_pixels && side * side > options.max_pixels * 9 / 10);
        // A small memory cap lowers the resolution, not the page.
        let small_cap = DecodeOptions {
            max_decoder_bytes: 12 << 20,
            ..DecodeOptions::default()
        };
        let capped = page_scale(595.0, 842.0, &small_cap).unwrap();
        assert!(((595.0 * capped) * (842.0 * capped)) as u64 * BYTES_PER_PIXEL <= 12 << 20);
        // A ribbon is refused as an image of its shape is; a page without area is broken.
        assert!(matches!(
            page_scale(14_400.0, 10.0, &options),
            Err(DecodeError::TooElongated { .. })
        ));
        assert!(matches!(
            page_scale(0.0, 842.0, &options),
            Err(DecodeError::NotAnImage(_))
        ));
    }
}
