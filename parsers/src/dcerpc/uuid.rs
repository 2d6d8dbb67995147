//! DCE UUIDs as they appear in DCE/RPC: 16 bytes whose first three fields
//! (u32, u16, u16) follow the PDU's integer byte order, the last 8 bytes are
//! an octet string.

use std::fmt;

/// A DCE UUID, stored in canonical (printed, big-endian) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The nil UUID.
    pub const NIL: Uuid = Uuid([0; 16]);

    /// From the canonical 128-bit value, e.g. `0xccd8c074_d0e5_4a40_92b4_d074faa6ba28`.
    pub const fn from_u128(v: u128) -> Uuid {
        Uuid(v.to_be_bytes())
    }

    /// From 16 wire bytes in NDR representation; `little_endian` is the PDU's
    /// integer representation (the first three fields are swapped when little-endian).
    pub fn from_wire(b: &[u8; 16], little_endian: bool) -> Uuid {
        let mut o = *b;
        if little_endian {
            o[0..4].reverse();
            o[4..6].reverse();
            o[6..8].reverse();
        }
        Uuid(o)
    }

    /// From the first 16 bytes of `b`, if there are that many.
    pub fn from_wire_slice(b: &[u8], little_endian: bool) -> Option<Uuid> {
        let arr: &[u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(Uuid::from_wire(arr, little_endian))
    }

    /// The 16 wire bytes in NDR representation with the given integer byte order.
    pub fn to_wire(&self, little_endian: bool) -> [u8; 16] {
        // The swap is its own inverse.
        Uuid::from_wire(&self.0, little_endian).0
    }

    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Interfaces and syntaxes this crate knows by name.
pub mod known {
    use super::Uuid;
    /// SMB Witness (MS-SWN), versions 1.1 and 2.0.
    pub const WITNESS: Uuid = Uuid::from_u128(0xccd8c074_d0e5_4a40_92b4_d074faa6ba28);
    /// Endpoint mapper (epmp, MS-RPCE 2.2.1.2), version 3.0, TCP 135.
    pub const EPM: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
    /// NDR 2.0 transfer syntax.
    pub const NDR: Uuid = Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860);
    /// NDR64 transfer syntax.
    pub const NDR64: Uuid = Uuid::from_u128(0x71710533_beba_4937_8319_b5dbef9ccc36);

    /// A short name for a well-known interface, for summaries.
    pub fn name(u: &Uuid) -> Option<&'static str> {
        match *u {
            WITNESS => Some("witness"),
            EPM => Some("epm"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_wire_order() {
        // On the wire (little-endian NDR) the witness UUID starts 74 c0 d8 cc.
        let wire = [
            0x74, 0xc0, 0xd8, 0xcc, 0xe5, 0xd0, 0x40, 0x4a, 0x92, 0xb4, 0xd0, 0x74, 0xfa, 0xa6,
            0xba, 0x28,
        ];
        let u = Uuid::from_wire(&wire, true);
        assert_eq!(u, known::WITNESS);
        assert_eq!(u.to_string(), "ccd8c074-d0e5-4a40-92b4-d074faa6ba28");
        assert_eq!(u.to_wire(true), wire);
        assert_eq!(Uuid::from_wire(&u.0, false), u);
        assert_eq!(Uuid::from_wire_slice(&wire[..15], true), None);
    }
}
