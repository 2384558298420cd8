//! PDF bytes -> one page drawn to grey: `qrscan_decode::pdf::render_page` in this process, page 0,
//! on arbitrary bytes behind the `%PDF-` header, so every input reaches hayro's parser and, past
//! it, its interpreter and rasterizer. It must return a page or a typed error, never panic or hang.
//! (What a page may cost in memory and time is bounded in qrscan by the child process that draws
//! it, not here: the limits are small so one input stays fast.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan_decode::{pdf, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let bytes = [&b"%PDF-"[..], data].concat();
    let options = DecodeOptions {
        max_pixels: 1 << 18,
        max_decoder_bytes: 16 << 20,
        ..DecodeOptions::default()
    };
    let _ = pdf::render_page(&bytes, 0, &options);
});
