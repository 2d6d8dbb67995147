//! Body decoders for the SMB2 commands the analyser needs (MS-SMB2 2.2.x)
//! (name tables live in [`super::names`] and are re-exported here). Every decoder
//! takes the PDU from the start of its SMB2 header (offsets in SMB2 bodies
//! are relative to it) and never trusts a length or offset field: whatever
//! falls outside the captured bytes is left out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nom::Parser;

pub use super::names::*;

use super::events::*;
use super::wire::{SMB2_HEADER_LEN, Smb2Header, cmd, status};

type R<'a, T> = nom::IResult<&'a [u8], T>;

// Number and byte parsers pinned to nom's default error type, so that tuples
// of them infer in functions that discard the error.
fn le_u8(i: &[u8]) -> R<'_, u8> {
    nom::number::complete::le_u8(i)
}
fn le_u16(i: &[u8]) -> R<'_, u16> {
    nom::number::complete::le_u16(i)
}
fn le_u32(i: &[u8]) -> R<'_, u32> {
    nom::number::complete::le_u32(i)
}
fn le_u64(i: &[u8]) -> R<'_, u64> {
    nom::number::complete::le_u64(i)
}
fn take(n: usize) -> impl Fn(&[u8]) -> R<'_, &[u8]> {
    move |i| nom::bytes::complete::take(n).parse(i)
}

/// Most records kept from an interface list or an address list.
pub const MAX_LIST: usize = 64;
/// Most error contexts examined in one error response.
pub const MAX_ERROR_CONTEXTS: usize = 16;

/// Decodes UTF-16LE bytes (an odd trailing byte is dropped, bad units replaced).
pub fn utf16le(b: &[u8]) -> String {
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// The bytes `[off, off+len)` of `pdu`, cut to what is present.
fn slice_at(pdu: &[u8], off: usize, len: usize) -> &[u8] {
    let end = off.saturating_add(len).min(pdu.len());
    pdu.get(off..end).unwrap_or(&[])
}

fn file_id(i: &[u8]) -> R<'_, FileId> {
    let (i, (persistent, volatile)) = (le_u64, le_u64).parse(i)?;
    Ok((
        i,
        FileId {
            persistent,
            volatile,
        },
    ))
}

/// Decodes the body of one PDU. `pdu` starts at the SMB2 header and ends at
/// the end of this compound element (or of the captured prefix).
pub fn decode_body(h: &Smb2Header, pdu: &[u8]) -> Body {
    let body = pdu.get(SMB2_HEADER_LEN..).unwrap_or(&[]);
    let resp = h.is_response();
    if resp && is_error_response(h, body) {
        return error_response(body).unwrap_or(Body::Error {
            error_context_count: 0,
            byte_count: 0,
            share_redirect: None,
        });
    }
    let r = match (h.command, resp) {
        (cmd::NEGOTIATE, false) => negotiate_request(pdu, body),
        (cmd::NEGOTIATE, true) => negotiate_response(pdu, body),
        (cmd::SESSION_SETUP, false) => session_setup_request(body),
        (cmd::SESSION_SETUP, true) => session_setup_response(body),
        (cmd::TREE_CONNECT, false) => tree_connect_request(pdu, body),
        (cmd::TREE_CONNECT, true) => tree_connect_response(body),
        (cmd::CREATE, false) => create_request(pdu, body),
        (cmd::CREATE, true) => create_response(body),
        (cmd::CLOSE, false) => close_request(body),
        (cmd::READ, false) => read_request(body),
        (cmd::READ, true) => read_response(body),
        (cmd::WRITE, false) => write_request(body),
        (cmd::WRITE, true) => write_response(body),
        (cmd::IOCTL, false) => ioctl_request(body),
        (cmd::IOCTL, true) => ioctl_response(pdu, body),
        (cmd::OPLOCK_BREAK, _) => oplock_break(body),
        _ => None,
    };
    r.unwrap_or(Body::Other)
}

/// An ERROR response: a failure status (or STATUS_PENDING interim) with a
/// 9-byte structure, except the statuses MS-SMB2 3.3.4.4 lists as carrying a
/// normal response body.
fn is_error_response(h: &Smb2Header, body: &[u8]) -> bool {
    if h.status == status::SUCCESS {
        return false;
    }
    if h.command == cmd::SESSION_SETUP && h.status == status::MORE_PROCESSING_REQUIRED {
        return false;
    }
    match body.get(..2) {
        Some(ss) => ss == [9, 0],
        None => true,
    }
}

fn error_response(body: &[u8]) -> Option<Body> {
    let (data, (_ss, count, _res, byte_count)) = (le_u16, le_u8, le_u8, le_u32).parse(body).ok()?;
    let data = slice_at(data, 0, byte_count as usize);
    let mut share_redirect = None;
    if count > 0 {
        let mut off = 0usize;
        for _ in 0..(count as usize).min(MAX_ERROR_CONTEXTS) {
            let Ok((ctx, (len, id))) = (le_u32, le_u32).parse(slice_at(data, off, 8)) else {
                break;
            };
            let _ = ctx;
            let ctx = slice_at(data, off + 8, len as usize);
            if id == ERROR_ID_SHARE_REDIRECT {
                share_redirect = share_redirect_context(ctx);
            }
            // Contexts start on 8-byte boundaries.
            off = (off + 8 + len as usize + 7) & !7;
            if off >= data.len() {
                break;
            }
        }
    }
    Some(Body::Error {
        error_context_count: count,
        byte_count,
        share_redirect,
    })
}

/// SMB2_ERROR_ID_SHARE_REDIRECT.
pub const ERROR_ID_SHARE_REDIRECT: u32 = 0x7264_5253;

/// Decodes a Share Redirect Error Context Response (MS-SMB2 2.2.2.2.2).
/// ResourceNameOffset is taken from the start of this structure.
pub fn share_redirect_context(ctx: &[u8]) -> Option<ShareRedirect> {
    let (list, (_ss, _ntype, name_off, name_len, _res, _target, count)) =
        (le_u32, le_u32, le_u32, le_u32, le_u16, le_u16, le_u32)
            .parse(ctx)
            .ok()?;
    let mut addresses = Vec::new();
    for k in 0..(count as usize).min(MAX_LIST) {
        let rec = slice_at(list, k * 24, 24);
        let Ok((a, (ty, _res))) = (le_u32, le_u32).parse(rec) else {
            break;
        };
        match (ty, a.len()) {
            (1, 16) => addresses.push(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
            (2, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(a);
                addresses.push(IpAddr::V6(Ipv6Addr::from(o)));
            }
            _ => {}
        }
    }
    let resource_name = utf16le(slice_at(ctx, name_off as usize, name_len as usize));
    Some(ShareRedirect {
        addresses,
        resource_name,
    })
}

fn negotiate_request(pdu: &[u8], body: &[u8]) -> Option<Body> {
    let (rest, (_ss, count, _sec, _res, capabilities, _guid, ctx_off, ctx_count, _r2)) = (
        le_u16,
        le_u16,
        le_u16,
        le_u16,
        le_u32,
        take(16usize),
        le_u32,
        le_u16,
        le_u16,
    )
        .parse(body)
        .ok()?;
    let dialects: Vec<u16> = slice_at(rest, 0, count as usize * 2)
        .chunks_exact(2)
        .take(MAX_NEGOTIATE_ITEMS)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let contexts = if dialects.contains(&0x0311) {
        negotiate_contexts(pdu, ctx_off as usize, ctx_count)
    } else {
        NegotiateContexts::default()
    };
    Some(Body::NegotiateRequest(NegotiateRequest {
        dialects,
        capabilities,
        contexts,
    }))
}

fn negotiate_response(pdu: &[u8], body: &[u8]) -> Option<Body> {
    let (_, (_ss, _sec, dialect, ctx_count, _guid, capabilities, _mt, max_read, max_write)) = (
        le_u16,
        le_u16,
        le_u16,
        le_u16,
        take(16usize),
        le_u32,
        le_u32,
        le_u32,
        le_u32,
    )
        .parse(body)
        .ok()?;
    let ctx_off = slice_at(body, 60, 4);
    let contexts = match (dialect, ctx_off.len()) {
        (0x0311, 4) => negotiate_contexts(
            pdu,
            u32::from_le_bytes([ctx_off[0], ctx_off[1], ctx_off[2], ctx_off[3]]) as usize,
            ctx_count,
        ),
        _ => NegotiateContexts::default(),
    };
    Some(Body::NegotiateResponse(NegotiateResponse {
        dialect,
        capabilities,
        max_read,
        max_write,
        contexts,
    }))
}

/// Reads `n` u16 ids (bounded) from `b`.
fn ids(b: &[u8], n: u16) -> Vec<u16> {
    slice_at(b, 0, n as usize * 2)
        .chunks_exact(2)
        .take(MAX_NEGOTIATE_ITEMS)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Walks the 3.1.1 negotiate context list (8-byte aligned, count bounded).
pub fn negotiate_contexts(pdu: &[u8], mut off: usize, count: u16) -> NegotiateContexts {
    let mut c = NegotiateContexts::default();
    for _ in 0..(count as usize).min(MAX_NEGOTIATE_ITEMS) {
        let Ok((data, (ty, len, _res))) = (le_u16, le_u16, le_u32).parse(slice_at(pdu, off, 8))
        else {
            break;
        };
        let _ = data;
        let data = slice_at(pdu, off + 8, len as usize);
        c.types.push(ty);
        let n16 = |b: &[u8], at: usize| {
            slice_at(b, at, 2)
                .get(..2)
                .map(|x| u16::from_le_bytes([x[0], x[1]]))
        };
        match ty {
            1 => {
                if let Some(n) = n16(data, 0) {
                    c.preauth_hashes = ids(slice_at(data, 4, usize::MAX), n);
                }
            }
            2 => {
                if let Some(n) = n16(data, 0) {
                    c.ciphers = ids(slice_at(data, 2, usize::MAX), n);
                }
            }
            3 => {
                if let Some(n) = n16(data, 0) {
                    c.compression = ids(slice_at(data, 8, usize::MAX), n);
                }
            }
            7 => {
                if let Some(n) = n16(data, 0) {
                    c.rdma_transforms = ids(slice_at(data, 8, usize::MAX), n);
                }
            }
            8 => {
                if let Some(n) = n16(data, 0) {
                    c.signing = ids(slice_at(data, 2, usize::MAX), n);
                }
            }
            _ => {}
        }
        off = (off + 8 + len as usize + 7) & !7;
    }
    c
}

fn session_setup_request(body: &[u8]) -> Option<Body> {
    let (_, (_ss, flags, _sec, _caps, _chan, _bo, _bl, previous_session_id)) =
        (le_u16, le_u8, le_u8, le_u32, le_u32, le_u16, le_u16, le_u64)
            .parse(body)
            .ok()?;
    Some(Body::SessionSetupRequest {
        flags,
        previous_session_id,
    })
}

fn session_setup_response(body: &[u8]) -> Option<Body> {
    let (_, (_ss, session_flags)) = (le_u16, le_u16).parse(body).ok()?;
    Some(Body::SessionSetupResponse { session_flags })
}

fn tree_connect_request(pdu: &[u8], body: &[u8]) -> Option<Body> {
    let (_, (_ss, flags, off, len)) = (le_u16, le_u16, le_u16, le_u16).parse(body).ok()?;
    let path = utf16le(slice_at(pdu, off as usize, len as usize));
    Some(Body::TreeConnectRequest { flags, path })
}

fn tree_connect_response(body: &[u8]) -> Option<Body> {
    let (_, (_ss, share_type, _res, share_flags, capabilities)) =
        (le_u16, le_u8, le_u8, le_u32, le_u32).parse(body).ok()?;
    Some(Body::TreeConnectResponse {
        share_type,
        share_flags,
        capabilities,
        path: None,
    })
}

fn create_request(pdu: &[u8], body: &[u8]) -> Option<Body> {
    let (_, (_fixed, off, len)) = (take(44usize), le_u16, le_u16).parse(body).ok()?;
    let name = utf16le(slice_at(pdu, off as usize, len as usize));
    let vm_storage = is_vm_storage(&name);
    Some(Body::CreateRequest { name, vm_storage })
}

fn create_response(body: &[u8]) -> Option<Body> {
    let (_, (_fixed, end_of_file, _attr, _res, fid)) =
        (take(48usize), le_u64, le_u32, le_u32, file_id)
            .parse(body)
            .ok()?;
    Some(Body::CreateResponse {
        file_id: fid,
        end_of_file,
        name: None,
    })
}

fn close_request(body: &[u8]) -> Option<Body> {
    let (_, (_ss, _flags, _res, fid)) = (le_u16, le_u16, le_u32, file_id).parse(body).ok()?;
    Some(Body::Close { file_id: fid })
}

/// Fixed bytes of a READ response body needed to decode it.
pub const READ_RESPONSE_FIXED: usize = 16;
/// Fixed bytes of a WRITE request body needed to decode it.
pub const WRITE_REQUEST_FIXED: usize = 48;

fn read_request(body: &[u8]) -> Option<Body> {
    let (_, (_ss, _pad, _flags, length, offset, fid)) =
        (le_u16, le_u8, le_u8, le_u32, le_u64, file_id)
            .parse(body)
            .ok()?;
    Some(Body::ReadRequest {
        length,
        offset,
        file_id: fid,
    })
}

fn read_response(body: &[u8]) -> Option<Body> {
    let (_, (ss, _off, _res, data_length)) = (le_u16, le_u8, le_u8, le_u32).parse(body).ok()?;
    if ss != 17 {
        return None;
    }
    Some(Body::ReadResponse {
        data_length,
        request: None,
    })
}

fn write_request(body: &[u8]) -> Option<Body> {
    let (rest, (ss, data_offset, length)) = (le_u16, le_u16, le_u32).parse(body).ok()?;
    if ss != 49 {
        return None;
    }
    // A snaplen may cut the body after Length: Offset and FileId are then
    // unknown (0; a FileId of 0 stands for "not captured").
    let (offset, fid) = (le_u64, file_id)
        .parse(rest)
        .map(|(_, v)| v)
        .unwrap_or_default();
    Some(Body::WriteRequest {
        length,
        offset,
        file_id: fid,
        data_offset,
    })
}

fn write_response(body: &[u8]) -> Option<Body> {
    let (_, (_ss, _res, count)) = (le_u16, le_u16, le_u32).parse(body).ok()?;
    Some(Body::WriteResponse { count })
}

fn ioctl_request(body: &[u8]) -> Option<Body> {
    let (_, (_ss, _res, ctl_code, fid, _io, input_count, _mir, _oo, _oc, max_output)) = (
        le_u16, le_u16, le_u32, file_id, le_u32, le_u32, le_u32, le_u32, le_u32, le_u32,
    )
        .parse(body)
        .ok()?;
    Some(Body::IoctlRequest {
        ctl_code,
        file_id: fid,
        input_count,
        max_output,
    })
}

fn ioctl_response(pdu: &[u8], body: &[u8]) -> Option<Body> {
    let (_, (_ss, _res, ctl_code, fid, _io, _ic, out_off, output_count)) = (
        le_u16, le_u16, le_u32, file_id, le_u32, le_u32, le_u32, le_u32,
    )
        .parse(body)
        .ok()?;
    let interfaces = if ctl_code == fsctl::QUERY_NETWORK_INTERFACE_INFO {
        network_interfaces(slice_at(pdu, out_off as usize, output_count as usize))
    } else {
        Vec::new()
    };
    Some(Body::IoctlResponse {
        ctl_code,
        file_id: fid,
        output_count,
        interfaces,
    })
}

/// Size of one NETWORK_INTERFACE_INFO record (with its 128-byte sockaddr).
pub const NETWORK_INTERFACE_INFO_LEN: usize = 152;

/// Decodes a chain of NETWORK_INTERFACE_INFO records (MS-SMB2 2.2.32.5),
/// following `Next` (forward only), at most [`MAX_LIST`] records. Family and
/// the other integer fields are little-endian; port and address are in
/// network byte order.
pub fn network_interfaces(out: &[u8]) -> Vec<NetworkInterfaceInfo> {
    let mut v = Vec::new();
    let mut off = 0usize;
    for _ in 0..MAX_LIST {
        let rec = slice_at(out, off, NETWORK_INTERFACE_INFO_LEN);
        let Ok((sa, (next, if_index, capability, _res, link_speed_bps))) =
            (le_u32, le_u32, le_u32, le_u32, le_u64).parse(rec)
        else {
            break;
        };
        if let Some(addr) = sockaddr(sa) {
            v.push(NetworkInterfaceInfo {
                if_index,
                capability,
                link_speed_bps,
                addr,
            });
        }
        if next == 0 {
            break;
        }
        off = match off.checked_add(next as usize) {
            Some(o) => o,
            None => break,
        };
    }
    v
}

fn sockaddr(sa: &[u8]) -> Option<SocketAddr> {
    let fam = u16::from_le_bytes([*sa.first()?, *sa.get(1)?]);
    let port = u16::from_be_bytes([*sa.get(2)?, *sa.get(3)?]);
    match fam {
        0x0002 => {
            let a = sa.get(4..8)?;
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
                port,
            ))
        }
        0x0017 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(sa.get(8..24)?);
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port))
        }
        _ => None,
    }
}

fn oplock_break(body: &[u8]) -> Option<Body> {
    let (rest, ss) = le_u16.parse(body).ok()?;
    match ss {
        24 => {
            let (_, (oplock_level, _r1, _r2, fid)) =
                (le_u8, le_u8, le_u32, file_id).parse(rest).ok()?;
            Some(Body::OplockBreak {
                oplock_level,
                file_id: fid,
            })
        }
        44 => {
            let (_, (_epoch, _flags, key, cur, new)) =
                (le_u16, le_u32, take(16usize), le_u32, le_u32)
                    .parse(rest)
                    .ok()?;
            let mut lease_key = [0u8; 16];
            lease_key.copy_from_slice(key);
            Some(Body::LeaseBreak {
                lease_key,
                lease_state: cur,
                new_lease_state: new,
            })
        }
        36 => {
            let (_, (_res, _flags, key, state)) =
                (le_u16, le_u32, take(16usize), le_u32).parse(rest).ok()?;
            let mut lease_key = [0u8; 16];
            lease_key.copy_from_slice(key);
            Some(Body::LeaseBreak {
                lease_key,
                lease_state: state,
                new_lease_state: 0,
            })
        }
        _ => None,
    }
}
