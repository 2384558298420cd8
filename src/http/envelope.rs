//! The envelope every `/api/...` answer is (API.md section 2), and `respond`, the one function
//! that turns an outcome into a response: the status and extra headers come from `error.rs`, and
//! the `code` is left on the response for the `observe` middleware to log and count.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::config::HttpStatusMode;
use crate::error::{self, ApiError};
use crate::observe::ResponseCode;
use crate::scan::ScanData;

/// The body of every `/api/...` response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope {
    /// 0 on success; otherwise a code of the table in the route description.
    pub code: u32,
    /// `ok`, or a sentence a person can act on.
    pub message: String,
    /// The result on success, `null` on failure.
    #[schema(required = true)]
    pub data: Option<ScanData>,
}

impl Envelope {
    /// The envelope for a scan outcome.
    pub fn from_result(result: &Result<ScanData, ApiError>) -> Self {
        match result {
            Ok(data) => Envelope {
                code: 0,
                message: "ok".into(),
                data: Some(data.clone()),
            },
            Err(err) => Envelope {
                code: err.code(),
                message: err.message.clone(),
                data: None,
            },
        }
    }
}

/// Renders an outcome as the envelope with the status (and headers) `mode` gives its code.
pub fn respond(mode: HttpStatusMode, result: Result<ScanData, ApiError>) -> Response {
    let envelope = Envelope::from_result(&result);
    let code = envelope.code;
    let (status, header) = match &result {
        Ok(_) => (error::SUCCESS, None),
        Err(err) => (err.kind.status(mode), err.header(mode)),
    };
    let mut response = (status, Json(envelope)).into_response();
    response.extensions_mut().insert(ResponseCode(code));
    if let Some((name, value)) = header {
        response.headers_mut().insert(name, value);
    }
    response
}
