//! The admin listener (`[admin] listen`): `GET /healthz`, `GET /metrics` (Prometheus text
//! format 0.0.4) and `GET /config` (JSON). It runs on its own thread with a plain blocking
//! `std::net::TcpListener`, never on a worker, so a scrape cannot slow the data plane. One
//! connection at a time, short timeouts, one request per connection (`connection: close`).
//! It keeps answering during a drain: `/healthz` then says 503 `draining`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::metrics::{DURATION_BUCKETS, Snapshot};
use crate::runtime::log;
use crate::state::{Generation, Shared};

/// Most bytes of request line + headers read from an admin client.
const MAX_HEAD: usize = 8 * 1024;
/// Time an admin client has to send its head, and to take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds `addr` and serves it on a new thread named `fcgate-admin`.
pub fn start(shared: Arc<Shared>, addr: SocketAddr) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr().unwrap_or(addr);
    let t = std::thread::Builder::new()
        .name("fcgate-admin".into())
        .spawn(move || serve(listener, &shared))?;
    log::info(&format!("fcgate: admin listening on {bound}"));
    Ok(t)
}

fn serve(listener: TcpListener, shared: &Shared) {
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = serve_one(s, shared) {
                    log::debug(&format!("admin: {e}"));
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn(&format!("admin accept: {e}"));
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A parsed admin request: what is needed to answer it.
#[derive(Debug, PartialEq, Eq)]
enum Head<'a> {
    Ok { method: &'a str, path: &'a str },
    Malformed,
}

/// Reads one head (bounded in bytes and time), answers, closes.
fn serve_one(mut s: TcpStream, shared: &Shared) -> std::io::Result<()> {
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let _ = s.set_nodelay(true);
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    let complete = loop {
        if find_end(&buf[..len]).is_some() {
            break true;
        }
        if len == buf.len() {
            break false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(()); // too slow: close without an answer
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf[len..]) {
            Ok(0) => return Ok(()),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let answer = if complete {
        respond(parse_head(&buf[..len]), shared)
    } else {
        Answer::text(431, "request header fields too large\n")
    };
    s.write_all(&answer.render())?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    Ok(())
}

fn find_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| {
        // Tolerate bare LF line ends (curl never sends them, netcat users might).
        b.windows(2).position(|w| w == b"\n\n")
    })
}

fn parse_head(b: &[u8]) -> Head<'_> {
    let line_end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    let Ok(line) = std::str::from_utf8(&b[..line_end]) else {
        return Head::Malformed;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Head::Malformed;
    };
    if method.is_empty() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Head::Malformed;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Head::Ok { method, path }
}

/// An answer of the admin server.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    allow: bool,
}

impl Answer {
    fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            allow: false,
        }
    }

    fn render(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{}connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            if self.allow { "allow: GET\r\n" } else { "" },
        )
        .into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

fn respond(head: Head<'_>, shared: &Shared) -> Answer {
    let (method, path) = match head {
        Head::Ok { method, path } => (method, path),
        Head::Malformed => return Answer::text(400, "bad request\n"),
    };
    if !matches!(path, "/healthz" | "/metrics" | "/config") {
        return Answer::text(404, "not found: try /healthz, /metrics or /config\n");
    }
    if method != "GET" {
        let mut a = Answer::text(405, "method not allowed\n");
        a.allow = true;
        return a;
    }
    match path {
        "/healthz" => {
            if shared.draining.load(Ordering::Relaxed) {
                Answer::text(503, "draining")
            } else {
                Answer::text(200, "ok")
            }
        }
        "/metrics" => Answer {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: render_metrics(
                &crate::metrics::snapshot(&shared.metrics),
                &Gauges::of(shared),
            ),
            allow: false,
        },
        _ => Answer {
            status: 200,
            content_type: "application/json",
            body: render_config(&shared.current.load()),
            allow: false,
        },
    }
}

/// The process-wide values `/metrics` shows besides the per-worker counters.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Gauges {
    pub active_connections: u64,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub generation: u64,
}

impl Gauges {
    pub fn of(shared: &Shared) -> Gauges {
        Gauges {
            active_connections: shared.connections.load(Ordering::Relaxed) as u64,
            reloads_ok: shared.reloads_ok.load(Ordering::Relaxed),
            reloads_failed: shared.reloads_failed.load(Ordering::Relaxed),
            generation: shared.current.load().number,
        }
    }
}

/// The `/metrics` body: Prometheus text exposition format 0.0.4.
pub fn render_metrics(s: &Snapshot, g: &Gauges) -> String {
    let mut out = String::with_capacity(2048);
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };

    family(
        &mut out,
        "fcgate_requests_total",
        "counter",
        "Requests answered, by access mode and HTTP status (\"other\": no valid status was sent).",
    );
    for (mode, status, n) in &s.requests {
        let code = match status {
            0 => "other".to_string(),
            s => s.to_string(),
        };
        let _ = writeln!(
            out,
            "fcgate_requests_total{{mode=\"{mode}\",code=\"{code}\"}} {n}"
        );
    }

    family(
        &mut out,
        "fcgate_request_duration_seconds",
        "histogram",
        "Time from a complete request head to the end of the response.",
    );
    for (i, n) in s.duration_cumulative.iter().enumerate() {
        let le = match DURATION_BUCKETS.get(i) {
            Some(b) => format!("{b}"),
            None => "+Inf".to_string(),
        };
        let _ = writeln!(
            out,
            "fcgate_request_duration_seconds_bucket{{le=\"{le}\"}} {n}"
        );
    }
    if s.duration_cumulative.len() <= DURATION_BUCKETS.len() {
        // No `+Inf` from the snapshot (never the case for a real one): keep the family valid.
        let _ = writeln!(
            out,
            "fcgate_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            s.duration_count
        );
    }
    let _ = writeln!(
        out,
        "fcgate_request_duration_seconds_sum {}",
        s.duration_sum_seconds
    );
    let _ = writeln!(
        out,
        "fcgate_request_duration_seconds_count {}",
        s.duration_count
    );

    family(
        &mut out,
        "fcgate_upstream_connect_errors_total",
        "counter",
        "Connections to function instances that failed or timed out.",
    );
    let _ = writeln!(
        out,
        "fcgate_upstream_connect_errors_total {}",
        s.upstream_connect_errors
    );

    family(
        &mut out,
        "fcgate_active_connections",
        "gauge",
        "Client connections open now.",
    );
    let _ = writeln!(out, "fcgate_active_connections {}", g.active_connections);

    family(
        &mut out,
        "fcgate_config_reloads_total",
        "counter",
        "Config reloads (SIGHUP) by result.",
    );
    let _ = writeln!(
        out,
        "fcgate_config_reloads_total{{result=\"ok\"}} {}",
        g.reloads_ok
    );
    let _ = writeln!(
        out,
        "fcgate_config_reloads_total{{result=\"failed\"}} {}",
        g.reloads_failed
    );

    family(
        &mut out,
        "fcgate_config_generation",
        "gauge",
        "Number of the config generation in service (1 at start-up, +1 per successful reload).",
    );
    let _ = writeln!(out, "fcgate_config_generation {}", g.generation);

    family(
        &mut out,
        "fcgate_access_log_dropped_total",
        "counter",
        "Access-log buffers dropped because the writer fell behind.",
    );
    let _ = writeln!(
        out,
        "fcgate_access_log_dropped_total {}",
        s.access_log_dropped
    );
    out
}

/// The `/config` body.
pub fn render_config(g: &Generation) -> String {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "{{\"generation\":{},\"loaded_at\":\"", g.number);
    crate::access_log::rfc3339_millis(&mut out, g.loaded_at);
    out.extend_from_slice(b"\",\"source\":");
    crate::access_log::json_str(&mut out, g.config.source.as_os_str().as_encoded_bytes());
    out.extend_from_slice(b",\"sha256\":");
    crate::access_log::json_str(&mut out, g.sha256.as_bytes());
    let _ = write!(
        out,
        ",\"functions\":{},\"domains\":{},\"routes\":{}}}",
        g.table.function_count(),
        g.table.domain_count(),
        g.table.route_count()
    );
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_metrics() {
        let mut cumulative: Vec<u64> = vec![1; DURATION_BUCKETS.len()];
        cumulative[0] = 0;
        cumulative.push(3);
        let s = Snapshot {
            requests: vec![("proxy", 200, 2), ("domain", 0, 1), ("none", 404, 5)],
            duration_cumulative: cumulative,
            duration_sum_seconds: 12.5,
            duration_count: 3,
            upstream_connect_errors: 4,
            access_log_dropped: 6,
        };
        let g = Gauges {
            active_connections: 7,
            reloads_ok: 8,
            reloads_failed: 9,
            generation: 10,
        };
        let text = render_metrics(&s, &g);
        for line in [
            "# HELP fcgate_requests_total ",
            "# TYPE fcgate_requests_total counter",
            "fcgate_requests_total{mode=\"proxy\",code=\"200\"} 2",
            "fcgate_requests_total{mode=\"domain\",code=\"other\"} 1",
            "fcgate_requests_total{mode=\"none\",code=\"404\"} 5",
            "# TYPE fcgate_request_duration_seconds histogram",
            "fcgate_request_duration_seconds_bucket{le=\"0.0005\"} 0",
            "fcgate_request_duration_seconds_bucket{le=\"0.001\"} 1",
            "fcgate_request_duration_seconds_bucket{le=\"1\"} 1",
            "fcgate_request_duration_seconds_bucket{le=\"10\"} 1",
            "fcgate_request_duration_seconds_bucket{le=\"+Inf\"} 3",
            "fcgate_request_duration_seconds_sum 12.5",
            "fcgate_request_duration_seconds_count 3",
            "# TYPE fcgate_upstream_connect_errors_total counter",
            "fcgate_upstream_connect_errors_total 4",
            "# TYPE fcgate_active_connections gauge",
            "fcgate_active_connections 7",
            "# TYPE fcgate_config_reloads_total counter",
            "fcgate_config_reloads_total{result=\"ok\"} 8",
            "fcgate_config_reloads_total{result=\"failed\"} 9",
            "# TYPE fcgate_config_generation gauge",
            "fcgate_config_generation 10",
            "# TYPE fcgate_access_log_dropped_total counter",
            "fcgate_access_log_dropped_total 6",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(line)),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line is `name{labels} value` with a number value; one HELP and one TYPE
        // per family, the TYPE before the family's samples.
        let mut typed = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if l.starts_with('#') {
                continue;
            }
            let (name, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "value of {l:?}");
            let base = name.split('{').next().unwrap();
            assert!(
                typed.iter().any(|t| base == t
                    || base
                        .strip_prefix(t.as_str())
                        .is_some_and(|s| matches!(s, "_bucket" | "_sum" | "_count"))),
                "{l:?} before its TYPE"
            );
        }
        assert_eq!(typed.len(), 7);
        assert!(text.ends_with('\n'));
        // Buckets are cumulative and there is one per bound plus +Inf.
        let buckets = text
            .lines()
            .filter(|l| l.starts_with("fcgate_request_duration_seconds_bucket"))
            .count();
        assert_eq!(buckets, DURATION_BUCKETS.len() + 1);
    }

    #[test]
    fn renders_empty_metrics() {
        let s = crate::metrics::snapshot(&[]);
        let text = render_metrics(&s, &Gauges::default());
        assert!(text.contains("# TYPE fcgate_requests_total counter\n"));
        assert!(!text.contains("fcgate_requests_total{"));
        assert!(text.contains("fcgate_request_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
        assert!(text.contains("fcgate_request_duration_seconds_count 0\n"));
        assert!(text.contains("fcgate_request_duration_seconds_sum 0\n"));
    }

    #[test]
    fn parses_heads() {
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Head::Ok {
                method: "GET",
                path: "/metrics"
            }
        );
        assert_eq!(
            parse_head(b"POST /healthz HTTP/1.0\r\n\r\n"),
            Head::Ok {
                method: "POST",
                path: "/healthz"
            }
        );
        assert_eq!(parse_head(b"GET /healthz\r\n\r\n"), Head::Malformed);
        assert_eq!(
            parse_head(b"GET  /healthz HTTP/1.1\r\n\r\n"),
            Head::Malformed
        );
        assert_eq!(parse_head(b"GET healthz HTTP/1.1\r\n\r\n"), Head::Malformed);
        assert_eq!(parse_head(b"\xff /x HTTP/1.1\r\n\r\n"), Head::Malformed);
    }

    #[test]
    fn answers_have_length_and_close() {
        let a = Answer::text(200, "ok");
        let text = String::from_utf8(a.render()).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        );
        let mut a = Answer::text(405, "x");
        a.allow = true;
        assert!(
            String::from_utf8(a.render())
                .unwrap()
                .contains("\r\nallow: GET\r\n")
        );
    }

    #[test]
    fn renders_config() {
        let text = "[[function]]\naccount = \"1\"\nservice = \"s\"\nname = \"f\"\nupstreams = [\"builtin:echo\"]\n\n[[domain]]\nname = \"example.com\"\naccount = \"1\"\n[[domain.route]]\npath = \"/*\"\nservice = \"s\"\nfunction = \"f\"\n";
        let config =
            crate::config::parse(text, std::path::Path::new("/etc/fc\"gate.toml")).expect("config");
        let table = crate::routing::RouteTable::compile(&config).expect("table");
        let g = Generation {
            number: 3,
            config,
            table,
            loaded_at: std::time::SystemTime::UNIX_EPOCH + Duration::from_millis(1_500),
            sha256: "ab".repeat(32),
        };
        let json = render_config(&g);
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["generation"], 3);
        assert_eq!(v["loaded_at"], "1970-01-01T00:00:01.500Z");
        assert_eq!(v["source"], "/etc/fc\"gate.toml");
        assert_eq!(v["sha256"], "ab".repeat(32));
        assert_eq!(v["functions"], 1);
        assert_eq!(v["domains"], 1);
        assert_eq!(v["routes"], 1);
        assert_eq!(v.as_object().unwrap().len(), 7);
    }
}
