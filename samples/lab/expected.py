#!/usr/bin/env python3
"""Ground truth for the lab captures: bytes per capture file, per interface, per role.

Usage: samples/lab/expected.py [SAMPLES_DIR]      (default: the samples/ directory)

Every figure is computed by tshark display filters (the filters are written into
EXPECTED.md and EXPECTED.json), never by hvsleuth. Each frame gets exactly one role:
the first of ROLE_ORDER whose filter matches. Bytes are frame.len (the original wire
length without FCS, which stays right although frames were captured truncated).
Writes SAMPLES_DIR/EXPECTED.json and SAMPLES_DIR/EXPECTED.md.
"""

import collections
import json
import re
import os
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.dirname(HERE)
SCENARIOS = ["baseline", "restore-flood", "restore-constrained", "sofs-redirect",
             "live-migration", "heartbeat-loss", "multichannel"]
ROLE_ORDER = ["live-migration", "redirected-io", "storage", "cluster", "management", "other"]
NOT_ICMP = "!icmp && !icmpv6"  # ICMP errors quote UDP/TCP headers: never classify them by port


def tshark(path, dfilter, fields, extra=()):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    cmd += list(extra)
    if dfilter:
        cmd += ["-Y", dfilter]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def addr_set(addrs):
    return "{" + ", ".join(addrs) + "}"


def load_inventory():
    with open(os.path.join(SAMPLES, "inventory.toml"), "rb") as f:
        inv = tomllib.load(f)
    node_v4, node_v6, host_v4, host_v6, macs = [], [], [], [], {}
    for kind in ("nodes", "hosts"):
        for h in inv.get(kind, []):
            for i in h["interfaces"]:
                for a in i["addresses"]:
                    ip = a.split("/")[0]
                    v6 = ":" in ip
                    if kind == "nodes":
                        (node_v6 if v6 else node_v4).append(ip)
                    elif h["name"] != "admin":
                        (host_v6 if v6 else host_v4).append(ip)
                if "capture" in i:
                    macs[(i["capture"]["file"], i["capture"]["interface"])] = i["mac"]
    return inv, node_v4, node_v6, host_v4, host_v6, macs


def role_filters(node_v4, node_v6, host_v4, host_v6, lm_streams):
    n4, n6, h4, h6 = addr_set(node_v4), addr_set(node_v6), addr_set(host_v4), addr_set(host_v6)
    lm_smb = f" || (tcp.port == 445 && tcp.stream in {{{', '.join(map(str, lm_streams))}}})" if lm_streams else ""
    return {
        # TCP 6600 (Hyper-V live migration, TCP/compression modes) and the SMB connections
        # whose TREE_CONNECT names the share vmms-lm (SMB live migration stand-in)
        "live-migration": f"{NOT_ICMP} && (tcp.port == 6600{lm_smb})",
        # SMB between two cluster nodes (CSV redirected IO; SOFS node -> owner forwarding)
        "redirected-io": f"{NOT_ICMP} && tcp.port == 445 && ((ip.src in {n4} && ip.dst in {n4})"
                         f" || (ipv6.src in {n6} && ipv6.dst in {n6}))",
        # SMB between host1 (Hyper-V host) and a SOFS node
        "storage": f"{NOT_ICMP} && tcp.port == 445 && (ip.addr in {h4} || ipv6.addr in {h6})",
        # NetFT heartbeats (UDP 3343) and the cluster service (TCP 3343)
        "cluster": f"{NOT_ICMP} && (udp.port == 3343 || tcp.port == 3343)",
        # RDP, WinRM, DNS, Kerberos, RPC endpoint mapper, LDAP, ICMP echo
        "management": f"({NOT_ICMP} && (tcp.port in {{3389, 5985, 5986, 53, 88, 135, 389, 636}}"
                      f" || udp.port in {{53, 88, 389, 3389}})) || icmp.type in {{0, 8}}",
        # everything else: ARP, ICMPv6 (neighbour discovery, router solicitation, MLD),
        # ICMP errors, anything not matched above
        "other": "",
    }


def exclusive(filters):
    """Filter per role that also excludes every earlier role: each frame gets one role."""
    out, earlier = {}, []
    for r in ROLE_ORDER:
        f = filters[r]
        parts = ([f"({f})"] if f else []) + [f"!({e})" for e in earlier]
        out[r] = " && ".join(parts) if parts else ""
        if f:
            earlier.append(f)
    return out


def lm_smb_streams(path):
    rows = tshark(path, 'smb2.tree contains "vmms-lm"', ["tcp.stream"])
    return sorted({int(r[0]) for r in rows if r and r[0]})


def heartbeat_gaps(path, threshold=2.5):
    """Gaps > threshold s between consecutive heartbeats of one direction on one interface."""
    rows = tshark(path, f"{NOT_ICMP} && udp.srcport == 3343 && udp.dstport == 3343",
                  ["frame.time_epoch", "frame.interface_name", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst"])
    by = collections.defaultdict(list)
    for r in rows:
        r += [""] * (6 - len(r))
        by[(r[1], r[2] or r[3], r[4] or r[5])].append(float(r[0]))
    first = tshark(path, "frame.number == 1", ["frame.time_epoch"])
    t0 = float(first[0][0]) if first else 0.0
    gaps = []
    for (iface, src, dst), ts in sorted(by.items()):
        for a, b in zip(ts, ts[1:]):
            if b - a > threshold:
                gaps.append({"interface": iface, "src": src, "dst": dst,
                             "from_s": round(a - t0, 3), "to_s": round(b - t0, 3), "gap_s": round(b - a, 3)})
        gaps_count = len(ts)
        _ = gaps_count
    counts = {f"{i} {s}->{d}": len(ts) for (i, s, d), ts in sorted(by.items())}
    return gaps, counts


SMB_RE = re.compile(r"smb-write (\w+) -> \\\\(\S+)\\(\S+) via (\S+): (\d+) bytes")
LM_RE = re.compile(r"lm-tcp (\w+) -> (\w+) \[?([0-9a-f:.]+?)\]?:6600 .*: (\d+) bytes")


def cross_checks(inv, scenario):
    """What the scenario moved (timeline.txt) against the TCP payload the receiver's NIC got
    in the expected role (includes SMB headers/responses' share and retransmitted/duplicated
    segments, so the ratio is a little above 1)."""
    where = {}
    for kind in ("nodes", "hosts"):
        for h in inv.get(kind, []):
            for i in h["interfaces"]:
                for a in i["addresses"]:
                    where[a.split("/")[0]] = (h["name"], i["alias"])
    want = collections.Counter()
    for line in scenario.get("timeline", []):
        m = SMB_RE.search(line)
        if m:
            frm, _name, share, addr, n = m.groups()
            role = "live-migration" if share == "vmms-lm" else ("storage" if frm == "host1" else "redirected-io")
            host, iface = where[addr]
            want[(f"{host}.pcapng", iface, role)] += int(n)
            continue
        m = LM_RE.search(line)
        if m:
            _frm, _to, addr, n = m.groups()
            host, iface = where[addr]
            want[(f"{host}.pcapng", iface, "live-migration")] += int(n)
    out = []
    for (fname, iface, role), n in sorted(want.items()):
        got = (scenario["files"].get(fname, {}).get("interfaces", {}).get(iface, {})
               .get("roles", {}).get(role, {}).get("rx_tcp_payload_bytes", 0))
        out.append({"file": fname, "interface": iface, "role": role, "app_bytes_written": n,
                    "rx_tcp_payload_bytes": got, "ratio": round(got / n, 4) if n else None})
    return out


def capinfo(path):
    out = subprocess.run(["capinfos", "-M", "-T", "-r", "-c", "-u", "-s", path],
                         check=True, capture_output=True, text=True).stdout.strip().split("\t")
    # capinfos prints packets, file size, duration in this order whatever the flag order
    return {"packets": int(out[1]), "duration_s": round(float(out[3]), 3), "file_bytes": int(out[2])}


def file_truth(path, fname, roles_excl, macs):
    """bytes/packets per interface per role (+ rx/tx split by the interface's MAC)."""
    res = {}
    total = collections.Counter()
    for row in tshark(path, "", ["frame.interface_name", "frame.len"]):
        total[row[0]] += int(row[1])
    for role in ROLE_ORDER:
        for row in tshark(path, roles_excl[role], ["frame.interface_name", "frame.len", "eth.src", "tcp.len"]):
            row += [""] * (4 - len(row))
            iface, flen, src, tlen = row[0], int(row[1]), row[2], row[3]
            i = res.setdefault(iface, {"bytes": 0, "packets": 0, "roles": {}})
            r = i["roles"].setdefault(role, {"bytes": 0, "packets": 0, "tx_bytes": 0, "rx_bytes": 0,
                                             "tcp_payload_bytes": 0, "rx_tcp_payload_bytes": 0})
            i["bytes"] += flen
            i["packets"] += 1
            r["bytes"] += flen
            r["packets"] += 1
            mine = macs.get((fname, iface), "").lower()
            r["tx_bytes" if src.lower() == mine else "rx_bytes"] += flen
            r["tcp_payload_bytes"] += int(tlen) if tlen else 0
            if src.lower() != mine:
                r["rx_tcp_payload_bytes"] += int(tlen) if tlen else 0
    for iface, b in total.items():
        got = res.get(iface, {}).get("bytes", 0)
        if got != b:
            raise SystemExit(f"{path}: {iface}: roles add up to {got}, all frames {b}")
    return res


def main():
    inv, node_v4, node_v6, host_v4, host_v6, macs = load_inventory()
    tver = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {
        "generated_by": "samples/lab/expected.py",
        "tshark": tver,
        "bytes": "frame.len: original wire length of the Ethernet frame, no FCS",
        "role_order": ROLE_ORDER,
        "role_filters": role_filters(node_v4, node_v6, host_v4, host_v6, ["<LM_SMB_STREAMS>"]),
        "lm_smb_streams_filter": 'smb2.tree contains "vmms-lm"  (its tcp.stream values become <LM_SMB_STREAMS>)',
        "scenarios": {},
    }
    for sc in SCENARIOS:
        d = os.path.join(SAMPLES, sc)
        if not os.path.isdir(d):
            continue
        s = {"files": {}}
        tl = os.path.join(d, "timeline.txt")
        if os.path.exists(tl):
            s["timeline"] = open(tl).read().splitlines()
        for fname in sorted(os.listdir(d)):
            if not fname.endswith(".pcapng"):
                continue
            path = os.path.join(d, fname)
            lm = lm_smb_streams(path)
            roles = exclusive(role_filters(node_v4, node_v6, host_v4, host_v6, lm))
            f = capinfo(path)
            f["lm_smb_tcp_streams"] = lm
            f["interfaces"] = file_truth(path, fname, roles, macs)
            gaps, counts = heartbeat_gaps(path)
            f["heartbeats_per_direction"] = counts
            f["heartbeat_gaps_over_2_5s"] = gaps
            s["files"][fname] = f
            print(f"{sc}/{fname}: {f['packets']} packets", file=sys.stderr)
        s["cross_checks"] = cross_checks(inv, s)
        doc["scenarios"][sc] = s
    with open(os.path.join(SAMPLES, "EXPECTED.json"), "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=False)
        fh.write("\n")
    write_md(doc)


def fmt(n):
    return f"{n:,}"


def write_md(doc):
    L = []
    L.append("# Ground truth for the lab captures\n")
    L.append("Generated by `samples/lab/expected.py` from the committed captures with "
             f"{doc['tshark'].rstrip('.')}; the same figures are in `EXPECTED.json`. Regenerate with "
             "`python3 samples/lab/expected.py` after every lab run.\n")
    L.append("Bytes are `frame.len` (wire length of the Ethernet frame without FCS). The captures are "
             "truncated (snaplen 256; baseline and multichannel: 65535) but `frame.len` keeps the original length.\n")
    L.append("## Roles: tshark display filters\n")
    L.append("Every frame gets exactly one role: the first in this order whose filter matches "
             "(so each role's effective filter is its own filter AND NOT every earlier one). "
             "`<NODES4>`/`<NODES6>` are the node1..node3 addresses of inventory.toml, `<HOST4>`/`<HOST6>` "
             "host1's. `<LM_SMB_STREAMS>` are the `tcp.stream` numbers of the frames matching "
             "`smb2.tree contains \"vmms-lm\"` in the same file (the SMB live-migration connections; "
             "empty when there is none).\n")
    f = role_filters(["<NODES4>"], ["<NODES6>"], ["<HOST4>"], ["<HOST6>"], ["<LM_SMB_STREAMS>"])
    for r in ROLE_ORDER:
        L.append(f"{ROLE_ORDER.index(r) + 1}. **{r}**: `{f[r] or 'every frame not matched above'}`")
    L.append("")
    L.append("So *other* is: ARP, ICMPv6 (neighbour discovery, router solicitation, MLD), ICMP errors "
             "(e.g. port unreachable quoting a heartbeat sent before the peer listened), and any frame "
             "that matches no filter. *management* needs no interface: it is defined by port.\n")
    L.append("Example, the redirected-io bytes of node1's management NIC in restore-flood:\n")
    L.append("```\ntshark -r samples/restore-flood/node1.pcapng -Y 'frame.interface_name == \"mgmt\" && "
             "!icmp && !icmpv6 && tcp.port == 445 && ip.src in {10.10.0.11, 10.10.0.12, 10.10.0.13, 172.30.1.11, "
             "172.30.1.12, 172.30.1.13, 172.30.2.11, 172.30.2.12, 172.30.2.13} && ip.dst in {...same...}' "
             "-T fields -e frame.len | paste -sd+ | bc\n```\n")
    L.append("(the tcp.port == 6600 / vmms-lm exclusion changes nothing there.) `tx`/`rx` split by "
             "`eth.src` == the interface's MAC in inventory.toml (duplicated frames keep the sender's MAC).\n")
    for sc, s in doc["scenarios"].items():
        L.append(f"## {sc}\n")
        if s.get("timeline"):
            L.append("What the scenario did (from `timeline.txt`, seconds after the traffic start):\n")
            L.append("```")
            L.extend(s["timeline"])
            L.append("```\n")
        L.append("| file | interface | role | bytes | packets | tx bytes | rx bytes | TCP payload bytes |")
        L.append("|---|---|---|---:|---:|---:|---:|---:|")
        for fname, fi in s["files"].items():
            for iface, i in sorted(fi["interfaces"].items()):
                for r in ROLE_ORDER:
                    if r in i["roles"]:
                        x = i["roles"][r]
                        L.append(f"| {fname} | {iface} | {r} | {fmt(x['bytes'])} | {fmt(x['packets'])} | "
                                 f"{fmt(x['tx_bytes'])} | {fmt(x['rx_bytes'])} | {fmt(x['tcp_payload_bytes'])} |")
                L.append(f"| {fname} | {iface} | **all** | **{fmt(i['bytes'])}** | {fmt(i['packets'])} | | | |")
        L.append("")
        if s.get("cross_checks"):
            L.append("Cross-check, what the scenario wrote against the TCP payload the receiving NIC got in "
                     "that role (SMB headers, responses and retransmitted/duplicated segments make it a "
                     "little more):\n")
            L.append("| receiver file | interface | role | bytes written | rx TCP payload | ratio |")
            L.append("|---|---|---|---:|---:|---:|")
            for c in s["cross_checks"]:
                L.append(f"| {c['file']} | {c['interface']} | {c['role']} | {fmt(c['app_bytes_written'])} | "
                         f"{fmt(c['rx_tcp_payload_bytes'])} | {c['ratio']} |")
            L.append("")
        L.append("| file | packets | duration s | file bytes | LM SMB streams | heartbeat gaps > 2.5 s |")
        L.append("|---|---:|---:|---:|---|---:|")
        for fname, fi in s["files"].items():
            L.append(f"| {fname} | {fmt(fi['packets'])} | {fi['duration_s']} | {fmt(fi['file_bytes'])} | "
                     f"{fi['lm_smb_tcp_streams'] or '-'} | {len(fi['heartbeat_gaps_over_2_5s'])} |")
        L.append("")
        gaps = [(fn, g) for fn, fi in s["files"].items() for g in fi["heartbeat_gaps_over_2_5s"]]
        if gaps and sc == "heartbeat-loss":
            L.append("Heartbeat gaps over 2.5 s (per file, interface and direction; seconds from the file's first frame):\n")
            L.append("| file | interface | src -> dst | from | to | gap s |")
            L.append("|---|---|---|---:|---:|---:|")
            for fn, g in gaps:
                L.append(f"| {fn} | {g['interface']} | {g['src']} -> {g['dst']} | {g['from_s']} | {g['to_s']} | {g['gap_s']} |")
            L.append("")
    with open(os.path.join(SAMPLES, "EXPECTED.md"), "w") as fh:
        fh.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
