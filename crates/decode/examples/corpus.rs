//! Scores the decoder against a folder of real-world images with known content: the zxing-cpp
//! black-box corpus (`../shared/corpus/zxing-cpp`). For each folder and each rotation it prints
//! how many images were read correctly, misread, missed, or (in `falsepositives-*`) wrongly read
//! at all, with the median and p95 time per image; then totals, and one line for the
//! structured-append set in `qrcode-7`.
//!
//! ```text
//! cargo run --release -p qrscan-decode --example corpus -- /work/shared/corpus/zxing-cpp [-v] [--rot 0,90] [--folder qrcode-2] [--formats qr,microqr,rmqr]
//! ```
//!
//! `--formats` sets what is looked for (default: the decoder's default, as `--formats` of the
//! binary); the `microqrcode-*` and `rmqrcode-*` folders are scored whatever it is, so a run with
//! `--formats qr` shows what the QR-only default misses and the time the other formats cost.
//!
//! Time per image is loading (format sniffing, pixel decoding, grey conversion) plus decoding,
//! the work one API request does; the in-memory rotation between the two is not counted.
//! `-v` prints one line per image that was not read correctly, which is how misses are studied.
//! `--strategies` runs every candidate strategy alone on every image and prints what each one
//! reads, costs and adds over the others: the measurements behind the order of `PLAN`.
//!
//! Columns: `correct` the expected text is among the codes; `charset` the expected payload bytes
//! were read but turned into text with another charset; `misread` codes, none expected; `missed`
//! no code; `fp` any code in a `falsepositives-*` image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::imageops;
use qrscan_decode::{self as decode, Binarizer, DecodeOptions, QrCode, Strategy, View};

const ROTATIONS: [u32; 4] = [0, 90, 180, 270];
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "gif", "bmp"];

fn main() -> anyhow::Result<()> {
    let mut root = None;
    let mut verbose = false;
    let mut rotations = ROTATIONS.to_vec();
    let mut only_folder = None;
    let mut strategies = false;
    let mut options = DecodeOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-v" | "--verbose" => verbose = true,
            "--rot" => {
                let list = args.next().unwrap_or_default();
                rotations = list.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            "--folder" => only_folder = args.next(),
            "--strategies" => strategies = true,
            "--formats" => {
                let list = args.next().unwrap_or_default();
                options.formats = decode::Formats::parse(&list).map_err(anyhow::Error::msg)?;
            }
            _ => root = Some(PathBuf::from(arg)),
        }
    }
    let root = root.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/zxing-cpp")
    });

    let folders = scored_folders(&root, only_folder.as_deref())?;
    if strategies {
        return strategy_matrix(&folders, &rotations, &options);
    }
    println!(
        "{:<18} {:>4} {:>6} {:>7} {:>7} {:>7} {:>6} {:>4} {:>9} {:>9} {:>9}",
        "folder",
        "rot",
        "images",
        "correct",
        "charset",
        "misread",
        "missed",
        "fp",
        "median",
        "p95",
        "load"
    );
    // `total` is the QR corpus (qrcode-* and falsepositives-*), as scored before Micro QR and
    // rMQR, so its rows compare across versions; `micro total` is the two newer folders.
    let (mut grand_total, mut grand_loading) = (Duration::ZERO, Duration::ZERO);
    let mut micro_time = Duration::ZERO;
    for &rotation in &rotations {
        let (mut total, mut micro) = (Score::default(), Score::default());
        for (name, images) in &folders {
            let mut score = Score::default();
            for image in images {
                let outcome = run_one(image, rotation, &options)?;
                score.record(image, &outcome, verbose, rotation);
            }
            score.print(name, rotation);
            if name.starts_with("microqrcode") || name.starts_with("rmqrcode") {
                micro.merge(score);
            } else {
                total.merge(score);
            }
        }
        total.print("total", rotation);
        if micro.images > 0 {
            micro.print("micro total", rotation);
        }
        grand_total += total.times.iter().sum::<Duration>();
        grand_loading += total.loading.iter().sum::<Duration>();
        micro_time += micro.times.iter().sum::<Duration>();
        println!();
    }
    println!(
        "time over all QR-corpus images and rotations: {:.2} s (loading {:.2} s, decoding {:.2} s); micro folders {:.2} s; formats {}",
        grand_total.as_secs_f64(),
        grand_loading.as_secs_f64(),
        (grand_total - grand_loading).as_secs_f64(),
        micro_time.as_secs_f64(),
        options.formats
    );

    structured_append_line(&root.join("qrcode-7"), &options)?;
    Ok(())
}

/// One image of a scored folder and what it should decode to (`None`: no code at all).
struct Image {
    path: PathBuf,
    expected: Option<Vec<u8>>,
}

/// The folders with something to score, sorted, each with its images sorted by name.
fn scored_folders(root: &Path, only: Option<&str>) -> anyhow::Result<Vec<(String, Vec<Image>)>> {
    let mut folders = BTreeMap::new();
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let negative = name.starts_with("falsepositives");
        // qrcode-7 is one message over several files: scored separately below.
        let positive = (name.starts_with("qrcode") && name != "qrcode-7")
            || name.starts_with("microqrcode")
            || name.starts_with("rmqrcode");
        if !(negative || positive) || only.is_some_and(|o| o != name) {
            continue;
        }
        let mut images = Vec::new();
        for file in std::fs::read_dir(&path)? {
            let file = file?.path();
            let ext = file
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !IMAGE_EXTENSIONS.contains(&ext.as_str()) {
                continue;
            }
            let expected = if negative {
                None
            } else {
                match std::fs::read(file.with_extension("txt"))
                    .or_else(|_| std::fs::read(file.with_extension("bin")))
                {
                    Ok(bytes) => Some(bytes),
                    // A positive image without its expected content cannot be scored.
                    Err(_) => continue,
                }
            };
            images.push(Image {
                path: file,
                expected,
            });
        }
        images.sort_by(|a, b| a.path.cmp(&b.path));
        folders.insert(name, images);
    }
    Ok(folders.into_iter().collect())
}

/// The codes read (or why none), the time for loading plus decoding, and for loading alone.
type Outcome = (Result<Vec<QrCode>, decode::DecodeError>, Duration, Duration);

/// Loads, rotates and decodes one image; the time covers loading and decoding.
fn run_one(image: &Image, rotation: u32, options: &DecodeOptions) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(&image.path)?;
    let started = Instant::now();
    let grey = match decode::load_luma(&bytes, options) {
        Ok(grey) => grey,
        Err(e) => return Ok((Err(e), started.elapsed(), started.elapsed())),
    };
    let loading = started.elapsed();
    let grey = rotate(grey, rotation);
    let decoding = Instant::now();
    // The budget counts from the start of loading, as in `decode::decode`.
    let budget_start = decoding.checked_sub(loading).unwrap_or(decoding);
    let result = decode::decode_luma(&grey, options, budget_start);
    Ok((result, loading + decoding.elapsed(), loading))
}

/// The bytes a decoded code stands for: the payload for binary data, else the UTF-8 text.
fn code_bytes(code: &QrCode) -> Vec<u8> {
    code.content
        .binary
        .clone()
        .unwrap_or_else(|| code.content.text.clone().into_bytes())
}

#[derive(Default)]
struct Score {
    images: usize,
    correct: usize,
    /// The right payload bytes, turned into text with another charset than the expected one.
    charset: usize,
    misread: usize,
    missed: usize,
    false_positives: usize,
    times: Vec<Duration>,
    loading: Vec<Duration>,
}

impl Score {
    fn record(
        &mut self,
        image: &Image,
        (result, time, loading): &Outcome,
        verbose: bool,
        rotation: u32,
    ) {
        self.images += 1;
        self.times.push(*time);
        self.loading.push(*loading);
        let codes = result.as_deref().unwrap_or_default();
        let verdict = match (&image.expected, codes.first()) {
            (None, None) => None,
            (None, Some(_)) => {
                self.false_positives += 1;
                Some("FALSE POSITIVE")
            }
            (Some(_), None) => {
                self.missed += 1;
                Some("missed")
            }
            // Some images hold a second code (a QR inside a QR); the expected one must be there.
            (Some(expected), Some(_)) if codes.iter().any(|c| code_bytes(c) == *expected) => {
                self.correct += 1;
                None
            }
            (Some(expected), Some(_)) if codes.iter().any(|c| same_bytes(c, expected)) => {
                self.charset += 1;
                Some("charset")
            }
            (Some(_), Some(_)) => {
                self.misread += 1;
                Some("MISREAD")
            }
        };
        if let (true, Some(verdict)) = (verbose, verdict) {
            let detail = match result {
                Ok(codes) => codes
                    .iter()
                    .map(|c| format!("v{} {:?}", c.version, truncate(&c.content.text)))
                    .collect::<Vec<_>>()
                    .join(" | "),
                Err(e) => e.to_string(),
            };
            println!(
                "  {rotation:>3} {verdict:<14} {:<40} {:>7.1} ms  {detail}",
                image.path.display(),
                time.as_secs_f64() * 1e3
            );
        }
    }

    fn merge(&mut self, other: Score) {
        self.images += other.images;
        self.correct += other.correct;
        self.charset += other.charset;
        self.misread += other.misread;
        self.missed += other.missed;
        self.false_positives += other.false_positives;
        self.times.extend(other.times);
        self.loading.extend(other.loading);
    }

    fn print(&self, name: &str, rotation: u32) {
        let pick = |times: &[Duration], q: f64| {
            let mut times = times.to_vec();
            times.sort();
            let i = ((times.len() as f64 - 1.0) * q).round() as usize;
            times.get(i).map_or(0.0, |t| t.as_secs_f64() * 1e3)
        };
        println!(
            "{:<18} {:>4} {:>6} {:>7} {:>7} {:>7} {:>6} {:>4} {:>6.1} ms {:>6.1} ms {:>6.1} ms",
            name,
            rotation,
            self.images,
            self.correct,
            self.charset,
            self.misread,
            self.missed,
            self.false_positives,
            pick(&self.times, 0.5),
            pick(&self.times, 0.95),
            pick(&self.loading, 0.5)
        );
    }
}

/// Whether a code carries the expected payload bytes but its text was read with another
/// charset (for instance Shift_JIS bytes read as GB18030): the detector did its job.
fn same_bytes(code: &QrCode, expected: &[u8]) -> bool {
    let Ok(expected) = std::str::from_utf8(expected) else {
        return false;
    };
    let ours = |encoding: &str| -> Option<Vec<u8>> {
        if encoding == "ISO-8859-1" {
            return code
                .content
                .text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect();
        }
        let encoding = encoding_rs::Encoding::for_label(encoding.as_bytes())?;
        let (bytes, _, lossy) = encoding.encode(&code.content.text);
        (!lossy).then(|| bytes.into_owned())
    };
    let Some(payload) = code
        .content
        .binary
        .clone()
        .or_else(|| ours(code.content.encoding))
    else {
        return false;
    };
    [
        encoding_rs::SHIFT_JIS,
        encoding_rs::GB18030,
        encoding_rs::UTF_8,
    ]
    .iter()
    .any(|encoding| {
        let (bytes, _, lossy) = encoding.encode(expected);
        !lossy && *bytes == payload[..]
    })
}

/// Every strategy we know how to run, for `--strategies`.
fn candidate_strategies() -> Vec<Strategy> {
    let views = [
        View::Working,
        View::Half,
        View::Double,
        View::Blurred,
        View::Padded,
    ];
    let mut all = Vec::new();
    for view in views {
        for invert in [false, true] {
            for binarizer in [
                Binarizer::LocalAverage,
                Binarizer::LocalMidrange,
                Binarizer::Otsu,
            ] {
                all.push(Strategy::Finder {
                    view,
                    binarizer,
                    invert,
                });
            }
            all.push(Strategy::Rqrr { view, invert });
        }
    }
    for binarizer in [Binarizer::LocalAverage, Binarizer::Otsu] {
        all.push(Strategy::FinderCrops {
            view: View::Full,
            binarizer,
        });
    }
    for (view, sharpen) in [
        (View::HalfHeight, false),
        (View::HalfWidth, false),
        (View::Working, true),
    ] {
        all.push(Strategy::FinderAround {
            view,
            binarizer: Binarizer::LocalAverage,
            sharpen,
        });
    }
    all.push(Strategy::ZoomedCrops {
        view: View::Working,
    });
    all
}

/// Runs each candidate strategy alone on each image; prints reads, false positives and time per
/// strategy, then a greedy order (most new reads first) and the images no strategy reads.
fn strategy_matrix(
    folders: &[(String, Vec<Image>)],
    rotations: &[u32],
    options: &DecodeOptions,
) -> anyhow::Result<()> {
    let candidates = candidate_strategies();
    // reads[s] = the (image, rotation) keys strategy s reads; fps and time likewise.
    let mut reads = vec![std::collections::BTreeSet::new(); candidates.len()];
    let mut fps = vec![0usize; candidates.len()];
    let mut times = vec![Duration::ZERO; candidates.len()];
    let mut positives = Vec::new();
    for (_, images) in folders {
        for image in images {
            // An image too small to hold a code has no pixels to try: no strategy reads it.
            let grey = match decode::load_luma(&std::fs::read(&image.path)?, options) {
                Err(decode::DecodeError::NoCode) => None,
                loaded => Some(loaded?),
            };
            for &rotation in rotations {
                let key = format!("{} @{rotation}", image.path.display());
                if image.expected.is_some() {
                    positives.push(key.clone());
                }
                let Some(grey) = grey.as_ref().map(|grey| rotate(grey.clone(), rotation)) else {
                    continue;
                };
                for (i, &strategy) in candidates.iter().enumerate() {
                    let started = Instant::now();
                    let codes = decode::run_strategy(&grey, strategy, options.formats);
                    times[i] += started.elapsed();
                    match &image.expected {
                        None if !codes.is_empty() => fps[i] += 1,
                        Some(expected)
                            if codes
                                .iter()
                                .any(|c| code_bytes(c) == *expected || same_bytes(c, expected)) =>
                        {
                            reads[i].insert(key.clone());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    println!(
        "{:<70} {:>6} {:>4} {:>9}",
        "strategy", "reads", "fp", "time"
    );
    for (i, strategy) in candidates.iter().enumerate() {
        println!(
            "{:<70} {:>6} {:>4} {:>7.0} ms",
            format!("{strategy:?}"),
            reads[i].len(),
            fps[i],
            times[i].as_secs_f64() * 1e3
        );
    }
    println!("\ngreedy order (new reads, then time):");
    let mut covered = std::collections::BTreeSet::new();
    let mut left: Vec<usize> = (0..candidates.len()).collect();
    loop {
        let best = left
            .iter()
            .copied()
            .map(|i| (reads[i].difference(&covered).count(), i))
            .filter(|&(new, _)| new > 0)
            .max_by(|a, b| a.0.cmp(&b.0).then(times[b.1].cmp(&times[a.1])));
        let Some((new, i)) = best else { break };
        println!(
            "  +{new:<3} {:?} ({:.0} ms, {} fp)",
            candidates[i],
            times[i].as_secs_f64() * 1e3,
            fps[i]
        );
        let newly: Vec<_> = reads[i].difference(&covered).cloned().collect();
        if new <= 12 {
            newly.iter().for_each(|k| println!("         {k}"));
        }
        covered.extend(newly);
        left.retain(|&j| j != i);
    }
    println!("\nread by no strategy:");
    positives
        .iter()
        .filter(|k| !covered.contains(*k))
        .for_each(|k| println!("  {k}"));
    Ok(())
}

fn rotate(grey: image::GrayImage, rotation: u32) -> image::GrayImage {
    match rotation {
        90 => imageops::rotate90(&grey),
        180 => imageops::rotate180(&grey),
        270 => imageops::rotate270(&grey),
        _ => grey,
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Decodes each file of a structured-append set and checks the joined message.
fn structured_append_line(folder: &Path, options: &DecodeOptions) -> anyhow::Result<()> {
    let Ok(expected) = std::fs::read(folder.join("01.txt")) else {
        println!("qrcode-7: absent");
        return Ok(());
    };
    let mut files: Vec<_> = std::fs::read_dir(folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    let started = Instant::now();
    let mut parts = Vec::new();
    for file in &files {
        if let Ok(codes) = decode::decode(&std::fs::read(file)?, options) {
            parts.extend(codes);
        }
    }
    let joined = decode::join_structured_append(&parts);
    let verdict = match &joined {
        Some(code) if code_bytes(code) == expected => "correct",
        Some(_) => "MISREAD",
        None => "missed",
    };
    println!(
        "qrcode-7 structured append: {} files, {} parts read, joined message {verdict} ({:.1} ms)",
        files.len(),
        parts
            .iter()
            .filter(|c| c.content.structured_append.is_some())
            .count(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
