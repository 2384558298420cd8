//! How much of its error-correction capacity a symbol's reading used: the `confidence` of API.md
//! section 2.
//!
//! Every block of `n` codewords with `e` error-correction codewords can have up to `floor(e / 2)`
//! wrong codewords repaired (our decoder, `reed_solomon`, is bounded-distance and corrects no
//! more). Summed over the symbol's blocks, `corrected` codewords of that `capacity` were
//! repaired, and `confidence = 1 - corrected / capacity`, clamped to 0..1: 1.0 for a symbol read
//! without a wrong codeword, 0.0 for one where every block was at its limit. Erasures are not
//! counted: neither decoder marks any.
//!
//! QR symbols are corrected by `codewords`, which counts as it goes. Micro QR and rMQR symbols
//! are decoded by rxing's port of zxing-cpp, which counts nothing and keeps its codeword reader
//! private; so once it has read a symbol, `micro_correction` reads the same grid's codewords the
//! way that reader does (format information, function patterns and data masks from rxing's
//! public tables) and runs our Reed-Solomon over rxing's blocks to count.

use rxing::common::BitMatrix;
use rxing::qrcode::common::{ErrorCorrectionLevel, FormatInformation, Version, VersionRef};
use rxing::qrcode::cpp_port::Type;
use rxing::qrcode::decoder::DataBlock;

use super::reed_solomon;

/// Codewords corrected and the most that could have been, summed over a symbol's blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Correction {
    /// Wrong codewords repaired.
    pub corrected: u32,
    /// Sum over the blocks of `floor(ec_codewords / 2)`.
    pub capacity: u32,
}

impl Correction {
    /// One block of `ec_codewords` error-correction codewords, `corrected` of them repaired.
    pub fn block(corrected: usize, ec_codewords: usize) -> Self {
        Correction {
            corrected: u32::try_from(corrected).unwrap_or(u32::MAX),
            capacity: u32::try_from(ec_codewords / 2).unwrap_or(u32::MAX),
        }
    }

    /// Both counts added: the blocks of two symbols (or of a structured-append set) together.
    pub fn plus(self, other: Correction) -> Self {
        Correction {
            corrected: self.corrected.saturating_add(other.corrected),
            capacity: self.capacity.saturating_add(other.capacity),
        }
    }

    /// `1 - corrected / capacity`, clamped to 0..1, rounded to three decimals so the number a
    /// client sees does not change with float noise; 1.0 for a symbol without capacity.
    pub fn confidence(self) -> f64 {
        if self.capacity == 0 {
            return 1.0;
        }
        let used = f64::from(self.corrected) / f64::from(self.capacity);
        ((1.0 - used).clamp(0.0, 1.0) * 1000.0).round() / 1000.0
    }
}

/// The correction a Micro QR or rMQR grid that rxing read needed. A block our decoder cannot
/// correct where rxing's did (rxing can "correct" a block with an odd number of
/// error-correction codewords into a non-codeword, see `reed_solomon`) counts as its whole
/// capacity used. `None` when the grid is not one rxing's reader would take.
pub fn micro_correction(modules: &BitMatrix) -> Option<Correction> {
    let (version, format) = read_format(modules)?;
    let raw = read_codewords(modules, version, &format)?;
    let blocks = DataBlock::getDataBlocks(&raw, version, format.error_correction_level).ok()?;
    let mut total = Correction::default();
    for block in &blocks {
        let mut codewords = block.getCodewords().to_vec();
        let ec = codewords.len() - block.getNumDataCodewords() as usize;
        let corrected = reed_solomon::correct(&mut codewords, ec).unwrap_or(ec / 2);
        total = total.plus(Correction::block(corrected, ec));
    }
    Some(total)
}

/// Version and format information of a Micro QR or rMQR grid, as rxing's
/// `bitmatrix_parser::ReadFormatInformation` and `ReadVersion` read them.
fn read_format(modules: &BitMatrix) -> Option<(VersionRef, FormatInformation)> {
    let bit = |x: u32, y: u32| u32::from(modules.get(x, y));
    let append = |bits: u32, x: u32, y: u32| (bits << 1) | bit(x, y);
    if Version::HasValidSizeType(modules, Type::Micro) {
        let mut bits = (1..9).fold(0, |bits, x| append(bits, x, 8));
        bits = (1..=7).rev().fold(bits, |bits, y| append(bits, 8, y));
        let format = FormatInformation::DecodeMQR(bits);
        let version = Version::Micro(Version::Number(modules)).ok()?;
        return Some((version, format));
    }
    if Version::HasValidSizeType(modules, Type::RectMicro) {
        let mut first = (1..=3).rev().fold(0, |bits, y| append(bits, 11, y));
        for x in (8..=10).rev() {
            first = (1..=5).rev().fold(first, |bits, y| append(bits, x, y));
        }
        let (width, height) = (modules.width(), modules.height());
        let mut second = (3..=5).fold(0, |bits, x| append(bits, width - x, height - 6));
        for x in 6..=8 {
            second = (2..=6).fold(second, |bits, y| append(bits, width - x, height - y));
        }
        let format = FormatInformation::DecodeRMQR(first, second);
        let version = Version::rMQR(Version::Number(modules)).ok()?;
        return Some((version, format));
    }
    None
}

/// rxing's data masks (`data_mask::GetDataMaskBit`); Micro QR's four are QR's 1, 4, 6 and 7,
/// and QR Model 1's eight are Model 2's.
pub(super) fn mask_bit(mask: u32, x: u32, y: u32) -> bool {
    match mask {
        0 => (y + x).is_multiple_of(2),
        1 => y.is_multiple_of(2),
        2 => x.is_multiple_of(3),
        3 => (y + x).is_multiple_of(3),
        4 => ((y / 2) + (x / 3)).is_multiple_of(2),
        5 => (y * x).is_multiple_of(6),
        6 => ((y * x) % 6) < 3,
        _ => (y + x + ((y * x) % 3)).is_multiple_of(2),
    }
}

/// The raw codewords of the grid, in the order rxing's `ReadMQRCodewords` and
/// `ReadRMQRCodewords` read them: column pairs right to left, up and down in turn, function
/// modules skipped, unmasked; a Micro QR M1 or M3 symbol's 4-bit codeword taken as one.
fn read_codewords(
    modules: &BitMatrix,
    version: VersionRef,
    format: &FormatInformation,
) -> Option<Vec<u8>> {
    let function = version.buildFunctionPattern().ok()?;
    let micro = version.isMicro();
    let mask = if micro {
        [1, 4, 6, 7][usize::from(format.data_mask & 3)]
    } else {
        u32::from(format.data_mask)
    };
    let number = version.getVersionNumber();
    // ISO/IEC 18004 section 6.7.3: D3 of M1, D11 of M3-L and D9 of M3-M are 4 bits.
    let short_index = match (micro && !number.is_multiple_of(2), number) {
        (false, _) => None,
        (true, 1) => Some(3),
        (true, _) if format.error_correction_level == ErrorCorrectionLevel::L => Some(11),
        (true, _) => Some(9),
    };
    let (width, height) = (modules.width(), modules.height());
    let get = |x: u32, y: u32| {
        if format.isMirrored {
            modules.get(y, x)
        } else {
            modules.get(x, y)
        }
    };
    let total = version.getTotalCodewords() as usize;
    let mut codewords = Vec::with_capacity(total);
    let (mut current, mut bits) = (0u32, 0u32);
    let mut up = true;
    // rMQR skips its right edge's alignment column.
    let mut x = if micro { width - 1 } else { width - 2 };
    while x > 0 {
        for row in 0..height {
            let y = if up { height - 1 - row } else { row };
            for xx in [x, x - 1] {
                if function.get(xx, y) {
                    continue;
                }
                current = (current << 1) | u32::from(mask_bit(mask, xx, y) != get(xx, y));
                bits += 1;
                let short = short_index == Some(codewords.len() + 1) && bits == 4;
                if bits == 8 || short {
                    codewords.push(current as u8);
                    (current, bits) = (0, 0);
                }
            }
        }
        up = !up;
        x = x.saturating_sub(2);
    }
    (codewords.len() == total).then_some(codewords)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{read_grid, read_micro};
    use crate::Formats;

    /// The grid of `text` at `version` and `level`, mask 0 (`Diamonds` for Micro QR), with the
    /// interleaved data codewords at `wrong` inverted: codeword errors, not module noise.
    fn grid(
        text: &str,
        version: qrcode::Version,
        level: qrcode::EcLevel,
        wrong: &[usize],
    ) -> BitMatrix {
        let mut bits = qrcode::bits::Bits::new(version);
        bits.push_optimal_data(text.as_bytes()).unwrap();
        bits.push_terminator(level).unwrap();
        let raw = bits.into_bytes();
        let (mut data, ec) = qrcode::ec::construct_codewords(&raw, version, level).unwrap();
        for &at in wrong {
            data[at] ^= 0xa5;
        }
        let mut canvas = qrcode::canvas::Canvas::new(version, level);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data, &ec);
        let mask = match version {
            qrcode::Version::Normal(_) => qrcode::canvas::MaskPattern::Checkerboard,
            qrcode::Version::Micro(_) => qrcode::canvas::MaskPattern::Diamonds,
        };
        canvas.apply_mask(mask);
        let width = version.width() as u32;
        let colors = canvas.into_colors();
        let mut matrix = BitMatrix::with_single_dimension(width).unwrap();
        for y in 0..width {
            for x in 0..width {
                if colors[(y * width + x) as usize] == qrcode::Color::Dark {
                    matrix.set(x, y);
                }
            }
        }
        matrix
    }

    const SQUARE: [[f32; 2]; 4] = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];

    #[test]
    fn confidence_is_one_minus_the_share_of_the_capacity_used() {
        assert_eq!(Correction::default().confidence(), 1.0);
        assert_eq!(Correction::block(0, 10).confidence(), 1.0);
        assert_eq!(Correction::block(1, 10).confidence(), 0.8);
        assert_eq!(Correction::block(5, 10).confidence(), 0.0);
        assert_eq!(Correction::block(9, 10).confidence(), 0.0, "clamped");
        let two = Correction::block(1, 18).plus(Correction::block(2, 18));
        assert_eq!(
            two,
            Correction {
                corrected: 3,
                capacity: 18
            }
        );
        assert_eq!(two.confidence(), 0.833);
    }

    /// Version 5-Q: four blocks of 18 error-correction codewords, 9 correctable each, 36 in
    /// all. The first data codewords of the interleaved stream are one per block in turn.
    #[test]
    fn a_qr_symbol_scores_lower_in_proportion_to_its_wrong_codewords() {
        let text = "confidence counts codewords";
        let (version, level) = (qrcode::Version::Normal(5), qrcode::EcLevel::Q);
        for wrong in 0..=12usize {
            let positions: Vec<usize> = (0..wrong).collect();
            let modules = grid(text, version, level, &positions);
            let code = read_grid(&modules, SQUARE).expect("reads");
            assert_eq!(code.content.text, text);
            assert_eq!(
                code.correction,
                Correction {
                    corrected: wrong as u32,
                    capacity: 36
                },
                "{wrong} wrong"
            );
            let expected = ((1.0 - wrong as f64 / 36.0) * 1000.0).round() / 1000.0;
            assert_eq!(code.correction.confidence(), expected);
        }
    }

    /// M4-M: one block of 10 error-correction codewords, 5 correctable.
    #[test]
    fn a_micro_qr_symbol_scores_lower_in_proportion_to_its_wrong_codewords() {
        let text = "MICRO 42";
        let (version, level) = (qrcode::Version::Micro(4), qrcode::EcLevel::M);
        for wrong in 0..=4usize {
            let positions: Vec<usize> = (0..wrong).map(|i| 2 * i).collect();
            let modules = grid(text, version, level, &positions);
            let code = read_micro(&modules, SQUARE, Formats::ALL).expect("reads");
            assert_eq!(code.content.text, text);
            assert_eq!(
                code.correction,
                Correction {
                    corrected: wrong as u32,
                    capacity: 5
                },
                "{wrong} wrong"
            );
        }
        let clean = grid(text, version, level, &[]);
        let code = read_micro(&clean, SQUARE, Formats::ALL).unwrap();
        assert_eq!(code.correction.confidence(), 1.0);
    }

    #[test]
    fn a_clean_rmqr_symbol_scores_one() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let png = std::fs::read(root.join("rmqr-r13x43.png")).unwrap();
        let codes = crate::decode(&png, &crate::DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].format, crate::Format::RMQRCode);
        assert!(codes[0].correction.capacity > 0);
        assert_eq!(codes[0].correction.confidence(), 1.0);
    }
}
