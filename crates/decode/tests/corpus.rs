//! The decoder against real-world images: the zxing-cpp black-box corpus in
//! `../shared/corpus/zxing-cpp` (photos, screenshots and scans from that project's bug reports).
//! A ratchet: the number of images read byte-exactly may only go up, and no image without a
//! code may ever yield one. Skipped, with a message, where the corpus is not checked out (a failure under `CI=true`).
//! `cargo run --release -p qrscan-decode --example corpus` gives the full table, per rotation and with timings.

use std::path::{Path, PathBuf};

use qrscan_decode::{self as decode, DecodeOptions};

/// Images of `qrcode-1` .. `qrcode-6` read byte-exactly at 0 degrees when this test was last
/// raised (137 of 137; zxing-cpp 3.1.1 reads 123 on this machine).
const CORRECT_AT_LEAST: usize = 137;

mod common;

fn corpus() -> Option<PathBuf> {
    common::corpus("zxing-cpp")
}

/// The images of the folders whose name starts with `prefix`, each with its expected bytes
/// (`None` in the false-positive folders, which hold no code).
fn images(root: &Path, prefix: &str) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            // qrcode-7 is one message over four images, checked on its own below.
            name.starts_with(prefix) && name != "qrcode-7"
        })
        .collect();
    folders.sort();
    for folder in folders {
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("png" | "jpg" | "webp")
                )
            })
            .collect();
        files.sort();
        for file in files {
            let expected = std::fs::read(file.with_extension("txt")).ok();
            if prefix == "qrcode" && expected.is_none() {
                continue;
            }
            out.push((file, expected));
        }
    }
    out
}

fn read(path: &Path) -> Vec<decode::QrCode> {
    let bytes = std::fs::read(path).unwrap();
    decode::decode(&bytes, &DecodeOptions::default()).unwrap_or_default()
}

#[test]
fn the_corpus_images_with_one_code_are_read_at_least_as_well_as_before() {
    let Some(root) = corpus() else {
        return;
    };
    let images = images(&root, "qrcode");
    let mut misses = Vec::new();
    for (path, expected) in &images {
        let expected = expected.as_deref().unwrap_or_default();
        let codes = read(path);
        if !codes.iter().any(|c| c.content.text.as_bytes() == expected) {
            misses.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    let correct = images.len() - misses.len();
    assert!(
        correct >= CORRECT_AT_LEAST,
        "{correct}/{} read, expected at least {CORRECT_AT_LEAST}; not read: {misses:?}",
        images.len()
    );
}

#[test]
fn no_code_is_found_in_the_corpus_images_without_one() {
    let Some(root) = corpus() else {
        return;
    };
    let images = images(&root, "falsepositives");
    assert!(!images.is_empty());
    for (path, _) in images {
        let codes = read(&path);
        assert!(codes.is_empty(), "{}: {codes:?}", path.display());
    }
}

#[test]
fn a_structured_append_set_over_four_images_is_joined_in_order() {
    let Some(root) = corpus() else {
        return;
    };
    let folder = root.join("qrcode-7");
    let expected = std::fs::read_to_string(folder.join("01.txt")).unwrap();
    let parts: Vec<_> = (1..=4)
        .flat_map(|i| read(&folder.join(format!("01-0{i}.png"))))
        .collect();

    let joined = decode::join_structured_append(&parts).expect("a complete set");

    assert_eq!(joined.content.text, expected);
    assert_eq!(joined.content.structured_append, None);
}
