//! A bounds-checked NDR 2.0 reader over stub data: primitive alignment is
//! relative to the start of the stub, integers follow the PDU's byte order.
//! Counts read from the wire are always checked against the bytes left before
//! anything is sized by them.

use super::uuid::Uuid;

/// Decoding stopped: the stub is shorter than its own fields say, or a value
/// is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("NDR stub truncated or inconsistent at offset {offset} ({what})")]
pub struct NdrError {
    pub offset: usize,
    pub what: &'static str,
}

/// How a stub is encoded: the PDU's integer byte order, and the negotiated
/// transfer syntax (NDR 2.0, or NDR64 with 8-byte pointers and counts).
/// A plain `bool` converts to little/big-endian NDR 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repr {
    pub little_endian: bool,
    pub ndr64: bool,
}

impl From<bool> for Repr {
    fn from(little_endian: bool) -> Repr {
        Repr {
            little_endian,
            ndr64: false,
        }
    }
}

/// Cursor over one stub.
#[derive(Debug, Clone)]
pub struct Ndr<'a> {
    buf: &'a [u8],
    pos: usize,
    le: bool,
    ndr64: bool,
}

impl<'a> Ndr<'a> {
    pub fn new(buf: &'a [u8], repr: impl Into<Repr>) -> Self {
        let r = repr.into();
        Ndr {
            buf,
            pos: 0,
            le: r.little_endian,
            ndr64: r.ndr64,
        }
    }

    pub fn little_endian(&self) -> bool {
        self.le
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn err(&self, what: &'static str) -> NdrError {
        NdrError {
            offset: self.pos,
            what,
        }
    }

    /// Skips to the next multiple of `n` (a power of two).
    pub fn align(&mut self, n: usize) -> Result<(), NdrError> {
        let p = (self.pos + n - 1) & !(n - 1);
        if p > self.buf.len() {
            return Err(self.err("alignment past end"));
        }
        self.pos = p;
        Ok(())
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], NdrError> {
        let end = self.pos.checked_add(n).ok_or(self.err(what))?;
        let s = self.buf.get(self.pos..end).ok_or(self.err(what))?;
        self.pos = end;
        Ok(s)
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, NdrError> {
        self.align(2)?;
        let b = self.bytes(2, what)?;
        let a = [b[0], b[1]];
        Ok(if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, NdrError> {
        self.align(4)?;
        let b = self.bytes(4, what)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, NdrError> {
        self.align(8)?;
        let b = self.bytes(8, what)?;
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        Ok(if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }

    /// A conformance / variance count: u32 in NDR 2.0, u64 in NDR64.
    pub fn count(&mut self, what: &'static str) -> Result<u64, NdrError> {
        if self.ndr64 {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }

    /// A GUID (4-byte aligned).
    pub fn uuid(&mut self, what: &'static str) -> Result<Uuid, NdrError> {
        self.align(4)?;
        let b = self.bytes(16, what)?;
        Uuid::from_wire_slice(b, self.le).ok_or(self.err(what))
    }

    /// A context handle (`policy_handle`): attributes u32 + UUID; returns the UUID.
    pub fn context_handle(&mut self) -> Result<Uuid, NdrError> {
        self.u32("context handle attributes")?;
        self.uuid("context handle uuid")
    }

    /// A pointer's referent id (0 = NULL): u32 in NDR 2.0, u64 in NDR64.
    pub fn referent(&mut self) -> Result<u64, NdrError> {
        self.count("referent id")
    }

    /// A conformant varying string of 16-bit units (`[string] wchar_t*`):
    /// max_count, offset, actual_count, then the units. The trailing NUL and
    /// anything after it are dropped; invalid UTF-16 becomes U+FFFD.
    pub fn cv_wstring(&mut self) -> Result<String, NdrError> {
        let max = self.count("string max_count")?;
        let offset = self.count("string offset")?;
        let actual = self.count("string actual_count")?;
        if offset > max || actual > max - offset {
            return Err(self.err("string counts"));
        }
        let n = usize::try_from(actual).map_err(|_| self.err("string length"))?;
        if n > self.remaining() / 2 {
            return Err(self.err("string longer than stub"));
        }
        let raw = self.bytes(n * 2, "string units")?;
        Ok(utf16_until_nul(raw, self.le))
    }

    /// A `[unique, string] wchar_t*` top-level parameter: referent id then,
    /// if non-NULL, the string.
    pub fn unique_wstring(&mut self) -> Result<Option<String>, NdrError> {
        if self.referent()? == 0 {
            return Ok(None);
        }
        self.cv_wstring().map(Some)
    }
}

/// Decodes 16-bit units up to the first NUL (or the end).
pub fn utf16_until_nul(raw: &[u8], little_endian: bool) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| {
            if little_endian {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        })
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cv_string_and_alignment() {
        // max 5, offset 0, actual 5, "sofs\0", then 2 pad bytes, then u32 7.
        let mut b = vec![5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0];
        for c in "sofs\0".encode_utf16() {
            b.extend_from_slice(&c.to_le_bytes());
        }
        b.extend_from_slice(&[0, 0, 7, 0, 0, 0]);
        let mut r = Ndr::new(&b, true);
        assert_eq!(r.cv_wstring().unwrap(), "sofs");
        assert_eq!(r.u32("x").unwrap(), 7);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn hostile_counts() {
        // actual_count far beyond the bytes present.
        let b = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f];
        assert!(Ndr::new(&b, true).cv_wstring().is_err());
        // offset + actual > max.
        let b = [2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x41, 0, 0x42, 0];
        assert!(Ndr::new(&b, true).cv_wstring().is_err());
        assert!(Ndr::new(&[1, 2], true).u32("x").is_err());
    }
}
