//! What looking for Micro QR and rMQR costs on images of QR codes and of no code: decodes every
//! image of the zxing-cpp corpus's `qrcode-*` and `falsepositives-*` folders at four rotations,
//! once for QR Code only and once for every format, alternately, and prints the decoding time
//! per folder (the fastest of `--reps` runs of each, so a busy machine's noise mostly cancels),
//! the outcomes that differ, and the totals. The measurement behind `Formats::default()`.
//!
//! ```text
//! cargo run --release -p qrscan-decode --example formats_cost -- [/work/shared/corpus/zxing-cpp] [--reps 3]
//! ```
//!
//! Loading is not timed: it is the same for both, and the corpus example's times include it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::imageops;
use qrscan_decode::{self as decode, DecodeError, DecodeOptions, Formats};

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "gif", "bmp"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/zxing-cpp");
    let mut reps = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reps" => reps = args.next().unwrap_or_default().parse()?,
            _ => root = PathBuf::from(arg),
        }
    }
    let variants = [Formats::QR, Formats::ALL];
    let mut folders: BTreeMap<String, [Duration; 2]> = BTreeMap::new();
    let mut differ = Vec::new();
    let mut unreadable = [0usize; 2];
    for entry in std::fs::read_dir(&root)? {
        let dir = entry?.path();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let scored = name.starts_with("qrcode") || name.starts_with("falsepositives");
        if !scored || name == "qrcode-7" {
            continue;
        }
        let times = folders.entry(name.to_owned()).or_default();
        for file in std::fs::read_dir(&dir)? {
            let file = file?.path();
            let ext = file
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if !IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) {
                continue;
            }
            let Ok(grey) = decode::load_luma(&std::fs::read(&file)?, &DecodeOptions::default())
            else {
                continue;
            };
            for rotation in [0, 90, 180, 270] {
                let grey = match rotation {
                    90 => imageops::rotate90(&grey),
                    180 => imageops::rotate180(&grey),
                    270 => imageops::rotate270(&grey),
                    _ => grey.clone(),
                };
                let mut outcomes = Vec::new();
                for (i, formats) in variants.into_iter().enumerate() {
                    let options = DecodeOptions {
                        formats,
                        ..DecodeOptions::default()
                    };
                    let mut fastest = Duration::MAX;
                    let mut outcome = Err(DecodeError::NoCode);
                    for _ in 0..reps {
                        let started = Instant::now();
                        outcome = decode::decode_luma(&grey, &options, started);
                        fastest = fastest.min(started.elapsed());
                    }
                    times[i] += fastest;
                    unreadable[i] += usize::from(outcome == Err(DecodeError::Unreadable));
                    let texts: Vec<String> = outcome
                        .map(|codes| codes.iter().map(|c| c.content.text.clone()).collect())
                        .unwrap_or_default();
                    outcomes.push(texts);
                }
                if outcomes[0] != outcomes[1] {
                    differ.push(format!(
                        "{} @{rotation}: {:?} -> {:?}",
                        file.display(),
                        outcomes[0],
                        outcomes[1]
                    ));
                }
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (mut qr, mut all) = (Duration::ZERO, Duration::ZERO);
    println!("{:<18} {:>12} {:>12} {:>8}", "folder", "qr", "all", "cost");
    for (name, [a, b]) in &folders {
        let cost = (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0;
        println!(
            "{name:<18} {:>9.1} ms {:>9.1} ms {cost:>+7.1}%",
            ms(*a),
            ms(*b)
        );
        qr += *a;
        all += *b;
    }
    let cost = (all.as_secs_f64() / qr.as_secs_f64() - 1.0) * 100.0;
    println!(
        "{:<18} {:>9.1} ms {:>9.1} ms {cost:>+7.1}%",
        "total",
        ms(qr),
        ms(all)
    );
    println!(
        "\"unreadable\" (1009) outcomes: {} with qr, {} with all",
        unreadable[0], unreadable[1]
    );
    println!("codes read differently: {}", differ.len());
    differ.iter().for_each(|line| println!("  {line}"));
    Ok(())
}
