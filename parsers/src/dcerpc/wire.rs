//! Connection-oriented DCE/RPC PDUs (C706 chapter 12, MS-RPCE 2.2.2): the
//! 16-byte common header and zero-copy views of the bodies the analyser uses
//! (request, response, fault, bind/alter_context and their acks).
//!
//! Integers follow the data representation in the header (`drep[0] & 0x10`:
//! little-endian, else big-endian). Every length is checked against the bytes
//! at hand; nothing allocates.

use nom::IResult;
use nom::Parser;
use nom::number::Endianness;
use nom::number::complete::{u8 as nu8, u16 as nu16, u32 as nu32};

use super::uuid::Uuid;

mod bind;
pub use bind::{Bind, BindAck, ContextIter, ContextResult, PresContext, ResultIter};

/// Size of the common header.
pub const HEADER_LEN: usize = 16;

/// `pfc_flags` bits.
pub mod pfc {
    pub const FIRST_FRAG: u8 = 0x01;
    pub const LAST_FRAG: u8 = 0x02;
    /// PFC_PENDING_CANCEL (requests) / PFC_SUPPORT_HEADER_SIGN (binds, MS-RPCE).
    pub const PENDING_CANCEL: u8 = 0x04;
    pub const CONC_MPX: u8 = 0x10;
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    pub const MAYBE: u8 = 0x40;
    pub const OBJECT_UUID: u8 = 0x80;
}

/// Authentication level that encrypts the stub (RPC_C_AUTHN_LEVEL_PKT_PRIVACY).
pub const AUTH_LEVEL_PRIVACY: u8 = 6;

/// The PDU type (PTYPE) of a connection-oriented PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketType {
    Request,
    Response,
    Fault,
    Bind,
    BindAck,
    BindNak,
    AlterContext,
    AlterContextResp,
    Auth3,
    Shutdown,
    CoCancel,
    Orphaned,
    /// A connectionless or unknown type: never valid in a TCP stream.
    Other(u8),
}

impl PacketType {
    pub fn from_u8(v: u8) -> PacketType {
        match v {
            0 => PacketType::Request,
            2 => PacketType::Response,
            3 => PacketType::Fault,
            11 => PacketType::Bind,
            12 => PacketType::BindAck,
            13 => PacketType::BindNak,
            14 => PacketType::AlterContext,
            15 => PacketType::AlterContextResp,
            16 => PacketType::Auth3,
            17 => PacketType::Shutdown,
            18 => PacketType::CoCancel,
            19 => PacketType::Orphaned,
            o => PacketType::Other(o),
        }
    }

    /// Smallest valid frag_length for this type (header + fixed body part).
    fn min_frag_len(self) -> Option<u16> {
        Some(match self {
            // alloc_hint, p_cont_id, opnum / cancel_count + reserved
            PacketType::Request | PacketType::Response => 24,
            // + status (the trailing reserved u32 is often present, not required)
            PacketType::Fault => 28,
            // max_xmit, max_recv, assoc_group, context list header
            PacketType::Bind | PacketType::AlterContext => 28,
            // max_xmit, max_recv, assoc_group, sec_addr length
            PacketType::BindAck | PacketType::AlterContextResp => 26,
            PacketType::BindNak => 18,
            PacketType::Auth3
            | PacketType::Shutdown
            | PacketType::CoCancel
            | PacketType::Orphaned => 16,
            PacketType::Other(_) => return None,
        })
    }
}

/// The common header of every connection-oriented PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub rpc_vers: u8,
    pub rpc_vers_minor: u8,
    pub ptype: PacketType,
    pub flags: u8,
    pub drep: [u8; 4],
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
}

impl Header {
    /// Integer representation of this PDU's NDR data.
    #[inline]
    pub fn little_endian(&self) -> bool {
        self.drep[0] & 0x10 != 0
    }
    #[inline]
    pub fn endianness(&self) -> Endianness {
        if self.little_endian() {
            Endianness::Little
        } else {
            Endianness::Big
        }
    }
    #[inline]
    pub fn first_frag(&self) -> bool {
        self.flags & pfc::FIRST_FRAG != 0
    }
    #[inline]
    pub fn last_frag(&self) -> bool {
        self.flags & pfc::LAST_FRAG != 0
    }

    /// Whether these 16 bytes look like a real header: version 5.0/5.1, a
    /// connection-oriented type, a sane data representation and lengths.
    pub fn plausible(&self) -> bool {
        let Some(min) = self.ptype.min_frag_len() else {
            return false;
        };
        let auth_room = if self.auth_len == 0 {
            0
        } else {
            u32::from(self.auth_len) + 8
        };
        self.rpc_vers == 5
            && self.rpc_vers_minor <= 1
            && self.drep[0] & 0xEE == 0
            && self.drep[1] <= 3
            && self.frag_len >= min
            && u32::from(self.frag_len) >= u32::from(min) + auth_room
    }
}

/// Why bytes are not a (complete) PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("fewer bytes than the header or frag_length announce")]
    Short,
    #[error("not a plausible connection-oriented DCE/RPC header")]
    BadHeader,
    #[error("PDU body truncated or inconsistent ({0})")]
    Body(&'static str),
}

type NomErr<'a> = nom::error::Error<&'a [u8]>;

fn header_fields(i: &[u8]) -> IResult<&[u8], Header, NomErr<'_>> {
    let (i, (rpc_vers, rpc_vers_minor, ptype, flags)) = (nu8, nu8, nu8, nu8).parse(i)?;
    let (i, d) = nom::bytes::complete::take(4usize).parse(i)?;
    let drep = [d[0], d[1], d[2], d[3]];
    let e = if drep[0] & 0x10 != 0 {
        Endianness::Little
    } else {
        Endianness::Big
    };
    let (i, (frag_len, auth_len, call_id)) = (nu16(e), nu16(e), nu32(e)).parse(i)?;
    Ok((
        i,
        Header {
            rpc_vers,
            rpc_vers_minor,
            ptype: PacketType::from_u8(ptype),
            flags,
            drep,
            frag_len,
            auth_len,
            call_id,
        },
    ))
}

/// Reads the 16-byte header without judging it.
pub fn parse_header(b: &[u8]) -> Result<Header, WireError> {
    header_fields(b)
        .map(|(_, h)| h)
        .map_err(|_| WireError::Short)
}

/// `sec_trailer` (MS-RPCE 2.2.2.11) preceding the auth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SecTrailer {
    pub auth_type: u8,
    pub auth_level: u8,
    pub pad_len: u8,
    pub context_id: u32,
}

/// A request PDU body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub opnum: u16,
    pub object: Option<Uuid>,
    /// Stub data of this fragment (auth padding and verifier removed).
    pub stub: &'a [u8],
}

/// A response PDU body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub cancel_count: u8,
    pub stub: &'a [u8],
}

/// A fault PDU body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub cancel_count: u8,
    /// NCA / Win32 status code.
    pub status: u32,
}

/// The body of a PDU, by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    Request(Request<'a>),
    Response(Response<'a>),
    Fault(Fault),
    Bind(Bind<'a>),
    BindAck(BindAck<'a>),
    BindNak {
        reason: u16,
    },
    AlterContext(Bind<'a>),
    AlterContextResp(BindAck<'a>),
    /// auth3, shutdown, co_cancel, orphaned: nothing the analyser needs.
    Other,
}

/// One complete PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    pub header: Header,
    pub body: Body<'a>,
    pub auth: Option<SecTrailer>,
}

fn endian(little: bool) -> Endianness {
    if little {
        Endianness::Little
    } else {
        Endianness::Big
    }
}

/// A `p_syntax_id_t`: interface or transfer syntax UUID, major, minor version.
type SyntaxId = (Uuid, u16, u16);

/// `p_syntax_id_t`: UUID + version (major u16, minor u16).
fn syntax<'a>(little_endian: bool) -> impl Fn(&'a [u8]) -> IResult<&'a [u8], SyntaxId, NomErr<'a>> {
    move |i: &'a [u8]| {
        let e = endian(little_endian);
        let (i, raw) = nom::bytes::complete::take(16usize).parse(i)?;
        let (i, (maj, min)) = (nu16(e), nu16(e)).parse(i)?;
        let u = Uuid::from_wire_slice(raw, little_endian).unwrap_or(Uuid::NIL);
        Ok((i, (u, maj, min)))
    }
}

fn body_err(what: &'static str) -> impl Fn(nom::Err<NomErr<'_>>) -> WireError {
    move |_| WireError::Body(what)
}

/// Parses one complete PDU from the start of `b` (which may hold more bytes
/// after it: only `frag_len` bytes are used). The header must be plausible.
pub fn parse_pdu(b: &[u8]) -> Result<Pdu<'_>, WireError> {
    let header = parse_header(b)?;
    if !header.plausible() {
        return Err(WireError::BadHeader);
    }
    let frag = b
        .get(..usize::from(header.frag_len))
        .ok_or(WireError::Short)?;
    let le = header.little_endian();
    let e = header.endianness();

    // Split off the auth trailer: [stub][pad][sec_trailer 8][auth_value auth_len].
    let (body_end, auth) = if header.auth_len > 0 {
        let tstart = frag.len() - usize::from(header.auth_len) - 8;
        let t = &frag[tstart..tstart + 8];
        let context_id = if le {
            u32::from_le_bytes([t[4], t[5], t[6], t[7]])
        } else {
            u32::from_be_bytes([t[4], t[5], t[6], t[7]])
        };
        let st = SecTrailer {
            auth_type: t[0],
            auth_level: t[1],
            pad_len: t[2],
            context_id,
        };
        (tstart, Some(st))
    } else {
        (frag.len(), None)
    };
    let body = &frag[HEADER_LEN..body_end];
    let pad = auth.map_or(0, |a| usize::from(a.pad_len));

    let body = match header.ptype {
        PacketType::Request => {
            let (rest, (alloc_hint, context_id, opnum)) = (nu32(e), nu16(e), nu16(e))
                .parse(body)
                .map_err(body_err("request"))?;
            let (rest, object) = if header.flags & pfc::OBJECT_UUID != 0 {
                let u = Uuid::from_wire_slice(rest, le).ok_or(WireError::Body("object uuid"))?;
                (&rest[16..], Some(u))
            } else {
                (rest, None)
            };
            let stub = &rest[..rest.len().saturating_sub(pad)];
            Body::Request(Request {
                alloc_hint,
                context_id,
                opnum,
                object,
                stub,
            })
        }
        PacketType::Response => {
            let (rest, (alloc_hint, context_id, cancel_count, _)) = (nu32(e), nu16(e), nu8, nu8)
                .parse(body)
                .map_err(body_err("response"))?;
            let stub = &rest[..rest.len().saturating_sub(pad)];
            Body::Response(Response {
                alloc_hint,
                context_id,
                cancel_count,
                stub,
            })
        }
        PacketType::Fault => {
            let (_, (alloc_hint, context_id, cancel_count, _, status)) =
                (nu32(e), nu16(e), nu8, nu8, nu32(e))
                    .parse(body)
                    .map_err(body_err("fault"))?;
            Body::Fault(Fault {
                alloc_hint,
                context_id,
                cancel_count,
                status,
            })
        }
        PacketType::Bind | PacketType::AlterContext => {
            let (list, (max_xmit_frag, max_recv_frag, assoc_group, n_contexts, _, _)) =
                (nu16(e), nu16(e), nu32(e), nu8, nu8, nu16(e))
                    .parse(body)
                    .map_err(body_err("bind"))?;
            let bind = Bind {
                max_xmit_frag,
                max_recv_frag,
                assoc_group,
                n_contexts,
                list,
                little_endian: le,
            };
            if header.ptype == PacketType::Bind {
                Body::Bind(bind)
            } else {
                Body::AlterContext(bind)
            }
        }
        PacketType::BindAck | PacketType::AlterContextResp => {
            let (rest, (max_xmit_frag, max_recv_frag, assoc_group, sec_len)) =
                (nu16(e), nu16(e), nu32(e), nu16(e))
                    .parse(body)
                    .map_err(body_err("bind_ack"))?;
            let sec_addr = rest
                .get(..usize::from(sec_len))
                .ok_or(WireError::Body("bind_ack sec_addr"))?;
            // The result list is 4-byte aligned relative to the PDU start.
            let consumed = HEADER_LEN + 10 + usize::from(sec_len);
            let aligned = (consumed + 3) & !3;
            let list = frag
                .get(aligned..body_end)
                .ok_or(WireError::Body("bind_ack result list"))?;
            let (list, (n_results, _, _)) = (nu8, nu8, nu16(e))
                .parse(list)
                .map_err(body_err("bind_ack result list"))?;
            let ack = BindAck {
                max_xmit_frag,
                max_recv_frag,
                assoc_group,
                sec_addr,
                n_results,
                list,
                little_endian: le,
            };
            if header.ptype == PacketType::BindAck {
                Body::BindAck(ack)
            } else {
                Body::AlterContextResp(ack)
            }
        }
        PacketType::BindNak => {
            let (_, reason) = nu16(e).parse(body).map_err(body_err("bind_nak"))?;
            Body::BindNak { reason }
        }
        _ => Body::Other,
    };
    Ok(Pdu { header, body, auth })
}

/// Whether `b` starts like a DCE/RPC connection (a bind or alter_context,
/// version 5.0/5.1): a cheap test for traffic on a port nobody announced.
pub fn is_dcerpc_start(b: &[u8]) -> bool {
    match b {
        [5, 0 | 1, 11 | 14, ..] => match parse_header(b) {
            Ok(h) => h.plausible(),
            // Fewer than 16 bytes: the three bytes seen are all we can judge.
            Err(_) => true,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_heuristic() {
        assert!(is_dcerpc_start(&[5, 0, 11]));
        assert!(!is_dcerpc_start(&[5, 0, 0]));
        assert!(!is_dcerpc_start(&[4, 0, 11, 3]));
        // Full header, frag_len 72 little-endian: plausible.
        let h = [5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0];
        assert!(is_dcerpc_start(&h));
        // frag_len 10: implausible.
        let h = [5, 0, 11, 3, 0x10, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0];
        assert!(!is_dcerpc_start(&h));
    }

    #[test]
    fn header_big_endian() {
        let h = [5, 0, 0, 3, 0x00, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 7];
        let h = parse_header(&h).unwrap();
        assert!(!h.little_endian());
        assert_eq!(h.frag_len, 24);
        assert_eq!(h.call_id, 7);
        assert!(h.plausible());
    }
}
