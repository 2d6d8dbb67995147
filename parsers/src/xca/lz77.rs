//! Plain LZ77 ([MS-XCA] 2.3/2.4): 32-bit flag words (read from the most
//! significant bit: 0 literal byte, 1 match), a match being a 16-bit word
//! (distance - 1 in the top 13 bits, length - 3 in the low 3) with longer
//! lengths continued in a shared half byte, a byte, then 16 or 32 bits.

use super::{Matcher, XcaError, copy_match};

#[inline]
fn err(at: usize, reason: &'static str) -> XcaError {
    XcaError { at, reason }
}

/// Decodes `input` into `out`, stopping when `out` is full or the input
/// ends. Returns the bytes written: fewer than `out.len()` when the stream
/// ended first (the caller decides whether that is damage).
pub fn lz77_decompress(input: &[u8], out: &mut [u8]) -> Result<usize, XcaError> {
    let mut ip = 0usize;
    let mut op = 0usize;
    // Flags left-aligned: the next flag is bit 31.
    let mut flags = 0u32;
    let mut nflags = 0u32;
    let mut half: Option<usize> = None;
    let cap = out.len();
    while op < cap {
        if nflags == 0 {
            let Some(f) = input.get(ip..ip + 4) else {
                return Ok(op);
            };
            flags = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            ip += 4;
            nflags = 32;
        }
        // A run of literals at once.
        let lits = flags.leading_zeros().min(nflags) as usize;
        if lits > 0 {
            if lits <= 16 && ip + 16 <= input.len() && op + 16 <= cap {
                // Fast path: one fixed 16-byte copy (bytes past the run are
                // overwritten by what follows; out[..op] is always final).
                let c: [u8; 16] = input[ip..ip + 16].try_into().expect("16 bytes");
                out[op..op + 16].copy_from_slice(&c);
                op += lits;
                ip += lits;
            } else {
                let n = lits.min(cap - op).min(input.len() - ip);
                out[op..op + n].copy_from_slice(&input[ip..ip + n]);
                op += n;
                ip += n;
                if n < lits {
                    return Ok(op);
                }
            }
            nflags -= lits as u32;
            flags = flags.checked_shl(lits as u32).unwrap_or(0);
            if nflags == 0 {
                continue;
            }
        }
        // A match.
        flags <<= 1;
        nflags -= 1;
        let at = ip;
        let Some(m) = input.get(ip..ip + 2) else {
            return Ok(op);
        };
        let m = u16::from_le_bytes([m[0], m[1]]) as usize;
        ip += 2;
        let dist = (m >> 3) + 1;
        let mut len = m & 7;
        if len == 7 {
            len = match half.take() {
                None => {
                    let b = *input.get(ip).ok_or(err(ip, "match length cut short"))?;
                    half = Some(ip);
                    ip += 1;
                    (b & 15) as usize
                }
                Some(h) => (input[h] >> 4) as usize,
            };
            if len == 15 {
                len = *input.get(ip).ok_or(err(ip, "match length cut short"))? as usize;
                ip += 1;
                if len == 255 {
                    let b = input
                        .get(ip..ip + 2)
                        .ok_or(err(ip, "match length cut short"))?;
                    len = u16::from_le_bytes([b[0], b[1]]) as usize;
                    ip += 2;
                    if len == 0 {
                        let b = input
                            .get(ip..ip + 4)
                            .ok_or(err(ip, "match length cut short"))?;
                        len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                        ip += 4;
                    }
                    if len < 15 + 7 {
                        return Err(err(at, "long match length below its minimum"));
                    }
                    len -= 15 + 7;
                }
                len += 15;
            }
            len += 7;
        }
        len += 3;
        if dist > op {
            return Err(err(at, "match distance before the start of the output"));
        }
        if dist >= 16 && len + 16 <= cap - op {
            // Fast path: 16-byte chunks, each reading bytes already written
            // (dist >= 16), so overlapping matches repeat as they must;
            // the last chunk may write up to 15 bytes past the match.
            let src = op - dist;
            if len > 64 && dist >= len {
                out.copy_within(src..src + len, op);
            } else {
                let mut i = 0;
                while i < len {
                    let c: [u8; 16] = out[src + i..src + i + 16].try_into().expect("16 bytes");
                    out[op + i..op + i + 16].copy_from_slice(&c);
                    i += 16;
                }
            }
            op += len;
            continue;
        }
        let len = len.min(cap - op);
        copy_match(out, op, dist, len);
        op += len;
    }
    Ok(op)
}

/// Encodes `data` as plain LZ77 (greedy, one hash probe per position).
/// For tests and benchmarks.
pub fn lz77_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 8);
    let mut m = Matcher::new();
    let mut flag_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut flags = 0u32;
    let mut nflags = 0u32;
    let mut half: Option<usize> = None;
    let mut pos = 0;
    let mut push_flag = |out: &mut Vec<u8>, flag_at: &mut usize, bit: u32| {
        flags = (flags << 1) | bit;
        nflags += 1;
        if nflags == 32 {
            out[*flag_at..*flag_at + 4].copy_from_slice(&flags.to_le_bytes());
            *flag_at = out.len();
            out.extend_from_slice(&[0; 4]);
            flags = 0;
            nflags = 0;
        }
    };
    while pos < data.len() {
        match m.find(data, pos, 0, data.len(), 8192, usize::MAX) {
            None => {
                out.push(data[pos]);
                push_flag(&mut out, &mut flag_at, 0);
                pos += 1;
            }
            Some((dist, len)) => {
                let l = len - 3;
                let d = (dist - 1) << 3;
                if l < 7 {
                    out.extend_from_slice(&((d | l) as u16).to_le_bytes());
                } else {
                    out.extend_from_slice(&((d | 7) as u16).to_le_bytes());
                    let l2 = l - 7;
                    let nib = l2.min(15) as u8;
                    match half.take() {
                        None => {
                            half = Some(out.len());
                            out.push(nib);
                        }
                        Some(h) => out[h] |= nib << 4,
                    }
                    if l2 >= 15 {
                        let l3 = l2 - 15;
                        if l3 < 255 {
                            out.push(l3 as u8);
                        } else {
                            out.push(255);
                            if l < 65536 {
                                out.extend_from_slice(&(l as u16).to_le_bytes());
                            } else {
                                out.extend_from_slice(&[0, 0]);
                                out.extend_from_slice(&(l as u32).to_le_bytes());
                            }
                        }
                    }
                }
                push_flag(&mut out, &mut flag_at, 1);
                for p in pos + 1..pos + len {
                    m.insert(data, p, data.len());
                }
                pos += len;
            }
        }
    }
    // Remaining flags: ones (a match the decoder never reaches: output full).
    let rest = 32 - nflags;
    let f = if rest == 32 {
        u32::MAX
    } else {
        (flags << rest) | ((1u32 << rest) - 1)
    };
    out[flag_at..flag_at + 4].copy_from_slice(&f.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(input: &[u8], n: usize) -> Result<Vec<u8>, XcaError> {
        let mut out = vec![0u8; n];
        let k = lz77_decompress(input, &mut out)?;
        out.truncate(k);
        Ok(out)
    }

    #[test]
    fn literals_and_matches() {
        // MS-XCA example shape: "abc", then a match of 9 at distance 3.
        assert_eq!(
            dec(&[0, 0, 0, 0x10, b'a', b'b', b'c', 0x16, 0], 100).unwrap(),
            b"abcabcabcabc"
        );
        // Length 20: 3 + 7 + nibble 10.
        assert_eq!(
            dec(&[0, 0, 0, 0x20, b'a', b'b', 0x0F, 0, 0x0A], 100).unwrap(),
            b"ab".repeat(11)
        );
        // A huge declared length stops at the output size.
        let s = [
            0, 0, 0, 0x40, b'a', 0x07, 0, 0x0F, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F,
        ];
        assert_eq!(dec(&s, 1000).unwrap(), vec![b'a'; 1000]);
    }

    #[test]
    fn damage_is_located() {
        // A match at distance 2 with one byte of output.
        let e = dec(&[0, 0, 0, 0x40, b'a', 0x08, 0], 10).unwrap_err();
        assert_eq!(e.at, 5);
        // Input ends early: short output, no error.
        assert_eq!(dec(&[0, 0, 0, 0, b'a'], 10).unwrap(), b"a");
    }

    #[test]
    fn long_runs_round_trip() {
        for n in [0, 1, 31, 32, 33, 100, 300, 70_000, 300_000] {
            let data: Vec<u8> = (0..n).map(|i| (i / 7 % 5) as u8).collect();
            let c = lz77_compress(&data);
            assert_eq!(dec(&c, n).unwrap(), data, "n {n}");
            let zeros = vec![0u8; n];
            assert_eq!(dec(&lz77_compress(&zeros), n).unwrap(), zeros);
        }
    }

    proptest! {
        #[test]
        fn round_trip(data in prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..3000)) {
            let c = lz77_compress(&data);
            prop_assert_eq!(dec(&c, data.len()).unwrap(), data);
        }

        #[test]
        fn round_trip_periodic(seed in prop::collection::vec(any::<u8>(), 1..80), reps in 1usize..40, tail in prop::collection::vec(any::<u8>(), 0..40)) {
            // Periods of 1 to 79 bytes: overlapping matches at every distance
            // the fast path and the careful path take.
            let mut data = Vec::new();
            for _ in 0..reps {
                data.extend_from_slice(&seed);
            }
            data.extend_from_slice(&tail);
            let c = lz77_compress(&data);
            prop_assert_eq!(dec(&c, data.len()).unwrap(), data.clone());
            // A too-small output stops at its end with the prefix intact.
            let n = data.len() / 2;
            prop_assert_eq!(dec(&c, n).unwrap(), data[..n].to_vec());
        }

        #[test]
        fn never_panics_and_stays_bounded(data in prop::collection::vec(any::<u8>(), 0..2000), n in 0usize..5000) {
            let mut out = vec![0u8; n];
            if let Ok(k) = lz77_decompress(&data, &mut out) {
                prop_assert!(k <= n);
            }
        }
    }
}
