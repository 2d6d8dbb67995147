#!/usr/bin/env bash
# Runs every target `cargo fuzz list` prints (targets added on other branches
# join automatically), one after another, each for at most SECONDS seconds
# (default 30) and RUNS executions (default 10,000,000), on a copy of its
# committed seed corpus (seeds/<target>, or none). Prints one summary line per
# target: executions, exec/s, coverage, and fails if any target crashed,
# timed out or ran out of memory. Needs cargo-fuzz and a nightly toolchain.
#   usage: parsers/fuzz/run_all.sh [SECONDS] [RUNS]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
runs=${2:-10000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for t in $(cargo +nightly fuzz list); do
  mkdir -p "$work/$t"
  [ -d "seeds/$t" ] && cp -r "seeds/$t/." "$work/$t/"
  log="$work/$t.log"
  nice -n 19 cargo +nightly fuzz run --sanitizer none "$t" "$work/$t" -- \
    -runs="$runs" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/$t-" >"$log" 2>&1
  rc=$?
  done_line=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -1)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  echo "fuzz $t: rc=$rc  ${execs:-no summary}  ${done_line}"
  if [ $rc -ne 0 ]; then
    fail=1
    grep -E 'ERROR|panicked|SUMMARY|artifact' "$log" | head -5
  fi
done
exit $fail
