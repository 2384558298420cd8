//! Structured append: one message split over up to 16 symbols, each carrying its index, the
//! count and a parity byte shared by the whole set. A complete set is joined back into one
//! message, in index order, whether its symbols came from one image or from several.

use crate::code::QrCode;
use crate::text::{self, Content};

/// Joins the first complete structured-append set among `codes` into one code: the parts'
/// payloads in index order, read with the charset rules over the whole message (a multi-byte
/// character may straddle two symbols). `None` when no set is complete. The joined code takes
/// the version and EC level of part 0 and the bounding box of all parts; parts found twice
/// (two strategies, two images) count once.
pub fn join_structured_append(codes: &[QrCode]) -> Option<QrCode> {
    let headed: Vec<_> = codes
        .iter()
        .filter_map(|c| c.content.structured_append.map(|h| (h, c)))
        .collect();
    for &(first, _) in &headed {
        let mut parts: Vec<Option<&QrCode>> = vec![None; usize::from(first.count)];
        for &(header, code) in &headed {
            let same_set = header.parity == first.parity && header.count == first.count;
            if let (true, Some(slot)) = (same_set, parts.get_mut(usize::from(header.index))) {
                slot.get_or_insert(code);
            }
        }
        let parts: Option<Vec<&QrCode>> = parts.into_iter().collect();
        if let Some(parts) = parts {
            return Some(join(&parts));
        }
    }
    None
}

fn join(parts: &[&QrCode]) -> QrCode {
    let content = rejoin_bytes(parts).unwrap_or_else(|| Content {
        text: parts.iter().map(|p| p.content.text.as_str()).collect(),
        encoding: parts[0].content.encoding,
        binary: None,
        structured_append: None,
    });
    let corners = parts.iter().flat_map(|p| p.points);
    let (mut min, mut max) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for [x, y] in corners {
        min = [min[0].min(x), min[1].min(y)];
        max = [max[0].max(x), max[1].max(y)];
    }
    QrCode {
        content,
        format: parts[0].format,
        version: parts[0].version,
        ec_level: parts[0].ec_level,
        points: [
            [min[0], min[1]],
            [max[0], min[1]],
            [max[0], max[1]],
            [min[0], max[1]],
        ],
        strategy: parts[0].strategy,
        page: parts[0].page,
        correction: parts
            .iter()
            .fold(Default::default(), |sum, part| sum.plus(part.correction)),
    }
}

/// Recovers each part's payload bytes (its binary payload, or its text encoded back in the
/// charset it was read with) and reads their concatenation as one byte segment, so the charset
/// rules of `text` see the whole message. `None` when a part's text does not round-trip.
fn rejoin_bytes(parts: &[&QrCode]) -> Option<Content> {
    let mut bytes = Vec::new();
    for part in parts {
        let content = &part.content;
        if let Some(binary) = &content.binary {
            bytes.extend_from_slice(binary);
            continue;
        }
        if content.encoding == "ISO-8859-1" {
            for c in content.text.chars() {
                bytes.push(u8::try_from(u32::from(c)).ok()?);
            }
            continue;
        }
        let encoding = encoding_rs::Encoding::for_label(content.encoding.as_bytes())?;
        let (encoded, _, lossy) = encoding.encode(&content.text);
        if lossy {
            return None;
        }
        bytes.extend_from_slice(&encoded);
    }
    // A byte segment of a version 40 symbol (16-bit count) holding the whole message.
    let count = u16::try_from(bytes.len()).ok()?;
    let mut stream = vec![
        0x40 | (count >> 12) as u8,
        (count >> 4) as u8,
        (count << 4) as u8,
    ];
    for byte in bytes {
        let last = stream.len() - 1;
        stream[last] |= byte >> 4;
        stream.push(byte << 4);
    }
    text::decode_segments(&stream, 40).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::StructuredAppend;
    use crate::EcLevel;

    fn part(text: &str, index: u8, count: u8, parity: u8) -> QrCode {
        QrCode {
            content: Content {
                text: text.into(),
                encoding: "UTF-8",
                binary: None,
                structured_append: Some(StructuredAppend {
                    index,
                    count,
                    parity,
                }),
            },
            format: crate::Format::QRCode,
            version: 2,
            ec_level: EcLevel::M,
            points: [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
            strategy: crate::PLAN[0].strategy,
            correction: Default::default(),
            page: None,
        }
    }

    #[test]
    fn a_complete_set_is_joined_in_index_order() {
        let codes = [part("c", 2, 3, 7), part("a", 0, 3, 7), part("b", 1, 3, 7)];
        let joined = join_structured_append(&codes).unwrap();
        assert_eq!(joined.content.text, "abc");
        assert_eq!(joined.content.structured_append, None);
    }

    #[test]
    fn an_incomplete_set_or_a_set_with_another_parity_is_not_joined() {
        assert_eq!(join_structured_append(&[part("a", 0, 2, 7)]), None);
        assert_eq!(
            join_structured_append(&[part("a", 0, 2, 7), part("b", 1, 2, 8)]),
            None
        );
    }

    #[test]
    fn a_character_split_between_two_symbols_is_rejoined() {
        // "é" is C3 A9 in UTF-8; each half alone is not UTF-8 and was read as ISO-8859-1.
        let mut first = part("x\u{c3}", 0, 2, 1);
        let mut second = part("\u{a9}y", 1, 2, 1);
        first.content.encoding = "ISO-8859-1";
        second.content.encoding = "ISO-8859-1";
        let joined = join_structured_append(&[first, second]).unwrap();
        assert_eq!(joined.content.text, "xéy");
    }
}
