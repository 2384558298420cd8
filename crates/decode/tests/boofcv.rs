//! The decoder against the half of BoofCV's QR detection benchmark in `../shared/corpus/boofcv`
//! (271 photos, 651 labelled codes, 16 categories). A ratchet: the codes read, pooled over the
//! categories, may only go up. Skipped, with a message, where the corpus is not checked out (a failure under `CI=true`).
//! `cargo run --release -p qrscan-decode --example boofcv` prints the table per category, and
//! `benches/boofcv.sh` the same beside zxing-cpp, with times.

use std::time::Duration;

use qrscan_decode::{self as decode, DecodeOptions};

mod common;

use common::boofcv;

/// Labelled codes read when this test was last raised (zxing-cpp 3.1.1 reads 523 on this
/// machine, in the same scorer). Lowered once, 546 to 545, on purpose: decoding JPEGs to their
/// Y plane cut their memory from 3 to 1.4 bytes a pixel and lost one photo's code to Rec. 601's
/// grey (benches/README.md); then 554 with symbols sampled again, their fourth corner moved;
/// then 562 with symbols that lost a finder pattern completed from the other two; then 573
/// with steeply tilted symbols squashed back to square and defocused ones sharpened; then 577
/// with modules read by the majority of nine points and a sharpened half view; then 579 with
/// the sharpened crops read under one global threshold too; then 582 with the modules of
/// blurred symbols read from the grey pixels, the blur undone (`grey_grid`), and 584 with that
/// on the resamplings too (`detect::Grey::resampled`); then 588 with symbols sampled along
/// their own module edges (`sample::follow`), and 591 with that on the resamplings too.
const READ_AT_LEAST: usize = 591;

#[test]
fn the_boofcv_half_reads_at_least_as_many_codes_as_when_last_raised() {
    let Some(root) = common::corpus("boofcv") else {
        return;
    };
    let images = boofcv::load(&root).unwrap();
    assert_eq!(images.len(), 271, "the shared half has 271 labelled photos");
    // A budget no image reaches: the ratchet is about what the decoder can read, not about how
    // busy the machine running the tests is (the default budget is measured in benches/).
    let options = DecodeOptions {
        budget: Duration::from_secs(30),
        ..DecodeOptions::default()
    };
    let reads = boofcv::score(&images, |bytes| {
        decode::decode(bytes, &options).unwrap_or_default()
    });
    let read: usize = reads.iter().sum();
    assert!(
        read >= READ_AT_LEAST,
        "read {read} codes, the ratchet is {READ_AT_LEAST}"
    );
}

#[test]
fn overlap_is_one_for_the_same_quadrilateral_and_zero_for_disjoint_ones() {
    let square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
    let mut reversed = square;
    reversed.reverse();
    assert!((boofcv::iou(&square, &reversed) - 1.0).abs() < 1e-9);
    let half = [[5.0, 0.0], [15.0, 0.0], [15.0, 10.0], [5.0, 10.0]];
    assert!((boofcv::iou(&square, &half) - 1.0 / 3.0).abs() < 1e-9);
    let far = [[20.0, 0.0], [30.0, 0.0], [30.0, 10.0], [20.0, 10.0]];
    assert_eq!(boofcv::iou(&square, &far), 0.0);
}
