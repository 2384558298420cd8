//! Decode time on a few corpus images that stand for the three costs a request can have: a
//! clean small code (the first strategy reads it), the largest photo of the corpus, and an
//! image without a code (every cheap strategy runs and fails). Each is timed end to end
//! (`decode::decode`: format sniffing, pixel decoding, grey conversion, detection) and, for
//! the photo, loading alone, which is a large share of it.
//!
//! ```text
//! cargo bench --bench decode
//! ```
//!
//! Needs the corpus at `../shared/corpus/zxing-cpp`; images that are absent are skipped.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use qrscan_decode::{self as decode, DecodeOptions};

const IMAGES: [(&str, &str); 3] = [
    ("clean_small", "qrcode-3/01.webp"),
    ("large_photo", "qrcode-2/#1132.webp"),
    ("no_code", "falsepositives-2/01.webp"),
];

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/zxing-cpp");
    let options = DecodeOptions::default();
    let mut group = c.benchmark_group("decode");
    for (name, file) in IMAGES {
        let Ok(bytes) = std::fs::read(root.join(file)) else {
            eprintln!("skipped {name}: no {file} under {}", root.display());
            continue;
        };
        group.bench_function(name, |b| {
            b.iter(|| decode::decode(std::hint::black_box(&bytes), &options))
        });
        if name == "large_photo" {
            group.bench_function("large_photo_loading_only", |b| {
                b.iter(|| decode::load_luma(std::hint::black_box(&bytes), &options))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
