//! RouteTable: compiling a [`Config`] into an immutable index, and [`RouteTable::resolve`],
//! the one call the data plane makes per request (SPEC.md section 3).
//!
//! resolve: normalise the Host (host.rs) -> system endpoint, trigger host or custom domain
//! (recognised by suffix; the account or label is the first label) -> the mode's target
//! (proxy path, `x-fc-invocation-target`, trigger label, or domain -> path trie -> route)
//! -> the checks of 3.5 in order (not found, 403, 405) -> the forwarded request-target
//! (unchanged and borrowed, or owned after `strip` / a rewrite). No locks; no allocation on
//! the routed path except an owned target or `x-fc-base-path`; errors allocate their message.

use std::borrow::Cow;
use std::sync::Arc;

use super::flat::{InlineName, Seed, SlotTable, Slotted, advise_huge, prefetch, tag_of};
use super::functions::{FunctionIndex, shown};
use super::host::{self, HostKind, MAX_HOST, PlatformHosts};
use super::rewrite::{self, CompiledRewrite};
use super::trie::{TrieBuilder, TriePool};
use super::{
    Decision, FunctionEntry, HeaderLookup, Instance, Mode, Routed, bytes_eq, find_byte,
    find_either, strip_prefix,
};
use crate::config::{Config, Method, MethodSet, ProxyPath, UpstreamAddr};
use crate::errors::{ErrorCode, FcError};

/// The header that selects header mode on the system endpoint (SPEC.md 3.3).
pub const INVOCATION_TARGET: &str = "x-fc-invocation-target";

/// The compiled, immutable routing table.
#[derive(Debug)]
pub struct RouteTable {
    /// `/<api_version>/proxy/`
    proxy_prefix: Box<[u8]>,
    hosts: PlatformHosts,
    functions: FunctionIndex,
    /// Hash seed of the trigger and domain indexes.
    seed: Seed,
    /// Names too long to be stored inline in a [`Trigger`] or [`DomainSlot`].
    names: Vec<u8>,
    /// Trigger label (lowercase) -> function.
    triggers: SlotTable<Trigger>,
    /// Exact domain names.
    exact_domains: SlotTable<DomainSlot>,
    /// `*.example.com`, keyed by `example.com`.
    wildcard_domains: SlotTable<DomainSlot>,
    /// Every domain's path tree.
    tries: TriePool,
    /// Every domain's routes; trie values index it.
    routes: Box<[CompiledRoute]>,
}

/// Hash domains of the name indexes.
const TRIGGER: u64 = 10;
const EXACT: u64 = 11;
const WILDCARD: u64 = 12;

/// A trigger label and what subdomain mode needs of its function, in one cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct Trigger {
    /// None only in an empty slot.
    function: Option<Arc<FunctionEntry>>,
    tag: u32,
    methods: MethodSet,
    disable_url_internet: bool,
    label: InlineName<44>,
}

impl Slotted for Trigger {
    #[inline(always)]
    fn tag(&self) -> u32 {
        self.tag
    }
}

/// A domain: its name (lowercase, no trailing dot; `*.` first for a wildcard) and where its
/// tree and routes are (so that they can be fetched together), in one cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct DomainSlot {
    tag: u32,
    /// The tree's root in `tries`, and its first label byte.
    root: u32,
    label_start: u32,
    /// The domain's routes: `routes[first_route..]`.
    first_route: u32,
    name: InlineName<44>,
}

impl Slotted for DomainSlot {
    #[inline(always)]
    fn tag(&self) -> u32 {
        self.tag
    }
}

/// The parts of a proxy path. The service segment `<service>[.<qualifier>]` is split at its
/// last `.`; without one the qualifier is `LATEST`.
struct ProxyParts<'t> {
    service: &'t [u8],
    qualifier: &'t [u8],
    function: &'t [u8],
    /// The length of `/<api_version>/proxy/<segment>/<function>`.
    base_len: usize,
    /// Whether a `/` follows the function (else the path ends there).
    slash_follows: bool,
}

#[derive(Debug)]
struct CompiledRoute {
    /// The route's function, or the 3.5 answer when the domain's account has no such function
    /// (validation rejects that; kept so that an unvalidated config still answers correctly).
    function: Result<Arc<FunctionEntry>, Box<FcError>>,
    methods: MethodSet,
    rewrites: Box<[CompiledRewrite]>,
}

impl RouteTable {
    /// Compiles a validated config. Fails only on what validation cannot see (and, as a safety
    /// net, on duplicates validation should have rejected).
    pub fn compile(config: &Config) -> Result<RouteTable, String> {
        let p = &config.platform;
        let seed = Seed::new();
        let mut names = Vec::new();
        let mut functions = FunctionIndex::with_capacity(config.functions.len());
        let labels = config.functions.iter().filter(|f| f.subdomain.is_some());
        let mut triggers: SlotTable<Trigger> = SlotTable::with_capacity(labels.count());
        for f in &config.functions {
            let entry = Arc::new(FunctionEntry {
                account: f.account.as_str().into(),
                service: f.service.as_str().into(),
                name: f.name.as_str().into(),
                qualifier: f.qualifier.as_str().into(),
                instances: f
                    .upstreams
                    .iter()
                    .map(|u| match u {
                        UpstreamAddr::Echo => Instance::Echo,
                        UpstreamAddr::Tcp { addr, .. } => Instance::Tcp(*addr),
                    })
                    .collect(),
                instance_texts: f
                    .upstreams
                    .iter()
                    .map(|u| match u {
                        UpstreamAddr::Echo => "builtin:echo".into(),
                        UpstreamAddr::Tcp { text, .. } => text.as_str().into(),
                    })
                    .collect(),
                methods: f.methods,
                disable_url_internet: f.disable_url_internet,
                proxy_path: f.proxy_path,
            });
            let id = format!("{}/{}/{}/{}", f.account, f.service, f.name, f.qualifier);
            if let Some(label) = &f.subdomain {
                let label = label.to_ascii_lowercase();
                let hash = seed.hash(TRIGGER, &[label.as_bytes()]);
                let trigger = Trigger {
                    function: Some(entry.clone()),
                    tag: tag_of(hash),
                    methods: entry.methods,
                    disable_url_internet: entry.disable_url_internet,
                    label: InlineName::new(label.as_bytes(), &mut names),
                };
                let ns = &names;
                if triggers
                    .insert(
                        hash,
                        trigger,
                        |t| t.label.get(ns) == label.as_bytes(),
                        |t| seed.hash(TRIGGER, &[t.label.get(ns)]),
                    )
                    .is_err()
                {
                    return Err(format!("function {id}: subdomain {label:?} is used twice"));
                }
            }
            if !functions.insert(entry) {
                return Err(format!("function {id} is defined twice"));
            }
        }

        let wildcards = config.domains.iter();
        let wildcards = wildcards.filter(|d| d.name.starts_with("*.")).count();
        let mut exact_domains = SlotTable::with_capacity(config.domains.len() - wildcards);
        let mut wildcard_domains = SlotTable::with_capacity(wildcards);
        let route_count = config.domains.iter().map(|d| d.routes.len()).sum();
        let mut tries = TriePool::with_capacity(route_count);
        let mut routes: Vec<CompiledRoute> = Vec::with_capacity(route_count);
        advise_huge(routes.as_ptr(), route_count);
        for d in &config.domains {
            let name = d.name.to_ascii_lowercase();
            let name = name.strip_suffix('.').unwrap_or(&name);
            let first_route = u32::try_from(routes.len()).expect("under 4G routes");
            let account = d.account.to_ascii_lowercase();
            let mut paths = TrieBuilder::default();
            for r in &d.routes {
                let value = u32::try_from(routes.len()).expect("under 4G routes") - first_route;
                // A duplicate path keeps the first route (and the later one is never used).
                let _ = match r.path.strip_suffix('*') {
                    Some(prefix) if prefix.ends_with('/') => {
                        paths.insert_prefix(prefix.as_bytes(), value)
                    }
                    _ => paths.insert_exact(r.path.as_bytes(), value),
                };
                let function = functions
                    .lookup(
                        account.as_bytes(),
                        r.service.as_bytes(),
                        r.function.as_bytes(),
                        r.qualifier.as_bytes(),
                    )
                    .map(|slot| slot.entry().clone())
                    .map_err(Box::new);
                let rewrites = rewrite::compile(&r.rewrites)
                    .map_err(|e| format!("domain {name:?} route {:?}: {e}", r.path))?;
                routes.push(CompiledRoute {
                    function,
                    methods: r.methods,
                    rewrites,
                });
            }
            let (root, label_start) = paths.build_into(&mut tries);
            let (wildcard, key) = match name.strip_prefix("*.") {
                Some(suffix) => (true, suffix),
                None => (false, name),
            };
            let hash = seed.hash(if wildcard { WILDCARD } else { EXACT }, &[key.as_bytes()]);
            let slot = DomainSlot {
                tag: tag_of(hash),
                root,
                label_start,
                first_route,
                name: InlineName::new(name.as_bytes(), &mut names),
            };
            let ns = &names;
            let skip = if wildcard { 2 } else { 0 };
            let key_of = |d: &DomainSlot| -> Vec<u8> { d.name.get(ns)[skip..].to_vec() };
            let table = if wildcard {
                (&mut wildcard_domains, WILDCARD)
            } else {
                (&mut exact_domains, EXACT)
            };
            let taken = table.0.insert(
                hash,
                slot,
                |d| d.name.get(ns)[skip..] == *key.as_bytes(),
                |d| seed.hash(table.1, &[&key_of(d)]),
            );
            if taken.is_err() {
                return Err(format!("domain {name:?} is defined twice"));
            }
        }
        tries.shrink_to_fit();
        names.shrink_to_fit();

        Ok(RouteTable {
            proxy_prefix: format!("/{}/proxy/", p.api_version).into_bytes().into(),
            hosts: PlatformHosts::new(&p.region, &p.endpoint_suffix, &p.trigger_suffix),
            functions,
            seed,
            names,
            triggers,
            exact_domains,
            wildcard_domains,
            tries,
            routes: routes.into_boxed_slice(),
        })
    }

    /// The number of `[[function]]` entries.
    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// The number of `[[domain]]` entries.
    pub fn domain_count(&self) -> usize {
        self.exact_domains.len() + self.wildcard_domains.len()
    }

    /// The number of routes over all domains.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// Routes one request. `host`: the Host field's value as received (None when absent);
    /// `target`: the request-target as received; `headers`: the request's fields (only
    /// `x-fc-invocation-target` matters here, and only on the system endpoint).
    pub fn resolve<'a>(
        &'a self,
        method: &[u8],
        host: Option<&[u8]>,
        target: &'a [u8],
        headers: &(impl HeaderLookup + ?Sized),
    ) -> Decision<'a> {
        match self.route(method, host, target, headers) {
            Ok(routed) => Decision::Routed(routed),
            Err(e) => Decision::Answer(e),
        }
    }

    fn route<'a>(
        &'a self,
        method: &[u8],
        host: Option<&[u8]>,
        target: &'a [u8],
        headers: &(impl HeaderLookup + ?Sized),
    ) -> Result<Routed<'a>, FcError> {
        let mut buf = [0u8; MAX_HOST];
        let name: &[u8] = match host {
            None => b"",
            Some(h) => host::normalize(h, &mut buf).ok_or_else(|| domain_not_found(h))?,
        };
        match self.hosts.classify(name) {
            HostKind::Endpoint { account } => match headers.get(INVOCATION_TARGET) {
                Some(value) => self.header_mode(account, method, target, value),
                None => self.proxy_mode(account, method, target),
            },
            HostKind::Trigger { label } => {
                let hash = self.seed.hash(TRIGGER, &[label]);
                let t = self
                    .triggers
                    .find(hash, |t| bytes_eq(t.label.get(&self.names), label))
                    .map(|at| self.triggers.at(at))
                    .ok_or_else(|| trigger_not_found(label))?;
                check_function(t.disable_url_internet, t.methods, method)?;
                let f = t.function.as_ref().expect("a found slot holds a function");
                Ok(routed(Mode::Subdomain, f, Cow::Borrowed(target), None))
            }
            HostKind::Custom => self.domain_mode(name, method, target),
        }
    }

    /// SPEC.md 3.1: `/<api_version>/proxy/<service>[.<qualifier>]/<function>[/<rest>]`.
    fn proxy_mode<'a>(
        &'a self,
        account: &[u8],
        method: &[u8],
        target: &'a [u8],
    ) -> Result<Routed<'a>, FcError> {
        let p = self.proxy_parts(target).ok_or_else(|| {
            let path = &target[..memchr::memchr(b'?', target).unwrap_or(target.len())];
            FcError::new(404, ErrorCode::PathNotFound, path_message(path))
        })?;
        let f = self
            .functions
            .lookup(account, p.service, p.function, p.qualifier)?;
        check_function(f.disable_url_internet, f.methods, method)?;
        // `x-fc-base-path`: the path up to and including the `/` after the function.
        let base_path = if p.slash_follows {
            Cow::Borrowed(&target[..=p.base_len])
        } else {
            let mut b = Vec::with_capacity(p.base_len + 1);
            b.extend_from_slice(&target[..p.base_len]);
            b.push(b'/');
            Cow::Owned(b)
        };
        let forwarded = match f.proxy_path {
            ProxyPath::Full => Cow::Borrowed(target),
            ProxyPath::Strip => {
                // `/<rest>` and the query as received; no rest is `/`.
                let tail = &target[p.base_len..];
                let mut t = Vec::with_capacity(tail.len() + 1);
                if !p.slash_follows {
                    t.push(b'/');
                }
                t.extend_from_slice(tail);
                Cow::Owned(t)
            }
        };
        Ok(routed(Mode::Proxy, f.entry(), forwarded, Some(base_path)))
    }

    /// Splits a proxy request-target in one pass; None unless it starts with the proxy prefix
    /// and has a non-empty service and a non-empty function segment (before any `?`).
    fn proxy_parts<'t>(&self, target: &'t [u8]) -> Option<ProxyParts<'t>> {
        let rest = strip_prefix(target, &self.proxy_prefix)?;
        // The service segment ends at a `/`; a `?` (or the end) first: no function segment.
        let slash = find_either(rest, b'/', b'?')?;
        if rest[slash] != b'/' {
            return None;
        }
        let dot = rest[..slash].iter().rposition(|&b| b == b'.');
        let after = &rest[slash + 1..];
        let end = find_either(after, b'/', b'?').unwrap_or(after.len());
        if slash == 0 || end == 0 {
            return None;
        }
        let (service, qualifier) = match dot {
            Some(dot) => (&rest[..dot], &rest[dot + 1..slash]),
            None => (&rest[..slash], &b"LATEST"[..]),
        };
        Some(ProxyParts {
            service,
            qualifier,
            function: &after[..end],
            base_len: self.proxy_prefix.len() + slash + 1 + end,
            slash_follows: after.get(end) == Some(&b'/'),
        })
    }

    /// SPEC.md 3.3: the target comes from `x-fc-invocation-target`; the request-target is
    /// forwarded unchanged.
    fn header_mode<'a>(
        &'a self,
        account: &[u8],
        method: &[u8],
        target: &'a [u8],
        value: &[u8],
    ) -> Result<Routed<'a>, FcError> {
        let invalid = || {
            let msg = format!("invalid {INVOCATION_TARGET} header: '{}'", shown(value));
            FcError::new(400, ErrorCode::InvalidArgument, msg)
        };
        let v = value.trim_ascii();
        let v = v.strip_prefix(b"/").unwrap_or(v);
        let v = v.strip_suffix(b"/").unwrap_or(v);
        let rest = strip_prefix(v, &self.proxy_prefix[1..]).ok_or_else(invalid)?;
        let slash = find_byte(rest, b'/').ok_or_else(invalid)?;
        let (segment, function) = (&rest[..slash], &rest[slash + 1..]);
        if segment.is_empty() || function.is_empty() || find_byte(function, b'/').is_some() {
            return Err(invalid());
        }
        let (service, qualifier) = split_qualifier(segment);
        let f = self
            .functions
            .lookup(account, service, function, qualifier)?;
        check_function(f.disable_url_internet, f.methods, method)?;
        Ok(routed(Mode::Header, f.entry(), Cow::Borrowed(target), None))
    }

    /// SPEC.md 3.4: domain -> route -> checks -> rewrite.
    fn domain_mode<'a>(
        &'a self,
        name: &[u8],
        method: &[u8],
        target: &'a [u8],
    ) -> Result<Routed<'a>, FcError> {
        let d = self
            .find_domain(name)
            .ok_or_else(|| domain_not_found(name))?;
        let route = self
            .tries
            .lookup(d.root, target)
            .map(|i| &self.routes[(d.first_route + i) as usize])
            .ok_or_else(|| {
                let path = &target[..memchr::memchr(b'?', target).unwrap_or(target.len())];
                let msg = format!(
                    "no route of domain '{}' matches {}",
                    shown(d.name.get(&self.names)),
                    path_message(path)
                );
                FcError::new(404, ErrorCode::DomainRouteNotFound, msg)
            })?;
        let f = route.function.as_ref().map_err(|e| (**e).clone())?;
        check_method(method, route.methods)?;
        let forwarded = match rewrite::apply(&route.rewrites, target) {
            Some(t) => Cow::Owned(t),
            None => Cow::Borrowed(target),
        };
        Ok(routed(Mode::Domain, f, forwarded, None))
    }

    /// The exact domain, else the longest wildcard domain (label by label from the right).
    fn find_domain(&self, name: &[u8]) -> Option<&DomainSlot> {
        let names = &self.names;
        let hash = self.seed.hash(EXACT, &[name]);
        let found = self
            .exact_domains
            .find(hash, |d| bytes_eq(d.name.get(names), name));
        let d = match found {
            Some(at) => self.exact_domains.at(at),
            None if self.wildcard_domains.len() == 0 => return None,
            None => {
                // Suffixes after each dot, longest first: the first hit is the longest match.
                let mut rest = name;
                loop {
                    let dot = find_byte(rest, b'.')?;
                    rest = &rest[dot + 1..];
                    let hash = self.seed.hash(WILDCARD, &[rest]);
                    let found = self
                        .wildcard_domains
                        .find(hash, |d| bytes_eq(&d.name.get(names)[2..], rest));
                    if let Some(at) = found {
                        break self.wildcard_domains.at(at);
                    }
                }
            }
        };
        // The tree and the routes, fetched while the walk starts.
        self.tries.prefetch(d.root, d.label_start);
        prefetch(self.routes.as_ptr().wrapping_add(d.first_route as usize));
        Some(d)
    }
}

fn routed<'a>(
    mode: Mode,
    function: &'a Arc<FunctionEntry>,
    target: Cow<'a, [u8]>,
    base_path: Option<Cow<'a, [u8]>>,
) -> Routed<'a> {
    Routed {
        mode,
        function,
        target,
        base_path,
    }
}

/// `service[.qualifier]`, split at the last `.`; no `.` means `LATEST`.
fn split_qualifier(segment: &[u8]) -> (&[u8], &[u8]) {
    match segment.iter().rposition(|&b| b == b'.') {
        Some(dot) => (&segment[..dot], &segment[dot + 1..]),
        None => (segment, b"LATEST"),
    }
}

/// SPEC.md 3.5.2 and 3.5.3 for proxy, header and subdomain modes.
#[inline]
fn check_function(
    disable_url_internet: bool,
    methods: MethodSet,
    method: &[u8],
) -> Result<(), FcError> {
    if disable_url_internet {
        return Err(FcError::new(
            403,
            ErrorCode::AccessDenied,
            "access denied due to function internet URL is disable",
        ));
    }
    check_method(method, methods)
}

/// SPEC.md 3.5.3: 405 with `Allow`; a method outside the seven is never allowed.
fn check_method(method: &[u8], allowed: MethodSet) -> Result<(), FcError> {
    match Method::from_bytes(method) {
        Some(m) if allowed.contains(m) => Ok(()),
        _ => {
            let msg = format!("method '{}' is not allowed", shown(method));
            let mut e = FcError::new(405, ErrorCode::MethodNotAllowed, msg);
            e.allow = Some(allowed.allow_header());
            Err(e)
        }
    }
}

fn path_message(path: &[u8]) -> String {
    format!("path '{}'", shown(path))
}

fn domain_not_found(host: &[u8]) -> FcError {
    let msg = format!("domain name '{}' could not be found", shown(host));
    FcError::new(404, ErrorCode::DomainNameNotFound, msg)
}

fn trigger_not_found(label: &[u8]) -> FcError {
    let msg = format!("trigger '{}' could not be found", shown(label));
    FcError::new(404, ErrorCode::TriggerNotFound, msg)
}
