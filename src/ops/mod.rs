//! Operations: start-up, the admin listener, reload on SIGHUP, drain on SIGTERM/SIGINT.

pub mod admin;
mod reload;

pub use reload::{load_generation, reload};

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::runtime::{self, Driver, log};
use crate::state::Shared;

/// `fcgate run`: exit 1 on a bad config or a listener that cannot bind.
pub fn run(path: &Path) -> ExitCode {
    let generation = match load_generation(path, 1) {
        Ok(g) => g,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    log::set_level(generation.config.log.level);
    let driver = match Driver::from_env() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Signals are blocked for the workers (they inherit the mask of this thread at spawn).
    let mut signals = match Signals::new([SIGHUP, SIGTERM, SIGINT]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let access_log = match crate::access_log::start(&generation.config.log.access) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot open the access log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shared = Shared::new(generation, access_log);
    // Before the workers: once the data port accepts, the admin port answers too.
    let admin_addr = shared
        .current
        .load()
        .config
        .admin
        .as_ref()
        .map(|a| a.listen);
    if let Some(addr) = admin_addr
        && let Err(e) = admin::start(shared.clone(), addr)
    {
        eprintln!("cannot listen on the admin address {addr}: {e}");
        return ExitCode::FAILURE;
    }
    let threads = match runtime::start(shared.clone(), driver) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for sig in signals.forever() {
        match sig {
            SIGHUP => {
                reload(&shared, path);
                if let Some(log) = &shared.access_log {
                    log.reopen();
                }
            }
            _ => break,
        }
    }
    // Drain.
    log::info("fcgate: draining");
    shared.draining.store(true, Ordering::SeqCst);
    let drain = Duration::from_millis(shared.current.load().config.server.drain_timeout_ms);
    let deadline = Instant::now() + drain + Duration::from_secs(1);
    let handle = signals.handle();
    std::thread::spawn(move || {
        // A second SIGTERM/SIGINT exits at once. The same `Signals` keeps listening, so a
        // second signal that arrives right after the first is not lost.
        for sig in signals.forever() {
            if sig != SIGHUP {
                std::process::exit(0);
            }
        }
    });
    for t in threads {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    handle.close();
    // The workers handed over their last access-log lines: wait until they are written.
    if let Some(access_log) = &shared.access_log {
        access_log.sync(Duration::from_secs(2));
    }
    log::info("fcgate: stopped");
    ExitCode::SUCCESS
}
