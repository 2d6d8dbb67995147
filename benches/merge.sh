#!/usr/bin/env bash
# Scan/merge benchmark (issue 16 item 4): scan throughput against `analyze`
# on the same 1 GB capture, then the merge (`analyze --from`) over 10, 25 and
# 50 shards of 1 GB captures: shard sizes, merge wall time, peak RSS.
#
# Uses the DEV-PROFILE binaries in target/debug (a release build of hvsleuth
# takes 15+ min on the shared dev machine): every figure it prints is a
# dev-profile figure. Set PROFILE=release to use target/release instead
# (build it first: cargo build --release --bin hvsleuth --bin hvsleuth-bench).
#
# The shards are 50 genuinely different captures: `hvsleuth-bench gen-bench`
# with --seed 1..50 at --size 1G, each named big-frames-sN.pcapng (so each is
# its own node for the merge), scanned one at a time into one shard directory
# and deleted once scanned (50 GB would not fit on disk at once). The
# generator draws the same 3-interface layout and addresses for every seed
# (the seed changes IO sizes, timing and payload bytes), so the merge sees 50
# nodes whose captures repeat one another's addresses.
#
# Environment (all optional):
#   DATA_DIR=bench-data   where captures and shards go (gitignored)
#   SIZE=1G               size of each capture
#   SHARDS=50             number of shards made
#   COUNTS="10 25 50"     merge over the first N shards, for each N
#   RUNS=3                runs of scan and of analyze (fastest shown)
#   PROFILE=debug         target/<PROFILE>/ binaries
#   FORCE=1               regenerate and rescan everything
#   SCAN_ONLY=1           stop after the scan-vs-analyze table
#   MERGE_ONLY=1          skip the scan-vs-analyze table
#   REPORT=0              merge without --out (summary on stdout only)
#   CARGO_TARGET_DIR      honoured to find the binaries
#
# Needs: GNU time (/usr/bin/time), awk, du.
set -euo pipefail

cd "$(dirname "$0")/.."
DATA_DIR=${DATA_DIR:-bench-data}
SIZE=${SIZE:-1G}
SHARDS=${SHARDS:-50}
COUNTS=${COUNTS:-10 25 50}
RUNS=${RUNS:-3}
PROFILE=${PROFILE:-debug}
TARGET=${CARGO_TARGET_DIR:-target}
BIN="$TARGET/$PROFILE/hvsleuth"
GEN="$TARGET/$PROFILE/hvsleuth-bench"
TIME=/usr/bin/time
for t in "$TIME" "$BIN" "$GEN"; do
    [[ -x "$t" ]] || { echo "missing: $t (cargo build --bin hvsleuth; cargo build -p hvsleuth-bench)" >&2; exit 1; }
done
mkdir -p "$DATA_DIR"

echo "profile: $PROFILE ($BIN), $(nproc) cores"
echo "load at start: $(uptime)"

# timed OUTVAR CMD...: runs CMD under GNU time; OUTVAR = "wall_s rss_kb user_s sys_s".
timed() {
    local __out=$1; shift
    local log
    log=$(mktemp)
    if ! "$TIME" -o "$log" -f '%e %M %U %S' "$@" >/dev/null 2>"$log.err"; then
        echo "command failed: $*" >&2
        tail -20 "$log.err" >&2
        exit 1
    fi
    printf -v "$__out" '%s' "$(tail -1 "$log")"
    rm -f "$log" "$log.err"
}

# --- 1. one capture; scan vs analyze on it -------------------------------
if [[ -z "${MERGE_ONLY:-}" ]]; then
ONE="$DATA_DIR/big-frames.pcapng"
if [[ -n "${FORCE:-}" || ! -s "$ONE" ]]; then
    "$GEN" gen-bench --out "$ONE" --size "$SIZE" >/dev/null
fi
size=$(stat -c %s "$ONE")
cat "$ONE" >/dev/null # page cache warm
fmt='%-24s %8s %8s %8s %8s %9s %10s %8s\n'
echo
echo "== scan vs analyze, $(basename "$ONE") ($((size / 1000000)) MB), $RUNS runs each, alternating; the run with the least CPU time shown" 
printf "$fmt" command "wall s" "user s" "sys s" "RSS MB" "MB/s wall" "MB/s CPU-s" "runs"
# less_cpu A B: whether run A ("wall rss user sys") used less CPU (user + sys) than B.
less_cpu() {
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[3] + x[4] < y[3] + y[4]) }'
}
best_scan="" best_an=""
for _ in $(seq "$RUNS"); do
    rm -rf "$DATA_DIR/shards-one" # never a reused shard
    timed s "$BIN" scan --no-progress --out "$DATA_DIR/shards-one" "$ONE"
    timed a "$BIN" analyze --json --no-progress "$ONE"
    [[ -z "$best_scan" ]] || less_cpu "$s" "$best_scan" && best_scan=$s
    [[ -z "$best_an" ]] || less_cpu "$a" "$best_an" && best_an=$a
done
row() {
    read -r w r u sy <<<"$2"
    awk -v n="$1" -v w="$w" -v r="$r" -v u="$u" -v sy="$sy" -v size="$size" -v fmt="$fmt" -v runs="$RUNS" 'BEGIN {
        c = u + sy; if (c <= 0) c = 0.001; if (w <= 0) w = 0.001;
        printf fmt, n, w, u, sy, sprintf("%.0f", r / 1024), sprintf("%.0f", size / w / 1e6),
            sprintf("%.0f", size / c / 1e6), runs }'
}
row "scan --out" "$best_scan"
row "analyze --json" "$best_an"
awk -v s="$best_scan" -v a="$best_an" 'BEGIN {
    split(s, x, " "); split(a, y, " ");
    printf "per core (CPU s = user + sys): scan throughput = %.0f%% of analyze\n", 100 * (y[3] + y[4]) / (x[3] + x[4]);
    printf "wall (shared machine, load-dependent): scan throughput = %.0f%% of analyze\n", 100 * y[1] / x[1] }'
fi

if [[ -n "${SCAN_ONLY:-}" ]]; then
    echo "load at end: $(uptime)"
    exit 0
fi

# --- 2. SHARDS shards of SIZE captures, seeds 1..SHARDS ------------------
SH="$DATA_DIR/shards-$SHARDS"
[[ -n "${FORCE:-}" ]] && rm -rf "$SH"
mkdir -p "$SH"
echo
echo "== making $SHARDS shards in $SH (gen-bench --seed N --size $SIZE, scan, delete the capture)"
for n in $(seq "$SHARDS"); do
    f="$DATA_DIR/big-frames-s$n.pcapng"
    if ls -d "$SH"/big-frames-s$n.pcapng-* >/dev/null 2>&1; then continue; fi
    "$GEN" gen-bench --out "$f" --size "$SIZE" --seed "$n" >/dev/null
    "$BIN" scan --no-progress --out "$SH" "$f" >/dev/null
    rm -f "$f"
done
per=$(du -sk "$SH"/big-frames-s*.pcapng-* | awk '{ s += $1; n++; if (!mn || $1 < mn) mn = $1; if ($1 > mx) mx = $1 }
    END { printf "%d shards, %.0f KB total, %.0f KB mean (min %d, max %d) on disk (du)", n, s, s / n, mn, mx }')
echo "$per"
echo "largest files of one shard:"
ls -S -l "$(ls -d "$SH"/big-frames-s1.pcapng-*)" | awk 'NR > 1 && NR <= 5 { printf "  %8d %s\n", $5, $9 }'

# --- 3. merge over the first N shards ------------------------------------
echo
out_args() { [[ "${REPORT:-1}" == 0 ]] || echo "--out $DATA_DIR/merge-out-$1"; }
echo "== merge: hvsleuth analyze --from DIR $(out_args N) --json (first N shards of $SH; RUNS fastest)"
mfmt='%8s %12s %10s %10s %10s\n'
printf "$mfmt" shards "shards MB" "wall s" "user s" "RSS MB"
for c in $COUNTS; do
    sub="$DATA_DIR/merge-$c"
    rm -rf "$sub"
    mkdir -p "$sub"
    for n in $(seq "$c"); do
        d=$(ls -d "$SH"/big-frames-s$n.pcapng-*)
        ln -s "$(realpath "$d")" "$sub/$(basename "$d")"
    done
    mb=$(du -skL "$sub" | awk '{ printf "%.1f", $1 / 1024 }')
    best=""
    for _ in $(seq "$RUNS"); do
        rm -rf "$DATA_DIR/merge-out-$c"
        # shellcheck disable=SC2046 # out_args is two words or none
        timed m "$BIN" analyze --from "$sub" $(out_args "$c") --json --no-progress
        [[ -z "$best" ]] || awk -v a="${m%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }' && best=$m
    done
    read -r w r u _ <<<"$best"
    printf "$mfmt" "$c" "$mb" "$w" "$u" "$(awk -v r="$r" 'BEGIN { printf "%.0f", r / 1024 }')"
done
echo
echo "load at end: $(uptime)"
