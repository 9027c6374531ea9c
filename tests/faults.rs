//! Fault injection: misbehaving instances and clients, many times over. The router must keep
//! serving, never leak a descriptor, and never let a slow client starve the others.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const BASE: &str = "/2016-08-15/proxy/CustomDemo/func-http/";
const DOWN: &str = "/2016-08-15/proxy/CustomDemo/func-down/";
const MID_BODY: &str = "/2016-08-15/proxy/CustomDemo/func-mid-body/";
const MID_CHUNK: &str = "/2016-08-15/proxy/CustomDemo/func-mid-chunk/";

/// An instance that reads each request head, answers `answer` and closes at once.
fn dying_instance(answer: Vec<u8>) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(&answer);
        }
    });
    addr
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    drop(l);
    a
}

/// A request that asks the router to close the connection after answering.
fn request(target: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\nconnection: close\r\n{extra}\r\n")
        .into_bytes()
}

/// Sends `raw`, reads whatever comes back until the router closes or 2 s pass; never fails.
fn poke(port: u16, raw: &[u8], read: bool) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(raw);
    if read {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

/// One fault of each kind, `rounds` times: 10 per round.
#[test]
fn ten_thousand_faults_leave_the_router_serving_with_no_leaked_descriptors() {
    let mock = MockInstance::start(Behavior::Respond(Resp::ok("ok")));
    let router = Router::start(&format!(
        r#"[upstream]
connect_timeout_ms = 300
response_timeout_ms = 300
idle_timeout_ms = 300

[[function]]
account = "{ACCOUNT}"
service = "CustomDemo"
name = "func-http"
upstreams = ["{up}"]

[[function]]
account = "{ACCOUNT}"
service = "CustomDemo"
name = "func-down"
upstreams = ["{down}"]

[[function]]
account = "{ACCOUNT}"
service = "CustomDemo"
name = "func-mid-body"
upstreams = ["{mid_body}"]

[[function]]
account = "{ACCOUNT}"
service = "CustomDemo"
name = "func-mid-chunk"
upstreams = ["{mid_chunk}"]
"#,
        up = mock.addr(),
        down = closed_port(),
        mid_body = dying_instance(
            [
                &b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"[..],
                &[b'x'; 500]
            ]
            .concat()
        ),
        mid_chunk = dying_instance(
            [
                &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1f4\r\n"[..],
                &[b'x'; 300]
            ]
            .concat()
        ),
    ));
    let port = router.port();
    let baseline = open_fds(router.pid());

    let huge_head = {
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..2000 {
            h.extend_from_slice(format!("x-filler-{i}: aaaaaaaaaa\r\n").as_bytes());
        }
        h.extend_from_slice(b"content-length: 0\r\n\r\n");
        h
    };
    let faults: Vec<(&str, Option<Behavior>)> = vec![
        ("instance refuses", None),
        ("instance closes on accept", Some(Behavior::CloseOnAccept)),
        (
            "instance closes without answering",
            Some(Behavior::CloseWithoutAnswer),
        ),
        ("instance dies mid-body", None),
        ("instance dies mid-chunk", None),
        (
            "instance sends a malformed head",
            Some(Behavior::Raw {
                bytes: b"HTTP/1.1 200 OK\nbroken\r\n\r\n".to_vec(),
                close: false,
            }),
        ),
        (
            "instance sends a huge head",
            Some(Behavior::Raw {
                bytes: huge_head,
                close: false,
            }),
        ),
        (
            "instance sends more than its content-length",
            Some(Behavior::Raw {
                bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA".to_vec(),
                close: false,
            }),
        ),
        (
            "instance closes pooled connections",
            Some(Behavior::Respond(Resp::ok("ok").close_silently())),
        ),
        ("client leaves mid-request and mid-response", None),
    ];

    let rounds: usize = std::env::var("FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let started = Instant::now();
    let mut per_kind = vec![Duration::ZERO; faults.len()];
    for round in 0..rounds {
        for (i, (name, behavior)) in faults.iter().enumerate() {
            let t = Instant::now();
            match (i, behavior) {
                (0, _) => poke(port, &request(DOWN, ""), true),
                (3, _) => poke(port, &request(MID_BODY, ""), true),
                (4, _) => poke(port, &request(MID_CHUNK, ""), true),
                (9, _) => {
                    mock.set_behavior(Behavior::Big(1 << 20));
                    // Mid-request: a body announced, a little sent, gone.
                    poke(
                        port,
                        &request(BASE, "content-length: 1000\r\n\r\nabc"),
                        false,
                    );
                    // Mid-response: read a little of a 1 MiB answer, gone.
                    if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let _ = s.write_all(&request(BASE, ""));
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf);
                    }
                }
                (_, Some(b)) => {
                    mock.set_behavior(b.clone());
                    poke(port, &request(BASE, ""), true);
                }
                _ => unreachable!("{name}"),
            }
            per_kind[i] += t.elapsed();
        }
        if round % 100 == 99 {
            // Still serving, in between.
            mock.set_behavior(Behavior::Respond(Resp::ok("ok")));
            let r = router.get(SYSTEM_HOST, BASE, "");
            assert_eq!(r.status, 200, "after {} faults", (round + 1) * faults.len());
        }
    }
    for ((name, _), d) in faults.iter().zip(&per_kind) {
        eprintln!(
            "  {name}: {:.2} ms each",
            d.as_secs_f64() * 1000.0 / rounds as f64
        );
    }
    eprintln!(
        "{} faults in {:.1} s",
        rounds * faults.len(),
        started.elapsed().as_secs_f64()
    );

    mock.set_behavior(Behavior::Respond(Resp::ok("ok")));
    let r = router.get(SYSTEM_HOST, BASE, "");
    assert_eq!((r.status, r.text()), (200, "ok".to_string()));

    // Pooled upstream connections expire after idle_timeout_ms (swept every second); client
    // connections are all closed. Then the descriptor count is back where it started.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = open_fds(router.pid());
    while now > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        now = open_fds(router.pid());
    }
    assert!(
        now <= baseline,
        "descriptors: {baseline} at start, {now} after the faults"
    );
}

/// 1 000 connections sending one byte a second do not stop normal requests.
#[test]
fn slow_clients_do_not_starve_normal_requests() {
    let router = Router::start(&format!(
        r#"[server]
header_timeout_ms = 10000

[[function]]
account = "{ACCOUNT}"
service = "CustomDemo"
name = "func-http"
upstreams = ["builtin:echo"]
"#
    ));
    let port = router.port();
    let head = format!("GET {BASE} HTTP/1.1\r\nHost: {SYSTEM_HOST}\r\n\r\n").into_bytes();
    let mut slow: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(
        slow.len() >= 990,
        "only {} slow connections opened",
        slow.len()
    );

    let mut worst = Duration::ZERO;
    let mut served = 0;
    let end = Instant::now() + Duration::from_secs(3);
    let mut sent = 0;
    while Instant::now() < end {
        // Each slow client sends its next byte (one a second).
        if sent < head.len() - 1 {
            for s in &mut slow {
                let _ = s.write_all(&head[sent..sent + 1]);
            }
            sent += 1;
        }
        let tick = Instant::now() + Duration::from_secs(1);
        while Instant::now() < tick {
            let t = Instant::now();
            let r = router.get(SYSTEM_HOST, BASE, "");
            assert_eq!(r.status, 200);
            worst = worst.max(t.elapsed());
            served += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!(
        "{} slow clients: {served} normal requests served, slowest {:.2} ms",
        slow.len(),
        worst.as_secs_f64() * 1000.0
    );
    assert!(served > 50);
    // Generous: a starved router would take the slow clients' whole header timeout.
    assert!(
        worst < Duration::from_secs(2),
        "slowest normal request {worst:?}"
    );
}
