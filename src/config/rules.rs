//! The value rules of the config, one pure function per kind of value: hostnames, names,
//! addresses, upstreams, route paths and rewrite rules. Each returns the normalised value or
//! a message; `load.rs` attaches the position. Nothing here knows about TOML.

use std::net::{IpAddr, SocketAddr};

use super::{Method, RewriteKind, UpstreamAddr};

/// The longest service, function or qualifier name (Function Compute's limit).
const MAX_NAME_LEN: usize = 128;

/// `HEAD` .. `OPTIONS`, case-sensitive.
pub(super) fn method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.as_bytes()).ok_or_else(|| {
        format!(
            "unknown method `{s}` (expected one of HEAD, GET, POST, PUT, DELETE, PATCH, OPTIONS, in upper case)"
        )
    })
}

/// One DNS label: 1-63 of `a-z 0-9 -`, not starting or ending with `-`. Returned lowercase.
pub(super) fn dns_label(what: &str, s: &str) -> Result<String, String> {
    let l = s.to_ascii_lowercase();
    if l.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if l.len() > 63 {
        return Err(format!("{what} `{s}` is longer than 63 characters"));
    }
    if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!(
            "{what} `{s}` may contain only letters, digits and `-`"
        ));
    }
    if l.starts_with('-') || l.ends_with('-') {
        return Err(format!("{what} `{s}` must not start or end with `-`"));
    }
    Ok(l)
}

/// A hostname: dot-separated DNS labels, at most 253 characters, one trailing dot allowed
/// (and removed). Returned lowercase.
pub(super) fn hostname(what: &str, s: &str) -> Result<String, String> {
    let body = s.strip_suffix('.').unwrap_or(s);
    if body.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if body.len() > 253 {
        return Err(format!("{what} `{s}` is longer than 253 characters"));
    }
    let mut out = String::with_capacity(body.len());
    for (i, label) in body.split('.').enumerate() {
        if label.is_empty() {
            return Err(format!("{what} `{s}` has an empty label"));
        }
        let l = dns_label("a label", label)
            .map_err(|m| format!("{what} `{s}` is not a valid hostname: {m}"))?;
        if i > 0 {
            out.push('.');
        }
        out.push_str(&l);
    }
    Ok(out)
}

/// A custom domain: a hostname, or `*.` followed by a hostname. Lowercase, no trailing dot.
pub(super) fn domain_name(s: &str) -> Result<String, String> {
    match s.strip_prefix("*.") {
        Some(rest) => {
            if rest.contains('*') {
                return Err(format!(
                    "domain name `{s}`: a wildcard is allowed only as the whole first label (`*.example.com`)"
                ));
            }
            Ok(format!("*.{}", hostname("domain name", rest)?))
        }
        None if s.contains('*') => Err(format!(
            "domain name `{s}`: a wildcard is allowed only as the whole first label (`*.example.com`)"
        )),
        None => hostname("domain name", s),
    }
}

/// An account ID: the first label of the system endpoint host, so a DNS label; it must be
/// written in lower case because hosts are compared lowercased.
pub(super) fn account(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("account must not be empty".into());
    }
    let l = dns_label("account", s)?;
    if l != s {
        return Err(format!(
            "account `{s}` must be lower case (it is matched against the Host)"
        ));
    }
    Ok(())
}

/// A service, function or qualifier name: 1-128 of `A-Z a-z 0-9 _ -`. This excludes `/` (names
/// are path segments) and `.` (the qualifier is split off the service at the last `.`).
pub(super) fn name(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if s.contains('/') {
        return Err(format!(
            "{what} `{s}` must not contain `/` (it is one path segment)"
        ));
    }
    if s.contains('.') {
        return Err(format!(
            "{what} `{s}` must not contain `.` (the qualifier is split off the service at the last `.`)"
        ));
    }
    if s.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} `{s}` is longer than {MAX_NAME_LEN} characters"
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "{what} `{s}` may contain only letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// A listen address: `ip:port` or `[v6]:port`, no names. Port 0 (an ephemeral port) is allowed.
pub(super) fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>().map_err(|_| {
        format!("listen address `{s}` is not `ip:port` (e.g. `127.0.0.1:8080` or `[::1]:8080`)")
    })
}

/// An upstream: `builtin:echo`, or `host:port` with port 1-65535 and host an IPv4 address, a
/// bracketed IPv6 address or a name resolved now (an IPv4 result is preferred).
pub(super) fn upstream(s: &str, resolve: super::load::Resolver) -> Result<UpstreamAddr, String> {
    if s == "builtin:echo" {
        return Ok(UpstreamAddr::Echo);
    }
    if let Some(b) = s.strip_prefix("builtin:") {
        return Err(format!(
            "unknown builtin upstream `builtin:{b}` (the only builtin is `builtin:echo`)"
        ));
    }
    let bad = || format!("upstream `{s}` is not `host:port` or `builtin:echo`");
    if s.contains("://") {
        return Err(format!(
            "upstream `{s}` is not `host:port` or `builtin:echo` (write no scheme)"
        ));
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let port: u16 = match port.parse() {
        Ok(p) if p != 0 => p,
        _ => return Err(format!("upstream `{s}`: port must be 1-65535")),
    };
    let tcp = |addr| {
        Ok(UpstreamAddr::Tcp {
            text: s.to_string(),
            addr,
        })
    };
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match v6.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => tcp(SocketAddr::new(IpAddr::V6(ip), port)),
            Err(_) => Err(format!("upstream `{s}`: `{v6}` is not an IPv6 address")),
        };
    }
    if host.contains(':') {
        return Err(format!(
            "upstream `{s}`: write an IPv6 address in brackets, `[addr]:port`"
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return tcp(SocketAddr::new(ip, port));
    }
    if host.bytes().any(|b| b <= b' ' || b == b'/' || b == 0x7f) {
        return Err(bad());
    }
    let addrs: Vec<SocketAddr> = match resolve(host, port) {
        Ok(a) => a,
        Err(e) => return Err(format!("upstream `{s}`: cannot resolve `{host}`: {e}")),
    };
    match addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()) {
        Some(a) => tcp(*a),
        None => Err(format!("upstream `{s}`: `{host}` resolves to no address")),
    }
}

/// A route path: starts with `/`; `*` only as a final `/*`; no whitespace, control bytes, `?`
/// or `#` (paths are compared byte for byte with the request path, which has none of them).
pub(super) fn route_path(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err(format!("route path `{s}` must start with `/`"));
    }
    let body = s.strip_suffix("/*").unwrap_or(s);
    if body.contains('*') {
        return Err(format!(
            "route path `{s}`: `*` is allowed only as a final `/*` (e.g. `/login/*`)"
        ));
    }
    if s.bytes()
        .any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#' || b >= 0x80)
    {
        return Err(format!(
            "route path `{s}` must contain only visible ASCII, without `?` or `#`"
        ));
    }
    Ok(())
}

pub(super) fn rewrite_kind(s: &str) -> Result<RewriteKind, String> {
    match s {
        "equal" => Ok(RewriteKind::Equal),
        "wildcard" => Ok(RewriteKind::Wildcard),
        "regex" => Ok(RewriteKind::Regex),
        _ => Err(format!(
            "unknown rewrite kind `{s}` (expected `equal`, `wildcard` or `regex`)"
        )),
    }
}

/// Which part of a rewrite rule an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RewritePart {
    Match,
    Replacement,
}

/// Checks a rewrite rule as a whole: the pattern is well formed and every `$n` of the
/// replacement names something the pattern captures.
///
/// - `equal`: `match` starts with `/`; no `$n` (there is nothing to capture).
/// - `wildcard`: `$1`..`$9` (one digit) name the `*`s; `$0` is rejected (there is no "whole
///   match" in a wildcard rule: the whole path is replaced anyway).
/// - `regex`: the `regex` crate's replacement syntax (`$n`, `${n}`, `$name`, `${name}`, `$$`);
///   `$0` (the whole match) is allowed, like in the regex crate.
pub(super) fn rewrite(
    kind: RewriteKind,
    pattern: &str,
    replacement: &str,
) -> Result<(), (RewritePart, String)> {
    use RewritePart::*;
    if pattern.is_empty() {
        return Err((Match, "rewrite `match` must not be empty".into()));
    }
    if replacement.is_empty() {
        return Err((
            Replacement,
            "rewrite `replacement` must not be empty".into(),
        ));
    }
    // It becomes part of a request line: no whitespace, control bytes or fragment.
    if let Some(c) = replacement
        .chars()
        .find(|&c| !c.is_ascii_graphic() || c == '#')
    {
        return Err((
            Replacement,
            format!(
                "rewrite `replacement` `{}` may hold only visible ASCII without `#` (found {c:?})",
                replacement.escape_debug()
            ),
        ));
    }
    match kind {
        RewriteKind::Equal => {
            if !pattern.starts_with('/') {
                return Err((
                    Match,
                    format!("equal rewrite `match` `{pattern}` must start with `/`"),
                ));
            }
            check_digit_refs(replacement, 0, "an equal rule captures nothing")
        }
        RewriteKind::Wildcard => {
            let body = pattern.strip_prefix('^').unwrap_or(pattern);
            if body.is_empty() {
                return Err((Match, "wildcard rewrite `match` must not be empty".into()));
            }
            let stars = body.bytes().filter(|&b| b == b'*').count();
            let why = format!(
                "`{pattern}` has {stars} wildcard{}",
                if stars == 1 { "" } else { "s" }
            );
            check_digit_refs(replacement, stars, &why)
        }
        RewriteKind::Regex => {
            let re = regex::Regex::new(pattern)
                .map_err(|e| (Match, format!("invalid regex: {}", regex_message(&e))))?;
            check_regex_refs(replacement, &re)
        }
    }
}

/// `$d` (one digit) references in a wildcard or equal replacement: 1..=count.
fn check_digit_refs(
    replacement: &str,
    count: usize,
    why: &str,
) -> Result<(), (RewritePart, String)> {
    let b = replacement.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let n = (b[i + 1] - b'0') as usize;
            if n == 0 {
                return Err((
                    RewritePart::Replacement,
                    format!(
                        "`$0` in replacement `{replacement}`: only `$1`..`$9` are defined here"
                    ),
                ));
            }
            if n > count {
                return Err((
                    RewritePart::Replacement,
                    format!("`${n}` in replacement `{replacement}`, but {why}"),
                ));
            }
        }
    }
    Ok(())
}

/// References in a regex replacement, parsed as `regex::Captures::expand` does.
fn check_regex_refs(replacement: &str, re: &regex::Regex) -> Result<(), (RewritePart, String)> {
    let groups = re.captures_len() - 1;
    let mut rest = replacement;
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            rest = r;
            continue;
        }
        let name = if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => {
                    rest = &braced[end + 1..];
                    &braced[..end]
                }
                None => continue, // a literal `$`
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            name
        };
        if name.is_empty() {
            continue;
        }
        let ok = match name.parse::<usize>() {
            Ok(n) => n <= groups,
            Err(_) => re.capture_names().flatten().any(|g| g == name),
        };
        if !ok {
            let plural = if groups == 1 { "" } else { "s" };
            let hint = if name.starts_with(|c: char| c.is_ascii_digit())
                && name.parse::<usize>().is_err()
            {
                " (write `${n}x` to follow a group number with letters)"
            } else {
                ""
            };
            return Err((
                RewritePart::Replacement,
                format!(
                    "`${name}` in replacement `{replacement}`, but the regex has {groups} capture group{plural}{hint}"
                ),
            ));
        }
    }
    Ok(())
}

/// The one useful line of a `regex::Error`.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert_eq!(hostname("h", "Example.COM.").unwrap(), "example.com");
        assert!(hostname("h", "a..b").is_err());
        assert!(hostname("h", "-a.b").is_err());
        assert!(hostname("h", "a_b.c").is_err());
        assert!(hostname("h", ".").is_err());
        assert!(hostname("h", &"a".repeat(64)).is_err());
        assert_eq!(domain_name("*.Example.com").unwrap(), "*.example.com");
        assert!(domain_name("*").is_err());
        assert!(domain_name("a.*.com").is_err());
        assert!(domain_name("*.*.com").is_err());
    }

    #[test]
    fn names() {
        assert!(name("service", "CustomDemo").is_ok());
        assert!(name("service", "a.b").unwrap_err().contains("`.`"));
        assert!(name("service", "a/b").unwrap_err().contains("`/`"));
        assert!(name("service", "").unwrap_err().contains("empty"));
        assert!(name("service", "a b").is_err());
        assert!(account("1649015465571234").is_ok());
        assert!(account("ABC").is_err());
    }

    #[test]
    fn upstreams() {
        assert_eq!(
            upstream("builtin:echo", super::super::load::offline_resolver).unwrap(),
            UpstreamAddr::Echo
        );
        assert!(upstream("builtin:foo", super::super::load::offline_resolver).is_err());
        let a = upstream("127.0.0.1:9000", super::super::load::offline_resolver).unwrap();
        assert_eq!(
            a,
            UpstreamAddr::Tcp {
                text: "127.0.0.1:9000".into(),
                addr: "127.0.0.1:9000".parse().unwrap()
            }
        );
        assert!(matches!(
            upstream("[::1]:80", super::super::load::offline_resolver).unwrap(),
            UpstreamAddr::Tcp { .. }
        ));
        assert!(matches!(
            upstream("localhost:80", super::super::load::offline_resolver).unwrap(),
            UpstreamAddr::Tcp { .. }
        ));
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            ":80",
            "::1:80",
            "[zz]:80",
            "h:x",
            "no-such-host.invalid:80",
        ] {
            assert!(
                upstream(bad, super::super::load::offline_resolver).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn route_paths() {
        for ok in ["/", "/test", "/*", "/login/*", "/a%20b"] {
            assert!(route_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "test", "/a*", "/*/a", "/a/**", "/a b", "/a?b", "/é"] {
            assert!(route_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rewrites() {
        use RewriteKind::*;
        assert!(rewrite(Wildcard, "/api/*", "/$1").is_ok());
        assert!(rewrite(Wildcard, "^/a/*/b/*", "/$2/$1").is_ok());
        assert_eq!(
            rewrite(Wildcard, "/api/*", "/$2").unwrap_err().0,
            RewritePart::Replacement
        );
        assert!(rewrite(Wildcard, "/api/*", "/$0").is_err());
        assert!(rewrite(Equal, "/old", "/new").is_ok());
        assert!(rewrite(Equal, "/old", "/$1").is_err());
        assert!(rewrite(Equal, "old", "/new").is_err());
        assert!(rewrite(Regex, "^/api/.+?/(.*)", "/api/v2/$1").is_ok());
        assert!(rewrite(Regex, "^/(.*)", "/$0").is_ok());
        assert!(rewrite(Regex, "^/(?P<rest>.*)", "/${rest}/$$2").is_ok());
        assert!(rewrite(Regex, "^/(.*)", "/$2").is_err());
        assert!(rewrite(Regex, "^/(.*)", "/$1a").is_err());
        assert!(rewrite(Regex, "^/(.*)", "/${1}a").is_ok());
        // The replacement ends up in a request line.
        for bad in ["/a b", "/a\r\nx-evil: 1", "/a\tb", "/a#frag", "/é"] {
            assert_eq!(
                rewrite(Wildcard, "/api/*", bad).unwrap_err().0,
                RewritePart::Replacement,
                "{bad:?}"
            );
        }
        assert!(rewrite(Wildcard, "/api/*", "/v2/$1?from=api&x=%20").is_ok());
        let (part, msg) = rewrite(Regex, "^/(.*", "/").unwrap_err();
        assert_eq!(part, RewritePart::Match);
        assert!(msg.contains("unclosed group"), "{msg}");
    }

    #[test]
    fn methods_and_listen() {
        assert_eq!(method("GET").unwrap(), Method::Get);
        assert!(method("get").is_err());
        assert!(listen_addr("0.0.0.0:80").is_ok());
        assert!(listen_addr("[::]:80").is_ok());
        assert!(listen_addr("localhost:80").is_err());
        assert!(listen_addr("80").is_err());
    }
}
