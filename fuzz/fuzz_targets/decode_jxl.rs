//! JPEG XL bytes -> grey image: `qrscan_decode::load_luma` on arbitrary bytes behind the JPEG XL
//! codestream signature, so every input reaches jxl-oxide. It must return an image or a typed
//! error, never panic, hang or allocate past its tracker; the limits are small so one input stays
//! fast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan_decode::{load_luma, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let bytes = [&[0xff, 0x0a][..], data].concat();
    let options = DecodeOptions {
        max_pixels: 1 << 20,
        max_decoder_bytes: 64 << 20,
        ..DecodeOptions::default()
    };
    let _ = load_luma(&bytes, &options);
});
