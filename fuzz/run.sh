#!/usr/bin/env bash
# Runs every fuzz target for SECONDS_EACH (default 600) seconds, one after the other, on the
# committed corpus (fuzz/corpus/<target>, which grows) plus fuzz/regressions/<target> (inputs
# that once failed). A crash lands in fuzz/artifacts/<target>/ and the full log in
# fuzz/artifacts/<target>.log. Needs a nightly toolchain (cargo-fuzz passes -Z flags) and
# `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")"
secs=${SECONDS_EACH:-600}
targets=${TARGETS:-request_head chunked rewriter config_load}
mkdir -p artifacts
for t in $targets; do
  echo "== $t ($secs s)"
  dirs=("corpus/$t")
  [ -d "regressions/$t" ] && dirs+=("regressions/$t")
  cargo +nightly fuzz run -O "$t" "${dirs[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048 \
    -print_final_stats=1 >"artifacts/$t.log" 2>&1 || { tail -40 "artifacts/$t.log"; exit 1; }
  grep -E "^Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb)" "artifacts/$t.log"
done
