//! Image bytes -> every QR code in the image (API.md section 6). Pure and synchronous: no tokio,
//! no network; callers run it off the async runtime.
//!
//! The work has three steps. `load_luma` sniffs the format from the bytes, checks the pixel count
//! from the header before any pixel is decoded, decodes under `image::Limits`, and composites
//! transparency onto white. Detectors then look for symbols in that grey image under a list of
//! strategies, cheapest first, until one finds a readable code or the time budget is spent. Each
//! symbol's module grid goes through one decoder (rxing's Reed-Solomon and format reader) and
//! `text::decode_segments`, so every detector reports text the same way. Third-party detectors are
//! called inside `catch_unwind`: one hostile image must not take down a request or the server.

mod append;
mod detect;
mod packed_png;
mod pixels;

use std::collections::HashMap;
use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};
use rxing::common::BitMatrix;

pub use self::append::join_structured_append;
use self::detect::Detected;
use crate::text::Content;

/// The limits one decode runs under; all come from `Config`.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Largest width x height accepted, checked from the header (`--max-pixels`).
    pub max_pixels: u64,
    /// Largest allocation the image decoder may make (`--max-decode-memory`).
    pub max_decoder_bytes: u64,
    /// Time after which no further strategy is started (`--decode-budget`).
    pub budget: Duration,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: 40_000_000,
            max_decoder_bytes: 512 * 1024 * 1024,
            budget: Duration::from_secs(2),
        }
    }
}

/// One decoded QR symbol.
#[derive(Clone, Debug, PartialEq)]
pub struct QrCode {
    pub content: Content,
    /// 1-40.
    pub version: u8,
    /// `L`, `M`, `Q` or `H`.
    pub ec_level: &'static str,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the symbol.
    pub points: [[f32; 2]; 4],
    /// The strategy that found it (e.g. `finder/working/localaverage`), for metrics and tuning.
    pub strategy: String,
}

impl QrCode {
    fn area(&self) -> f32 {
        // Shoelace formula over the quadrilateral.
        let p = &self.points;
        let mut twice = 0.0;
        for i in 0..4 {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            twice += a[0] * b[1] - b[0] * a[1];
        }
        (twice / 2.0).abs()
    }

    fn top_left(&self) -> (f32, f32) {
        let y = self
            .points
            .iter()
            .map(|p| p[1])
            .fold(f32::INFINITY, f32::min);
        let x = self
            .points
            .iter()
            .map(|p| p[0])
            .fold(f32::INFINITY, f32::min);
        (y, x)
    }

    fn center(&self) -> [f32; 2] {
        let sum = self
            .points
            .iter()
            .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
        [sum[0] / 4.0, sum[1] / 4.0]
    }
}

/// Why no code came out of an image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a supported image: {0}")]
    NotAnImage(String),
    #[error("image is {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("no QR code found in the image")]
    NoCode,
    #[error("a QR code was found but could not be read")]
    Unreadable,
}

/// The formats API.md section 6 accepts.
const ACCEPTED_FORMATS: [ImageFormat; 5] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Gif,
    ImageFormat::WebP,
    ImageFormat::Bmp,
];

/// Sniffs the format of `bytes`; `None` when it is not one we decode.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| ACCEPTED_FORMATS.contains(f))
}

/// Finds and reads every QR code in an encoded image, largest first.
pub fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<Vec<QrCode>, DecodeError> {
    let started = Instant::now();
    let grey = load_luma(bytes, options)?;
    decode_luma(&grey, options, started)
}

/// Decodes the image under the limits and returns it as 8-bit grey, transparency on white.
pub fn load_luma(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let format = sniff_format(bytes).ok_or_else(|| {
        DecodeError::NotAnImage("the format is not PNG, JPEG, GIF, WebP or BMP".into())
    })?;
    let corrupt = |e: image::ImageError| DecodeError::NotAnImage(format!("{e}"));
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(corrupt)?;
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        });
    }
    if format == ImageFormat::WebP {
        if let Some(grey) = load_webp(bytes, width, height, options) {
            return grey;
        }
    }
    if format == ImageFormat::Png {
        if let Some(grey) = packed_png::load(bytes, options.max_decoder_bytes) {
            return grey;
        }
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(options.max_decoder_bytes);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        },
        other => corrupt(other),
    })?;
    Ok(to_luma_on_white(image))
}

/// Still WebP images through libwebp, which decodes them three to four times faster than the
/// pure-Rust decoder `image` uses (WebP is most of the corpus, and its loading was most of the
/// time). `None` for animated files, which are left to `image` (it reads their first frame).
fn load_webp(
    bytes: &[u8],
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> Option<Result<GrayImage, DecodeError>> {
    let features = webp::BitstreamFeatures::new(bytes)?;
    if features.has_animation() {
        return None;
    }
    // libwebp allocates the whole RGBA frame at once: check it against the decoder's memory cap.
    if u64::from(width) * u64::from(height) * 4 > options.max_decoder_bytes {
        return Some(Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: options.max_pixels,
        }));
    }
    let Some(decoded) = webp::Decoder::new(bytes).decode() else {
        return Some(Err(DecodeError::NotAnImage(
            "the WebP data is corrupt".into(),
        )));
    };
    let (width, height) = (decoded.width(), decoded.height());
    Some(Ok(if decoded.is_alpha() {
        grey_from_rgba(&decoded, width, height)
    } else {
        grey_from_rgb(&decoded, width, height)
    }))
}

/// Grey conversion that puts transparent pixels on white, so black-on-transparent codes stay dark-on-light.
fn to_luma_on_white(image: DynamicImage) -> GrayImage {
    let (width, height) = (image.width(), image.height());
    match image {
        DynamicImage::ImageLuma8(grey) => grey,
        DynamicImage::ImageRgb8(rgb) => grey_from_rgb(rgb.as_raw(), width, height),
        DynamicImage::ImageRgba8(rgba) => grey_from_rgba(rgba.as_raw(), width, height),
        image if !image.color().has_alpha() => image.into_luma8(),
        image => {
            let with_alpha = image.into_luma_alpha8();
            GrayImage::from_fn(width, height, |x, y| {
                let [luma, alpha] = with_alpha.get_pixel(x, y).0;
                image::Luma([on_white(u32::from(luma), u32::from(alpha))])
            })
        }
    }
}

/// Rec. 709 luma, the coefficients `image` uses, in integers: `image`'s own conversion goes
/// through floats and rounding and cost more than the detection of a clean code.
fn luma(r: u8, g: u8, b: u8) -> u32 {
    (u32::from(r) * 2126 + u32::from(g) * 7152 + u32::from(b) * 722) / 10_000
}

fn on_white(luma: u32, alpha: u32) -> u8 {
    ((luma * alpha + 255 * (255 - alpha)) / 255) as u8
}

fn grey_from_rgb(raw: &[u8], width: u32, height: u32) -> GrayImage {
    let grey = raw
        .chunks_exact(3)
        .map(|p| luma(p[0], p[1], p[2]) as u8)
        .collect();
    GrayImage::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}

fn grey_from_rgba(raw: &[u8], width: u32, height: u32) -> GrayImage {
    let grey = raw
        .chunks_exact(4)
        .map(|p| on_white(luma(p[0], p[1], p[2]), u32::from(p[3])))
        .collect();
    GrayImage::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}

/// Runs the detection strategies on a grey image, cheapest first, until one reads a code or the
/// budget (counted from `started`) is spent. A complete structured-append set among the codes is
/// also returned joined, as the first code.
pub fn decode_luma(
    grey: &GrayImage,
    options: &DecodeOptions,
    started: Instant,
) -> Result<Vec<QrCode>, DecodeError> {
    let deadline = started.checked_add(options.budget);
    let mut views = Views::new(grey);
    let mut found = Found::default();
    let steps = CHEAP_STRATEGIES.iter().map(|s| (s, false));
    let steps = steps.chain(COSTLY_STRATEGIES.iter().map(|s| (s, true)));
    for (&strategy, costly) in steps {
        if deadline.is_some_and(|d| Instant::now() >= d) || (costly && !found.saw_candidate()) {
            break;
        }
        let mut detected = views.run(strategy, deadline, &found.damaged);
        for code in &mut detected.codes {
            code.strategy = strategy.label();
        }
        found.merge(detected);
        if !found.codes.is_empty() {
            break;
        }
    }
    let mut codes = found.finish()?;
    if let Some(joined) = join_structured_append(&codes) {
        codes.insert(0, joined);
    }
    Ok(codes)
}

/// The strategies `decode_luma` always tries, in order, until one reads a code. Each costs
/// about a millisecond on a 640x480 image; the order comes from measurements over the zxing-cpp
/// corpus at four rotations (`examples/corpus.rs --strategies`): the first reads 464 of 548
/// image-rotations, and each next one reads the most of what the ones before it miss.
pub const CHEAP_STRATEGIES: &[Strategy] = &[
    finder(View::Working, Binarizer::LocalAverage, false),
    // Light-on-dark codes; a global threshold keeps their large flat areas whole.
    finder(View::Working, Binarizer::Otsu, true),
    // Blurred or noisy photos, and print dots inside modules.
    finder(View::Half, Binarizer::Otsu, false),
    finder(View::Half, Binarizer::LocalAverage, false),
    finder(View::Working, Binarizer::Otsu, false),
    // Heavy sensor noise and low contrast: the blur restores finder patterns' runs, and one
    // global threshold does not follow the noise as an 8x8 local one does.
    finder(View::Blurred, Binarizer::Otsu, false),
    // Codes cut tight or touching the photo's edge: a light margin stands in for the quiet
    // zone. Not first: the margin shifts the local thresholds near the edge, and alone it
    // reads fewer corpus images than the unpadded view.
    finder(View::Padded, Binarizer::LocalAverage, false),
];

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
    finder(View::Double, Binarizer::LocalAverage, false),
    // rqrr fits each symbol's perspective to its timing patterns: reads curved and crumpled
    // codes the finder-pattern sampler misses. It runs on crops around the symbols the
    // strategies before it sampled but could not read, never on the whole image.
    Strategy::Rqrr {
        view: View::Double,
        invert: false,
    },
    Strategy::Rqrr {
        view: View::Working,
        invert: false,
    },
];

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
    /// Averaged over 3x3 blocks (zxing-cpp's pyramid step), for large blurry symbols.
    Third,
    /// Upscaled twice, for codes of one or two pixels per module (small images only).
    Double,
    /// A 3x3 box blur: fills the dots of dot-printed and screen-photographed modules.
    Blurred,
    /// The working image inside a light margin: a code cut tight to its symbol, or touching
    /// the edge of the photo, gets back the quiet zone the finder-pattern scan needs around it.
    Padded,
    /// The image at full resolution, for photos the working view shrank: small codes in large
    /// photos lose their modules to the shrinking. Only looked at in crops, never whole.
    Full,
}

/// How a grey view becomes black and white for the finder-pattern detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binarizer {
    /// zxing's local-average threshold over 8x8 blocks: robust to shadows and gradients.
    LocalAverage,
    /// One global threshold (Otsu): keeps large flat modules whole.
    Otsu,
}

/// Long side above which the working image is shrunk.
const WORKING_SIDE: u32 = 1600;
/// Long side up to which the `Double` view is made.
const DOUBLE_MAX_SIDE: u32 = 600;
/// Short side a downscaled view must keep to be worth scanning.
const MIN_SCALED_SIDE: u32 = 120;

/// Runs one strategy alone on a grey image, with no budget: what `decode_luma` would get from
/// it. For measuring which strategies read which images (`examples/corpus.rs --strategies`).
/// Strategies that work on crops (`FinderCrops`, `Rqrr`) get the damaged symbols the cheap
/// strategies saw.
pub fn run_strategy(grey: &GrayImage, strategy: Strategy) -> Vec<QrCode> {
    let mut views = Views::new(grey);
    let mut damaged = Found::default();
    if matches!(
        strategy,
        Strategy::Rqrr { .. } | Strategy::FinderCrops { .. }
    ) {
        for &cheap in CHEAP_STRATEGIES {
            damaged.merge(Detected {
                codes: Vec::new(),
                ..views.run(cheap, None, &[])
            });
        }
    }
    let mut found = Found::default();
    found.merge(views.run(strategy, None, &damaged.damaged));
    found.codes
}

/// The views and binarizations made so far for one image, so strategies share them.
struct Views<'a> {
    grey: &'a GrayImage,
    /// Each view with the factor from its pixels to the original image's; `None`: not applicable.
    views: HashMap<View, Option<(GrayImage, f32)>>,
    binarized: HashMap<(View, Binarizer), Option<BitMatrix>>,
}

impl<'a> Views<'a> {
    fn new(grey: &'a GrayImage) -> Self {
        Views {
            grey,
            views: HashMap::new(),
            binarized: HashMap::new(),
        }
    }

    fn view(&mut self, view: View) -> Option<&(GrayImage, f32)> {
        if !self.views.contains_key(&view) {
            let made = self.make(view);
            self.views.insert(view, made);
        }
        self.views.get(&view)?.as_ref()
    }

    fn make(&mut self, view: View) -> Option<(GrayImage, f32)> {
        let long_side = self.grey.width().max(self.grey.height());
        if view == View::Working {
            let factor = long_side.div_ceil(WORKING_SIDE);
            return Some(if factor > 1 {
                (pixels::downscale(self.grey, factor), factor as f32)
            } else {
                (self.grey.clone(), 1.0)
            });
        }
        let (working, scale) = self.view(View::Working)?;
        let short_side = working.width().min(working.height());
        match view {
            View::Working => None,
            View::Half | View::Third => {
                let factor = if view == View::Half { 2 } else { 3 };
                (short_side / factor >= MIN_SCALED_SIDE)
                    .then(|| (pixels::downscale(working, factor), scale * factor as f32))
            }
            View::Double => (working.width().max(working.height()) <= DOUBLE_MAX_SIDE)
                .then(|| (pixels::upscale(working, 2), scale / 2.0)),
            View::Blurred => Some((pixels::blur(working), *scale)),
            View::Padded => {
                let margin = padding(working);
                Some((pixels::pad(working, margin), *scale))
            }
            // Cropped straight from the loaded image by `cropped`: a copy would cost a
            // full-size image for a few small crops.
            View::Full => None,
        }
    }

    /// `view` for cropping: the view and its scale, or for `Full`, the loaded image when the
    /// working view is smaller than it (otherwise `Full` adds nothing to `Working`).
    fn cropped(&mut self, view: View) -> Option<(&GrayImage, f32)> {
        if view != View::Full {
            return self.view(view).map(|(grey, scale)| (grey, *scale));
        }
        let grey = self.grey;
        let shrunk = self.view(View::Working)?.1 > 1.0;
        shrunk.then_some((grey, 1.0))
    }

    /// Runs `detect` on crops of `view` around the first `MAX_CROPS` damaged symbols, until the
    /// deadline; `detect` gets the crop, its top-left corner in view pixels and the view's scale.
    fn on_crops(
        &mut self,
        view: View,
        damaged: &[[f32; 4]],
        deadline: Option<Instant>,
        mut detect: impl FnMut(GrayImage, [f32; 2], f32) -> Detected,
    ) -> Detected {
        let Some((grey, scale)) = self.cropped(view) else {
            return Detected::default();
        };
        let mut detected = Detected::default();
        for &bounds in damaged.iter().take(MAX_CROPS) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let (crop, origin) = crop_around(grey, bounds, scale);
            let seen = detect(crop, origin, scale);
            detected.codes.extend(seen.codes);
            detected.damaged.extend(seen.damaged);
            detected.lost += seen.lost;
        }
        detected
    }

    fn binarized(&mut self, view: View, binarizer: Binarizer) -> Option<&BitMatrix> {
        let key = (view, binarizer);
        if !self.binarized.contains_key(&key) {
            let bits = self.view(view).and_then(|(grey, _)| match binarizer {
                Binarizer::LocalAverage => pixels::local_average(grey),
                Binarizer::Otsu => pixels::otsu(grey),
            });
            self.binarized.insert(key, bits);
        }
        self.binarized.get(&key)?.as_ref()
    }

    /// Runs one strategy; `damaged` (symbols earlier strategies could not read, as bounding
    /// boxes in image pixels) is where the crop-based ones look.
    fn run(
        &mut self,
        strategy: Strategy,
        deadline: Option<Instant>,
        damaged: &[[f32; 4]],
    ) -> Detected {
        match strategy {
            Strategy::Finder {
                view,
                binarizer,
                invert,
            } => {
                let Some(scale) = self.view(view).map(|(_, scale)| *scale) else {
                    return Detected::default();
                };
                // A padded view's pixel (x, y) is the working image's (x - margin, y - margin).
                let origin = if view == View::Padded {
                    let margin = self.view(View::Working).map_or(0, |(w, _)| padding(w));
                    [-(margin as f32); 2]
                } else {
                    [0.0, 0.0]
                };
                let Some(bits) = self.binarized(view, binarizer) else {
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
                let detected = detect::finder(bits, origin, scale, deadline);
                if detected.codes.is_empty() {
                    // The pure detector costs one pass over the bits; it reads what is too
                    // small for the scan (one pixel per module) when nothing else is there.
                    let pure = detect::pure(bits, origin, scale);
                    if !pure.codes.is_empty() {
                        return pure;
                    }
                }
                detected
            }
            Strategy::FinderCrops { view, binarizer } => {
                self.on_crops(view, damaged, deadline, |crop, origin, scale| {
                    let bits = match binarizer {
                        Binarizer::LocalAverage => pixels::local_average(&crop),
                        Binarizer::Otsu => pixels::otsu(&crop),
                    };
                    bits.map(|bits| detect::finder(&bits, origin, scale, deadline))
                        .unwrap_or_default()
                })
            }
            Strategy::Rqrr { view, invert } => {
                self.on_crops(view, damaged, deadline, |mut crop, origin, scale| {
                    if invert {
                        image::imageops::invert(&mut crop);
                    }
                    if few_finder_patterns(&crop) {
                        detect::rqrr(&crop, origin, scale)
                    } else {
                        Detected::default()
                    }
                })
            }
        }
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
    pixels::local_average(crop)
        .is_some_and(|bits| detect::finder_pattern_count(&bits) <= MAX_CROP_FINDER_PATTERNS)
}

/// The part of `view` (`scale` times smaller than the image) around `bounds` (a box in image
/// pixels), with a margin of half the box on each side: the sampler that found the
/// symbol may have placed its corners a few modules off, as it does on curved paper. Returns
/// the crop and its top-left corner in view pixels.
fn crop_around(view: &GrayImage, bounds: [f32; 4], scale: f32) -> (GrayImage, [f32; 2]) {
    let [left, top, right, bottom] = bounds.map(|v| v / scale);
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
    let crop = image::imageops::crop_imm(view, x0, y0, x1 - x0, y1 - y0).to_image();
    (crop, [x0 as f32, y0 as f32])
}

/// What the strategies have found so far.
#[derive(Default)]
struct Found {
    codes: Vec<QrCode>,
    /// Bounding boxes (left, top, right, bottom, image pixels) of the symbols sampled but not
    /// read, each place once, in the order found.
    damaged: Vec<[f32; 4]>,
    /// Candidates seen without a place (a detector panicked while following one).
    lost: usize,
}

impl Found {
    fn merge(&mut self, detected: Detected) {
        self.lost += detected.lost;
        for points in detected.damaged {
            let bounds = bounding_box(&points);
            let center = [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0];
            let known = self
                .damaged
                .iter()
                .any(|b| (b[0]..=b[2]).contains(&center[0]) && (b[1]..=b[3]).contains(&center[1]));
            if !known {
                self.damaged.push(bounds);
            }
        }
        detected.codes.into_iter().for_each(|c| self.add(c));
    }

    /// Whether a detector sampled a symbol that no decoder could read.
    fn saw_candidate(&self) -> bool {
        !self.damaged.is_empty() || self.lost > 0
    }

    /// Adds a code unless the same content was already found at the same place (two
    /// strategies, or two finder-pattern triples, reading one symbol).
    fn add(&mut self, code: QrCode) {
        let center = code.center();
        let near = code.area().sqrt() / 2.0;
        let duplicate = self.codes.iter().any(|c| {
            let other = c.center();
            c.content == code.content
                && (center[0] - other[0]).abs() <= near.max(8.0)
                && (center[1] - other[1]).abs() <= near.max(8.0)
        });
        if !duplicate {
            self.codes.push(code);
        }
    }

    fn finish(mut self) -> Result<Vec<QrCode>, DecodeError> {
        if self.codes.is_empty() {
            return Err(if self.saw_candidate() {
                DecodeError::Unreadable
            } else {
                DecodeError::NoCode
            });
        }
        // Largest first; ties top-to-bottom, then left-to-right (API.md section 2).
        self.codes.sort_by(|a, b| {
            b.area()
                .total_cmp(&a.area())
                .then_with(|| a.top_left().0.total_cmp(&b.top_left().0))
                .then_with(|| a.top_left().1.total_cmp(&b.top_left().1))
        });
        Ok(self.codes)
    }
}

/// The smallest axis-aligned box (left, top, right, bottom) holding four points.
fn bounding_box(points: &[[f32; 2]; 4]) -> [f32; 4] {
    let xs = points.map(|p| p[0]);
    let ys = points.map(|p| p[1]);
    let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
    let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
    [min(xs), min(ys), max(xs), max(ys)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text;

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// A QR code of `text` as RGBA pixels, 4 pixels per module with a 4-module quiet zone;
    /// light modules get `light` (a transparent one tests compositing).
    fn qr_rgba(text: &str, light: [u8; 4]) -> (Vec<u8>, u32) {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let modules = code.width();
        let side = (modules + 8) * 4;
        let mut rgba = Vec::with_capacity(side * side * 4);
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = ((x / 4).wrapping_sub(4), (y / 4).wrapping_sub(4));
                let dark = mx < modules && my < modules && code[(mx, my)] == qrcode::Color::Dark;
                rgba.extend(if dark { [0, 0, 0, 255] } else { light });
            }
        }
        (rgba, side as u32)
    }

    /// `count` x `count` copies of the code for `text`, `scale` pixels per module, each with a
    /// 4-module quiet zone.
    fn qr_field(text: &str, scale: u32, count: u32) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let modules = code.width() as u32;
        let cell = modules + 8;
        GrayImage::from_fn(cell * scale * count, cell * scale * count, |x, y| {
            let (mx, my) = (
                (x / scale % cell).wrapping_sub(4),
                (y / scale % cell).wrapping_sub(4),
            );
            let dark = mx < modules
                && my < modules
                && code[(mx as usize, my as usize)] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        })
    }

    /// Asserts that `code`'s centre is within 4 pixels of `expected`, in the caller's pixels.
    fn assert_centre(code: &QrCode, expected: [f32; 2]) {
        let [x, y] = code.center();
        assert!(
            (x - expected[0]).abs() < 4.0 && (y - expected[1]).abs() < 4.0,
            "centre ({x}, {y}), expected {expected:?}"
        );
    }

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

        let read = Views::new(&page).run(rqrr, None, &damaged);
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, "https://example.com/crop");
        // Points come back in page pixels, not crop pixels.
        assert_centre(&read.codes[0], [200.0 + side / 2.0, 100.0 + side / 2.0]);

        // No damaged symbol, no crop: the code elsewhere in the page is not rqrr's to find.
        assert!(Views::new(&page).run(rqrr, None, &[]).codes.is_empty());
        let elsewhere = [[0.0, 0.0, 60.0, 60.0]];
        assert!(Views::new(&page)
            .run(rqrr, None, &elsewhere)
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
        assert!(Views::new(&field).run(rqrr, None, &whole).codes.is_empty());

        // Four symbols' worth is allowed: 2 x 2 codes hold 12 patterns.
        let four = qr_field("https://example.com/field", 2, 2);
        assert!(few_finder_patterns(&four));
        let whole = [[0.0, 0.0, four.width() as f32, four.height() as f32]];
        assert!(!Views::new(&four).run(rqrr, None, &whole).codes.is_empty());
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

        let read = Views::new(&photo).run(crops, None, &damaged);
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, text);
        assert_centre(&read.codes[0], [1601.0 + side / 2.0, 599.0 + side / 2.0]);
        assert!(Views::new(&photo).run(crops, None, &[]).codes.is_empty());

        // An image the working view does not shrink has no full view apart from it.
        let mut page = GrayImage::from_pixel(1000, 800, image::Luma([255]));
        image::imageops::replace(&mut page, &code, 300, 200);
        let damaged = [[300.0, 200.0, 300.0 + side, 200.0 + side]];
        assert!(Views::new(&page)
            .run(crops, None, &damaged)
            .codes
            .is_empty());
    }

    #[test]
    fn a_photo_cropped_tight_to_the_symbol_is_read_inside_a_margin() {
        // No quiet zone and half of the finder patterns' outer ring cut off, as by a tight crop
        // of a photo: the scan cannot confirm patterns that start at the image's edge. Light
        // noise keeps it from being read as a generated image.
        let scale = 6;
        let code = qr_field("https://example.com/cropped-tight", scale, 1);
        // Cut through the outer ring of the finder patterns, half a module in.
        let quiet = 4 * scale + scale / 2;
        let side = code.width() - 2 * quiet;
        let mut state = 0x1234_5677_u32;
        let tight = GrayImage::from_fn(side, side, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let pixel = i32::from(code.get_pixel(x + quiet, y + quiet).0[0]);
            let noise = i32::from(state as u8 % 41) - 20;
            image::Luma([(pixel + noise).clamp(0, 255) as u8])
        });
        let codes = decode_luma(&tight, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/cropped-tight");
        assert_eq!(codes[0].strategy, "finder/padded/localaverage");
        // Points are in the cropped image's pixels: the symbol's corners are its corners.
        assert_centre(&codes[0], [side as f32 / 2.0; 2]);
    }

    #[test]
    fn a_code_under_heavy_sensor_noise_is_read() {
        // Noise of about 60 grey levels (the sum of four uniform draws) breaks the runs of the
        // finder patterns for the 8x8 local threshold; the blurred view restores them.
        let clean = qr_field("https://example.com/noisy-photo", 6, 1);
        let mut state = 0x2545_f491_u32;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            i32::from(state as u8) - 128
        };
        let noisy = GrayImage::from_fn(clean.width(), clean.height(), |x, y| {
            let noise: i32 = (0..4).map(|_| uniform()).sum::<i32>() * 60 / 148;
            let pixel = i32::from(clean.get_pixel(x, y).0[0]) + noise;
            image::Luma([pixel.clamp(0, 255) as u8])
        });
        let codes = decode_luma(&noisy, &DecodeOptions::default(), Instant::now()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/noisy-photo");
        assert_eq!(codes[0].strategy, "finder/blurred/otsu");
    }

    #[test]
    fn lossy_and_transparent_webp_codes_are_read() {
        let (opaque, side) = qr_rgba("https://example.com/webp", [255, 255, 255, 255]);
        let rgb: Vec<u8> = opaque
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let lossy = webp::Encoder::from_rgb(&rgb, side, side).encode(80.0);
        let codes = decode(&lossy, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "https://example.com/webp");

        // Black modules on a transparent background: readable only once put on white.
        let (clear, side) = qr_rgba("transparent webp", [0, 0, 0, 0]);
        let lossless = webp::Encoder::from_rgba(&clear, side, side).encode_lossless();
        let codes = decode(&lossless, &DecodeOptions::default()).unwrap();
        assert_eq!(codes[0].content.text, "transparent webp");
    }

    #[test]
    fn a_corrupt_webp_is_not_an_image_and_its_frame_counts_against_the_memory_cap() {
        let (rgba, side) = qr_rgba("cut short", [255, 255, 255, 255]);
        let bytes = webp::Encoder::from_rgba(&rgba, side, side).encode_lossless();
        let err = decode(&bytes[..bytes.len() / 2], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)), "{err:?}");

        let frame = u64::from(side) * u64::from(side) * 4;
        let capped = DecodeOptions {
            max_decoder_bytes: frame - 1,
            ..DecodeOptions::default()
        };
        let err = decode(&bytes, &capped).unwrap_err();
        assert!(matches!(err, DecodeError::TooManyPixels { .. }), "{err:?}");
        let at_cap = DecodeOptions {
            max_decoder_bytes: frame,
            ..DecodeOptions::default()
        };
        assert_eq!(
            decode(&bytes, &at_cap).unwrap()[0].content.text,
            "cut short"
        );
    }

    #[test]
    fn garbage_is_not_an_image() {
        let err = decode(b"<html>hello</html>", &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)));
    }

    #[test]
    fn a_truncated_png_is_not_an_image() {
        let bytes = png(&DynamicImage::new_luma8(64, 64));
        let err = decode(&bytes[..bytes.len() / 2], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::NotAnImage(_)), "{err:?}");
    }

    #[test]
    fn the_pixel_limit_is_checked_from_the_header() {
        let bytes = png(&DynamicImage::new_luma8(300, 200));
        let options = DecodeOptions {
            max_pixels: 300 * 200 - 1,
            ..DecodeOptions::default()
        };
        assert_eq!(
            decode(&bytes, &options).unwrap_err(),
            DecodeError::TooManyPixels {
                width: 300,
                height: 200,
                limit: 59_999
            }
        );
        let at_limit = DecodeOptions {
            max_pixels: 300 * 200,
            ..options
        };
        assert_eq!(decode(&bytes, &at_limit).unwrap_err(), DecodeError::NoCode);
    }

    #[test]
    fn transparency_is_composited_onto_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let grey = to_luma_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(grey.as_raw(), &vec![255, 0]);
    }

    #[test]
    fn codes_are_ordered_largest_first_then_top_then_left() {
        let code = |x: f32, y: f32, side: f32| QrCode {
            content: text::decode_segments(&[0x40, 0x14, 0x10, 0xec], 1).unwrap(),
            version: 1,
            ec_level: "M",
            points: [[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
            strategy: String::new(),
        };
        let found = Found {
            codes: vec![
                code(100.0, 0.0, 10.0),
                code(0.0, 50.0, 20.0),
                code(0.0, 0.0, 10.0),
            ],
            ..Found::default()
        };
        let order: Vec<_> = found
            .finish()
            .unwrap()
            .iter()
            .map(|c| c.points[0])
            .collect();
        assert_eq!(order, vec![[0.0, 50.0], [0.0, 0.0], [100.0, 0.0]]);
    }
}
