//! One client connection's life: read a head -> route -> forward (or answer) -> stream the
//! response back -> next request on the same connection. `serve_connection` is the top; the
//! steps below it read in order: `read_head`, `route`, then `forward::forward` or `echo::serve`.

pub mod deadline;
mod echo;
pub mod error;
mod forward;
mod iovec;
mod slot;
mod tunnel;

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use crate::access_log::AccessLogSender;
use crate::errors::FcError;
use crate::http::{HeadError, RequestHead, RequestLimits, Span, Version, parse_request_head};
use crate::metrics::WorkerMetrics;
use crate::routing::{Decision, FunctionEntry, HeaderLookup, Instance, Mode};
use crate::state::{Generation, Shared};
use crate::upstream::Upstreams;
use std::io::Write as _;
use std::os::fd::AsRawFd;

use deadline::{Cut, Deadlines, Watch};

pub use iovec::HeadVec;

/// Most fields a request head may have.
pub const MAX_HEADERS: usize = 100;
/// Size of a connection's receive buffer to start with; it grows to `max_header_bytes`.
const INITIAL_BUF: usize = 4096;
/// Size of the buffers bodies are streamed through.
pub const STREAM_BUF: usize = 32 * 1024;

/// Everything one worker thread owns.
pub struct Worker {
    pub id: u16,
    pub shared: Arc<Shared>,
    pub upstreams: Upstreams,
    seq: Cell<u64>,
    /// The generation last seen by this worker; per request we `load()` and compare. The `Rc`
    /// lets each request hold its generation with a plain (non-atomic) reference count.
    #[allow(clippy::redundant_allocation)]
    generation: RefCell<Rc<Arc<Generation>>>,
    /// Spare streaming buffers, so that a request in steady state allocates nothing.
    spare: RefCell<Vec<Vec<u8>>>,
    /// Heap slots the request futures run in.
    slots: slot::Slots,
    /// This worker's counters (it is their only writer).
    pub metrics: Arc<WorkerMetrics>,
    /// Access-log lines not yet handed to the writer thread.
    access: RefCell<Vec<u8>>,
    /// Open client connections of this worker.
    pub connections: Cell<usize>,
    /// Every connection's deadline slot (and which ones wait for their next request).
    pub deadlines: Deadlines,
}

impl Worker {
    pub fn new(id: u16, shared: Arc<Shared>) -> Worker {
        let generation = shared.current.load_full();
        let up = &generation.config.upstream;
        let upstreams = Upstreams::new(
            shared.nonce ^ ((id as u64 + 1) << 48),
            up.max_idle_per_upstream,
            Duration::from_millis(up.idle_timeout_ms),
        );
        Worker {
            id,
            metrics: shared.metrics[id as usize].clone(),
            shared,
            upstreams,
            seq: Cell::new(0),
            generation: RefCell::new(Rc::new(generation)),
            spare: RefCell::new(Vec::new()),
            slots: slot::Slots::default(),
            access: RefCell::new(Vec::new()),
            connections: Cell::new(0),
            deadlines: Deadlines::new(),
        }
    }

    /// The current generation: one `ArcSwap::load()` per request; a reload is seen by the
    /// very next request, while requests in flight keep the generation they started with.
    pub fn generation(&self) -> Rc<Arc<Generation>> {
        let current = self.shared.current.load();
        let mut cached = self.generation.borrow_mut();
        if !Arc::ptr_eq(&cached, &current) {
            let up = &current.config.upstream;
            self.upstreams.max_idle.set(up.max_idle_per_upstream);
            self.upstreams
                .idle_timeout
                .set(Duration::from_millis(up.idle_timeout_ms));
            *cached = Rc::new(arc_swap::Guard::into_inner(current));
        }
        cached.clone()
    }

    pub fn next_request_id(&self) -> RequestId {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        RequestId::new(self.shared.nonce, self.id, n)
    }

    /// Drain: shuts down every connection that is waiting for its next request.
    pub fn close_idle_connections(&self) {
        self.deadlines.shut_idle();
    }

    fn access_append(&self, line: &[u8], sender: &AccessLogSender) {
        let mut buf = self.access.borrow_mut();
        buf.extend_from_slice(line);
        if buf.len() >= crate::access_log::FLUSH_BYTES {
            let full = std::mem::replace(
                &mut *buf,
                Vec::with_capacity(crate::access_log::FLUSH_BYTES + 1024),
            );
            if !sender.send(full) {
                self.metrics.access_log_dropped.inc();
            }
        }
    }

    /// Hands buffered access-log lines to the writer (called periodically).
    pub fn flush_access_log(&self) {
        if let Some(sender) = &self.shared.access_log {
            let mut buf = self.access.borrow_mut();
            if !buf.is_empty() && !sender.send(std::mem::take(&mut *buf)) {
                self.metrics.access_log_dropped.inc();
            }
        }
    }

    pub fn take_buf(&self) -> Vec<u8> {
        self.spare
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(STREAM_BUF))
    }

    pub fn give_buf(&self, mut b: Vec<u8>) {
        let mut spare = self.spare.borrow_mut();
        if spare.len() < 64 && b.capacity() >= STREAM_BUF && b.capacity() <= 4 * STREAM_BUF {
            b.clear();
            spare.push(b);
        }
    }
}

/// `x-fc-request-id`: 32 hex digits, process nonce + worker + sequence: unique, no lock.
#[derive(Clone, Copy)]
pub struct RequestId([u8; 32]);

impl RequestId {
    fn new(nonce: u64, worker: u16, seq: u64) -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        let mut put = |at: usize, v: u64, digits: usize| {
            for i in 0..digits {
                out[at + i] = HEX[((v >> (4 * (digits - 1 - i))) & 0xf) as usize];
            }
        };
        put(0, nonce, 16);
        put(16, worker as u64, 4);
        put(20, seq, 12);
        RequestId(out)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        // Always ASCII hex.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// An IP address as text, formatted once per connection.
pub struct IpText {
    len: u8,
    text: [u8; 45],
}

impl IpText {
    pub fn new(ip: std::net::IpAddr) -> IpText {
        let mut text = [0u8; 45];
        let mut cursor = io::Cursor::new(&mut text[..]);
        // INET6_ADDRSTRLEN - 1 = 45 bytes hold any address's text.
        let _ = write!(cursor, "{ip}");
        IpText {
            len: cursor.position() as u8,
            text,
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.text[..self.len as usize]
    }
}

/// A client connection and the bytes received on it.
pub struct Conn<'w> {
    pub stream: TcpStream,
    /// The client's IP address as text (written into every forwarded head).
    pub peer_ip: IpText,
    /// The connection's deadline slot (every wait on the client is bounded through it).
    pub watch: Watch<'w>,
    pub peer: SocketAddr,
    /// Received bytes; `buf[pos..]` are not consumed yet.
    pub buf: Vec<u8>,
    pub pos: usize,
    /// Reused for every head written on this connection (its `extra` keeps its capacity).
    pub hv: HeadVec,
    /// The current request, for metrics and the access log: the status sent to the client
    /// (0: none), the instance used, body bytes received, bytes sent.
    pub status: u16,
    pub instance: Option<SocketAddr>,
    pub body_in: u64,
    pub bytes_out: u64,
    /// The access-log line being built (reused).
    pub log: Vec<u8>,
    /// Longest wait for one write to the client (`idle_timeout_ms`): a client that stops
    /// reading cannot hold a connection forever.
    pub send_timeout: Duration,
}

/// What a bounded read of the client gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRead {
    Data(usize),
    /// EOF or a reset.
    Closed,
    /// The limit passed; the read side is shut, an answer (408) can still be written.
    TimedOut,
}

/// An operation's result, turned into `TimedOut` when its deadline cut it short.
pub fn unless_expired<R>(res: io::Result<R>, armed: deadline::Armed<'_>) -> io::Result<R> {
    if armed.expired() {
        Err(io::ErrorKind::TimedOut.into())
    } else {
        res
    }
}

fn client_read(read: io::Result<usize>, armed: deadline::Armed<'_>) -> ClientRead {
    if armed.expired() {
        return ClientRead::TimedOut;
    }
    match read {
        Ok(0) | Err(_) => ClientRead::Closed,
        Ok(n) => ClientRead::Data(n),
    }
}

impl<'w> Conn<'w> {
    /// Reads more bytes into `buf` (growing it when full, up to `limit` bytes of capacity).
    /// `Ok(0)`: the peer closed.
    pub async fn fill(&mut self, limit: usize) -> io::Result<usize> {
        if self.buf.len() == self.buf.capacity() {
            let want = (self.buf.capacity() * 2).clamp(INITIAL_BUF, limit.max(INITIAL_BUF));
            if want <= self.buf.capacity() {
                return Err(io::ErrorKind::OutOfMemory.into());
            }
            self.buf.reserve_exact(want - self.buf.len());
        }
        let b = std::mem::take(&mut self.buf);
        let len = b.len();
        let (res, slice) = self.stream.read(b.slice_mut(len..)).await;
        self.buf = slice.into_inner();
        res
    }

    /// Drops the consumed bytes, keeping any pipelined rest at the start of `buf`.
    pub fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// [`Conn::fill`] within `limit`.
    pub async fn fill_within(&mut self, limit: Duration, cap: usize) -> ClientRead {
        let armed = self.watch.arm(self.stream.as_raw_fd(), limit, Cut::Read);
        let read = self.fill(cap).await;
        client_read(read, armed)
    }

    /// Reads into `buf[..want]` (cleared first) within `limit`, never past `want` bytes.
    pub async fn read_within(
        &mut self,
        buf: &mut Vec<u8>,
        want: usize,
        limit: Duration,
    ) -> ClientRead {
        buf.clear();
        let armed = self.watch.arm(self.stream.as_raw_fd(), limit, Cut::Read);
        let (read, s) = self
            .stream
            .read(std::mem::take(buf).slice_mut(0..want))
            .await;
        *buf = s.into_inner();
        client_read(read, armed)
    }

    /// Arms the connection's deadline for one write to the client.
    pub fn arm_send(&self) -> deadline::Armed<'w> {
        self.watch
            .arm(self.stream.as_raw_fd(), self.send_timeout, Cut::Both)
    }

    pub async fn write_all(&mut self, bytes: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        self.bytes_out += bytes.len() as u64;
        let armed = self.arm_send();
        let (res, bytes) = self.stream.write_all(bytes).await;
        (unless_expired(res, armed).map(|_| ()), bytes)
    }

    /// Sends `rb[data]` to the client, as one chunk when `chunked`; `rb` comes back.
    pub async fn send_piece(
        &mut self,
        rb: &mut Vec<u8>,
        data: std::ops::Range<usize>,
        chunked: bool,
    ) -> io::Result<()> {
        self.bytes_out += data.len() as u64;
        let armed = self.arm_send();
        let res = if chunked {
            let mut hv = std::mem::take(&mut self.hv);
            hv.recv = std::mem::take(rb);
            let (res, mut hv) = forward::write_chunk(&mut self.stream, hv, data).await;
            *rb = std::mem::take(&mut hv.recv);
            self.hv = hv;
            res
        } else {
            let (res, s) = self.stream.write_all(std::mem::take(rb).slice(data)).await;
            *rb = s.into_inner();
            res.map(|_| ())
        };
        unless_expired(res, armed)
    }

    /// Resets the per-request accounting.
    pub fn begin_request(&mut self) {
        self.status = 0;
        self.instance = None;
        self.body_in = 0;
        self.bytes_out = 0;
    }

    pub async fn send_static(&mut self, bytes: &'static [u8]) -> io::Result<()> {
        self.bytes_out += bytes.len() as u64;
        let armed = self.arm_send();
        let (res, _) = self.stream.write_all(bytes).await;
        unless_expired(res, armed).map(|_| ())
    }
}

/// What happens to the connection after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    KeepAlive,
    Close,
}

/// Serves one client connection until it closes, times out or fails.
pub async fn serve_connection(stream: TcpStream, peer: SocketAddr, w: Rc<Worker>) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        watch: w.deadlines.watch(),
        peer_ip: IpText::new(peer.ip()),
        peer,
        buf: Vec::with_capacity(INITIAL_BUF),
        pos: 0,
        hv: HeadVec::new(),
        status: 0,
        instance: None,
        body_in: 0,
        bytes_out: 0,
        log: Vec::new(),
        send_timeout: Duration::ZERO,
    };
    let mut first = true;
    loop {
        let generation = w.generation();
        let server = &generation.config.server;
        let limits = RequestLimits {
            max_header_bytes: server.max_header_bytes,
            max_uri_bytes: server.max_uri_bytes,
            max_headers: MAX_HEADERS,
        };
        conn.compact();
        conn.send_timeout = Duration::from_millis(server.idle_timeout_ms);
        if conn.buf.is_empty() && conn.buf.capacity() > 2 * INITIAL_BUF {
            // A large request grew the buffer: keep idle connections small.
            let big = std::mem::replace(&mut conn.buf, Vec::with_capacity(INITIAL_BUF));
            w.give_buf(big);
        }
        let idle = Duration::from_millis(if first {
            server.header_timeout_ms
        } else {
            server.idle_timeout_ms
        });
        let header_timeout = Duration::from_millis(server.header_timeout_ms);
        // Waiting for a new request: a drain may close this connection at once.
        let fd = conn.stream.as_raw_fd();
        let idle_mark = conn.buf.is_empty();
        if idle_mark {
            conn.watch.set_idle(fd, true);
        }
        let read = read_head(&mut conn, &limits, idle, header_timeout).await;
        if idle_mark {
            conn.watch.set_idle(fd, false);
        }
        let head = match read {
            HeadRead::Head(h) => h,
            HeadRead::Closed => return,
            HeadRead::Failed(e) => {
                let started = Instant::now();
                let id = w.next_request_id();
                conn.begin_request();
                if w.shared.access_log.is_some() {
                    log_start(&mut conn, None, &id, None);
                }
                answer(&mut conn, &e, &id, false, true).await;
                finish_request(&mut conn, &w, None, 0, started);
                return;
            }
        };
        first = false;
        // Re-read: a reload may have happened while this connection was idle.
        let generation = w.generation();
        let next = w
            .slots
            .run(handle_request(&mut conn, &w, &generation, head))
            .await;
        if next == Next::Close || w.shared.is_draining() {
            return;
        }
    }
}

#[allow(clippy::large_enum_variant)] // returned once per request, moved straight into place
enum HeadRead {
    Head(RequestHead),
    /// The client closed (or went quiet) between requests: nothing to answer.
    Closed,
    Failed(FcError),
}

async fn read_head(
    conn: &mut Conn<'_>,
    limits: &RequestLimits,
    idle: Duration,
    header_timeout: Duration,
) -> HeadRead {
    // Until the first byte: `idle`; from then on the whole head within `header_timeout`
    // (counted from when fcgate first needs to wait for more of it).
    let mut deadline: Option<Instant> = None;
    let cap_limit = limits.max_header_bytes + 1;
    loop {
        if !conn.buf.is_empty() {
            match parse_request_head(&conn.buf, limits) {
                Ok(Some(head)) => return HeadRead::Head(head),
                Ok(None) => {}
                Err(e) => return HeadRead::Failed(error::from_head_error(e)),
            }
            if conn.buf.len() > limits.max_header_bytes {
                return HeadRead::Failed(error::from_head_error(HeadError::TooLarge));
            }
        }
        let wait = if conn.buf.is_empty() {
            idle
        } else {
            let d = *deadline.get_or_insert_with(|| Instant::now() + header_timeout);
            d.saturating_duration_since(Instant::now())
        };
        match conn.fill_within(wait, cap_limit).await {
            ClientRead::Data(_) => {}
            // EOF, possibly after a partial head: nothing sensible to answer.
            ClientRead::Closed => return HeadRead::Closed,
            // 408 for a partial head; a connection that sent nothing is just closed.
            ClientRead::TimedOut if conn.buf.is_empty() => return HeadRead::Closed,
            ClientRead::TimedOut => return HeadRead::Failed(error::timeout()),
        }
    }
}

/// Field access for routing over a parsed head.
struct HeadView<'a> {
    buf: &'a [u8],
    head: &'a RequestHead,
}

impl HeaderLookup for HeadView<'_> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        if name.eq_ignore_ascii_case("x-fc-invocation-target") {
            return self.head.invocation_target.map(|s| s.get(self.buf));
        }
        let mut found = None;
        for h in &self.head.headers {
            if h.name.get(self.buf).eq_ignore_ascii_case(name.as_bytes()) {
                if found.is_some() {
                    return None;
                }
                found = Some(h.value.get(self.buf));
            }
        }
        found
    }
}

/// Bytes that are either a span of the received head or new.
#[derive(Debug, Clone)]
pub enum Bytes {
    Span(Span),
    Owned(Vec<u8>),
}

impl Bytes {
    fn from_cow(c: std::borrow::Cow<'_, [u8]>, buf: &[u8]) -> Bytes {
        match c {
            std::borrow::Cow::Borrowed(s) => {
                let start = s.as_ptr() as usize;
                let base = buf.as_ptr() as usize;
                if start >= base && start + s.len() <= base + buf.len() {
                    let off = (start - base) as u32;
                    Bytes::Span(Span {
                        start: off,
                        end: off + s.len() as u32,
                    })
                } else {
                    Bytes::Owned(s.to_vec())
                }
            }
            std::borrow::Cow::Owned(v) => Bytes::Owned(v),
        }
    }
    pub fn get<'a>(&'a self, buf: &'a [u8]) -> &'a [u8] {
        match self {
            Bytes::Span(s) => s.get(buf),
            Bytes::Owned(v) => v,
        }
    }
}

/// A routed request, detached from the routing table's borrow.
pub struct Target {
    pub mode: Mode,
    pub function: Arc<FunctionEntry>,
    pub target: Bytes,
    pub base_path: Option<Bytes>,
}

/// Starts the access-log line of a request: everything known before it is forwarded.
fn log_start(
    conn: &mut Conn<'_>,
    head: Option<&RequestHead>,
    id: &RequestId,
    target: Option<&Target>,
) {
    use crate::access_log::{json_str, rfc3339_millis};
    let log = &mut conn.log;
    log.clear();
    log.extend_from_slice(b"{\"time\":\"");
    rfc3339_millis(log, std::time::SystemTime::now());
    let _ = write!(
        log,
        "\",\"request_id\":\"{}\",\"client\":\"{}\"",
        id.as_str(),
        conn.peer
    );
    let field = |log: &mut Vec<u8>, name: &str, v: Option<&[u8]>| {
        let _ = write!(log, ",\"{name}\":");
        match v {
            Some(v) => json_str(log, v),
            None => log.extend_from_slice(b"null"),
        }
    };
    let buf = &conn.buf;
    field(log, "method", head.map(|h| h.method.get(buf)));
    field(log, "host", head.and_then(|h| h.host).map(|s| s.get(buf)));
    field(log, "target", head.map(|h| h.target.get(buf)));
    field(log, "mode", target.map(|t| t.mode.as_str().as_bytes()));
    let f = target.map(|t| &t.function);
    field(log, "service", f.map(|f| f.service.as_bytes()));
    field(log, "function", f.map(|f| f.name.as_bytes()));
    field(log, "qualifier", f.map(|f| f.qualifier.as_bytes()));
    field(log, "forwarded", target.map(|t| t.target.get(buf)));
}

/// Counts the finished request and completes its access-log line.
fn finish_request(
    conn: &mut Conn<'_>,
    w: &Worker,
    mode: Option<Mode>,
    head_len: usize,
    started: Instant,
) {
    let micros = started.elapsed().as_micros() as u64;
    w.metrics.record(mode, conn.status, micros);
    if let Some(sender) = &w.shared.access_log {
        let log = &mut conn.log;
        match conn.instance {
            Some(a) => {
                let _ = write!(log, ",\"instance\":\"{a}\"");
            }
            None => log.extend_from_slice(b",\"instance\":null"),
        }
        let _ = writeln!(
            log,
            ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{}.{:03}}}",
            conn.status,
            head_len as u64 + conn.body_in,
            conn.bytes_out,
            micros / 1000,
            micros % 1000
        );
        w.access_append(&conn.log, sender);
    }
}

async fn handle_request(
    conn: &mut Conn<'_>,
    w: &Rc<Worker>,
    generation: &Generation,
    head: RequestHead,
) -> Next {
    let started = Instant::now();
    conn.begin_request();
    let head_len = head.head_len;
    let (next, mode) = route_and_forward(conn, w, generation, &head).await;
    finish_request(conn, w, mode, head_len, started);
    next
}

async fn route_and_forward(
    conn: &mut Conn<'_>,
    w: &Rc<Worker>,
    generation: &Generation,
    head: &RequestHead,
) -> (Next, Option<Mode>) {
    let id = w.next_request_id();
    let is_head = head.method.get(&conn.buf) == b"HEAD";
    let keep_alive = head.keep_alive;

    let decision = {
        let view = HeadView {
            buf: &conn.buf,
            head,
        };
        let host = head.host.map(|s| s.get(&conn.buf));
        match generation.table.resolve(
            head.method.get(&conn.buf),
            host,
            head.target.get(&conn.buf),
            &view,
        ) {
            Decision::Routed(r) => Ok(Target {
                mode: r.mode,
                function: r.function.clone(),
                target: Bytes::from_cow(r.target, &conn.buf),
                base_path: r.base_path.map(|b| Bytes::from_cow(b, &conn.buf)),
            }),
            Decision::Answer(e) => Err(e),
        }
    };
    // The head is consumed; whatever follows it (body, pipelined requests) stays.
    conn.pos = head.head_len;
    if w.shared.access_log.is_some() {
        log_start(conn, Some(head), &id, decision.as_ref().ok());
    }
    let target = match decision {
        Ok(t) => t,
        Err(e) => {
            // The body (if any) was not read: close unless there is none.
            let close = !keep_alive || head.body != crate::http::BodyKind::None;
            let sent = answer(conn, &e, &id, is_head, close).await;
            let next = if close || !sent {
                Next::Close
            } else {
                Next::KeepAlive
            };
            return (next, None);
        }
    };
    let mode = Some(target.mode);
    if let crate::http::BodyKind::Length(n) = head.body
        && n > generation.config.server.max_body_bytes
    {
        answer(conn, &error::too_large(), &id, is_head, true).await;
        return (Next::Close, mode);
    }
    if head.expect_continue
        && head.body != crate::http::BodyKind::None
        && conn
            .send_static(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .is_err()
    {
        return (Next::Close, mode);
    }
    let req = forward::Request {
        head,
        id,
        is_head,
        target,
    };
    let echo = matches!(req.target.function.instances.first(), Some(Instance::Echo));
    let next = if echo {
        echo::serve(conn, w, generation, req).await
    } else {
        forward::forward(conn, w, generation, req).await
    };
    (next, mode)
}

/// Writes an answer made by fcgate; false when the client is gone.
pub async fn answer(
    conn: &mut Conn<'_>,
    e: &FcError,
    id: &RequestId,
    head_only: bool,
    close: bool,
) -> bool {
    conn.status = e.status;
    let mut out = Vec::with_capacity(256);
    error::render(&mut out, e, id, head_only, close);
    conn.write_all(out).await.0.is_ok()
}

/// The client's HTTP version, for framing the answer.
pub fn client_version(head: &RequestHead) -> Version {
    head.version
}
