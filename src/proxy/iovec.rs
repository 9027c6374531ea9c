//! `HeadVec`: a vectored write over slices of two owned buffers (the message's own read
//! buffer and a small buffer of new bytes) plus static pieces. The forwarded head is written
//! with one `writev` of these slices: bytes that do not change are never copied.
//!
//! The buffers are moved in for the write and taken back out afterwards (monoio's ownership
//! model: the kernel may read them until the operation completes).

use std::ops::Range;

use monoio::buf::IoVecBuf;
use monoio::io::AsyncWriteRent;

pub struct HeadVec {
    /// Bytes received (a head, maybe the start of a body): pieces point into it.
    pub recv: Vec<u8>,
    /// New bytes: rewritten target, added fields, framing.
    pub extra: Vec<u8>,
    iov: Vec<libc::iovec>,
    /// First iovec not yet fully written.
    next: usize,
    /// Bytes described by `iov[next..]`.
    remaining: usize,
}

// SAFETY: every iovec points into `recv` or `extra` (heap memory that does not move when the
// struct moves, and is not touched while a write owns the struct) or into 'static data.
unsafe impl IoVecBuf for HeadVec {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iov[self.next..].as_ptr()
    }
    fn read_iovec_len(&self) -> usize {
        self.iov.len() - self.next
    }
}

impl HeadVec {
    pub fn new() -> HeadVec {
        HeadVec {
            recv: Vec::new(),
            extra: Vec::new(),
            iov: Vec::with_capacity(16),
            next: 0,
            remaining: 0,
        }
    }

    /// Starts a new message over `recv`; `extra` is cleared, its capacity kept.
    pub fn reset(&mut self, recv: Vec<u8>) {
        self.recv = recv;
        self.extra.clear();
        self.iov.clear();
        self.next = 0;
        self.remaining = 0;
    }

    fn push_raw(&mut self, ptr: *const u8, len: usize) {
        if len == 0 {
            return;
        }
        // Coalesce with the previous piece when contiguous.
        if let Some(last) = self.iov.last_mut()
            && (last.iov_base as *const u8).wrapping_add(last.iov_len) == ptr
        {
            last.iov_len += len;
            self.remaining += len;
            return;
        }
        self.iov.push(libc::iovec {
            iov_base: ptr as *mut libc::c_void,
            iov_len: len,
        });
        self.remaining += len;
    }

    /// A piece of `recv`.
    pub fn recv_piece(&mut self, r: Range<usize>) {
        let s = &self.recv[r];
        self.push_raw(s.as_ptr(), s.len());
    }

    /// A static piece.
    pub fn static_piece(&mut self, s: &'static [u8]) {
        self.push_raw(s.as_ptr(), s.len());
    }

    /// A piece of `extra`. Write all of `extra` before pushing any piece of it: a push
    /// records a pointer, and `extra` must not reallocate afterwards.
    pub fn extra_piece(&mut self, r: Range<usize>) {
        let s = &self.extra[r];
        self.push_raw(s.as_ptr(), s.len());
    }

    pub fn len(&self) -> usize {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    fn consume(&mut self, mut n: usize) {
        self.remaining -= n;
        while n > 0 {
            let v = &mut self.iov[self.next];
            if n >= v.iov_len {
                n -= v.iov_len;
                self.next += 1;
            } else {
                v.iov_base = (v.iov_base as *mut u8).wrapping_add(n).cast();
                v.iov_len -= n;
                n = 0;
            }
        }
    }

    /// Writes every piece, in as few `writev` calls as the socket allows. The buffers come
    /// back in the returned value whatever happens.
    pub async fn write_all<W: AsyncWriteRent>(
        mut self,
        w: &mut W,
    ) -> (std::io::Result<()>, HeadVec) {
        while self.remaining > 0 {
            let (res, back) = w.writev(self).await;
            self = back;
            match res {
                Ok(0) => {
                    return (Err(std::io::ErrorKind::WriteZero.into()), self);
                }
                Ok(n) => self.consume(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), self),
            }
        }
        (Ok(()), self)
    }
}

/// Allocates nothing: `std::mem::take` of a connection's `HeadVec` must stay free.
impl Default for HeadVec {
    fn default() -> Self {
        HeadVec {
            recv: Vec::new(),
            extra: Vec::new(),
            iov: Vec::new(),
            next: 0,
            remaining: 0,
        }
    }
}

impl HeadVec {
    /// Appends the bytes not yet written, in order (for `builtin:echo`, which answers with
    /// exactly what an instance would have received).
    pub fn concat_into(&self, out: &mut Vec<u8>) {
        for v in &self.iov[self.next..] {
            // SAFETY: see the IoVecBuf impl: every iovec points at live bytes we own or 'static.
            out.extend_from_slice(unsafe {
                std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len)
            });
        }
    }
}
