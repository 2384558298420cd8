//! The one error table: every business `code` of API.md section 4, its message and its HTTP
//! status in both `--http-status` modes are decided here and nowhere else.
//!
//! Lower layers (`scan`, and through it `fetch` and `decode`) report typed errors; the `From`
//! impls below are the only translation into codes, so "what does the API answer when X?" is
//! answered by this file. It is also the only module that names an HTTP status or the headers a
//! code adds. Nothing here sees the network or an image.

use axum::extract::multipart::MultipartError;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};

use crate::budget::OverBudget;
use crate::config::HttpStatusMode;
use crate::decode::DecodeError;
use crate::fetch::FetchError;
use crate::scan::ScanError;

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

    /// A local input of `qrscan scan` (a file, stdin) that could not be read: reported like an
    /// image that could not be fetched.
    pub fn unreadable_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FetchFailed, message)
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
            | DecodeError::TooElongated { .. } => ErrorKind::TooManyPixels,
            DecodeError::NoCode => ErrorKind::NoCode,
            DecodeError::Unreadable => ErrorKind::Unreadable,
        };
        ApiError::new(kind, err.to_string())
    }
}

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
