//! Binarizers: a grey view -> the black and white `BitMatrix` the finder-pattern scan reads.
//! zxing's local average, zxing-cpp's local midrange (both from one pass of 8x8 block
//! statistics, `Blocks`) and one global Otsu threshold. Pure functions over `GrayImage`;
//! nothing here knows about QR codes. Each pass over a whole view takes the decode's `Deadline`
//! and gives up, returning `None`, once it passes: on a 40 MP image each is tens of
//! milliseconds, and an unchecked one started just before the deadline overran it by as much.

use image::GrayImage;
use rxing::common::{BitArray, BitFieldBaseType, BitMatrix, BIT_FIELD_BASE_BITS};

use crate::deadline::Deadline;

/// How a grey view becomes black and white for the finder-pattern detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binarizer {
    /// zxing's local-average threshold over 8x8 blocks: robust to shadows and gradients.
    LocalAverage,
    /// zxing-cpp's current local threshold: the middle of each 8x8 block's range, averaged
    /// over the blocks around it that have contrast.
    LocalMidrange,
    /// One global threshold (Otsu): keeps large flat modules whole.
    Otsu,
}

/// `grey` binarized by `binarizer`; `None` once `deadline` passes.
pub fn binarize(grey: &GrayImage, binarizer: Binarizer, deadline: Deadline) -> Option<BitMatrix> {
    match binarizer {
        Binarizer::LocalAverage => local_average(grey, deadline),
        Binarizer::LocalMidrange => local_midrange(grey, deadline),
        Binarizer::Otsu => otsu(grey, deadline),
    }
}

/// Rows between two looks at the deadline in a pass over a view: a 6,324-pixel row costs a few
/// microseconds, so 64 of them well under a millisecond, and the clock is read a hundred times
/// in a 40 MP pass.
pub(super) const ROWS_PER_CHECK: usize = 64;

/// zxing's local-average ("hybrid") binarizer, the one zxing-cpp uses by default: the threshold
/// of each 8x8 block is the mean of the 5x5 blocks around it, which survives uneven lighting
/// and shadows. Flat blocks (range under 24) borrow their neighbours' level, so the white
/// inside a large module is not split into noise. Images under 40 pixels a side fall back to
/// Otsu, as zxing falls back to its global histogram.
pub fn local_average(grey: &GrayImage, deadline: Deadline) -> Option<BitMatrix> {
    local_average_of(grey, Blocks::of(grey, deadline).as_ref(), deadline)
}

/// `local_average` from the image's blocks, made once for both local binarizers of a view.
pub fn local_average_of(
    grey: &GrayImage,
    blocks: Option<&Blocks>,
    deadline: Deadline,
) -> Option<BitMatrix> {
    let Some(blocks) = blocks else {
        return without_blocks(grey, deadline);
    };
    let (sub_width, sub_height) = (blocks.width, blocks.height);
    let mut black = vec![0u32; sub_width * sub_height];
    for by in 0..sub_height {
        for bx in 0..sub_width {
            let at = by * sub_width + bx;
            let (min, max) = (u32::from(blocks.min[at]), u32::from(blocks.max[at]));
            let mut average = blocks.sum[at] / (BLOCK * BLOCK) as u32;
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
            black[at] = average;
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
    blocks.threshold(grey, &thresholds, deadline)
}

/// What the local binarizers fall back to without blocks: Otsu for an image too small for them,
/// nothing when the deadline passed while they were made (a pass of Otsu's over the whole view
/// would overrun it).
fn without_blocks(grey: &GrayImage, deadline: Deadline) -> Option<BitMatrix> {
    (!deadline.passed()).then(|| otsu(grey, deadline)).flatten()
}

/// zxing-cpp's current local threshold (its "new algorithm"): each 8x8 block with contrast
/// (range over 24) proposes the middle of its range, the proposals are averaged over the 5x5
/// blocks around each block (its own counted three times), ignoring flat blocks, and blocks
/// with no contrast anywhere near take the next level in reading order. Unlike the mean of
/// `local_average`, the middle of the range does not lean towards whichever colour fills more
/// of a block, so module edges stay where they are on blurred or ink-spread prints.
pub fn local_midrange(grey: &GrayImage, deadline: Deadline) -> Option<BitMatrix> {
    local_midrange_of(grey, Blocks::of(grey, deadline).as_ref(), deadline)
}

/// `local_midrange` from the image's blocks, made once for both local binarizers of a view.
pub fn local_midrange_of(
    grey: &GrayImage,
    blocks: Option<&Blocks>,
    deadline: Deadline,
) -> Option<BitMatrix> {
    let Some(blocks) = blocks else {
        return without_blocks(grey, deadline);
    };
    let (sub_width, sub_height) = (blocks.width, blocks.height);
    let proposed: Vec<u32> = blocks
        .min
        .iter()
        .zip(&blocks.max)
        .map(|(&min, &max)| {
            let (min, max) = (u32::from(min), u32::from(max));
            if max - min > MIN_DYNAMIC_RANGE {
                (max + min) / 2
            } else {
                0
            }
        })
        .collect();
    let mut thresholds = vec![0u32; sub_width * sub_height];
    for by in 0..sub_height {
        let top = by.clamp(2, sub_height - 3);
        for bx in 0..sub_width {
            let left = bx.clamp(2, sub_width - 3);
            let own = proposed[by * sub_width + bx];
            let (mut sum, mut count) = (own * 2, u32::from(own > 0) * 2);
            for row in proposed[(top - 2) * sub_width..].chunks(sub_width).take(5) {
                for &level in &row[left - 2..=left + 2] {
                    sum += level;
                    count += u32::from(level > 0);
                }
            }
            thresholds[by * sub_width + bx] = sum.checked_div(count).unwrap_or(0);
        }
    }
    // Flat regions wider than the window take the next level in reading order; the tail takes
    // the last one.
    let mut next = thresholds
        .iter()
        .rev()
        .copied()
        .find(|&t| t > 0)
        .unwrap_or(0);
    for level in thresholds.iter_mut().rev() {
        if *level > 0 {
            next = *level;
        } else {
            *level = next;
        }
    }
    blocks.threshold(grey, &thresholds, deadline)
}

/// The side of the blocks of the local binarizers, and the range under which a block is flat:
/// zxing's `HybridBinarizer` values (BLOCK_SIZE 8, MIN_DYNAMIC_RANGE 24), which zxing-cpp keeps.
const BLOCK: usize = 8;
const MIN_DYNAMIC_RANGE: u32 = 24;

/// Sum, minimum and maximum of each 8x8 block of an image, in reading order. The last block
/// of a row or column overlaps its neighbour instead of running off the edge.
pub struct Blocks {
    width: usize,
    height: usize,
    sum: Vec<u32>,
    min: Vec<u8>,
    max: Vec<u8>,
}

impl Blocks {
    /// `None` for images under 5 blocks a side, too small for a 5x5 window, and once
    /// `deadline` passes.
    pub fn of(grey: &GrayImage, deadline: Deadline) -> Option<Blocks> {
        let (width, height) = (grey.width() as usize, grey.height() as usize);
        if width < BLOCK * 5 || height < BLOCK * 5 {
            return None;
        }
        let pixels = grey.as_raw();
        let (sub_width, sub_height) = (width.div_ceil(BLOCK), height.div_ceil(BLOCK));
        let mut blocks = Blocks {
            width: sub_width,
            height: sub_height,
            sum: Vec::with_capacity(sub_width * sub_height),
            min: Vec::with_capacity(sub_width * sub_height),
            max: Vec::with_capacity(sub_width * sub_height),
        };
        // Each column over a band of BLOCK rows, then each block over BLOCK columns:
        // element-wise passes over whole rows, which the compiler vectorises.
        let (mut sums, mut mins, mut maxes) =
            (vec![0u16; width], vec![0u8; width], vec![0u8; width]);
        for by in 0..sub_height {
            if by % (ROWS_PER_CHECK / BLOCK) == 0 && deadline.passed() {
                return None;
            }
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
                blocks
                    .sum
                    .push(sums[columns.clone()].iter().map(|&s| u32::from(s)).sum());
                blocks
                    .min
                    .push(*mins[columns.clone()].iter().min().unwrap_or(&0));
                blocks.max.push(*maxes[columns].iter().max().unwrap_or(&0));
            }
        }
        Some(blocks)
    }

    /// Marks each pixel dark when it is at or below its block's threshold.
    fn threshold(
        &self,
        grey: &GrayImage,
        thresholds: &[u32],
        deadline: Deadline,
    ) -> Option<BitMatrix> {
        let (width, height) = (grey.width() as usize, grey.height() as usize);
        let (sub_width, sub_height) = (self.width, self.height);
        // The last block of a row or column is shifted to end at the edge, so it owns the
        // pixels it shares with its neighbour.
        let block = |at: usize, size: usize, count: usize| {
            if at >= size - BLOCK {
                count - 1
            } else {
                at / BLOCK
            }
        };
        let block_x: Vec<usize> = (0..width).map(|x| block(x, width, sub_width)).collect();
        let mut band = usize::MAX;
        pack(grey, deadline, |y, levels| {
            // Rows of one band of blocks share their thresholds: spread them out once per band.
            let by = block(y, height, sub_height);
            if by != band {
                band = by;
                let row = &thresholds[by * sub_width..(by + 1) * sub_width];
                for (level, &bx) in levels.iter_mut().zip(&block_x) {
                    *level = row[bx].min(255) as u8;
                }
            }
        })
    }
}

/// Builds a `BitMatrix` a row of machine words at a time: a pixel is set (dark) when it is at
/// or below its level, which `levels(y, levels)` writes for row `y` (or leaves as they were).
/// Branch-free: whether a pixel is dark is data the CPU cannot predict, and a branch per pixel
/// cost more than the rest of the binarizer. `None` once `deadline` passes.
pub(super) fn pack(
    grey: &GrayImage,
    deadline: Deadline,
    mut levels: impl FnMut(usize, &mut [u8]),
) -> Option<BitMatrix> {
    let width = grey.width() as usize;
    let mut bits = BitMatrix::new(grey.width(), grey.height()).ok()?;
    let mut row_levels = vec![0u8; width];
    let mut packed = BitArray::with_size(width);
    for (y, row) in grey.as_raw().chunks_exact(width).enumerate() {
        if y % ROWS_PER_CHECK == 0 && deadline.passed() {
            return None;
        }
        levels(y, &mut row_levels);
        // Bit i of word j is column j * BITS + i, as in rxing's BitMatrix rows.
        let full = width - width % BIT_FIELD_BASE_BITS;
        let words = row[..full]
            .chunks_exact(BIT_FIELD_BASE_BITS)
            .zip(row_levels[..full].chunks_exact(BIT_FIELD_BASE_BITS));
        for (j, (pixels, levels)) in words.enumerate() {
            let mut word: BitFieldBaseType = 0;
            for (k, (pixels, levels)) in pixels
                .chunks_exact(32)
                .zip(levels.chunks_exact(32))
                .enumerate()
            {
                word |= (dark_bits(pixels, levels) as BitFieldBaseType) << (32 * k);
            }
            packed.setBulk(j * BIT_FIELD_BASE_BITS, word);
        }
        if full < width {
            let mut word: BitFieldBaseType = 0;
            for (k, (pixels, levels)) in row[full..]
                .chunks(32)
                .zip(row_levels[full..].chunks(32))
                .enumerate()
            {
                word |= (dark_bits(pixels, levels) as BitFieldBaseType) << (32 * k);
            }
            packed.setBulk(full, word);
        }
        bits.setRow(y as u32, &packed);
    }
    Some(bits)
}

/// Bit i set where `pixels[i] <= levels[i]`, for up to 32 pixels. A full 32 is a fixed-size
/// loop of compares and shifts that the compiler turns into vector compares and one mask move:
/// a third of the time of eight bytes at a time and a multiplication.
#[inline]
pub(super) fn dark_bits(pixels: &[u8], levels: &[u8]) -> u32 {
    if let (Ok(pixels), Ok(levels)) = (<&[u8; 32]>::try_from(pixels), <&[u8; 32]>::try_from(levels))
    {
        let mut bits = 0u32;
        for i in 0..32 {
            bits |= u32::from(pixels[i] <= levels[i]) << i;
        }
        return bits;
    }
    pixels
        .iter()
        .zip(levels)
        .enumerate()
        .fold(0, |bits, (i, (&p, &level))| {
            bits | u32::from(p <= level) << i
        })
}

/// One threshold for the whole image, chosen by Otsu's method. Reads codes that the local
/// binarizer breaks up: large modules in flat light, and small images.
pub fn otsu(grey: &GrayImage, deadline: Deadline) -> Option<BitMatrix> {
    // Four partial histograms, so that runs of equal pixels (flat paper) do not wait on one
    // counter's previous increment.
    // A band of rows at a time, the deadline looked at between bands: on a 40 MP image the
    // histogram alone is a pass of tens of milliseconds.
    let mut partial = [[0u32; 256]; 4];
    let band = (grey.width() as usize).max(1) * ROWS_PER_CHECK;
    for pixels in grey.as_raw().chunks(band) {
        if deadline.passed() {
            return None;
        }
        let mut quads = pixels.chunks_exact(4);
        for quad in &mut quads {
            for (counts, &p) in partial.iter_mut().zip(quad) {
                counts[usize::from(p)] += 1;
            }
        }
        for &p in quads.remainder() {
            partial[0][usize::from(p)] += 1;
        }
    }
    let histogram: [u64; 256] =
        std::array::from_fn(|v| partial.iter().map(|counts| u64::from(counts[v])).sum());
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
    pack(grey, deadline, |_, levels| levels.fill(threshold))
}
