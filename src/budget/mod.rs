//! The server-wide budget of image bytes held in memory (`--max-buffered-bytes`): uploads being
//! read, downloads being streamed, and images waiting for or in a decode worker all count against
//! one `ByteBudget`. Bytes are reserved as they arrive, never by a declared length, so a slow sender
//! holds only what it has sent; a chunk the budget cannot take at once fails its request (503)
//! instead of waiting, so memory is bounded by configuration rather than by traffic. `HeldBytes`
//! keeps a buffer (in `MappedBytes`, so freed bytes really leave the process) and its reservation
//! together: both are given back when it is dropped, which for an image is after its decode.
//!
//! `HeldBytes` is also the one place a byte limit is enforced: every request body, download and
//! local file is pushed into one chunk by chunk, and a chunk is refused as `TooLarge` (past the
//! buffer's own limit) or `OverBudget` (past the server's), before any memory is taken for it.
//! Knows nothing of HTTP, fetching or decoding.

mod mapped;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use self::mapped::MappedBytes;

/// The budget had no room for the next bytes of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the server is holding as many images in memory as it may; retry shortly")]
pub struct OverBudget;

/// Why `HeldBytes::push` refused a chunk; the buffer is left as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The chunk would take the buffer past its limit of `limit` bytes.
    #[error("more than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The server-wide budget has no room for the chunk.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
}

/// Image bytes the whole server may hold at once. Clones share one budget.
#[derive(Clone, Debug)]
pub struct ByteBudget {
    free: Arc<Semaphore>,
    capacity: usize,
}

impl ByteBudget {
    /// A budget of `max_bytes`.
    pub fn new(max_bytes: u64) -> Self {
        let capacity = usize::try_from(max_bytes)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        ByteBudget {
            free: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// A budget that never runs out (the CLI).
    pub fn unbounded() -> Self {
        Self::new(u64::MAX)
    }

    /// Bytes reserved now, across every request.
    pub fn held(&self) -> usize {
        self.capacity - self.free.available_permits()
    }

    /// An empty reservation to grow.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            free: self.free.clone(),
            permit: None,
        }
    }

    /// An empty buffer that takes at most `limit` bytes, each reserved from this budget as it
    /// arrives.
    pub fn buffer(&self, limit: u64) -> HeldBytes {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        HeldBytes {
            bytes: MappedBytes::new(),
            reservation: self.reservation(),
            limit,
            expected: limit,
        }
    }
}

/// Bytes taken from a `ByteBudget`; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    free: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Bytes this reservation holds.
    pub fn bytes(&self) -> usize {
        self.permit
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }

    /// Takes `more` bytes from the budget now, or fails at once without taking any.
    pub fn grow(&mut self, more: usize) -> Result<(), OverBudget> {
        if more == 0 {
            return Ok(());
        }
        let more = u32::try_from(more).map_err(|_| OverBudget)?;
        let permit = self
            .free
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| OverBudget)?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        Ok(())
    }
}

/// Image bytes in memory with the reservation that covers them; dropping it frees both.
#[derive(Debug)]
pub struct HeldBytes {
    bytes: MappedBytes,
    reservation: Reservation,
    limit: usize,
    expected: usize,
}

impl HeldBytes {
    /// Caps how far the buffer grows ahead of the bytes, for a source that says how much is
    /// coming (a Content-Length, base64 text): a hint, never a reservation.
    pub fn expecting(mut self, expected: u64) -> Self {
        self.expected = usize::try_from(expected)
            .unwrap_or(usize::MAX)
            .min(self.limit);
        self
    }

    /// Appends `chunk`, or refuses it whole. The buffer grows by half at a time (up to the
    /// expected size), and never past what is reserved: the budget is taken before the memory is
    /// allocated.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Refused> {
        let needed = self.bytes.len().saturating_add(chunk.len());
        if needed > self.limit {
            return Err(Refused::TooLarge {
                limit: self.limit as u64,
            });
        }
        if needed > self.bytes.capacity() {
            let roomy = (needed + needed / 2).min(self.expected).max(needed);
            let reserved = self.reservation.bytes();
            // When the roomy size does not fit, the exact size still may.
            self.reservation
                .grow(roomy.saturating_sub(reserved))
                .or_else(|_| self.reservation.grow(needed.saturating_sub(reserved)))?;
            self.bytes.grow_to(self.reservation.bytes().min(roomy));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The most bytes this buffer takes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no byte has arrived.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Frees the bytes but keeps their reservation, for a copy of them made elsewhere (a parsed
    /// JSON body) that is about as large.
    pub fn into_reservation(self) -> Reservation {
        self.reservation
    }
}

impl AsRef<[u8]> for HeldBytes {
    fn as_ref(&self) -> &[u8] {
        self.bytes.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_grows_up_to_the_cap_and_fails_past_it_without_taking_anything() {
        let budget = ByteBudget::new(1000);
        let mut first = budget.reservation();
        first.grow(600).unwrap();
        first.grow(100).unwrap();
        assert_eq!((first.bytes(), budget.held()), (700, 700));
        let mut second = budget.reservation();
        assert_eq!(second.grow(301), Err(OverBudget));
        assert_eq!((second.bytes(), budget.held()), (0, 700));
        second.grow(300).unwrap();
        assert_eq!(budget.held(), 1000);
    }

    #[test]
    fn dropping_a_reservation_gives_its_bytes_back() {
        let budget = ByteBudget::new(1000);
        let mut reservation = budget.reservation();
        reservation.grow(1000).unwrap();
        assert_eq!(budget.reservation().grow(1), Err(OverBudget));
        drop(reservation);
        assert_eq!(budget.held(), 0);
        budget.reservation().grow(1000).unwrap();
    }

    #[test]
    fn a_buffer_reserves_as_chunks_arrive_and_never_allocates_past_its_reservation() {
        let budget = ByteBudget::new(10_000);
        // The expected size is far above the budget: only what arrives is reserved.
        let mut buffer = budget.buffer(1 << 30);
        for _ in 0..10 {
            buffer.push(&[7; 400]).unwrap();
            assert!(
                buffer.bytes.capacity() <= budget.held(),
                "allocation within reservation"
            );
            assert!(
                budget.held() <= buffer.len() * 3 / 2,
                "at most half again what arrived"
            );
        }
        assert_eq!(buffer.len(), 4000);
        assert_eq!(buffer.as_ref(), &[7; 4000][..]);
        drop(buffer);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_buffer_fills_the_budget_exactly_before_it_fails() {
        let budget = ByteBudget::new(1000);
        let mut buffer = budget.buffer(u64::MAX);
        for _ in 0..10 {
            buffer.push(&[1; 100]).unwrap();
        }
        assert_eq!(budget.held(), 1000);
        assert_eq!(buffer.push(&[1]), Err(Refused::OverBudget(OverBudget)));
        assert_eq!(buffer.len(), 1000, "a refused chunk is not kept");
    }

    #[test]
    fn a_chunk_past_the_limit_is_refused_whole_and_reserves_nothing() {
        let budget = ByteBudget::new(10_000);
        let mut buffer = budget.buffer(1000);
        buffer.push(&[1; 999]).unwrap();
        assert_eq!(buffer.push(&[1; 2]), Err(Refused::TooLarge { limit: 1000 }));
        assert_eq!(buffer.len(), 999);
        assert!(
            budget.held() <= 1000,
            "nothing reserved for the refused chunk"
        );
        buffer.push(&[1]).unwrap();
        assert_eq!(buffer.len(), 1000);
    }

    #[test]
    fn into_reservation_frees_the_bytes_and_keeps_counting_them() {
        let budget = ByteBudget::new(1000);
        let mut buffer = budget.buffer(100);
        buffer.push(&[1; 100]).unwrap();
        let reservation = buffer.into_reservation();
        assert_eq!((reservation.bytes(), budget.held()), (100, 100));
        drop(reservation);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn an_unbounded_budget_never_refuses() {
        let budget = ByteBudget::unbounded();
        let mut reservation = budget.reservation();
        reservation.grow(u32::MAX as usize).unwrap();
        reservation.grow(u32::MAX as usize).unwrap();
        assert_eq!(budget.held(), 2 * u32::MAX as usize);
    }
}
