//! The command line, end to end: the real binary's `check` and `explain` (SPEC.md section 1)
//! on temp config files. No sockets are opened: `explain` does no network I/O.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_fcgate");
const ACCOUNT: &str = "1649015465571234";
const ENDPOINT: &str = "http://1649015465571234.cn-hangzhou.fc.aliyuncs.com";
const TRIGGER: &str = "http://funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run";

/// The FAQ's functions and domains, plus a few to reach every answer of SPEC.md 3.5.
const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:8080"]

[platform]
region = "cn-hangzhou"

[[function]]
account = "1649015465571234"
service = "CustomDemo"
name = "func-http"
upstreams = ["127.0.0.1:9000", "127.0.0.1:9001"]
methods = ["GET", "POST"]
subdomain = "funcname-svcname-khljsjksld"

[[function]]
account = "1649015465571234"
service = "CustomDemo"
name = "func-strip"
qualifier = "prod"
upstreams = ["builtin:echo"]
proxy_path = "strip"

[[function]]
account = "1649015465571234"
service = "CustomDemo"
name = "func-closed"
upstreams = ["builtin:echo"]
subdomain = "closed"
disable_url_internet = true

[[domain]]
name = "example.com"
account = "1649015465571234"

[[domain.route]]
path = "/test"
service = "CustomDemo"
function = "func-http"
methods = ["GET", "POST"]

[[domain.route]]
path = "/api/*"
service = "CustomDemo"
function = "func-http"

[[domain.route.rewrite]]
kind = "wildcard"
match = "/api/*"
replacement = "/$1"

[[domain.route]]
path = "/closed/*"
service = "CustomDemo"
function = "func-closed"

[[domain]]
name = "*.example.com"
account = "1649015465571234"

[[domain.route]]
path = "/*"
service = "CustomDemo"
function = "func-strip"
qualifier = "prod"
"#;

/// A config file under the temp dir, removed on drop.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(name: &str, text: &str) -> TempConfig {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("fcgate-cli-{}-{n}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).expect("write temp config");
        TempConfig(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn fcgate(args: &[&str]) -> Out {
    let out = Command::new(BIN).args(args).output().expect("run fcgate");
    Out {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn explain_in(config: &str, args: &[&str]) -> Out {
    let cfg = TempConfig::new("explain", config);
    let mut all = vec!["explain", "--config", cfg.path()];
    all.extend_from_slice(args);
    fcgate(&all)
}

/// `explain` on [`CONFIG`], text output.
fn explain(args: &[&str]) -> Out {
    explain_in(CONFIG, args)
}

/// `explain --json` on [`CONFIG`]: the exit code and the one JSON object on stdout.
fn explain_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = explain(&all);
    assert_eq!(out.stdout.lines().count(), 1, "one line: {:?}", out.stdout);
    let v: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON object");
    assert!(v.is_object(), "{v}");
    assert_eq!(out.stderr, "");
    (out.code, v)
}

fn headers(function: &str, qualifier: &str, base_path: Option<&str>) -> Value {
    let mut h = json!({
        "x-fc-account-id": ACCOUNT,
        "x-fc-service-name": "CustomDemo",
        "x-fc-function-name": function,
        "x-fc-qualifier": qualifier,
    });
    if let Some(b) = base_path {
        h["x-fc-base-path"] = json!(b);
    }
    h
}

fn routed(mode: &str, function: &str, qualifier: &str, target: &str, base: Option<&str>) -> Value {
    let upstreams = match function {
        "func-http" => json!(["127.0.0.1:9000", "127.0.0.1:9001"]),
        _ => json!(["builtin:echo"]),
    };
    json!({
        "mode": mode,
        "account": ACCOUNT,
        "service": "CustomDemo",
        "function": function,
        "qualifier": qualifier,
        "upstreams": upstreams,
        "target": target,
        "headers": headers(function, qualifier, base),
    })
}

fn answered(status: u16, code: &str) -> impl Fn(&Value) {
    move |v: &Value| {
        assert_eq!(v["status"], json!(status), "{v}");
        assert_eq!(v["errorCode"], json!(code), "{v}");
        assert!(
            v["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
}

/// The value of the `key:` line of explain's text output.
fn field<'o>(text: &'o str, key: &str) -> &'o str {
    let prefix = format!("{key}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key}: line in {text}"))
        .trim()
}

fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/fcgate.toml")
}

// ---- check ----

#[test]
fn check_shipped_config() {
    let path = shipped_config();
    let path = path.to_str().unwrap();
    let out = fcgate(&["check", "--config", path]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let summary = out
        .stdout
        .trim_end()
        .strip_prefix(&format!("{path}: ok: "))
        .unwrap_or_else(|| panic!("summary: {}", out.stdout));
    let counts: Vec<&str> = summary.split(", ").collect();
    assert_eq!(counts.len(), 3, "{summary}");
    for (c, what) in counts.iter().zip(["functions", "domains", "routes"]) {
        let (n, w) = c.split_once(' ').unwrap();
        assert!(n.parse::<usize>().unwrap() > 0, "{summary}");
        assert_eq!(w, what, "{summary}");
    }
}

#[test]
fn check_counts() {
    let cfg = TempConfig::new("counts", CONFIG);
    let out = fcgate(&["check", "--config", cfg.path()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{}: ok: 3 functions, 2 domains, 4 routes\n", cfg.path())
    );
}

#[test]
fn check_reports_every_error_with_line_and_column() {
    let cfg = TempConfig::new(
        "broken",
        r#"[server]
listen = ["127.0.0.1:8080"]
bogus = 1

[[function]]
account = "1"
service = "S"
name = "f"
upstreams = ["nope"]
methods = ["GET", "FETCH"]

[[domain]]
name = "example.com"
account = "1"

[[domain.route]]
path = "test"
service = "S"
function = "g"
"#,
    );
    let out = fcgate(&["check", "--config", cfg.path()]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    let expected = [
        (3, 1, "bogus"),
        (9, 14, "nope"),
        (10, 19, "FETCH"),
        (17, 8, "test"),
        (19, 12, "g"),
    ];
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{}", out.stderr);
    for (line, (l, c, word)) in lines.iter().zip(expected) {
        let prefix = format!("{}:{l}:{c}: ", cfg.path());
        assert!(
            line.starts_with(&prefix),
            "{line:?} should start with {prefix:?}"
        );
        assert!(line.contains(word), "{line:?} should mention {word:?}");
    }
}

#[test]
fn check_reports_duplicates() {
    let cfg = TempConfig::new(
        "dups",
        r#"[[function]]
account = "1"
service = "S"
name = "f"
upstreams = ["builtin:echo"]
subdomain = "lbl"

[[function]]
account = "1"
service = "S"
name = "f"
upstreams = ["builtin:echo"]
subdomain = "lbl"
"#,
    );
    let out = fcgate(&["check", "--config", cfg.path()]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.lines().count() >= 2, "{}", out.stderr);
    for line in out.stderr.lines() {
        let rest = line.strip_prefix(&format!("{}:", cfg.path())).unwrap();
        let mut parts = rest.splitn(3, ':');
        let l: usize = parts.next().unwrap().parse().unwrap();
        let c: usize = parts.next().unwrap().parse().unwrap();
        assert!((8..=13).contains(&l) && c >= 1, "{line}");
    }
}

#[test]
fn check_toml_syntax_error() {
    let cfg = TempConfig::new("syntax", "[server]\nlisten = [\n");
    let out = fcgate(&["check", "--config", cfg.path()]);
    assert_eq!(out.code, 1);
    let line = out.stderr.trim_end();
    assert!(line.starts_with(&format!("{}:", cfg.path())), "{line}");
    assert!(line.contains("TOML syntax error"), "{line}");
}

#[test]
fn check_missing_file() {
    let path = std::env::temp_dir().join(format!("fcgate-cli-{}-missing.toml", std::process::id()));
    let path = path.to_str().unwrap();
    let out = fcgate(&["check", "--config", path]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(&format!("{path}:1:1: ")),
        "{}",
        out.stderr
    );
}

// ---- explain: the four modes, the FAQ's examples ----

#[test]
fn explain_proxy_full_text() {
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo/func-http/test");
    let out = explain(&[&url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let t = &out.stdout;
    assert!(field(t, "mode").starts_with("proxy"), "{t}");
    assert_eq!(field(t, "account"), ACCOUNT);
    assert_eq!(field(t, "service"), "CustomDemo");
    assert_eq!(field(t, "function"), "func-http");
    assert_eq!(field(t, "qualifier"), "LATEST");
    assert_eq!(field(t, "upstreams"), "127.0.0.1:9000, 127.0.0.1:9001");
    assert!(
        field(t, "target").starts_with("/2016-08-15/proxy/CustomDemo/func-http/test "),
        "{t}"
    );
    for h in [
        "x-fc-account-id: 1649015465571234",
        "x-fc-service-name: CustomDemo",
        "x-fc-function-name: func-http",
        "x-fc-qualifier: LATEST",
        "x-fc-base-path: /2016-08-15/proxy/CustomDemo/func-http/",
    ] {
        assert!(t.lines().any(|l| l.trim() == h), "no {h:?} in {t}");
    }
    for h in [
        "x-fc-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-real-ip",
    ] {
        assert!(t.contains(h), "{h} not mentioned in {t}");
    }
    let hint = t.lines().find(|l| l.starts_with("hint:")).expect("a hint");
    for word in [
        "404",
        "/test",
        "funcname-svcname-khljsjksld.cn-hangzhou.fcapp.run/test",
        "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-http",
        "custom domain",
        "proxy_path = \"strip\"",
    ] {
        assert!(hint.contains(word), "{word:?} not in {hint}");
    }
}

#[test]
fn explain_proxy_full_json() {
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo/func-http/test?x=1");
    let (code, v) = explain_json(&[&url]);
    assert_eq!(code, 0);
    let base = "/2016-08-15/proxy/CustomDemo/func-http/";
    let target = "/2016-08-15/proxy/CustomDemo/func-http/test?x=1";
    assert_eq!(
        v,
        routed("proxy", "func-http", "LATEST", target, Some(base))
    );
}

#[test]
fn explain_proxy_strip() {
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo.prod/func-strip/test?x=1");
    let (code, v) = explain_json(&[&url]);
    assert_eq!(code, 0);
    let base = "/2016-08-15/proxy/CustomDemo.prod/func-strip/";
    assert_eq!(
        v,
        routed("proxy", "func-strip", "prod", "/test?x=1", Some(base))
    );

    let out = explain(&[&url]);
    assert_eq!(out.code, 0);
    assert!(field(&out.stdout, "target").starts_with("/test?x=1 "));
    assert!(!out.stdout.contains("hint:"), "{}", out.stdout);

    // No rest: the instance gets `/`.
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo.prod/func-strip");
    let (_, v) = explain_json(&[&url]);
    assert_eq!(v["target"], "/");
}

#[test]
fn explain_header_mode() {
    let h = "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-http";
    let url = format!("{ENDPOINT}/test");
    let (code, v) = explain_json(&["-H", h, &url]);
    assert_eq!(code, 0);
    assert_eq!(v, routed("header", "func-http", "LATEST", "/test", None));

    let out = explain(&["-H", h, &url]);
    assert_eq!(out.code, 0);
    assert!(field(&out.stdout, "mode").starts_with("header"));
    assert!(field(&out.stdout, "target").starts_with("/test "));
    assert!(!out.stdout.contains("x-fc-base-path"), "{}", out.stdout);

    // A leading `/`, a qualifier, and the -internal endpoint.
    let h = "X-Fc-Invocation-Target: /2016-08-15/proxy/CustomDemo.prod/func-strip";
    let url = "http://1649015465571234.cn-hangzhou-internal.fc.aliyuncs.com/a?b=c";
    let (code, v) = explain_json(&["-H", h, url]);
    assert_eq!(code, 0);
    assert_eq!(v, routed("header", "func-strip", "prod", "/a?b=c", None));
}

#[test]
fn explain_subdomain() {
    let url = format!("{TRIGGER}/action?hello=world");
    let (code, v) = explain_json(&[&url]);
    assert_eq!(code, 0);
    assert_eq!(
        v,
        routed(
            "subdomain",
            "func-http",
            "LATEST",
            "/action?hello=world",
            None
        )
    );

    let out = explain(&[&url]);
    assert_eq!(out.code, 0);
    assert!(field(&out.stdout, "mode").starts_with("subdomain"));
    assert!(field(&out.stdout, "target").starts_with("/action?hello=world "));
}

#[test]
fn explain_custom_domain() {
    let (code, v) = explain_json(&["http://example.com/test"]);
    assert_eq!(code, 0);
    assert_eq!(v, routed("domain", "func-http", "LATEST", "/test", None));

    // Rewrite `/api/*` -> `/$1`; the query is kept.
    let (code, v) = explain_json(&["https://EXAMPLE.com:8443/api/get?x=1"]);
    assert_eq!(code, 0);
    assert_eq!(v, routed("domain", "func-http", "LATEST", "/get?x=1", None));
    let out = explain(&["http://example.com/api/get"]);
    assert_eq!(out.code, 0);
    assert!(field(&out.stdout, "mode").starts_with("domain"));
    assert_eq!(
        field(&out.stdout, "target"),
        "/get (rewritten from /api/get)"
    );

    // The wildcard domain; the prefix is not stripped without a rewrite.
    let (code, v) = explain_json(&["http://a.b.example.com/anything/else"]);
    assert_eq!(code, 0);
    assert_eq!(
        v,
        routed("domain", "func-strip", "prod", "/anything/else", None)
    );
}

#[test]
fn explain_host_header_overrides_url_host() {
    let (code, v) = explain_json(&["-H", "Host: example.com", "http://127.0.0.1:8080/test"]);
    assert_eq!(code, 0);
    assert_eq!(v["mode"], "domain");
    assert_eq!(v["target"], "/test");

    let host = "Host: 1649015465571234.cn-hangzhou.fc.aliyuncs.com";
    let url = "http://[::1]:8080/2016-08-15/proxy/CustomDemo/func-http/test";
    let (code, v) = explain_json(&["-H", host, url]);
    assert_eq!(code, 0);
    assert_eq!(v["mode"], "proxy");
}

#[test]
fn explain_invocation_target_counts_only_on_the_system_endpoint() {
    let h = "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-strip";
    let (code, v) = explain_json(&["-H", h, "http://example.com/test"]);
    assert_eq!(code, 0);
    assert_eq!(v["mode"], "domain");
    assert_eq!(v["function"], "func-http");
}

// ---- explain: answers ----

#[test]
fn explain_unknown_function() {
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo/nope/test");
    let (code, v) = explain_json(&[&url]);
    assert_eq!(code, 1);
    answered(404, "FunctionNotFound")(&v);
    assert_eq!(v.as_object().unwrap().len(), 3, "{v}");

    let out = explain(&[&url]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.starts_with("404 FunctionNotFound: "),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 1);
}

#[test]
fn explain_not_found_codes() {
    let cases = [
        (
            format!("{ENDPOINT}/2016-08-15/proxy/Other/func-http/"),
            "ServiceNotFound",
        ),
        (
            format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo.7/func-http/"),
            "VersionNotFound",
        ),
        (
            format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo.beta/func-http/"),
            "AliasNotFound",
        ),
        (format!("{ENDPOINT}/test"), "PathNotFound"),
        (
            format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo"),
            "PathNotFound",
        ),
        (
            "http://nope.cn-hangzhou.fcapp.run/".to_string(),
            "TriggerNotFound",
        ),
        ("http://example.org/test".to_string(), "DomainNameNotFound"),
        (
            "http://example.com/other".to_string(),
            "DomainRouteNotFound",
        ),
    ];
    for (url, code) in cases {
        let (exit, v) = explain_json(&[&url]);
        assert_eq!(exit, 1, "{url}");
        answered(404, code)(&v);
    }
    let out = explain(&["http://example.org/test"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.starts_with("404 DomainNameNotFound: "),
        "{}",
        out.stdout
    );
}

#[test]
fn explain_method_not_allowed() {
    let (code, v) = explain_json(&["-X", "DELETE", "http://example.com/test"]);
    assert_eq!(code, 1);
    answered(405, "MethodNotAllowed")(&v);
    assert_eq!(v["allow"], "GET, POST");

    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo/func-http/test");
    let out = explain(&["-X", "PUT", &url]);
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("405 MethodNotAllowed: "),
        "{}",
        out.stdout
    );
    assert_eq!(lines[1], "Allow: GET, POST");

    // A method allowed by the route is routed.
    let (code, _) = explain_json(&["-X", "POST", "http://example.com/test"]);
    assert_eq!(code, 0);
}

#[test]
fn explain_bad_invocation_target() {
    let url = format!("{ENDPOINT}/test");
    for h in [
        "x-fc-invocation-target: CustomDemo/func-http",
        "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo",
        "x-fc-invocation-target: 2016-08-15/proxy/CustomDemo/func-http/extra",
    ] {
        let (code, v) = explain_json(&["-H", h, &url]);
        assert_eq!(code, 1, "{h}");
        answered(400, "InvalidArgument")(&v);
    }
    let out = explain(&["-H", "x-fc-invocation-target: nonsense", &url]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.starts_with("400 InvalidArgument: "),
        "{}",
        out.stdout
    );
}

#[test]
fn explain_disable_url_internet() {
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo/func-closed/x");
    let (code, v) = explain_json(&[&url]);
    assert_eq!(code, 1);
    answered(403, "AccessDenied")(&v);
    assert_eq!(
        v["errorMessage"],
        "access denied due to function internet URL is disable"
    );
    let (code, v) = explain_json(&["http://closed.cn-hangzhou-vpc.fcapp.run/x"]);
    assert_eq!(code, 1);
    answered(403, "AccessDenied")(&v);
    let out = explain(&[&url]);
    assert!(
        out.stdout.starts_with("403 AccessDenied: "),
        "{}",
        out.stdout
    );

    // Custom domains are not affected.
    let (code, v) = explain_json(&["http://example.com/closed/x"]);
    assert_eq!(code, 0);
    assert_eq!(v["function"], "func-closed");
}

#[test]
fn explain_without_host_is_bad_request() {
    let (code, v) = explain_json(&["-H", "Host:", "http://example.com/test"]);
    assert_eq!(code, 1);
    answered(400, "BadRequest")(&v);
    let (code, v) = explain_json(&["-H", "Host: a", "-H", "Host: b", "http://example.com/"]);
    assert_eq!(code, 1);
    answered(400, "BadRequest")(&v);
}

// ---- explain: usage and config errors ----

#[test]
fn explain_bad_url_or_header_is_exit_2() {
    for args in [
        &["ftp://example.com/test"][..],
        &["http:///test"],
        &["http://example.com/a b"],
        &["http://example.com:port/"],
        &["-H", "no colon", "http://example.com/"],
        &["-X", "GE T", "http://example.com/"],
    ] {
        let out = explain(args);
        assert_eq!(out.code, 2, "{args:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.contains("explain"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn explain_bad_config() {
    let broken = "[server]\nbogus = 1\n\n[[function]]\naccount = \"1\"\nservice = \"S\"\nname = \"f\"\nupstreams = [\"x\"]\n";
    for json in [false, true] {
        let mut args = vec!["http://example.com/"];
        if json {
            args.insert(0, "--json");
        }
        let cfg = TempConfig::new("explain-broken", broken);
        let mut all = vec!["explain", "--config", cfg.path()];
        all.extend_from_slice(&args);
        let out = fcgate(&all);
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{}", out.stderr);
        assert!(
            lines[0].starts_with(&format!("{}:2:1: ", cfg.path())),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with(&format!("{}:8:14: ", cfg.path())),
            "{}",
            lines[1]
        );
    }
}

#[test]
fn explain_shipped_config() {
    let path = shipped_config();
    let url = format!("{ENDPOINT}/2016-08-15/proxy/CustomDemo/func-http/test");
    let out = fcgate(&[
        "explain",
        "--config",
        path.to_str().unwrap(),
        "--json",
        &url,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["upstreams"], json!(["builtin:echo"]));
    assert_eq!(v["target"], "/2016-08-15/proxy/CustomDemo/func-http/test");
}
