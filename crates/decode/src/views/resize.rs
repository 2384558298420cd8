//! The other views' pixels: integer down- and upscaling, squashing one axis, a light blur,
//! sharpening, crops and a light margin. Pure functions over `GrayImage`; nothing here knows
//! about QR codes. `downscale`, a pass over the whole loaded image, takes the deadline.

use image::GrayImage;

use super::binarize::ROWS_PER_CHECK;
use crate::deadline::Deadline;

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
pub(super) fn box_blur(pixels: &[u8], width: usize, height: usize, radius: usize) -> Vec<u8> {
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
