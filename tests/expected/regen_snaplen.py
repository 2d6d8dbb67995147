#!/usr/bin/env python3
"""Regenerates tests/expected/snaplen.json: tshark's SMB2 figures for lab and
corpus captures cut to a snaplen with `editcap -s N` (what pktmon's default
128-byte LoggedSize and other truncating captures produce).

Per (capture, snaplen): SMB2 PDUs by command (every smb2.cmd occurrence:
compound elements and PDUs whose header the snaplen cut count, as tshark
decodes them), the sum of WRITE request lengths (smb2.write_length) and of
WRITE response counts (smb2.write.count), and the encrypted messages' bytes
(52-byte transform header + smb2.header.transform.msg_size each). The tests in tests/it/smb.rs cut the
same files the same way (caplen = min(caplen, N), wire length kept) in Rust.
Run from the repository root:  python3 tests/expected/regen_snaplen.py
"""
import json, os, subprocess, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
SOURCES = [
    "samples/restore-flood/node1.pcapng",
    "samples/restore-flood/node3.pcapng",
    "samples/multichannel/node1.pcapng",
    "samples/sofs-redirect/host1.pcapng",
    "samples/sofs-redirect/node2.pcapng",
    "samples/baseline/host1.pcapng",
    "samples/baseline/node2.pcapng",
    "corpus:zeek/smb3_multichannel.pcap",
]
SNAPLENS = [96, 128, 160, 0]  # 0: the file as it is
NAMES = ["NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT", "CREATE", "CLOSE",
         "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO", "QUERY_DIRECTORY", "CHANGE_NOTIFY",
         "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK"]


def path_of(src):
    return os.path.join(CORPUS, src[7:]) if src.startswith("corpus:") else os.path.join(ROOT, src)


def fields(path, fs, flt):
    cmd = ["tshark", "-n", "-r", path, "-Y", flt, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fs:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def figures(path):
    cmds = {}
    for (c,) in fields(path, ["smb2.cmd"], "smb2"):
        for x in filter(None, c.split(",")):
            n = NAMES[int(x)] if int(x) < len(NAMES) else "UNKNOWN"
            cmds[n] = cmds.get(n, 0) + 1
    wl = sum(int(v) for (c,) in fields(path, ["smb2.write_length"], "smb2.write_length") for v in c.split(",") if v)
    wc = sum(int(v) for (c,) in fields(path, ["smb2.write.count"], "smb2.write.count") for v in c.split(",") if v)
    tf = sum(int(v) + 52 for (c,) in fields(path, ["smb2.header.transform.msg_size"],
                                            "smb2.header.transform.msg_size") for v in c.split(",") if v)
    return {"commands": dict(sorted(cmds.items())), "write_length_sum": wl, "write_count_sum": wc,
            "transform_bytes": tf}


def main():
    ver = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    out = {"tshark": ver, "captures": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for src in SOURCES:
            per = {}
            for n in SNAPLENS:
                p = path_of(src)
                if n:
                    cut = os.path.join(tmp, "cut")
                    subprocess.run(["editcap", "-s", str(n), p, cut], check=True)
                    p = cut
                per[str(n)] = figures(p)
            out["captures"][src] = per
    with open(os.path.join(ROOT, "tests", "expected", "snaplen.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
