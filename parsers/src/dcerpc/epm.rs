//! Endpoint mapper (epmp) ept_map, opnum 3 (C706 appendix O, MS-RPCE 2.2.1.2):
//! the client sends a tower naming the interface it wants, the server answers
//! with towers giving the protocol, TCP port and IP address to use. This is how
//! the pipeline learns dynamic ports (e.g. the Witness service's).
//!
//! Request stub: object `[ptr] uuid*`, map_tower `[ptr] twr_t*`, entry_handle
//! (20 bytes), max_towers u32. Response stub: entry_handle, num_towers u32,
//! towers: conformant varying array of `twr_t*` (max_count, offset,
//! actual_count, referent ids, then each referent `twr_t` = max_count,
//! tower_length, octets, 4-byte aligned), status u32.
//!
//! Tower octets (always little-endian): floor_count u16, then per floor
//! lhs_len u16, lhs (protocol id byte + data), rhs_len u16, rhs. Floor ids:
//! 0x0d UUID (lhs: UUID + major u16; rhs: minor u16), 0x0b ncacn, 0x07 TCP
//! (rhs: port, big-endian), 0x08 UDP, 0x09 IPv4 (rhs: 4 bytes).

use std::net::Ipv4Addr;

use super::ndr::{Ndr, NdrError, Repr};
use super::uuid::{Uuid, known};

pub const OP_MAP: u16 = 3;

/// Towers decoded from one response at most (a map answer usually has 1..4).
pub const MAX_TOWERS: usize = 64;
/// Floors read from one tower at most (real towers have 5).
const MAX_FLOORS: u16 = 16;

/// One endpoint the mapper handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EpmMapping {
    pub interface: Uuid,
    pub version: u16,
    pub port: u16,
    /// None when the tower has no address or 0.0.0.0: the mapper's own address.
    pub ip: Option<Ipv4Addr>,
}

/// What a tower says (floors we do not know are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tower {
    /// First UUID floor: the interface, with major and minor version.
    pub interface: Option<(Uuid, u16, u16)>,
    /// Second UUID floor: the transfer syntax.
    pub transfer: Option<Uuid>,
    pub tcp_port: Option<u16>,
    pub udp_port: Option<u16>,
    /// None when absent or 0.0.0.0 (then: the address the client connected to).
    pub ip: Option<Ipv4Addr>,
}

impl Tower {
    /// The mapping, if this tower names an interface and a TCP port.
    pub fn tcp_mapping(&self) -> Option<EpmMapping> {
        let (interface, version, _) = self.interface?;
        Some(EpmMapping {
            interface,
            version,
            port: self.tcp_port?,
            ip: self.ip,
        })
    }
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// Parses tower octets. `None` when the floor structure is broken.
pub fn parse_tower(b: &[u8]) -> Option<Tower> {
    let floors = le16(b, 0)?;
    if floors > MAX_FLOORS {
        return None;
    }
    let mut t = Tower::default();
    let mut pos = 2usize;
    for _ in 0..floors {
        let lhs_len = usize::from(le16(b, pos)?);
        let lhs = b.get(pos + 2..pos + 2 + lhs_len)?;
        pos += 2 + lhs_len;
        let rhs_len = usize::from(le16(b, pos)?);
        let rhs = b.get(pos + 2..pos + 2 + rhs_len)?;
        pos += 2 + rhs_len;
        let (&proto, data) = lhs.split_first()?;
        match proto {
            0x0d if data.len() >= 18 => {
                let u = Uuid::from_wire_slice(data, true)?;
                let major = le16(data, 16)?;
                let minor = le16(rhs, 0).unwrap_or(0);
                if t.interface.is_none() {
                    t.interface = Some((u, major, minor));
                } else if t.transfer.is_none() {
                    t.transfer = Some(u);
                }
            }
            0x07 if rhs.len() >= 2 => t.tcp_port = Some(u16::from_be_bytes([rhs[0], rhs[1]])),
            0x08 if rhs.len() >= 2 => t.udp_port = Some(u16::from_be_bytes([rhs[0], rhs[1]])),
            0x09 if rhs.len() >= 4 => {
                let ip = Ipv4Addr::new(rhs[0], rhs[1], rhs[2], rhs[3]);
                t.ip = (!ip.is_unspecified()).then_some(ip);
            }
            _ => {}
        }
    }
    Some(t)
}

/// Reads a `twr_t` (conformant struct) at the cursor and returns its octets.
fn twr<'a>(r: &mut Ndr<'a>) -> Result<&'a [u8], NdrError> {
    let max = r.count("tower max_count")?;
    let len = r.u32("tower_length")?;
    if u64::from(len) > max {
        return Err(NdrError {
            offset: r.pos(),
            what: "tower_length > max_count",
        });
    }
    r.bytes(len as usize, "tower octets")
}

/// ept_map request: the interface asked for (from the map_tower).
pub fn decode_map_request(stub: &[u8], repr: impl Into<Repr>) -> Result<Option<Tower>, NdrError> {
    let mut r = Ndr::new(stub, repr);
    if r.referent()? != 0 {
        r.uuid("object")?;
    }
    if r.referent()? == 0 {
        return Ok(None);
    }
    let octets = twr(&mut r)?;
    Ok(parse_tower(octets))
}

/// ept_map response: the TCP endpoints handed out, and the status.
pub fn decode_map_response(
    stub: &[u8],
    repr: impl Into<Repr>,
) -> Result<(Vec<EpmMapping>, u32), NdrError> {
    let mut r = Ndr::new(stub, repr);
    r.context_handle()?;
    let num = r.u32("num_towers")?;
    let _max = r.count("towers max_count")?;
    let offset = r.count("towers offset")?;
    let actual = r.count("towers actual_count")?;
    if offset != 0 || actual != u64::from(num) {
        return Err(NdrError {
            offset: r.pos(),
            what: "tower array counts",
        });
    }
    // Each referent id takes at least 4 bytes: bound the count by the stub.
    let actual = num as usize;
    if actual > r.remaining() / 4 {
        return Err(NdrError {
            offset: r.pos(),
            what: "tower count beyond stub",
        });
    }
    let mut present = 0usize;
    for _ in 0..actual {
        if r.referent()? != 0 {
            present += 1;
        }
    }
    let mut out = Vec::new();
    for _ in 0..present {
        let octets = twr(&mut r)?;
        if out.len() < MAX_TOWERS {
            out.extend(parse_tower(octets).and_then(|t| t.tcp_mapping()));
        }
    }
    let status = r.u32("status")?;
    Ok((out, status))
}

/// Is this the endpoint mapper interface?
pub fn is_epm(u: &Uuid) -> bool {
    *u == known::EPM
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcerpc::testutil::{epm_map_response_stub, tcp_tower};

    #[test]
    fn tower_roundtrip() {
        let t = tcp_tower(known::WITNESS, 1, 1, 49700, [10, 0, 0, 5]);
        assert_eq!(t.len(), 75);
        let p = parse_tower(&t).unwrap();
        assert_eq!(p.interface, Some((known::WITNESS, 1, 1)));
        assert_eq!(p.transfer, Some(known::NDR));
        assert_eq!(p.tcp_port, Some(49700));
        assert_eq!(p.ip, Some(Ipv4Addr::new(10, 0, 0, 5)));
        // Every truncation is rejected or partial, never a panic.
        for n in 0..t.len() {
            let _ = parse_tower(&t[..n]);
        }
        assert!(parse_tower(&t[..t.len() - 1]).is_none());
        // 0.0.0.0 means "the mapper's own address".
        let t = tcp_tower(known::WITNESS, 1, 1, 0, [0; 4]);
        assert_eq!(parse_tower(&t).unwrap().ip, None);
    }

    #[test]
    fn map_response_keeps_tcp_towers_only() {
        // Second tower: the floors of a named pipe endpoint (0x0f) instead of TCP/IP.
        let tcp = tcp_tower(known::WITNESS, 1, 1, 49700, [10, 0, 0, 5]);
        let mut np = tcp[..tcp.len() - 16].to_vec();
        np[0] = 4; // 4 floors: uuid, ndr, ncacn, named pipe
        np.extend_from_slice(&[1, 0, 0x0f, 7, 0]);
        np.extend_from_slice(b"\\PIPE\\x");
        let parsed = parse_tower(&np).unwrap();
        assert_eq!(parsed.interface, Some((known::WITNESS, 1, 1)));
        assert_eq!((parsed.tcp_port, parsed.ip), (None, None));
        let stub = epm_map_response_stub(true, &[np, tcp]);
        let (maps, status) = decode_map_response(&stub, true).unwrap();
        assert_eq!(status, 0);
        assert_eq!(
            maps,
            vec![EpmMapping {
                interface: known::WITNESS,
                version: 1,
                port: 49700,
                ip: Some(Ipv4Addr::new(10, 0, 0, 5)),
            }]
        );
        // Big-endian NDR around the (always little-endian) tower octets.
        let stub = epm_map_response_stub(false, &[tcp_tower(known::EPM, 3, 0, 135, [10, 0, 0, 1])]);
        assert_eq!(decode_map_response(&stub, false).unwrap().0[0].port, 135);
        for n in 0..stub.len() {
            assert!(decode_map_response(&stub[..n], false).is_err());
        }
    }
}
