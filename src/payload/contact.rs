//! Contacts: vCard (through `vcard-rs`, which unfolds lines, resolves escapes, and decodes the
//! `QUOTED-PRINTABLE` values and `CHARSET`s that vCard 2.1 cards from phones carry) and
//! DoCoMo's MECARD (`MECARD:N:Doe,John;TEL:...;;`, parsed by `fields.rs`).

use serde::Serialize;
use vcard::tree::cst::VcardCst;
use vcard::tree::line::VcardLine;
use vcard::tree::value::cursor::VcardValueCursor;

use super::fields::{field, fields};

/// A person or organisation, as far as the card says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contact {
    /// vCard's `VERSION` (`2.1`, `3.0`, `4.0`); absent for MECARD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The display name (`FN`, or MECARD's `N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Entry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Entry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Entry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A phone number, e-mail address or postal address, with its types (`cell`, `work`, ...,
/// lower-cased) when the card gives any.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub value: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

impl Contact {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.family_name.is_none()
            && self.given_name.is_none()
            && self.organization.is_none()
            && self.phones.is_empty()
            && self.emails.is_empty()
    }
}

fn non_empty(text: String) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The types of a line: `TYPE=cell,voice` (3.0, 4.0) and the bare `CELL` of vCard 2.1.
fn types(line: &VcardLine<'_>) -> Vec<String> {
    let mut types = Vec::new();
    for param in &line.params {
        let name = param.name.get();
        if name.eq_ignore_ascii_case("TYPE") {
            for value in &param.values {
                types.extend(value.get().split(',').map(str::to_ascii_lowercase));
            }
        } else if param.values.is_empty()
            && !["QUOTED-PRINTABLE", "BASE64", "8BIT"]
                .iter()
                .any(|e| name.eq_ignore_ascii_case(e))
        {
            types.push(name.to_ascii_lowercase());
        }
    }
    types.retain(|t| !t.is_empty() && t != "pref" && t != "internet");
    types
}

/// A line's value as text, its `QUOTED-PRINTABLE` and `CHARSET` resolved, and its components
/// (the `;`-separated parts of `N` and `ADR`).
fn value(line: &mut VcardLine<'_>) -> (String, Vec<String>) {
    // `cursor.charset()` below resolves both; vcard-rs keeps its own test for them private.
    let foreign = line.params.iter().any(|param| {
        let name = param.name.get();
        let quoted = |v: &str| v.eq_ignore_ascii_case("QUOTED-PRINTABLE");
        name.eq_ignore_ascii_case("CHARSET")
            || quoted(name)
            || (name.eq_ignore_ascii_case("ENCODING")
                && param.values.iter().any(|v| quoted(v.get())))
    });
    let cursor = VcardValueCursor { line };
    if foreign {
        // Escaped semicolons are rare in such cards; the decoded text is split as it stands.
        let text = cursor.charset();
        let parts = text.split(';').map(str::to_owned).collect();
        return (text, parts);
    }
    let parts = (0..)
        .map(|i| cursor.component(i))
        .take_while(|component| !component.is_empty())
        .map(|values| values.join(","))
        .collect();
    (cursor.text().into_owned(), parts)
}

/// A vCard of any version; `None` when it does not parse or names nobody.
pub fn vcard(text: &str) -> Option<Contact> {
    let mut card = VcardCst::parse(text).ok()?;
    let mut contact = Contact {
        version: Some(String::from(&*card.version())),
        ..Contact::default()
    };
    for line in &mut card.props {
        let name = line.bare_name().to_ascii_uppercase();
        let kinds = types(line);
        let (text, parts) = value(line);
        let part = |i: usize| parts.get(i).cloned().and_then(non_empty);
        match name.as_str() {
            "FN" => contact.name = contact.name.take().or_else(|| non_empty(text)),
            "N" => {
                contact.family_name = part(0);
                contact.given_name = part(1);
            }
            "ORG" => contact.organization = non_empty(parts.join(" ")),
            "TITLE" => contact.title = non_empty(text),
            "TEL" | "EMAIL" | "ADR" => {
                let value = if name == "ADR" {
                    let lines: Vec<String> = parts.into_iter().filter_map(non_empty).collect();
                    lines.join(", ")
                } else {
                    text
                };
                let Some(value) = non_empty(value) else {
                    continue;
                };
                let entry = Entry {
                    value,
                    types: kinds,
                };
                match name.as_str() {
                    "TEL" => contact.phones.push(entry),
                    "EMAIL" => contact.emails.push(entry),
                    _ => contact.addresses.push(entry),
                }
            }
            "URL" => contact.urls.extend(non_empty(text)),
            "BDAY" => contact.birthday = non_empty(text),
            "NOTE" => contact.note = non_empty(text),
            _ => {}
        }
    }
    (!contact.is_empty()).then_some(contact)
}

/// The fields after `MECARD:`; `None` without a name or a number.
pub fn mecard(rest: &str) -> Option<Contact> {
    let fields = fields(rest);
    let all = |key: &str| -> Vec<Entry> {
        fields
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| Entry {
                value: v.clone(),
                types: Vec::new(),
            })
            .collect()
    };
    let one = |key: &str| field(&fields, key).map(str::to_owned);
    // `N:Doe,John`: family name, then given name.
    let (family_name, given_name) = match one("N") {
        Some(n) => match n.split_once(',') {
            Some((family, given)) => (non_empty(family.into()), non_empty(given.into())),
            None => (None, None),
        },
        None => (None, None),
    };
    let name = one("N").map(|n| {
        let mut parts: Vec<&str> = n.split(',').map(str::trim).collect();
        parts.reverse();
        parts.join(" ")
    });
    let contact = Contact {
        name,
        family_name,
        given_name,
        organization: one("ORG"),
        title: one("TITLE"),
        phones: all("TEL"),
        emails: all("EMAIL"),
        addresses: all("ADR"),
        urls: all("URL").into_iter().map(|e| e.value).collect(),
        birthday: one("BDAY"),
        note: one("NOTE"),
        ..Contact::default()
    };
    (!contact.is_empty()).then_some(contact)
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use serde_json::json;

    #[test]
    fn a_vcard_3_names_its_person_and_numbers() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nORG:Acme;Sales\r\n\
                    TITLE:Buyer\r\nTEL;TYPE=CELL,VOICE:+1 555 0100\r\nTEL:+1 555 0101\r\n\
                    EMAIL;TYPE=INTERNET,WORK:john@example.com\r\n\
                    ADR;TYPE=WORK:;;1 Main St;Springfield;IL;62704;USA\r\nURL:https://example.com\r\n\
                    NOTE:long\r\n  folded\\, line\r\nEND:VCARD\r\n";
        assert_eq!(
            serde_json::to_value(parse(card)).unwrap(),
            json!({
                "type": "vcard", "version": "3.0", "name": "John Doe", "family_name": "Doe",
                "given_name": "John", "organization": "Acme Sales", "title": "Buyer",
                "phones": [{"value": "+1 555 0100", "types": ["cell", "voice"]}, {"value": "+1 555 0101"}],
                "emails": [{"value": "john@example.com", "types": ["work"]}],
                "addresses": [{"value": "1 Main St, Springfield, IL, 62704, USA", "types": ["work"]}],
                "urls": ["https://example.com"], "note": "long folded, line"
            })
        );
    }

    #[test]
    fn a_vcard_2_1_from_a_phone_has_its_quoted_printable_utf8_decoded() {
        let card = "BEGIN:VCARD\nVERSION:2.1\n\
                    N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0;=E4=B8=89;;;\n\
                    FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0=E4=B8=89\n\
                    TEL;CELL:13800000000\nEND:VCARD";
        let value = serde_json::to_value(parse(card)).unwrap();
        assert_eq!(value["name"], "张三");
        assert_eq!(value["family_name"], "张");
        assert_eq!(value["given_name"], "三");
        assert_eq!(
            value["phones"],
            json!([{"value": "13800000000", "types": ["cell"]}])
        );
    }

    #[test]
    fn a_mecard_gives_the_same_fields() {
        assert_eq!(
            serde_json::to_value(parse(
                "MECARD:N:Doe,John;TEL:+15550100;EMAIL:john@example.com;URL:https\\://example.com;;"
            ))
            .unwrap(),
            json!({
                "type": "mecard", "name": "John Doe", "family_name": "Doe", "given_name": "John",
                "phones": [{"value": "+15550100"}], "emails": [{"value": "john@example.com"}],
                "urls": ["https://example.com"]
            })
        );
        assert_eq!(parse("MECARD:;;"), None);
    }

    #[test]
    fn a_card_naming_nobody_has_no_payload() {
        assert_eq!(parse("BEGIN:VCARD\nVERSION:3.0\nEND:VCARD"), None);
    }
}
