//! Kerberos encryption types that can open an AP-REQ/AP-REP: RFC 3962
//! aes128/aes256-cts-hmac-sha1-96 (RFC 3961 simplified profile: n-fold, DK key
//! derivation, AES in CBC with ciphertext stealing, HMAC-SHA1-96) and RFC 4757
//! rc4-hmac. DES, 3DES, rc4-hmac-exp and the RFC 8009 SHA-2 types are not
//! supported ([`Enctype::of`] gives `None`).
//!
//! Everything works on caller slices with fixed-size stack blocks; the only
//! allocations are outputs no longer than the input.

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use hmac::{Hmac, Mac};
use md5::Md5;
use rc4::{Rc4, StreamCipher};
use sha1::Sha1;

/// Encryption type numbers (RFC 3961 section 8, RFC 4757).
pub const AES128_CTS_HMAC_SHA1_96: i32 = 17;
pub const AES256_CTS_HMAC_SHA1_96: i32 = 18;
pub const RC4_HMAC: i32 = 23;

/// Key usage numbers (RFC 4120 section 7.5.1).
pub const USAGE_TICKET: u32 = 2;
pub const USAGE_AP_REQ_AUTHENTICATOR: u32 = 11;
pub const USAGE_AP_REP: u32 = 12;

/// A supported encryption type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enctype {
    Aes128,
    Aes256,
    Rc4Hmac,
}

impl Enctype {
    /// `None` for types this crate cannot decrypt.
    pub fn of(etype: i32) -> Option<Enctype> {
        match etype {
            AES128_CTS_HMAC_SHA1_96 => Some(Enctype::Aes128),
            AES256_CTS_HMAC_SHA1_96 => Some(Enctype::Aes256),
            RC4_HMAC => Some(Enctype::Rc4Hmac),
            _ => None,
        }
    }
    pub fn key_len(self) -> usize {
        match self {
            Enctype::Aes128 | Enctype::Rc4Hmac => 16,
            Enctype::Aes256 => 32,
        }
    }
}

/// The registered name of an encryption type (any number).
pub fn enctype_name(etype: i32) -> String {
    match etype {
        1 => "des-cbc-crc".into(),
        2 => "des-cbc-md4".into(),
        3 => "des-cbc-md5".into(),
        16 => "des3-cbc-sha1".into(),
        17 => "aes128-cts-hmac-sha1-96".into(),
        18 => "aes256-cts-hmac-sha1-96".into(),
        19 => "aes128-cts-hmac-sha256-128".into(),
        20 => "aes256-cts-hmac-sha384-192".into(),
        23 => "rc4-hmac".into(),
        24 => "rc4-hmac-exp".into(),
        25 => "camellia128-cts-cmac".into(),
        26 => "camellia256-cts-cmac".into(),
        n => format!("enctype {n}"),
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Longest n-fold input (the DK constants are 5 bytes; the bound keeps lcm small).
pub const MAX_NFOLD_INPUT: usize = 64;

/// RFC 3961 section 5.1 n-fold of `input` into `out` (`out.len()` bytes).
/// Copies of the input, each rotated right 13 bits more than the last, are
/// concatenated up to the least common multiple of both lengths and added in
/// `out.len()`-byte chunks with ones'-complement (end-around carry) addition.
/// Empty or over-long inputs leave `out` zeroed.
pub fn nfold(input: &[u8], out: &mut [u8]) {
    out.fill(0);
    let (inlen, outlen) = (input.len(), out.len());
    if inlen == 0 || outlen == 0 || inlen > MAX_NFOLD_INPUT || outlen > MAX_NFOLD_INPUT {
        return;
    }
    let lcm = inlen / gcd(inlen, outlen) * outlen;
    let nbits = inlen * 8;
    let bit = |copy: usize, pos: usize| -> u32 {
        // Bit `pos` (0 = most significant) of the input rotated right by 13*copy bits.
        let r = (13 * copy) % nbits;
        let src = (pos + nbits - r) % nbits;
        u32::from((input[src / 8] >> (7 - src % 8)) & 1)
    };
    let mut acc = vec![0u32; outlen];
    for i in 0..lcm {
        let (copy, byte) = (i / inlen, i % inlen);
        let mut v = 0u32;
        for b in 0..8 {
            v = (v << 1) | bit(copy, byte * 8 + b);
        }
        acc[i % outlen] += v;
    }
    // Propagate carries from the least significant byte, end-around.
    let mut carry = 0u32;
    loop {
        for a in acc.iter_mut().rev() {
            let s = *a + carry;
            *a = s & 0xFF;
            carry = s >> 8;
        }
        if carry == 0 {
            break;
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = a as u8;
    }
}

/// An AES block cipher of either key size.
enum Aes {
    A128(Box<Aes128>),
    A256(Box<Aes256>),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Aes> {
        match key.len() {
            16 => Some(Aes::A128(Box::new(Aes128::new_from_slice(key).ok()?))),
            32 => Some(Aes::A256(Box::new(Aes256::new_from_slice(key).ok()?))),
            _ => None,
        }
    }
    fn enc(&self, b: &mut [u8; 16]) {
        let mut a = aes::Block::from(*b);
        match self {
            Aes::A128(c) => c.encrypt_block(&mut a),
            Aes::A256(c) => c.encrypt_block(&mut a),
        }
        b.copy_from_slice(&a);
    }
    fn dec(&self, b: &mut [u8; 16]) {
        let mut a = aes::Block::from(*b);
        match self {
            Aes::A128(c) => c.decrypt_block(&mut a),
            Aes::A256(c) => c.decrypt_block(&mut a),
        }
        b.copy_from_slice(&a);
    }
}

fn xor16(a: &mut [u8; 16], b: &[u8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

fn block(b: &[u8]) -> [u8; 16] {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    o
}

/// AES-CBC with ciphertext stealing as RFC 3962 section 5 uses it (IV zero,
/// the last two blocks swapped even when the input is a whole number of
/// blocks; one block is plain AES). `None` for inputs shorter than a block
/// or a key that is not 16 or 32 bytes.
pub fn cts_encrypt(key: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let aes = Aes::new(key)?;
    let n = plain.len();
    if n < 16 {
        return None;
    }
    let mut out = vec![0u8; n];
    let mut prev = [0u8; 16];
    if n == 16 {
        let mut b = block(plain);
        aes.enc(&mut b);
        out.copy_from_slice(&b);
        return Some(out);
    }
    // Blocks before the last two go through plain CBC.
    let full = (n - 1) / 16; // whole blocks before the final (1..=16 byte) one
    let tail = n - full * 16;
    for i in 0..full - 1 {
        let mut b = block(&plain[i * 16..]);
        xor16(&mut b, &prev);
        aes.enc(&mut b);
        out[i * 16..i * 16 + 16].copy_from_slice(&b);
        prev = b;
    }
    let mut en1 = block(&plain[(full - 1) * 16..]);
    xor16(&mut en1, &prev);
    aes.enc(&mut en1);
    let mut last = [0u8; 16];
    last[..tail].copy_from_slice(&plain[full * 16..]);
    xor16(&mut last, &en1);
    aes.enc(&mut last);
    out[(full - 1) * 16..full * 16].copy_from_slice(&last);
    out[full * 16..].copy_from_slice(&en1[..tail]);
    Some(out)
}

/// Inverse of [`cts_encrypt`].
pub fn cts_decrypt(key: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    let aes = Aes::new(key)?;
    let n = ct.len();
    if n < 16 {
        return None;
    }
    let mut out = vec![0u8; n];
    if n == 16 {
        let mut b = block(ct);
        aes.dec(&mut b);
        out.copy_from_slice(&b);
        return Some(out);
    }
    let full = (n - 1) / 16;
    let tail = n - full * 16;
    let mut prev = [0u8; 16];
    for i in 0..full - 1 {
        let c = block(&ct[i * 16..]);
        let mut b = c;
        aes.dec(&mut b);
        xor16(&mut b, &prev);
        out[i * 16..i * 16 + 16].copy_from_slice(&b);
        prev = c;
    }
    // D = dec(E_n) = (P_n || 0) xor E_{n-1}; E_{n-1} = C_tail || D[tail..].
    let mut d = block(&ct[(full - 1) * 16..]);
    aes.dec(&mut d);
    let c_tail = &ct[full * 16..];
    let mut en1 = [0u8; 16];
    en1[..tail].copy_from_slice(c_tail);
    en1[tail..].copy_from_slice(&d[tail..]);
    for i in 0..tail {
        out[full * 16 + i] = d[i] ^ c_tail[i];
    }
    let mut p = en1;
    aes.dec(&mut p);
    xor16(&mut p, &prev);
    out[(full - 1) * 16..full * 16].copy_from_slice(&p);
    Some(out)
}

/// RFC 3961 DK(key, constant) for AES (random-to-key is the identity):
/// n-fold the constant to a block, then encrypt repeatedly, concatenating
/// blocks until the key length.
pub fn dk(key: &[u8], constant: &[u8]) -> Option<Vec<u8>> {
    let aes = Aes::new(key)?;
    let mut b = [0u8; 16];
    nfold(constant, &mut b);
    let mut out = Vec::with_capacity(key.len());
    while out.len() < key.len() {
        aes.enc(&mut b);
        out.extend_from_slice(&b);
    }
    out.truncate(key.len());
    Some(out)
}

fn usage_constant(usage: u32, kind: u8) -> [u8; 5] {
    let u = usage.to_be_bytes();
    [u[0], u[1], u[2], u[3], kind]
}

fn hmac_sha1_96(key: &[u8], data: &[u8]) -> Option<[u8; 12]> {
    let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?;
    m.update(data);
    let r = m.finalize().into_bytes();
    let mut o = [0u8; 12];
    o.copy_from_slice(&r[..12]);
    Some(o)
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 16]> {
    let mut m = <Hmac<Md5> as KeyInit>::new_from_slice(key).ok()?;
    for p in parts {
        m.update(p);
    }
    let mut o = [0u8; 16];
    o.copy_from_slice(&m.finalize().into_bytes());
    Some(o)
}

/// Equality without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// RFC 4757 key usage translation (only AS-REP and TGS-REP with a subkey differ).
fn rc4_usage(usage: u32) -> u32 {
    match usage {
        3 => 8,
        9 => 8,
        23 => 13,
        u => u,
    }
}

/// Why decryption failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// The key length does not fit the encryption type.
    BadKey,
    /// The ciphertext is shorter than confounder and checksum.
    TooShort,
    /// The integrity check did not verify (wrong key or damaged ciphertext).
    Integrity,
}

/// Decrypts `ct` with `key` (enctype `e`) for key usage `usage` and checks its
/// integrity; returns the plaintext without the confounder.
pub fn decrypt(e: Enctype, key: &[u8], usage: u32, ct: &[u8]) -> Result<Vec<u8>, DecryptError> {
    if key.len() != e.key_len() {
        return Err(DecryptError::BadKey);
    }
    match e {
        Enctype::Aes128 | Enctype::Aes256 => {
            if ct.len() < 16 + 12 {
                return Err(DecryptError::TooShort);
            }
            let ke = dk(key, &usage_constant(usage, 0xAA)).ok_or(DecryptError::BadKey)?;
            let ki = dk(key, &usage_constant(usage, 0x55)).ok_or(DecryptError::BadKey)?;
            let (c, h) = ct.split_at(ct.len() - 12);
            let mut p = cts_decrypt(&ke, c).ok_or(DecryptError::TooShort)?;
            let mac = hmac_sha1_96(&ki, &p).ok_or(DecryptError::BadKey)?;
            if !same(&mac, h) {
                return Err(DecryptError::Integrity);
            }
            p.drain(..16);
            Ok(p)
        }
        Enctype::Rc4Hmac => {
            if ct.len() < 16 + 8 {
                return Err(DecryptError::TooShort);
            }
            let k1 =
                hmac_md5(key, &[&rc4_usage(usage).to_le_bytes()]).ok_or(DecryptError::BadKey)?;
            let (cksum, edata) = ct.split_at(16);
            let k3 = hmac_md5(&k1, &[cksum]).ok_or(DecryptError::BadKey)?;
            let mut p = edata.to_vec();
            let mut rc4 = Rc4::new_from_slice(&k3).map_err(|_| DecryptError::BadKey)?;
            rc4.apply_keystream(&mut p);
            let check = hmac_md5(&k1, &[&p]).ok_or(DecryptError::BadKey)?;
            if !same(&check, cksum) {
                return Err(DecryptError::Integrity);
            }
            p.drain(..8);
            Ok(p)
        }
    }
}

/// Encrypts `plain` behind `confounder` (16 bytes for AES, 8 used for RC4):
/// the inverse of [`decrypt`], for tests, fixtures and fuzzing.
pub fn encrypt(
    e: Enctype,
    key: &[u8],
    usage: u32,
    confounder: &[u8; 16],
    plain: &[u8],
) -> Option<Vec<u8>> {
    if key.len() != e.key_len() {
        return None;
    }
    match e {
        Enctype::Aes128 | Enctype::Aes256 => {
            let ke = dk(key, &usage_constant(usage, 0xAA))?;
            let ki = dk(key, &usage_constant(usage, 0x55))?;
            let mut p = confounder.to_vec();
            p.extend_from_slice(plain);
            let mac = hmac_sha1_96(&ki, &p)?;
            let mut c = cts_encrypt(&ke, &p)?;
            c.extend_from_slice(&mac);
            Some(c)
        }
        Enctype::Rc4Hmac => {
            let k1 = hmac_md5(key, &[&rc4_usage(usage).to_le_bytes()])?;
            let mut p = confounder[..8].to_vec();
            p.extend_from_slice(plain);
            let cksum = hmac_md5(&k1, &[&p])?;
            let k3 = hmac_md5(&k1, &[&cksum])?;
            let mut rc4 = Rc4::new_from_slice(&k3).ok()?;
            rc4.apply_keystream(&mut p);
            let mut out = cksum.to_vec();
            out.extend_from_slice(&p);
            Some(out)
        }
    }
}
