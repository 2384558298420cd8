//! `DecodeError`: why no code came out of an image, each reason its own variant, which the
//! service maps to API.md's codes (1006-1009).

/// Why no code came out of an image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DecodeError {
    #[error("not a supported image: {0}")]
    NotAnImage(String),
    #[error("image is {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    /// Decoding would allocate more than `--max-decode-memory` (`limit` bytes); `needed` is
    /// what our own count says, when the decoder that refused is ours.
    #[error("{}", memory_refusal(*width, *height, *needed, *limit))]
    TooMuchMemory {
        width: u32,
        height: u32,
        needed: Option<u64>,
        limit: u64,
    },
    #[error(
        "image is {width}x{height} pixels, its long side over {max_ratio} times its short side"
    )]
    TooElongated {
        width: u32,
        height: u32,
        max_ratio: u32,
    },
    /// A vector image (SVG) that stands for more than `limit` elements once its references are
    /// expanded: refused before it is expanded or rendered.
    #[error(
        "the SVG stands for more than {limit} elements once its <use> references are expanded"
    )]
    TooComplex { limit: u64 },
    /// A PDF, when PDF pages are not read (`PdfOptions::pages` is 0).
    #[error("a PDF: its pages are read only when qrscan runs with --pdf-pages N (N pages from the first)")]
    PdfNotEnabled,
    /// A PDF page whose drawing was stopped from outside: it took longer than what was left of
    /// the decode budget, or needed more memory than the decoder's cap (`why` says which).
    #[error("PDF page {page} was not drawn: {why}")]
    PageStopped { page: u32, why: String },
    #[error("no QR code found in the image")]
    NoCode,
    #[error("a QR code was found but could not be read")]
    Unreadable,
}

/// The sentence of a `TooMuchMemory` refusal.
fn memory_refusal(width: u32, height: u32, needed: Option<u64>, limit: u64) -> String {
    match needed {
        Some(needed) => format!(
            "image is {width}x{height} pixels and needs {needed} bytes of decoder memory, over the limit of {limit} bytes"
        ),
        None => format!(
            "image is {width}x{height} pixels and needs more decoder memory than the limit of {limit} bytes"
        ),
    }
}
