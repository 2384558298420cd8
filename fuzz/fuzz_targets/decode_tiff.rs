//! TIFF bytes -> grey image: `qrscan_decode::load_luma` on arbitrary bytes behind a TIFF
//! signature (little- or big-endian, by the first byte), so every input reaches the TIFF decoder
//! rather than the format sniffer. It must return an image or a typed error, never panic, hang or
//! allocate past the limits; the limits are small so one input stays fast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan_decode::{load_luma, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&order, rest)) = data.split_first() else {
        return;
    };
    let signature: &[u8] = if order & 1 == 0 { b"II*\0" } else { b"MM\0*" };
    let bytes = [signature, rest].concat();
    let options = DecodeOptions {
        max_pixels: 1 << 20,
        max_decoder_bytes: 64 << 20,
        ..DecodeOptions::default()
    };
    let _ = load_luma(&bytes, &options);
});
