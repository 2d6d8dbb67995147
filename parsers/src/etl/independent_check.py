#!/usr/bin/env python3
"""Independent check of the ETL test writer's output (not run by CI).

Writes: HVSLEUTH_ETL_OUT=/tmp/lab.etl cargo test -p hvsleuth-parsers \
            etl::tests::ndis_capture_matches_pcap_packet_for_packet
Checks: python3 -m venv /tmp/v && /tmp/v/bin/pip install dissect.etl etl-parser
        /tmp/v/bin/python independent_check.py /tmp/lab.etl \
            ../../../shared/corpus/zeek/smb3_multichannel.pcap

1. dissect.etl (fox-it) parses the container: buffers, record headers,
   timestamps. We take NDIS-PacketCapture 1001 payloads at LowerIfIndex 7
   (every packet is logged there once), join fragments up to PacketEnd and
   compare with the pcap packet by packet (bytes and timestamps).
2. airbus etl-parser decodes the same events with its own 1001 template.
"""
import struct
import sys

from dissect.etl.etl import ETL

etl_path, pcap_path = sys.argv[1:3]


def pcap(path):
    d = open(path, "rb").read()
    out, o = [], 24
    while o + 16 <= len(d):
        s, us, cl, ol = struct.unpack_from("<IIII", d, o)
        o += 16
        out.append((s * 1_000_000_000 + us * 1000, ol, d[o:o + cl]))
        o += cl
    return out


pk = pcap(pcap_path)
NDIS = bytes.fromhex("6e00d62e29470946b4233ee7bcd678ef")  # GUID as stored
e = ETL(open(etl_path, "rb"))
nbuf = nrec = n1001 = 0
frags, pkts, lowers = b"", [], {}
for b in e.buffers():
    nbuf += 1
    for rec in b:
        nrec += 1
        h = rec.header
        if type(h).__name__ != "EventHeader":
            continue
        if bytes(h.header.ProviderId) != NDIS or h.header.Id != 1001:
            continue
        n1001 += 1
        data = bytes(h.data[:h.size])
        pos = 0x50
        if h.header.Flags & 1:  # extended data items, linked by bit 0
            while True:
                link, ds = struct.unpack_from("<HH", data, pos + 4)
                pos += (8 + ds + 7) & ~7
                if not link & 1:
                    break
        mp, low, fs = struct.unpack_from("<III", data, pos)
        frag = data[pos + 12:pos + 12 + fs]
        lowers[low] = lowers.get(low, 0) + 1
        if low != 7:
            continue
        frags += frag
        if h.header.Keywords & 0x80000000:
            ft = e.get_filetime_for_event(h.time_delta)
            pkts.append(((ft - 116444736000000000) * 100, frags))
            frags = b""
print("dissect.etl: buffers", nbuf, "records", nrec, "ndis1001 events", n1001,
      "per LowerIfIndex", lowers)
assert len(pkts) == len(pk), (len(pkts), len(pk))
bad = sum(1 for (t, d), (pt, ol, pd) in zip(pkts, pk) if d != pd)
dt = max(abs(t - pt) for (t, d), (pt, ol, pd) in zip(pkts, pk))
print("packets", len(pkts), "byte mismatches", bad, "max |ts diff| ns", dt)

from etl.etl import build_from_stream, IEtlFileObserver  # noqa: E402
from etl.parsers.etw.core import build_etw, Guid as EtwGuid  # noqa: E402


class Obs(IEtlFileObserver):
    def __init__(s):
        s.events = s.ndis = s.bytes = s.other = 0
        s.lowers = {}

    def on_system_trace(s, e): s.other += 1
    def on_perfinfo_trace(s, e): s.other += 1
    def on_trace_record(s, e): s.other += 1
    def on_win_trace(s, e): s.other += 1

    def on_event_record(s, e):
        s.events += 1
        # etl-parser 1.0.1's parse_etw trips over construct 2.10's Guid
        # container (AttributeError data1): build the GUID from .inner.
        h = e.source.event_header
        p = h.provider_id.inner
        try:
            w = build_etw(EtwGuid(p.data1, p.data2, p.data3, p.data4),
                          h.event_descriptor.Id, h.event_descriptor.Version,
                          e.source.user_data)
        except Exception:
            return
        if type(w).__name__.startswith("Microsoft_Windows_NDIS_PacketCapture_1001"):
            s.ndis += 1
            s.bytes += w.source.FragmentSize
            low = w.source.LowerIfIndex
            s.lowers[low] = s.lowers.get(low, 0) + 1


o = Obs()
build_from_stream(open(etl_path, "rb").read()).parse(o)
print("etl-parser: event records", o.events, "other records", o.other,
      "NDIS 1001", o.ndis, "fragment bytes", o.bytes, "per LowerIfIndex", o.lowers)
