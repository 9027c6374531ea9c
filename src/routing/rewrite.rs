//! Rewrite rules of custom-domain routes (SPEC.md 3.4.4), compiled once per config.
//!
//! A route's rules are tried in order: every `equal`, then every `wildcard`, then every
//! `regex` (config order within a kind); the first that matches is the only one applied. They
//! see the path only (the request-target up to its first `?`); the original query is kept.
//!
//! - `equal`: the whole path equals the pattern.
//! - `wildcard`: `*` is any run of bytes (possibly empty) and a leading `^` anchors the match at
//!   the path's start; everything else is literal. The match always runs to the path's end.
//!   Compiled into literal pieces searched with `memchr::memmem` (linear time); no regex. Each
//!   `*` but the last takes the shortest text that lets the rest match (the leftmost occurrence
//!   of the next literal), the last takes what remains; unanchored, the match starts at the
//!   leftmost place.
//! - `regex`: the `regex` crate's syntax on bytes; `$n` are capture groups.
//!
//! Replacements: `$0`..`$9` (one digit) insert a capture (`$0` the matched text; a capture that
//! does not exist or did not take part is empty), `$$` is a `$`, any other `$` is literal. The
//! whole path is replaced by the expansion.

use memchr::memmem;
use regex::bytes::Regex;
use smallvec::SmallVec;

use crate::config::{Rewrite, RewriteKind};

/// One compiled rule. Its literal bytes (the pattern's for `equal` and `wildcard`, then the
/// replacement's) live back to back, inline when short, and everything else inline too, so
/// applying a rule touches little more than the rule, however many routes the table holds.
#[derive(Debug)]
pub struct CompiledRewrite {
    bytes: SmallVec<[u8; 32]>,
    matcher: Matcher,
    replacement: SmallVec<[Piece; 4]>,
    /// The length of the replacement's literal pieces (a capacity hint).
    literal_len: usize,
}

/// A range of a rule's `bytes`.
#[derive(Debug, Clone, Copy)]
struct Lit {
    start: u32,
    end: u32,
}

impl Lit {
    fn push(bytes: &mut Vec<u8>, text: &[u8]) -> Lit {
        let start = bytes.len() as u32;
        bytes.extend_from_slice(text);
        Lit {
            start,
            end: bytes.len() as u32,
        }
    }
    fn of(self, bytes: &[u8]) -> &[u8] {
        &bytes[self.start as usize..self.end as usize]
    }
}

#[derive(Debug)]
enum Matcher {
    Equal(Lit),
    /// `L0 * L1 * ... * Lk` (one more literal than `*`), optionally anchored by a leading `^`.
    Wildcard {
        anchored: bool,
        literals: SmallVec<[Lit; 3]>,
    },
    Regex(Regex),
}

/// A piece of a replacement: literal bytes or a capture reference.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Literal(Lit),
    Group(u8),
}

/// Compiles a route's rules into the order they are tried in.
pub fn compile(rules: &[Rewrite]) -> Result<Box<[CompiledRewrite]>, String> {
    let mut sorted: Vec<&Rewrite> = rules.iter().collect();
    sorted.sort_by_key(|r| r.kind); // stable: config order within a kind
    sorted.into_iter().map(compile_one).collect()
}

fn compile_one(r: &Rewrite) -> Result<CompiledRewrite, String> {
    let mut bytes = Vec::new();
    let pattern = r.pattern.as_bytes();
    let matcher = match r.kind {
        RewriteKind::Equal => Matcher::Equal(Lit::push(&mut bytes, pattern)),
        RewriteKind::Wildcard => {
            let (anchored, body) = match pattern.strip_prefix(b"^") {
                Some(body) => (true, body),
                None => (false, pattern),
            };
            let literals = body
                .split(|&b| b == b'*')
                .map(|lit| Lit::push(&mut bytes, lit))
                .collect();
            Matcher::Wildcard { anchored, literals }
        }
        RewriteKind::Regex => Matcher::Regex(
            Regex::new(&r.pattern).map_err(|e| format!("rewrite regex {:?}: {e}", r.pattern))?,
        ),
    };
    let (replacement, literal_len) = template(&mut bytes, r.replacement.as_bytes());
    Ok(CompiledRewrite {
        bytes: SmallVec::from_slice(&bytes),
        matcher,
        replacement,
        literal_len,
    })
}

/// Splits a replacement into literal pieces (appended to `bytes`) and capture references.
fn template(bytes: &mut Vec<u8>, text: &[u8]) -> (SmallVec<[Piece; 4]>, usize) {
    let mut pieces = SmallVec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut literal_len = 0;
    let mut flush = |lit: &mut Vec<u8>, pieces: &mut SmallVec<[Piece; 4]>| {
        if !lit.is_empty() {
            literal_len += lit.len();
            pieces.push(Piece::Literal(Lit::push(bytes, lit)));
            lit.clear();
        }
    };
    let mut i = 0;
    while i < text.len() {
        match (text[i], text.get(i + 1)) {
            (b'$', Some(&d)) if d.is_ascii_digit() => {
                flush(&mut lit, &mut pieces);
                pieces.push(Piece::Group(d - b'0'));
                i += 2;
            }
            (b'$', Some(b'$')) => {
                lit.push(b'$');
                i += 2;
            }
            (b, _) => {
                lit.push(b);
                i += 1;
            }
        }
    }
    flush(&mut lit, &mut pieces);
    (pieces, literal_len)
}

/// Applies the first matching rule to `target` (path and query): `Some(new target)`, or
/// `None` when no rule matches (the target is then forwarded unchanged).
pub fn apply(rules: &[CompiledRewrite], target: &[u8]) -> Option<Vec<u8>> {
    if rules.is_empty() {
        return None;
    }
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    let mut out = Vec::new();
    rules.iter().find(|r| r.expand_into(path, &mut out))?;
    // The result is an origin-form path: a rule whose result is empty (a regex `$0` that
    // matched nothing) or relative (`$1` without its slash) gets a leading `/`.
    if out.first() != Some(&b'/') {
        out.insert(0, b'/');
    }
    if let Some(query) = query {
        if memchr::memchr(b'?', &out).is_some() {
            // `newpath?newquery&origquery`
            if !query.is_empty() {
                if !matches!(out.last(), Some(b'?' | b'&')) {
                    out.push(b'&');
                }
                out.extend_from_slice(query);
            }
        } else {
            out.push(b'?');
            out.extend_from_slice(query);
        }
    }
    Some(out)
}

impl CompiledRewrite {
    /// If this rule matches `path`, writes the new path into `out` and returns true.
    fn expand_into(&self, path: &[u8], out: &mut Vec<u8>) -> bool {
        match &self.matcher {
            Matcher::Equal(p) => {
                if p.of(&self.bytes) != path {
                    return false;
                }
                self.expand(out, |n| (n == 0).then_some(path));
            }
            Matcher::Wildcard { anchored, literals } => {
                let Some(caps) = self.wildcard_captures(*anchored, literals, path) else {
                    return false;
                };
                self.expand(out, |n| caps.get(path, n));
            }
            Matcher::Regex(re) => {
                let Some(caps) = re.captures(path) else {
                    return false;
                };
                self.expand(out, |n| caps.get(n).map(|m| m.as_bytes()));
            }
        }
        true
    }

    fn expand<'p>(&self, out: &mut Vec<u8>, group: impl Fn(usize) -> Option<&'p [u8]>) {
        out.reserve(self.literal_len + 32);
        for p in &self.replacement {
            match *p {
                Piece::Literal(l) => out.extend_from_slice(l.of(&self.bytes)),
                Piece::Group(n) => out.extend_from_slice(group(n as usize).unwrap_or_default()),
            }
        }
    }

    /// Matches `L0 * L1 * ... * Lk` against the whole of `path` (see the module docs).
    /// Literals are found with `memmem` (linear time, whatever the path).
    fn wildcard_captures(
        &self,
        anchored: bool,
        lits: &[Lit],
        path: &[u8],
    ) -> Option<WildcardCaptures> {
        let lit = |i: usize| lits[i].of(&self.bytes);
        let first = lit(0);
        let mut caps = WildcardCaptures {
            whole: (0, 0),
            stars: [(0, 0); 9],
            count: 0,
        };
        if lits.len() == 1 {
            // No `*`: the literal ends at the path's end (and starts at 0 if anchored).
            let ok = if anchored {
                path == first
            } else {
                path.ends_with(first)
            };
            if !ok {
                return None;
            }
            caps.whole = (path.len() - first.len(), path.len());
            return Some(caps);
        }
        let last = lit(lits.len() - 1);
        let end = path.len().checked_sub(last.len())?;
        if &path[end..] != last {
            return None;
        }
        let start = if anchored {
            if !path[..end].starts_with(first) {
                return None;
            }
            0
        } else if first.is_empty() {
            0
        } else {
            memmem::find(&path[..end], first)?
        };
        let mut p = start + first.len();
        for i in 1..lits.len() - 1 {
            let needle = lit(i);
            let at = p + memmem::find(&path[p..end], needle)?;
            caps.push(p, at);
            p = at + needle.len();
        }
        caps.push(p, end);
        caps.whole = (start, path.len());
        Some(caps)
    }
}

/// The texts of a wildcard match: `$0` and up to nine `*`s, as ranges of the path.
struct WildcardCaptures {
    whole: (usize, usize),
    stars: [(usize, usize); 9],
    count: usize,
}

impl WildcardCaptures {
    fn get<'p>(&self, path: &'p [u8], n: usize) -> Option<&'p [u8]> {
        let (a, b) = match n {
            0 => self.whole,
            n if n <= self.count => self.stars[n - 1],
            _ => return None,
        };
        Some(&path[a..b])
    }

    fn push(&mut self, a: usize, b: usize) {
        if self.count < self.stars.len() {
            self.stars[self.count] = (a, b);
        }
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(kind: RewriteKind, pattern: &str, replacement: &str) -> Rewrite {
        Rewrite {
            kind,
            pattern: pattern.into(),
            replacement: replacement.into(),
        }
    }

    fn run(rules: &[Rewrite], target: &str) -> Option<String> {
        let c = compile(rules).unwrap();
        apply(&c, target.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    fn one(kind: RewriteKind, pattern: &str, replacement: &str, target: &str) -> Option<String> {
        run(&[rw(kind, pattern, replacement)], target)
    }

    use RewriteKind::{Equal, Regex as Re, Wildcard as Wc};

    #[test]
    fn spec_examples() {
        assert_eq!(
            one(Wc, "/api/*", "/$1", "/api/get").as_deref(),
            Some("/get")
        );
        assert_eq!(
            one(Wc, "/old", "/new", "/test/old").as_deref(),
            Some("/new")
        );
        assert_eq!(one(Wc, "^/old", "/new", "/test/old"), None);
        assert_eq!(one(Wc, "^/old", "/new", "/old").as_deref(), Some("/new"));
        assert_eq!(
            one(Re, "^/api/.+?/(.*)", "/api/v2/$1", "/api/v1/users").as_deref(),
            Some("/api/v2/users")
        );
    }

    #[test]
    fn equal_is_whole_path() {
        assert_eq!(one(Equal, "/a", "/b", "/a").as_deref(), Some("/b"));
        assert_eq!(one(Equal, "/a", "/b", "/a/"), None);
        assert_eq!(one(Equal, "/a", "/b", "/x/a"), None);
        assert_eq!(one(Equal, "/a", "/b", "/a?x=1").as_deref(), Some("/b?x=1"));
        assert_eq!(one(Equal, "/a?x=1", "/b", "/a?x=1"), None);
    }

    #[test]
    fn wildcard_semantics() {
        // Runs to the end of the path.
        assert_eq!(one(Wc, "/old", "/new", "/old/x"), None);
        assert_eq!(one(Wc, "/api/*", "/$1", "/api/"), Some("/".into()));
        assert_eq!(one(Wc, "/api/*", "/$1", "/api"), None);
        // Unanchored: may start anywhere; captures start after the first literal.
        assert_eq!(
            one(Wc, "/api/*", "/$1", "/v1/api/get").as_deref(),
            Some("/get")
        );
        assert_eq!(one(Wc, "^/api/*", "/$1", "/v1/api/get"), None);
        // Several stars: all but the last shortest, the last takes the rest.
        assert_eq!(
            one(Wc, "/u/*/*", "/$2/$1", "/u/a/b/c").as_deref(),
            Some("/b/c/a")
        );
        assert_eq!(
            one(Wc, "*.html", "/$1", "/a/b.html").as_deref(),
            Some("//a/b")
        );
        assert_eq!(one(Wc, "^*", "$1x", "/a").as_deref(), Some("/ax"));
        assert_eq!(
            one(Wc, "/a*b*c", "$1-$2", "/a1b2c").as_deref(),
            Some("/1-2")
        );
        assert_eq!(one(Wc, "/a*b*c", "$1-$2", "/abc").as_deref(), Some("/-"));
        assert_eq!(one(Wc, "/a*b*c", "$1-$2", "/ab").as_deref(), None);
        // Overlap of the first and last literals is not a match.
        assert_eq!(one(Wc, "^/ab*bc", "x", "/abc"), None);
        assert_eq!(one(Wc, "^/ab*bc", "[$1]", "/abbc").as_deref(), Some("/[]"));
        // `$0` is the matched text; missing groups are empty; `$$` is `$`; `$x` is literal.
        assert_eq!(
            one(Wc, "/b/*", "$0|$3|$$|$x", "/a/b/c").as_deref(),
            Some("/b/c||$|$x")
        );
        // `^` elsewhere and regex metacharacters are literal.
        assert_eq!(one(Wc, "/a^.+", "/ok", "/x/a^.+").as_deref(), Some("/ok"));
        assert_eq!(one(Wc, "/a^.+", "/ok", "/x/a^bb"), None);
    }

    #[test]
    fn wildcard_ten_stars_keeps_nine_captures() {
        let p = "^/*/*/*/*/*/*/*/*/*/*";
        let r = one(Wc, p, "$1$9", "/a/b/c/d/e/f/g/h/i/j").unwrap();
        assert_eq!(r, "/ai");
    }

    #[test]
    fn regex_semantics() {
        // The whole path is replaced, not only the matched part.
        assert_eq!(one(Re, "v1", "/v2", "/api/v1/x").as_deref(), Some("/v2"));
        assert_eq!(
            one(Re, "^/(a)(b)?", "/$1$2$0", "/ac").as_deref(),
            Some("/a/a")
        );
        assert_eq!(one(Re, "^/x$", "/y", "/x?q").as_deref(), Some("/y?q"));
        assert!(compile(&[rw(Re, "(", "/")]).is_err());
    }

    #[test]
    fn order_equal_then_wildcard_then_regex_first_match_wins() {
        let rules = [
            rw(Re, "^/a$", "/regex"),
            rw(Wc, "/a", "/wild"),
            rw(Equal, "/b", "/eq-b"),
            rw(Equal, "/a", "/eq-a"),
            rw(Wc, "*", "/wild-all"),
        ];
        assert_eq!(run(&rules, "/a").as_deref(), Some("/eq-a"));
        assert_eq!(run(&rules, "/x/a").as_deref(), Some("/wild"));
        assert_eq!(run(&rules, "/z").as_deref(), Some("/wild-all"));
        let rules = [rw(Re, "^/r", "/regex"), rw(Wc, "/w*", "/wild")];
        assert_eq!(run(&rules, "/r").as_deref(), Some("/regex"));
        assert_eq!(run(&rules, "/w1").as_deref(), Some("/wild"));
        assert_eq!(run(&rules, "/q"), None);
        assert_eq!(run(&[], "/q"), None);
    }

    #[test]
    fn query_handling() {
        assert_eq!(
            one(Wc, "/api/*", "/$1", "/api/get?a=1").as_deref(),
            Some("/get?a=1")
        );
        assert_eq!(
            one(Wc, "/api/*", "/$1", "/api/get?").as_deref(),
            Some("/get?")
        );
        assert_eq!(
            one(Wc, "/api/*", "/$1?v=2", "/api/get?a=1").as_deref(),
            Some("/get?v=2&a=1")
        );
        assert_eq!(
            one(Wc, "/api/*", "/$1?v=2", "/api/get").as_deref(),
            Some("/get?v=2")
        );
        assert_eq!(
            one(Wc, "/api/*", "/$1?v=2", "/api/get?").as_deref(),
            Some("/get?v=2")
        );
        assert_eq!(
            one(Wc, "/api/*", "/$1?", "/api/get?a=1").as_deref(),
            Some("/get?a=1")
        );
        // The query takes no part in matching.
        assert_eq!(one(Wc, "/api/*", "/$1", "/x?/api/get"), None);
        assert_eq!(one(Re, "a=1", "/y", "/x?a=1"), None);
    }

    #[test]
    fn results_are_always_origin_form() {
        use RewriteKind::*;
        // Found by the rewriter fuzz target: `$0` of a regex that matched nothing.
        assert_eq!(one(Regex, "x?", "$0", "/api?q=1").as_deref(), Some("/?q=1"));
        // A capture without its slash.
        assert_eq!(
            one(Regex, "^/api/(.*)", "$1", "/api/users").as_deref(),
            Some("/users")
        );
        assert_eq!(
            one(Wildcard, "/api/*", "$1", "/api/v1").as_deref(),
            Some("/v1")
        );
    }
}
