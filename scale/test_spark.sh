#!/usr/bin/env bash
# The Spark driver in pyspark local mode against `hvsleuth analyze` on the
# samples: the --json summary (interface x role bytes, findings), findings.json
# and the CSV tables must be byte-identical. Run by .ci/run only when
# HVSLEUTH_SPARK=1 (pyspark and a JVM start take ~20-50 s per run on 2 cores).
# Needs Java 17 (installed with apt when absent) and pyspark (pinned below).
set -euo pipefail
cd "$(dirname "$0")/.."
PYSPARK_VERSION=3.5.3
if ! command -v java >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if ! python3 -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" >/dev/null 2>&1; then
  python3 -m pip install -q "pyspark==$PYSPARK_VERSION"
fi
[ -x target/debug/hvsleuth ] || cargo build -q
BIN="$PWD/target/debug/hvsleuth"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
INV=samples/inventory.toml
status=0
check() { # name, merge args..., -- inputs...
  local name=$1; shift
  local margs=() inputs=()
  while [ "$1" != "--" ]; do margs+=("$1"); shift; done; shift
  inputs=("$@")
  "$BIN" analyze --no-progress --json "${margs[@]}" --out "$WORK/$name-direct" "${inputs[@]}" \
    >"$WORK/$name-direct.json" 2>/dev/null || true
  python3 scale/spark_analyze.py --master 'local[2]' --hvsleuth "$BIN" --shards "$WORK/$name-shards" \
    "${inputs[@]}" -- --json "${margs[@]}" --out "$WORK/$name-spark" \
    >"$WORK/$name-spark.json" 2>"$WORK/$name-spark.err" || true
  local bad=0
  cmp -s "$WORK/$name-direct.json" "$WORK/$name-spark.json" || bad=1
  for f in findings.json summary.json interface_roles.csv groups.csv smb_sessions.csv; do
    if [ -e "$WORK/$name-direct/$f" ]; then
      cmp -s "$WORK/$name-direct/$f" "$WORK/$name-spark/$f" || bad=1
    fi
  done
  if [ $bad = 0 ]; then
    echo "spark $name: same summary, findings and tables as analyze"
  else
    echo "spark $name: DIFFERS from analyze"; tail -20 "$WORK/$name-spark.err"; status=1
  fi
}
check restore-flood+fixtures --inventory "$INV" -- samples/restore-flood samples/fixtures
check multichannel --inventory "$INV" -- samples/multichannel
check heartbeat-loss -- samples/heartbeat-loss
exit $status
