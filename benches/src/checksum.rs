//! The Internet checksum (RFC 1071) over several pieces, and its incremental
//! update (RFC 1624) for rewritten fields.

/// A running ones'-complement sum over consecutive byte pieces of any length.
#[derive(Debug, Clone, Copy, Default)]
pub struct Csum {
    acc: u64,
    /// The next piece starts at an odd byte offset.
    odd: bool,
}

impl Csum {
    pub fn new() -> Csum {
        Csum::default()
    }

    /// Adds the next piece.
    #[inline]
    pub fn add(&mut self, data: &[u8]) {
        let s = fold(raw_sum(data));
        // A piece starting at an odd offset has its bytes in swapped lanes.
        self.acc += if self.odd { s.swap_bytes() } else { s } as u64;
        if data.len() % 2 == 1 {
            self.odd = !self.odd;
        }
    }

    /// Adds a 16-bit word (must be called at an even offset).
    #[inline]
    pub fn add_u16(&mut self, w: u16) {
        debug_assert!(!self.odd);
        self.acc += w as u64;
    }

    /// Adds a 32-bit value as two words (at an even offset).
    #[inline]
    pub fn add_u32(&mut self, w: u32) {
        self.add_u16((w >> 16) as u16);
        self.add_u16(w as u16);
    }

    /// The checksum field value: the complement of the folded sum.
    #[inline]
    pub fn finish(&self) -> u16 {
        !fold(self.acc)
    }
}

/// Sum of the big-endian 16-bit words of `data` (odd tail padded with zero),
/// not folded.
#[inline]
fn raw_sum(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Each 32-bit half is congruent (mod 0xffff) to the sum of its two words.
        acc += (v >> 32) + (v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u16::from_be_bytes([p[0], p[1]]) as u64;
    }
    if let [last] = pairs.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// RFC 1624 eqn. 3: the checksum `hc` after the 16-bit words `old` of the
/// covered data were replaced by `new` (same length, word aligned).
pub fn update(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut acc: u64 = (!hc) as u64;
    for (o, n) in old.chunks(2).zip(new.chunks(2)) {
        let ow = u16::from_be_bytes([o[0], *o.get(1).unwrap_or(&0)]);
        let nw = u16::from_be_bytes([n[0], *n.get(1).unwrap_or(&0)]);
        acc += (!ow) as u64 + nw as u64;
    }
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straightforward RFC 1071 reference.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            s += w as u32;
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let mut c = Csum::new();
        c.add(&d);
        assert_eq!(c.finish(), !0xddf2);
    }

    proptest! {
        #[test]
        fn pieces_equal_whole(data in proptest::collection::vec(any::<u8>(), 0..300),
                              cuts in proptest::collection::vec(0usize..300, 0..5)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut c = Csum::new();
            let mut prev = 0;
            for &k in &cuts { c.add(&data[prev..k]); prev = k; }
            c.add(&data[prev..]);
            prop_assert_eq!(fold((!c.finish()) as u64), fold((!reference(&data)) as u64));
        }

        #[test]
        fn incremental_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 8..64),
                                         at in 0usize..3, new in any::<[u8; 4]>()) {
            let at = at * 2;
            let before = reference(&data);
            let old: [u8; 4] = data[at..at + 4].try_into().unwrap();
            data[at..at + 4].copy_from_slice(&new);
            let after = update(before, &old, &new);
            // 0x0000 and 0xffff are the same value in ones' complement.
            let norm = |x: u16| if x == 0xffff { 0 } else { x };
            prop_assert_eq!(norm(after), norm(reference(&data)));
        }
    }
}
