//! `MappedBytes`: a growable byte buffer for image bytes held by requests, which moves into its own
//! anonymous memory mapping once it passes `MAP_FROM`. glibc raises its mmap threshold each time
//! it frees a large buffer, and from then on serves multi-MiB buffers from per-thread heaps that
//! keep their pages after a free: with 64 concurrent 10 MiB uploads under a 128 MiB byte budget,
//! peak RSS was 371-398 MiB with heap buffers and about 160 MiB with mappings. A mapping's pages
//! go back to the OS when it is dropped, and `mremap` grows it without copying. Small bodies stay
//! on the heap, where a mapping per request would cost more than it saves (8% fewer requests/s
//! on a small image), and so do the decoder's buffers. Other platforms keep everything on the heap.
//! Knows nothing of reservations or images: `HeldBytes` in the parent module is its only user.

/// Buffers reaching this size leave the heap for a mapping of their own.
pub const MAP_FROM: usize = 256 * 1024;

/// Bytes on the heap while small, in a mapping of their own once large.
pub struct MappedBytes(Store);

enum Store {
    Heap(Vec<u8>),
    #[cfg(target_os = "linux")]
    Mapped(mapping::Mapping),
}

impl MappedBytes {
    /// An empty buffer; nothing is allocated until it grows.
    pub const fn new() -> Self {
        MappedBytes(Store::Heap(Vec::new()))
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        match &self.0 {
            Store::Heap(heap) => heap.capacity(),
            #[cfg(target_os = "linux")]
            Store::Mapped(mapped) => mapped.capacity(),
        }
    }

    /// Makes room for `capacity` bytes in all; aborts like `Vec` when memory is exhausted.
    pub fn grow_to(&mut self, capacity: usize) {
        match &mut self.0 {
            #[cfg(target_os = "linux")]
            Store::Heap(heap) if capacity >= MAP_FROM => {
                let mut mapped = mapping::Mapping::with_capacity(capacity);
                mapped.extend_from_slice(heap);
                self.0 = Store::Mapped(mapped);
            }
            Store::Heap(heap) => heap.reserve_exact(capacity.saturating_sub(heap.len())),
            #[cfg(target_os = "linux")]
            Store::Mapped(mapped) => mapped.grow_to(capacity),
        }
    }

    /// Appends `bytes`, growing to exactly the size needed when there is no room.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.grow_to(self.len() + bytes.len());
        match &mut self.0 {
            Store::Heap(heap) => heap.extend_from_slice(bytes),
            #[cfg(target_os = "linux")]
            Store::Mapped(mapped) => mapped.extend_from_slice(bytes),
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Store::Heap(heap) => heap,
            #[cfg(target_os = "linux")]
            Store::Mapped(mapped) => mapped.as_slice(),
        }
    }
}

impl Default for MappedBytes {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MappedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MappedBytes({} of {} bytes)",
            self.len(),
            self.capacity()
        )
    }
}

#[cfg(target_os = "linux")]
mod mapping {
    use std::alloc::Layout;
    use std::ptr;

    /// A private anonymous mapping of `capacity` bytes, the first `len` written.
    pub struct Mapping {
        ptr: *mut u8,
        len: usize,
        capacity: usize,
    }

    // SAFETY: a `Mapping` owns its memory alone, as a `Vec<u8>` owns its allocation.
    unsafe impl Send for Mapping {}
    // SAFETY: shared references only read.
    unsafe impl Sync for Mapping {}

    impl Mapping {
        pub fn with_capacity(capacity: usize) -> Self {
            // SAFETY: a new private mapping, touching no existing memory.
            let ptr = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    capacity,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            Mapping {
                ptr: checked(ptr, capacity),
                len: 0,
                capacity,
            }
        }

        pub fn capacity(&self) -> usize {
            self.capacity
        }

        pub fn grow_to(&mut self, capacity: usize) {
            if capacity <= self.capacity {
                return;
            }
            // SAFETY: our own mapping, resized; MREMAP_MAYMOVE keeps its contents wherever it
            // ends up, and nothing else points into it.
            let ptr = unsafe {
                libc::mremap(
                    self.ptr.cast(),
                    self.capacity,
                    capacity,
                    libc::MREMAP_MAYMOVE,
                )
            };
            self.ptr = checked(ptr, capacity);
            self.capacity = capacity;
        }

        pub fn extend_from_slice(&mut self, bytes: &[u8]) {
            self.grow_to(self.len + bytes.len());
            // SAFETY: the mapping has room for `len + bytes.len()` bytes, and `bytes` cannot lie
            // inside it while `self` is borrowed mutably.
            unsafe {
                ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(self.len), bytes.len())
            };
            self.len += bytes.len();
        }

        pub fn as_slice(&self) -> &[u8] {
            // SAFETY: the first `len` bytes of the mapping have been written.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: our own mapping, unmapped once.
            unsafe { libc::munmap(self.ptr.cast(), self.capacity) };
        }
    }

    /// The mapping `mmap`/`mremap` returned, or the allocation-failure abort `Vec` would give.
    fn checked(ptr: *mut libc::c_void, capacity: usize) -> *mut u8 {
        if ptr == libc::MAP_FAILED {
            let layout = Layout::from_size_align(capacity, 1).unwrap_or(Layout::new::<u8>());
            std::alloc::handle_alloc_error(layout);
        }
        ptr.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_bytes_keep_their_bytes_as_they_grow_and_leave_the_heap() {
        let mut bytes = MappedBytes::new();
        assert_eq!(bytes.as_slice(), b"");
        bytes.grow_to(3);
        bytes.extend_from_slice(b"abc");
        bytes.grow_to(2 * MAP_FROM);
        assert_eq!(bytes.capacity(), 2 * MAP_FROM);
        #[cfg(target_os = "linux")]
        assert!(matches!(bytes.0, Store::Mapped(_)));
        for i in 0..100_000u32 {
            bytes.extend_from_slice(&i.to_le_bytes());
        }
        assert_eq!(bytes.len(), 3 + 400_000);
        assert_eq!(&bytes.as_slice()[..3], b"abc");
        assert_eq!(
            &bytes.as_slice()[3 + 4 * 99_999..],
            &99_999u32.to_le_bytes()
        );
        // Past the capacity it grows to exactly what is needed.
        bytes.extend_from_slice(&vec![9; 1 << 20]);
        assert_eq!(bytes.capacity(), 3 + 400_000 + (1 << 20));
        assert_eq!(bytes.as_slice()[bytes.len() - 1], 9);
    }

    #[test]
    fn small_buffers_stay_on_the_heap() {
        let mut bytes = MappedBytes::new();
        bytes.extend_from_slice(&[1; MAP_FROM - 1]);
        assert!(matches!(bytes.0, Store::Heap(_)));
    }
}
