//! What a code's text holds (API.md sections 2 and 8): its `content_type`, DeepScan's eight
//! classes read from the text's prefix, and its `payload`, the text parsed when it is a
//! structure phones act on: Wi-Fi credentials, a contact (vCard, MECARD), an e-mail (`mailto:`,
//! MATMSG), an SMS, a telephone number, a place (`geo:`) or an EMVCo merchant-presented payment
//! string. Pure: text in, data out; nothing here sees an image, the network or HTTP.
//!
//! The small grammars (Wi-Fi, MECARD, MATMSG, `sms:`, `tel:`, `geo:`, `mailto:`) are parsed
//! here; vCard goes through `vcard-rs` (`contact.rs`), EMVCo's TLV tree and CRC are
//! `emvco.rs`. A text that looks like a structure but does not parse has no payload: the
//! `content` is always there to fall back on.

mod contact;
mod emvco;
mod fields;

use serde::Serialize;

pub use self::contact::{Contact, Entry};
pub use self::emvco::{Crc, Emvco, TlvField};
use self::fields::{field, fields};

/// DeepScan's classification of a code's text by its prefix, compared case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// `http://`, `https://`
    Url,
    /// `WIFI:`
    Wifi,
    /// `BEGIN:VCARD`
    Vcard,
    /// `mailto:`
    Email,
    /// `tel:`
    Phone,
    /// `sms:`, `smsto:`
    Sms,
    /// `geo:`
    Geo,
    /// Anything else.
    Text,
}

impl ContentType {
    /// The rows of API.md section 8, first match wins.
    const PREFIXES: &'static [(&'static str, ContentType)] = &[
        ("http://", ContentType::Url),
        ("https://", ContentType::Url),
        ("wifi:", ContentType::Wifi),
        ("begin:vcard", ContentType::Vcard),
        ("mailto:", ContentType::Email),
        ("tel:", ContentType::Phone),
        ("sms:", ContentType::Sms),
        ("smsto:", ContentType::Sms),
        ("geo:", ContentType::Geo),
    ];

    /// The class of `text`.
    pub fn of(text: &str) -> Self {
        Self::PREFIXES
            .iter()
            .find(|(prefix, _)| starts_with_ignore_case(text, prefix))
            .map_or(ContentType::Text, |&(_, class)| class)
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `text` after `prefix` (ASCII, any case), if it starts with it.
fn after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    // `prefix` is ASCII, so its length is a character boundary of any text it matches.
    starts_with_ignore_case(text, prefix).then(|| &text[prefix.len()..])
}

/// The parsed text of a code, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Payload {
    /// `WIFI:T:WPA;S:<ssid>;P:<password>;H:true;;`
    Wifi(Wifi),
    /// `BEGIN:VCARD` ... `END:VCARD` (versions 2.1, 3.0 and 4.0)
    Vcard(Contact),
    /// `MECARD:N:<name>;TEL:...;EMAIL:...;;`
    Mecard(Contact),
    /// `mailto:` (RFC 6068) or `MATMSG:TO:...;SUB:...;BODY:...;;`
    Email(Email),
    /// `sms:<number>?body=...` (RFC 5724) or `SMSTO:<number>:<body>`
    Sms(Sms),
    /// `tel:<number>` (RFC 3966)
    Phone(Phone),
    /// `geo:<latitude>,<longitude>[,<altitude>][?q=...]` (RFC 5870)
    Geo(Geo),
    /// An EMVCo merchant-presented mode payment string: `000201...6304XXXX`
    Emvco(Emvco),
}

/// Wi-Fi network credentials.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Wifi {
    pub ssid: String,
    /// `WPA`, `WEP`, `nopass`, ... as written; absent when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The network does not broadcast its SSID (`H:true`).
    pub hidden: bool,
}

/// An e-mail to write.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Email {
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A text message to send.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sms {
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A number to call.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Phone {
    pub number: String,
}

/// A place, in WGS-84 degrees (and metres).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Geo {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    /// The `q=` search a map app shows (Android's extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The structure `text` holds, if it is one of the recognised kinds and parses.
pub fn parse(text: &str) -> Option<Payload> {
    if let Some(rest) = after(text, "WIFI:") {
        return wifi(rest).map(Payload::Wifi);
    }
    if starts_with_ignore_case(text, "BEGIN:VCARD") {
        // A third-party parser on text anyone can print: a panic in it is no payload, never a
        // failed request (as with the decoders, `decode/mod.rs`).
        let card = std::panic::catch_unwind(|| contact::vcard(text));
        return card.ok().flatten().map(Payload::Vcard);
    }
    if let Some(rest) = after(text, "MECARD:") {
        return contact::mecard(rest).map(Payload::Mecard);
    }
    if let Some(rest) = after(text, "mailto:") {
        return mailto(rest).map(Payload::Email);
    }
    if let Some(rest) = after(text, "MATMSG:") {
        return matmsg(rest).map(Payload::Email);
    }
    if let Some(rest) = after(text, "smsto:").or_else(|| after(text, "sms:")) {
        return sms(rest).map(Payload::Sms);
    }
    if let Some(rest) = after(text, "tel:") {
        let number = percent_decoded(rest.trim());
        return (!number.is_empty()).then_some(Payload::Phone(Phone { number }));
    }
    if let Some(rest) = after(text, "geo:") {
        return geo(rest).map(Payload::Geo);
    }
    emvco::parse(text).map(Payload::Emvco)
}

fn wifi(rest: &str) -> Option<Wifi> {
    let fields = fields(rest);
    let ssid = field(&fields, "S")?.to_owned();
    let hidden = field(&fields, "H").is_some_and(|h| h.eq_ignore_ascii_case("true") || h == "1");
    Some(Wifi {
        ssid,
        security: field(&fields, "T").map(str::to_owned),
        password: field(&fields, "P").map(str::to_owned),
        hidden,
    })
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Addresses separated by commas, each percent-decoded; empty ones dropped.
fn addresses(list: &str) -> Vec<String> {
    list.split(',')
        .map(|a| percent_decoded(a.trim()))
        .filter(|a| !a.is_empty())
        .collect()
}

/// The `name=value` pairs of a URI query, percent-decoded (`+` stays a plus, as RFC 6068 and
/// RFC 5724 have it), names lower-cased.
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        Some((
            percent_decoded(name).to_ascii_lowercase(),
            percent_decoded(value),
        ))
    })
}

fn mailto(rest: &str) -> Option<Email> {
    let (to, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut email = Email {
        to: addresses(to),
        ..Email::default()
    };
    for (name, value) in query_pairs(query) {
        match name.as_str() {
            "to" => email.to.extend(addresses(&value)),
            "cc" => email.cc.extend(addresses(&value)),
            "bcc" => email.bcc.extend(addresses(&value)),
            "subject" => email.subject = Some(value),
            "body" => email.body = Some(value),
            _ => {}
        }
    }
    let empty = email.to.is_empty() && email.subject.is_none() && email.body.is_none();
    (!empty).then_some(email)
}

fn matmsg(rest: &str) -> Option<Email> {
    let fields = fields(rest);
    let to: Vec<String> = fields
        .iter()
        .filter(|(k, v)| k == "TO" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    if to.is_empty() {
        return None;
    }
    Some(Email {
        to,
        subject: field(&fields, "SUB").map(str::to_owned),
        body: field(&fields, "BODY").map(str::to_owned),
        ..Email::default()
    })
}

fn sms(rest: &str) -> Option<Sms> {
    let (number, body) = match rest.split_once('?') {
        Some((number, query)) => {
            let body = query_pairs(query)
                .find(|(name, _)| name == "body")
                .map(|(_, body)| body);
            (percent_decoded(number), body)
        }
        // `SMSTO:<number>:<body>`, the form most generators write.
        None => match rest.split_once(':') {
            Some((number, body)) => (number.to_owned(), Some(body.to_owned())),
            None => (percent_decoded(rest), None),
        },
    };
    let number = number.trim().to_owned();
    let body = body.filter(|b| !b.is_empty());
    (!number.is_empty()).then_some(Sms { number, body })
}

fn geo(rest: &str) -> Option<Geo> {
    let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
    // `;crs=...;u=...` parameters follow the coordinates.
    let coordinates = place.split(';').next().unwrap_or_default();
    let mut numbers = coordinates.split(',').map(|n| n.trim().parse::<f64>());
    let latitude = numbers.next()?.ok()?;
    let longitude = numbers.next()?.ok()?;
    let altitude = match numbers.next() {
        Some(altitude) => Some(altitude.ok()?),
        None => None,
    };
    let in_range = (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude);
    if numbers.next().is_some() || !in_range || altitude.is_some_and(|a| !a.is_finite()) {
        return None;
    }
    let query = query_pairs(query)
        .find(|(name, _)| name == "q")
        .map(|(_, q)| q.replace('+', " "));
    Some(Geo {
        latitude,
        longitude,
        altitude,
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(text: &str) -> serde_json::Value {
        serde_json::to_value(parse(text)).unwrap()
    }

    #[test]
    fn content_types_follow_deepscans_prefixes_in_any_case() {
        let rows = [
            ("https://cli.im", ContentType::Url),
            ("HTTP://QR.ALIPAY.COM/FKX", ContentType::Url),
            ("WIFI:S:home;;", ContentType::Wifi),
            ("begin:vcard\nEND:VCARD", ContentType::Vcard),
            ("MAILTO:a@example.com", ContentType::Email),
            ("tel:+8613800000000", ContentType::Phone),
            ("SMSTO:10086:hi", ContentType::Sms),
            ("sms:10086", ContentType::Sms),
            ("geo:39.9,116.4", ContentType::Geo),
            ("MECARD:N:Li;;", ContentType::Text),
            ("www.example.com", ContentType::Text),
            ("ftp://example.com", ContentType::Text),
            ("", ContentType::Text),
            ("短", ContentType::Text),
        ];
        for (text, class) in rows {
            assert_eq!(ContentType::of(text), class, "{text}");
        }
    }

    #[test]
    fn wifi_credentials_are_unescaped() {
        assert_eq!(
            parsed(r#"WIFI:T:WPA;S:my\;net;P:pa\:ss\\word;H:true;;"#),
            json!({"type": "wifi", "ssid": "my;net", "security": "WPA", "password": "pa:ss\\word", "hidden": true})
        );
        assert_eq!(
            parsed("wifi:S:open;T:nopass;;"),
            json!({"type": "wifi", "ssid": "open", "security": "nopass", "hidden": false})
        );
        assert_eq!(parse("WIFI:T:WPA;P:x;;"), None, "no SSID");
    }

    #[test]
    fn e_mail_from_mailto_and_matmsg() {
        assert_eq!(
            parsed(
                "mailto:a@example.com,b%40example.com?subject=Hi%20there&cc=c@example.com&body=1+1"
            ),
            json!({"type": "email", "to": ["a@example.com", "b@example.com"], "cc": ["c@example.com"], "subject": "Hi there", "body": "1+1"})
        );
        assert_eq!(
            parsed("MATMSG:TO:a@example.com;SUB:Order\\;42;BODY:Hello;;"),
            json!({"type": "email", "to": ["a@example.com"], "subject": "Order;42", "body": "Hello"})
        );
        assert_eq!(parse("mailto:"), None);
    }

    #[test]
    fn sms_phone_and_geo() {
        assert_eq!(
            parsed("SMSTO:10086:CXLL"),
            json!({"type": "sms", "number": "10086", "body": "CXLL"})
        );
        assert_eq!(
            parsed("sms:+15551234?body=hello%20world"),
            json!({"type": "sms", "number": "+15551234", "body": "hello world"})
        );
        assert_eq!(
            parsed("tel:+86-10-1234"),
            json!({"type": "phone", "number": "+86-10-1234"})
        );
        assert_eq!(
            parsed("geo:39.9042,116.4074,43.5;u=10?q=Tiananmen+Square"),
            json!({"type": "geo", "latitude": 39.9042, "longitude": 116.4074, "altitude": 43.5, "query": "Tiananmen Square"})
        );
        assert_eq!(parse("geo:91,0"), None, "latitude out of range");
        assert_eq!(parse("geo:north"), None);
        assert_eq!(parse("tel:"), None);
    }

    #[test]
    fn plain_text_and_urls_have_no_payload() {
        for text in ["https://cli.im", "hello", "", "WIFI", "0002"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
