//! What loading an image allocates, counted: `--max-decode-memory` must bind every allocation of
//! loading (issue 24). An interlaced 16-bit RGBA PNG held 10 bytes a pixel.
//!
//! A binary of its own because a global allocator is one per binary: this one counts the bytes
//! each thread holds and the most it held, so the tests may run side by side and the rest of
//! the suite is not slowed by it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use qrscan::decode::{load_luma, DecodeOptions};

struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static MOST: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: a thread's counters may be gone while it frees its last buffers.
    let _ = HELD.try_with(|held| {
        held.set(held.get() + bytes);
        let _ = MOST.try_with(|most| most.set(most.get().max(held.get())));
    });
}

// SAFETY: every call goes to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let memory = unsafe { System.alloc(layout) };
        if !memory.is_null() {
            count(layout.size() as isize);
        }
        memory
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let memory = unsafe { System.alloc_zeroed(layout) };
        if !memory.is_null() {
            count(layout.size() as isize);
        }
        memory
    }

    unsafe fn dealloc(&self, memory: *mut u8, layout: Layout) {
        unsafe { System.dealloc(memory, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, memory: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(memory, layout, size) };
        if !moved.is_null() {
            count(size as isize - layout.size() as isize);
        }
        moved
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// What `load` returns, and the most it held at once beyond what was held before it (its
/// result included).
fn most_held<T>(load: impl FnOnce() -> T) -> (T, usize) {
    let before = HELD.with(Cell::get);
    MOST.with(|most| most.set(before));
    let loaded = load();
    (loaded, (MOST.with(Cell::get) - before) as usize)
}

/// The png crate's buffers that do not grow with the image: its inflater and the few rows of
/// unfiltering it keeps (at most 128 KiB) for an image this narrow.
const FIXED: usize = 512 << 10;

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    let crc = crc32fast::hash(&out[4..]);
    out.extend(crc.to_be_bytes());
    out
}

/// A PNG of `width` x `height` 16-bit RGBA pixels, interlaced (Adam7) or not, written here: the
/// png crate's encoder does not interlace. Opaque grey levels in stripes, filter type None.
fn rgba16_png(width: u32, height: u32, interlaced: bool) -> Vec<u8> {
    let pixel = |x: u32, y: u32| {
        let level = ((x / 7 + y / 5) % 2 * 200) as u8;
        [level, 0, level, 0, level, 0, 255, 255]
    };
    let passes: &[(u32, u32, u32, u32)] = if interlaced {
        &[
            (0, 8, 0, 8),
            (4, 8, 0, 8),
            (0, 4, 4, 8),
            (2, 4, 0, 4),
            (0, 2, 2, 4),
            (1, 2, 0, 2),
            (0, 1, 1, 2),
        ]
    } else {
        &[(0, 1, 0, 1)]
    };
    let mut scanlines = Vec::new();
    for &(x0, dx, y0, dy) in passes {
        if x0 >= width {
            continue;
        }
        for y in (y0..height).step_by(dy as usize) {
            scanlines.push(0);
            for x in (x0..width).step_by(dx as usize) {
                scanlines.extend(pixel(x, y));
            }
        }
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &scanlines).unwrap();
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([16, 6, 0, 0, u8::from(interlaced)]);
    [
        b"\x89PNG\r\n\x1a\n".to_vec(),
        chunk(b"IHDR", &header),
        chunk(b"IDAT", &encoder.finish().unwrap()),
        chunk(b"IEND", b""),
    ]
    .concat()
}

#[test]
fn an_interlaced_png_holds_its_grey_frame_and_a_few_rows_not_its_colour_frame() {
    let (width, height) = (1000, 800);
    let frame = (width * height) as usize;
    for interlaced in [false, true] {
        let bytes = rgba16_png(width, height, interlaced);
        let (grey, held) = most_held(|| load_luma(&bytes, &DecodeOptions::default()).unwrap());
        assert_eq!(grey.dimensions(), (width, height));
        // The grey frame, a pass row's grey, the png crate's rows (8 bytes a pixel each): a
        // little over a byte a pixel where the RGBA frame alone is 8.
        let rows = 3 * 8 * width as usize;
        assert!(
            held <= frame + rows + FIXED,
            "interlaced {interlaced}: {held} bytes held for {frame} pixels"
        );
    }
}
