//! Forwarding one routed request to a function instance and streaming the answer back.
//!
//! Order of events: pick an instance (p2c) -> take a pooled connection or connect -> write the
//! rewritten head (one vectored write, with whatever body bytes came with it) -> stream the
//! rest of the body -> read the response head (within `response_timeout_ms`) -> write the
//! client's head -> stream the body -> pool the connection if both sides allow it.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use smallvec::SmallVec;

use crate::clock;
use crate::http::chunked::LAST_CHUNK;
use crate::http::{
    BodyKind, ChunkedDecoder, RequestHead, ResponseBody, ResponseError, ResponseHead, Version,
    parse_response_head,
};
use crate::routing::Instance;
use crate::state::Generation;

use super::deadline::{Cut, Watch};
use super::{
    Bytes, ClientRead, Conn, HeadVec, Next, RequestId, Target, Worker, answer, error,
    unless_expired,
};

/// Longest response head accepted from an instance.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

pub struct Request<'h> {
    pub head: &'h RequestHead,
    pub id: RequestId,
    pub is_head: bool,
    pub target: Target,
}

fn is_name(buf: &[u8], f: &crate::http::HeaderField, lower: &[u8]) -> bool {
    f.name.len() == lower.len() && f.name.get(buf).eq_ignore_ascii_case(lower)
}

/// Appends `name` (with its `: `), `value` and CRLF.
fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Fills `hv` with the head the instance receives (SPEC.md section 4). `hv.recv` holds the
/// client's bytes; `peer_ip` is the client's address as text; `body_now` is the part of the
/// body that came with the head.
pub fn build_request_head(
    hv: &mut HeadVec,
    req: &Request<'_>,
    peer_ip: &[u8],
    body_now: std::ops::Range<usize>,
) {
    let head = &req.head;
    let f = &req.target.function;
    let extra = &mut hv.extra;
    extra.clear();
    let target_owned = match &req.target.target {
        Bytes::Owned(v) => {
            extra.extend_from_slice(v);
            Some(0..extra.len())
        }
        Bytes::Span(_) => None,
    };
    let added = extra.len();
    push_field(extra, b"x-fc-request-id: ", req.id.as_bytes());
    push_field(extra, b"x-fc-account-id: ", f.account.as_bytes());
    push_field(extra, b"x-fc-service-name: ", f.service.as_bytes());
    push_field(extra, b"x-fc-function-name: ", f.name.as_bytes());
    push_field(extra, b"x-fc-qualifier: ", f.qualifier.as_bytes());
    if let Some(base) = &req.target.base_path {
        push_field(extra, b"x-fc-base-path: ", base.get(&hv.recv));
    }
    extra.extend_from_slice(b"x-forwarded-for: ");
    for v in &head.x_forwarded_for {
        extra.extend_from_slice(v.get(&hv.recv));
        extra.extend_from_slice(b", ");
    }
    extra.extend_from_slice(peer_ip);
    extra.extend_from_slice(b"\r\nx-forwarded-proto: http\r\n");
    push_field(extra, b"x-real-ip: ", peer_ip);
    match head.body {
        BodyKind::Length(n) => {
            extra.extend_from_slice(b"content-length: ");
            crate::http::push_decimal(extra, n);
            extra.extend_from_slice(b"\r\n");
        }
        BodyKind::Chunked => extra.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        BodyKind::None => {}
    }
    if head.upgrade {
        extra.extend_from_slice(b"connection: upgrade\r\n");
    }
    extra.extend_from_slice(b"\r\n");
    let added = added..extra.len();

    hv.recv_piece(head.method.start as usize..head.method.end as usize + 1);
    match (&req.target.target, target_owned) {
        (_, Some(r)) => hv.extra_piece(r),
        (Bytes::Span(s), None) => hv.recv_piece(s.range()),
        (Bytes::Owned(_), None) => {}
    }
    hv.static_piece(b" HTTP/1.1\r\n");
    for h in &head.headers {
        if h.forward && !is_name(&hv.recv, h, b"content-length") && !is_name(&hv.recv, h, b"expect")
        {
            hv.recv_piece(h.line.range());
        }
    }
    hv.extra_piece(added);
    hv.recv_piece(body_now);
}

/// Why forwarding stopped early.
enum Fail {
    /// Tell the client (nothing of the response was sent yet), then close.
    Answer(crate::errors::FcError),
    /// Just close the client connection (it is gone, or the response was cut).
    Cut,
}

pub async fn forward(
    conn: &mut Conn<'_>,
    w: &Rc<Worker>,
    generation: &Generation,
    req: Request<'_>,
) -> Next {
    match forward_inner(conn, w, generation, &req).await {
        Ok(next) => next,
        Err(Fail::Answer(e)) => {
            answer(conn, &e, &req.id, req.is_head, true).await;
            Next::Close
        }
        Err(Fail::Cut) => Next::Close,
    }
}

async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    match monoio::time::timeout(timeout, TcpStream::connect_addr(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

async fn forward_inner(
    conn: &mut Conn<'_>,
    w: &Rc<Worker>,
    generation: &Generation,
    req: &Request<'_>,
) -> Result<Next, Fail> {
    let cfg = &generation.config;
    let addrs: SmallVec<[SocketAddr; 8]> = req
        .target
        .function
        .instances
        .iter()
        .filter_map(|i| match i {
            Instance::Tcp(a) => Some(*a),
            Instance::Echo => None,
        })
        .collect();
    let head = &req.head;
    let head_len = head.head_len;
    // The part of the body that came with the head, and whether the request can be re-sent
    // whole (no byte of it was read past what we still hold).
    let avail = conn.buf.len() - head_len;
    let body_now = match head.body {
        BodyKind::Length(n) => head_len..head_len + (n.min(avail as u64) as usize),
        _ => head_len..head_len,
    };
    let resendable = match head.body {
        BodyKind::None => true,
        BodyKind::Length(n) => body_now.len() as u64 == n,
        BodyKind::Chunked => false,
    };
    let connect_timeout = Duration::from_millis(cfg.upstream.connect_timeout_ms);
    let limits = BodyLimits {
        read: Duration::from_millis(cfg.server.header_timeout_ms),
        send: Duration::from_millis(cfg.upstream.response_timeout_ms),
        max_body: cfg.server.max_body_bytes,
    };
    let send_limit = limits.send;
    let max_attempts = 1 + cfg.upstream.retries as usize;
    // Bounds every wait on the instance's connection.
    let uw = w.deadlines.watch();
    let mut tried: SmallVec<[SocketAddr; 4]> = SmallVec::new();
    let mut stale_retry = true;
    let mut fresh_only = false;

    let (up, outstanding, rbuf, mut resp) = 'attempt: loop {
        let Some(out) = w.upstreams.pick(&addrs, &tried) else {
            return Err(Fail::Answer(error::unreachable()));
        };
        let inst = out.instance().clone();
        conn.instance = Some(inst.addr);
        let pooled = if fresh_only {
            None
        } else {
            w.upstreams.take_idle(&inst)
        };
        let is_pooled = pooled.is_some();
        let mut up = match pooled {
            Some(c) => c,
            // Boxed: a new connection is the rare case, and its timer entry would otherwise
            // sit in every request's future.
            None => match Box::pin(connect(inst.addr, connect_timeout)).await {
                Ok(c) => {
                    inst.mark_up();
                    c
                }
                Err(_) => {
                    w.metrics.upstream_connect_errors.inc();
                    inst.mark_down();
                    tried.push(inst.addr);
                    fresh_only = false;
                    if tried.len() >= max_attempts.max(1) || tried.len() >= addrs.len() {
                        return Err(Fail::Answer(error::unreachable()));
                    }
                    continue 'attempt;
                }
            },
        };

        // The head, with the body bytes that came with it, in one vectored write.
        let mut hv = std::mem::take(&mut conn.hv);
        hv.reset(std::mem::take(&mut conn.buf));
        build_request_head(&mut hv, req, conn.peer_ip.as_bytes(), body_now.clone());
        let armed = uw.arm(up.as_raw_fd(), send_limit, Cut::Both);
        let (res, mut hv) = hv.write_all(&mut up).await;
        let res = unless_expired(res, armed);
        conn.buf = std::mem::take(&mut hv.recv);
        conn.hv = hv;
        if res.is_err() {
            if is_pooled && stale_retry {
                stale_retry = false;
                fresh_only = true;
                continue 'attempt;
            }
            return Err(Fail::Answer(error::unreachable()));
        }
        conn.pos = body_now.end;
        conn.body_in = body_now.len() as u64;

        // The rest of the body.
        match head.body {
            BodyKind::Length(n) => {
                let rest = n - body_now.len() as u64;
                if rest > 0 {
                    stream_length_body(conn, w, &mut up, &uw, rest, &limits).await?;
                }
            }
            BodyKind::Chunked => {
                stream_chunked_body(conn, w, &mut up, &uw, &limits).await?;
            }
            BodyKind::None => {}
        }

        // The response head.
        let deadline = clock::now_ms().saturating_add(cfg.upstream.response_timeout_ms);
        match read_response_head(&mut up, &uw, w.take_buf(), req.is_head, deadline).await {
            Ok((rbuf, resp)) => break 'attempt (up, out, rbuf, resp),
            Err(HeadFail::ClosedEarly) if is_pooled && stale_retry && resendable => {
                stale_retry = false;
                fresh_only = true;
                conn.pos = head_len;
                continue 'attempt;
            }
            Err(e) => return Err(e.into_fail()),
        }
    };
    relay_response(
        conn,
        w,
        generation,
        req,
        up,
        &uw,
        outstanding,
        rbuf,
        &mut resp,
    )
    .await
}

/// Limits while a request body is streamed to an instance.
struct BodyLimits {
    /// Longest wait for the client's next bytes (`header_timeout_ms`): then 408.
    read: Duration,
    /// Longest wait for the instance to take the next bytes (`response_timeout_ms`).
    send: Duration,
    max_body: u64,
}

async fn stream_length_body(
    conn: &mut Conn<'_>,
    w: &Worker,
    up: &mut TcpStream,
    uw: &Watch<'_>,
    mut rest: u64,
    limits: &BodyLimits,
) -> Result<(), Fail> {
    // Nothing of the body is left in conn.buf past conn.pos: read straight into a stream buffer,
    // never past the body's end (pipelined bytes stay in the socket).
    let mut sb = w.take_buf();
    let (timeout, send_limit) = (limits.read, limits.send);
    while rest > 0 {
        let want = (sb.capacity() as u64).min(rest) as usize;
        let n = match conn.read_within(&mut sb, want, timeout).await {
            ClientRead::Data(n) => n,
            ClientRead::Closed => return Err(Fail::Cut),
            ClientRead::TimedOut => return Err(Fail::Answer(error::timeout())),
        };
        rest -= n as u64;
        conn.body_in += n as u64;
        let armed = uw.arm(up.as_raw_fd(), send_limit, Cut::Both);
        let (res, b) = up.write_all(sb).await;
        let res = unless_expired(res, armed);
        sb = b;
        if res.is_err() {
            return Err(Fail::Answer(error::bad_response(
                "function instance stopped reading the request",
            )));
        }
    }
    w.give_buf(sb);
    Ok(())
}

/// Writes one chunk (`size CRLF data CRLF`) of `data` (a range of `hv.recv`).
pub async fn write_chunk<W: AsyncWriteRent>(
    up: &mut W,
    mut hv: HeadVec,
    data: std::ops::Range<usize>,
) -> (io::Result<()>, HeadVec) {
    let recv = std::mem::take(&mut hv.recv);
    hv.reset(recv);
    let mut line = [0u8; 18];
    let l = crate::http::chunked::chunk_size_line(data.len() as u64, &mut line);
    hv.extra.extend_from_slice(l);
    let n = hv.extra.len();
    hv.extra_piece(0..n);
    hv.recv_piece(data);
    hv.static_piece(b"\r\n");
    hv.write_all(up).await
}

async fn stream_chunked_body(
    conn: &mut Conn<'_>,
    w: &Worker,
    up: &mut TcpStream,
    uw: &Watch<'_>,
    limits: &BodyLimits,
) -> Result<(), Fail> {
    let mut dec = ChunkedDecoder::new();
    let mut total: u64 = 0;
    let (timeout, send_limit, max_body) = (limits.read, limits.send, limits.max_body);
    // Decode what is in conn.buf first, then read more into it (it is empty by then).
    loop {
        let step = match dec.step(&conn.buf[conn.pos..]) {
            Ok(s) => s,
            Err(crate::http::ChunkError::Malformed(why)) => {
                return Err(Fail::Answer(error::bad_body(why)));
            }
        };
        let data = conn.pos + step.data.start..conn.pos + step.data.end;
        conn.pos += step.consumed;
        // A chunk that announces more than the body may still hold: refuse it now.
        if total + data.len() as u64 + dec.data_left() > max_body {
            return Err(Fail::Answer(error::too_large()));
        }
        if !data.is_empty() {
            total += data.len() as u64;
            conn.body_in = total;
            if total > max_body {
                return Err(Fail::Answer(error::too_large()));
            }
            let mut hv = std::mem::take(&mut conn.hv);
            hv.recv = std::mem::take(&mut conn.buf);
            let armed = uw.arm(up.as_raw_fd(), send_limit, Cut::Both);
            let (res, mut hv) = write_chunk(up, hv, data).await;
            let res = unless_expired(res, armed);
            conn.buf = std::mem::take(&mut hv.recv);
            conn.hv = hv;
            if res.is_err() {
                return Err(Fail::Answer(error::bad_response(
                    "function instance stopped reading the request",
                )));
            }
        }
        if step.done {
            let armed = uw.arm(up.as_raw_fd(), send_limit, Cut::Both);
            let (res, _) = up.write_all(LAST_CHUNK).await;
            if unless_expired(res, armed).is_err() {
                return Err(Fail::Answer(error::bad_response(
                    "function instance stopped reading the request",
                )));
            }
            return Ok(());
        }
        if conn.pos == conn.buf.len() {
            conn.buf.clear();
            conn.pos = 0;
            if conn.buf.capacity() < super::STREAM_BUF {
                let spare = w.take_buf();
                let old = std::mem::replace(&mut conn.buf, spare);
                w.give_buf(old);
            }
            match conn.fill_within(timeout, super::STREAM_BUF).await {
                ClientRead::Data(_) => {}
                ClientRead::Closed => return Err(Fail::Cut),
                ClientRead::TimedOut => return Err(Fail::Answer(error::timeout())),
            }
        }
    }
}

enum HeadFail {
    /// Closed or reset before a single byte of response.
    ClosedEarly,
    Bad(&'static str),
    TimedOut,
}

impl HeadFail {
    fn into_fail(self) -> Fail {
        Fail::Answer(match self {
            HeadFail::ClosedEarly => {
                error::bad_response("function instance closed the connection without answering")
            }
            HeadFail::Bad(why) => error::bad_response(why),
            HeadFail::TimedOut => error::upstream_timeout(),
        })
    }
}

/// Reads until `rb` (which may already hold some of it) starts with a whole response head.
async fn read_response_head(
    up: &mut TcpStream,
    uw: &Watch<'_>,
    mut rb: Vec<u8>,
    is_head: bool,
    deadline: u64,
) -> Result<(Vec<u8>, ResponseHead), HeadFail> {
    loop {
        if !rb.is_empty() {
            match parse_response_head(&rb, is_head, MAX_RESPONSE_HEAD) {
                Ok(Some(h)) => return Ok((rb, h)),
                Ok(None) => {}
                Err(ResponseError::TooLarge) => {
                    return Err(HeadFail::Bad("response head too large"));
                }
                Err(ResponseError::Malformed(why)) => return Err(HeadFail::Bad(why)),
            }
            if rb.len() >= MAX_RESPONSE_HEAD {
                return Err(HeadFail::Bad("response head too large"));
            }
        }
        if rb.len() == rb.capacity() {
            rb.reserve(rb.capacity().max(4096));
        }
        let len = rb.len();
        let wait = Duration::from_millis(deadline.saturating_sub(clock::now_ms()));
        let armed = uw.arm(up.as_raw_fd(), wait, Cut::Both);
        let (res, s) = up.read(rb.slice_mut(len..)).await;
        rb = s.into_inner();
        if armed.expired() {
            return Err(HeadFail::TimedOut);
        }
        match res {
            Ok(0) | Err(_) if rb.is_empty() => return Err(HeadFail::ClosedEarly),
            Ok(0) | Err(_) => {
                return Err(HeadFail::Bad(
                    "function instance closed the connection mid-head",
                ));
            }
            Ok(_) => {}
        }
    }
}

fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    crate::http::push_decimal(out, status as u64);
    out.push(b' ');
}

#[allow(clippy::too_many_arguments)]
async fn relay_response(
    conn: &mut Conn<'_>,
    w: &Rc<Worker>,
    generation: &Generation,
    req: &Request<'_>,
    mut up: TcpStream,
    uw: &Watch<'_>,
    outstanding: crate::upstream::Outstanding,
    mut rb: Vec<u8>,
    resp: &mut ResponseHead,
) -> Result<Next, Fail> {
    let client_11 = req.head.version == Version::Http11;
    let draining = w.shared.is_draining();

    // Interim responses: pass 1xx (other than 100, which fcgate answers itself, and 101) to
    // HTTP/1.1 clients; then read the final head.
    while (100..200).contains(&resp.status) && resp.status != 101 {
        if client_11 && resp.status != 100 {
            let head_len = resp.head_len;
            if conn.send_piece(&mut rb, 0..head_len, false).await.is_err() {
                return Err(Fail::Cut);
            }
        }
        rb.drain(..resp.head_len);
        let deadline =
            clock::now_ms().saturating_add(generation.config.upstream.response_timeout_ms);
        (rb, *resp) = read_response_head(&mut up, uw, rb, req.is_head, deadline)
            .await
            .map_err(HeadFail::into_fail)?;
    }

    let upgrade = resp.status == 101;
    if upgrade && !req.head.upgrade {
        return Err(Fail::Answer(error::bad_response(
            "101 to a request that did not ask to upgrade",
        )));
    }

    // How the client gets the body.
    let (client_chunked, mut close) = match resp.body {
        ResponseBody::Chunked | ResponseBody::Close => (client_11, !client_11),
        _ => (false, false),
    };
    if !req.head.keep_alive || draining {
        close = true;
    }

    // The client's head: status line, the instance's fields (less hop-by-hop), ours.
    let mut hv = std::mem::take(&mut conn.hv);
    hv.reset(rb);
    let extra = &mut hv.extra;
    status_line(extra, resp.status);
    let status_end = extra.len();
    let added_start = extra.len();
    push_field(extra, b"x-fc-request-id: ", req.id.as_bytes());
    match resp.body {
        ResponseBody::Length(n) => {
            extra.extend_from_slice(b"content-length: ");
            crate::http::push_decimal(extra, n);
            extra.extend_from_slice(b"\r\n");
        }
        _ if client_chunked => extra.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if upgrade {
        extra.extend_from_slice(b"connection: upgrade\r\n");
    } else if close {
        extra.extend_from_slice(b"connection: close\r\n");
    } else if !client_11 {
        extra.extend_from_slice(b"connection: keep-alive\r\n");
    }
    extra.extend_from_slice(b"\r\n");
    let added_end = extra.len();
    hv.extra_piece(0..status_end);
    hv.recv_piece(resp.reason.range());
    hv.static_piece(b"\r\n");
    let drop_length = matches!(resp.body, ResponseBody::Length(_));
    for h in &resp.headers {
        if h.forward
            && !(drop_length && is_name(&hv.recv, h, b"content-length"))
            && !is_name(&hv.recv, h, b"x-fc-request-id")
        {
            hv.recv_piece(h.line.range());
        }
    }
    hv.extra_piece(added_start..added_end);
    let avail = hv.recv.len() - resp.head_len;
    let body_now = match resp.body {
        ResponseBody::Length(n) => resp.head_len..resp.head_len + (n.min(avail as u64) as usize),
        _ => resp.head_len..resp.head_len,
    };
    if !client_chunked {
        hv.recv_piece(body_now.clone());
    }
    conn.status = resp.status;
    conn.bytes_out += hv.len() as u64;
    let armed = conn.arm_send();
    let (res, mut hv) = hv.write_all(&mut conn.stream).await;
    let res = unless_expired(res, armed);
    let mut rb = std::mem::take(&mut hv.recv);
    conn.hv = hv;
    if res.is_err() {
        return Err(Fail::Cut);
    }

    if upgrade {
        drop(outstanding);
        super::tunnel::tunnel(conn, up, rb, resp.head_len).await;
        return Ok(Next::Close);
    }

    // The body; each wait for the instance's next bytes within `response_timeout_ms`.
    let mut src = Source {
        up: &mut up,
        watch: uw,
        limit: Duration::from_millis(generation.config.upstream.response_timeout_ms),
    };
    let complete = match resp.body {
        ResponseBody::None => rb.len() == resp.head_len,
        ResponseBody::Length(n) => {
            let rest = n - body_now.len() as u64;
            let extra_bytes = rb.len() > body_now.end;
            relay_length(conn, &mut src, &mut rb, rest).await? && !extra_bytes
        }
        ResponseBody::Chunked => {
            let start = resp.head_len;
            relay_chunked(conn, &mut src, &mut rb, start, client_chunked).await?
        }
        ResponseBody::Close => {
            let start = resp.head_len;
            relay_until_close(conn, &mut src, &mut rb, start, client_chunked).await?;
            false
        }
    };
    w.give_buf(rb);
    if complete && resp.keep_alive {
        w.upstreams.put_idle(outstanding.instance(), up);
    }
    drop(outstanding);
    Ok(if close { Next::Close } else { Next::KeepAlive })
}

/// The instance's side of a response body: every read bounded by `limit`.
struct Source<'a, 'w> {
    up: &'a mut TcpStream,
    watch: &'a Watch<'w>,
    limit: Duration,
}

impl Source<'_, '_> {
    /// Reads into `rb` (cleared first), at most `max` bytes. Ok(0) at EOF; Err when reset or
    /// when the instance stayed silent for `limit` (`TimedOut`, never an EOF).
    async fn read_some(&mut self, rb: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        rb.clear();
        if rb.capacity() == 0 {
            rb.reserve(super::STREAM_BUF);
        }
        let want = rb.capacity().min(max).max(1);
        let buf = std::mem::take(rb);
        let armed = self.watch.arm(self.up.as_raw_fd(), self.limit, Cut::Both);
        let (res, s) = self.up.read(buf.slice_mut(0..want)).await;
        *rb = s.into_inner();
        unless_expired(res, armed)
    }
}

/// Streams the rest of a length-delimited body. Ok(true): complete.
async fn relay_length(
    conn: &mut Conn<'_>,
    src: &mut Source<'_, '_>,
    rb: &mut Vec<u8>,
    mut rest: u64,
) -> Result<bool, Fail> {
    while rest > 0 {
        let n = match src
            .read_some(rb, rest.min(usize::MAX as u64) as usize)
            .await
        {
            Ok(0) | Err(_) => return Err(Fail::Cut),
            Ok(n) => n,
        };
        rest -= n as u64;
        if conn.send_piece(rb, 0..n, false).await.is_err() {
            return Err(Fail::Cut);
        }
    }
    Ok(true)
}

/// Streams a chunked body starting at `rb[start..]`, re-encoded for the client (or decoded
/// for an HTTP/1.0 client). Ok(true): complete, and nothing followed it.
async fn relay_chunked(
    conn: &mut Conn<'_>,
    src: &mut Source<'_, '_>,
    rb: &mut Vec<u8>,
    mut pos: usize,
    chunked: bool,
) -> Result<bool, Fail> {
    let mut dec = ChunkedDecoder::new();
    loop {
        let step = dec.step(&rb[pos..]).map_err(|_| Fail::Cut)?;
        let data = pos + step.data.start..pos + step.data.end;
        pos += step.consumed;
        if !data.is_empty() && conn.send_piece(rb, data, chunked).await.is_err() {
            return Err(Fail::Cut);
        }
        if step.done {
            if chunked && conn.send_static(LAST_CHUNK).await.is_err() {
                return Err(Fail::Cut);
            }
            return Ok(pos == rb.len());
        }
        if pos == rb.len() {
            pos = 0;
            match src.read_some(rb, usize::MAX).await {
                Ok(0) | Err(_) => return Err(Fail::Cut),
                Ok(_) => {}
            }
        }
    }
}

/// Streams a close-delimited body until the instance closes.
async fn relay_until_close(
    conn: &mut Conn<'_>,
    src: &mut Source<'_, '_>,
    rb: &mut Vec<u8>,
    start: usize,
    chunked: bool,
) -> Result<(), Fail> {
    let mut data = start..rb.len();
    loop {
        if !data.is_empty() && conn.send_piece(rb, data.clone(), chunked).await.is_err() {
            return Err(Fail::Cut);
        }
        match src.read_some(rb, usize::MAX).await {
            Ok(0) => break,
            Err(_) => return Err(Fail::Cut),
            Ok(n) => data = 0..n,
        }
    }
    if chunked && conn.send_static(LAST_CHUNK).await.is_err() {
        return Err(Fail::Cut);
    }
    Ok(())
}
