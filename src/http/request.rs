//! Request head parsing and strict validation (RFC 9112): what the head means, where the
//! body ends, and which fields a proxy may pass on.

use smallvec::SmallVec;

use super::fields::{Role, has_bare_lf, is_token, scan_fields, span_in, start_line_offset};
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

/// The most fields a head may have, whatever `RequestLimits::max_headers` says (the parser's
/// field array lives on the stack).
pub const MAX_HEADERS: usize = 128;

/// Parses the request head at the start of `buf`. `Ok(None)`: incomplete, read more (but
/// `TooLarge` / `UriTooLong` are reported as soon as the bytes already there prove them).
///
/// Strict by design (RFC 9112; a proxy must not guess where a request ends):
/// - every line ends in CRLF (a bare LF anywhere in the head is `Malformed`); leading empty
///   lines (CRLF) before the request line are skipped, as RFC 9112 section 2.2 allows;
/// - `METHOD SP request-target SP HTTP/1.x CRLF` with single spaces; another well-formed
///   `HTTP/d.d` is `VersionNotSupported`, anything else `Malformed`;
/// - the target is origin-form (`/...`), or `*` with `OPTIONS` only; absolute-form
///   (`http://host/...`) and authority-form are not accepted at the edge (`Malformed`);
/// - no obs-fold, no whitespace before a colon, no CTL (except HTAB) in values;
/// - `Content-Length` and `Transfer-Encoding` together, a non-decimal or conflicting
///   `Content-Length`, an unparsable coding list, or `Transfer-Encoding` on HTTP/1.0 are
///   `Malformed`; a well-formed coding list other than exactly `chunked` is
///   `UnsupportedTransferCoding`;
/// - HTTP/1.1 needs exactly one valid `Host` (HTTP/1.0: at most one);
/// - `Expect` other than `100-continue` is `UnknownExpectation`.
pub fn parse_request_head(
    buf: &[u8],
    limits: &RequestLimits,
) -> Result<Option<RequestHead>, HeadError> {
    let max = limits.max_header_bytes.min(u32::MAX as usize);
    check_target_len(buf, limits.max_uri_bytes)?;
    let window = &buf[..buf.len().min(max)];

    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage[..limits.max_headers.min(MAX_HEADERS)]);
    let head_len = match req.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if has_bare_lf(window) {
                return Err(HeadError::Malformed("bare LF line terminator"));
            }
            if buf.len() > max {
                return Err(HeadError::TooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return bad_version(window, buf.len() > max),
        Err(e) => return Err(HeadError::Malformed(httparse_reason(e))),
    };
    let head = &buf[..head_len];
    if has_bare_lf(head) {
        return Err(HeadError::Malformed("bare LF line terminator"));
    }

    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let version = if minor == 1 {
        Version::Http11
    } else {
        Version::Http10
    };
    let method_b = method.as_bytes();
    let target_b = path.as_bytes();
    match target_b {
        [b'/', ..] => {}
        b"*" if method_b == b"OPTIONS" => {}
        b"*" => return Err(HeadError::Malformed("asterisk-form target without OPTIONS")),
        _ => {
            return Err(HeadError::Malformed(
                "request-target must be origin-form (absolute-form is not accepted)",
            ));
        }
    }
    if target_b.len() > limits.max_uri_bytes {
        return Err(HeadError::UriTooLong);
    }

    let mut scan = scan_fields(head, req.headers, Role::Request).map_err(HeadError::Malformed)?;

    if scan.codings.is_some() && scan.content_length.is_some() {
        return Err(HeadError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if scan.codings.is_some() && version == Version::Http10 {
        return Err(HeadError::Malformed("Transfer-Encoding on HTTP/1.0"));
    }
    match (version, scan.host_count) {
        (Version::Http11, 0) => return Err(HeadError::Malformed("missing Host")),
        (_, 0 | 1) => {}
        _ => return Err(HeadError::Malformed("more than one Host")),
    }
    if scan.invocation_target_count > 1 {
        return Err(HeadError::Malformed("more than one x-fc-invocation-target"));
    }
    let body = match (scan.codings, scan.content_length) {
        (Some(c), _) if c.is_chunked_only() => BodyKind::Chunked,
        (Some(_), _) => return Err(HeadError::UnsupportedTransferCoding),
        (None, Some(n)) => BodyKind::Length(n),
        (None, None) => BodyKind::None,
    };
    if scan.unknown_expectation {
        return Err(HeadError::UnknownExpectation);
    }

    // RFC 9110 section 7.8: an Upgrade on an HTTP/1.0 request is ignored.
    let upgrade = version == Version::Http11 && scan.upgrade_token && scan.upgrade_field;
    if upgrade {
        for f in scan.headers.iter_mut() {
            if f.name.get(head).eq_ignore_ascii_case(b"upgrade") {
                f.forward = true;
            }
        }
    }
    let keep_alive = !scan.close && (version == Version::Http11 || scan.keep_alive);

    Ok(Some(RequestHead {
        head_len,
        method: span_in(buf, method_b),
        target: span_in(buf, target_b),
        version,
        headers: scan.headers,
        host: scan.host,
        body,
        keep_alive,
        // RFC 9110 section 10.1.1: a 100-continue expectation on HTTP/1.0 is ignored.
        expect_continue: scan.expect_continue && version == Version::Http11,
        upgrade,
        x_forwarded_for: scan.x_forwarded_for,
        invocation_target: scan.invocation_target,
    }))
}

/// Reports `UriTooLong` as soon as the request-target seen so far is longer than allowed,
/// complete or not. Quietly does nothing when the line does not start with `token SP` (the
/// parser reports that).
fn check_target_len(buf: &[u8], max_uri: usize) -> Result<(), HeadError> {
    let line = &buf[start_line_offset(buf)..];
    let Some(sp) = memchr::memchr(b' ', line) else {
        return Ok(());
    };
    if !is_token(&line[..sp]) {
        return Ok(());
    }
    let target = &line[sp + 1..];
    if target.len() <= max_uri {
        return Ok(());
    }
    // Only the first max_uri + 1 bytes need a look: no delimiter there proves it too long.
    match memchr::memchr3(b' ', b'\r', b'\n', &target[..=max_uri]) {
        Some(_) => Ok(()),
        None => Err(HeadError::UriTooLong),
    }
}

/// httparse refused the version: a well-formed `HTTP/d.d` CRLF is 505, anything else 400;
/// a prefix of one is incomplete.
fn bad_version(window: &[u8], over_limit: bool) -> Result<Option<RequestHead>, HeadError> {
    let line = &window[start_line_offset(window)..];
    // httparse accepted `method SP target SP` before failing, so both spaces are there.
    let mut spaces = memchr::memchr_iter(b' ', line);
    let (Some(_), Some(sp2)) = (spaces.next(), spaces.next()) else {
        return Err(HeadError::Malformed("invalid HTTP version"));
    };
    let v = &line[sp2 + 1..];
    const SHAPE: &[u8; 10] = b"HTTP/d.d\r\n";
    for (i, &want) in SHAPE.iter().enumerate() {
        let Some(&b) = v.get(i) else {
            return if over_limit {
                Err(HeadError::TooLarge)
            } else {
                Ok(None)
            };
        };
        let ok = if want == b'd' {
            b.is_ascii_digit()
        } else {
            b == want
        };
        if !ok {
            return Err(HeadError::Malformed("invalid HTTP version"));
        }
    }
    Err(HeadError::VersionNotSupported)
}

pub(crate) fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => {
            "invalid header name (or whitespace before colon, or obs-fold)"
        }
        httparse::Error::HeaderValue => "invalid byte in header value",
        httparse::Error::NewLine => "invalid line terminator",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid request line",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "invalid HTTP version",
    }
}
