//! Operations tests (SPEC.md section 6): the real binary on 127.0.0.1 with its admin listener;
//! SIGHUP reloads (also under load, also of a broken config), SIGTERM drains, `/metrics`,
//! `/config`, the access log and its reopening, and the client/upstream timeouts and limits.
//!
//! Every wait is bounded (`wait_until`, read timeouts, `wait_exit`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn temp_file(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "fcgate-ops-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Polls `f` every 10 ms for at most `timeout`; true once it held.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One `[[function]]` of account `ACCOUNT`, service `svc`.
fn function(name: &str, upstream: &str) -> String {
    format!(
        "\n[[function]]\naccount = \"{ACCOUNT}\"\nservice = \"svc\"\nname = \"{name}\"\nupstreams = [\"{upstream}\"]\n"
    )
}

/// One `[[domain]]` of account `ACCOUNT` with `routes` as `(path, function)`.
fn domain(name: &str, routes: &[(&str, &str)]) -> String {
    let mut s = format!("\n[[domain]]\nname = \"{name}\"\naccount = \"{ACCOUNT}\"\n");
    for (path, f) in routes {
        s.push_str(&format!(
            "[[domain.route]]\npath = \"{path}\"\nservice = \"svc\"\nfunction = \"{f}\"\n"
        ));
    }
    s
}

/// A config with an `[admin]` section on `admin`; `head` goes first (a `[server]` section,
/// `[log]`, `[upstream]`), then `body` (functions, domains).
fn config(admin: u16, head: &str, body: &str) -> String {
    format!("{head}\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n{body}")
}

/// A router and its admin port.
struct Gate {
    router: Router,
    admin: u16,
}

impl Gate {
    /// `head` and `body` as for [`config`].
    fn start(head: &str, body: &str) -> Gate {
        let admin = free_port();
        let router = Router::start(&config(admin, head, body));
        Gate { router, admin }
    }

    /// Rewrites the config (same admin port) and sends SIGHUP.
    fn reload(&self, head: &str, body: &str) {
        self.router.rewrite_config(&config(self.admin, head, body));
        self.router.signal(libc::SIGHUP);
    }

    fn admin_raw(&self, raw: &[u8]) -> Response {
        let mut c = Client::connect(self.admin);
        c.send(raw);
        let r = c.read_response();
        assert!(r.says_close(), "admin answers say connection: close");
        assert!(
            c.is_closed_within(Duration::from_secs(2)),
            "admin closes after one answer"
        );
        r
    }

    fn admin_get(&self, path: &str) -> Response {
        self.admin_raw(format!("GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n").as_bytes())
    }

    fn metrics(&self) -> String {
        let r = self.admin_get("/metrics");
        assert_eq!(r.status, 200);
        r.text()
    }

    fn config_json(&self) -> serde_json::Value {
        let r = self.admin_get("/config");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        r.json()
    }

    fn generation(&self) -> u64 {
        self.config_json()["generation"]
            .as_u64()
            .expect("generation")
    }

    /// Waits (at most 5 s) until `/config` shows generation `n`.
    fn wait_generation(&self, n: u64) {
        assert!(
            wait_until(Duration::from_secs(5), || self.generation() == n),
            "generation {n} not reached (at {})\n{}",
            self.generation(),
            self.router.log()
        );
    }

    /// The value of the sample line `name_and_labels` (None when absent).
    fn metric(&self, name_and_labels: &str) -> Option<f64> {
        metric(&self.metrics(), name_and_labels)
    }

    /// Waits (at most 3 s) until the sample equals `v`.
    fn wait_metric(&self, name_and_labels: &str, v: f64) {
        let mut last = None;
        let ok = wait_until(Duration::from_secs(3), || {
            last = self.metric(name_and_labels);
            last == Some(v)
        });
        assert!(
            ok,
            "{name_and_labels}: want {v}, have {last:?}\n{}",
            self.metrics()
        );
    }
}

fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name_and_labels).then(|| v.parse().expect("sample value"))
    })
}

fn proxy_get(name: &str, rest: &str) -> Vec<u8> {
    format!("GET /2016-08-15/proxy/svc/{name}/{rest} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\n\r\n")
        .into_bytes()
}

fn host_get(host: &str, target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

/// A function instance that answers `200 slow` `delay` after each request arrives;
/// `arrived` counts the requests.
struct SlowInstance {
    addr: SocketAddr,
    arrived: Arc<AtomicUsize>,
}

impl SlowInstance {
    fn start(delay: Duration) -> SlowInstance {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let arrived = Arc::new(AtomicUsize::new(0));
        let a = arrived.clone();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let a = a.clone();
                thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut w = s.try_clone().expect("clone");
                    let mut r = BufReader::new(s);
                    loop {
                        // Heads only (the tests send no bodies here).
                        let mut line = String::new();
                        loop {
                            line.clear();
                            match r.read_line(&mut line) {
                                Ok(0) | Err(_) => return,
                                Ok(_) if line == "\r\n" => break,
                                Ok(_) => {}
                            }
                        }
                        a.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(delay);
                        if w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow")
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        SlowInstance { addr, arrived }
    }

    fn wait_arrived(&self, n: usize) {
        assert!(
            wait_until(Duration::from_secs(5), || self
                .arrived
                .load(Ordering::SeqCst)
                >= n),
            "the slow instance got no request"
        );
    }
}

/// A function instance that never answers and reports, per connection, the bytes it
/// received before the connection was closed (or `None` when it never was, within 10 s).
struct SinkInstance {
    addr: SocketAddr,
    closed: mpsc::Receiver<Option<Vec<u8>>>,
}

impl SinkInstance {
    fn start() -> SinkInstance {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let tx = tx.clone();
                thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    let res = loop {
                        match s.read(&mut buf) {
                            Ok(0) => break Some(got),
                            Ok(k) => got.extend_from_slice(&buf[..k]),
                            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                                break Some(got);
                            }
                            Err(_) => break None,
                        }
                    };
                    let _ = tx.send(res);
                });
            }
        });
        SinkInstance { addr, closed: rx }
    }
}

/// The access-log lines in `path`, parsed.
fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// Waits until `path` has at least `n` lines; how long that took.
fn wait_log_lines(path: &Path, n: usize, timeout: Duration) -> Duration {
    let start = Instant::now();
    let ok = wait_until(timeout, || log_lines(path).len() >= n);
    assert!(
        ok,
        "{} has {} lines, want {n}",
        path.display(),
        log_lines(path).len()
    );
    start.elapsed()
}

const SERVER: &str = "[server]\ndrain_timeout_ms = 5000\n";

// ---------------------------------------------------------------------------------------------
// The admin listener
// ---------------------------------------------------------------------------------------------

#[test]
fn admin_endpoints() {
    let g = Gate::start(SERVER, &function("echo", "builtin:echo"));
    let r = g.admin_get("/healthz");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert!(r.header("content-type").is_some());
    assert_eq!(r.header("content-length"), Some("2"));

    let r = g.admin_get("/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.header("content-type")
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );

    let v = g.config_json();
    assert_eq!(v["generation"], 1);
    assert_eq!(v["functions"], 1);
    assert_eq!(v["domains"], 0);
    assert_eq!(v["routes"], 0);

    let r = g.admin_get("/nope");
    assert_eq!(r.status, 404);
    let r = g.admin_raw(b"POST /metrics HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    let r = g.admin_raw(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    let r = g.admin_raw(b"nonsense\r\n\r\n");
    assert_eq!(r.status, 400);
    // A head over 8 KiB.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nx-pad: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let mut c = Client::connect(g.admin);
    let _ = c.try_send(big.as_bytes());
    let r = c.read_response();
    assert_eq!(r.status, 431);

    // A client that says nothing does not block the next one for long.
    let _silent = TcpStream::connect(("127.0.0.1", g.admin)).expect("connect");
    let r = g.admin_get("/healthz");
    assert_eq!(r.status, 200);
}

#[test]
fn admin_bind_failure_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let admin = taken.local_addr().expect("addr").port();
    let path = temp_file("admin-taken.toml");
    let port = free_port();
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\npin_workers = false\n{}",
            config(admin, "", &function("echo", "builtin:echo"))
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fcgate"))
        .args(["run", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let ok = wait_until(Duration::from_secs(5), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !ok {
        let _ = child.kill();
        let _ = child.wait();
        panic!("fcgate kept running with its admin address taken");
    }
    let out = child.wait_with_output().expect("output");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("admin") && stderr.contains(&format!("127.0.0.1:{admin}")),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// SIGHUP
// ---------------------------------------------------------------------------------------------

#[test]
fn reload_adds_removes_and_changes_functions_and_domains() {
    let one = MockInstance::start(Behavior::Respond(Resp::ok("one")));
    let two = MockInstance::start(Behavior::Respond(Resp::ok("two")));
    let before = [
        function("echo", "builtin:echo"),
        function("gone", "builtin:echo"),
        function("moved", &one.addr()),
        domain("old.example.com", &[("/*", "echo")]),
        domain("kept.example.com", &[("/*", "moved")]),
    ]
    .concat();
    let after = [
        function("echo", "builtin:echo"),
        function("moved", &two.addr()),
        function("added", "builtin:echo"),
        domain("kept.example.com", &[("/*", "moved")]),
        domain("new.example.com", &[("/*", "added"), ("/api/*", "echo")]),
    ]
    .concat();
    let g = Gate::start(SERVER, &before);
    let c1 = g.config_json();
    assert_eq!(
        (
            &c1["generation"],
            &c1["functions"],
            &c1["domains"],
            &c1["routes"]
        ),
        (&1.into(), &3.into(), &2.into(), &2.into())
    );

    // A keep-alive connection that lives through the reload.
    let mut ka = g.router.client();
    let mut on_ka = |raw: &[u8]| {
        ka.send(raw);
        ka.read_response()
    };
    assert_eq!(on_ka(&proxy_get("gone", "x")).status, 200);
    assert_fc_error(&on_ka(&proxy_get("added", "x")), 404, "FunctionNotFound");
    assert_eq!(on_ka(&host_get("old.example.com", "/a")).status, 200);
    assert_fc_error(
        &on_ka(&host_get("new.example.com", "/a")),
        404,
        "DomainNameNotFound",
    );
    let r = on_ka(&host_get("kept.example.com", "/a"));
    assert_eq!((r.status, r.text().as_str()), (200, "one"));

    g.reload(SERVER, &after);
    g.wait_generation(2);

    // The same connection, then fresh ones, see the new table.
    assert_fc_error(&on_ka(&proxy_get("gone", "x")), 404, "FunctionNotFound");
    assert_eq!(on_ka(&proxy_get("added", "x")).status, 200);
    assert_fc_error(
        &on_ka(&host_get("old.example.com", "/a")),
        404,
        "DomainNameNotFound",
    );
    let r = on_ka(&host_get("new.example.com", "/api/v"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["target"], "/api/v");
    let r = on_ka(&host_get("kept.example.com", "/a"));
    assert_eq!((r.status, r.text().as_str()), (200, "two"));
    let r = g.router.request(&host_get("kept.example.com", "/b"));
    assert_eq!((r.status, r.text().as_str()), (200, "two"));
    assert_eq!(g.router.request(&proxy_get("echo", "x")).status, 200);
    assert_eq!(one.request_count(), 1);
    assert_eq!(two.request_count(), 2);

    let c2 = g.config_json();
    assert_eq!(
        (
            &c2["generation"],
            &c2["functions"],
            &c2["domains"],
            &c2["routes"]
        ),
        (&2.into(), &3.into(), &2.into(), &3.into())
    );
    let bytes = std::fs::read(g.router.config_path()).expect("config");
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(c2["sha256"], hex.as_str());
    assert_ne!(c1["sha256"], c2["sha256"]);
    assert_eq!(
        c2["source"],
        g.router.config_path().to_str().expect("utf-8 path")
    );
    let (t1, t2) = (
        c1["loaded_at"].as_str().unwrap().to_string(),
        c2["loaded_at"].as_str().unwrap().to_string(),
    );
    assert!(
        t1.len() == 24 && t1.ends_with('Z') && t1.as_bytes()[10] == b'T',
        "{t1}"
    );
    assert!(t2 >= t1, "{t1} then {t2}");

    let m = g.metrics();
    assert_eq!(
        metric(&m, "fcgate_config_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "fcgate_config_reloads_total{result=\"failed\"}"),
        Some(0.0)
    );
    assert_eq!(metric(&m, "fcgate_config_generation"), Some(2.0));
}

#[test]
fn twenty_reloads_under_load_fail_no_request() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("mock")));
    let body = |i: usize| {
        [
            function("echo", "builtin:echo"),
            function("mock", &mock.addr()),
            function(&format!("extra-{i}"), "builtin:echo"),
            domain("example.com", &[("/*", "mock")]),
        ]
        .concat()
    };
    let g = Gate::start(SERVER, &body(0));
    let stop = Arc::new(AtomicBool::new(false));
    let port = g.router.port();
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let (mut ok, mut failed) = (0usize, Vec::new());
                let mut c = Client::connect(port);
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let (raw, want) = if (i + t).is_multiple_of(2) {
                        (proxy_get("echo", &format!("t{t}/{i}")), None)
                    } else {
                        (host_get("example.com", &format!("/t{t}/{i}")), Some("mock"))
                    };
                    if let Err(e) = c.try_send(&raw) {
                        failed.push(format!("send: {e}"));
                        c = Client::connect(port);
                        continue;
                    }
                    match c.try_read_response(false) {
                        Ok(r) if r.status == 200 && want.is_none_or(|w| r.text() == w) => {
                            ok += 1;
                            if r.says_close() {
                                failed.push("connection: close".into());
                                c = Client::connect(port);
                            }
                        }
                        Ok(r) => failed.push(format!("{} {}", r.status, r.text())),
                        Err(e) => {
                            failed.push(format!("{e:?}"));
                            c = Client::connect(port);
                        }
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    for i in 1..=20u64 {
        thread::sleep(Duration::from_millis(20));
        g.reload(SERVER, &body(i as usize));
        g.wait_generation(i + 1);
    }
    thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let (ok, failed) = c.join().expect("client thread");
        assert!(failed.is_empty(), "failed requests: {failed:?}");
        assert!(ok > 0, "a client thread got no answer");
        total += ok;
    }
    let m = g.metrics();
    assert_eq!(
        metric(&m, "fcgate_config_reloads_total{result=\"ok\"}"),
        Some(20.0)
    );
    assert_eq!(metric(&m, "fcgate_config_generation"), Some(21.0));
    assert!(total >= 40, "only {total} requests");
}

#[test]
fn broken_config_keeps_the_old_table() {
    let good = function("echo", "builtin:echo");
    let g = Gate::start(SERVER, &good);
    let mut ka = g.router.client();
    ka.send(&proxy_get("echo", "1"));
    assert_eq!(ka.read_response().status, 200);

    // An unknown key, and a route to a function that does not exist.
    g.reload(
        SERVER,
        &format!(
            "{good}bogus = 1\n{}",
            domain("example.com", &[("/*", "missing")])
        ),
    );
    g.wait_metric("fcgate_config_reloads_total{result=\"failed\"}", 1.0);
    assert_eq!(g.generation(), 1);
    assert_eq!(
        g.metric("fcgate_config_reloads_total{result=\"ok\"}"),
        Some(0.0)
    );
    ka.send(&proxy_get("echo", "2"));
    assert_eq!(ka.read_response().status, 200);
    assert_eq!(g.router.request(&proxy_get("echo", "3")).status, 200);
    let log = g.router.log();
    assert!(
        log.contains(&format!("{}:", g.router.config_path().display())) && log.contains("bogus"),
        "the rejected config's errors are logged with file:line:col:\n{log}"
    );

    // Unreadable TOML, too.
    g.reload(SERVER, "[[function]\n");
    g.wait_metric("fcgate_config_reloads_total{result=\"failed\"}", 2.0);
    assert_eq!(g.router.request(&proxy_get("echo", "4")).status, 200);

    // A fixed config goes into service.
    g.reload(
        SERVER,
        &format!("{good}{}", function("second", "builtin:echo")),
    );
    g.wait_generation(2);
    assert_eq!(g.router.request(&proxy_get("second", "5")).status, 200);
    assert_eq!(
        g.metric("fcgate_config_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
}

// ---------------------------------------------------------------------------------------------
// SIGTERM
// ---------------------------------------------------------------------------------------------

#[test]
fn drain_finishes_in_flight_requests_and_exits_0() {
    let slow = SlowInstance::start(Duration::from_millis(1500));
    let log = temp_file("drain.log");
    let head = format!("{SERVER}\n[log]\naccess = \"{}\"\n", log.display());
    let mut g = Gate::start(
        &head,
        &[
            function("echo", "builtin:echo"),
            function("slow", &slow.addr.to_string()),
        ]
        .concat(),
    );
    // An idle keep-alive connection.
    let mut idle = g.router.client();
    idle.send(&proxy_get("echo", "idle"));
    assert_eq!(idle.read_response().status, 200);
    // A request in flight.
    let mut busy = g.router.client();
    busy.send(&proxy_get("slow", "busy"));
    slow.wait_arrived(1);

    let t0 = Instant::now();
    g.router.signal(libc::SIGTERM);
    assert!(
        idle.is_closed_within(Duration::from_secs(1)),
        "an idle keep-alive connection is closed at once"
    );
    // The admin thread answers during the drain.
    let mut last = None;
    assert!(
        wait_until(Duration::from_secs(1), || {
            last = Some(g.admin_get("/healthz"));
            last.as_ref().is_some_and(|r| r.status == 503)
        }),
        "/healthz during a drain: {last:?}"
    );
    assert_eq!(last.map(|r| r.text()).as_deref(), Some("draining"));
    // New connections are refused, or answered 503.
    match TcpStream::connect(g.router.addr()) {
        Err(_) => {}
        Ok(mut s) => {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(&proxy_get("echo", "late"));
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            let text = String::from_utf8_lossy(&got);
            assert!(
                got.is_empty()
                    || (text.starts_with("HTTP/1.1 503 ") && text.contains("ResourceExhausted")),
                "a connection made during a drain: {text:?}"
            );
        }
    }
    // The request in flight completes.
    let r = busy.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "slow"));
    let status = g
        .router
        .wait_exit(Duration::from_secs(6))
        .expect("fcgate exits within the drain timeout");
    assert!(status.success(), "exit status {status}");
    assert!(t0.elapsed() < Duration::from_secs(6));
    // (That its access-log line is written: `drain_writes_the_last_access_log_lines`.)
    let _ = std::fs::remove_file(&log);
}

#[test]
fn second_sigterm_exits_at_once() {
    let hang = MockInstance::start(Behavior::Hang);
    let mut g = Gate::start(
        "[server]\ndrain_timeout_ms = 20000\n",
        &function("hang", &hang.addr()),
    );
    let mut busy = g.router.client();
    busy.send(&proxy_get("hang", "x"));
    hang.wait_requests(1);
    g.router.signal(libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(2), || g.admin_get("/healthz").status
            == 503),
        "draining"
    );
    assert!(
        g.router.wait_exit(Duration::from_millis(300)).is_none(),
        "waits for the request in flight"
    );
    let t0 = Instant::now();
    g.router.signal(libc::SIGTERM);
    let status = g
        .router
        .wait_exit(Duration::from_secs(3))
        .expect("a second SIGTERM exits at once");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(status.success(), "{status}");
}

#[test]
fn sigint_drains_like_sigterm() {
    let mut g = Gate::start(SERVER, &function("echo", "builtin:echo"));
    assert_eq!(g.router.request(&proxy_get("echo", "x")).status, 200);
    g.router.signal(libc::SIGINT);
    let status = g
        .router
        .wait_exit(Duration::from_secs(5))
        .expect("exits on SIGINT");
    assert!(status.success(), "{status}");
}

// ---------------------------------------------------------------------------------------------
// /metrics
// ---------------------------------------------------------------------------------------------

#[test]
fn metrics_count_what_was_sent() {
    let g = Gate::start(
        SERVER,
        &[
            function("echo", "builtin:echo"),
            function("down", "127.0.0.1:1"),
            domain("example.com", &[("/*", "echo")]),
        ]
        .concat(),
    );
    let mut c = g.router.client();
    for i in 0..7 {
        c.send(&host_get("example.com", &format!("/{i}")));
        assert_eq!(c.read_response().status, 200);
    }
    for i in 0..3 {
        c.send(&host_get("nowhere.test", &format!("/{i}")));
        assert_fc_error(&c.read_response(), 404, "DomainNameNotFound");
    }
    g.wait_metric("fcgate_request_duration_seconds_count", 10.0);
    // One open client connection (the admin's is not counted).
    let m = g.metrics();
    assert_eq!(
        metric(&m, "fcgate_requests_total{mode=\"domain\",code=\"200\"}"),
        Some(7.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "fcgate_requests_total{mode=\"none\",code=\"404\"}"),
        Some(3.0),
        "{m}"
    );
    let samples: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("fcgate_requests_total{"))
        .collect();
    assert_eq!(samples.len(), 2, "{samples:?}");
    assert_eq!(
        metric(&m, "fcgate_request_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(10.0)
    );
    assert!(metric(&m, "fcgate_request_duration_seconds_sum").is_some_and(|s| s > 0.0));
    let buckets: Vec<f64> = m
        .lines()
        .filter(|l| l.starts_with("fcgate_request_duration_seconds_bucket"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(metric(&m, "fcgate_active_connections"), Some(1.0));
    assert_eq!(metric(&m, "fcgate_config_generation"), Some(1.0));
    assert_eq!(
        metric(&m, "fcgate_upstream_connect_errors_total"),
        Some(0.0)
    );
    assert_eq!(metric(&m, "fcgate_access_log_dropped_total"), Some(0.0));
    for family in [
        "fcgate_requests_total counter",
        "fcgate_request_duration_seconds histogram",
        "fcgate_upstream_connect_errors_total counter",
        "fcgate_active_connections gauge",
        "fcgate_config_reloads_total counter",
        "fcgate_config_generation gauge",
        "fcgate_access_log_dropped_total counter",
    ] {
        assert!(m.contains(&format!("\n# TYPE {family}\n")), "{family}");
        let name = family.split(' ').next().unwrap();
        assert!(
            format!("\n{m}").contains(&format!("\n# HELP {name} ")),
            "{name}"
        );
    }

    // A proxy-mode request to an instance that refuses connections.
    c.send(&proxy_get("down", "x"));
    assert_fc_error(&c.read_response(), 502, "FunctionNotReachable");
    g.wait_metric("fcgate_requests_total{mode=\"proxy\",code=\"502\"}", 1.0);
    assert!(
        g.metric("fcgate_upstream_connect_errors_total")
            .is_some_and(|n| n >= 1.0)
    );

    drop(c);
    g.wait_metric("fcgate_active_connections", 0.0);
}

// ---------------------------------------------------------------------------------------------
// The access log
// ---------------------------------------------------------------------------------------------

#[test]
fn access_log_lines_and_reopen() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("mocked")));
    let log = temp_file("access.log");
    let rotated = log.with_extension("log.1");
    let head = format!("{SERVER}\n[log]\naccess = \"{}\"\n", log.display());
    let body = [
        function("echo", "builtin:echo"),
        function("mock", &mock.addr()),
        domain("example.com", &[("/api/*", "mock")]),
    ]
    .concat();
    let g = Gate::start(&head, &body);
    let mut c = g.router.client();
    let me = c.stream.local_addr().expect("local addr").to_string();

    // proxy mode, a body, the built-in echo.
    let a_head = format!(
        "POST /2016-08-15/proxy/svc/echo/path?q=1 HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\ncontent-length: 5\r\n\r\n"
    );
    let t = Instant::now();
    c.send(format!("{a_head}hello").as_bytes());
    let a = c.read_response();
    assert_eq!(a.status, 200);
    // Flushed every 100 ms: the line shows up well within a second (generous for slow CI).
    let took = wait_log_lines(&log, 1, Duration::from_secs(3));
    assert!(
        took + t.elapsed() < Duration::from_millis(1500),
        "the line took {took:?}"
    );

    // domain mode, an instance.
    let b_raw = host_get("example.com", "/api/x?y=2");
    c.send(&b_raw);
    let b = c.read_response();
    assert_eq!((b.status, b.text().as_str()), (200, "mocked"));
    // answered by fcgate, no target.
    let c_raw = host_get("nowhere.test", "/z");
    c.send(&c_raw);
    let cr = c.read_response();
    assert_fc_error(&cr, 404, "DomainNameNotFound");

    wait_log_lines(&log, 3, Duration::from_secs(3));
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    const FIELDS: [&str; 16] = [
        "time",
        "request_id",
        "client",
        "method",
        "host",
        "target",
        "mode",
        "service",
        "function",
        "qualifier",
        "forwarded",
        "instance",
        "status",
        "bytes_in",
        "bytes_out",
        "duration_ms",
    ];
    for l in &lines {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = FIELDS.to_vec();
        want.sort();
        let mut have = keys.clone();
        have.sort();
        assert_eq!(have, want, "{l}");
        let time = l["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
        assert_eq!(l["client"], me.as_str());
        assert!(l["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{l}");
    }
    let (la, lb, lc) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(la["request_id"], a.header("x-fc-request-id").unwrap());
    assert_eq!(la["method"], "POST");
    assert_eq!(la["host"], SYSTEM_HOST);
    assert_eq!(la["target"], "/2016-08-15/proxy/svc/echo/path?q=1");
    assert_eq!(la["mode"], "proxy");
    assert_eq!(la["service"], "svc");
    assert_eq!(la["function"], "echo");
    assert_eq!(la["qualifier"], "LATEST");
    assert_eq!(la["forwarded"], "/2016-08-15/proxy/svc/echo/path?q=1");
    assert_eq!(la["instance"], serde_json::Value::Null);
    assert_eq!(la["status"], 200);
    assert_eq!(la["bytes_in"], a_head.len() + 5);
    assert_eq!(la["bytes_out"], a.raw.len());

    assert_eq!(lb["request_id"], b.header("x-fc-request-id").unwrap());
    assert_eq!(lb["method"], "GET");
    assert_eq!(lb["host"], "example.com");
    assert_eq!(lb["target"], "/api/x?y=2");
    assert_eq!(lb["mode"], "domain");
    assert_eq!(lb["function"], "mock");
    assert_eq!(lb["forwarded"], "/api/x?y=2");
    assert_eq!(lb["instance"], mock.addr().as_str());
    assert_eq!(lb["status"], 200);
    assert_eq!(lb["bytes_in"], b_raw.len());
    assert_eq!(lb["bytes_out"], b.raw.len());

    assert_eq!(lc["request_id"], cr.header("x-fc-request-id").unwrap());
    assert_eq!(lc["host"], "nowhere.test");
    assert_eq!(lc["target"], "/z");
    for k in [
        "mode",
        "service",
        "function",
        "qualifier",
        "forwarded",
        "instance",
    ] {
        assert_eq!(lc[k], serde_json::Value::Null, "{k}: {lc}");
    }
    assert_eq!(lc["status"], 404);
    assert_eq!(lc["bytes_in"], c_raw.len());
    assert_eq!(lc["bytes_out"], cr.raw.len());

    // logrotate: move the file away, SIGHUP; new lines go to a new file at the old path.
    std::fs::rename(&log, &rotated).expect("rename");
    g.router.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(3), || log.exists()),
        "the access log is reopened at its path on SIGHUP"
    );
    c.send(&proxy_get("echo", "after"));
    assert_eq!(c.read_response().status, 200);
    wait_log_lines(&log, 1, Duration::from_secs(3));
    let new = log_lines(&log);
    let old = log_lines(&rotated);
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&rotated);
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["target"], "/2016-08-15/proxy/svc/echo/after");
    assert_eq!(old.len(), 3, "{old:?}");
}

// ---------------------------------------------------------------------------------------------
// Timeouts and limits
// ---------------------------------------------------------------------------------------------

const TIMEOUTS: &str = "[server]\nheader_timeout_ms = 500\nidle_timeout_ms = 500\ndrain_timeout_ms = 2000\n\n[upstream]\nconnect_timeout_ms = 300\nresponse_timeout_ms = 500\nretries = 1\n";

#[test]
fn header_timeout_answers_408_and_closes() {
    let g = Gate::start(TIMEOUTS, &function("echo", "builtin:echo"));
    let mut c = g.router.client();
    c.send(
        format!("GET /2016-08-15/proxy/svc/echo/x HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\n").as_bytes(),
    );
    let r = c.read_response();
    assert_fc_error(&r, 408, "RequestTimeout");
    assert!(c.is_closed_within(Duration::from_secs(2)));
    // A connection that sends nothing at all is closed too (no answer).
    let mut quiet = g.router.client();
    assert!(quiet.is_closed_within(Duration::from_secs(3)));
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let g = Gate::start(TIMEOUTS, &function("echo", "builtin:echo"));
    let mut c = g.router.client();
    c.send(&proxy_get("echo", "x"));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(!r.says_close());
    assert!(
        c.is_closed_within(Duration::from_secs(3)),
        "idle_timeout_ms closes an idle keep-alive connection"
    );
}

#[test]
fn client_stopping_mid_body_gets_408_and_the_instance_sees_the_abort() {
    let sink = SinkInstance::start();
    let g = Gate::start(TIMEOUTS, &function("sink", &sink.addr.to_string()));
    let mut c = g.router.client();
    let head = format!(
        "POST /2016-08-15/proxy/svc/sink/x HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\ncontent-length: 100\r\n\r\n"
    );
    c.send(format!("{head}0123456789").as_bytes());
    let r = c.read_response();
    assert_fc_error(&r, 408, "RequestTimeout");
    assert!(c.is_closed_within(Duration::from_secs(2)));
    let got = sink
        .closed
        .recv_timeout(Duration::from_secs(5))
        .expect("the instance saw a connection");
    let got = got.expect("the instance's connection is closed, not left hanging");
    let end = find(&got, b"\r\n\r\n").expect("the instance got the head") + 4;
    assert_eq!(
        &got[end..],
        b"0123456789",
        "the instance got the body so far, then the connection closed"
    );
}

#[test]
fn unreachable_and_connect_timeout_answer_502() {
    // A listener whose accept queue is full: SYNs are dropped, connects hang.
    let full = TcpListener::bind("127.0.0.1:0").expect("bind");
    let full_addr = full.local_addr().expect("addr");
    {
        use std::os::fd::AsRawFd;
        // SAFETY: listen(2) on a socket we own, only to shrink its backlog.
        assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
    }
    let _fillers: Vec<_> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&full_addr, Duration::from_millis(200)).ok())
        .collect();
    let g = Gate::start(
        TIMEOUTS,
        &[
            function("refused", "127.0.0.1:1"),
            function("blackhole", &full_addr.to_string()),
        ]
        .concat(),
    );
    let r = g.router.request(&proxy_get("refused", "x"));
    assert_fc_error(&r, 502, "FunctionNotReachable");
    let t = Instant::now();
    let r = g.router.request(&proxy_get("blackhole", "x"));
    assert_fc_error(&r, 502, "FunctionNotReachable");
    // 300 ms per attempt, two attempts: nowhere near the 10 s read timeout.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        g.metric("fcgate_upstream_connect_errors_total")
            .is_some_and(|n| n >= 2.0)
    );
}

#[test]
fn response_timeout_answers_504() {
    let hang = MockInstance::start(Behavior::Hang);
    let g = Gate::start(TIMEOUTS, &function("hang", &hang.addr()));
    let r = g.router.request(&proxy_get("hang", "x"));
    assert_fc_error(&r, 504, "FunctionTimeout");
    hang.wait_requests(1);
}

#[test]
fn instance_silent_mid_body_is_cut_after_response_timeout() {
    // A head, half the body, then silence with the connection open.
    let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[b'x'; 500]);
    let stall = MockInstance::start(Behavior::Raw {
        bytes,
        close: false,
    });
    let g = Gate::start(TIMEOUTS, &function("stall", &stall.addr()));
    let mut c = g.router.client();
    c.send(&proxy_get("stall", "x"));
    let t = Instant::now();
    match c.try_read_response(false) {
        Err(ReadFail::Cut {
            head: Some(head),
            body_bytes,
            ..
        }) => {
            assert_eq!(head.status, 200);
            assert_eq!(body_bytes, 500, "what the instance sent, and no more");
        }
        other => panic!("expected a cut response, got {other:?}"),
    }
    // response_timeout_ms = 500 between the instance's bytes.
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn max_connections_refuses_the_third() {
    let g = Gate::start(
        "[server]\nmax_connections = 2\n",
        &function("echo", "builtin:echo"),
    );
    // Router::start's readiness probe connected once: once a later connection is served,
    // the probe was accepted too (one worker, one accept queue); wait until both are gone.
    assert_eq!(g.router.request(&proxy_get("echo", "w")).status, 200);
    g.wait_metric("fcgate_active_connections", 0.0);
    let mut c1 = g.router.client();
    let mut c2 = g.router.client();
    for c in [&mut c1, &mut c2] {
        c.send(&proxy_get("echo", "x"));
        assert_eq!(c.read_response().status, 200);
    }
    let mut c3 = g.router.client();
    let _ = c3.try_send(&proxy_get("echo", "x"));
    let r = c3.read_response();
    assert_fc_error(&r, 503, "ResourceExhausted");
    assert!(c3.is_closed_within(Duration::from_secs(2)));
    // The two others still work; once one closes, a new connection is served.
    c2.send(&proxy_get("echo", "y"));
    assert_eq!(c2.read_response().status, 200);
    drop(c1);
    g.wait_metric("fcgate_active_connections", 1.0);
    assert_eq!(g.router.request(&proxy_get("echo", "z")).status, 200);
}

#[test]
fn drain_timeout_bounds_the_wait() {
    let hang = MockInstance::start(Behavior::Hang);
    let mut g = Gate::start(
        "[server]\ndrain_timeout_ms = 500\n",
        &function("hang", &hang.addr()),
    );
    let mut busy = g.router.client();
    busy.send(&proxy_get("hang", "x"));
    hang.wait_requests(1);
    let t0 = Instant::now();
    g.router.signal(libc::SIGTERM);
    let status = g
        .router
        .wait_exit(Duration::from_secs(5))
        .expect("fcgate exits once drain_timeout_ms has passed");
    assert!(status.success(), "{status}");
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    // The request that did not finish in time is cut, not answered.
    assert!(busy.is_closed_within(Duration::from_secs(2)));
}

/// BUG (src/ops/mod.rs + src/access_log.rs): `ops::run` returns as soon as the workers have
/// finished, without waiting for the access-log writer thread to write what they handed it,
/// so the lines of the last requests of a drain are sometimes lost. Twelve drains, each with
/// one request finishing during the drain: every one must be logged.
#[test]
fn drain_writes_the_last_access_log_lines() {
    const DELAY: u64 = 150;
    const SLEEP: u64 = 50;
    let slow = SlowInstance::start(Duration::from_millis(DELAY));
    // CPU pressure widens the race (the writer thread must be scheduled before the exit).
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let mut lost = Vec::new();
    for i in 0..12 {
        let log = temp_file("last.log");
        let head = format!("{SERVER}\n[log]\naccess = \"{}\"\n", log.display());
        let mut g = Gate::start(&head, &function("slow", &slow.addr.to_string()));
        let mut busy = g.router.client();
        busy.send(&proxy_get("slow", &format!("drain-{i}")));
        slow.wait_arrived(i + 1);
        thread::sleep(Duration::from_millis(SLEEP));
        g.router.signal(libc::SIGTERM);
        assert_eq!(busy.read_response().status, 200);
        let status = g.router.wait_exit(Duration::from_secs(5)).expect("exit");
        assert!(status.success());
        let n = log_lines(&log).len();
        let _ = std::fs::remove_file(&log);
        if n != 1 {
            lost.push(i);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        let _ = s.join();
    }
    assert!(
        lost.is_empty(),
        "drains {lost:?} of 0..12 lost the access-log line of their last request"
    );
}

#[test]
fn reload_applies_the_log_level() {
    let body = function("echo", "builtin:echo");
    let g = Gate::start(&format!("{SERVER}\n[log]\nlevel = \"warn\"\n"), &body);
    g.reload(&format!("{SERVER}\n[log]\nlevel = \"info\"\n"), &body);
    g.wait_generation(2);
    g.reload(&format!("{SERVER}\n[log]\nlevel = \"info\"\n"), &body);
    g.wait_generation(3);
    let log = g.router.log();
    assert!(
        log.contains("generation 3 in service"),
        "level = \"info\" applies after a reload:\n{log}"
    );
    g.reload(&format!("{SERVER}\n[log]\nlevel = \"error\"\n"), &body);
    g.wait_generation(4);
    g.reload(&format!("{SERVER}\n[log]\nlevel = \"error\"\n"), &body);
    g.wait_generation(5);
    assert!(!g.router.log().contains("generation 5 in service"));
}
