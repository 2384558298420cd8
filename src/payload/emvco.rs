//! EMVCo merchant-presented mode (EMV QRCPS-MPM): the payment strings of PIX, PromptPay, UPI,
//! DuitNow, SGQR, NETS and other national schemes. A string of data objects, each a two-digit
//! ID, a two-digit length (in characters) and the value; the templates (26-51 merchant
//! account information, 62 additional data, 64 language template, 80-99 unreserved) hold data
//! objects in turn. It opens with `000201` (payload format indicator 01) and ends with ID 63,
//! a CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection) over everything
//! before its four hex digits, `6304` included.
//!
//! A payload whose CRC does not match is still returned, with `crc.valid: false`: a client
//! deciding whether to pay must see that, not a plain-text fallback. A string that opens like
//! one but whose data objects do not parse has no payload.

use serde::Serialize;

/// A parsed EMVCo payment string.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Emvco {
    /// The CRC as written and as computed.
    pub crc: Crc,
    /// The data objects, in order; templates with their own.
    pub fields: Vec<TlvField>,
}

/// The checksum of data object 63.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Crc {
    /// The four hex digits of data object 63; absent when the string has none.
    pub found: Option<String>,
    /// CRC-16/CCITT-FALSE over the string up to and including `6304`, upper-case hex.
    pub computed: String,
    /// Whether `found` equals `computed` (hex digits in either case).
    pub valid: bool,
}

/// One data object.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TlvField {
    /// The two-digit ID.
    pub id: String,
    /// What EMVCo names it, at the top level; absent for scheme-specific IDs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    /// The value, for a primitive data object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The data objects inside, for a template.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub fields: Option<Vec<TlvField>>,
}

/// EMVCo's names of the top-level data objects (EMV QRCPS-MPM v1.1, table 3.7).
fn name(id: u8) -> Option<&'static str> {
    Some(match id {
        0 => "payload_format_indicator",
        1 => "point_of_initiation_method",
        2..=25 => "merchant_account_information",
        26..=51 => "merchant_account_information_template",
        52 => "merchant_category_code",
        53 => "transaction_currency",
        54 => "transaction_amount",
        55 => "tip_or_convenience_indicator",
        56 => "convenience_fee_fixed",
        57 => "convenience_fee_percentage",
        58 => "country_code",
        59 => "merchant_name",
        60 => "merchant_city",
        61 => "postal_code",
        62 => "additional_data_field_template",
        63 => "crc",
        64 => "merchant_information_language_template",
        65..=79 => "rfu_for_emvco",
        80..=99 => "unreserved_template",
        _ => return None,
    })
}

fn is_template(id: u8) -> bool {
    matches!(id, 26..=51 | 62 | 64 | 80..=99)
}

/// CRC-16/CCITT-FALSE (the catalogue's CRC-16/IBM-3740): check value 0x29B1 for "123456789".
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xffff, |crc, &byte| {
        (0..8).fold(crc ^ (u16::from(byte) << 8), |crc, _| {
            if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            }
        })
    })
}

/// The data objects of `text`, in order: (ID, value, where the object starts in `text`).
fn objects(text: &str) -> Option<Vec<(u8, &str, usize)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let start = text.len() - rest.len();
        let head = rest.get(..4)?;
        if !head.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: u8 = head[..2].parse().ok()?;
        let length: usize = head[2..].parse().ok()?;
        let body = &rest[4..];
        // The length counts characters, not bytes: a merchant name in Thai or Chinese.
        let end = body
            .char_indices()
            .nth(length)
            .map_or(body.len(), |(at, _)| at);
        if body[..end].chars().count() != length {
            return None;
        }
        out.push((id, &body[..end], start));
        rest = &body[end..];
    }
    Some(out)
}

fn tree(text: &str, top: bool) -> Option<Vec<TlvField>> {
    let objects = objects(text)?;
    Some(
        objects
            .into_iter()
            .map(|(id, value, _)| {
                let inner = (top && is_template(id))
                    .then(|| tree(value, false))
                    .flatten()
                    .filter(|fields| !fields.is_empty());
                TlvField {
                    id: format!("{id:02}"),
                    name: if top { name(id) } else { None },
                    value: inner.is_none().then(|| value.to_owned()),
                    fields: inner,
                }
            })
            .collect(),
    )
}

/// An EMVCo payment string, if `text` is one.
pub fn parse(text: &str) -> Option<Emvco> {
    if !text.starts_with("000201") {
        return None;
    }
    let objects = objects(text)?;
    let crc_object = objects
        .iter()
        .find(|(id, value, _)| *id == 63 && value.len() == 4);
    let (found, covered) = match crc_object {
        Some(&(_, value, start)) => (Some(value.to_owned()), &text[..start + 4]),
        None => (None, text),
    };
    let computed = format!("{:04X}", crc16(covered.as_bytes()));
    let valid = found
        .as_deref()
        .is_some_and(|found| found.eq_ignore_ascii_case(&computed));
    Some(Emvco {
        crc: Crc {
            found,
            computed,
            valid,
        },
        fields: tree(text, true)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EMVCo's own example (QRCPS-MPM v1.1, appendix A), with its CRC.
    const SAMPLE: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";

    #[test]
    fn the_crc_is_ccitt_false() {
        assert_eq!(crc16(b"123456789"), 0x29b1);
    }

    #[test]
    fn emvcos_example_parses_into_its_tree_with_a_valid_crc() {
        let parsed = parse(SAMPLE).expect("parses");
        assert_eq!(parsed.crc.found.as_deref(), Some("A13A"));
        assert!(parsed.crc.valid, "{:?}", parsed.crc);
        let field = |id: &str| parsed.fields.iter().find(|f| f.id == id).unwrap();
        assert_eq!(field("59").value.as_deref(), Some("BEST TRANSPORT"));
        assert_eq!(field("59").name, Some("merchant_name"));
        let language = field("64").fields.as_ref().expect("a template");
        assert_eq!(language[1].value.as_deref(), Some("最佳运输"));
        assert_eq!(language[1].name, None);
        let account = field("29").fields.as_ref().expect("a template");
        assert_eq!(account[0].id, "00");
        assert_eq!(account[0].value.as_deref(), Some("D15600000000"));
    }

    /// A string and CRC published by another implementation (phannaly/emv-qr-code's README).
    #[test]
    fn a_crc_computed_elsewhere_checks_here() {
        let text = "00020101021252044131153137210116372101160123456789ABCDE6010Phnom Penh\
                    5913Merchant Shop5802KH540510.005303840622501081234567802090124444446304A0BA";
        let parsed = parse(text).unwrap();
        assert!(parsed.crc.valid, "{:?}", parsed.crc);
        let additional = &parsed.fields.iter().find(|f| f.id == "62").unwrap();
        assert_eq!(additional.fields.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn a_wrong_crc_is_reported_not_hidden() {
        let tampered = SAMPLE.replace("540523.72", "540599.72");
        let parsed = parse(&tampered).expect("still an EMVCo string");
        assert!(!parsed.crc.valid);
        assert_eq!(parsed.crc.found.as_deref(), Some("A13A"));
        assert_ne!(parsed.crc.computed, "A13A");
        let value = serde_json::to_value(parsed).unwrap();
        assert_eq!(value["crc"]["valid"], false);
    }

    #[test]
    fn strings_that_only_look_like_one_have_no_payload() {
        assert!(parse("000201010211530315").is_none(), "length past the end");
        assert!(parse("00020X").is_none());
        assert!(parse("hello").is_none());
    }
}
