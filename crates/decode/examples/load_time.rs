//! Times loading alone (`load_luma`: bytes to the grey image the search starts from; for a PDF,
//! `pdf::render_page` of its first page, in this process) for each file given, the median of
//! `--reps` runs (default 7): what each image format costs before any decoding.
//! `benches/formats_load.py` writes one 12 MP photo in every format and runs this.
//!
//! ```text
//! cargo run --release -p qrscan-decode --example load_time -- [--reps N] FILE...
//! ```

use std::time::Instant;

use qrscan_decode::{load_luma, pdf, DecodeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reps = 7;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reps" => reps = args.next().unwrap_or_default().parse()?,
            _ => files.push(arg),
        }
    }
    let options = DecodeOptions::default();
    println!(
        "{:<40} {:>10} {:>12} {:>10}",
        "file", "bytes", "pixels", "median ms"
    );
    for file in files {
        let bytes = std::fs::read(&file)?;
        let mut times = Vec::with_capacity(reps);
        let mut pixels = 0;
        for _ in 0..reps {
            let started = Instant::now();
            let grey = if pdf::is_pdf(&bytes) {
                pdf::render_page(&bytes, 0, &options)?.grey
            } else {
                load_luma(&bytes, &options)?
            };
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            pixels = u64::from(grey.width()) * u64::from(grey.height());
        }
        times.sort_by(f64::total_cmp);
        let name = std::path::Path::new(&file)
            .file_name()
            .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
        println!(
            "{name:<40} {:>10} {pixels:>12} {:>10.1}",
            bytes.len(),
            times[times.len() / 2]
        );
    }
    Ok(())
}
