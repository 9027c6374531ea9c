//! The compiled routing table (SPEC.md section 3): host index -> path trie -> target, the four
//! Function Compute access modes, rewrites and the checks of section 3.5. Pure and synchronous:
//! no sockets, no async. Built once per config, immutable, held in an `ArcSwap` and swapped whole.
//!
//! The data plane calls exactly one thing: [`RouteTable::resolve`].
//!
//! Layout: `host` (Host normalisation, platform host suffixes), `flat` (one seeded hash over a
//! key's borrowed slices; open-addressing tables whose cache-line entries hold their key, so a
//! hit touches one line whatever the table's size), `functions` ((account, service, function,
//! qualifier) index and the 3.5 not-found codes), `trie` (every domain's exact and prefix
//! routes, pooled), `rewrite` (3.4.4 rules), `table` (compile and resolve).
//!
//! Performance budget (benches/routing.rs): a resolve costs the same with 100 or 1 000 000
//! functions (100 000 domains): no per-request allocation, one hash and one line per index hit,
//! big arrays in transparent huge pages, byte scans a word at a time.

mod flat;
mod functions;
mod host;
mod rewrite;
mod table;
mod trie;

#[cfg(test)]
mod tests;

pub use table::{INVOCATION_TARGET, RouteTable};

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{MethodSet, ProxyPath};
use crate::errors::FcError;

/// How a request reached its function (SPEC.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Proxy,
    Header,
    Subdomain,
    Domain,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Proxy => "proxy",
            Mode::Header => "header",
            Mode::Subdomain => "subdomain",
            Mode::Domain => "domain",
        }
    }
}

/// One instance of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instance {
    /// `builtin:echo`, answered inside the router.
    Echo,
    Tcp(SocketAddr),
}

/// One `[[function]]` entry, compiled. Shared (`Arc`) so that a request in flight keeps it
/// alive across a reload.
#[derive(Debug)]
pub struct FunctionEntry {
    pub account: Box<str>,
    pub service: Box<str>,
    pub name: Box<str>,
    pub qualifier: Box<str>,
    pub instances: Box<[Instance]>,
    /// The `host:port` / `builtin:echo` texts as written in the config (for `explain`).
    pub instance_texts: Box<[Box<str>]>,
    pub methods: MethodSet,
    pub disable_url_internet: bool,
    pub proxy_path: ProxyPath,
}

/// A routed request: where it goes and what the instance receives.
#[derive(Debug)]
pub struct Routed<'a> {
    pub mode: Mode,
    pub function: &'a Arc<FunctionEntry>,
    /// The request-target the instance receives (path and query): borrowed from the input
    /// when unchanged, owned only when a rewrite or `proxy_path = "strip"` changed it.
    pub target: Cow<'a, [u8]>,
    /// `x-fc-base-path` (proxy mode only): `/<api_version>/proxy/<service segment>/<function>/`.
    pub base_path: Option<Cow<'a, [u8]>>,
}

/// What `resolve` decided.
#[derive(Debug)]
pub enum Decision<'a> {
    Routed(Routed<'a>),
    /// Answered by fcgate: 400 InvalidArgument, 403, 404 or 405 (with `allow` set).
    Answer(FcError),
}

/// Read access to a request's header fields, by case-insensitive name. Routing needs only
/// `x-fc-invocation-target`; the data plane implements this over its parsed head.
pub trait HeaderLookup {
    /// The value of the field `name` (ASCII lowercase) if it appears exactly once.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

/// Byte-string equality for the short strings of routing (names, suffixes), inlined: a libc
/// `memcmp` call costs more than comparing a few words here.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut ac, mut bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    if !ac
        .by_ref()
        .zip(bc.by_ref())
        .all(|(x, y)| word(x) == word(y))
    {
        return false;
    }
    ac.remainder()
        .iter()
        .zip(bc.remainder())
        .all(|(x, y)| x == y)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The first position of `byte` in `s`, a word at a time and inlined: for the short fields of
/// routing (hosts, names) a `memchr` call costs more than the search.
#[inline]
pub(crate) fn find_byte(s: &[u8], byte: u8) -> Option<usize> {
    let pattern = ONES * byte as u64;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in chunks.by_ref() {
        let x = u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) ^ pattern;
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&b| b == byte).map(|i| at + i)
}

/// The first position of `a` or of `b` in `s`, a word at a time (see [`find_byte`]).
#[inline]
pub(crate) fn find_either(s: &[u8], a: u8, b: u8) -> Option<usize> {
    let (pa, pb) = (ONES * a as u64, ONES * b as u64);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in chunks.by_ref() {
        let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        // Exact for the lowest match (a borrow only runs upwards from a zero byte).
        let hit = zero(w ^ pa) | zero(w ^ pb);
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&c| c == a || c == b).map(|i| at + i)
}

/// A word's ASCII upper-case letters in lower case; exact when no byte has its high bit set.
#[inline(always)]
pub(crate) fn lower_word(w: u64) -> u64 {
    let upper = w.wrapping_add(ONES * 0x3f) & !w.wrapping_add(ONES * 0x25) & HIGHS;
    w | (upper >> 2)
}

/// Whether `a` equals `b` ignoring ASCII case, a word at a time (header names).
#[inline]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut ac, mut bc) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in ac.by_ref().zip(bc.by_ref()) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        if (x | y) & HIGHS != 0 {
            return a.eq_ignore_ascii_case(b);
        }
        if lower_word(x) != lower_word(y) {
            return false;
        }
    }
    ac.remainder().eq_ignore_ascii_case(bc.remainder())
}

/// `s` without the suffix `suffix`, compared with [`bytes_eq`].
#[inline]
pub(crate) fn strip_suffix<'s>(s: &'s [u8], suffix: &[u8]) -> Option<&'s [u8]> {
    let at = s.len().checked_sub(suffix.len())?;
    bytes_eq(&s[at..], suffix).then(|| &s[..at])
}

/// `s` without the prefix `prefix`, compared with [`bytes_eq`].
#[inline]
pub(crate) fn strip_prefix<'s>(s: &'s [u8], prefix: &[u8]) -> Option<&'s [u8]> {
    let rest = s.get(prefix.len()..)?;
    bytes_eq(&s[..prefix.len()], prefix).then_some(rest)
}

impl HeaderLookup for [httparse::Header<'_>] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        let mut found = None;
        for h in self {
            if eq_ignore_case(h.name.as_bytes(), name.as_bytes()) {
                if found.is_some() {
                    return None;
                }
                found = Some(h.value);
            }
        }
        found
    }
}

impl HeaderLookup for [(&str, &[u8])] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        let mut found = None;
        for (n, v) in self {
            if eq_ignore_case(n.as_bytes(), name.as_bytes()) {
                if found.is_some() {
                    return None;
                }
                found = Some(*v);
            }
        }
        found
    }
}

#[cfg(test)]
mod bytes_tests {
    use super::*;

    #[test]
    fn short_byte_helpers() {
        for (a, b) in [
            ("", ""),
            ("a", "a"),
            ("abcdefgh", "abcdefgh"),
            ("abcdefghij", "abcdefghij"),
        ] {
            assert!(bytes_eq(a.as_bytes(), b.as_bytes()));
        }
        for (a, b) in [
            ("", "a"),
            ("a", "b"),
            ("abcdefgh", "abcdefgX"),
            ("abcdefghij", "abcdefghiX"),
            ("Xbcdefghij", "abcdefghij"),
        ] {
            assert!(!bytes_eq(a.as_bytes(), b.as_bytes()));
        }
        assert_eq!(
            strip_suffix(b"a.example.com", b".example.com"),
            Some(&b"a"[..])
        );
        assert_eq!(strip_suffix(b"com", b".example.com"), None);
        assert_eq!(strip_suffix(b"a.example.org", b".example.com"), None);
        assert_eq!(
            strip_prefix(b"/2016/proxy/x", b"/2016/proxy/"),
            Some(&b"x"[..])
        );
        assert_eq!(strip_prefix(b"/2016", b"/2016/proxy/"), None);
        for s in [
            "",
            "a",
            "abcdefg",
            "abcdefgh",
            "abcdefghijklmnopq",
            "x-fc-invocation-target",
        ] {
            for b in 0..=255u8 {
                let s = s.as_bytes();
                assert_eq!(find_byte(s, b), s.iter().position(|&c| c == b));
            }
        }
        assert_eq!(find_byte(b"0123456789abcdef:x", b':'), Some(16));
        for s in [
            "",
            "a/b?c",
            "abcdefgh?ij/",
            "abcdefghij/?",
            "/",
            "?",
            "0123456789abcdef",
            "aaaaaaaa/aaaa",
        ] {
            let s = s.as_bytes();
            assert_eq!(
                find_either(s, b'/', b'?'),
                s.iter().position(|&c| c == b'/' || c == b'?'),
                "{s:?}"
            );
        }
        let names = [
            "x-fc-invocation-target",
            "X-FC-Invocation-Target",
            "x-fc-invocation-targeT",
            "x-fc-invocation-targex",
            "x-fc-invocation-tArget",
            "x-fc-invocatio\u{0}-target",
            "x-fc-invocation-t@rget",
            "x-fc-invocation-t`rget",
            "x-fc-INVOCATION-[]{}^~",
            "\u{e9}",
            "content-length",
            "CONTENT-LENGTH",
            "Content-Lengtz",
            "",
        ];
        for a in names {
            for b in names {
                assert_eq!(
                    eq_ignore_case(a.as_bytes(), b.as_bytes()),
                    a.eq_ignore_ascii_case(b),
                    "{a:?} {b:?}"
                );
            }
        }
        for b in 0..=127u8 {
            for c in 0..=127u8 {
                let (x, y) = ([b; 9], [c; 9]);
                assert_eq!(eq_ignore_case(&x, &y), x.eq_ignore_ascii_case(&y));
            }
        }
        assert_eq!(strip_prefix(b"/2017/proxy/x", b"/2016/proxy/"), None);
    }
}
