//! Image bytes -> every QR Code, Micro QR Code and rMQR Code in the image. Pure and
//! synchronous: no async runtime, no network, no files; callers run it off their async runtime.
//!
//! ```no_run
//! let bytes = std::fs::read("code.png").unwrap();
//! let codes = qrscan_decode::decode(&bytes, &qrscan_decode::DecodeOptions::default());
//! for code in codes.unwrap_or_default() {
//!     println!("{} ({:?}, version {})", code.content.text, code.format, code.version);
//! }
//! ```
//!
//! `docs/decoding.md` in the repository walks through the algorithm top-down; this page maps it
//! onto the files.
//!
//! # Layout
//!
//! By pipeline stage, each a folder or a file. Dependencies point one way, down this list: a
//! module uses only modules listed below it (each arrow lists the `use crate::...` of its files,
//! tests aside; the last six use nothing of the crate).
//!
//! ```text
//! lib       the public API: re-exports only
//! pdf       a PDF's pages drawn (hayro) and read, each code with its page
//!                                                               -> runner code load options error
//! runner    decode_luma: walk the plan, gate each row, run it, stamp the strategy
//!             -> evidence append code plan detect views options error symbology geometry deadline
//! evidence  Found: codes read and what no code explains; the plan's gates ask it
//!             -> code plan detect error geometry
//! append    structured-append sets joined                       -> code text
//! code      QrCode: a symbol read and the strategy that found it -> plan read symbology geometry text
//! plan      PLAN: the search plan as data (Strategy, When, Evidence) -> views
//! detect    the detectors: finder (+ scan_rows, triples), pure, flood_fill (rqrr);
//!           Detected, Damaged                                   -> sample read symbology geometry layout deadline
//! sample    re-gridding a symbol: the module sampler, majority grid,
//!           grey_grid (blur undone), resample (fourth corner moved) -> read geometry layout deadline
//! read      a module grid -> text: codewords, reed_solomon, correction,
//!           Micro QR and rMQR                                   -> text symbology geometry layout
//! views     the views of one image, their binarizations: binarize, resize -> symbology deadline
//! load      bytes -> grey: png, packed_png, jpeg, webp, heif (+ av1), jxl, svg,
//!           via_image (GIF, BMP, TIFF), pixel                    -> options error
//! options   DecodeOptions                                       -> symbology error
//! text      segments -> text, the charset rules
//! symbology Format, Formats, EcLevel      error     DecodeError
//! geometry  Quad, Bounds, Pattern, Placement
//! layout    the QR layout facts: sides, finder, timing and alignment positions
//! deadline  Deadline
//! ```
//!
//! Third-party detectors and decoders are called inside `catch_unwind`: one hostile image must
//! not take down a request or a server.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod append;
mod code;
mod deadline;
mod detect;
mod error;
mod evidence;
mod geometry;
mod layout;
mod load;
mod options;
pub mod pdf;
mod plan;
mod read;
mod runner;
mod sample;
mod symbology;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
pub mod text;
mod views;

use std::time::Instant;

pub use self::append::join_structured_append;
pub use self::code::QrCode;
pub use self::deadline::Deadline;
pub use self::error::DecodeError;
pub use self::geometry::Quad;
pub use self::load::{load_luma, sniff_format};
pub use self::options::{DecodeOptions, PageRenderer, PdfOptions, RenderedPage};

pub use self::plan::{Evidence, LooksAt, Otherwise, Step, Strategy, When, PLAN};
pub use self::read::correction::Correction;
pub use self::runner::decode_luma;
#[cfg(any(test, feature = "lab"))]
pub use self::runner::run_strategy;
pub use self::symbology::{EcLevel, Format, Formats};
pub use self::views::{Binarizer, View};
/// The grey image `decode_luma` reads and a `PageRenderer` returns (image 0.25's).
pub use image::GrayImage;

/// Finds and reads every code in an encoded image, largest first.
/// A PDF's first pages are read when `options.pdf.pages` says so (`pdf`).
pub fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<Vec<QrCode>, DecodeError> {
    let started = Instant::now();
    match load_luma(bytes, options) {
        Ok(grey) => {
            // `RUST_LOG=qrscan_decode=trace`: the load's share of one image's time.
            tracing::trace!(
                micros = started.elapsed().as_micros() as u64,
                width = grey.width(),
                height = grey.height(),
                "image loaded"
            );
            decode_luma(&grey, options, started)
        }
        Err(DecodeError::NotAnImage(_)) if pdf::is_pdf(bytes) => {
            pdf::decode_pages(bytes, options, started)
        }
        Err(refused) => Err(refused),
    }
}
