//! Counting a packet once when ndiscap logged it at several layers of one NIC
//! (a miniport and the filters above it, or a VMSwitch port): the copies share
//! the miniport, the direction and the bytes, and differ in the layer. The
//! first copy is kept, later copies at other layers are dropped.
//!
//! No byte is kept: a packet is remembered by a fingerprint (length, first
//! 128 and last 64 bytes) in a fixed table of recent packets: 8-way buckets
//! chosen by the fingerprint, each replaced round-robin.

/// Buckets and ways of the table (1024 recent packets).
const BUCKETS: usize = 128;
const WAYS: usize = 8;
/// Copies further apart than this are not the same packet.
const WINDOW_NS: u64 = 100_000_000;
/// Layers one remembered packet can be matched at besides the first (a
/// pktmon Wi-Fi packet was seen at 12 component edges of one NIC).
const EXTRA_LAYERS: usize = 23;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    ts: i64,
    layers: [u64; EXTRA_LAYERS + 1],
    n_layers: u8,
}

/// Ring of recent packet fingerprints.
#[derive(Debug)]
pub struct LayerDedupe {
    keys: Vec<u64>,
    entries: Vec<Entry>,
    next: Vec<u8>,
}

impl Default for LayerDedupe {
    fn default() -> Self {
        LayerDedupe {
            keys: vec![0; BUCKETS * WAYS],
            entries: vec![Entry::default(); BUCKETS * WAYS],
            next: vec![0; BUCKETS],
        }
    }
}

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

fn fingerprint(miniport: u32, dir: u8, data: &[u8]) -> u64 {
    let mut h = mix(miniport as u64, ((dir as u64) << 40) | data.len() as u64);
    let head = &data[..data.len().min(128)];
    let tail = &data[data.len().saturating_sub(64)..];
    for part in [head, tail] {
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            h = mix(
                h,
                u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            );
        }
        for &b in chunks.remainder() {
            h = mix(h, b as u64);
        }
    }
    h | 1 // 0 marks an empty ring slot
}

impl LayerDedupe {
    /// True when this packet was already seen at another layer of the same
    /// miniport (a duplicate to drop); otherwise remembers it.
    pub fn is_duplicate(
        &mut self,
        miniport: u32,
        layer: u64,
        dir: u8,
        data: &[u8],
        ts: i64,
    ) -> bool {
        self.is_duplicate_key(fingerprint(miniport, dir, data), layer, ts)
    }

    /// [`Self::is_duplicate`] with the caller's fingerprint of the packet
    /// (its NIC, direction and bytes; never 0).
    pub fn is_duplicate_key(&mut self, key: u64, layer: u64, ts: i64) -> bool {
        let key = key | 1;
        let bucket = (key >> 32) as usize % BUCKETS;
        let base = bucket * WAYS;
        for i in base..base + WAYS {
            if self.keys[i] != key {
                continue;
            }
            let e = &mut self.entries[i];
            let n = e.n_layers as usize;
            if e.ts.abs_diff(ts) > WINDOW_NS || e.layers[..n].contains(&layer) || n > EXTRA_LAYERS {
                continue;
            }
            e.layers[n] = layer;
            e.n_layers += 1;
            return true;
        }
        let way = self.next[bucket] as usize % WAYS;
        self.next[bucket] = ((way + 1) % WAYS) as u8;
        let i = base + way;
        self.keys[i] = key;
        let mut layers = [0; EXTRA_LAYERS + 1];
        layers[0] = layer;
        self.entries[i] = Entry {
            ts,
            layers,
            n_layers: 1,
        };
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_packet_at_two_layers_counts_once() {
        let mut d = LayerDedupe::default();
        let p = [1u8; 300];
        assert!(!d.is_duplicate(7, 7, 2, &p, 1000));
        assert!(d.is_duplicate(7, 12, 2, &p, 1500));
        // An identical packet later (e.g. an IPv6 duplicate ACK) is new at
        // layer 7, and its copy at layer 12 a duplicate again.
        assert!(!d.is_duplicate(7, 7, 2, &p, 2000));
        assert!(d.is_duplicate(7, 12, 2, &p, 2100));
        // Other miniport, other direction, far in time: not duplicates.
        assert!(!d.is_duplicate(8, 12, 2, &p, 2100));
        assert!(!d.is_duplicate(7, 13, 1, &p, 2100));
        assert!(!d.is_duplicate(7, 14, 2, &p, 10_000_000_000));
    }

    #[test]
    fn other_bytes_are_not_duplicates() {
        let mut d = LayerDedupe::default();
        let mut p = [1u8; 100];
        assert!(!d.is_duplicate(7, 7, 2, &p, 0));
        p[50] = 2;
        assert!(!d.is_duplicate(7, 12, 2, &p, 0));
        assert!(!d.is_duplicate(7, 12, 2, &p[..99], 0));
    }
}
