//! Scores the decoder, in process, on BoofCV's QR detection benchmark (`../shared/corpus/boofcv`,
//! its README says what each of the 16 categories holds). The labels are corner quadrilaterals
//! without text; a labelled code counts as read when a decoded code overlaps it with IoU >= 0.2,
//! each decoded code matching at most one label, as `boofcv/score.py` counts.
//!
//! ```text
//! cargo run --release -p qrscan-decode --example boofcv -- [DIR] [--strategies] [--category nominal] [-v]
//! ```
//!
//! Prints codes read per category, the mean of the category rates and the pooled count.
//! `--strategies` runs every row of the search plan (`PLAN`) alone on every
//! image and prints what each one reads per category: the measurements behind their order.
//! `-v` prints one line per image with fewer codes read than labelled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use qrscan_decode::{self as decode, DecodeOptions, QrCode, Strategy, PLAN};

#[path = "../tests/common/boofcv.rs"]
mod boofcv;

/// One column of the table: a name and what it reads from an image's bytes.
type Reader<'a> = (String, Box<dyn Fn(&[u8]) -> Vec<QrCode> + Sync + 'a>);

fn main() -> std::io::Result<()> {
    let mut root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/boofcv");
    let (mut strategies, mut verbose, mut only) = (false, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--strategies" => strategies = true,
            "-v" | "--verbose" => verbose = true,
            "--category" => only = args.next(),
            _ => root = PathBuf::from(arg),
        }
    }
    let mut images = boofcv::load(&root)?;
    if let Some(only) = &only {
        images.retain(|image| &image.category == only);
    }
    let options = DecodeOptions::default();
    let mut columns: Vec<Reader> = vec![(
        "pipeline".into(),
        Box::new(|bytes: &[u8]| decode::decode(bytes, &options).unwrap_or_default()),
    )];
    if strategies {
        for strategy in PLAN.iter().map(|step| step.strategy) {
            let run = move |bytes: &[u8]| alone(bytes, strategy);
            columns.push((strategy.label(), Box::new(run)));
        }
    }
    for (label, run) in &columns {
        let reads = boofcv::score(&images, |bytes| run(bytes));
        println!("{label}");
        print_table(&images, &reads, verbose);
    }
    Ok(())
}

/// What one strategy reads alone on an image.
fn alone(bytes: &[u8], strategy: Strategy) -> Vec<QrCode> {
    let options = DecodeOptions::default();
    decode::load_luma(bytes, &options)
        .map(|grey| decode::run_strategy(&grey, strategy, options.formats))
        .unwrap_or_default()
}

fn print_table(images: &[boofcv::Image], reads: &[usize], verbose: bool) {
    let mut by_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (image, &read) in images.iter().zip(reads) {
        let entry = by_category.entry(&image.category).or_default();
        entry.0 += image.labels.len();
        entry.1 += read;
        if verbose && read < image.labels.len() {
            println!(
                "  {} read {read} of {}",
                image.path.display(),
                image.labels.len()
            );
        }
    }
    let mut rates = Vec::new();
    for (category, (codes, read)) in &by_category {
        let rate = *read as f64 / *codes as f64;
        rates.push(rate);
        println!(
            "  {category:<14} {codes:>4} {read:>4} {:>6.1}%",
            100.0 * rate
        );
    }
    let mean = 100.0 * rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    let pooled: usize = reads.iter().sum();
    let codes: usize = images.iter().map(|i| i.labels.len()).sum();
    println!("  mean of categories {mean:.1}%, pooled {pooled} of {codes}");
}
