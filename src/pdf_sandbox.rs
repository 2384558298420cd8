//! PDF pages drawn in a child process (`qrscan render-pdf-page`), one child a page, so what the
//! decoder cannot check before drawing is bounded from outside: the child's address space is held
//! to `--max-decode-memory` plus the process's own (`RLIMIT_AS`), and it is killed when what is
//! left of the decode budget runs out. A compressed stream that inflates a thousandfold, an image
//! that decodes past the cap, a page that takes minutes to draw: each ends one child, never the
//! server. (hayro is safe Rust; this bounds its resource use, not memory safety.)
//!
//! The child reads the PDF on stdin and writes the page on stdout: three little-endian `u32`
//! (the document's page count, width, height) and the grey pixels; or, exit status 1, the
//! `DecodeError` that refused the page, as JSON.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qrscan_decode::{pdf, DecodeError, DecodeOptions, GrayImage, PageRenderer, RenderedPage};

/// The address space of a `render-pdf-page` child of its own: the binary, its libraries, a stack.
/// A child drawing `fixtures/qr-segno.pdf` runs under `ulimit -v` 32 MB and not under 24 MB; half
/// as much again for margin. The decoder's memory cap comes on top.
const CHILD_BASE_ADDRESS_SPACE: u64 = 48 << 20;

/// How often a waiting parent looks at its child.
const POLL: Duration = Duration::from_millis(2);

/// Exit status of a child that answered with a refusal (JSON on stdout).
const REFUSED: u8 = 1;

/// A renderer that draws each page in a child running `program` (the qrscan binary).
pub fn renderer(program: PathBuf) -> PageRenderer {
    Arc::new(move |bytes: &[u8], index: u32, options: &DecodeOptions| {
        render_in_child(&program, bytes, index, options)
    })
}

/// Draws page `index` in a child process held to the memory cap and the budget left.
fn render_in_child(
    program: &Path,
    bytes: &[u8],
    index: u32,
    options: &DecodeOptions,
) -> Result<RenderedPage, DecodeError> {
    let page = index + 1;
    let started = Instant::now();
    let address_space = options
        .max_decoder_bytes
        .saturating_add(CHILD_BASE_ADDRESS_SPACE);
    // The wait below kills the child at the deadline; should the parent die first, the kernel
    // stops it by CPU time, a second past the budget.
    let cpu_seconds = options.budget.as_secs() + 2;
    let mut command = Command::new(program);
    command
        .args(["render-pdf-page", "--page"])
        .arg(index.to_string())
        .arg("--max-pixels")
        .arg(options.max_pixels.to_string())
        .arg("--max-decode-memory")
        .arg(options.max_decoder_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure calls only setrlimit and prctl, which are
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            limit(libc::RLIMIT_AS, address_space)?;
            limit(libc::RLIMIT_CPU, cpu_seconds)?;
            // A child that dies of the cap leaves no core file behind.
            limit(libc::RLIMIT_CORE, 0)?;
            // Killed with the thread that waits for it (which outlives the child otherwise).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| unavailable(page, &format!("the renderer did not start: {e}")))?;
    let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(unavailable(page, "the renderer's pipes did not open"));
    };
    // The pipes are served on threads, so the wait below can stop the child at the deadline
    // whatever it is doing.
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    // Room for the largest answer up front: reserved, not touched, so a small page costs its own
    // size, and a 40 MP one is not copied from buffer to doubled buffer as it arrives.
    let largest_answer =
        usize::try_from(options.max_pixels.saturating_add(12)).unwrap_or(usize::MAX);
    let reader = std::thread::spawn(move || {
        let mut output = Vec::with_capacity(largest_answer);
        stdout.read_to_end(&mut output).map(|_| output)
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= options.budget => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                let _ = child.kill();
                return Err(unavailable(page, &format!("waiting for the renderer: {e}")));
            }
        }
    };
    // A child that exits early closes the pipe under the writer: its error says nothing more.
    let _ = writer.join();
    let output = reader.join().ok().and_then(Result::ok).unwrap_or_default();
    let Some(status) = status else {
        return Err(DecodeError::PageStopped {
            page,
            why: format!(
                "it took longer than the {} ms left of the decode budget",
                options.budget.as_millis()
            ),
        });
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => parse_page(output).ok_or_else(|| unavailable(page, "a short answer")),
        (Some(code), _) if code == i32::from(REFUSED) => serde_json::from_slice(&output)
            .map_or_else(|_| Err(unavailable(page, "an unreadable refusal")), Err),
        // Out of CPU time (a parent that stopped waiting is the only way there): the budget.
        (_, Some(libc::SIGXCPU)) => Err(DecodeError::PageStopped {
            page,
            why: "it took longer than the decode budget".into(),
        }),
        // Out of address space, the allocator aborts (SIGABRT) or a stack cannot grow (SIGSEGV).
        (_, Some(libc::SIGABRT | libc::SIGSEGV | libc::SIGKILL)) => Err(DecodeError::PageStopped {
            page,
            why: format!(
                "it needed more than the decoder memory limit of {} bytes",
                options.max_decoder_bytes
            ),
        }),
        _ => Err(DecodeError::NotAnImage(format!(
            "PDF: page {page} could not be drawn ({status})"
        ))),
    }
}

fn limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let value = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: a plain system call on a local value.
    if unsafe { libc::setrlimit(resource, &value) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A renderer that could not run: the page is not read, and the caller hears why.
fn unavailable(page: u32, why: &str) -> DecodeError {
    DecodeError::NotAnImage(format!("PDF: page {page} could not be drawn: {why}"))
}

/// The child's answer: page count, width, height, then the pixels (which become the image in
/// place: a 40 MP page is not copied).
fn parse_page(mut output: Vec<u8>) -> Option<RenderedPage> {
    let word = |at: usize| {
        output
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let (page_count, width, height) = (word(0)?, word(4)?, word(8)?);
    output.drain(..12);
    let grey = GrayImage::from_raw(width, height, output)?;
    Some(RenderedPage { page_count, grey })
}

/// `qrscan render-pdf-page`: the child's side. Reads the PDF on stdin, draws one page in this
/// process (the parent holds its limits), answers on stdout.
pub fn child_main(page: u32, max_pixels: u64, max_decode_memory: u64) -> ExitCode {
    let mut bytes = Vec::new();
    if std::io::stdin().read_to_end(&mut bytes).is_err() {
        return ExitCode::from(2);
    }
    let options = DecodeOptions {
        max_pixels,
        max_decoder_bytes: max_decode_memory,
        ..DecodeOptions::default()
    };
    let mut stdout = std::io::stdout().lock();
    let written = match pdf::render_page(&bytes, page, &options) {
        Ok(RenderedPage { page_count, grey }) => {
            let header = [page_count, grey.width(), grey.height()].map(u32::to_le_bytes);
            stdout
                .write_all(&header.concat())
                .and_then(|()| stdout.write_all(grey.as_raw()))
                .map(|()| ExitCode::SUCCESS)
        }
        Err(refusal) => serde_json::to_writer(&mut stdout, &refusal)
            .map_err(std::io::Error::from)
            .map(|()| ExitCode::from(REFUSED)),
    };
    written
        .and_then(|code| stdout.flush().map(|()| code))
        .unwrap_or(ExitCode::from(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_answer_is_read_back_and_a_short_one_is_not() {
        let answer = [3u32, 2, 2].map(u32::to_le_bytes).concat();
        let page = parse_page([answer.as_slice(), &[0, 255, 255, 0]].concat()).unwrap();
        assert_eq!((page.page_count, page.grey.dimensions()), (3, (2, 2)));
        assert_eq!(page.grey.as_raw(), &[0, 255, 255, 0]);
        assert!(parse_page([answer.as_slice(), &[0, 255, 255]].concat()).is_none());
        assert!(parse_page(answer[..11].to_vec()).is_none());
    }
}
