//! Response head parsing (an instance's answer): status, framing, reuse, fields to pass on.

use smallvec::SmallVec;

use super::fields::{Role, has_bare_lf, scan_fields, start_line_offset};
use super::request::{MAX_HEADERS, httparse_reason};
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
///
/// As strict as request parsing (bare LF, CTLs, obs-fold, whitespace before a colon,
/// `Content-Length` with `Transfer-Encoding`, bad or conflicting `Content-Length`), and a
/// `Transfer-Encoding` other than exactly `chunked` (or one on HTTP/1.0) is `Malformed` too:
/// the proxy re-frames bodies and cannot pass another coding on. A status below 100 is
/// `Malformed`. A 101 response never has `keep_alive` (the connection becomes a tunnel).
pub fn parse_response_head(
    buf: &[u8],
    request_was_head: bool,
    max_head_bytes: usize,
) -> Result<Option<ResponseHead>, ResponseError> {
    let max = max_head_bytes.min(u32::MAX as usize);
    let window = &buf[..buf.len().min(max)];

    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut storage);
    let head_len = match res.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if has_bare_lf(window) {
                return Err(ResponseError::Malformed("bare LF line terminator"));
            }
            if buf.len() > max {
                return Err(ResponseError::TooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooLarge),
        Err(e) => return Err(ResponseError::Malformed(httparse_reason(e))),
    };
    let head = &buf[..head_len];
    if has_bare_lf(head) {
        return Err(ResponseError::Malformed("bare LF line terminator"));
    }
    let (Some(minor), Some(status)) = (res.version, res.code) else {
        return Err(ResponseError::Malformed("incomplete status line"));
    };
    if status < 100 {
        return Err(ResponseError::Malformed("status code below 100"));
    }
    let version = if minor == 1 {
        Version::Http11
    } else {
        Version::Http10
    };
    // `HTTP/1.x SP 3DIGIT` is 12 bytes; then SP reason CRLF, or CRLF (empty reason). The
    // reason is located by hand: httparse hands back "" for one with obs-text.
    let line = start_line_offset(head);
    let reason = if head.get(line + 12) == Some(&b' ') {
        let from = line + 13;
        let to = from + memchr::memchr(b'\r', &head[from..]).unwrap_or(0);
        Span {
            start: from as u32,
            end: to as u32,
        }
    } else {
        Span {
            start: (line + 12) as u32,
            end: (line + 12) as u32,
        }
    };

    let switching = status == 101;
    let scan = scan_fields(head, res.headers, Role::Response { switching })
        .map_err(ResponseError::Malformed)?;
    if scan.codings.is_some() && scan.content_length.is_some() {
        return Err(ResponseError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if let Some(c) = scan.codings {
        if version == Version::Http10 {
            return Err(ResponseError::Malformed("Transfer-Encoding on HTTP/1.0"));
        }
        if !c.is_chunked_only() {
            return Err(ResponseError::Malformed(
                "Transfer-Encoding other than chunked",
            ));
        }
    }
    let body = if request_was_head || status < 200 || status == 204 || status == 304 {
        ResponseBody::None
    } else if scan.codings.is_some() {
        ResponseBody::Chunked
    } else if let Some(n) = scan.content_length {
        ResponseBody::Length(n)
    } else {
        ResponseBody::Close
    };
    let keep_alive = !switching
        && !scan.close
        && (version == Version::Http11 || scan.keep_alive)
        && body != ResponseBody::Close;

    Ok(Some(ResponseHead {
        head_len,
        status,
        version,
        reason,
        headers: scan.headers,
        body,
        keep_alive,
    }))
}
