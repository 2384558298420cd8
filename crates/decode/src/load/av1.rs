//! One AV1 still picture (an AVIF item) to its luma plane, through rav1d: dav1d ported to Rust,
//! whose API is dav1d's C one. This file is the only place that calls it; everything unsafe about
//! AVIF is here, behind `decode_plane`.
//!
//! rav1d can panic on a corrupt stream (its fuzzing upstream has not found everything; ours found
//! one). The vendored copy lets a panic unwind out of its API (vendor/rav1d/README.qrscan.md), and
//! `decode_plane` catches it: one hostile file is a 1007, never the end of the process.
//!
//! The decoder runs on the calling thread (`n_threads = 1`, no frame delay), refuses a frame over
//! the pixel limit itself (`frame_size_limit`, a second check after the container's), and adds no
//! film grain: grain is noise laid over the picture for the eye, and a code reads better without.

use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data,
};

/// dav1d's "try again": the decoder wants more data, or has a picture to hand out first.
const AGAIN: i32 = -libc::EAGAIN;

/// How many times a decoder with all the data is asked for its picture before the stream is
/// called empty: one frame, no delay, so the first ask answers; the rest is margin.
const DRAIN_ATTEMPTS: usize = 4;

/// A decoded plane, 8 bits a sample whatever the coded depth.
pub(super) struct Plane {
    pub width: u32,
    pub height: u32,
    pub samples: Vec<u8>,
    /// Whether the samples span 0-255; otherwise they are studio range (16-235).
    pub full_range: bool,
}

/// An open rav1d decoder, closed when dropped.
struct Decoder(Option<Dav1dContext>);

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed once, here; `dav1d_close`
        // sets it to `None`.
        unsafe { dav1d_close(Some(NonNull::from(&mut self.0))) };
    }
}

/// Decodes the AV1 still picture in `obus` (the item's OBUs, as AVIF stores them) and returns its
/// luma plane. `Err` says why the stream is not a picture, for a 1007.
pub(super) fn decode_plane(obus: &[u8], max_pixels: u64) -> Result<Plane, String> {
    let mut decoder = open(max_pixels)?;
    let decoded = catch_unwind(AssertUnwindSafe(|| decode_with(&decoder, obus)));
    decoded.unwrap_or_else(|_| {
        // The context may be half-updated, and closing it may panic again: then it is leaked
        // (with the picture and data the panic left behind, all bounded by the pixel limit and
        // the input), never closed twice, and `decoder`'s own drop finds nothing to close.
        let context = decoder.0.take();
        let _closed = catch_unwind(AssertUnwindSafe(|| drop(Decoder(context))));
        Err("AV1: the decoder failed on this stream".into())
    })
}

fn decode_with(decoder: &Decoder, obus: &[u8]) -> Result<Plane, String> {
    let mut data = Dav1dData::default();
    // SAFETY: `data` is ours to write; the call allocates `obus.len()` bytes behind `data.data`,
    // or returns null.
    let buffer = unsafe { dav1d_data_create(Some(NonNull::from(&mut data)), obus.len()) };
    if buffer.is_null() {
        return Err("empty or unallocatable AV1 item".into());
    }
    // SAFETY: `buffer` is `obus.len()` writable bytes, just allocated, not aliased.
    unsafe { std::ptr::copy_nonoverlapping(obus.as_ptr(), buffer, obus.len()) };
    let picture = picture(decoder, &mut data);
    if data.sz > 0 {
        // SAFETY: `data` still holds what the decoder did not consume; it is released once.
        unsafe { dav1d_data_unref(Some(NonNull::from(&mut data))) };
    }
    let mut picture = picture?;
    let plane = luma_plane(&picture);
    // SAFETY: the picture came from `dav1d_get_picture` and is released once, after the copy.
    unsafe { dav1d_picture_unref(Some(NonNull::from(&mut picture))) };
    plane
}

fn open(max_pixels: u64) -> Result<Decoder, String> {
    let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
    // SAFETY: the call writes every field of the settings.
    let mut settings = unsafe {
        dav1d_default_settings(NonNull::from(&mut settings).cast());
        settings.assume_init()
    };
    settings.n_threads = 1;
    settings.max_frame_delay = 1;
    settings.apply_grain = 0;
    settings.frame_size_limit = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    // No logger: rav1d's default prints to stderr what a corrupt stream made it think, and a
    // caller's corrupt upload is not the server's log. (Its type is not exported; both its fields
    // are `Option`s of non-null pointers, whose `None` is all zero bits, so zero bits are the
    // logger with neither cookie nor callback, which rav1d reads as "off".)
    // SAFETY: see above; the field is a plain `#[repr(C)]` struct, written whole.
    unsafe { std::ptr::write_bytes(&raw mut settings.logger, 0, 1) };
    let mut decoder = Decoder(None);
    // SAFETY: both pointers are to live locals; `dav1d_open` reads the settings and writes the
    // context.
    let result = unsafe {
        dav1d_open(
            Some(NonNull::from(&mut decoder.0)),
            Some(NonNull::from(&mut settings)),
        )
    };
    if result.0 < 0 || decoder.0.is_none() {
        return Err(format!("the AV1 decoder did not open ({})", result.0));
    }
    Ok(decoder)
}

/// Sends `data` and takes the one picture it holds.
fn picture(decoder: &Decoder, data: &mut Dav1dData) -> Result<Dav1dPicture, String> {
    let mut attempts_without_data = 0;
    loop {
        if data.sz > 0 {
            // SAFETY: the context is open; `data` is a live `Dav1dData` from `dav1d_data_create`,
            // which the call consumes (in part or whole) and updates.
            let sent = unsafe { dav1d_send_data(decoder.0, Some(NonNull::from(&mut *data))) };
            if sent.0 < 0 && sent.0 != AGAIN {
                return Err(format!("AV1: the stream is corrupt ({})", sent.0));
            }
        } else {
            attempts_without_data += 1;
            if attempts_without_data > DRAIN_ATTEMPTS {
                return Err("AV1: the stream holds no picture".into());
            }
        }
        let mut picture = Dav1dPicture::default();
        // SAFETY: the context is open; `picture` is ours to write.
        let got = unsafe { dav1d_get_picture(decoder.0, Some(NonNull::from(&mut picture))) };
        match got.0 {
            0 => return Ok(picture),
            AGAIN => continue,
            error => return Err(format!("AV1: the stream is corrupt ({error})")),
        }
    }
}

/// The luma plane of `picture`, copied row by row (its stride is padded), as 8-bit samples.
fn luma_plane(picture: &Dav1dPicture) -> Result<Plane, String> {
    let (width, height) = (picture.p.w, picture.p.h);
    let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err("AV1: a picture of negative size".into());
    };
    let Some(luma) = picture.data[0] else {
        return Err("AV1: a picture without a luma plane".into());
    };
    let stride = picture.stride[0];
    let bits = picture.p.bpc;
    let bytes_per_sample = if bits > 8 { 2 } else { 1 };
    if stride < (width as isize) * bytes_per_sample {
        return Err("AV1: a luma stride shorter than a row".into());
    }
    let full_range = picture
        .seq_hdr
        // SAFETY: a picture's sequence header lives as long as the picture.
        .map(|header| unsafe { header.as_ref() }.color_range != 0)
        .unwrap_or(false);
    let mut samples = Vec::with_capacity(width as usize * height as usize);
    for row in 0..height as isize {
        // SAFETY: rav1d allocates `stride` bytes for each of the plane's `height` rows, and a
        // row's `width` samples lie within its stride (checked above).
        let row = unsafe {
            std::slice::from_raw_parts(
                luma.as_ptr().cast::<u8>().offset(row * stride),
                width as usize * bytes_per_sample as usize,
            )
        };
        if bytes_per_sample == 1 {
            samples.extend_from_slice(row);
        } else {
            let shift = bits - 8;
            samples.extend(
                row.chunks_exact(2)
                    .map(|s| (u16::from_ne_bytes([s[0], s[1]]) >> shift).min(255) as u8),
            );
        }
    }
    Ok(Plane {
        width,
        height,
        samples,
        full_range,
    })
}
