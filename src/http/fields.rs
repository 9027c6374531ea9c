//! Field rules shared by request and response heads (RFC 9110 section 5, RFC 9112 section 6):
//! token syntax, line-ending strictness, `Content-Length` / `Transfer-Encoding` / `Connection`
//! values, `Host` syntax, and the scan that turns httparse's headers into [`HeaderField`]s with
//! their `forward` flags.
//!
//! Everything here works on byte slices and returns `&'static str` reasons; the callers map
//! them onto their own error types.

use smallvec::SmallVec;

use super::{HeaderField, Span};

/// `tchar` (RFC 9110 section 5.6.2).
#[inline]
pub fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// `token = 1*tchar`.
#[inline]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A field-value byte: HTAB, SP, VCHAR or obs-text (no NUL, CR, LF, other CTLs or DEL).
#[inline]
pub fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// Strips optional whitespace (SP / HTAB) from both ends.
#[inline]
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// True when some LF in `head` is not preceded by CR (httparse accepts bare LF as a line
/// terminator; we do not). Bare CR is rejected by httparse itself.
#[inline]
pub fn has_bare_lf(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).any(|i| i == 0 || head[i - 1] != b'\r')
}

/// Parses one `Content-Length` field value into `acc`: 1*DIGIT (at most 19 digits, so it always
/// fits a u64), or a comma list of such values; every value (across all fields) must be equal.
pub fn merge_content_length(value: &[u8], acc: &mut Option<u64>) -> Result<(), &'static str> {
    for item in value.split(|&b| b == b',') {
        let item = trim_ows(item);
        if item.is_empty() {
            return Err("empty Content-Length value");
        }
        if item.len() > 19 {
            return Err("Content-Length too long");
        }
        let mut n: u64 = 0;
        for &b in item {
            if !b.is_ascii_digit() {
                return Err("Content-Length is not a decimal number");
            }
            n = n * 10 + u64::from(b - b'0');
        }
        match *acc {
            Some(prev) if prev != n => return Err("conflicting Content-Length values"),
            _ => *acc = Some(n),
        }
    }
    Ok(())
}

/// What the `Transfer-Encoding` fields of a message say, accumulated field by field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferCodings {
    /// Number of codings listed, over all fields.
    pub count: u32,
    /// The last coding listed is `chunked`.
    pub last_is_chunked: bool,
}

impl TransferCodings {
    /// Adds one field value: a comma list of plain tokens (OWS around each). Anything else
    /// (parameters, quotes, empty elements, stray bytes) is an error: a proxy that does not
    /// understand a coding list exactly must not guess where the body ends.
    pub fn add(&mut self, value: &[u8]) -> Result<(), &'static str> {
        for item in value.split(|&b| b == b',') {
            let item = trim_ows(item);
            if !is_token(item) {
                return Err("invalid Transfer-Encoding");
            }
            self.count += 1;
            self.last_is_chunked = item.eq_ignore_ascii_case(b"chunked");
        }
        Ok(())
    }

    /// Exactly one coding, and it is `chunked`.
    pub fn is_chunked_only(&self) -> bool {
        self.count == 1 && self.last_is_chunked
    }
}

/// Calls `f` with every token of a comma list (`Connection`), skipping empty elements
/// (RFC 9110 section 5.6.1.2). A non-token element is an error.
pub fn for_each_list_token(value: &[u8], mut f: impl FnMut(&[u8])) -> Result<(), &'static str> {
    for item in value.split(|&b| b == b',') {
        let item = trim_ows(item);
        if item.is_empty() {
            continue;
        }
        if !is_token(item) {
            return Err("invalid Connection token");
        }
        f(item);
    }
    Ok(())
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 section 7.2), strictly: a non-empty reg-name or
/// IPv4 address (unreserved, sub-delims, pct-encoded), or an `[IPv6]` literal; the port, when
/// there is a colon, is 1 to 5 digits and at most 65535. No userinfo, path, spaces.
pub fn is_valid_host(v: &[u8]) -> bool {
    let (host_ok, rest) = if let Some(after) = v.strip_prefix(b"[") {
        let Some(close) = memchr::memchr(b']', after) else {
            return false;
        };
        let inner = &after[..close];
        let ok = !inner.is_empty()
            && inner.contains(&b':')
            && inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        (ok, &after[close + 1..])
    } else {
        let end = memchr::memchr(b':', v).unwrap_or(v.len());
        (is_reg_name(&v[..end]), &v[end..])
    };
    if !host_ok {
        return false;
    }
    match rest {
        [] => true,
        [b':', port @ ..] => {
            !port.is_empty()
                && port.len() <= 5
                && port.iter().all(u8::is_ascii_digit)
                && port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65535
        }
        _ => false,
    }
}

fn is_reg_name(s: &[u8]) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            b'%' => {
                if i + 2 >= s.len() {
                    return false;
                }
                if !(s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit()) {
                    return false;
                }
                i += 2;
            }
            _ => return false,
        }
        i += 1;
    }
    true
}

/// The fields whose names matter to framing or forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldName {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    Te,
    Trailer,
    Upgrade,
    Expect,
    XForwardedFor,
    XForwardedProto,
    XRealIp,
    XFcInvocationTarget,
    /// Any other `x-fc-*` field.
    XFc,
    Other,
}

impl FieldName {
    pub(crate) fn of(name: &[u8]) -> FieldName {
        let is = |s: &[u8]| name.eq_ignore_ascii_case(s);
        match name.len() {
            2 if is(b"te") => FieldName::Te,
            4 if is(b"host") => FieldName::Host,
            6 if is(b"expect") => FieldName::Expect,
            7 if is(b"trailer") => FieldName::Trailer,
            7 if is(b"upgrade") => FieldName::Upgrade,
            9 if is(b"x-real-ip") => FieldName::XRealIp,
            10 if is(b"connection") => FieldName::Connection,
            10 if is(b"keep-alive") => FieldName::KeepAlive,
            14 if is(b"content-length") => FieldName::ContentLength,
            15 if is(b"x-forwarded-for") => FieldName::XForwardedFor,
            16 if is(b"proxy-connection") => FieldName::ProxyConnection,
            17 if is(b"transfer-encoding") => FieldName::TransferEncoding,
            17 if is(b"x-forwarded-proto") => FieldName::XForwardedProto,
            22 if is(b"x-fc-invocation-target") => FieldName::XFcInvocationTarget,
            _ if name.len() >= 5 && name[..5].eq_ignore_ascii_case(b"x-fc-") => FieldName::XFc,
            _ => FieldName::Other,
        }
    }
}

/// Whether a message is a request (whose client-set forwarding / `x-fc-*` fields are dropped)
/// or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Request,
    /// `switching`: the status is 101, so `Upgrade` passes on.
    Response {
        switching: bool,
    },
}

/// Everything a head's fields say about framing, reuse and forwarding.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub headers: SmallVec<[HeaderField; 16]>,
    pub content_length: Option<u64>,
    /// Some when at least one `Transfer-Encoding` field is present.
    pub codings: Option<TransferCodings>,
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade_token: bool,
    pub upgrade_field: bool,
    /// Request only.
    pub host: Option<Span>,
    pub host_count: u32,
    pub expect_continue: bool,
    pub unknown_expectation: bool,
    pub x_forwarded_for: SmallVec<[Span; 2]>,
    pub invocation_target: Option<Span>,
    pub invocation_target_count: u32,
}

#[inline]
pub(crate) fn span_in(base: &[u8], part: &[u8]) -> Span {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    debug_assert!(start <= base.len() && start + part.len() <= base.len());
    Span {
        start: start as u32,
        end: (start + part.len()) as u32,
    }
}

/// Converts httparse's headers (pointing into `head`, which ends with the blank line) into
/// spans and applies every field rule that does not depend on the start line. The caller
/// checks the combinations (CL + TE, version rules, Host count, ...).
pub(crate) fn scan_fields(
    head: &[u8],
    parsed: &[httparse::Header<'_>],
    role: Role,
) -> Result<Scan, &'static str> {
    let mut scan = Scan::default();
    let is_request = role == Role::Request;
    // Field names listed in Connection (other than close / keep-alive / upgrade, which are
    // options, though they also name fields: `Upgrade` and `Keep-Alive` are hop-by-hop anyway).
    let mut nominated: SmallVec<[Span; 8]> = SmallVec::new();

    for (i, h) in parsed.iter().enumerate() {
        let name = span_in(head, h.name.as_bytes());
        let value = span_in(head, h.value);
        let line_end = match parsed.get(i + 1) {
            Some(next) => span_in(head, next.name.as_bytes()).start,
            None => (head.len() - 2) as u32,
        };
        let line = Span {
            start: name.start,
            end: line_end,
        };
        let v = h.value;
        let kind = FieldName::of(h.name.as_bytes());
        let mut forward = true;
        match kind {
            FieldName::Host => {
                if is_request {
                    scan.host_count += 1;
                    if !is_valid_host(v) {
                        return Err("invalid Host");
                    }
                    scan.host = Some(value);
                }
            }
            FieldName::ContentLength => {
                merge_content_length(v, &mut scan.content_length)?;
            }
            FieldName::TransferEncoding => {
                forward = false;
                scan.codings
                    .get_or_insert_with(TransferCodings::default)
                    .add(v)?;
            }
            FieldName::Connection => {
                forward = false;
                for_each_list_token(v, |t| {
                    if t.eq_ignore_ascii_case(b"close") {
                        scan.close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        scan.keep_alive = true;
                    } else if t.eq_ignore_ascii_case(b"upgrade") {
                        scan.upgrade_token = true;
                    } else {
                        nominated.push(span_in(head, t));
                    }
                })?;
            }
            FieldName::KeepAlive | FieldName::ProxyConnection | FieldName::Trailer => {
                forward = false
            }
            FieldName::Te => forward = trim_ows(v).eq_ignore_ascii_case(b"trailers"),
            FieldName::Upgrade => {
                scan.upgrade_field = true;
                // Decided once the whole head is known (request: Connection: upgrade on
                // HTTP/1.1; response: status 101).
                forward = matches!(role, Role::Response { switching: true });
            }
            FieldName::Expect => {
                if is_request {
                    if trim_ows(v).eq_ignore_ascii_case(b"100-continue") {
                        scan.expect_continue = true;
                    } else {
                        scan.unknown_expectation = true;
                    }
                }
            }
            FieldName::XForwardedFor => {
                if is_request {
                    forward = false;
                    scan.x_forwarded_for.push(value);
                }
            }
            FieldName::XForwardedProto | FieldName::XRealIp | FieldName::XFc => {
                forward = !is_request;
            }
            FieldName::XFcInvocationTarget => {
                if is_request {
                    forward = false;
                    scan.invocation_target_count += 1;
                    scan.invocation_target = Some(value);
                }
            }
            FieldName::Other => {}
        }
        scan.headers.push(HeaderField {
            name,
            value,
            line,
            forward,
        });
    }

    if !nominated.is_empty() {
        for f in scan.headers.iter_mut() {
            let name = f.name.get(head);
            if !nominated
                .iter()
                .any(|t| t.get(head).eq_ignore_ascii_case(name))
            {
                continue;
            }
            // Connection must not be able to strip the fields that say where the message
            // ends or whom it is for: dropping Content-Length (or Host) on the way to the
            // instance would desynchronise the two sides. Those stay as they are.
            match FieldName::of(name) {
                FieldName::ContentLength | FieldName::Host => {}
                _ => f.forward = false,
            }
        }
    }
    Ok(scan)
}

/// Where the first line starts: httparse skips empty lines (CRLF) before it.
#[inline]
pub(crate) fn start_line_offset(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token(b"chunked"));
        assert!(is_token(b"x-fc-a_b"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"\"q\""));
        assert!(!is_token(b"a;b"));
    }

    #[test]
    fn ows_trim() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
    }

    #[test]
    fn bare_lf() {
        assert!(!has_bare_lf(b"a\r\nb\r\n\r\n"));
        assert!(has_bare_lf(b"a\nb"));
        assert!(has_bare_lf(b"\n"));
        assert!(has_bare_lf(b"a\r\n\n"));
    }

    #[test]
    fn content_length_values() {
        let cl = |v: &[u8]| {
            let mut acc = None;
            merge_content_length(v, &mut acc).map(|_| acc.unwrap())
        };
        assert_eq!(cl(b"0"), Ok(0));
        assert_eq!(cl(b"5, 5"), Ok(5));
        assert_eq!(cl(b"5,5"), Ok(5));
        assert_eq!(cl(b"9999999999999999999"), Ok(9_999_999_999_999_999_999));
        assert!(cl(b"10000000000000000000").is_err());
        assert!(cl(b"+5").is_err());
        assert!(cl(b"-5").is_err());
        assert!(cl(b"0x5").is_err());
        assert!(cl(b"5 5").is_err());
        assert!(cl(b"5, 6").is_err());
        assert!(cl(b"5,,5").is_err());
        assert!(cl(b"").is_err());
        assert!(cl(b"5.0").is_err());
    }

    #[test]
    fn transfer_codings() {
        let te = |v: &[u8]| {
            let mut t = TransferCodings::default();
            t.add(v).map(|_| t)
        };
        assert!(te(b"chunked").unwrap().is_chunked_only());
        assert!(te(b"CHUNKED").unwrap().is_chunked_only());
        assert!(!te(b"gzip, chunked").unwrap().is_chunked_only());
        assert!(te(b"gzip, chunked").unwrap().last_is_chunked);
        assert!(!te(b"chunked, chunked").unwrap().is_chunked_only());
        assert!(!te(b"xchunked").unwrap().is_chunked_only());
        assert!(te(b"chunked;x").is_err());
        assert!(te(b"chunked;q=1").is_err());
        assert!(te(b"\"chunked\"").is_err());
        assert!(te(b"chunked,").is_err());
        assert!(te(b"").is_err());
        assert!(te(b"chun ked").is_err());
    }

    #[test]
    fn hosts() {
        for ok in [
            &b"example.com"[..],
            b"example.com:8080",
            b"127.0.0.1",
            b"127.0.0.1:80",
            b"[::1]",
            b"[::1]:443",
            b"[2001:db8::1]",
            b"a-b_c~d.e",
            b"%41bc",
            b"x:65535",
        ] {
            assert!(is_valid_host(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"user@example.com",
            b"example.com/path",
            b"exa mple.com",
            b"example.com:",
            b"example.com:80a",
            b"example.com:123456",
            b"example.com:65536",
            b":80",
            b"[::1",
            b"[]",
            b"[zz::1]",
            b"[::1]x",
            b"a:1:2",
            b"%4",
            b"%zz",
            b"a\\b",
            b"a?b",
            b"a#b",
        ] {
            assert!(!is_valid_host(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn field_names() {
        assert_eq!(FieldName::of(b"Content-Length"), FieldName::ContentLength);
        assert_eq!(
            FieldName::of(b"TRANSFER-ENCODING"),
            FieldName::TransferEncoding
        );
        assert_eq!(FieldName::of(b"X-FC-Request-Id"), FieldName::XFc);
        assert_eq!(FieldName::of(b"x-fc-"), FieldName::XFc);
        assert_eq!(FieldName::of(b"x-fc"), FieldName::Other);
        assert_eq!(
            FieldName::of(b"X-Fc-Invocation-Target"),
            FieldName::XFcInvocationTarget
        );
        assert_eq!(FieldName::of(b"Transfer_Encoding"), FieldName::Other);
    }
}
