//! Host handling (SPEC.md section 3): normalising a Host field's value without allocating,
//! and recognising the system endpoint and trigger hosts by suffix, so that a million
//! functions need no million host entries.

/// The longest host name accepted, in bytes (RFC 1035 allows 253 plus a trailing dot).
pub const MAX_HOST: usize = 255;

/// Normalises a Host field's value into `buf`: ASCII lowercase, the port removed (also after
/// `[v6]`), one trailing dot removed. `None` when the value cannot name any host: longer than
/// [`MAX_HOST`], a non-ASCII byte, a port that is not digits, an unclosed `[`.
pub fn normalize<'b>(host: &[u8], buf: &'b mut [u8; MAX_HOST]) -> Option<&'b [u8]> {
    let name = if host.first() == Some(&b'[') {
        let close = find_byte(host, b']')?;
        check_port(&host[close + 1..])?;
        &host[..=close]
    } else {
        match find_byte(host, b':') {
            Some(colon) => {
                check_port(&host[colon..])?;
                &host[..colon]
            }
            None => host,
        }
    };
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.len() > MAX_HOST {
        return None;
    }
    // A word at a time; the non-ASCII check is folded in (and makes the case mapping exact).
    let mut all = 0u64;
    let mut chunks = name.chunks_exact(8);
    let mut at = 0;
    for c in chunks.by_ref() {
        let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        all |= w;
        buf[at..at + 8].copy_from_slice(&lower_word(w).to_le_bytes());
        at += 8;
    }
    let tail = chunks.remainder();
    let mut t = [0u8; 8];
    t[..tail.len()].copy_from_slice(tail);
    let w = u64::from_le_bytes(t);
    all |= w;
    buf[at..name.len()].copy_from_slice(&lower_word(w).to_le_bytes()[..tail.len()]);
    (all & 0x8080_8080_8080_8080 == 0).then_some(&buf[..name.len()])
}

/// `rest` is what follows the host name: nothing, or `:` and a (possibly empty) decimal port.
fn check_port(rest: &[u8]) -> Option<()> {
    match rest.split_first() {
        None => Some(()),
        Some((b':', port)) if port.iter().all(u8::is_ascii_digit) => Some(()),
        _ => None,
    }
}

/// What a normalised host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind<'h> {
    /// `<account>.<region>[-internal].<endpoint_suffix>`
    Endpoint { account: &'h [u8] },
    /// `<label>.<region>[-vpc].<trigger_suffix>`
    Trigger { label: &'h [u8] },
    /// Anything else: a custom domain (the empty name included).
    Custom,
}

/// The four host suffixes of the platform, precomputed (each begins with a `.`).
#[derive(Debug)]
pub struct PlatformHosts {
    endpoint: Box<[u8]>,
    endpoint_internal: Box<[u8]>,
    trigger: Box<[u8]>,
    trigger_vpc: Box<[u8]>,
}

impl PlatformHosts {
    pub fn new(region: &str, endpoint_suffix: &str, trigger_suffix: &str) -> PlatformHosts {
        let lc = |s: String| s.to_ascii_lowercase().into_bytes().into_boxed_slice();
        let (region, es, ts) = (
            region.trim_end_matches('.'),
            endpoint_suffix.trim_matches('.'),
            trigger_suffix.trim_matches('.'),
        );
        PlatformHosts {
            endpoint: lc(format!(".{region}.{es}")),
            endpoint_internal: lc(format!(".{region}-internal.{es}")),
            trigger: lc(format!(".{region}.{ts}")),
            trigger_vpc: lc(format!(".{region}-vpc.{ts}")),
        }
    }

    /// Classifies a normalised (lowercase) host. The first label must be non-empty and is
    /// a single label: `a.b.cn-hangzhou.fcapp.run` is a custom domain.
    pub fn classify<'h>(&self, host: &'h [u8]) -> HostKind<'h> {
        if let Some(account) = single_label(host, &self.endpoint, &self.endpoint_internal) {
            HostKind::Endpoint { account }
        } else if let Some(label) = single_label(host, &self.trigger, &self.trigger_vpc) {
            HostKind::Trigger { label }
        } else {
            HostKind::Custom
        }
    }
}

use super::{find_byte, lower_word, strip_suffix};

fn single_label<'h>(host: &'h [u8], a: &[u8], b: &[u8]) -> Option<&'h [u8]> {
    let first = strip_suffix(host, a).or_else(|| strip_suffix(host, b))?;
    (!first.is_empty() && find_byte(first, b'.').is_none()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(h: &str) -> Option<String> {
        let mut buf = [0u8; MAX_HOST];
        normalize(h.as_bytes(), &mut buf).map(|s| String::from_utf8(s.to_vec()).unwrap())
    }

    #[test]
    fn normalises_case_port_and_trailing_dot() {
        assert_eq!(norm("Example.COM").as_deref(), Some("example.com"));
        assert_eq!(norm("example.com:8080").as_deref(), Some("example.com"));
        assert_eq!(norm("example.com:").as_deref(), Some("example.com"));
        assert_eq!(norm("example.com.").as_deref(), Some("example.com"));
        assert_eq!(norm("EXAMPLE.com.:443").as_deref(), Some("example.com"));
        assert_eq!(norm("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(norm("[FE80::1]").as_deref(), Some("[fe80::1]"));
        assert_eq!(norm("").as_deref(), Some(""));
        assert_eq!(norm("example.com..").as_deref(), Some("example.com."));
    }

    #[test]
    fn rejects_what_names_no_host() {
        assert_eq!(norm("example.com:80x"), None);
        assert_eq!(norm("[::1"), None);
        assert_eq!(norm("[::1]x"), None);
        assert_eq!(norm("h\u{e9}.com"), None);
        let long = "a".repeat(MAX_HOST + 1);
        assert_eq!(norm(&long), None);
        assert_eq!(
            norm(&format!("{}.", &long[1..])).map(|s| s.len()),
            Some(MAX_HOST)
        );
        assert_eq!(norm(&long[1..]).map(|s| s.len()), Some(MAX_HOST));
    }

    #[test]
    fn classifies_platform_hosts() {
        let p = PlatformHosts::new("cn-hangzhou", "fc.aliyuncs.com", "fcapp.run");
        assert_eq!(
            p.classify(b"123.cn-hangzhou.fc.aliyuncs.com"),
            HostKind::Endpoint { account: b"123" }
        );
        assert_eq!(
            p.classify(b"123.cn-hangzhou-internal.fc.aliyuncs.com"),
            HostKind::Endpoint { account: b"123" }
        );
        assert_eq!(
            p.classify(b"f-s-x.cn-hangzhou.fcapp.run"),
            HostKind::Trigger { label: b"f-s-x" }
        );
        assert_eq!(
            p.classify(b"f-s-x.cn-hangzhou-vpc.fcapp.run"),
            HostKind::Trigger { label: b"f-s-x" }
        );
        assert_eq!(p.classify(b"cn-hangzhou.fc.aliyuncs.com"), HostKind::Custom);
        assert_eq!(
            p.classify(b".cn-hangzhou.fc.aliyuncs.com"),
            HostKind::Custom
        );
        assert_eq!(p.classify(b"a.b.cn-hangzhou.fcapp.run"), HostKind::Custom);
        assert_eq!(
            p.classify(b"123.cn-shanghai.fc.aliyuncs.com"),
            HostKind::Custom
        );
        assert_eq!(
            p.classify(b"123.cn-hangzhou-vpc.fc.aliyuncs.com"),
            HostKind::Custom
        );
        assert_eq!(
            p.classify(b"x.cn-hangzhou-internal.fcapp.run"),
            HostKind::Custom
        );
        assert_eq!(p.classify(b"example.com"), HostKind::Custom);
    }
}
