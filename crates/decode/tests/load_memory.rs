//! What loading an image allocates, counted: `--max-decode-memory` must bind every allocation of
//! loading, metadata included (issue 24). A 1 MB PNG whose iCCP profile inflated to a gibibyte
//! peaked at 525 MiB whatever the cap, and an interlaced 16-bit RGBA PNG held 10 bytes a pixel.
//!
//! A binary of its own because a global allocator is one per binary: this one counts the bytes
//! each thread holds and the most it held, so the tests may run side by side and the rest of
//! the suite is not slowed by it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Cursor, Read};
use std::sync::OnceLock;

use image::{GrayImage, ImageFormat};
use qrscan_decode::{decode, load_luma, DecodeOptions};

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

const MIB: usize = 1 << 20;
const TEXT: &str = "https://example.com/a-real-code";

fn options(max_decoder_bytes: u64) -> DecodeOptions {
    DecodeOptions {
        max_decoder_bytes,
        ..DecodeOptions::default()
    }
}

/// The default cap and 64 MiB.
fn caps() -> [DecodeOptions; 2] {
    [DecodeOptions::default(), options(64 * MIB as u64)]
}

/// A real code as an 8-bit grey PNG, 6 pixels a module with a 4-module quiet zone.
fn code_png() -> Vec<u8> {
    let code = qrcode::QrCode::new(TEXT.as_bytes()).unwrap();
    let modules = code.width() as u32;
    let side = (modules + 8) * 6;
    let grey = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / 6).wrapping_sub(4), (y / 6).wrapping_sub(4));
        let dark =
            mx < modules && my < modules && code[(mx as usize, my as usize)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    grey.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    let crc = crc32fast::hash(&out[4..]);
    out.extend(crc.to_be_bytes());
    out
}

/// `png` with `extra` right after its header (the signature and IHDR are its first 33 bytes).
fn with_chunk(png: &[u8], extra: &[u8]) -> Vec<u8> {
    [&png[..33], extra, &png[33..]].concat()
}

/// A zlib stream of a gibibyte of zeros, about a megabyte, built in a moment: after a full
/// flush the compressor starts afresh, so every further mebibyte compresses to the same bytes.
fn gibibyte_of_zeros_deflated() -> &'static [u8] {
    static STREAM: OnceLock<Vec<u8>> = OnceLock::new();
    STREAM.get_or_init(|| {
        let zeros = zeros_deflated(1024);
        // The same build over 3 MiB inflates back to 3 MiB of zeros, its checksum right.
        let mut small = Vec::new();
        flate2::read::ZlibDecoder::new(&zeros_deflated(3)[..])
            .read_to_end(&mut small)
            .unwrap();
        assert!(small.len() == 3 * MIB && small.iter().all(|&b| b == 0));
        zeros
    })
}

fn zeros_deflated(mebibytes: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let block = vec![0u8; MIB];
    let mut deflate = Compress::new(Compression::best(), true);
    let mut next = |input: &[u8], flush| {
        let mut out = Vec::with_capacity(64 << 10);
        deflate.compress_vec(input, &mut out, flush).unwrap();
        out
    };
    let head = next(&block, FlushCompress::Full);
    let piece = next(&block, FlushCompress::Full);
    assert_eq!(next(&block, FlushCompress::Full), piece);
    let mut tail = next(&[], FlushCompress::Finish);
    // The compressor's checksum is of the 3 MiB it saw; Adler-32 of zeros is 1 and the length.
    tail.truncate(tail.len() - 4);
    let length = (mebibytes * MIB) as u64;
    let adler = (((length % 65521) as u32) << 16) | 1;
    let mut stream = head;
    (1..mebibytes).for_each(|_| stream.extend(&piece));
    stream.extend(tail);
    stream.extend(adler.to_be_bytes());
    stream
}

#[test]
fn a_png_whose_metadata_inflates_to_a_gibibyte_costs_no_more_to_load_than_its_pixels() {
    let png = code_png();
    let bomb = gibibyte_of_zeros_deflated();
    let raw = vec![0u8; 4 * MIB];
    let metadata = [
        chunk(b"iCCP", &[b"icc\0\0".as_slice(), bomb].concat()),
        chunk(b"zTXt", &[b"Comment\0\0".as_slice(), bomb].concat()),
        chunk(b"iTXt", &[b"Comment\0\x01\0\0\0".as_slice(), bomb].concat()),
        chunk(b"tEXt", &[b"Comment\0".as_slice(), &raw].concat()),
        chunk(b"eXIf", &[b"MM\0\x2a".as_slice(), &raw].concat()),
        chunk(b"quRK", &raw),
    ];
    let (expected, plain) = most_held(|| load_luma(&png, &DecodeOptions::default()).unwrap());
    for extra in &metadata {
        let kind = String::from_utf8_lossy(&extra[4..8]).into_owned();
        let bytes = with_chunk(&png, extra);
        for cap in caps() {
            let (grey, held) = most_held(|| load_luma(&bytes, &cap).unwrap());
            assert_eq!(grey, expected, "{kind}");
            assert!(
                held <= plain + FIXED,
                "{kind} under a cap of {}: {held} bytes held, {plain} without it",
                cap.max_decoder_bytes
            );
        }
        // And the code in it is read.
        let codes = decode(&bytes, &options(64 * MIB as u64)).unwrap();
        assert_eq!(codes[0].content.text, TEXT, "{kind}");
    }
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
