#!/usr/bin/env python3
"""Regenerates tests/expected/smb_encrypted.json: what tshark decrypts from the
encrypted SMB 3 captures of the corpus (keys from ../shared/corpus/KEYS.md) and
from the lab sample samples/encrypted/ (NT password from samples/README.md).

Per capture and key variant: SMB2 commands (every PDU, compound elements each,
from `smb2.cmd` with `occurrence=a`), tree names (`smb2.tree` in TREE_CONNECT
requests), file names (`smb2.filename` in CREATE requests), and write/read
bytes (WRITE request `smb2.write_length`, successful READ response `smb2.olb.length`).
Variants: the session key; the S2C/C2S keys in both orders on the capture cut to
frames >= 7 (after SESSION_SETUP: editcap). The lab scenario
samples/encrypted/csv-cluster/ (the same SMB traffic encrypted and in clear)
also gets per-TCP-connection figures: frames, wire bytes, TCP payload bytes,
SMB transform headers (`smb2.header.transform.msg_size` occurrences), the
same SMB figures per connection and its interim (STATUS_PENDING) responses. Run from the repository root:
    python3 tests/expected/regen_smb_encrypted.py
"""
import json, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
CMDS = ["NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT", "CREATE", "CLOSE",
        "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO", "QUERY_DIRECTORY", "CHANGE_NOTIFY",
        "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK"]


def keys_md():
    rows = []
    for line in open(os.path.join(CORPUS, "KEYS.md")):
        m = re.match(r"\| (wireshark/\S+) \| (\w+) \| (\w+) \| (\w+) \| (\w+) \|", line)
        if m:
            rows.append(m.groups())
    return rows


def tshark(path, prefs, fields, yfilter=None):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t"]
    for p in prefs:
        cmd += ["-o", p]
    if yfilter:
        cmd += ["-Y", yfilter]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def both(base, f):
    return "(%s) && (%s)" % (base, f) if base else f


def figures(path, prefs, base=None):
    commands = {}
    for cmd, _resp in tshark(path, prefs, ["smb2.cmd", "smb2.flags.response"], base):
        for c in filter(None, cmd.split(",")):
            name = CMDS[int(c)] if int(c) < len(CMDS) else "UNKNOWN"
            commands[name] = commands.get(name, 0) + 1
    trees = sorted({t for r in tshark(path, prefs, ["smb2.tree"], both(base, "smb2.cmd == 3 && smb2.flags.response == 0"))
                    for t in r[0].split(",") if t})
    files = sorted({f for r in tshark(path, prefs, ["smb2.filename"], both(base, "smb2.cmd == 5 && smb2.flags.response == 0"))
                    for f in r[0].split(",") if f})
    write = sum(int(x) for r in tshark(path, prefs, ["smb2.write_length"], both(base, "smb2.cmd == 9 && smb2.flags.response == 0"))
                for x in r[0].split(",") if x)
    read = sum(int(x) for r in tshark(path, prefs, ["smb2.olb.length"],
                                      both(base, "smb2.cmd == 8 && smb2.flags.response == 1 && smb2.nt_status == 0"))
               for x in r[0].split(",") if x)
    return {"commands": commands, "trees": trees, "files": files, "write_bytes": write, "read_bytes": read}


def connections(path, variants):
    """Per TCP connection ("client -> server:port", the SYN's direction):
    frames, wire bytes, TCP payload bytes, transform headers, and the SMB
    figures under each variant's preferences."""
    rows = tshark(path, [], ["tcp.stream", "ip.src", "ip.dst", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack",
                             "frame.len", "tcp.len", "smb2.header.transform.msg_size"], "tcp")
    out, names = {}, {}
    for stream, src, dst, dport, syn, ack, flen, tlen, tf in rows:
        if syn == "1" and ack == "0":
            names[stream] = "%s -> %s:%s" % (src, dst, dport)
    for stream, src, dst, dport, syn, ack, flen, tlen, tf in rows:
        c = out.setdefault(names.get(stream, "stream " + stream),
                           {"frames": 0, "wire_bytes": 0, "tcp_payload": 0, "transforms": 0, "stream": int(stream)})
        c["frames"] += 1
        c["wire_bytes"] += int(flen)
        c["tcp_payload"] += int(tlen or 0)
        c["transforms"] += len([x for x in tf.split(",") if x])
    for c in out.values():
        for name, prefs in variants.items():
            c[name] = figures(path, prefs, "tcp.stream == %d" % c["stream"])
            # interim (STATUS_PENDING) responses: the server's timing, not the traffic's
            c[name]["interim_responses"] = sum(
                r[0].split(",").count("0x00000103")
                for r in tshark(path, prefs, ["smb2.nt_status"], "tcp.stream == %d && smb2.nt_status" % c["stream"]))
        del c["stream"]
    return out


def uat(sid, sk, s2c, c2s):
    q = lambda v: v if v else "\"\""
    return "uat:smb2_seskey_list:%s,%s,%s,%s" % (sid, q(sk), q(s2c), q(c2s))


def main():
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel, sid, sk, s2c, c2s in keys_md():
            path = os.path.join(CORPUS, rel)
            out[rel] = {"session_id": sid, "session_key": figures(path, [uat(sid, sk, "", "")])}
            cut = os.path.join(tmp, "cut.pcap")
            subprocess.run(["editcap", path, cut, "1-6"], check=True)
            out[rel]["cut_s2c_c2s"] = figures(cut, [uat(sid, "", s2c, c2s)])
            out[rel]["cut_c2s_s2c"] = figures(cut, [uat(sid, "", c2s, s2c)])
            out[rel]["no_key"] = figures(path, [])
            print(rel, json.dumps(out[rel]), file=sys.stderr)
    lab = os.path.join(ROOT, "samples", "encrypted")
    readme = os.path.join(ROOT, "samples", "README.md")
    m = None
    if os.path.isdir(lab) and os.path.exists(readme):
        m = re.search(r"NT password: `([^`]+)`", open(readme).read())
        for f in sorted(os.listdir(lab)):
            if m and f.endswith((".pcap", ".pcapng")):
                p = os.path.join(lab, f)
                out["samples/encrypted/" + f] = {
                    "password": figures(p, ["ntlmssp.nt_password:" + m.group(1)]),
                    "no_key": figures(p, [])}
                print(f, json.dumps(out["samples/encrypted/" + f]), file=sys.stderr)
    cluster = os.path.join(lab, "csv-cluster")
    if m and os.path.isdir(cluster):
        pw = ["ntlmssp.nt_password:" + m.group(1)]
        for mode, variants in (("encrypted", {"password": pw, "no_key": []}), ("clear", {"clear": []})):
            p = os.path.join(cluster, mode, "node2.pcapng")
            rel = "samples/encrypted/csv-cluster/%s/node2.pcapng" % mode
            out[rel] = {k: figures(p, v) for k, v in variants.items()}
            out[rel]["connections"] = connections(p, variants)
            print(rel, json.dumps(out[rel]), file=sys.stderr)
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    doc = {"generated_by": "tests/expected/regen_smb_encrypted.py with " + version, "captures": out}
    with open(os.path.join(ROOT, "tests", "expected", "smb_encrypted.json"), "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
