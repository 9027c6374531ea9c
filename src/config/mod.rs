//! Config: the TOML schema of SPEC.md section 2, its defaults, and validation that reports
//! every error as `PATH:LINE:COL: message`. Pure and synchronous: no sockets, no async.
//!
//! `load(path)` / `parse(text, path)` return a fully validated [`Config`] or every error found.

mod load;
mod reader;
mod rules;

pub use load::{Resolver, load, offline_resolver, parse, parse_with, system_resolver};

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One config error, printed as `PATH:LINE:COL: message` (line and column are 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.col, self.message
        )
    }
}

/// The seven methods a function or route may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Method {
    Head = 0,
    Get = 1,
    Post = 2,
    Put = 3,
    Delete = 4,
    Patch = 5,
    Options = 6,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Head,
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Head => "HEAD",
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
        }
    }

    /// Exact, case-sensitive match (methods are case-sensitive tokens, RFC 9110 9.1).
    pub fn from_bytes(b: &[u8]) -> Option<Method> {
        Some(match b {
            b"HEAD" => Method::Head,
            b"GET" => Method::Get,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"PATCH" => Method::Patch,
            b"OPTIONS" => Method::Options,
            _ => return None,
        })
    }
}

/// A set of [`Method`]s as a bitmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(pub u8);

impl MethodSet {
    pub const ALL: MethodSet = MethodSet(0x7f);
    pub const EMPTY: MethodSet = MethodSet(0);

    pub fn with(self, m: Method) -> MethodSet {
        MethodSet(self.0 | (1 << m as u8))
    }
    pub fn contains(self, m: Method) -> bool {
        self.0 & (1 << m as u8) != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }
    /// `"GET, POST"`, in the order of [`Method::ALL`]; the value of an `Allow` header.
    pub fn allow_header(self) -> String {
        self.iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file the config came from (as given on the command line).
    pub source: PathBuf,
    pub server: Server,
    pub admin: Option<Admin>,
    pub log: Log,
    pub upstream: Upstream,
    pub platform: Platform,
    pub functions: Vec<Function>,
    pub domains: Vec<Domain>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub listen: Vec<SocketAddr>, // default ["127.0.0.1:8080"]
    pub workers: usize,          // default 0 = one per available core
    pub pin_workers: bool,       // default true
    pub max_connections: usize,  // default 100000
    pub max_header_bytes: usize, // default 8192
    pub max_uri_bytes: usize,    // default 4096
    pub max_body_bytes: u64,     // default 33554432
    pub header_timeout_ms: u64,  // default 10000
    pub idle_timeout_ms: u64,    // default 60000
    pub drain_timeout_ms: u64,   // default 30000
}

#[derive(Debug, Clone, PartialEq)]
pub struct Admin {
    pub listen: SocketAddr, // default "127.0.0.1:9901" when the section is present
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    Stderr,
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub level: LogLevel,   // default Info
    pub access: AccessLog, // default Off
}

#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub connect_timeout_ms: u64,      // default 2000
    pub response_timeout_ms: u64,     // default 60000
    pub idle_timeout_ms: u64,         // default 30000
    pub max_idle_per_upstream: usize, // default 64
    pub retries: u32,                 // default 1
}

#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub api_version: String,     // default "2016-08-15"
    pub region: String,          // default "cn-hangzhou" (stored lowercase)
    pub endpoint_suffix: String, // default "fc.aliyuncs.com" (stored lowercase)
    pub trigger_suffix: String,  // default "fcapp.run" (stored lowercase)
}

/// Where a function's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamAddr {
    /// `builtin:echo`: answered inside the router.
    Echo,
    /// `host:port`, resolved once when the config is loaded. `text` is as written.
    Tcp { text: String, addr: SocketAddr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyPath {
    /// Forward the request-target unchanged (custom runtime / container behaviour).
    Full,
    /// Forward `/<rest>` (with the query) instead of the whole proxy path.
    Strip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub account: String,
    pub service: String,
    pub name: String,
    pub qualifier: String, // default "LATEST"
    pub upstreams: Vec<UpstreamAddr>,
    pub methods: MethodSet,        // default all seven
    pub subdomain: Option<String>, // stored lowercase
    pub disable_url_internet: bool,
    pub proxy_path: ProxyPath, // default Full
}

#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// Lowercase, without a trailing dot; `*.example.com` for a wildcard.
    pub name: String,
    pub account: String,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `/exact` or a prefix ending in `/*`.
    pub path: String,
    pub service: String,
    pub function: String,
    pub qualifier: String,  // default "LATEST"
    pub methods: MethodSet, // default all seven
    pub rewrites: Vec<Rewrite>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RewriteKind {
    Equal,
    Wildcard,
    Regex,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub kind: RewriteKind,
    pub pattern: String, // the `match` key
    pub replacement: String,
}
