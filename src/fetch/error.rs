//! `FetchError`, every way a fetch ends without bytes: what `fetch` and its `file:` opener
//! (`file.rs`) report, and what `error.rs` turns into codes 1001 to 1005 and 503.

use crate::budget::{OverBudget, Refused};

/// Why no bytes came back. `Display` is written for the caller: it names the class of failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("image URL is invalid: {0}")]
    InvalidUrl(String),
    #[error("image URL is not allowed: {0}")]
    NotAllowed(String),
    #[error("image could not be fetched: {0}")]
    Upstream(String),
    #[error("image fetch timed out")]
    Timeout,
    #[error("image fetch timed out: the image host did not accept a connection in time")]
    ConnectTimeout,
    #[error("image is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Busy(#[from] OverBudget),
}

impl From<Refused> for FetchError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::TooLarge { limit } => FetchError::TooLarge { limit },
            Refused::OverBudget(busy) => FetchError::Busy(busy),
        }
    }
}
