//! Body decoders for the SMB2 commands the analyser needs (MS-SMB2 2.2.x),
//! plus name tables (dialects, capabilities, FSCTL codes). Every decoder
//! takes the PDU from the start of its SMB2 header (offsets in SMB2 bodies
//! are relative to it) and never trusts a length or offset field: whatever
//! falls outside the captured bytes is left out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nom::Parser;

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

/// Human name of a dialect revision ("3.1.1", "2.???" for 0x02FF).
pub fn dialect_name(d: u16) -> &'static str {
    match d {
        0x0202 => "2.0.2",
        0x0210 => "2.1",
        0x0222 => "2.2.2",
        0x0224 => "2.2.4",
        0x02FF => "2.???",
        0x0300 => "3.0",
        0x0302 => "3.0.2",
        0x0310 => "3.1",
        0x0311 => "3.1.1",
        _ => "unknown",
    }
}

/// Names of the global capability bits (NEGOTIATE Capabilities).
pub fn capability_names(c: u32) -> Vec<&'static str> {
    const T: [(u32, &str); 8] = [
        (0x01, "DFS"),
        (0x02, "LEASING"),
        (0x04, "LARGE_MTU"),
        (0x08, "MULTI_CHANNEL"),
        (0x10, "PERSISTENT_HANDLES"),
        (0x20, "DIRECTORY_LEASING"),
        (0x40, "ENCRYPTION"),
        (0x80, "NOTIFICATIONS"),
    ];
    T.iter()
        .filter(|(b, _)| c & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Share capability bits (TREE_CONNECT response).
pub mod share_caps {
    pub const DFS: u32 = 0x08;
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x10;
    pub const SCALEOUT: u32 = 0x20;
    pub const CLUSTER: u32 = 0x40;
    pub const ASYMMETRIC: u32 = 0x80;
    pub const REDIRECT_TO_OWNER: u32 = 0x100;
}

/// Short names of share capability bits: "DFS", "CA", "SCALEOUT", "CLUSTER",
/// "ASYMMETRIC", "REDIRECT_TO_OWNER".
pub fn share_capability_names(c: u32) -> Vec<&'static str> {
    const T: [(u32, &str); 6] = [
        (share_caps::DFS, "DFS"),
        (share_caps::CONTINUOUS_AVAILABILITY, "CA"),
        (share_caps::SCALEOUT, "SCALEOUT"),
        (share_caps::CLUSTER, "CLUSTER"),
        (share_caps::ASYMMETRIC, "ASYMMETRIC"),
        (share_caps::REDIRECT_TO_OWNER, "REDIRECT_TO_OWNER"),
    ];
    T.iter()
        .filter(|(b, _)| c & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// ShareFlags bit: the share requires encryption.
pub const SHARE_FLAG_ENCRYPT_DATA: u32 = 0x8000;
/// SESSION_SETUP request flag: bind this connection to an existing session.
pub const SESSION_FLAG_BINDING: u8 = 0x01;
/// SessionFlags bits of the SESSION_SETUP response.
pub const SESSION_FLAG_IS_GUEST: u16 = 0x1;
pub const SESSION_FLAG_IS_NULL: u16 = 0x2;
pub const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x4;
/// TREE_CONNECT request flag (3.1.1) asking for a share redirect.
pub const TREE_CONNECT_FLAG_REDIRECT_TO_OWNER: u16 = 0x0002;

/// Share type name (TREE_CONNECT response).
pub fn share_type_name(t: u8) -> &'static str {
    match t {
        1 => "DISK",
        2 => "PIPE",
        3 => "PRINT",
        _ => "unknown",
    }
}

/// FSCTL / IOCTL codes the analyser names.
pub mod fsctl {
    pub const DFS_GET_REFERRALS: u32 = 0x0006_0194;
    pub const DFS_GET_REFERRALS_EX: u32 = 0x0006_01B0;
    pub const PIPE_PEEK: u32 = 0x0011_400C;
    pub const PIPE_WAIT: u32 = 0x0011_0018;
    pub const PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    pub const SRV_COPYCHUNK: u32 = 0x0014_40F2;
    pub const SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
    pub const SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    pub const SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    pub const SRV_READ_HASH: u32 = 0x0014_41BB;
    pub const LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
    pub const QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    pub const VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
    pub const SET_REPARSE_POINT: u32 = 0x0009_00A4;
    pub const GET_REPARSE_POINT: u32 = 0x0009_00A8;
    pub const SET_SPARSE: u32 = 0x0009_00C4;
    pub const SET_ZERO_DATA: u32 = 0x0009_80C8;
    pub const QUERY_ALLOCATED_RANGES: u32 = 0x0009_40CF;
    pub const FILE_LEVEL_TRIM: u32 = 0x0009_8208;
    pub const OFFLOAD_READ: u32 = 0x0009_4264;
    pub const OFFLOAD_WRITE: u32 = 0x0009_8268;
    pub const DUPLICATE_EXTENTS_TO_FILE: u32 = 0x0009_8344;
    pub const SET_INTEGRITY_INFORMATION: u32 = 0x0009_C280;
    pub const QUERY_SHARED_VIRTUAL_DISK_SUPPORT: u32 = 0x0009_0300;
    pub const SVHDX_SYNC_TUNNEL_REQUEST: u32 = 0x0009_0304;
    pub const SVHDX_ASYNC_TUNNEL_REQUEST: u32 = 0x0009_0364;
}

/// Name of an FSCTL code ("FSCTL_0x........" style names are left to callers: `None`).
pub fn fsctl_name(code: u32) -> Option<&'static str> {
    use fsctl::*;
    Some(match code {
        DFS_GET_REFERRALS => "FSCTL_DFS_GET_REFERRALS",
        DFS_GET_REFERRALS_EX => "FSCTL_DFS_GET_REFERRALS_EX",
        PIPE_PEEK => "FSCTL_PIPE_PEEK",
        PIPE_WAIT => "FSCTL_PIPE_WAIT",
        PIPE_TRANSCEIVE => "FSCTL_PIPE_TRANSCEIVE",
        SRV_COPYCHUNK => "FSCTL_SRV_COPYCHUNK",
        SRV_COPYCHUNK_WRITE => "FSCTL_SRV_COPYCHUNK_WRITE",
        SRV_ENUMERATE_SNAPSHOTS => "FSCTL_SRV_ENUMERATE_SNAPSHOTS",
        SRV_REQUEST_RESUME_KEY => "FSCTL_SRV_REQUEST_RESUME_KEY",
        SRV_READ_HASH => "FSCTL_SRV_READ_HASH",
        LMR_REQUEST_RESILIENCY => "FSCTL_LMR_REQUEST_RESILIENCY",
        QUERY_NETWORK_INTERFACE_INFO => "FSCTL_QUERY_NETWORK_INTERFACE_INFO",
        VALIDATE_NEGOTIATE_INFO => "FSCTL_VALIDATE_NEGOTIATE_INFO",
        SET_REPARSE_POINT => "FSCTL_SET_REPARSE_POINT",
        GET_REPARSE_POINT => "FSCTL_GET_REPARSE_POINT",
        SET_SPARSE => "FSCTL_SET_SPARSE",
        SET_ZERO_DATA => "FSCTL_SET_ZERO_DATA",
        QUERY_ALLOCATED_RANGES => "FSCTL_QUERY_ALLOCATED_RANGES",
        FILE_LEVEL_TRIM => "FSCTL_FILE_LEVEL_TRIM",
        OFFLOAD_READ => "FSCTL_OFFLOAD_READ",
        OFFLOAD_WRITE => "FSCTL_OFFLOAD_WRITE",
        DUPLICATE_EXTENTS_TO_FILE => "FSCTL_DUPLICATE_EXTENTS_TO_FILE",
        SET_INTEGRITY_INFORMATION => "FSCTL_SET_INTEGRITY_INFORMATION",
        QUERY_SHARED_VIRTUAL_DISK_SUPPORT => "FSCTL_QUERY_SHARED_VIRTUAL_DISK_SUPPORT",
        SVHDX_SYNC_TUNNEL_REQUEST => "FSCTL_SVHDX_SYNC_TUNNEL_REQUEST",
        SVHDX_ASYNC_TUNNEL_REQUEST => "FSCTL_SVHDX_ASYNC_TUNNEL_REQUEST",
        _ => return None,
    })
}

/// File name suffixes of Hyper-V VM storage and state files.
const VM_SUFFIXES: [&str; 7] = [
    ".vhd", ".vhdx", ".avhd", ".avhdx", ".vmrs", ".vmgs", ".vmcx",
];

/// Whether a file name is Hyper-V VM storage/state (case-insensitive suffix match).
pub fn is_vm_storage(name: &str) -> bool {
    let lower = name.trim_end_matches('\0').to_ascii_lowercase();
    VM_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

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
    let (_, (ss, data_offset, length, offset, fid)) =
        (le_u16, le_u16, le_u32, le_u64, file_id).parse(body).ok()?;
    if ss != 49 {
        return None;
    }
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
