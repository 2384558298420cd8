//! SVG, what QR generators hand out: rendered by resvg onto white at a size of our choosing, then
//! turned grey. Nothing the SVG references is loaded (no files, no URLs, no embedded images, no
//! fonts), and what its `<use>` elements would expand to is counted before usvg expands them: a
//! few kilobytes of nested `<use>` can otherwise stand for billions of shapes.
//!
//! The size is ours, not the file's: the long side is rendered at `LONG_SIDE` pixels (a version
//! 40 symbol filling it gets 11 pixels a module), so a file declaring a huge canvas costs no more
//! than any other; the pixel, shape and memory limits then apply to that size as to any image's.

use image::GrayImage;
use resvg::tiny_skia::{Color, Pixmap, Transform};
use resvg::usvg::{self, ImageHrefResolver, Options};

use super::check_header;
use super::pixel::luma;
use crate::error::DecodeError;
use crate::options::DecodeOptions;

/// The long side of the rendering, in pixels.
const LONG_SIDE: f32 = 2048.0;

/// Most elements an SVG may stand for once every `<use>` is expanded. A version 40 QR symbol
/// drawn one `<rect>` a dark module is about 16,000; path-based generators draw one element.
const MAX_EXPANDED_ELEMENTS: u64 = 200_000;

/// Largest SVG source accepted: a QR generator's largest output, one `<rect>` per module of a
/// version 40 symbol, is about 1.3 MB.
const MAX_SOURCE_BYTES: usize = 4 << 20;

/// Bytes held per pixel of the rendering: the RGBA pixmap and the grey image.
const BYTES_PER_PIXEL: u64 = 5;

/// Whether `bytes` are an SVG document: XML whose root element is `svg`. Cheap enough to ask of
/// any bytes that start like XML.
pub(super) fn is_svg(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_none_or(|i| text[i] != b'<') {
        return false;
    }
    // The root element's name, past the XML declaration, comments and a DOCTYPE, is within the
    // first few kilobytes of any real SVG.
    let head = &text[..text.len().min(4096)];
    head.windows(4).any(|w| w == b"<svg") && !contains_ignoring_case(head, b"<html")
}

fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Renders the SVG in `bytes` and returns it grey, under the limits of `options`.
pub(super) fn load(bytes: &[u8], options: &DecodeOptions) -> Result<GrayImage, DecodeError> {
    let not_svg = |why: String| DecodeError::NotAnImage(format!("SVG: {why}"));
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(not_svg(format!("over {MAX_SOURCE_BYTES} bytes of source")));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| not_svg("not UTF-8".into()))?;
    let parsing = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(text, parsing)
        .map_err(|e| not_svg(e.to_string()))?;
    if document.root_element().tag_name().name() != "svg" {
        return Err(not_svg("the root element is not <svg>".into()));
    }
    match expanded_elements(&document) {
        Expansion::Within(_) => {}
        Expansion::TooMany => {
            return Err(DecodeError::TooComplex {
                limit: MAX_EXPANDED_ELEMENTS,
            })
        }
        Expansion::Cycle => return Err(not_svg("a <use> element refers to itself".into())),
    }

    let usvg_options = Options {
        resources_dir: None,
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(|_, _, _| None),
            resolve_string: Box::new(|_, _| None),
        },
        ..Options::default()
    };
    let tree =
        usvg::Tree::from_xmltree(&document, &usvg_options).map_err(|e| not_svg(e.to_string()))?;
    let size = tree.size();
    let scale = LONG_SIDE / size.width().max(size.height());
    let width = (size.width() * scale).round() as u32;
    let height = (size.height() * scale).round() as u32;
    check_header(width, height, options.max_pixels)?;
    let pixels = u64::from(width) * u64::from(height);
    options.memory_for(width, height, pixels * BYTES_PER_PIXEL)?;

    let mut pixmap = Pixmap::new(width, height)
        .ok_or_else(|| not_svg(format!("cannot render at {width}x{height}")))?;
    pixmap.fill(Color::WHITE);
    resvg::render(
        &tree,
        Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    // Drawn over opaque white: every pixel is opaque, so its premultiplied colour is its own.
    let grey = pixmap
        .data()
        .chunks_exact(4)
        .map(|p| luma(p[0], p[1], p[2]) as u8)
        .collect();
    GrayImage::from_raw(width, height, grey).ok_or_else(|| not_svg("rendering size".into()))
}

/// What a document's `<use>` elements expand to.
#[derive(Debug, PartialEq)]
enum Expansion {
    /// This many elements, at most `MAX_EXPANDED_ELEMENTS`.
    Within(u64),
    /// More than `MAX_EXPANDED_ELEMENTS`.
    TooMany,
    /// A `<use>` refers, directly or not, to itself.
    Cycle,
}

/// How many elements the document stands for once every `<use>` is replaced by what it refers
/// to.
fn expanded_elements(document: &roxmltree::Document) -> Expansion {
    let by_id: std::collections::HashMap<&str, roxmltree::Node> = document
        .descendants()
        .filter_map(|n| n.attribute("id").map(|id| (id, n)))
        .collect();
    let mut memo = std::collections::HashMap::new();
    let mut visiting = std::collections::HashSet::new();
    match weight(document.root_element(), &by_id, &mut memo, &mut visiting) {
        Ok(total) => Expansion::Within(total),
        Err(expansion) => expansion,
    }
}

/// The elements `node` stands for, itself included (see `expanded_elements`).
fn weight<'a>(
    node: roxmltree::Node<'a, 'a>,
    by_id: &std::collections::HashMap<&'a str, roxmltree::Node<'a, 'a>>,
    memo: &mut std::collections::HashMap<roxmltree::NodeId, u64>,
    visiting: &mut std::collections::HashSet<roxmltree::NodeId>,
) -> Result<u64, Expansion> {
    if let Some(&known) = memo.get(&node.id()) {
        return Ok(known);
    }
    if !visiting.insert(node.id()) {
        return Err(Expansion::Cycle);
    }
    let mut total: u64 = 1;
    for child in node.children().filter(|c| c.is_element()) {
        total += weight(child, by_id, memo, visiting)?;
        if total > MAX_EXPANDED_ELEMENTS {
            return Err(Expansion::TooMany);
        }
    }
    if node.tag_name().name() == "use" {
        let href = node
            .attributes()
            .find(|a| a.name() == "href")
            .map(|a| a.value());
        if let Some(target) = href
            .and_then(|h| h.strip_prefix('#'))
            .and_then(|id| by_id.get(id))
        {
            total += weight(*target, by_id, memo, visiting)?;
        }
    }
    visiting.remove(&node.id());
    if total > MAX_EXPANDED_ELEMENTS {
        return Err(Expansion::TooMany);
    }
    memo.insert(node.id(), total);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    const SEGNO: &[u8] = include_bytes!("../../../../fixtures/qr-segno.svg");
    const RECTS: &[u8] = include_bytes!("../../../../fixtures/qr-rects.svg");

    /// Nine levels of ten `<use>` each: 2 KB standing for a billion rectangles.
    const BOMB: &[u8] = include_bytes!("../../../../fixtures/bomb-use-1e9.svg");

    #[test]
    fn svgs_from_two_generators_are_read() {
        for (bytes, text) in [
            (SEGNO, include_str!("../../../../fixtures/qr-segno.txt")),
            (RECTS, include_str!("../../../../fixtures/qr-rects.txt")),
        ] {
            assert!(is_svg(bytes));
            let codes = decode(bytes, &DecodeOptions::default()).unwrap();
            assert_eq!(codes[0].content.text, text);
        }
    }

    #[test]
    fn a_use_bomb_is_refused_before_it_is_expanded() {
        // Two levels of ten: the svg, the defs holding the rect (1) and the two groups (1 + 10
        // uses of the rect: 21; 1 + 10 uses of that: 221), and the use of the top one (1 + 221).
        let two = r##"<svg xmlns="http://www.w3.org/2000/svg"><defs><rect id="r"/>
            <g id="a"><use href="#r"/><use href="#r"/><use href="#r"/><use href="#r"/><use href="#r"/>
            <use href="#r"/><use href="#r"/><use href="#r"/><use href="#r"/><use href="#r"/></g>
            <g id="b"><use href="#a"/><use href="#a"/><use href="#a"/><use href="#a"/><use href="#a"/>
            <use href="#a"/><use href="#a"/><use href="#a"/><use href="#a"/><use href="#a"/></g>
            </defs><use href="#b"/></svg>"##;
        assert_eq!(
            expanded_elements(&roxmltree::Document::parse(two).unwrap()),
            Expansion::Within(1 + (1 + 1 + 21 + 221) + (1 + 221))
        );
        assert!(BOMB.len() < 4096);
        let started = std::time::Instant::now();
        let refused = load(BOMB, &DecodeOptions::default());
        assert_eq!(
            refused,
            Err(DecodeError::TooComplex {
                limit: MAX_EXPANDED_ELEMENTS
            })
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let cycle =
            r##"<svg xmlns="http://www.w3.org/2000/svg"><g id="a"><use href="#a"/></g></svg>"##;
        assert!(matches!(
            load(cycle.as_bytes(), &DecodeOptions::default()),
            Err(DecodeError::NotAnImage(_))
        ));
    }

    #[test]
    fn a_declared_size_does_not_decide_the_rendering() {
        // Declared a billion pixels a side: rendered at LONG_SIDE all the same.
        let huge = String::from_utf8(SEGNO.to_vec()).unwrap().replacen(
            r#"width="33" height="33""#,
            r#"width="1000000000" height="1000000000" viewBox="0 0 33 33""#,
            1,
        );
        let grey = load(huge.as_bytes(), &DecodeOptions::default()).unwrap();
        assert_eq!(grey.dimensions(), (LONG_SIDE as u32, LONG_SIDE as u32));
        // The limits apply to the rendering.
        let small = DecodeOptions {
            max_pixels: 1_000_000,
            ..DecodeOptions::default()
        };
        assert!(matches!(
            load(SEGNO, &small),
            Err(DecodeError::TooManyPixels { .. })
        ));
    }

    #[test]
    fn nothing_an_svg_references_is_loaded() {
        // A QR code as a PNG file on disk and as a data URL: an SVG showing either shows nothing.
        let png =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rmqr-r13x43.png");
        let data = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&png).unwrap())
        };
        for href in [
            png.display().to_string(),
            format!("data:image/png;base64,{data}"),
        ] {
            let svg = format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="188" height="68"><image href="{href}" width="188" height="68"/></svg>"#
            );
            assert_eq!(
                decode(svg.as_bytes(), &DecodeOptions::default()),
                Err(DecodeError::NoCode)
            );
        }
    }

    #[test]
    fn html_truncated_and_foreign_xml_are_not_svg_images() {
        let page = b"<!DOCTYPE html><html><body><svg width='10' height='10'></svg></body></html>";
        assert!(!is_svg(page));
        assert!(matches!(
            decode(page, &DecodeOptions::default()),
            Err(DecodeError::NotAnImage(_))
        ));
        let truncated = &SEGNO[..SEGNO.len() / 2];
        assert!(matches!(
            decode(truncated, &DecodeOptions::default()),
            Err(DecodeError::NotAnImage(_))
        ));
        let foreign = b"<?xml version='1.0'?><feed><svg/></feed>";
        assert!(matches!(
            decode(foreign, &DecodeOptions::default()),
            Err(DecodeError::NotAnImage(_))
        ));
    }
}
