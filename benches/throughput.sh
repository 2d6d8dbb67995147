#!/usr/bin/env bash
# Throughput benchmark: hvsleuth inspect vs tshark on large synthetic captures.
#
# Builds the release binary once, generates the captures into bench-data/
# (gitignored; kept between runs, delete them or set FORCE=1 to regenerate),
# then times `hvsleuth inspect --json FILE` and `tshark -r FILE -q -z conv,tcp`
# under /usr/bin/time -v (wall time, peak RSS) and prints a table.
#
# Generators used (hidden dev subcommands of hvsleuth):
#   hvsleuth-bench gen-bench --out FILE --size 1G [--small-packets] [--seed N] [--pcap]
#       --size          stop once the file holds this much: 1000000, 512M, 1G, 4GiB, 1.5G
#       --small-packets 1448-byte segments, 512 B..8 KiB IOs, an ACK per segment
#                       (about 180 bytes a frame: a packets-per-second benchmark);
#       --mtu-1500      large IOs in 1448-byte segments, a delayed ACK every
#                       second segment (about 1 KB a frame: no offload);
#                       default: 64 KiB..1 MiB SMB2 IOs in 65160-byte TSO segments
#       --seed N        deterministic: same seed and size, same bytes (default 1)
#       --pcap          one-interface pcap instead of a 3-interface pcapng
#   hvsleuth-bench scale --in CAPTURE --out FILE --size 4G [--overlap]
#       re-addressed copies of a real capture (copy k: third IPv4 octet + k,
#       IPv6 subnet word + k, time + k x (duration + 1 s)); --overlap
#       interleaves the copies in time instead.
#
# Environment (all optional):
#   BIG_SIZE=1G          size of the big-frame capture
#   SMALL_SIZE=1800M     size of the small-packet capture (about 10 M frames)
#   MTU_SIZE=1G          size of the standard-MTU capture (large IOs, 1448-byte segments)
#   RUNS=3               hvsleuth runs per table row (the fastest is shown)
#   SCALE_INPUT=FILE     also scale this capture to SCALE_SIZE and benchmark it
#   SCALE_SIZE=4G
#   DATA_DIR=bench-data  where the captures go
#   FORCE=1              regenerate the captures even if present
#   SKIP_TSHARK=1        do not run tshark (it is much slower)
#   SKIP_SINGLE=1        skip the one-file table (only the multi-core section)
#   MC_COMMAND=analyze   command of the multi-core section
#   MC_INPUTS=big        captures it runs on, two copies each: big, mtu, small, "big mtu small"
#   MC_RUNS=5            runs per configuration (min and median are reported)
#   MC_SIZE=4G           generate that section's captures at this size instead
#   CARGO_TARGET_DIR     honoured to find the binary
#
# Needs: cargo, GNU time (/usr/bin/time), capinfos, tshark, taskset, awk.
set -euo pipefail

cd "$(dirname "$0")/.."
BIG_SIZE=${BIG_SIZE:-1G}
SMALL_SIZE=${SMALL_SIZE:-1800M}
MTU_SIZE=${MTU_SIZE:-1G}
RUNS=${RUNS:-3}
SCALE_SIZE=${SCALE_SIZE:-4G}
DATA_DIR=${DATA_DIR:-bench-data}
TARGET=${CARGO_TARGET_DIR:-target}
BIN="$TARGET/release/hvsleuth"
# The generators live in their own crate (benches/), not in the product binary.
GEN="$TARGET/release/hvsleuth-bench"
TIME=/usr/bin/time

for tool in "$TIME" capinfos taskset awk; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
if [[ -z "${SKIP_TSHARK:-}" ]] && ! command -v tshark >/dev/null; then
    echo "tshark not found: skipping the tshark columns" >&2
    SKIP_TSHARK=1
fi

echo "== cargo build --release" >&2
cargo build --release --bin hvsleuth --bin hvsleuth-bench >&2
mkdir -p "$DATA_DIR"

# gen FILE ARGS...: generate FILE unless present.
gen() {
    local f=$1; shift
    if [[ -n "${FORCE:-}" || ! -s "$f" ]]; then
        echo "== generating $f ($*)" >&2
        "$TIME" -f "   generated in %e s, peak RSS %M KB" "$GEN" "$@" >&2
    fi
}

BIG="$DATA_DIR/big-frames.pcapng"
SMALL="$DATA_DIR/small-packets.pcapng"
gen "$BIG" gen-bench --out "$BIG" --size "$BIG_SIZE"
MTU="$DATA_DIR/mtu-frames.pcapng"
gen "$SMALL" gen-bench --out "$SMALL" --size "$SMALL_SIZE" --small-packets
gen "$MTU" gen-bench --out "$MTU" --size "$MTU_SIZE" --mtu-1500
FILES=("$BIG" "$MTU" "$SMALL")
if [[ -n "${SCALE_INPUT:-}" ]]; then
    SCALED="$DATA_DIR/scaled-$(basename "${SCALE_INPUT%.*}").pcapng"
    gen "$SCALED" scale --in "$SCALE_INPUT" --out "$SCALED" --size "$SCALE_SIZE"
    FILES+=("$SCALED")
fi

# measure OUTVAR CMD...: runs CMD under GNU time; sets OUTVAR to "wall_s rss_mb cpu_s".
measure() {
    local __out=$1; shift
    local log
    log=$(mktemp)
    if ! "$TIME" -v "$@" >/dev/null 2>"$log"; then
        echo "command failed: $*" >&2
        tail -20 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    local wall rss cpu
    cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { t += $2 } END { printf "%.2f", t }' "$log")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
            n = split($2, p, ":"); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + p[i];
            print s }' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$log")
    rm -f "$log"
    printf -v "$__out" '%s %s %s' "$wall" "$rss" "$cpu"
}

packets_of() {
    capinfos -M -c "$1" | awk -F': *' '/Number of packets/ { print $2 }'
}

row_fmt='%-22s %-8s %8s %10s %8s %7s %7s %8s %9s %7s\n'
printf "$row_fmt" file command "size MB" packets "hvs s" "GB/s" Mpps "RSS MB" "tshark s" ratio
# COMMANDS: which hvsleuth commands to time (inspect: decode + TCP reassembly;
# smb: + SMB/DCE-RPC analysers; analyze: the whole pipeline with attribution,
# findings and the summary).
COMMANDS=${COMMANDS:-inspect smb analyze}
[[ -n "${SKIP_SINGLE:-}" ]] && FILES=()
for f in "${FILES[@]}"; do
    size=$(stat -c %s "$f")
    pkts=$(packets_of "$f")
    if [[ -z "${SKIP_TSHARK:-}" ]]; then
        measure ts tshark -r "$f" -q -z conv,tcp
        read -r ts_s _ _ <<<"$ts"
    else
        ts_s=-
    fi
    for cmd in $COMMANDS; do
        hv_s=""
        for _ in $(seq "$RUNS"); do
            measure hv "$BIN" "$cmd" --json --no-progress "$f"
            read -r s_ s_rss _ <<<"$hv"
            if [[ -z "$hv_s" ]] || awk -v a="$s_" -v b="$hv_s" 'BEGIN { exit !(a < b) }'; then
                hv_s=$s_
                hv_rss=$s_rss
            fi
        done
        awk -v f="$(basename "$f")" -v c="$cmd" -v size="$size" -v p="$pkts" -v h="$hv_s" -v r="$hv_rss" -v t="$ts_s" \
            -v fmt="$row_fmt" 'BEGIN {
                hs = (h > 0) ? h : 0.001;
                ratio = (t == "-") ? "-" : sprintf("%.1fx", t / hs);
                printf fmt, f, c, sprintf("%.0f", size / 1e6), p, sprintf("%.2f", h),
                    sprintf("%.2f", size / hs / 1e9), sprintf("%.2f", p / hs / 1e6), r, t, ratio }'
    done
done

# Multi-core: two copies of a capture in one process, pinned to one core vs on
# every core, MC_RUNS times each, alternating so that a change in the (shared)
# machine's load hits both alike. Reports min and median wall time, the CPU
# time (user + sys) each run used, and the speed-up of min over min and median
# over median. MC_INPUTS picks the captures: big, mtu, small or several;
# MC_SIZE=4G generates separate captures of that size for it (sub-second runs
# are too short to judge scaling).
echo
MC=${MC_COMMAND:-analyze}
MC_RUNS=${MC_RUNS:-5}
for which in ${MC_INPUTS:-big}; do
    case $which in
    big) SRC=$BIG; GEN_ARGS=() ;;
    mtu) SRC=$MTU; GEN_ARGS=(--mtu-1500) ;;
    small) SRC=$SMALL; GEN_ARGS=(--small-packets) ;;
    *) echo "MC_INPUTS: big, mtu or small, not $which" >&2; exit 1 ;;
    esac
    if [[ -n "${MC_SIZE:-}" ]]; then
        SRC="$DATA_DIR/mc-$which-$MC_SIZE.pcapng"
        gen "$SRC" gen-bench --out "$SRC" --size "$MC_SIZE" "${GEN_ARGS[@]}"
    fi
    COPY="${SRC%.pcapng}-copy.pcapng"
    [[ -s "$COPY" && -z "${FORCE:-}" ]] || cp "$SRC" "$COPY"
    cat "$SRC" "$COPY" >/dev/null # page cache warm
    size2=$(( $(stat -c %s "$SRC") + $(stat -c %s "$COPY") ))
    echo "== two files at once (hvsleuth $MC A B), $(basename "$SRC"), $MC_RUNS runs each" >&2
    runs=""
    for _ in $(seq "$MC_RUNS"); do
        measure pin taskset -c 0 "$BIN" "$MC" --json --no-progress "$SRC" "$COPY"
        measure all "$BIN" "$MC" --json --no-progress "$SRC" "$COPY"
        runs+="pin $pin"$'\n'"all $all"$'\n'
    done
    awk -v s2="$size2" -v cores="$(nproc)" -v name="$(basename "$SRC")" '
        { n[$1]++; w[$1, n[$1]] = $2; r[$1] = $3; c[$1, n[$1]] = $4 }
        function sorted(k, arr,   i, j, t, m) {
            m = n[k]; for (i = 1; i <= m; i++) v[i] = arr[k, i];
            for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            return m }
        function med(m) { return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
        END {
            fmt = "%-36s %8s %8s %8s %10s %10s %7s\n";
            printf fmt, name " x2", "min s", "median s", "GB/s", "CPU s min", "CPU s med", "RSS MB";
            split("pin all", ks, " ");
            for (q = 1; q <= 2; q++) {
                k = ks[q]; m = sorted(k, w); mn[k] = v[1]; md[k] = med(m);
                sorted(k, c); cmn = v[1]; cmd = med(m);
                label = (k == "pin") ? "2 files, taskset -c 0" : "2 files, " cores " cores";
                printf fmt, label, sprintf("%.2f", mn[k]), sprintf("%.2f", md[k]),
                    sprintf("%.2f", s2 / (mn[k] > 0 ? mn[k] : 0.001) / 1e9),
                    sprintf("%.2f", cmn), sprintf("%.2f", cmd), r[k] }
            printf "multi-core speed-up (2 files, %d cores): %.2fx min/min, %.2fx median/median\n",
                cores, mn["pin"] / (mn["all"] > 0 ? mn["all"] : 0.001),
                md["pin"] / (md["all"] > 0 ? md["all"] : 0.001) }' <<<"$runs"
done
