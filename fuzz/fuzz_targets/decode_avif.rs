//! AVIF bytes -> grey image: rav1d's AV1 decoder, grids of tiles, alpha items and transforms, behind
//! qrscan's HEIF container checks. The input is a HEIF file without its first twelve bytes but
//! for the `ftyp` box's size (its first byte): the signature and the `avif` brand are put back
//! here, so every input reaches the container parser and, past it, the decoder. It must return an
//! image or a typed error, never panic, hang or allocate past the limits, kept small so one input
//! stays fast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan_decode::{load_luma, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&ftyp_size, rest)) = data.split_first() else {
        return;
    };
    let bytes = [&[0, 0, 0, ftyp_size][..], b"ftypavif", rest].concat();
    let options = DecodeOptions {
        max_pixels: 1 << 20,
        max_decoder_bytes: 64 << 20,
        ..DecodeOptions::default()
    };
    let _ = load_luma(&bytes, &options);
});
