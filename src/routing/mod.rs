//! The compiled routing table (SPEC.md section 3): host index -> path trie -> target, the four
//! Function Compute access modes, rewrites and the checks of section 3.5. Pure and synchronous:
//! no sockets, no async. Built once per config, immutable, held in an `ArcSwap` and swapped whole.
//!
//! The data plane calls exactly one thing: [`RouteTable::resolve`].
//!
//! Layout: `host` (Host normalisation, platform host suffixes), `functions` (account ->
//! service -> function -> qualifier index and the 3.5 not-found codes), `trie` (a domain's
//! exact and prefix routes), `rewrite` (3.4.4 rules), `table` (compile and resolve).

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

impl HeaderLookup for [httparse::Header<'_>] {
    fn get(&self, name: &str) -> Option<&[u8]> {
        let mut found = None;
        for h in self {
            if h.name.eq_ignore_ascii_case(name) {
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
            if n.eq_ignore_ascii_case(name) {
                if found.is_some() {
                    return None;
                }
                found = Some(*v);
            }
        }
        found
    }
}
