#!/usr/bin/env python3
"""Regenerates tests/expected/pktmon.json: the figures hvsleuth must give on the
corpus pktmon files (../shared/corpus/pktmon), from independent peers.

* PktMon.cap (pcapng from `pktmon etl2pcap`): tshark's frames, and the packets
  left when copies (same frame bytes, same interface, <= 500 us after an
  identical frame) are removed, computed here from tshark's frame MD5s.
* PktMon.etl with a PktMon.txt beside it: Microsoft's `pktmon etl2txt` decode
  (UTF-16LE): packet events, distinct (PktGroupId, PktNumber), and the sums of
  OriginalSize / LoggedSize over each packet's first appearance. A packet first
  logged as an 802.11 frame (Type WiFi, at a Wi-Fi miniport) is counted as the
  Ethernet frame it carries, as hvsleuth hands it on: the OriginalSize of the
  packet's first Type Ethernet appearance (above the native Wi-Fi filter), and
  its LoggedSize less the bytes the frame shrank by (OriginalSize difference).
* PktMon.etl without a decode: the demikernel one equals its .cap (the same
  capture); gdn has no packet events at all (component table and counters only).
Run from the repository root:  python3 tests/expected/regen_pktmon.py
"""
import json, os, re, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))


def cap_figures(path):
    out = subprocess.run(
        ["tshark", "-n", "-r", path, "-o", "frame.generate_md5_hash:TRUE", "-T", "fields",
         "-E", "separator=\t", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len",
         "-e", "frame.interface_id", "-e", "frame.md5_hash"],
        capture_output=True, text=True, check=True).stdout
    rows = [l.split("\t") for l in out.splitlines()]
    kept, recent = [], []
    for t, wire, cap, iface, md5 in rows:
        ns = int(t.replace(".", "")) if "." in t else int(t) * 10**9
        key = (iface, wire, md5)
        if any(k == key and 0 <= ns - s <= 500_000 for s, k in recent):
            continue
        recent = (recent + [(ns, key)])[-64:]
        kept.append((int(wire), int(cap)))
    return {"frames": len(rows), "packets": len(kept),
            "wire_bytes": sum(w for w, _ in kept), "captured_bytes": sum(c for _, c in kept)}


def etl2txt_figures(path):
    text = open(path, "rb").read().decode("utf-16-le")
    events, first = 0, {}
    pat = re.compile(r"PktGroupId (\d+), PktNumber (\d+), .*Type (\w+) ,.*OriginalSize (\d+), LoggedSize (\d+)")
    eth = {}
    for line in text.splitlines():
        m = pat.search(line)
        if m:
            events += 1
            key, kind, orig, logged = (m[1], m[2]), m[3], int(m[4]), int(m[5])
            first.setdefault(key, (orig, logged, kind))
            if kind == "Ethernet":
                eth.setdefault(key, orig)
    for key, (orig, logged, kind) in list(first.items()):
        if kind == "WiFi" and key in eth:
            first[key] = (eth[key], logged - (orig - eth[key]))
        else:
            first[key] = (orig, logged)
    return {"packet_events": events, "packets": len(first),
            "wire_bytes": sum(o for o, _ in first.values()),
            "captured_bytes": sum(g for _, g in first.values())}


def main():
    d = os.path.join(CORPUS, "pktmon")
    out = {
        "pktmon/demikernel/PktMon.cap": cap_figures(os.path.join(d, "demikernel/PktMon.cap")),
        "pktmon/pktmon-vpn-capture/PktMon.etl":
            etl2txt_figures(os.path.join(d, "pktmon-vpn-capture/PktMon.txt")),
        "pktmon/gdn/PktMon.etl": {"packet_events": 0, "packets": 0},
    }
    same = dict(out["pktmon/demikernel/PktMon.cap"])
    same["packet_events"] = same.pop("frames")
    out["pktmon/demikernel/PktMon.etl"] = same
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {"generated_by": "tests/expected/regen_pktmon.py with " + version, "files": out}
    with open(os.path.join(ROOT, "tests", "expected", "pktmon.json"), "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
