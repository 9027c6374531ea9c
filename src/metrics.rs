//! Counters. Each worker owns one [`WorkerMetrics`] and is its only writer: an increment is a
//! relaxed load and store on the worker's own cache lines (no locked instruction, no sharing
//! on the hot path). The admin thread reads every worker's counters and sums them when
//! `/metrics` is scraped.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::routing::Mode;

/// `mode` label values: the four access modes, and `none` for requests answered before a
/// target was known (malformed, not found, ...).
pub const MODES: [&str; 5] = ["proxy", "header", "subdomain", "domain", "none"];

pub fn mode_index(mode: Option<Mode>) -> usize {
    match mode {
        Some(Mode::Proxy) => 0,
        Some(Mode::Header) => 1,
        Some(Mode::Subdomain) => 2,
        Some(Mode::Domain) => 3,
        None => 4,
    }
}

/// Statuses counted one by one: 100..=599; anything else is counted as 0 ("other").
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

/// Upper bounds of the request duration histogram, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BUCKET_MICROS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// One single-writer counter.
#[derive(Default)]
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Only the owning worker calls this.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }
    #[inline]
    pub fn inc(&self) {
        self.add(1)
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerMetrics")
    }
}

pub struct WorkerMetrics {
    /// `[mode][status - 100]`, the last slot of each mode for statuses outside 100..=599.
    requests: Box<[[Counter; STATUS_SLOTS + 1]; 5]>,
    /// Cumulative counts are computed at scrape; here each bucket counts its own range, the
    /// last one everything above the largest bound.
    duration_buckets: [Counter; 15],
    duration_sum_micros: Counter,
    pub upstream_connect_errors: Counter,
    pub access_log_dropped: Counter,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            requests: Box::new(std::array::from_fn(|_| {
                std::array::from_fn(|_| Counter::default())
            })),
            duration_buckets: Default::default(),
            duration_sum_micros: Counter::default(),
            upstream_connect_errors: Counter::default(),
            access_log_dropped: Counter::default(),
        }
    }
}

impl WorkerMetrics {
    /// One finished request.
    #[inline]
    pub fn record(&self, mode: Option<Mode>, status: u16, micros: u64) {
        let slot = if (STATUS_MIN..STATUS_MIN + STATUS_SLOTS as u16).contains(&status) {
            (status - STATUS_MIN) as usize
        } else {
            STATUS_SLOTS
        };
        self.requests[mode_index(mode)][slot].inc();
        let b = BUCKET_MICROS
            .iter()
            .position(|&ub| micros <= ub)
            .unwrap_or(BUCKET_MICROS.len());
        self.duration_buckets[b].inc();
        self.duration_sum_micros.add(micros);
    }
}

/// Sums over all workers, as scraped.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    /// `(mode, status, count)` for every non-zero counter; status 0 = outside 100..=599.
    pub requests: Vec<(&'static str, u16, u64)>,
    /// Cumulative counts per bound of [`DURATION_BUCKETS`], then `+Inf`.
    pub duration_cumulative: Vec<u64>,
    pub duration_sum_seconds: f64,
    pub duration_count: u64,
    pub upstream_connect_errors: u64,
    pub access_log_dropped: u64,
}

pub fn snapshot(workers: &[std::sync::Arc<WorkerMetrics>]) -> Snapshot {
    let mut s = Snapshot::default();
    for (m, mode) in MODES.iter().enumerate() {
        for slot in 0..=STATUS_SLOTS {
            let n: u64 = workers.iter().map(|w| w.requests[m][slot].get()).sum();
            if n > 0 {
                let status = if slot == STATUS_SLOTS {
                    0
                } else {
                    STATUS_MIN + slot as u16
                };
                s.requests.push((mode, status, n));
            }
        }
    }
    let mut acc = 0;
    for b in 0..=BUCKET_MICROS.len() {
        acc += workers
            .iter()
            .map(|w| w.duration_buckets[b].get())
            .sum::<u64>();
        s.duration_cumulative.push(acc);
    }
    s.duration_count = acc;
    s.duration_sum_seconds = workers
        .iter()
        .map(|w| w.duration_sum_micros.get())
        .sum::<u64>() as f64
        / 1e6;
    s.upstream_connect_errors = workers
        .iter()
        .map(|w| w.upstream_connect_errors.get())
        .sum();
    s.access_log_dropped = workers.iter().map(|w| w.access_log_dropped.get()).sum();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sums_over_workers() {
        let a = Arc::new(WorkerMetrics::default());
        let b = Arc::new(WorkerMetrics::default());
        a.record(Some(Mode::Proxy), 200, 300);
        b.record(Some(Mode::Proxy), 200, 2_000);
        b.record(None, 404, 10);
        b.record(Some(Mode::Domain), 1000, 20_000_000);
        a.upstream_connect_errors.inc();
        let s = snapshot(&[a, b]);
        assert_eq!(
            s.requests,
            vec![("proxy", 200, 2), ("domain", 0, 1), ("none", 404, 1)]
        );
        assert_eq!(s.duration_count, 4);
        assert_eq!(s.duration_cumulative[0], 2); // 10 us and 300 us
        assert_eq!(s.duration_cumulative[2], 3); // + 2 ms
        assert_eq!(*s.duration_cumulative.last().unwrap(), 4);
        assert_eq!(s.upstream_connect_errors, 1);
    }
}
