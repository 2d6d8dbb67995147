#!/usr/bin/env bash
# Encrypted SMB 3 through the `hvsleuth smb` binary (issue 15 item 5), against
# tshark on the same file with the same keys.
#
# 1. `cargo run --release -p hvsleuth-parsers --example smb_decrypt_speed -- MIB`
#    writes $TMPDIR/hvsleuth-smb-encrypted-<MIB>mib-gcm128.pcap (one SMB 3.1.1
#    connection: MIB encrypted WRITEs of 1 MiB and their responses,
#    AES-128-GCM, 1448-byte segments) and prints the parser-stage figure;
# 2. times `hvsleuth smb --json --smb-key SID:S2C:C2S FILE` (release binary)
#    RUNS times under /usr/bin/time (wall, user+sys CPU, peak RSS) and checks
#    that every WRITE was decrypted and decoded;
# 3. times tshark decrypting the same file (`-o uat:smb2_seskey_list:...`).
# The keys are the example's fixed synthetic ones (bytes i*11+5 and i*37+1).
#
#   MIB=128 RUNS=3 BIN=target/release/hvsleuth bash benches/decrypt.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-128}
RUNS=${RUNS:-3}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/hvsleuth}
[ -x "$BIN" ] || { echo "no release binary at $BIN (cargo build --release, or set BIN)"; exit 2; }
cargo run -q --release -p hvsleuth-parsers --example smb_decrypt_speed -- "$MIB"
FILE=${TMPDIR:-/tmp}/hvsleuth-smb-encrypted-${MIB}mib-gcm128.pcap
hex() { python3 -c "import sys; print(''.join('%02x' % ((i*$1+$2) & 255) for i in range(16)))"; }
S2C=$(hex 11 5); C2S=$(hex 37 1)
SIZE=$(stat -c %s "$FILE")
best_wall=999999; best_cpu=999999; rss=0
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f '%e %U %S %M' -o /tmp/hvs-decrypt-time \
    "$BIN" smb --json --no-progress --smb-key "3900000000400000:$S2C:$C2S" "$FILE" >/tmp/hvs-decrypt.json
  read -r wall user sys maxrss </tmp/hvs-decrypt-time
  writes=$(python3 -c "import json; d=json.load(open('/tmp/hvs-decrypt.json')); print(d['commands'].get('WRITE', 0))")
  # WRITE requests and responses, or requests only: either way all of them.
  [ "$writes" -eq "$MIB" ] || [ "$writes" -eq $((2 * MIB)) ] ||
    { echo "expected $MIB WRITEs (and as many responses), got $writes"; exit 1; }
  cpu=$(python3 -c "print($user + $sys)")
  best_wall=$(python3 -c "print(min($best_wall, $wall))")
  best_cpu=$(python3 -c "print(min($best_cpu, $cpu))")
  rss=$maxrss
done
printf 'hvsleuth smb: %s (%d MB): best of %d wall %.2f s = %.2f GB/s, CPU %.2f s = %.2f GB/s per CPU second, peak RSS %d MB\n' \
  "$FILE" $((SIZE / 1000000)) "$RUNS" "$best_wall" "$(python3 -c "print($SIZE/$best_wall/1e9)")" \
  "$best_cpu" "$(python3 -c "print($SIZE/$best_cpu/1e9)")" $((rss / 1024))
if command -v tshark >/dev/null; then
  /usr/bin/time -f '%e' -o /tmp/hvs-decrypt-tshark tshark -n -r "$FILE" \
    -o "uat:smb2_seskey_list:3900000000400000,\"\",$S2C,$C2S" -T fields -e smb2.write_length \
    >/tmp/hvs-decrypt-tshark.txt 2>/dev/null
  tw=$(cat /tmp/hvs-decrypt-tshark)
  tn=$(grep -c . /tmp/hvs-decrypt-tshark.txt || true)
  printf 'tshark: wall %.2f s = %.3f GB/s (%d lines with a write length); ratio tshark/hvsleuth wall: %.1fx\n' \
    "$tw" "$(python3 -c "print($SIZE/$tw/1e9)")" "$tn" "$(python3 -c "print($tw/$best_wall)")"
fi
