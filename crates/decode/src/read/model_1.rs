//! QR Model 1, the symbol before alignment patterns (ISO/IEC 18004:2000 annex, JIS X 0510:1999;
//! zxing-cpp reads it): format information under its own mask, codewords laid out in
//! rectangles, not in the zigzag of Model 2, and blocks one after another, not interleaved.
//!
//! rxing's port of zxing-cpp reads the format and the layout, but it splits a symbol's codewords
//! into blocks as Model 2 interleaves them. For the one-block versions the two agree; a symbol
//! of two or more blocks (from 5-H, and at every level from version 8) then fails Reed-Solomon. So
//! the codewords are read here, corrected with our `reed_solomon` (whose buffers hold Model 1's
//! 66 error-correction codewords a block), and only the bit stream goes to rxing's parser,
//! which knows Model 1's four leading zero bits.

use rxing::common::BitMatrix;
use rxing::qrcode::common::{FormatInformation, Version};
use rxing::qrcode::cpp_port::decoder::DecodeBitStream;
use rxing::qrcode::cpp_port::Type;

use super::correction::{mask_bit, Correction};
use super::{reed_solomon, Unread};
use crate::layout;

/// The largest Model 1 symbol: version 14, 73 modules a side.
const MAX_SIDE: u32 = 73;

/// The format information of a square grid, read where zxing-cpp reads it, when it is a valid
/// Model 1 codeword (three wrong bits allowed, as for Model 2).
pub(super) fn format(modules: &BitMatrix) -> Option<FormatInformation> {
    let side = modules.height();
    if modules.width() != side || !(layout::MIN_SIDE..=MAX_SIDE).contains(&side) {
        return None;
    }
    let append = |bits: u32, (x, y): (u32, u32)| (bits << 1) | u32::from(modules.get(x, y));
    // Around the top-left finder pattern, skipping the timing patterns' modules.
    let first = (0..6)
        .map(|x| (x, 8))
        .chain([(7, 8), (8, 8), (8, 7)])
        .chain((0..=5).rev().map(|y| (8, y)))
        .fold(0, append);
    // Beside the bottom-left pattern (with the dark module) and under the top-right one.
    let second = ((side - 8)..side)
        .rev()
        .map(|y| (8, y))
        .chain(((side - 8)..side).map(|x| (x, 8)))
        .fold(0, append);
    let format = FormatInformation::DecodeQR(first, second);
    (format.isValid() && format.qr_type() == Type::Model1 && !format.isMirrored).then_some(format)
}

/// The data codewords of a Model 1 grid whose format information is `format`, every block
/// corrected, with the version number and the correction used. `Damaged` when a block is
/// beyond correction or the bit stream does not parse: the format information was read.
pub(super) fn read(
    modules: &BitMatrix,
    format: &FormatInformation,
) -> Result<
    (
        rxing::common::cpp_essentials::DecoderResult<bool>,
        u8,
        Correction,
    ),
    Unread,
> {
    let side = modules.height();
    let number = layout::version_of(side).ok_or(Unread::NotASymbol)?;
    let version = Version::Model1(u32::from(number)).map_err(|_| Unread::NotASymbol)?;
    let mask = u32::from(format.data_mask);
    let mut raw: Vec<u8> = codeword_cells(side)
        .map(|cells| {
            cells.iter().fold(0u8, |byte, &(x, y)| {
                (byte << 1) | u8::from(modules.get(x, y) != mask_bit(mask, x, y))
            })
        })
        .collect();
    if raw.len() != version.getTotalCodewords() as usize {
        return Err(Unread::NotASymbol);
    }
    // Cleared as zxing-cpp's reader clears them: a Model 1 bit stream starts with four zero
    // bits (rxing's parser skips them).
    raw[0] &= 0x0f;

    let blocks = version.getECBlocksForLevel(format.error_correction_level);
    let ec_len = blocks.getECCodewordsPerBlock() as usize;
    let data_lens: Vec<usize> = blocks
        .getECBlocks()
        .iter()
        .flat_map(|group| {
            std::iter::repeat_n(group.getDataCodewords() as usize, group.getCount() as usize)
        })
        .collect();
    let data_total: usize = data_lens.iter().sum();
    if data_total + ec_len * data_lens.len() != raw.len() {
        return Err(Unread::NotASymbol);
    }
    // Blocks in sequence: every block's data, then every block's error correction.
    let (all_data, all_ec) = raw.split_at(data_total);
    let mut data = Vec::with_capacity(data_total);
    let mut correction = Correction::default();
    let mut data_start = 0;
    for (index, &data_len) in data_lens.iter().enumerate() {
        let mut block = all_data[data_start..data_start + data_len].to_vec();
        block.extend_from_slice(&all_ec[index * ec_len..(index + 1) * ec_len]);
        let corrected = reed_solomon::correct(&mut block, ec_len).map_err(|_| Unread::Damaged)?;
        correction = correction.plus(Correction::block(corrected, ec_len));
        data.extend_from_slice(&block[..data_len]);
        data_start += data_len;
    }
    let decoded = DecodeBitStream(&data, version, format.error_correction_level)
        .map_err(|_| Unread::Damaged)?;
    if !decoded.isValid() {
        return Err(Unread::Damaged);
    }
    Ok((decoded, number, correction))
}

/// The eight modules of each codeword, most significant first, in reading order. Model 1 lays
/// codewords out as rectangles, filled from their bottom-right module leftwards, then up:
///
/// - the two rightmost column pairs hold upright 2x4 rectangles from the bottom up, the
///   outermost pair giving every other place to the right edge's extension patterns;
/// - the columns between those and the left finder patterns hold flat 4x2 rectangles, from the
///   bottom up, each strip of four columns in turn; the first strip stops under the top-right
///   finder pattern, and the odd strips give their bottom row to the bottom edge's extension
///   patterns (all but the last strip);
/// - the last four strips are column pairs between the left finder patterns, upright 2x4
///   rectangles again, the timing column (6) stepped over.
///
/// The rows of rectangles step over the timing row (6) likewise.
fn codeword_cells(side: u32) -> impl Iterator<Item = [(u32, u32); 8]> {
    let strips = side / 4 + 3;
    let upright = |right: u32, bottom: u32| -> [(u32, u32); 8] {
        std::array::from_fn(|bit| (right - bit as u32 % 2, bottom - bit as u32 / 2))
    };
    let flat = |right: u32, bottom: u32| -> [(u32, u32); 8] {
        std::array::from_fn(|bit| (right - bit as u32 % 4, bottom - bit as u32 / 4))
    };
    (0..strips).flat_map(move |strip| {
        let from_left = strips - strip;
        let cells: Vec<[(u32, u32); 8]> = if strip <= 1 {
            let places = (side - 8) / 4;
            (0..places)
                .filter(|&place| !(strip == 0 && place % 2 == 0 && place > 0 && place < places - 1))
                .map(|place| upright(side - 1 - 2 * strip, side - 1 - 4 * place))
                .collect()
        } else if from_left <= 4 {
            let right = (from_left - 1) * 2 + 1 + u32::from(from_left == 4);
            (0..(side - 16) / 4)
                .map(|place| upright(right, side - 9 - 4 * place))
                .collect()
        } else {
            let places = side / 2;
            (0..places)
                .filter(|&place| !(strip == 2 && place >= places - 4))
                .filter(|&place| !(place == 0 && strip % 2 == 1 && strip + 1 != strips - 4))
                .map(|place| {
                    let past_timing = u32::from(place >= places - 3);
                    flat(
                        side - 5 - (strip - 2) * 4,
                        side - 1 - 2 * place - past_timing,
                    )
                })
                .collect()
        };
        cells
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// At versions 1 to 12 the layout gives each codeword of rxing's table eight distinct
    /// modules inside the symbol, none in a finder pattern, its separator or format
    /// information, and none on the timing patterns. (For 13 and 14 the table disagrees with
    /// itself, its levels summing to different totals, and with the layout; `read` refuses
    /// such grids by the count.)
    #[test]
    fn the_layout_fills_every_version_with_its_codewords_and_nothing_else() {
        for number in 1..=12u32 {
            let side = 17 + 4 * number;
            let version = Version::Model1(number).unwrap();
            let codewords: Vec<_> = codeword_cells(side).collect();
            assert_eq!(
                codewords.len(),
                version.getTotalCodewords() as usize,
                "version {number}"
            );
            let mut seen = HashSet::new();
            for &(x, y) in codewords.iter().flatten() {
                assert!(x < side && y < side, "version {number}: ({x}, {y}) outside");
                assert!(seen.insert((x, y)), "version {number}: ({x}, {y}) twice");
                assert!(
                    x != 6 && y != 6,
                    "version {number}: ({x}, {y}) on a timing pattern"
                );
                let near = |v: u32| v <= 8;
                let far = |v: u32| v >= side - 8;
                let in_finder = (near(x) && near(y)) || (far(x) && near(y)) || (near(x) && far(y));
                assert!(
                    !in_finder,
                    "version {number}: ({x}, {y}) in a finder pattern's corner"
                );
            }
        }
    }
}
