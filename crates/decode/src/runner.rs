//! The runner: `decode_luma` walks the plan (`crate::plan::PLAN`), asks the evidence gathered so
//! far (`crate::evidence::Found`) whether each row runs, runs it on the shared views
//! (`crate::views::Views`) with the detectors (`crate::detect`), and stamps the row's strategy
//! on every code read. The decode budget is checked between rows and inside every pass.

use std::time::Instant;

use image::GrayImage;

use crate::append::join_structured_append;
use crate::code::QrCode;
use crate::deadline::Deadline;
use crate::detect::{self, Detected, Grey, Placement, Resampling};
use crate::error::DecodeError;
use crate::evidence::{Found, Gate};
use crate::geometry::{Bounds, Quad};
use crate::options::DecodeOptions;
use crate::plan::{LooksAt, Strategy, PLAN};
use crate::symbology::Formats;
use crate::views::binarize::{self, Binarizer};
use crate::views::{self, resize, View, Views};

/// Runs the plan on a grey image until every code the evidence points to is read or the
/// budget (counted from `started`) is spent. Evidence is what the detectors saw and no code
/// read explains: finder patterns outside every code read, and symbols sampled but not read. A
/// complete structured-append set among the codes is also returned joined, as the first code.
pub fn decode_luma(
    grey: &GrayImage,
    options: &DecodeOptions,
    started: Instant,
) -> Result<Vec<QrCode>, DecodeError> {
    let deadline = Deadline::after(started, options.budget);
    let mut views = Views::new(grey, options.formats);
    let mut found = Found::default();
    for (index, step) in PLAN.iter().enumerate() {
        if deadline.passed() {
            break;
        }
        match found.gate(step) {
            Gate::Run => {}
            Gate::Skip => continue,
            Gate::Stop => break,
        }
        let strategy = step.strategy;
        let around = surroundings(&found, strategy, views.working_scale());
        let strategy_started = Instant::now();
        let claimed: Vec<Quad> = found.codes.iter().map(QrCode::quad).collect();
        let detected = run(&mut views, strategy, deadline, &around, &claimed);
        // `RUST_LOG=qrscan_decode=trace`: where one image's time goes, strategy by strategy.
        tracing::trace!(
            index,
            strategy = strategy.label(),
            micros = strategy_started.elapsed().as_micros() as u64,
            codes = detected.codes.len(),
            patterns = detected.patterns.len(),
            damaged = detected.damaged.len(),
            "strategy ran"
        );
        merge(&mut found, strategy, detected);
    }
    let mut codes = found.finish()?;
    if let Some(joined) = join_structured_append(&codes) {
        codes.insert(0, joined);
    }
    Ok(codes)
}

/// Where a strategy that crops looks: around the symbols sampled and not read (those with
/// modules finer than it is made for, `Strategy::crops_modules_under`, counted in working-view
/// pixels, `working_scale` image pixels each), and for `LooksAt::UnreadSymbolsAndPairs` also
/// the pairs of finder patterns no triple made a symbol of.
fn surroundings(found: &Found, strategy: Strategy, working_scale: f32) -> Vec<Bounds> {
    match strategy.looks_at() {
        LooksAt::WholeView => Vec::new(),
        LooksAt::UnreadSymbols => {
            let module = strategy.crops_modules_under() * working_scale;
            found.unexplained_damaged_finer_than(module)
        }
        LooksAt::UnreadSymbolsAndPairs => {
            let mut around = found.unexplained_damaged();
            around.extend(found.pair_surroundings());
            around
        }
    }
}

/// Adds what `strategy` detected to `found`, each code stamped with the strategy.
fn merge(found: &mut Found, strategy: Strategy, mut detected: Detected) {
    let codes = std::mem::take(&mut detected.codes)
        .into_iter()
        .map(|decoded| QrCode::found_by(decoded, strategy))
        .collect();
    found.merge(codes, detected);
}

/// The lab (feature `lab`): runs one strategy alone on a grey image, with no budget: what `decode_luma` would get from
/// it. For measuring which strategies read which images (`examples/corpus.rs --strategies`).
/// Strategies that crop get the damaged symbols the whole-view rows saw (and `FinderAround`
/// their pairs of finder patterns). `formats` are the symbologies looked for.
#[cfg(any(test, feature = "lab"))]
pub fn run_strategy(grey: &GrayImage, strategy: Strategy, formats: Formats) -> Vec<QrCode> {
    let mut views = Views::new(grey, formats);
    let mut seen = Found::default();
    if strategy.looks_at() != LooksAt::WholeView {
        let whole_view = PLAN
            .iter()
            .filter(|s| s.strategy.looks_at() == LooksAt::WholeView);
        for step in whole_view {
            let detected = run(&mut views, step.strategy, Deadline::NONE, &[], &[]);
            seen.merge(
                Vec::new(),
                Detected {
                    codes: Vec::new(),
                    ..detected
                },
            );
        }
    }
    let around = surroundings(&seen, strategy, views.working_scale());
    let mut found = Found::default();
    merge(
        &mut found,
        strategy,
        run(&mut views, strategy, Deadline::NONE, &around, &[]),
    );
    found.codes
}

/// The sharpened crops' blur radius (working pixels) and gain. On BoofCV's photos, radius 3
/// read 568, 569, 571, 572, 573 and 573 codes at gains 2, 3, 4, 5, 6 and 8 (bright spots:
/// the stronger the push, the more washed-out modules come back; blur already at 2), and
/// radius 1 and 2 fewer at gain 3 (566, 567): a plateau, not a tuned point.
const SHARPEN_RADIUS: usize = 3;
const SHARPEN_AMOUNT: i16 = 6;

/// Runs one strategy on `views`; `damaged` (symbols earlier strategies could not read, as bounding
/// boxes in image pixels) is where the crop-based ones look; the finder patterns on `claimed`
/// (the codes earlier strategies read, in image pixels) are theirs (`detect::finder`).
fn run(
    views: &mut Views,
    strategy: Strategy,
    deadline: Deadline,
    damaged: &[Bounds],
    claimed: &[Quad],
) -> Detected {
    views.deadline = deadline;
    match strategy {
        Strategy::Finder {
            view,
            binarizer,
            invert,
        } => {
            let Some(scale) = views.pixels(view).map(|(_, scale)| scale) else {
                return Detected::default();
            };
            // A padded view's pixel (x, y) is the working image's (x - margin, y - margin).
            let origin = if view == View::Padded {
                let margin = views
                    .view(View::Working)
                    .map_or(0, |(w, _)| views::padding(w));
                [-(margin as f32); 2]
            } else {
                [0.0, 0.0]
            };
            let formats = views.formats;
            if views.binarized(view, binarizer).is_none() {
                return Detected::default();
            }
            // Both made above; borrowed together now.
            let (Some(grey), Some(Some(bits))) = (
                views.made_pixels(view),
                views.binarized.get(&(view, binarizer)),
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
            let at = Placement { origin, scale };
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
                claimed,
            );
            if detected.codes.is_empty() && !deadline.passed() {
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
            let formats = views.formats;
            on_crops(views, view, damaged, deadline, |crop, at| {
                find_in(
                    &crop,
                    binarizer,
                    at,
                    deadline,
                    formats,
                    Resampling::UpToVersion6,
                    claimed,
                )
            })
        }
        Strategy::FinderAround {
            view,
            binarizer,
            sharpen,
        } => {
            let formats = views.formats;
            // One crop around all of them: crops of symbols side by side overlap, and each
            // costs a binarization and a scan.
            let Some(union) = damaged.iter().copied().reduce(Bounds::union) else {
                return Detected::default();
            };
            on_crops(views, view, &[union], deadline, |crop, at| {
                let crop = if sharpen {
                    resize::sharpen(&crop, SHARPEN_RADIUS, SHARPEN_AMOUNT)
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
                        claimed,
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
                        if !detected
                            .codes
                            .iter()
                            .any(|c| c.quad().contains(code.quad().center()))
                        {
                            detected.codes.push(code);
                        }
                    }
                }
                detected
            })
        }
        Strategy::ZoomedCrops { view } => {
            let formats = views.formats;
            on_crops(views, view, damaged, deadline, |crop, at| {
                let zoomed = resize::double(&crop);
                // Zoomed pixel (x, y) is crop pixel (x / 2, y / 2).
                let at = Placement {
                    origin: at.origin.map(|o| o * 2.0),
                    scale: at.scale.map(|s| s / 2.0),
                };
                // Without the grey pixels: reading the zoomed crop's modules from them
                // read nothing more on either corpus.
                let mut detected = binarize::local_average(&zoomed, deadline)
                    .map(|bits| {
                        let six = Resampling::UpToVersion6;
                        detect::finder(&bits, None, at, deadline, formats, six, claimed)
                    })
                    .unwrap_or_default();
                if detected.codes.is_empty() {
                    if let Some(bits) = binarize::local_midrange(&zoomed, deadline) {
                        let other = detect::finder(
                            &bits,
                            None,
                            at,
                            deadline,
                            formats,
                            Resampling::UpToVersion6,
                            claimed,
                        );
                        detected.codes = other.codes;
                    }
                }
                detected
            })
        }
        Strategy::Rqrr { view, invert } => {
            on_crops(views, view, damaged, deadline, |mut crop, at| {
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

/// Runs `detect` on crops of `view` around the first `MAX_CROPS` damaged symbols, until the
/// deadline; `detect` gets the crop and where it sits in the image.
fn on_crops(
    views: &mut Views,
    view: View,
    damaged: &[Bounds],
    deadline: Deadline,
    mut detect: impl FnMut(GrayImage, Placement) -> Detected,
) -> Detected {
    // Before the view: a view made for no crop (the doubled one) would cost for nothing.
    if damaged.is_empty() {
        return Detected::default();
    }
    let Some((grey, scale)) = views.pixels(view) else {
        return Detected::default();
    };
    let mut detected = Detected::default();
    for &bounds in damaged.iter().take(MAX_CROPS) {
        if deadline.passed() {
            break;
        }
        let (crop, origin) = crop_around(grey, bounds, scale);
        let at = Placement { origin, scale };
        let seen = detect(crop, at);
        detected.codes.extend(seen.codes);
        detected.damaged.extend(seen.damaged);
        detected.lost += seen.lost;
        detected.patterns.extend(seen.patterns);
    }
    detected
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
    claimed: &[Quad],
) -> Detected {
    binarize::binarize(crop, binarizer, deadline)
        .map(|bits| {
            let grey = Grey {
                pixels: crop,
                resampled: true,
            };
            detect::finder(
                &bits,
                Some(grey),
                at,
                deadline,
                formats,
                resampling,
                claimed,
            )
        })
        .unwrap_or_default()
}

/// cheapest strategies found, are the likeliest codes. A bound on work: 4 and 16 read the same
/// on both corpora (584, 133; 2026-12-07).
const MAX_CROPS: usize = 8;

/// Most finder patterns a crop may hold for rqrr to run on it: four symbols' worth. rqrr
/// tests every plausible triple of patterns, copying the whole crop for each, so its time
/// grows with the square of the patterns and has no deadline: a field of many small codes
/// inside one damaged symbol's box would hold a worker for minutes.
const MAX_CROP_FINDER_PATTERNS: usize = 12;

/// Whether rqrr's time on `crop` is bounded: it holds few finder patterns, counted by the
/// finder-pattern scan (a pass over the crop) on the local-average binarization.
fn few_finder_patterns(crop: &GrayImage) -> bool {
    binarize::local_average(crop, Deadline::NONE).is_some_and(|bits| {
        detect::finder_pattern_count(&bits, MAX_CROP_FINDER_PATTERNS + 1)
            <= MAX_CROP_FINDER_PATTERNS
    })
}

/// The part of `view` (`scale` times smaller than the image, across and down) around `bounds` (a box in image
/// pixels), with a margin of half the box on each side: the sampler that found the
/// symbol may have placed its corners a few modules off, as it does on curved paper. Returns
/// the crop and its top-left corner in view pixels.
fn crop_around(view: &GrayImage, bounds: Bounds, scale: [f32; 2]) -> (GrayImage, [f32; 2]) {
    let [left, top, right, bottom] = [
        bounds.left / scale[0],
        bounds.top / scale[1],
        bounds.right / scale[0],
        bounds.bottom / scale[1],
    ];
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
    let crop = resize::crop(view, x0, y0, x1 - x0, y1 - y0);
    (crop, [x0 as f32, y0 as f32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Damaged;
    use crate::testkit::{assert_centre, qr_field};

    fn bounds(left: f32, top: f32, right: f32, bottom: f32) -> Bounds {
        Bounds {
            left,
            top,
            right,
            bottom,
        }
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
        let damaged = [bounds(212.0, 112.0, 188.0 + side, 88.0 + side)];

        let read = run(
            &mut Views::new(&page, Formats::default()),
            rqrr,
            Deadline::NONE,
            &damaged,
            &[],
        );
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, "https://example.com/crop");
        // Points come back in page pixels, not crop pixels.
        assert_centre(
            &read.codes[0].points,
            [200.0 + side / 2.0, 100.0 + side / 2.0],
        );

        // No damaged symbol, no crop: the code elsewhere in the page is not rqrr's to find.
        assert!(run(
            &mut Views::new(&page, Formats::default()),
            rqrr,
            Deadline::NONE,
            &[],
            &[],
        )
        .codes
        .is_empty());
        let elsewhere = [bounds(0.0, 0.0, 60.0, 60.0)];
        assert!(run(
            &mut Views::new(&page, Formats::default()),
            rqrr,
            Deadline::NONE,
            &elsewhere,
            &[],
        )
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
        let whole = [bounds(
            0.0,
            0.0,
            field.width() as f32,
            field.height() as f32,
        )];
        assert!(run(
            &mut Views::new(&field, Formats::default()),
            rqrr,
            Deadline::NONE,
            &whole,
            &[],
        )
        .codes
        .is_empty());

        // Four symbols' worth is allowed: 2 x 2 codes hold 12 patterns.
        let four = qr_field("https://example.com/field", 2, 2);
        assert!(few_finder_patterns(&four));
        let whole = [bounds(0.0, 0.0, four.width() as f32, four.height() as f32)];
        assert!(!run(
            &mut Views::new(&four, Formats::default()),
            rqrr,
            Deadline::NONE,
            &whole,
            &[],
        )
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
        let damaged = [bounds(512.0, 312.0, 488.0 + side, 288.0 + side)];
        let zoomed = Strategy::ZoomedCrops {
            view: View::Working,
        };

        let read = run(
            &mut Views::new(&page, Formats::default()),
            zoomed,
            Deadline::NONE,
            &damaged,
            &[],
        );
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, text);
        assert_centre(
            &read.codes[0].points,
            [500.0 + side / 2.0, 300.0 + side / 2.0],
        );
        assert!(run(
            &mut Views::new(&page, Formats::default()),
            zoomed,
            Deadline::NONE,
            &[],
            &[],
        )
        .codes
        .is_empty());
    }

    #[test]
    fn the_rows_for_small_modules_crop_only_around_symbols_with_small_modules() {
        // Two version 1 symbols sampled and not read: 2-pixel and 20-pixel modules.
        let grid = rxing::common::BitMatrix::with_single_dimension(21).unwrap();
        let symbol = |x: f32, side: f32| {
            let corners = [[x, 0.0], [x + side, 0.0], [x + side, side], [x, side]];
            Damaged::new(corners, &grid)
        };
        let mut found = Found::default();
        let damaged = vec![symbol(0.0, 42.0), symbol(100.0, 420.0)];
        found.merge(
            Vec::new(),
            Detected {
                damaged,
                ..Detected::default()
            },
        );
        let lefts = |strategy: Strategy, working_scale: f32| -> Vec<f32> {
            let around = surroundings(&found, strategy, working_scale);
            around.iter().map(|b| b.left.round()).collect()
        };
        let full = Strategy::FinderCrops {
            view: View::Full,
            binarizer: Binarizer::LocalAverage,
        };
        let zoomed = Strategy::ZoomedCrops {
            view: View::Working,
        };
        let rqrr = |view| Strategy::Rqrr {
            view,
            invert: false,
        };
        // The working view at the image's size: 20-pixel modules gain nothing from more pixels.
        assert_eq!(lefts(full, 1.0), vec![0.0]);
        assert_eq!(lefts(zoomed, 1.0), vec![0.0]);
        assert_eq!(lefts(rqrr(View::Double), 1.0), vec![0.0]);
        // rqrr at 1x fits curved symbols whatever their modules.
        assert_eq!(lefts(rqrr(View::Working), 1.0), vec![0.0, 100.0]);
        // A photo shrunk 3 times: the large symbol's modules are under 7 working pixels, which
        // doubling serves; at full resolution, only modules the working view left under 4.
        assert_eq!(lefts(zoomed, 3.0), vec![0.0, 100.0]);
        assert_eq!(lefts(full, 3.0), vec![0.0]);
        assert_eq!(lefts(full, 6.0), vec![0.0, 100.0]);
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
        let damaged = [bounds(1617.0, 615.0, 1585.0 + side, 583.0 + side)];
        let crops = Strategy::FinderCrops {
            view: View::Full,
            binarizer: Binarizer::LocalAverage,
        };

        let read = run(
            &mut Views::new(&photo, Formats::default()),
            crops,
            Deadline::NONE,
            &damaged,
            &[],
        );
        assert_eq!(read.codes.len(), 1);
        assert_eq!(read.codes[0].content.text, text);
        assert_centre(
            &read.codes[0].points,
            [1601.0 + side / 2.0, 599.0 + side / 2.0],
        );
        assert!(run(
            &mut Views::new(&photo, Formats::default()),
            crops,
            Deadline::NONE,
            &[],
            &[],
        )
        .codes
        .is_empty());

        // An image the working view does not shrink has no full view apart from it.
        let mut page = GrayImage::from_pixel(1000, 800, image::Luma([255]));
        image::imageops::replace(&mut page, &code, 300, 200);
        let damaged = [bounds(300.0, 200.0, 300.0 + side, 200.0 + side)];
        assert!(run(
            &mut Views::new(&page, Formats::default()),
            crops,
            Deadline::NONE,
            &damaged,
            &[],
        )
        .codes
        .is_empty());
    }
}
