//! Request head parsing and strict validation (RFC 9112): what the head means, where the
//! body ends, and which fields a proxy may pass on.

use smallvec::SmallVec;

use super::{BodyKind, HeaderField, Span, Version};

#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Request line + fields, through the blank line; over it: `TooLarge` (431).
    pub max_header_bytes: usize,
    /// The request-target; over it: `UriTooLong` (414).
    pub max_uri_bytes: usize,
    /// Number of fields; over it: `TooLarge` (431).
    pub max_headers: usize,
}

/// A parsed request head: byte ranges into the buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Bytes of the head, through the CRLF CRLF; the body (if any) starts here.
    pub head_len: usize,
    pub method: Span,
    pub target: Span,
    pub version: Version,
    /// Every field, in order.
    pub headers: SmallVec<[HeaderField; 32]>,
    /// The value of the one `Host` field (None only on HTTP/1.0 without one).
    pub host: Option<Span>,
    pub body: BodyKind,
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Expect: 100-continue` (case-insensitive).
    pub expect_continue: bool,
    /// `Connection: upgrade` together with an `Upgrade` field.
    pub upgrade: bool,
    /// The values of the client's `X-Forwarded-For` fields, in order.
    pub x_forwarded_for: SmallVec<[Span; 2]>,
    /// The value of the `x-fc-invocation-target` field, if present exactly once.
    pub invocation_target: Option<Span>,
}

/// Why a request head was refused. The connection is closed after answering any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// 431: the head is longer than `max_header_bytes`, or has too many fields.
    TooLarge,
    /// 414: the request-target is longer than `max_uri_bytes`.
    UriTooLong,
    /// 400: anything malformed or ambiguous; the text says what.
    Malformed(&'static str),
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
    /// 501: a transfer-coding other than `chunked`.
    UnsupportedTransferCoding,
    /// 417: an `Expect` other than `100-continue`.
    UnknownExpectation,
}

/// Parses the request head at the start of `buf`. `Ok(None)`: incomplete, read more (but
/// `TooLarge` / `UriTooLong` are reported as soon as the bytes already there prove them).
pub fn parse_request_head(
    buf: &[u8],
    limits: &RequestLimits,
) -> Result<Option<RequestHead>, HeadError> {
    let _ = (buf, limits);
    unimplemented!("http::request::parse_request_head")
}
