#!/usr/bin/env python3
"""fcgate vs nginx on 127.0.0.1: see loadtest/run.sh. Every load is bounded in time."""
import os, re, resource, signal, socket, statistics, subprocess, sys, tempfile, time

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNS = int(os.environ.get("CONNS", "64"))
IDLE_CONNS = int(os.environ.get("IDLE_CONNS", "10000"))
INST, NGX, FCG = 18180, 18181, 18182
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "loadtest", "out")
FCGATE = os.path.join(ROOT, "target", "release", "fcgate")
TICK = os.sysconf("SC_CLK_TCK")

NGINX_INSTANCE = """
worker_processes 1; daemon off; pid {out}/inst.pid; error_log {out}/inst.err warn;
events {{ worker_connections 4096; }}
http {{ access_log off;
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
    location / {{ return 200 "hello from the instance\\n"; }} }} }}
"""
NGINX_PROXY = """
worker_processes 1; daemon off; pid {out}/ngx.pid; error_log {out}/ngx.err warn;
events {{ worker_connections 4096; }}
http {{ access_log off;
  upstream inst {{ server 127.0.0.1:{inst}; keepalive 64; keepalive_requests 1000000; }}
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
    location / {{ proxy_pass http://inst; proxy_http_version 1.1; proxy_set_header Connection ""; }} }} }}
"""
FCGATE_CONF = """
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
pin_workers = false
[upstream]
max_idle_per_upstream = 64
[[function]]
account = "1649015465571234"
service = "bench"
name = "fn"
upstreams = ["127.0.0.1:{inst}"]
[[domain]]
name = "bench.local"
account = "1649015465571234"
[[domain.route]]
path = "/*"
service = "bench"
function = "fn"
"""


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} did not open")


def family(pid):
    """pid and its children (nginx master + workers)."""
    pids = [pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def cpu_ticks(pids):
    t = 0
    for p in pids:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        t += int(fields[11]) + int(fields[12])
    return t


def rss_kib(pids):
    t = 0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    t += int(line.split()[1])
    return t


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        raise SystemExit(f"cannot read wrk latency {v!r}")
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[m.group(2)]


def wrk(port, pids):
    before = cpu_ticks(pids) if pids else 0
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s", "--latency", "-H", "Host: bench.local",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=DURATION + 30).stdout
    after = cpu_ticks(pids) if pids else 0
    if "Requests/sec" not in out or not re.search(r"^\s+50%\s+\S+", out, re.M) or not re.search(r"^\s+99%\s+\S+", out, re.M):
        raise SystemExit(f"wrk on port {port} failed:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errs or "Socket errors" in out:
        print(out, file=sys.stderr)
    us = (after - before) * 1e6 / TICK / total if pids else 0.0
    return dict(rps=rps, p50=p50, p99=p99, cpu_us=us, rss=rss_kib(pids) if pids else 0)


def idle_connections(port, pid, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    req = b"GET / HTTP/1.1\r\nHost: bench.local\r\n\r\n"
    # Warm the pools and buffers first, then measure only the idle connections' cost.
    warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    for s in warm:
        s.sendall(req); s.recv(4096)
    for s in warm:
        s.close()
    time.sleep(0.5)
    base = rss_kib([pid])
    socks = []
    deadline = time.time() + 120
    for i in range(n):
        if time.time() > deadline:
            break
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.sendall(req)
        socks.append(s)
    for s in socks:
        s.settimeout(5)
        s.recv(4096)
    time.sleep(1.0)
    after = rss_kib([pid])
    count = len(socks)
    for s in socks:
        s.close()
    return count, base, after, (after - base) / max(count, 1)


def main():
    os.makedirs(OUT, exist_ok=True)
    procs = []
    def start(args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, "stderr.log"), "a"), **kw)
        procs.append(p)
        return p
    try:
        for name, text in (("inst.conf", NGINX_INSTANCE.format(out=OUT, port=INST)),
                           ("ngx.conf", NGINX_PROXY.format(out=OUT, port=NGX, inst=INST)),
                           ("fcgate.toml", FCGATE_CONF.format(port=FCG, inst=INST))):
            with open(os.path.join(OUT, name), "w") as f:
                f.write(text)
        start(["nginx", "-c", os.path.join(OUT, "inst.conf"), "-p", OUT])
        ngx = start(["nginx", "-c", os.path.join(OUT, "ngx.conf"), "-p", OUT])
        fcg = start([FCGATE, "run", "--config", os.path.join(OUT, "fcgate.toml")])
        for port in (INST, NGX, FCG):
            wait_port(port)
        time.sleep(0.5)
        ngx_pids = family(ngx.pid)
        targets = {"instance (direct)": (INST, []), "nginx": (NGX, ngx_pids), "fcgate": (FCG, [fcg.pid])}
        results = {k: [] for k in targets}
        order = list(targets)
        for r in range(ROUNDS):
            for name in order[r % 3:] + order[:r % 3]:
                port, pids = targets[name]
                res = wrk(port, pids)
                results[name].append(res)
                print(f"round {r + 1} {name}: {res['rps']:.0f} req/s", file=sys.stderr)
        med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items()}
        lines = [f"wrk -t1 -c{CONNS} -d{DURATION}s, {ROUNDS} interleaved rounds, medians; 1 worker each; "
                 f"{os.cpu_count()} cores",
                 "", "| target | req/s | p50 ms | p99 ms | proxy CPU µs/req | RSS KiB |", "|---|---|---|---|---|---|"]
        for k, v in med.items():
            lines.append(f"| {k} | {v['rps']:.0f} | {v['p50']:.3f} | {v['p99']:.3f} | "
                         f"{v['cpu_us']:.2f} | {v['rss']} |")
        f, n = med["fcgate"], med["nginx"]
        lines.append("")
        lines.append(f"fcgate/nginx: requests/s {f['rps'] / n['rps']:.2f}x, CPU per request "
                     f"{f['cpu_us'] / n['cpu_us']:.2f}x, p99 {f['p99'] / n['p99']:.2f}x")
        count, base, after, per = idle_connections(FCG, fcg.pid, IDLE_CONNS)
        lines.append(f"idle keep-alive connections: {count}, fcgate RSS {base} KiB -> {after} KiB, "
                     f"{per:.2f} KiB per connection")
        text = "\n".join(lines)
        print(text)
        with open(os.path.join(OUT, "results.md"), "w") as fo:
            fo.write(text + "\n")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
