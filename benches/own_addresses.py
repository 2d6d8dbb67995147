#!/usr/bin/env python3
"""Own addresses hvsleuth infers without an inventory, checked against the generator's plan.

Usage: benches/own_addresses.py HVSLEUTH_BINARY SCENARIO_DIR...

For every capture interface given addresses (analyze --json, no inventory), its global
addresses must be among those scenario.json gives the captured machine. Prints every wrong
one and the decisions made by answer times, then per scenario: right, wrong, conflicts.
Shares no code with hvsleuth."""

import json
import os
import re
import subprocess
import sys

binp = sys.argv[1]
for d in sys.argv[2:]:
    sc = json.load(open(os.path.join(d, "scenario.json")))
    plan = sc.get("plan", sc)
    truth = json.load(open(os.path.join(d, "truth.json")))
    files = [os.path.join(d, f) for f in truth["files"]]
    cap_of = {}
    for m in plan["machines"]:
        c = m.get("capture")
        if c: cap_of[c["file"]] = m
    o = json.loads(subprocess.run([binp, "analyze", "--json", *files], capture_output=True, text=True).stdout)
    ok = bad = conf = 0
    for f in o.get("inferred", []):
        mm = re.match(r'capture interface "(.*)" of (\S+) is .*?NIC ".*?"(?: with address(?:es)? (.*))?$', f["fact"])
        if not mm: continue
        m = cap_of.get(mm.group(2))
        if f.get("conflict"): conf += 1
        if not mm.group(3) or not m: continue
        own = {x.strip() for x in mm.group(3).split(",")}
        mine = {i["v4"] for i in m["ifaces"] if i["v4"]} | {i["v6"] for i in m["ifaces"] if i["v6"]}
        glob_own = {a for a in own if not a.startswith("fe80")}
        if glob_own and not glob_own <= mine:
            bad += 1; print(f"  WRONG {os.path.basename(d.rstrip('/'))}: {f['fact']} | {f['reason'][:200]}")
        else:
            ok += 1
        if "answers in" in f["reason"]:
            print(f"  {os.path.basename(d.rstrip('/'))} by answer time: {'ok' if glob_own <= mine else 'WRONG'}: {mm.group(1)} of {mm.group(2)}: {re.sub(r'[0-9a-f:]{17} ', '', f['reason'])[:260]}")
    print(f"{os.path.basename(d.rstrip('/'))}: {ok} right, {bad} wrong, {conf} conflicts")
