//! Bytes-level HTTP/1.1 (RFC 9110 / 9112), knowing nothing of Function Compute: request and
//! response head parsing (httparse + strict validation), body framing, and the chunked decoder.
//!
//! Heads are parsed in place: a parsed head is a set of byte ranges into the caller's buffer,
//! never a `String` per header.

pub mod chunked;
pub mod fields;
pub mod request;
pub mod response;

pub use chunked::{ChunkError, ChunkStep, ChunkedDecoder, LAST_CHUNK, chunk_size_line};
pub use request::{HeadError, RequestHead, RequestLimits, parse_request_head};
pub use response::{ResponseBody, ResponseError, ResponseHead, parse_response_head};

use std::ops::Range;

/// Byte range `start..end` into the buffer a head was parsed from (u32 keeps it small).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
    pub fn get(self, buf: &[u8]) -> &[u8] {
        &buf[self.range()]
    }
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// One header field of a parsed head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    pub name: Span,
    pub value: Span,
    /// The whole field line, from the first byte of the name through its CRLF.
    pub line: Span,
    /// False for a field a proxy must not pass on as-is: hop-by-hop fields (`Connection` and
    /// every field it names, `Keep-Alive`, `Proxy-Connection`, `TE` other than `trailers`,
    /// `Trailer`, `Transfer-Encoding`, `Upgrade` unless the message upgrades), and for
    /// requests also every `x-fc-*` field and `X-Forwarded-For` / `X-Forwarded-Proto` /
    /// `X-Real-IP` (the proxy writes its own).
    pub forward: bool,
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
}
