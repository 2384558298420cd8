//! Request bodies, read under three limits: the byte limit (`--max-image-bytes`, 1005), the
//! server's byte budget (`--max-buffered-bytes`, 503) and the time a download would get
//! (`--fetch-timeout`, 1004). A declared `Content-Length` over the byte limit is refused before
//! the body is read, so before `100 Continue`. Every body is pushed chunk by chunk into a
//! `HeldBytes`, which enforces the first two. `HeldJson` is the JSON extractor built on it: its rejection is our
//! envelope, never axum's plain text. `read_upload` takes an image in any of the upload forms.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;

use super::envelope::respond;
use super::request::{parse_json, JsonBody, ScanImageForm, ScanImageRequest};
use super::state::AppState;
use crate::budget::{ByteBudget, HeldBytes, Refused, Reservation};
use crate::error::{ApiError, ErrorKind};
use crate::fetch::{decode_data_url, max_base64_len, FetchError};
use crate::scan::Scanner;
use qrscan_decode::Formats;

/// The largest body that can carry an image of `max_bytes`: base64, and JSON or multipart framing
/// around it, make a body larger than the image in it.
pub fn framed_limit(max_bytes: u64) -> u64 {
    max_base64_len(max_bytes).saturating_add(64 * 1024)
}

pub(super) fn too_large(max_bytes: u64) -> ApiError {
    ApiError::from(FetchError::TooLarge { limit: max_bytes })
}

/// 1005 at once when the body's declared `Content-Length` is over `limit`. Checked before the
/// body is first polled, which is when hyper would send `100 Continue`: a client that asked
/// first hears the refusal without sending a byte, and nobody waits `--fetch-timeout` for a
/// body that would be cut anyway. A body with no length (chunked) is cut as it arrives.
pub(super) fn refuse_declared_over(
    request: &Request,
    limit: u64,
    max_bytes: u64,
) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => Err(too_large(max_bytes)),
        _ => Ok(()),
    }
}

/// Runs `read` (the reading of a request body) within `--fetch-timeout`, the time a download
/// of the same image would get: a client trickling its body must not hold a connection, and
/// the bytes it has sent, for ever. Past it, 1004.
pub async fn within_fetch_timeout<T>(
    scanner: &Scanner,
    read: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let limit = scanner.fetcher.options().fetch_timeout;
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            ErrorKind::FetchTimeout,
            "the request body did not arrive within the time limit",
        ))
    })
}

/// Reads a body chunk by chunk, each held against `budget` as it arrives: more than `limit`
/// bytes is 1005 (naming the image limit `max_bytes`), a chunk the budget cannot take at once
/// is 503.
pub(super) async fn read_body(
    body: Body,
    budget: &ByteBudget,
    limit: u64,
    max_bytes: u64,
) -> Result<HeldBytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut held = budget.buffer(limit);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if let Err(refused) = held.push(&chunk) {
            let Refused::OverBudget(busy) = refused else {
                return Err(too_large(max_bytes));
            };
            let mut left = held.limit() - held.len();
            discard_rest(async move {
                while let Some(Ok(chunk)) = stream.next().await {
                    let Some(still) = left.checked_sub(chunk.len()) else {
                        return;
                    };
                    left = still;
                }
            });
            return Err(busy.into());
        }
    }
    Ok(held)
}

/// How long the rest of a refused body is read for.
const DISCARD_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `drain`, which reads and drops the rest of a refused request body, beside the 503: a
/// client still sending would otherwise see the connection reset instead of the answer. The
/// bytes are dropped as they arrive, so this holds no budget.
pub(super) fn discard_rest(drain: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(tokio::time::timeout(DISCARD_FOR, drain));
}

/// `T` parsed from a JSON body read under the limits above. It keeps the body's reservation
/// while it lives: the parsed value is a copy about as large as the body, and a `data:` URL in it
/// is as large as an image.
pub struct HeldJson<T> {
    /// The parsed body.
    pub value: T,
    _reservation: Reservation,
}

impl<T: JsonBody + Send> FromRequest<Arc<AppState>> for HeldJson<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let scanner = &state.scanner;
        let max_bytes = scanner.fetcher.options().max_bytes;
        let limit = framed_limit(max_bytes);
        let held = async {
            refuse_declared_over(&request, limit, max_bytes)?;
            let read = read_body(request.into_body(), &scanner.budget, limit, max_bytes);
            let body = within_fetch_timeout(scanner, read).await?;
            let value = parse_json::<T>(body.as_ref())?;
            Ok::<_, ApiError>(HeldJson {
                value,
                _reservation: body.into_reservation(),
            })
        };
        held.await
            .map_err(|err| respond(state.http_status, Err(err)))
    }
}

/// An upload: the image bytes, and the formats its JSON body asks for.
pub struct Upload {
    pub bytes: HeldBytes,
    pub formats: Option<Formats>,
}

/// The image bytes of an upload, whatever its form, within the byte limit and the byte budget.
pub async fn read_upload(request: Request, scanner: &Scanner) -> Result<Upload, ApiError> {
    let max_bytes = scanner.fetcher.options().max_bytes;
    let budget = &scanner.budget;
    // Every buffer below is capped at `max_bytes`; only emptiness is left to check.
    let check_size = |bytes: HeldBytes| {
        if bytes.is_empty() {
            Err(ApiError::bad_request("the uploaded image is empty"))
        } else {
            Ok(bytes)
        }
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();

    match essence.as_str() {
        "multipart/form-data" => {
            refuse_declared_over(&request, framed_limit(max_bytes), max_bytes)?;
            Ok(Upload {
                bytes: check_size(read_form(request, budget, max_bytes).await?.file)?,
                formats: None,
            })
        }
        "application/json" => {
            refuse_declared_over(&request, framed_limit(max_bytes), max_bytes)?;
            let body = read_body(request.into_body(), budget, framed_limit(max_bytes), max_bytes)
                .await?;
            let request: ScanImageRequest = parse_json(body.as_ref())?;
            // `request` holds a copy of the body: the body's reservation now stands for it.
            let _request = body.into_reservation();
            let bytes = image_from_text(&request.image, budget, max_bytes)?;
            Ok(Upload {
                bytes: check_size(bytes)?,
                formats: request.formats,
            })
        }
        // A PDF is taken whatever `--pdf-pages` says: without it, the decoder's 1007 tells the
        // caller how the server reads one, which a 400 for the media type would not.
        t if t.starts_with("image/")
            || t == "application/octet-stream"
            || t == "application/pdf" =>
        {
            refuse_declared_over(&request, max_bytes, max_bytes)?;
            Ok(Upload {
                bytes: check_size(
                    read_body(request.into_body(), budget, max_bytes, max_bytes).await?,
                )?,
                formats: None,
            })
        }
        "" => Err(ApiError::bad_request(
            "missing Content-Type: send multipart/form-data, image/*, application/pdf, application/octet-stream or application/json",
        )),
        other => Err(ApiError::bad_request(format!(
            "unsupported Content-Type `{other}`: send multipart/form-data, image/*, application/pdf, application/octet-stream or application/json"
        ))),
    }
}

/// The image an `image` field holds: base64, or a base64 `data:` URL, held against `budget`.
/// Text that is not base64 is a 400; an image over `max_bytes` 1005; the budget full 503.
pub(super) fn image_from_text(
    image: &str,
    budget: &ByteBudget,
    max_bytes: u64,
) -> Result<HeldBytes, ApiError> {
    let image = image.trim();
    if image.starts_with("data:") {
        decode_data_url(image, max_bytes, budget).map_err(|err| match err {
            FetchError::TooLarge { .. } => too_large(max_bytes),
            FetchError::Busy(busy) => busy.into(),
            _ => ApiError::bad_request("`image` is not a valid base64 data: URL"),
        })
    } else {
        if image.len() as u64 > max_base64_len(max_bytes) {
            return Err(too_large(max_bytes));
        }
        decode_base64(image, budget, max_bytes)
    }
}

/// Streams a multipart body: only the `file` field is kept, and it is held as it arrives.
pub(super) async fn read_form(
    request: Request,
    budget: &ByteBudget,
    max_bytes: u64,
) -> Result<ScanImageForm, ApiError> {
    let bad =
        |err: axum::extract::multipart::MultipartError| ApiError::from_multipart(&err, max_bytes);
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("bad multipart body: {}", e.body_text())))?;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut file = budget.buffer(max_bytes);
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if let Err(refused) = file.push(&chunk) {
                let Refused::OverBudget(busy) = refused else {
                    return Err(too_large(max_bytes));
                };
                drop(field);
                // The body limit of the multipart reader bounds this.
                discard_rest(async move {
                    while let Ok(Some(mut field)) = multipart.next_field().await {
                        while let Ok(Some(_)) = field.chunk().await {}
                    }
                });
                return Err(busy.into());
            }
        }
        return Ok(ScanImageForm { file });
    }
    Err(ApiError::bad_request(
        "the multipart body has no `file` field",
    ))
}

/// Decodes standard base64 a block at a time, holding the bytes against `budget` as they come.
/// Line breaks are skipped wherever they are: base64 wrapped at 76 columns (what the `base64`
/// command and MIME write) or 64 (PEM), with `\n` or `\r\n`, is the same image. Any other
/// character outside the alphabet is still refused.
fn decode_base64(text: &str, budget: &ByteBudget, max_bytes: u64) -> Result<HeldBytes, ApiError> {
    let mut reader = base64::read::DecoderReader::new(Unwrapped(text.as_bytes()), &STANDARD);
    // The decoded bytes are three quarters of the text.
    let mut held = budget
        .buffer(max_bytes)
        .expecting(text.len() as u64 / 4 * 3 + 3);
    let mut block = [0u8; 8 * 1024];
    loop {
        let read = std::io::Read::read(&mut reader, &mut block)
            .map_err(|_| ApiError::bad_request("`image` is not valid base64"))?;
        if read == 0 {
            return Ok(held);
        }
        held.push(&block[..read]).map_err(FetchError::from)?;
    }
}

/// Base64 text read without its line breaks (`\n` and `\r`), with no copy of the text.
struct Unwrapped<'a>(&'a [u8]);

impl std::io::Read for Unwrapped<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            let Some((&byte, rest)) = self.0.split_first() else {
                break;
            };
            self.0 = rest;
            if byte != b'\n' && byte != b'\r' {
                buf[written] = byte;
                written += 1;
            }
        }
        Ok(written)
    }
}
