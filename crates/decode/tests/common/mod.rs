//! What the decoder's corpus tests share: where the corpora are, and what happens when one is
//! not there.

// Not every test binary uses every helper.
#[allow(dead_code)]
pub mod boofcv;

use std::path::PathBuf;

/// `../shared/corpus/NAME` beside the repository. Missing, a test returns early with a message
/// on a developer's machine, but fails under `CI=true`: a ratchet that passes because its
/// corpus was not checked out would hide every regression.
pub fn corpus(name: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    if root.is_dir() {
        return Some(root);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "{} is missing: the corpus tests cannot run, and CI=true does not let them pass unrun",
        root.display()
    );
    eprintln!("skipped: no corpus at {}", root.display());
    None
}
