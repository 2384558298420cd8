//! Reading a sampled module grid: the one path from modules to text. A QR grid goes through
//! `codewords` (rxing's format and version reader, unmasking and block layout, our
//! Reed-Solomon in `reed_solomon`, the mirrored retry) then `text::decode_segments`; a QR Model 1
//! grid through `model_1` (its own layout and blocks, rxing's bit-stream parser); a Micro QR or
//! rMQR grid through rxing's port of zxing-cpp's decoder. Both of the last then go through
//! `text::from_payload`, the same charset rules. `correction` says how much of its error
//! correction each reading used.

pub(crate) mod codewords;
pub(crate) mod correction;
mod model_1;
pub(crate) mod reed_solomon;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rxing::common::cpp_essentials::DecoderResult;
use rxing::common::BitMatrix;
use rxing::qrcode::common::{ErrorCorrectionLevel, FormatInformation};

use self::correction::Correction;
use crate::layout;
use crate::symbology::{EcLevel, Format, Formats};
use crate::text::{self, Content};

/// A symbol read: everything of a `QrCode` but the strategy, which the runner stamps on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub content: Content,
    pub format: Format,
    pub version: u8,
    pub ec_level: EcLevel,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the symbol.
    pub points: [[f32; 2]; 4],
    pub correction: Correction,
}

impl Decoded {
    /// Its corners as a shape.
    pub fn quad(&self) -> crate::geometry::Quad {
        crate::geometry::Quad(self.points)
    }
}

/// Why a sampled grid gave no code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    /// No format information: not a QR symbol (finder-like shapes in a photo), or one sampled
    /// too badly to tell.
    NotASymbol,
    /// Format and version were read, the data was not: a code is there, damaged or sampled
    /// slightly off. Evidence worth the costly strategies.
    Damaged,
}

/// Reads a sampled module grid (set = dark) as a QR symbol: the one path to text. A grid whose
/// format information carries QR Model 1's mask (the symbol of ISO/IEC 18004:2000's annex, before
/// alignment patterns; zxing-cpp reads it) is read as Model 1 (`model_1`).
pub fn read_grid(modules: &BitMatrix, points: [[f32; 2]; 4]) -> Result<Decoded, Unread> {
    match read_model_2(modules, points) {
        Err(unread) => match model_1::format(modules) {
            Some(format) => read_model_1(modules, points, &format).map_err(|_| unread),
            None => Err(unread),
        },
        read => read,
    }
}

/// A Model 1 grid through `model_1` and `text::from_payload`.
fn read_model_1(
    modules: &BitMatrix,
    points: [[f32; 2]; 4],
    format: &FormatInformation,
) -> Result<Decoded, Unread> {
    let (decoded, version, correction) =
        catch_unwind(AssertUnwindSafe(|| model_1::read(modules, format)))
            .map_err(|_| Unread::Damaged)??;
    Ok(Decoded {
        content: port_content(&decoded),
        format: Format::QRCode,
        version,
        ec_level: ec_level_of(format.error_correction_level)?,
        points,
        correction,
    })
}

/// rxing's level as ours; `Invalid` (no level read) is a damaged symbol.
fn ec_level_of(level: ErrorCorrectionLevel) -> Result<EcLevel, Unread> {
    match level {
        ErrorCorrectionLevel::L => Ok(EcLevel::L),
        ErrorCorrectionLevel::M => Ok(EcLevel::M),
        ErrorCorrectionLevel::Q => Ok(EcLevel::Q),
        ErrorCorrectionLevel::H => Ok(EcLevel::H),
        ErrorCorrectionLevel::Invalid => Err(Unread::Damaged),
    }
}

/// A Model 2 grid through `codewords` and `text::decode_segments`.
fn read_model_2(modules: &BitMatrix, points: [[f32; 2]; 4]) -> Result<Decoded, Unread> {
    let size = modules.width();
    if size != modules.height() {
        return Err(Unread::NotASymbol);
    }
    let version = layout::version_of(size).ok_or(Unread::NotASymbol)?;
    if !(1..=40).contains(&version) {
        return Err(Unread::NotASymbol);
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| codewords::read(modules)))
        .map_err(|_| Unread::Damaged)?
        .map_err(|e| match e {
            // Reed-Solomon failed after the format information was read.
            rxing::Exceptions::ChecksumException(_) => Unread::Damaged,
            _ => Unread::NotASymbol,
        })?;
    let content = text::decode_segments(&decoded.data, version).map_err(|_| Unread::Damaged)?;
    Ok(Decoded {
        content,
        format: Format::QRCode,
        version,
        ec_level: ec_level_of(decoded.level)?,
        points,
        correction: decoded.correction,
    })
}

/// Reads a sampled Micro QR or rMQR module grid (set = dark), told apart by its shape, with
/// rxing's port of zxing-cpp's decoder: format information (mirrored too, for Micro QR),
/// unmasking, Reed-Solomon and the bit stream.
///
/// A grid that does not read is `Damaged` (evidence of a code, worth the costly strategies)
/// only when it is a Micro QR grid whose 15 format bits are exactly a valid codeword: the
/// sampler accepts three wrong bits, which most finder-like shapes in photos pass, while an
/// exact codeword happens by chance once in 500 tries. rMQR grids are never evidence.
pub fn read_micro(
    modules: &BitMatrix,
    points: [[f32; 2]; 4],
    formats: Formats,
) -> Result<Decoded, Unread> {
    let format = match (modules.width(), modules.height()) {
        (w, h) if w == h && (11..=17).contains(&w) => Format::MicroQRCode,
        (w, h) if w > h => Format::RMQRCode,
        _ => return Err(Unread::NotASymbol),
    };
    if !formats.contains(format) {
        return Err(Unread::NotASymbol);
    }
    let unread = || {
        if format == Format::MicroQRCode && exact_micro_format(modules) {
            Unread::Damaged
        } else {
            Unread::NotASymbol
        }
    };
    read_by_port(modules, points, format, unread)
}

/// A grid through rxing's port of zxing-cpp's decoder (Micro QR, rMQR) and
/// `text::from_payload`; `unread` says what a failure is.
fn read_by_port(
    modules: &BitMatrix,
    points: [[f32; 2]; 4],
    format: Format,
    unread: impl Fn() -> Unread,
) -> Result<Decoded, Unread> {
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        rxing::qrcode::cpp_port::decoder::Decode(modules)
    }))
    .map_err(|_| unread())?
    .map_err(|_| unread())?;
    if !decoded.isValid() {
        return Err(unread());
    }
    let content = port_content(&decoded);
    // The port spells levels as letters; an M1 symbol (error detection only) reports L.
    let ec_level = match decoded.ecLevel() {
        "L" => EcLevel::L,
        "M" => EcLevel::M,
        "Q" => EcLevel::Q,
        "H" => EcLevel::H,
        _ => return Err(Unread::Damaged),
    };
    Ok(Decoded {
        content,
        format,
        version: u8::try_from(decoded.versionNumber()).map_err(|_| Unread::NotASymbol)?,
        ec_level,
        points,
        // rxing read the grid, so its codewords are there to count; if not, nothing is known.
        correction: catch_unwind(AssertUnwindSafe(|| correction::micro_correction(modules)))
            .ok()
            .flatten()
            .unwrap_or_default(),
    })
}

/// The text of a bit stream rxing's port parsed, by the charset rules of `text::from_payload`.
fn port_content(decoded: &DecoderResult<bool>) -> Content {
    let payload = decoded.content();
    let eci_text = payload.has_eci.then(|| payload.to_string());
    text::from_payload(payload.bytes(), eci_text)
}

/// Whether the format information of a sampled Micro QR grid is a valid codeword without a
/// wrong bit. The bits are where the port's decoder reads them: row 8 from column 1 to 8, then
/// column 8 from row 7 up to row 1.
fn exact_micro_format(modules: &BitMatrix) -> bool {
    let row = (1..9).map(|x| modules.get(x, 8));
    let column = (1..=7).rev().map(|y| modules.get(8, y));
    let bits = row
        .chain(column)
        .fold(0u32, |bits, dark| (bits << 1) | u32::from(dark));
    rxing::qrcode::common::FormatInformation::DecodeMQR(bits).hammingDistance == 0
}
