#!/usr/bin/env python3
"""Emulated traffic generators for the hvsleuth sample lab (samples/lab/lab.sh).

Everything here is an *emulation* of a Windows component, carried by real Linux
sockets (so TCP behaviour, retransmissions and timing are real):

  hb            NetFT heartbeats: UDP 3343 <-> 3343, one datagram per second per
                peer per network, sized so the Ethernet frame is 134 bytes
                (payload 72 bytes over IPv6, 92 bytes over IPv4).
  gum-server    cluster service TCP 3343 listener answering 100-byte replies.
  gum-client    "GUM" request/reply: 200-byte request to every peer every 5 s.
  rdp-server    RDP stand-in on TCP 3389: answers every input message with a
                400-byte "screen update".
  rdp-client    sends a 60-byte "input" every 250 ms and logs the round trip.
  winrm-server  WinRM stand-in: HTTP on TCP 5985, POST /wsman -> ~800-byte reply.
  winrm-client  one ~1.5 KB SOAP POST to each target every 3 s, logs latency.
  lm-recv       live-migration stand-in receiver on TCP 6600 (reads to EOF).
  lm-send       live-migration stand-in sender: N bytes of memory-page-like data.

Every command stops by itself after --duration seconds (or when its work is
done); nothing here sends to any address that is not given on the command line,
and lab.sh only ever gives addresses inside its own network namespaces.
"""

import argparse
import http.client
import http.server
import os
import select
import socket
import socketserver
import struct
import sys
import threading
import time

HB_PORT = 3343
HB_FRAME = 134  # Ethernet frame length of one heartbeat (no FCS)


def start_end(a, linger=0.0):
    """Wait until --t0 (so every generator starts together, whatever its start-up time)
    and return the epoch at which to stop: t0 + duration (+ linger for servers)."""
    t0 = a.t0 or time.time()
    time.sleep(max(0.0, t0 - time.time()))
    return t0 + a.duration + linger


def log(path, line):
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def hb_payload_len(addr):
    # Ethernet 14 + IPv6 40 + UDP 8 = 62; Ethernet 14 + IPv4 20 + UDP 8 = 42
    return HB_FRAME - (62 if ":" in addr else 42)


def parse_mutes(specs):
    out = []
    for s in specs or []:
        a, b = s.split(":")
        out.append((float(a), float(a) + float(b)))
    return out


def cmd_hb(a):
    """Send heartbeats LOCAL->PEER for every --pair, drain what arrives."""
    t0 = a.t0 or time.time()
    mutes = parse_mutes(a.mute)
    socks = {}
    pairs = []
    for p in a.pair:
        local, peer = p.split(",")
        if local not in socks:
            s = socket.socket(family_of(local), socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((local, HB_PORT))
            s.setblocking(False)
            socks[local] = s
        pairs.append((local, peer))
    seq = 0
    node_id = a.node_id
    end = t0 + a.duration
    next_tick = max(time.time(), t0)
    while time.time() < end:
        now = time.time()
        if now >= next_tick:
            rel = now - t0
            muted = any(s <= rel < e for s, e in mutes)
            if not muted:
                for local, peer in pairs:
                    n = hb_payload_len(local)
                    # emulated NetFT header: magic, version, node id, sequence, flags
                    hdr = struct.pack(">4sHHIQ", b"NFTH", 1, node_id, seq, int(now * 1000))
                    body = (hdr + bytes(range(256)))[:n]
                    try:
                        socks[local].sendto(body, (peer, HB_PORT))
                    except OSError:
                        pass  # link down during an outage: nothing leaves
            seq += 1
            next_tick += a.interval
        timeout = max(0.0, min(next_tick, end) - time.time())
        r, _, _ = select.select(list(socks.values()), [], [], timeout)
        for s in r:
            try:
                while True:
                    s.recvfrom(2048)
            except (BlockingIOError, OSError):
                pass


class GumHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(30)
        try:
            while True:
                data = self.request.recv(4096)
                if not data:
                    return
                self.request.sendall(b"GUMR" + b"\x00" * 96)
        except OSError:
            return


class TCPServer6(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve_for(server_cls, addr, port, handler, a):
    """Listen at once, serve until t0 + duration + 3 s (clients stop at t0 + duration)."""
    server_cls.address_family = family_of(addr)
    srv = server_cls((addr, port), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    end = (a.t0 or time.time()) + a.duration + 3
    time.sleep(max(0.0, end - time.time()))
    srv.shutdown()


def cmd_gum_server(a):
    class S(TCPServer6):
        pass

    serve_for(S, a.addr, HB_PORT, GumHandler, a)


def cmd_gum_client(a):
    end = start_end(a)
    conns = {}
    while time.time() < end:
        for peer in a.peer:
            try:
                c = conns.get(peer)
                if c is None:
                    c = socket.create_connection((peer, HB_PORT), timeout=3,
                                                 source_address=(a.source, 0) if a.source else None)
                    c.settimeout(3)
                    conns[peer] = c
                c.sendall(b"GUMQ" + b"\x01" * 196)
                c.recv(4096)
            except OSError:
                try:
                    conns.pop(peer).close()
                except (KeyError, OSError):
                    pass
        time.sleep(max(0.0, min(a.interval, end - time.time())))


class RdpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(60)
        update = b"\x03\x00\x01\x90" + bytes(396)  # TPKT-looking 400-byte update
        try:
            while True:
                data = self.request.recv(4096)
                if not data:
                    return
                for _ in range(max(1, len(data) // 60)):
                    self.request.sendall(update)
        except OSError:
            return


def cmd_rdp_server(a):
    class S(TCPServer6):
        pass

    serve_for(S, a.addr, 3389, RdpHandler, a)


def cmd_rdp_client(a):
    end = start_end(a)
    sock = None
    msg = b"\x03\x00\x00\x3c" + bytes(56)  # 60-byte "input PDU"
    while time.time() < end:
        t = time.time()
        try:
            if sock is None:
                sock = socket.create_connection((a.server, 3389), timeout=5)
                sock.settimeout(5)
            sock.sendall(msg)
            got = 0
            while got < 400:
                d = sock.recv(4096)
                if not d:
                    raise OSError("closed")
                got += len(d)
            log(a.log, f"{t:.3f} rtt_ms={1000 * (time.time() - t):.1f}")
        except OSError as e:
            log(a.log, f"{t:.3f} error={e}")
            try:
                if sock:
                    sock.close()
            except OSError:
                pass
            sock = None
        time.sleep(max(0.0, min(a.interval, end - time.time())))


class WinRmHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
            + b"<s:Body>" + b"x" * 700 + b"</s:Body></s:Envelope>")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def cmd_winrm_server(a):
    class S(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True

    S.address_family = family_of(a.addr)
    srv = S((a.addr, 5985), WinRmHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    end = (a.t0 or time.time()) + a.duration + 3
    time.sleep(max(0.0, end - time.time()))
    srv.shutdown()


def cmd_winrm_client(a):
    end = start_end(a)
    conns = {}
    body = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>'
            + b"h" * 600 + b"</s:Header><s:Body>" + b"b" * 800 + b"</s:Body></s:Envelope>")
    while time.time() < end:
        for target in a.target:
            t = time.time()
            try:
                c = conns.get(target)
                if c is None:
                    c = http.client.HTTPConnection(target, 5985, timeout=8)
                    conns[target] = c
                c.request("POST", "/wsman", body=body,
                          headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
                r = c.getresponse()
                r.read()
                log(a.log, f"{t:.3f} {target} ms={1000 * (time.time() - t):.1f}")
            except (OSError, http.client.HTTPException) as e:
                log(a.log, f"{t:.3f} {target} error={e}")
                try:
                    conns.pop(target).close()
                except (KeyError, OSError):
                    pass
        time.sleep(max(0.0, min(a.interval, end - time.time())))


def cmd_lm_recv(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, 6600))
    s.listen(4)
    s.settimeout(max(1.0, (a.t0 or time.time()) + a.duration - time.time()))
    total = 0
    try:
        c, _ = s.accept()
        c.settimeout(60)
        while True:
            d = c.recv(65536)
            if not d:
                break
            total += len(d)
        c.close()
    except OSError as e:
        print(f"lm-recv: {e}", file=sys.stderr)
    log(a.log, f"received={total}")


def cmd_lm_send(a):
    c = socket.create_connection((a.peer, 6600), timeout=60)
    # memory pages: mostly random, some zero pages (as a VM's RAM would be)
    page = os.urandom(4096)
    block = (page * 12 + bytes(4096) * 4)  # 64 KiB
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
    log(a.log, f"sent={a.bytes}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("hb")
    s.add_argument("--pair", action="append", required=True, help="LOCAL,PEER address pair")
    s.add_argument("--node-id", type=int, default=1)
    s.add_argument("--mute", action="append", help="START:DURATION seconds after t0 without sending")
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("gum-server")
    s.add_argument("--addr", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("gum-client")
    s.add_argument("--peer", action="append", required=True)
    s.add_argument("--source")
    s.add_argument("--interval", type=float, default=5.0)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("rdp-server")
    s.add_argument("--addr", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("rdp-client")
    s.add_argument("--server", required=True)
    s.add_argument("--interval", type=float, default=0.25)
    s.add_argument("--log")
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("winrm-server")
    s.add_argument("--addr", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("winrm-client")
    s.add_argument("--target", action="append", required=True)
    s.add_argument("--interval", type=float, default=3.0)
    s.add_argument("--log")
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("lm-recv")
    s.add_argument("--addr", required=True)
    s.add_argument("--log")
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--t0", type=float, default=0.0, help="start (epoch); clients wait for it")
    s = sub.add_parser("lm-send")
    s.add_argument("--peer", required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--log")
    a = p.parse_args()
    {
        "hb": cmd_hb,
        "gum-server": cmd_gum_server,
        "gum-client": cmd_gum_client,
        "rdp-server": cmd_rdp_server,
        "rdp-client": cmd_rdp_client,
        "winrm-server": cmd_winrm_server,
        "winrm-client": cmd_winrm_client,
        "lm-recv": cmd_lm_recv,
        "lm-send": cmd_lm_send,
    }[a.cmd](a)


if __name__ == "__main__":
    main()
