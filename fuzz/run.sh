#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, one after the other, with the
# committed corpus; new crashes land in fuzz/artifacts/<target>/. Needs a nightly toolchain
# (cargo-fuzz uses -Z flags) and `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")"
secs=${SECONDS_EACH:-600}
for t in request_head chunked rewriter config_load; do
  echo "== $t ($secs s)"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -15
done
