//! Test fixtures: hand-built SMB messages (MS-SMB2 layouts).

use std::net::IpAddr;

use super::wire::flags;

/// Header fields of a fixture PDU.
#[derive(Clone, Copy)]
pub struct H {
    pub cmd: u16,
    pub resp: bool,
    pub mid: u64,
    pub next: u32,
    pub session: u64,
    pub tree: u32,
    pub status: u32,
    pub async_id: Option<u64>,
}

impl H {
    pub fn req(cmd: u16, mid: u64) -> H {
        H {
            cmd,
            resp: false,
            mid,
            next: 0,
            session: 0x1000_0000_0000_0041,
            tree: 5,
            status: 0,
            async_id: None,
        }
    }
    pub fn resp(cmd: u16, mid: u64) -> H {
        H {
            resp: true,
            ..H::req(cmd, mid)
        }
    }
}

/// A 64-byte SMB2 header.
pub fn header(h: H) -> Vec<u8> {
    let mut f = if h.resp { flags::SERVER_TO_REDIR } else { 0 };
    if h.async_id.is_some() {
        f |= flags::ASYNC_COMMAND;
    }
    let mut v = vec![0xFE, b'S', b'M', b'B', 64, 0, 1, 0];
    v.extend_from_slice(&h.status.to_le_bytes());
    v.extend_from_slice(&h.cmd.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&f.to_le_bytes());
    v.extend_from_slice(&h.next.to_le_bytes());
    v.extend_from_slice(&h.mid.to_le_bytes());
    match h.async_id {
        Some(a) => v.extend_from_slice(&a.to_le_bytes()),
        None => {
            v.extend_from_slice(&0xFEFFu32.to_le_bytes());
            v.extend_from_slice(&h.tree.to_le_bytes());
        }
    }
    v.extend_from_slice(&h.session.to_le_bytes());
    v.extend_from_slice(&[0; 16]);
    v
}

/// A PDU: header + body.
pub fn pdu(h: H, body: &[u8]) -> Vec<u8> {
    let mut v = header(h);
    v.extend_from_slice(body);
    v
}

/// A Direct-TCP framed message.
pub fn frame(msg: &[u8]) -> Vec<u8> {
    let l = (msg.len() as u32).to_be_bytes();
    let mut v = vec![0, l[1], l[2], l[3]];
    v.extend_from_slice(msg);
    v
}

/// A compound message: sets NextCommand of each element (8-byte aligned).
pub fn compound(pdus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in pdus.iter().enumerate() {
        let mut p = p.clone();
        if i + 1 < pdus.len() {
            while p.len() % 8 != 0 {
                p.push(0);
            }
            let n = p.len() as u32;
            p[20..24].copy_from_slice(&n.to_le_bytes());
            let f = u32::from_le_bytes([p[16], p[17], p[18], p[19]]);
            if i > 0 {
                p[16..20].copy_from_slice(&(f | flags::RELATED_OPERATIONS).to_le_bytes());
            }
        }
        out.extend_from_slice(&p);
    }
    out
}

pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u64le(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Negotiate context list starting at `base` (header-relative), 8-aligned.
fn contexts(base: usize, ctx: &[(u16, Vec<u8>)]) -> (usize, Vec<u8>) {
    let pad = (8 - base % 8) % 8;
    let mut v = vec![0; pad];
    for (ty, data) in ctx {
        while (v.len() - pad) % 8 != 0 {
            v.push(0);
        }
        u16le(&mut v, *ty);
        u16le(&mut v, data.len() as u16);
        u32le(&mut v, 0);
        v.extend_from_slice(data);
    }
    (base + pad, v)
}

/// 3.1.1 contexts: preauth SHA-512, ciphers, compression, signing.
pub fn std_contexts(ciphers: &[u16]) -> Vec<(u16, Vec<u8>)> {
    let mut pre = Vec::new();
    u16le(&mut pre, 1);
    u16le(&mut pre, 4);
    u16le(&mut pre, 1);
    pre.extend_from_slice(&[9, 9, 9, 9]);
    let mut enc = Vec::new();
    u16le(&mut enc, ciphers.len() as u16);
    for &c in ciphers {
        u16le(&mut enc, c);
    }
    let mut comp = Vec::new();
    u16le(&mut comp, 2);
    u16le(&mut comp, 0);
    u32le(&mut comp, 0);
    u16le(&mut comp, 1);
    u16le(&mut comp, 4);
    let mut sig = Vec::new();
    u16le(&mut sig, 1);
    u16le(&mut sig, 2);
    vec![(1, pre), (2, enc), (3, comp), (8, sig)]
}

pub fn negotiate_request(dialects: &[u16], caps: u32, ctx: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let dl = 64 + 36 + dialects.len() * 2;
    let (ctx_off, ctx_bytes) = contexts(dl, ctx);
    let mut b = Vec::new();
    u16le(&mut b, 36);
    u16le(&mut b, dialects.len() as u16);
    u16le(&mut b, 1);
    u16le(&mut b, 0);
    u32le(&mut b, caps);
    b.extend_from_slice(&[0x11; 16]);
    u32le(&mut b, if ctx.is_empty() { 0 } else { ctx_off as u32 });
    u16le(&mut b, ctx.len() as u16);
    u16le(&mut b, 0);
    for &d in dialects {
        u16le(&mut b, d);
    }
    b.extend_from_slice(&ctx_bytes);
    b
}

pub fn negotiate_response(dialect: u16, caps: u32, ctx: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let (ctx_off, ctx_bytes) = contexts(64 + 64 + 8, ctx);
    let mut b = Vec::new();
    u16le(&mut b, 65);
    u16le(&mut b, 1);
    u16le(&mut b, dialect);
    u16le(&mut b, ctx.len() as u16);
    b.extend_from_slice(&[0x22; 16]);
    u32le(&mut b, caps);
    u32le(&mut b, 8 << 20);
    u32le(&mut b, 8 << 20);
    u32le(&mut b, 8 << 20);
    u64le(&mut b, 0);
    u64le(&mut b, 0);
    u16le(&mut b, 128);
    u16le(&mut b, 8);
    u32le(&mut b, if ctx.is_empty() { 0 } else { ctx_off as u32 });
    b.extend_from_slice(&[0x60; 8]);
    b.extend_from_slice(&ctx_bytes);
    b
}

pub fn session_setup_request(flags: u8, previous: u64) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 25);
    b.push(flags);
    b.push(1);
    u32le(&mut b, 0);
    u32le(&mut b, 0);
    u16le(&mut b, 88);
    u16le(&mut b, 4);
    u64le(&mut b, previous);
    b.extend_from_slice(&[0x60, 0, 0, 0]);
    b
}

pub fn session_setup_response(session_flags: u16) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 9);
    u16le(&mut b, session_flags);
    u16le(&mut b, 72);
    u16le(&mut b, 1);
    b.push(0xA1);
    b
}

pub fn tree_connect_request(flags: u16, path: &str) -> Vec<u8> {
    let p = utf16(path);
    let mut b = Vec::new();
    u16le(&mut b, 9);
    u16le(&mut b, flags);
    u16le(&mut b, 72);
    u16le(&mut b, p.len() as u16);
    b.extend_from_slice(&p);
    b
}

pub fn tree_connect_response(share_type: u8, share_flags: u32, caps: u32) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 16);
    b.push(share_type);
    b.push(0);
    u32le(&mut b, share_flags);
    u32le(&mut b, caps);
    u32le(&mut b, 0x001F_01FF);
    b
}

pub fn create_request(name: &str) -> Vec<u8> {
    let n = utf16(name);
    let mut b = vec![0u8; 44];
    b[0] = 57;
    u16le(&mut b, 120);
    u16le(&mut b, n.len() as u16);
    u32le(&mut b, 0);
    u32le(&mut b, 0);
    b.extend_from_slice(&n);
    b
}

pub fn create_response(persistent: u64, volatile: u64, eof: u64) -> Vec<u8> {
    let mut b = vec![0u8; 48];
    b[0] = 89;
    u64le(&mut b, eof);
    u32le(&mut b, 0x20);
    u32le(&mut b, 0);
    u64le(&mut b, persistent);
    u64le(&mut b, volatile);
    u32le(&mut b, 0);
    u32le(&mut b, 0);
    b
}

pub fn read_request(len: u32, off: u64, fid: (u64, u64)) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 49);
    b.push(0x50);
    b.push(0);
    u32le(&mut b, len);
    u64le(&mut b, off);
    u64le(&mut b, fid.0);
    u64le(&mut b, fid.1);
    u32le(&mut b, 1);
    u32le(&mut b, 0);
    u32le(&mut b, 0);
    u16le(&mut b, 0);
    u16le(&mut b, 0);
    b.push(0);
    b
}

/// READ response carrying `data`.
pub fn read_response(data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 17);
    b.push(80);
    b.push(0);
    u32le(&mut b, data.len() as u32);
    u32le(&mut b, 0);
    u32le(&mut b, 0);
    b.extend_from_slice(data);
    b
}

/// WRITE request carrying `data`.
pub fn write_request(off: u64, fid: (u64, u64), data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 49);
    u16le(&mut b, 112);
    u32le(&mut b, data.len() as u32);
    u64le(&mut b, off);
    u64le(&mut b, fid.0);
    u64le(&mut b, fid.1);
    u32le(&mut b, 0);
    u32le(&mut b, 0);
    u16le(&mut b, 0);
    u16le(&mut b, 0);
    u32le(&mut b, 0);
    b.extend_from_slice(data);
    b
}

pub fn ioctl_request(code: u32) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 57);
    u16le(&mut b, 0);
    u32le(&mut b, code);
    b.extend_from_slice(&[0xFF; 16]);
    for x in [120u32, 0, 0, 120, 0, 65536, 1, 0] {
        u32le(&mut b, x);
    }
    b
}

/// IOCTL response with `out` as output buffer.
pub fn ioctl_response(code: u32, out: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    u16le(&mut b, 49);
    u16le(&mut b, 0);
    u32le(&mut b, code);
    b.extend_from_slice(&[0xFF; 16]);
    for x in [112u32, 0, 112, out.len() as u32, 0, 0] {
        u32le(&mut b, x);
    }
    b.extend_from_slice(out);
    b
}

/// A NETWORK_INTERFACE_INFO chain.
pub fn interface_list(items: &[(u32, u32, u64, IpAddr)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, &(idx, cap, speed, ip)) in items.iter().enumerate() {
        let next = if i + 1 < items.len() { 152u32 } else { 0 };
        u32le(&mut v, next);
        u32le(&mut v, idx);
        u32le(&mut v, cap);
        u32le(&mut v, 0);
        u64le(&mut v, speed);
        let mut sa = [0u8; 128];
        match ip {
            IpAddr::V4(a) => {
                sa[0] = 2;
                sa[4..8].copy_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                sa[0] = 0x17;
                sa[8..24].copy_from_slice(&a.octets());
            }
        }
        v.extend_from_slice(&sa);
    }
    v
}

/// An ERROR response whose single error context is a share redirect.
pub fn share_redirect_error(addrs: &[IpAddr], name: &str) -> Vec<u8> {
    let n = utf16(name);
    let mut ctx = Vec::new();
    u32le(&mut ctx, 48);
    u32le(&mut ctx, 3);
    u32le(&mut ctx, (24 + 24 * addrs.len()) as u32);
    u32le(&mut ctx, n.len() as u32);
    u16le(&mut ctx, 0);
    u16le(&mut ctx, 0);
    u32le(&mut ctx, addrs.len() as u32);
    for a in addrs {
        let mut rec = [0u8; 24];
        match a {
            IpAddr::V4(x) => {
                rec[0] = 1;
                rec[8..12].copy_from_slice(&x.octets());
            }
            IpAddr::V6(x) => {
                rec[0] = 2;
                rec[8..24].copy_from_slice(&x.octets());
            }
        }
        ctx.extend_from_slice(&rec);
    }
    ctx.extend_from_slice(&n);
    let mut data = Vec::new();
    u32le(&mut data, ctx.len() as u32);
    u32le(&mut data, 0x7264_5253);
    data.extend_from_slice(&ctx);
    let mut b = Vec::new();
    u16le(&mut b, 9);
    b.push(1);
    b.push(0);
    u32le(&mut b, data.len() as u32);
    b.extend_from_slice(&data);
    b
}

/// A transform (encrypted) message with `cipher_len` ciphertext bytes.
pub fn transform(session: u64, cipher_len: usize) -> Vec<u8> {
    let mut v = vec![0xFD, b'S', b'M', b'B'];
    v.extend_from_slice(&[0xAB; 32]);
    u32le(&mut v, cipher_len as u32);
    u16le(&mut v, 0);
    u16le(&mut v, 1);
    u64le(&mut v, session);
    v.extend(std::iter::repeat_n(0x5A, cipher_len));
    v
}

/// An unchained compression transform whose clear part is `clear` followed by `compressed`.
pub fn compressed_unchained(clear: &[u8], compressed: &[u8], original: u32) -> Vec<u8> {
    let mut v = vec![0xFC, b'S', b'M', b'B'];
    u32le(&mut v, original);
    u16le(&mut v, 1);
    u16le(&mut v, 0);
    u32le(&mut v, clear.len() as u32);
    v.extend_from_slice(clear);
    v.extend_from_slice(compressed);
    v
}
