#!/usr/bin/env python3
"""Regenerates tests/expected/smb_krb.json: what tshark learns from
zeek/smb2_krb.pcap with its keytab zeek/smb2_krb.keytab (corpus), to check
hvsleuth's --keytab against.

tshark (-o kerberos.decrypt:TRUE -o kerberos.file:KEYTAB) decrypts the ticket
of the AP-REQ in frame 12 with the keytab's service key, learns the ticket
session key (EncTicketPart) and the initiator subkey (Authenticator), and
opens the AP-REP of frame 14 with the ticket session key, learning the
acceptor subkey (EncAPRepPart). Recorded: the session id of the signed
message(s), how many SMB2 messages carry the SIGNED flag (tshark 4.0 does not
verify SMB2 signatures with Kerberos keys; hvsleuth's verification of each is
the proof of the key), the ticket's service, client and enctype, and the
learnt keys (public test data, so that the test can assert that none of them
ever appears in hvsleuth's output). Also the SIGNED message count of the other
captures whose keys are known (the five encrypted corpus captures, keys in
KEYS.md; the samples/encrypted lab captures, password in samples/README.md):
their signed SESSION_SETUP responses check AES-128-CMAC (3.0, 3.1.1) and
AES-GMAC (Samba, 3.1.1). Run from the repository root:
    python3 tests/expected/regen_smb_krb.py
"""
import json, os, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
PCAP = os.path.join(CORPUS, "zeek", "smb2_krb.pcap")
KEYTAB = os.path.join(CORPUS, "zeek", "smb2_krb.keytab")
KRB = ["-o", "kerberos.decrypt:TRUE", "-o", "kerberos.file:" + KEYTAB]


def fields(filt, *names):
    cmd = ["tshark", "-r", PCAP] + KRB + ["-Y", filt, "-T", "fields", "-E", "occurrence=a"]
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


signed = fields("smb2.flags.signature == 1", "frame.number", "smb2.sesid")
krb = fields("kerberos", "frame.number", "kerberos.etype", "kerberos.keyvalue",
             "kerberos.SNameString", "kerberos.CNameString", "kerberos.realm")
req = next(r for r in krb if r[0] == "12")
rep = next(r for r in krb if r[0] == "14")
ticket_key, initiator_subkey = req[2].split(",")
out = {
    "tshark": subprocess.run(["tshark", "-v"], capture_output=True, text=True).stdout.splitlines()[0],
    "session_id": signed[0][1],
    "signed_messages": len(signed),
    "signed_frames": [int(r[0]) for r in signed],
    "ticket_etype": int(req[1].split(",")[0]),
    "service": "/".join(req[3].split(",")) + "@" + req[5].split(",")[0],
    "client": req[4].split(",")[0] + "@" + req[5].split(",")[0],
    "ticket_session_key": ticket_key,
    "initiator_subkey": initiator_subkey,
    "acceptor_subkey": rep[2],
}
signed_by_capture = {}
for rel in ["wireshark/smb300-aes-128-ccm.pcap.gz", "wireshark/smb311-aes-128-ccm.pcap.gz",
            "wireshark/smb311-aes-128-gcm.pcap.gz", "wireshark/smb311-aes-256-ccm.pcap.gz",
            "wireshark/smb311-aes-256-gcm.pcap.gz", "samples/encrypted/smb311-aes128gcm-ntlmv2.pcap",
            "samples/encrypted/smb311-aes256gcm-ntlmv2.pcap"]:
    f = os.path.join(ROOT, rel) if rel.startswith("samples/") else os.path.join(CORPUS, rel)
    o = subprocess.run(["tshark", "-r", f, "-Y", "smb2.flags.signature == 1", "-T", "fields",
                        "-e", "frame.number"], capture_output=True, text=True, check=True).stdout
    signed_by_capture[rel] = len(o.split())
out["signed_messages_by_capture"] = signed_by_capture
path = os.path.join(ROOT, "tests", "expected", "smb_krb.json")
with open(path, "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
print(json.dumps(out, indent=2))
