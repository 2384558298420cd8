//! Grey-image operations the detection strategies are built from: binarizers (grey -> black and
//! white `BitMatrix`), integer down- and upscaling, and a light blur. Pure functions over
//! `GrayImage`; nothing here knows about QR codes, so each can be tested and timed alone.

use image::GrayImage;
use rxing::common::{BitArray, BitFieldBaseType, BitMatrix, BIT_FIELD_BASE_BITS};

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
    // Sum, minimum and maximum of each column over a band of BLOCK rows, then of each block over
    // BLOCK columns: element-wise passes over whole rows, which the compiler vectorises.
    let (mut sums, mut mins, mut maxes) = (vec![0u16; width], vec![0u8; width], vec![0u8; width]);
    for by in 0..sub_height {
        // The last block of a row or column overlaps its neighbour instead of running off the edge.
        let y0 = (by * BLOCK).min(height - BLOCK);
        let band = &pixels[y0 * width..(y0 + BLOCK) * width];
        sums.iter_mut()
            .zip(band)
            .for_each(|(s, &p)| *s = u16::from(p));
        mins.copy_from_slice(&band[..width]);
        maxes.copy_from_slice(&band[..width]);
        for row in band.chunks_exact(width).skip(1) {
            sums.iter_mut()
                .zip(row)
                .for_each(|(s, &p)| *s += u16::from(p));
            mins.iter_mut()
                .zip(row)
                .for_each(|(m, &p)| *m = (*m).min(p));
            maxes
                .iter_mut()
                .zip(row)
                .for_each(|(m, &p)| *m = (*m).max(p));
        }
        for bx in 0..sub_width {
            let x0 = (bx * BLOCK).min(width - BLOCK);
            let columns = x0..x0 + BLOCK;
            let sum: u32 = sums[columns.clone()].iter().map(|&s| u32::from(s)).sum();
            let min = u32::from(*mins[columns.clone()].iter().min().unwrap_or(&0));
            let max = u32::from(*maxes[columns].iter().max().unwrap_or(&0));
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
    let mut thresholds = vec![0u32; sub_width * sub_height];
    for by in 0..sub_height {
        let top = by.clamp(2, sub_height - 3);
        for bx in 0..sub_width {
            let left = bx.clamp(2, sub_width - 3);
            let mut sum = 0;
            for row in black[(top - 2) * sub_width..].chunks(sub_width).take(5) {
                sum += row[left - 2..=left + 2].iter().sum::<u32>();
            }
            thresholds[by * sub_width + bx] = sum / 25;
        }
    }
    // The last block of a row or column is shifted to end at the edge, so it owns the pixels
    // it shares with its neighbour.
    let block = |at: usize, size: usize, count: usize| {
        if at >= size - BLOCK {
            count - 1
        } else {
            at / BLOCK
        }
    };
    let block_x: Vec<usize> = (0..width).map(|x| block(x, width, sub_width)).collect();
    let mut band = usize::MAX;
    pack(grey, |y, levels| {
        // Rows of one band of blocks share their thresholds: spread them out once per band.
        let by = block(y, height, sub_height);
        if by != band {
            band = by;
            let row = &thresholds[by * sub_width..(by + 1) * sub_width];
            for (level, &bx) in levels.iter_mut().zip(&block_x) {
                *level = row[bx] as u8;
            }
        }
    })
}

/// Builds a `BitMatrix` a row of machine words at a time: a pixel is set (dark) when it is at
/// or below its level, which `levels(y, levels)` writes for row `y` (or leaves as they were).
/// Branch-free: whether a pixel is dark is data the CPU cannot predict, and a branch per pixel
/// cost more than the rest of the binarizer.
fn pack(grey: &GrayImage, mut levels: impl FnMut(usize, &mut [u8])) -> Option<BitMatrix> {
    let width = grey.width() as usize;
    let mut bits = BitMatrix::new(grey.width(), grey.height()).ok()?;
    let mut row_levels = vec![0u8; width];
    let mut packed = BitArray::with_size(width);
    for (y, row) in grey.as_raw().chunks_exact(width).enumerate() {
        levels(y, &mut row_levels);
        let words = row
            .chunks(BIT_FIELD_BASE_BITS)
            .zip(row_levels.chunks(BIT_FIELD_BASE_BITS));
        for (j, (pixels, levels)) in words.enumerate() {
            // Bit i of word j is column j * BITS + i, as in rxing's BitMatrix rows.
            let mut word: BitFieldBaseType = 0;
            for (k, (pixels, levels)) in pixels.chunks(8).zip(levels.chunks(8)).enumerate() {
                let mut dark = [0u8; 8];
                for ((d, &p), &level) in dark.iter_mut().zip(pixels).zip(levels) {
                    *d = u8::from(p <= level);
                }
                // Eight 0/1 bytes to eight bits, byte i to bit i, in one multiplication.
                let byte = u64::from_le_bytes(dark).wrapping_mul(0x0102_0408_1020_4080) >> 56;
                word |= (byte as BitFieldBaseType) << (8 * k);
            }
            packed.setBulk(j * BIT_FIELD_BASE_BITS, word);
        }
        bits.setRow(y as u32, &packed);
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
    pack(grey, |_, levels| levels.fill(threshold))
}

/// Averages `factor` x `factor` blocks: a smaller image with less noise and JPEG grain, where
/// modules blurred over many pixels become crisp again.
pub fn downscale(grey: &GrayImage, factor: u32) -> GrayImage {
    let (width, height) = (
        (grey.width() / factor).max(1),
        (grey.height() / factor).max(1),
    );
    let (source_width, f) = (grey.width() as usize, factor as usize);
    let pixels = grey.as_raw();
    let mut sums = vec![0u32; width as usize];
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height as usize {
        sums.iter_mut().for_each(|s| *s = 0);
        // Images smaller than one block in a direction reuse their last row or column.
        let rows = (y * f..y * f + f).map(|sy| sy.min(grey.height() as usize - 1));
        for sy in rows {
            let row = &pixels[sy * source_width..(sy + 1) * source_width];
            for (x, sum) in sums.iter_mut().enumerate() {
                for sx in x * f..x * f + f {
                    *sum += u32::from(row[sx.min(source_width - 1)]);
                }
            }
        }
        out.extend(sums.iter().map(|s| (s / (factor * factor)) as u8));
    }
    GrayImage::from_raw(width, height, out).unwrap_or_else(|| GrayImage::new(width, height))
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

/// A 3x3 box blur: closes the gaps that print dots and screen moiré leave inside modules, and
/// averages out sensor noise that breaks a finder pattern's runs. Edges repeat their last
/// pixel. Separable: three-pixel sums along each row, then three of those down each column,
/// each an element-wise pass the compiler vectorises.
pub fn blur(grey: &GrayImage) -> GrayImage {
    let (width, height) = (grey.width() as usize, grey.height() as usize);
    if width == 0 || height == 0 {
        return grey.clone();
    }
    let row_sums: Vec<u16> = grey
        .as_raw()
        .chunks_exact(width)
        .flat_map(|row| {
            (0..width).map(move |x| {
                let left = row[x.saturating_sub(1)];
                let right = row[(x + 1).min(width - 1)];
                u16::from(left) + u16::from(row[x]) + u16::from(right)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = |y: usize| &row_sums[y * width..(y + 1) * width];
        let (above, here, below) = (
            row(y.saturating_sub(1)),
            row(y),
            row((y + 1).min(height - 1)),
        );
        out.extend(
            above
                .iter()
                .zip(here)
                .zip(below)
                .map(|((&a, &h), &b)| ((u32::from(a) + u32::from(h) + u32::from(b)) / 9) as u8),
        );
    }
    GrayImage::from_raw(grey.width(), grey.height(), out).unwrap_or_else(|| grey.clone())
}

/// `grey` inside a margin of `margin` pixels on every side, filled with the lightest level
/// that a twentieth of its edge pixels reach: the paper around a code cut at the edge.
pub fn pad(grey: &GrayImage, margin: u32) -> GrayImage {
    let (width, height) = (grey.width(), grey.height());
    if width == 0 || height == 0 {
        return GrayImage::from_pixel(width + 2 * margin, height + 2 * margin, image::Luma([255]));
    }
    let mut edge: Vec<u8> = (0..width)
        .flat_map(|x| {
            [
                grey.get_pixel(x, 0).0[0],
                grey.get_pixel(x, height - 1).0[0],
            ]
        })
        .chain(
            (0..height)
                .flat_map(|y| [grey.get_pixel(0, y).0[0], grey.get_pixel(width - 1, y).0[0]]),
        )
        .collect();
    let at = edge.len() - 1 - edge.len() / 20;
    let level = *edge.select_nth_unstable(at).1;
    let mut padded = GrayImage::from_pixel(
        width + 2 * margin,
        height + 2 * margin,
        image::Luma([level]),
    );
    image::imageops::replace(&mut padded, grey, i64::from(margin), i64::from(margin));
    padded
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
    fn blur_is_the_mean_of_each_3x3_neighbourhood_with_edges_repeated() {
        let mut state = 0x9e37_79b9_u32;
        let grey = GrayImage::from_fn(37, 23, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            image::Luma([state as u8])
        });
        let blurred = blur(&grey);
        let at = |x: i64, y: i64| {
            let x = x.clamp(0, 36) as u32;
            let y = y.clamp(0, 22) as u32;
            u32::from(grey.get_pixel(x, y).0[0])
        };
        for (x, y, pixel) in blurred.enumerate_pixels() {
            let (x, y) = (i64::from(x), i64::from(y));
            let sum: u32 = (-1..=1)
                .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
                .map(|(dx, dy)| at(x + dx, y + dy))
                .sum();
            assert_eq!(u32::from(pixel.0[0]), sum / 9, "at {x},{y}");
        }
        let single = GrayImage::from_pixel(1, 1, image::Luma([77]));
        assert_eq!(blur(&single).as_raw(), &vec![77]);
    }

    #[test]
    fn pad_surrounds_the_image_with_its_paper_level() {
        // A dark code touching the left edge of grey paper (level 200), with one glint (255).
        let mut grey =
            GrayImage::from_fn(40, 30, |x, _| image::Luma([if x < 10 { 0 } else { 200 }]));
        grey.put_pixel(39, 29, image::Luma([255]));
        let padded = pad(&grey, 5);
        assert_eq!((padded.width(), padded.height()), (50, 40));
        assert_eq!(padded.get_pixel(0, 0).0[0], 200);
        assert_eq!(padded.get_pixel(2, 20).0[0], 200);
        assert_eq!(padded.get_pixel(5, 5).0[0], 0);
        assert_eq!(padded.get_pixel(44, 34).0[0], 255);
        assert_eq!(pad(&GrayImage::new(0, 3), 2).dimensions(), (4, 7));
    }

    #[test]
    fn downscale_averages_blocks() {
        let grey = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 200 }]));
        let small = downscale(&grey, 2);
        assert_eq!((small.width(), small.height()), (2, 1));
        assert_eq!(small.get_pixel(0, 0).0[0], 100);
    }
}
