//! The four SMB 3 ciphers (AES-128/256 in CCM and GCM) over the transform
//! header's nonce and AAD, with a one-block peek that tells cheaply whether a
//! key fits a message before the authenticated decryption.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::array::Array;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::Ccm;
use ccm::consts::{U11, U16};

type Ccm128 = Ccm<Aes128, U16, U11>;
type Ccm256 = Ccm<Aes256, U16, U11>;

/// Cipher ids (MS-SMB2 2.2.3.1.2).
pub const AES_128_CCM: u16 = 1;
pub const AES_128_GCM: u16 = 2;
pub const AES_256_CCM: u16 = 3;
pub const AES_256_GCM: u16 = 4;

pub fn cipher_name(id: u16) -> &'static str {
    match id {
        AES_128_CCM => "AES-128-CCM",
        AES_128_GCM => "AES-128-GCM",
        AES_256_CCM => "AES-256-CCM",
        AES_256_GCM => "AES-256-GCM",
        _ => "unknown",
    }
}

#[derive(Clone)]
enum Aead {
    Ccm128(Box<Ccm128>),
    Gcm128(Box<Aes128Gcm>),
    Ccm256(Box<Ccm256>),
    Gcm256(Box<Aes256Gcm>),
}

#[derive(Clone)]
enum Block {
    A128(Box<Aes128>),
    A256(Box<Aes256>),
}

/// One key with one cipher.
#[derive(Clone)]
pub struct Cipher {
    id: u16,
    aead: Aead,
    block: Block,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cipher({}, <key redacted>)", cipher_name(self.id))
    }
}

impl Cipher {
    /// `None` when the key length does not fit the cipher.
    pub fn new(id: u16, key: &[u8]) -> Option<Cipher> {
        let (aead, block) = match (id, key.len()) {
            (AES_128_CCM, 16) => (
                Aead::Ccm128(Box::new(Ccm128::new_from_slice(key).ok()?)),
                Block::A128(Box::new(Aes128::new_from_slice(key).ok()?)),
            ),
            (AES_128_GCM, 16) => (
                Aead::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
                Block::A128(Box::new(Aes128::new_from_slice(key).ok()?)),
            ),
            (AES_256_CCM, 32) => (
                Aead::Ccm256(Box::new(Ccm256::new_from_slice(key).ok()?)),
                Block::A256(Box::new(Aes256::new_from_slice(key).ok()?)),
            ),
            (AES_256_GCM, 32) => (
                Aead::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
                Block::A256(Box::new(Aes256::new_from_slice(key).ok()?)),
            ),
            _ => return None,
        };
        Some(Cipher { id, aead, block })
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    fn is_gcm(&self) -> bool {
        matches!(self.id, AES_128_GCM | AES_256_GCM)
    }

    /// The first (up to 16) plaintext bytes of `ct` under this key: the CTR
    /// keystream block for the first data block, XORed in (GCM: counter 2
    /// after the 12-byte nonce; CCM: A_1 with the 11-byte nonce).
    pub fn peek(&self, nonce: &[u8; 16], ct: &[u8]) -> [u8; 16] {
        let mut ctr = [0u8; 16];
        if self.is_gcm() {
            ctr[..12].copy_from_slice(&nonce[..12]);
            ctr[15] = 2;
        } else {
            ctr[0] = 3; // L' = L - 1 with L = 15 - 11
            ctr[1..12].copy_from_slice(&nonce[..11]);
            ctr[15] = 1;
        }
        let mut b = Array::from(ctr);
        match &self.block {
            Block::A128(c) => c.encrypt_block(&mut b),
            Block::A256(c) => c.encrypt_block(&mut b),
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = b[i] ^ ct.get(i).copied().unwrap_or(0);
        }
        out
    }

    /// Decrypts `buf` in place and checks the tag; false when inauthentic.
    pub fn open(&self, nonce: &[u8; 16], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let tag = Array::from(*tag);
        match &self.aead {
            Aead::Ccm128(c) => c
                .decrypt_inout_detached(&nonce11(nonce), aad, buf.into(), &tag)
                .is_ok(),
            Aead::Ccm256(c) => c
                .decrypt_inout_detached(&nonce11(nonce), aad, buf.into(), &tag)
                .is_ok(),
            Aead::Gcm128(c) => c
                .decrypt_inout_detached(&nonce12(nonce), aad, buf.into(), &tag)
                .is_ok(),
            Aead::Gcm256(c) => c
                .decrypt_inout_detached(&nonce12(nonce), aad, buf.into(), &tag)
                .is_ok(),
        }
    }

    /// Encrypts in place and returns the tag (tests and fixtures).
    pub fn seal(&self, nonce: &[u8; 16], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let t = match &self.aead {
            Aead::Ccm128(c) => c.encrypt_inout_detached(&nonce11(nonce), aad, buf.into()),
            Aead::Ccm256(c) => c.encrypt_inout_detached(&nonce11(nonce), aad, buf.into()),
            Aead::Gcm128(c) => c.encrypt_inout_detached(&nonce12(nonce), aad, buf.into()),
            Aead::Gcm256(c) => c.encrypt_inout_detached(&nonce12(nonce), aad, buf.into()),
        };
        let mut out = [0u8; 16];
        if let Ok(t) = t {
            out.copy_from_slice(&t);
        }
        out
    }
}

fn nonce11(n: &[u8; 16]) -> Array<u8, U11> {
    let mut a = [0u8; 11];
    a.copy_from_slice(&n[..11]);
    Array::from(a)
}

fn nonce12(n: &[u8; 16]) -> Array<u8, aes_gcm::aead::consts::U12> {
    let mut a = [0u8; 12];
    a.copy_from_slice(&n[..12]);
    Array::from(a)
}

/// Builds a TRANSFORM_HEADER message (without the 4-byte framing) carrying
/// `plain` encrypted with `cipher` (tests, fuzzing and benchmarks).
pub fn transform_message(
    cipher: &Cipher,
    session_id: u64,
    nonce: [u8; 16],
    plain: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(52 + plain.len());
    m.extend_from_slice(&[0xFD, b'S', b'M', b'B']);
    m.extend_from_slice(&[0; 16]);
    m.extend_from_slice(&nonce);
    m.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&session_id.to_le_bytes());
    m.extend_from_slice(plain);
    let (head, body) = m.split_at_mut(52);
    let tag = cipher.seal(&nonce, &head[20..52], body);
    m[4..20].copy_from_slice(&tag);
    m
}
