//! Integration-test harness: the real `fcgate` binary on 127.0.0.1, mock function instances
//! made of plain `std::net` threads that record every request byte for byte, and a raw
//! HTTP/1.1 client that reads exactly one response at a time.
//!
//! Every wait is bounded: router start-up (5 s), client reads (`READ_TIMEOUT`), mock reads.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a client waits for bytes before giving up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub const ACCOUNT: &str = "1649015465571234";
/// The system endpoint (proxy and header modes).
pub const SYSTEM_HOST: &str = "1649015465571234.cn-hangzhou.fc.aliyuncs.com";
pub const SYSTEM_HOST_INTERNAL: &str = "1649015465571234.cn-hangzhou-internal.fc.aliyuncs.com";

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

fn temp_path(ext: &str) -> PathBuf {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "fcgate-itest-{}-{n}-{nanos}.{ext}",
        std::process::id()
    ))
}

// ---------------------------------------------------------------------------------------------
// The router
// ---------------------------------------------------------------------------------------------

/// A running `fcgate run --config <tmp>`; killed (and its files removed) on drop.
pub struct Router {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
    log: PathBuf,
}

/// `config_toml` with `listen = ["127.0.0.1:<port>"]`, `workers = 1` and
/// `pin_workers = false` put into its `[server]` section (added when it has none).
fn with_server(config_toml: &str, port: u16) -> String {
    let ours = format!("listen = [\"127.0.0.1:{port}\"]\nworkers = 1\npin_workers = false\n");
    let mut out = String::with_capacity(config_toml.len() + ours.len() + 16);
    let mut done = false;
    for line in config_toml.lines() {
        out.push_str(line);
        out.push('\n');
        if !done && line.trim() == "[server]" {
            out.push_str(&ours);
            done = true;
        }
    }
    if done {
        out
    } else {
        format!("[server]\n{ours}\n{out}")
    }
}

impl Router {
    /// Starts the router; waits (at most 5 s) until its port accepts connections.
    pub fn start(config_toml: &str) -> Router {
        let port = free_port();
        let config = temp_path("toml");
        let log = temp_path("log");
        std::fs::write(&config, with_server(config_toml, port)).expect("write config");
        let stderr = std::fs::File::create(&log).expect("create log file");
        let child = Command::new(env!("CARGO_BIN_EXE_fcgate"))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn fcgate");
        let mut r = Router {
            child: Some(child),
            port,
            config,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(status)) = r.child.as_mut().map_or(Ok(None), |c| c.try_wait()) {
                panic!("fcgate exited at start-up ({status}):\n{}", r.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            if Instant::now() > deadline {
                panic!("fcgate did not accept on {port} within 5 s:\n{}", r.log());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Everything the router wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (`libc::SIGHUP`, `libc::SIGTERM`, ...) to the router.
    pub fn signal(&self, sig: i32) {
        let pid = self.pid();
        assert!(pid > 0, "router not running");
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}): {}", io::Error::last_os_error());
    }

    /// Rewrites the config file (same listen address); send SIGHUP to apply it.
    pub fn rewrite_config(&self, config_toml: &str) {
        let tmp = self.config.with_extension("toml.new");
        std::fs::write(&tmp, with_server(config_toml, self.port)).expect("write config");
        std::fs::rename(&tmp, &self.config).expect("replace config");
    }

    /// Waits (bounded) for the router to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A client connected to the router; its reads give up early once the router's
    /// stderr shows a panic (a dead worker would otherwise cost a full timeout per read).
    pub fn client(&self) -> Client {
        let mut c = Client::connect(self.port);
        c.router_log = Some(self.log.clone());
        c
    }

    /// One request on a fresh connection, one response read.
    pub fn request(&self, raw: &[u8]) -> Response {
        let mut c = self.client();
        c.send(raw);
        c.read_response()
    }

    /// `GET <target>` with `Host: <host>` (and `extra` header lines, each ending in CRLF).
    pub fn get(&self, host: &str, target: &str, extra: &str) -> Response {
        self.request(format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").as_bytes())
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!("---- fcgate stderr ----\n{}", self.log());
        }
        let _ = std::fs::remove_file(&self.config);
        let _ = std::fs::remove_file(&self.log);
    }
}

// ---------------------------------------------------------------------------------------------
// Mock function instance
// ---------------------------------------------------------------------------------------------

/// How a mock response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `content-length: <len>` (unless the headers already have one).
    Length,
    /// `transfer-encoding: chunked`, the body in chunks of `chunk` bytes.
    Chunked { chunk: usize },
    /// No length at all: the body ends when the connection closes.
    Close,
    /// Neither a length nor a body (204, 304): only the given headers.
    Bare,
}

/// A fixed response a mock instance answers with.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
    /// Say `connection: close` and close after the response.
    pub close: bool,
    /// Keep-alive as far as the headers go, but close the connection right after the
    /// response (a pooled connection that dies between requests).
    pub close_silently: bool,
}

impl Resp {
    pub fn ok(body: &str) -> Resp {
        Resp {
            status: 200,
            reason: "OK".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            framing: Framing::Length,
            close: false,
            close_silently: false,
        }
    }
    pub fn status(mut self, status: u16, reason: &str) -> Resp {
        self.status = status;
        self.reason = reason.into();
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Resp {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn framing(mut self, f: Framing) -> Resp {
        self.framing = f;
        self
    }
    pub fn close(mut self) -> Resp {
        self.close = true;
        self
    }
    pub fn close_silently(mut self) -> Resp {
        self.close_silently = true;
        self
    }
}

/// What a mock instance does with each request it receives.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// Answer this response to every request.
    Respond(Resp),
    /// 200 with the request's (de-chunked) body as a content-length body.
    EchoBody,
    /// Record the request, then never answer (the connection stays open).
    Hang,
    /// Close the connection as soon as it is accepted, reading nothing.
    CloseOnAccept,
    /// Record the request, then close without answering.
    CloseWithoutAnswer,
    /// Declare `content-length: 1000`, send 500 bytes, close.
    DieMidLength,
    /// `transfer-encoding: chunked`, send one 500-byte chunk, close.
    DieMidChunked,
    /// 200 with a `content-length` body of this many bytes of `pattern_byte`, streamed.
    Big(u64),
    /// `101 Switching Protocols`, then echo every byte back until the peer closes.
    Upgrade,
    /// Write exactly these bytes as the answer; then close when `close`, else read the next
    /// request.
    Raw { bytes: Vec<u8>, close: bool },
}

/// One request as the instance received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Index (from 0) of the connection it came on.
    pub conn: usize,
    /// Request line + headers through the blank line, as received.
    pub head: Vec<u8>,
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The chunked body as framed on the wire (sizes, extensions, trailers), when chunked.
    pub wire_body: Option<Vec<u8>>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    pub chunked: bool,
}

impl Recorded {
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        headers_named(&self.headers, name)
    }
    /// The body as framed on the wire (chunk sizes included when chunked).
    pub fn raw_body(&self) -> &[u8] {
        self.wire_body.as_deref().unwrap_or(&self.body)
    }
    /// Head + raw body: every byte of the request as received.
    pub fn raw(&self) -> Vec<u8> {
        let mut v = self.head.clone();
        v.extend_from_slice(self.raw_body());
        v
    }
}

/// Byte `i` of a generated big body.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// 251 + 64 KiB bytes of the pattern, so any window of it can be copied at once.
fn pattern_table() -> &'static [u8] {
    static T: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    T.get_or_init(|| (0..251 + 65536u64).map(pattern_byte).collect())
}

/// Fills `buf` with the pattern bytes `offset..offset + buf.len()`.
pub fn fill_pattern(buf: &mut [u8], offset: u64) {
    let t = pattern_table();
    let mut at = 0;
    while at < buf.len() {
        let start = ((offset + at as u64) % 251) as usize;
        let n = (buf.len() - at).min(65536);
        buf[at..at + n].copy_from_slice(&t[start..start + n]);
        at += n;
    }
}

/// Whether `data` is the pattern bytes `offset..offset + data.len()`.
pub fn is_pattern(data: &[u8], offset: u64) -> bool {
    let t = pattern_table();
    data.chunks(65536).enumerate().all(|(i, c)| {
        let start = ((offset + (i * 65536) as u64) % 251) as usize;
        c == &t[start..start + c.len()]
    })
}

struct MockState {
    behavior: Mutex<Behavior>,
    requests: Mutex<Vec<Arc<Recorded>>>,
    arrived: Condvar,
    accepted: AtomicUsize,
    stop: AtomicBool,
    /// Connections still open (so that drop can close them).
    open: Mutex<Vec<TcpStream>>,
}

/// A function instance on 127.0.0.1:<ephemeral>, one thread per connection.
pub struct MockInstance {
    addr: SocketAddr,
    state: Arc<MockState>,
}

impl MockInstance {
    pub fn start(behavior: Behavior) -> MockInstance {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock");
        let addr = listener.local_addr().expect("mock addr");
        let state = Arc::new(MockState {
            behavior: Mutex::new(behavior),
            requests: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            accepted: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = st.accepted.fetch_add(1, Ordering::SeqCst);
                if let Ok(s) = stream.try_clone() {
                    st.open.lock().unwrap().push(s);
                }
                let st = st.clone();
                thread::spawn(move || serve_mock_conn(stream, conn, &st));
            }
        });
        MockInstance { addr, state }
    }

    /// `"127.0.0.1:<port>"`, as written in `upstreams`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    pub fn set_behavior(&self, b: Behavior) {
        *self.state.behavior.lock().unwrap() = b;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Arc<Recorded>> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// Waits (at most 5 s) until `n` requests arrived; returns them all.
    pub fn wait_requests(&self, n: usize) -> Vec<Arc<Recorded>> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut reqs = self.state.requests.lock().unwrap();
        while reqs.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("mock got {} requests, expected {n}", reqs.len());
            }
            reqs = self.state.arrived.wait_timeout(reqs, left).unwrap().0;
        }
        reqs.clone()
    }

    /// The one request received (waits for it).
    pub fn only_request(&self) -> Arc<Recorded> {
        let r = self.wait_requests(1);
        assert_eq!(r.len(), 1, "mock got {} requests", r.len());
        r.into_iter().next().unwrap()
    }
}

impl Drop for MockInstance {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        for s in self.state.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Reads one request; `None` on EOF / error / stop before a complete request.
fn read_request(r: &mut BufReader<TcpStream>, conn: usize) -> Option<Recorded> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        let n = r.read_until(b'\n', &mut head).ok()?;
        if n == 0 {
            return None;
        }
        let line = &head[start..];
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                // Tolerate stray empty lines between requests.
                head.clear();
                continue;
            }
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let rl = lines.next().unwrap_or("");
    let mut parts = rl.splitn(3, ' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_string(), v.trim().to_string()))
        })
        .collect();
    let chunked = header_of(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut raw_body = Vec::new();
    let mut body = Vec::new();
    let mut wire_body = None;
    if chunked {
        loop {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line).ok()? == 0 {
                return None;
            }
            raw_body.extend_from_slice(&line);
            let s = String::from_utf8_lossy(&line);
            let size_txt = s.trim().split(';').next().unwrap_or("").trim().to_string();
            let size = usize::from_str_radix(&size_txt, 16).ok()?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut t = Vec::new();
                    if r.read_until(b'\n', &mut t).ok()? == 0 {
                        return None;
                    }
                    raw_body.extend_from_slice(&t);
                    if t == b"\r\n" || t == b"\n" {
                        break;
                    }
                }
                wire_body = Some(raw_body);
                break;
            }
            let mut data = vec![0u8; size + 2];
            r.read_exact(&mut data).ok()?;
            raw_body.extend_from_slice(&data);
            body.extend_from_slice(&data[..size]);
        }
    } else if let Some(len) = header_of(&headers, "content-length") {
        let len: usize = len.parse().ok()?;
        body = vec![0u8; len];
        r.read_exact(&mut body).ok()?;
    }
    Some(Recorded {
        conn,
        head,
        method,
        target,
        version,
        headers,
        wire_body,
        body,
        chunked,
    })
}

fn write_resp(w: &mut TcpStream, resp: &Resp, head_request: bool) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, resp.reason).into_bytes();
    for (n, v) in &resp.headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    let has_len = header_of(&resp.headers, "content-length").is_some();
    match resp.framing {
        Framing::Length if !has_len => {
            out.extend_from_slice(format!("content-length: {}\r\n", resp.body.len()).as_bytes())
        }
        Framing::Chunked { .. } => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if resp.close || resp.framing == Framing::Close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let bodyless = head_request || matches!(resp.status, 100..=199 | 204 | 304);
    if !bodyless {
        match resp.framing {
            Framing::Length | Framing::Close => out.extend_from_slice(&resp.body),
            Framing::Chunked { chunk } => {
                for c in resp.body.chunks(chunk.max(1)) {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            Framing::Bare => {}
        }
    }
    w.write_all(&out)?;
    w.flush()
}

fn serve_mock_conn(stream: TcpStream, conn: usize, st: &MockState) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    if matches!(*st.behavior.lock().unwrap(), Behavior::CloseOnAccept) {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    loop {
        if st.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(req) = read_request(&mut r, conn) else {
            return;
        };
        let head_request = req.method == "HEAD";
        let body = req.body.clone();
        {
            let mut reqs = st.requests.lock().unwrap();
            reqs.push(Arc::new(req));
            st.arrived.notify_all();
        }
        let behavior = st.behavior.lock().unwrap().clone();
        match behavior {
            Behavior::Respond(resp) => {
                if write_resp(&mut w, &resp, head_request).is_err() {
                    return;
                }
                if resp.close || resp.close_silently || resp.framing == Framing::Close {
                    let _ = w.shutdown(Shutdown::Both);
                    return;
                }
            }
            Behavior::EchoBody => {
                let mut resp = Resp::ok("");
                resp.body = body;
                if write_resp(&mut w, &resp, head_request).is_err() {
                    return;
                }
            }
            Behavior::Hang => {
                while !st.stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Behavior::CloseOnAccept | Behavior::CloseWithoutAnswer => {
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            Behavior::DieMidLength => {
                let mut out = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_vec();
                out.extend_from_slice(&[b'x'; 500]);
                let _ = w.write_all(&out);
                thread::sleep(Duration::from_millis(50));
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            Behavior::DieMidChunked => {
                let mut out =
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1f4\r\n".to_vec();
                out.extend_from_slice(&[b'x'; 500]);
                out.extend_from_slice(b"\r\n");
                let _ = w.write_all(&out);
                thread::sleep(Duration::from_millis(50));
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            Behavior::Big(len) => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
                if w.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let mut buf = vec![0u8; 256 * 1024];
                let mut sent = 0u64;
                while sent < len {
                    let n = (len - sent).min(buf.len() as u64) as usize;
                    fill_pattern(&mut buf[..n], sent);
                    if w.write_all(&buf[..n]).is_err() {
                        return;
                    }
                    sent += n as u64;
                }
            }
            Behavior::Raw { bytes, close } => {
                if w.write_all(&bytes).is_err() {
                    return;
                }
                if close {
                    thread::sleep(Duration::from_millis(20));
                    let _ = w.shutdown(Shutdown::Both);
                    return;
                }
            }
            Behavior::Upgrade => {
                let head = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n";
                if w.write_all(head.as_bytes()).is_err() {
                    return;
                }
                // Bytes already buffered after the head, then the socket.
                let early = r.buffer().to_vec();
                r.consume(early.len());
                if !early.is_empty() && w.write_all(&early).is_err() {
                    return;
                }
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match r.get_mut().read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if w.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw client
// ---------------------------------------------------------------------------------------------

pub fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub fn headers_named<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// How a response's body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body by rule (HEAD, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    Close,
}

/// One response as the client read it.
#[derive(Debug, Clone)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    pub framing: BodyFraming,
    /// Every byte of the response as received (head + framed body); kept only for
    /// responses under 1 MiB (empty otherwise).
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        headers_named(&self.headers, name)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
    /// Whether the response announced `connection: close`.
    pub fn says_close(&self) -> bool {
        self.header_all("connection")
            .iter()
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

/// Why a response could not be read whole.
#[derive(Debug)]
pub enum ReadFail {
    /// The connection ended (EOF or reset) before the response was complete.
    Cut {
        /// The head, when it was complete.
        head: Option<Box<Response>>,
        /// Body bytes received (de-chunked).
        body_bytes: usize,
        /// All bytes received for this response.
        raw: Vec<u8>,
    },
    /// No byte for `READ_TIMEOUT`.
    Timeout { raw: Vec<u8> },
}

/// A raw HTTP/1.1 client over one `TcpStream`.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
    /// How long one read waits for a byte.
    timeout: Duration,
    /// The router's stderr: reads stop waiting when it shows a panic.
    router_log: Option<PathBuf>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to router");
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.set_nodelay(true);
        Client {
            stream,
            buf: Vec::new(),
            eof: false,
            timeout: READ_TIMEOUT,
            router_log: None,
        }
    }

    pub fn set_read_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    fn router_panicked(&self) -> bool {
        self.router_log
            .as_ref()
            .is_some_and(|p| std::fs::read_to_string(p).is_ok_and(|l| l.contains("panicked at")))
    }

    /// Sends exactly these bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to router");
    }

    /// Like `send`, but a failed write (the router closed on us) is returned.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads more bytes into `buf`; Ok(false) at EOF (a reset counts as EOF).
    fn fill(&mut self) -> Result<bool, io::ErrorKind> {
        if self.eof {
            return Ok(false);
        }
        let mut tmp = [0u8; 64 * 1024];
        let deadline = Instant::now() + self.timeout;
        loop {
            // Wait in slices, so that a router that panicked is noticed quickly.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut);
            }
            let slice = left.min(Duration::from_millis(250));
            self.stream.set_read_timeout(Some(slice)).unwrap();
            match self.stream.read(&mut tmp) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.router_panicked() {
                        return Err(io::ErrorKind::TimedOut);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.eof = true;
                    return Ok(false);
                }
            }
        }
    }

    /// Reads one full response (panics when cut or timed out).
    pub fn read_response(&mut self) -> Response {
        self.try_read_response(false)
            .unwrap_or_else(|e| panic!("reading a response: {e:?}"))
    }

    /// Reads the response to a HEAD request (no body whatever the head says).
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response(true)
            .unwrap_or_else(|e| panic!("reading a response: {e:?}"))
    }

    /// Reads one response: the head, then the body by its framing (RFC 9112 section 6.3).
    pub fn try_read_response(&mut self, head_request: bool) -> Result<Response, ReadFail> {
        // The head.
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ReadFail::Cut {
                        head: None,
                        body_bytes: 0,
                        raw: std::mem::take(&mut self.buf),
                    });
                }
                Err(_) => {
                    return Err(ReadFail::Timeout {
                        raw: std::mem::take(&mut self.buf),
                    });
                }
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..head_end - 4]).into_owned();
        let mut lines = text.split("\r\n");
        let sl = lines.next().unwrap_or("");
        let mut parts = sl.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {sl:?}"));
        let reason = parts.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                Some((n.to_string(), v.trim().to_string()))
            })
            .collect();
        let te_chunked = header_of(&headers, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let framing =
            if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
                BodyFraming::None
            } else if te_chunked {
                BodyFraming::Chunked
            } else if let Some(l) = header_of(&headers, "content-length") {
                BodyFraming::Length(l.parse().expect("content-length value"))
            } else {
                BodyFraming::Close
            };
        let mut resp = Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            framing,
            raw: Vec::new(),
        };
        let mut pos = head_end;
        let cut = |this: &mut Client, resp: Response, body: usize| {
            let raw = std::mem::take(&mut this.buf);
            ReadFail::Cut {
                head: Some(Box::new(resp)),
                body_bytes: body,
                raw,
            }
        };
        let timeout = |this: &mut Client| ReadFail::Timeout {
            raw: std::mem::take(&mut this.buf),
        };
        match framing {
            BodyFraming::None => {}
            BodyFraming::Length(n) => {
                let n = n as usize;
                while self.buf.len() < head_end + n {
                    match self.fill() {
                        Ok(true) => {}
                        Ok(false) => {
                            let got = self.buf.len() - head_end;
                            return Err(cut(self, resp, got));
                        }
                        Err(_) => return Err(timeout(self)),
                    }
                }
                resp.body = self.buf[head_end..head_end + n].to_vec();
                pos = head_end + n;
            }
            BodyFraming::Close => loop {
                match self.fill() {
                    Ok(true) => {}
                    Ok(false) => {
                        resp.body = self.buf[head_end..].to_vec();
                        pos = self.buf.len();
                        break;
                    }
                    Err(_) => return Err(timeout(self)),
                }
            },
            BodyFraming::Chunked => {
                let mut body = Vec::new();
                loop {
                    // Size line.
                    let line_end = loop {
                        if let Some(i) = find(&self.buf[pos..], b"\r\n") {
                            break pos + i;
                        }
                        match self.fill() {
                            Ok(true) => {}
                            Ok(false) => return Err(cut(self, resp, body.len())),
                            Err(_) => return Err(timeout(self)),
                        }
                    };
                    let line = String::from_utf8_lossy(&self.buf[pos..line_end]).into_owned();
                    let size_txt = line.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size_txt, 16)
                        .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
                    pos = line_end + 2;
                    if size == 0 {
                        // Trailers up to the blank line.
                        loop {
                            let end = loop {
                                if let Some(i) = find(&self.buf[pos..], b"\r\n") {
                                    break pos + i;
                                }
                                match self.fill() {
                                    Ok(true) => {}
                                    Ok(false) => return Err(cut(self, resp, body.len())),
                                    Err(_) => return Err(timeout(self)),
                                }
                            };
                            let empty = end == pos;
                            pos = end + 2;
                            if empty {
                                break;
                            }
                        }
                        break;
                    }
                    while self.buf.len() < pos + size + 2 {
                        match self.fill() {
                            Ok(true) => {}
                            Ok(false) => {
                                let got = body.len() + (self.buf.len() - pos).min(size);
                                return Err(cut(self, resp, got));
                            }
                            Err(_) => return Err(timeout(self)),
                        }
                    }
                    body.extend_from_slice(&self.buf[pos..pos + size]);
                    assert_eq!(&self.buf[pos + size..pos + size + 2], b"\r\n", "chunk CRLF");
                    pos += size + 2;
                }
                resp.body = body;
            }
        }
        if pos < 1 << 20 {
            resp.raw = self.buf[..pos].to_vec();
        }
        self.buf.drain(..pos);
        Ok(resp)
    }

    /// Everything until the peer closes (bounded by `READ_TIMEOUT` per read).
    pub fn read_to_end(&mut self) -> Vec<u8> {
        while let Ok(true) = self.fill() {}
        std::mem::take(&mut self.buf)
    }

    /// Reads exactly `n` bytes (raw, after any response).
    pub fn read_exact_raw(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match self.fill() {
                Ok(true) => {}
                _ => panic!(
                    "wanted {n} bytes, got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// True when the router closed the connection (EOF or reset, nothing left unread)
    /// within `within`.
    pub fn is_closed_within(&mut self, within: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let saved = std::mem::replace(&mut self.timeout, within);
        let r = self.fill();
        self.timeout = saved;
        matches!(r, Ok(false))
    }

    /// Bytes received but not yet consumed by a read_* call.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Asserts an answer made by fcgate itself (SPEC.md section 5).
pub fn assert_fc_error(r: &Response, status: u16, code: &str) {
    assert_eq!(
        r.status,
        status,
        "status (body {:?}, headers {:?})",
        r.text(),
        r.headers
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "content-type of a {status}"
    );
    let id = r.header("x-fc-request-id").unwrap_or("");
    assert!(!id.is_empty(), "x-fc-request-id on a {status}");
    let v = r.json();
    let obj = v.as_object().expect("error body is an object");
    assert_eq!(
        obj.get("errorCode").and_then(|c| c.as_str()),
        Some(code),
        "errorCode in {v}"
    );
    assert!(
        obj.get("errorMessage").is_some_and(|m| m.is_string()),
        "errorMessage in {v}"
    );
    assert_eq!(obj.len(), 2, "only errorCode and errorMessage: {v}");
}
