//! RouteTable tests: every row and example of SPEC.md section 3, built from `Config` values
//! made directly in Rust (no TOML).

use std::borrow::Cow;
use std::path::PathBuf;

use super::{Decision, Mode, RouteTable};
use crate::config::*;
use crate::errors::ErrorCode;

const ACC: &str = "1649015465571234";
const EP: &str = "1649015465571234.cn-hangzhou.fc.aliyuncs.com";

// ---- a small Config builder -------------------------------------------------------------

fn config() -> Config {
    Config {
        source: PathBuf::from("test.toml"),
        server: Server {
            listen: vec!["127.0.0.1:8080".parse().unwrap()],
            workers: 0,
            pin_workers: true,
            max_connections: 100000,
            max_header_bytes: 8192,
            max_uri_bytes: 4096,
            max_body_bytes: 33554432,
            header_timeout_ms: 10000,
            idle_timeout_ms: 60000,
            drain_timeout_ms: 30000,
        },
        admin: None,
        log: Log {
            level: LogLevel::Info,
            access: AccessLog::Off,
        },
        upstream: Upstream {
            connect_timeout_ms: 2000,
            response_timeout_ms: 60000,
            idle_timeout_ms: 30000,
            max_idle_per_upstream: 64,
            retries: 1,
        },
        platform: Platform {
            api_version: "2016-08-15".into(),
            region: "cn-hangzhou".into(),
            endpoint_suffix: "fc.aliyuncs.com".into(),
            trigger_suffix: "fcapp.run".into(),
        },
        functions: vec![],
        domains: vec![],
    }
}

fn func(account: &str, service: &str, name: &str, qualifier: &str) -> Function {
    Function {
        account: account.into(),
        service: service.into(),
        name: name.into(),
        qualifier: qualifier.into(),
        upstreams: vec![UpstreamAddr::Echo],
        methods: MethodSet::ALL,
        subdomain: None,
        disable_url_internet: false,
        proxy_path: ProxyPath::Full,
    }
}

fn methods(ms: &[Method]) -> MethodSet {
    ms.iter().fold(MethodSet::EMPTY, |s, m| s.with(*m))
}

fn route(path: &str, function: &str) -> Route {
    Route {
        path: path.into(),
        service: "CustomDemo".into(),
        function: function.into(),
        qualifier: "LATEST".into(),
        methods: MethodSet::ALL,
        rewrites: vec![],
    }
}

fn rw(kind: RewriteKind, pattern: &str, replacement: &str) -> Rewrite {
    Rewrite {
        kind,
        pattern: pattern.into(),
        replacement: replacement.into(),
    }
}

fn domain(name: &str, routes: Vec<Route>) -> Domain {
    Domain {
        name: name.into(),
        account: ACC.into(),
        routes,
    }
}

fn table() -> RouteTable {
    let mut c = config();
    let mut f = func(ACC, "CustomDemo", "func-http", "LATEST");
    f.subdomain = Some("funcname-svcname-khljsjksld".into());
    f.methods = methods(&[Method::Get, Method::Post]);
    f.upstreams = vec![
        UpstreamAddr::Tcp {
            text: "127.0.0.1:9000".into(),
            addr: "127.0.0.1:9000".parse().unwrap(),
        },
        UpstreamAddr::Echo,
    ];
    c.functions.push(f);
    c.functions.push(func(ACC, "CustomDemo", "func-http", "1"));
    c.functions
        .push(func(ACC, "CustomDemo", "func-http", "prod"));
    let mut f = func(ACC, "CustomDemo", "strip", "LATEST");
    f.proxy_path = ProxyPath::Strip;
    c.functions.push(f);
    let mut f = func(ACC, "CustomDemo", "private", "LATEST");
    f.disable_url_internet = true;
    f.subdomain = Some("private-label".into());
    f.methods = methods(&[Method::Get]);
    c.functions.push(f);
    c.functions.push(func(ACC, "my.svc", "f", "LATEST"));
    c.functions.push(func("999", "Other", "f", "LATEST"));
    for name in [
        "test",
        "login-exact",
        "login-prefix",
        "catch",
        "ab",
        "api",
        "wild",
        "wild-b",
    ] {
        c.functions.push(func(ACC, "CustomDemo", name, "LATEST"));
    }

    let mut test = route("/test", "test");
    test.methods = methods(&[Method::Get]);
    let mut api = route("/api/*", "api");
    api.rewrites = vec![
        rw(RewriteKind::Regex, "^/api/.+?/(.*)", "/api/v2/$1"),
        rw(RewriteKind::Wildcard, "/api/*", "/$1"),
        rw(RewriteKind::Equal, "/api/equal", "/eq"),
    ];
    let mut old = route("/old/*", "api");
    old.rewrites = vec![rw(RewriteKind::Wildcard, "^/old", "/new")];
    let mut rx = route("/rx/*", "api");
    rx.rewrites = vec![rw(RewriteKind::Regex, "^/rx/.+?/(.*)", "/rx/v2/$1")];
    let mut q = route("/q/*", "api");
    q.rewrites = vec![rw(RewriteKind::Wildcard, "^/q/*", "/new/$1?v=2")];
    let mut private = route("/private", "private");
    private.methods = MethodSet::ALL;
    c.domains.push(domain(
        "example.com",
        vec![
            test,
            route("/login", "login-exact"),
            route("/login/*", "login-prefix"),
            route("/a/b", "ab"),
            route("/*", "catch"),
            api,
            old,
            rx,
            q,
            private,
        ],
    ));
    c.domains
        .push(domain("noroot.example.org", vec![route("/only", "test")]));
    c.domains
        .push(domain("*.example.com", vec![route("/*", "wild")]));
    c.domains
        .push(domain("*.b.example.com", vec![route("/*", "wild-b")]));
    c.domains
        .push(domain("exact.b.example.com", vec![route("/*", "catch")]));
    RouteTable::compile(&c).expect("compiles")
}

// ---- resolving --------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Ok_ {
    mode: Mode,
    /// `service/name:qualifier`
    func: String,
    target: String,
    base: Option<String>,
    borrowed: bool,
}

type Res = Result<Ok_, (u16, ErrorCode)>;

fn go(
    t: &RouteTable,
    method: &str,
    host: Option<&str>,
    target: &str,
    hdrs: &[(&str, &[u8])],
) -> Res {
    match t.resolve(
        method.as_bytes(),
        host.map(str::as_bytes),
        target.as_bytes(),
        hdrs,
    ) {
        Decision::Routed(r) => Ok(Ok_ {
            mode: r.mode,
            func: format!(
                "{}/{}:{}",
                r.function.service, r.function.name, r.function.qualifier
            ),
            borrowed: matches!(r.target, Cow::Borrowed(_)),
            target: String::from_utf8(r.target.into_owned()).unwrap(),
            base: r
                .base_path
                .map(|b| String::from_utf8(b.into_owned()).unwrap()),
        }),
        Decision::Answer(e) => Err((e.status, e.code)),
    }
}

fn get(t: &RouteTable, host: &str, target: &str) -> Res {
    go(t, "GET", Some(host), target, &[])
}

fn hdr(t: &RouteTable, host: &str, target: &str, value: &str) -> Res {
    go(
        t,
        "GET",
        Some(host),
        target,
        &[("X-FC-Invocation-Target", value.as_bytes())],
    )
}

fn ok(r: Res) -> Ok_ {
    r.unwrap_or_else(|e| panic!("expected routed, got {e:?}"))
}

fn code(r: Res) -> ErrorCode {
    match r {
        Ok(o) => panic!("expected an answer, got {o:?}"),
        Err((status, code)) => {
            let want = match code {
                ErrorCode::InvalidArgument => 400,
                ErrorCode::AccessDenied => 403,
                ErrorCode::MethodNotAllowed => 405,
                _ => 404,
            };
            assert_eq!(status, want, "{code:?}");
            code
        }
    }
}

// ---- proxy mode (3.1) -------------------------------------------------------------------

#[test]
fn proxy_forwards_target_unchanged_with_base_path() {
    let t = table();
    let r = ok(get(
        &t,
        EP,
        "/2016-08-15/proxy/CustomDemo/func-http/test?x=1",
    ));
    assert_eq!(r.mode, Mode::Proxy);
    assert_eq!(r.func, "CustomDemo/func-http:LATEST");
    assert_eq!(r.target, "/2016-08-15/proxy/CustomDemo/func-http/test?x=1");
    assert!(r.borrowed);
    assert_eq!(
        r.base.as_deref(),
        Some("/2016-08-15/proxy/CustomDemo/func-http/")
    );
}

#[test]
fn proxy_host_variants() {
    let t = table();
    let p = "/2016-08-15/proxy/CustomDemo/func-http/";
    for host in [
        EP,
        "1649015465571234.cn-hangzhou-internal.fc.aliyuncs.com",
        "1649015465571234.CN-HANGZHOU.FC.ALIYUNCS.COM",
        "1649015465571234.cn-hangzhou.fc.aliyuncs.com:8080",
        "1649015465571234.cn-hangzhou.fc.aliyuncs.com.",
        "1649015465571234.cn-hangzhou.fc.aliyuncs.com.:80",
    ] {
        assert_eq!(ok(get(&t, host, p)).mode, Mode::Proxy, "{host}");
    }
    // Another region or suffix is a custom domain.
    assert_eq!(
        code(get(&t, "1649015465571234.cn-shanghai.fc.aliyuncs.com", p)),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(
            &t,
            "1649015465571234.cn-hangzhou-vpc.fc.aliyuncs.com",
            p
        )),
        ErrorCode::DomainNameNotFound
    );
}

#[test]
fn proxy_qualifiers() {
    let t = table();
    let r = ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo.1/func-http/x"));
    assert_eq!(r.func, "CustomDemo/func-http:1");
    assert_eq!(
        r.base.as_deref(),
        Some("/2016-08-15/proxy/CustomDemo.1/func-http/")
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo.prod/func-http")).func,
        "CustomDemo/func-http:prod"
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo.LATEST/func-http")).func,
        "CustomDemo/func-http:LATEST"
    );
    // Split at the LAST dot.
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/my.svc.LATEST/f")).func,
        "my.svc/f:LATEST"
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/my.svc/f")),
        ErrorCode::ServiceNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/CustomDemo.2/func-http/")),
        ErrorCode::VersionNotFound
    );
    assert_eq!(
        code(get(
            &t,
            EP,
            "/2016-08-15/proxy/CustomDemo.staging/func-http/"
        )),
        ErrorCode::AliasNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/CustomDemo./func-http/")),
        ErrorCode::AliasNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/CustomDemo.1a/func-http/")),
        ErrorCode::AliasNotFound
    );
}

#[test]
fn proxy_without_trailing_slash_owns_base_path() {
    let t = table();
    let r = ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/func-http"));
    assert_eq!(r.target, "/2016-08-15/proxy/CustomDemo/func-http");
    assert_eq!(
        r.base.as_deref(),
        Some("/2016-08-15/proxy/CustomDemo/func-http/")
    );
    let r = ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/func-http?a=b"));
    assert_eq!(r.target, "/2016-08-15/proxy/CustomDemo/func-http?a=b");
    assert_eq!(
        r.base.as_deref(),
        Some("/2016-08-15/proxy/CustomDemo/func-http/")
    );
}

#[test]
fn proxy_base_path_is_borrowed_when_the_slash_is_there() {
    let t = table();
    let target = b"/2016-08-15/proxy/CustomDemo/func-http/a";
    let Decision::Routed(r) = t.resolve(
        b"GET",
        Some(EP.as_bytes()),
        target,
        &[][..] as &[(&str, &[u8])],
    ) else {
        panic!()
    };
    assert!(matches!(r.base_path, Some(Cow::Borrowed(_))));
    assert!(matches!(r.target, Cow::Borrowed(_)));
}

#[test]
fn proxy_strip() {
    let t = table();
    let r = ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/strip/test?x=1"));
    assert_eq!(r.target, "/test?x=1");
    assert!(!r.borrowed);
    assert_eq!(
        r.base.as_deref(),
        Some("/2016-08-15/proxy/CustomDemo/strip/")
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/strip?x=1")).target,
        "/?x=1"
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/strip")).target,
        "/"
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/strip/")).target,
        "/"
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/strip/a/b/")).target,
        "/a/b/"
    );
    assert_eq!(
        ok(get(&t, EP, "/2016-08-15/proxy/CustomDemo/strip/a?")).target,
        "/a?"
    );
}

#[test]
fn proxy_path_not_found() {
    let t = table();
    for p in [
        "/",
        "/test",
        "/2016-08-15",
        "/2016-08-15/",
        "/2016-08-15/proxy",
        "/2016-08-15/proxy/",
        "/2016-08-15/proxy/CustomDemo",
        "/2016-08-15/proxy/CustomDemo?x=/y",
        "/2016-08-15/proxy/CustomDemo/",
        "/2016-08-15/proxy//func-http",
        "/2016-08-15/proxy/CustomDemo//func-http",
        "/2016-08-15/PROXY/CustomDemo/func-http",
        "/2017-03-03/proxy/CustomDemo/func-http",
        "//2016-08-15/proxy/CustomDemo/func-http",
        "*",
        "http://x/2016-08-15/proxy/CustomDemo/func-http",
        "",
    ] {
        assert_eq!(code(get(&t, EP, p)), ErrorCode::PathNotFound, "{p:?}");
    }
}

#[test]
fn proxy_not_found_codes() {
    let t = table();
    let other = "999.cn-hangzhou.fc.aliyuncs.com";
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/Nope/func-http/")),
        ErrorCode::ServiceNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/customdemo/func-http/")),
        ErrorCode::ServiceNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/CustomDemo/nope/")),
        ErrorCode::FunctionNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/Other/f/")),
        ErrorCode::ServiceNotFound
    );
    assert_eq!(
        ok(get(&t, other, "/2016-08-15/proxy/Other/f/")).func,
        "Other/f:LATEST"
    );
    assert_eq!(
        code(get(&t, other, "/2016-08-15/proxy/CustomDemo/func-http/")),
        ErrorCode::ServiceNotFound
    );
    // An unknown account is ServiceNotFound, but only once the path parses.
    let unknown = "42.cn-hangzhou.fc.aliyuncs.com";
    assert_eq!(
        code(get(&t, unknown, "/2016-08-15/proxy/CustomDemo/func-http/")),
        ErrorCode::ServiceNotFound
    );
    assert_eq!(code(get(&t, unknown, "/x")), ErrorCode::PathNotFound);
    // Names are not percent-decoded.
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/Custom%44emo/func-http/")),
        ErrorCode::ServiceNotFound
    );
    // Not UTF-8.
    let r = t.resolve(
        b"GET",
        Some(EP.as_bytes()),
        b"/2016-08-15/proxy/\xff/f",
        &[][..] as &[(&str, &[u8])],
    );
    assert!(matches!(r, Decision::Answer(e) if e.code == ErrorCode::ServiceNotFound));
}

#[test]
fn proxy_access_denied_then_method() {
    let t = table();
    // Not found comes before 403; 403 before 405.
    assert_eq!(
        code(go(
            &t,
            "PUT",
            Some(EP),
            "/2016-08-15/proxy/CustomDemo/private/",
            &[]
        )),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/CustomDemo.9/private/")),
        ErrorCode::VersionNotFound
    );
    let Decision::Answer(e) = t.resolve(
        b"GET",
        Some(EP.as_bytes()),
        b"/2016-08-15/proxy/CustomDemo/private",
        &[][..] as &[(&str, &[u8])],
    ) else {
        panic!()
    };
    assert_eq!(
        e.message,
        "access denied due to function internet URL is disable"
    );
    assert_eq!(e.allow, None);
}

#[test]
fn method_not_allowed_has_allow() {
    let t = table();
    let p = "/2016-08-15/proxy/CustomDemo/func-http/";
    assert_eq!(ok(go(&t, "POST", Some(EP), p, &[])).mode, Mode::Proxy);
    for m in ["PUT", "DELETE", "HEAD", "get", "TRACE", "CONNECT", ""] {
        let Decision::Answer(e) = t.resolve(
            m.as_bytes(),
            Some(EP.as_bytes()),
            p.as_bytes(),
            &[][..] as &[(&str, &[u8])],
        ) else {
            panic!("{m}")
        };
        assert_eq!(
            (e.status, e.code),
            (405, ErrorCode::MethodNotAllowed),
            "{m}"
        );
        assert_eq!(e.allow.as_deref(), Some("GET, POST"));
    }
    // Every one of the seven on a function with the default methods.
    for m in Method::ALL {
        let r = go(
            &t,
            m.as_str(),
            Some(EP),
            "/2016-08-15/proxy/CustomDemo.1/func-http/",
            &[],
        );
        assert_eq!(ok(r).mode, Mode::Proxy);
    }
}

// ---- header mode (3.3) ------------------------------------------------------------------

#[test]
fn header_mode() {
    let t = table();
    for v in [
        "2016-08-15/proxy/CustomDemo/func-http",
        "/2016-08-15/proxy/CustomDemo/func-http",
        "2016-08-15/proxy/CustomDemo/func-http/",
        "/2016-08-15/proxy/CustomDemo/func-http/",
        " 2016-08-15/proxy/CustomDemo/func-http ",
    ] {
        let r = ok(hdr(&t, EP, "/test?x=1", v));
        assert_eq!(r.mode, Mode::Header, "{v}");
        assert_eq!(r.func, "CustomDemo/func-http:LATEST");
        assert_eq!(r.target, "/test?x=1");
        assert!(r.borrowed);
        assert_eq!(r.base, None);
    }
    let internal = "1649015465571234.cn-hangzhou-internal.fc.aliyuncs.com";
    assert_eq!(
        ok(hdr(
            &t,
            internal,
            "/",
            "2016-08-15/proxy/CustomDemo.prod/func-http"
        ))
        .func,
        "CustomDemo/func-http:prod"
    );
    // strip does not apply: the request-target is forwarded unchanged.
    assert_eq!(
        ok(hdr(&t, EP, "/a", "2016-08-15/proxy/CustomDemo/strip")).target,
        "/a"
    );
    // A proxy-looking path is forwarded as is: the header decides.
    let r = ok(hdr(
        &t,
        EP,
        "/2016-08-15/proxy/Other/f",
        "2016-08-15/proxy/CustomDemo/func-http",
    ));
    assert_eq!(
        (r.func.as_str(), r.target.as_str()),
        ("CustomDemo/func-http:LATEST", "/2016-08-15/proxy/Other/f")
    );
}

#[test]
fn header_mode_invalid_argument() {
    let t = table();
    for v in [
        "",
        "/",
        "CustomDemo/func-http",
        "2016-08-15/proxy/CustomDemo",
        "2016-08-15/proxy/CustomDemo/",
        "2016-08-15/proxy//func-http",
        "2016-08-15/proxy/CustomDemo/func-http//",
        "2016-08-15/proxy/CustomDemo/func-http/test",
        "//2016-08-15/proxy/CustomDemo/func-http",
        "2017-03-03/proxy/CustomDemo/func-http",
        "2016-08-15/invoke/CustomDemo/func-http",
    ] {
        assert_eq!(
            code(hdr(&t, EP, "/", v)),
            ErrorCode::InvalidArgument,
            "{v:?}"
        );
    }
}

#[test]
fn header_mode_checks() {
    let t = table();
    assert_eq!(
        code(hdr(&t, EP, "/", "2016-08-15/proxy/Nope/f")),
        ErrorCode::ServiceNotFound
    );
    assert_eq!(
        code(hdr(&t, EP, "/", "2016-08-15/proxy/CustomDemo/nope")),
        ErrorCode::FunctionNotFound
    );
    assert_eq!(
        code(hdr(&t, EP, "/", "2016-08-15/proxy/CustomDemo.7/func-http")),
        ErrorCode::VersionNotFound
    );
    assert_eq!(
        code(hdr(&t, EP, "/", "2016-08-15/proxy/CustomDemo.x/func-http")),
        ErrorCode::AliasNotFound
    );
    assert_eq!(
        code(hdr(&t, EP, "/", "2016-08-15/proxy/CustomDemo/private")),
        ErrorCode::AccessDenied
    );
    let h = [(
        "x-fc-invocation-target",
        &b"2016-08-15/proxy/CustomDemo/func-http"[..],
    )];
    assert_eq!(
        code(go(&t, "DELETE", Some(EP), "/", &h)),
        ErrorCode::MethodNotAllowed
    );
}

#[test]
fn header_ignored_off_the_system_endpoint() {
    let t = table();
    let v = "2016-08-15/proxy/CustomDemo/func-http";
    let r = ok(hdr(&t, "example.com", "/test", v));
    assert_eq!(
        (r.mode, r.func.as_str()),
        (Mode::Domain, "CustomDemo/test:LATEST")
    );
    let r = ok(hdr(
        &t,
        "funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run",
        "/",
        "garbage",
    ));
    assert_eq!(r.mode, Mode::Subdomain);
    // Even a bad value is no 400 elsewhere.
    assert_eq!(
        ok(hdr(&t, "example.com", "/", "garbage")).mode,
        Mode::Domain
    );
}

// ---- subdomain mode (3.2) ---------------------------------------------------------------

#[test]
fn subdomain_mode() {
    let t = table();
    for host in [
        "funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run",
        "funcname-svcname-khljsjksld.cn-hangzhou-vpc.fcapp.run",
        "FuncName-SvcName-KHLJSJKSLD.CN-Hangzhou.FCApp.Run:443",
        "funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run.",
    ] {
        let r = ok(get(&t, host, "/action?hello=world"));
        assert_eq!(r.mode, Mode::Subdomain, "{host}");
        assert_eq!(r.func, "CustomDemo/func-http:LATEST");
        assert_eq!(r.target, "/action?hello=world");
        assert!(r.borrowed);
        assert_eq!(r.base, None);
    }
    let trig = "funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run";
    assert_eq!(
        code(get(&t, "nope.cn-hangzhou.fcapp.run", "/")),
        ErrorCode::TriggerNotFound
    );
    assert_eq!(
        code(get(&t, "nope.cn-hangzhou-vpc.fcapp.run", "/")),
        ErrorCode::TriggerNotFound
    );
    assert_eq!(
        code(get(&t, "private-label.cn-hangzhou.fcapp.run", "/")),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        code(go(&t, "PUT", Some(trig), "/", &[])),
        ErrorCode::MethodNotAllowed
    );
    // Another region, or more than one label: a custom domain.
    assert_eq!(
        code(get(
            &t,
            "funcname-svcname-khljsjksld.cn-shanghai.fcapp.run",
            "/"
        )),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(
            &t,
            "a.funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run",
            "/"
        )),
        ErrorCode::DomainNameNotFound
    );
}

// ---- custom domain mode (3.4) -----------------------------------------------------------

#[test]
fn domain_exact_route_and_prefix_not_stripped() {
    let t = table();
    let r = ok(get(&t, "example.com", "/test?x=1"));
    assert_eq!(r.mode, Mode::Domain);
    assert_eq!(r.func, "CustomDemo/test:LATEST");
    assert_eq!(r.target, "/test?x=1");
    assert!(r.borrowed);
    assert_eq!(r.base, None);
    let r = ok(get(&t, "example.com", "/login/a/b?c"));
    assert_eq!(
        (r.func.as_str(), r.target.as_str()),
        ("CustomDemo/login-prefix:LATEST", "/login/a/b?c")
    );
}

#[test]
fn domain_host_normalisation() {
    let t = table();
    for host in [
        "example.com",
        "EXAMPLE.COM",
        "Example.Com:8080",
        "example.com.",
        "example.com.:80",
    ] {
        assert_eq!(
            ok(get(&t, host, "/test")).func,
            "CustomDemo/test:LATEST",
            "{host}"
        );
    }
    assert_eq!(
        code(get(&t, "example.com:x", "/test")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(&t, &"a".repeat(300), "/")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(&t, "[::1]:8080", "/")),
        ErrorCode::DomainNameNotFound
    );
}

#[test]
fn domain_name_not_found() {
    let t = table();
    assert_eq!(
        code(go(&t, "GET", None, "/test", &[])),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(code(get(&t, "", "/test")), ErrorCode::DomainNameNotFound);
    assert_eq!(
        code(get(&t, "example.net", "/test")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(&t, "xexample.com", "/test")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(&t, "example.org", "/test")),
        ErrorCode::DomainNameNotFound
    );
}

#[test]
fn wildcard_domains() {
    let t = table();
    let f = |h: &str| ok(get(&t, h, "/x")).func;
    assert_eq!(f("a.example.com"), "CustomDemo/wild:LATEST");
    assert_eq!(f("A.Example.Com"), "CustomDemo/wild:LATEST");
    assert_eq!(f("a.b.c.example.com"), "CustomDemo/wild:LATEST");
    assert_eq!(f("b.example.com"), "CustomDemo/wild:LATEST");
    // Longest suffix wins.
    assert_eq!(f("a.b.example.com"), "CustomDemo/wild-b:LATEST");
    assert_eq!(f("x.y.b.example.com"), "CustomDemo/wild-b:LATEST");
    // Exact beats wildcard.
    assert_eq!(f("exact.b.example.com"), "CustomDemo/catch:LATEST");
    assert_eq!(f("example.com"), "CustomDemo/catch:LATEST");
    // `*.example.com` does not match example.com itself.
    let mut c = config();
    c.functions.push(func(ACC, "CustomDemo", "wild", "LATEST"));
    c.domains
        .push(domain("*.example.com", vec![route("/*", "wild")]));
    let t2 = RouteTable::compile(&c).unwrap();
    assert_eq!(
        code(get(&t2, "example.com", "/")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(&t2, "example.com.", "/")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        code(get(&t2, "aexample.com", "/")),
        ErrorCode::DomainNameNotFound
    );
    assert_eq!(
        ok(get(&t2, "a.example.com", "/")).func,
        "CustomDemo/wild:LATEST"
    );
}

#[test]
fn exact_vs_prefix_vs_longest_prefix() {
    let t = table();
    let f = |p: &str| ok(get(&t, "example.com", p)).func;
    assert_eq!(f("/login"), "CustomDemo/login-exact:LATEST");
    assert_eq!(f("/login?x=/login/"), "CustomDemo/login-exact:LATEST");
    assert_eq!(f("/login/"), "CustomDemo/login-prefix:LATEST");
    assert_eq!(f("/login/a/b"), "CustomDemo/login-prefix:LATEST");
    assert_eq!(f("/loginx"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/anything/else"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/test/"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/TEST"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/a/b"), "CustomDemo/ab:LATEST");
    // Raw bytes: no decoding, no normalisation.
    assert_eq!(f("/a%2Fb"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/a/./b"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/a//b"), "CustomDemo/catch:LATEST");
    assert_eq!(f("/log%69n"), "CustomDemo/catch:LATEST");
}

#[test]
fn domain_route_not_found() {
    let t = table();
    let h = "noroot.example.org";
    assert_eq!(ok(get(&t, h, "/only?q")).func, "CustomDemo/test:LATEST");
    for p in [
        "/",
        "/only/",
        "/onl",
        "/Only",
        "*",
        "http://noroot.example.org/only",
        "",
        "/a%2Fb",
    ] {
        assert_eq!(code(get(&t, h, p)), ErrorCode::DomainRouteNotFound, "{p:?}");
    }
    // `/login/*` does not match `/login`.
    let mut c = config();
    c.functions.push(func(ACC, "CustomDemo", "f", "LATEST"));
    c.domains.push(domain(
        "d.com",
        vec![route("/login/*", "f"), route("/a/b", "f")],
    ));
    let t2 = RouteTable::compile(&c).unwrap();
    assert_eq!(
        code(get(&t2, "d.com", "/login")),
        ErrorCode::DomainRouteNotFound
    );
    assert_eq!(ok(get(&t2, "d.com", "/login/")).func, "CustomDemo/f:LATEST");
    assert_eq!(
        code(get(&t2, "d.com", "/a%2Fb")),
        ErrorCode::DomainRouteNotFound
    );
    assert_eq!(
        code(get(&t2, "d.com", "/a/b/")),
        ErrorCode::DomainRouteNotFound
    );
}

#[test]
fn domain_methods_are_the_routes_and_do_not_fall_through() {
    let t = table();
    assert_eq!(
        ok(get(&t, "example.com", "/test")).func,
        "CustomDemo/test:LATEST"
    );
    let Decision::Answer(e) = t.resolve(
        b"POST",
        Some(b"example.com"),
        b"/test",
        &[][..] as &[(&str, &[u8])],
    ) else {
        panic!()
    };
    assert_eq!(
        (e.status, e.code, e.allow.as_deref()),
        (405, ErrorCode::MethodNotAllowed, Some("GET"))
    );
    assert_eq!(
        code(go(&t, "BREW", Some("example.com"), "/", &[])),
        ErrorCode::MethodNotAllowed
    );
    // disable_url_internet does not affect custom domains; the route's methods apply, not the
    // function's (which allows only GET).
    let r = go(&t, "DELETE", Some("example.com"), "/private", &[]);
    assert_eq!(ok(r).func, "CustomDemo/private:LATEST");
}

#[test]
fn domain_route_to_missing_function_gives_the_35_code() {
    let mut c = config();
    c.functions.push(func(ACC, "S", "f", "LATEST"));
    c.functions.push(func("other", "T", "f", "LATEST"));
    let r = |p: &str, s: &str, f: &str, q: &str| {
        let mut r = route(p, f);
        r.service = s.into();
        r.qualifier = q.into();
        r
    };
    let routes = vec![
        r("/s", "Nope", "f", "LATEST"),
        r("/f", "S", "nope", "LATEST"),
        r("/v", "S", "f", "3"),
        r("/a", "S", "f", "prod"),
        r("/other", "T", "f", "LATEST"),
        r("/ok", "S", "f", "LATEST"),
    ];
    c.domains.push(domain("d.com", routes));
    let t = RouteTable::compile(&c).unwrap();
    assert_eq!(code(get(&t, "d.com", "/s")), ErrorCode::ServiceNotFound);
    assert_eq!(code(get(&t, "d.com", "/f")), ErrorCode::FunctionNotFound);
    assert_eq!(code(get(&t, "d.com", "/v")), ErrorCode::VersionNotFound);
    assert_eq!(code(get(&t, "d.com", "/a")), ErrorCode::AliasNotFound);
    assert_eq!(code(get(&t, "d.com", "/other")), ErrorCode::ServiceNotFound);
    assert_eq!(ok(get(&t, "d.com", "/ok")).func, "S/f:LATEST");
}

#[test]
fn domain_rewrites() {
    let t = table();
    let f = |p: &str| {
        let r = ok(get(&t, "example.com", p));
        assert_eq!(r.func, "CustomDemo/api:LATEST", "{p}");
        (r.target, r.borrowed)
    };
    // Equal first, then wildcard, then regex (config order was regex, wildcard, equal).
    assert_eq!(f("/api/equal"), ("/eq".into(), false));
    assert_eq!(f("/api/get"), ("/get".into(), false));
    assert_eq!(f("/api/v1/users?x=1"), ("/v1/users?x=1".into(), false));
    assert_eq!(f("/api/"), ("/".into(), false));
    // `^/old` -> `/new` on `/old/...`: runs to the end, so no match: unchanged.
    assert_eq!(f("/old/x"), ("/old/x".into(), true));
    // Regex example.
    assert_eq!(f("/rx/v1/users"), ("/rx/v2/users".into(), false));
    assert_eq!(f("/rx/v1/users?a=1"), ("/rx/v2/users?a=1".into(), false));
    assert_eq!(f("/rx/v1"), ("/rx/v1".into(), true));
    // A `?` in the replacement: its query first, the original after `&`.
    assert_eq!(f("/q/a?x=1"), ("/new/a?v=2&x=1".into(), false));
    assert_eq!(f("/q/a"), ("/new/a?v=2".into(), false));
}

#[test]
fn spec_rewrite_examples_on_a_domain() {
    let mut c = config();
    c.functions.push(func(ACC, "CustomDemo", "f", "LATEST"));
    let mut a = route("/api/*", "f");
    a.rewrites = vec![rw(RewriteKind::Wildcard, "/api/*", "/$1")];
    let mut b = route("/test/*", "f");
    b.rewrites = vec![rw(RewriteKind::Wildcard, "/old", "/new")];
    let mut d = route("/t2/*", "f");
    d.rewrites = vec![rw(RewriteKind::Wildcard, "^/old", "/new")];
    let mut e = route("/*", "f");
    e.rewrites = vec![rw(RewriteKind::Regex, "^/api2/.+?/(.*)", "/api/v2/$1")];
    c.domains.push(domain("d.com", vec![a, b, d, e]));
    let t = RouteTable::compile(&c).unwrap();
    let target = |p: &str| ok(get(&t, "d.com", p)).target;
    assert_eq!(target("/api/get"), "/get");
    assert_eq!(target("/test/old"), "/new");
    assert_eq!(target("/t2/old"), "/t2/old");
    assert_eq!(target("/api2/v1/users"), "/api/v2/users");
    assert_eq!(target("/other"), "/other");
}

// ---- compile ----------------------------------------------------------------------------

#[test]
fn compile_counts_and_duplicates() {
    let t = table();
    assert_eq!(t.function_count(), 15);
    assert_eq!(t.domain_count(), 5);
    assert_eq!(t.route_count(), 14);

    let mut c = config();
    c.functions.push(func(ACC, "S", "f", "LATEST"));
    c.functions.push(func(ACC, "S", "f", "LATEST"));
    assert!(RouteTable::compile(&c).is_err());

    let mut c = config();
    for name in ["f", "g"] {
        let mut f = func(ACC, "S", name, "LATEST");
        f.subdomain = Some("lbl".into());
        c.functions.push(f);
    }
    assert!(RouteTable::compile(&c).is_err());

    let mut c = config();
    c.domains.push(domain("d.com", vec![]));
    c.domains.push(domain("d.com", vec![]));
    assert!(RouteTable::compile(&c).is_err());

    let mut c = config();
    c.functions.push(func(ACC, "CustomDemo", "f", "LATEST"));
    let mut r = route("/x", "f");
    r.rewrites = vec![rw(RewriteKind::Regex, "(", "/")];
    c.domains.push(domain("d.com", vec![r]));
    assert!(RouteTable::compile(&c).is_err());
}

#[test]
fn many_qualifiers_switch_to_a_map() {
    let mut c = config();
    for q in 0..20 {
        c.functions.push(func(ACC, "S", "f", &q.to_string()));
    }
    c.functions.push(func(ACC, "S", "f", "LATEST"));
    let t = RouteTable::compile(&c).unwrap();
    for q in 0..20 {
        let p = format!("/2016-08-15/proxy/S.{q}/f");
        assert_eq!(ok(get(&t, EP, &p)).func, format!("S/f:{q}"));
    }
    assert_eq!(ok(get(&t, EP, "/2016-08-15/proxy/S/f")).func, "S/f:LATEST");
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/S.20/f")),
        ErrorCode::VersionNotFound
    );
    assert_eq!(
        code(get(&t, EP, "/2016-08-15/proxy/S.a/f")),
        ErrorCode::AliasNotFound
    );
}

#[test]
fn function_entry_is_compiled_from_the_config() {
    let t = table();
    let Decision::Routed(r) = t.resolve(
        b"GET",
        Some(EP.as_bytes()),
        b"/2016-08-15/proxy/CustomDemo/func-http",
        &[][..] as &[(&str, &[u8])],
    ) else {
        panic!()
    };
    let f = r.function;
    assert_eq!(&*f.account, ACC);
    assert_eq!(f.instances.len(), 2);
    assert_eq!(
        f.instances[0],
        super::Instance::Tcp("127.0.0.1:9000".parse().unwrap())
    );
    assert_eq!(f.instances[1], super::Instance::Echo);
    assert_eq!(&*f.instance_texts[0], "127.0.0.1:9000");
    assert_eq!(&*f.instance_texts[1], "builtin:echo");
    assert_eq!(f.methods, methods(&[Method::Get, Method::Post]));
}

#[test]
fn custom_platform_names() {
    let mut c = config();
    c.platform.api_version = "2023-03-30".into();
    c.platform.region = "us-west-1".into();
    c.platform.endpoint_suffix = "fc.example.net".into();
    c.platform.trigger_suffix = "run.example.net".into();
    let mut f = func("7", "S", "f", "LATEST");
    f.subdomain = Some("lbl".into());
    c.functions.push(f);
    let t = RouteTable::compile(&c).unwrap();
    assert_eq!(
        ok(get(
            &t,
            "7.us-west-1.fc.example.net",
            "/2023-03-30/proxy/S/f/"
        ))
        .mode,
        Mode::Proxy
    );
    assert_eq!(
        code(get(
            &t,
            "7.us-west-1.fc.example.net",
            "/2016-08-15/proxy/S/f/"
        )),
        ErrorCode::PathNotFound
    );
    assert_eq!(
        ok(get(&t, "lbl.us-west-1-vpc.run.example.net", "/")).mode,
        Mode::Subdomain
    );
    let r = ok(hdr(
        &t,
        "7.us-west-1-internal.fc.example.net",
        "/",
        "2023-03-30/proxy/S/f",
    ));
    assert_eq!(r.mode, Mode::Header);
}
