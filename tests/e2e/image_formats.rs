//! The image formats API.md section 6 lists beyond PNG, JPEG, GIF, WebP and BMP, each a fixture
//! made by the format's own encoder (`fixtures/README.md`), through both scan routes: read, a
//! truncated file 1007, and a file declaring a huge image refused from its header (1006).

use crate::helpers::*;

/// Each format's fixture, its expected text, and its media type.
fn fixtures() -> Vec<(&'static str, Vec<u8>, String, &'static str)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let read = |name: &str| std::fs::read(root.join(name)).expect("fixture");
    let text = |name: &str| String::from_utf8(read(name)).expect("utf-8");
    vec![
        (
            "qr-lzw.tif",
            read("qr-lzw.tif"),
            text("qr-lzw.txt"),
            "image/tiff",
        ),
        (
            "qr-q80.heic",
            read("qr-q80.heic"),
            text("qr-q80.txt"),
            "image/heic",
        ),
        (
            "qr-alpha.avif",
            read("qr-alpha.avif"),
            text("qr-alpha.txt"),
            "image/avif",
        ),
        (
            "qr-q90.jxl",
            read("qr-q90.jxl"),
            text("qr-q90.txt"),
            "image/jxl",
        ),
        (
            "qr-segno.svg",
            read("qr-segno.svg"),
            text("qr-segno.txt"),
            "image/svg+xml",
        ),
        (
            "qr-rects.svg",
            read("qr-rects.svg"),
            text("qr-rects.txt"),
            "image/svg+xml",
        ),
    ]
}

#[tokio::test]
async fn each_format_reads_through_scan_url_and_the_upload_route() {
    let app = spawn_app(&[]).await;
    for (name, bytes, text, media_type) in fixtures() {
        let url = app.images.put(name, bytes.clone());
        let by_url = app.scan_url(&url).await;
        let by_upload = app.upload(media_type, bytes.clone(), None).await;
        let by_multipart = app.upload_multipart("file", &bytes).await;
        for answer in [by_url, by_upload, by_multipart] {
            assert_eq!(answer.assert_success()["content"], text.as_str(), "{name}");
        }
    }
}

#[tokio::test]
async fn a_truncated_file_of_each_format_is_not_an_image() {
    let app = spawn_app(&[]).await;
    for (_, bytes, _, media_type) in fixtures() {
        let truncated = bytes[..bytes.len() / 2].to_vec();
        app.upload(media_type, truncated, None)
            .await
            .assert_failure(200, 1007);
    }
}

#[tokio::test]
async fn a_file_declaring_a_huge_image_is_refused_from_its_header() {
    let app = spawn_app(&[]).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let bombs = [
        // 118 bytes declaring 100000 x 100000 pixels.
        ("bomb-100000x100000.tif", "image/tiff"),
        // 64 MP of white in 8.9 KB of JPEG XL, by libjxl.
        ("bomb-8000x8000.jxl", "image/jxl"),
        // Real HEIC and AVIF files whose container declares 60000 x 60000.
        ("bomb-ispe-60000.heic", "image/heic"),
        ("bomb-ispe-60000.avif", "image/avif"),
        // An SVG declares no pixels (it is rendered at a size of ours); its bomb is a `<use>`
        // tree, 2 KB standing for a billion rectangles.
        ("bomb-use-1e9.svg", "image/svg+xml"),
    ];
    for (name, media_type) in bombs {
        let bomb = std::fs::read(root.join(name)).expect("fixture");
        let url = app.images.put(name, bomb.clone());
        app.scan_url(&url).await.assert_failure(200, 1006);
        app.upload(media_type, bomb, None)
            .await
            .assert_failure(200, 1006);
    }
}
