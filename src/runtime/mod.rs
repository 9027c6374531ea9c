//! Worker threads: one per core (or `server.workers`), each pinned with core_affinity, each
//! running its own monoio runtime (io_uring, or the legacy epoll driver when io_uring cannot
//! start or `FCGATE_DRIVER=epoll` asks for it) and its own SO_REUSEPORT listener on every
//! `server.listen` address. A worker owns its connections, pools and counters.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monoio::io::{AsyncWriteRentExt, Canceller};
use monoio::net::{ListenerOpts, TcpListener, TcpStream};

use crate::proxy::{self, Worker};
use crate::state::Shared;

/// Which monoio driver the workers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// io_uring when the kernel allows it, else epoll.
    Auto,
    Uring,
    Epoll,
}

impl Driver {
    /// From `FCGATE_DRIVER` (`uring`, `epoll`, `auto`; unset = auto).
    pub fn from_env() -> Result<Driver, String> {
        match std::env::var("FCGATE_DRIVER").as_deref() {
            Err(_) | Ok("") | Ok("auto") => Ok(Driver::Auto),
            Ok("uring") | Ok("io_uring") => Ok(Driver::Uring),
            Ok("epoll") | Ok("legacy") => Ok(Driver::Epoll),
            Ok(other) => Err(format!(
                "FCGATE_DRIVER={other}: expected uring, epoll or auto"
            )),
        }
    }
}

/// Starts the workers; returns once every one has bound its listeners (or the first error).
pub fn start(shared: Arc<Shared>, driver: Driver) -> Result<Vec<JoinHandle<()>>, String> {
    let generation = shared.current.load_full();
    let server = &generation.config.server;
    let n = shared.metrics.len();
    let cores = if server.pin_workers {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        Vec::new()
    };
    let (tx, rx) = mpsc::channel::<Result<&'static str, String>>();
    let mut threads = Vec::with_capacity(n);
    for i in 0..n {
        let shared = shared.clone();
        let tx = tx.clone();
        let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
        let listen = server.listen.clone();
        let t = std::thread::Builder::new()
            .name(format!("fcgate-w{i}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                run_worker(i as u16, shared, listen, driver, tx);
            })
            .map_err(|e| format!("cannot start worker thread: {e}"))?;
        threads.push(t);
    }
    drop(tx);
    let mut drivers = Vec::new();
    for _ in 0..n {
        match rx.recv() {
            Ok(Ok(d)) => drivers.push(d),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a worker exited during start-up".into()),
        }
    }
    log::info(&format!(
        "fcgate: {} worker(s), driver {}, listening on {}",
        n,
        drivers.first().copied().unwrap_or("?"),
        server
            .listen
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(threads)
}

type Ready = mpsc::Sender<Result<&'static str, String>>;

fn run_worker(id: u16, shared: Arc<Shared>, listen: Vec<SocketAddr>, driver: Driver, ready: Ready) {
    let entries = 4096;
    let use_uring = match driver {
        Driver::Epoll => false,
        Driver::Uring => true,
        Driver::Auto => monoio::utils::detect_uring(),
    };
    if use_uring {
        // Each ring is used by its worker thread alone, so completions' task work can wait for
        // the worker's next io_uring_enter instead of interrupting it: DEFER_TASKRUN (kernel
        // 6.1+), else COOP_TASKRUN (5.19+), else a plain ring. On the 64-connection load test
        // this is about 8 % less CPU per request than a plain ring.
        let mut deferred = io_uring::IoUring::builder();
        deferred.setup_single_issuer().setup_defer_taskrun();
        let mut coop = io_uring::IoUring::builder();
        coop.setup_coop_taskrun();
        let rings = [
            (deferred, "io_uring (defer-taskrun)"),
            (coop, "io_uring (coop-taskrun)"),
            (io_uring::IoUring::builder(), "io_uring"),
        ];
        let mut last = None;
        for (urb, name) in rings {
            match monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .uring_builder(urb)
                .with_entries(entries)
                .enable_timer()
                .build()
            {
                Ok(mut rt) => {
                    return rt.block_on(worker_main(id, shared, listen, name, ready));
                }
                Err(e) => last = Some(e),
            }
        }
        if driver == Driver::Uring {
            let e = last.map(|e| e.to_string()).unwrap_or_default();
            let _ = ready.send(Err(format!("io_uring runtime: {e}")));
            return;
        }
    }
    match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => rt.block_on(worker_main(id, shared, listen, "epoll", ready)),
        Err(e) => {
            let _ = ready.send(Err(format!("epoll runtime: {e}")));
        }
    }
}

async fn worker_main(
    id: u16,
    shared: Arc<Shared>,
    listen: Vec<SocketAddr>,
    driver: &'static str,
    ready: Ready,
) {
    let worker = Rc::new(Worker::new(id, shared.clone()));
    let opts = ListenerOpts::new()
        .reuse_port(true)
        .reuse_addr(true)
        .backlog(4096);
    let mut listeners = Vec::new();
    for addr in &listen {
        match TcpListener::bind_with_config(addr, &opts) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                let _ = ready.send(Err(format!("cannot listen on {addr}: {e}")));
                return;
            }
        }
    }
    let _ = ready.send(Ok(driver));
    let canceller = Canceller::new();
    for l in listeners {
        monoio::spawn(accept_loop(l, worker.clone(), canceller.handle()));
    }
    // The clock of every socket deadline (see proxy::deadline).
    let clock = worker.clone();
    monoio::spawn(async move {
        loop {
            monoio::time::sleep(proxy::deadline::TICK).await;
            clock.deadlines.tick();
        }
    });

    // Housekeeping: access-log flush, idle-pool sweep; drain on request.
    let mut last_sweep = Instant::now();
    while !shared.is_draining() {
        monoio::time::sleep(Duration::from_millis(100)).await;
        worker.flush_access_log();
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            worker.upstreams.sweep();
            last_sweep = Instant::now();
        }
    }
    // Drain: stop accepting, close idle connections, let the others finish.
    canceller.cancel();
    worker.upstreams.clear_idle();
    let drain = Duration::from_millis(shared.current.load().config.server.drain_timeout_ms);
    let deadline = Instant::now() + drain;
    loop {
        worker.close_idle_connections();
        worker.flush_access_log();
        if worker.connections.get() == 0 || Instant::now() >= deadline {
            break;
        }
        monoio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.flush_access_log();
}

async fn accept_loop(listener: TcpListener, worker: Rc<Worker>, cancel: monoio::io::CancelHandle) {
    loop {
        let (stream, peer) = match listener.cancelable_accept(cancel.clone()).await {
            Ok(x) => x,
            Err(e) => {
                if worker.shared.is_draining() {
                    return;
                }
                // EMFILE and friends: back off a little instead of spinning.
                log::warn(&format!("accept: {e}"));
                monoio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let max = worker.shared.current.load().config.server.max_connections;
        let open = worker.shared.connections.fetch_add(1, Ordering::Relaxed);
        if open >= max || worker.shared.is_draining() {
            monoio::spawn(refuse(stream, worker.clone()));
            continue;
        }
        let w = worker.clone();
        monoio::spawn(async move {
            let guard = ConnGuard::new(w.clone());
            proxy::serve_connection(stream, peer, w).await;
            drop(guard);
        });
    }
}

struct ConnGuard(Rc<Worker>);

impl ConnGuard {
    fn new(w: Rc<Worker>) -> ConnGuard {
        w.connections.set(w.connections.get() + 1);
        ConnGuard(w)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.set(self.0.connections.get() - 1);
        self.0.shared.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `max_connections` reached, or draining: 503 and close.
async fn refuse(mut stream: TcpStream, w: Rc<Worker>) {
    let id = w.next_request_id();
    let e = crate::proxy::error::exhausted(if w.shared.is_draining() {
        "fcgate is shutting down"
    } else {
        "too many client connections"
    });
    let mut out = Vec::with_capacity(256);
    crate::proxy::error::render(&mut out, &e, &id, false, true);
    let _ = stream.write_all(out).await;
    w.shared.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Minimal leveled logging to stderr.
pub mod log {
    use std::sync::atomic::{AtomicU8, Ordering};

    static LEVEL: AtomicU8 = AtomicU8::new(2);

    pub fn set_level(level: crate::config::LogLevel) {
        use crate::config::LogLevel::*;
        LEVEL.store(
            match level {
                Error => 0,
                Warn => 1,
                Info => 2,
                Debug => 3,
            },
            Ordering::Relaxed,
        );
    }
    fn emit(l: u8, tag: &str, msg: &str) {
        if LEVEL.load(Ordering::Relaxed) >= l {
            eprintln!("{tag} {msg}");
        }
    }
    pub fn error(msg: &str) {
        emit(0, "ERROR", msg)
    }
    pub fn warn(msg: &str) {
        emit(1, "WARN", msg)
    }
    pub fn info(msg: &str) {
        emit(2, "INFO", msg)
    }
    pub fn debug(msg: &str) {
        emit(3, "DEBUG", msg)
    }
}
