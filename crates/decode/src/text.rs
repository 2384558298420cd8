//! QR data codewords -> text: the segment bit stream of ISO/IEC 18004 (numeric, alphanumeric,
//! byte, kanji, hanzi, ECI, FNC1, structured append) and the charset rules of API.md section 6.
//!
//! Byte segments carry no charset of their own. An ECI designator names one; otherwise the bytes
//! are read as UTF-8 when valid, else GB18030, else Shift_JIS, else ISO-8859-1 — the order the
//! best decoders use. A payload that is only readable as control characters is binary, and the
//! caller then also gets the raw bytes. Pure: no images, no I/O.

use encoding_rs::{Encoding, GB18030, SHIFT_JIS, UTF_8};

/// The decoded content of one symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// The text as a person would read it (for binary payloads, the ISO-8859-1 view of the bytes).
    pub text: String,
    /// The charset the text was read with: `UTF-8`, `GB18030`, `Shift_JIS`, `ISO-8859-1`, ...
    pub encoding: &'static str,
    /// The payload bytes, when they are not text in any charset tried.
    pub binary: Option<Vec<u8>>,
    /// Structured append: this symbol's place in a multi-symbol message.
    pub structured_append: Option<StructuredAppend>,
}

/// The header of a symbol that is one part of a message split over several symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructuredAppend {
    pub index: u8,
    pub count: u8,
    pub parity: u8,
}

/// Why a bit stream could not be read as segments.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the bit stream ends inside a segment")]
    Truncated,
    #[error("unknown segment mode {0}")]
    UnknownMode(u32),
    #[error("invalid {0} data")]
    InvalidData(&'static str),
}

/// How the bytes of one run are to be turned into text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charset {
    /// No ECI seen: guess (UTF-8, GB18030, Shift_JIS, ISO-8859-1).
    Guess,
    Latin1,
    Known(&'static Encoding),
    /// ECI 899: binary data, never text.
    Binary,
}

/// Decodes the corrected data codewords of a QR symbol of `version` (1-40).
pub fn decode_segments(data: &[u8], version: u8) -> Result<Content, TextError> {
    let mut bits = BitReader::new(data);
    let mut runs: Vec<(Charset, Vec<u8>)> = Vec::new();
    let mut current = Charset::Guess;
    let mut structured_append = None;
    let mut gs1 = false;
    let size_class = match version {
        0..=9 => 0,
        10..=26 => 1,
        _ => 2,
    };

    while bits.remaining() >= 4 {
        let mode = bits.read(4)?;
        match mode {
            0 => break, // terminator
            1 => {
                let count = bits.read([10, 12, 14][size_class])? as usize;
                let digits = read_numeric(&mut bits, count)?;
                push(&mut runs, current, &digits);
            }
            2 => {
                let count = bits.read([9, 11, 13][size_class])? as usize;
                let mut chars = read_alphanumeric(&mut bits, count)?;
                if gs1 {
                    chars = undouble_percent(&chars);
                }
                push(&mut runs, current, &chars);
            }
            4 => {
                let count = bits.read([8, 16, 16][size_class])? as usize;
                let mut bytes = Vec::with_capacity(count);
                for _ in 0..count {
                    bytes.push(bits.read(8)? as u8);
                }
                push(&mut runs, current, &bytes);
            }
            8 => {
                let count = bits.read([8, 10, 12][size_class])? as usize;
                let sjis = read_kanji(&mut bits, count)?;
                push(&mut runs, Charset::Known(SHIFT_JIS), &sjis);
            }
            13 => {
                let subset = bits.read(4)?;
                if subset != 1 {
                    return Err(TextError::InvalidData("hanzi subset"));
                }
                let count = bits.read([8, 10, 12][size_class])? as usize;
                let gb = read_hanzi(&mut bits, count)?;
                push(&mut runs, Charset::Known(GB18030), &gb);
            }
            7 => current = charset_for_eci(read_eci(&mut bits)?),
            3 => {
                let index = bits.read(4)? as u8;
                let count = bits.read(4)? as u8 + 1;
                let parity = bits.read(8)? as u8;
                structured_append = Some(StructuredAppend {
                    index,
                    count,
                    parity,
                });
            }
            5 => gs1 = true,
            9 => {
                // AIM application indicator: two digits or one letter, part of the transmitted data.
                let indicator = bits.read(8)?;
                let prefix = match indicator {
                    0..=99 => format!("{indicator:02}").into_bytes(),
                    165..=190 | 197..=222 => vec![(indicator - 100) as u8],
                    _ => return Err(TextError::InvalidData("application indicator")),
                };
                push(&mut runs, current, &prefix);
            }
            other => return Err(TextError::UnknownMode(other)),
        }
    }

    Ok(assemble(runs, structured_append))
}

/// The content of a symbol whose segments another decoder has already parsed (rxing's, for
/// Micro QR and rMQR, whose bit streams it reads): `payload` is the bytes of every segment in
/// order. Without an ECI they get the same charset rules as a QR symbol's. With one, rxing has
/// decoded the text by it (`eci_text`); the charset named is the one of API.md's that reads the
/// payload to that text, else "ECI". Lost against `decode_segments`: the kanji-mode hint, so
/// kanji are told from GB text by the kana and GB2312 evidence alone.
pub fn from_payload(payload: &[u8], eci_text: Option<String>) -> Content {
    let Some(text) = eci_text else {
        return assemble(vec![(Charset::Guess, payload.to_vec())], None);
    };
    let reads = |enc: &'static Encoding| {
        enc.decode_without_bom_handling_and_without_replacement(payload)
            .is_some_and(|t| t == text)
    };
    let encoding = if reads(UTF_8) {
        "UTF-8"
    } else if latin1(payload) == text {
        "ISO-8859-1"
    } else {
        [GB18030, SHIFT_JIS]
            .into_iter()
            .find(|&enc| reads(enc))
            .map_or("ECI", charset_name)
    };
    Content {
        text,
        encoding,
        binary: None,
        structured_append: None,
    }
}

/// Appends bytes to the last run when it has the same charset, else starts a new run.
fn push(runs: &mut Vec<(Charset, Vec<u8>)>, charset: Charset, bytes: &[u8]) {
    match runs.last_mut() {
        Some((last, buf)) if *last == charset => buf.extend_from_slice(bytes),
        _ => runs.push((charset, bytes.to_vec())),
    }
}

/// Turns the runs into one text, and decides whether the payload is binary.
fn assemble(runs: Vec<(Charset, Vec<u8>)>, structured_append: Option<StructuredAppend>) -> Content {
    let all_bytes: Vec<u8> = runs.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    let mut text = String::new();
    let mut encoding: Option<&'static str> = None;
    let mut binary = false;
    let mut fell_back_to_latin1 = false;
    let hint = Hint::of(&runs);
    for (charset, bytes) in &runs {
        let (piece, name) = match charset {
            Charset::Guess => {
                let (text, name) = guess(bytes, hint);
                fell_back_to_latin1 |= name == "ISO-8859-1";
                (text, name)
            }
            Charset::Latin1 => (latin1(bytes), "ISO-8859-1"),
            Charset::Known(enc) => (
                enc.decode_without_bom_handling(bytes).0.into_owned(),
                charset_name(enc),
            ),
            Charset::Binary => {
                binary = true;
                (latin1(bytes), "ISO-8859-1")
            }
        };
        // Report the charset of the first run that needed one; pure ASCII runs say UTF-8.
        if encoding.is_none() || (encoding == Some("UTF-8") && name != "UTF-8") {
            encoding = Some(name);
        }
        text.push_str(&piece);
    }
    // Bytes that no multi-byte charset reads, and that read as control characters in
    // ISO-8859-1, are data, not text. A clean UTF-8/GB18030/Shift_JIS reading stays text even
    // with control characters in it (real payloads carry them, e.g. a leading 0x01 0x10).
    let binary = binary || (fell_back_to_latin1 && looks_binary(&text));
    Content {
        encoding: if binary {
            "ISO-8859-1"
        } else {
            encoding.unwrap_or("UTF-8")
        },
        text: if binary { latin1(&all_bytes) } else { text },
        binary: binary.then_some(all_bytes),
        structured_append,
    }
}

/// What the other segments of a symbol say about the language of its byte segments. An encoder
/// that chose kanji mode was writing Shift_JIS text, one that chose hanzi mode GB2312 text, and
/// a byte segment beside them is part of the same text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hint {
    None,
    ShiftJis,
    Gb,
}

impl Hint {
    fn of(runs: &[(Charset, Vec<u8>)]) -> Self {
        let known = |enc| runs.iter().any(|(c, _)| *c == Charset::Known(enc));
        match (known(SHIFT_JIS), known(GB18030)) {
            (true, false) => Hint::ShiftJis,
            (false, true) => Hint::Gb,
            _ => Hint::None,
        }
    }
}

/// The charset order of API.md section 6 for bytes without an ECI: UTF-8, GB18030, Shift_JIS,
/// ISO-8859-1. A reading "is valid" when it decodes without error and without private-use
/// characters (the user-defined areas both charsets map there are not text).
///
/// GB18030 accepts nearly every Shift_JIS byte sequence, so where both read the bytes the text
/// is taken as Japanese only on evidence that Chinese text does not produce: see
/// [`reads_as_japanese`].
fn guess(bytes: &[u8], hint: Hint) -> (String, &'static str) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_owned(), "UTF-8");
    }
    let strict = |enc: &'static Encoding| {
        enc.decode_without_bom_handling_and_without_replacement(bytes)
            .filter(|text| !text.chars().any(is_private_use))
            .map(|t| t.into_owned())
    };
    match (strict(GB18030), strict(SHIFT_JIS)) {
        (Some(gb), Some(sjis)) if reads_as_japanese(bytes, &gb, &sjis, hint) => {
            (sjis, charset_name(SHIFT_JIS))
        }
        (Some(gb), _) => (gb, charset_name(GB18030)),
        (None, Some(sjis)) => (sjis, charset_name(SHIFT_JIS)),
        (None, None) => (latin1(bytes), "ISO-8859-1"),
    }
}

/// Whether bytes that are valid both as GB18030 and as Shift_JIS are Japanese. Any one of:
/// - the symbol's other segments are kanji mode (and none hanzi mode);
/// - only the Shift_JIS reading has full-width kana, which Japanese text nearly always has and
///   Chinese text read as Shift_JIS almost never yields;
/// - the GB18030 reading needs characters outside GB2312 (GBK extension pairs, four-byte codes)
///   while the Shift_JIS reading has no half-width katakana: full-width Japanese read as GB lands
///   in the rare extension rows, Chinese read as Shift_JIS is full of half-width katakana;
/// - the Shift_JIS reading is half-width katakana whose voicing marks (ﾞ ﾟ) and long-vowel marks
///   (ｰ) all follow a kana that takes them, and there is at least one: Japanese spelling that
///   GB2312 bytes only match by chance, and every mark must.
fn reads_as_japanese(bytes: &[u8], gb: &str, sjis: &str, hint: Hint) -> bool {
    match hint {
        Hint::ShiftJis => return true,
        Hint::Gb => return false,
        Hint::None => {}
    }
    if kana(sjis) > kana(gb) {
        return true;
    }
    let half_width = sjis.chars().filter(|c| is_half_width_katakana(*c)).count();
    if half_width == 0 {
        return !within_gb2312(bytes);
    }
    well_spelled_half_width_marks(sjis) >= 2
}

/// Whether every multi-byte character of a GB18030 byte string is in GB2312's rows
/// (lead and trail bytes both 0xA1-0xFE), where everyday simplified Chinese lives.
fn within_gb2312(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some((&lead, tail)) = rest.split_first() {
        if lead < 0x80 {
            rest = tail;
            continue;
        }
        match tail.first() {
            Some(&trail) if (0xa1..=0xfe).contains(&lead) && (0xa1..=0xfe).contains(&trail) => {
                rest = &tail[1..];
            }
            _ => return false,
        }
    }
    true
}

/// The number of half-width voicing and long-vowel marks in `text` that follow a kana taking
/// them; zero when any mark does not (which Japanese spelling never does).
fn well_spelled_half_width_marks(text: &str) -> usize {
    let mut well_spelled = 0;
    let mut previous = None;
    for c in text.chars() {
        let allowed: fn(char) -> bool = match c {
            // ﾞ: ｳ, ｶ-ﾄ, ﾊ-ﾎ.
            '\u{ff9e}' => {
                |p: char| matches!(p, '\u{ff73}' | '\u{ff76}'..='\u{ff84}' | '\u{ff8a}'..='\u{ff8e}')
            }
            // ﾟ: ﾊ-ﾎ.
            '\u{ff9f}' => |p: char| matches!(p, '\u{ff8a}'..='\u{ff8e}'),
            // ｰ: after any katakana, voiced or not.
            '\u{ff70}' => |p: char| is_half_width_katakana(p) && p != '\u{ff70}',
            _ => {
                previous = Some(c);
                continue;
            }
        };
        match previous {
            Some(p) if allowed(p) => well_spelled += usize::from(c != '\u{ff70}'),
            _ => return 0,
        }
        previous = Some(c);
    }
    well_spelled
}

/// Half-width katakana and their marks (Shift_JIS single bytes 0xA6-0xDF).
fn is_half_width_katakana(c: char) -> bool {
    ('\u{ff66}'..='\u{ff9f}').contains(&c)
}

fn is_private_use(c: char) -> bool {
    matches!(c, '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{10ffff}')
}

/// Full-width hiragana and katakana.
fn kana(text: &str) -> usize {
    text.chars()
        .filter(|c| ('\u{3041}'..='\u{30ff}').contains(c))
        .count()
}

/// The name API.md uses for a charset; encoding_rs spells GB18030 in lower case.
fn charset_name(encoding: &'static Encoding) -> &'static str {
    if encoding == GB18030 {
        "GB18030"
    } else {
        encoding.name()
    }
}

/// ISO-8859-1 maps each byte to the code point of the same value (encoding_rs would give windows-1252).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text made of control characters other than the ones real payloads use is binary data.
fn looks_binary(text: &str) -> bool {
    text.chars().any(|c| {
        c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{1d}' | '\u{1e}' | '\u{04}')
    })
}

/// ECI assignment numbers (AIM ECI) to charsets.
fn charset_for_eci(eci: u32) -> Charset {
    let label: &[u8] = match eci {
        0 | 2 => b"cp437",
        1 | 3 => return Charset::Latin1,
        4 => b"iso-8859-2",
        5 => b"iso-8859-3",
        6 => b"iso-8859-4",
        7 => b"iso-8859-5",
        8 => b"iso-8859-6",
        9 => b"iso-8859-7",
        10 => b"iso-8859-8",
        11 => b"windows-1254", // ISO-8859-9: encoding_rs maps it to its superset windows-1254
        12 => b"iso-8859-10",
        13 => b"windows-874",
        15 => b"iso-8859-13",
        16 => b"iso-8859-14",
        17 => b"iso-8859-15",
        18 => b"iso-8859-16",
        20 => b"shift_jis",
        21 => b"windows-1250",
        22 => b"windows-1251",
        23 => b"windows-1252",
        24 => b"windows-1256",
        25 => b"utf-16be",
        26 => b"utf-8",
        27 | 170 => return Charset::Known(UTF_8), // ASCII is a subset of UTF-8
        28 => b"big5",
        29 => b"gb18030",
        30 => b"euc-kr",
        32 => b"gb18030",
        33 => b"utf-16le",
        899 => return Charset::Binary,
        // An unknown ECI: fall back to guessing rather than losing the payload.
        _ => return Charset::Guess,
    };
    // cp437 is not in encoding_rs; its printable ASCII half is what real codes use.
    Encoding::for_label(label).map_or(Charset::Guess, Charset::Known)
}

fn read_eci(bits: &mut BitReader) -> Result<u32, TextError> {
    let first = bits.read(8)?;
    if first & 0x80 == 0 {
        Ok(first & 0x7f)
    } else if first & 0xc0 == 0x80 {
        Ok(((first & 0x3f) << 8) | bits.read(8)?)
    } else if first & 0xe0 == 0xc0 {
        Ok(((first & 0x1f) << 16) | bits.read(16)?)
    } else {
        Err(TextError::InvalidData("ECI designator"))
    }
}

fn read_numeric(bits: &mut BitReader, mut count: usize) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(count);
    while count > 0 {
        let (width, digits) = match count {
            1 => (4, 1),
            2 => (7, 2),
            _ => (10, 3),
        };
        let value = bits.read(width)?;
        if value >= 10u32.pow(digits) {
            return Err(TextError::InvalidData("numeric"));
        }
        out.extend(format!("{value:0width$}", width = digits as usize).bytes());
        count -= digits as usize;
    }
    Ok(out)
}

const ALPHANUMERIC: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn read_alphanumeric(bits: &mut BitReader, mut count: usize) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(count);
    let char_at = |i: u32| {
        ALPHANUMERIC
            .get(i as usize)
            .copied()
            .ok_or(TextError::InvalidData("alphanumeric"))
    };
    while count >= 2 {
        let pair = bits.read(11)?;
        out.push(char_at(pair / 45)?);
        out.push(char_at(pair % 45)?);
        count -= 2;
    }
    if count == 1 {
        out.push(char_at(bits.read(6)?)?);
    }
    Ok(out)
}

/// In GS1 mode `%%` is a literal `%` and a lone `%` is the group separator.
fn undouble_percent(chars: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == b'%' {
            if chars.get(i + 1) == Some(&b'%') {
                out.push(b'%');
                i += 1;
            } else {
                out.push(0x1d);
            }
        } else {
            out.push(chars[i]);
        }
        i += 1;
    }
    out
}

fn read_kanji(bits: &mut BitReader, count: usize) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(count * 2);
    for _ in 0..count {
        let value = bits.read(13)?;
        let assembled = ((value / 0xc0) << 8) | (value % 0xc0);
        let sjis = if assembled < 0x1f00 {
            assembled + 0x8140
        } else {
            assembled + 0xc140
        };
        out.extend_from_slice(&[(sjis >> 8) as u8, sjis as u8]);
    }
    Ok(out)
}

fn read_hanzi(bits: &mut BitReader, count: usize) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(count * 2);
    for _ in 0..count {
        let value = bits.read(13)?;
        let assembled = ((value / 0x60) << 8) | (value % 0x60);
        let gb = if assembled < 0x0a00 {
            assembled + 0xa1a1
        } else {
            assembled + 0xa6a1
        };
        out.extend_from_slice(&[(gb >> 8) as u8, gb as u8]);
    }
    Ok(out)
}

/// Reads big-endian bit fields from a byte slice.
struct BitReader<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, position: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() * 8 - self.position
    }

    fn read(&mut self, width: usize) -> Result<u32, TextError> {
        if width > self.remaining() {
            return Err(TextError::Truncated);
        }
        let mut value = 0u32;
        for _ in 0..width {
            let byte = self.data[self.position / 8];
            let bit = (byte >> (7 - self.position % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.position += 1;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bit fields, to build segment streams by hand.
    #[derive(Default)]
    struct BitWriter {
        bits: Vec<bool>,
    }

    impl BitWriter {
        fn put(mut self, value: u32, width: usize) -> Self {
            for i in (0..width).rev() {
                self.bits.push((value >> i) & 1 == 1);
            }
            self
        }
        fn bytes(self, bytes: &[u8]) -> Self {
            let mut w = self.put(4, 4).put(bytes.len() as u32, 8);
            for &b in bytes {
                w = w.put(u32::from(b), 8);
            }
            w
        }
        fn finish(self) -> Vec<u8> {
            let mut w = self.put(0, 4);
            while !w.bits.len().is_multiple_of(8) {
                w.bits.push(false);
            }
            w.bits
                .chunks(8)
                .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b)))
                .collect()
        }
    }

    #[test]
    fn numeric_and_alphanumeric_segments_read_as_ascii() {
        // "01234567" numeric (3+3+2 digits), then "AC-42" alphanumeric.
        let data = BitWriter::default()
            .put(1, 4)
            .put(8, 10)
            .put(12, 10)
            .put(345, 10)
            .put(67, 7)
            .put(2, 4)
            .put(5, 9)
            .put(10 * 45 + 12, 11)
            .put(41 * 45 + 4, 11)
            .put(2, 6)
            .finish();
        let content = decode_segments(&data, 1).unwrap();
        assert_eq!(content.text, "01234567AC-42");
        assert_eq!(content.encoding, "UTF-8");
        assert_eq!(content.binary, None);
    }

    #[test]
    fn byte_segments_prefer_utf8_then_gb18030_then_shift_jis() {
        let utf8 = BitWriter::default().bytes("héllo 你好".as_bytes()).finish();
        assert_eq!(decode_segments(&utf8, 2).unwrap().text, "héllo 你好");

        let (gbk, _, _) = GB18030.encode("扫码支付");
        let content = decode_segments(&BitWriter::default().bytes(&gbk).finish(), 2).unwrap();
        assert_eq!(
            (content.text.as_str(), content.encoding),
            ("扫码支付", "GB18030")
        );

        // Half-width katakana are valid Shift_JIS single bytes but not GB18030 pairs.
        let sjis = [0xb1u8, 0xb2, 0xb3];
        let content = decode_segments(&BitWriter::default().bytes(&sjis).finish(), 2).unwrap();
        assert_eq!(
            (content.text.as_str(), content.encoding),
            ("ｱｲｳ", "Shift_JIS")
        );
    }

    #[test]
    fn an_eci_designator_selects_the_charset() {
        // ECI 4 = ISO-8859-2, where 0xB1 is 'ą'.
        let data = BitWriter::default()
            .put(7, 4)
            .put(4, 8)
            .bytes(&[b'a', 0xb1])
            .finish();
        let content = decode_segments(&data, 1).unwrap();
        assert_eq!(content.text, "aą");
        assert_eq!(content.encoding, "ISO-8859-2");
    }

    #[test]
    fn kanji_mode_reads_shift_jis() {
        // 点 is 0x935F in Shift_JIS: (0x935F - 0x8140) = 0x121F -> 0x12 * 0xC0 + 0x1F.
        let data = BitWriter::default()
            .put(8, 4)
            .put(1, 8)
            .put(0x12 * 0xc0 + 0x1f, 13)
            .finish();
        assert_eq!(decode_segments(&data, 1).unwrap().text, "点");
    }

    #[test]
    fn control_bytes_make_a_payload_binary_and_keep_its_bytes() {
        let payload = [0x00u8, 0x01, 0xff, 0x10];
        let content = decode_segments(&BitWriter::default().bytes(&payload).finish(), 1).unwrap();
        assert_eq!(content.binary.as_deref(), Some(&payload[..]));
        assert_eq!(content.encoding, "ISO-8859-1");
    }

    #[test]
    fn structured_append_header_is_reported() {
        let data = BitWriter::default()
            .put(3, 4)
            .put(2, 4)
            .put(3, 4)
            .put(0x5f, 8)
            .bytes(b"part")
            .finish();
        let content = decode_segments(&data, 1).unwrap();
        assert_eq!(content.text, "part");
        assert_eq!(
            content.structured_append,
            Some(StructuredAppend {
                index: 2,
                count: 4,
                parity: 0x5f
            })
        );
    }

    #[test]
    fn a_truncated_segment_is_an_error_not_a_panic() {
        let data = BitWriter::default()
            .put(4, 4)
            .put(200, 8)
            .put(1, 8)
            .finish();
        assert_eq!(decode_segments(&data, 1), Err(TextError::Truncated));
        assert_eq!(decode_segments(&[0xf0], 1), Err(TextError::UnknownMode(15)));
    }

    #[test]
    fn shift_jis_with_kana_wins_over_gb18030_which_would_also_accept_the_bytes() {
        let (sjis, _, _) = SHIFT_JIS.encode("こんにちは、世界");
        assert!(GB18030
            .decode_without_bom_handling_and_without_replacement(&sjis)
            .is_some());
        let content = decode_segments(&BitWriter::default().bytes(&sjis).finish(), 2).unwrap();
        assert_eq!(
            (content.text.as_str(), content.encoding),
            ("こんにちは、世界", "Shift_JIS")
        );
    }

    #[test]
    fn a_clean_multibyte_reading_stays_text_even_with_control_characters() {
        let mut gb = GB18030.encode("AD:阿;;").0.into_owned();
        gb.splice(0..0, [0x01, 0x10]);
        let content = decode_segments(&BitWriter::default().bytes(&gb).finish(), 2).unwrap();
        assert_eq!(content.text, "\u{1}\u{10}AD:阿;;");
        assert_eq!(content.binary, None);
    }

    fn guessed(text_bytes: &[u8]) -> (String, &'static str) {
        let content = decode_segments(&BitWriter::default().bytes(text_bytes).finish(), 5).unwrap();
        (content.text, content.encoding)
    }

    #[test]
    fn half_width_katakana_with_voicing_marks_reads_as_shift_jis() {
        for text in ["ﾃﾞｻﾞｲﾝQR\r\nhttp://d-qr.net/ex/", "ﾃﾞｼﾞﾀﾙ ﾊﾟｰﾂ"]
        {
            let (sjis, _, unmappable) = SHIFT_JIS.encode(text);
            assert!(!unmappable);
            assert!(GB18030
                .decode_without_bom_handling_and_without_replacement(&sjis)
                .is_some());
            assert_eq!(guessed(&sjis), (text.to_owned(), "Shift_JIS"));
        }
        // One mark can be chance; a misplaced one (ﾞ after ｱ) is never Japanese spelling.
        for bytes in [&[0xc3u8, 0xde, 0xb2, 0xdd][..], &[0xc3, 0xde, 0xb1, 0xde]] {
            assert_eq!(guessed(bytes).1, "GB18030", "{bytes:x?}");
        }
    }

    #[test]
    fn full_width_japanese_outside_gb2312_reads_as_shift_jis() {
        let (sjis, _, _) = SHIFT_JIS.encode("東京都千代田区");
        assert_eq!(guessed(&sjis), ("東京都千代田区".to_owned(), "Shift_JIS"));
    }

    #[test]
    fn a_kanji_segment_makes_the_byte_segments_beside_it_shift_jis() {
        let (kana, _, _) = SHIFT_JIS.encode("ｲﾗｽﾄ");
        let data = BitWriter::default()
            .bytes(&kana)
            .put(8, 4)
            .put(1, 8)
            .put(0x0e3c, 13) // 入: Shift_JIS 0x93FC, less 0x8140, as 0x12 * 0xC0 + 0xBC
            .finish();
        assert_eq!(decode_segments(&data, 2).unwrap().text, "ｲﾗｽﾄ入");
        // Without the kanji segment the same bytes stay GB18030, the contract's order.
        assert_eq!(guessed(&kana).1, "GB18030");
    }

    /// Chinese text must almost never be taken for Japanese: of 20,000 random strings of GB2312
    /// hanzi (1-12 characters, some ASCII between), count those read as Shift_JIS.
    #[test]
    fn random_chinese_text_stays_gb18030() {
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let trials = 20_000;
        let mut as_shift_jis = 0;
        for _ in 0..trials {
            let mut bytes = Vec::new();
            for _ in 0..1 + next(12) {
                if next(4) == 0 {
                    bytes.push(b'a' + next(26) as u8);
                }
                // Nine in ten from level 1 (rows 0xB0-0xD7), the rest from level 2.
                let lead = if next(10) < 9 {
                    0xb0 + next(40)
                } else {
                    0xd8 + next(32)
                };
                let trail = 0xa1 + next(94);
                bytes.extend([lead as u8, trail as u8]);
            }
            if guessed(&bytes).1 == "Shift_JIS" {
                as_shift_jis += 1;
            }
        }
        assert!(as_shift_jis * 1000 < trials, "{as_shift_jis} of {trials}");
    }
}
