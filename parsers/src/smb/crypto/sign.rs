//! SMB2/3 message signing (MS-SMB2 3.1.4.1), verified with a session's key:
//! HMAC-SHA256 for 2.0.2/2.1 (the session key itself), AES-128-CMAC for
//! 3.0/3.0.2 ("SMB2AESCMAC"/"SmbSign" signing key) and 3.1.1 ("SMBSigningKey"
//! with the preauthentication hash; AES-CMAC unless the SIGNING_CAPABILITIES
//! context chose HMAC-SHA256 or AES-GMAC).

use aes::Aes128;
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::array::Array;
use cmac::Cmac;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::kdf;
use super::keys::Secret;

/// Signing algorithm ids (MS-SMB2 2.2.3.1.7).
pub const HMAC_SHA256: u16 = 0;
pub const AES_CMAC: u16 = 1;
pub const AES_GMAC: u16 = 2;

/// Where the 16-byte signature sits in the SMB2 header.
const SIG: std::ops::Range<usize> = 48..64;

/// A session's signing key with its algorithm.
#[derive(Clone)]
pub struct Signer {
    alg: u16,
    key: Secret,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(alg {}, <key redacted>)", self.alg)
    }
}

impl Signer {
    /// The signer of a session set up with `session_key` (the GSS key: its
    /// first 16 bytes, zero-padded, are Session.SessionKey). `signing_alg`:
    /// the 3.1.1 SIGNING_CAPABILITIES choice; `preauth`: the session's
    /// preauthentication hash (3.1.1). `None` when it cannot be derived.
    pub fn new(
        dialect: u16,
        signing_alg: Option<u16>,
        session_key: &[u8],
        preauth: Option<&[u8; 64]>,
    ) -> Option<Signer> {
        if session_key.is_empty() {
            return None;
        }
        let mut sk = [0u8; 16];
        let n = session_key.len().min(16);
        sk[..n].copy_from_slice(&session_key[..n]);
        let mut key = vec![0u8; 16];
        let alg = match dialect {
            0x0202 | 0x0210 => {
                key.copy_from_slice(&sk);
                HMAC_SHA256
            }
            0x0300 | 0x0302 => {
                kdf::kdf(&sk, b"SMB2AESCMAC\0", b"SmbSign\0", &mut key);
                AES_CMAC
            }
            0x0311 => {
                kdf::kdf(&sk, b"SMBSigningKey\0", preauth?, &mut key);
                match signing_alg.unwrap_or(AES_CMAC) {
                    a @ (HMAC_SHA256 | AES_CMAC | AES_GMAC) => a,
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(Signer {
            alg,
            key: Secret::new(key),
        })
    }

    pub fn algorithm_name(&self) -> &'static str {
        match self.alg {
            HMAC_SHA256 => "HMAC-SHA256",
            AES_CMAC => "AES-128-CMAC",
            _ => "AES-128-GMAC",
        }
    }

    /// The signature of the whole PDU `pdu` (its own signature field read as zero).
    pub fn sign(&self, pdu: &[u8]) -> Option<[u8; 16]> {
        if pdu.len() < 64 {
            return None;
        }
        let zero = [0u8; 16];
        let mut out = [0u8; 16];
        match self.alg {
            HMAC_SHA256 => {
                let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.expose()).ok()?;
                m.update(&pdu[..SIG.start]);
                m.update(&zero);
                m.update(&pdu[SIG.end..]);
                out.copy_from_slice(&m.finalize().into_bytes()[..16]);
            }
            AES_CMAC => {
                let mut m = <Cmac<Aes128> as KeyInit>::new_from_slice(self.key.expose()).ok()?;
                m.update(&pdu[..SIG.start]);
                m.update(&zero);
                m.update(&pdu[SIG.end..]);
                out.copy_from_slice(&m.finalize().into_bytes());
            }
            _ => {
                // GMAC: GCM over no plaintext with the message as AAD; nonce =
                // MessageId and a word whose bit 0 marks a response and bit 1 a CANCEL.
                let g = Aes128Gcm::new_from_slice(self.key.expose()).ok()?;
                let mut nonce = [0u8; 12];
                nonce[..8].copy_from_slice(&pdu[24..32]);
                let flags = u32::from_le_bytes(pdu[16..20].try_into().ok()?);
                let command = u16::from_le_bytes([pdu[12], pdu[13]]);
                let role = (flags & 1) | if command == 0x000C { 2 } else { 0 };
                nonce[8..].copy_from_slice(&role.to_le_bytes());
                let mut aad = pdu.to_vec();
                aad[SIG].fill(0);
                let tag = g
                    .encrypt_inout_detached(&Array::from(nonce), &aad, (&mut [][..]).into())
                    .ok()?;
                out.copy_from_slice(&tag);
            }
        }
        Some(out)
    }

    /// Whether `pdu`'s signature field is its signature under this key.
    pub fn verify(&self, pdu: &[u8]) -> bool {
        match (self.sign(pdu), pdu.get(SIG)) {
            (Some(s), Some(have)) => s.iter().zip(have).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0,
            _ => false,
        }
    }
}
