#!/usr/bin/env python3
"""Regenerates tests/expected/corpus.json from tshark (the peer we check against).

For every capture in ../shared/corpus it records what tshark/capinfos say:
packets, wire bytes (sum of frame.len), captured bytes (sum of frame.cap_len),
first/last timestamps, and the number of distinct TCP and UDP conversations,
a conversation being the unordered pair of (address, port) endpoints plus the
protocol (first IP and first TCP/UDP header of each frame; ICMP-quoted headers
excluded). Run from the repository root:  python3 tests/expected/regen_corpus.py
"""
import json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")


def tshark_fields(path, fields, display_filter=None):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def figures(path):
    rows = tshark_fields(path, ["frame.len", "frame.cap_len", "frame.time_epoch"])
    wire = sum(int(r[0]) for r in rows)
    cap = sum(int(r[1]) for r in rows)
    ts = [r[2] for r in rows]
    convs = set()
    for r in tshark_fields(
        path,
        ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"],
        "(tcp or udp) and not icmp and not icmpv6",
    ):
        src = r[0] or r[1]
        dst = r[2] or r[3]
        if r[4]:
            proto, sp, dp = "tcp", r[4], r[5]
        else:
            proto, sp, dp = "udp", r[6], r[7]
        if not src or not dst or not sp:
            continue
        a, b = sorted([(src, int(sp)), (dst, int(dp))])
        convs.add((proto, a, b))
    return {
        "packets": len(rows),
        "wire_bytes": wire,
        "captured_bytes": cap,
        "first_ts": ts[0] if ts else None,
        "last_ts": ts[-1] if ts else None,
        "flows": len(convs),
    }


def main():
    out = {}
    for dirpath, _, files in sorted(os.walk(CORPUS)):
        for f in sorted(files):
            if f.endswith(CAPTURE_EXT):
                p = os.path.join(dirpath, f)
                rel = os.path.relpath(p, CORPUS)
                out[rel] = figures(p)
                print(rel, out[rel], file=sys.stderr)
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {"generated_by": "tests/expected/regen_corpus.py with " + version, "captures": out}
    with open(os.path.join(ROOT, "tests", "expected", "corpus.json"), "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
