//! MIT keytab files, format version 0x502 (big-endian; what `ktutil`,
//! `msktutil`, Samba and Active Directory's `ktpass` write). Entries are read
//! from their own bounded slice: a size or string length that runs past its
//! entry is an error naming the entry, never an allocation.

use std::fmt;

use crate::smb::crypto::keys::Secret;

/// Most entries read from one keytab.
pub const MAX_ENTRIES: usize = 4096;
/// Most name components per principal.
const MAX_COMPONENTS: usize = 16;

/// One key of a keytab.
#[derive(Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    pub realm: String,
    pub components: Vec<String>,
    pub name_type: u32,
    pub timestamp: u32,
    pub kvno: u32,
    pub enctype: i32,
    pub key: Secret,
}

impl KeytabEntry {
    /// `comp1/comp2@REALM`.
    pub fn principal(&self) -> String {
        format!("{}@{}", self.components.join("/"), self.realm)
    }
}

impl fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeytabEntry({}, kvno {}, enctype {}, {:?})",
            self.principal(),
            self.kvno,
            self.enctype,
            self.key
        )
    }
}

/// The keys of a keytab file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keytab {
    pub entries: Vec<KeytabEntry>,
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn counted(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

fn entry(b: &[u8]) -> Option<KeytabEntry> {
    let mut r = Reader { b };
    let n = usize::from(r.u16()?);
    if n == 0 || n > MAX_COMPONENTS {
        return None;
    }
    let realm = String::from_utf8_lossy(r.counted()?).into_owned();
    let mut components = Vec::with_capacity(n);
    for _ in 0..n {
        components.push(String::from_utf8_lossy(r.counted()?).into_owned());
    }
    let name_type = r.u32()?;
    let timestamp = r.u32()?;
    let kvno8 = r.u8()?;
    let enctype = i32::from(r.u16()? as i16);
    let key = Secret::new(r.counted()?.to_vec());
    // A 32-bit kvno follows when the entry has room for it (and overrides the
    // 8-bit one unless zero).
    let kvno = match r.u32() {
        Some(v) if v != 0 => v,
        _ => u32::from(kvno8),
    };
    Some(KeytabEntry {
        realm,
        components,
        name_type,
        timestamp,
        kvno,
        enctype,
        key,
    })
}

/// Parses a keytab file. Errors name the offset, never key bytes.
pub fn parse(data: &[u8]) -> Result<Keytab, String> {
    match data {
        [0x05, 0x02, ..] => {}
        [0x05, 0x01, ..] => {
            return Err(
                "keytab format 0x501 (native byte order) is not supported; rewrite it with ktutil"
                    .into(),
            );
        }
        _ => return Err("not a keytab (expected the 0x0502 header)".into()),
    }
    let mut r = Reader { b: &data[2..] };
    let mut out = Keytab::default();
    while !r.b.is_empty() {
        let at = data.len() - r.b.len();
        let Some(size) = r.u32() else {
            // Trailing bytes shorter than a size field (some writers pad).
            break;
        };
        let size = size as i32;
        if size == 0 {
            break;
        }
        let len = size.unsigned_abs() as usize;
        let Some(body) = r.take(len) else {
            return Err(format!(
                "entry at offset {at}: {len} bytes declared, {} left",
                r.b.len()
            ));
        };
        if size < 0 {
            continue; // a hole left by a deleted entry
        }
        let e = entry(body).ok_or_else(|| format!("entry at offset {at}: malformed"))?;
        if out.entries.len() >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        out.entries.push(e);
    }
    if out.entries.is_empty() {
        return Err("no keys in the keytab".into());
    }
    Ok(out)
}
