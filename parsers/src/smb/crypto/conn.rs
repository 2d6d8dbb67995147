//! Per-connection decryption state: what NEGOTIATE and SESSION_SETUP said
//! (dialect, cipher, preauthentication hashes, NTLM challenge and recovered
//! session key) and the ciphers of the sessions seen encrypted.

use std::sync::Arc;

use super::cipher::{self, Cipher};
use super::kdf;
use super::keys::{KeyRing, LearnedKeys, Secret};
use super::ntlm;
use crate::smb::events::Body;
use crate::smb::wire::{self, Smb2Header, TRANSFORM_HEADER_LEN, cmd, status};

/// Most sessions a connection keeps ciphers for.
const MAX_SESSIONS: usize = 64;
/// Most session setups in progress on one connection.
const MAX_SETUPS: usize = 16;
/// Recent nonces remembered per session (replay detection).
const NONCE_RING: usize = 32;
/// A session whose keys never fitted is given up after this many messages.
const MAX_MISFITS: u32 = 64;
/// Plaintext buffer capacity kept between messages.
const IDLE_PLAIN: usize = 4 << 20;

/// What happened to one encrypted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decryption {
    /// No key for the session (or no decryption configured).
    #[default]
    NoKey,
    /// Decrypted and authenticated; the plaintext went through the decoders.
    Decrypted,
    /// Authentic, but its nonce was already used in this session (decoded anyway).
    Replayed,
    /// No key fits, or the tag did not verify (wrong key or damaged ciphertext).
    AuthFailed,
    /// The ciphertext is incomplete (snaplen or a gap in the capture).
    Truncated,
    /// OriginalMessageSize larger than the message, or zero.
    BadSize,
}

/// Counters of one connection's decryption.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CryptoStats {
    pub decrypted: u64,
    pub replayed: u64,
    pub auth_failed: u64,
    pub truncated: u64,
    pub bad_size: u64,
    pub no_key: u64,
    /// Session keys recovered from NTLMv2 exchanges.
    pub ntlm_recovered: u64,
    /// NTLMv2 exchanges whose account had a credential that did not match.
    pub ntlm_wrong_password: u64,
    /// Sessions set up here whose keys could not be derived (e.g. no preauth hash).
    pub underivable: u64,
}

#[derive(Debug, Clone)]
struct Setup {
    session_id: u64,
    hash: [u8; 64],
    challenge: Option<[u8; 8]>,
    session_key: Option<Secret>,
}

#[derive(Debug, Clone)]
struct Candidate {
    cipher: Cipher,
    /// The key is for client-to-server messages.
    c2s: bool,
}

#[derive(Debug, Clone)]
struct Active {
    session_id: u64,
    candidates: Vec<Candidate>,
    /// Candidate that worked last, per direction index.
    chosen: [Option<usize>; 2],
    nonces: [[u8; 16]; NONCE_RING],
    next_nonce: usize,
    misfits: u32,
    ever_fitted: bool,
}

/// The decryption state of one connection.
#[derive(Debug, Clone)]
pub struct ConnCrypto {
    ring: Arc<KeyRing>,
    dialect: Option<u16>,
    cipher: Option<u16>,
    negotiate_request: Option<[u8; 64]>,
    preauth: Option<[u8; 64]>,
    pending_new: Option<Setup>,
    setups: Vec<Setup>,
    active: Vec<Active>,
    plain: Vec<u8>,
    stats: CryptoStats,
}

impl ConnCrypto {
    pub fn new(ring: Arc<KeyRing>) -> ConnCrypto {
        ConnCrypto {
            ring,
            dialect: None,
            cipher: None,
            negotiate_request: None,
            preauth: None,
            pending_new: None,
            setups: Vec::new(),
            active: Vec::new(),
            plain: Vec::new(),
            stats: CryptoStats::default(),
        }
    }

    pub fn stats(&self) -> &CryptoStats {
        &self.stats
    }

    /// Whether SESSION_SETUP messages should be buffered whole (preauth hash, NTLM).
    pub fn wants_session_setup(&self) -> bool {
        true
    }

    /// Whether an encrypted message of `session_id` should be buffered whole.
    pub fn wants(&self, session_id: u64) -> bool {
        if let Some(a) = self.active.iter().find(|a| a.session_id == session_id) {
            return !a.candidates.is_empty() && (a.ever_fitted || a.misfits < MAX_MISFITS);
        }
        self.ring.spec(session_id).is_some() || self.ring.has_learned(session_id)
    }

    /// A cleartext PDU (the whole PDU, `pdu`) of the connection: NEGOTIATE and
    /// SESSION_SETUP feed the preauth hash, the dialect, the cipher and NTLM.
    pub fn observe(&mut self, h: &Smb2Header, pdu: &[u8], body: &Body) {
        let resp = h.is_response();
        match (h.command, resp) {
            (cmd::NEGOTIATE, false) => {
                self.negotiate_request = Some(kdf::preauth_step(&[0; 64], pdu));
            }
            (cmd::NEGOTIATE, true) => {
                if let Body::NegotiateResponse(n) = body {
                    if n.dialect == 0x02FF {
                        return;
                    }
                    self.dialect = Some(n.dialect);
                    self.cipher = match n.dialect {
                        0x0300 | 0x0302 => Some(cipher::AES_128_CCM),
                        0x0311 => n.contexts.ciphers.first().copied(),
                        _ => None,
                    };
                    self.preauth = match (n.dialect, self.negotiate_request) {
                        (0x0311, Some(req)) => Some(kdf::preauth_step(&req, pdu)),
                        _ => None,
                    };
                }
            }
            (cmd::SESSION_SETUP, false) => self.setup_request(h.session_id, pdu),
            (cmd::SESSION_SETUP, true) => self.setup_response(h, pdu),
            _ => {}
        }
    }

    fn setup_request(&mut self, sid: u64, pdu: &[u8]) {
        let base = self.preauth.unwrap_or([0; 64]);
        let idx = if sid == 0 {
            None
        } else {
            self.setups.iter().position(|s| s.session_id == sid)
        };
        let mut s = match idx {
            Some(i) => self.setups.swap_remove(i),
            None if sid == 0 => self.pending_new.take().unwrap_or(Setup {
                session_id: 0,
                hash: base,
                challenge: None,
                session_key: None,
            }),
            None => Setup {
                session_id: sid,
                hash: base,
                challenge: None,
                session_key: None,
            },
        };
        s.hash = kdf::preauth_step(&s.hash, pdu);
        if let (Some(m), Some(ch)) = (ntlm::find(pdu), s.challenge) {
            if ntlm::message_type(m) == Some(3) && !self.ring.credentials().is_empty() {
                match ntlm::session_key(m, &ch, self.ring.credentials()) {
                    ntlm::Outcome::Key(k) => {
                        self.stats.ntlm_recovered += 1;
                        s.session_key = Some(k);
                    }
                    ntlm::Outcome::WrongPassword => self.stats.ntlm_wrong_password += 1,
                    _ => {}
                }
            }
        }
        if sid == 0 {
            self.pending_new = Some(s);
        } else {
            if self.setups.len() >= MAX_SETUPS {
                self.setups.remove(0);
            }
            self.setups.push(s);
        }
    }

    fn setup_response(&mut self, h: &Smb2Header, pdu: &[u8]) {
        let sid = h.session_id;
        if sid == 0 {
            return;
        }
        let i = match self.setups.iter().position(|s| s.session_id == sid) {
            Some(i) => i,
            None => {
                let Some(mut s) = self.pending_new.take() else {
                    return;
                };
                s.session_id = sid;
                if self.setups.len() >= MAX_SETUPS {
                    self.setups.remove(0);
                }
                self.setups.push(s);
                self.setups.len() - 1
            }
        };
        if h.status == status::MORE_PROCESSING_REQUIRED {
            let s = &mut self.setups[i];
            s.hash = kdf::preauth_step(&s.hash, pdu);
            if let Some(c) = ntlm::find(pdu).and_then(ntlm::server_challenge) {
                s.challenge = Some(c);
            }
            return;
        }
        let s = self.setups.swap_remove(i);
        if h.status != status::SUCCESS {
            return;
        }
        // A binding SESSION_SETUP (3.x) keeps the session's cipher keys.
        let from_credential = s.session_key.is_some();
        let key = s
            .session_key
            .clone()
            .or_else(|| self.ring.spec(sid).and_then(|k| k.session_key.clone()));
        let (Some(key), Some(dialect)) = (key, self.dialect) else {
            return;
        };
        let cipher = self.cipher.unwrap_or(cipher::AES_128_CCM);
        let preauth = (dialect == 0x0311).then_some(&s.hash);
        match kdf::cipher_keys(dialect, cipher, key.expose(), preauth) {
            Some((c2s, s2c)) => {
                self.ring.learn(
                    sid,
                    LearnedKeys {
                        cipher,
                        c2s,
                        s2c,
                        from_credential,
                    },
                    false,
                );
                self.active.retain(|a| a.session_id != sid);
            }
            None => self.stats.underivable += 1,
        }
    }

    /// Ciphers to try for a session, most likely first.
    fn candidates(&self, sid: u64) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut push = |id: u16, key: &Secret, c2s: bool| {
            if let Some(cipher) = Cipher::new(id, key.expose()) {
                out.push(Candidate { cipher, c2s });
            }
        };
        if let Some(l) = self.ring.learned(sid) {
            push(l.cipher, &l.c2s, true);
            push(l.cipher, &l.s2c, false);
        }
        let Some(spec) = self.ring.spec(sid) else {
            return out;
        };
        let ids = |len: usize| -> Vec<u16> {
            match (self.cipher, len) {
                (Some(c), _) => vec![c],
                (None, 32) => vec![cipher::AES_256_GCM, cipher::AES_256_CCM],
                (None, _) => vec![cipher::AES_128_GCM, cipher::AES_128_CCM],
            }
        };
        // Given keys in either order: each is tried for both directions.
        for k in [&spec.c2s, &spec.s2c].into_iter().flatten() {
            for id in ids(k.len()) {
                push(id, k, true);
                push(id, k, false);
            }
        }
        // A session key with the 3.0/3.0.2 labels needs no preauth hash: usable mid-stream.
        if let Some(sk) = &spec.session_key {
            if matches!(self.dialect, None | Some(0x0300) | Some(0x0302)) {
                if let Some((c2s, s2c)) = kdf::cipher_keys(0x0300, 1, sk.expose(), None) {
                    push(cipher::AES_128_CCM, &c2s, true);
                    push(cipher::AES_128_CCM, &s2c, false);
                }
            }
        }
        out
    }

    /// Decrypts one complete transform message `msg` (`to_server`: the
    /// message goes client-to-server, when known). On success the plaintext
    /// is returned in a buffer to hand back with [`ConnCrypto::give_back`].
    pub fn decrypt(
        &mut self,
        msg: &[u8],
        wire_len: u32,
        dir_index: usize,
        to_server: Option<bool>,
    ) -> (Decryption, Option<Vec<u8>>) {
        let Ok((_, th)) = wire::transform_header(msg) else {
            return (Decryption::BadSize, None);
        };
        let sid = th.session_id;
        if !self.wants(sid) {
            self.stats.no_key += 1;
            return (Decryption::NoKey, None);
        }
        let size = th.original_size as usize;
        let avail = (wire_len as usize).saturating_sub(TRANSFORM_HEADER_LEN);
        if size == 0 || size > avail {
            self.stats.bad_size += 1;
            return (Decryption::BadSize, None);
        }
        if msg.len() < TRANSFORM_HEADER_LEN + size {
            self.stats.truncated += 1;
            return (Decryption::Truncated, None);
        }
        let ai = match self.active.iter().position(|a| a.session_id == sid) {
            Some(i) => i,
            None => {
                if self.active.len() >= MAX_SESSIONS {
                    self.active.remove(0);
                }
                let candidates = self.candidates(sid);
                self.active.push(Active {
                    session_id: sid,
                    candidates,
                    chosen: [None; 2],
                    nonces: [[0; 16]; NONCE_RING],
                    next_nonce: 0,
                    misfits: 0,
                    ever_fitted: false,
                });
                self.active.len() - 1
            }
        };
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&msg[4..20]);
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&msg[20..36]);
        let aad = &msg[20..TRANSFORM_HEADER_LEN];
        let ct = &msg[TRANSFORM_HEADER_LEN..TRANSFORM_HEADER_LEN + size];
        let a = &mut self.active[ai];
        // Order: the one that worked in this direction, then keys for the
        // expected direction, then the rest.
        let n = a.candidates.len();
        let mut order: Vec<usize> = Vec::with_capacity(n + 1);
        if let Some(c) = a.chosen[dir_index] {
            order.push(c);
        }
        for want in [to_server, to_server.map(|b| !b)] {
            for (i, c) in a.candidates.iter().enumerate() {
                if (want.is_none() || want == Some(c.c2s)) && !order.contains(&i) {
                    order.push(i);
                }
            }
        }
        let fit = order.into_iter().find(|&i| {
            let p = a.candidates[i].cipher.peek(&nonce, ct);
            matches!(p[0], 0xFE | 0xFC) && &p[1..4] == b"SMB"
        });
        let Some(i) = fit else {
            a.misfits = a.misfits.saturating_add(1);
            self.stats.auth_failed += 1;
            return (Decryption::AuthFailed, None);
        };
        let mut plain = std::mem::take(&mut self.plain);
        plain.clear();
        plain.extend_from_slice(ct);
        if !a.candidates[i].cipher.open(&nonce, aad, &mut plain, &tag) {
            self.plain = plain;
            a.misfits = a.misfits.saturating_add(1);
            self.stats.auth_failed += 1;
            return (Decryption::AuthFailed, None);
        }
        a.chosen[dir_index] = Some(i);
        a.ever_fitted = true;
        let replay = a.nonces.contains(&nonce) && nonce != [0; 16];
        a.nonces[a.next_nonce] = nonce;
        a.next_nonce = (a.next_nonce + 1) % NONCE_RING;
        if replay {
            self.stats.replayed += 1;
            (Decryption::Replayed, Some(plain))
        } else {
            self.stats.decrypted += 1;
            (Decryption::Decrypted, Some(plain))
        }
    }

    /// Returns the plaintext buffer for reuse.
    pub fn give_back(&mut self, mut plain: Vec<u8>) {
        plain.clear();
        if plain.capacity() > IDLE_PLAIN {
            plain.shrink_to(IDLE_PLAIN);
        }
        self.plain = plain;
    }
}
