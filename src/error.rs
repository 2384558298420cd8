//! The one error table: every business `code` of API.md section 4, its message and its HTTP
//! status in both `--http-status` modes are decided here and nowhere else.
//!
//! Lower layers (`scan`, and through it `fetch` and `decode`) report typed errors; the `From`
//! impls below are the only translation into codes, so "what does the API answer when X?" is
//! answered by this file. It is also the only module that names an HTTP status or the headers a
//! code adds. Nothing here sees the network or an image.
//!
//! The other two contracts of the same use case have their tables here too, beside this one:
//! `DeepScanCode` and `DeepScanError::from_api` (API.md section 8) and `DEQR_STATUS`
//! (section 9), each translating from `ErrorKind`, so "what does route R answer when X?" is one
//! lookup for every route.

use axum::extract::multipart::MultipartError;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};

use crate::budget::OverBudget;
use crate::config::HttpStatusMode;
use crate::fetch::FetchError;
use crate::scan::ScanError;
use qrscan_decode::DecodeError;

/// Declares `ErrorKind` from the table below: each row is a variant, its envelope `code` and what
/// the code means (the OpenAPI document lists these), so a new row cannot miss either.
macro_rules! error_table {
    ($($(#[$doc:meta])* $kind:ident = $code:literal, $meaning:literal;)*) => {
        /// The class of a failure; each variant is one row of API.md section 4.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in the order of API.md section 4.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// The `code` field of the envelope.
            pub fn code(self) -> u32 {
                match self {
                    $(ErrorKind::$kind => $code,)*
                }
            }

            /// A few words on when the code is answered.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $meaning,)*
                }
            }
        }
    };
}

error_table! {
    BadRequest = 400, "malformed request";
    Unauthorized = 403, "bad or missing key";
    NotFound = 404, "no such route";
    MethodNotAllowed = 405, "no such method";
    RateLimited = 429, "rate limit for this key or client exceeded";
    Internal = 500, "bug";
    Overloaded = 503, "busy (decode queue full or image memory budget spent)";
    InvalidUrl = 1001, "URL invalid";
    UrlNotAllowed = 1002, "URL not allowed";
    FetchFailed = 1003, "fetch failed";
    FetchTimeout = 1004, "fetch timed out";
    TooLarge = 1005, "image over the byte limit";
    TooManyPixels = 1006, "over the pixel or decoder memory limit";
    NotAnImage = 1007, "not a supported image";
    NoCode = 1008, "no QR code";
    Unreadable = 1009, "QR code unreadable";
}

impl ErrorKind {
    /// The HTTP status for this kind under `mode`.
    pub fn status(self, mode: HttpStatusMode) -> StatusCode {
        // Protocol-level outcomes keep their status in both modes (API.md section 4).
        match self {
            ErrorKind::Unauthorized if mode == HttpStatusMode::Rest => {
                return StatusCode::UNAUTHORIZED
            }
            ErrorKind::Unauthorized => return StatusCode::FORBIDDEN,
            ErrorKind::NotFound => return StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => return StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::RateLimited => return StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => return StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Overloaded => return StatusCode::SERVICE_UNAVAILABLE,
            _ => {}
        }
        if mode == HttpStatusMode::Compat {
            return StatusCode::OK;
        }
        match self {
            ErrorKind::BadRequest | ErrorKind::InvalidUrl => StatusCode::BAD_REQUEST,
            ErrorKind::UrlNotAllowed => StatusCode::FORBIDDEN,
            ErrorKind::FetchFailed => StatusCode::BAD_GATEWAY,
            ErrorKind::FetchTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::TooManyPixels | ErrorKind::NoCode | ErrorKind::Unreadable => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            // Handled above; listed so a new kind cannot be forgotten here.
            ErrorKind::Unauthorized
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::RateLimited
            | ErrorKind::Internal
            | ErrorKind::Overloaded => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The status of a success, in both modes.
pub const SUCCESS: StatusCode = StatusCode::OK;

/// The status of `/readyz` while the process drains (no envelope: probes read the status).
pub const NOT_READY: StatusCode = StatusCode::SERVICE_UNAVAILABLE;

impl ErrorKind {
    /// The header API.md section 4 adds to an answer of this kind under `mode`, if any.
    pub fn header(self, mode: HttpStatusMode) -> Option<(HeaderName, HeaderValue)> {
        match self {
            ErrorKind::Unauthorized if mode == HttpStatusMode::Rest => {
                Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")))
            }
            ErrorKind::Overloaded | ErrorKind::RateLimited => {
                Some((header::RETRY_AFTER, HeaderValue::from_static("1")))
            }
            _ => None,
        }
    }
}

/// A failed request: a kind (the code) and a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds for `Retry-After`, when the error knows better than its kind's default.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of `kind` with `message` as the envelope's `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 429: the caller's bucket has a token again in `retry_after` seconds (at least 1).
    pub fn rate_limited(retry_after: u64) -> Self {
        let retry_after = retry_after.max(1);
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorKind::RateLimited,
                format!("rate limit exceeded; retry in {retry_after} s"),
            )
        }
    }

    /// The extra header of this answer under `mode`: its kind's, with this error's
    /// `Retry-After` when it has one.
    pub fn header(&self, mode: HttpStatusMode) -> Option<(HeaderName, HeaderValue)> {
        let (name, value) = self.kind.header(mode)?;
        match self.retry_after {
            Some(seconds) if name == header::RETRY_AFTER => Some((name, seconds.into())),
            _ => Some((name, value)),
        }
    }

    /// The envelope's `code`.
    pub fn code(&self) -> u32 {
        self.kind.code()
    }

    /// A 400 for a request the caller must fix.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A local input of `qrscan scan` (a file, a folder, stdin) that could not be read: a 400,
    /// an input the caller must fix. Not 1003: nothing was fetched, and no retry will help.
    pub fn unreadable_input(message: impl Into<String>) -> Self {
        Self::bad_request(message)
    }

    /// A 500. The message is fixed: internal detail goes to the log, never to the caller.
    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "internal error; the server log has the details",
        )
    }
}

impl From<FetchError> for ApiError {
    fn from(err: FetchError) -> Self {
        let kind = match &err {
            FetchError::InvalidUrl(_) => ErrorKind::InvalidUrl,
            FetchError::NotAllowed(_) => ErrorKind::UrlNotAllowed,
            FetchError::Upstream(_) => ErrorKind::FetchFailed,
            FetchError::Timeout | FetchError::ConnectTimeout => ErrorKind::FetchTimeout,
            FetchError::TooLarge { .. } => ErrorKind::TooLarge,
            FetchError::Busy(_) => ErrorKind::Overloaded,
        };
        // FetchError's Display is written for callers: it names the class of failure only.
        ApiError::new(kind, err.to_string())
    }
}

impl From<ScanError> for ApiError {
    fn from(err: ScanError) -> Self {
        match err {
            ScanError::Fetch(err) => err.into(),
            ScanError::Decode(err) => err.into(),
            ScanError::Busy => ApiError::new(ErrorKind::Overloaded, err.to_string()),
            ScanError::Internal => ApiError::internal(),
        }
    }
}

impl ApiError {
    /// A multipart body axum could not read: 1005 (naming the image limit `max_bytes`) when the
    /// body limit cut it off, 400 otherwise.
    pub fn from_multipart(err: &MultipartError, max_bytes: u64) -> Self {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            FetchError::TooLarge { limit: max_bytes }.into()
        } else {
            ApiError::bad_request(format!("bad multipart body: {}", err.body_text()))
        }
    }
}

impl From<OverBudget> for ApiError {
    fn from(err: OverBudget) -> Self {
        ApiError::new(ErrorKind::Overloaded, err.to_string())
    }
}

impl From<DecodeError> for ApiError {
    fn from(err: DecodeError) -> Self {
        let kind = match &err {
            DecodeError::NotAnImage(_) => ErrorKind::NotAnImage,
            // API.md's 1006 is about the image's dimensions: a shape no real image has is one.
            DecodeError::TooManyPixels { .. }
            | DecodeError::TooMuchMemory { .. }
            | DecodeError::TooElongated { .. }
            | DecodeError::TooComplex { .. }
            | DecodeError::PageStopped { .. } => ErrorKind::TooManyPixels,
            DecodeError::PdfNotEnabled => ErrorKind::NotAnImage,
            DecodeError::NoCode => ErrorKind::NoCode,
            DecodeError::Unreadable => ErrorKind::Unreadable,
        };
        ApiError::new(kind, err.to_string())
    }
}

/// Declares `DeepScanCode` from its table: each row is a variant, its `error.code` string, its
/// HTTP status and when it is answered.
macro_rules! deepscan_table {
    ($($kind:ident = $code:literal, $status:ident, $meaning:literal;)*) => {
        /// The `error.code` of the DeepScan routes (API.md section 8); one row each.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum DeepScanCode {
            $($kind,)*
        }

        impl DeepScanCode {
            /// Every code, in the order of API.md section 8.
            pub const ALL: &'static [DeepScanCode] = &[$(DeepScanCode::$kind),*];

            /// The `error.code` string.
            pub fn code(self) -> &'static str {
                match self {
                    $(DeepScanCode::$kind => $code,)*
                }
            }

            /// The HTTP status (the same whatever `--http-status` says: the mode is the
            /// envelope's).
            pub fn status(self) -> StatusCode {
                match self {
                    $(DeepScanCode::$kind => StatusCode::$status,)*
                }
            }

            /// A few words on when the code is answered.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(DeepScanCode::$kind => $meaning,)*
                }
            }
        }
    };
}

deepscan_table! {
    InvalidRequest = "INVALID_REQUEST", BAD_REQUEST, "body not JSON, no field given, or a field of the wrong type";
    InvalidBase64 = "INVALID_BASE64", BAD_REQUEST, "an image is not base64";
    InvalidUrl = "INVALID_URL", BAD_REQUEST, "URL invalid or not allowed";
    UrlNotImage = "URL_NOT_IMAGE", UNSUPPORTED_MEDIA_TYPE, "not an image in a supported format";
    UrlDownloadFailed = "URL_DOWNLOAD_FAILED", BAD_GATEWAY, "fetch failed or timed out";
    ImageTooLarge = "IMAGE_TOO_LARGE", PAYLOAD_TOO_LARGE, "over the byte, pixel or memory limit";
    BatchTooLarge = "BATCH_TOO_LARGE", BAD_REQUEST, "`urls` or `images` with more than 10 entries";
    Unauthorized = "UNAUTHORIZED", UNAUTHORIZED, "bad or missing key";
    RateLimited = "RATE_LIMITED", TOO_MANY_REQUESTS, "rate limit for this key or client exceeded";
    Busy = "BUSY", SERVICE_UNAVAILABLE, "decode queue or image memory budget full";
    Internal = "INTERNAL", INTERNAL_SERVER_ERROR, "bug";
}

/// What the DeepScan routes answer for an outcome of the shared use case: a DeepScan error, or
/// `None` for "no readable code", which DeepScan answers as a result with no codes.
///
/// | envelope `code` | DeepScan |
/// | --- | --- |
/// | 400 | `INVALID_REQUEST` (`INVALID_BASE64` where the edge decoded an image: `for_image`) |
/// | 403 | `UNAUTHORIZED` (401) |
/// | 429 / 503 / 500 | `RATE_LIMITED` / `BUSY` / `INTERNAL` |
/// | 1001, 1002 | `INVALID_URL`: the same answer whatever the reason (API.md section 8) |
/// | 1003, 1004 | `URL_DOWNLOAD_FAILED` |
/// | 1005, 1006 | `IMAGE_TOO_LARGE` |
/// | 1007 | `URL_NOT_IMAGE` |
/// | 1008, 1009 | no error: `{"count": 0, "codes": []}` |
/// | 404 / 405 | the router's envelope, never a DeepScan operation's |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeepScanError {
    pub code: DeepScanCode,
    pub message: String,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl DeepScanError {
    /// An error with `code` and `message`.
    pub fn new(code: DeepScanCode, message: impl Into<String>) -> Self {
        DeepScanError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The DeepScan answer to `err`; `None` when it is "no readable code".
    pub fn from_api(err: ApiError) -> Option<Self> {
        let code = match err.kind {
            ErrorKind::NoCode | ErrorKind::Unreadable => return None,
            ErrorKind::BadRequest | ErrorKind::NotFound | ErrorKind::MethodNotAllowed => {
                DeepScanCode::InvalidRequest
            }
            ErrorKind::Unauthorized => DeepScanCode::Unauthorized,
            ErrorKind::RateLimited => DeepScanCode::RateLimited,
            ErrorKind::Internal => DeepScanCode::Internal,
            ErrorKind::Overloaded => DeepScanCode::Busy,
            ErrorKind::InvalidUrl | ErrorKind::UrlNotAllowed => {
                // One answer for an invalid and a refused URL: which addresses the server may
                // reach is not the caller's to probe.
                return Some(DeepScanError::new(
                    DeepScanCode::InvalidUrl,
                    "the image URL is invalid or not allowed",
                ));
            }
            ErrorKind::FetchFailed | ErrorKind::FetchTimeout => DeepScanCode::UrlDownloadFailed,
            ErrorKind::TooLarge | ErrorKind::TooManyPixels => DeepScanCode::ImageTooLarge,
            ErrorKind::NotAnImage => DeepScanCode::UrlNotImage,
        };
        let retry_after = match code {
            DeepScanCode::Busy => Some(err.retry_after.unwrap_or(1)),
            DeepScanCode::RateLimited => err.retry_after,
            _ => None,
        };
        Some(DeepScanError {
            code,
            message: err.message,
            retry_after,
        })
    }

    /// The answer to a failure decoding an `image` field: its malformed-request case is
    /// `INVALID_BASE64`.
    pub fn for_image(err: ApiError) -> Self {
        match err.kind {
            ErrorKind::BadRequest => DeepScanError::new(DeepScanCode::InvalidBase64, err.message),
            _ => Self::from_api(err)
                .unwrap_or_else(|| DeepScanError::new(DeepScanCode::Internal, "internal error")),
        }
    }

    /// The code the access log and `qrscan_requests_total` count this answer under: the
    /// envelope code of the same outcome.
    pub fn log_code(&self) -> u32 {
        let kind = match self.code {
            DeepScanCode::InvalidRequest
            | DeepScanCode::InvalidBase64
            | DeepScanCode::BatchTooLarge => ErrorKind::BadRequest,
            DeepScanCode::InvalidUrl => ErrorKind::InvalidUrl,
            DeepScanCode::UrlNotImage => ErrorKind::NotAnImage,
            DeepScanCode::UrlDownloadFailed => ErrorKind::FetchFailed,
            DeepScanCode::ImageTooLarge => ErrorKind::TooLarge,
            DeepScanCode::Unauthorized => ErrorKind::Unauthorized,
            DeepScanCode::RateLimited => ErrorKind::RateLimited,
            DeepScanCode::Busy => ErrorKind::Overloaded,
            DeepScanCode::Internal => ErrorKind::Internal,
        };
        kind.code()
    }

    /// The header the answer carries: `Retry-After` for 429 and 503.
    pub fn header(&self) -> Option<(HeaderName, HeaderValue)> {
        self.retry_after
            .map(|seconds| (header::RETRY_AFTER, HeaderValue::from(seconds)))
    }
}

/// The legacy web decoder (API.md section 9) answers every outcome with HTTP 200: success is
/// `status: 1`; any failure, "no code found" and refused keys, rate limits and a busy server
/// included, is `status: 0` with the envelope's message as `data.info`. Its only status is
/// this one.
pub const DEQR_STATUS: StatusCode = StatusCode::OK;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_mode_answers_200_for_business_codes_and_keeps_protocol_statuses() {
        assert_eq!(
            ErrorKind::NoCode.status(HttpStatusMode::Compat),
            StatusCode::OK
        );
        assert_eq!(
            ErrorKind::BadRequest.status(HttpStatusMode::Compat),
            StatusCode::OK
        );
        assert_eq!(
            ErrorKind::Unauthorized.status(HttpStatusMode::Compat),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ErrorKind::Overloaded.status(HttpStatusMode::Compat),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    /// API.md section 8: each envelope kind's DeepScan answer and status. `INTERNAL` is only
    /// reachable through a bug, so this is where its row is held.
    #[test]
    fn the_deepscan_table_follows_api_md_section_8() {
        let rows = [
            (ErrorKind::BadRequest, Some(("INVALID_REQUEST", 400))),
            (ErrorKind::Unauthorized, Some(("UNAUTHORIZED", 401))),
            (ErrorKind::RateLimited, Some(("RATE_LIMITED", 429))),
            (ErrorKind::Internal, Some(("INTERNAL", 500))),
            (ErrorKind::Overloaded, Some(("BUSY", 503))),
            (ErrorKind::InvalidUrl, Some(("INVALID_URL", 400))),
            (ErrorKind::UrlNotAllowed, Some(("INVALID_URL", 400))),
            (ErrorKind::FetchFailed, Some(("URL_DOWNLOAD_FAILED", 502))),
            (ErrorKind::FetchTimeout, Some(("URL_DOWNLOAD_FAILED", 502))),
            (ErrorKind::TooLarge, Some(("IMAGE_TOO_LARGE", 413))),
            (ErrorKind::TooManyPixels, Some(("IMAGE_TOO_LARGE", 413))),
            (ErrorKind::NotAnImage, Some(("URL_NOT_IMAGE", 415))),
            (ErrorKind::NoCode, None),
            (ErrorKind::Unreadable, None),
        ];
        for (kind, expected) in rows {
            let answer = DeepScanError::from_api(ApiError::new(kind, "x"));
            let got = answer
                .as_ref()
                .map(|err| (err.code.code(), err.code.status().as_u16()));
            assert_eq!(got, expected, "{kind:?}");
        }
        let internal = DeepScanError::from_api(ApiError::internal()).unwrap();
        assert_eq!(internal.log_code(), 500);
        assert!(internal.header().is_none());
        let busy = DeepScanError::from_api(ApiError::new(ErrorKind::Overloaded, "x")).unwrap();
        assert_eq!(busy.header().unwrap().1, "1");
        let base64 = DeepScanError::for_image(ApiError::bad_request("not base64"));
        assert_eq!(base64.code, DeepScanCode::InvalidBase64);
        assert_eq!(DeepScanCode::BatchTooLarge.status().as_u16(), 400);
    }

    #[test]
    fn a_memory_refusal_is_1006_and_says_the_image_needs_more_decoder_memory() {
        let refusal = |needed| {
            ApiError::from(DecodeError::TooMuchMemory {
                width: 1100,
                height: 1000,
                needed,
                limit: 1_048_576,
            })
        };
        let counted = refusal(Some(1_117_600));
        assert_eq!(counted.code(), 1006);
        assert_eq!(
            counted.message,
            "image is 1100x1000 pixels and needs 1117600 bytes of decoder memory, over the limit of 1048576 bytes"
        );
        let uncounted = refusal(None);
        assert_eq!(uncounted.code(), 1006);
        assert_eq!(
            uncounted.message,
            "image is 1100x1000 pixels and needs more decoder memory than the limit of 1048576 bytes"
        );
    }

    #[test]
    fn rest_mode_follows_the_table_of_api_md_section_4() {
        let rows = [
            (ErrorKind::BadRequest, 400, 400),
            (ErrorKind::Unauthorized, 403, 401),
            (ErrorKind::NotFound, 404, 404),
            (ErrorKind::MethodNotAllowed, 405, 405),
            (ErrorKind::Internal, 500, 500),
            (ErrorKind::Overloaded, 503, 503),
            (ErrorKind::InvalidUrl, 1001, 400),
            (ErrorKind::UrlNotAllowed, 1002, 403),
            (ErrorKind::FetchFailed, 1003, 502),
            (ErrorKind::FetchTimeout, 1004, 504),
            (ErrorKind::TooLarge, 1005, 413),
            (ErrorKind::TooManyPixels, 1006, 422),
            (ErrorKind::NotAnImage, 1007, 415),
            (ErrorKind::NoCode, 1008, 422),
            (ErrorKind::Unreadable, 1009, 422),
        ];
        for (kind, code, status) in rows {
            assert_eq!(kind.code(), code, "{kind:?}");
            assert_eq!(
                kind.status(HttpStatusMode::Rest).as_u16(),
                status,
                "{kind:?}"
            );
        }
    }
}
