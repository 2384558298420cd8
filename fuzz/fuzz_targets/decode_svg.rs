//! SVG bytes -> grey image: `qrscan_decode::load_luma` on arbitrary bytes, seeded with generators'
//! SVGs (fuzz/seed.sh), so mutations reach roxmltree, the `<use>` expansion count, usvg and resvg.
//! It must return an image or a typed error, never panic, hang or read a file; the limits are
//! small so one input stays fast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan_decode::{load_luma, DecodeOptions};

fuzz_target!(|bytes: &[u8]| {
    let options = DecodeOptions {
        max_pixels: 1 << 22,
        max_decoder_bytes: 64 << 20,
        ..DecodeOptions::default()
    };
    let _ = load_luma(bytes, &options);
});
