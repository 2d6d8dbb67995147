#!/usr/bin/env python3
"""Sanity checks of the committed lab captures (no root, no lab run needed; needs tshark).

Usage: samples/lab/check.py [SAMPLES_DIR]

- the samples/ tree is at most 20 MB;
- every <scenario>/<host>.pcapng reads without error (tshark -z io,stat,0);
- every frame's pcapng interface name is a capture.interface that inventory.toml gives
  for that host's capture file;
- per file and interface, the frame count and wire bytes equal EXPECTED.json's.
Prints one line per file and 'N passed, N failed' at the end; exit 1 on any failure.
"""

import collections
import json
import os
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.dirname(HERE)
LIMIT = 20 * 1000 * 1000


def main():
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(SAMPLES) for f in fs)
    check(total <= LIMIT, f"samples/ is {total:,} bytes (limit {LIMIT:,})")
    with open(os.path.join(SAMPLES, "inventory.toml"), "rb") as f:
        inv = tomllib.load(f)
    allowed = collections.defaultdict(set)
    for kind in ("nodes", "hosts"):
        for h in inv.get(kind, []):
            for i in h["interfaces"]:
                if "capture" in i:
                    allowed[i["capture"]["file"]].add(i["capture"]["interface"])
    with open(os.path.join(SAMPLES, "EXPECTED.json")) as f:
        expected = json.load(f)["scenarios"]
    for sc in sorted(expected):
        for fname, exp in sorted(expected[sc]["files"].items()):
            path = os.path.join(SAMPLES, sc, fname)
            if not os.path.exists(path):
                check(False, f"{sc}/{fname} missing")
                continue
            r = subprocess.run(["tshark", "-n", "-r", path, "-q", "-z", "io,stat,0"],
                               capture_output=True, text=True)
            errs = [line for line in r.stderr.splitlines() if "Running as user" not in line]
            check(r.returncode == 0 and not errs, f"{sc}/{fname} reads cleanly")
            out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.interface_name",
                                  "-e", "frame.len"], capture_output=True, text=True).stdout
            got = collections.defaultdict(lambda: [0, 0])
            for line in out.splitlines():
                name, flen = line.split("\t")
                got[name][0] += 1
                got[name][1] += int(flen)
            check(set(got) <= allowed[fname], f"{sc}/{fname} interfaces {sorted(got)} are in inventory.toml")
            want = {k: [v["packets"], v["bytes"]] for k, v in exp["interfaces"].items()}
            check(dict(got) == want, f"{sc}/{fname} packets/bytes per interface match EXPECTED.json")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
