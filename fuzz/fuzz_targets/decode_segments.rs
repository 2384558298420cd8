//! The segment/text decoder: corrected data codewords from a hostile symbol, for any version
//! byte (in range or not), become text or a `TextError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&version, data)) = input.split_first() else {
        return;
    };
    let _ = qrscan_decode::text::decode_segments(data, version);
});
