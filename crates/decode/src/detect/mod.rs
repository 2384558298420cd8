//! Detectors: find symbols in one prepared view and read each one's module grid. Three, with
//! different failure modes: zxing-cpp's finder-pattern detector (`finder`, as ported in rxing's
//! `cpp_port`, on a binarized `BitMatrix`; follows alignment patterns across large, curved or
//! tilted symbols), its "pure" detector (`pure`: one unskewed symbol on a margin, down to a
//! pixel a module) and rqrr (`flood_fill`: regions of its own threshold; reads some damaged
//! finder patterns the scan-line detector rejects). All hand their grids to `crate::read`, the
//! only path from modules to text, and report what they saw in one shape, `Detected`: codes
//! read, symbols sampled and not read (`Damaged`), finder patterns. They know nothing of the
//! search plan: the runner says where their view sits (`Placement`) and stamps the strategy
//! on what they read.
//!
//! Every third-party call runs inside `catch_unwind`: both libraries index and assert in their
//! geometry code, and one hostile image must not take down a worker.

mod finder;
mod flood_fill;
mod pure;
mod scan_rows;
mod triples;

use rxing::common::BitMatrix;

pub(crate) use self::finder::{finder, finder_pattern_count, Resampling};
pub(crate) use self::flood_fill::rqrr;
pub(crate) use self::pure::pure;
pub(crate) use crate::geometry::Placement;
use crate::geometry::{Pattern, Quad};
use crate::layout;
use crate::read::{Decoded, Unread};
pub(crate) use crate::sample::Grey;

/// Most damaged symbols one detector run reports.
const MAX_DAMAGED: usize = 1024;

/// What one detector run saw: the codes it read, and the symbols it read the format of but
/// not the data. Those turn "no code" into "unreadable code", unlock the costly strategies, and
/// tell them where to look.
#[derive(Default)]
pub struct Detected {
    pub codes: Vec<Decoded>,
    /// The symbols sampled whose format read and whose data did not.
    pub damaged: Vec<Damaged>,
    /// Candidates without a place: the detector panicked while following one.
    pub lost: usize,
    /// Finder patterns the scan confirmed, in the caller's image pixels: evidence of symbols,
    /// read or not.
    pub patterns: Vec<Pattern>,
}

/// A symbol whose format and version were read and whose data was not: a code is there.
#[derive(Clone, Debug)]
pub struct Damaged {
    /// Its corners in the caller's image pixels.
    pub corners: Quad,
    /// Where its grid puts the centres of its finder patterns, in the caller's image pixels:
    /// three for QR, the one of Micro QR and rMQR. A finder pattern belongs to one symbol, so
    /// a "symbol" that shares one with a code read is a triple made across codes.
    pub finders: Vec<[f32; 2]>,
    /// The side of one of its modules, in image pixels.
    pub module: f32,
}

impl Damaged {
    /// The damaged symbol a sampled grid of `modules` with `corners` shows.
    pub(crate) fn new(corners: [[f32; 2]; 4], modules: &BitMatrix) -> Self {
        let (width, height) = (modules.width() as f32, modules.height() as f32);
        // Module coordinates to image pixels, bilinear between the corners: close enough to
        // the symbol's perspective to tell which code a finder pattern lies on.
        let at = |x: f32, y: f32| {
            let (u, v) = (x / width, y / height);
            let [tl, tr, br, bl] = corners;
            let mix = |i: usize| {
                (1.0 - u) * (1.0 - v) * tl[i]
                    + u * (1.0 - v) * tr[i]
                    + u * v * br[i]
                    + (1.0 - u) * v * bl[i]
            };
            [mix(0), mix(1)]
        };
        let c = layout::FINDER_CENTRE;
        let finders = if width == height && width >= layout::MIN_SIDE as f32 {
            vec![at(c, c), at(width - c, c), at(c, height - c)]
        } else {
            vec![at(c, c)]
        };
        let quad = Quad(corners);
        Damaged {
            module: (quad.area() / (width * height)).sqrt(),
            corners: quad,
            finders,
        }
    }
}

impl Detected {
    pub(crate) fn count(&mut self, unread: Unread, points: [[f32; 2]; 4], modules: &BitMatrix) {
        // Bounded: a field of finder-like targets gives a "symbol" per triple sampled, and
        // `Found` keeps at most `MAX_KEPT_DAMAGED` (256) of them anyway.
        if unread == Unread::Damaged && self.damaged.len() < MAX_DAMAGED {
            self.damaged.push(Damaged::new(points, modules));
        }
    }

    /// What a detector that panicked had seen: a candidate, somewhere.
    pub(crate) fn panicked() -> Self {
        Detected {
            lost: 1,
            ..Detected::default()
        }
    }
}
