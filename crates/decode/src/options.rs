//! `DecodeOptions`: the limits one decode runs under.

use std::sync::Arc;
use std::time::Duration;

use image::GrayImage;

use crate::error::DecodeError;
use crate::symbology::Formats;

/// The limits one decode runs under; built by `EngineConfig::decode_options` from the flags.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Largest width x height accepted, checked from the header (`--max-pixels`).
    pub max_pixels: u64,
    /// Largest allocation the image decoder may make; for a JPEG, its frame and (progressive)
    /// coefficients together (`--max-decode-memory`).
    pub max_decoder_bytes: u64,
    /// Time after which no further strategy is started (`--decode-budget`).
    pub budget: Duration,
    /// The symbologies looked for (`--formats`, narrowed by a request's `formats`).
    pub formats: Formats,
    /// Whether a PDF's pages are read, how many, and who draws them (`--pdf-pages`).
    pub pdf: PdfOptions,
}

impl DecodeOptions {
    /// Whether a decoder that holds `needed` bytes at its peak for a `width` x `height` image may
    /// run: every format's loader asks this before it allocates, so they refuse alike (1006).
    pub(crate) fn memory_for(
        &self,
        width: u32,
        height: u32,
        needed: u64,
    ) -> Result<(), DecodeError> {
        if needed > self.max_decoder_bytes {
            return Err(DecodeError::TooMuchMemory {
                width,
                height,
                needed: Some(needed),
                limit: self.max_decoder_bytes,
            });
        }
        Ok(())
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: 40_000_000,
            max_decoder_bytes: 512 * 1024 * 1024,
            budget: Duration::from_secs(2),
            formats: Formats::default(),
            pdf: PdfOptions::default(),
        }
    }
}

/// Draws page `index` (from 0) of a PDF to grey, under the limits of `options` (its `budget` is
/// what is left of the document's).
pub type PageRenderer =
    Arc<dyn Fn(&[u8], u32, &DecodeOptions) -> Result<RenderedPage, DecodeError> + Send + Sync>;

/// Whether PDFs are read, how many pages, and who draws them.
#[derive(Clone, Default)]
pub struct PdfOptions {
    /// How many pages from the first are read; 0 refuses PDFs (`--pdf-pages`).
    pub pages: u32,
    /// What draws one page; `None` is `pdf::render_page`, in this process.
    pub renderer: Option<PageRenderer>,
}

impl std::fmt::Debug for PdfOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfOptions")
            .field("pages", &self.pages)
            .field("renderer", &self.renderer.as_ref().map(|_| "custom"))
            .finish()
    }
}

/// One page drawn, and how many pages the document has.
#[derive(Clone, Debug)]
pub struct RenderedPage {
    pub page_count: u32,
    pub grey: GrayImage,
}
