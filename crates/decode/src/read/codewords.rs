//! A sampled QR module grid to its error-corrected data codewords and level; with how sure the
//! sampler was of each module (`read_with_certainty`), a block beyond correction is decoded
//! again with its least certain codewords as erasures.
//!
//! The steps and their order are rxing's `decode_bitmatrix` (format and version information,
//! unmasking, the codewords split into blocks, and the mirrored reading when the first fails),
//! with rxing's parser for each step except the Reed-Solomon correction, which is ours
//! (`reed_solomon`, where the reason is). rxing's bit-stream parser still checks the corrected
//! data. On every grid of both corpora this reads what rxing's decoder reads; it differs on one
//! grid, a block rxing "corrected" into a non-codeword (see the `reed_solomon` tests), which
//! is a checksum failure here and a format failure there.

use rxing::common::BitMatrix;
use rxing::qrcode::common::{ErrorCorrectionLevel, VersionRef};
use rxing::qrcode::decoder::{decoded_bit_stream_parser, BitMatrixParser, DataBlock};
use rxing::{DecodeHints, Exceptions};

use super::correction::Correction;
use super::reed_solomon;

/// The data codewords of a symbol whose every block was corrected, and its level.
pub struct Codewords {
    pub data: Vec<u8>,
    pub level: ErrorCorrectionLevel,
    /// The codewords corrected, of the most that could have been.
    pub correction: Correction,
}

/// Reads `modules` (set = dark) as a QR symbol: as it is and, when that fails, mirrored.
/// The errors are rxing's: `ChecksumException` when the format was read and a block was beyond
/// correction, `FormatException` (or another) when there was no symbol to correct.
pub fn read(modules: &BitMatrix) -> Result<Codewords, Exceptions> {
    let mut parser = BitMatrixParser::new(modules.clone())?;
    let first_error = match read_parsed(&mut parser, None) {
        Ok(codewords) => return Ok(codewords),
        Err(error @ (Exceptions::FormatException(_) | Exceptions::ChecksumException(_))) => error,
        Err(other) => return Err(other),
    };
    let mut mirrored = || {
        parser.remask()?;
        parser.setMirror(true);
        // Version and format information that read mirrored are the sign of a mirrored
        // symbol, worth reading as one.
        parser.readVersion()?;
        parser.readFormatInformation()?;
        parser.mirror();
        read_parsed(&mut parser, None)
    };
    match mirrored() {
        Ok(codewords) => Ok(codewords),
        // As rxing: the first attempt's error, a format error before a checksum error.
        Err(Exceptions::FormatException(_) | Exceptions::ChecksumException(_)) => Err(first_error),
        Err(other) => Err(other),
    }
}

/// Reads `modules` as it is (not mirrored), each block that errors alone cannot correct
/// decoded again with erasures: its `reed_solomon::most_erasures` least certain codewords, a
/// codeword as certain as its least certain module. `certainty` holds a number per module, row
/// by row, larger for surer. The errors are `read`'s.
pub fn read_with_certainty(
    modules: &BitMatrix,
    certainty: &[f32],
) -> Result<Codewords, Exceptions> {
    let mut parser = BitMatrixParser::new(modules.clone())?;
    read_parsed(&mut parser, Some(certainty))
}

fn read_parsed(
    parser: &mut BitMatrixParser,
    certainty: Option<&[f32]>,
) -> Result<Codewords, Exceptions> {
    let version = parser.readVersion()?;
    let level = parser.readFormatInformation()?.getErrorCorrectionLevel();
    let raw = parser.readCodewords()?;
    let blocks = DataBlock::getDataBlocks(&raw, version, level)?;
    // Each block's codewords as certain as their least certain module, when that is known.
    let block_certainty = match certainty {
        Some(certainty) => Some(block_certainty(version, level, certainty)?),
        None => None,
    };
    let mut data = Vec::with_capacity(
        blocks
            .iter()
            .map(|b| b.getNumDataCodewords() as usize)
            .sum(),
    );
    let mut correction = Correction::default();
    for (index, block) in blocks.iter().enumerate() {
        let mut codewords = block.getCodewords().to_vec();
        let data_len = block.getNumDataCodewords() as usize;
        let ec_len = codewords.len() - data_len;
        let corrected = match reed_solomon::correct(&mut codewords, ec_len) {
            Ok(corrected) => corrected,
            Err(_) => {
                let certain = block_certainty
                    .as_ref()
                    .and_then(|blocks| blocks.get(index))
                    .ok_or(Exceptions::CHECKSUM)?;
                codewords.copy_from_slice(block.getCodewords());
                let erasures = least_certain(certain, reed_solomon::most_erasures(ec_len));
                reed_solomon::correct_with_erasures(&mut codewords, ec_len, &erasures)
                    .map_err(|_| Exceptions::CHECKSUM)?
            }
        };
        correction = correction.plus(Correction::block(corrected, ec_len));
        data.extend_from_slice(&codewords[..data_len]);
    }
    // rxing's parser rejects data whose segments do not parse; the text itself is ours
    // (`text::decode_segments`), from the same bytes.
    decoded_bit_stream_parser::decode(&data, version, level, &DecodeHints::default())?;
    Ok(Codewords {
        data,
        level,
        correction,
    })
}

/// The indices of the `count` smallest of `certainty`, leaving out those as certain as the
/// surest: where every module of a block is equally sure, nothing singles a codeword out.
fn least_certain(certainty: &[f32], count: usize) -> Vec<usize> {
    let surest = certainty.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut order: Vec<usize> = (0..certainty.len())
        .filter(|&i| certainty[i] < surest)
        .collect();
    order.sort_by(|&a, &b| certainty[a].total_cmp(&certainty[b]));
    order.truncate(count);
    order
}

/// The certainty of each codeword of each block, in the blocks' order (`DataBlock`): the least
/// certain of its eight modules, which `readCodewords` reads in pairs of columns from the
/// bottom-right corner, up then down, around the function patterns.
fn block_certainty(
    version: VersionRef,
    level: ErrorCorrectionLevel,
    certainty: &[f32],
) -> Result<Vec<Vec<f32>>, Exceptions> {
    let side = version.getDimensionForVersion();
    if certainty.len() != (side * side) as usize {
        return Err(Exceptions::FORMAT);
    }
    let function = version.buildFunctionPattern()?;
    let total = version.getTotalCodewords() as usize;
    let mut raw = vec![f32::INFINITY; total];
    let mut bit = 0usize;
    let mut up = true;
    let mut column = side as i32 - 1;
    while column > 0 {
        if column == 6 {
            // The vertical timing pattern's column is skipped whole.
            column -= 1;
        }
        for count in 0..side {
            let y = if up { side - 1 - count } else { count };
            for x in [column as u32, column as u32 - 1] {
                if function.get(x, y) {
                    continue;
                }
                // The remainder bits past the last codeword belong to none.
                if let Some(codeword) = raw.get_mut(bit / 8) {
                    *codeword = codeword.min(certainty[(y * side + x) as usize]);
                }
                bit += 1;
            }
        }
        up = !up;
        column -= 2;
    }
    // Where each raw codeword goes among the blocks: the interleaving undone on the indices
    // themselves, low and high bytes apart (versions past 9 have more than 256 codewords).
    let index_byte = |shift: u32| -> Result<Vec<DataBlock>, Exceptions> {
        let indices: Vec<u8> = (0..total).map(|i| (i >> shift) as u8).collect();
        DataBlock::getDataBlocks(&indices, version, level)
    };
    let (low, high) = (index_byte(0)?, index_byte(8)?);
    Ok(low
        .iter()
        .zip(&high)
        .map(|(low, high)| {
            low.getCodewords()
                .iter()
                .zip(high.getCodewords())
                .map(|(&l, &h)| raw[usize::from(h) << 8 | usize::from(l)])
                .collect()
        })
        .collect())
}
