//! LZ77+Huffman ([MS-XCA] 2.1/2.2): blocks of up to 65536 output bytes,
//! each a 256-byte table of 4-bit code lengths for 512 symbols (literals
//! 0-255; 256-511 = match: low nibble length - 3 with 15 = escape, high
//! nibble = bit length of the distance) followed by a bit stream read
//! most-significant bit first from 16-bit little-endian words; escape length
//! bytes sit in the byte stream at the reader's position.

use super::{Matcher, XcaError, copy_match};

const TABLE_LEN: usize = 256;
const SYMBOLS: usize = 512;
const MAX_BITS: u32 = 15;
const BLOCK: usize = 65536;

#[inline]
fn err(at: usize, reason: &'static str) -> XcaError {
    XcaError { at, reason }
}

/// Canonical decoding table: 15-bit prefix -> symbol << 4 | length
/// (length 0: no code has this prefix).
fn build_table(lens: &[u8; TABLE_LEN], table: &mut [u16]) -> Result<(), &'static str> {
    table.fill(0);
    let mut next = 0usize;
    for bits in 1..=MAX_BITS {
        for sym in 0..SYMBOLS {
            let b = lens[sym / 2] >> ((sym % 2) * 4) & 15;
            if b as u32 != bits {
                continue;
            }
            let span = 1usize << (MAX_BITS - bits);
            if next + span > table.len() {
                return Err("Huffman code lengths over-subscribed");
            }
            table[next..next + span].fill(((sym as u16) << 4) | bits as u16);
            next += span;
        }
    }
    if next == 0 {
        return Err("Huffman table has no symbol");
    }
    Ok(())
}

/// The bit reader of one block.
struct Bits<'a> {
    input: &'a [u8],
    pos: usize,
    next: u32,
    extra: i32,
}

impl Bits<'_> {
    #[inline(always)]
    fn word(&mut self) -> u32 {
        let w = match self.input.get(self.pos..self.pos + 2) {
            Some(b) => u16::from_le_bytes([b[0], b[1]]) as u32,
            None => 0,
        };
        self.pos += 2;
        w
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.next = self.next.checked_shl(n).unwrap_or(0);
        self.extra -= n as i32;
        if self.extra < 0 {
            let w = self.word();
            self.next |= w << (-self.extra) as u32;
            self.extra += 16;
        }
    }

    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let b = *self.input.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
}

/// Decodes `input` into `out`, stopping when `out` is full. Returns the bytes
/// written (fewer when the input ended first).
pub fn huffman_decompress(input: &[u8], out: &mut [u8]) -> Result<usize, XcaError> {
    let mut table = vec![0u16; 1 << MAX_BITS];
    let mut op = 0usize;
    let mut ip = 0usize;
    let cap = out.len();
    while op < cap {
        let Some(lens) = input.get(ip..ip + TABLE_LEN) else {
            return Ok(op);
        };
        let lens: &[u8; TABLE_LEN] = lens.try_into().expect("256 bytes");
        build_table(lens, &mut table).map_err(|r| err(ip, r))?;
        let mut bits = Bits {
            input,
            pos: ip + TABLE_LEN,
            next: 0,
            extra: 16,
        };
        bits.next = bits.word() << 16;
        bits.next |= bits.word();
        let block_end = (op + BLOCK).min(cap);
        while op < block_end {
            if bits.pos > input.len() + 4 {
                return Ok(op);
            }
            let at = bits.pos;
            let e = table[(bits.next >> (32 - MAX_BITS)) as usize];
            let n = (e & 15) as u32;
            if n == 0 {
                return Err(err(at, "bit pattern matches no Huffman code"));
            }
            bits.consume(n);
            let sym = (e >> 4) as usize;
            if sym < 256 {
                out[op] = sym as u8;
                op += 1;
                continue;
            }
            let sym = sym - 256;
            let mut len = sym & 15;
            let dbits = (sym >> 4) as u32;
            if len == 15 {
                len = bits.byte().ok_or(err(bits.pos, "match length cut short"))? as usize;
                if len == 255 {
                    let lo = bits.byte().ok_or(err(bits.pos, "match length cut short"))?;
                    let hi = bits.byte().ok_or(err(bits.pos, "match length cut short"))?;
                    len = u16::from_le_bytes([lo, hi]) as usize;
                    if len == 0 {
                        let mut b = [0u8; 4];
                        for x in &mut b {
                            *x = bits.byte().ok_or(err(bits.pos, "match length cut short"))?;
                        }
                        len = u32::from_le_bytes(b) as usize;
                    }
                    if len < 15 {
                        return Err(err(at, "long match length below its minimum"));
                    }
                    len -= 15;
                }
                len += 15;
            }
            len += 3;
            let dist = if dbits == 0 {
                1
            } else {
                ((bits.next >> (32 - dbits)) as usize) | (1usize << dbits)
            };
            bits.consume(dbits);
            if dist > op {
                return Err(err(at, "match distance before the start of the output"));
            }
            let len = len.min(cap - op);
            copy_match(out, op, dist, len);
            op += len;
        }
        ip = bits.pos.min(input.len());
    }
    Ok(op)
}

/// Code lengths limited to 15 bits for `freq` (symbols with frequency 0
/// get no code). Package-merge would be optimal; this halves frequencies
/// until the Huffman tree fits, which is enough for tests and benchmarks.
fn code_lengths(freq: &[u32; SYMBOLS]) -> [u8; SYMBOLS] {
    let mut f: Vec<u64> = freq.iter().map(|&x| x as u64).collect();
    loop {
        let mut lens = [0u8; SYMBOLS];
        // Nodes: (weight, index); leaves 0..SYMBOLS, internal after.
        let mut parent = vec![usize::MAX; 2 * SYMBOLS];
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize)>> = f
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0)
            .map(|(i, w)| std::cmp::Reverse((*w, i)))
            .collect();
        if heap.len() == 1 {
            let std::cmp::Reverse((_, i)) = heap.pop().expect("one");
            lens[i] = 1;
            return lens;
        }
        let mut next = SYMBOLS;
        while heap.len() > 1 {
            let std::cmp::Reverse((wa, a)) = heap.pop().expect("two");
            let std::cmp::Reverse((wb, b)) = heap.pop().expect("two");
            parent[a] = next;
            parent[b] = next;
            heap.push(std::cmp::Reverse((wa + wb, next)));
            next += 1;
        }
        let mut ok = true;
        for (i, l) in lens.iter_mut().enumerate() {
            if f[i] == 0 {
                continue;
            }
            let mut d = 0u32;
            let mut n = i;
            while parent[n] != usize::MAX {
                n = parent[n];
                d += 1;
            }
            if d > MAX_BITS {
                ok = false;
            }
            *l = d as u8;
        }
        if ok {
            return lens;
        }
        for w in f.iter_mut() {
            if *w > 0 {
                *w = (*w).div_ceil(2);
            }
        }
    }
}

/// Bit writer for one block. Word `j`'s slot in the byte stream is reserved
/// when the decoder would read it: words 0 and 1 at the start, word `j + 1`
/// when the first bit of word `j` is written; escape bytes go to the end of
/// the stream as written.
struct Writer {
    out: Vec<u8>,
    cur: usize,
    nxt: Option<usize>,
    word: usize,
    acc: u32,
    nbits: u32,
}

impl Writer {
    fn reserve(&mut self) -> usize {
        let s = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        s
    }

    fn start(&mut self) {
        self.cur = self.reserve();
        self.nxt = Some(self.reserve());
        self.word = 0;
        self.acc = 0;
        self.nbits = 0;
    }

    fn bits(&mut self, code: u32, n: u32) {
        for i in (0..n).rev() {
            if self.nbits == 0 && self.word >= 1 && self.nxt.is_none() {
                self.nxt = Some(self.reserve());
            }
            self.acc = (self.acc << 1) | ((code >> i) & 1);
            self.nbits += 1;
            if self.nbits == 16 {
                let s = self.cur;
                self.out[s..s + 2].copy_from_slice(&(self.acc as u16).to_le_bytes());
                self.cur = self.nxt.take().expect("next word reserved");
                self.word += 1;
                self.acc = 0;
                self.nbits = 0;
            }
        }
    }

    fn finish_block(&mut self) {
        if self.nbits > 0 {
            let w = (self.acc << (16 - self.nbits)) as u16;
            let s = self.cur;
            self.out[s..s + 2].copy_from_slice(&w.to_le_bytes());
        }
    }
}

enum Token {
    Lit(u8),
    Match { dist: usize, len: usize },
}

/// Encodes `data` as LZ77+Huffman (greedy matches, frequency-halving code
/// lengths). For tests and benchmarks.
pub fn huffman_compress(data: &[u8]) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(data.len() / 2 + 300),
        cur: 0,
        nxt: None,
        word: 0,
        acc: 0,
        nbits: 0,
    };
    let mut m = Matcher::new();
    let mut tokens = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + BLOCK).min(data.len());
        tokens.clear();
        let mut freq = [0u32; SYMBOLS];
        freq[256] = 1; // keeps two codes in a one-symbol block
        let mut pos = start;
        while pos < end {
            match m.find(
                data,
                pos,
                start.saturating_sub(65535),
                end,
                65535,
                usize::MAX,
            ) {
                Some((dist, len)) => {
                    let lc = (len - 3).min(15);
                    let db = usize::BITS - 1 - dist.leading_zeros();
                    freq[256 + (db as usize) * 16 + lc] += 1;
                    tokens.push(Token::Match { dist, len });
                    for p in pos + 1..pos + len {
                        m.insert(data, p, end);
                    }
                    pos += len;
                }
                None => {
                    freq[data[pos] as usize] += 1;
                    tokens.push(Token::Lit(data[pos]));
                    pos += 1;
                }
            }
        }
        let lens = code_lengths(&freq);
        // Canonical codes: by length, then symbol.
        let mut codes = [0u32; SYMBOLS];
        let mut code = 0u32;
        for bits in 1..=MAX_BITS as u8 {
            for sym in 0..SYMBOLS {
                if lens[sym] == bits {
                    codes[sym] = code;
                    code += 1;
                }
            }
            code <<= 1;
        }
        for pair in lens.chunks_exact(2) {
            w.out.push(pair[0] | (pair[1] << 4));
        }
        w.start();
        for t in &tokens {
            match *t {
                Token::Lit(b) => w.bits(codes[b as usize], lens[b as usize] as u32),
                Token::Match { dist, len } => {
                    let l = len - 3;
                    let db = usize::BITS - 1 - dist.leading_zeros();
                    let sym = 256 + (db as usize) * 16 + l.min(15);
                    w.bits(codes[sym], lens[sym] as u32);
                    if l >= 15 {
                        if l - 15 < 255 {
                            w.out.push((l - 15) as u8);
                        } else {
                            w.out.push(255);
                            if l < 65536 {
                                w.out.extend_from_slice(&(l as u16).to_le_bytes());
                            } else {
                                w.out.extend_from_slice(&[0, 0]);
                                w.out.extend_from_slice(&(l as u32).to_le_bytes());
                            }
                        }
                    }
                    w.bits((dist - (1 << db)) as u32, db);
                }
            }
        }
        w.finish_block();
        start = end;
        if start >= data.len() {
            break;
        }
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(input: &[u8], n: usize) -> Result<Vec<u8>, XcaError> {
        let mut out = vec![0u8; n];
        let k = huffman_decompress(input, &mut out)?;
        out.truncate(k);
        Ok(out)
    }

    #[test]
    fn round_trips_across_blocks() {
        for n in [0, 1, 2, 100, 65535, 65536, 65537, 200_000] {
            let data: Vec<u8> = (0..n).map(|i| ((i * 7) ^ (i >> 9)) as u8 % 11).collect();
            let c = huffman_compress(&data);
            assert_eq!(dec(&c, n).unwrap(), data, "n {n}");
            let one = vec![b'x'; n];
            assert_eq!(dec(&huffman_compress(&one), n).unwrap(), one, "run {n}");
        }
        // Long matches (escape bytes with 16- and 32-bit lengths).
        let mut data = b"0123456789".repeat(3);
        data.extend(std::iter::repeat_n(7u8, 70_000));
        data.extend_from_slice(b"tail");
        assert_eq!(dec(&huffman_compress(&data), data.len()).unwrap(), data);
    }

    #[test]
    fn bad_tables_and_distances_are_errors() {
        // All lengths 1: over-subscribed.
        let e = dec(&[0x11; 300], 10).unwrap_err();
        assert_eq!(e.at, 0);
        // Empty table.
        assert!(dec(&[0; 300], 10).is_err());
        // A match first: distance beyond the output.
        let mut t = [0u8; 300];
        t[128] = 0x01; // symbol 256 (match, len 3, dist 1): length 1
        t[0] = 0x01; // symbol 0: length 1
        // Code 0 = symbol 0, code 1 = symbol 256; stream all ones.
        for b in &mut t[256..] {
            *b = 0xff;
        }
        let e = dec(&t, 10).unwrap_err();
        assert_eq!(e.reason, "match distance before the start of the output");
    }

    proptest! {
        #[test]
        fn round_trip(data in prop::collection::vec(prop_oneof![Just(0u8), Just(9u8), any::<u8>()], 0..4000)) {
            let c = huffman_compress(&data);
            prop_assert_eq!(dec(&c, data.len()).unwrap(), data);
        }

        #[test]
        fn never_panics_and_stays_bounded(data in prop::collection::vec(any::<u8>(), 0..1200), n in 0usize..3000) {
            let mut out = vec![0u8; n];
            if let Ok(k) = huffman_decompress(&data, &mut out) {
                prop_assert!(k <= n);
            }
        }
    }
}
