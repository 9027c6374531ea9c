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
    pub headers: SmallVec<[HeaderField; 16]>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(buf: &[u8]) -> Result<Option<ResponseHead>, ResponseError> {
        parse_response_head(buf, false, 8192)
    }

    fn ok(buf: &[u8]) -> ResponseHead {
        match parse(buf) {
            Ok(Some(h)) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    /// `HTTP/1.1 200 OK`, then `fields` (each with its CRLF), then the blank line.
    fn r200(fields: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\n{fields}\r\n").into_bytes()
    }

    fn forwarded(buf: &[u8], name: &str) -> bool {
        let h = ok(buf);
        h.headers
            .iter()
            .find(|f| f.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
            .expect("field present")
            .forward
    }

    macro_rules! rejects {
        ($($name:ident: $input:expr,)*) => {$(
            #[test]
            fn $name() {
                let input: Vec<u8> = $input.to_vec();
                let r = parse(&input);
                assert!(matches!(r, Err(ResponseError::Malformed(_))), "{:?} -> {r:?}",
                    String::from_utf8_lossy(&input));
            }
        )*};
    }

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

    use ResponseBody::*;

    rejects! {
        status_below_100: b"HTTP/1.1 099 Odd\r\n\r\n",
        status_four_digits: b"HTTP/1.1 2000 OK\r\n\r\n",
        status_two_digits: b"HTTP/1.1 20 OK\r\n\r\n",
        status_missing: b"HTTP/1.1 OK\r\n\r\n",
        version_http2: b"HTTP/2.0 200 OK\r\n\r\n",
        version_lowercase: b"http/1.1 200 OK\r\n\r\n",
        double_space: b"HTTP/1.1  200 OK\r\n\r\n",
        status_line_bare_lf: b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        field_bare_lf: &r200("Content-Length: 0\n"),
        final_bare_lf: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
        reason_with_nul: b"HTTP/1.1 200 O\0K\r\n\r\n",
        obs_fold: &r200("X-A: 1\r\n 2\r\n"),
        space_before_colon: &r200("Content-Length : 5\r\n"),
        nul_in_value: &r200("X-A: a\0\r\n"),
        bare_cr_in_value: &r200("X-A: a\rb\r\n"),
        cl_and_te: &r200("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        cl_conflict: &r200("Content-Length: 5\r\nContent-Length: 6\r\n"),
        cl_list_conflict: &r200("Content-Length: 5, 6\r\n"),
        cl_plus: &r200("Content-Length: +5\r\n"),
        cl_hex: &r200("Content-Length: 0x5\r\n"),
        te_gzip_chunked: &r200("Transfer-Encoding: gzip, chunked\r\n"),
        te_gzip: &r200("Transfer-Encoding: gzip\r\n"),
        te_xchunked: &r200("Transfer-Encoding: xchunked\r\n"),
        te_chunked_twice: &r200("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        te_param: &r200("Transfer-Encoding: chunked;x\r\n"),
        te_on_http10: b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        cl_and_te_on_304: b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        bad_connection_token: &r200("Connection: a b\r\n"),
    }

    accepts! {
        length: &r200("Content-Length: 5\r\n") => |h| h.body == Length(5) && h.keep_alive && h.status == 200;
        length_list_same: &r200("Content-Length: 5, 5\r\n") => |h| h.body == Length(5);
        chunked: &r200("Transfer-Encoding: chunked\r\n") => |h| h.body == Chunked && h.keep_alive;
        chunked_ows: &r200("Transfer-Encoding:\t Chunked \r\n") => |h| h.body == Chunked;
        close_delimited: &r200("") => |h| h.body == Close && !h.keep_alive;
        connection_close: &r200("Connection: close\r\nContent-Length: 1\r\n") => |h| !h.keep_alive;
        http10_default_close: b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n" => |h|
            h.version == Version::Http10 && !h.keep_alive && h.body == Length(1);
        http10_keep_alive: b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n" => |h| h.keep_alive;
        http10_keep_alive_close_delimited: b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n" => |h|
            !h.keep_alive && h.body == Close;
        no_content: b"HTTP/1.1 204 No Content\r\n\r\n" => |h| h.body == None && h.keep_alive;
        no_content_ignores_length: b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n" => |h| h.body == None;
        not_modified: b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n" => |h| h.body == None && h.keep_alive;
        continue_100: b"HTTP/1.1 100 Continue\r\n\r\n" => |h| h.body == None && h.status == 100;
        early_hints: b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" => |h| h.body == None;
        switching: b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" => |h|
            h.body == None && !h.keep_alive && !h.headers[0].forward && h.headers[1].forward;
        upgrade_on_200_dropped: &r200("Upgrade: h2c\r\nContent-Length: 0\r\n") => |h| !h.headers[0].forward;
        status_999: b"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n" => |h| h.status == 999;
        empty_reason_no_space: b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n" => |h| h.reason.is_empty() && h.reason.start == 12;
        empty_reason_with_space: b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n" => |h| h.reason.is_empty() && h.reason.start == 13;
    }

    #[test]
    fn head_request_has_no_body() {
        for buf in [
            r200("Content-Length: 5\r\n"),
            r200("Transfer-Encoding: chunked\r\n"),
            r200(""),
        ] {
            let h = parse_response_head(&buf, true, 8192).unwrap().unwrap();
            assert_eq!(h.body, None);
            assert!(h.keep_alive);
        }
    }

    #[test]
    fn reason_span() {
        let buf = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(ok(buf).reason.get(buf), b"Not Found");
        let buf = b"HTTP/1.1 200 Tr\xe8s bien\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(ok(buf).reason.get(buf), b"Tr\xe8s bien");
    }

    #[test]
    fn spans_and_pipelined_body() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Fc-Request-Id: r1\r\n\r\nabcHTTP/1.1";
        let h = ok(buf);
        assert_eq!(&buf[h.head_len..], b"abcHTTP/1.1");
        assert_eq!(h.headers[1].line.get(buf), b"X-Fc-Request-Id: r1\r\n");
        assert_eq!(h.headers[1].value.get(buf), b"r1");
    }

    #[test]
    fn forward_flags() {
        let buf = r200(
            "Content-Length: 1\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n\
             X-Hop: 1\r\nProxy-Connection: x\r\nTrailer: X-T\r\nX-Fc-Request-Id: r\r\n\
             X-Forwarded-For: 1.2.3.4\r\nTE: trailers\r\nContent-Type: text/plain\r\n",
        );
        let h = ok(&buf);
        let fw: Vec<(&[u8], bool)> = h
            .headers
            .iter()
            .map(|f| (f.name.get(&buf), f.forward))
            .collect();
        let want: Vec<(&[u8], bool)> = vec![
            (b"Content-Length", true),
            (b"Connection", false),
            (b"Keep-Alive", false),
            (b"X-Hop", false),
            (b"Proxy-Connection", false),
            (b"Trailer", false),
            (b"X-Fc-Request-Id", true),
            (b"X-Forwarded-For", true),
            (b"TE", true),
            (b"Content-Type", true),
        ];
        assert_eq!(fw, want);
        assert!(!forwarded(
            &r200("Transfer-Encoding: chunked\r\n"),
            "transfer-encoding"
        ));
        assert!(forwarded(
            &r200("Connection: content-length\r\nContent-Length: 2\r\n"),
            "content-length"
        ));
    }

    #[test]
    fn incomplete_and_too_large() {
        let buf = r200("Content-Length: 5\r\n");
        for k in 0..buf.len() {
            assert!(matches!(parse(&buf[..k]), Ok(Option::None)), "prefix {k}");
        }
        assert!(matches!(
            parse_response_head(&buf, false, buf.len()),
            Ok(Some(_))
        ));
        assert_eq!(
            parse_response_head(&buf, false, buf.len() - 1).unwrap_err(),
            ResponseError::TooLarge
        );
        let mut partial = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        partial.resize(200, b'x');
        assert!(matches!(
            parse_response_head(&partial, false, 200),
            Ok(Option::None)
        ));
        partial.push(b'x');
        assert_eq!(
            parse_response_head(&partial, false, 200).unwrap_err(),
            ResponseError::TooLarge
        );
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\nX"),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn too_many_fields() {
        let mut fields = String::new();
        for i in 0..MAX_HEADERS {
            fields.push_str(&format!("X-{i}: v\r\n"));
        }
        assert!(
            parse_response_head(&r200(&fields), false, 1 << 20)
                .unwrap()
                .is_some()
        );
        fields.push_str("X-Last: v\r\n");
        assert_eq!(
            parse_response_head(&r200(&fields), false, 1 << 20).unwrap_err(),
            ResponseError::TooLarge
        );
    }

    proptest! {
        #[test]
        fn prop_random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..512), head: bool) {
            let _ = parse_response_head(&buf, head, 8192);
            let _ = parse_response_head(&buf, head, 16);
            let _ = parse_response_head(&buf, head, 0);
        }

        #[test]
        fn prop_http_like_bytes_never_panic(
            status in 0u16..1000,
            fields in prop::collection::vec("[ -~\t\r\n]{0,30}", 0..6),
        ) {
            let mut s = format!("HTTP/1.1 {status:03} R\r\n");
            for f in fields {
                s.push_str(&f);
                s.push_str("\r\n");
            }
            s.push_str("\r\n");
            let _ = parse(s.as_bytes());
        }
    }
}
