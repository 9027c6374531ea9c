//! Data-plane tests: the real binary, mock instances, raw bytes both ways (SPEC.md 2-5).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

const BASE: &str = "/2016-08-15/proxy/CustomDemo/func-http/";
const LABEL_HOST: &str = "funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run";

/// One `[[function]]` of account `ACCOUNT`; `extra` is more `key = value` lines.
fn function(service: &str, name: &str, upstream: &str, extra: &str) -> String {
    format!(
        "\n[[function]]\naccount = \"{ACCOUNT}\"\nservice = \"{service}\"\nname = \"{name}\"\nupstreams = [\"{upstream}\"]\n{extra}\n"
    )
}

/// A router with one function, CustomDemo/func-http (subdomain label
/// `funcname-svcname-khljsjksld`), served by `upstream`; `more` is appended as is.
fn simple(upstream: &str, more: &str) -> Router {
    let cfg = format!(
        "[upstream]\nconnect_timeout_ms = 500\nresponse_timeout_ms = 5000\n{}{more}",
        function(
            "CustomDemo",
            "func-http",
            upstream,
            "subdomain = \"funcname-svcname-khljsjksld\""
        )
    );
    Router::start(&cfg)
}

fn get_req(target: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\n{extra}\r\n").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Routing (SPEC.md section 3), end to end
// ---------------------------------------------------------------------------------------------

/// Every function and domain the routing rows use; all served by `up`.
fn routing_config(up: &str) -> String {
    let mut c = String::from("[upstream]\nconnect_timeout_ms = 500\n");
    c += &function(
        "CustomDemo",
        "func-http",
        up,
        "subdomain = \"funcname-svcname-khljsjksld\"",
    );
    c += &function("CustomDemo", "func-http", up, "qualifier = \"prod\"");
    c += &function("CustomDemo", "func-http", up, "qualifier = \"1\"");
    c += &function("CustomDemo", "func-strip", up, "proxy_path = \"strip\"");
    c += &format!(
        r#"
[[domain]]
name = "example.com"
account = "{ACCOUNT}"

[[domain.route]]
path = "/test"
service = "CustomDemo"
function = "func-http"

[[domain.route]]
path = "/login/*"
service = "CustomDemo"
function = "func-http"
qualifier = "prod"

[[domain.route]]
path = "/login/admin/*"
service = "CustomDemo"
function = "func-strip"

[[domain.route]]
path = "/api/*"
service = "CustomDemo"
function = "func-http"
[[domain.route.rewrite]]
kind = "wildcard"
match = "/api/*"
replacement = "/$1"

[[domain.route]]
path = "/eq/*"
service = "CustomDemo"
function = "func-http"
[[domain.route.rewrite]]
kind = "regex"
match = "^/eq/(.*)"
replacement = "/from-regex/$1"
[[domain.route.rewrite]]
kind = "equal"
match = "/eq/x"
replacement = "/from-equal"

[[domain.route]]
path = "/t/*"
service = "CustomDemo"
function = "func-http"
[[domain.route.rewrite]]
kind = "wildcard"
match = "/old"
replacement = "/new"

[[domain.route]]
path = "/t2/*"
service = "CustomDemo"
function = "func-http"
[[domain.route.rewrite]]
kind = "wildcard"
match = "^/old"
replacement = "/new"

[[domain.route]]
path = "/re/*"
service = "CustomDemo"
function = "func-http"
[[domain.route.rewrite]]
kind = "regex"
match = "^/re/.+?/(.*)"
replacement = "/api/v2/$1"

[[domain.route]]
path = "/q/*"
service = "CustomDemo"
function = "func-http"
[[domain.route.rewrite]]
kind = "wildcard"
match = "/q/*"
replacement = "/query?from=$1"

[[domain]]
name = "*.example.com"
account = "{ACCOUNT}"

[[domain.route]]
path = "/*"
service = "CustomDemo"
function = "func-strip"

[[domain]]
name = "*.b.example.com"
account = "{ACCOUNT}"

[[domain.route]]
path = "/*"
service = "CustomDemo"
function = "func-http"
qualifier = "1"
"#
    );
    c
}

struct Row {
    what: &'static str,
    host: &'static str,
    target: &'static str,
    extra: &'static str,
    /// The request line the instance must receive.
    line: &'static str,
    /// `function:qualifier` it must be sent to.
    func: &'static str,
    /// `x-fc-base-path`, `None`: absent (checked for every row but the qualified ones).
    base: Option<&'static str>,
}

#[test]
fn routing_rows_reach_the_instance_with_the_right_request_line() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = Router::start(&routing_config(&mock.addr()));
    let rows = [
        Row {
            what: "proxy, full path unchanged",
            host: SYSTEM_HOST,
            target: "/2016-08-15/proxy/CustomDemo/func-http/test?x=1",
            extra: "",
            line: "GET /2016-08-15/proxy/CustomDemo/func-http/test?x=1 HTTP/1.1",
            func: "func-http:LATEST",
            base: Some(BASE),
        },
        Row {
            what: "proxy, -internal host",
            host: SYSTEM_HOST_INTERNAL,
            target: "/2016-08-15/proxy/CustomDemo/func-http/a/b",
            extra: "",
            line: "GET /2016-08-15/proxy/CustomDemo/func-http/a/b HTTP/1.1",
            func: "func-http:LATEST",
            base: Some(BASE),
        },
        Row {
            what: "proxy, host in upper case with port and trailing dot",
            host: "1649015465571234.CN-HANGZHOU.fc.aliyuncs.com.:8080",
            target: "/2016-08-15/proxy/CustomDemo/func-http/",
            extra: "",
            line: "GET /2016-08-15/proxy/CustomDemo/func-http/ HTTP/1.1",
            func: "func-http:LATEST",
            base: Some(BASE),
        },
        Row {
            what: "proxy, strip",
            host: SYSTEM_HOST,
            target: "/2016-08-15/proxy/CustomDemo/func-strip/test?x=1",
            extra: "",
            line: "GET /test?x=1 HTTP/1.1",
            func: "func-strip:LATEST",
            base: Some("/2016-08-15/proxy/CustomDemo/func-strip/"),
        },
        Row {
            what: "proxy, strip without rest",
            host: SYSTEM_HOST,
            target: "/2016-08-15/proxy/CustomDemo/func-strip",
            extra: "",
            line: "GET / HTTP/1.1",
            func: "func-strip:LATEST",
            base: Some("/2016-08-15/proxy/CustomDemo/func-strip/"),
        },
        Row {
            what: "proxy, alias qualifier",
            host: SYSTEM_HOST,
            target: "/2016-08-15/proxy/CustomDemo.prod/func-http/test",
            extra: "",
            line: "GET /2016-08-15/proxy/CustomDemo.prod/func-http/test HTTP/1.1",
            func: "func-http:prod",
            base: None,
        },
        Row {
            what: "proxy, version qualifier",
            host: SYSTEM_HOST,
            target: "/2016-08-15/proxy/CustomDemo.1/func-http/test",
            extra: "",
            line: "GET /2016-08-15/proxy/CustomDemo.1/func-http/test HTTP/1.1",
            func: "func-http:1",
            base: None,
        },
        Row {
            what: "header mode",
            host: SYSTEM_HOST,
            target: "/test",
            extra: "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-http\r\n",
            line: "GET /test HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "header mode, leading slash and qualifier, -internal",
            host: SYSTEM_HOST_INTERNAL,
            target: "/test?a=1",
            extra: "X-Fc-Invocation-Target: /2016-08-15/proxy/CustomDemo.prod/func-http\r\n",
            line: "GET /test?a=1 HTTP/1.1",
            func: "func-http:prod",
            base: None,
        },
        Row {
            what: "subdomain",
            host: LABEL_HOST,
            target: "/action?hello=world",
            extra: "",
            line: "GET /action?hello=world HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "subdomain, -vpc",
            host: "FuncName-svcname-khljsjksld.cn-hangzhou-vpc.fcapp.run",
            target: "/x",
            extra: "",
            line: "GET /x HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "subdomain ignores x-fc-invocation-target",
            host: LABEL_HOST,
            target: "/y",
            extra: "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-strip\r\n",
            line: "GET /y HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, exact route",
            host: "example.com",
            target: "/test?q=1",
            extra: "",
            line: "GET /test?q=1 HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, prefix route, prefix not stripped",
            host: "example.com",
            target: "/login/a/b",
            extra: "",
            line: "GET /login/a/b HTTP/1.1",
            func: "func-http:prod",
            base: None,
        },
        Row {
            what: "domain, prefix route matches its own slash",
            host: "example.com:80",
            target: "/login/",
            extra: "",
            line: "GET /login/ HTTP/1.1",
            func: "func-http:prod",
            base: None,
        },
        Row {
            what: "domain, longest prefix wins",
            host: "EXAMPLE.com",
            target: "/login/admin/x",
            extra: "",
            line: "GET /login/admin/x HTTP/1.1",
            func: "func-strip:LATEST",
            base: None,
        },
        Row {
            what: "domain, wildcard rewrite /api/* -> /$1",
            host: "example.com",
            target: "/api/get?x=1",
            extra: "",
            line: "GET /get?x=1 HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, equal rewrite tried before regex",
            host: "example.com",
            target: "/eq/x",
            extra: "",
            line: "GET /from-equal HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, regex rewrite when equal does not match",
            host: "example.com",
            target: "/eq/y",
            extra: "",
            line: "GET /from-regex/y HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, unanchored wildcard /old -> /new",
            host: "example.com",
            target: "/t/old",
            extra: "",
            line: "GET /new HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, unanchored wildcard must run to the end",
            host: "example.com",
            target: "/t/old/more",
            extra: "",
            line: "GET /t/old/more HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, anchored wildcard ^/old does not match /t2/old",
            host: "example.com",
            target: "/t2/old",
            extra: "",
            line: "GET /t2/old HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, regex rewrite",
            host: "example.com",
            target: "/re/v1/users/7?x=1",
            extra: "",
            line: "GET /api/v2/users/7?x=1 HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, rewrite with a query: its query first, then the original",
            host: "example.com",
            target: "/q/abc?x=1",
            extra: "",
            line: "GET /query?from=abc&x=1 HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
        Row {
            what: "domain, wildcard domain",
            host: "a.example.com",
            target: "/anything?z",
            extra: "",
            line: "GET /anything?z HTTP/1.1",
            func: "func-strip:LATEST",
            base: None,
        },
        Row {
            what: "domain, wildcard domain, two labels deep",
            host: "a.c.example.com",
            target: "/deep",
            extra: "",
            line: "GET /deep HTTP/1.1",
            func: "func-strip:LATEST",
            base: None,
        },
        Row {
            what: "domain, longest wildcard domain wins",
            host: "x.b.example.com",
            target: "/w",
            extra: "",
            line: "GET /w HTTP/1.1",
            func: "func-http:1",
            base: None,
        },
        Row {
            what: "domain, invocation-target header is ignored there",
            host: "example.com",
            target: "/test",
            extra: "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-strip\r\n",
            line: "GET /test HTTP/1.1",
            func: "func-http:LATEST",
            base: None,
        },
    ];
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let resp = router.get(row.host, row.target, row.extra);
        if resp.status != 200 {
            failures.push(format!(
                "{}: {} {} -> {} {}",
                row.what,
                row.host,
                row.target,
                resp.status,
                resp.text()
            ));
            continue;
        }
        let reqs = mock.wait_requests(i + 1 - failures.len());
        let got = reqs.last().unwrap();
        let func = format!(
            "{}:{}",
            got.header("x-fc-function-name").unwrap_or("?"),
            got.header("x-fc-qualifier").unwrap_or("?")
        );
        if got.request_line() != row.line || func != row.func {
            failures.push(format!(
                "{}: {} {}: instance got {:?} for {func}, expected {:?} for {}",
                row.what,
                row.host,
                row.target,
                got.request_line(),
                row.line,
                row.func
            ));
        }
        let base = got.header("x-fc-base-path");
        let qualified = row.func.ends_with(":prod") || row.func.ends_with(":1");
        if !(qualified && row.base.is_none()) && base != row.base {
            failures.push(format!(
                "{}: x-fc-base-path {base:?}, expected {:?}",
                row.what, row.base
            ));
        }
        if got.header("x-fc-invocation-target").is_some() {
            failures.push(format!("{}: x-fc-invocation-target forwarded", row.what));
        }
        if got.header("x-fc-service-name") != Some("CustomDemo")
            || got.header("x-fc-account-id") != Some(ACCOUNT)
        {
            failures.push(format!(
                "{}: x-fc-service/account: {:?}",
                row.what, got.headers
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Errors made by fcgate (SPEC.md section 5)
// ---------------------------------------------------------------------------------------------

fn errors_config(up: &str, dead: &str) -> String {
    let mut c = String::from(
        "[server]\nmax_header_bytes = 2048\nmax_uri_bytes = 256\nmax_body_bytes = 1000\nheader_timeout_ms = 400\n\
         [upstream]\nconnect_timeout_ms = 500\nresponse_timeout_ms = 400\nretries = 0\n",
    );
    c += &function("CustomDemo", "func-http", up, "qualifier = \"prod\"");
    c += &function("CustomDemo", "func-http", up, "");
    c += &function("CustomDemo", "func-get", up, "methods = [\"GET\"]");
    c += &function(
        "CustomDemo",
        "func-off",
        up,
        "disable_url_internet = true\nsubdomain = \"off-label\"",
    );
    c += &function("CustomDemo", "func-dead", dead, "");
    c += &format!(
        r#"
[[domain]]
name = "example.com"
account = "{ACCOUNT}"

[[domain.route]]
path = "/login/*"
service = "CustomDemo"
function = "func-http"

[[domain.route]]
path = "/getonly"
service = "CustomDemo"
function = "func-http"
methods = ["GET"]

[[domain.route]]
path = "/off"
service = "CustomDemo"
function = "func-off"
"#
    );
    c
}

/// A port nothing listens on.
fn dead_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a.to_string()
}

#[test]
fn errors_each_code_with_json_body_and_request_id() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = Router::start(&errors_config(&mock.addr(), &dead_addr()));
    let sys = SYSTEM_HOST;
    let long_target = format!("/{}", "a".repeat(300));
    let big_header = format!("x-big: {}\r\n", "b".repeat(3000));
    // (what, raw request, status, code, SPEC requires the connection to close)
    let cases: Vec<(&str, String, u16, &str, bool)> = vec![
        (
            "no Host",
            "GET / HTTP/1.1\r\n\r\n".into(),
            400,
            "BadRequest",
            true,
        ),
        (
            "two Hosts",
            format!("GET / HTTP/1.1\r\nHost: {sys}\r\nHost: {sys}\r\n\r\n"),
            400,
            "BadRequest",
            true,
        ),
        (
            "garbage request line",
            "HELLO\r\n\r\n".into(),
            400,
            "BadRequest",
            true,
        ),
        (
            "Content-Length with Transfer-Encoding",
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {sys}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            400,
            "BadRequest",
            true,
        ),
        (
            "bad x-fc-invocation-target",
            format!("GET /x HTTP/1.1\r\nHost: {sys}\r\nx-fc-invocation-target: nonsense\r\n\r\n"),
            400,
            "InvalidArgument",
            false,
        ),
        (
            "disable_url_internet, proxy",
            get_s(sys, "/2016-08-15/proxy/CustomDemo/func-off/"),
            403,
            "AccessDenied",
            false,
        ),
        (
            "disable_url_internet, subdomain",
            get_s("off-label.cn-hangzhou.fcapp.run", "/"),
            403,
            "AccessDenied",
            false,
        ),
        (
            "PathNotFound outside /proxy/",
            get_s(sys, "/foo"),
            404,
            "PathNotFound",
            false,
        ),
        (
            "PathNotFound without function",
            get_s(sys, "/2016-08-15/proxy/CustomDemo"),
            404,
            "PathNotFound",
            false,
        ),
        (
            "ServiceNotFound",
            get_s(sys, "/2016-08-15/proxy/Nope/func-http/"),
            404,
            "ServiceNotFound",
            false,
        ),
        (
            "ServiceNotFound, unknown account",
            get_s(
                "999.cn-hangzhou.fc.aliyuncs.com",
                "/2016-08-15/proxy/CustomDemo/func-http/",
            ),
            404,
            "ServiceNotFound",
            false,
        ),
        (
            "FunctionNotFound",
            get_s(sys, "/2016-08-15/proxy/CustomDemo/nope/"),
            404,
            "FunctionNotFound",
            false,
        ),
        (
            "VersionNotFound",
            get_s(sys, "/2016-08-15/proxy/CustomDemo.7/func-http/"),
            404,
            "VersionNotFound",
            false,
        ),
        (
            "AliasNotFound",
            get_s(sys, "/2016-08-15/proxy/CustomDemo.staging/func-http/"),
            404,
            "AliasNotFound",
            false,
        ),
        (
            "TriggerNotFound",
            get_s("nolabel.cn-hangzhou.fcapp.run", "/"),
            404,
            "TriggerNotFound",
            false,
        ),
        (
            "DomainNameNotFound",
            get_s("unknown.test", "/"),
            404,
            "DomainNameNotFound",
            false,
        ),
        (
            "DomainRouteNotFound (/login does not match /login/*)",
            get_s("example.com", "/login"),
            404,
            "DomainRouteNotFound",
            false,
        ),
        (
            "MethodNotAllowed, function methods",
            format!(
                "DELETE /2016-08-15/proxy/CustomDemo/func-get/ HTTP/1.1\r\nHost: {sys}\r\n\r\n"
            ),
            405,
            "MethodNotAllowed",
            false,
        ),
        (
            "MethodNotAllowed, route methods",
            "POST /getonly HTTP/1.1\r\nHost: example.com\r\n\r\n".into(),
            405,
            "MethodNotAllowed",
            false,
        ),
        (
            "EntityTooLarge",
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {sys}\r\nContent-Length: 2000\r\n\r\n{}",
                "z".repeat(2000)
            ),
            413,
            "EntityTooLarge",
            false,
        ),
        (
            "URI too long",
            get_s(sys, &long_target),
            414,
            "InvalidArgument",
            false,
        ),
        (
            "header fields too large",
            format!("GET {BASE} HTTP/1.1\r\nHost: {sys}\r\n{big_header}\r\n"),
            431,
            "InvalidArgument",
            false,
        ),
        (
            "transfer-coding other than chunked",
            format!("POST {BASE} HTTP/1.1\r\nHost: {sys}\r\nTransfer-Encoding: gzip\r\n\r\n"),
            501,
            "NotImplemented",
            false,
        ),
        (
            "FunctionNotReachable (instance port closed)",
            get_s(sys, "/2016-08-15/proxy/CustomDemo/func-dead/"),
            502,
            "FunctionNotReachable",
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (what, raw, status, code, must_close) in &cases {
        let mut c = router.client();
        c.set_read_timeout(Duration::from_secs(3));
        // The router may answer (and close) before reading everything.
        let _ = c.try_send(raw.as_bytes());
        let r = match c.try_read_response(false) {
            Ok(r) => r,
            Err(e @ ReadFail::Timeout { .. }) => {
                failures.push(format!(
                    "{what}: no response; router wedged, stopping: {e:?}"
                ));
                break;
            }
            Err(e) => {
                failures.push(format!("{what}: no response: {e:?}"));
                continue;
            }
        };
        let check = std::panic::catch_unwind(|| assert_fc_error(&r, *status, code));
        if let Err(e) = check {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "?".into());
            failures.push(format!("{what}: {msg}"));
            continue;
        }
        if *status == 405 {
            let allow = r.header("allow").unwrap_or("");
            if !allow.contains("GET") || allow.contains("DELETE") || allow.contains("POST") {
                failures.push(format!("{what}: Allow {allow:?}"));
            }
        }
        // SPEC requires a close after some errors; after the others the connection is
        // either closed as announced (`connection: close`) or still usable.
        if *must_close || r.says_close() {
            if !(r.says_close() && c.is_closed_within(Duration::from_secs(2))) {
                failures.push(format!(
                    "{what}: connection not announced closed and closed after the error"
                ));
            }
        } else {
            c.send(&get_req(BASE, ""));
            match c.try_read_response(false) {
                Ok(r) if r.status == 200 => {}
                Ok(r) => failures.push(format!(
                    "{what}: the next request on the connection got {} {}",
                    r.status,
                    r.text()
                )),
                Err(e) => failures.push(format!(
                    "{what}: the next request on the connection got no answer: {e:?}"
                )),
            }
        }
    }
    // The instance never saw any of these.
    let seen: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.target != BASE)
        .map(|r| r.request_line())
        .collect();
    if !seen.is_empty() {
        failures.push(format!("instance received {seen:?}"));
    }
    // Custom domains ignore disable_url_internet.
    let mut c = router.client();
    c.set_read_timeout(Duration::from_secs(3));
    c.send(b"GET /off HTTP/1.1\r\nHost: example.com\r\n\r\n");
    match c.try_read_response(false) {
        Ok(r) if r.status == 200 => {}
        Ok(r) => failures.push(format!(
            "custom domain to a disabled function: {}",
            r.status
        )),
        Err(e) => failures.push(format!("custom domain to a disabled function: {e:?}")),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn get_s(host: &str, target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn error_408_when_the_head_is_not_received_in_time() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = Router::start(&errors_config(&mock.addr(), &dead_addr()));
    let mut c = router.client();
    c.send(format!("GET {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\n").as_bytes());
    let t0 = Instant::now();
    let r = c.read_response();
    assert_fc_error(&r, 408, "RequestTimeout");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        c.is_closed_within(Duration::from_secs(2)),
        "closed after 408"
    );
    assert_eq!(mock.request_count(), 0);
}

#[test]
fn error_413_for_a_chunked_body_over_the_limit() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = Router::start(&errors_config(&mock.addr(), &dead_addr()));
    let mut c = router.client();
    let chunk = "x".repeat(600);
    let _ = c.try_send(
        format!(
            "POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    );
    match c.try_read_response(false) {
        Ok(r) => assert_fc_error(&r, 413, "EntityTooLarge"),
        // Part of the body may have been forwarded before the limit was crossed; then the
        // only honest answer left is a cut (never a 200).
        Err(ReadFail::Cut { head: None, .. }) => {}
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn error_504_when_the_instance_hangs() {
    let mock = MockInstance::start(Behavior::Hang);
    let router = Router::start(&errors_config(&mock.addr(), &dead_addr()));
    let t0 = Instant::now();
    let r = router.request(&get_req(BASE, ""));
    assert_fc_error(&r, 504, "FunctionTimeout");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(mock.request_count(), 1);
}

#[test]
fn error_502_bad_response_when_the_instance_closes_without_answering() {
    let mock = MockInstance::start(Behavior::CloseWithoutAnswer);
    let router = simple(&mock.addr(), "");
    let r = router.request(&get_req(BASE, ""));
    assert_fc_error(&r, 502, "BadResponse");
}

#[test]
fn error_502_bad_response_for_a_malformed_response_head() {
    let mock = MockInstance::start(Behavior::Respond(
        Resp::ok("x").status(200, "OK").header("bad header", "x"),
    ));
    let router = simple(&mock.addr(), "");
    let r = router.request(&get_req(BASE, ""));
    assert_fc_error(&r, 502, "BadResponse");
}

// ---------------------------------------------------------------------------------------------
// What the instance receives (SPEC.md section 4)
// ---------------------------------------------------------------------------------------------

#[test]
fn request_headers_hop_by_hop_and_spoofed_are_dropped_fc_headers_added() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    let raw = format!(
        "GET {BASE}x?y=1 HTTP/1.1\r\n\
         Host: {SYSTEM_HOST}\r\n\
         User-Agent: itest\r\n\
         X-Fc-Request-Id: spoofed-id\r\n\
         x-fc-account-id: 1\r\n\
         X-FC-Service-Name: evil\r\n\
         x-fc-function-name: evil\r\n\
         x-fc-qualifier: evil\r\n\
         x-fc-base-path: /evil/\r\n\
         x-fc-anything: evil\r\n\
         Connection: keep-alive, X-Hop-One\r\n\
         X-Hop-One: 1\r\n\
         Keep-Alive: timeout=5\r\n\
         Proxy-Connection: keep-alive\r\n\
         TE: gzip\r\n\
         Trailer: X-T\r\n\
         Upgrade: h2c\r\n\
         X-Forwarded-For: 10.1.2.3\r\n\
         X-Keep: yes\r\n\
         Accept: */*\r\n\
         \r\n"
    );
    let r = router.request(raw.as_bytes());
    assert_eq!(r.status, 200);
    let got = mock.only_request();
    assert_eq!(got.request_line(), format!("GET {BASE}x?y=1 HTTP/1.1"));
    for gone in [
        "connection",
        "x-hop-one",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "transfer-encoding",
        "x-fc-anything",
    ] {
        assert!(
            got.header(gone).is_none(),
            "{gone} forwarded: {:?}",
            got.headers
        );
    }
    for kept in [
        ("user-agent", "itest"),
        ("x-keep", "yes"),
        ("accept", "*/*"),
    ] {
        assert_eq!(got.header(kept.0), Some(kept.1), "{}", kept.0);
    }
    assert_eq!(got.header("host"), Some(SYSTEM_HOST));
    // Exactly one of each added header, with fcgate's value.
    for (name, want) in [
        ("x-fc-account-id", ACCOUNT),
        ("x-fc-service-name", "CustomDemo"),
        ("x-fc-function-name", "func-http"),
        ("x-fc-qualifier", "LATEST"),
        ("x-fc-base-path", BASE),
        ("x-forwarded-for", "10.1.2.3, 127.0.0.1"),
        ("x-forwarded-proto", "http"),
        ("x-real-ip", "127.0.0.1"),
    ] {
        assert_eq!(
            got.header_all(name),
            vec![want],
            "{name}: {:?}",
            got.headers
        );
    }
    let ids = got.header_all("x-fc-request-id");
    assert_eq!(ids.len(), 1, "{:?}", got.headers);
    assert_ne!(ids[0], "spoofed-id");
    assert_eq!(
        r.header_all("x-fc-request-id"),
        ids,
        "response id = instance id"
    );
    assert!(got.header("content-length").is_none());
}

#[test]
fn request_ids_are_unique_and_te_trailers_is_kept() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..5 {
        c.send(&get_req(BASE, "TE: trailers\r\n"));
        let r = c.read_response();
        assert!(ids.insert(r.header("x-fc-request-id").unwrap().to_string()));
    }
    let reqs = mock.wait_requests(5);
    assert_eq!(reqs[0].header("te"), Some("trailers"));
    for (req, _) in reqs.iter().zip(0..) {
        assert!(ids.contains(req.header("x-fc-request-id").unwrap()));
    }
}

#[test]
fn content_length_body_is_forwarded_with_its_length() {
    let mock = MockInstance::start(Behavior::EchoBody);
    let router = simple(&mock.addr(), "");
    let r = router.request(
        format!(
            "POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello world");
    let got = mock.only_request();
    assert_eq!(got.header_all("content-length"), vec!["11"]);
    assert!(got.header("transfer-encoding").is_none());
    assert_eq!(got.raw_body(), b"hello world");
    assert!(got.raw().ends_with(b"\r\n\r\nhello world"));
}

#[test]
fn chunked_body_is_forwarded_chunked() {
    let mock = MockInstance::start(Behavior::EchoBody);
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    // The head first, the chunks in separate writes (streamed, not buffered whole).
    c.send(
        format!("POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"6;ext=1\r\n world\r\n");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello world");
    let got = mock.only_request();
    assert!(
        got.chunked,
        "instance got {:?}",
        String::from_utf8_lossy(&got.head)
    );
    assert_eq!(got.header_all("transfer-encoding"), vec!["chunked"]);
    assert!(got.header("content-length").is_none());
    assert_eq!(got.body, b"hello world");
    assert!(got.raw_body().ends_with(b"\r\n0\r\n\r\n"));
}

#[test]
fn big_body_64mib_each_way() {
    const N: u64 = 64 << 20;
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("got it")));
    let router = simple(&mock.addr(), "\n[server]\nmax_body_bytes = 100000000\n");
    // Client -> instance.
    let mut c = router.client();
    c.send(
        format!("POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nContent-Length: {N}\r\n\r\n")
            .as_bytes(),
    );
    let mut buf = vec![0u8; 1 << 20];
    let mut sent = 0u64;
    while sent < N {
        fill_pattern(&mut buf, sent);
        c.stream.write_all(&buf).expect("write body");
        sent += buf.len() as u64;
    }
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"got it"[..]));
    let got = mock.only_request();
    assert_eq!(got.body.len() as u64, N);
    assert!(is_pattern(&got.body, 0), "request body corrupted");
    drop(got);

    // Instance -> client, on the same connection.
    mock.set_behavior(Behavior::Big(N));
    c.send(&get_req(BASE, ""));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(N.to_string().as_str()));
    assert_eq!(r.body.len() as u64, N);
    assert!(is_pattern(&r.body, 0), "response body corrupted");
}

// ---------------------------------------------------------------------------------------------
// Connections (SPEC.md section 5)
// ---------------------------------------------------------------------------------------------

#[test]
fn keep_alive_1000_requests_on_one_connection_and_upstream_pooling() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("pong")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    let req = get_req(BASE, "");
    for i in 0..1000 {
        c.send(&req);
        let r = c.read_response();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"pong"[..]),
            "request {i}"
        );
        assert!(!r.says_close());
    }
    assert_eq!(mock.request_count(), 1000);
    assert!(
        mock.connections() <= 2,
        "instance saw {} connections for 1000 sequential requests",
        mock.connections()
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mock = MockInstance::start(Behavior::EchoBody);
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    let mut raw = Vec::new();
    for body in ["one", "two", "three"] {
        raw.extend_from_slice(
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    c.send(&raw);
    for body in ["one", "two", "three"] {
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), body);
    }
    let bodies: Vec<_> = mock
        .wait_requests(3)
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(bodies, ["one", "two", "three"]);
}

#[test]
fn http10_without_keep_alive_is_closed() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ten")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(format!("GET {BASE} HTTP/1.0\r\nHost: {SYSTEM_HOST}\r\n\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "ten"));
    assert!(
        c.is_closed_within(Duration::from_secs(2)),
        "HTTP/1.0 closed"
    );
    assert_eq!(mock.only_request().version, "HTTP/1.1");
}

#[test]
fn http10_keep_alive_keeps_the_connection() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ten")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    let req =
        format!("GET {BASE} HTTP/1.0\r\nHost: {SYSTEM_HOST}\r\nConnection: keep-alive\r\n\r\n");
    for _ in 0..2 {
        c.send(req.as_bytes());
        let r = c.read_response();
        assert_eq!((r.status, r.text().as_str()), (200, "ten"));
        assert!(
            r.header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("keep-alive"))
        );
    }
    let got = mock.wait_requests(2);
    assert!(got[0].header("connection").is_none());
    assert_eq!(got[1].version, "HTTP/1.1");
}

#[test]
fn http10_client_gets_a_chunked_response_close_delimited() {
    let mock = MockInstance::start(Behavior::Respond(
        Resp::ok("abcdefghij").framing(Framing::Chunked { chunk: 3 }),
    ));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(format!("GET {BASE} HTTP/1.0\r\nHost: {SYSTEM_HOST}\r\n\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.header("transfer-encoding").is_none(), "{:?}", r.headers);
    assert_eq!(r.text(), "abcdefghij");
}

#[test]
fn connection_close_is_honoured() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("bye")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(&get_req(BASE, "Connection: close\r\n"));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.says_close(), "{:?}", r.headers);
    assert!(c.is_closed_within(Duration::from_secs(2)));
    // The upstream connection is still pooled: Connection: close is hop-by-hop.
    assert!(mock.only_request().header("connection").is_none());
}

#[test]
fn head_has_no_body_but_keeps_content_length() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("hello")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(format!("HEAD {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\n\r\n").as_bytes());
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    // No stray body bytes: the next response parses cleanly.
    c.send(&get_req(BASE, ""));
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(c.pending().is_empty());
}

#[test]
fn status_204_and_304_have_no_body() {
    let mock = MockInstance::start(Behavior::Respond(
        Resp::ok("")
            .status(204, "No Content")
            .framing(Framing::Bare),
    ));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(&get_req(BASE, ""));
    let r = c.read_response();
    assert_eq!(r.status, 204);
    assert!(r.header("transfer-encoding").is_none(), "{:?}", r.headers);

    // 304 with a Content-Length describing the unsent representation.
    mock.set_behavior(Behavior::Respond(
        Resp::ok("")
            .status(304, "Not Modified")
            .header("etag", "\"v1\"")
            .header("content-length", "5")
            .framing(Framing::Bare),
    ));
    c.send(&get_req(BASE, "If-None-Match: \"v1\"\r\n"));
    let r = c.read_response();
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some("\"v1\""));
    assert!(r.header("transfer-encoding").is_none());

    mock.set_behavior(Behavior::Respond(Resp::ok("after")));
    c.send(&get_req(BASE, ""));
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "after"));
    assert!(c.pending().is_empty());
}

#[test]
fn expect_100_continue() {
    let mock = MockInstance::start(Behavior::EchoBody);
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(
        format!("POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            .as_bytes(),
    );
    let r = c.read_response();
    assert_eq!(r.status, 100, "interim response before the body");
    c.send(b"hello");
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(mock.only_request().body, b"hello");
}

#[test]
fn chunked_response_is_reframed_for_http11() {
    let mock = MockInstance::start(Behavior::Respond(
        Resp::ok("hello chunked world").framing(Framing::Chunked { chunk: 4 }),
    ));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    for _ in 0..2 {
        c.send(&get_req(BASE, ""));
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.framing, BodyFraming::Chunked);
        assert_eq!(r.header_all("transfer-encoding"), vec!["chunked"]);
        assert!(r.header("content-length").is_none());
        assert_eq!(r.text(), "hello chunked world");
    }
    assert_eq!(
        mock.connections(),
        1,
        "chunked response read to its end is pooled"
    );
}

#[test]
fn close_delimited_response_is_chunked_for_http11_and_connection_kept() {
    let mock = MockInstance::start(Behavior::Respond(
        Resp::ok("until close").framing(Framing::Close),
    ));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    for _ in 0..2 {
        c.send(&get_req(BASE, ""));
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.framing, BodyFraming::Chunked, "{:?}", r.headers);
        assert_eq!(r.text(), "until close");
    }
    assert_eq!(mock.connections(), 2);
}

#[test]
fn websocket_upgrade_echoes_both_ways() {
    let mock = MockInstance::start(Behavior::Upgrade);
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(
        format!("GET {BASE}ws HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .as_bytes(),
    );
    let r = c.read_response();
    assert_eq!(r.status, 101);
    assert!(
        r.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    );
    let got = mock.only_request();
    assert_eq!(got.header("upgrade"), Some("websocket"));
    assert!(
        got.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("upgrade"))
    );
    for msg in [
        &b"ping-1"[..],
        &[0u8, 1, 2, 255, 254][..],
        &[b'z'; 100_000][..],
    ] {
        c.send(msg);
        assert_eq!(c.read_exact_raw(msg.len()), msg);
    }
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(c.read_to_end().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Misbehaving instances
// ---------------------------------------------------------------------------------------------

#[test]
fn instance_closing_pooled_connections_is_invisible_to_the_client() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("fine").close_silently()));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    for i in 0..20 {
        if i % 2 == 0 {
            c.send(&get_req(BASE, ""));
        } else {
            c.send(
                format!(
                    "POST {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nContent-Length: 3\r\n\r\nabc"
                )
                .as_bytes(),
            );
        }
        let r = c.read_response();
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "fine"),
            "request {i}: {:?}",
            r.text()
        );
        if i % 5 == 0 {
            // Let the close reach the router's pool before the next request.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let reqs = mock.wait_requests(20);
    assert!(
        reqs.iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.body == b"abc")
    );
}

#[test]
fn instance_dying_mid_length_body_cuts_the_client() {
    let mock = MockInstance::start(Behavior::DieMidLength);
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(&get_req(BASE, ""));
    match c.try_read_response(false) {
        Err(ReadFail::Cut {
            head: Some(h),
            body_bytes,
            ..
        }) => {
            assert_eq!(h.header("content-length"), Some("1000"));
            assert!(body_bytes < 1000);
        }
        other => panic!("expected a cut response, got {other:?}"),
    }
}

#[test]
fn instance_dying_mid_chunked_body_cuts_the_client() {
    let mock = MockInstance::start(Behavior::DieMidChunked);
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(&get_req(BASE, ""));
    match c.try_read_response(false) {
        Err(ReadFail::Cut { head: Some(h), .. }) => {
            assert_eq!(h.framing, BodyFraming::Chunked, "{:?}", h.headers);
        }
        other => panic!("expected a cut response (no last chunk), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// builtin:echo (SPEC.md section 2)
// ---------------------------------------------------------------------------------------------

#[test]
fn builtin_echo_answers_what_an_instance_would_receive() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let cfg = format!(
        "{}{}",
        function("CustomDemo", "func-http", &mock.addr(), ""),
        function("CustomDemo", "func-echo", "builtin:echo", "")
    );
    let router = Router::start(&cfg);
    let req = |func: &str| {
        format!(
            "POST /2016-08-15/proxy/CustomDemo/{func}/p?q=1 HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nX-Fc-Evil: 1\r\nConnection: keep-alive\r\nX-Forwarded-For: 10.0.0.9\r\nUser-Agent: itest\r\nContent-Length: 3\r\n\r\nabc"
        )
    };
    let r = router.request(req("func-echo").as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<_> = obj.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["body_bytes", "headers", "method", "target"]);
    assert_eq!(obj["method"], "POST");
    assert_eq!(
        obj["target"],
        "/2016-08-15/proxy/CustomDemo/func-echo/p?q=1"
    );
    assert_eq!(obj["body_bytes"], 3);
    let echoed: Vec<(String, String)> = obj["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_array().expect("[name, value]");
            assert_eq!(p.len(), 2);
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        header_of(&echoed, "x-fc-request-id"),
        r.header("x-fc-request-id"),
        "echoed id = response id"
    );

    // The same request to a real instance: the same fields, in the same order.
    let r2 = router.request(req("func-http").as_bytes());
    assert_eq!(r2.status, 200);
    let got = mock.only_request();
    let differ = ["x-fc-request-id", "x-fc-function-name", "x-fc-base-path"];
    let norm = |h: &[(String, String)]| -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| {
                let n = n.to_ascii_lowercase();
                let v = if differ.contains(&n.as_str()) {
                    String::new()
                } else {
                    v.clone()
                };
                (n, v)
            })
            .collect()
    };
    assert_eq!(norm(&echoed), norm(&got.headers));
    assert_eq!(header_of(&echoed, "x-fc-function-name"), Some("func-echo"));

    // Chunked: body_bytes counts the de-chunked body.
    let r = router.request(
        format!("POST /2016-08-15/proxy/CustomDemo/func-echo/ HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(r.json()["body_bytes"], 7);
}

// ---------------------------------------------------------------------------------------------
// More framing and connection edge cases
// ---------------------------------------------------------------------------------------------

#[test]
fn error_answer_on_a_keep_alive_connection_is_sent_once() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(&get_req("/2016-08-15/proxy/CustomDemo/nope/", ""));
    let r = c.read_response();
    assert_fc_error(&r, 404, "FunctionNotFound");
    // Nothing else may follow until the next request is sent.
    c.set_read_timeout(Duration::from_millis(300));
    let extra = c.try_read_response(false);
    c.set_read_timeout(READ_TIMEOUT);
    assert!(
        matches!(extra, Err(ReadFail::Timeout { ref raw }) if raw.is_empty()),
        "one request, more than one answer: {:?}",
        extra.map(|r| (r.status, r.text()))
    );
}

#[test]
fn a_client_leaving_after_an_error_does_not_wedge_the_worker() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    {
        let mut c = router.client();
        c.send(&get_req("/2016-08-15/proxy/CustomDemo/nope/", ""));
        assert_fc_error(&c.read_response(), 404, "FunctionNotFound");
    }
    // The client is gone; the one worker must still serve a new connection.
    let mut c = router.client();
    c.set_read_timeout(Duration::from_secs(3));
    c.send(&get_req(BASE, ""));
    match c.try_read_response(false) {
        Ok(r) => assert_eq!(r.status, 200),
        Err(e) => panic!("worker no longer serves after a client left an error: {e:?}"),
    }
}

#[test]
fn expect_100_continue_is_not_sent_when_the_request_is_answered_at_once() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(
        format!("POST /2016-08-15/proxy/CustomDemo/nope/ HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            .as_bytes(),
    );
    let r = c.read_response();
    assert_fc_error(&r, 404, "FunctionNotFound");
}

#[test]
fn interim_1xx_is_passed_to_http11_clients() {
    let mock = MockInstance::start(Behavior::Raw {
        bytes: b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"
            .to_vec(),
        close: false,
    });
    let router = simple(&mock.addr(), "");
    let mut c = router.client();
    c.send(&get_req(BASE, ""));
    let r = c.read_response();
    assert_eq!(r.status, 103);
    assert_eq!(r.header("link"), Some("</style.css>; rel=preload"));
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "body"));
    // An HTTP/1.0 client gets only the final response.
    let mut c = router.client();
    c.send(format!("GET {BASE} HTTP/1.0\r\nHost: {SYSTEM_HOST}\r\n\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "body"));
}

#[test]
fn response_hop_by_hop_headers_are_removed_and_request_id_replaced() {
    let mock = MockInstance::start(Behavior::Raw {
        bytes: b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\nUpgrade: foo\r\nx-fc-request-id: from-instance\r\nX-App: yes\r\nContent-Length: 2\r\n\r\nok"
            .to_vec(),
        close: false,
    });
    let router = simple(&mock.addr(), "");
    let r = router.request(&get_req(BASE, ""));
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    for gone in [
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "trailer",
        "upgrade",
    ] {
        assert!(
            r.header(gone).is_none(),
            "{gone} passed to the client: {:?}",
            r.headers
        );
    }
    assert!(
        r.header("connection")
            .is_none_or(|v| !v.contains("X-Secret"))
    );
    assert_eq!(r.header("x-app"), Some("yes"));
    let ids = r.header_all("x-fc-request-id");
    assert_eq!(ids.len(), 1, "{:?}", r.headers);
    assert_eq!(
        ids[0],
        mock.only_request().header("x-fc-request-id").unwrap()
    );
    assert_eq!(r.header_all("content-length"), vec!["2"]);
}

#[test]
fn response_with_both_lengths_never_reaches_the_client_as_is() {
    let mock = MockInstance::start(Behavior::Raw {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            .to_vec(),
        close: false,
    });
    let router = simple(&mock.addr(), "");
    let r = router.request(&get_req(BASE, ""));
    assert_fc_error(&r, 502, "BadResponse");
}

#[test]
fn several_x_forwarded_for_fields_are_joined() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    router.get(
        SYSTEM_HOST,
        BASE,
        "X-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2, 10.0.0.3\r\nX-Real-IP: 6.6.6.6\r\n",
    );
    let got = mock.only_request();
    assert_eq!(
        got.header_all("x-forwarded-for"),
        vec!["10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1"]
    );
    assert_eq!(got.header_all("x-real-ip"), vec!["127.0.0.1"]);
}

#[test]
fn ambiguous_requests_are_400_closed_and_never_reach_an_instance() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "");
    let h = SYSTEM_HOST;
    let cases: Vec<(&str, String)> = vec![
        (
            "two Content-Lengths",
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {h}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
            ),
        ),
        (
            "Content-Length list",
            format!("POST {BASE} HTTP/1.1\r\nHost: {h}\r\nContent-Length: 2, 3\r\n\r\nab"),
        ),
        (
            "signed Content-Length",
            format!("POST {BASE} HTTP/1.1\r\nHost: {h}\r\nContent-Length: +2\r\n\r\nab"),
        ),
        (
            "Transfer-Encoding + Content-Length",
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n"
            ),
        ),
        (
            "space before colon",
            format!("GET {BASE} HTTP/1.1\r\nHost: {h}\r\nContent-Length : 0\r\n\r\n"),
        ),
        (
            "obs-fold",
            format!("GET {BASE} HTTP/1.1\r\nHost: {h}\r\nX-A: 1\r\n  folded\r\n\r\n"),
        ),
        (
            "bare CR in a value",
            format!("GET {BASE} HTTP/1.1\r\nHost: {h}\r\nX-A: 1\r2\r\n\r\n"),
        ),
        (
            "bare LF line ends",
            format!("GET {BASE} HTTP/1.1\nHost: {h}\n\n"),
        ),
        (
            "Transfer-Encoding on HTTP/1.0",
            format!(
                "POST {BASE} HTTP/1.0\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
        ),
        (
            "bad chunk size",
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
            ),
        ),
        (
            "chunk without its CRLF",
            format!(
                "POST {BASE} HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (what, raw) in &cases {
        let mut c = router.client();
        let _ = c.try_send(raw.as_bytes());
        match c.try_read_response(false) {
            Ok(r) => {
                if r.status != 400
                    || r.header("content-type") != Some("application/json")
                    || !r.text().contains("\"BadRequest\"")
                {
                    failures.push(format!("{what}: {} {}", r.status, r.text()));
                } else if !(r.says_close() && c.is_closed_within(Duration::from_secs(2))) {
                    failures.push(format!("{what}: connection not closed"));
                }
            }
            Err(e) => failures.push(format!("{what}: no answer: {e:?}")),
        }
    }
    let seen: Vec<String> = mock.requests().iter().map(|r| r.request_line()).collect();
    if !seen.is_empty() {
        failures.push(format!("complete requests reached the instance: {seen:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_503_when_max_connections_is_reached() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = simple(&mock.addr(), "\n[server]\nmax_connections = 1\n");
    // The start-up probe's connection may still be counted for a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut first = loop {
        let mut c = router.client();
        c.send(&get_req(BASE, ""));
        if c.try_read_response(false).is_ok_and(|r| r.status == 200) {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "no connection accepted with max_connections = 1"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut second = router.client();
    let _ = second.try_send(&get_req(BASE, ""));
    let r = second.read_response();
    assert_fc_error(&r, 503, "ResourceExhausted");
    // The first connection is unaffected.
    first.send(&get_req(BASE, ""));
    assert_eq!(first.read_response().status, 200);
}

// ---------------------------------------------------------------------------------------------
// Instance choice and passive health (SPEC.md section 6)
// ---------------------------------------------------------------------------------------------

/// A free 127.0.0.1 port with nothing listening on it.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

fn two_instance_router(a: &str, b: &str) -> Router {
    Router::start(&format!(
        "[upstream]\nconnect_timeout_ms = 500\nretries = 1\n\n[[function]]\naccount = \"{ACCOUNT}\"\nservice = \"CustomDemo\"\nname = \"func-http\"\nupstreams = [\"{a}\", \"{b}\"]\n"
    ))
}

#[test]
fn requests_spread_over_instances() {
    let a = MockInstance::start(Behavior::Respond(Resp::ok("a")));
    let b = MockInstance::start(Behavior::Respond(Resp::ok("b")));
    let router = two_instance_router(&a.addr(), &b.addr());
    // Concurrent clients keep requests outstanding, so both instances get work.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let port = router.port();
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                for _ in 0..50 {
                    c.send(&get_req(BASE, ""));
                    assert_eq!(c.read_response().status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (na, nb) = (a.request_count(), b.request_count());
    assert_eq!(na + nb, 200);
    assert!(
        na > 0 && nb > 0,
        "all requests went to one instance: a={na} b={nb}"
    );
}

#[test]
fn a_refusing_instance_is_skipped_and_requests_still_succeed() {
    let good = MockInstance::start(Behavior::Respond(Resp::ok("up")));
    let down = closed_port();
    let router = two_instance_router(&down, &good.addr());
    let mut c = router.client();
    for i in 0..40 {
        c.send(&get_req(BASE, ""));
        let r = c.read_response();
        assert_eq!((r.status, r.text()), (200, "up".to_string()), "request {i}");
    }
    assert_eq!(good.request_count(), 40);
}

#[test]
fn all_instances_refusing_is_502_function_not_reachable() {
    let router = two_instance_router(&closed_port(), &closed_port());
    let r = router.get(SYSTEM_HOST, BASE, "");
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["errorCode"], "FunctionNotReachable");
    assert!(r.header("x-fc-request-id").is_some());
}
