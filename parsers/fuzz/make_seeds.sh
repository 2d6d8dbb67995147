#!/usr/bin/env bash
# Builds the small committed seed corpora (parsers/fuzz/seeds/<target>/) from
# the public corpus (../shared/corpus beside the repository) and the samples.
# Each seed is cut to at most 16 KiB (64 KiB + header for evtx) so runs stay fast.
set -euo pipefail
cd "$(dirname "$0")"
C=../../../shared/corpus
S=../../samples
out=seeds
rm -rf "$out"; mkdir -p "$out"/{capture,etl,evtx_xml,perfmon,clusterlog,smb_stream,dcerpc_stream,tcp_reassembly}
i=0
for f in $(find "$C" -name '*.pcap' -o -name '*.pcapng' | sort | head -12); do
  head -c 8192 "$f" > "$out/capture/$(printf %02d $i)-$(basename "$f")"; i=$((i+1))
done
for f in $(find "$C" -name "*.etl" | sort | head -2); do head -c 32768 "$f" > "$out/etl/$(basename "$f")"; done
for f in $(find "$C" -name "*.evtx" | sort | head -1); do head -c 73728 "$f" > "$out/evtx_xml/$(basename "$f")"; done
head -c 16384 "$S/fixtures/FailoverClustering.xml" > "$out/evtx_xml/FailoverClustering.xml"
head -c 16384 "$S/fixtures/perfmon-restore-flood.csv" > "$out/perfmon/perfmon.csv"
head -c 16384 "$S/fixtures/cluster.log" > "$out/clusterlog/cluster.log"
# SMB and DCE/RPC streams: the first TCP payloads of port 445 conversations (tshark).
if command -v tshark >/dev/null; then
  for f in "$C/zeek/smb3.pcap" "$C/zeek/smb2readwrite.pcap" "$C/zeek/smb311.pcap"; do
    tshark -r "$f" -Y 'tcp.port==445 && tcp.len>0' -T fields -e tcp.payload 2>/dev/null \
      | head -40 | tr -d '\n' | xxd -r -p | head -c 16384 > "$out/smb_stream/$(basename "$f").bin"
  done
  tshark -r "$C/zeek/smb2.delete-on-close-perms-delete-existing.pcap" -Y 'dcerpc' -T fields -e tcp.payload 2>/dev/null \
    | head -20 | tr -d '\n' | xxd -r -p | head -c 16384 > "$out/dcerpc_stream/dcerpc.bin" || true
  # kerberos: mode byte, then a keytab (0), a security blob (1), or SMB stream bytes (3).
  mkdir -p "$out/kerberos"
  { printf '\000'; cat "$C/zeek/smb2_krb.keytab"; } > "$out/kerberos/keytab.bin"
  for fr in 12 14; do
    { printf '\001'; tshark -r "$C/zeek/smb2_krb.pcap" -Y "frame.number==$fr" -T fields -e smb2.security_blob 2>/dev/null \
      | tr -d ':\n' | xxd -r -p; } > "$out/kerberos/blob$fr.bin"
  done
  printf '\002\001' > "$out/kerberos/fixture.bin"
  { printf '\003'; tshark -r "$C/zeek/smb2_krb.pcap" -Y 'tcp.dstport==445 && tcp.len>0' -T fields -e tcp.payload 2>/dev/null \
    | head -8 | tr -d '\n' | xxd -r -p; } > "$out/kerberos/stream.bin"
fi
# tcp_reassembly takes 8-byte segment records: a few deterministic patterns.
python3 - "$out/tcp_reassembly" <<'PY'
import sys, struct, random
d = sys.argv[1]
for n in range(4):
    r = random.Random(n); b = bytes([n * 17])
    for k in range(64):
        flags = [0x02, 0x10, 0x18, 0x11, 0x04][r.randrange(5)] if k else 0x02
        b += bytes([flags | (0x80 if r.random() < .3 else 0)]) + struct.pack('<i', r.randrange(-3000, 3000)) + bytes([r.randrange(40), r.randrange(256), r.randrange(256)])
    open(f"{d}/pattern{n}.bin", "wb").write(b)
PY
cp "$out"/smb_stream/* "$out/dcerpc_stream/" 2>/dev/null || true
find "$out" -type f -empty -delete
du -sh "$out"
