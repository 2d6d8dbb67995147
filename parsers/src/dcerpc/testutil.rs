//! Test-only builders for byte-exact DCE/RPC fixtures, written from the specs
//! (C706 ch. 12, MS-RPCE 2.2.2, MS-SWN 2.2 / 3.1.4), and a pcap writer so the
//! same bytes can be checked with tshark.

use super::ndr::Repr;
use super::uuid::{Uuid, known};

pub const PT_REQUEST: u8 = 0;
pub const PT_RESPONSE: u8 = 2;
pub const PT_FAULT: u8 = 3;
pub const PT_BIND: u8 = 11;
pub const PT_BIND_ACK: u8 = 12;
pub const FIRST: u8 = 0x01;
pub const LAST: u8 = 0x02;
pub const FIRST_LAST: u8 = 0x03;

fn u16b(v: u16, le: bool) -> [u8; 2] {
    if le { v.to_le_bytes() } else { v.to_be_bytes() }
}
fn u32b(v: u32, le: bool) -> [u8; 4] {
    if le { v.to_le_bytes() } else { v.to_be_bytes() }
}

/// A whole PDU: 16-byte header (version 5.0, drep 10 00 00 00 or 00 00 00 00)
/// followed by `body`; frag_length computed, auth_length 0.
pub fn pdu(ptype: u8, flags: u8, call_id: u32, le: bool, body: &[u8]) -> Vec<u8> {
    let mut v = vec![5, 0, ptype, flags, if le { 0x10 } else { 0 }, 0, 0, 0];
    v.extend_from_slice(&u16b((16 + body.len()) as u16, le)); // frag_length
    v.extend_from_slice(&u16b(0, le)); // auth_length
    v.extend_from_slice(&u32b(call_id, le));
    v.extend_from_slice(body);
    v
}

/// bind: max_xmit 4280, max_recv 4280, assoc_group 0, then one p_cont_elem
/// per (context id, interface, major, minor) with the NDR 2.0 transfer syntax.
pub fn bind(call_id: u32, le: bool, ctxs: &[(u16, Uuid, u16, u16)]) -> Vec<u8> {
    bind_with(call_id, le, ctxs, known::NDR, 2)
}

/// bind offering `transfer` v`tver` (e.g. NDR64 v1) for every context.
pub fn bind_with(
    call_id: u32,
    le: bool,
    ctxs: &[(u16, Uuid, u16, u16)],
    transfer: Uuid,
    tver: u32,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u16b(4280, le));
    b.extend_from_slice(&u16b(4280, le));
    b.extend_from_slice(&u32b(0, le));
    b.extend_from_slice(&[ctxs.len() as u8, 0, 0, 0]); // n_context_elem, reserved
    for &(id, iface, maj, min) in ctxs {
        b.extend_from_slice(&u16b(id, le));
        b.extend_from_slice(&[1, 0]); // n_transfer_syn, reserved
        b.extend_from_slice(&iface.to_wire(le));
        b.extend_from_slice(&u16b(maj, le));
        b.extend_from_slice(&u16b(min, le));
        b.extend_from_slice(&transfer.to_wire(le));
        b.extend_from_slice(&u32b(tver, le));
    }
    pdu(PT_BIND, FIRST_LAST, call_id, le, &b)
}

/// bind_ack: max frags 4280, assoc_group 0x1234, sec_addr (with its NUL),
/// pad to 4 (from PDU start), then one p_result per entry with NDR 2.0.
pub fn bind_ack(call_id: u32, le: bool, sec_addr: &[u8], results: &[u16]) -> Vec<u8> {
    bind_ack_with(call_id, le, sec_addr, results, known::NDR, 2)
}

/// bind_ack accepting `transfer` v`tver`.
pub fn bind_ack_with(
    call_id: u32,
    le: bool,
    sec_addr: &[u8],
    results: &[u16],
    transfer: Uuid,
    tver: u32,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u16b(4280, le));
    b.extend_from_slice(&u16b(4280, le));
    b.extend_from_slice(&u32b(0x1234, le));
    b.extend_from_slice(&u16b(sec_addr.len() as u16, le));
    b.extend_from_slice(sec_addr);
    while (16 + b.len()) % 4 != 0 {
        b.push(0);
    }
    b.extend_from_slice(&[results.len() as u8, 0, 0, 0]);
    for &r in results {
        b.extend_from_slice(&u16b(r, le)); // result
        b.extend_from_slice(&u16b(0, le)); // reason
        if r == 0 {
            b.extend_from_slice(&transfer.to_wire(le));
            b.extend_from_slice(&u32b(tver, le));
        } else {
            b.extend_from_slice(&[0; 20]);
        }
    }
    pdu(PT_BIND_ACK, FIRST_LAST, call_id, le, &b)
}

/// request: alloc_hint (= stub length of the whole call), context id, opnum, stub.
pub fn request(
    call_id: u32,
    le: bool,
    flags: u8,
    ctx: u16,
    opnum: u16,
    alloc: u32,
    stub: &[u8],
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(alloc, le));
    b.extend_from_slice(&u16b(ctx, le));
    b.extend_from_slice(&u16b(opnum, le));
    b.extend_from_slice(stub);
    pdu(PT_REQUEST, flags, call_id, le, &b)
}

/// response: alloc_hint, context id, cancel_count 0, reserved, stub.
pub fn response(call_id: u32, le: bool, flags: u8, ctx: u16, alloc: u32, stub: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(alloc, le));
    b.extend_from_slice(&u16b(ctx, le));
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(stub);
    pdu(PT_RESPONSE, flags, call_id, le, &b)
}

/// fault: alloc_hint 0, context id 0, cancel_count 0, reserved, status, reserved.
pub fn fault(call_id: u32, le: bool, status: u32) -> Vec<u8> {
    let mut b = vec![0; 8];
    b.extend_from_slice(&u32b(status, le));
    b.extend_from_slice(&[0; 4]);
    pdu(PT_FAULT, FIRST_LAST, call_id, le, &b)
}

/// NDR stub writer (alignment relative to the stub start).
pub struct NdrW {
    pub buf: Vec<u8>,
    le: bool,
    ndr64: bool,
    next_ref: u32,
}

impl NdrW {
    pub fn new(repr: impl Into<Repr>) -> Self {
        let r = repr.into();
        NdrW {
            buf: Vec::new(),
            le: r.little_endian,
            ndr64: r.ndr64,
            next_ref: 0x0002_0000,
        }
    }
    /// A conformance/variance count or referent: u32, or u64 in NDR64.
    pub fn count(&mut self, v: u32) -> &mut Self {
        if self.ndr64 {
            self.align(8);
            let b = if self.le {
                u64::from(v).to_le_bytes()
            } else {
                u64::from(v).to_be_bytes()
            };
            self.buf.extend_from_slice(&b);
            self
        } else {
            self.u32(v)
        }
    }
    pub fn align(&mut self, n: usize) -> &mut Self {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.align(4);
        let b = u32b(v, self.le);
        self.buf.extend_from_slice(&b);
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
    /// A referent id like MIDL's (0x00020000, 0x00020004, ...).
    pub fn referent(&mut self) -> &mut Self {
        let r = self.next_ref;
        self.next_ref += 4;
        self.count(r)
    }
    /// `[string, unique] wchar_t*`: referent id, max_count, offset 0,
    /// actual_count (both include the NUL), UTF-16 units; or a NULL pointer.
    pub fn unique_wstring(&mut self, s: Option<&str>) -> &mut Self {
        let Some(s) = s else {
            return self.count(0);
        };
        self.referent();
        let units: Vec<u16> = s.encode_utf16().chain([0]).collect();
        self.count(units.len() as u32)
            .count(0)
            .count(units.len() as u32);
        for u in units {
            let b = u16b(u, self.le);
            self.buf.extend_from_slice(&b);
        }
        self
    }
    /// Context handle: attributes 0 + UUID.
    pub fn handle(&mut self, u: Uuid) -> &mut Self {
        self.u32(0);
        let w = u.to_wire(self.le);
        self.bytes(&w)
    }
}

/// WitnessrRegister (opnum 1) stub.
pub fn register_stub(
    le: impl Into<Repr>,
    version: u32,
    net: &str,
    ip: &str,
    client: &str,
) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.u32(version)
        .unique_wstring(Some(net))
        .unique_wstring(Some(ip))
        .unique_wstring(Some(client));
    w.buf
}

/// WitnessrRegisterEx (opnum 4) stub.
pub fn register_ex_stub(
    le: impl Into<Repr>,
    net: &str,
    share: Option<&str>,
    ip: &str,
    client: &str,
    flags: u32,
    timeout: u32,
) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.u32(0x0002_0000)
        .unique_wstring(Some(net))
        .unique_wstring(share)
        .unique_wstring(Some(ip))
        .unique_wstring(Some(client))
        .u32(flags)
        .u32(timeout);
    w.buf
}

/// Register/RegisterEx response stub: context handle, status.
pub fn registered_stub(le: impl Into<Repr>, handle: Uuid, status: u32) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.handle(handle).u32(status);
    w.buf
}

/// AsyncNotify / UnRegister request stub: the context handle.
pub fn handle_stub(le: impl Into<Repr>, handle: Uuid) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.handle(handle);
    w.buf
}

/// AsyncNotify response stub: referent of *pResp, MessageType, Length,
/// NumberOfMessages, referent of MessageBuffer, conformance (= Length),
/// the buffer, pad to 4, status.
pub fn notify_stub(
    le: impl Into<Repr>,
    msg_type: u32,
    num: u32,
    buffer: &[u8],
    status: u32,
) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.referent()
        .u32(msg_type)
        .u32(buffer.len() as u32)
        .u32(num)
        .referent()
        .count(buffer.len() as u32)
        .bytes(buffer)
        .u32(status);
    w.buf
}

/// RESOURCE_CHANGE (always little-endian): Length (whole message),
/// ChangeType, NUL-terminated UTF-16LE name.
pub fn resource_change(name: &str, change: u32) -> Vec<u8> {
    let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
    let len = 8 + units.len() * 2;
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(&change.to_le_bytes());
    for u in units {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v
}

/// IPADDR_INFO_LIST (little-endian): Length, Reserved 0, IPAddrInstances,
/// IPADDR_INFO { Flags, IPV4 (network order), IPV6 (network order) }.
pub fn ipaddr_list(addrs: &[(u32, [u8; 4], [u8; 16])]) -> Vec<u8> {
    let len = 12 + 24 * addrs.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&(addrs.len() as u32).to_le_bytes());
    for (flags, v4, v6) in addrs {
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(v4);
        v.extend_from_slice(v6);
    }
    v
}

/// A 5-floor TCP tower for `iface` v`major`.`minor` at `ip`:`port`.
pub fn tcp_tower(iface: Uuid, major: u16, minor: u16, port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&5u16.to_le_bytes());
    let mut floor = |lhs: &[u8], rhs: &[u8]| {
        t.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
        t.extend_from_slice(lhs);
        t.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
        t.extend_from_slice(rhs);
    };
    let mut l1 = vec![0x0d];
    l1.extend_from_slice(&iface.to_wire(true));
    l1.extend_from_slice(&major.to_le_bytes());
    floor(&l1, &minor.to_le_bytes());
    let mut l2 = vec![0x0d];
    l2.extend_from_slice(&known::NDR.to_wire(true));
    l2.extend_from_slice(&2u16.to_le_bytes());
    floor(&l2, &0u16.to_le_bytes());
    floor(&[0x0b], &0u16.to_le_bytes());
    floor(&[0x07], &port.to_be_bytes());
    floor(&[0x09], &ip);
    t
}

/// ept_map request stub: object NULL... here a nil object UUID (full pointer),
/// map_tower, entry handle all zero, max_towers 4.
pub fn epm_map_request_stub(le: bool, tower: &[u8]) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.u32(1).bytes(&[0; 16]); // object: referent 1, nil UUID
    w.u32(2); // map_tower referent
    w.u32(tower.len() as u32)
        .u32(tower.len() as u32)
        .bytes(tower);
    w.align(4);
    w.handle(Uuid::NIL).u32(4);
    w.buf
}

/// ept_map response stub: entry handle, num_towers, varying array of tower
/// pointers (max 4, offset 0, actual n), the towers, status 0.
pub fn epm_map_response_stub(le: bool, towers: &[Vec<u8>]) -> Vec<u8> {
    let mut w = NdrW::new(le);
    w.handle(Uuid::NIL).u32(towers.len() as u32);
    w.u32(4).u32(0).u32(towers.len() as u32);
    for _ in towers {
        w.referent();
    }
    for t in towers {
        w.u32(t.len() as u32).u32(t.len() as u32).bytes(t);
        w.align(4);
    }
    w.u32(0);
    w.buf
}

/// One TCP payload of a fixture conversation.
pub struct Seg {
    pub ts_ns: i64,
    /// Client to server?
    pub to_server: bool,
    pub payload: Vec<u8>,
}

/// Writes a classic pcap (Ethernet) with a handshake and the segments of one
/// TCP conversation between 10.0.0.1:`cport` and 10.0.0.5:`sport`.
pub fn pcap_conversation(out: &mut Vec<u8>, cport: u16, sport: u16, segs: &[Seg]) {
    use etherparse::PacketBuilder;
    if out.is_empty() {
        out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let c = [10, 0, 0, 1];
    let s = [10, 0, 0, 5];
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut frame =
        |ts: i64, to_server: bool, flags: (bool, bool), seq: u32, ack: u32, payload: &[u8]| {
            let (src, dst, sp, dp) = if to_server {
                (c, s, cport, sport)
            } else {
                (s, c, sport, cport)
            };
            let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, dst, 64)
                .tcp(sp, dp, seq, 65535);
            if flags.0 {
                b = b.syn();
            }
            if flags.1 {
                b = b.ack(ack);
            }
            let b = b.psh();
            let mut f = Vec::new();
            b.write(&mut f, payload).unwrap();
            out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(((ts % 1_000_000_000) / 1000) as u32).to_le_bytes());
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(&f);
        };
    let t0 = segs.first().map_or(0, |s| s.ts_ns) - 3000;
    frame(t0, true, (true, false), cseq - 1, 0, &[]);
    frame(t0 + 1000, false, (true, true), sseq - 1, cseq, &[]);
    frame(t0 + 2000, true, (false, true), cseq, sseq, &[]);
    for sg in segs {
        if sg.to_server {
            frame(sg.ts_ns, true, (false, true), cseq, sseq, &sg.payload);
            cseq = cseq.wrapping_add(sg.payload.len() as u32);
        } else {
            frame(sg.ts_ns, false, (false, true), sseq, cseq, &sg.payload);
            sseq = sseq.wrapping_add(sg.payload.len() as u32);
        }
    }
}

/// One WITNESS_INTERFACE_INFO: (group name, version, state, IPv4, IPv6, flags).
pub type IfInfo = (&'static str, u32, u16, [u8; 4], [u8; 16], u32);

/// GetInterfaceList response stub: referent, NumberOfInterfaces, referent,
/// conformance, then per interface: 260-unit UTF-16 group name (NUL padded),
/// version, state (u16 + 2 pad), IPv4, IPv6, flags; status.
pub fn interface_list_stub(le: impl Into<Repr>, ifs: &[IfInfo]) -> Vec<u8> {
    let r = le.into();
    let mut w = NdrW::new(r);
    w.referent()
        .u32(ifs.len() as u32)
        .referent()
        .count(ifs.len() as u32);
    for (name, version, state, v4, v6, flags) in ifs {
        w.align(4);
        let mut units: Vec<u16> = name.encode_utf16().collect();
        units.resize(260, 0);
        for u in units {
            let b = u16b(u, r.little_endian);
            w.bytes(&b);
        }
        w.u32(*version);
        let b = u16b(*state, r.little_endian);
        w.bytes(&b).bytes(&[0, 0]).bytes(v4).bytes(v6).u32(*flags);
    }
    w.u32(0);
    w.buf
}
