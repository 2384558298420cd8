//! `ImageUrl::parse`, the boundary where an untrusted `url` becomes a type: any string parses
//! or is refused with a `FetchError`. With `file:` enabled too, so that branch is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan::fetch::{FetchOptions, ImageUrl};

fuzz_target!(|input: &str| {
    let _ = ImageUrl::parse(input, &FetchOptions::default());
    let with_files = FetchOptions {
        file_root: Some("/nonexistent-fuzz-root".into()),
        ..FetchOptions::default()
    };
    let _ = ImageUrl::parse(input, &with_files);
});
