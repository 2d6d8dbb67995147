#!/usr/bin/env python3
"""Own ends that hvsleuth takes from answer times, checked against tshark.

Usage: benches/own_end_vs_tshark.py HVSLEUTH_BINARY [CORPUS_DIR]

For every capture under CORPUS_DIR (default ../shared/corpus, files under 8 MB) whose
inferred facts decide a NIC's own end by answer times, tshark's tcp.analysis.ack_rtt is
taken per source address (third-lowest, as hvsleuth does) and the end tshark times as
acknowledging faster must be the one hvsleuth took. Prints one line per decision and the
count agreeing / disagreeing. Shares no code with hvsleuth.
"""
import json, subprocess, sys, re, glob, os
binp = sys.argv[1]
root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpus")
root = os.path.abspath(root)
files = [f for f in glob.glob(os.path.join(root, "**", "*.pcap*"), recursive=True) if os.path.getsize(f) < 8_000_000]
agree = disagree = 0
for f in sorted(files):
    try:
        r = subprocess.run([binp, "analyze", "--json", f], capture_output=True, text=True, timeout=60)
        o = json.loads(r.stdout)
    except Exception:
        continue
    for x in o.get("inferred", []):
        if "answers in" not in x["reason"] and "answers, in" not in x["reason"]:
            continue
        m = re.search(r"with address(?:es)? (.*)$", x["fact"])
        own = {a.strip() for a in m.group(1).split(",")} if m else set()
        t = subprocess.run(["tshark", "-r", f, "-Y", "tcp.analysis.ack_rtt", "-T", "fields", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.analysis.ack_rtt"], capture_output=True, text=True).stdout
        per = {}
        for line in t.splitlines():
            p = line.split("\t")
            ip = p[0] or p[1]
            try: per.setdefault(ip, []).append(float(p[2]))
            except Exception: pass
        low = {ip: sorted(v)[min(2, len(v)-1)] for ip, v in per.items() if len(v) >= 1}
        ends = [ip for ip in low if ip in own or ip in x["reason"]]
        if len(ends) < 2:
            print(f"? {os.path.relpath(f,root)}: tshark ends {low}"); continue
        fastest = min(ends, key=lambda ip: low[ip])
        ok = fastest in own
        agree += ok; disagree += not ok
        print(f"{'OK ' if ok else 'BAD'} {os.path.relpath(f,root)}: own {sorted(own)}; tshark ack_rtt 3rd-lowest {{{', '.join(f'{ip}: {low[ip]*1e6:.0f} us' for ip in ends)}}}; conf {x['confidence']}")
print(f"agree {agree}, disagree {disagree}")
