//! `QrCode`: one decoded symbol as the library returns it, the strategy that found it stamped on.

use rxing::qrcode::common::Version;
use rxing::qrcode::cpp_port::Type;

use crate::geometry::Quad;
use crate::plan::Strategy;
use crate::read::correction::Correction;
use crate::read::Decoded;
use crate::symbology::{EcLevel, Format};
use crate::text::Content;

/// One decoded symbol: a QR Code, a Micro QR Code or an rMQR.
#[derive(Clone, Debug, PartialEq)]
pub struct QrCode {
    pub content: Content,
    pub format: Format,
    /// The symbol's own version number: 1-40 for QR Code, 1-4 for M1-M4, 1-32 for rMQR
    /// (R7x43 to R17x139, in ISO/IEC 23941's order).
    pub version: u8,
    pub ec_level: EcLevel,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the symbol.
    pub points: [[f32; 2]; 4],
    /// The strategy that found it (for a joined structured-append set, the one that found its
    /// first part), for metrics and tuning.
    pub strategy: Strategy,
    /// How much of its error correction the reading used (`read::correction`); for a joined
    /// structured-append set, all its parts'.
    pub correction: Correction,
    /// The page it was found on, from 1, when the image was a PDF's page.
    pub page: Option<u32>,
}

impl QrCode {
    /// What a detector read, found by `strategy`.
    pub(crate) fn found_by(decoded: Decoded, strategy: Strategy) -> QrCode {
        let Decoded {
            content,
            format,
            version,
            ec_level,
            points,
            correction,
        } = decoded;
        QrCode {
            content,
            format,
            version,
            ec_level,
            points,
            strategy,
            correction,
            page: None,
        }
    }

    /// Its corners as a shape.
    pub fn quad(&self) -> Quad {
        Quad(self.points)
    }

    /// The side of one of its modules, in image pixels: its area over its modules.
    pub(crate) fn module_size(&self) -> f32 {
        let kind = match self.format {
            Format::QRCode => Type::Model2,
            Format::MicroQRCode => Type::Micro,
            Format::RMQRCode => Type::RectMicro,
        };
        let modules = Version::SymbolSize(u32::from(self.version), kind);
        let count = (modules.x * modules.y).max(1) as f32;
        (self.quad().area() / count).sqrt()
    }
}
