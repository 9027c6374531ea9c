#!/usr/bin/env bash
# fcgate vs nginx, side by side, on 127.0.0.1 only, bounded in time.
#
#   bash loadtest/run.sh                # full run (about 3 minutes)
#   ROUNDS=1 DURATION=5 bash loadtest/run.sh   # quick look
#
# Installs what it needs (wrk and nginx from Debian), builds fcgate in release mode, starts
# one fast function instance (an nginx worker answering a small fixed body), then measures,
# interleaved and repeated: the instance directly, nginx as a reverse proxy (1 worker,
# upstream keepalive pool) and fcgate (1 worker) in front of it. Prints a table:
# requests/s, p50/p99 latency, proxy CPU microseconds per request (from /proc/PID/stat), RSS,
# and the fcgate/nginx ratios. Then measures the RSS cost of 10 000 idle keep-alive client
# connections to fcgate.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --quiet
exec python3 loadtest/bench.py "$@"
