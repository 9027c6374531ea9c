//! `fcgate explain`: how a request would be routed (SPEC.md section 1), without any network
//! I/O. The only thing that touches the outside world is `config::load`, which resolves the
//! upstream names; the URL's host is never resolved and nothing is connected to.
//!
//! Flow: parse the command line's URL, `-X` and `-H` into the request a client would send
//! (curl's rules) -> load and compile the config -> `RouteTable::resolve`, the very call the
//! data plane makes -> print the decision as text or as one JSON object.
//!
//! Exit status: 0 routed; 1 answered by fcgate with an error (the answer is printed on
//! stdout), or a config that does not load (every `PATH:LINE:COL: message` on stderr);
//! 2 a bad URL, method or `-H` (a message on stderr; clap's own usage errors are 2 as well).
//!
//! The request, like curl builds it:
//! - URL: `http://` or `https://` (no scheme means `http://`), `[userinfo@]host[:port]`
//!   (a bracketed IPv6 literal is fine), path (default `/`), `?query` kept as part of the
//!   request-target, `#fragment` dropped. A space or control byte must be percent-encoded.
//! - `Host` is the URL's `host[:port]`; `-H 'Host: x'` replaces it, `-H 'Host:'` removes it
//!   (then the answer is 400 BadRequest, as for a request without a Host), and two `-H Host`
//!   are two Host fields (400 as well).
//! - `-H 'Name: value'` adds a field; `-H 'Name:'` (nothing after the colon) removes it, and
//!   `-H 'Name;'` sends it with an empty value.
//!
//! JSON, answered: `{"status":..,"errorCode":..,"errorMessage":..}` plus `"allow"` for a 405.

use std::borrow::Cow;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::config::{self, Config, ProxyPath};
use crate::errors::{ErrorCode, FcError};
use crate::routing::{Decision, Mode, RouteTable};

/// The exit status for a bad URL, method or header.
const USAGE: u8 = 2;

pub fn run(path: &Path, method: &str, headers: &[String], json: bool, url: &str) -> ExitCode {
    let request = match ClientRequest::new(method, headers, url) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("fcgate explain: {msg}");
            return ExitCode::from(USAGE);
        }
    };
    let config = match config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let table = match RouteTable::compile(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let outcome = explain(&table, &config, &request);
    if json {
        println!("{}", outcome.to_json());
    } else {
        print!("{}", outcome.to_text());
    }
    match outcome {
        Outcome::Routed(_) => ExitCode::SUCCESS,
        Outcome::Answered(_) => ExitCode::FAILURE,
    }
}

/// The request a client would send for the command line's URL, `-X` and `-H`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    pub method: String,
    /// `http` or `https` (lowercase).
    pub scheme: &'static str,
    /// The request-target: path and query.
    pub target: String,
    /// The header fields in order, `Host` included (first, unless `-H` removed it).
    pub headers: Vec<(String, String)>,
}

impl ClientRequest {
    pub fn new(method: &str, headers: &[String], url: &str) -> Result<ClientRequest, String> {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(format!(
                "bad method {method:?}: it must be a token such as GET"
            ));
        }
        let url_parts = parse_url(url).map_err(|e| format!("bad URL {url:?}: {e}"))?;
        // Like curl: the URL's Host unless `-H` gives one (several given ones all stay).
        let mut url_host = Some(url_parts.authority);
        let mut fields: Vec<(String, String)> = Vec::new();
        for h in headers {
            match parse_header_arg(h)? {
                HeaderArg::Remove(name) => {
                    if name.eq_ignore_ascii_case("host") {
                        url_host = None;
                    }
                    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                }
                HeaderArg::Set(name, value) => {
                    if name.eq_ignore_ascii_case("host") {
                        url_host = None;
                    }
                    fields.push((name, value));
                }
            }
        }
        if let Some(host) = url_host {
            fields.insert(0, ("Host".to_string(), host));
        }
        Ok(ClientRequest {
            method: method.to_string(),
            scheme: url_parts.scheme,
            target: url_parts.target,
            headers: fields,
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
struct UrlParts {
    scheme: &'static str,
    /// `host[:port]` as written, without userinfo.
    authority: String,
    target: String,
}

fn parse_url(url: &str) -> Result<UrlParts, String> {
    if let Some(b) = url.bytes().find(|b| b.is_ascii_control() || *b == b' ') {
        return Err(format!(
            "byte 0x{b:02x} must be percent-encoded (a space is %20)"
        ));
    }
    let (scheme, rest) = match url.find("://") {
        Some(i) => {
            let scheme = &url[..i];
            let scheme = if scheme.eq_ignore_ascii_case("http") {
                "http"
            } else if scheme.eq_ignore_ascii_case("https") {
                "https"
            } else {
                return Err(format!("scheme {scheme:?}: only http and https"));
            };
            (scheme, &url[i + 3..])
        }
        None => ("http", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    let authority = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    check_authority(authority)?;
    let after = &after[..after.find('#').unwrap_or(after.len())];
    let target = if after.is_empty() {
        "/".to_string()
    } else if after.starts_with('?') {
        format!("/{after}")
    } else {
        after.to_string()
    };
    Ok(UrlParts {
        scheme,
        authority: authority.to_string(),
        target,
    })
}

/// `host[:port]`: a reg-name or IPv4 address, or `[IPv6]`; the port, if any, is decimal.
fn check_authority(authority: &str) -> Result<(), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']').ok_or("unclosed '[' in the host")?;
        let addr = &v6[..close];
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(format!("bad IPv6 address [{addr}]"));
        }
        let after = &v6[close + 1..];
        match after.strip_prefix(':') {
            Some(port) => (authority, Some(port)),
            None if after.is_empty() => (authority, None),
            None => return Err(format!("unexpected {after:?} after the IPv6 address")),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if !host.starts_with('[')
        && let Some(c) = host.chars().find(|c| !is_host_char(*c))
    {
        return Err(if c.is_ascii() {
            format!("character {c:?} in the host")
        } else {
            "a non-ASCII host: write it in its punycode (xn--) form".into()
        });
    }
    if let Some(port) = port
        && !(port.is_empty()
            || (port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()))
    {
        return Err(format!("bad port {port:?}"));
    }
    Ok(())
}

/// RFC 3986 reg-name characters: unreserved, sub-delims and `%`.
fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=%".contains(c)
}

/// RFC 9110 tchar: what a method or a field name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

enum HeaderArg {
    Set(String, String),
    Remove(String),
}

/// `Name: value`, `Name:` (remove), `Name;` (empty value), as curl reads `-H`.
fn parse_header_arg(arg: &str) -> Result<HeaderArg, String> {
    let bad = |why: &str| format!("bad header {arg:?}: {why} (expected 'Name: value')");
    let (name, value) = match arg.split_once(':') {
        Some((name, value)) => (name, Some(value)),
        None => match arg.strip_suffix(';') {
            Some(name) => (name, None),
            None => return Err(bad("no ':'")),
        },
    };
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(bad("the name must be a token"));
    }
    let name = name.to_string();
    match value {
        None => Ok(HeaderArg::Set(name, String::new())),
        Some(v) => {
            let v = v.trim_matches([' ', '\t']);
            if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(bad("CR, LF or NUL in the value"));
            }
            if v.is_empty() {
                Ok(HeaderArg::Remove(name))
            } else {
                Ok(HeaderArg::Set(name, v.to_string()))
            }
        }
    }
}

/// What fcgate would do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Routed(RoutedView),
    Answered(FcError),
}

/// A routed request, detached from the table (targets as text, lossy where not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedView {
    pub mode: Mode,
    pub account: String,
    pub service: String,
    pub function: String,
    pub qualifier: String,
    pub upstreams: Vec<String>,
    pub proxy_path: ProxyPath,
    /// The request-target as the client sent it.
    pub received: String,
    /// The request-target the instance receives.
    pub target: String,
    /// `x-fc-base-path` (proxy mode).
    pub base_path: Option<String>,
    /// The client's scheme, for the hint's URLs.
    scheme: &'static str,
    /// A trigger URL host for the function (`<label>.<region>.<trigger_suffix>`), if it has one.
    trigger_host: Option<String>,
}

/// Routes `request` through `table` exactly as the data plane would.
pub fn explain(table: &RouteTable, config: &Config, request: &ClientRequest) -> Outcome {
    let mut hosts = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"));
    let host = match (hosts.next(), hosts.next()) {
        (Some((_, h)), None) => h.as_bytes(),
        (None, _) => return Outcome::Answered(bad_request("the request has no Host header")),
        (Some(_), Some(_)) => {
            return Outcome::Answered(bad_request("the request has more than one Host header"));
        }
    };
    let fields: Vec<(&str, &[u8])> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let decision = table.resolve(
        request.method.as_bytes(),
        Some(host),
        request.target.as_bytes(),
        &fields[..],
    );
    let r = match decision {
        Decision::Routed(r) => r,
        Decision::Answer(e) => return Outcome::Answered(e),
    };
    let f = &**r.function;
    let trigger_host = config
        .functions
        .iter()
        .find(|c| {
            c.account.eq_ignore_ascii_case(&f.account)
                && *c.service == *f.service
                && *c.name == *f.name
                && *c.qualifier == *f.qualifier
        })
        .and_then(|c| c.subdomain.as_ref())
        .map(|label| {
            let p = &config.platform;
            format!("{label}.{}.{}", p.region, p.trigger_suffix)
        });
    Outcome::Routed(RoutedView {
        mode: r.mode,
        account: f.account.to_string(),
        service: f.service.to_string(),
        function: f.name.to_string(),
        qualifier: f.qualifier.to_string(),
        upstreams: f.instance_texts.iter().map(|t| t.to_string()).collect(),
        proxy_path: f.proxy_path,
        received: request.target.clone(),
        target: lossy(&r.target),
        base_path: r.base_path.as_deref().map(lossy),
        scheme: request.scheme,
        trigger_host,
    })
}

fn bad_request(message: &'static str) -> FcError {
    FcError::new(400, ErrorCode::BadRequest, message)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The headers fcgate adds on every request, whose values differ per request.
const PER_REQUEST: &str = "x-fc-request-id, x-forwarded-for, x-forwarded-proto, x-real-ip";

impl RoutedView {
    /// The `x-fc-*` headers fixed by the routing decision, in the order they are added.
    pub fn added_headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = vec![
            ("x-fc-account-id", self.account.as_str()),
            ("x-fc-service-name", self.service.as_str()),
            ("x-fc-function-name", self.function.as_str()),
            ("x-fc-qualifier", self.qualifier.as_str()),
        ];
        if let Some(b) = &self.base_path {
            h.push(("x-fc-base-path", b.as_str()));
        }
        h
    }

    /// For proxy mode with `proxy_path = "full"`: why an app that routes on its own short
    /// paths answers 404 here (the FAQ's case), and the ways to give it the short path.
    pub fn hint(&self) -> Option<String> {
        if self.mode != Mode::Proxy || self.proxy_path != ProxyPath::Full {
            return None;
        }
        let base = self.base_path.as_deref()?;
        // What `strip` would forward: the rest after the function segment, with the query.
        let rest = match self.target.strip_prefix(base.trim_end_matches('/')) {
            Some(r) if r.starts_with('/') => r.to_string(),
            Some(r) => format!("/{r}"),
            None => "/".to_string(),
        };
        let subdomain = match &self.trigger_host {
            Some(h) => format!("the subdomain URL {}://{h}{rest}", self.scheme),
            None => "a subdomain URL (set `subdomain`)".to_string(),
        };
        let invocation = base.trim_matches('/');
        Some(format!(
            "hint: proxy_path = \"full\": the function receives the full prefixed path above, \
             not {rest}, so an app that routes on {rest} answers 404 (the FAQ's 404 cause); to \
             give it {rest}, use {subdomain}, the header 'x-fc-invocation-target: {invocation}' \
             with path {rest}, a custom domain, or proxy_path = \"strip\""
        ))
    }
}

impl Outcome {
    /// The human-readable explanation (ends with a newline).
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        match self {
            Outcome::Routed(r) => {
                let _ = writeln!(s, "mode:      {}", mode_text(r.mode));
                let _ = writeln!(s, "account:   {}", r.account);
                let _ = writeln!(s, "service:   {}", r.service);
                let _ = writeln!(s, "function:  {}", r.function);
                let _ = writeln!(s, "qualifier: {}", r.qualifier);
                let _ = writeln!(s, "upstreams: {}", r.upstreams.join(", "));
                if r.target == r.received {
                    let _ = writeln!(s, "target:    {} (unchanged)", r.target);
                } else {
                    let how = match r.mode {
                        Mode::Domain => "rewritten from",
                        _ => "proxy_path = \"strip\", received",
                    };
                    let _ = writeln!(s, "target:    {} ({how} {})", r.target, r.received);
                }
                let _ = writeln!(s, "headers added:");
                for (name, value) in r.added_headers() {
                    let _ = writeln!(s, "  {name}: {value}");
                }
                let _ = writeln!(s, "  (and per request: {PER_REQUEST})");
                if let Some(h) = r.hint() {
                    let _ = writeln!(s, "{h}");
                }
            }
            Outcome::Answered(e) => {
                let _ = writeln!(s, "{} {}: {}", e.status, e.code.as_str(), e.message);
                if let Some(allow) = &e.allow {
                    let _ = writeln!(s, "Allow: {allow}");
                }
            }
        }
        s
    }

    /// One JSON object (no trailing newline).
    pub fn to_json(&self) -> String {
        let json = match self {
            Outcome::Routed(r) => serde_json::to_string(&RoutedJson {
                mode: r.mode.as_str(),
                account: &r.account,
                service: &r.service,
                function: &r.function,
                qualifier: &r.qualifier,
                upstreams: &r.upstreams,
                target: &r.target,
                headers: HeadersJson {
                    account: &r.account,
                    service: &r.service,
                    function: &r.function,
                    qualifier: &r.qualifier,
                    base_path: r.base_path.as_deref(),
                },
            }),
            Outcome::Answered(e) => serde_json::to_string(&AnswerJson {
                status: e.status,
                code: e.code.as_str(),
                message: &e.message,
                allow: e.allow.as_deref(),
            }),
        };
        // Serialising plain strings and numbers cannot fail.
        json.unwrap_or_else(|_| "{}".to_string())
    }
}

fn mode_text(mode: Mode) -> Cow<'static, str> {
    let what = match mode {
        Mode::Proxy => "system endpoint, target from the path /<api_version>/proxy/...",
        Mode::Header => "system endpoint, target from x-fc-invocation-target",
        Mode::Subdomain => "trigger host <label>.<region>.<trigger_suffix>",
        Mode::Domain => "custom domain",
    };
    Cow::Owned(format!("{} ({what})", mode.as_str()))
}

#[derive(Serialize)]
struct RoutedJson<'a> {
    mode: &'a str,
    account: &'a str,
    service: &'a str,
    function: &'a str,
    qualifier: &'a str,
    upstreams: &'a [String],
    target: &'a str,
    headers: HeadersJson<'a>,
}

#[derive(Serialize)]
struct HeadersJson<'a> {
    #[serde(rename = "x-fc-account-id")]
    account: &'a str,
    #[serde(rename = "x-fc-service-name")]
    service: &'a str,
    #[serde(rename = "x-fc-function-name")]
    function: &'a str,
    #[serde(rename = "x-fc-qualifier")]
    qualifier: &'a str,
    #[serde(rename = "x-fc-base-path", skip_serializing_if = "Option::is_none")]
    base_path: Option<&'a str>,
}

#[derive(Serialize)]
struct AnswerJson<'a> {
    status: u16,
    #[serde(rename = "errorCode")]
    code: &'a str,
    #[serde(rename = "errorMessage")]
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> UrlParts {
        parse_url(u).unwrap()
    }

    #[test]
    fn url_parts() {
        let u = url("http://example.com/test");
        assert_eq!(
            (u.scheme, &*u.authority, &*u.target),
            ("http", "example.com", "/test")
        );
        let u = url("HTTPS://Example.COM:8443");
        assert_eq!(
            (u.scheme, &*u.authority, &*u.target),
            ("https", "Example.COM:8443", "/")
        );
        let u = url("http://h?x=1#frag");
        assert_eq!(u.target, "/?x=1");
        let u = url("http://h/a/b?x=1&y=%20#f?g");
        assert_eq!(u.target, "/a/b?x=1&y=%20");
        let u = url("http://user:pw@h:80/p");
        assert_eq!((&*u.authority, &*u.target), ("h:80", "/p"));
        let u = url("http://[::1]:8080/p");
        assert_eq!((&*u.authority, &*u.target), ("[::1]:8080", "/p"));
        let u = url("http://[fe80::1]");
        assert_eq!((&*u.authority, &*u.target), ("[fe80::1]", "/"));
        let u = url("example.com/x");
        assert_eq!(
            (u.scheme, &*u.authority, &*u.target),
            ("http", "example.com", "/x")
        );
        let u = url("http://h/caf\u{e9}");
        assert_eq!(u.target, "/caf\u{e9}");
    }

    #[test]
    fn bad_urls() {
        for u in [
            "ftp://h/",
            "http:///path",
            "http://",
            "http://h:x/",
            "http://h:70000/",
            "http://h:99999999999999/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[]/",
            "http://::1/",
            "http://h/a b",
            "http://h/a\tb",
            "http://b\u{fc}cher.de/",
            "http://a<b/",
        ] {
            assert!(parse_url(u).is_err(), "{u}");
        }
    }

    #[test]
    fn header_args() {
        let h = |v: &[&str]| -> Vec<(String, String)> {
            let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            ClientRequest::new("GET", &v, "http://u.example/")
                .unwrap()
                .headers
        };
        let p = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(h(&[]), vec![p("Host", "u.example")]);
        assert_eq!(
            h(&["host: other:81", "X-A:  1 "]),
            vec![p("host", "other:81"), p("X-A", "1")]
        );
        assert_eq!(h(&["Host:"]), vec![]);
        assert_eq!(h(&["X-A: 1", "x-a:"]), vec![p("Host", "u.example")]);
        assert_eq!(h(&["X-A;"]), vec![p("Host", "u.example"), p("X-A", "")]);
        assert_eq!(
            h(&["Host: a", "Host: b"]),
            vec![p("Host", "a"), p("Host", "b")]
        );
        for bad in ["nocolon", ": v", "a b: v", "X: a\r\nY: b"] {
            let v = vec![bad.to_string()];
            assert!(
                ClientRequest::new("GET", &v, "http://h/").is_err(),
                "{bad:?}"
            );
        }
        assert!(ClientRequest::new("G ET", &[], "http://h/").is_err());
        assert!(ClientRequest::new("", &[], "http://h/").is_err());
    }
}
