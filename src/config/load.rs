//! Reading and validating a config file: the schema of SPEC.md section 2 walked over a
//! span-keeping `toml_edit::Document`, so that unknown keys, wrong types and broken rules are
//! all collected in one pass, each as `PATH:LINE:COL: message` pointing at the offending key or
//! value (a missing key: at its table's header). A TOML syntax error is reported alone.
//!
//! Choices beyond SPEC.md (the README should list them):
//! - Every section may also be written inline (`server = { ... }`, `function = [{ ... }]`).
//! - `account` is a lower-case DNS label (it is the first label of the system endpoint host).
//! - `service`, `name`/`function` and `qualifier` are 1-128 of `A-Z a-z 0-9 _ -`: no `/` (they
//!   are path segments) and no `.` (the qualifier is split off the service at the last `.`).
//!   They are case-sensitive, like the paths they are matched against.
//! - Hostnames (`subdomain`, `region`, suffixes, domain names) are stored lowercase, without a
//!   trailing dot; `region` and `subdomain` are single DNS labels.
//! - `listen` addresses are `ip:port` only (no names); port 0 is allowed. The same address twice,
//!   or the admin address equal to a server address, is an error.
//! - Upstream names are resolved once, at load; when a name has IPv4 and IPv6 addresses, the
//!   first IPv4 one is used. `builtin:echo` cannot be mixed with socket upstreams.
//! - `methods = []` is an error (it would answer every request with 405).
//! - Zero is rejected where it cannot mean anything: `max_connections`, `max_header_bytes`,
//!   `max_uri_bytes`, `header_timeout_ms`, `connect_timeout_ms`, `response_timeout_ms`.
//!   Everything else may be 0 (`workers = 0` is one per core, `retries = 0` none,
//!   `max_idle_per_upstream = 0` no pooling, `drain_timeout_ms = 0` exit at once).
//! - Two routes of one domain with the same path are an error.
//! - Route paths are visible ASCII without `?` or `#` (they are compared byte for byte with the
//!   request path, which never contains those).
//! - Rewrites: `equal` and `wildcard` replacements use `$1`..`$9` (one digit; `$0` rejected);
//!   `regex` replacements follow the `regex` crate (`$0` = the whole match, `${1}`, named
//!   groups, `$$`). An `equal` rule's `match` must start with `/`; no `match` or `replacement`
//!   may be empty.
//! - A route naming a function that does not exist is reported at the first of `service`,
//!   `function`, `qualifier` that names nothing.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::reader::{Ctx, Section, Span, Spanned};
use super::rules::{self, RewritePart};
use super::{
    AccessLog, Admin, Config, ConfigError, Domain, Function, Log, LogLevel, MethodSet, Platform,
    ProxyPath, Rewrite, RewriteKind, Route, Server, Upstream, UpstreamAddr,
};

/// The most routes one domain may have.
pub const MAX_ROUTES_PER_DOMAIN: usize = 100;

const TOP_KEYS: &[&str] = &[
    "server", "admin", "log", "upstream", "platform", "function", "domain",
];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "workers",
    "pin_workers",
    "max_connections",
    "max_header_bytes",
    "max_uri_bytes",
    "max_body_bytes",
    "header_timeout_ms",
    "idle_timeout_ms",
    "drain_timeout_ms",
];
const ADMIN_KEYS: &[&str] = &["listen"];
const LOG_KEYS: &[&str] = &["level", "access"];
const UPSTREAM_KEYS: &[&str] = &[
    "connect_timeout_ms",
    "response_timeout_ms",
    "idle_timeout_ms",
    "max_idle_per_upstream",
    "retries",
];
const PLATFORM_KEYS: &[&str] = &["api_version", "region", "endpoint_suffix", "trigger_suffix"];
const FUNCTION_KEYS: &[&str] = &[
    "account",
    "service",
    "name",
    "qualifier",
    "upstreams",
    "methods",
    "subdomain",
    "disable_url_internet",
    "proxy_path",
];
const DOMAIN_KEYS: &[&str] = &["name", "account", "route"];
const ROUTE_KEYS: &[&str] = &[
    "path",
    "service",
    "function",
    "qualifier",
    "methods",
    "rewrite",
];
const REWRITE_KEYS: &[&str] = &["kind", "match", "replacement"];

/// Reads and validates the file at `path`; errors name it as given.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            path: path.display().to_string(),
            line: 1,
            col: 1,
            message: format!("cannot read: {e}"),
        }]
    })?;
    parse(&text, path)
}

/// Validates `text` as the contents of `path`, resolving upstream names with the system
/// resolver.
pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<ConfigError>> {
    parse_with(text, path, system_resolver)
}

/// Turns an upstream `host` and `port` into addresses (called once per name, at load).
pub type Resolver = fn(&str, u16) -> std::io::Result<Vec<std::net::SocketAddr>>;

/// `getaddrinfo`: `/etc/hosts`, then DNS.
pub fn system_resolver(host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    use std::net::ToSocketAddrs;
    Ok((host, port).to_socket_addrs()?.collect())
}

/// Knows only `localhost` and never touches the network: for tests and fuzzing.
pub fn offline_resolver(host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    if host.eq_ignore_ascii_case("localhost") {
        Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))])
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "unknown host (offline resolver)",
        ))
    }
}

/// [`parse`] with a given resolver.
pub fn parse_with(text: &str, path: &Path, resolve: Resolver) -> Result<Config, Vec<ConfigError>> {
    let mut ctx = Ctx::new(text, path.display().to_string(), resolve);
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            ctx.error(
                &e.span().unwrap_or(0..0),
                format!("TOML syntax error: {message}"),
            );
            return Err(ctx.into_errors());
        }
    };
    let root = Section::new("the top level", doc.as_table(), 0..0);
    root.check_keys(&mut ctx, TOP_KEYS);

    let sec = root.table(&mut ctx, "server", "[server]");
    let server = read_server(&mut ctx, sec);
    let sec = root.table(&mut ctx, "admin", "[admin]");
    let admin = sec.map(|s| read_admin(&mut ctx, &s, &server));
    let sec = root.table(&mut ctx, "log", "[log]");
    let log = read_log(&mut ctx, sec);
    let sec = root.table(&mut ctx, "upstream", "[upstream]");
    let upstream = read_upstream(&mut ctx, sec);
    let sec = root.table(&mut ctx, "platform", "[platform]");
    let platform = read_platform(&mut ctx, sec);

    let mut functions = Vec::new();
    let mut index = FunctionIndex::default();
    for sec in root.tables(&mut ctx, "function", "[[function]]") {
        functions.push(read_function(&mut ctx, &sec, &mut index));
    }
    let mut domains = Vec::new();
    let mut domain_names: HashSet<String> = HashSet::new();
    for sec in root.tables(&mut ctx, "domain", "[[domain]]") {
        domains.push(read_domain(&mut ctx, &sec, &index, &mut domain_names));
    }

    if ctx.has_errors() {
        return Err(ctx.into_errors());
    }
    Ok(Config {
        source: PathBuf::from(path),
        server,
        admin,
        log,
        upstream,
        platform,
        functions,
        domains,
    })
}

/// `[server]`, defaults for what is absent.
fn read_server(ctx: &mut Ctx, sec: Option<Section>) -> Server {
    let mut s = Server {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
        workers: 0,
        pin_workers: true,
        max_connections: 100_000,
        max_header_bytes: 8192,
        max_uri_bytes: 4096,
        max_body_bytes: 33_554_432,
        header_timeout_ms: 10_000,
        idle_timeout_ms: 60_000,
        drain_timeout_ms: 30_000,
    };
    let Some(sec) = sec else { return s };
    sec.check_keys(ctx, SERVER_KEYS);
    if let Some(list) = sec.str_array(ctx, "listen") {
        if list.value.is_empty() {
            ctx.error(
                &list.span,
                "`listen` in [server] must name at least one address",
            );
        }
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for a in &list.value {
            match rules::listen_addr(a.value) {
                Ok(addr) if addr.port() != 0 && addrs.contains(&addr) => ctx.error(
                    &a.span,
                    format!("listen address `{}` is given twice", a.value),
                ),
                Ok(addr) => addrs.push(addr),
                Err(m) => ctx.error(&a.span, m),
            }
        }
        if !addrs.is_empty() {
            s.listen = addrs;
        }
    }
    set_uint(ctx, &sec, "workers", 0, &mut s.workers);
    if let Some(b) = sec.bool(ctx, "pin_workers") {
        s.pin_workers = b;
    }
    set_uint(ctx, &sec, "max_connections", 1, &mut s.max_connections);
    set_uint(ctx, &sec, "max_header_bytes", 1, &mut s.max_header_bytes);
    set_uint(ctx, &sec, "max_uri_bytes", 1, &mut s.max_uri_bytes);
    set_uint(ctx, &sec, "max_body_bytes", 0, &mut s.max_body_bytes);
    set_uint(ctx, &sec, "header_timeout_ms", 1, &mut s.header_timeout_ms);
    set_uint(ctx, &sec, "idle_timeout_ms", 0, &mut s.idle_timeout_ms);
    set_uint(ctx, &sec, "drain_timeout_ms", 0, &mut s.drain_timeout_ms);
    s
}

/// Sets `target` from the integer under `key`, if it is there, at least `min` and fits.
fn set_uint<T: TryFrom<u64>>(ctx: &mut Ctx, sec: &Section, key: &str, min: u64, target: &mut T) {
    if let Some(v) = sec.uint(ctx, key, min) {
        match T::try_from(v.value) {
            Ok(x) => *target = x,
            Err(_) => ctx.error(&v.span, format!("`{key}` in {} is too large", sec.name)),
        }
    }
}

/// `[admin]`: present means enabled.
fn read_admin(ctx: &mut Ctx, sec: &Section, server: &Server) -> Admin {
    sec.check_keys(ctx, ADMIN_KEYS);
    let mut admin = Admin {
        listen: SocketAddr::from(([127, 0, 0, 1], 9901)),
    };
    let span = sec.str(ctx, "listen").map(|v| {
        match rules::listen_addr(v.value) {
            Ok(a) => admin.listen = a,
            Err(m) => ctx.error(&v.span, m),
        }
        v.span
    });
    if admin.listen.port() != 0 && server.listen.contains(&admin.listen) {
        let span = span.unwrap_or_else(|| sec.span.clone());
        ctx.error(
            &span,
            format!(
                "admin listen address `{}` is also a [server] listen address",
                admin.listen
            ),
        );
    }
    admin
}

fn read_log(ctx: &mut Ctx, sec: Option<Section>) -> Log {
    let mut log = Log {
        level: LogLevel::Info,
        access: AccessLog::Off,
    };
    let Some(sec) = sec else { return log };
    sec.check_keys(ctx, LOG_KEYS);
    if let Some(v) = sec.str(ctx, "level") {
        match v.value {
            "error" => log.level = LogLevel::Error,
            "warn" => log.level = LogLevel::Warn,
            "info" => log.level = LogLevel::Info,
            "debug" => log.level = LogLevel::Debug,
            other => ctx.error(
                &v.span,
                format!(
                    "unknown log level `{other}` (expected `error`, `warn`, `info` or `debug`)"
                ),
            ),
        }
    }
    if let Some(v) = sec.str(ctx, "access") {
        match v.value {
            "" => ctx.error(
                &v.span,
                "`access` in [log] must be \"off\", \"stderr\" or a file path, not empty",
            ),
            "off" => log.access = AccessLog::Off,
            "stderr" => log.access = AccessLog::Stderr,
            file => log.access = AccessLog::File(PathBuf::from(file)),
        }
    }
    log
}

fn read_upstream(ctx: &mut Ctx, sec: Option<Section>) -> Upstream {
    let mut u = Upstream {
        connect_timeout_ms: 2000,
        response_timeout_ms: 60_000,
        idle_timeout_ms: 30_000,
        max_idle_per_upstream: 64,
        retries: 1,
    };
    let Some(sec) = sec else { return u };
    sec.check_keys(ctx, UPSTREAM_KEYS);
    set_uint(
        ctx,
        &sec,
        "connect_timeout_ms",
        1,
        &mut u.connect_timeout_ms,
    );
    set_uint(
        ctx,
        &sec,
        "response_timeout_ms",
        1,
        &mut u.response_timeout_ms,
    );
    set_uint(ctx, &sec, "idle_timeout_ms", 0, &mut u.idle_timeout_ms);
    set_uint(
        ctx,
        &sec,
        "max_idle_per_upstream",
        0,
        &mut u.max_idle_per_upstream,
    );
    set_uint(ctx, &sec, "retries", 0, &mut u.retries);
    u
}

fn read_platform(ctx: &mut Ctx, sec: Option<Section>) -> Platform {
    let mut p = Platform {
        api_version: "2016-08-15".into(),
        region: "cn-hangzhou".into(),
        endpoint_suffix: "fc.aliyuncs.com".into(),
        trigger_suffix: "fcapp.run".into(),
    };
    let Some(sec) = sec else { return p };
    sec.check_keys(ctx, PLATFORM_KEYS);
    if let Some(v) = sec.str(ctx, "api_version") {
        if v.value.is_empty()
            || !v
                .value
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"/?#%".contains(&b))
        {
            ctx.error(
                &v.span,
                format!(
                    "`api_version` `{}` must be one non-empty path segment",
                    v.value
                ),
            );
        } else {
            p.api_version = v.value.to_string();
        }
    }
    if let Some(v) = sec.str(ctx, "region") {
        match rules::dns_label("region", v.value) {
            Ok(r) => p.region = r,
            Err(m) => ctx.error(&v.span, m),
        }
    }
    for (key, target) in [
        ("endpoint_suffix", &mut p.endpoint_suffix),
        ("trigger_suffix", &mut p.trigger_suffix),
    ] {
        if let Some(v) = sec.str(ctx, key) {
            match rules::hostname(key, v.value) {
                Ok(h) => *target = h,
                Err(m) => ctx.error(&v.span, m),
            }
        }
    }
    p
}

/// What the cross checks need to know about the functions read so far.
#[derive(Default)]
struct FunctionIndex {
    /// (account, service, name, qualifier)
    targets: HashSet<(String, String, String, String)>,
    /// (account, service, name)
    functions: HashSet<(String, String, String)>,
    /// (account, service)
    services: HashSet<(String, String)>,
    subdomains: HashSet<String>,
}

/// Reads a required identifying name (`service`, `name`, ...) and checks it with `check`.
/// Returns the string as written (even if it breaks a rule) when it is a string at all, so
/// that the cross checks do not report follow-on errors.
fn ident<'d>(
    ctx: &mut Ctx,
    sec: &Section<'d>,
    key: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Option<Spanned<&'d str>> {
    let v = sec.required_str(ctx, key)?;
    if let Err(m) = check(v.value) {
        ctx.error(&v.span, m);
    }
    Some(v)
}

fn qualifier<'d>(ctx: &mut Ctx, sec: &Section<'d>) -> Spanned<&'d str> {
    match sec.str(ctx, "qualifier") {
        Some(v) => {
            if let Err(m) = rules::name("qualifier", v.value) {
                ctx.error(&v.span, m);
            }
            v
        }
        None => Spanned {
            value: "LATEST",
            span: sec.span.clone(),
        },
    }
}

fn methods(ctx: &mut Ctx, sec: &Section) -> MethodSet {
    let Some(list) = sec.str_array(ctx, "methods") else {
        return MethodSet::ALL;
    };
    if list.value.is_empty() {
        ctx.error(
            &list.span,
            format!("`methods` in {} must list at least one method", sec.name),
        );
        return MethodSet::ALL;
    }
    let mut set = MethodSet::EMPTY;
    for m in &list.value {
        match rules::method(m.value) {
            Ok(m) => set = set.with(m),
            Err(msg) => ctx.error(&m.span, msg),
        }
    }
    set
}

fn read_function(ctx: &mut Ctx, sec: &Section, index: &mut FunctionIndex) -> Function {
    sec.check_keys(ctx, FUNCTION_KEYS);
    let account = ident(ctx, sec, "account", rules::account);
    let service = ident(ctx, sec, "service", |s| rules::name("service", s));
    let name = ident(ctx, sec, "name", |s| rules::name("function name", s));
    let qualifier = qualifier(ctx, sec);

    let mut upstreams = Vec::new();
    match sec.str_array(ctx, "upstreams") {
        None if !sec.has("upstreams") => sec.missing(ctx, "upstreams"),
        None => {}
        Some(list) if list.value.is_empty() => ctx.error(
            &list.span,
            "`upstreams` must name at least one instance (`host:port` or `builtin:echo`)",
        ),
        Some(list) => {
            for u in &list.value {
                match rules::upstream(u.value, ctx.resolver()) {
                    Ok(a) => upstreams.push(a),
                    Err(m) => ctx.error(&u.span, m),
                }
            }
            let echo = upstreams
                .iter()
                .filter(|u| **u == UpstreamAddr::Echo)
                .count();
            if echo > 0 && echo < upstreams.len() {
                ctx.error(
                    &list.span,
                    "`builtin:echo` cannot be mixed with other upstreams",
                );
            }
        }
    }
    let methods = methods(ctx, sec);

    let mut subdomain = None;
    if let Some(v) = sec.str(ctx, "subdomain") {
        match rules::dns_label("subdomain", v.value) {
            Ok(label) => {
                if !index.subdomains.insert(label.clone()) {
                    ctx.error(
                        &v.span,
                        format!("subdomain `{label}` is already used by another function"),
                    );
                }
                subdomain = Some(label);
            }
            Err(m) => ctx.error(&v.span, m),
        }
    }
    let disable_url_internet = sec.bool(ctx, "disable_url_internet").unwrap_or(false);
    let mut proxy_path = ProxyPath::Full;
    if let Some(v) = sec.str(ctx, "proxy_path") {
        match v.value {
            "full" => proxy_path = ProxyPath::Full,
            "strip" => proxy_path = ProxyPath::Strip,
            other => ctx.error(
                &v.span,
                format!("unknown proxy_path `{other}` (expected `full` or `strip`)"),
            ),
        }
    }

    if let (Some(a), Some(s), Some(n)) = (&account, &service, &name) {
        let key = (
            a.value.to_string(),
            s.value.to_string(),
            n.value.to_string(),
            qualifier.value.to_string(),
        );
        if !index.targets.insert(key) {
            ctx.error(
                &sec.span,
                format!(
                    "function {}/{} (qualifier {}, account {}) is defined twice",
                    s.value, n.value, qualifier.value, a.value
                ),
            );
        }
        index.functions.insert((
            a.value.to_string(),
            s.value.to_string(),
            n.value.to_string(),
        ));
        index
            .services
            .insert((a.value.to_string(), s.value.to_string()));
    }

    let text = |v: Option<Spanned<&str>>| v.map(|v| v.value.to_string()).unwrap_or_default();
    Function {
        account: text(account),
        service: text(service),
        name: text(name),
        qualifier: qualifier.value.to_string(),
        upstreams,
        methods,
        subdomain,
        disable_url_internet,
        proxy_path,
    }
}

fn read_domain(
    ctx: &mut Ctx,
    sec: &Section,
    index: &FunctionIndex,
    names: &mut HashSet<String>,
) -> Domain {
    sec.check_keys(ctx, DOMAIN_KEYS);
    let mut name = String::new();
    if let Some(v) = sec.required_str(ctx, "name") {
        match rules::domain_name(v.value) {
            Ok(n) => {
                if !names.insert(n.clone()) {
                    ctx.error(&v.span, format!("domain `{n}` is defined twice"));
                }
                name = n;
            }
            Err(m) => ctx.error(&v.span, m),
        }
    }
    let account = ident(ctx, sec, "account", rules::account);

    let mut routes = Vec::new();
    let mut paths: HashSet<&str> = HashSet::new();
    let route_secs = sec.tables(ctx, "route", "[[domain.route]]");
    for (i, rsec) in route_secs.iter().enumerate() {
        if i == MAX_ROUTES_PER_DOMAIN {
            ctx.error(
                &rsec.span,
                format!("domain `{name}` has more than {MAX_ROUTES_PER_DOMAIN} routes"),
            );
        }
        routes.push(read_route(
            ctx,
            rsec,
            account.as_ref().map(|a| a.value),
            index,
            &mut paths,
        ));
    }
    Domain {
        name,
        account: account.map(|a| a.value.to_string()).unwrap_or_default(),
        routes,
    }
}

fn read_route<'d>(
    ctx: &mut Ctx,
    sec: &Section<'d>,
    account: Option<&str>,
    index: &FunctionIndex,
    paths: &mut HashSet<&'d str>,
) -> Route {
    sec.check_keys(ctx, ROUTE_KEYS);
    let path = sec.required_str(ctx, "path");
    if let Some(p) = &path {
        match rules::route_path(p.value) {
            Ok(()) if !paths.insert(p.value) => ctx.error(
                &p.span,
                format!("route path `{}` is given twice for this domain", p.value),
            ),
            Ok(()) => {}
            Err(m) => ctx.error(&p.span, m),
        }
    }
    let service = ident(ctx, sec, "service", |s| rules::name("service", s));
    let function = ident(ctx, sec, "function", |s| rules::name("function name", s));
    let qualifier = qualifier(ctx, sec);
    let methods = methods(ctx, sec);

    if let (Some(a), Some(s), Some(f)) = (account, &service, &function) {
        let (a, sv, fv, q) = (
            a.to_string(),
            s.value.to_string(),
            f.value.to_string(),
            qualifier.value.to_string(),
        );
        let target = format!("{sv}/{fv} (qualifier {q}, account {a})");
        if !index.services.contains(&(a.clone(), sv.clone())) {
            ctx.error(
                &s.span,
                format!(
                    "route target {target}: no [[function]] of this account has service `{sv}`"
                ),
            );
        } else if !index
            .functions
            .contains(&(a.clone(), sv.clone(), fv.clone()))
        {
            ctx.error(
                &f.span,
                format!("route target {target}: no [[function]] defines function `{fv}`"),
            );
        } else if !index.targets.contains(&(a, sv, fv, q.clone())) {
            ctx.error(
                &qualifier.span,
                format!("route target {target}: no [[function]] has qualifier `{q}`"),
            );
        }
    }

    let mut rewrites = Vec::new();
    for rw in sec.tables(ctx, "rewrite", "[[domain.route.rewrite]]") {
        if let Some(r) = read_rewrite(ctx, &rw) {
            rewrites.push(r);
        }
    }
    let text = |v: Option<Spanned<&str>>| v.map(|v| v.value.to_string()).unwrap_or_default();
    Route {
        path: text(path),
        service: text(service),
        function: text(function),
        qualifier: qualifier.value.to_string(),
        methods,
        rewrites,
    }
}

fn read_rewrite(ctx: &mut Ctx, sec: &Section) -> Option<Rewrite> {
    sec.check_keys(ctx, REWRITE_KEYS);
    let kind = sec.required_str(ctx, "kind");
    let pattern = sec.required_str(ctx, "match");
    let replacement = sec.required_str(ctx, "replacement");
    let kind: Option<RewriteKind> = kind.and_then(|k| {
        rules::rewrite_kind(k.value)
            .map_err(|m| ctx.error(&k.span, m))
            .ok()
    });
    let (kind, pattern, replacement) = (kind?, pattern?, replacement?);
    if let Err((part, m)) = rules::rewrite(kind, pattern.value, replacement.value) {
        let span: &Span = match part {
            RewritePart::Match => &pattern.span,
            RewritePart::Replacement => &replacement.span,
        };
        ctx.error(span, m);
    }
    Some(Rewrite {
        kind,
        pattern: pattern.value.to_string(),
        replacement: replacement.value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests never use the network: upstream names go to the offline resolver.
    fn parse(text: &str, path: &Path) -> Result<Config, Vec<ConfigError>> {
        parse_with(text, path, offline_resolver)
    }
    use crate::config::Method;

    const SHIPPED: &str = include_str!("../../config/fcgate.toml");

    /// A valid function for the snippets below (6 lines).
    const F: &str = r#"[[function]]
account = "1"
service = "S"
name = "f"
upstreams = ["builtin:echo"]

"#;

    fn parse_str(text: &str) -> Result<Config, Vec<ConfigError>> {
        parse(text, Path::new("t.toml"))
    }

    fn errors(text: &str) -> Vec<ConfigError> {
        match parse_str(text) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => e,
        }
    }

    /// Asserts exactly one error, at `line:col`, whose message contains `needle`.
    #[track_caller]
    fn one(text: &str, line: usize, col: usize, needle: &str) {
        let e = errors(text);
        assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
        assert_eq!((e[0].line, e[0].col), (line, col), "{}", e[0]);
        assert!(
            e[0].message.contains(needle),
            "`{}` does not contain `{needle}`",
            e[0].message
        );
    }

    /// `F` followed by `rest`; `rest` starts on line 7.
    fn with_f(rest: &str) -> String {
        format!("{F}{rest}")
    }

    #[test]
    fn shipped_config_parses() {
        let c = parse(SHIPPED, Path::new("config/fcgate.toml")).unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(c.server.listen, vec!["127.0.0.1:8080".parse().unwrap()]);
        assert_eq!(
            c.admin,
            Some(Admin {
                listen: "127.0.0.1:9901".parse().unwrap()
            })
        );
        assert_eq!(c.platform.region, "cn-hangzhou");
        assert_eq!(c.functions.len(), 2);
        let f = &c.functions[0];
        assert_eq!(
            (f.account.as_str(), f.service.as_str(), f.name.as_str()),
            ("1649015465571234", "CustomDemo", "func-http")
        );
        assert_eq!(f.qualifier, "LATEST");
        assert_eq!(f.upstreams, vec![UpstreamAddr::Echo]);
        assert!(f.methods.contains(Method::Get) && f.methods.contains(Method::Post));
        assert_eq!(f.subdomain.as_deref(), Some("funcname-svcname-khljsjksld"));
        assert_eq!(f.proxy_path, ProxyPath::Full);
        assert_eq!(c.functions[1].proxy_path, ProxyPath::Strip);
        assert_eq!(c.domains.len(), 2);
        assert_eq!(c.domains[0].name, "example.com");
        assert_eq!(c.domains[0].routes[0].path, "/test");
        assert_eq!(c.domains[0].routes[0].function, "func-http");
        let api = &c.domains[0].routes[1];
        assert_eq!(api.path, "/api/*");
        assert_eq!(
            api.rewrites,
            vec![Rewrite {
                kind: RewriteKind::Wildcard,
                pattern: "/api/*".into(),
                replacement: "/$1".into()
            }]
        );
        assert_eq!(c.domains[1].name, "*.example.com");
        assert_eq!(c.source, PathBuf::from("config/fcgate.toml"));
    }

    #[test]
    fn defaults() {
        let c = parse_str("").unwrap();
        assert_eq!(
            c.server,
            Server {
                listen: vec!["127.0.0.1:8080".parse().unwrap()],
                workers: 0,
                pin_workers: true,
                max_connections: 100_000,
                max_header_bytes: 8192,
                max_uri_bytes: 4096,
                max_body_bytes: 33_554_432,
                header_timeout_ms: 10_000,
                idle_timeout_ms: 60_000,
                drain_timeout_ms: 30_000,
            }
        );
        assert_eq!(c.admin, None);
        assert_eq!(
            c.log,
            Log {
                level: LogLevel::Info,
                access: AccessLog::Off
            }
        );
        assert_eq!(
            c.upstream,
            Upstream {
                connect_timeout_ms: 2000,
                response_timeout_ms: 60_000,
                idle_timeout_ms: 30_000,
                max_idle_per_upstream: 64,
                retries: 1
            }
        );
        assert_eq!(
            c.platform,
            Platform {
                api_version: "2016-08-15".into(),
                region: "cn-hangzhou".into(),
                endpoint_suffix: "fc.aliyuncs.com".into(),
                trigger_suffix: "fcapp.run".into(),
            }
        );
        assert!(c.functions.is_empty() && c.domains.is_empty());

        // A present but empty [admin] listens on the default address; empty sections keep defaults.
        let c = parse_str("[admin]\n[server]\n[log]\n[upstream]\n[platform]\n").unwrap();
        assert_eq!(
            c.admin,
            Some(Admin {
                listen: "127.0.0.1:9901".parse().unwrap()
            })
        );
        assert_eq!(c.server, parse_str("").unwrap().server);

        let c = parse_str(F).unwrap();
        let f = &c.functions[0];
        assert_eq!(f.qualifier, "LATEST");
        assert_eq!(f.methods, MethodSet::ALL);
        assert_eq!(f.subdomain, None);
        assert!(!f.disable_url_internet);
        assert_eq!(f.proxy_path, ProxyPath::Full);
    }

    #[test]
    fn every_value_is_read() {
        let text = with_f(
            r#"[server]
listen = ["0.0.0.0:80", "[::1]:81"]
workers = 3
pin_workers = false
max_connections = 5
max_header_bytes = 6
max_uri_bytes = 7
max_body_bytes = 8
header_timeout_ms = 9
idle_timeout_ms = 10
drain_timeout_ms = 11
[admin]
listen = "[::1]:9000"
[log]
level = "debug"
access = "/var/log/fcgate.jsonl"
[upstream]
connect_timeout_ms = 12
response_timeout_ms = 13
idle_timeout_ms = 14
max_idle_per_upstream = 15
retries = 0
[platform]
api_version = "2023-03-30"
region = "CN-Shanghai"
endpoint_suffix = "FC.Example.Com."
trigger_suffix = "Run.Example"
[[function]]
account = "1"
service = "S"
name = "g"
qualifier = "prod"
upstreams = ["127.0.0.1:9000", "[::1]:9001"]
methods = ["PUT", "DELETE"]
subdomain = "My-Label"
disable_url_internet = true
[[domain]]
name = "API.Example.COM."
account = "1"
[[domain.route]]
path = "/x"
service = "S"
function = "g"
qualifier = "prod"
methods = ["OPTIONS"]
[[domain.route.rewrite]]
kind = "regex"
match = "^/x(.*)"
replacement = "/y$1"
"#,
        );
        let c = parse_str(&text).unwrap();
        assert_eq!(
            c.server,
            Server {
                listen: vec!["0.0.0.0:80".parse().unwrap(), "[::1]:81".parse().unwrap()],
                workers: 3,
                pin_workers: false,
                max_connections: 5,
                max_header_bytes: 6,
                max_uri_bytes: 7,
                max_body_bytes: 8,
                header_timeout_ms: 9,
                idle_timeout_ms: 10,
                drain_timeout_ms: 11,
            }
        );
        assert_eq!(c.admin.unwrap().listen, "[::1]:9000".parse().unwrap());
        assert_eq!(
            c.log,
            Log {
                level: LogLevel::Debug,
                access: AccessLog::File("/var/log/fcgate.jsonl".into())
            }
        );
        assert_eq!(
            c.upstream,
            Upstream {
                connect_timeout_ms: 12,
                response_timeout_ms: 13,
                idle_timeout_ms: 14,
                max_idle_per_upstream: 15,
                retries: 0
            }
        );
        assert_eq!(c.platform.api_version, "2023-03-30");
        assert_eq!(c.platform.region, "cn-shanghai");
        assert_eq!(c.platform.endpoint_suffix, "fc.example.com");
        assert_eq!(c.platform.trigger_suffix, "run.example");
        let g = &c.functions[1];
        assert_eq!(g.qualifier, "prod");
        assert_eq!(g.upstreams.len(), 2);
        assert_eq!(
            g.methods,
            MethodSet::EMPTY.with(Method::Put).with(Method::Delete)
        );
        assert_eq!(g.subdomain.as_deref(), Some("my-label"));
        assert!(g.disable_url_internet);
        let d = &c.domains[0];
        assert_eq!(d.name, "api.example.com");
        assert_eq!(d.routes[0].qualifier, "prod");
        assert_eq!(d.routes[0].methods, MethodSet::EMPTY.with(Method::Options));
        assert_eq!(d.routes[0].rewrites[0].kind, RewriteKind::Regex);

        let c = parse_str("[log]\naccess = \"stderr\"\nlevel = \"warn\"").unwrap();
        assert_eq!(
            c.log,
            Log {
                level: LogLevel::Warn,
                access: AccessLog::Stderr
            }
        );
    }

    #[test]
    fn inline_tables_are_accepted() {
        let text = r#"server = { listen = ["127.0.0.1:1"] }
function = [{ account = "1", service = "S", name = "f", upstreams = ["builtin:echo"] }]
domain = [{ name = "a.b", account = "1", route = [{ path = "/", service = "S", function = "f" }] }]
"#;
        let c = parse_str(text).unwrap();
        assert_eq!(c.functions.len(), 1);
        assert_eq!(c.domains[0].routes.len(), 1);
        one(
            "function = [{ account = \"1\", service = \"S\", name = \"f\", upstreams = [\"builtin:echo\"], x = 1 }]",
            1,
            87,
            "unknown key `x` in [[function]]",
        );
    }

    #[test]
    fn syntax_error() {
        one(
            "[server]\nlisten = [\"a\"\nworkers = 1\n",
            3,
            1,
            "TOML syntax error",
        );
        one("a = 1\na = 2\n", 2, 1, "TOML syntax error");
        one("[server\n", 1, 8, "TOML syntax error");
    }

    #[test]
    fn unknown_keys_and_sections() {
        one("foo = 1\n", 1, 1, "unknown key `foo` in the top level");
        one("\n[serverx]\n", 2, 2, "unknown key `serverx`");
        one(
            "[server]\nlisten_on = []\n",
            2,
            1,
            "unknown key `listen_on` in [server]",
        );
        one(
            "[admin]\n port = 1\n",
            2,
            2,
            "unknown key `port` in [admin]",
        );
        one(
            "[log]\nformat = \"json\"\n",
            2,
            1,
            "unknown key `format` in [log]",
        );
        one(
            "[upstream]\nretry = 1\n",
            2,
            1,
            "unknown key `retry` in [upstream]",
        );
        one(
            "[platform]\nzone = \"a\"\n",
            2,
            1,
            "unknown key `zone` in [platform]",
        );
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"g\"\nupstreams = [\"builtin:echo\"]\ntimeout = 3\n",
            ),
            12,
            1,
            "unknown key `timeout` in [[function]]",
        );
        one(
            &with_f("[[domain]]\nname = \"a.b\"\naccount = \"1\"\nroutes = []\n"),
            10,
            1,
            "unknown key `routes` in [[domain]]",
        );
        one(
            &with_f(
                "[[domain]]\nname = \"a.b\"\naccount = \"1\"\n[[domain.route]]\npath = \"/\"\nservice = \"S\"\nfunction = \"f\"\nprefix = true\n",
            ),
            14,
            1,
            "unknown key `prefix` in [[domain.route]]",
        );
        one(
            &with_f(
                "[[domain]]\nname = \"a.b\"\naccount = \"1\"\n[[domain.route]]\npath = \"/\"\nservice = \"S\"\nfunction = \"f\"\n[[domain.route.rewrite]]\nkind = \"equal\"\nmatch = \"/a\"\nreplacement = \"/b\"\npattern = \"/a\"\n",
            ),
            18,
            1,
            "unknown key `pattern` in [[domain.route.rewrite]]",
        );
        // A dotted key inside a known section.
        one(
            "[server.tls]\ncert = \"x\"\n",
            1,
            9,
            "unknown key `tls` in [server]",
        );
    }

    #[test]
    fn wrong_types() {
        one(
            "[server]\nworkers = \"4\"\n",
            2,
            11,
            "`workers` in [server] must be an integer, not a string",
        );
        one(
            "[server]\nlisten = \"127.0.0.1:1\"\n",
            2,
            10,
            "must be an array of strings",
        );
        one(
            "[server]\nlisten = [\"127.0.0.1:1\", 2]\n",
            2,
            26,
            "must contain only strings, not an integer",
        );
        one("[server]\npin_workers = 1\n", 2, 15, "must be a boolean");
        one("[server]\nmax_body_bytes = 1.5\n", 2, 18, "not a float");
        one(
            "server = 1\n",
            1,
            10,
            "`server` in the top level must be a table, not an integer",
        );
        one(
            "[function]\naccount = \"1\"\n",
            1,
            1,
            "must be an array of tables (`[[function]]`), not a table",
        );
        one(
            &with_f("[[domain]]\nname = \"a.b\"\naccount = 1\n"),
            9,
            11,
            "`account` in [[domain]] must be a string",
        );
        one(
            &with_f("[[domain]]\nname = \"a.b\"\naccount = \"1\"\nroute = [1]\n"),
            10,
            10,
            "must contain only tables",
        );
        one("[log]\nlevel = 3\n", 2, 9, "must be a string");
    }

    #[test]
    fn numbers() {
        one(
            "[server]\nworkers = -1\n",
            2,
            11,
            "`workers` in [server] must not be negative",
        );
        one("[upstream]\nretries = -2\n", 2, 11, "must not be negative");
        one(
            "[upstream]\nretries = 4294967296\n",
            2,
            11,
            "`retries` in [upstream] is too large",
        );
        one(
            "[server]\nmax_header_bytes = 0\n",
            2,
            20,
            "must be at least 1",
        );
        one(
            "[upstream]\nconnect_timeout_ms = 0\n",
            2,
            22,
            "must be at least 1",
        );
        assert!(parse_str("[server]\nworkers = 0\nmax_body_bytes = 0\ndrain_timeout_ms = 0\n[upstream]\nretries = 0\nmax_idle_per_upstream = 0\n").is_ok());
    }

    #[test]
    fn listen_addresses() {
        one(
            "[server]\nlisten = [\"localhost:80\"]\n",
            2,
            11,
            "is not `ip:port`",
        );
        one(
            "[server]\nlisten = [\"127.0.0.1\"]\n",
            2,
            11,
            "is not `ip:port`",
        );
        one("[server]\nlisten = []\n", 2, 10, "at least one address");
        one(
            "[server]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n",
            2,
            26,
            "given twice",
        );
        one("[admin]\nlisten = \"9901\"\n", 2, 10, "is not `ip:port`");
        one(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[admin]\nlisten = \"127.0.0.1:1\"\n",
            4,
            10,
            "also a [server] listen address",
        );
        assert!(parse_str("[server]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n").is_ok());
    }

    #[test]
    fn log_values() {
        one(
            "[log]\nlevel = \"INFO\"\n",
            2,
            9,
            "unknown log level `INFO`",
        );
        one("[log]\nlevel = \"trace\"\n", 2, 9, "unknown log level");
        one("[log]\naccess = \"\"\n", 2, 10, "not empty");
    }

    #[test]
    fn platform_values() {
        one("[platform]\nregion = \"cn.hangzhou\"\n", 2, 10, "region");
        one(
            "[platform]\nendpoint_suffix = \"a..b\"\n",
            2,
            19,
            "empty label",
        );
        one(
            "[platform]\ntrigger_suffix = \"\"\n",
            2,
            18,
            "must not be empty",
        );
        one(
            "[platform]\napi_version = \"a/b\"\n",
            2,
            15,
            "one non-empty path segment",
        );
    }

    #[test]
    fn methods() {
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"g\"\nupstreams = [\"builtin:echo\"]\nmethods = [\"GET\", \"get\"]\n",
            ),
            12,
            19,
            "unknown method `get`",
        );
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"g\"\nupstreams = [\"builtin:echo\"]\nmethods = [\"CONNECT\"]\n",
            ),
            12,
            12,
            "unknown method `CONNECT`",
        );
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"g\"\nupstreams = [\"builtin:echo\"]\nmethods = []\n",
            ),
            12,
            11,
            "at least one method",
        );
        one(
            &with_f(
                "[[domain]]\nname = \"a.b\"\naccount = \"1\"\n[[domain.route]]\npath = \"/\"\nservice = \"S\"\nfunction = \"f\"\nmethods = [\"TRACE\"]\n",
            ),
            14,
            12,
            "unknown method `TRACE`",
        );
    }

    /// A function named `g` with `line` as its last line (line 12).
    fn fn_g(line: &str) -> String {
        with_f(&format!(
            "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"g\"\n{line}\n"
        ))
    }

    #[test]
    fn upstreams() {
        one(
            &fn_g("upstreams = [\"127.0.0.1\"]"),
            11,
            14,
            "is not `host:port`",
        );
        one(
            &fn_g("upstreams = [\"127.0.0.1:0\"]"),
            11,
            14,
            "port must be 1-65535",
        );
        one(
            &fn_g("upstreams = [\"127.0.0.1:65536\"]"),
            11,
            14,
            "port must be 1-65535",
        );
        one(
            &fn_g("upstreams = [\"http://127.0.0.1:80\"]"),
            11,
            14,
            "write no scheme",
        );
        one(&fn_g("upstreams = [\"::1:80\"]"), 11, 14, "in brackets");
        one(
            &fn_g("upstreams = [\"builtin:echo2\"]"),
            11,
            14,
            "unknown builtin",
        );
        one(
            &fn_g("upstreams = [\"no-such-host.invalid:80\"]"),
            11,
            14,
            "cannot resolve",
        );
        one(&fn_g("upstreams = []"), 11, 13, "at least one instance");
        one(
            &fn_g("upstreams = [\"builtin:echo\", \"127.0.0.1:1\"]"),
            11,
            13,
            "cannot be mixed",
        );
        one(
            &fn_g("methods = [\"GET\"]"),
            7,
            1,
            "[[function]] is missing the required key `upstreams`",
        );
        let c = parse_str(&fn_g(
            "upstreams = [\"127.0.0.1:9000\", \"[::1]:9001\", \"localhost:9002\"]",
        ))
        .unwrap();
        let ups = &c.functions[1].upstreams;
        assert_eq!(
            ups[0],
            UpstreamAddr::Tcp {
                text: "127.0.0.1:9000".into(),
                addr: "127.0.0.1:9000".parse().unwrap()
            }
        );
        assert_eq!(
            ups[1],
            UpstreamAddr::Tcp {
                text: "[::1]:9001".into(),
                addr: "[::1]:9001".parse().unwrap()
            }
        );
        assert!(
            matches!(&ups[2], UpstreamAddr::Tcp { text, addr } if text == "localhost:9002" && addr.port() == 9002)
        );
    }

    #[test]
    fn proxy_path() {
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"g\"\nupstreams = [\"builtin:echo\"]\nproxy_path = \"Strip\"\n",
            ),
            12,
            14,
            "unknown proxy_path `Strip`",
        );
    }

    #[test]
    fn names() {
        let f = |a: &str, s: &str, n: &str, q: &str| {
            format!(
                "[[function]]\naccount = \"{a}\"\nservice = \"{s}\"\nname = \"{n}\"\nqualifier = \"{q}\"\nupstreams = [\"builtin:echo\"]\n"
            )
        };
        one(&f("", "S", "f", "1"), 2, 11, "account must not be empty");
        one(&f("ABC", "S", "f", "1"), 2, 11, "lower case");
        one(&f("1", "", "f", "1"), 3, 11, "service must not be empty");
        one(
            &f("1", "S", "", "1"),
            4,
            8,
            "function name must not be empty",
        );
        one(&f("1", "S", "f", ""), 5, 13, "qualifier must not be empty");
        one(&f("1", "S.v1", "f", "1"), 3, 11, "must not contain `.`");
        one(&f("1", "S", "a/b", "1"), 4, 8, "must not contain `/`");
        one(&f("1", "S", "f", "v.1"), 5, 13, "must not contain `.`");
        one(&f("1", "S", "f g", "1"), 4, 8, "only letters, digits");
        one(
            "[[function]]\nservice = \"S\"\nname = \"f\"\nupstreams = [\"builtin:echo\"]\n",
            1,
            1,
            "missing the required key `account`",
        );
        assert!(parse_str(&f("1", "Custom_Demo-2", "func-http_1", "12")).is_ok());
    }

    #[test]
    fn duplicate_functions() {
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"f\"\nupstreams = [\"builtin:echo\"]\n",
            ),
            7,
            1,
            "function S/f (qualifier LATEST, account 1) is defined twice",
        );
        one(
            &with_f(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"f\"\nqualifier = \"LATEST\"\nupstreams = [\"builtin:echo\"]\n",
            ),
            7,
            1,
            "defined twice",
        );
        // Another qualifier, service, name or account is another function.
        let g = |a: &str, s: &str, n: &str, q: &str| {
            format!(
                "[[function]]\naccount = \"{a}\"\nservice = \"{s}\"\nname = \"{n}\"\nqualifier = \"{q}\"\nupstreams = [\"builtin:echo\"]\n"
            )
        };
        for other in [
            g("1", "S", "f", "2"),
            g("1", "T", "f", "LATEST"),
            g("1", "S", "g", "LATEST"),
            g("2", "S", "f", "LATEST"),
        ] {
            let text = with_f(&other);
            assert!(parse_str(&text).is_ok(), "{text}");
        }
    }

    #[test]
    fn duplicate_subdomain() {
        let f = |n: &str, l: &str| {
            format!(
                "[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"{n}\"\nupstreams = [\"builtin:echo\"]\nsubdomain = \"{l}\"\n"
            )
        };
        one(
            &format!("{}{}", f("a", "lbl"), f("b", "LBL")),
            12,
            13,
            "subdomain `lbl` is already used",
        );
        one(&f("a", "a.b"), 6, 13, "subdomain");
        one(&f("a", ""), 6, 13, "subdomain must not be empty");
    }

    /// `F`, then a domain `name` with one route to `S/f` (its path on line 11).
    fn domain(name: &str, path: &str) -> String {
        format!(
            "[[domain]]\nname = \"{name}\"\naccount = \"1\"\n[[domain.route]]\npath = \"{path}\"\nservice = \"S\"\nfunction = \"f\"\n"
        )
    }

    #[test]
    fn domain_names() {
        one(
            &with_f(&format!(
                "{}{}",
                domain("Example.com", "/"),
                domain("example.COM.", "/")
            )),
            15,
            8,
            "domain `example.com` is defined twice",
        );
        one(
            &with_f(&domain("exa mple.com", "/")),
            8,
            8,
            "not a valid hostname",
        );
        one(&with_f(&domain("*example.com", "/")), 8, 8, "wildcard");
        one(&with_f(&domain("a.*.com", "/")), 8, 8, "wildcard");
        one(&with_f(&domain("", "/")), 8, 8, "must not be empty");
        one(
            &with_f("[[domain]]\naccount = \"1\"\n"),
            7,
            1,
            "[[domain]] is missing the required key `name`",
        );
        let c = parse_str(&with_f(&format!(
            "{}{}",
            domain("*.Example.com", "/"),
            domain("example.com", "/")
        )))
        .unwrap();
        assert_eq!(c.domains[0].name, "*.example.com");
        assert_eq!(c.domains[1].name, "example.com");
    }

    #[test]
    fn route_paths() {
        one(
            &with_f(&domain("a.b", "test")),
            11,
            8,
            "must start with `/`",
        );
        one(
            &with_f(&domain("a.b", "/a*")),
            11,
            8,
            "`*` is allowed only as a final `/*`",
        );
        one(
            &with_f(&domain("a.b", "/*/a")),
            11,
            8,
            "`*` is allowed only as a final `/*`",
        );
        one(&with_f(&domain("a.b", "/a?b")), 11, 8, "visible ASCII");
        one(
            &with_f(&format!(
                "{}[[domain.route]]\npath = \"/\"\nservice = \"S\"\nfunction = \"f\"\n",
                domain("a.b", "/")
            )),
            15,
            8,
            "route path `/` is given twice",
        );
        let c = parse_str(&with_f(&domain("a.b", "/login/*"))).unwrap();
        assert_eq!(c.domains[0].routes[0].path, "/login/*");
    }

    #[test]
    fn too_many_routes() {
        let mut text = with_f("[[domain]]\nname = \"a.b\"\naccount = \"1\"\n");
        for i in 0..101 {
            text.push_str(&format!(
                "[[domain.route]]\npath = \"/{i}\"\nservice = \"S\"\nfunction = \"f\"\n"
            ));
        }
        // Route 101 starts on line 10 + 100 * 4.
        one(&text, 410, 1, "more than 100 routes");
        let short: String = text
            .lines()
            .take(9 + 100 * 4)
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse_str(&short).unwrap().domains[0].routes.len(), 100);
    }

    #[test]
    fn route_targets() {
        let route = |s: &str, f: &str, extra: &str| {
            with_f(&format!(
                "[[domain]]\nname = \"a.b\"\naccount = \"1\"\n[[domain.route]]\npath = \"/\"\nservice = \"{s}\"\nfunction = \"{f}\"\n{extra}"
            ))
        };
        one(
            &route("T", "f", ""),
            12,
            11,
            "no [[function]] of this account has service `T`",
        );
        one(
            &route("S", "g", ""),
            13,
            12,
            "no [[function]] defines function `g`",
        );
        one(
            &route("S", "f", "qualifier = \"prod\"\n"),
            14,
            13,
            "no [[function]] has qualifier `prod`",
        );
        // The domain's account is the function's account.
        one(
            &with_f(
                "[[domain]]\nname = \"a.b\"\naccount = \"2\"\n[[domain.route]]\npath = \"/\"\nservice = \"S\"\nfunction = \"f\"\n",
            ),
            12,
            11,
            "account 2",
        );
        one(
            &route("S", "f", "").replace("function = \"f\"\n", ""),
            10,
            1,
            "[[domain.route]] is missing the required key `function`",
        );
        // A function defined after the domain still counts.
        let text = format!("{}{F}", domain("a.b", "/"));
        assert!(parse_str(&text).is_ok(), "{:?}", parse_str(&text));
    }

    fn rewrite(kind: &str, pattern: &str, replacement: &str) -> String {
        with_f(&format!(
            "{}[[domain.route.rewrite]]\nkind = \"{kind}\"\nmatch = '{pattern}'\nreplacement = '{replacement}'\n",
            domain("a.b", "/*")
        ))
    }

    #[test]
    fn rewrites() {
        // kind on line 15, match on 16, replacement on 17.
        one(
            &rewrite("glob", "/a", "/b"),
            15,
            8,
            "unknown rewrite kind `glob`",
        );
        one(&rewrite("regex", "^/(a", "/b"), 16, 9, "invalid regex");
        one(
            &rewrite("wildcard", "/api/*", "/$2"),
            17,
            15,
            "`$2` in replacement `/$2`, but `/api/*` has 1 wildcard",
        );
        one(&rewrite("wildcard", "/api/*", "/$0"), 17, 15, "`$0`");
        one(
            &rewrite("regex", "^/api/(.*)", "/$2"),
            17,
            15,
            "the regex has 1 capture group",
        );
        one(
            &rewrite("regex", "^/api/(.*)", "/${name}"),
            17,
            15,
            "`$name`",
        );
        one(&rewrite("equal", "/a", "/$1"), 17, 15, "captures nothing");
        one(&rewrite("equal", "a", "/b"), 16, 9, "must start with `/`");
        one(&rewrite("equal", "/a", ""), 17, 15, "must not be empty");
        for (k, p, r) in [
            ("wildcard", "/api/*", "/$1"),
            ("wildcard", "^/old", "/new"),
            ("wildcard", "/*/x/*", "/$2/$1?a=b"),
            ("regex", "^/api/.+?/(.*)", "/api/v2/$1"),
            ("regex", "^/(?P<rest>.*)", "/$0/${rest}/$$"),
            ("equal", "/old", "/new"),
        ] {
            let c = parse_str(&rewrite(k, p, r)).unwrap();
            let rw = &c.domains[0].routes[0].rewrites[0];
            assert_eq!((rw.pattern.as_str(), rw.replacement.as_str()), (p, r));
        }
        let text = with_f(&format!(
            "{}[[domain.route.rewrite]]\nkind = \"equal\"\n",
            domain("a.b", "/*")
        ));
        let e = errors(&text);
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e.iter().all(|e| e.line == 14 && e.col == 1));
    }

    #[test]
    fn reports_every_error() {
        let text = r#"bogus = true
[server]
workers = -1
listen = ["nope"]
[log]
level = "loud"
[[function]]
account = "1"
service = "S"
name = "f"
upstreams = ["builtin:echo"]
methods = ["FETCH"]
[[function]]
account = "1"
service = "S"
name = "f"
upstreams = []
[[domain]]
name = "a.b"
account = "1"
[[domain.route]]
path = "nope"
service = "S"
function = "missing"
[[domain.route.rewrite]]
kind = "regex"
match = "("
replacement = "/"
"#;
        let e = errors(text);
        let got: Vec<(usize, usize)> = e.iter().map(|e| (e.line, e.col)).collect();
        assert_eq!(
            got,
            vec![
                (1, 1),
                (3, 11),
                (4, 11),
                (6, 9),
                (12, 12),
                (13, 1),
                (17, 13),
                (22, 8),
                (24, 12),
                (27, 9)
            ],
            "{e:#?}"
        );
        assert_eq!(e[0].to_string(), format!("t.toml:1:1: {}", e[0].message));
    }

    #[test]
    fn load_reads_files() {
        let e = load(Path::new("/nonexistent/fcgate.toml")).unwrap_err();
        assert_eq!((e.len(), e[0].line, e[0].col), (1, 1, 1));
        assert!(
            e[0].to_string()
                .starts_with("/nonexistent/fcgate.toml:1:1: cannot read")
        );
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/fcgate.toml");
        assert_eq!(load(&shipped).unwrap().functions.len(), 2);
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "\u{feff}",
            "\0",
            "[[",
            "]]",
            "a.b.c.d = 1",
            "[a]\n[a]",
            "x = [[[[",
            "=",
            "'",
            "\"\"\"",
            "[[domain.route]]\n",
            "[[domain.route.rewrite]]\n",
            "domain = [1, {}]\n",
            "function = [{}]\n",
            "[[domain]]\n[[domain.route]]\n[[domain.route.rewrite]]\n",
        ] {
            let _ = parse_str(text);
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn random_text_never_panics(text in "\\PC{0,200}") {
                let _ = parse_str(&text);
            }

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse_str(&String::from_utf8_lossy(&bytes));
            }

            #[test]
            fn mutated_config_never_panics(at in 0usize..4000, len in 0usize..40, with in "[\\[\\]=\"'.*$a-z0-9 \n/{},-]{0,12}") {
                // SHIPPED is ASCII, so every index is a char boundary.
                let at = at.min(SHIPPED.len());
                let end = (at + len).min(SHIPPED.len());
                let text = format!("{}{}{}", &SHIPPED[..at], with, &SHIPPED[end..]);
                if let Err(errors) = parse_str(&text) {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(e.line >= 1 && e.col >= 1);
                    }
                }
            }
        }
    }
}
