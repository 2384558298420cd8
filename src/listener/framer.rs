//! Where each request head and body ends in the bytes one connection reads (RFC 9112), as far
//! as the timeouts need it. Pure: bytes in, positions out.

/// The message boundaries in the bytes of one connection (RFC 9112), as far as the timeouts need
/// them: whether a byte of a request head has arrived that hyper has not handed over as a
/// request yet. A head ends at the first empty line after a line with something on it (empty
/// lines before a request line are skipped, as hyper does); its body's length is hyper's to
/// decide (`framed`); a chunked body ends at the empty line after its last chunk and trailers.
/// On malformed input it may lose step, which only matters until hyper refuses the request and
/// closes the connection.
#[derive(Debug, Default)]
pub(super) struct Framer {
    at: Frame,
    /// Heads begun: a byte other than CR or LF of each has been read.
    pub(super) heads: u64,
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    /// In or before a head: whether it has begun, and whether its current line has.
    Head { begun: bool, line: bool },
    /// A head ended; the length of its body is not known until hyper hands the request over.
    Framing,
    /// In a body, with this many bytes left.
    Body(u64),
    /// In the size line of a chunk: the size so far, and whether hex digits still count.
    ChunkSize { size: u64, digits: bool },
    /// In a chunk's data, with this many bytes left.
    ChunkData(u64),
    /// The line end after a chunk's data.
    ChunkEnd,
    /// In the trailer section after the last chunk: whether the current line has begun.
    Trailers { line: bool },
}

impl Default for Frame {
    fn default() -> Self {
        Frame::Head {
            begun: false,
            line: false,
        }
    }
}

impl Framer {
    /// Reads `bytes` up to the end of the first head whose body's length is not known; returns
    /// how many it read.
    pub(super) fn read(&mut self, bytes: &[u8]) -> usize {
        let mut read = 0;
        while read < bytes.len() {
            let left = (bytes.len() - read) as u64;
            match &mut self.at {
                Frame::Framing => break,
                Frame::Body(rest) | Frame::ChunkData(rest) => {
                    let n = (*rest).min(left);
                    *rest -= n;
                    // `n` is at most `left`, a `usize`.
                    read += n as usize;
                    if *rest == 0 {
                        self.at = match self.at {
                            Frame::Body(_) => Frame::default(),
                            _ => Frame::ChunkEnd,
                        };
                    }
                }
                _ => {
                    self.byte(bytes[read]);
                    read += 1;
                }
            }
        }
        read
    }

    fn byte(&mut self, byte: u8) {
        self.at = match (self.at, byte) {
            (Frame::Head { begun, line: true }, b'\n') => Frame::Head { begun, line: false },
            (Frame::Head { begun: true, .. }, b'\n') => Frame::Framing,
            (head @ Frame::Head { .. }, b'\r' | b'\n') => head,
            (Frame::Head { begun, .. }, _) => {
                if !begun {
                    self.heads += 1;
                }
                Frame::Head {
                    begun: true,
                    line: true,
                }
            }
            (Frame::ChunkSize { size: 0, .. }, b'\n') => Frame::Trailers { line: false },
            (Frame::ChunkSize { size, .. }, b'\n') => Frame::ChunkData(size),
            (Frame::ChunkSize { size, digits: true }, digit) if digit.is_ascii_hexdigit() => {
                let value = (digit as char).to_digit(16).unwrap_or(0);
                Frame::ChunkSize {
                    size: size.saturating_mul(16).saturating_add(u64::from(value)),
                    digits: true,
                }
            }
            (Frame::ChunkSize { size, .. }, _) => Frame::ChunkSize {
                size,
                digits: false,
            },
            (Frame::ChunkEnd, b'\n') => Frame::ChunkSize {
                size: 0,
                digits: true,
            },
            (Frame::Trailers { line: true }, b'\n') => Frame::Trailers { line: false },
            (Frame::Trailers { .. }, b'\n') => Frame::default(),
            (trailers @ Frame::Trailers { .. }, b'\r') => trailers,
            (Frame::Trailers { .. }, _) => Frame::Trailers { line: true },
            (other, _) => other,
        };
    }

    /// The head read last has a body of `length` bytes (`None`: chunked).
    pub(super) fn framed(&mut self, length: Option<u64>) {
        if let Frame::Framing = self.at {
            self.at = match length {
                Some(0) => Frame::default(),
                Some(length) => Frame::Body(length),
                None => Frame::ChunkSize {
                    size: 0,
                    digits: true,
                },
            };
        }
    }

    pub(super) fn needs_framing(&self) -> bool {
        matches!(self.at, Frame::Framing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framer_finds_where_each_head_and_body_ends() {
        let mut framer = Framer::default();
        // Empty lines before a request line are skipped; a head ends at its empty line.
        let post = b"\r\n\r\nPOST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        let get = b"GET /b HTTP/1.1\nHost: q\n\n";
        let bytes = [&post[..], b"hello", get, b"GET /c HT"].concat();

        let first = framer.read(&bytes);
        assert_eq!((first, framer.heads), (post.len(), 1));
        assert!(framer.needs_framing());
        framer.framed(Some(5));
        let second = framer.read(&bytes[first..]);
        assert_eq!((second, framer.heads), (5 + get.len(), 2));
        framer.framed(Some(0));
        let third = framer.read(&bytes[first + second..]);

        assert_eq!((third, framer.heads), (9, 3));
        assert!(!framer.needs_framing());
    }

    #[test]
    fn a_chunked_body_ends_at_the_empty_line_after_its_last_chunk() {
        let mut framer = Framer::default();
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(framer.read(head), head.len());
        framer.framed(None);
        // Data holding line ends and a last-chunk look-alike, an extension, then trailers.
        let with_trailers = b"a;name=value\r\n0\r\n\r\n\r\n\n00\r\n0\r\nExpires: never\r\n\r\n";
        for byte in with_trailers {
            assert_eq!(framer.read(&[*byte]), 1);
        }
        assert_eq!(framer.heads, 1, "a body begins no head");

        assert_eq!(framer.read(head), head.len());
        framer.framed(None);
        let plain = b"3\r\nabc\r\n0\r\n\r\nG";
        assert_eq!(framer.read(plain), plain.len());
        assert_eq!(framer.heads, 3);
    }
}
