//! Bytes-level HTTP/1.1 (RFC 9110 / 9112), knowing nothing of Function Compute: request and
//! response head parsing (httparse + strict validation), body framing, and the chunked decoder.
//!
//! Heads are parsed in place: a parsed head is a set of byte ranges into the caller's buffer,
//! never a `String` per header. httparse fills a fixed array of at most
//! [`request::MAX_HEADERS`] fields on the stack; the common path does not allocate.
//!
//! # Strictness
//!
//! A proxy that reads a message differently from the next hop is a request-smuggling hazard,
//! so every form that parsers disagree on is refused rather than repaired:
//!
//! | input | request | response |
//! |---|---|---|
//! | bare LF (or bare CR) as a line terminator anywhere in the head | 400 | malformed |
//! | obs-fold (field line starting with SP / HTAB) | 400 | malformed |
//! | whitespace between field name and colon; non-token name | 400 | malformed |
//! | NUL, CR, other CTL (not HTAB) or DEL in a field value | 400 | malformed |
//! | `Content-Length` together with `Transfer-Encoding` | 400 | malformed |
//! | `Content-Length` not 1*DIGIT (sign, hex, inner space, empty) or > 19 digits | 400 | malformed |
//! | several `Content-Length` values (fields or list) that differ; `5, 5` is fine | 400 | malformed |
//! | `Transfer-Encoding` not a plain token list (`chunked;x`, quotes, empty element) | 400 | malformed |
//! | `Transfer-Encoding` a token list other than exactly `chunked` (`xchunked`, `gzip, chunked`, `chunked, chunked`, two fields) | 501 | malformed |
//! | `Transfer-Encoding` on HTTP/1.0 | 400 | malformed |
//! | request line not `METHOD SP target SP HTTP/1.x CRLF` (extra spaces, `http/1.1`, no version) | 400 | - |
//! | well-formed `HTTP/d.d` other than 1.0 / 1.1 | 505 | malformed |
//! | absolute-form / authority-form target, `*` without `OPTIONS` | 400 | - |
//! | HTTP/1.1 without `Host`, or two `Host` (any version); invalid `Host` (`@`, `/`, space, empty, bad port) | 400 | - |
//! | `Expect` other than `100-continue` (HTTP/1.0: `100-continue` ignored) | 417 | - |
//! | two `x-fc-invocation-target` | 400 | - |
//! | head over the limit (even before it is complete); too many fields | 431 | too large |
//! | request-target over the limit (as soon as that many bytes of it are in) | 414 | - |
//! | status below 100 | - | malformed |
//!
//! `Connection` may name fields to drop, but never `Content-Length` or `Host` (dropping those
//! would change where the message ends or whom it is for). Empty `Connection` list elements
//! are skipped; empty `Content-Length` / `Transfer-Encoding` elements are refused. Leading
//! empty lines (CRLF) before a start line are skipped (RFC 9112 section 2.2). Chunked bodies:
//! see [`chunked::ChunkedDecoder`].

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

/// Appends `n` in decimal (framing lines are written on every message: no `fmt` machinery).
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod decimal_tests {
    use super::push_decimal;

    #[test]
    fn decimal_matches_display() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u32::MAX as u64, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }
}
