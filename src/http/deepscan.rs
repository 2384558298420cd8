//! cli.im's DeepScan routes (API.md section 8): `POST /x-deepscan/vision/detect` (JSON: `url`,
//! `image`, `urls`, `images`) and `POST /x-deepscan/vision/detect/upload` (multipart `file`).
//! A thin edge over the same `Scanner` as the envelope routes; only the shapes differ. The
//! error codes and statuses are `error::DeepScanError`'s.
//!
//! A batch (several fields, or a list) runs its items concurrently: each fetches and decodes
//! through the same byte budget and decode pool as any request, so a batch can never hold more
//! than `--max-buffered-bytes` nor run more than `--workers` + `--queue` decodes; an item the
//! pool or budget refuses fails alone, as `BUSY`. Its JSON body may be as large as the base64 of
//! every image it can carry (`batch_body_limit`); a body declared over that is `IMAGE_TOO_LARGE`
//! before a byte of it is read.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::admission;
use super::body::{self, framed_limit};
use super::state::AppState;
use crate::budget::HeldBytes;
use crate::error::{ApiError, DeepScanCode, DeepScanError, ErrorKind};
use crate::fetch::max_base64_len;
use crate::observe::ResponseCode;
use crate::payload::ContentType;
use crate::scan::{CodeData, ScanData};

/// Most entries of `urls`, and of `images`.
pub const MAX_BATCH: usize = 10;

/// The most images one request can carry: `image` and `images`.
const MAX_IMAGES: u64 = 1 + MAX_BATCH as u64;

/// The largest JSON body the detect route reads: every image it can carry at the image byte
/// limit, as base64, plus room for eleven URLs and the framing.
pub fn batch_body_limit(max_bytes: u64) -> u64 {
    max_base64_len(max_bytes)
        .saturating_mul(MAX_IMAGES)
        .saturating_add(framed_limit(0).saturating_mul(2))
}

/// JSON body of the detect route: at least one field.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only the schema of the body; `parse_request` reads it.
pub struct DetectRequest {
    /// An image URL, fetched like `scan_url`'s.
    url: Option<String>,
    /// The image as base64, or a base64 `data:` URL.
    image: Option<String>,
    /// Image URLs, at most 10.
    #[schema(max_items = 10)]
    urls: Option<Vec<String>>,
    /// Images as base64, at most 10.
    #[schema(max_items = 10)]
    images: Option<Vec<String>>,
}

/// Multipart body of the upload route.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only the schema of the body; `body::read_form` reads it.
pub struct DetectUploadForm {
    /// The image file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The answer for one image.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Detect {
    /// How many codes were found.
    pub count: usize,
    pub codes: Vec<DetectCode>,
}

/// One code, as DeepScan describes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DetectCode {
    pub content: String,
    /// `QR Code`, `Micro QR Code` or `rMQR Code`.
    #[schema(value_type = String, pattern = "^(QR Code|Micro QR Code|rMQR Code)$")]
    pub format: &'static str,
    pub content_type: ContentType,
    /// The axis-aligned box of the symbol's corners, image pixels.
    pub bbox: BBox,
    /// The corners: top-left, top-right, bottom-right, bottom-left of the symbol.
    #[schema(value_type = Vec<Vec<f32>>, min_items = 4, max_items = 4)]
    pub keypoints: [[f32; 2]; 4],
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// The page it was found on, from 1, when the input was a PDF (`--pdf-pages`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false, minimum = 1)]
    pub page: Option<u32>,
}

/// A box: left, top, right, bottom.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

/// The answer to a batch: every item's, in the order `url`, `image`, `urls...`, `images...`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Batch {
    /// Codes found in all items.
    pub count: usize,
    pub results: Vec<BatchItem>,
}

/// One item of a batch: its codes, or its error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Read {
        index: usize,
        input: Input,
        count: usize,
        codes: Vec<DetectCode>,
    },
    Failed {
        index: usize,
        input: Input,
        error: ErrorBody,
    },
}

/// What an item was given as.
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    Url,
    Image,
}

/// `{"error": {...}}`: a failed request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// A DeepScan error: its code (API.md section 8) and a sentence a person can act on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

impl From<&DeepScanError> for ErrorBody {
    fn from(err: &DeepScanError) -> Self {
        ErrorBody {
            code: err.code.code(),
            message: err.message.clone(),
        }
    }
}

fn format_name(format: qrscan_decode::Format) -> &'static str {
    match format {
        qrscan_decode::Format::QRCode => "QR Code",
        qrscan_decode::Format::MicroQRCode => "Micro QR Code",
        qrscan_decode::Format::RMQRCode => "rMQR Code",
    }
}

fn detect_code(code: &CodeData) -> DetectCode {
    let xs = code.points.iter().map(|p| p[0]);
    let ys = code.points.iter().map(|p| p[1]);
    DetectCode {
        content: code.content.clone(),
        format: format_name(code.format),
        content_type: code.content_type,
        bbox: BBox {
            x1: xs.clone().fold(f32::INFINITY, f32::min),
            y1: ys.clone().fold(f32::INFINITY, f32::min),
            x2: xs.fold(f32::NEG_INFINITY, f32::max),
            y2: ys.fold(f32::NEG_INFINITY, f32::max),
        },
        keypoints: code.points,
        confidence: code.confidence,
        page: code.page,
    }
}

/// One image's outcome as DeepScan's codes; "no readable code" is none, not an error.
fn detect(result: Result<ScanData, ApiError>) -> Result<Vec<DetectCode>, DeepScanError> {
    match result {
        Ok(data) => Ok(data.codes.iter().map(detect_code).collect()),
        Err(err) => match DeepScanError::from_api(err) {
            Some(err) => Err(err),
            None => Ok(Vec::new()),
        },
    }
}

/// Renders a whole-request failure.
pub fn refuse(err: &DeepScanError) -> Response {
    let mut response = (
        err.code.status(),
        Json(ErrorResponse {
            error: ErrorBody::from(err),
        }),
    )
        .into_response();
    response
        .extensions_mut()
        .insert(ResponseCode(err.log_code()));
    if let Some((name, value)) = err.header() {
        response.headers_mut().insert(name, value);
    }
    response
}

fn answer(body: impl Serialize, code: u32) -> Response {
    let mut response = (crate::error::SUCCESS, Json(body)).into_response();
    response.extensions_mut().insert(ResponseCode(code));
    response
}

/// Middleware of the DeepScan routes, after `http::authenticate`: the same admission (rate
/// limit, then key) as the envelope routes, with DeepScan's answers.
pub async fn admit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let admitted =
        admission::caller_of(&request).and_then(|caller| admission::check(&state, &caller));
    match admitted {
        Ok(()) => next.run(request).await,
        Err(refusal) => match DeepScanError::from_api(refusal) {
            Some(err) => refuse(&err),
            None => refuse(&DeepScanError::new(
                DeepScanCode::Internal,
                "internal error",
            )),
        },
    }
}

/// One image to read: a URL, or an `image` field still as text.
enum Item {
    Url(String),
    Image(String),
}

impl Item {
    fn input(&self) -> Input {
        match self {
            Item::Url(_) => Input::Url,
            Item::Image(_) => Input::Image,
        }
    }
}

/// The images a detect body names, in order, and whether they make a batch. The texts are
/// moved out of the parsed body, not copied: a batch body can be a hundred megabytes.
fn parse_request(body: &[u8]) -> Result<(Vec<Item>, bool), DeepScanError> {
    let invalid = |message: String| DeepScanError::new(DeepScanCode::InvalidRequest, message);
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the request body is not valid JSON: {e}")))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(invalid("the request body must be a JSON object".into()));
    };
    let mut take = |name: &str| object.remove(name).filter(|v| !v.is_null());
    let text = |value: Option<serde_json::Value>, name: &str| match value {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(format!("`{name}` must be a string"))),
    };
    let list = |value: Option<serde_json::Value>, name: &str| {
        let Some(value) = value else {
            return Ok(None);
        };
        let serde_json::Value::Array(items) = value else {
            return Err(invalid(format!("`{name}` must be a list of strings")));
        };
        if items.len() > MAX_BATCH {
            return Err(DeepScanError::new(
                DeepScanCode::BatchTooLarge,
                format!("`{name}` has {} entries; at most {MAX_BATCH}", items.len()),
            ));
        }
        items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(text) => Ok(text),
                _ => Err(invalid(format!("`{name}` must be a list of strings"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    let (url, image) = (take("url"), take("image"));
    let (urls, images) = (take("urls"), take("images"));
    // The list limit is checked first: an 11-entry list is BATCH_TOO_LARGE whatever else is wrong.
    let (urls, images) = (list(urls, "urls")?, list(images, "images")?);
    let (url, image) = (text(url, "url")?, text(image, "image")?);
    let batch = urls.is_some() || images.is_some() || (url.is_some() && image.is_some());
    let items: Vec<Item> = url
        .into_iter()
        .map(Item::Url)
        .chain(image.into_iter().map(Item::Image))
        .chain(urls.into_iter().flatten().map(Item::Url))
        .chain(images.into_iter().flatten().map(Item::Image))
        .collect();
    if items.is_empty() {
        return Err(invalid(
            "give `url`, `image`, `urls` or `images` (at least one image)".into(),
        ));
    }
    Ok((items, batch))
}

/// Reads one item: fetches or decodes its bytes and scans them, through the shared limits.
async fn read_item(state: &AppState, item: Item) -> Result<Vec<DetectCode>, DeepScanError> {
    let scanner = &state.scanner;
    let formats = scanner.formats();
    match item {
        Item::Url(url) => detect(
            scanner
                .scan_url(&url, formats)
                .await
                .map_err(ApiError::from),
        ),
        Item::Image(text) => {
            let max_bytes = scanner.fetcher.options().max_bytes;
            let bytes = body::image_from_text(&text, &scanner.budget, max_bytes)
                .map_err(DeepScanError::for_image)?;
            drop(text);
            if bytes.is_empty() {
                return Err(DeepScanError::new(
                    DeepScanCode::InvalidBase64,
                    "the image is empty",
                ));
            }
            detect(scan_held(state, bytes).await)
        }
    }
}

async fn scan_held(state: &AppState, bytes: HeldBytes) -> Result<ScanData, ApiError> {
    let scanner = &state.scanner;
    Ok(scanner.scan_bytes(bytes, scanner.formats()).await?)
}

/// `POST /x-deepscan/vision/detect`: one image (`url` or `image`) or a batch.
#[utoipa::path(
    post,
    path = "/x-deepscan/vision/detect",
    tag = "deepscan",
    request_body(content = DetectRequest, content_type = "application/json"),
    // `openapi.rs` writes every status from `DeepScanCode`, the error table.
    responses((status = 200, description = "The codes found", body = Detect))
)]
pub async fn detect_json(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let scanner = &state.scanner;
    let max_bytes = scanner.fetcher.options().max_bytes;
    let limit = batch_body_limit(max_bytes);
    let read = async {
        body::refuse_declared_over(&request, limit, max_bytes)?;
        let read = body::read_body(request.into_body(), &scanner.budget, limit, max_bytes);
        body::within_fetch_timeout(scanner, read).await
    };
    let held = match read.await {
        Ok(held) => held,
        Err(err) => {
            let err = DeepScanError::from_api(err)
                .unwrap_or_else(|| DeepScanError::new(DeepScanCode::Internal, "internal error"));
            return refuse(&err);
        }
    };
    let (items, batch) = match parse_request(held.as_ref()) {
        Ok(parsed) => parsed,
        Err(err) => return refuse(&err),
    };
    // `items` hold a copy of the body: its reservation now stands for them until they are read.
    let reservation = held.into_reservation();
    if !batch {
        let outcome = match items.into_iter().next() {
            Some(item) => read_item(&state, item).await,
            None => Err(DeepScanError::new(DeepScanCode::Internal, "internal error")),
        };
        drop(reservation);
        return match outcome {
            Ok(codes) => answer(
                Detect {
                    count: codes.len(),
                    codes,
                },
                0,
            ),
            Err(err) => refuse(&err),
        };
    }
    let inputs: Vec<Input> = items.iter().map(Item::input).collect();
    let outcomes =
        futures_util::future::join_all(items.into_iter().map(|item| read_item(&state, item))).await;
    drop(reservation);
    let results: Vec<BatchItem> = outcomes
        .into_iter()
        .zip(inputs)
        .enumerate()
        .map(|(index, (outcome, input))| match outcome {
            Ok(codes) => BatchItem::Read {
                index,
                input,
                count: codes.len(),
                codes,
            },
            Err(err) => BatchItem::Failed {
                index,
                input,
                error: ErrorBody::from(&err),
            },
        })
        .collect();
    let count = results
        .iter()
        .map(|item| match item {
            BatchItem::Read { count, .. } => *count,
            BatchItem::Failed { .. } => 0,
        })
        .sum();
    answer(Batch { count, results }, 0)
}

/// `POST /x-deepscan/vision/detect/upload`: the image as multipart field `file`.
#[utoipa::path(
    post,
    path = "/x-deepscan/vision/detect/upload",
    tag = "deepscan",
    request_body(content = DetectUploadForm, content_type = "multipart/form-data"),
    // `openapi.rs` writes every status from `DeepScanCode`, the error table.
    responses((status = 200, description = "The codes found", body = Detect))
)]
pub async fn detect_upload(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let scanner = &state.scanner;
    let max_bytes = scanner.fetcher.options().max_bytes;
    let outcome = async {
        body::refuse_declared_over(&request, framed_limit(max_bytes), max_bytes)
            .map_err(DeepScanError::for_image)?;
        let read = body::read_form(request, &scanner.budget, max_bytes);
        let form = body::within_fetch_timeout(scanner, read)
            .await
            .map_err(|err| match err.kind {
                ErrorKind::BadRequest => {
                    DeepScanError::new(DeepScanCode::InvalidRequest, err.message)
                }
                _ => DeepScanError::for_image(err),
            })?;
        if form.file.is_empty() {
            return Err(DeepScanError::new(
                DeepScanCode::InvalidRequest,
                "the uploaded file is empty",
            ));
        }
        detect(scan_held(&state, form.file).await)
    };
    match outcome.await {
        Ok(codes) => answer(
            Detect {
                count: codes.len(),
                codes,
            },
            0,
        ),
        Err(err) => refuse(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> Result<(Vec<Input>, bool), DeepScanCode> {
        parse_request(body.as_bytes())
            .map(|(items, batch)| (items.iter().map(Item::input).collect(), batch))
            .map_err(|err| err.code)
    }

    #[test]
    fn one_url_or_one_image_is_single_and_anything_more_a_batch() {
        assert!(matches!(parsed(r#"{"url":"u"}"#), Ok((i, false)) if i.len() == 1));
        assert!(matches!(parsed(r#"{"image":"AA=="}"#), Ok((i, false)) if i.len() == 1));
        assert!(matches!(parsed(r#"{"url":"u","image":"i"}"#), Ok((i, true)) if i.len() == 2));
        assert!(matches!(parsed(r#"{"urls":["u"]}"#), Ok((i, true)) if i.len() == 1));
        let mixed = parsed(r#"{"images":["a"],"urls":["b","c"],"url":"d"}"#).unwrap();
        assert!(mixed.1);
        assert!(matches!(
            mixed.0[..],
            [Input::Url, Input::Url, Input::Url, Input::Image]
        ));
    }

    #[test]
    fn malformed_bodies_and_long_lists_are_refused_with_their_codes() {
        let eleven = format!(r#"{{"urls":[{}]}}"#, [r#""u""#; 11].join(","));
        for (body, code) in [
            ("not json", DeepScanCode::InvalidRequest),
            ("[]", DeepScanCode::InvalidRequest),
            ("{}", DeepScanCode::InvalidRequest),
            (r#"{"url":null}"#, DeepScanCode::InvalidRequest),
            (r#"{"urls":[]}"#, DeepScanCode::InvalidRequest),
            (r#"{"url":5}"#, DeepScanCode::InvalidRequest),
            (r#"{"urls":"u"}"#, DeepScanCode::InvalidRequest),
            (r#"{"images":[1]}"#, DeepScanCode::InvalidRequest),
            (eleven.as_str(), DeepScanCode::BatchTooLarge),
        ] {
            assert_eq!(parsed(body).err(), Some(code), "{body}");
        }
    }

    #[test]
    fn the_batch_body_limit_grows_with_the_image_limit_and_the_batch() {
        let limit = batch_body_limit(10 * 1024 * 1024);
        assert!(limit > 11 * max_base64_len(10 * 1024 * 1024));
        assert!(limit < 12 * max_base64_len(10 * 1024 * 1024));
    }
}
