//! NTLMv2 session key recovery (MS-NLMP 3.3.2, 3.4.5.1) from a SESSION_SETUP
//! exchange and a supplied NT hash: NTOWFv2, NTProofStr (checked against the
//! AUTHENTICATE message, so a wrong password is recognised), SessionBaseKey,
//! and the key exchange with the encrypted random session key.

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use rc4::{Rc4, StreamCipher};

use super::keys::{NtCredential, Secret};

const SIGNATURE: &[u8] = b"NTLMSSP\0";
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;

/// The NTLMSSP message inside a security blob (SPNEGO-wrapped or raw).
pub fn find(blob: &[u8]) -> Option<&[u8]> {
    let p = memchr::memmem::find(blob, SIGNATURE)?;
    Some(&blob[p..])
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

/// The NTLMSSP message type (1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE).
pub fn message_type(m: &[u8]) -> Option<u32> {
    u32_at(m, 8)
}

/// The server challenge of a CHALLENGE message.
pub fn server_challenge(m: &[u8]) -> Option<[u8; 8]> {
    if message_type(m)? != 2 {
        return None;
    }
    m.get(24..32)?.try_into().ok()
}

/// A (Len, MaxLen, Offset) field's bytes.
fn field(m: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16_at(m, at)?);
    let off = u32_at(m, at + 4)? as usize;
    m.get(off..off.checked_add(len)?)
}

fn text(b: &[u8], unicode: bool) -> String {
    if unicode {
        let u: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&u)
    } else {
        b.iter().map(|&c| c as char).collect()
    }
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&m.finalize().into_bytes());
    out
}

/// What recovering a session key from an AUTHENTICATE message gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The ExportedSessionKey (the SMB session key).
    Key(Secret),
    /// Credentials for the account were given but none matches the NTProofStr.
    WrongPassword,
    /// No credential for this account.
    NoCredential,
    /// Not an NTLMv2 response (NTLMv1 and anonymous are not recovered).
    NotV2,
    /// Not a well-formed AUTHENTICATE message.
    Malformed,
}

/// The account (domain, user) an AUTHENTICATE message names.
pub fn account(m: &[u8]) -> Option<(String, String)> {
    if message_type(m)? != 3 {
        return None;
    }
    let flags = u32_at(m, 60)?;
    let uni = flags & NEGOTIATE_UNICODE != 0;
    Some((text(field(m, 28)?, uni), text(field(m, 36)?, uni)))
}

/// Recovers the session key of AUTHENTICATE message `m` answering `challenge`.
pub fn session_key(m: &[u8], challenge: &[u8; 8], creds: &[NtCredential]) -> Outcome {
    let Some((domain, user)) = account(m) else {
        return Outcome::Malformed;
    };
    let (Some(nt), Some(flags)) = (field(m, 20), u32_at(m, 60)) else {
        return Outcome::Malformed;
    };
    if nt.len() <= 24 {
        return Outcome::NotV2;
    }
    let (proof, temp) = nt.split_at(16);
    let mut tried = false;
    for c in creds {
        let user_ok = c
            .user
            .as_ref()
            .is_none_or(|u| u.eq_ignore_ascii_case(&user));
        // The user name selects a credential; the domain does not (clients send the
        // workgroup, the server name or nothing): the NTProofStr decides.
        if !user_ok {
            continue;
        }
        tried = true;
        let ident = utf16le(&(user.to_uppercase() + &domain));
        let key_nt = hmac_md5(c.nt_hash.expose(), &[&ident]);
        let p = hmac_md5(&key_nt, &[challenge, temp]);
        if p != proof {
            continue;
        }
        let base = hmac_md5(&key_nt, &[proof]);
        let exported = match field(m, 52) {
            Some(enc) if flags & NEGOTIATE_KEY_EXCH != 0 && enc.len() == 16 => {
                let mut k = [0u8; 16];
                k.copy_from_slice(enc);
                match Rc4::new_from_slice(&base) {
                    Ok(mut rc4) => rc4.apply_keystream(&mut k),
                    Err(_) => return Outcome::Malformed,
                }
                k
            }
            _ => base,
        };
        return Outcome::Key(Secret::new(exported.to_vec()));
    }
    if tried {
        Outcome::WrongPassword
    } else {
        Outcome::NoCredential
    }
}
