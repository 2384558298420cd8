//! The image formats API.md section 6 lists beyond PNG, JPEG, GIF, WebP and BMP, each a fixture
//! made by the format's own encoder (`fixtures/README.md`), through both scan routes: read, a
//! truncated file 1007, and a file declaring a huge image refused from its header (1006). And PDF
//! pages, with `--pdf-pages`: drawn in child processes held to the memory cap and the budget.

use serde_json::{json, Value};

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

/// A fixture's bytes.
fn fixture(name: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::read(root.join(name)).expect("fixture")
}

/// qrscan reading `pages` PDF pages, each drawn by a child of the qrscan binary cargo built (the
/// test binary cannot draw one: it has no `render-pdf-page`), with `extra` flags.
async fn spawn_pdf_app(pages: &str, extra: &[&str]) -> TestApp {
    let mut args = vec![
        "--pdf-pages",
        pages,
        "--pdf-renderer",
        env!("CARGO_BIN_EXE_qrscan"),
    ];
    args.extend_from_slice(extra);
    spawn_app(&args).await
}

#[tokio::test]
async fn pdf_pages_are_read_through_both_routes_each_code_with_its_page() {
    let app = spawn_pdf_app("3", &[]).await;
    // Pillow's three pages: nothing on the first, a code on each of the others.
    let pages = fixture("qr-pages.pdf");
    let url = app.images.put("pages.pdf", pages.clone());
    let by_url = app.scan_url(&url).await;
    let by_upload = app.upload("application/pdf", pages.clone(), None).await;
    let by_multipart = app.upload_multipart("file", &pages).await;
    for answer in [by_url, by_upload, by_multipart] {
        let data = answer.assert_success();
        assert_eq!(data["content"], "https://example.com/pdf-page-2");
        let found: Vec<(&Value, &Value)> = data["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| (&c["page"], &c["content"]))
            .collect();
        assert_eq!(
            found,
            [
                (&json!(2), &json!("https://example.com/pdf-page-2")),
                (&json!(3), &json!("https://example.com/pdf-page-3"))
            ]
        );
    }
    // segno's vector code, on its one page; images carry no page.
    let vector = app
        .upload("application/pdf", fixture("qr-segno.pdf"), None)
        .await;
    assert_eq!(vector.assert_success()["codes"][0]["page"], 1);
    let image = app.upload("image/tiff", fixture("qr-lzw.tif"), None).await;
    assert!(image.assert_success()["codes"][0].get("page").is_none());
    // Fewer pages asked for: the code on page 3 is not read.
    let app = spawn_pdf_app("2", &[]).await;
    let answer = app.upload("application/pdf", pages, None).await;
    assert_eq!(
        answer.assert_success()["codes"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_pdf_is_refused_with_how_to_read_it_unless_pdf_pages_is_set() {
    let app = spawn_app(&[]).await;
    let answer = app
        .upload("application/pdf", fixture("qr-segno.pdf"), None)
        .await;
    answer.assert_failure(200, 1007);
    assert!(answer.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("--pdf-pages")));
}

#[tokio::test]
async fn pdf_limits_hold_per_page_from_the_file_and_from_outside_the_renderer() {
    // Cut short: 1007, not the blank page a lenient renderer would draw.
    let app = spawn_pdf_app("1", &[]).await;
    let segno = fixture("qr-segno.pdf");
    app.upload("application/pdf", segno[..segno.len() / 2].to_vec(), None)
        .await
        .assert_failure(200, 1007);
    // An image declaring 100000 x 100000 pixels: refused from its dictionary, both routes.
    let bomb = fixture("bomb-image-100000x100000.pdf");
    let url = app.images.put("bomb.pdf", bomb.clone());
    app.scan_url(&url).await.assert_failure(200, 1006);
    app.upload("application/pdf", bomb, None)
        .await
        .assert_failure(200, 1006);
    // 1 KB inflating to a 108 MB image, within the pixel limit: the child drawing it is held to
    // the memory cap and dies of it.
    let app = spawn_pdf_app("1", &["--max-decode-memory", "64MiB"]).await;
    let answer = app
        .upload("application/pdf", fixture("bomb-inflate-108mb.pdf"), None)
        .await;
    answer.assert_failure(200, 1006);
    assert!(answer.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("memory")));
    // The same page under the default cap is drawn (and holds no code): the cap, not the file,
    // refused it.
    let app = spawn_pdf_app("1", &[]).await;
    app.upload("application/pdf", fixture("bomb-inflate-108mb.pdf"), None)
        .await
        .assert_failure(200, 1008);
    // Two million squares take about a second to draw: past a 200 ms budget the child is killed.
    let app = spawn_pdf_app("1", &["--decode-budget", "200ms"]).await;
    let answer = app
        .upload("application/pdf", fixture("slow-2e6-squares.pdf"), None)
        .await;
    answer.assert_failure(200, 1006);
    assert!(answer.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("budget")));
}
