//! The pixel operations of `binarize` and `resize`, each against a definition written plainly.

use super::binarize::*;
use super::resize::*;
use crate::deadline::Deadline;
use crate::testkit::Xorshift;
use image::GrayImage;

#[test]
fn passes_over_a_view_give_up_once_the_deadline_has_passed() {
    let grey = GrayImage::from_fn(200, 120, |x, y| {
        image::Luma([((x * 7 + y * 3) % 256) as u8])
    });
    let passed = Deadline::after(std::time::Instant::now(), std::time::Duration::ZERO);
    assert!(Blocks::of(&grey, passed).is_none());
    assert!(local_average(&grey, passed).is_none());
    assert!(local_midrange(&grey, passed).is_none());
    assert!(otsu(&grey, passed).is_none());
    assert!(downscale(&grey, 2, passed).is_none());
    assert!(downscale(&grey, 3, passed).is_none());
    // The same passes with time left give their results.
    assert!(local_average(&grey, Deadline::NONE).is_some());
    assert!(downscale(&grey, 3, Deadline::NONE).is_some());
}

#[test]
fn halving_one_axis_averages_pairs_of_columns_or_rows_and_drops_an_odd_last_one() {
    let grey = GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 10 + y * 100) as u8]));
    let narrow = halve_width(&grey);
    assert_eq!(narrow.dimensions(), (2, 3));
    // Columns 0 and 1 (0, 10): 5; columns 2 and 3 (20, 30): 25; column 4 left out.
    assert_eq!(narrow.get_pixel(0, 2).0[0], 205);
    assert_eq!(narrow.get_pixel(1, 0).0[0], 25);
    let low = halve_height(&grey);
    assert_eq!(low.dimensions(), (5, 1));
    // Rows 0 and 1 (x * 10, x * 10 + 100): x * 10 + 50.
    assert_eq!(low.get_pixel(3, 0).0[0], 80);
    assert_eq!(halve_width(&GrayImage::new(1, 4)).dimensions(), (0, 4));
}

#[test]
fn box_blur_is_the_mean_of_each_square_with_edges_repeated() {
    let (width, height, radius) = (9usize, 7usize, 3usize);
    let pixels: Vec<u8> = (0..width * height).map(|i| (i * 37 % 256) as u8).collect();
    let blurred = box_blur(&pixels, width, height, radius);
    let at = |x: isize, y: isize| {
        let (x, y) = (
            x.clamp(0, width as isize - 1),
            y.clamp(0, height as isize - 1),
        );
        u32::from(pixels[y as usize * width + x as usize])
    };
    let r = radius as isize;
    for y in 0..height as isize {
        for x in 0..width as isize {
            let sum: u32 = (-r..=r)
                .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
                .map(|(dx, dy)| at(x + dx, y + dy))
                .sum();
            let got = u32::from(blurred[y as usize * width + x as usize]);
            // The multiply-and-shift division rounds up by at most one.
            assert!(
                got == sum / 49 || got == sum / 49 + 1,
                "{x},{y}: {got} vs {sum}"
            );
        }
    }
}

#[test]
fn sharpening_keeps_flat_areas_and_steepens_edges() {
    // A soft ramp from 100 to 160 over 8 pixels between two flat areas.
    let grey = GrayImage::from_fn(40, 20, |x, _| {
        image::Luma([(100 + (x.clamp(16, 24) - 16) * 60 / 8) as u8])
    });
    let sharp = sharpen(&grey, 3, 6);
    assert_eq!(sharp.get_pixel(2, 10).0[0], 100);
    assert_eq!(sharp.get_pixel(37, 10).0[0], 160);
    // Each side of the ramp overshoots: the dark side darker, the light side lighter.
    assert!(sharp.get_pixel(16, 10).0[0] < 100);
    assert!(sharp.get_pixel(24, 10).0[0] > 160);
    assert_eq!(sharpen(&GrayImage::new(0, 0), 3, 6).dimensions(), (0, 0));
}

#[test]
fn local_average_marks_dark_pixels_black_and_light_pixels_white() {
    let grey = GrayImage::from_fn(64, 64, |x, _| image::Luma([if x < 32 { 20 } else { 230 }]));
    let bits = local_average(&grey, Deadline::NONE).unwrap();
    assert!(bits.get(5, 5));
    assert!(!bits.get(60, 5));
}

#[test]
fn local_midrange_thresholds_at_the_middle_and_keeps_flat_areas_light() {
    // A dark square on white: every flat block far from it takes a level from the nearest
    // blocks with contrast, the middle of 20 and 230, so the white stays white.
    let grey = GrayImage::from_fn(200, 120, |x, y| {
        let inside = (90..106).contains(&x) && (40..56).contains(&y);
        image::Luma([if inside { 20 } else { 230 }])
    });
    let bits = local_midrange(&grey, Deadline::NONE).unwrap();
    for y in 0..120 {
        for x in 0..200 {
            let inside = (90..106).contains(&x) && (40..56).contains(&y);
            assert_eq!(bits.get(x, y), inside, "({x}, {y})");
        }
    }
    // A step inside a block splits at the step.
    let skewed = GrayImage::from_fn(64, 64, |x, _| image::Luma([if x < 34 { 200 } else { 100 }]));
    let bits = local_midrange(&skewed, Deadline::NONE).unwrap();
    assert!(!bits.get(33, 10) && bits.get(34, 10));
    // A flat image has no level anywhere: nothing is dark but true black.
    let flat = GrayImage::from_pixel(64, 64, image::Luma([128]));
    assert!((0..64).all(|x| !local_midrange(&flat, Deadline::NONE).unwrap().get(x, 7)));
}

#[test]
fn otsu_splits_a_two_tone_image_between_its_tones() {
    let grey = GrayImage::from_fn(10, 10, |x, _| image::Luma([if x < 5 { 90 } else { 160 }]));
    let bits = otsu(&grey, Deadline::NONE).unwrap();
    assert!(bits.get(0, 0) && bits.get(4, 9));
    assert!(!bits.get(5, 0) && !bits.get(9, 9));
}

/// The 3x3 mean at every pixel, coordinates outside clamped to the edge.
fn blur_by_definition(grey: &GrayImage) -> GrayImage {
    let (width, height) = (i64::from(grey.width()), i64::from(grey.height()));
    let at = |x: i64, y: i64| {
        let (x, y) = (x.clamp(0, width - 1) as u32, y.clamp(0, height - 1) as u32);
        u32::from(grey.get_pixel(x, y).0[0])
    };
    GrayImage::from_fn(grey.width(), grey.height(), |x, y| {
        let (x, y) = (i64::from(x), i64::from(y));
        let sum: u32 = (-1..=1)
            .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| at(x + dx, y + dy))
            .sum();
        image::Luma([(sum / 9) as u8])
    })
}

#[test]
fn blur_is_the_mean_of_each_3x3_neighbourhood_with_edges_repeated() {
    let grey = noise(37, 23);
    assert_eq!(blur(&grey).as_raw(), blur_by_definition(&grey).as_raw());
    let single = GrayImage::from_pixel(1, 1, image::Luma([77]));
    assert_eq!(blur(&single).as_raw(), &vec![77]);
}

#[test]
fn pad_surrounds_the_image_with_its_paper_level() {
    // A dark code touching the left edge of grey paper (level 200), with one glint (255).
    let mut grey = GrayImage::from_fn(40, 30, |x, _| image::Luma([if x < 10 { 0 } else { 200 }]));
    grey.put_pixel(39, 29, image::Luma([255]));
    let padded = pad(&grey, 5);
    assert_eq!((padded.width(), padded.height()), (50, 40));
    assert_eq!(padded.get_pixel(0, 0).0[0], 200);
    assert_eq!(padded.get_pixel(2, 20).0[0], 200);
    assert_eq!(padded.get_pixel(5, 5).0[0], 0);
    assert_eq!(padded.get_pixel(44, 34).0[0], 255);
    assert_eq!(pad(&GrayImage::new(0, 3), 2).dimensions(), (4, 7));
}

/// Pseudo-random pixels (xorshift), the same for the same shape.
fn noise(width: u32, height: u32) -> GrayImage {
    let mut rng = Xorshift(0x9e37_79b9_u32 ^ width.wrapping_mul(31) ^ height);
    GrayImage::from_fn(width, height, |_, _| image::Luma([rng.next() as u8]))
}

/// The degenerate shapes every operation must handle: lines, columns, two-pixel strips,
/// single pixels and long thin bands.
const THIN: [(u32, u32); 9] = [
    (1, 1),
    (1, 2),
    (2, 1),
    (1, 1000),
    (1000, 1),
    (2, 777),
    (777, 2),
    (40, 900),
    (900, 40),
];

/// `downscale` as first written: every sample read, rows and columns past the edge clamped
/// to the last one. Slow on thin images; the reference its results must equal.
fn downscale_by_clamping(grey: &GrayImage, factor: u32) -> GrayImage {
    let (width, height) = (
        (grey.width() / factor).max(1),
        (grey.height() / factor).max(1),
    );
    GrayImage::from_fn(width, height, |x, y| {
        let mut sum = 0u64;
        for sy in y * factor..(y + 1) * factor {
            for sx in x * factor..(x + 1) * factor {
                let (sx, sy) = (sx.min(grey.width() - 1), sy.min(grey.height() - 1));
                sum += u64::from(grey.get_pixel(sx, sy).0[0]);
            }
        }
        image::Luma([(sum / u64::from(factor * factor)) as u8])
    })
}

#[test]
fn downscale_of_any_shape_equals_averaging_blocks_with_edges_repeated() {
    let shapes = THIN
        .into_iter()
        .chain([(41, 17), (64, 64), (3, 3), (101, 99)]);
    for (width, height) in shapes {
        let grey = noise(width, height);
        for factor in [2, 3, 5, 7, 64, 1500] {
            let small = downscale(&grey, factor, Deadline::NONE).unwrap();
            let expected = downscale_by_clamping(&grey, factor);
            assert_eq!(
                small.dimensions(),
                expected.dimensions(),
                "{width}x{height} / {factor}"
            );
            assert_eq!(
                small.as_raw(),
                expected.as_raw(),
                "{width}x{height} / {factor}"
            );
        }
    }
}

#[test]
fn downscale_of_a_line_far_thinner_than_a_block_keeps_one_pixel_across() {
    // The shape of issue 14 (8,000,000 x 1 shrunk by 5,000 to the working view), smaller.
    let line = GrayImage::from_fn(80_000, 1, |x, _| {
        image::Luma([if x < 40_000 { 0 } else { 250 }])
    });
    let small = downscale(&line, 50, Deadline::NONE).unwrap();
    assert_eq!(small.dimensions(), (1600, 1));
    assert_eq!(small.get_pixel(0, 0).0[0], 0);
    assert_eq!(small.get_pixel(1599, 0).0[0], 250);
    let column = GrayImage::from_pixel(1, 80_000, image::Luma([77]));
    let small = downscale(&column, 50, Deadline::NONE).unwrap();
    assert_eq!(small.dimensions(), (1, 1600));
    assert!(small.pixels().all(|p| p.0[0] == 77));
}

#[test]
fn downscale_leaves_an_empty_image_empty_and_treats_factor_zero_as_one() {
    assert_eq!(
        downscale(&GrayImage::new(0, 9), 2, Deadline::NONE)
            .unwrap()
            .dimensions(),
        (0, 4)
    );
    assert_eq!(
        downscale(&GrayImage::new(9, 0), 2, Deadline::NONE)
            .unwrap()
            .dimensions(),
        (4, 0)
    );
    let grey = noise(5, 3);
    assert_eq!(
        downscale(&grey, 0, Deadline::NONE).unwrap().as_raw(),
        grey.as_raw()
    );
}

#[test]
fn double_of_thin_and_empty_images_doubles_each_side() {
    for (width, height) in THIN {
        let flat = GrayImage::from_pixel(width, height, image::Luma([123]));
        let big = double(&flat);
        assert_eq!(big.dimensions(), (2 * width, 2 * height));
        assert!(big.pixels().all(|p| p.0[0] == 123), "{width}x{height}");
    }
    assert_eq!(double(&GrayImage::new(0, 4)).dimensions(), (0, 8));
}

#[test]
fn double_is_images_bilinear_resize_give_or_take_its_rounding() {
    for (width, height) in [(37, 23), (1, 9), (9, 1), (2, 2)] {
        let grey = noise(width, height);
        let reference = image::imageops::resize(
            &grey,
            2 * width,
            2 * height,
            image::imageops::FilterType::Triangle,
        );
        let ours = double(&grey);
        for (a, b) in ours.as_raw().iter().zip(reference.as_raw()) {
            assert!(a.abs_diff(*b) <= 1, "{width}x{height}: {a} against {b}");
        }
    }
}

#[test]
fn blur_of_thin_images_is_the_mean_of_each_neighbourhood_with_edges_repeated() {
    for (width, height) in THIN {
        let grey = noise(width, height);
        assert_eq!(
            blur(&grey).as_raw(),
            blur_by_definition(&grey).as_raw(),
            "{width}x{height}"
        );
    }
    assert_eq!(blur(&GrayImage::new(0, 5)).dimensions(), (0, 5));
}

#[test]
fn pad_of_thin_images_surrounds_them_with_their_paper_level() {
    for (width, height) in THIN {
        let grey = GrayImage::from_pixel(width, height, image::Luma([180]));
        let padded = pad(&grey, 3);
        assert_eq!(padded.dimensions(), (width + 6, height + 6));
        assert!(padded.pixels().all(|p| p.0[0] == 180), "{width}x{height}");
    }
}

#[test]
fn binarizers_of_thin_images_keep_their_shape_and_split_dark_from_light() {
    for (width, height) in THIN.into_iter().filter(|&(w, h)| w * h > 1) {
        // Black first half, light second half, along the long side. Black, not dark grey:
        // a flat block far from any edge is thresholded at half its level.
        let long = width.max(height);
        let grey = GrayImage::from_fn(width, height, |x, y| {
            image::Luma([if x.max(y) < long / 2 { 0 } else { 240 }])
        });
        for bits in [
            local_average(&grey, Deadline::NONE).unwrap(),
            otsu(&grey, Deadline::NONE).unwrap(),
        ] {
            assert_eq!((bits.width(), bits.height()), (width, height));
            assert!(bits.get(0, 0), "{width}x{height}");
            assert!(!bits.get(width - 1, height - 1), "{width}x{height}");
        }
    }
    // rxing's BitMatrix has no empty form.
    assert!(local_average(&GrayImage::new(0, 50), Deadline::NONE).is_none());
    assert!(otsu(&GrayImage::new(50, 0), Deadline::NONE).is_none());
}

#[test]
fn packing_marks_each_pixel_at_or_below_its_level_at_every_width() {
    let mut state = 0x1234_5678u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as u8
    };
    for width in [1, 31, 32, 33, 63, 64, 65, 100, 129, 640] {
        let grey = GrayImage::from_fn(width, 3, |_, _| image::Luma([next()]));
        let levels: Vec<Vec<u8>> = (0..3)
            .map(|_| (0..width).map(|_| next()).collect())
            .collect();
        let bits = pack(&grey, Deadline::NONE, |y, row| {
            row.copy_from_slice(&levels[y])
        })
        .unwrap();
        for (x, y, p) in grey.enumerate_pixels() {
            let dark = p.0[0] <= levels[y as usize][x as usize];
            assert_eq!(bits.get(x, y), dark, "width {width}, pixel ({x}, {y})");
        }
    }
}

#[test]
fn crop_copies_the_part_image_copies_and_clamps_to_the_edges() {
    let grey = GrayImage::from_fn(37, 23, |x, y| image::Luma([(x * 7 + y * 13) as u8]));
    for (x, y, w, h) in [
        (0, 0, 37, 23),
        (5, 3, 10, 7),
        (36, 22, 1, 1),
        (30, 20, 20, 20),
    ] {
        let expected = image::imageops::crop_imm(&grey, x, y, w, h).to_image();
        assert_eq!(crop(&grey, x, y, w, h), expected, "({x}, {y}) {w}x{h}");
    }
    assert_eq!(crop(&grey, 40, 5, 3, 3).dimensions(), (0, 3));
    assert_eq!(crop(&grey, 5, 5, 0, 3).dimensions(), (0, 3));
}

#[test]
fn downscale_averages_blocks() {
    let grey = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 200 }]));
    let small = downscale(&grey, 2, Deadline::NONE).unwrap();
    assert_eq!((small.width(), small.height()), (2, 1));
    assert_eq!(small.get_pixel(0, 0).0[0], 100);
}
