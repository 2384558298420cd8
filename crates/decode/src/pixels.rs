//! Grey-image operations the detection strategies are built from: binarizers (grey -> black and
//! white `BitMatrix`), integer down- and upscaling, and a light blur. Pure functions over
//! `GrayImage`; nothing here knows about QR codes, so each can be tested and timed alone.
//! The passes over a whole view (block statistics, binarization, shrinking) take the decode's
//! `Deadline` and give up, returning `None`, once it passes: on a 40 MP image each is tens of
//! milliseconds, and an unchecked one started just before the deadline overran it by as much.

use image::GrayImage;
use rxing::common::{BitArray, BitFieldBaseType, BitMatrix, BIT_FIELD_BASE_BITS};

use super::deadline::Deadline;

/// Rows between two looks at the deadline in a pass over a view: a 6,324-pixel row costs a few
/// microseconds, so 64 of them well under a millisecond, and the clock is read a hundred times
/// in a 40 MP pass.
const ROWS_PER_CHECK: usize = 64;

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
        return otsu(grey, deadline);
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
        return otsu(grey, deadline);
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

/// The side of the blocks of the local binarizers, and the range under which a block is flat.
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
fn pack(
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
fn dark_bits(pixels: &[u8], levels: &[u8]) -> u32 {
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
    let mut partial = [[0u32; 256]; 4];
    let mut quads = grey.as_raw().chunks_exact(4);
    for quad in &mut quads {
        for (counts, &p) in partial.iter_mut().zip(quad) {
            counts[usize::from(p)] += 1;
        }
    }
    for &p in quads.remainder() {
        partial[0][usize::from(p)] += 1;
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

/// Averages `factor` x `factor` blocks: a smaller image with less noise and JPEG grain, where
/// modules blurred over many pixels become crisp again. An image smaller than one block in a
/// direction keeps one pixel there, its block completed by repeating its last row or column.
///
/// Each source pixel is read once, whatever the shape: rows and columns past the edge are
/// counted as a weight on the last one instead of being reread. (Rereading them cost `factor`
/// times the pixels: an 8,000,000 x 1 PNG shrunk by 5,000 held a worker for half a minute.)
///
/// `None` once `deadline` passes: the working view of a 40 MP photo is made from every one of
/// its pixels.
pub fn downscale(grey: &GrayImage, factor: u32, deadline: Deadline) -> Option<GrayImage> {
    let factor = factor.max(1);
    let (source_width, source_height) = (grey.width() as usize, grey.height() as usize);
    if source_width == 0 || source_height == 0 {
        return Some(GrayImage::new(
            grey.width() / factor,
            grey.height() / factor,
        ));
    }
    let (width, height) = (
        (grey.width() / factor).max(1),
        (grey.height() / factor).max(1),
    );
    let f = factor as usize;
    // The source indices up to `size` a block starting at `start` covers, and how many of its
    // `f` samples fall past the last one (and repeat it).
    let span = |start: usize, size: usize| {
        let end = (start + f).min(size);
        (start..end, (start + f - end) as u64)
    };
    // u64: a block of a 40-megapixel line holds up to 25,000^2 samples of 255.
    let sum = |pixels: &[u8]| pixels.iter().map(|&p| u64::from(p)).sum::<u64>();
    let area = (f * f) as u64;
    let pixels = grey.as_raw();
    let mut out = Vec::with_capacity(width as usize * height as usize);
    if source_width < f {
        // Narrower than a block: one pixel across, and each block's rows are one run of memory.
        let (last, columns_past) = (source_width - 1, (f - source_width) as u64);
        for y in 0..height as usize {
            if y % ROWS_PER_CHECK == 0 && deadline.passed() {
                return None;
            }
            let (rows, rows_past) = span(y * f, source_height);
            let band = &pixels[rows.start * source_width..rows.end * source_width];
            let last_column: u64 = band[last..]
                .iter()
                .step_by(source_width)
                .map(|&p| u64::from(p))
                .sum();
            let last_row = &band[band.len() - source_width..];
            let last_row = sum(last_row) + columns_past * u64::from(last_row[last]);
            let total = sum(band) + columns_past * last_column + rows_past * last_row;
            out.push((total / area) as u8);
        }
    } else if f == 2 && source_height >= 2 {
        // Halving, the Half view of every image: no block runs past an edge (an odd last row
        // or column is left out), and 16-bit sums divided by a constant four vectorise, where
        // the general path's 64-bit division by a variable area was 4% of a scan of photos
        // without a code.
        for (y, pair) in pixels
            .chunks_exact(2 * source_width)
            .take(height as usize)
            .enumerate()
        {
            if y % ROWS_PER_CHECK == 0 && deadline.passed() {
                return None;
            }
            let (upper, lower) = pair.split_at(source_width);
            out.extend(
                upper
                    .chunks_exact(2)
                    .zip(lower.chunks_exact(2))
                    .map(|(a, b)| {
                        let total = u16::from(a[0]) + u16::from(a[1]) + u16::from(b[0]);
                        ((total + u16::from(b[1])) / 4) as u8
                    }),
            );
        }
    } else {
        // Every block fits across; only a band of rows can run past the bottom.
        let mut sums = vec![0u64; width as usize];
        for y in 0..height as usize {
            if y % ROWS_PER_CHECK == 0 && deadline.passed() {
                return None;
            }
            sums.fill(0);
            let (rows, rows_past) = span(y * f, source_height);
            let last_row = rows.end - 1;
            for sy in rows {
                let weight = if sy == last_row { 1 + rows_past } else { 1 };
                let row = &pixels[sy * source_width..(sy + 1) * source_width];
                for (s, block) in sums.iter_mut().zip(row.chunks_exact(f)) {
                    *s += weight * sum(block);
                }
            }
            out.extend(sums.iter().map(|&s| (s / area) as u8));
        }
    }
    Some(GrayImage::from_raw(width, height, out).unwrap_or_else(|| GrayImage::new(width, height)))
}

/// Bilinear upscaling by two: gives the finder-pattern scan several pixels per module on tiny
/// codes. Each output pixel lies a quarter of a pixel from its nearest source pixel, so its
/// weights are 3/4 and 1/4 along each axis, edges repeating their last pixel: the values of
/// `image`'s `Triangle` resize, in integers and one pass over each source row. That resize
/// works in floats, two passes, and took a quarter of the whole BoofCV run (perf).
pub fn double(grey: &GrayImage) -> GrayImage {
    let (width, height) = (grey.width() as usize, grey.height() as usize);
    if width == 0 || height == 0 {
        return GrayImage::new(grey.width() * 2, grey.height() * 2);
    }
    let pixels = grey.as_raw();
    // Row `y` doubled across, each value four times the pixel it stands for.
    let widen = |y: usize, wide: &mut Vec<u16>| {
        let row = &pixels[y * width..(y + 1) * width];
        wide.clear();
        for x in 0..width {
            let here = 3 * u16::from(row[x]);
            wide.push(u16::from(row[x.saturating_sub(1)]) + here);
            wide.push(here + u16::from(row[(x + 1).min(width - 1)]));
        }
    };
    let mut out = Vec::with_capacity(4 * width * height);
    let (mut above, mut here, mut below) = (Vec::new(), Vec::new(), Vec::new());
    widen(0, &mut above);
    widen(0, &mut here);
    for y in 0..height {
        widen((y + 1).min(height - 1), &mut below);
        // The output row above `y`'s centre, then the one below it.
        for far in [&above, &below] {
            let mixed = here.iter().zip(far.iter());
            out.extend(mixed.map(|(&near, &far)| ((3 * near + far + 8) >> 4) as u8));
        }
        std::mem::swap(&mut above, &mut here);
        std::mem::swap(&mut here, &mut below);
    }
    GrayImage::from_raw(grey.width() * 2, grey.height() * 2, out)
        .unwrap_or_else(|| GrayImage::new(grey.width() * 2, grey.height() * 2))
}

/// Each two columns averaged into one (an odd last column left out): the `HalfWidth` view, for
/// symbols foreshortened down. Rounds half up, as `downscale` does not need to (it truncates);
/// either is well inside a threshold's noise.
pub fn halve_width(grey: &GrayImage) -> GrayImage {
    let (width, height) = (grey.width() / 2, grey.height());
    let mut out = Vec::with_capacity(width as usize * height as usize);
    if width > 0 {
        for row in grey.as_raw().chunks_exact(grey.width() as usize) {
            let pairs = row.chunks_exact(2).take(width as usize);
            out.extend(pairs.map(|p| (u16::from(p[0]) + u16::from(p[1])).div_ceil(2) as u8));
        }
    }
    GrayImage::from_raw(width, height, out).unwrap_or_else(|| GrayImage::new(width, height))
}

/// Each two rows averaged into one (an odd last row left out): the `HalfHeight` view, for
/// symbols foreshortened across.
pub fn halve_height(grey: &GrayImage) -> GrayImage {
    let (width, height) = (grey.width(), grey.height() / 2);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    if width > 0 {
        for pair in grey.as_raw().chunks_exact(2 * width as usize) {
            let (upper, lower) = pair.split_at(width as usize);
            let mixed = upper.iter().zip(lower);
            out.extend(mixed.map(|(&a, &b)| (u16::from(a) + u16::from(b)).div_ceil(2) as u8));
        }
    }
    GrayImage::from_raw(width, height, out).unwrap_or_else(|| GrayImage::new(width, height))
}

/// Unsharp masking: each pixel pushed away from a Gaussian-like blur of its surroundings
/// (two box blurs of `radius`, at most 3, standard deviation about `radius`), `amount` times the
/// difference. Restores the contrast of single modules that defocus smeared into their
/// neighbours' grey, which no threshold recovers.
pub fn sharpen(grey: &GrayImage, radius: usize, amount: i16) -> GrayImage {
    let (width, height) = (grey.width() as usize, grey.height() as usize);
    if width == 0 || height == 0 || radius == 0 {
        return grey.clone();
    }
    let source = grey.as_raw();
    let once = box_blur(source, width, height, radius);
    let mut out = box_blur(&once, width, height, radius);
    for (around, &here) in out.iter_mut().zip(source) {
        let (here, blurred) = (i16::from(here), i16::from(*around));
        *around = (here + amount * (here - blurred)).clamp(0, 255) as u8;
    }
    GrayImage::from_raw(grey.width(), grey.height(), out).unwrap_or_else(|| grey.clone())
}

/// The mean of each pixel's (2 `radius` + 1)-square, edges repeating their last pixel, for
/// radii up to 3 (sums of 49 pixels fit 16 bits). Sums of shifted rows across, then running
/// sums down: whole-row element-wise adds the compiler vectorises, where a running sum along a
/// row is one serial chain (three times slower here).
fn box_blur(pixels: &[u8], width: usize, height: usize, radius: usize) -> Vec<u8> {
    let radius = radius.min(3);
    let span = 2 * radius + 1;
    // Division by the area as a 16-bit multiply keeping the high half.
    let reciprocal = (1u32 << 16).div_ceil((span * span) as u32);
    let mut across = vec![0u16; pixels.len()];
    let mut padded = Vec::with_capacity(width + 2 * radius);
    for (row, sums) in pixels
        .chunks_exact(width)
        .zip(across.chunks_exact_mut(width))
    {
        padded.clear();
        padded.extend(std::iter::repeat_n(row[0], radius));
        padded.extend_from_slice(row);
        padded.extend(std::iter::repeat_n(row[width - 1], radius));
        for shift in 0..span {
            let shifted = &padded[shift..shift + width];
            sums.iter_mut()
                .zip(shifted)
                .for_each(|(s, &p)| *s += u16::from(p));
        }
    }
    let row = |y: isize| {
        let y = y.clamp(0, height as isize - 1) as usize;
        &across[y * width..(y + 1) * width]
    };
    let r = radius as isize;
    let mut sums = vec![0u16; width];
    for y in -r..r {
        sums.iter_mut().zip(row(y)).for_each(|(s, &p)| *s += p);
    }
    let mut out = vec![0u8; pixels.len()];
    for (y, out) in (0..height as isize).zip(out.chunks_exact_mut(width)) {
        sums.iter_mut().zip(row(y + r)).for_each(|(s, &p)| *s += p);
        let means = sums
            .iter()
            .map(|&s| ((u32::from(s) * reciprocal) >> 16) as u8);
        out.iter_mut().zip(means).for_each(|(o, m)| *o = m);
        sums.iter_mut().zip(row(y - r)).for_each(|(s, &p)| *s -= p);
    }
    out
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
    // Three-pixel sums of one row, edges repeated.
    let row_sums = |y: usize, sums: &mut [u16]| {
        let row = &grey.as_raw()[y * width..(y + 1) * width];
        let sum = |a: u8, b: u8, c: u8| u16::from(a) + u16::from(b) + u16::from(c);
        let (first, last) = (row[0], row[width - 1]);
        if width == 1 {
            sums[0] = 3 * u16::from(first);
            return;
        }
        sums[0] = sum(first, first, row[1]);
        for (s, w) in sums[1..width - 1].iter_mut().zip(row.windows(3)) {
            *s = sum(w[0], w[1], w[2]);
        }
        sums[width - 1] = sum(row[width - 2], last, last);
    };
    // The sums of the rows above, at and below the one written, kept three at a time: a
    // frame of sums would be twice the image, written and read back once.
    let mut window = [vec![0u16; width], vec![0u16; width], vec![0u16; width]];
    row_sums(0, &mut window[1]);
    window[0] = window[1].clone();
    row_sums(1.min(height - 1), &mut window[2]);
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let [above, here, below] = &window;
        out.extend(
            above
                .iter()
                .zip(here)
                .zip(below)
                .map(|((&a, &h), &b)| ((u32::from(a) + u32::from(h) + u32::from(b)) / 9) as u8),
        );
        window.rotate_left(1);
        row_sums((y + 2).min(height - 1), &mut window[2]);
    }
    GrayImage::from_raw(grey.width(), grey.height(), out).unwrap_or_else(|| grey.clone())
}

/// The `width` x `height` part of `grey` whose top-left pixel is (`x`, `y`), clamped to the
/// image: a copy of row slices, where `image`'s generic sub-image copy went pixel by pixel
/// (over 1% of a scan of the zxing-cpp corpus, in the crop strategies).
pub fn crop(grey: &GrayImage, x: u32, y: u32, width: u32, height: u32) -> GrayImage {
    let (x, y) = (x.min(grey.width()), y.min(grey.height()));
    let (width, height) = (width.min(grey.width() - x), height.min(grey.height() - y));
    if width == 0 || height == 0 {
        return GrayImage::new(width, height);
    }
    let (x, width) = (x as usize, width as usize);
    let mut out = Vec::with_capacity(width * height as usize);
    for row in grey
        .as_raw()
        .chunks_exact(grey.width() as usize)
        .skip(y as usize)
        .take(height as usize)
    {
        out.extend_from_slice(&row[x..x + width]);
    }
    GrayImage::from_raw(width as u32, height, out).unwrap_or_default()
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
    use crate::testkit::Xorshift;

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
        let skewed =
            GrayImage::from_fn(64, 64, |x, _| image::Luma([if x < 34 { 200 } else { 100 }]));
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
}
