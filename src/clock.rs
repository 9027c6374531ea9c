//! The coarse monotonic clock of the data plane: `CLOCK_MONOTONIC_COARSE` in milliseconds, a
//! vDSO read without a TSC read. Its resolution is the kernel tick (a few milliseconds), which is
//! plenty for timeouts, pool ages and health marks; request durations use `Instant`.

/// Milliseconds of `CLOCK_MONOTONIC_COARSE`.
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill; this clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// How far [`now_ms`] may lag the real time, in milliseconds (at least 1).
pub fn resolution_ms() -> u64 {
    thread_local! {
        static RES: u64 = {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: a valid timespec to fill.
            unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
            (ts.tv_sec as u64 * 1000 + (ts.tv_nsec as u64).div_ceil(1_000_000)).max(1)
        };
    }
    RES.with(|r| *r)
}

/// A duration in whole milliseconds, saturating.
pub fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4)
}
