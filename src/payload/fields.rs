//! The `KEY:value;KEY:value;;` field syntax the Wi-Fi, MECARD and MATMSG grammars share, used by
//! the payload parsers of `mod.rs` and `contact.rs` alike. Pure.

/// Splits the `KEY:value;KEY:value;;` fields of the Wi-Fi, MECARD and MATMSG grammars, which
/// escape `\ ; , : "` with a backslash: (key upper-cased, value unescaped), in order.
pub(super) fn fields(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars();
    let mut push = |field: &mut String| {
        let taken = std::mem::take(field);
        if let Some((key, value)) = taken.split_once(':') {
            out.push((key.trim().to_ascii_uppercase(), unescape_field(value)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                field.push(c);
                if let Some(next) = chars.next() {
                    field.push(next);
                }
            }
            ';' => push(&mut field),
            _ => field.push(c),
        }
    }
    push(&mut field);
    out
}

fn unescape_field(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next)) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The last value of `key` among `fields`, if not empty.
pub(super) fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.as_str())
}
