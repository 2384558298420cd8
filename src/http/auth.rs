//! Authentication (API.md section 4, code 403): the configured API keys, compared in constant
//! time and never shown, and deciding who a request's caller is from the bearer token it sends
//! (or the legacy decoder's `key` parameter). Keys come from `--api-keys` and from
//! `--api-keys-file` (one per line, `#` comments), which `reload` re-reads (on SIGHUP) so keys
//! rotate without a restart.
//!
//! Authentication only says who the caller is (`Caller`): it refuses nobody itself. Admission
//! (`admission.rs`) runs after it, takes a token from the caller's rate-limit bucket and only then
//! refuses a caller without a valid key with `require_key`'s answer, so a flood of wrong keys is
//! answered 429 like any other flood.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::caller::{client_of, Caller, Credential, KeyId};
use super::AppState;
use crate::client::ClientAddr;
use crate::error::{ApiError, ErrorKind};

/// A set of keys. `Debug` never shows them.
#[derive(Clone, Default)]
struct KeySet(Vec<Vec<u8>>);

impl KeySet {
    fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        KeySet(
            lines
                .into_iter()
                .map(str::trim)
                .filter(|k| !k.is_empty() && !k.starts_with('#'))
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        )
    }

    /// Whether `candidate` is one of the keys, comparing every key in constant time.
    fn contains(&self, candidate: &[u8]) -> bool {
        // No short-circuit: the time taken does not reveal which key (or how much of one) matched.
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |acc, key| {
                acc | key.ct_eq(candidate)
            })
            .into()
    }
}

/// The configured API keys: the fixed ones from `--api-keys` and those last read from the keys
/// file. `Debug` never shows them.
#[derive(Default)]
pub struct ApiKeys {
    fixed: KeySet,
    file: Option<PathBuf>,
    from_file: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKeys([{} + {} redacted], file: {:?})",
            self.fixed.0.len(),
            self.file_keys().0.len(),
            self.file
        )
    }
}

/// Why the keys file could not be used; the previous keys stay in force.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the API keys file {}: {source}", path.display())]
pub struct KeysFileError {
    path: PathBuf,
    source: std::io::Error,
}

fn read_keys_file(path: &Path) -> Result<KeySet, KeysFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeysFileError {
        path: path.to_owned(),
        source,
    })?;
    // Editors on Windows start a UTF-8 file with a byte-order mark; it is not part of the first
    // key (or comment). A line ends at LF, CRLF or a lone CR (no key holds either), and
    // `from_lines` trims the spaces and tabs around a key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(KeySet::from_lines(text.split(['\r', '\n'])))
}

impl ApiKeys {
    /// Keys from configuration (blank entries are dropped) and, when `file` is given, from that
    /// file, which must be readable now.
    pub fn new(keys: &[String], file: Option<&Path>) -> Result<Self, KeysFileError> {
        let from_file = match file {
            Some(path) => read_keys_file(path)?,
            None => KeySet::default(),
        };
        Ok(ApiKeys {
            fixed: KeySet::from_lines(keys.iter().map(String::as_str)),
            file: file.map(Path::to_owned),
            from_file: RwLock::new(Arc::new(from_file)),
        })
    }

    fn file_keys(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a whole set: the writer only swaps an Arc.
        match self.from_file.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the keys file and returns how many keys are now accepted. When the file cannot
    /// be read, the keys in force stay as they were.
    pub fn reload(&self) -> Result<usize, KeysFileError> {
        if let Some(path) = &self.file {
            let keys = Arc::new(read_keys_file(path)?);
            match self.from_file.write() {
                Ok(mut current) => *current = keys,
                Err(poisoned) => *poisoned.into_inner() = keys,
            }
        }
        Ok(self.count())
    }

    /// How many keys are accepted now.
    pub fn count(&self) -> usize {
        self.fixed.0.len() + self.file_keys().0.len()
    }

    /// Whether authentication is on: some key is configured, or a keys file is (an empty file
    /// then refuses every request rather than opening the service to everyone).
    pub fn is_enabled(&self) -> bool {
        self.file.is_some() || !self.fixed.0.is_empty()
    }

    /// The id of `candidate` when it is one of the keys.
    pub fn identify(&self, candidate: &[u8]) -> Option<KeyId> {
        // Both sets are always compared, so the time taken does not say which one matched.
        let fixed = self.fixed.contains(candidate);
        let from_file = self.file_keys().contains(candidate);
        (fixed | from_file).then(|| KeyId::of(candidate))
    }
}

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
            Presented::Bearer(token) => keys
                .identify(token.as_bytes())
                .map_or(Credential::Invalid, Credential::Key),
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

    fn keys(fixed: &[&str], file: Option<&Path>) -> ApiKeys {
        let fixed: Vec<String> = fixed.iter().map(|k| (*k).to_owned()).collect();
        ApiKeys::new(&fixed, file).expect("keys")
    }

    #[test]
    fn api_keys_accept_only_configured_keys_and_never_show_them() {
        let keys = keys(&["alpha", " beta ", ""], None);
        assert!(keys.is_enabled());
        assert!(keys.identify(b"alpha").is_some());
        assert!(keys.identify(b"beta").is_some());
        assert_ne!(keys.identify(b"alpha"), keys.identify(b"beta"));
        assert!(keys.identify(b"alph").is_none());
        assert!(keys.identify(b"").is_none());
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("alpha") && !shown.contains("beta"),
            "{shown}"
        );
        assert!(!ApiKeys::new(&[], None).expect("no keys").is_enabled());
    }

    #[test]
    fn the_keys_file_has_one_key_per_line_with_comments_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        std::fs::write(&path, "# rotated 2026-12-01\n  alpha  \n\n#beta\ngamma\n").expect("write");
        let keys = keys(&["fixed"], Some(&path));
        assert_eq!(keys.count(), 3);
        for key in ["alpha", "gamma", "fixed"] {
            assert!(keys.identify(key.as_bytes()).is_some(), "{key}");
        }
        assert!(keys.identify(b"#beta").is_none());
        assert!(keys.identify(b"beta").is_none());

        std::fs::write(&path, "delta\n").expect("write");
        assert_eq!(keys.reload().expect("reloads"), 2);
        assert!(keys.identify(b"delta").is_some());
        assert!(keys.identify(b"alpha").is_none());
        assert!(keys.identify(b"fixed").is_some(), "--api-keys stay");

        // An unreadable file keeps the keys in force, and the error names the file, not a key.
        std::fs::remove_file(&path).expect("remove");
        let err = keys.reload().expect_err("file is gone");
        assert!(err.to_string().contains("keys"), "{err}");
        assert!(keys.identify(b"delta").is_some());
    }

    #[test]
    fn a_byte_order_mark_crlf_line_ends_and_spaces_or_tabs_around_keys_change_no_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        // What Notepad saves: a byte-order mark, CRLF line ends; and stray blanks around keys.
        // And lone CRs, the line end of old Mac editors.
        let written = "\u{feff}alpha\r\n beta \t\r\n\tgamma\r\n# comment \r\n\r\ndelta\repsilon\r";
        std::fs::write(&path, written).expect("write");

        let keys = keys(&[], Some(&path));

        assert_eq!(keys.count(), 5);
        for key in ["alpha", "beta", "gamma", "delta", "epsilon"] {
            assert!(keys.identify(key.as_bytes()).is_some(), "{key}");
        }
        assert!(keys.identify("\u{feff}alpha".as_bytes()).is_none());

        // A file that is only a mark and a comment holds no key.
        std::fs::write(&path, "\u{feff}# rotated\r\n").expect("write");
        assert_eq!(keys.reload().expect("reloads"), 0);
    }

    #[test]
    fn an_empty_keys_file_refuses_everyone_instead_of_turning_auth_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        std::fs::write(&path, "# no keys yet\n").expect("write");
        let keys = keys(&[], Some(&path));
        assert!(keys.is_enabled());
        assert_eq!(keys.count(), 0);
        assert!(keys.identify(b"").is_none());
        assert!(ApiKeys::new(&[], Some(&dir.path().join("missing"))).is_err());
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
        let on = keys(&["alpha"], None);
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
        let off = identify(&keys(&[], None), &bearer("alpha"), client, None);
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
