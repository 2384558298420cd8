//! A sampled QR module grid to its error-corrected data codewords and level.
//!
//! The steps and their order are rxing's `decode_bitmatrix` (format and version information,
//! unmasking, the codewords split into blocks, and the mirrored reading when the first fails),
//! with rxing's parser for each step except the Reed-Solomon correction, which is ours
//! (`reed_solomon`, where the reason is). rxing's bit-stream parser still checks the corrected
//! data. On every grid of both corpora this reads what rxing's decoder reads; it differs on one
//! grid, a block rxing "corrected" into a non-codeword (see the `reed_solomon` tests), which
//! is a checksum failure here and a format failure there.

use rxing::common::BitMatrix;
use rxing::qrcode::common::ErrorCorrectionLevel;
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
    let first_error = match read_parsed(&mut parser) {
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
        read_parsed(&mut parser)
    };
    match mirrored() {
        Ok(codewords) => Ok(codewords),
        // As rxing: the first attempt's error, a format error before a checksum error.
        Err(Exceptions::FormatException(_) | Exceptions::ChecksumException(_)) => Err(first_error),
        Err(other) => Err(other),
    }
}

fn read_parsed(parser: &mut BitMatrixParser) -> Result<Codewords, Exceptions> {
    let version = parser.readVersion()?;
    let level = parser.readFormatInformation()?.getErrorCorrectionLevel();
    let raw = parser.readCodewords()?;
    let blocks = DataBlock::getDataBlocks(&raw, version, level)?;
    let mut data = Vec::with_capacity(
        blocks
            .iter()
            .map(|b| b.getNumDataCodewords() as usize)
            .sum(),
    );
    let mut correction = Correction::default();
    for block in &blocks {
        let mut codewords = block.getCodewords().to_vec();
        let data_len = block.getNumDataCodewords() as usize;
        let ec_len = codewords.len() - data_len;
        let corrected =
            reed_solomon::correct(&mut codewords, ec_len).map_err(|_| Exceptions::CHECKSUM)?;
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
