//! What every worker shares: the current config generation (config + compiled routing table),
//! swapped whole with arc-swap on reload, and a few process-wide flags and counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::routing::RouteTable;

/// One loaded config: immutable once built.
#[derive(Debug)]
pub struct Generation {
    pub number: u64,
    pub config: Config,
    pub table: RouteTable,
    pub loaded_at: SystemTime,
    /// Hex SHA-256 of the config file's bytes.
    pub sha256: String,
}

/// Process-wide state shared by all workers and the operations side.
#[derive(Debug)]
pub struct Shared {
    /// The generation new requests are routed with, read with `load()` once per request.
    pub current: ArcSwap<Generation>,
    /// Set on SIGTERM/SIGINT: stop accepting, finish in-flight requests.
    pub draining: AtomicBool,
    /// Client connections open in the whole process (checked against `max_connections`).
    pub connections: AtomicUsize,
    /// Random per process: the first half of every `x-fc-request-id`.
    pub nonce: u64,
}

impl Shared {
    pub fn new(first: Generation) -> Arc<Shared> {
        Arc::new(Shared {
            current: ArcSwap::from_pointee(first),
            draining: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            nonce: random_u64(),
        })
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// 64 random bits from the kernel (getrandom), or from the clock if that fails.
pub fn random_u64() -> u64 {
    let mut v = [0u8; 8];
    // SAFETY: the buffer is valid for 8 bytes.
    let n = unsafe { libc::getrandom(v.as_mut_ptr().cast(), 8, 0) };
    if n == 8 {
        u64::from_ne_bytes(v)
    } else {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        t.as_nanos() as u64 ^ (std::process::id() as u64) << 32
    }
}
