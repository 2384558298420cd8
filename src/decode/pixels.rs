//! Grey-image operations the detection strategies are built from: binarizers (grey -> black and
//! white `BitMatrix`), integer down- and upscaling, and a light blur. Pure functions over
//! `GrayImage`; nothing here knows about QR codes, so each can be tested and timed alone.

use image::GrayImage;
use rxing::common::BitMatrix;

/// zxing's local-average ("hybrid") binarizer, the one zxing-cpp uses by default: the threshold
/// of each 8x8 block is the mean of the 5x5 blocks around it, which survives uneven lighting
/// and shadows. Flat blocks (range under 24) borrow their neighbours' level, so the white
/// inside a large module is not split into noise. Images under 40 pixels a side fall back to
/// Otsu, as zxing falls back to its global histogram.
pub fn local_average(grey: &GrayImage) -> Option<BitMatrix> {
    const BLOCK: usize = 8;
    const MIN_DYNAMIC_RANGE: u32 = 24;
    let (width, height) = (grey.width() as usize, grey.height() as usize);
    if width < BLOCK * 5 || height < BLOCK * 5 {
        return otsu(grey);
    }
    let pixels = grey.as_raw();
    let (sub_width, sub_height) = (width.div_ceil(BLOCK), height.div_ceil(BLOCK));
    let mut black = vec![0u32; sub_width * sub_height];
    for by in 0..sub_height {
        // The last block of a row or column overlaps its neighbour instead of running off the edge.
        let y0 = (by * BLOCK).min(height - BLOCK);
        for bx in 0..sub_width {
            let x0 = (bx * BLOCK).min(width - BLOCK);
            let (mut sum, mut min, mut max) = (0u32, u32::MAX, 0u32);
            for row in pixels[y0 * width..].chunks(width).take(BLOCK) {
                for &p in &row[x0..x0 + BLOCK] {
                    let p = u32::from(p);
                    sum += p;
                    min = min.min(p);
                    max = max.max(p);
                }
            }
            let mut average = sum / (BLOCK * BLOCK) as u32;
            if max - min <= MIN_DYNAMIC_RANGE {
                // A flat block is assumed white (half its minimum) unless its neighbours say the
                // background here is darker; then it takes their level.
                average = min / 2;
                if by > 0 && bx > 0 {
                    let above = black[(by - 1) * sub_width + bx];
                    let left = black[by * sub_width + bx - 1];
                    let diagonal = black[(by - 1) * sub_width + bx - 1];
                    let neighbours = (above + 2 * left + diagonal) / 4;
                    if min < neighbours {
                        average = neighbours;
                    }
                }
            }
            black[by * sub_width + bx] = average;
        }
    }
    let mut bits = BitMatrix::new(width as u32, height as u32).ok()?;
    for by in 0..sub_height {
        let y0 = (by * BLOCK).min(height - BLOCK);
        let top = by.clamp(2, sub_height - 3);
        for bx in 0..sub_width {
            let x0 = (bx * BLOCK).min(width - BLOCK);
            let left = bx.clamp(2, sub_width - 3);
            let mut sum = 0;
            for row in black[(top - 2) * sub_width..].chunks(sub_width).take(5) {
                sum += row[left - 2..=left + 2].iter().sum::<u32>();
            }
            let threshold = sum / 25;
            for y in y0..y0 + BLOCK {
                let row = &pixels[y * width + x0..y * width + x0 + BLOCK];
                for (dx, &p) in row.iter().enumerate() {
                    if u32::from(p) <= threshold {
                        bits.set((x0 + dx) as u32, y as u32);
                    }
                }
            }
        }
    }
    Some(bits)
}

/// One threshold for the whole image, chosen by Otsu's method. Reads codes that the local
/// binarizer breaks up: large modules in flat light, and small images.
pub fn otsu(grey: &GrayImage) -> Option<BitMatrix> {
    let mut histogram = [0u64; 256];
    for &p in grey.as_raw() {
        histogram[usize::from(p)] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let weighted_total: f64 = histogram
        .iter()
        .enumerate()
        .map(|(v, &n)| v as f64 * n as f64)
        .sum();
    let (mut below, mut weighted_below) = (0u64, 0f64);
    let (mut best, mut threshold) = (-1f64, 0u8);
    for (value, &count) in histogram.iter().enumerate() {
        below += count;
        weighted_below += value as f64 * count as f64;
        let above = total - below;
        if below == 0 || above == 0 {
            continue;
        }
        let mean_below = weighted_below / below as f64;
        let mean_above = (weighted_total - weighted_below) / above as f64;
        let between = below as f64 * above as f64 * (mean_below - mean_above).powi(2);
        if between > best {
            best = between;
            threshold = value as u8;
        }
    }
    let mut bits = BitMatrix::new(grey.width(), grey.height()).ok()?;
    for (x, y, p) in grey.enumerate_pixels() {
        if p.0[0] <= threshold {
            bits.set(x, y);
        }
    }
    Some(bits)
}

/// Averages `factor` x `factor` blocks: a smaller image with less noise and JPEG grain, where
/// modules blurred over many pixels become crisp again.
pub fn downscale(grey: &GrayImage, factor: u32) -> GrayImage {
    let (width, height) = (grey.width() / factor, grey.height() / factor);
    let area = factor * factor;
    GrayImage::from_fn(width.max(1), height.max(1), |x, y| {
        let mut sum = 0u32;
        for dy in 0..factor {
            for dx in 0..factor {
                let (sx, sy) = (x * factor + dx, y * factor + dy);
                sum += u32::from(
                    grey.get_pixel(sx.min(grey.width() - 1), sy.min(grey.height() - 1))
                        .0[0],
                );
            }
        }
        image::Luma([(sum / area) as u8])
    })
}

/// Bilinear upscaling: gives the finder-pattern scan several pixels per module on tiny codes.
pub fn upscale(grey: &GrayImage, factor: u32) -> GrayImage {
    image::imageops::resize(
        grey,
        grey.width() * factor,
        grey.height() * factor,
        image::imageops::FilterType::Triangle,
    )
}

/// Copies the image onto a white canvas `margin` pixels larger on each side.
pub fn pad(grey: &GrayImage, margin: u32) -> GrayImage {
    let mut out = GrayImage::from_pixel(
        grey.width() + 2 * margin,
        grey.height() + 2 * margin,
        image::Luma([255]),
    );
    image::imageops::replace(&mut out, grey, i64::from(margin), i64::from(margin));
    out
}

/// A 3x3 box blur: closes the gaps that print dots and screen moiré leave inside modules.
pub fn blur(grey: &GrayImage) -> GrayImage {
    let (width, height) = (grey.width() as i64, grey.height() as i64);
    GrayImage::from_fn(grey.width(), grey.height(), |x, y| {
        let mut sum = 0u32;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let sx = (i64::from(x) + dx).clamp(0, width - 1) as u32;
                let sy = (i64::from(y) + dy).clamp(0, height - 1) as u32;
                sum += u32::from(grey.get_pixel(sx, sy).0[0]);
            }
        }
        image::Luma([(sum / 9) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_average_marks_dark_pixels_black_and_light_pixels_white() {
        let grey = GrayImage::from_fn(64, 64, |x, _| image::Luma([if x < 32 { 20 } else { 230 }]));
        let bits = local_average(&grey).unwrap();
        assert!(bits.get(5, 5));
        assert!(!bits.get(60, 5));
    }

    #[test]
    fn otsu_splits_a_two_tone_image_between_its_tones() {
        let grey = GrayImage::from_fn(10, 10, |x, _| image::Luma([if x < 5 { 90 } else { 160 }]));
        let bits = otsu(&grey).unwrap();
        assert!(bits.get(0, 0) && bits.get(4, 9));
        assert!(!bits.get(5, 0) && !bits.get(9, 9));
    }

    #[test]
    fn downscale_averages_blocks() {
        let grey = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 200 }]));
        let small = downscale(&grey, 2);
        assert_eq!((small.width(), small.height()), (2, 1));
        assert_eq!(small.get_pixel(0, 0).0[0], 100);
    }
}
