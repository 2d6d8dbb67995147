//! A minimal, bounded DER reader: enough for SPNEGO/GSS-API tokens and the
//! Kerberos AP-REQ, AP-REP, Ticket, EncTicketPart, Authenticator and
//! EncAPRepPart. Only definite lengths (at most 4 length bytes) and
//! low-number tags; every value is a sub-slice of the input, nothing is
//! allocated, nothing trusts a length beyond the bytes present.

/// One tag-length-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, tag number below 31).
    pub tag: u8,
    pub value: &'a [u8],
}

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const GENERAL_STRING: u8 = 0x1B;

/// The context-specific constructed tag `[n]`.
pub const fn ctx(n: u8) -> u8 {
    0xA0 | n
}

/// The application constructed tag `[APPLICATION n]`.
pub const fn app(n: u8) -> u8 {
    0x60 | n
}

/// The first TLV of `b` and the bytes after it.
pub fn tlv(b: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    if tag & 0x1F == 0x1F {
        return None; // high-tag-number form: not used by these messages
    }
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None; // indefinite or absurd
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let (value, after) = rest.split_at(len);
    Some((Tlv { tag, value }, after))
}

/// The TLV of `b` if it has tag `tag` (and nothing is required after it).
pub fn expect(b: &[u8], tag: u8) -> Option<Tlv<'_>> {
    let (t, _) = tlv(b)?;
    (t.tag == tag).then_some(t)
}

/// The elements of a constructed value, in order (stops at the first malformed one).
pub fn elements(b: &[u8]) -> impl Iterator<Item = Tlv<'_>> {
    let mut rest = b;
    std::iter::from_fn(move || {
        let (t, r) = tlv(rest)?;
        rest = r;
        Some(t)
    })
}

/// The value inside the explicit `[n]` field of a SEQUENCE's contents.
pub fn field(seq: &[u8], n: u8) -> Option<Tlv<'_>> {
    let f = elements(seq).find(|t| t.tag == ctx(n))?;
    tlv(f.value).map(|(t, _)| t)
}

/// A non-negative or negative INTEGER of at most 8 bytes.
pub fn integer(t: Tlv<'_>) -> Option<i64> {
    if t.tag != INTEGER || t.value.is_empty() || t.value.len() > 8 {
        return None;
    }
    let neg = t.value[0] & 0x80 != 0;
    let init: i64 = if neg { -1 } else { 0 };
    Some(t.value.iter().fold(init, |a, &x| (a << 8) | i64::from(x)))
}

/// The bytes of an OCTET STRING.
pub fn octets(t: Tlv<'_>) -> Option<&[u8]> {
    (t.tag == OCTET_STRING).then_some(t.value)
}

/// A KerberosString / Realm (GeneralString), lossily as text.
pub fn string(t: Tlv<'_>) -> Option<String> {
    matches!(t.tag, GENERAL_STRING | 0x0C | 0x16 | 0x13)
        .then(|| String::from_utf8_lossy(t.value).into_owned())
}
