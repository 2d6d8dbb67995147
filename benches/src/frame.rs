//! Building Ethernet/IPv4/IPv6/TCP/UDP frames with correct lengths and
//! checksums on a simulated clock, and TCP connections that segment messages
//! and acknowledge them like a real sender/receiver pair.

use std::io::{self, Write};
use std::net::IpAddr;

use super::checksum::Csum;
use super::writer::CaptureWriter;

pub const TCP_SYN: u8 = 0x02;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// A network endpoint: MAC and IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub mac: [u8; 6],
    pub ip: IpAddr,
}

/// Longest header we build: Ethernet + IPv6 + TCP with 12 option bytes.
const MAX_HDR: usize = 14 + 40 + 32;

/// Writes frames at the current simulated time and advances the clock by
/// the frame's serialization time on a link of the configured rate.
pub struct Emitter<W: Write> {
    pub w: CaptureWriter<W>,
    start_ns: i64,
    clock_ps: u64,
    ps_per_byte: u64,
    /// Fixed inter-frame gap, in ps.
    gap_ps: u64,
    /// Interfaces are kept (pcapng) or all mapped to 0 (pcap).
    multi_iface: bool,
    ip_id: u16,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: i64,
}

impl<W: Write> Emitter<W> {
    pub fn new(
        w: CaptureWriter<W>,
        start_ns: i64,
        rate_bps: u64,
        gap_ps: u64,
        multi_iface: bool,
    ) -> Self {
        Emitter {
            w,
            start_ns,
            clock_ps: 0,
            ps_per_byte: 8_000_000_000_000 / rate_bps.max(1),
            gap_ps,
            multi_iface,
            ip_id: 1,
            first_ts_ns: None,
            last_ts_ns: start_ns,
        }
    }

    /// Current simulated time, ns since the epoch.
    pub fn now_ns(&self) -> i64 {
        self.start_ns + (self.clock_ps / 1000) as i64
    }

    /// Elapsed simulated time since the start, ns.
    pub fn elapsed_ns(&self) -> u64 {
        self.clock_ps / 1000
    }

    /// Lets simulated time pass without traffic.
    pub fn idle(&mut self, ns: u64) {
        self.clock_ps += ns * 1000;
    }

    fn emit(&mut self, iface: u32, parts: &[&[u8]]) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let ts = self.now_ns();
        let iface = if self.multi_iface { iface } else { 0 };
        self.w.packet(iface, ts, len as u32, parts)?;
        self.first_ts_ns.get_or_insert(ts);
        self.last_ts_ns = ts;
        self.clock_ps += len as u64 * self.ps_per_byte + self.gap_ps;
        Ok(())
    }

    /// Ethernet + IP header into `h`; returns (header length, pseudo-header sum).
    fn l2l3(
        &mut self,
        h: &mut [u8; MAX_HDR],
        src: &Host,
        dst: &Host,
        proto: u8,
        l4_len: usize,
    ) -> (usize, Csum) {
        h[0..6].copy_from_slice(&dst.mac);
        h[6..12].copy_from_slice(&src.mac);
        let mut ps = Csum::new();
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                h[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
                let ip = &mut h[14..34];
                ip[0] = 0x45;
                ip[1] = 0;
                ip[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
                ip[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
                self.ip_id = self.ip_id.wrapping_add(1);
                ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
                ip[8] = 128;
                ip[9] = proto;
                ip[10..12].copy_from_slice(&[0, 0]);
                ip[12..16].copy_from_slice(&s.octets());
                ip[16..20].copy_from_slice(&d.octets());
                let mut c = Csum::new();
                c.add(ip);
                let v = c.finish();
                ip[10..12].copy_from_slice(&v.to_be_bytes());
                ps.add(&s.octets());
                ps.add(&d.octets());
                ps.add_u16(proto as u16);
                ps.add_u16(l4_len as u16);
                (34, ps)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                h[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
                let ip = &mut h[14..54];
                ip[0..4].copy_from_slice(&0x6000_0000u32.to_be_bytes());
                ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                ip[6] = proto;
                ip[7] = 128;
                ip[8..24].copy_from_slice(&s.octets());
                ip[24..40].copy_from_slice(&d.octets());
                ps.add(&s.octets());
                ps.add(&d.octets());
                ps.add_u32(l4_len as u32);
                ps.add_u16(proto as u16);
                (54, ps)
            }
            _ => unreachable!("endpoints of one flow share an address family"),
        }
    }

    /// One TCP segment. `payload` pieces are concatenated.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        iface: u32,
        src: &Host,
        dst: &Host,
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        opts: &[u8],
        payload: &[&[u8]],
    ) -> io::Result<()> {
        debug_assert!(opts.len() % 4 == 0 && opts.len() <= 12);
        let plen: usize = payload.iter().map(|p| p.len()).sum();
        let thl = 20 + opts.len();
        let mut h = [0u8; MAX_HDR];
        let (o, mut c) = self.l2l3(&mut h, src, dst, 6, thl + plen);
        let t = &mut h[o..o + thl];
        t[0..2].copy_from_slice(&ports.0.to_be_bytes());
        t[2..4].copy_from_slice(&ports.1.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = ((thl / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&window.to_be_bytes());
        t[16..20].copy_from_slice(&[0, 0, 0, 0]);
        t[20..].copy_from_slice(opts);
        c.add(t);
        for p in payload {
            c.add(p);
        }
        let v = c.finish();
        t[16..18].copy_from_slice(&v.to_be_bytes());
        let hdr = &h[..o + thl];
        match payload {
            [] => self.emit(iface, &[hdr]),
            [a] => self.emit(iface, &[hdr, a]),
            [a, b] => self.emit(iface, &[hdr, a, b]),
            _ => {
                let mut parts: Vec<&[u8]> = Vec::with_capacity(payload.len() + 1);
                parts.push(hdr);
                parts.extend_from_slice(payload);
                self.emit(iface, &parts)
            }
        }
    }

    /// One UDP datagram.
    pub fn udp(
        &mut self,
        iface: u32,
        src: &Host,
        dst: &Host,
        ports: (u16, u16),
        payload: &[u8],
    ) -> io::Result<()> {
        let ulen = 8 + payload.len();
        let mut h = [0u8; MAX_HDR];
        let (o, mut c) = self.l2l3(&mut h, src, dst, 17, ulen);
        let u = &mut h[o..o + 8];
        u[0..2].copy_from_slice(&ports.0.to_be_bytes());
        u[2..4].copy_from_slice(&ports.1.to_be_bytes());
        u[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
        u[6..8].copy_from_slice(&[0, 0]);
        c.add(u);
        c.add(payload);
        let v = match c.finish() {
            0 => 0xffff,
            v => v,
        };
        u[6..8].copy_from_slice(&v.to_be_bytes());
        let hdr = &h[..o + 8];
        self.emit(iface, &[hdr, payload])
    }
}

/// A TCP connection between a client and a server, seen from a capture
/// point that sees both directions.
#[derive(Debug, Clone)]
pub struct TcpConn {
    pub iface: u32,
    pub cli: Host,
    pub srv: Host,
    pub cport: u16,
    pub sport: u16,
    /// Next sequence number of each side.
    pub cseq: u32,
    pub sseq: u32,
    /// Largest segment payload (65160 for TSO-like, 1448 for MSS-sized).
    pub seg: usize,
    /// The receiver sends a pure ACK after this many segments (and after the
    /// last segment of a message).
    pub ack_every: u32,
}

/// Window field with the scale factor 2^8 announced in the SYNs: 2 MiB.
const WINDOW: u16 = 0x2000;
/// SYN options: MSS 1460, NOP, window scale 8, NOP, NOP, SACK permitted.
const SYN_OPTS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2];

impl TcpConn {
    /// SYN, SYN-ACK, ACK.
    pub fn handshake<W: Write>(&mut self, e: &mut Emitter<W>) -> io::Result<()> {
        let ports = (self.cport, self.sport);
        let rports = (self.sport, self.cport);
        e.tcp(
            self.iface,
            &self.cli,
            &self.srv,
            ports,
            self.cseq,
            0,
            TCP_SYN,
            0xffff,
            &SYN_OPTS,
            &[],
        )?;
        self.cseq = self.cseq.wrapping_add(1);
        e.tcp(
            self.iface,
            &self.srv,
            &self.cli,
            rports,
            self.sseq,
            self.cseq,
            TCP_SYN | TCP_ACK,
            0xffff,
            &SYN_OPTS,
            &[],
        )?;
        self.sseq = self.sseq.wrapping_add(1);
        e.tcp(
            self.iface,
            &self.cli,
            &self.srv,
            ports,
            self.cseq,
            self.sseq,
            TCP_ACK,
            WINDOW,
            &[],
            &[],
        )
    }

    /// Sends the message `head ++ data` from one side, in segments of at
    /// most `self.seg` bytes, with the other side's ACKs.
    pub fn send<W: Write>(
        &mut self,
        e: &mut Emitter<W>,
        from_client: bool,
        head: &[u8],
        data: &[u8],
    ) -> io::Result<()> {
        let total = head.len() + data.len();
        let hl = head.len();
        let (src, dst, ports) = if from_client {
            (self.cli, self.srv, (self.cport, self.sport))
        } else {
            (self.srv, self.cli, (self.sport, self.cport))
        };
        let mut off = 0;
        let mut nseg = 0u32;
        while off < total {
            let n = self.seg.min(total - off);
            let end = off + n;
            let a = &head[off.min(hl)..end.min(hl)];
            let b = &data[off.saturating_sub(hl)..end.saturating_sub(hl)];
            let last = end == total;
            let flags = TCP_ACK | if last { TCP_PSH } else { 0 };
            let (seq, ack) = if from_client {
                (self.cseq, self.sseq)
            } else {
                (self.sseq, self.cseq)
            };
            let parts: &[&[u8]] = match (a.is_empty(), b.is_empty()) {
                (false, false) => &[a, b],
                (false, true) => &[a],
                _ => &[b],
            };
            e.tcp(
                self.iface,
                &src,
                &dst,
                ports,
                seq,
                ack,
                flags,
                WINDOW,
                &[],
                parts,
            )?;
            if from_client {
                self.cseq = self.cseq.wrapping_add(n as u32);
            } else {
                self.sseq = self.sseq.wrapping_add(n as u32);
            }
            nseg += 1;
            off = end;
            if nseg % self.ack_every == 0 || last {
                self.ack(e, !from_client)?;
            }
        }
        Ok(())
    }

    /// A pure ACK from one side.
    pub fn ack<W: Write>(&mut self, e: &mut Emitter<W>, from_client: bool) -> io::Result<()> {
        if from_client {
            e.tcp(
                self.iface,
                &self.cli,
                &self.srv,
                (self.cport, self.sport),
                self.cseq,
                self.sseq,
                TCP_ACK,
                WINDOW,
                &[],
                &[],
            )
        } else {
            e.tcp(
                self.iface,
                &self.srv,
                &self.cli,
                (self.sport, self.cport),
                self.sseq,
                self.cseq,
                TCP_ACK,
                WINDOW,
                &[],
                &[],
            )
        }
    }
}
