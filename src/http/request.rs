//! What a request to the envelope routes may carry, and how it is parsed: the JSON bodies
//! (`ScanUrlRequest`, `ScanImageRequest`) with a sentence of their own for each wrong field, the
//! `formats` a body or query string asks for, and the upload forms the OpenAPI document names.
//! Reading a body under the limits is `body.rs`'s; this file only says what the bytes must be.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::budget::HeldBytes;
use crate::error::ApiError;
use qrscan_decode::{Format, Formats};

/// Body of `scan_url`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScanUrlRequest {
    /// `http(s)` image URL, a `data:` image URL, or `file:` under `--file-root`.
    #[serde(deserialize_with = "url_field")]
    // `text_field` refuses a blank one: it must hold something other than white space.
    #[schema(min_length = 1, pattern = r"\S")]
    pub url: String,
    /// Look only for these formats (of the server's `--formats`); absent: all of those.
    #[serde(default, deserialize_with = "formats_field")]
    #[schema(value_type = Option<Vec<FormatName>>, min_items = 1)]
    pub formats: Option<Formats>,
}

impl JsonBody for ScanUrlRequest {
    const REQUIRED: &'static str = "url";
}

fn url_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text_field(d, "url")
}

/// JSON body of the upload route.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScanImageRequest {
    /// The image as base64, or as a `data:` URL.
    #[serde(deserialize_with = "image_field")]
    // `text_field` refuses a blank one: it must hold something other than white space.
    #[schema(min_length = 1, pattern = r"\S")]
    pub image: String,
    /// Look only for these formats (of the server's `--formats`); absent: all of those.
    #[serde(default, deserialize_with = "formats_field")]
    #[schema(value_type = Option<Vec<FormatName>>, min_items = 1)]
    pub formats: Option<Formats>,
}

/// A format a request may ask for: `qr` (QR Code), `microqr` (Micro QR), `rmqr` (rMQR), as
/// `--formats` names them.
// Only the schema of the request field; `decode::Format::from_name` parses it.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum FormatName {
    Qr,
    Microqr,
    Rmqr,
}

impl JsonBody for ScanImageRequest {
    const REQUIRED: &'static str = "image";
}

fn image_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text_field(d, "image")
}

/// Multipart body of the upload route: the `file` field, held as it arrived.
#[derive(utoipa::ToSchema)]
pub struct ScanImageForm {
    /// The image file.
    #[schema(value_type = String, format = Binary)]
    pub file: HeldBytes,
}

/// A raw upload body (`image/*`, `application/octet-stream`): the image's bytes.
// Only the schema of the body; `body::read_upload` reads it.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct RawImage(pub Vec<u8>);

/// A JSON request body type. Its fields get their own sentences for a wrong type or a blank
/// value (`text_field`); the one it cannot do without is named here, for a body that lacks it.
pub trait JsonBody: DeserializeOwned {
    /// Refused, when absent or null, with "the request body has no `REQUIRED` field".
    const REQUIRED: &'static str;
}

/// Parses a JSON object into `T`, or says what is wrong with the body.
pub(super) fn parse_json<T: JsonBody>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    if object
        .get(T::REQUIRED)
        .is_none_or(serde_json::Value::is_null)
    {
        return Err(ApiError::bad_request(format!(
            "the request body has no `{}` field",
            T::REQUIRED
        )));
    }
    // Errors deserializing from a `Value` carry no position, so `text_field`'s sentences reach
    // the caller as written.
    T::deserialize(value).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A string field that must not be blank, for `#[serde(deserialize_with)]`: the message names
/// the field `name`.
pub fn text_field<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &str,
) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) if text.trim().is_empty() => {
            Err(D::Error::custom(format!("`{name}` is empty")))
        }
        serde_json::Value::String(text) => Ok(text),
        _ => Err(D::Error::custom(format!("`{name}` must be a string"))),
    }
}

/// `formats` of a request body, for `#[serde(deserialize_with)]`: a non-empty list of names
/// (`["qr", "microqr"]`); `null` is as if absent. An unknown name says which names there are.
pub fn formats_field<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Formats>, D::Error> {
    let names = match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Array(names) if names.is_empty() => {
            return Err(D::Error::custom("`formats` is empty"))
        }
        serde_json::Value::Array(names) => names,
        _ => return Err(D::Error::custom("`formats` must be a list of format names")),
    };
    let formats = names.iter().map(|name| match name {
        serde_json::Value::String(name) => Format::from_name(name),
        _ => Err("`formats` must be a list of format names".to_owned()),
    });
    formats
        .collect::<Result<Formats, String>>()
        .map(Some)
        .map_err(D::Error::custom)
}

/// The `formats` parameter of a query string (`?formats=qr,microqr`), if any.
pub fn formats_query(query: Option<&str>) -> Result<Option<Formats>, ApiError> {
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    let mut formats = None;
    for (name, value) in pairs.filter(|(name, _)| name == "formats") {
        let asked =
            Formats::parse(&value).map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")))?;
        formats = Some(formats.unwrap_or(Formats::ALL).intersection(asked));
    }
    Ok(formats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn scan_url_bodies_are_checked_field_by_field() {
        let parsed: ScanUrlRequest = parse_json(br#"{"url":"http://x/a.png"}"#).unwrap();
        assert_eq!(parsed.url, "http://x/a.png");
        for (body, message) in [
            (&b"not json"[..], None),
            (b"[1]", Some("the request body must be a JSON object")),
            (b"{}", Some("the request body has no `url` field")),
            (
                br#"{"url":null}"#,
                Some("the request body has no `url` field"),
            ),
            (br#"{"url":5}"#, Some("`url` must be a string")),
            (br#"{"url":"  "}"#, Some("`url` is empty")),
        ] {
            let err = parse_json::<ScanUrlRequest>(body).err().unwrap();
            let shown = String::from_utf8_lossy(body);
            assert_eq!(err.kind, ErrorKind::BadRequest, "{shown}");
            match message {
                Some(message) => assert_eq!(err.message, message, "{shown}"),
                None => assert!(
                    err.message
                        .starts_with("the request body is not valid JSON: "),
                    "{shown}"
                ),
            }
        }
    }

    #[test]
    fn formats_in_a_body_are_a_list_of_known_names() {
        let parsed: ScanUrlRequest =
            parse_json(br#"{"url":"http://x/a.png","formats":["microqr","RMQR"]}"#).unwrap();
        assert_eq!(parsed.formats.unwrap().to_string(), "microqr,rmqr");
        let absent: ScanUrlRequest = parse_json(br#"{"url":"u","formats":null}"#).unwrap();
        assert_eq!(absent.formats, None);
        for (body, message) in [
            (
                &br#"{"url":"u","formats":["qr","aztec"]}"#[..],
                "unknown format `aztec`: use qr, microqr or rmqr",
            ),
            (br#"{"url":"u","formats":[]}"#, "`formats` is empty"),
            (
                br#"{"url":"u","formats":"qr"}"#,
                "`formats` must be a list of format names",
            ),
            (
                br#"{"url":"u","formats":[1]}"#,
                "`formats` must be a list of format names",
            ),
        ] {
            let err = parse_json::<ScanUrlRequest>(body).err().unwrap();
            assert_eq!(err.kind, ErrorKind::BadRequest);
            assert_eq!(err.message, message, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_upload_query_names_formats_too() {
        assert_eq!(formats_query(None).unwrap(), None);
        assert_eq!(formats_query(Some("x=1")).unwrap(), None);
        let asked = formats_query(Some("formats=qr%2Cmicroqr")).unwrap();
        assert_eq!(asked.unwrap().to_string(), "qr,microqr");
        let err = formats_query(Some("formats=dm")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn image_bodies_name_their_own_field() {
        let parsed: ScanImageRequest = parse_json(br#"{"image":"AAAA"}"#).unwrap();
        assert_eq!(parsed.image, "AAAA");
        for (body, message) in [
            (
                &br#"{"picture":"AAAA"}"#[..],
                "the request body has no `image` field",
            ),
            (br#"{"image":7}"#, "`image` must be a string"),
            (br#"{"image":""}"#, "`image` is empty"),
        ] {
            let err = parse_json::<ScanImageRequest>(body).err().unwrap();
            assert_eq!(err.message, message, "{}", String::from_utf8_lossy(body));
        }
    }
}
