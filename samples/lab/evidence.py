#!/usr/bin/env python3
"""Writes SYNTHETIC perfmon / event-log / cluster.log evidence for the
restore-flood scenario, aligned with its captures, into samples/restore-flood/:

  perfmon-node1.csv, perfmon-node3.csv  PDH-CSV 4.0 as `relog -f csv` writes it
  FailoverClustering-node3.xml          Event Viewer XML export (System log)
  node3_cluster.log                     Get-ClusterLog text (GMT; Get-ClusterLog names files <node>_cluster.log)

Network Interface counters are the captures' own per-second bytes per NIC (tshark
frame.len sums, sent/received by the NIC's MAC from inventory.toml): what perfmon
would have sampled. `Cluster CSV File System(Volume1)\\Redirected Write Bytes/sec`
on node3 is the rate of SMB payload node3 sent to node1's TCP 445 (tshark
tcp.len), i.e. the redirected restore. `RDMA Activity(storage)` counters
are invented (a steady SMB Direct stream the captures cannot see: RDMA bypasses
the host stack). Event and cluster.log times are the restore's start and end.
Run from the repository root after lab.sh: python3 samples/lab/evidence.py
"""
import collections, datetime, os, random, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SC = os.path.join(ROOT, "samples", "restore-flood")
MACS = {  # inventory.toml
    ("node1", "mgmt"): "02:48:56:01:0b:00", ("node1", "cluster"): "02:48:56:02:0b:00", ("node1", "storage"): "02:48:56:03:0b:00",
    ("node3", "mgmt"): "02:48:56:01:0d:00", ("node3", "cluster"): "02:48:56:02:0d:00", ("node3", "storage"): "02:48:56:03:0d:00",
}
SPEED = {"mgmt": 1_000_000, "cluster": 1_000_000, "storage": 10_000_000}  # lab rates (inventory.toml)
BIAS_MIN = -60  # W. Europe Standard Time: UTC = local + bias
random.seed(11)


def fields(path, flt, *fs):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-Y", flt]
    for f in fs:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines()]


def per_second(node):
    rows = fields(os.path.join(SC, f"{node}.pcapng"), "frame", "frame.time_epoch", "frame.interface_name", "eth.src", "frame.len")
    t0 = int(float(rows[0][0]))
    t1 = int(float(rows[-1][0])) + 1
    rate = collections.defaultdict(float)  # (nic, "rx"/"tx", second) -> bytes
    for ts, nic, src, ln in rows:
        d = "tx" if src == MACS.get((node, nic)) else "rx"
        rate[(nic, d, int(float(ts)))] += int(ln)
    return t0, t1, rate


def local(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc) - datetime.timedelta(minutes=BIAS_MIN)


def perfmon(node, t0, t1, rate, redirected):
    cols = []
    for nic in ("mgmt", "cluster", "storage"):
        for c in ("Bytes Received/sec", "Bytes Sent/sec", "Bytes Total/sec", "Current Bandwidth"):
            cols.append(("Network Interface", nic, c))
    cols += [("Cluster CSV File System", "Volume1", "Redirected Read Bytes/sec"),
             ("Cluster CSV File System", "Volume1", "Redirected Write Bytes/sec"),
             ("RDMA Activity", "storage", "RDMA Inbound Bytes/sec"),
             ("RDMA Activity", "storage", "RDMA Outbound Bytes/sec"),
             ("Processor", "_Total", "% Processor Time")]
    head = '"(PDH-CSV 4.0) (W. Europe Standard Time)(%d)",' % BIAS_MIN
    head += ",".join(f'"\\\\{node}\\{o}({i})\\{c}"' for o, i, c in cols)
    lines = [head]
    for s in range(t0, t1):
        cells = [f'"{local(s).strftime("%m/%d/%Y %H:%M:%S")}.000"']
        for o, i, c in cols:
            if s == t0 and c != "Current Bandwidth":
                cells.append('" "')
                continue
            if o == "Network Interface":
                rx, tx = rate.get((i, "rx", s), 0.0), rate.get((i, "tx", s), 0.0)
                v = {"Bytes Received/sec": rx, "Bytes Sent/sec": tx, "Bytes Total/sec": rx + tx, "Current Bandwidth": SPEED[i]}[c]
            elif c == "Redirected Write Bytes/sec":
                v = redirected.get(s, 0.0)
            elif o == "Cluster CSV File System":
                v = 0.0
            elif o == "RDMA Activity":
                v = 2_000_000 * (1 + random.uniform(-0.05, 0.05))
            else:
                v = 30.0 if redirected.get(s) else 6.0
            cells.append(f'"{v:.6f}"')
        lines.append(",".join(cells))
    with open(os.path.join(SC, f"perfmon-{node}.csv"), "w", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")


def main():
    # SMB payload node3 sent to node1's port 445 (the redirected restore), per second.
    sent = fields(os.path.join(SC, "node3.pcapng"), 'tcp.dstport == 445 && tcp.len > 0 && frame.interface_name != "storage"',
                  "frame.time_epoch", "tcp.len")
    redirected = collections.defaultdict(float)
    for ts, ln in sent:
        redirected[int(float(ts))] += int(ln)
    start, end = min(redirected), max(redirected) + 1
    for node in ("node1", "node3"):
        t0, t1, rate = per_second(node)
        perfmon(node, t0, t1, rate, redirected if node == "node3" else {})
    iso = lambda ts: datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    ev = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-FailoverClustering' "
          "Guid='{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}'/><EventID>5121</EventID><Version>0</Version><Level>2</Level><Task>38</Task>"
          "<Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='%s'/><EventRecordID>4211</EventRecordID>"
          "<Correlation/><Execution ProcessID='3868' ThreadID='5132'/><Channel>System</Channel><Computer>node3.lab.local</Computer>"
          "<Security UserID='S-1-5-18'/></System><EventData><Data Name='VolumeName'>Volume1</Data><Data Name='ResourceName'>Cluster Disk 1</Data>"
          "<Data Name='ErrorCode'>2</Data></EventData></Event>") % iso(start + 0.0123)
    with open(os.path.join(SC, "FailoverClustering-node3.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<Events>\n' + ev + "\n</Events>\n")
    gmt = lambda ts: datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y/%m/%d-%H:%M:%S.%f")[:-3]
    log = [
        "[=== Microsoft-Windows-FailoverClustering/Diagnostic ===]", "",
        f"00000f1c.00001f08::{gmt(start + 0.004)} INFO  [DCM] Volume1: metadata operation from node3 (non-owner), owner is node1",
        f"00000f1c.00001f08::{gmt(start + 0.011)} WARN  [DCM] Volume1: CSV state change on node3: Direct -> FileSystemRedirected",
        f"00000f1c.00001f08::{gmt(start + 0.012)} INFO  [DCM] Volume1: IO is now redirected over SMB to the coordinator node1",
        f"00000f1c.00001f08::{gmt(end + 0.020)} INFO  [DCM] Volume1: CSV state change on node3: FileSystemRedirected -> Direct",
    ]
    with open(os.path.join(SC, "node3_cluster.log"), "w", newline="") as f:
        f.write("\r\n".join(log) + "\r\n")
    print(f"restore window {start}..{end} ({end - start} s); wrote perfmon-node1/3.csv, FailoverClustering-node3.xml, node3_cluster.log")


if __name__ == "__main__":
    main()
