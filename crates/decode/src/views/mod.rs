//! Views: the grey images the search looks at, each made once per image and shared by the
//! strategies that use it (`Views`), with their binarizations. The working view is the loaded
//! image shrunk to at most 1600 pixels a side; the others are made from it (half, doubled,
//! blurred, padded, squashed one way) or are the loaded image itself (`Full`). `binarize`
//! turns a view black and white, `resize` makes the views' pixels.

pub(crate) mod binarize;
#[cfg(test)]
mod pixel_tests;
pub(crate) mod resize;

use std::collections::HashMap;

use image::GrayImage;
use rxing::common::BitMatrix;

pub use self::binarize::Binarizer;
use crate::deadline::Deadline;
use crate::symbology::Formats;

/// The grey image a strategy looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The image as loaded; photos over `WORKING_SIDE` pixels are first shrunk by an integer
    /// factor, since finder patterns of any code a person can photograph survive that.
    Working,
    /// The working image averaged over 2x2 blocks: removes noise, sharpens blurred modules.
    Half,
    /// Upscaled twice, for codes of one or two pixels per module (small images only).
    Double,
    /// A 3x3 box blur: fills the dots of dot-printed and screen-photographed modules.
    Blurred,
    /// The working image inside a light margin: a code cut tight to its symbol, or touching
    /// the edge of the photo, gets back the quiet zone the finder-pattern scan needs around it.
    Padded,
    /// The image at full resolution, for photos the working view shrank: small codes in large
    /// photos lose their modules to the shrinking.
    Full,
    /// The working image with each two columns averaged into one: a symbol photographed at a
    /// steep angle about a horizontal axis (foreshortened down, its modules twice as wide as
    /// tall) gets back square modules, which the finder-pattern scan's cross-checks need.
    HalfWidth,
    /// Each two rows averaged into one: a symbol foreshortened across, tilted about a vertical
    /// axis.
    HalfHeight,
}

/// Long side above which the working image is shrunk. BoofCV's half read 580 codes at 1200 and
/// 579 at 2000 against 584 here, the zxing-cpp corpus 133 at all three (2026-12-07, one constant
/// at a time, `benches/README.md`).
const WORKING_SIDE: u32 = 1600;
/// Long side up to which the `Double` view is made. 400 and 800 read the same on both corpora
/// (584, 133; 2026-12-07): not a tuned point, a bound on the doubled view's size.
const DOUBLE_MAX_SIDE: u32 = 600;
/// Short side a downscaled view must keep to be worth scanning. 80 read the same; 160 lost one
/// code of each corpus (583, 132; 2026-12-07).
const MIN_SCALED_SIDE: u32 = 120;

/// The views and binarizations made so far for one image, so strategies share them, and the
/// formats every strategy looks for in them.
pub(crate) struct Views<'a> {
    grey: &'a GrayImage,
    pub(crate) formats: Formats,
    /// Each view with the factors (across, down) from its pixels to the original image's;
    /// `None`: not applicable.
    views: HashMap<View, Option<(GrayImage, [f32; 2])>>,
    pub(crate) binarized: HashMap<(View, Binarizer), Option<BitMatrix>>,
    /// Each view's 8x8 block statistics, which both local binarizers start from.
    blocks: HashMap<View, Option<binarize::Blocks>>,
    /// The deadline of the strategy running: views and binarizations are passes over whole
    /// images, and one given up at the deadline is left `None` (nothing runs after it).
    pub(crate) deadline: Deadline,
}

impl<'a> Views<'a> {
    pub(crate) fn new(grey: &'a GrayImage, formats: Formats) -> Self {
        Views {
            grey,
            formats,
            views: HashMap::new(),
            binarized: HashMap::new(),
            blocks: HashMap::new(),
            deadline: Deadline::NONE,
        }
    }

    pub(crate) fn view(&mut self, view: View) -> Option<&(GrayImage, [f32; 2])> {
        if !self.views.contains_key(&view) {
            let made = self.make(view);
            self.views.insert(view, made);
        }
        self.views.get(&view)?.as_ref()
    }

    fn make(&mut self, view: View) -> Option<(GrayImage, [f32; 2])> {
        let long_side = self.grey.width().max(self.grey.height());
        if view == View::Working {
            let factor = long_side.div_ceil(WORKING_SIDE);
            return Some(if factor > 1 {
                (
                    resize::downscale(self.grey, factor, self.deadline)?,
                    [factor as f32; 2],
                )
            } else {
                (self.grey.clone(), [1.0; 2])
            });
        }
        let deadline = self.deadline;
        let (working, scale) = self.view(View::Working)?;
        let short_side = working.width().min(working.height());
        let [across, down] = *scale;
        match view {
            View::Working => None,
            View::Half => (short_side / 2 >= MIN_SCALED_SIDE)
                .then(|| resize::downscale(working, 2, deadline))
                .flatten()
                .map(|half| (half, [across * 2.0, down * 2.0])),
            View::Double => (working.width().max(working.height()) <= DOUBLE_MAX_SIDE)
                .then(|| (resize::double(working), [across / 2.0, down / 2.0])),
            View::HalfWidth => (working.width() / 2 >= MIN_SCALED_SIDE)
                .then(|| (resize::halve_width(working), [across * 2.0, down])),
            View::HalfHeight => (working.height() / 2 >= MIN_SCALED_SIDE)
                .then(|| (resize::halve_height(working), [across, down * 2.0])),
            View::Blurred => Some((resize::blur(working), *scale)),
            View::Padded => {
                let margin = padding(working);
                Some((resize::pad(working, margin), *scale))
            }
            // The loaded image itself, by `pixels`: a copy would cost a full-size image.
            View::Full => None,
        }
    }

    /// How many image pixels one working-view pixel spans (1 where the image is not shrunk).
    pub(crate) fn working_scale(&mut self) -> f32 {
        self.view(View::Working).map_or(1.0, |(_, scale)| scale[0])
    }

    /// The pixels of `view` and its scale; for `Full`, the loaded image itself when the working
    /// view is smaller than it (otherwise `Full` adds nothing to `Working`), never a copy.
    pub(crate) fn pixels(&mut self, view: View) -> Option<(&GrayImage, [f32; 2])> {
        if view != View::Full {
            return self.view(view).map(|(grey, scale)| (grey, *scale));
        }
        let grey = self.grey;
        let shrunk = self.view(View::Working)?.1[0] > 1.0;
        shrunk.then_some((grey, [1.0; 2]))
    }

    /// The pixels of a view `pixels` has made, borrowed without making any.
    pub(crate) fn made_pixels(&self, view: View) -> Option<&GrayImage> {
        match view {
            View::Full => Some(self.grey),
            _ => self.views.get(&view)?.as_ref().map(|(grey, _)| grey),
        }
    }

    pub(crate) fn binarized(&mut self, view: View, binarizer: Binarizer) -> Option<&BitMatrix> {
        let key = (view, binarizer);
        if !self.binarized.contains_key(&key) {
            // Taken out while the view is borrowed, put back after.
            let mut blocks = self.blocks.remove(&view);
            let deadline = self.deadline;
            let bits = self.pixels(view).and_then(|(grey, _)| match binarizer {
                Binarizer::Otsu => binarize::otsu(grey, deadline),
                local => {
                    let blocks = blocks.get_or_insert_with(|| binarize::Blocks::of(grey, deadline));
                    match local {
                        Binarizer::LocalAverage => {
                            binarize::local_average_of(grey, blocks.as_ref(), deadline)
                        }
                        _ => binarize::local_midrange_of(grey, blocks.as_ref(), deadline),
                    }
                }
            });
            if let Some(blocks) = blocks {
                self.blocks.insert(view, blocks);
            }
            self.binarized.insert(key, bits);
        }
        self.binarized.get(&key)?.as_ref()
    }
}

/// The margin of the padded view: a sixteenth of the working image's long side (more than a
/// module of a symbol that fills the image; an eighth read no more), at least 8 pixels.
pub(crate) fn padding(working: &GrayImage) -> u32 {
    (working.width().max(working.height()) / 16).max(8)
}
