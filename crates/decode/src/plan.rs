//! The search plan, as data: `PLAN` lists every way `decode_luma` looks for symbols, in the
//! order it tries them, each row saying what runs (a view of the image, a binarizer, a
//! detector: the `Strategy`), where it looks (the whole view, or crops around what earlier rows
//! saw and did not read), and on what evidence it may run. Gates name evidence (`Evidence`),
//! never positions: inserting a row moves nothing else. Every row feeds the same evidence:
//! the codes it read, the finder patterns it confirmed, and the symbols it sampled and could
//! not read (`crate::evidence`), which the later rows' gates and crops read.
//!
//! The order comes from measurements over the zxing-cpp corpus at four rotations and BoofCV's
//! photos (`cargo run --release -p qrscan-decode --example corpus -- --strategies`, `--example
//! boofcv -- --strategies`): the first row reads 464 of 548 image-rotations of the zxing-cpp
//! corpus, and each next one reads the most of what the ones before it miss. The cheap rows
//! cost about a millisecond each on a 640x480 image; the costly ones (crops at full or double
//! resolution, rqrr) ten times more, and run only around a symbol sampled and not read.

use crate::views::{Binarizer, View};

/// One row of the plan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub strategy: Strategy,
    /// When it runs.
    pub when: When,
}

/// The gates of a row, checked in this order before it runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct When {
    /// Whether it runs even when the codes read already explain everything seen. Only the
    /// first scan of each polarity: a light-on-dark code leaves no evidence in the dark-on-light
    /// scan (its finder patterns are the negative of the ones the scan looks for).
    pub always: bool,
    /// While no code is read: what must have been seen for it to run, and what happens when
    /// it was not (the row is skipped, or the search ends).
    pub unread_needs: Option<(Evidence, Otherwise)>,
    /// Whatever was read: what must have been seen, or the search ends.
    pub needs: &'static [Evidence],
}

/// What the detectors may have seen of a code that no code read explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The least sign: one finder pattern, or a symbol sampled.
    AnySign,
    /// Two finder patterns anywhere, or a symbol sampled.
    TwoPatterns,
    /// A symbol sampled, or two finder patterns of one symbol seen together in one view by two
    /// strategies (`evidence::PAIR_SEEN_BY`). Photos without a code gather finder-like shapes
    /// one here, one there; a symbol's show together in most binarizations.
    Symbol,
    /// A symbol sampled whose data did not read, no code lying on it (or a detector that
    /// panicked following one): where the costly rows crop.
    UnreadSymbol,
}

/// What a row whose evidence is missing does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Otherwise {
    /// Not this row; the next ones still may run.
    Skip,
    /// No more rows.
    Stop,
}

/// Where a row looks, beyond its view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LooksAt {
    /// The whole view.
    WholeView,
    /// Crops around the symbols earlier rows sampled and could not read.
    UnreadSymbols,
    /// One crop around those symbols and the pairs of finder patterns no code explains.
    UnreadSymbolsAndPairs,
}

/// Runs on every image.
const ALWAYS: When = When {
    always: true,
    unread_needs: None,
    needs: &[],
};

/// Runs until the codes read explain everything seen.
const UNTIL_EXPLAINED: When = When {
    always: false,
    unread_needs: None,
    needs: &[],
};

/// While nothing is read, only on an image where something of a code was seen: two finder
/// patterns, or a symbol sampled. Most images without a code (photos, the corpora's
/// false-positive sets) show none, and the rows from here on read no image that showed none.
const ON_EVIDENCE: When = When {
    always: false,
    unread_needs: Some((Evidence::TwoPatterns, Otherwise::Stop)),
    needs: &[],
};

/// Only where a symbol, or most of one, was seen. A fifth of the photos without a code gather
/// two finder-like shapes over the rows before, one here, one there; with pairs seen by one
/// strategy, 5 of the 46 still passed, with two, 2.
const ON_A_SYMBOL: When = When {
    always: false,
    unread_needs: Some((Evidence::TwoPatterns, Otherwise::Stop)),
    needs: &[Evidence::Symbol],
};

/// The costly rows: only around a symbol sampled that no code explains. A code is there but
/// the geometry is hard (tiny modules, curved paper); gating keeps images without codes, the
/// usual failure, at the cost of the cheap rows.
const AROUND_AN_UNREAD_SYMBOL: When = When {
    always: false,
    unread_needs: Some((Evidence::TwoPatterns, Otherwise::Stop)),
    needs: &[Evidence::Symbol, Evidence::UnreadSymbol],
};

/// The plan, in the order `decode_luma` tries it.
pub const PLAN: &[Step] = &[
    step(
        finder(View::Working, Binarizer::LocalAverage, false),
        ALWAYS,
    ),
    // Light-on-dark codes; a global threshold keeps their large flat areas whole.
    step(finder(View::Working, Binarizer::Otsu, true), ALWAYS),
    // zxing-cpp's current threshold, the middle of each block's range: reads photos the mean
    // misplaces module edges on (ink-spread prints, glare, codes beside a dark logo) and
    // misses others (bright spots). Together they read 542 of BoofCV's 651 codes, the mean
    // alone 533, the midrange alone 530. Skipped where the two before saw nothing of a code:
    // the midrange and the mean differ at module edges, not in whether a pattern shows; over
    // both corpora it read no image where both polarities' scans saw nothing (49 images do not
    // run it, 28 of them among the 46 photos without a code).
    step(
        finder(View::Working, Binarizer::LocalMidrange, false),
        When {
            always: false,
            unread_needs: Some((Evidence::AnySign, Otherwise::Skip)),
            needs: &[],
        },
    ),
    // Photos larger than the working view: small codes (2-3 pixels per module in the photo)
    // lose their modules to the shrinking. Nothing to do for smaller images.
    step(
        finder(View::Full, Binarizer::LocalAverage, false),
        UNTIL_EXPLAINED,
    ),
    // Blurred or noisy photos, and print dots inside modules.
    step(finder(View::Half, Binarizer::Otsu, false), UNTIL_EXPLAINED),
    // Heavy sensor noise and low contrast: the blur restores finder patterns' runs, and one
    // global threshold does not follow the noise as an 8x8 local one does. Before the
    // evidence gate: it reads images where nothing before it saw a finder pattern.
    step(
        finder(View::Blurred, Binarizer::Otsu, false),
        UNTIL_EXPLAINED,
    ),
    step(
        finder(View::Half, Binarizer::LocalAverage, false),
        ON_EVIDENCE,
    ),
    step(
        finder(View::Half, Binarizer::LocalMidrange, false),
        ON_EVIDENCE,
    ),
    step(finder(View::Working, Binarizer::Otsu, false), ON_A_SYMBOL),
    // Codes cut tight or touching the photo's edge: a light margin stands in for the quiet
    // zone. Not first: the margin shifts the local thresholds near the edge, and alone it
    // reads fewer corpus images than the unpadded view.
    step(
        finder(View::Padded, Binarizer::LocalAverage, false),
        ON_A_SYMBOL,
    ),
    step(
        finder(View::Padded, Binarizer::LocalMidrange, false),
        ON_A_SYMBOL,
    ),
    // Symbols photographed at a steep angle, their modules twice as long one way as the
    // other: squashed back to square, around what the views before saw and did not read.
    step(
        around(View::HalfHeight, Binarizer::LocalAverage, false),
        ON_A_SYMBOL,
    ),
    step(
        around(View::HalfWidth, Binarizer::LocalAverage, false),
        ON_A_SYMBOL,
    ),
    // Defocus, and glare that washed out the modules' contrast.
    step(
        around(View::Working, Binarizer::LocalAverage, true),
        ON_A_SYMBOL,
    ),
    // Defocus wider than the working view's radius: the same, at half the resolution.
    step(
        around(View::Half, Binarizer::LocalAverage, true),
        ON_A_SYMBOL,
    ),
    // A code a few pixels per module in a large photo: the working view's shrinking leaves
    // it just enough to be found but not read. Crops at full resolution cost little.
    step(
        Strategy::FinderCrops {
            view: View::Full,
            binarizer: Binarizer::LocalAverage,
        },
        AROUND_AN_UNREAD_SYMBOL,
    ),
    // A symbol found but misread at 3-10 pixels per module: upscaled twice, the 8x8 blocks
    // of the local threshold and the sampling grid fall on module boundaries differently.
    // Any image size, unlike the `Double` view, since only the crops are enlarged.
    step(
        Strategy::ZoomedCrops {
            view: View::Working,
        },
        AROUND_AN_UNREAD_SYMBOL,
    ),
    // rqrr fits each symbol's perspective to its timing patterns: reads curved and crumpled
    // codes the finder-pattern sampler misses. On crops around the symbols the rows before
    // sampled but could not read, never on the whole image. The working view first, a quarter
    // of the pixels: what it reads, the doubled crops need not.
    step(
        Strategy::Rqrr {
            view: View::Working,
            invert: false,
        },
        AROUND_AN_UNREAD_SYMBOL,
    ),
    // Small codes (under about 5 pixels a module) that rqrr's own threshold loses at 1x.
    step(
        Strategy::Rqrr {
            view: View::Double,
            invert: false,
        },
        AROUND_AN_UNREAD_SYMBOL,
    ),
];

const fn step(strategy: Strategy, when: When) -> Step {
    Step { strategy, when }
}

const fn around(view: View, binarizer: Binarizer, sharpen: bool) -> Strategy {
    Strategy::FinderAround {
        view,
        binarizer,
        sharpen,
    }
}

const fn finder(view: View, binarizer: Binarizer, invert: bool) -> Strategy {
    Strategy::Finder {
        view,
        binarizer,
        invert,
    }
}

/// One way of looking for codes: a view of the image, and a detector run on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// zxing-cpp's finder-pattern detector on a binarized view; `invert` reads light-on-dark.
    Finder {
        view: View,
        binarizer: Binarizer,
        invert: bool,
    },
    /// The finder-pattern detector on crops of a view around the symbols earlier strategies
    /// sampled but could not read.
    FinderCrops { view: View, binarizer: Binarizer },
    /// The finder-pattern detector on one crop of a view around all that earlier strategies saw
    /// and could not read: symbols sampled, and pairs of finder patterns no code explains (a
    /// whole view costs as much on a photo without a code as on one with a symbol in a corner;
    /// a crop per place overlapped its neighbours and cost more than the whole view);
    /// `sharpen`: the crop sharpened first (unsharp masking), for defocus.
    FinderAround {
        view: View,
        binarizer: Binarizer,
        sharpen: bool,
    },
    /// The finder-pattern detector (local average) on crops of a view around the symbols
    /// earlier strategies sampled but could not read, upscaled twice.
    ZoomedCrops { view: View },
    /// rqrr (it thresholds on its own) on crops of a grey view around the symbols earlier
    /// strategies sampled but could not read.
    Rqrr { view: View, invert: bool },
}

impl Strategy {
    /// A short, stable name: `finder/half/otsu/inverted`, `rqrr/working`, ...
    pub fn label(&self) -> String {
        let (name, view, binarizer, invert) = match *self {
            Strategy::Finder {
                view,
                binarizer,
                invert,
            } => ("finder", view, Some(binarizer), invert),
            Strategy::FinderCrops { view, binarizer } => {
                ("finder-crops", view, Some(binarizer), false)
            }
            Strategy::FinderAround {
                view,
                binarizer,
                sharpen,
            } => (
                if sharpen {
                    "finder-around-sharpened"
                } else {
                    "finder-around"
                },
                view,
                Some(binarizer),
                false,
            ),
            Strategy::ZoomedCrops { view } => ("finder-crops-x2", view, None, false),
            Strategy::Rqrr { view, invert } => ("rqrr", view, None, invert),
        };
        let mut label = format!("{name}/{view:?}");
        if let Some(binarizer) = binarizer {
            label.push_str(&format!("/{binarizer:?}"));
        }
        if invert {
            label.push_str("/inverted");
        }
        label.to_ascii_lowercase()
    }
}

impl Strategy {
    /// Where it looks, beyond its view.
    pub fn looks_at(&self) -> LooksAt {
        match self {
            Strategy::Finder { .. } => LooksAt::WholeView,
            Strategy::FinderAround { .. } => LooksAt::UnreadSymbolsAndPairs,
            Strategy::FinderCrops { .. } | Strategy::ZoomedCrops { .. } | Strategy::Rqrr { .. } => {
                LooksAt::UnreadSymbols
            }
        }
    }

    /// For the rows that crop around unread symbols: the module size, in working-view
    /// pixels, that a symbol's must be under for this row to crop around it. The crops at full
    /// resolution, doubled, or rqrr's doubled view add pixels to modules the working view left
    /// few of; a symbol of 12 pixels a module gains nothing from more (over both corpora these
    /// rows read no symbol coarser than 6 working pixels a module), and on a 12-megapixel photo
    /// of a curved code they had cost 110 ms for nothing.
    pub fn crops_modules_under(&self) -> f32 {
        match self {
            Strategy::FinderCrops {
                view: View::Full, ..
            } => SMALL_MODULE,
            Strategy::ZoomedCrops { .. } => ZOOMED_MODULE,
            Strategy::Rqrr {
                view: View::Double, ..
            } => RQRR_SMALL_MODULE,
            _ => f32::INFINITY,
        }
    }
}

/// Modules the working view's shrinking leaves "a few pixels" (`FinderCrops` at full
/// resolution); the scan finds finder patterns of 1 pixel a module, and samples reliably from 3.
const SMALL_MODULE: f32 = 4.0;

/// Modules of 3 to 10 pixels, where doubling moves the local threshold's 8x8 blocks and the
/// sampling grid against module edges (`ZoomedCrops`).
const ZOOMED_MODULE: f32 = 10.0;

/// Modules under about 5 pixels, which rqrr's own threshold loses at 1x (`Rqrr` on `Double`).
const RQRR_SMALL_MODULE: f32 = 5.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_a_different_strategy_with_a_different_label() {
        let labels: std::collections::HashSet<_> =
            PLAN.iter().map(|s| s.strategy.label()).collect();
        assert_eq!(labels.len(), PLAN.len());
    }

    #[test]
    fn only_the_first_scan_of_each_polarity_always_runs() {
        let always: Vec<_> = PLAN.iter().filter(|s| s.when.always).collect();
        assert_eq!(always.len(), 2);
        assert!(matches!(
            always[1].strategy,
            Strategy::Finder { invert: true, .. }
        ));
    }
}
