//! Authentication (API.md section 4, code 403): who a request's caller is, from the bearer key
//! it sends (or the legacy decoder's `key` parameter) checked against the keys in force
//! (`config::ApiKeys`), and what a caller without a valid key is told.
//!
//! Authentication only says who the caller is (`Caller`): it refuses nobody itself. Admission
//! (`admission.rs`) runs after it, takes a token from the caller's rate-limit bucket and only then
//! refuses a caller without a valid key with `require_key`'s answer, so a flood of wrong keys is
//! answered 429 like any other flood.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::caller::{client_of, Caller, Credential, KeyId};
use super::state::AppState;
use crate::client::ClientAddr;
use crate::config::ApiKeys;
use crate::error::{ApiError, ErrorKind};

/// What a request's `Authorization` header says.
enum Presented<'a> {
    Missing,
    Bearer(&'a str),
    /// More than one `Authorization` header, or one that is not `Bearer <token>` in text.
    Malformed,
}

fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        // Two headers: which one a proxy in front of us checked is unknown, so neither is used.
        return if headers.contains_key(header::AUTHORIZATION) {
            Presented::Malformed
        } else {
            Presented::Missing
        };
    };
    let token = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    token.map_or(Presented::Malformed, Presented::Bearer)
}

/// Who the caller is: its client address, and what its `Authorization` header says or, on a
/// route that takes one and only when the request has no such header, `param` (the legacy
/// decoder's `key` parameter).
pub(super) fn identify(
    keys: &ApiKeys,
    headers: &HeaderMap,
    client: ClientAddr,
    param: Option<&str>,
) -> Caller {
    let presented = match (presented(headers), param) {
        (Presented::Missing, Some(key)) => Presented::Bearer(key.trim()),
        (presented, _) => presented,
    };
    let credential = if !keys.is_enabled() {
        Credential::NotRequired
    } else {
        match presented {
            Presented::Missing => Credential::Missing,
            Presented::Malformed => Credential::Malformed,
            Presented::Bearer(token) if keys.accepts(token.as_bytes()) => {
                Credential::Key(KeyId::of(token.as_bytes()))
            }
            Presented::Bearer(_) => Credential::Invalid,
        }
    };
    Caller { client, credential }
}

/// Middleware of the API routes, before admission: leaves the `Caller` on the request. It
/// answers nothing itself.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = identify(
        &state.api_keys,
        request.headers(),
        client_of(&request),
        None,
    );
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Whether `caller`'s credential lets it in: a valid key, or none needed; else 403 saying what
/// to send. Every route's answer to a refused key is decided from this error.
pub(super) fn require_key(caller: &Caller) -> Result<(), ApiError> {
    let message = match caller.credential {
        Credential::Key(_) | Credential::NotRequired => return Ok(()),
        Credential::Missing => "an API key is required: send `Authorization: Bearer <key>`",
        Credential::Malformed => {
            "send exactly one `Authorization: Bearer <key>` header with the API key"
        }
        Credential::Invalid => "the API key is not valid",
    };
    Err(ApiError::new(ErrorKind::Unauthorized, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(fixed: &[&str]) -> ApiKeys {
        let fixed: Vec<String> = fixed.iter().map(|k| (*k).to_owned()).collect();
        ApiKeys::new(&fixed, None).expect("keys")
    }

    #[test]
    fn identify_says_who_the_caller_is_and_only_require_key_refuses() {
        let client = ClientAddr("192.0.2.7".parse().unwrap());
        let bearer = |key: &str| {
            let mut headers = HeaderMap::new();
            let value = format!("Bearer {key}").parse().unwrap();
            headers.insert(header::AUTHORIZATION, value);
            headers
        };
        let on = keys(&["alpha"]);
        let credential =
            |headers: &HeaderMap, param| identify(&on, headers, client, param).credential;

        let valid = identify(&on, &bearer("alpha"), client, None);
        assert_eq!(valid.key(), Some(KeyId::of(b"alpha")));
        assert_eq!(valid.client, client);
        assert_eq!(credential(&bearer("wrong"), None), Credential::Invalid);
        assert_eq!(credential(&HeaderMap::new(), None), Credential::Missing);
        // The parameter counts only without a header.
        assert_eq!(
            credential(&HeaderMap::new(), Some(" alpha ")),
            Credential::Key(KeyId::of(b"alpha"))
        );
        assert_eq!(
            credential(&bearer("wrong"), Some("alpha")),
            Credential::Invalid
        );
        let off = identify(&keys(&[]), &bearer("alpha"), client, None);
        assert_eq!(off.credential, Credential::NotRequired);

        assert!(require_key(&valid).is_ok());
        assert!(require_key(&off).is_ok());
        for refused in [
            Credential::Missing,
            Credential::Malformed,
            Credential::Invalid,
        ] {
            let caller = Caller {
                client,
                credential: refused,
            };
            let err = require_key(&caller).expect_err("refused");
            assert_eq!(err.kind, ErrorKind::Unauthorized, "{refused:?}");
        }
    }

    #[test]
    fn two_authorization_headers_are_malformed_whatever_they_say() {
        let mut headers = HeaderMap::new();
        assert!(matches!(presented(&headers), Presented::Missing));
        headers.append(header::AUTHORIZATION, "Bearer alpha".parse().unwrap());
        assert!(matches!(presented(&headers), Presented::Bearer("alpha")));
        headers.append(header::AUTHORIZATION, "Bearer alpha".parse().unwrap());
        assert!(matches!(presented(&headers), Presented::Malformed));
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic YWxwaGE=".parse().unwrap());
        assert!(matches!(presented(&basic), Presented::Malformed));
    }
}
