//! `RouteTable::resolve` in each access mode over tables of 100, 10 000 and 1 000 000
//! functions (and 10, 1 000, 100 000 custom domains of 10 routes each), the compile time of
//! the 100 000-domain table, and the tables' memory (a counting global allocator).
//!
//! cargo bench --bench routing -- --warm-up-time 1 --measurement-time 2
//!
//! Each mode is measured twice: `hot` repeats one request (the CPU cost of a lookup, all in
//! cache), `spread` cycles through 1 024 requests spread over the whole table (adding the cache
//! and TLB misses of a big table). `ROUTING_BENCH_SIZES=100,10000,compile` limits the run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fcgate::config::*;
use fcgate::routing::{Decision, RouteTable};

// ---- counting allocator -----------------------------------------------------------------

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Relaxed);
        LIVE.fetch_sub(l.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Compiles `c`, returning the table, the bytes it holds, and the time taken.
fn compile_measured(c: &Config) -> (RouteTable, usize, Duration) {
    let before = LIVE.load(Relaxed);
    let t0 = Instant::now();
    let t = RouteTable::compile(c).expect("compiles");
    let took = t0.elapsed();
    (t, LIVE.load(Relaxed) - before, took)
}

// ---- config builder ---------------------------------------------------------------------

const ACC: &str = "1649015465571234";
const EP: &str = "1649015465571234.cn-hangzhou.fc.aliyuncs.com";
const FUNCS_PER_SERVICE: usize = 1000;

fn config() -> Config {
    Config {
        source: PathBuf::from("bench.toml"),
        server: Server {
            listen: vec!["127.0.0.1:8080".parse().unwrap()],
            workers: 0,
            pin_workers: true,
            max_connections: 100000,
            max_header_bytes: 8192,
            max_uri_bytes: 4096,
            max_body_bytes: 33554432,
            header_timeout_ms: 10000,
            idle_timeout_ms: 60000,
            drain_timeout_ms: 30000,
        },
        admin: None,
        log: Log {
            level: LogLevel::Info,
            access: AccessLog::Off,
        },
        upstream: Upstream {
            connect_timeout_ms: 2000,
            response_timeout_ms: 60000,
            idle_timeout_ms: 30000,
            max_idle_per_upstream: 64,
            retries: 1,
        },
        platform: Platform {
            api_version: "2016-08-15".into(),
            region: "cn-hangzhou".into(),
            endpoint_suffix: "fc.aliyuncs.com".into(),
            trigger_suffix: "fcapp.run".into(),
        },
        functions: vec![],
        domains: vec![],
    }
}

/// Function `i`: service `svc-<i / 1000>`, name `func-<i>`, label `func-<i>-khljsjksld`.
fn names(i: usize) -> (String, String) {
    (
        format!("svc-{}", i / FUNCS_PER_SERVICE),
        format!("func-{i}"),
    )
}

fn add_functions(c: &mut Config, n: usize) {
    c.functions.reserve(n);
    for i in 0..n {
        let (service, name) = names(i);
        c.functions.push(Function {
            account: ACC.into(),
            subdomain: Some(format!("{name}-khljsjksld")),
            service,
            name,
            qualifier: "LATEST".into(),
            upstreams: vec![UpstreamAddr::Tcp {
                text: "127.0.0.1:9000".into(),
                addr: "127.0.0.1:9000".parse().unwrap(),
            }],
            methods: MethodSet::ALL,
            disable_url_internet: false,
            proxy_path: ProxyPath::Full,
        });
    }
}

/// `d` domains `d<k>.example.com` of 10 routes each, to functions among the first `n`.
fn add_domains(c: &mut Config, d: usize, n: usize) {
    const PATHS: [&str; 10] = [
        "/",
        "/api/users",
        "/login/*",
        "/static/*",
        "/v1/items",
        "/v2/*",
        "/docs",
        "/docs/*",
        "/health",
        "/*",
    ];
    c.domains.reserve(d);
    for k in 0..d {
        let routes = PATHS
            .iter()
            .enumerate()
            .map(|(r, path)| {
                let (service, function) = names((k * 10 + r) % n);
                let rewrites = if *path == "/v2/*" {
                    vec![Rewrite {
                        kind: RewriteKind::Wildcard,
                        pattern: "^/v2/*".into(),
                        replacement: "/$1".into(),
                    }]
                } else {
                    vec![]
                };
                Route {
                    path: (*path).into(),
                    service,
                    function,
                    qualifier: "LATEST".into(),
                    methods: MethodSet::ALL,
                    rewrites,
                }
            })
            .collect();
        c.domains.push(Domain {
            name: format!("d{k}.example.com"),
            account: ACC.into(),
            routes,
        });
    }
}

// ---- requests ---------------------------------------------------------------------------

struct Req {
    host: Vec<u8>,
    target: Vec<u8>,
    header: Option<Vec<u8>>,
}

/// 1 024 indexes spread over `0..n` (a fixed LCG).
fn spread(n: usize) -> impl Iterator<Item = usize> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..1024).map(move |_| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as usize) % n
    })
}

fn requests(mode: &str, n: usize, domains: usize) -> Vec<Req> {
    let count = if mode.starts_with("domain") {
        domains
    } else {
        n
    };
    spread(count)
        .map(|i| {
            let (s, f) = names(i);
            let (host, target, header) = match mode {
                "proxy" => (
                    EP.into(),
                    format!("/2016-08-15/proxy/{s}/{f}/test?x=1"),
                    None,
                ),
                "header" => (
                    EP.into(),
                    "/test?x=1".into(),
                    Some(format!("2016-08-15/proxy/{s}/{f}")),
                ),
                "subdomain" => (
                    format!("{f}-khljsjksld.cn-hangzhou.fcapp.run"),
                    "/action?hello=world".into(),
                    None,
                ),
                "domain" => (format!("d{i}.example.com"), "/login/a/b?x=1".into(), None),
                "domain_rewrite" => (format!("d{i}.example.com"), "/v2/items/7?x=1".into(), None),
                _ => unreachable!(),
            };
            Req {
                host: host.into_bytes(),
                target: target.into_bytes(),
                header: header.map(String::into_bytes),
            }
        })
        .collect()
}

fn resolve_one(t: &RouteTable, r: &Req) -> bool {
    let headers: [(&str, &[u8]); 3] = [
        ("user-agent", b"curl/8.5.0"),
        ("accept", b"*/*"),
        (
            if r.header.is_some() {
                "x-fc-invocation-target"
            } else {
                "x-other"
            },
            r.header.as_deref().unwrap_or(b""),
        ),
    ];
    let d = t.resolve(b"GET", Some(&r.host), &r.target, &headers[..]);
    matches!(black_box(d), Decision::Routed(_))
}

const MODES: [&str; 5] = ["proxy", "header", "subdomain", "domain", "domain_rewrite"];

/// Allocations per resolve, and a check that every request routes.
fn allocs_per_resolve(t: &RouteTable, reqs: &[Req]) -> f64 {
    let before = ALLOCS.load(Relaxed);
    for r in reqs {
        assert!(
            resolve_one(t, r),
            "not routed: {:?}",
            String::from_utf8_lossy(&r.target)
        );
    }
    (ALLOCS.load(Relaxed) - before) as f64 / reqs.len() as f64
}

fn bench_resolve(c: &mut Criterion) {
    // `ROUTING_BENCH_SIZES=100,10000` limits the sizes (for quick runs).
    let only = std::env::var("ROUTING_BENCH_SIZES").ok();
    for (n, domains) in [(100, 10), (10_000, 1_000), (1_000_000, 100_000)] {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|s| s == n.to_string()))
        {
            continue;
        }
        let mut cfg = config();
        add_functions(&mut cfg, n);
        add_domains(&mut cfg, domains, n);
        let (t, bytes, took) = compile_measured(&cfg);
        drop(cfg);
        println!(
            "table: {n} functions + {domains} domains x 10 routes: compile {:.1} ms, {:.1} MiB",
            took.as_secs_f64() * 1e3,
            bytes as f64 / (1 << 20) as f64
        );
        let mut g = c.benchmark_group("resolve");
        g.sample_size(if n >= 1_000_000 { 20 } else { 50 });
        for mode in MODES {
            let reqs = requests(mode, n, domains);
            println!(
                "  {mode}: {:.2} allocations per resolve",
                allocs_per_resolve(&t, &reqs)
            );
            // One request over and over: the CPU cost, everything in cache.
            g.bench_with_input(
                BenchmarkId::new(format!("{mode}/hot"), n),
                &reqs[0],
                |b, r| b.iter(|| resolve_one(&t, r)),
            );
            // 1 024 requests spread over the table: adds cache and TLB misses.
            g.bench_with_input(
                BenchmarkId::new(format!("{mode}/spread"), n),
                &reqs,
                |b, reqs| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) & 1023;
                        resolve_one(&t, &reqs[i])
                    })
                },
            );
        }
        g.finish();
    }
}

fn bench_compile(c: &mut Criterion) {
    if std::env::var("ROUTING_BENCH_SIZES").is_ok_and(|o| !o.contains("compile")) {
        return;
    }
    // Functions only: bytes per function.
    let mut cfg = config();
    add_functions(&mut cfg, 1_000_000);
    let (t, bytes, took) = compile_measured(&cfg);
    println!(
        "memory: 1000000 functions (with trigger labels): {:.1} MiB = {} B/function; compile {:.0} ms",
        bytes as f64 / (1 << 20) as f64,
        bytes / 1_000_000,
        took.as_secs_f64() * 1e3
    );
    drop((t, cfg));

    // 100 000 domains x 10 routes over 1 000 functions.
    let mut cfg = config();
    add_functions(&mut cfg, 1_000);
    add_domains(&mut cfg, 100_000, 1_000);
    let base = {
        let mut f = config();
        add_functions(&mut f, 1_000);
        compile_measured(&f).1
    };
    let (t, bytes, took) = compile_measured(&cfg);
    println!(
        "memory: 100000 domains x 10 routes: {:.1} MiB = {} B/domain; compile {:.0} ms",
        (bytes - base) as f64 / (1 << 20) as f64,
        (bytes - base) / 100_000,
        took.as_secs_f64() * 1e3
    );
    drop(t);
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("100000_domains_x10_routes", |b| {
        b.iter(|| RouteTable::compile(black_box(&cfg)))
    });
    g.finish();
}

criterion_group!(benches, bench_resolve, bench_compile);
criterion_main!(benches);
