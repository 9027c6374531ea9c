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
    pub headers: SmallVec<[HeaderField; 16]>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMITS: RequestLimits = RequestLimits {
        max_header_bytes: 8192,
        max_uri_bytes: 4096,
        max_headers: 100,
    };

    fn parse(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
        parse_request_head(buf, &LIMITS)
    }

    fn ok(buf: &[u8]) -> RequestHead {
        match parse(buf) {
            Ok(Some(h)) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    /// `GET / HTTP/1.1`, `Host: a`, then `fields` (each with its CRLF), then the blank line.
    fn get(fields: &str) -> Vec<u8> {
        format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
    }

    fn field<'a>(buf: &'a [u8], h: &RequestHead, name: &str) -> Option<(&'a [u8], bool)> {
        h.headers
            .iter()
            .find(|f| f.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| (f.value.get(buf), f.forward))
    }

    fn forwarded(fields: &str, name: &str) -> bool {
        let buf = get(fields);
        let h = ok(&buf);
        field(&buf, &h, name).expect("field present").1
    }

    /// One test per input: the request is refused with the given error.
    macro_rules! rejects {
        ($($name:ident: $input:expr => $err:pat,)*) => {$(
            #[test]
            fn $name() {
                let input: Vec<u8> = $input.to_vec();
                let r = parse(&input);
                assert!(matches!(r, Err($err)), "{:?} -> {r:?}", String::from_utf8_lossy(&input));
            }
        )*};
    }

    /// One test per input: the request parses, and `$check` holds for the head.
    macro_rules! accepts {
        ($($name:ident: $input:expr => |$h:ident| $check:expr;)*) => {$(
            #[test]
            fn $name() {
                let input: Vec<u8> = $input.to_vec();
                let $h = ok(&input);
                assert!($check, "{:?} -> {:?}", String::from_utf8_lossy(&input), $h);
            }
        )*};
    }

    use HeadError::*;

    // ---- request line ----
    rejects! {
        line_double_space_after_method: b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_double_space_before_version: b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_trailing_space: b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n" => Malformed(_),
        line_leading_space: b" GET / HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_tab_separator: b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_http09_no_version: b"GET /\r\n\r\n" => Malformed(_),
        line_lowercase_version: b"GET / http/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_garbage_version: b"GET / FOO/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_version_two_digit_major: b"GET / HTTP/10.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_version_no_minor: b"GET / HTTP/2\r\nHost: a\r\n\r\n" => Malformed(_),
        line_http20: b"GET / HTTP/2.0\r\nHost: a\r\n\r\n" => VersionNotSupported,
        line_http12: b"GET / HTTP/1.2\r\nHost: a\r\n\r\n" => VersionNotSupported,
        line_http09_versioned: b"GET / HTTP/0.9\r\nHost: a\r\n\r\n" => VersionNotSupported,
        line_http30_bare_lf: b"GET / HTTP/3.0\nHost: a\r\n\r\n" => Malformed(_),
        line_method_not_token: b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_method_with_nul: b"G\0T / HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_empty_target: b"GET  HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_absolute_form: b"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_authority_form: b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n" => Malformed(_),
        line_asterisk_without_options: b"GET * HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_asterisk_with_suffix: b"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_target_with_space_ctl: b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
        line_bare_lf: b"GET / HTTP/1.1\nHost: a\r\n\r\n" => Malformed(_),
        line_bare_cr: b"GET / HTTP/1.1\rHost: a\r\n\r\n" => Malformed(_),
        leading_bare_lf_line: b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n" => Malformed(_),
    }

    accepts! {
        simple_get: b"GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n" => |h|
            h.version == Version::Http11 && h.body == BodyKind::None && h.keep_alive
            && !h.upgrade && !h.expect_continue && h.head_len == 45;
        options_asterisk: b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" => |h| h.target.len() == 1;
        lowercase_method_is_a_token: b"get / HTTP/1.1\r\nHost: a\r\n\r\n" => |h| h.method.len() == 3;
        extension_method: b"PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n" => |h| h.method.len() == 8;
        http10_without_host: b"GET / HTTP/1.0\r\n\r\n" => |h|
            h.version == Version::Http10 && h.host.is_none() && !h.keep_alive;
        leading_crlf_skipped: b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n" => |h|
            h.method == Span { start: 4, end: 7 } && h.head_len == 31;
    }

    #[test]
    fn spans_point_into_the_buffer() {
        let buf = b"POST /a/b?c HTTP/1.1\r\nHost: ex.com:8080\r\nX-Empty:\r\nContent-Length:  3 \r\n\r\nabcNEXT";
        let h = ok(buf);
        assert_eq!(h.method.get(buf), b"POST");
        assert_eq!(h.target.get(buf), b"/a/b?c");
        assert_eq!(h.host.unwrap().get(buf), b"ex.com:8080");
        assert_eq!(h.body, BodyKind::Length(3));
        assert_eq!(&buf[h.head_len..], b"abcNEXT");
        assert_eq!(h.headers.len(), 3);
        let lines: Vec<&[u8]> = h.headers.iter().map(|f| f.line.get(buf)).collect();
        assert_eq!(
            lines,
            [
                &b"Host: ex.com:8080\r\n"[..],
                b"X-Empty:\r\n",
                b"Content-Length:  3 \r\n"
            ]
        );
        assert_eq!(h.headers[1].value.get(buf), b"");
        assert_eq!(h.headers[2].name.get(buf), b"Content-Length");
        assert_eq!(h.headers[2].value.get(buf), b"3");
    }

    #[test]
    fn incomplete_is_none() {
        let buf = get("Content-Length: 3\r\n");
        for k in 0..buf.len() {
            assert!(matches!(parse(&buf[..k]), Ok(None)), "prefix {k}");
        }
        assert!(ok(&buf).head_len == buf.len());
    }

    #[test]
    fn incomplete_version_waits() {
        assert!(matches!(parse(b"GET / HTTP/2"), Ok(None)));
        assert!(matches!(parse(b"GET / HTTP/2.0\r"), Ok(None)));
        assert_eq!(
            parse(b"GET / HTTP/2.0\r\n").unwrap_err(),
            VersionNotSupported
        );
        assert!(matches!(parse(b"GET / HTTP/2x"), Err(Malformed(_))));
    }

    #[test]
    fn bare_lf_rejected_before_head_is_complete() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: a\nX: y"),
            Err(Malformed(_))
        ));
    }

    // ---- field syntax (smuggling vectors) ----
    rejects! {
        obs_fold_space: &get("X-A: 1\r\n 2\r\n") => Malformed(_),
        obs_fold_tab: &get("X-A: 1\r\n\t2\r\n") => Malformed(_),
        obs_fold_te: &get("Transfer-Encoding:\r\n chunked\r\n") => Malformed(_),
        space_before_colon: &get("Transfer-Encoding : chunked\r\n") => Malformed(_),
        tab_before_colon: &get("Content-Length\t: 5\r\n") => Malformed(_),
        space_before_first_field: b"GET / HTTP/1.1\r\n Host: a\r\n\r\n" => Malformed(_),
        empty_field_name: &get(": x\r\n") => Malformed(_),
        name_with_paren: &get("X(a): x\r\n") => Malformed(_),
        name_with_slash: &get("X/a: x\r\n") => Malformed(_),
        name_non_ascii: &get("X\u{e9}: x\r\n") => Malformed(_),
        missing_colon: &get("X-A x\r\n") => Malformed(_),
        nul_in_value: &get("X-A: a\0b\r\n") => Malformed(_),
        bare_cr_in_value: &get("X-A: a\rb\r\n") => Malformed(_),
        vtab_in_value: &get("X-A: a\x0bb\r\n") => Malformed(_),
        esc_in_value: &get("X-A: \x1b[1m\r\n") => Malformed(_),
        del_in_value: &get("X-A: a\x7fb\r\n") => Malformed(_),
        bare_lf_field_line: &get("X-A: a\nX-B: b\r\n") => Malformed(_),
        bare_lf_end_of_head: b"GET / HTTP/1.1\r\nHost: a\r\n\n" => Malformed(_),
        cr_cr_lf_end: b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n" => Malformed(_),
    }

    accepts! {
        htab_in_value: &get("X-A: a\tb\r\n") => |h| h.headers.len() == 2;
        obs_text_in_value: &b"GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n"[..] => |h| h.headers.len() == 2;
        underscore_name: &get("X_A: b\r\n") => |h| h.headers[1].forward;
    }

    // ---- Content-Length / Transfer-Encoding ----
    rejects! {
        cl_plus_sign: &get("Content-Length: +5\r\n") => Malformed(_),
        cl_minus: &get("Content-Length: -5\r\n") => Malformed(_),
        cl_hex: &get("Content-Length: 0x5\r\n") => Malformed(_),
        cl_space_inside: &get("Content-Length: 5 5\r\n") => Malformed(_),
        cl_list_conflict: &get("Content-Length: 5, 6\r\n") => Malformed(_),
        cl_fields_conflict: &get("Content-Length: 5\r\nContent-Length: 6\r\n") => Malformed(_),
        cl_empty: &get("Content-Length:\r\n") => Malformed(_),
        cl_empty_list_item: &get("Content-Length: 5,,5\r\n") => Malformed(_),
        cl_twenty_digits: &get("Content-Length: 18446744073709551615\r\n") => Malformed(_),
        cl_decimal_point: &get("Content-Length: 5.0\r\n") => Malformed(_),
        cl_and_te: &get("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") => Malformed(_),
        te_and_cl: &get("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") => Malformed(_),
        te_gzip_and_cl: &get("Transfer-Encoding: gzip\r\nContent-Length: 5\r\n") => Malformed(_),
        te_xchunked: &get("Transfer-Encoding: xchunked\r\n") => UnsupportedTransferCoding,
        te_gzip_chunked: &get("Transfer-Encoding: gzip, chunked\r\n") => UnsupportedTransferCoding,
        te_chunked_chunked: &get("Transfer-Encoding: chunked, chunked\r\n") => UnsupportedTransferCoding,
        te_chunked_gzip: &get("Transfer-Encoding: chunked, gzip\r\n") => UnsupportedTransferCoding,
        te_identity: &get("Transfer-Encoding: identity\r\n") => UnsupportedTransferCoding,
        te_gzip: &get("Transfer-Encoding: gzip\r\n") => UnsupportedTransferCoding,
        te_two_fields: &get("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n") => UnsupportedTransferCoding,
        te_two_chunked_fields: &get("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") => UnsupportedTransferCoding,
        te_param_no_value: &get("Transfer-Encoding: chunked;x\r\n") => Malformed(_),
        te_param: &get("Transfer-Encoding: chunked; q=1\r\n") => Malformed(_),
        te_quoted: &get("Transfer-Encoding: \"chunked\"\r\n") => Malformed(_),
        te_empty: &get("Transfer-Encoding:\r\n") => Malformed(_),
        te_trailing_comma: &get("Transfer-Encoding: chunked,\r\n") => Malformed(_),
        te_leading_comma: &get("Transfer-Encoding: ,chunked\r\n") => Malformed(_),
        te_inner_space: &get("Transfer-Encoding: chun ked\r\n") => Malformed(_),
        te_vertical_tab: &get("Transfer-Encoding: \x0bchunked\r\n") => Malformed(_),
        te_nul: &get("Transfer-Encoding: chunked\0\r\n") => Malformed(_),
        te_on_http10: b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" => Malformed(_),
    }

    accepts! {
        cl_simple: &get("Content-Length: 5\r\n") => |h| h.body == BodyKind::Length(5);
        cl_zero: &get("Content-Length: 0\r\n") => |h| h.body == BodyKind::Length(0);
        cl_list_same: &get("Content-Length: 5, 5\r\n") => |h| h.body == BodyKind::Length(5);
        cl_fields_same: &get("Content-Length: 7\r\nContent-Length: 7\r\n") => |h| h.body == BodyKind::Length(7);
        cl_leading_zeros: &get("Content-Length: 007\r\n") => |h| h.body == BodyKind::Length(7);
        cl_nineteen_digits: &get("Content-Length: 9999999999999999999\r\n") => |h|
            h.body == BodyKind::Length(9_999_999_999_999_999_999);
        cl_forwarded: &get("Content-Length: 1\r\n") => |h| h.headers[1].forward;
        te_chunked: &get("Transfer-Encoding: chunked\r\n") => |h| h.body == BodyKind::Chunked && !h.headers[1].forward;
        te_chunked_tab_ows: &get("Transfer-Encoding:\tchunked\r\n") => |h| h.body == BodyKind::Chunked;
        te_chunked_trailing_ows: &get("Transfer-Encoding: chunked \t\r\n") => |h| h.body == BodyKind::Chunked;
        te_chunked_uppercase: &get("Transfer-Encoding: CHUNKED\r\n") => |h| h.body == BodyKind::Chunked;
        te_name_case: &get("transfer-encoding: Chunked\r\n") => |h| h.body == BodyKind::Chunked;
        cl_on_http10: b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\n" => |h| h.body == BodyKind::Length(2);
    }

    // ---- Host ----
    rejects! {
        host_missing: b"GET / HTTP/1.1\r\nX: y\r\n\r\n" => Malformed(_),
        host_duplicate: b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n" => Malformed(_),
        host_duplicate_http10: b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n" => Malformed(_),
        host_empty: b"GET / HTTP/1.1\r\nHost:\r\n\r\n" => Malformed(_),
        host_userinfo: b"GET / HTTP/1.1\r\nHost: user@a.com\r\n\r\n" => Malformed(_),
        host_space: b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n" => Malformed(_),
        host_slash: b"GET / HTTP/1.1\r\nHost: a.com/x\r\n\r\n" => Malformed(_),
        host_bad_port: b"GET / HTTP/1.1\r\nHost: a.com:8o\r\n\r\n" => Malformed(_),
        host_big_port: b"GET / HTTP/1.1\r\nHost: a.com:70000\r\n\r\n" => Malformed(_),
        host_unclosed_ipv6: b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n" => Malformed(_),
        host_list: b"GET / HTTP/1.1\r\nHost: a.com, b.com\r\n\r\n" => Malformed(_),
    }

    accepts! {
        host_with_port: b"GET / HTTP/1.1\r\nHost: a.com:8080\r\n\r\n" => |h| h.host.unwrap().len() == 10;
        host_ipv4: b"GET / HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n" => |h| h.host.is_some();
        host_ipv6: b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n" => |h| h.host.is_some();
        host_http10: b"GET / HTTP/1.0\r\nHost: a\r\n\r\n" => |h| h.host.unwrap().len() == 1;
        host_name_case: b"GET / HTTP/1.1\r\nhOsT: a\r\n\r\n" => |h| h.host.is_some();
    }

    // ---- Expect ----
    rejects! {
        expect_unknown: &get("Expect: 200-ok\r\n") => UnknownExpectation,
        expect_empty: &get("Expect:\r\n") => UnknownExpectation,
        expect_with_param: &get("Expect: 100-continue; x=1\r\n") => UnknownExpectation,
        expect_unknown_http10: b"GET / HTTP/1.0\r\nExpect: foo\r\n\r\n" => UnknownExpectation,
        malformed_wins_over_417: b"GET / HTTP/1.1\r\nExpect: foo\r\n\r\n" => Malformed(_),
        malformed_wins_over_501: b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" => Malformed(_),
    }

    accepts! {
        expect_continue: &get("Expect: 100-continue\r\n") => |h| h.expect_continue;
        expect_continue_case: &get("expect: 100-Continue\r\n") => |h| h.expect_continue;
        expect_continue_http10_ignored: b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n" => |h|
            !h.expect_continue;
    }

    // ---- Connection, keep-alive, upgrade ----
    rejects! {
        connection_bad_token: &get("Connection: keep alive\r\n") => Malformed(_),
        connection_quoted: &get("Connection: \"close\"\r\n") => Malformed(_),
    }

    accepts! {
        close: &get("Connection: close\r\n") => |h| !h.keep_alive && !h.headers[1].forward;
        close_case_and_list: &get("Connection: Keep-Alive, CLOSE\r\n") => |h| !h.keep_alive;
        close_second_field: &get("Connection: keep-alive\r\nConnection: close\r\n") => |h| !h.keep_alive;
        connection_empty_elements: &get("Connection: ,, close ,\r\n") => |h| !h.keep_alive;
        http11_default_keep_alive: &get("") => |h| h.keep_alive;
        http10_keep_alive: b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" => |h| h.keep_alive;
        http10_keep_alive_close_wins: b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n" => |h| !h.keep_alive;
        upgrade_websocket: &get("Connection: Upgrade\r\nUpgrade: websocket\r\n") => |h|
            h.upgrade && !h.headers[1].forward && h.headers[2].forward;
        upgrade_without_connection: &get("Upgrade: websocket\r\n") => |h| !h.upgrade && !h.headers[1].forward;
        connection_upgrade_without_field: &get("Connection: upgrade\r\n") => |h| !h.upgrade;
        upgrade_http10_ignored: b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n" => |h|
            !h.upgrade && !h.headers[1].forward;
    }

    #[test]
    fn connection_names_hop_by_hop_fields() {
        let buf =
            get("Connection: X-Secret, keep-alive\r\nX-Secret: 1\r\nx-secret: 2\r\nX-Other: 3\r\n");
        let h = ok(&buf);
        let fw: Vec<bool> = h.headers.iter().map(|f| f.forward).collect();
        assert_eq!(fw, [true, false, false, false, true]);
    }

    #[test]
    fn connection_cannot_strip_framing_or_host() {
        let buf = get("Connection: Content-Length, Host\r\nContent-Length: 2\r\n");
        let h = ok(&buf);
        assert!(field(&buf, &h, "host").unwrap().1);
        assert!(field(&buf, &h, "content-length").unwrap().1);
        assert_eq!(h.body, BodyKind::Length(2));
    }

    // ---- forwarding ----
    #[test]
    fn hop_by_hop_not_forwarded() {
        for name in [
            "Keep-Alive",
            "Proxy-Connection",
            "Trailer",
            "Transfer-Encoding",
            "Upgrade",
        ] {
            let v = if name == "Transfer-Encoding" {
                "chunked"
            } else {
                "x"
            };
            assert!(!forwarded(&format!("{name}: {v}\r\n"), name), "{name}");
        }
        assert!(!forwarded("TE: gzip\r\n", "te"));
        assert!(!forwarded("TE: trailers, deflate\r\n", "te"));
        assert!(forwarded("TE: trailers\r\n", "te"));
        assert!(forwarded("te: Trailers\r\n", "te"));
    }

    #[test]
    fn client_forwarding_and_fc_fields_not_forwarded() {
        for name in [
            "x-fc-request-id",
            "X-FC-Account-Id",
            "x-fc-",
            "X-Forwarded-Proto",
            "X-Real-IP",
            "X-Forwarded-For",
        ] {
            assert!(!forwarded(&format!("{name}: x\r\n"), name), "{name}");
        }
        for name in [
            "X-Fc",
            "X-Fcx",
            "X-Forwarded-Host",
            "Content-Type",
            "Expect",
        ] {
            let v = if name == "Expect" {
                "100-continue"
            } else {
                "x"
            };
            assert!(forwarded(&format!("{name}: {v}\r\n"), name), "{name}");
        }
    }

    #[test]
    fn x_forwarded_for_collected_in_order() {
        let buf = get("X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nA: b\r\nx-forwarded-for: 3.3.3.3\r\n");
        let h = ok(&buf);
        let v: Vec<&[u8]> = h.x_forwarded_for.iter().map(|s| s.get(&buf)).collect();
        assert_eq!(v, [&b"1.1.1.1, 2.2.2.2"[..], b"3.3.3.3"]);
    }

    #[test]
    fn invocation_target() {
        let buf = get("X-Fc-Invocation-Target: 2016-08-15/proxy/s/f\r\n");
        let h = ok(&buf);
        assert_eq!(
            h.invocation_target.unwrap().get(&buf),
            b"2016-08-15/proxy/s/f"
        );
        assert!(!h.headers[1].forward);
        assert!(ok(&get("")).invocation_target.is_none());
        let twice = get("x-fc-invocation-target: a\r\nx-fc-invocation-target: a\r\n");
        assert!(matches!(parse(&twice), Err(Malformed(_))));
    }

    // ---- limits ----
    fn limits(max_header_bytes: usize, max_uri_bytes: usize, max_headers: usize) -> RequestLimits {
        RequestLimits {
            max_header_bytes,
            max_uri_bytes,
            max_headers,
        }
    }

    #[test]
    fn head_too_large_while_incomplete() {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        buf.resize(100, b'x');
        let l = limits(100, 50, 10);
        assert!(matches!(parse_request_head(&buf, &l), Ok(None)));
        buf.push(b'x');
        assert_eq!(parse_request_head(&buf, &l).unwrap_err(), TooLarge);
    }

    #[test]
    fn head_exactly_at_limit() {
        let buf = get("");
        let l = limits(buf.len(), 50, 10);
        assert!(parse_request_head(&buf, &l).unwrap().is_some());
        let mut more = buf.clone();
        more.extend_from_slice(b"body bytes beyond the limit are not head bytes");
        assert!(parse_request_head(&more, &l).unwrap().is_some());
        let l = limits(buf.len() - 1, 50, 10);
        assert_eq!(parse_request_head(&buf, &l).unwrap_err(), TooLarge);
    }

    #[test]
    fn too_many_fields() {
        let buf = get("A: 1\r\nB: 2\r\n");
        assert!(
            parse_request_head(&buf, &limits(8192, 100, 3))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            parse_request_head(&buf, &limits(8192, 100, 2)).unwrap_err(),
            TooLarge
        );
        let mut many = String::new();
        for i in 0..MAX_HEADERS {
            many.push_str(&format!("X-{i}: v\r\n"));
        }
        let buf = get(&many); // 129 fields: over the hard cap whatever the limit says
        assert_eq!(
            parse_request_head(&buf, &limits(1 << 20, 100, 1000)).unwrap_err(),
            TooLarge
        );
    }

    #[test]
    fn uri_too_long() {
        let l = limits(8192, 10, 10);
        let ok10 = b"GET /123456789 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert!(parse_request_head(ok10, &l).unwrap().is_some());
        let long = b"GET /1234567890 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse_request_head(long, &l).unwrap_err(), UriTooLong);
        // Known before the line is complete: once the target has passed the limit ...
        assert_eq!(
            parse_request_head(b"GET /1234567890", &l).unwrap_err(),
            UriTooLong
        );
        // ... but not before.
        assert!(matches!(
            parse_request_head(b"GET /123456789", &l),
            Ok(None)
        ));
        // 414 wins over 431 when the target alone is past both.
        let huge = format!("GET /{} HTTP/1.1\r\n", "a".repeat(300));
        assert_eq!(
            parse_request_head(huge.as_bytes(), &limits(100, 200, 10)).unwrap_err(),
            UriTooLong
        );
    }

    // ---- properties ----
    fn field_strategy() -> impl Strategy<Value = (String, String)> {
        ("[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}", "[ -~]{0,20}").prop_filter(
            "not a special field",
            |(n, _)| {
                let n = n.to_ascii_lowercase();
                !matches!(
                    n.as_str(),
                    "host" | "content-length" | "transfer-encoding" | "connection" | "expect"
                ) && !n.starts_with("x-fc-")
            },
        )
    }

    fn request_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
            "/[a-zA-Z0-9/?=&%._-]{0,40}",
            prop::collection::vec(field_strategy(), 0..12),
            prop::option::of(0u64..100_000),
            any::<bool>(),
        )
            .prop_map(|(m, t, fields, cl, close)| {
                let mut s = format!("{m} {t} HTTP/1.1\r\nHost: example.com\r\n");
                for (n, v) in fields {
                    s.push_str(&format!("{n}: {v}\r\n"));
                }
                if let Some(n) = cl {
                    s.push_str(&format!("Content-Length: {n}\r\n"));
                }
                if close {
                    s.push_str("Connection: close\r\n");
                }
                s.push_str("\r\n");
                s.into_bytes()
            })
    }

    fn summary(buf: &[u8], h: &RequestHead) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {} {:?}",
            h.method.get(buf),
            h.target.get(buf),
            h.body,
            h.keep_alive,
            h.host.map(|s| s.get(buf).to_vec()),
            h.head_len,
            h.headers
        )
    }

    proptest! {
        #[test]
        fn prop_any_split_same_parse(
            head in request_strategy(),
            tail in prop::collection::vec(any::<u8>(), 0..32),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut whole = head.clone();
            whole.extend_from_slice(&tail);
            let expected = summary(&whole, &ok(&whole));
            prop_assert_eq!(ok(&head).head_len, head.len());
            // Feed the bytes in pieces, parsing the accumulated buffer after each read.
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(whole.len())).collect();
            cuts.push(whole.len());
            cuts.sort_unstable();
            let mut done = None;
            for &c in &cuts {
                match parse(&whole[..c]) {
                    Ok(None) => prop_assert!(c < head.len()),
                    Ok(Some(h)) => {
                        prop_assert!(c >= head.len());
                        done.get_or_insert_with(|| summary(&whole, &h));
                    }
                    Err(e) => prop_assert!(false, "error {:?} at {}", e, c),
                }
            }
            prop_assert_eq!(done, Some(expected));
        }

        #[test]
        fn prop_every_prefix_incomplete(head in request_strategy()) {
            for k in 0..head.len() {
                prop_assert!(matches!(parse(&head[..k]), Ok(None)), "prefix {}", k);
            }
        }

        #[test]
        fn prop_random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&buf);
            let _ = parse_request_head(&buf, &limits(64, 8, 2));
            let _ = parse_request_head(&buf, &limits(0, 0, 0));
        }

        #[test]
        fn prop_mutated_requests_never_panic(
            head in request_strategy(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut buf = head;
            let i = at.index(buf.len());
            buf[i] = byte;
            let _ = parse(&buf);
        }
    }
}
