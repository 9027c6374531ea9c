//! What every worker shares: the current config generation (config + compiled routing table),
//! swapped whole with arc-swap on reload, and a few process-wide flags and counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::access_log::AccessLogSender;
use crate::config::Config;
use crate::metrics::WorkerMetrics;
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
    /// One per worker, written by that worker only; summed at scrape.
    pub metrics: Vec<Arc<WorkerMetrics>>,
    /// Config reloads by result (written by the signal-handling thread only).
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    /// The access-log writer, when `[log] access` is not "off" (fixed at start-up).
    pub access_log: Option<AccessLogSender>,
}

impl Shared {
    pub fn new(first: Generation, access_log: Option<AccessLogSender>) -> Arc<Shared> {
        let workers = worker_count(&first.config);
        Arc::new(Shared {
            metrics: (0..workers)
                .map(|_| Arc::new(WorkerMetrics::default()))
                .collect(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            access_log,
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

/// `server.workers`, 0 meaning one per available core.
pub fn worker_count(config: &Config) -> usize {
    match config.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
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
