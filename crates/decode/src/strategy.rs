//! The strategies: which view of the image each detector looks at, in which order, and the
//! `Views` that make each view and binarization once per image so strategies share them.

use std::collections::HashMap;

use image::GrayImage;
use rxing::common::BitMatrix;

use super::deadline::Deadline;
use super::detect::{self, Detected, Grey, Placement, Resampling};
use super::{pixels, Formats};

/// The strategies `decode_luma` always tries, in order, until one reads a code. Each costs
/// about a millisecond on a 640x480 image; the order comes from measurements over the zxing-cpp
/// corpus at four rotations (`examples/corpus.rs --strategies`): the first reads 464 of 548
/// image-rotations, and each next one reads the most of what the ones before it miss.
pub const CHEAP_STRATEGIES: &[Strategy] = &[
    finder(View::Working, Binarizer::LocalAverage, false),
    // Light-on-dark codes; a global threshold keeps their large flat areas whole.
    finder(View::Working, Binarizer::Otsu, true),
    // zxing-cpp's current threshold, the middle of each block's range: reads photos the mean
    // misplaces module edges on (ink-spread prints, glare, codes beside a dark logo) and
    // misses others (bright spots). Together they read 542 of BoofCV's 651 codes, the mean
    // alone 533, the midrange alone 530.
    finder(View::Working, Binarizer::LocalMidrange, false),
    // Photos larger than the working view: small codes (2-3 pixels per module in the photo)
    // lose their modules to the shrinking. Nothing to do for smaller images.
    finder(View::Full, Binarizer::LocalAverage, false),
    // Blurred or noisy photos, and print dots inside modules.
    finder(View::Half, Binarizer::Otsu, false),
    // Heavy sensor noise and low contrast: the blur restores finder patterns' runs, and one
    // global threshold does not follow the noise as an 8x8 local one does. Before the rest:
    // it reads images where nothing before it saw a finder pattern, which the ones after it
    // need (`EVIDENCE_NEEDED_FROM`).
    finder(View::Blurred, Binarizer::Otsu, false),
    finder(View::Half, Binarizer::LocalAverage, false),
    finder(View::Half, Binarizer::LocalMidrange, false),
    finder(View::Working, Binarizer::Otsu, false),
    // Codes cut tight or touching the photo's edge: a light margin stands in for the quiet
    // zone. Not first: the margin shifts the local thresholds near the edge, and alone it
    // reads fewer corpus images than the unpadded view.
    finder(View::Padded, Binarizer::LocalAverage, false),
    finder(View::Padded, Binarizer::LocalMidrange, false),
    // Symbols photographed at a steep angle, their modules twice as long one way as the
    // other: squashed back to square, around what the views before saw and did not read.
    around(View::HalfHeight, Binarizer::LocalAverage, false),
    around(View::HalfWidth, Binarizer::LocalAverage, false),
    // Defocus, and glare that washed out the modules' contrast.
    around(View::Working, Binarizer::LocalAverage, true),
    // Defocus wider than the working view's radius: the same, at half the resolution.
    around(View::Half, Binarizer::LocalAverage, true),
];

/// How many of `CHEAP_STRATEGIES` run on every image, whatever the first ones read: one scan
/// for each polarity, since a light-on-dark code leaves no evidence in the dark-on-light scan
/// (its finder patterns are the negative of the ones the scan looks for).
pub const ALWAYS_TRIED: usize = 2;

/// The strategy of `CHEAP_STRATEGIES` (the working view's midrange threshold) skipped where
/// the two before it saw nothing of a code: not one finder pattern, no candidate. The midrange
/// and the mean threshold differ at module edges, not in whether a pattern shows: over both
/// corpora it read no image where the scans of both polarities saw nothing (49 images do not
/// run it, 28 of them among the 46 photos without a code), and what the views after it read there
/// they read without it.
pub const SIGN_NEEDED_AT: usize = 2;

/// From this strategy of `CHEAP_STRATEGIES` on, an image where nothing is read yet is looked
/// at further only if the detectors saw something of a code: two finder patterns, or a symbol
/// sampled but not read. Most images without a code (photos, the corpora's false-positive
/// sets) show none, and the strategies after this read no image that showed none.
pub const EVIDENCE_NEEDED_FROM: usize = 6;

/// From this strategy of `CHEAP_STRATEGIES` on, an image is looked at further only if the
/// detectors saw a symbol or most of one (`Found::saw_symbol`): a symbol sampled, or two
/// finder patterns of one, together in one view, in two strategies. A fifth of the photos
/// without a code gather two finder-like shapes over the strategies before, one here, one
/// there; with pairs seen by one strategy, 5 of the 46 still passed, with two, 2.
pub const PAIR_NEEDED_FROM: usize = 8;

/// Strategies costing ten times more, tried only when a cheap one sampled a symbol it could
/// not read: a code is there but the geometry is hard (tiny modules, curved paper). Gating
/// keeps images without codes, the usual failure, at the cost of the cheap strategies.
pub const COSTLY_STRATEGIES: &[Strategy] = &[
    // A code a few pixels per module in a large photo: the working view's shrinking leaves
    // it just enough to be found but not read. Crops at full resolution cost little.
    Strategy::FinderCrops {
        view: View::Full,
        binarizer: Binarizer::LocalAverage,
    },
    // A symbol found but misread at 3-10 pixels per module: upscaled twice, the 8x8 blocks
    // of the local threshold and the sampling grid fall on module boundaries differently.
    // Any image size, unlike the `Double` view, since only the crops are enlarged.
    Strategy::ZoomedCrops {
        view: View::Working,
    },
    // rqrr fits each symbol's perspective to its timing patterns: reads curved and crumpled
    // codes the finder-pattern sampler misses. It runs on crops around the symbols the
    // strategies before it sampled but could not read, never on the whole image. The working
    // view first, a quarter of the pixels: what it reads, the doubled crops need not.
    Strategy::Rqrr {
        view: View::Working,
        invert: false,
    },
    // Small codes (under about 5 pixels a module) that rqrr's own threshold loses at 1x.
    Strategy::Rqrr {
        view: View::Double,
        invert: false,
    },
];

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

/// How a grey view becomes black and white for the finder-pattern detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binarizer {
    /// zxing's local-average threshold over 8x8 blocks: robust to shadows and gradients.
    LocalAverage,
    /// zxing-cpp's current local threshold: the middle of each 8x8 block's range, averaged
    /// over the blocks around it that have contrast.
    LocalMidrange,
    /// One global threshold (Otsu): keeps large flat modules whole.
    Otsu,
}

/// Long side above which the working image is shrunk.
const WORKING_SIDE: u32 = 1600;
/// Long side up to which the `Double` view is made.
const DOUBLE_MAX_SIDE: u32 = 600;
/// The sharpened crops' blur radius (working pixels) and gain. On BoofCV's photos, radius 3
/// read 568, 569, 571, 572, 573 and 573 codes at gains 2, 3, 4, 5, 6 and 8 (bright spots:
/// the stronger the push, the more washed-out modules come back; blur already at 2), and
/// radius 1 and 2 fewer at gain 3 (566, 567): a plateau, not a tuned point.
const SHARPEN_RADIUS: usize = 3;
const SHARPEN_AMOUNT: i16 = 6;
/// Short side a downscaled view must keep to be worth scanning.
const MIN_SCALED_SIDE: u32 = 120;

/// The views and binarizations made so far for one image, so strategies share them, and the
/// formats every strategy looks for in them.
pub(super) struct Views<'a> {
    grey: &'a GrayImage,
    formats: Formats,
    /// Each view with the factors (across, down) from its pixels to the original image's;
    /// `None`: not applicable.
    views: HashMap<View, Option<(GrayImage, [f32; 2])>>,
    binarized: HashMap<(View, Binarizer), Option<BitMatrix>>,
    /// Each view's 8x8 block statistics, which both local binarizers start from.
    blocks: HashMap<View, Option<pixels::Blocks>>,
    /// The deadline of the strategy running: views and binarizations are passes over whole
    /// images, and one given up at the deadline is left `None` (nothing runs after it).
    deadline: Deadline,
}

impl<'a> Views<'a> {
    pub(super) fn new(grey: &'a GrayImage, formats: Formats) -> Self {
        Views {
            grey,
            formats,
            views: HashMap::new(),
            binarized: HashMap::new(),
            blocks: HashMap::new(),
            deadline: Deadline::NONE,
        }
    }

    fn view(&mut self, view: View) -> Option<&(GrayImage, [f32; 2])> {
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
                    pixels::downscale(self.grey, factor, self.deadline)?,
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
                .then(|| pixels::downscale(working, 2, deadline))
                .flatten()
                .map(|half| (half, [across * 2.0, down * 2.0])),
            View::Double => (working.width().max(working.height()) <= DOUBLE_MAX_SIDE)
                .then(|| (pixels::double(working), [across / 2.0, down / 2.0])),
            View::HalfWidth => (working.width() / 2 >= MIN_SCALED_SIDE)
                .then(|| (pixels::halve_width(working), [across * 2.0, down])),
            View::HalfHeight => (working.height() / 2 >= MIN_SCALED_SIDE)
                .then(|| (pixels::halve_height(working), [across, down * 2.0])),
            View::Blurred => Some((pixels::blur(working), *scale)),
            View::Padded => {
                let margin = padding(working);
                Some((pixels::pad(working, margin), *scale))
            }
            // The loaded image itself, by `pixels`: a copy would cost a full-size image.
            View::Full => None,
        }
    }

    /// The pixels of `view` and its scale; for `Full`, the loaded image itself when the working
    /// view is smaller than it (otherwise `Full` adds nothing to `Working`), never a copy.
    fn pixels(&mut self, view: View) -> Option<(&GrayImage, [f32; 2])> {
        if view != View::Full {
            return self.view(view).map(|(grey, scale)| (grey, *scale));
        }
        let grey = self.grey;
        let shrunk = self.view(View::Working)?.1[0] > 1.0;
        shrunk.then_some((grey, [1.0; 2]))
    }

    /// The pixels of a view `pixels` has made, borrowed without making any.
    fn made_pixels(&self, view: View) -> Option<&GrayImage> {
        match view {
            View::Full => Some(self.grey),
            _ => self.views.get(&view)?.as_ref().map(|(grey, _)| grey),
        }
    }

    /// Runs `detect` on crops of `view` around the first `MAX_CROPS` damaged symbols, until the
    /// deadline; `detect` gets the crop and where it sits in the image.
    fn on_crops(
        &mut self,
        strategy: Strategy,
        view: View,
        damaged: &[[f32; 4]],
        deadline: Deadline,
        mut detect: impl FnMut(GrayImage, Placement) -> Detected,
    ) -> Detected {
        let Some((grey, scale)) = self.pixels(view) else {
            return Detected::default();
        };
        let mut detected = Detected::default();
        for &bounds in damaged.iter().take(MAX_CROPS) {
            if deadline.passed() {
                break;
            }
            let (crop, origin) = crop_around(grey, bounds, scale);
            let at = Placement {
                origin,
                scale,
                strategy,
            };
            let seen = detect(crop, at);
            detected.codes.extend(seen.codes);
            detected.damaged.extend(seen.damaged);
            detected.lost += seen.lost;
            detected.patterns.extend(seen.patterns);
        }
        detected
    }

    fn binarized(&mut self, view: View, binarizer: Binarizer) -> Option<&BitMatrix> {
        let key = (view, binarizer);
        if !self.binarized.contains_key(&key) {
            // Taken out while the view is borrowed, put back after.
            let mut blocks = self.blocks.remove(&view);
            let deadline = self.deadline;
            let bits = self.pixels(view).and_then(|(grey, _)| match binarizer {
                Binarizer::Otsu => pixels::otsu(grey, deadline),
                local => {
                    let blocks = blocks.get_or_insert_with(|| pixels::Blocks::of(grey, deadline));
                    match local {
                        Binarizer::LocalAverage => {
                            pixels::local_average_of(grey, blocks.as_ref(), deadline)
                        }
                        _ => pixels::local_midrange_of(grey, blocks.as_ref(), deadline),
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

    /// Runs one strategy; `damaged` (symbols earlier strategies could not read, as bounding
    /// boxes in image pixels) is where the crop-based ones look.
    pub(super) fn run(
        &mut self,
        strategy: Strategy,
        deadline: Deadline,
        damaged: &[[f32; 4]],
    ) -> Detected {
        self.deadline = deadline;
        match strategy {
            Strategy::Finder {
                view,
                binarizer,
                invert,
            } => {
                let Some(scale) = self.pixels(view).map(|(_, scale)| scale) else {
                    return Detected::default();
                };
                // A padded view's pixel (x, y) is the working image's (x - margin, y - margin).
                let origin = if view == View::Padded {
                    let margin = self.view(View::Working).map_or(0, |(w, _)| padding(w));
                    [-(margin as f32); 2]
                } else {
                    [0.0, 0.0]
                };
                let formats = self.formats;
                if self.binarized(view, binarizer).is_none() {
                    return Detected::default();
                }
                // Both made above; borrowed together now.
                let (Some(grey), Some(Some(bits))) = (
                    self.made_pixels(view),
                    self.binarized.get(&(view, binarizer)),
                ) else {
                    return Detected::default();
                };
                let flipped;
                let bits = if invert {
                    flipped = {
                        let mut bits = bits.clone();
                        bits.flip_self();
                        bits
                    };
                    &flipped
                } else {
                    bits
                };
                let at = Placement {
                    origin,
                    scale,
                    strategy,
                };
                // The symbols that do not read from the bits, read from the view's pixels;
                // of their resamplings only the first: all 25 cost 8% of the CPU.
                let grey = Grey {
                    pixels: grey,
                    resampled: false,
                };
                let detected = detect::finder(
                    bits,
                    Some(grey),
                    at,
                    deadline,
                    formats,
                    Resampling::Version1,
                );
                if detected.codes.is_empty() {
                    // The pure detector costs one pass over the bits; it reads what is too
                    // small for the scan (one pixel per module) when nothing else is there.
                    let pure = detect::pure(bits, at, formats);
                    if !pure.codes.is_empty() {
                        return pure;
                    }
                }
                detected
            }
            Strategy::FinderCrops { view, binarizer } => {
                let formats = self.formats;
                self.on_crops(strategy, view, damaged, deadline, |crop, at| {
                    find_in(
                        &crop,
                        binarizer,
                        at,
                        deadline,
                        formats,
                        Resampling::UpToVersion6,
                    )
                })
            }
            Strategy::FinderAround {
                view,
                binarizer,
                sharpen,
            } => {
                let formats = self.formats;
                // One crop around all of them: crops of symbols side by side overlap, and each
                // costs a binarization and a scan.
                let Some(union) = damaged.iter().copied().reduce(|a, b| {
                    [
                        a[0].min(b[0]),
                        a[1].min(b[1]),
                        a[2].max(b[2]),
                        a[3].max(b[3]),
                    ]
                }) else {
                    return Detected::default();
                };
                self.on_crops(strategy, view, &[union], deadline, |crop, at| {
                    let crop = if sharpen {
                        pixels::sharpen(&crop, SHARPEN_RADIUS, SHARPEN_AMOUNT)
                    } else {
                        crop
                    };
                    let read = |binarizer| {
                        find_in(
                            &crop,
                            binarizer,
                            at,
                            deadline,
                            formats,
                            Resampling::Version1,
                        )
                    };
                    let mut detected = read(binarizer);
                    // Sharpening leaves modules well apart from the paper, which one global
                    // threshold keeps whole where the local one breaks them up (bright spots,
                    // defocus): tried on the same sharpened crop, which cost most of the time.
                    // Always, not only where the first read nothing: a crop can hold several
                    // symbols, and reading one says nothing of the others.
                    if sharpen && binarizer != Binarizer::Otsu {
                        for code in read(Binarizer::Otsu).codes {
                            if !detected.codes.iter().any(|c| c.contains(code.center())) {
                                detected.codes.push(code);
                            }
                        }
                    }
                    detected
                })
            }
            Strategy::ZoomedCrops { view } => {
                let formats = self.formats;
                self.on_crops(strategy, view, damaged, deadline, |crop, at| {
                    let zoomed = pixels::double(&crop);
                    // Zoomed pixel (x, y) is crop pixel (x / 2, y / 2).
                    let at = Placement {
                        origin: at.origin.map(|o| o * 2.0),
                        scale: at.scale.map(|s| s / 2.0),
                        ..at
                    };
                    // Without the grey pixels: reading the zoomed crop's modules from them
                    // read nothing more on either corpus.
                    let mut detected = pixels::local_average(&zoomed, deadline)
                        .map(|bits| {
                            detect::finder(
                                &bits,
                                None,
                                at,
                                deadline,
                                formats,
                                Resampling::UpToVersion6,
                            )
                        })
                        .unwrap_or_default();
                    if detected.codes.is_empty() {
                        if let Some(bits) = pixels::local_midrange(&zoomed, deadline) {
                            let other = detect::finder(
                                &bits,
                                None,
                                at,
                                deadline,
                                formats,
                                Resampling::UpToVersion6,
                            );
                            detected.codes = other.codes;
                        }
                    }
                    detected
                })
            }
            Strategy::Rqrr { view, invert } => {
                self.on_crops(strategy, view, damaged, deadline, |mut crop, at| {
                    if invert {
                        image::imageops::invert(&mut crop);
                    }
                    if few_finder_patterns(&crop) {
                        detect::rqrr(&crop, at)
                    } else {
                        Detected::default()
                    }
                })
            }
        }
    }
}

/// The finder-pattern detector on a crop binarized by `binarizer`, with the crop's grey
/// pixels for the symbols whose data does not read from the bits, in every sampling.
fn find_in(
    crop: &GrayImage,
    binarizer: Binarizer,
    at: Placement,
    deadline: Deadline,
    formats: Formats,
    resampling: Resampling,
) -> Detected {
    binarize(crop, binarizer, deadline)
        .map(|bits| {
            let grey = Grey {
                pixels: crop,
                resampled: true,
            };
            detect::finder(&bits, Some(grey), at, deadline, formats, resampling)
        })
        .unwrap_or_default()
}

fn binarize(grey: &GrayImage, binarizer: Binarizer, deadline: Deadline) -> Option<BitMatrix> {
    match binarizer {
        Binarizer::LocalAverage => pixels::local_average(grey, deadline),
        Binarizer::LocalMidrange => pixels::local_midrange(grey, deadline),
        Binarizer::Otsu => pixels::otsu(grey, deadline),
    }
}

/// The margin of the padded view: a sixteenth of the working image's long side (more than a
/// module of a symbol that fills the image; an eighth read no more), at least 8 pixels.
fn padding(working: &GrayImage) -> u32 {
    (working.width().max(working.height()) / 16).max(8)
}

/// Most damaged symbols a crop-based strategy looks at: the first ones found, which the
/// cheapest strategies found, are the likeliest codes.
const MAX_CROPS: usize = 8;

/// Most finder patterns a crop may hold for rqrr to run on it: four symbols' worth. rqrr
/// tests every plausible triple of patterns, copying the whole crop for each, so its time
/// grows with the square of the patterns and has no deadline: a field of many small codes
/// inside one damaged symbol's box would hold a worker for minutes.
const MAX_CROP_FINDER_PATTERNS: usize = 12;

/// Whether rqrr's time on `crop` is bounded: it holds few finder patterns, counted by the
/// finder-pattern scan (a pass over the crop) on the local-average binarization.
fn few_finder_patterns(crop: &GrayImage) -> bool {
    pixels::local_average(crop, Deadline::NONE).is_some_and(|bits| {
        detect::finder_pattern_count(&bits, MAX_CROP_FINDER_PATTERNS + 1)
            <= MAX_CROP_FINDER_PATTERNS
    })
}

/// The part of `view` (`scale` times smaller than the image, across and down) around `bounds` (a box in image
/// pixels), with a margin of half the box on each side: the sampler that found the
/// symbol may have placed its corners a few modules off, as it does on curved paper. Returns
/// the crop and its top-left corner in view pixels.
fn crop_around(view: &GrayImage, bounds: [f32; 4], scale: [f32; 2]) -> (GrayImage, [f32; 2]) {
    let [left, top, right, bottom] = [0, 1, 2, 3].map(|i| bounds[i] / scale[i % 2]);
    let margin = ((right - left).max(bottom - top) / 2.0).max(8.0);
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x0, y0) = (
        clamp(left - margin, view.width()),
        clamp(top - margin, view.height()),
    );
    let (x1, y1) = (
        clamp((right + margin).ceil(), view.width()),
        clamp((bottom + margin).ceil(), view.height()),
    );
    let crop = pixels::crop(view, x0, y0, x1 - x0, y1 - y0);
    (crop, [x0 as f32, y0 as f32])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{assert_centre, qr_field};
    use super::*;

    #[test]
    fn rqrr_runs_on_a_crop_around_a_damaged_symbol_and_nowhere_else() {
        let one = qr_field("https://example.com/crop", 3, 1);
        let mut page = GrayImage::from_pixel(400, 300, image::Luma([255]));
        image::imageops::replace(&mut page, &one, 200, 100);
        let rqrr = Strategy::Rqrr {
            view: View::Working,
            invert: false,
        };
        let side = one.width() as f32;
        let damaged = [[212.0, 112.0, 188.0 + side, 88.0 + side]];

        let read = Views::new(&page, Formats::default()).run(rqrr, Deadline::NONE, &damaged);
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, "https://example.com/crop");
        // Points come back in page pixels, not crop pixels.
        assert_centre(&read.codes[0], [200.0 + side / 2.0, 100.0 + side / 2.0]);

        // No damaged symbol, no crop: the code elsewhere in the page is not rqrr's to find.
        assert!(Views::new(&page, Formats::default())
            .run(rqrr, Deadline::NONE, &[])
            .codes
            .is_empty());
        let elsewhere = [[0.0, 0.0, 60.0, 60.0]];
        assert!(Views::new(&page, Formats::default())
            .run(rqrr, Deadline::NONE, &elsewhere)
            .codes
            .is_empty());
    }

    #[test]
    fn rqrr_is_not_run_on_a_crop_full_of_finder_patterns() {
        // rqrr's time grows with the square of the patterns and it has no deadline.
        let field = qr_field("https://example.com/field", 2, 6);
        assert!(!few_finder_patterns(&field));
        let rqrr = Strategy::Rqrr {
            view: View::Working,
            invert: false,
        };
        let whole = [[0.0, 0.0, field.width() as f32, field.height() as f32]];
        assert!(Views::new(&field, Formats::default())
            .run(rqrr, Deadline::NONE, &whole)
            .codes
            .is_empty());

        // Four symbols' worth is allowed: 2 x 2 codes hold 12 patterns.
        let four = qr_field("https://example.com/field", 2, 2);
        assert!(few_finder_patterns(&four));
        let whole = [[0.0, 0.0, four.width() as f32, four.height() as f32]];
        assert!(!Views::new(&four, Formats::default())
            .run(rqrr, Deadline::NONE, &whole)
            .codes
            .is_empty());
    }

    #[test]
    fn zoomed_crops_read_around_a_damaged_symbol_and_place_it_in_the_image() {
        let text = "https://example.com/zoomed";
        let code = qr_field(text, 3, 1);
        let mut page = GrayImage::from_pixel(900, 700, image::Luma([200]));
        image::imageops::replace(&mut page, &code, 500, 300);
        let side = code.width() as f32;
        let damaged = [[512.0, 312.0, 488.0 + side, 288.0 + side]];
        let zoomed = Strategy::ZoomedCrops {
            view: View::Working,
        };

        let read = Views::new(&page, Formats::default()).run(zoomed, Deadline::NONE, &damaged);
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, text);
        assert_centre(&read.codes[0], [500.0 + side / 2.0, 300.0 + side / 2.0]);
        assert!(Views::new(&page, Formats::default())
            .run(zoomed, Deadline::NONE, &[])
            .codes
            .is_empty());
    }

    #[test]
    fn finder_crops_read_the_full_resolution_image_around_a_damaged_symbol() {
        // 3300 px wide: the working view is a third of it.
        let text = "https://example.com/small-in-a-large-photo";
        let code = qr_field(text, 4, 1);
        let mut photo = GrayImage::from_pixel(3300, 1000, image::Luma([190]));
        image::imageops::replace(&mut photo, &code, 1601, 599);
        let side = code.width() as f32;
        // Where a strategy on the working view saw the symbol: a box in photo pixels.
        let damaged = [[1617.0, 615.0, 1585.0 + side, 583.0 + side]];
        let crops = Strategy::FinderCrops {
            view: View::Full,
            binarizer: Binarizer::LocalAverage,
        };

        let read = Views::new(&photo, Formats::default()).run(crops, Deadline::NONE, &damaged);
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, text);
        assert_centre(&read.codes[0], [1601.0 + side / 2.0, 599.0 + side / 2.0]);
        assert!(Views::new(&photo, Formats::default())
            .run(crops, Deadline::NONE, &[])
            .codes
            .is_empty());

        // An image the working view does not shrink has no full view apart from it.
        let mut page = GrayImage::from_pixel(1000, 800, image::Luma([255]));
        image::imageops::replace(&mut page, &code, 300, 200);
        let damaged = [[300.0, 200.0, 300.0 + side, 200.0 + side]];
        assert!(Views::new(&page, Formats::default())
            .run(crops, Deadline::NONE, &damaged)
            .codes
            .is_empty());
    }
}
