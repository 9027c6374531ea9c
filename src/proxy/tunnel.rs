//! The two-way tunnel a `101 Switching Protocols` turns a client connection and its instance
//! connection into (WebSocket and other upgrades).

use monoio::buf::IoBuf;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::Conn;

/// After a `101 Switching Protocols`: bytes flow both ways until both sides are done.
/// `rb[head_len..]` came from the instance after its head; `conn.buf[conn.pos..]` came from
/// the client after its request head.
pub async fn tunnel(conn: &mut Conn<'_>, mut up: TcpStream, rb: Vec<u8>, head_len: usize) {
    if rb.len() > head_len {
        let (res, _) = conn.stream.write_all(rb.slice(head_len..)).await;
        if res.is_err() {
            return;
        }
    }
    if conn.buf.len() > conn.pos {
        let early = conn.buf[conn.pos..].to_vec();
        let (res, _) = up.write_all(early).await;
        if res.is_err() {
            return;
        }
    }
    conn.buf.clear();
    conn.pos = 0;
    // Both directions at once: a second descriptor for each socket (dup), one used only for
    // reading and the other only for writing.
    let (Ok(mut client_w), Ok(mut up_w)) = (dup_stream(&conn.stream), dup_stream(&up)) else {
        return;
    };
    monoio::join!(
        pipe(&mut conn.stream, &mut up_w),
        pipe(&mut up, &mut client_w)
    );
}

fn dup_stream(s: &TcpStream) -> std::io::Result<TcpStream> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: dup of a descriptor we own; the new one is owned by the std stream.
    let fd = unsafe { libc::fcntl(s.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let std_stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    TcpStream::from_std(std_stream)
}

async fn pipe(from: &mut TcpStream, to: &mut TcpStream) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (res, b) = from.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let (res, b) = to.write_all(buf).await;
        buf = b;
        if res.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
