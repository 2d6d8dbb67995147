//! Microsoft's compression formats from [MS-XCA]: plain LZ77 ("XPRESS",
//! section 2.3/2.4), used by ETW for compressed trace buffers (buffer flag
//! 0x40: the records after the 0x48-byte buffer header are one plain-LZ77
//! stream that expands to `FilledBytes - 0x48` bytes), and LZ77+Huffman
//! ("XPRESS Huffman", section 2.1/2.2), used by SMB 3.1.1 compression.
//!
//! Decoders write into a caller-sized output slice (the size the container
//! declares): output never exceeds it, every step produces output or consumes
//! input, so work is proportional to input plus output. Damage is reported
//! with the offset in the compressed input. The encoders exist for tests,
//! fuzzing and benchmarks (they produce valid streams, not small ones).

pub mod huffman;
pub mod lz77;

pub use huffman::{huffman_compress, huffman_decompress};
pub use lz77::{lz77_compress, lz77_decompress};

/// Why a compressed stream does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("at compressed byte {at}: {reason}")]
pub struct XcaError {
    /// Offset in the compressed input where decoding failed.
    pub at: usize,
    pub reason: &'static str,
}

/// Copies a match of `len` bytes from `dist` back, inside `out`, at `op`.
/// The caller checked `dist <= op` and `op + len <= out.len()`.
#[inline(always)]
pub(crate) fn copy_match(out: &mut [u8], op: usize, dist: usize, len: usize) {
    let src = op - dist;
    if dist >= len {
        out.copy_within(src..src + len, op);
    } else if dist == 1 {
        let b = out[src];
        out[op..op + len].fill(b);
    } else {
        // Overlapping: bytes from `src` repeat with period `dist`; copy in
        // chunks that double (each a whole number of periods).
        let mut done = 0;
        while done < len {
            let n = (dist + done).min(len - done);
            out.copy_within(src..src + n, op + done);
            done += n;
        }
    }
}

/// Match finder shared by the encoders: a hash of 4 bytes -> last position.
pub(crate) struct Matcher {
    table: Vec<u32>,
}

const HASH_BITS: u32 = 15;

impl Matcher {
    pub(crate) fn new() -> Matcher {
        Matcher {
            table: vec![u32::MAX; 1 << HASH_BITS],
        }
    }

    #[inline]
    fn hash(b: &[u8]) -> usize {
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    }

    /// Longest match at `pos` (length >= 3) within `max_dist` back, not
    /// reaching before `floor` nor beyond `end`; remembers `pos`.
    pub(crate) fn find(
        &mut self,
        data: &[u8],
        pos: usize,
        floor: usize,
        end: usize,
        max_dist: usize,
        max_len: usize,
    ) -> Option<(usize, usize)> {
        if pos + 4 > end {
            return None;
        }
        let h = Self::hash(&data[pos..]);
        let cand = self.table[h];
        self.table[h] = pos as u32;
        if cand == u32::MAX {
            return None;
        }
        let cand = cand as usize;
        if cand < floor || cand >= pos || pos - cand > max_dist {
            return None;
        }
        let limit = (end - pos).min(max_len);
        let mut n = 0;
        while n < limit && data[cand + n] == data[pos + n] {
            n += 1;
        }
        (n >= 3).then_some((pos - cand, n))
    }

    /// Remembers `pos` without searching (inside a match).
    #[inline]
    pub(crate) fn insert(&mut self, data: &[u8], pos: usize, end: usize) {
        if pos + 4 <= end {
            self.table[Self::hash(&data[pos..])] = pos as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_copies_repeat() {
        for dist in 1..6 {
            for len in 1..40 {
                let mut out = vec![0u8; 8 + len];
                for (i, b) in out.iter_mut().take(8).enumerate() {
                    *b = i as u8 + 1;
                }
                copy_match(&mut out, 8, dist, len);
                let mut want: Vec<u8> = (1..=8).collect();
                for i in 0..len {
                    want.push(want[8 + i - dist]);
                }
                assert_eq!(out, want, "dist {dist} len {len}");
            }
        }
    }
}
