//! Per-worker upstream side: pools of idle keep-alive connections to function instances,
//! instance choice (least outstanding requests of two random picks) and passive health
//! (an instance that refuses connections is skipped for a while).
//!
//! Everything here belongs to one worker thread: `Rc`/`Cell`/`RefCell`, no locks, no atomics.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use ahash::AHashMap;
use monoio::net::TcpStream;

use crate::clock::{self, now_ms};

/// How long an instance that refused a connection is skipped.
pub const DOWN_FOR: Duration = Duration::from_secs(3);

/// One instance as seen by one worker.
#[derive(Debug)]
pub struct InstanceState {
    pub addr: SocketAddr,
    /// Requests sent to it and not yet finished.
    outstanding: Cell<u32>,
    /// Skipped until then ([`clock::now_ms`]; 0: up), for passive health.
    down_until: Cell<u64>,
    /// Idle keep-alive connections with the time they were pooled, most recently used last.
    idle: RefCell<Vec<(TcpStream, u64)>>,
}

impl InstanceState {
    pub fn is_down(&self, now_ms: u64) -> bool {
        self.down_until.get() > now_ms
    }
    /// Skips the instance for [`DOWN_FOR`] from now.
    pub fn mark_down(&self) {
        self.down_until.set(now_ms() + clock::ms(DOWN_FOR));
    }
    pub fn mark_up(&self) {
        self.down_until.set(0);
    }
}

/// Counts a request as outstanding on an instance until dropped.
pub struct Outstanding(Rc<InstanceState>);

impl Outstanding {
    pub fn instance(&self) -> &Rc<InstanceState> {
        &self.0
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0
            .outstanding
            .set(self.0.outstanding.get().saturating_sub(1));
    }
}

/// The worker's view of every instance it has talked to.
#[derive(Debug)]
pub struct Upstreams {
    instances: RefCell<AHashMap<SocketAddr, Rc<InstanceState>>>,
    rng: Cell<u64>,
    pub max_idle: Cell<usize>,
    pub idle_timeout: Cell<Duration>,
}

impl Upstreams {
    pub fn new(seed: u64, max_idle: usize, idle_timeout: Duration) -> Upstreams {
        Upstreams {
            instances: RefCell::new(AHashMap::new()),
            rng: Cell::new(seed | 1),
            max_idle: Cell::new(max_idle),
            idle_timeout: Cell::new(idle_timeout),
        }
    }

    fn state(&self, addr: SocketAddr) -> Rc<InstanceState> {
        let mut map = self.instances.borrow_mut();
        map.entry(addr)
            .or_insert_with(|| {
                Rc::new(InstanceState {
                    addr,
                    outstanding: Cell::new(0),
                    down_until: Cell::new(0),
                    idle: RefCell::new(Vec::new()),
                })
            })
            .clone()
    }

    fn next_random(&self) -> u64 {
        // xorshift64*: cheap, good enough to pick instances.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Picks an instance among `addrs` not in `tried`: of two random healthy candidates, the
    /// one with fewer outstanding requests. When every untried one is down, picks among those.
    pub fn pick(&self, addrs: &[SocketAddr], tried: &[SocketAddr]) -> Option<Outstanding> {
        let now = now_ms();
        let candidates = addrs.iter().filter(|a| !tried.contains(a));
        let n = candidates.clone().count();
        if n == 0 {
            return None;
        }
        let states: smallvec::SmallVec<[Rc<InstanceState>; 8]> = {
            let all: smallvec::SmallVec<[Rc<InstanceState>; 8]> =
                candidates.map(|a| self.state(*a)).collect();
            let healthy: smallvec::SmallVec<[Rc<InstanceState>; 8]> =
                all.iter().filter(|s| !s.is_down(now)).cloned().collect();
            if healthy.is_empty() { all } else { healthy }
        };
        let chosen = if states.len() == 1 {
            states[0].clone()
        } else {
            let r = self.next_random();
            let i = (r % states.len() as u64) as usize;
            let mut j = ((r >> 32) % (states.len() as u64 - 1)) as usize;
            if j >= i {
                j += 1;
            }
            let (a, b) = (&states[i], &states[j]);
            if b.outstanding.get() < a.outstanding.get() {
                b.clone()
            } else {
                a.clone()
            }
        };
        chosen.outstanding.set(chosen.outstanding.get() + 1);
        Some(Outstanding(chosen))
    }

    /// An idle pooled connection to `inst`, most recently used first, checked with one
    /// non-blocking `recv(MSG_PEEK)`: one the instance has closed, or on which it sent bytes
    /// nobody asked for (they would be read as the next request's response), is dropped.
    pub fn take_idle(&self, inst: &InstanceState) -> Option<TcpStream> {
        let now = now_ms();
        let timeout = clock::ms(self.idle_timeout.get());
        let mut idle = inst.idle.borrow_mut();
        while let Some((conn, since)) = idle.pop() {
            if now.saturating_sub(since) < timeout && still_open(&conn) {
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection whose last response was read to its end, with no `close`.
    pub fn put_idle(&self, inst: &InstanceState, conn: TcpStream) {
        let mut idle = inst.idle.borrow_mut();
        if idle.len() < self.max_idle.get() {
            idle.push((conn, now_ms()));
        }
    }

    /// Closes idle connections past `idle_timeout` (run periodically by the worker).
    pub fn sweep(&self) {
        let now = now_ms();
        let timeout = clock::ms(self.idle_timeout.get());
        for inst in self.instances.borrow().values() {
            inst.idle
                .borrow_mut()
                .retain(|(_, since)| now.saturating_sub(*since) < timeout);
        }
    }

    /// Closes every idle connection (drain).
    pub fn clear_idle(&self) {
        for inst in self.instances.borrow().values() {
            inst.idle.borrow_mut().clear();
        }
    }

    /// Number of idle pooled connections, over all instances.
    pub fn idle_count(&self) -> usize {
        self.instances
            .borrow()
            .values()
            .map(|i| i.idle.borrow().len())
            .sum()
    }
}

/// A pooled connection is usable when the instance has neither closed it nor sent anything
/// unasked: one non-blocking `recv(MSG_PEEK)` says which.
fn still_open(conn: &TcpStream) -> bool {
    let mut byte = 0u8;
    // SAFETY: valid fd and a one-byte buffer; MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(
            conn.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        let err = std::io::Error::last_os_error();
        err.kind() == std::io::ErrorKind::WouldBlock
    } else {
        false // 0: closed by the instance; >0: stray bytes, the framing cannot be trusted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> [SocketAddr; 2] {
        [
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        ]
    }

    fn ups() -> Upstreams {
        Upstreams::new(42, 8, Duration::from_secs(30))
    }

    #[test]
    fn picks_the_less_loaded_of_two() {
        let u = ups();
        let [a, b] = addrs();
        // Load `a` with 3 outstanding requests.
        let held: Vec<_> = (0..3).map(|_| u.pick(&[a], &[]).unwrap()).collect();
        for _ in 0..20 {
            let o = u.pick(&[a, b], &[]).unwrap();
            assert_eq!(o.instance().addr, b);
        }
        drop(held);
        // Unloaded again: both get chosen over many picks.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            seen.insert(u.pick(&[a, b], &[]).unwrap().instance().addr);
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn outstanding_counts_return_to_zero() {
        let u = ups();
        let [a, _] = addrs();
        let o = u.pick(&[a], &[]).unwrap();
        assert_eq!(o.instance().outstanding.get(), 1);
        let inst = o.instance().clone();
        drop(o);
        assert_eq!(inst.outstanding.get(), 0);
    }

    #[test]
    fn skips_down_instances_while_a_healthy_one_exists() {
        let u = ups();
        let [a, b] = addrs();
        u.pick(&[a], &[]).unwrap().instance().mark_down();
        for _ in 0..20 {
            assert_eq!(u.pick(&[a, b], &[]).unwrap().instance().addr, b);
        }
        // Everything down: still pick one (a refused connect is answered 502 only after trying).
        u.pick(&[b], &[]).unwrap().instance().mark_down();
        assert!(u.pick(&[a, b], &[]).is_some());
        // Already-tried instances are never picked again.
        assert!(u.pick(&[a, b], &[a, b]).is_none());
        assert_eq!(u.pick(&[a, b], &[a]).unwrap().instance().addr, b);
    }
}
