//! `builtin:echo` (SPEC.md section 2): answered inside the worker, without a socket, with
//! exactly what a function instance would have received.

use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use crate::http::{BodyKind, ChunkedDecoder};
use crate::state::Generation;

use super::forward::{Request, build_request_head};
use super::{ClientRead, Conn, Next, Worker, answer, error};

pub async fn serve(
    conn: &mut Conn<'_>,
    w: &Rc<Worker>,
    generation: &Generation,
    req: Request<'_>,
) -> Next {
    // The head an instance would get.
    let mut hv = std::mem::take(&mut conn.hv);
    hv.reset(std::mem::take(&mut conn.buf));
    let head_len = req.head.head_len;
    build_request_head(&mut hv, &req, conn.peer_ip.as_bytes(), head_len..head_len);
    let mut forwarded = Vec::with_capacity(hv.len());
    hv.concat_into(&mut forwarded);
    conn.buf = std::mem::take(&mut hv.recv);
    conn.hv = hv;
    conn.pos = head_len;

    // Read (and count) the body, as an instance would.
    let timeout = Duration::from_millis(generation.config.server.header_timeout_ms);
    let body_bytes = match req.head.body {
        BodyKind::None => 0,
        BodyKind::Length(n) => match discard_length(conn, w, n, timeout).await {
            Ok(()) => n,
            Err(e) => return fail(conn, &req, e).await,
        },
        BodyKind::Chunked => {
            match count_chunked(conn, w, generation.config.server.max_body_bytes, timeout).await {
                Ok(n) => n,
                Err(e) => return fail(conn, &req, e).await,
            }
        }
    };

    conn.body_in = body_bytes;
    conn.status = 200;
    let body = echo_json(&forwarded, body_bytes);
    let close = !req.head.keep_alive || w.shared.is_draining();
    let mut out = Vec::with_capacity(body.len() + 192);
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-fc-request-id: {}\r\ncontent-length: {}\r\n",
        req.id.as_str(),
        body.len()
    );
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if req.head.version == crate::http::Version::Http10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !req.is_head {
        out.extend_from_slice(body.as_bytes());
    }
    let (res, _) = conn.write_all(out).await;
    if res.is_err() || close {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

async fn fail(conn: &mut Conn<'_>, req: &Request<'_>, e: Option<crate::errors::FcError>) -> Next {
    if let Some(e) = e {
        answer(conn, &e, &req.id, req.is_head, true).await;
    }
    Next::Close
}

/// `{"method":M,"target":T,"headers":[[name,value],...],"body_bytes":N}` from a forwarded head.
fn echo_json(forwarded: &[u8], body_bytes: u64) -> String {
    let mut fields = [httparse::EMPTY_HEADER; 160];
    let mut parsed = httparse::Request::new(&mut fields);
    let _ = parsed.parse(forwarded);
    let js = |b: &[u8]| serde_json::to_string(&String::from_utf8_lossy(b)).unwrap_or_default();
    let mut out = String::with_capacity(forwarded.len() * 2 + 64);
    out.push_str("{\"method\":");
    out.push_str(&js(parsed.method.unwrap_or("").as_bytes()));
    out.push_str(",\"target\":");
    out.push_str(&js(parsed.path.unwrap_or("").as_bytes()));
    out.push_str(",\"headers\":[");
    for (i, h) in parsed.headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(&js(h.name.as_bytes()));
        out.push(',');
        out.push_str(&js(h.value));
        out.push(']');
    }
    out.push_str("],\"body_bytes\":");
    out.push_str(&body_bytes.to_string());
    out.push('}');
    out
}

async fn discard_length(
    conn: &mut Conn<'_>,
    w: &Worker,
    n: u64,
    timeout: Duration,
) -> Result<(), Option<crate::errors::FcError>> {
    let now = (conn.buf.len() - conn.pos) as u64;
    let take = now.min(n);
    conn.pos += take as usize;
    let mut rest = n - take;
    let mut sb = w.take_buf();
    while rest > 0 {
        let want = (sb.capacity() as u64).min(rest) as usize;
        match conn.read_within(&mut sb, want, timeout).await {
            ClientRead::Data(k) => rest -= k as u64,
            ClientRead::Closed => return Err(None),
            ClientRead::TimedOut => return Err(Some(error::timeout())),
        }
    }
    w.give_buf(sb);
    Ok(())
}

async fn count_chunked(
    conn: &mut Conn<'_>,
    w: &Worker,
    max: u64,
    timeout: Duration,
) -> Result<u64, Option<crate::errors::FcError>> {
    let mut dec = ChunkedDecoder::new();
    let mut total = 0u64;
    loop {
        let step = dec
            .step(&conn.buf[conn.pos..])
            .map_err(|crate::http::ChunkError::Malformed(why)| Some(error::bad_body(why)))?;
        total += step.data.len() as u64;
        conn.pos += step.consumed;
        if total + dec.data_left() > max {
            return Err(Some(error::too_large()));
        }
        if step.done {
            return Ok(total);
        }
        if conn.pos == conn.buf.len() {
            conn.buf.clear();
            conn.pos = 0;
            if conn.buf.capacity() < super::STREAM_BUF {
                let old = std::mem::replace(&mut conn.buf, w.take_buf());
                w.give_buf(old);
            }
            match conn.fill_within(timeout, super::STREAM_BUF).await {
                ClientRead::Data(_) => {}
                ClientRead::Closed => return Err(None),
                ClientRead::TimedOut => return Err(Some(error::timeout())),
            }
        }
    }
}
