#!/usr/bin/env bash
# Renders the synthetic sample report and diff, screenshots them in headless
# Chromium, and checks the page loaded with a clean console (no CSP refusals,
# no script errors, nothing fetched).
#
#   reports/tests/screenshot.sh [OUT_DIR]
#
# With REPORT_DIR set, uses an already written sample (OUT_DIR/report,
# OUT_DIR/diff) instead of running the example. Exits 0 with a SKIP note
# when chromium is not installed.
set -euo pipefail

OUT=${1:-$(mktemp -d)}
HERE=$(cd "$(dirname "$0")/.." && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "SKIP: chromium not installed (apt-get install -y chromium)"
    exit 0
fi
if [ -z "${REPORT_DIR:-}" ]; then
    (cd "$HERE" && cargo run -q -p hvsleuth-reports --example sample_report -- "$OUT")
else
    OUT=$REPORT_DIR
fi

PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --user-data-dir="$PROFILE")

fail=0
for page in report/report.html diff/diff.html; do
    name=$(basename "$page" .html)
    url="file://$OUT/$page"
    "$CHROME" "${FLAGS[@]}" --window-size=1400,3000 --screenshot="$OUT/$name-screenshot.png" "$url" \
        >"$OUT/$name-shot.log" 2>&1 || { echo "FAIL: screenshot of $page"; fail=1; }
    "$CHROME" "${FLAGS[@]}" --enable-logging=stderr --v=0 --dump-dom "$url" \
        >"$OUT/$name-dom.html" 2>"$OUT/$name-console.log" || { echo "FAIL: dump-dom of $page"; fail=1; }
    if grep -E "Uncaught|Refused to|Content Security Policy|ERR_FILE_NOT_FOUND|Failed to load|CONSOLE" "$OUT/$name-console.log"; then
        echo "FAIL: console not clean for $page (see $OUT/$name-console.log)"
        fail=1
    fi
    svgs=$(grep -o "<svg" "$OUT/$name-dom.html" | wc -l)
    if ! grep -q "</html>" "$OUT/$name-dom.html" || [ "$svgs" -eq 0 ]; then
        echo "FAIL: $page did not load (svg count $svgs)"
        fail=1
    fi
    [ -s "$OUT/$name-screenshot.png" ] || { echo "FAIL: no screenshot for $page"; fail=1; }
    echo "$page: $svgs inline SVGs, screenshot $OUT/$name-screenshot.png"
done
# Layout at 1400 px: nothing wider than the page, no SVG text outside its chart.
for page in report/report.html diff/diff.html; do
    name=$(basename "$page" .html)
    "$CHROME" "${FLAGS[@]}" --allow-file-access-from-files --window-size=1400,3000 \
        --virtual-time-budget=10000 --dump-dom \
        "file://$HERE/tests/measure.html?page=file://$OUT/$page" >"$OUT/$name-measure.html" 2>/dev/null \
        || { echo "FAIL: layout measure of $page"; fail=1; }
    sed -n '/<pre id="result">/,/<\/pre>/p' "$OUT/$name-measure.html" | sed 's/<[^>]*>//g' >"$OUT/$name-layout.txt"
    if ! grep -q "^DONE" "$OUT/$name-layout.txt"; then
        echo "FAIL: layout measure of $page did not finish"; cat "$OUT/$name-layout.txt"; fail=1
    fi
    if grep -E "^(WIDE|TEXT|ERROR)" "$OUT/$name-layout.txt"; then
        echo "FAIL: layout of $page (see $OUT/$name-layout.txt)"; fail=1
    fi
    echo "$page layout: $(head -1 "$OUT/$name-layout.txt")"
done
if [ -z "${REPORT_DIR:-}" ] || [ -n "${SAMPLE:-}" ]; then
    grep -q "CSV redirected IO saturates the management network" "$OUT/report-dom.html" \
        || { echo "FAIL: finding missing from rendered DOM"; fail=1; }
fi
exit $fail
