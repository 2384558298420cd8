//! The symbologies the decoder can look for: QR Code, Micro QR Code (M1-M4) and rMQR
//! (rectangular Micro QR), each as it appears in `data.codes[].format`, and `Formats`, the set a
//! decode looks for (`--formats`, narrowed per request). The names accepted on the command line
//! and in request bodies (`qr`, `microqr`, `rmqr`) are parsed here, so the flag and the API
//! cannot disagree on them. And `EcLevel`, a symbol's error-correction level. Pure: no clap, no
//! serde deserialization, no I/O.

use std::fmt;

/// A symbology, spelled in responses as zxing-cpp and rxing name their barcode formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum Format {
    /// QR Code, versions 1-40.
    QRCode,
    /// Micro QR Code, versions M1-M4: one finder pattern, 11-17 modules a side.
    MicroQRCode,
    /// Rectangular Micro QR Code (ISO/IEC 23941), R7x43 to R17x139.
    #[cfg_attr(feature = "serde", serde(rename = "rMQRCode"))]
    #[cfg_attr(feature = "utoipa", schema(rename = "rMQRCode"))]
    RMQRCode,
}

impl Format {
    /// Every format, in the order they are looked for.
    pub const ALL: [Format; 3] = [Format::QRCode, Format::MicroQRCode, Format::RMQRCode];

    /// The name `--formats` and the request field `formats` use.
    pub fn name(self) -> &'static str {
        match self {
            Format::QRCode => "qr",
            Format::MicroQRCode => "microqr",
            Format::RMQRCode => "rmqr",
        }
    }

    /// The format called `name` (ASCII case and surrounding blanks ignored), or a sentence
    /// listing the names there are.
    pub fn from_name(name: &str) -> Result<Format, String> {
        let wanted = name.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("unknown format `{wanted}`: use qr, microqr or rmqr"))
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of formats to look for. Small and `Copy`: it travels with every decode and is part of
/// the result cache's key, since the same bytes give other codes for another set.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Formats(u8);

impl Formats {
    /// QR Code only.
    pub const QR: Formats = Formats(1);
    /// Every format qrscan reads.
    pub const ALL: Formats = Formats(0b111);

    /// Whether `format` is in the set.
    pub fn contains(self, format: Format) -> bool {
        self.0 & format.bit() != 0
    }

    /// Whether the set holds no format (nothing could be found).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The formats in both sets: what a request narrowing the server's set may look for.
    pub fn intersection(self, other: Formats) -> Formats {
        Formats(self.0 & other.0)
    }

    /// Parses a comma-separated list of names (`qr,microqr`), as `--formats` takes it; an
    /// unknown name or an empty list is refused with a sentence saying why.
    pub fn parse(list: &str) -> Result<Formats, String> {
        let formats = list
            .split(',')
            .map(Format::from_name)
            .collect::<Result<Formats, String>>()?;
        if formats.is_empty() {
            return Err("no format given: use qr, microqr or rmqr".into());
        }
        Ok(formats)
    }

    /// Whether Micro QR or rMQR is in the set: the single-finder-pattern search runs at all.
    pub fn any_micro(self) -> bool {
        self.contains(Format::MicroQRCode) || self.contains(Format::RMQRCode)
    }
}

impl FromIterator<Format> for Formats {
    fn from_iter<I: IntoIterator<Item = Format>>(formats: I) -> Self {
        Formats(formats.into_iter().fold(0, |bits, f| bits | f.bit()))
    }
}

impl Default for Formats {
    /// What `--formats` defaults to (README, Performance: why).
    fn default() -> Self {
        Formats::ALL
    }
}

/// `qr,microqr,rmqr`: the names, comma-separated, as the flag takes them.
impl fmt::Display for Formats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Format::ALL
            .into_iter()
            .filter(|&format| self.contains(format))
            .map(Format::name)
            .collect();
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for Formats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Formats({self})")
    }
}

/// Error-correction level of a code, as API.md section 2 spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum EcLevel {
    L,
    M,
    Q,
    H,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_blind_and_unknown_ones_say_what_exists() {
        assert_eq!(Format::from_name("MicroQR"), Ok(Format::MicroQRCode));
        assert_eq!(Format::from_name(" rmqr "), Ok(Format::RMQRCode));
        let err = Format::from_name("aztec").unwrap_err();
        assert!(err.contains("qr, microqr or rmqr"), "{err}");
    }

    #[test]
    fn lists_parse_into_sets_and_print_back() {
        let set = Formats::parse("rmqr, QR").unwrap();
        assert_eq!(set.to_string(), "qr,rmqr");
        assert_eq!(Formats::parse(&Formats::ALL.to_string()), Ok(Formats::ALL));
        assert!(Formats::parse("qr,aztec").unwrap_err().contains("`aztec`"));
        assert!(Formats::parse("").is_err());
    }

    #[test]
    fn a_request_narrows_the_servers_set() {
        let server: Formats = [Format::QRCode, Format::MicroQRCode].into_iter().collect();
        let asked: Formats = [Format::MicroQRCode, Format::RMQRCode]
            .into_iter()
            .collect();
        let both = server.intersection(asked);
        assert!(both.contains(Format::MicroQRCode));
        assert!(!both.contains(Format::QRCode) && !both.contains(Format::RMQRCode));
        assert_eq!(both.to_string(), "microqr");
        assert!(Formats::QR.intersection(asked).is_empty());
    }
}
