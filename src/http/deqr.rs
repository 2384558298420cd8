//! cli.im's legacy web decoder (API.md section 9): `GET` or `POST /Api/Browser/deqr`, its path
//! matched in any case, with parameter `data` (an `http(s)` image URL, or the image as base64)
//! in the query string, an urlencoded form body or a multipart body. Always HTTP 200 JSON:
//! `{"status": 1, "data": {"RawData", "utf8"}}`, or `{"status": 0, "data": {"info"}}` with the
//! envelope's message (`error::DEQR_STATUS`). A thin edge over the same `Scanner`.
//!
//! Legacy callers often cannot set headers, so the key may also come as parameter `key`
//! (query or body). A key in the body can only be read with the body, so this route has no
//! authentication layer in front of it: once the parameters are read it says who the caller is
//! (`auth::identify`, with the parameter) and admits it (`admission::check`: rate limit, then
//! key) itself, in the same order as the layers of the other routes. The body is read under the
//! same byte limit, budget and time limit as any upload.
//!
//! Base64 sent in a form body without escaping has its `+` read as a space by form decoding;
//! spaces (and line breaks) are read back as `+` (and nothing) before decoding.

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::body::{self, framed_limit};
use super::state::AppState;
use super::{admission, auth, caller};
use crate::budget::HeldBytes;
use crate::error::{ApiError, ErrorKind, DEQR_STATUS};
use crate::observe::{ResponseCode, RouteLabel};

/// The route as cli.im spells it; any other casing of it is the same route.
pub const PATH: &str = "/Api/Browser/deqr";

/// Whether `path` is the decoder's, in any case.
pub fn is_path(path: &str) -> bool {
    path.eq_ignore_ascii_case(PATH)
}

/// The answer, success or failure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeqrResponse {
    /// 1 on success, 0 on failure.
    #[schema(minimum = 0, maximum = 1)]
    pub status: u8,
    pub data: DeqrData,
}

/// `data` of the answer: the text on success, a sentence on failure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum DeqrData {
    Read {
        /// Text of the first code.
        #[serde(rename = "RawData")]
        raw_data: String,
        /// The same text.
        utf8: String,
    },
    Failed {
        /// What went wrong, for a person.
        info: String,
    },
}

/// An urlencoded form body of the decoder (the multipart form has the same fields).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only the schema of the body; `parameters` reads it.
pub struct DeqrForm {
    /// An `http(s)` image URL, or the image as base64 (a `data:` prefix allowed).
    data: Option<String>,
    /// The API key, for callers that cannot send `Authorization`.
    key: Option<String>,
}

/// What the request says: `data` and `key`, each the first one given (query before body).
#[derive(Default)]
struct Parameters {
    data: Option<Data>,
    key: Option<String>,
}

/// `data`, as text or as the bytes of an uploaded file.
enum Data {
    Text(String),
    File(HeldBytes),
}

fn respond(result: Result<String, ApiError>) -> Response {
    let (status, data, code) = match result {
        Ok(text) => (
            1,
            DeqrData::Read {
                raw_data: text.clone(),
                utf8: text,
            },
            0,
        ),
        Err(err) => (
            0,
            DeqrData::Failed {
                info: err.message.clone(),
            },
            err.code(),
        ),
    };
    let mut response = (DEQR_STATUS, Json(DeqrResponse { status, data })).into_response();
    response.extensions_mut().insert(ResponseCode(code));
    response.extensions_mut().insert(RouteLabel(PATH));
    response
}

/// Adds the pairs of an urlencoded string to `parameters` where they are still missing.
fn add_pairs(parameters: &mut Parameters, encoded: &[u8]) {
    for (name, value) in url::form_urlencoded::parse(encoded) {
        match name.as_ref() {
            "data" if parameters.data.is_none() => {
                parameters.data = Some(Data::Text(value.into_owned()));
            }
            "key" if parameters.key.is_none() => parameters.key = Some(value.into_owned()),
            _ => {}
        }
    }
}

/// Reads `data` and `key` from the query string and, for a POST, the body.
async fn parameters(state: &AppState, request: Request) -> Result<Parameters, ApiError> {
    let mut parameters = Parameters::default();
    add_pairs(
        &mut parameters,
        request.uri().query().unwrap_or_default().as_bytes(),
    );
    if request.method() != Method::POST {
        return Ok(parameters);
    }
    let scanner = &state.scanner;
    let max_bytes = scanner.fetcher.options().max_bytes;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    body::refuse_declared_over(&request, framed_limit(max_bytes), max_bytes)?;
    if content_type == "multipart/form-data" {
        let read = read_multipart(request, &mut parameters, state, max_bytes);
        body::within_fetch_timeout(scanner, read).await?;
        return Ok(parameters);
    }
    // Urlencoded, or no type at all (a bare `curl -d`): the body is read as a form.
    let read = body::read_body(
        request.into_body(),
        &scanner.budget,
        framed_limit(max_bytes),
        max_bytes,
    );
    let held = body::within_fetch_timeout(scanner, read).await?;
    add_pairs(&mut parameters, held.as_ref());
    Ok(parameters)
}

/// Reads the `data` and `key` fields of a multipart body; `data` as a file when it has a
/// file name, else as text.
async fn read_multipart(
    request: Request,
    parameters: &mut Parameters,
    state: &AppState,
    max_bytes: u64,
) -> Result<(), ApiError> {
    let budget = &state.scanner.budget;
    let bad =
        |err: axum::extract::multipart::MultipartError| ApiError::from_multipart(&err, max_bytes);
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("bad multipart body: {}", e.body_text())))?;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let wanted = match name.as_str() {
            "data" => parameters.data.is_none(),
            "key" => parameters.key.is_none(),
            _ => false,
        };
        if !wanted {
            continue;
        }
        let is_file = field.file_name().is_some();
        let mut held = budget.buffer(framed_limit(max_bytes));
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            held.push(&chunk).map_err(crate::fetch::FetchError::from)?;
        }
        if name == "key" {
            parameters.key = Some(String::from_utf8_lossy(held.as_ref()).into_owned());
        } else if is_file {
            parameters.data = Some(Data::File(held));
        } else {
            let text = String::from_utf8(held.as_ref().to_vec())
                .map_err(|_| ApiError::bad_request("`data` is not text"))?;
            parameters.data = Some(Data::Text(text));
        }
    }
    Ok(())
}

/// Base64 as legacy callers send it: `+` turned into spaces by form encoding, line breaks.
fn repaired_base64(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect()
}

fn is_http_url(text: &str) -> bool {
    let lower = |n: usize| text.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// Reads the image `data` names and returns the text of its first code.
async fn read(state: &AppState, data: Data) -> Result<String, ApiError> {
    let scanner = &state.scanner;
    let formats = scanner.formats();
    let max_bytes = scanner.fetcher.options().max_bytes;
    let scanned = match data {
        Data::File(bytes) if bytes.is_empty() => {
            return Err(ApiError::bad_request("the uploaded `data` file is empty"))
        }
        Data::File(bytes) => scanner.scan_bytes(bytes, formats).await?,
        Data::Text(text) if is_http_url(text.trim()) => {
            scanner.scan_url(text.trim(), formats).await?
        }
        Data::Text(text) => {
            let image = repaired_base64(&text);
            drop(text);
            if image.is_empty() {
                return Err(ApiError::bad_request(
                    "`data` is empty: send an image URL or the image as base64",
                ));
            }
            let bytes = body::image_from_text(&image, &scanner.budget, max_bytes).map_err(
                |err| match err.kind {
                    ErrorKind::BadRequest => ApiError::bad_request(
                        "`data` is neither an http(s) image URL nor base64 image data",
                    ),
                    _ => err,
                },
            )?;
            drop(image);
            scanner.scan_bytes(bytes, formats).await?
        }
    };
    Ok(scanned.content)
}

/// `GET` / `POST /Api/Browser/deqr` (in any case): reached through the router's fallback,
/// since routes match case-sensitively; other methods are 405.
#[utoipa::path(
    get,
    path = "/Api/Browser/deqr",
    tag = "deqr",
    params(
        ("data" = Option<String>, Query, description = "An http(s) image URL, or the image as base64 (a `data:` prefix allowed; spaces read as `+`)"),
        ("key" = Option<String>, Query, description = "The API key, when `Authorization: Bearer` cannot be sent (it may end up in proxy logs)"),
    ),
    responses((status = 200, description = "Always 200: `status` 1 with the text, or 0 with `data.info`", body = DeqrResponse))
)]
pub async fn deqr(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::POST {
        let mut response = super::envelope::respond(
            state.http_status,
            Err(ApiError::new(
                ErrorKind::MethodNotAllowed,
                "this route does not accept that method",
            )),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,POST"));
        response.extensions_mut().insert(RouteLabel(PATH));
        return response;
    }
    // What authentication reads (the headers and the client address), kept past the body.
    let headers = request.headers().clone();
    let client = caller::client_of(&request);
    let state = &state;
    let outcome = async move {
        let parameters = parameters(state, request).await;
        // A refused key or rate limit wins over a body that could not be read.
        let key = parameters.as_ref().ok().and_then(|p| p.key.as_deref());
        let caller = auth::identify(&state.api_keys, &headers, client, key);
        admission::check(state, &caller).map_err(|err| match err.kind {
            ErrorKind::Unauthorized => ApiError::new(
                err.kind,
                format!("{}, or the key as parameter `key`", err.message),
            ),
            _ => err,
        })?;
        let data = parameters?.data.ok_or_else(|| {
            ApiError::bad_request("no `data` parameter: send an image URL or the image as base64")
        })?;
        read(state, data).await
    };
    respond(outcome.await)
}

/// The same operation, as a POST (query string, urlencoded or multipart body).
#[utoipa::path(
    post,
    path = "/Api/Browser/deqr",
    tag = "deqr",
    params(
        ("data" = Option<String>, Query, description = "An http(s) image URL, or the image as base64; may come in the body instead"),
        ("key" = Option<String>, Query, description = "The API key, when `Authorization: Bearer` cannot be sent (it may end up in proxy logs)"),
    ),
    request_body(content(
        (DeqrForm = "application/x-www-form-urlencoded"),
        (DeqrForm = "multipart/form-data"),
    )),
    responses((status = 200, description = "Always 200: `status` 1 with the text, or 0 with `data.info`", body = DeqrResponse))
)]
#[allow(dead_code)] // `deqr` serves both methods; this only describes the POST.
pub async fn deqr_post() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_matches_in_any_case() {
        for path in [
            "/Api/Browser/deqr",
            "/api/browser/deqr",
            "/API/BROWSER/DEQR",
        ] {
            assert!(is_path(path), "{path}");
        }
        assert!(!is_path("/Api/Browser/deqr/x"));
    }

    #[test]
    fn base64_with_spaces_for_pluses_and_line_breaks_is_repaired() {
        assert_eq!(repaired_base64(" iVBOR w0K\r\nGgo= "), "iVBOR+w0KGgo=");
    }

    #[test]
    fn form_pairs_fill_data_and_key_once() {
        let mut parameters = Parameters::default();
        add_pairs(&mut parameters, b"data=a+b%2Bc&key=k1&data=second&other=x");
        assert!(matches!(&parameters.data, Some(Data::Text(t)) if t == "a b+c"));
        assert_eq!(parameters.key.as_deref(), Some("k1"));
    }

    #[test]
    fn only_http_urls_are_fetched() {
        assert!(is_http_url("HTTPS://example.com/a.png"));
        assert!(is_http_url("http://x"));
        assert!(!is_http_url("file:///etc/passwd"));
        assert!(!is_http_url("iVBORw0KGgo="));
        assert!(!is_http_url("短"));
    }
}
