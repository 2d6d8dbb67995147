#!/usr/bin/env python3
"""Randomised Hyper-V cluster scenarios for hvsleuth (issue 12): real Samba, real Linux
TCP, network namespaces, NetFT-style UDP 3343 tunnelling through a TUN device.

Usage (as root):
  samples/lab/random_lab.py SEED [-o OUTDIR] [--snaplen-max N] [--plan]
  samples/lab/lab.sh --random SEED [...]          (the same)

  SEED            integer; the same seed gives the same plan (names, addressing, incidents,
                  sizes); bytes and timings differ per run (real TCP, random data)
  -o OUTDIR       where the scenario goes (default samples/generated/seed-SEED)
  --snaplen-max   cap the random snaplen (the committed scenarios use 256: small files)
  --plan          print the plan as JSON and exit (no root needed)

What is randomised, from the seed: 2-6 nodes with invented names, 2-4 networks (IPv4-only,
IPv6-only or dual-stack; random subnets, interface aliases, 1 or 10 Mbit/s links standing
for 1/10 GbE), which networks carry heartbeats (cluster_role none has none), the heartbeat
cadence (1 s or 2 s), the NetFT tunnel network, per capture: snaplen (96-65535, log-uniform),
gzip or not, a clock offset or not; capture files named by node or not; a Hyper-V host
(SOFS client) or not; a random subset of incidents:
  restore-flood   non-owner node writes a "restore" to the CSV owner as parallel SMB sessions,
                  one per network (Multichannel stand-in) -- management included (HVS001)
  lm-wrong-net    live migration (TCP 6600) on a network not meant for it (HVS004)
  sofs-non-owner  a host writes to a SOFS node that does not own the CSV, which forwards the
                  same bytes to the owner (over the NetFT tunnel or the cluster network) (HVS003)
  isolation-x3    a node loses every link three times, each longer than 10 heartbeats (HVS006)
  saturation      a bulk TCP transfer fills the management link while RDP/WinRM stall (HVS002)
Always present: heartbeats, GUM (TCP 3343), RDP and WinRM stand-ins from an admin workstation
to every node, usually some healthy redirected IO through the NetFT tunnel and healthy SOFS IO.

Writes OUTDIR/: the captures, inventory.toml (hvsleuth's format), scenario.json (the plan and
what was done, with times), timeline.txt, then runs random_truth.py -> truth.json.
Namespaces are hvr<seed>-*; everything is removed on exit.
"""

import argparse
import gzip
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

LAB = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(LAB))
PY = sys.executable
SMBUSER, SMBPASS = "hvlab", "Lab-Passw0rd!"
MBIT = 1_000_000

WORDS = ["orca", "kestrel", "basalt", "juniper", "tundra", "quasar", "falcon", "cedar", "onyx",
         "mistral", "harbor", "vega", "lynx", "summit", "argon", "ember", "fjord", "granite",
         "helix", "ibis", "jasper", "koala", "lotus", "magma", "nimbus", "opal", "pike", "quartz",
         "raven", "sable", "topaz", "umber", "viper", "walnut", "yarrow", "zephyr"]
NAME_STYLES = ["HV-{W}-{n:02d}", "{w}{n}", "{W}", "PRD{n:02d}{W}", "s{n:03d}{w}", "{W}-N{n}"]
MGMT_NAMES = ["Management", "Mgmt", "Public", "Corp", "Client", "Admin LAN"]
NET_NAMES = {"cluster": ["Cluster", "Cluster Network 2", "CSV", "Heartbeat", "Private"],
             "lm": ["LiveMigration", "LM", "Migration", "VMotion-ish"],
             "storage": ["Storage", "SMB", "SOFS", "iSCSI", "Backend"],
             "backup": ["Backup", "Replica", "Archive"]}
MGMT_ALIASES = ["Management", "mgmt0", "vEthMgmt", "Public", "LAN", "Ethernet"]
ALIASES = ["SMB1", "SMB2", "Cluster", "CSV", "LiveMig", "Storage", "iSCSI-A", "slot2p1", "NIC3",
           "HB", "Backend", "Ethernet2", "Ethernet3", "pci4p0", "team1", "Replica"]
INCIDENTS = {"restore-flood": "HVS001", "lm-wrong-net": "HVS004", "sofs-non-owner": "HVS003",
             "isolation-x3": "HVS006", "saturation": "HVS002"}


# ------------------------------------------------------------------------- the plan
def make_plan(seed, snaplen_max=65535):
    rng = random.Random(seed)
    nnodes, nnets = rng.randint(2, 6), rng.randint(2, 4)
    cadence = rng.choice([1, 2])
    style = rng.choice(NAME_STYLES)
    words = rng.sample(WORDS, nnodes + 1)
    nums = rng.sample(range(1, 99), nnodes + 1)

    def name(i):
        w = words[i]
        return style.format(w=w, W=w.upper(), n=nums[i])[:15]

    # networks
    kinds = ["mgmt"] + rng.sample(["cluster", "lm", "storage", "backup"], nnets - 1)
    used4, used6, nets = set(), set(), []
    aliases = rng.sample(ALIASES, nnets - 1)
    for k, kind in enumerate(kinds):
        fam = rng.choices(["v4", "v6", "dual"], weights=[4, 2, 4])[0]
        while True:
            v4 = rng.choice([f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24",
                             f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.0/24",
                             f"192.168.{rng.randint(0, 255)}.0/24"])
            if v4 not in used4:
                used4.add(v4)
                break
        while True:
            v6 = f"fd{rng.randint(0, 255):02x}:{rng.randint(0, 65535):x}:{rng.randint(0, 65535):x}:{rng.randint(1, 65535):x}::/64"
            if v6 not in used6:
                used6.add(v6)
                break
        if kind == "mgmt":
            n = dict(name=rng.choice(MGMT_NAMES), alias=rng.choice(MGMT_ALIASES), rate=1 * MBIT,
                     cluster_role="cluster-and-client", intended=["management", "cluster"])
        else:
            role = {"cluster": "cluster-only", "lm": "cluster-only", "storage": "cluster-and-client",
                    "backup": "none"}[kind]
            intended = {"cluster": ["cluster", "redirected-io"], "lm": ["live-migration", "cluster"],
                        "storage": ["storage", "cluster"], "backup": ["storage"]}[kind]
            n = dict(name=rng.choice(NET_NAMES[kind]), alias=aliases[k - 1],
                     rate=rng.choice([1, 10]) * MBIT if kind != "cluster" else 1 * MBIT,
                     cluster_role=role, intended=list(intended))
        n.update(kind=kind, v4=v4 if fam in ("v4", "dual") else None,
                 v6=v6 if fam in ("v6", "dual") else None)
        nets.append(n)
    # unique network names
    seen = set()
    for n in nets:
        while n["name"] in seen:
            n["name"] += "-2"
        seen.add(n["name"])
    # management sometimes not a cluster network (no heartbeats there)
    if len(nets) > 1 and any(n["cluster_role"] != "none" for n in nets[1:]) and rng.random() < 0.25:
        nets[0]["cluster_role"] = "none"
        nets[0]["intended"] = ["management"]
    if not any(n["cluster_role"] != "none" for n in nets):
        nets[1]["cluster_role"] = "cluster-only"
        nets[1]["intended"].append("cluster")
    for n in nets:
        n["heartbeats"] = n["cluster_role"] != "none"
        n["hb_family"] = 6 if n["v6"] and (not n["v4"] or rng.random() < 0.5) else 4
    # live migration intended on cluster/lm networks; else on the first non-management one
    if not any("live-migration" in n["intended"] for n in nets):
        c = next((n for n in nets if n["kind"] == "cluster"), nets[1])
        c["intended"].append("live-migration")
    # NetFT tunnel: the cluster network if any, else the first heartbeat network (IPv4 inside)
    tnet = next((n for n in nets if n["kind"] == "cluster" and n["heartbeats"]),
                next((n for n in nets[1:] if n["heartbeats"]), nets[0]))
    tunnel = dict(net=tnet["name"], family=tnet["hb_family"])

    # machines
    hostnos = rng.sample(range(2, 250), nnodes + 2)
    macs = set()

    def mac():
        while True:
            m = "02:" + ":".join(f"{rng.randint(0, 255):02x}" for _ in range(5))
            if m not in macs:
                macs.add(m)
                return m

    def iface(net, hn):
        return dict(net=net["name"], alias=net["alias"], mac=mac(),
                    v4=net["v4"].rsplit(".", 1)[0] + f".{hn}" if net["v4"] else None,
                    v6=net["v6"].split("::")[0] + f"::{hn:x}" if net["v6"] else None)

    machines = []
    for i in range(nnodes):
        hn = hostnos[i]
        machines.append(dict(name=name(i), kind="node", hostno=hn, netft=f"169.254.{rng.randint(1, 254)}.{hn}",
                             ifaces=[iface(n, hn) for n in nets]))
    nodes = [m["name"] for m in machines]
    csvs = [dict(name=f"{rng.choice(['CSV', 'Volume', 'ClusterDisk'])}{k + 1}", owner=nodes[k],
                 share=f"{rng.choice(['vd', 'csv', 'vol', 'vms'])}{k + 1:02d}") for k in range(nnodes)]
    # incidents
    k = rng.choice([0, 0, 1, 1, 1, 2])
    incidents = sorted(rng.sample(sorted(INCIDENTS), k))
    storage_net = next((n for n in nets[1:] if n["kind"] in ("storage", "backup")), None)
    want_host = "sofs-non-owner" in incidents or rng.random() < 0.5
    if want_host:
        if storage_net is None:
            storage_net = nets[-1]
        if storage_net["cluster_role"] == "cluster-only":
            storage_net["cluster_role"] = "cluster-and-client"
        if "storage" not in storage_net["intended"]:
            storage_net["intended"].append("storage")
        hn = hostnos[nnodes]
        machines.append(dict(name=name(nnodes), kind="host", hostno=hn,
                             ifaces=[iface(nets[0], hn), iface(storage_net, hn)]))
    machines.append(dict(name="ADMIN-WS", kind="admin", hostno=hostnos[nnodes + 1],
                         ifaces=[iface(nets[0], hostnos[nnodes + 1])]))

    # captures: every node, the host half of the time, never the admin workstation
    by_node = rng.random() < 0.5
    order = list(range(1, len(machines) + 1))
    rng.shuffle(order)
    fname_style = rng.choice(["trace{k:02d}", "cap-{x}", "{k}_netsh", "pkt{x}"])
    for i, m in enumerate(machines):
        if m["kind"] == "admin" or (m["kind"] == "host" and rng.random() < 0.5):
            m["capture"] = None
            continue
        snap = int(math.exp(rng.uniform(math.log(96), math.log(65535))))
        snap = max(96, min(snap, snaplen_max))
        gz = rng.random() < 0.4
        base = (m["name"].lower() + rng.choice(["", "_trace", "-cap"]) if by_node
                else fname_style.format(k=order[i], x=f"{rng.getrandbits(24):06x}"))
        m["capture"] = dict(file=base + ".pcapng" + (".gz" if gz else ""), snaplen=snap, gzip=gz,
                            offset_s=round(rng.uniform(-3, 3), 3) if rng.random() < 0.35 else 0.0)

    # events: (start is decided at run time, one after the other)
    def pick2():
        a, b = rng.sample(nodes, 2)
        return a, b

    def csv_of(owner):
        return next(c for c in csvs if c["owner"] == owner)

    events = []
    if rng.random() < 0.8:
        a, b = pick2()
        events.append(dict(kind="netft-redirect", src=a, dst=b, share=csv_of(b)["share"],
                           bytes=rng.randint(128, 384) * 1024, incident=None))
    host = next((m for m in machines if m["kind"] == "host"), None)
    if host:
        o = rng.choice(nodes)
        events.append(dict(kind="sofs-direct", src=host["name"], dst=o, share=csv_of(o)["share"],
                           net=storage_net["name"], bytes=rng.randint(128, 384) * 1024, incident=None))
    for inc in incidents:
        if inc == "restore-flood":
            a, b = pick2()
            events.append(dict(kind="restore-flood", src=a, dst=b, share=csv_of(b)["share"],
                               nets=[n["name"] for n in nets], bytes_per_net=1_300_000, incident=inc))
        elif inc == "lm-wrong-net":
            a, b = pick2()
            wrong = [n["name"] for n in nets if "live-migration" not in n["intended"]]
            events.append(dict(kind="lm-tcp", src=a, dst=b, net=rng.choice(wrong), bytes=1_500_000,
                               incident=inc))
        elif inc == "sofs-non-owner":
            a, b = pick2()
            events.append(dict(kind="sofs-non-owner", src=host["name"], via=a, dst=b,
                               share=csv_of(b)["share"], net=storage_net["name"],
                               forward=rng.choice(["netft", "physical"]), bytes=1_200_000, incident=inc))
        elif inc == "isolation-x3":
            events.append(dict(kind="isolation", node=rng.choice(nodes), outages=3,
                               outage_s=10 * cadence + 3, gap_s=4, incident=inc))
        elif inc == "saturation":
            a, b = pick2()
            events.append(dict(kind="saturation", src=a, dst=b, net=nets[0]["name"], port=9000,
                               bytes=1_700_000, incident=inc))
    rng.shuffle(events)
    return dict(seed=seed, cadence_s=cadence, networks=nets, machines=machines, csv=csvs,
                tunnel=tunnel, incidents=incidents, events=events,
                live_migration_networks=[n["name"] for n in nets if "live-migration" in n["intended"]])


# ------------------------------------------------------------------------- helpers
def net_of(plan, name):
    return next(n for n in plan["networks"] if n["name"] == name)


def mach(plan, name):
    return next(m for m in plan["machines"] if m["name"] == name)


def if_on(m, netname):
    return next((i for i in m["ifaces"] if i["net"] == netname), None)


def addr_on(m, netname, prefer=None):
    i = if_on(m, netname)
    if prefer == 6 and i["v6"]:
        return i["v6"]
    if prefer == 4 and i["v4"]:
        return i["v4"]
    return i["v4"] or i["v6"]


def est_s(nbytes, rate):
    return nbytes * 8 / rate * 1.35 + 2.5


def event_duration(plan, e):
    k = e["kind"]
    if k == "netft-redirect":
        return est_s(e["bytes"] * 1.05, net_of(plan, plan["tunnel"]["net"])["rate"])
    if k == "sofs-direct":
        return est_s(e["bytes"], net_of(plan, e["net"])["rate"])
    if k == "restore-flood":
        return max(est_s(e["bytes_per_net"], n["rate"]) for n in plan["networks"])
    if k == "lm-tcp":
        return est_s(e["bytes"], net_of(plan, e["net"])["rate"])
    if k == "sofs-non-owner":
        return est_s(e["bytes"] * 1.1, min(net_of(plan, e["net"])["rate"], 1 * MBIT))
    if k == "isolation":
        return e["outages"] * (e["outage_s"] + e["gap_s"]) + 2
    if k == "saturation":
        return est_s(e["bytes"], net_of(plan, e["net"])["rate"])
    raise ValueError(k)


# ------------------------------------------------------------------------- running it
class Lab:
    def __init__(self, plan, out):
        self.plan, self.out = plan, out
        self.pre = f"hvr{plan['seed'] % 100000}"
        self.work = tempfile.mkdtemp(prefix=f"hvrlab.{plan['seed']}.")
        os.chmod(self.work, 0o755)  # smbd writes the shares as the SMB user
        self.procs, self.caps, self.timeline = [], [], []
        self.t0 = None
        self.lock = threading.Lock()

    def ns(self, m):
        return f"{self.pre}-{self.plan['machines'].index(m)}" if isinstance(m, dict) else f"{self.pre}-{m}"

    def sh(self, *cmd, check=True):
        r = subprocess.run(list(cmd), capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
        return r

    def nx(self, m, *cmd, check=True):
        return self.sh("ip", "netns", "exec", self.ns(m), *cmd, check=check)

    def spawn(self, m, *cmd, log=None, capture=False):
        f = open(log or os.devnull, "a")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(m), *cmd], stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        (self.caps if capture else self.procs).append(p)
        return p

    def rel(self):
        return time.time() - self.t0

    def note(self, line):
        with self.lock:
            self.timeline.append(line)

    # --- topology
    def up(self):
        sw = self.ns("sw")
        self.sh("ip", "netns", "add", sw)
        self.nx("sw", "ip", "link", "set", "lo", "up")
        self.nx("sw", "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        for k, n in enumerate(self.plan["networks"]):
            self.nx("sw", "ip", "link", "add", f"br{k}", "type", "bridge", "forward_delay", "0", "stp_state", "0",
                    "mcast_snooping", "0")
            self.nx("sw", "ip", "link", "set", f"br{k}", "up")
        for mi, m in enumerate(self.plan["machines"]):
            n = self.ns(m)
            self.sh("ip", "netns", "add", n)
            self.nx(m, "ip", "link", "set", "lo", "up")
            self.nx(m, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
            for i in m["ifaces"]:
                k = [x["name"] for x in self.plan["networks"]].index(i["net"])
                net = self.plan["networks"][k]
                port = f"m{mi}n{k}"
                self.sh("ip", "link", "add", "name", i["alias"], "netns", n, "type", "veth", "peer", "name", port,
                        "netns", sw)
                self.nx(m, "ip", "link", "set", i["alias"], "address", i["mac"])
                self.nx("sw", "ip", "link", "set", port, "master", f"br{k}", "up")
                self.nx(m, "ip", "link", "set", i["alias"], "up")
                if i["v4"]:
                    self.nx(m, "ip", "addr", "add", i["v4"] + "/24", "dev", i["alias"])
                if i["v6"]:
                    self.nx(m, "ip", "addr", "add", i["v6"] + "/64", "dev", i["alias"], "nodad")
                rate = f"{net['rate'] // MBIT}mbit"
                burst = "12500" if net["rate"] >= 10 * MBIT else "3000"
                for where, dev in ((m, i["alias"]), ("sw", port)):
                    self.nx(where, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)
                    self.nx(where, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", burst,
                            "latency", "150ms")
                i["_port"] = port

    def down(self):
        for p in self.procs + self.caps:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.5)
        r = self.sh("ip", "netns", "list", check=False)
        for line in r.stdout.splitlines():
            n = line.split()[0] if line.split() else ""
            if n.startswith(self.pre + "-"):
                self.sh("ip", "netns", "del", n, check=False)

    # --- samba
    def smbd(self, m):
        d = os.path.join(self.work, "smb-" + m["name"])
        for s in ["private", "lock", "state", "cache", "run", "ncalrpc"] + [c["share"] for c in self.plan["csv"]]:
            os.makedirs(os.path.join(d, s), exist_ok=True)
        for c in self.plan["csv"]:
            os.chmod(os.path.join(d, c["share"]), 0o777)
        shares = "".join(f"[{c['share']}]\n  path = {d}/{c['share']}\n  read only = no\n" for c in self.plan["csv"])
        conf = f"""[global]
  netbios name = {m['name'][:15]}
  workgroup = LAB
  server role = standalone server
  bind interfaces only = no
  server min protocol = SMB3_11
  server multi channel support = yes
  smb2 max write = 1048576
  smb ports = 445
  disable netbios = yes
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  passdb backend = tdbsam:{d}/private/passdb.tdb
  private dir = {d}/private
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/run
  ncalrpc dir = {d}/ncalrpc
  log file = {d}/log.smbd
  log level = 0
{shares}"""
        with open(os.path.join(d, "smb.conf"), "w") as f:
            f.write(conf)
        subprocess.run(["pdbedit", "-s", f"{d}/smb.conf", "-a", "-u", SMBUSER, "-t"],
                       input=f"{SMBPASS}\n{SMBPASS}\n", capture_output=True, text=True, check=True)
        self.spawn(m, "smbd", "--foreground", "--no-process-group", "-s", f"{d}/smb.conf", log=f"{d}/stdout")
        for _ in range(100):
            if self.nx(m, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/445", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"smbd on {m['name']} did not come up")

    def client_conf(self):
        d = os.path.join(self.work, "client")
        for s in ("lock", "state", "cache", "private"):
            os.makedirs(os.path.join(d, s), exist_ok=True)
        with open(os.path.join(d, "smb.conf"), "w") as f:
            f.write(f"[global]\n  client min protocol = SMB3_11\n  client max protocol = SMB3_11\n"
                    f"  disable netbios = yes\n  lock directory = {d}/lock\n  state directory = {d}/state\n"
                    f"  cache directory = {d}/cache\n  private dir = {d}/private\n")
        self.cconf = os.path.join(d, "smb.conf")

    def smb_put(self, src, server, addr, share, nbytes, what):
        path = os.path.join(self.work, f"f{random.getrandbits(32):08x}")
        with open(path, "wb") as f:
            f.write(os.urandom(nbytes))
        t = self.rel()
        r = self.nx(mach(self.plan, src), "smbclient", f"//{server}/{share}", "-I", addr, "-p", "445",
                    "-U", f"{SMBUSER}%{SMBPASS}", "-s", self.cconf, "-m", "SMB3_11", "-t", "120",
                    "-c", f"put {path} {os.path.basename(path)}.vhdx", check=False)
        ok = r.returncode == 0
        self.note(dict(t_from=round(t, 2), t_to=round(self.rel(), 2), what=what, src=src, server=server, addr=addr,
                       share=share, bytes=nbytes, ok=ok))
        if not ok:
            print(f"smbclient {src} -> {addr}: {r.stdout[-300:]} {r.stderr[-300:]}", file=sys.stderr)

    # --- captures
    def capture_start(self):
        for m in self.plan["machines"]:
            c = m.get("capture")
            if not c:
                continue
            args = []
            for i in m["ifaces"]:
                args += ["-i", i["alias"], "-f", f"ether host {i['mac']} or ether multicast"]
            c["_raw"] = os.path.join(self.work, f"raw-{self.plan['machines'].index(m)}.pcapng")
            self.spawn(m, "dumpcap", "-q", "-p", "-s", str(c["snaplen"]), *args, "-w", c["_raw"],
                       log=c["_raw"] + ".log", capture=True)
        time.sleep(2)

    def capture_stop(self):
        time.sleep(1)
        for p in self.caps:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        for p in self.caps:
            p.wait(timeout=30)
        os.makedirs(self.out, exist_ok=True)
        for m in self.plan["machines"]:
            c = m.get("capture")
            if not c:
                continue
            src = c["_raw"]
            if c["offset_s"]:
                shifted = src + ".shifted.pcapng"
                self.sh("editcap", "-t", str(c["offset_s"]), src, shifted)
                src = shifted
            dst = os.path.join(self.out, c["file"])
            if c["gzip"]:
                with open(src, "rb") as fi, gzip.open(dst, "wb", compresslevel=6) as fo:
                    shutil.copyfileobj(fi, fo)
            else:
                shutil.copyfile(src, dst)

    # --- background traffic
    def background(self, dur):
        plan, t0 = self.plan, f"{self.t0:.3f}"
        nodes = [m for m in plan["machines"] if m["kind"] == "node"]
        tnet = plan["tunnel"]["net"]
        tfam = plan["tunnel"]["family"]
        iso = {e["node"]: e for e in plan["events"] if e["kind"] == "isolation"}
        for idx, m in enumerate(nodes):
            args = ["--node-id", str(idx + 1), "--interval", str(plan["cadence_s"]), "--t0", t0,
                    "--duration", str(dur), "--tun", "netft", "--tun-addr", m["netft"] + "/16",
                    "--tunnel-local", addr_on(m, tnet, tfam)]
            for p in nodes:
                if p is m:
                    continue
                args += ["--route", f"{p['netft']}={addr_on(p, tnet, tfam)}"]
                for n in plan["networks"]:
                    if n["heartbeats"]:
                        args += ["--hb", f"{addr_on(m, n['name'], n['hb_family'])},{addr_on(p, n['name'], n['hb_family'])}"]
            if m["name"] in iso:
                for s, d in iso[m["name"]]["_mutes"]:
                    args += ["--mute", f"{s}:{d}"]
            self.spawn(m, PY, os.path.join(LAB, "netft.py"), "node", *args, log=os.path.join(self.work, "netft.log"))
        tr = os.path.join(LAB, "labtraffic.py")
        mg = plan["networks"][0]["name"]
        gum_net = tnet
        for m in nodes:
            self.spawn(m, PY, tr, "gum-server", "--addr", addr_on(m, gum_net), "--t0", t0, "--duration", str(dur))
            self.spawn(m, PY, tr, "rdp-server", "--addr", addr_on(m, mg), "--t0", t0, "--duration", str(dur))
            self.spawn(m, PY, tr, "winrm-server", "--addr", addr_on(m, mg), "--t0", t0, "--duration", str(dur))
        self.spawn(nodes[0], PY, tr, "gum-client", "--t0", t0, "--duration", str(dur - 1),
                   *sum((["--peer", addr_on(p, gum_net)] for p in nodes[1:]), []))
        admin = next(m for m in plan["machines"] if m["kind"] == "admin")
        for m in nodes:
            self.spawn(admin, PY, tr, "rdp-client", "--server", addr_on(m, mg), "--t0", t0, "--duration", str(dur - 1),
                       "--log", os.path.join(self.work, f"rdp-{m['name']}.log"))
        self.spawn(admin, PY, tr, "winrm-client", "--t0", t0, "--duration", str(dur - 1),
                   *sum((["--target", addr_on(m, mg)] for m in nodes), []))

    # --- events
    def run_event(self, e):
        plan = self.plan
        k = e["kind"]
        if k == "netft-redirect":
            self.smb_put(e["src"], e["dst"], mach(plan, e["dst"])["netft"], e["share"], e["bytes"],
                         "redirected IO via NetFT (SMB to the owner's 169.254 address)")
        elif k == "sofs-direct":
            self.smb_put(e["src"], "SOFS", addr_on(mach(plan, e["dst"]), e["net"]), e["share"], e["bytes"],
                         "SOFS IO to the CSV owner")
        elif k == "restore-flood":
            th = []
            for n in e["nets"]:
                addr = addr_on(mach(plan, e["dst"]), n, random.choice([4, 6]))
                th.append(threading.Thread(target=self.smb_put, args=(e["src"], e["dst"], addr, e["share"],
                                                                      e["bytes_per_net"], f"restore channel on {n}")))
            for t in th:
                t.start()
            for t in th:
                t.join()
        elif k == "lm-tcp":
            dst = mach(plan, e["dst"])
            addr = addr_on(dst, e["net"])
            self.spawn(dst, PY, os.path.join(LAB, "labtraffic.py"), "lm-recv", "--addr", addr, "--duration", "120")
            time.sleep(0.5)
            t = self.rel()
            r = self.nx(mach(plan, e["src"]), PY, os.path.join(LAB, "labtraffic.py"), "lm-send", "--peer", addr,
                        "--bytes", str(e["bytes"]), check=False)
            self.note(dict(t_from=round(t, 2), t_to=round(self.rel(), 2), what=f"live migration TCP 6600 on {e['net']}",
                           src=e["src"], dst=e["dst"], addr=addr, bytes=e["bytes"], ok=r.returncode == 0))
        elif k == "sofs-non-owner":
            via = mach(plan, e["via"])
            fwd_addr = (mach(plan, e["dst"])["netft"] if e["forward"] == "netft"
                        else addr_on(mach(plan, e["dst"]), plan["tunnel"]["net"]))
            th = [threading.Thread(target=self.smb_put, args=(e["src"], "SOFS", addr_on(via, e["net"]), e["share"],
                                                              e["bytes"], f"SOFS IO to non-owner {e['via']}")),
                  threading.Thread(target=self.smb_put, args=(e["via"], e["dst"], fwd_addr, e["share"], e["bytes"],
                                                              f"{e['via']} forwards to owner ({e['forward']})"))]
            for t in th:
                t.start()
            for t in th:
                t.join()
        elif k == "isolation":
            sw, m = "sw", mach(plan, e["node"])
            for s, d in e["_mutes"]:
                self.until(e["_start"] + s - e["_start_rel0"])
                self.note(dict(t_from=round(self.rel(), 2), what=f"{e['node']} links down", node=e["node"]))
                t = self.rel()
                for i in m["ifaces"]:
                    self.nx(sw, "ip", "link", "set", i["_port"], "down")
                self.until(t + d)
                for i in m["ifaces"]:
                    self.nx(sw, "ip", "link", "set", i["_port"], "up")
                self.note(dict(t_from=round(t, 2), t_to=round(self.rel(), 2), what=f"{e['node']} links down/up",
                               node=e["node"]))
        elif k == "saturation":
            dst = mach(plan, e["dst"])
            addr = addr_on(dst, e["net"])
            self.spawn(dst, PY, os.path.join(LAB, "netft.py"), "bulk-recv", "--addr", addr, "--port", str(e["port"]))
            time.sleep(0.5)
            t = self.rel()
            r = self.nx(mach(plan, e["src"]), PY, os.path.join(LAB, "netft.py"), "bulk-send", "--peer", addr,
                        "--port", str(e["port"]), "--bytes", str(e["bytes"]), check=False)
            self.note(dict(t_from=round(t, 2), t_to=round(self.rel(), 2), what=f"bulk TCP {e['port']} on {e['net']}",
                           src=e["src"], dst=e["dst"], addr=addr, bytes=e["bytes"], ok=r.returncode == 0))

    def until(self, t):
        d = self.t0 + t - time.time()
        if d > 0:
            time.sleep(d)

    def run(self):
        plan = self.plan
        # schedule: events one after the other from t=3 s, 3 s apart
        t = 3.0
        for e in plan["events"]:
            e["_start"] = t
            if e["kind"] == "isolation":
                e["_start_rel0"] = t
                e["_mutes"] = [(round(t + j * (e["outage_s"] + e["gap_s"]), 1), e["outage_s"])
                               for j in range(e["outages"])]
            t += event_duration(plan, e) + 3
        dur = int(t + 3)
        plan["duration_s"] = dur
        self.up()
        self.client_conf()
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", SMBUSER], capture_output=True)
        for m in plan["machines"]:
            if m["kind"] == "node":
                self.smbd(m)
        self.capture_start()
        self.t0 = time.time() + 4
        self.background(dur)
        for e in plan["events"]:
            self.until(e["_start"])
            self.run_event(e)
        self.until(dur + 1.5)
        self.capture_stop()


def write_inventory(plan, path):
    L = [f"# Generated by samples/lab/random_lab.py, seed {plan['seed']}. Link speeds are the lab's",
         "# rates (1 and 10 Mbit/s standing for 1 and 10 GbE).", f'cluster = "RND-{plan["seed"]}"', ""]
    for n in plan["networks"]:
        L.append("[[networks]]")
        L.append(f'name = "{n["name"]}"')
        if n["v4"]:
            L.append(f'subnet = "{n["v4"]}"')
        if n["v6"]:
            L.append(f'ipv6_subnet = "{n["v6"]}"')
        L.append(f'cluster_role = "{n["cluster_role"]}"')
        L.append("intended_roles = [" + ", ".join(f'"{r}"' for r in n["intended"]) + "]")
        L.append("")
    for kind, table in (("node", "nodes"), ("host", "hosts"), ("admin", "hosts")):
        for m in plan["machines"]:
            if m["kind"] != kind:
                continue
            L.append(f"[[{table}]]")
            L.append(f'name = "{m["name"]}"')
            for i in m["ifaces"]:
                n = net_of(plan, i["net"])
                L.append(f"[[{table}.interfaces]]")
                L.append(f'alias = "{i["alias"]}"')
                L.append(f'network = "{n["name"]}"')
                addrs = ([f'"{i["v4"]}/24"'] if i["v4"] else []) + ([f'"{i["v6"]}/64"'] if i["v6"] else [])
                L.append("addresses = [" + ", ".join(addrs) + "]")
                L.append(f'mac = "{i["mac"]}"')
                L.append(f"link_speed_bps = {n['rate']}")
                L.append("intended_roles = [" + ", ".join(f'"{r}"' for r in n["intended"]) + "]")
                if m.get("capture"):
                    L.append(f'capture = {{ file = "{m["capture"]["file"]}", interface = "{i["alias"]}" }}')
            L.append("")
    for c in plan["csv"]:
        L += ["[[csv]]", f'name = "{c["name"]}"', f'owner = "{c["owner"]}"', f'share = "{c["share"]}"', ""]
    host = next((m for m in plan["machines"] if m["kind"] == "host"), None)
    if host:
        snet = host["ifaces"][1]["net"]
        addrs = []
        for m in plan["machines"]:
            if m["kind"] == "node":
                i = if_on(m, snet)
                addrs += [a for a in (i["v4"], i["v6"]) if a]
        L += ["[[sofs]]", 'name = "SOFS"', "addresses = [" + ", ".join(f'"{a}"' for a in addrs) + "]", ""]
    L += ["[live_migration]", 'transport = "tcp"',
          "networks = [" + ", ".join(f'"{n}"' for n in plan["live_migration_networks"]) + "]", "",
          "[thresholds]", f"heartbeat_delay_s = {float(plan['cadence_s'])}", ""]
    with open(path, "w") as f:
        f.write("\n".join(L))


def public(plan):
    """The plan without run-time scratch keys (those starting with '_' except schedule)."""
    def clean(x):
        if isinstance(x, dict):
            return {k.lstrip("_") if k in ("_start", "_mutes") else k: clean(v) for k, v in x.items()
                    if not k.startswith("_") or k in ("_start", "_mutes")}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    return clean(plan)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("seed", type=int)
    ap.add_argument("-o", "--out")
    ap.add_argument("--snaplen-max", type=int, default=65535)
    ap.add_argument("--plan", action="store_true")
    a = ap.parse_args()
    plan = make_plan(a.seed, a.snaplen_max)
    if a.plan:
        json.dump(plan, sys.stdout, indent=1)
        print()
        return
    if os.geteuid() != 0:
        sys.exit("random_lab.py must run as root (network namespaces)")
    out = os.path.abspath(a.out or os.path.join(REPO, "samples", "generated", f"seed-{a.seed}"))
    if os.path.isdir(out):
        shutil.rmtree(out)
    lab = Lab(plan, out)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    start = time.time()
    try:
        lab.run()
    finally:
        lab.down()
    doc = public(plan)
    doc["done"] = lab.timeline
    doc["generated_by"] = "samples/lab/random_lab.py"
    with open(os.path.join(out, "scenario.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    write_inventory(plan, os.path.join(out, "inventory.toml"))
    with open(os.path.join(out, "timeline.txt"), "w") as f:
        for d in lab.timeline:
            f.write(json.dumps(d) + "\n")
    shutil.rmtree(lab.work, ignore_errors=True)
    subprocess.run([PY, os.path.join(LAB, "random_truth.py"), out], check=True)
    print(f"seed {a.seed}: {out} in {time.time() - start:.0f} s; incidents {plan['incidents'] or 'none'}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
