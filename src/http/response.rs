//! Response head parsing (an instance's answer): status, framing, reuse, fields to pass on.

use smallvec::SmallVec;

use super::{HeaderField, Span, Version};

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body: HEAD, 1xx, 204, 304 (and 101, after which the connection is a tunnel).
    None,
    Length(u64),
    Chunked,
    /// Until the instance closes the connection.
    Close,
}

#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub head_len: usize,
    pub status: u16,
    pub version: Version,
    /// The reason phrase (may be empty).
    pub reason: Span,
    pub headers: SmallVec<[HeaderField; 32]>,
    pub body: ResponseBody,
    /// The instance allows the connection to be reused after this response (HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `keep-alive`), and the body is not close-delimited.
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// The head is longer than allowed.
    TooLarge,
    /// Malformed or ambiguous framing; the text says what.
    Malformed(&'static str),
}

/// Parses the response head at the start of `buf`. `request_was_head`: the request was HEAD,
/// so no body follows whatever the fields say. `Ok(None)`: incomplete, read more.
pub fn parse_response_head(
    buf: &[u8],
    request_was_head: bool,
    max_head_bytes: usize,
) -> Result<Option<ResponseHead>, ResponseError> {
    let _ = (buf, request_was_head, max_head_bytes);
    unimplemented!("http::response::parse_response_head")
}
