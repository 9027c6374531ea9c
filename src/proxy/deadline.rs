//! Coarse per-worker deadlines for socket operations: the one timer mechanism of the data plane.
//!
//! A monoio `timeout()` puts a 640-byte, 128-byte-aligned timer entry into the future of every
//! operation it guards (moved with it, inserted into and removed from the wheel); a request
//! waits on the sockets four or five times. Instead, each connection owns one slot of its
//! worker's [`Deadlines`] table and arms it (a clock read and two stores) before an operation
//! that may wait. The worker's clock task ([`Deadlines::tick`], every [`TICK`]) shuts the
//! socket of every slot whose deadline has passed down with `shutdown(2)`, which completes the
//! pending read or write at once on both io drivers (0 bytes, or `EPIPE`); the owner then asks
//! [`Armed::expired`] and answers 408 / 504 or closes.
//!
//! A slot acts on its descriptor only while armed, and an [`Armed`] guard is held only around
//! an operation on that live descriptor: a closed (and possibly reused) descriptor is never
//! shut down. The table also marks connections waiting for their next request, so that a drain
//! can close them at once ([`Deadlines::shut_idle`]).

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::time::Duration;

use crate::clock::{self, now_ms, resolution_ms};

/// How often the worker checks its deadlines: a timeout fires at most this much late.
pub const TICK: Duration = Duration::from_millis(10);

/// Not armed.
const OFF: u64 = u64::MAX;

/// What an expired deadline shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The receiving side only: a pending read returns 0, and an answer (408) can still be
    /// written.
    Read,
    /// Both sides: any pending operation fails; the connection is done.
    Both,
}

#[derive(Debug)]
struct Slot {
    fd: RawFd,
    /// [`clock::now_ms`] at which to cut, or `OFF`.
    at: u64,
    cut: Cut,
    /// The last armed deadline passed (reset by the next `arm`).
    fired: bool,
    /// Waiting for the next request (drain closes it at once).
    idle: bool,
}

/// One worker's deadline table. Single-threaded, like everything a worker owns.
#[derive(Debug)]
pub struct Deadlines {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    /// No armed deadline is earlier than this (a lower bound: disarming does not raise it), so
    /// most ticks skip the scan.
    earliest: Cell<u64>,
    /// Added to every limit: the coarse clock lags by up to its resolution, and a deadline
    /// must never fire early.
    slack_ms: u64,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines::new()
    }
}

/// A connection's slot; freed when dropped.
#[derive(Debug)]
pub struct Watch<'a> {
    table: &'a Deadlines,
    index: u32,
}

/// An armed deadline; disarmed when dropped or by [`Armed::expired`]. It names the slot, not
/// the [`Watch`], so that the connection stays free to use while the guard is held; it must
/// not outlive the watch it came from.
#[must_use = "the deadline is disarmed when this guard is dropped"]
#[derive(Debug)]
pub struct Armed<'a> {
    table: &'a Deadlines,
    index: u32,
}

impl Deadlines {
    pub fn new() -> Deadlines {
        Deadlines {
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            earliest: Cell::new(OFF),
            slack_ms: resolution_ms(),
        }
    }

    /// A slot for one connection.
    pub fn watch(&self) -> Watch<'_> {
        let slot = Slot {
            fd: -1,
            at: OFF,
            cut: Cut::Both,
            fired: false,
            idle: false,
        };
        let mut slots = self.slots.borrow_mut();
        let index = match self.free.borrow_mut().pop() {
            Some(i) => {
                slots[i as usize] = slot;
                i
            }
            None => {
                slots.push(slot);
                (slots.len() - 1) as u32
            }
        };
        Watch { table: self, index }
    }

    /// Cuts every connection whose deadline has passed (the worker's clock task calls this
    /// every [`TICK`]).
    pub fn tick(&self) {
        let now = now_ms();
        if now < self.earliest.get() {
            return;
        }
        let mut earliest = OFF;
        for s in self.slots.borrow_mut().iter_mut() {
            if s.at == OFF {
                continue;
            }
            if s.at <= now {
                let how = match s.cut {
                    Cut::Read => libc::SHUT_RD,
                    Cut::Both => libc::SHUT_RDWR,
                };
                // SAFETY: an armed slot's descriptor is open (see the module docs).
                unsafe { libc::shutdown(s.fd, how) };
                s.fired = true;
                s.at = OFF;
            } else {
                earliest = earliest.min(s.at);
            }
        }
        self.earliest.set(earliest);
    }

    /// Drain: shuts down every connection waiting for its next request.
    pub fn shut_idle(&self) {
        for s in self.slots.borrow().iter() {
            if s.idle {
                // SAFETY: an idle slot's descriptor is open (the mark is dropped before it).
                unsafe { libc::shutdown(s.fd, libc::SHUT_RDWR) };
            }
        }
    }

    /// Slots in use (for tests).
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.slots.borrow().len() - self.free.borrow().len()
    }

    fn with<R>(&self, index: u32, f: impl FnOnce(&mut Slot) -> R) -> R {
        f(&mut self.slots.borrow_mut()[index as usize])
    }
}

impl<'a> Watch<'a> {
    fn with<R>(&self, f: impl FnOnce(&mut Slot) -> R) -> R {
        self.table.with(self.index, f)
    }

    /// Arms the deadline `limit` from now for an operation on `fd`.
    pub fn arm(&self, fd: RawFd, limit: Duration, cut: Cut) -> Armed<'a> {
        let at = now_ms()
            .saturating_add(clock::ms(limit))
            .saturating_add(self.table.slack_ms);
        self.with(|s| {
            s.fd = fd;
            s.at = at;
            s.cut = cut;
            s.fired = false;
        });
        if at < self.table.earliest.get() {
            self.table.earliest.set(at);
        }
        Armed {
            table: self.table,
            index: self.index,
        }
    }

    /// Marks (or unmarks) the connection on `fd` as waiting for its next request.
    pub fn set_idle(&self, fd: RawFd, idle: bool) {
        self.with(|s| {
            s.fd = fd;
            s.idle = idle;
        });
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        self.with(|s| {
            s.at = OFF;
            s.idle = false;
            s.fd = -1;
        });
        self.table.free.borrow_mut().push(self.index);
    }
}

impl Armed<'_> {
    /// Disarms; true when the deadline passed (the socket was shut down).
    pub fn expired(self) -> bool {
        let fired = self.table.with(self.index, |s| {
            s.at = OFF;
            s.fired
        });
        std::mem::forget(self);
        fired
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.table.with(self.index, |s| s.at = OFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    fn wait_ticks(d: &Deadlines, ms: u64) {
        let end = std::time::Instant::now() + Duration::from_millis(ms);
        while std::time::Instant::now() < end {
            d.tick();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn an_expired_deadline_cuts_the_read_side_and_says_so() {
        let d = Deadlines::new();
        let (mut a, mut b) = pair();
        let w = d.watch();
        let armed = w.arm(b.as_raw_fd(), Duration::from_millis(20), Cut::Read);
        wait_ticks(&d, 80);
        assert!(armed.expired());
        // The read side is shut: a read returns 0 at once; writing still works.
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf).unwrap(), 0);
        b.write_all(b"408").unwrap();
        assert_eq!(a.read(&mut buf).unwrap(), 3);
    }

    #[test]
    fn a_disarmed_deadline_never_fires() {
        let d = Deadlines::new();
        let (_a, b) = pair();
        let w = d.watch();
        let armed = w.arm(b.as_raw_fd(), Duration::from_millis(10), Cut::Both);
        assert!(!armed.expired());
        {
            let _dropped = w.arm(b.as_raw_fd(), Duration::from_millis(10), Cut::Both);
        }
        wait_ticks(&d, 50);
        // Still open both ways.
        b.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1];
        let e = (&b).read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_deadline_does_not_fire_early() {
        let d = Deadlines::new();
        let (_a, b) = pair();
        let w = d.watch();
        let start = std::time::Instant::now();
        let armed = w.arm(b.as_raw_fd(), Duration::from_millis(60), Cut::Both);
        while std::time::Instant::now() < start + Duration::from_millis(55) {
            d.tick();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!w.with(|s| s.fired), "fired before 60 ms");
        wait_ticks(&d, 80);
        assert!(armed.expired());
    }

    #[test]
    fn slots_are_reused_and_idle_connections_are_shut_on_drain() {
        let d = Deadlines::new();
        let (_a, b) = pair();
        let (_c, e) = pair();
        {
            let w1 = d.watch();
            let w2 = d.watch();
            w1.set_idle(b.as_raw_fd(), true);
            w2.set_idle(e.as_raw_fd(), false);
            d.shut_idle();
            assert_eq!(d.in_use(), 2);
        }
        assert_eq!(d.in_use(), 0);
        let _w = d.watch();
        assert_eq!(d.slots.borrow().len(), 2);
        let mut buf = [0u8; 1];
        assert_eq!((&b).read(&mut buf).unwrap(), 0, "idle connection shut down");
        e.set_nonblocking(true).unwrap();
        assert!((&e).read(&mut buf).is_err(), "busy connection left alone");
    }
}
