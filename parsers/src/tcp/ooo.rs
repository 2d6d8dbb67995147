//! The out-of-order buffer of one direction: copies of segments that arrived
//! ahead of a hole, keyed by stream offset (a `u64` that never wraps, unlike
//! TCP sequence numbers). Pieces never overlap: a new segment stores only the
//! parts no earlier piece covers (first arrival wins).

use std::collections::BTreeMap;

/// A stored range `[off, off + data.len() + missing)`; the last `missing`
/// bytes were cut off by the capture's snaplen.
#[derive(Debug)]
pub(super) struct Piece {
    pub ts_ns: i64,
    pub data: Vec<u8>,
    pub missing: u32,
}

impl Piece {
    #[inline]
    pub fn len(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.missing)
    }
}

/// A segment as a range of stream offsets: `[start, start + payload.len() +
/// missing)`, of which the first `payload.len()` bytes were captured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range<'a> {
    pub start: u64,
    pub payload: &'a [u8],
    pub missing: u32,
}

impl<'a> Range<'a> {
    #[inline]
    pub fn end(&self) -> u64 {
        self.start + self.payload.len() as u64 + u64::from(self.missing)
    }

    /// The part `[from, to)` (clamped to this range), as (captured bytes, missing count).
    pub fn sub(&self, from: u64, to: u64) -> (&'a [u8], u32) {
        let from = from.max(self.start);
        let to = to.min(self.end());
        if from >= to {
            return (&[], 0);
        }
        let cap_end = self.start + self.payload.len() as u64;
        let data: &'a [u8] = if from < cap_end {
            let a = (from - self.start) as usize;
            let b = (to.min(cap_end) - self.start) as usize;
            self.payload.get(a..b).unwrap_or(&[])
        } else {
            &[]
        };
        let missing = (to - from) - data.len() as u64;
        (data, u32::try_from(missing).unwrap_or(u32::MAX))
    }
}

/// The pieces waiting ahead of holes. Allocated only while something waits:
/// an idle or in-order direction costs one pointer (most of a million
/// live flows never buffer anything).
#[derive(Debug, Default)]
pub(super) struct OooBuffer {
    inner: Option<Box<Pieces>>,
}

#[derive(Debug, Default)]
struct Pieces {
    map: BTreeMap<u64, Piece>,
    /// Captured bytes held (the quantity the cap limits).
    bytes: usize,
}

impl OooBuffer {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.inner.as_ref().is_none_or(|p| p.map.is_empty())
    }
    #[inline]
    pub fn bytes(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.bytes)
    }
    #[inline]
    pub fn pieces(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.map.len())
    }
    /// Offset of the first stored byte.
    pub fn first_start(&self) -> Option<u64> {
        self.inner.as_ref()?.map.keys().next().copied()
    }

    /// Calls `f(from, to)` for every sub-range of `[s, e)` that no stored piece covers.
    fn uncovered(&self, s: u64, e: u64, mut f: impl FnMut(u64, u64)) {
        let Some(pieces) = self.inner.as_ref().map(|p| &p.map) else {
            if s < e {
                f(s, e);
            }
            return;
        };
        let mut p = s;
        if let Some((k, pc)) = pieces.range(..=p).next_back() {
            p = p.max(k + pc.len());
        }
        while p < e {
            let next = pieces.range(p..).next().map(|(k, pc)| (*k, pc.len()));
            match next {
                Some((k, len)) if k < e => {
                    if k > p {
                        f(p, k);
                    }
                    p = k + len;
                }
                _ => {
                    f(p, e);
                    break;
                }
            }
        }
    }

    /// What storing `r` would add: (pieces, captured bytes). (0, 0) when
    /// every byte of `r` is already stored.
    pub fn cost(&self, r: &Range<'_>) -> (usize, usize) {
        let (mut n, mut bytes) = (0usize, 0usize);
        self.uncovered(r.start, r.end(), |a, b| {
            n += 1;
            bytes += r.sub(a, b).0.len();
        });
        (n, bytes)
    }

    /// Stores the parts of `r` not already stored (copies them).
    pub fn insert(&mut self, r: &Range<'_>, ts_ns: i64) {
        // Two passes so the map is not borrowed while inserting: collect the
        // holes first (bounded by the number of stored pieces + 1).
        let mut holes = Vec::new();
        self.uncovered(r.start, r.end(), |a, b| holes.push((a, b)));
        if holes.is_empty() {
            return;
        }
        let inner = self.inner.get_or_insert_with(Box::default);
        for (a, b) in holes {
            let (data, missing) = r.sub(a, b);
            inner.bytes += data.len();
            inner.map.insert(
                a,
                Piece {
                    ts_ns,
                    data: data.to_vec(),
                    missing,
                },
            );
        }
    }

    pub fn clear(&mut self) {
        self.inner = None;
    }

    /// Removes and returns the first piece.
    pub fn pop_first(&mut self) -> Option<(u64, Piece)> {
        let inner = self.inner.as_mut()?;
        let (k, pc) = inner.map.pop_first()?;
        inner.bytes -= pc.data.len();
        if inner.map.is_empty() {
            self.inner = None;
        }
        Some((k, pc))
    }

    /// Removes and returns the first piece if it starts at or before `next`.
    pub fn pop_ready(&mut self, next: u64) -> Option<(u64, Piece)> {
        match self.first_start() {
            Some(k) if k <= next => self.pop_first(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, payload: &[u8], missing: u32) -> Range<'_> {
        Range {
            start,
            payload,
            missing,
        }
    }

    #[test]
    fn sub_ranges_split_captured_and_missing() {
        let x = r(10, b"abcd", 3); // [10,17), captured [10,14)
        assert_eq!(x.sub(0, 100), (&b"abcd"[..], 3));
        assert_eq!(x.sub(12, 15), (&b"cd"[..], 1));
        assert_eq!(x.sub(15, 16), (&b""[..], 1));
        assert_eq!(x.sub(17, 20), (&b""[..], 0));
    }

    #[test]
    fn insert_keeps_first_arrival_and_never_overlaps() {
        let mut b = OooBuffer::default();
        b.insert(&r(10, b"BBBB", 0), 1); // [10,14)
        b.insert(&r(20, b"DD", 0), 1); // [20,22)
        assert_eq!(b.cost(&r(10, b"xxxx", 0)), (0, 0));
        assert_eq!(b.cost(&r(8, &[0; 16], 0)), (3, 2 + 6 + 2));
        b.insert(&r(8, b"aaBBBBccccccDDee", 0), 2);
        let got: Vec<(u64, Vec<u8>)> = std::iter::from_fn(|| b.pop_first())
            .map(|(k, p)| (k, p.data))
            .collect();
        assert_eq!(
            got,
            vec![
                (8, b"aa".to_vec()),
                (10, b"BBBB".to_vec()),
                (14, b"cccccc".to_vec()),
                (20, b"DD".to_vec()),
                (22, b"ee".to_vec()),
            ]
        );
        assert_eq!(b.bytes(), 0);
    }
}
