//! Partial decompression of SMB 3.1.1 compressed messages (MS-SMB2 2.2.42,
//! algorithms from MS-XCA): only the first [`PREFIX_LIMIT`] bytes of the
//! original message are rebuilt, enough to read the SMB2 header and the fixed
//! part of the body. Supported: NONE, LZNT1, plain LZ77, LZ77+Huffman
//! ([`crate::xca`]), Pattern_V1; LZ4 is not (the message then stays opaque).
//! Every decoder stops at the output limit or at the first malformed token.

use super::wire::{COMPRESSION_HEADER_LEN, CompressionHeader};

/// Bytes of the original message rebuilt at most.
pub const PREFIX_LIMIT: usize = 256;
/// Most chained payloads examined.
const MAX_CHAINED_PAYLOADS: usize = 64;

const ALG_NONE: u16 = 0;
const ALG_LZNT1: u16 = 1;
const ALG_LZ77: u16 = 2;
const ALG_LZ77_HUFFMAN: u16 = 3;
const ALG_PATTERN_V1: u16 = 4;
const ALG_LZ4: u16 = 5;

/// Rebuilds up to [`PREFIX_LIMIT`] bytes of the original message of a
/// compression transform (`msg` starts at its 0xFC protocol id). Returns
/// what could be rebuilt (possibly empty).
pub fn original_prefix(msg: &[u8], h: &CompressionHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX_LIMIT);
    if h.chained() {
        // Payload headers start right after OriginalCompressedSegmentSize.
        let mut pos = 8usize;
        for _ in 0..MAX_CHAINED_PAYLOADS {
            if out.len() >= PREFIX_LIMIT {
                break;
            }
            let Some(ph) = msg.get(pos..pos + 8) else {
                break;
            };
            let alg = u16::from_le_bytes([ph[0], ph[1]]);
            let len = u32::from_le_bytes([ph[4], ph[5], ph[6], ph[7]]) as usize;
            let start = pos + 8;
            let data = msg
                .get(start..start.saturating_add(len).min(msg.len()))
                .unwrap_or(&[]);
            let complete = data.len() == len;
            match alg {
                ALG_NONE => push_limited(&mut out, data),
                ALG_PATTERN_V1 => pattern_v1(&mut out, data),
                ALG_LZNT1 | ALG_LZ77 | ALG_LZ77_HUFFMAN => {
                    // Payload starts with OriginalPayloadSize.
                    let d = data.get(4..).unwrap_or(&[]);
                    let ok = match alg {
                        ALG_LZNT1 => lznt1(&mut out, d),
                        ALG_LZ77 => lz77(&mut out, d),
                        _ => lz77_huffman(&mut out, d),
                    };
                    if !ok {
                        break;
                    }
                }
                _ => break,
            }
            if !complete {
                break;
            }
            pos = start + len;
        }
    } else {
        let clear_len = h.offset_or_length as usize;
        let start = COMPRESSION_HEADER_LEN;
        let clear_end = start.saturating_add(clear_len).min(msg.len());
        push_limited(&mut out, msg.get(start..clear_end).unwrap_or(&[]));
        if start.saturating_add(clear_len) <= msg.len() {
            let rest = &msg[clear_end..];
            match h.algorithm {
                ALG_NONE => push_limited(&mut out, rest),
                ALG_LZNT1 => {
                    lznt1(&mut out, rest);
                }
                ALG_LZ77 => {
                    lz77(&mut out, rest);
                }
                ALG_PATTERN_V1 => pattern_v1(&mut out, rest),
                ALG_LZ77_HUFFMAN => {
                    lz77_huffman(&mut out, rest);
                }
                ALG_LZ4 => {}
                _ => {}
            }
        }
    }
    out.truncate(PREFIX_LIMIT);
    out
}

fn push_limited(out: &mut Vec<u8>, data: &[u8]) {
    let room = PREFIX_LIMIT.saturating_sub(out.len());
    out.extend_from_slice(&data[..data.len().min(room)]);
}

/// LZ77+Huffman (MS-XCA 2.2) up to the prefix limit. Returns false on a
/// malformed stream (what decoded before the damage is kept).
fn lz77_huffman(out: &mut Vec<u8>, data: &[u8]) -> bool {
    let mut buf = [0u8; PREFIX_LIMIT];
    let room = PREFIX_LIMIT.saturating_sub(out.len());
    match crate::xca::huffman_decompress(data, &mut buf[..room]) {
        Ok(n) => {
            out.extend_from_slice(&buf[..n]);
            true
        }
        Err(_) => false,
    }
}

/// SMB2_COMPRESSION_PATTERN_PAYLOAD_V1: Pattern, Reserved1, Reserved2, Repetitions.
fn pattern_v1(out: &mut Vec<u8>, data: &[u8]) {
    if let Some(p) = data.get(..8) {
        let reps = u32::from_le_bytes([p[4], p[5], p[6], p[7]]) as usize;
        let room = PREFIX_LIMIT.saturating_sub(out.len());
        out.extend(std::iter::repeat_n(p[0], reps.min(room)));
    }
}

/// Copies `len` bytes from `dist` back in `out` (byte by byte: overlaps repeat).
fn back_copy(out: &mut Vec<u8>, dist: usize, len: usize, floor: usize) -> bool {
    // The distance must stay within the output (for LZNT1, within the chunk).
    if dist == 0 || out.len() < floor + dist {
        return false;
    }
    for _ in 0..len {
        if out.len() >= PREFIX_LIMIT {
            break;
        }
        let b = out[out.len() - dist];
        out.push(b);
    }
    true
}

/// LZNT1 (MS-XCA 2.5): a sequence of chunks of up to 4096 output bytes.
/// Returns false on a malformed stream.
pub fn lznt1(out: &mut Vec<u8>, mut data: &[u8]) -> bool {
    while out.len() < PREFIX_LIMIT {
        let Some(hdr) = data.get(..2) else {
            return true;
        };
        let h = u16::from_le_bytes([hdr[0], hdr[1]]);
        if h == 0 {
            return true;
        }
        let size = (h & 0x0FFF) as usize + 1;
        let compressed = h & 0x8000 != 0;
        let chunk = data.get(2..(2 + size).min(data.len())).unwrap_or(&[]);
        data = data.get(2 + size..).unwrap_or(&[]);
        if !compressed {
            push_limited(out, chunk);
            continue;
        }
        let chunk_start = out.len();
        let mut i = 0usize;
        while i < chunk.len() && out.len() < PREFIX_LIMIT {
            let flags = chunk[i];
            i += 1;
            for bit in 0..8 {
                if i >= chunk.len() || out.len() >= PREFIX_LIMIT {
                    break;
                }
                if flags & (1 << bit) == 0 {
                    out.push(chunk[i]);
                    i += 1;
                } else {
                    let Some(t) = chunk.get(i..i + 2) else {
                        return false;
                    };
                    i += 2;
                    let token = u16::from_le_bytes([t[0], t[1]]) as usize;
                    let pos = out.len() - chunk_start;
                    let mut shift = 12;
                    let mut mask = 0x0FFF;
                    let mut p = pos.saturating_sub(1);
                    while p >= 0x10 {
                        shift -= 1;
                        mask >>= 1;
                        p >>= 1;
                    }
                    let len = (token & mask) + 3;
                    let dist = (token >> shift) + 1;
                    if !back_copy(out, dist, len, chunk_start) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Plain LZ77 (MS-XCA 2.4). Returns false on a malformed stream.
pub fn lz77(out: &mut Vec<u8>, data: &[u8]) -> bool {
    let mut flags = 0u32;
    let mut flag_count = 0u32;
    let mut i = 0usize;
    let mut last_half: Option<usize> = None;
    let rd16 = |i: usize| {
        data.get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    while out.len() < PREFIX_LIMIT {
        if flag_count == 0 {
            let Some(f) = data.get(i..i + 4) else {
                return true;
            };
            flags = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            i += 4;
            flag_count = 32;
        }
        flag_count -= 1;
        if flags & (1 << flag_count) == 0 {
            let Some(&b) = data.get(i) else {
                return true;
            };
            out.push(b);
            i += 1;
            continue;
        }
        let Some(m) = rd16(i) else {
            return true;
        };
        i += 2;
        let mut len = m % 8;
        let dist = m / 8 + 1;
        if len == 7 {
            match last_half.take() {
                None => {
                    let Some(&b) = data.get(i) else { return false };
                    len = (b % 16) as usize;
                    last_half = Some(i);
                    i += 1;
                }
                Some(at) => len = (data[at] / 16) as usize,
            }
            if len == 15 {
                let Some(&b) = data.get(i) else { return false };
                i += 1;
                len = b as usize;
                if len == 255 {
                    let Some(l) = rd16(i) else { return false };
                    i += 2;
                    len = l;
                    if len == 0 {
                        let Some(l) = data.get(i..i + 4) else {
                            return false;
                        };
                        i += 4;
                        len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    }
                    if len < 22 {
                        return false;
                    }
                    len -= 22;
                }
                len += 15;
            }
            len += 7;
        }
        len += 3;
        if !back_copy(out, dist, len, 0) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::wire::compression_header;
    use proptest::prelude::*;

    #[test]
    fn lznt1_literals_and_match() {
        // "abc" then a 9-byte match at distance 3; flag byte 0x08, token 0x2006.
        let mut out = Vec::new();
        assert!(lznt1(
            &mut out,
            &[0x05, 0xB0, 0x08, b'a', b'b', b'c', 0x06, 0x20]
        ));
        assert_eq!(out, b"abcabcabcabc");
        // Uncompressed chunk, then end marker.
        let mut out = Vec::new();
        assert!(lznt1(&mut out, &[0x02, 0x30, b'x', b'y', b'z', 0, 0]));
        assert_eq!(out, b"xyz");
        // A match reaching before the chunk start is malformed.
        let mut out = Vec::new();
        assert!(!lznt1(&mut out, &[0x03, 0xB0, 0x01, 0x06, 0x20]));
    }

    #[test]
    fn lz77_literals_and_matches() {
        let mut out = Vec::new();
        assert!(lz77(&mut out, &[0, 0, 0, 0x10, b'a', b'b', b'c', 0x16, 0]));
        assert_eq!(out, b"abcabcabcabc");
        // Length 20: 3 + 7 + nibble 10.
        let mut out = Vec::new();
        assert!(lz77(&mut out, &[0, 0, 0, 0x20, b'a', b'b', 0x0F, 0, 0x0A]));
        assert_eq!(out, b"ab".repeat(11));
        // Output stops at the prefix limit even for a huge length.
        let mut out = Vec::new();
        assert!(lz77(
            &mut out,
            &[
                0, 0, 0, 0x40, b'a', 0x07, 0, 0x0F, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F
            ]
        ));
        assert_eq!(out.len(), PREFIX_LIMIT);
    }

    #[test]
    fn chained_none_pattern_and_unchained_clear_prefix() {
        let mut m = vec![0xFC, b'S', b'M', b'B', 0, 1, 0, 0];
        m.extend_from_slice(&[0, 0, 1, 0, 3, 0, 0, 0, b'h', b'd', b'r']);
        m.extend_from_slice(&[4, 0, 1, 0, 8, 0, 0, 0, 0xAA, 0, 0, 0, 10, 0, 0, 0]);
        let (_, h) = compression_header(&m).unwrap();
        let out = original_prefix(&m, &h);
        let mut want = b"hdr".to_vec();
        want.extend_from_slice(&[0xAA; 10]);
        assert_eq!(out, want);
        // Unchained LZ77+Huffman: the clear Offset bytes, then the
        // decompressed rest.
        let mut m = vec![0xFC, b'S', b'M', b'B', 0, 1, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0];
        m.extend_from_slice(b"ok");
        m.extend_from_slice(&crate::xca::huffman_compress(&[0xFE; 300]));
        let (_, h) = compression_header(&m).unwrap();
        let mut want = b"ok".to_vec();
        want.extend_from_slice(&[0xFE; PREFIX_LIMIT - 2]);
        assert_eq!(original_prefix(&m, &h), want);
        // Garbage after the clear bytes: only those.
        let mut m = vec![0xFC, b'S', b'M', b'B', 0, 1, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0];
        m.extend_from_slice(&[b'o', b'k', 1, 2, 3]);
        let (_, h) = compression_header(&m).unwrap();
        assert_eq!(original_prefix(&m, &h), b"ok");
    }

    proptest! {
        #[test]
        fn decompressors_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
            let mut a = Vec::new();
            let _ = lznt1(&mut a, &data);
            prop_assert!(a.len() <= PREFIX_LIMIT);
            let mut b = Vec::new();
            let _ = lz77(&mut b, &data);
            prop_assert!(b.len() <= PREFIX_LIMIT);
            let mut m = vec![0xFC, b'S', b'M', b'B'];
            m.extend_from_slice(&data);
            if let Ok((_, h)) = compression_header(&m) {
                prop_assert!(original_prefix(&m, &h).len() <= PREFIX_LIMIT);
            }
        }
    }
}
