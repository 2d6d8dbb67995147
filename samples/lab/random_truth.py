#!/usr/bin/env python3
"""Ground truth for a scenario of samples/lab/random_lab.py: bytes per capture file,
interface and role, from tshark display filters and what the generator did
(scenario.json). Shares no code with hvsleuth (nor with the generator: it reads only
scenario.json and the captures).

Usage: samples/lab/random_truth.py SCENARIO_DIR   -> SCENARIO_DIR/truth.json

Each frame gets exactly one role: the first of ROLE_ORDER whose filter matches.
<N> = the nodes' physical addresses, <H> = the Hyper-V hosts' (SOFS clients), from
scenario.json. The NetFT tunnel's datagrams are told from heartbeats by the payload
magic the generator wrote (b"NFTT" = tunnelled IP packet, b"NFTH" = heartbeat): both
are UDP 3343 -> 3343. Bytes are frame.len (wire length; right at any snaplen).
"""

import collections
import json
import os
import subprocess
import sys

ROLE_ORDER = ["live-migration", "redirected-io", "storage", "cluster", "management", "other"]
NOT_ICMP = "!icmp && !icmpv6"
TUNNEL = "udp.port == 3343 && udp.payload[0:4] == 4e:46:54:54"   # "NFTT"


NEVER = "frame.number == 0"


def within(field, a):
    return f"{field} in {{{', '.join(a)}}}" if a else NEVER


def filters(n4, n6, h4, h6):
    both_nodes = (f"(({within('ip.src', n4)} && {within('ip.dst', n4)}) || "
                  f"({within('ipv6.src', n6)} && {within('ipv6.dst', n6)}))")
    return {
        # TCP 6600: the generator's live migrations (lm-tcp events); nothing else uses it
        "live-migration": f"{NOT_ICMP} && tcp.port == 6600",
        # SMB between two nodes' physical addresses (restore channels, SOFS forwarding,
        # any redirected IO), and NetFT tunnel datagrams (SMB to a 169.254 address inside)
        "redirected-io": f"{NOT_ICMP} && ((tcp.port == 445 && {both_nodes}) || ({TUNNEL}))",
        # SMB with a Hyper-V host (SOFS client)
        "storage": f"{NOT_ICMP} && tcp.port == 445 && ({within('ip.addr', h4)} || {within('ipv6.addr', h6)})",
        # heartbeats (UDP 3343 that is not tunnel) and GUM (TCP 3343)
        "cluster": f"{NOT_ICMP} && (udp.port == 3343 || tcp.port == 3343)",
        # RDP / WinRM stand-ins from the admin workstation, ICMP echo
        "management": f"({NOT_ICMP} && tcp.port in {{3389, 5985, 5986}}) || icmp.type in {{0, 8}} "
                      f"|| icmpv6.type in {{128, 129}}",
        # ARP, neighbour discovery, MLD, ICMP errors, the saturation bulk TCP (port 9000)
        "other": "",
    }


def exclusive(f):
    out, earlier = {}, []
    for r in ROLE_ORDER:
        parts = ([f"({f[r]})"] if f[r] else []) + [f"!({e})" for e in earlier]
        out[r] = " && ".join(parts)
        if f[r]:
            earlier.append(f[r])
    return out


def tshark(path, dfilter, fields):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    if dfilter:
        cmd += ["-Y", dfilter]
    for x in fields:
        cmd += ["-e", x]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def main():
    d = os.path.abspath(sys.argv[1])
    sc = json.load(open(os.path.join(d, "scenario.json")))
    n4, n6, h4, h6 = [], [], [], []
    for m in sc["machines"]:
        for i in m["ifaces"]:
            if m["kind"] == "node":
                n4 += [i["v4"]] if i["v4"] else []
                n6 += [i["v6"]] if i["v6"] else []
            elif m["kind"] == "host":
                h4 += [i["v4"]] if i["v4"] else []
                h6 += [i["v6"]] if i["v6"] else []
    f = filters(n4, n6, h4, h6)
    ex = exclusive(f)
    doc = {"generated_by": "samples/lab/random_truth.py",
           "tshark": subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
           "seed": sc["seed"], "role_order": ROLE_ORDER, "role_filters": f, "files": {},
           "incidents": [], "heartbeat_cadence_s": sc["cadence_s"]}
    for m in sc["machines"]:
        c = m.get("capture")
        if not c:
            continue
        path = os.path.join(d, c["file"])
        total = collections.Counter()
        for row in tshark(path, "", ["frame.interface_name", "frame.len"]):
            total[row[0]] += int(row[1])
        ifs = {}
        for role in ROLE_ORDER:
            for row in tshark(path, ex[role], ["frame.interface_name", "frame.len"]):
                i = ifs.setdefault(row[0], {"bytes": 0, "packets": 0, "roles": {}})
                r = i["roles"].setdefault(role, {"bytes": 0, "packets": 0})
                i["bytes"] += int(row[1])
                i["packets"] += 1
                r["bytes"] += int(row[1])
                r["packets"] += 1
        for k, b in total.items():
            if ifs.get(k, {}).get("bytes") != b:
                sys.exit(f"{path}: {k}: roles add up to {ifs.get(k, {}).get('bytes')}, all frames {b}")
        tun = tshark(path, TUNNEL, ["frame.len"])
        # heartbeat silences on the wire (longer than 3 x cadence), per interface and direction:
        # on a loaded machine the emulation itself can stall, which is then a real silence
        hb = collections.defaultdict(list)
        for row in tshark(path, f"{NOT_ICMP} && udp.port == 3343 && udp.payload[0:4] == 4e:46:54:48",
                          ["frame.time_epoch", "frame.interface_name", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst"]):
            row += [""] * (6 - len(row))
            hb[(row[1], row[2] or row[3], row[4] or row[5])].append(float(row[0]))
        gaps = []
        for (k, src, dst), ts in sorted(hb.items()):
            for x, y in zip(ts, ts[1:]):
                if y - x > 3 * sc["cadence_s"]:
                    gaps.append({"interface": k, "src": src, "dst": dst, "from_epoch": round(x, 3),
                                 "gap_s": round(y - x, 3)})
        doc["files"][c["file"]] = {"node": m["name"], "snaplen": c["snaplen"], "gzip": c["gzip"],
                                   "clock_offset_s": c["offset_s"], "interfaces": ifs,
                                   "netft_tunnel_frames": len(tun), "heartbeat_gaps": gaps}
    for e in sc["events"]:
        if e.get("incident"):
            x = {"incident": e["incident"], "finding": {"restore-flood": "HVS001", "lm-wrong-net": "HVS004",
                                                        "sofs-non-owner": "HVS003", "isolation-x3": "HVS006",
                                                        "saturation": "HVS002"}[e["incident"]]}
            x.update({k: v for k, v in e.items() if k in ("src", "dst", "via", "node", "net", "nets", "share",
                                                           "forward", "start")})
            doc["incidents"].append(x)
    with open(os.path.join(d, "truth.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(f"{d}: truth for {len(doc['files'])} captures, incidents {[x['incident'] for x in doc['incidents']]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
