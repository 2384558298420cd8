//! Image bytes -> codes: `qrscan_decode::decode` on arbitrary bytes must return (codes or a
//! typed error), never panic or hang. The limits are small so that one input stays fast: a
//! header that declares a large image is refused before any pixel is decoded, as in production.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use qrscan_decode::{decode, DecodeOptions};

fuzz_target!(|bytes: &[u8]| {
    let options = DecodeOptions {
        max_pixels: 1 << 20,
        max_decoder_bytes: 64 << 20,
        budget: Duration::from_millis(200),
        // Every symbology, so the Micro QR and rMQR paths are fuzzed too.
        ..DecodeOptions::default()
    };
    let _ = decode(bytes, &options);
});
