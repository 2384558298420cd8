//! Who sent a request: the words authentication (`auth.rs`, which decides who the caller is) and
//! admission (`admission.rs` and `limit.rs`, which decide whether that caller may go on) share.
//! It holds no key and no limit, and uses neither file, so both can use it.

use axum::extract::Request;
use sha2::{Digest, Sha256};

use crate::client::ClientAddr;

/// Which key a request presented: the SHA-256 of it, so a rate-limit bucket can be kept per key
/// without holding the key itself there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The id of `key`; authentication gives one only for a key it accepted.
    pub fn of(key: &[u8]) -> Self {
        KeyId(Sha256::digest(key).into())
    }
}

/// What authentication made of the key a request presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// One of the configured keys.
    Key(KeyId),
    /// No keys are configured: nobody needs one (a key sent anyway is not looked at).
    NotRequired,
    /// Keys are configured and the request sent none.
    Missing,
    /// More than one `Authorization` header, or one that is not `Bearer <key>` in text.
    Malformed,
    /// A key that is not one of the configured keys.
    Invalid,
}

/// Who a request is from, as authentication found it: the client address and its credential.
/// Authentication leaves it on the request; admission reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub client: ClientAddr,
    pub credential: Credential,
}

impl Caller {
    /// The key the caller proved it holds, if any.
    pub fn key(&self) -> Option<KeyId> {
        match self.credential {
            Credential::Key(key) => Some(key),
            _ => None,
        }
    }
}

/// The client address the `observe` middleware left on `request`.
pub fn client_of(request: &Request) -> ClientAddr {
    request
        .extensions()
        .get::<ClientAddr>()
        .map_or(ClientAddr::UNKNOWN, |c| *c)
}
