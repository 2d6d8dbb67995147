//! SMB 3 decryption (MS-SMB2 3.1.4.3, 3.2.5.3, 3.3.5.5.3).
//!
//! Keys come from a [`KeyRing`] shared by every connection of a run: per-session
//! keys given by the user ([`SessionKeySpec`]: the session key, or the
//! already-derived server-to-client / client-to-server keys) and NT credentials
//! ([`NtCredential`]) from which the session key of an NTLMv2 SESSION_SETUP is
//! recovered ([`ntlm`]), and keytab keys that open Kerberos AP-REQs
//! ([`crate::kerberos`]). Each connection keeps a [`ConnCrypto`]: the
//! dialect and cipher from NEGOTIATE, the SMB 3.1.1 preauthentication hash per
//! connection and per session setup ([`kdf`]), and the ciphers of the sessions
//! it decrypts ([`cipher`]). The stream parser hands it every complete
//! TRANSFORM_HEADER message and walks the plaintext with the normal decoders;
//! signed cleartext messages of sessions with a known key are verified ([`sign`]).
//!
//! Key material never leaves this module in printable form: [`Secret`]'s
//! `Debug` is redacted, and errors name only positions and lengths.

pub mod cipher;
pub mod conn;
pub mod kdf;
pub mod keys;
pub mod ntlm;
pub mod sign;

pub use conn::{ConnCrypto, CryptoStats, Decryption, KeyOrigin, SignatureCheck};
pub use keys::{KeyRing, NtCredential, Secret, SessionKeySpec};

#[cfg(test)]
mod krb_tests;
#[cfg(test)]
mod tests;
