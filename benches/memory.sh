#!/usr/bin/env bash
# Flow-state memory benchmark (issue 13): peak RSS of hvsleuth on captures of
# one-SYN TCP conversations (every flow stays live until the 300 s idle
# timeout), one file and several read in parallel, with tshark's peak RSS on
# the same file for scale.
#
#   benches/memory.sh                 # dev-profile binary (target/debug)
#   PROFILE=release benches/memory.sh # release binary (builds it: ~15 min)
#
# Environment: FLOWS=1000000 (per file), COPIES="1 2 4", DATA_DIR=bench-data,
# SKIP_TSHARK=1, CARGO_TARGET_DIR honoured. Prints one table row per run:
# command, files, rayon threads, peak RSS, wall time, conversations evicted.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
FLOWS=${FLOWS:-1000000}
COPIES=${COPIES:-"1 2 4"}
DATA=${DATA_DIR:-bench-data}
T=${CARGO_TARGET_DIR:-target}
mkdir -p "$DATA"
if [ "$PROFILE" = release ]; then flag=--release; else flag=; fi
cargo build $flag -q -p hvsleuth -p hvsleuth-bench --bins
BIN="$T/$PROFILE/hvsleuth"
GEN="$T/$PROFILE/hvsleuth-bench"
f="$DATA/syn-$FLOWS.pcap"
[ -s "$f" ] || "$GEN" syn-flood --out "$f" --flows "$FLOWS" >/dev/null
for k in 2 3 4; do [ -s "$DATA/syn-$FLOWS-$k.pcap" ] || cp "$f" "$DATA/syn-$FLOWS-$k.pcap"; done
echo "input: $f ($(stat -c %s "$f") bytes, $FLOWS one-SYN flows); binary: $BIN ($PROFILE)"
printf '| command | files | threads | peak RSS | wall | conversations evicted |\n|---|--:|--:|--:|--:|--:|\n'
run() { # cmd files threads
  local cmd=$1 n=$2 th=$3 files=("$f")
  for k in $(seq 2 "$n"); do files+=("$DATA/syn-$FLOWS-$k.pcap"); done
  local out err
  out=$(mktemp) err=$(mktemp)
  RAYON_NUM_THREADS=$th /usr/bin/time -f '%M %e' "$BIN" "$cmd" --json --no-progress "${files[@]}" >"$out" 2>"$err" || true
  read -r rss wall < <(tail -1 "$err")
  local ev
  ev=$(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
if "captures" in d: print(sum(c.get("flows_evicted",0) for c in d["captures"]))
else: print(sum(e["evicted"] for e in d.get("summary",d).get("flow_evictions",[])))' "$out" 2>/dev/null || echo "?")
  printf '| %s | %d | %d | %d MB | %s s | %s |\n' "$cmd" "$n" "$th" $((rss / 1024)) "$wall" "$ev"
  rm -f "$out" "$err"
}
for n in $COPIES; do
  run inspect "$n" "$n"
  run analyze "$n" "$n"
done
if [ -z "${SKIP_TSHARK:-}" ] && command -v tshark >/dev/null; then
  tt=$(mktemp)
  /usr/bin/time -o "$tt" -f '%M %e' tshark -r "$f" -q -z conv,tcp >/dev/null 2>&1 || true
  read -r rss wall < "$tt"
  rm -f "$tt"
  printf '| tshark -q -z conv,tcp | 1 | 1 | %d MB | %s s | - |\n' $((rss / 1024)) "$wall"
fi
