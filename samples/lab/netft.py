#!/usr/bin/env python3
"""NetFT emulation for the randomised lab (samples/lab/random_lab.py).

  node       one process per cluster node: sends UDP 3343 heartbeats to every peer on
             every heartbeat network (cadence --interval, 1 s or 2 s), and tunnels the
             node's NetFT virtual adapter (a TUN device with a 169.254.0.0/16 address)
             through UDP 3343 datagrams over one physical network, as Windows' NetFT
             carries CSV redirected IO (SMB to the peer's 169.254 address).
  bulk-send  N bytes of random data over TCP to PEER:PORT (the saturation incident).
  bulk-recv  accept one TCP connection on ADDR:PORT and read to EOF.

Datagram payloads (both on UDP 3343 -> 3343, so a port says nothing about which it is):
  heartbeat  b"NFTH" + version, node id, sequence, time, padding: frame is 134 bytes
  tunnel     b"NFTT" + the whole inner IP packet (the TUN MTU, 1400, keeps the outer
             frame <= 1514 bytes)
The magic is ours (real NetFT's format is not public); the ground truth script tells the
two apart by it (`udp.payload[0:4]`). Nothing is sent to an address not given on the
command line, and random_lab.py only gives addresses inside its own namespaces.
"""

import argparse
import fcntl
import os
import select
import socket
import struct
import subprocess
import time

PORT = 3343
HB_MAGIC = b"NFTH"
TUN_MAGIC = b"NFTT"
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
TUN_MTU = 1400


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def open_tun(name, addr):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    # no IPv6 on the virtual adapter: its router solicitations/MLD would go nowhere
    subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1"], check=False)
    subprocess.run(["ip", "addr", "add", addr, "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "mtu", str(TUN_MTU), "up"], check=True)
    return fd


def inner_dst(pkt):
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        return socket.inet_ntop(socket.AF_INET, pkt[16:20])
    return None


def cmd_node(a):
    t0 = a.t0 or time.time()
    end = t0 + a.duration
    mutes = []
    for m in a.mute or []:
        s, d = m.split(":")
        mutes.append((float(s), float(s) + float(d)))
    socks = {}

    def sock_for(local):
        if local not in socks:
            s = socket.socket(fam(local), socket.SOCK_DGRAM)
            s.bind((local, PORT))
            s.setblocking(False)
            socks[local] = s
        return socks[local]

    hb = [tuple(p.split(",")) for p in a.hb or []]
    for local, _ in hb:
        sock_for(local)
    tun = None
    routes = {}
    if a.tun:
        tun = open_tun(a.tun, a.tun_addr)
        for r in a.route or []:
            inner, outer = r.split("=")
            routes[inner] = outer
        sock_for(a.tunnel_local)
    # start-up: wait for t0 while already relaying (SMB may not start before t0 anyway)
    seq = 0
    next_tick = t0
    rlist = list(socks.values()) + ([tun] if tun is not None else [])
    while time.time() < end + a.linger:
        now = time.time()
        if now >= next_tick and now < end:
            rel = now - t0
            if not any(s <= rel < e for s, e in mutes):
                for local, peer in hb:
                    n = 134 - (62 if ":" in local else 42)
                    body = (struct.pack(">4sHHIQ", HB_MAGIC, 1, a.node_id, seq, int(now * 1000))
                            + bytes(range(256)))[:n]
                    try:
                        socks[local].sendto(body, (peer, PORT))
                    except OSError:
                        pass  # link down (isolation incident): nothing leaves
            seq += 1
            next_tick += a.interval
        timeout = max(0.0, min(next_tick if now < end else end + a.linger, end + a.linger) - time.time())
        r, _, _ = select.select(rlist, [], [], min(timeout, 0.5))
        for s in r:
            if s is tun:
                try:
                    pkt = os.read(tun, 65535)
                except OSError:
                    continue
                dst = inner_dst(pkt)
                outer = routes.get(dst)
                if outer is not None:
                    try:
                        socks[a.tunnel_local].sendto(TUN_MAGIC + pkt, (outer, PORT))
                    except OSError:
                        pass
                continue
            try:
                while True:
                    data, _ = s.recvfrom(65535)
                    if tun is not None and data[:4] == TUN_MAGIC:
                        try:
                            os.write(tun, data[4:])
                        except OSError:
                            pass
            except (BlockingIOError, OSError):
                pass


def cmd_bulk_send(a):
    c = socket.create_connection((a.peer, a.port), timeout=60)
    block = os.urandom(65536)
    left = a.bytes
    while left > 0:
        n = min(left, len(block))
        c.sendall(block[:n])
        left -= n
    c.shutdown(socket.SHUT_WR)
    c.settimeout(30)
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()


def cmd_bulk_recv(a):
    s = socket.socket(fam(a.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(4)
    s.settimeout(a.timeout)
    try:
        c, _ = s.accept()
        c.settimeout(60)
        while c.recv(65536):
            pass
        c.close()
    except OSError:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("node")
    s.add_argument("--node-id", type=int, default=1)
    s.add_argument("--hb", action="append", help="LOCAL,PEER heartbeat pair")
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--mute", action="append", help="START:DURATION after t0 without heartbeats")
    s.add_argument("--tun", help="TUN device name (the NetFT virtual adapter)")
    s.add_argument("--tun-addr", help="its address, e.g. 169.254.1.7/16")
    s.add_argument("--tunnel-local", help="physical address the tunnel leaves from")
    s.add_argument("--route", action="append", help="INNER=OUTER: peer's 169.254 address -> its physical one")
    s.add_argument("--t0", type=float, default=0.0)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--linger", type=float, default=3.0, help="keep relaying this long after the heartbeats stop")
    s = sub.add_parser("bulk-send")
    s.add_argument("--peer", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bytes", type=int, required=True)
    s = sub.add_parser("bulk-recv")
    s.add_argument("--addr", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    {"node": cmd_node, "bulk-send": cmd_bulk_send, "bulk-recv": cmd_bulk_recv}[a.cmd](a)


if __name__ == "__main__":
    main()
