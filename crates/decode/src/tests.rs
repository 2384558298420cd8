//! The decoder end to end on generated images, and the evidence the search keeps.

use super::testkit::{assert_centre, assert_corners, micro_qr, qr_field};
use super::*;
use image::GrayImage;
use std::time::Instant;

/// `grey` turned clockwise by `degrees` (a multiple of 90), and where a point of it goes.
fn turned(grey: &GrayImage, degrees: u32) -> (GrayImage, impl Fn([f32; 2]) -> [f32; 2]) {
    let (w, h) = (grey.width() as f32, grey.height() as f32);
    let image = match degrees {
        90 => image::imageops::rotate90(grey),
        180 => image::imageops::rotate180(grey),
        270 => image::imageops::rotate270(grey),
        _ => grey.clone(),
    };
    let map = move |[x, y]: [f32; 2]| match degrees {
        90 => [h - y, x],
        180 => [w - x, h - y],
        270 => [y, w - x],
        _ => [x, y],
    };
    (image, map)
}

#[test]
fn a_micro_qr_code_is_read_at_any_turn_with_its_format_version_and_corners() {
    let (scale, quiet) = (4, 8.0);
    let symbol = micro_qr("MICRO-QR1", 3, scale);
    // M3 is 15 modules a side; corners are the symbol's own, finder pattern first.
    let (near, far) = (quiet, quiet + 15.0 * scale as f32);
    let corners = [[near, near], [far, near], [far, far], [near, far]];
    for degrees in [0, 90, 180, 270] {
        let (image, map) = turned(&symbol, degrees);
        let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes.len(), 1, "at {degrees}");
        let code = &codes[0];
        assert_eq!(code.content.text, "MICRO-QR1");
        assert_eq!(code.format, Format::MicroQRCode);
        assert_eq!((code.version, code.ec_level), (3, EcLevel::M));
        assert_corners(code, corners.map(&map));
    }
}

#[test]
fn a_mirrored_or_light_on_dark_micro_qr_code_is_read() {
    let symbol = micro_qr("12345678", 2, 5);
    let mut mirrored = image::imageops::flip_horizontal(&symbol);
    let code = &decode_luma(&mirrored, &DecodeOptions::default(), Instant::now()).unwrap()[0];
    assert_eq!(
        (code.content.text.as_str(), code.format),
        ("12345678", Format::MicroQRCode)
    );
    image::imageops::invert(&mut mirrored);
    let code = &decode_luma(&mirrored, &DecodeOptions::default(), Instant::now()).unwrap()[0];
    assert_eq!(code.content.text, "12345678");
}

#[test]
fn an_rmqr_code_is_read_at_any_turn_with_its_format_version_and_corners() {
    // fixtures/README.md: R13x43 (version 18), level M, 4 px per module, 2-module margin.
    let bytes = include_bytes!("../../../fixtures/rmqr-r13x43.png");
    let expected = include_str!("../../../fixtures/rmqr-r13x43.txt");
    let grey = load_luma(bytes, &DecodeOptions::default()).unwrap();
    let (near, right, bottom) = (8.0, 8.0 + 43.0 * 4.0, 8.0 + 13.0 * 4.0);
    let corners = [[near, near], [right, near], [right, bottom], [near, bottom]];
    for degrees in [0, 90, 180, 270] {
        let (image, map) = turned(&grey, degrees);
        let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes.len(), 1, "at {degrees}");
        let code = &codes[0];
        assert_eq!(code.content.text, expected);
        assert_eq!(code.format, Format::RMQRCode);
        assert_eq!((code.version, code.ec_level), (18, EcLevel::M));
        assert_corners(code, corners.map(&map));
    }
}

#[test]
fn a_qr_model_1_symbol_is_read_at_any_turn() {
    // fixtures/README.md: zxing-cpp's sample, Model 1's format mask and no alignment pattern.
    let bytes = include_bytes!("../../../fixtures/qr-model-1.png");
    let grey = load_luma(bytes, &DecodeOptions::default()).unwrap();
    for degrees in [0, 90, 180, 270] {
        let (image, _) = turned(&grey, degrees);
        let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes.len(), 1, "at {degrees}");
        // The trailing space is the symbol's (zxing-cpp's expected text has it too).
        assert_eq!(codes[0].content.text, "QR Code Model 1 ", "at {degrees}");
        assert_eq!(codes[0].format, Format::QRCode);
    }
}

/// Model 1 lays a symbol's blocks out one after the other, where Model 2 interleaves them: read
/// as Model 2 reads them, a symbol of two blocks is beyond correction.
#[test]
fn a_qr_model_1_symbol_of_two_blocks_is_read_at_any_turn() {
    // fixtures/README.md: zxing-cpp's sample #940, version 5-H (two blocks of 23 data and 44
    // error-correction codewords), one pixel a module, four codewords wrong.
    let bytes = include_bytes!("../../../fixtures/qr-model-1-v5.png");
    let grey = load_luma(bytes, &DecodeOptions::default()).unwrap();
    for degrees in [0, 90, 180, 270] {
        let (image, _) = turned(&grey, degrees);
        let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes.len(), 1, "at {degrees}");
        let code = &codes[0];
        assert_eq!(
            code.content.text, "N023X-3431800-V034PG03X-3436010-A1125032918310706",
            "at {degrees}"
        );
        assert_eq!(
            (code.format, code.version, code.ec_level),
            (Format::QRCode, 5, EcLevel::H)
        );
        // Four wrong codewords (three in the first block, one in the second) of 2 x 22.
        assert_eq!(
            (code.correction.corrected, code.correction.capacity),
            (4, 44)
        );
    }
}

#[test]
fn only_the_formats_asked_for_are_looked_for() {
    let micro = micro_qr("MICRO-QR1", 3, 4);
    let qr_only = DecodeOptions {
        formats: Formats::QR,
        ..DecodeOptions::default()
    };
    let found = decode_luma(&micro, &qr_only, Instant::now());
    assert_eq!(found.unwrap_err(), DecodeError::NoCode);
    let rmqr_only = DecodeOptions {
        formats: Formats::parse("rmqr").unwrap(),
        ..DecodeOptions::default()
    };
    assert!(decode_luma(&micro, &rmqr_only, Instant::now()).is_err());
    let qr = qr_field("https://example.com/qr", 4, 1);
    let micro_only = DecodeOptions {
        formats: Formats::parse("microqr,rmqr").unwrap(),
        ..DecodeOptions::default()
    };
    assert!(decode_luma(&qr, &micro_only, Instant::now()).is_err());
    let code = &decode_luma(&qr, &DecodeOptions::default(), Instant::now()).unwrap()[0];
    assert_eq!(code.format, Format::QRCode);
}

/// A code photographed tight: no quiet zone and half of the finder patterns' outer ring cut
/// off, as by a tight crop of a photo (the scan cannot confirm patterns that start at the
/// image's edge). Light noise keeps it from being read as a generated image.
fn cropped_tight(text: &str) -> GrayImage {
    cropped_tight_stretched(text, 1.0)
}

/// `cropped_tight`, `stretch` times as wide as high: a photo is never square to the sensor, and
/// a square, unskewed crop is read by the pure detector (`detect::pure`), which turns by the
/// corner without a finder pattern and needs none of the padded view.
fn cropped_tight_stretched(text: &str, stretch: f32) -> GrayImage {
    let scale = 6;
    let code = qr_field(text, scale, 1);
    // Cut through the outer ring of the finder patterns, half a module in.
    let quiet = 4 * scale + scale / 2;
    let side = code.width() - 2 * quiet;
    let width = (side as f32 * stretch).round() as u32;
    let mut state = 0x1234_5677_u32;
    GrayImage::from_fn(width, side, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let source = ((x as f32 / stretch) as u32).min(side - 1);
        let pixel = i32::from(code.get_pixel(source + quiet, y + quiet).0[0]);
        let noise = i32::from(state as u8 % 41) - 20;
        image::Luma([(pixel + noise).clamp(0, 255) as u8])
    })
}

/// A code under heavy sensor noise: about 60 grey levels (the sum of four uniform draws), which
/// breaks the runs of the finder patterns for the 8x8 local threshold.
fn noisy(text: &str) -> GrayImage {
    let clean = qr_field(text, 6, 1);
    let mut state = 0x2545_f491_u32;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        i32::from(state as u8) - 128
    };
    GrayImage::from_fn(clean.width(), clean.height(), |x, y| {
        let noise: i32 = (0..4).map(|_| uniform()).sum::<i32>() * 60 / 148;
        let pixel = i32::from(clean.get_pixel(x, y).0[0]) + noise;
        image::Luma([pixel.clamp(0, 255) as u8])
    })
}

/// A code photographed at a steep angle: foreshortened across to 1/2.8 of its width, which the
/// finder-pattern scan's cross-checks reject in every view but a squashed one.
fn steep(text: &str) -> GrayImage {
    let flat = qr_field(text, 6, 1);
    let narrow = image::imageops::resize(
        &flat,
        (flat.width() as f32 / 2.8) as u32,
        flat.height(),
        image::imageops::FilterType::Triangle,
    );
    let mut page = GrayImage::from_pixel(
        narrow.width() + 80,
        narrow.height() + 80,
        image::Luma([255]),
    );
    image::imageops::replace(&mut page, &narrow, 40, 40);
    page
}

/// A code out of focus: a Gaussian blur of 4 pixels at 6 pixels a module, single modules faded
/// into their neighbours' grey.
fn out_of_focus(text: &str) -> GrayImage {
    image::imageops::blur(&qr_field(text, 6, 1), 4.0)
}

#[test]
fn codes_photographed_badly_are_read_where_they_are() {
    let text = "https://example.com/photographed-badly";
    let cases = [
        ("cropped tight", cropped_tight(text)),
        ("noisy", noisy(text)),
        ("steep, tilted about a horizontal axis", steep(text)),
        (
            "steep, tilted about a vertical axis",
            image::imageops::rotate90(&steep(text)),
        ),
        ("out of focus", out_of_focus(text)),
    ];
    for (case, image) in cases {
        let codes = decode_luma(&image, &DecodeOptions::default(), Instant::now())
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(codes.len(), 1, "{case}");
        assert_eq!(codes[0].content.text, text, "{case}");
        // Points are in the image's pixels, not a padded or squashed view's.
        let centre = [image.width() as f32 / 2.0, image.height() as f32 / 2.0];
        assert_centre(&codes[0].points, centre);
    }
}

/// The plan's rows that exist for a class of photo, each with a photo of that class: the row
/// alone reads it, and the rows before it in the plan do not (which is why the row is there).
/// What runs first and reads what may change with the plan; this table says what each row is
/// for, and fails when a row stops doing it.
#[test]
fn each_row_of_the_plan_for_a_class_of_photo_reads_that_class_and_the_rows_before_it_do_not() {
    let text = "https://example.com/plan-row";
    let table: [(&str, GrayImage); 5] = [
        (
            "finder/padded/localaverage",
            cropped_tight_stretched(text, 1.06),
        ),
        ("finder/blurred/otsu", noisy(text)),
        ("finder-around/halfheight/localaverage", steep(text)),
        (
            "finder-around/halfwidth/localaverage",
            image::imageops::rotate90(&steep(text)),
        ),
        (
            "finder-around-sharpened/working/localaverage",
            out_of_focus(text),
        ),
    ];
    for (label, image) in table {
        let row = PLAN
            .iter()
            .position(|step| step.strategy.label() == label)
            .unwrap_or_else(|| panic!("{label} is not a row of the plan"));
        let reads = |strategy| {
            run_strategy(&image, strategy, Formats::default())
                .iter()
                .any(|code| code.content.text == text)
        };
        assert!(reads(PLAN[row].strategy), "{label} does not read its case");
        let whole_view_rows_before = PLAN[..row]
            .iter()
            .filter(|step| step.strategy.looks_at() == LooksAt::WholeView);
        for step in whole_view_rows_before {
            assert!(
                !reads(step.strategy),
                "{} reads {label}'s case before it",
                step.strategy.label()
            );
        }
    }
}
