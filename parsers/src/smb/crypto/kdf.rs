//! SMB 3 key derivation (MS-SMB2 3.1.4.2: SP800-108 counter mode, HMAC-SHA256)
//! and the SMB 3.1.1 preauthentication integrity hash (SHA-512).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::keys::Secret;

/// KDF(Ki, Label, Context) with L = `out.len() * 8` bits (at most 256).
pub fn kdf(ki: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = (out.len() * 8) as u32;
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(ki) else {
        return;
    };
    mac.update(&1u32.to_be_bytes());
    mac.update(label);
    mac.update(&[0]);
    mac.update(context);
    mac.update(&bits.to_be_bytes());
    let r = mac.finalize().into_bytes();
    let n = out.len().min(r.len());
    out[..n].copy_from_slice(&r[..n]);
}

/// SHA-512(previous || message): one step of the preauthentication hash.
pub fn preauth_step(prev: &[u8; 64], message: &[u8]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(prev);
    h.update(message);
    let mut out = [0u8; 64];
    out.copy_from_slice(&h.finalize());
    out
}

/// Whether a cipher id (1 AES-128-CCM, 2 AES-128-GCM, 3 AES-256-CCM, 4 AES-256-GCM) is 256-bit.
pub fn is_256(cipher: u16) -> bool {
    matches!(cipher, 3 | 4)
}

/// The (client-to-server, server-to-client) cipher keys of a session.
/// SMB 3.0/3.0.2 use the "SMB2AESCCM" label; 3.1.1 needs the session's
/// preauthentication hash. `None` for dialects without encryption.
pub fn cipher_keys(
    dialect: u16,
    cipher: u16,
    session_key: &[u8],
    preauth: Option<&[u8; 64]>,
) -> Option<(Secret, Secret)> {
    let (c2s_label, c2s_ctx, s2c_label, s2c_ctx): (&[u8], &[u8], &[u8], &[u8]) = match dialect {
        0x0300 | 0x0302 => (
            b"SMB2AESCCM\0",
            b"ServerIn \0",
            b"SMB2AESCCM\0",
            b"ServerOut\0",
        ),
        0x0311 => {
            let h = preauth?;
            (b"SMBC2SCipherKey\0", h, b"SMBS2CCipherKey\0", h)
        }
        _ => return None,
    };
    let len = if dialect == 0x0311 && is_256(cipher) {
        32
    } else {
        16
    };
    // 128-bit ciphers derive from the first 16 bytes; 256-bit from the full key.
    let ki = if len == 16 {
        &session_key[..session_key.len().min(16)]
    } else {
        session_key
    };
    let mut c2s = vec![0u8; len];
    let mut s2c = vec![0u8; len];
    kdf(ki, c2s_label, c2s_ctx, &mut c2s);
    kdf(ki, s2c_label, s2c_ctx, &mut s2c);
    Some((Secret::new(c2s), Secret::new(s2c)))
}
