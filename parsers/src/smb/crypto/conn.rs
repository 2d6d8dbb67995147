//! Per-connection decryption state: what NEGOTIATE and SESSION_SETUP said
//! (dialect, cipher, preauthentication hashes, NTLM challenge and recovered
//! session key) and the ciphers of the sessions seen encrypted.

use std::sync::Arc;

use super::cipher::{self, Cipher};
use super::kdf;
use super::keys::{KeyRing, LearnedKeys, Secret};
use super::ntlm;
use super::sign::Signer;
use crate::kerberos::{self, ApRepOutcome, ApReqOutcome, crypto::enctype_name};
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
    /// Session keys recovered from Kerberos AP-REQs with a keytab.
    pub krb_recovered: u64,
    /// Kerberos AP-REQs the keytab could not open (no entry, wrong key, unsupported type).
    pub krb_failed: u64,
    /// Signed messages whose signature verified / did not / could not be checked
    /// (the message was not carried whole).
    pub signatures_verified: u64,
    pub signatures_failed: u64,
    pub signatures_unchecked: u64,
}

/// How a session's key came (or why it did not), for the report: never the key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyOrigin {
    /// The session key is known.
    pub recovered: bool,
    /// "key recovered from Kerberos (aes256-cts-hmac-sha1-96)", "key not recovered: ...".
    pub how: String,
    /// Principals and where the key sits in the exchange, when from Kerberos.
    pub detail: Option<String>,
}

/// The outcome of checking one signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureCheck {
    Verified,
    /// The signature is not the one the session's key gives (wrong key, damage).
    Failed,
    /// The message was not carried whole, so it could not be checked.
    Unchecked,
}

#[derive(Debug, Clone)]
struct Setup {
    session_id: u64,
    hash: [u8; 64],
    challenge: Option<[u8; 8]>,
    session_key: Option<Secret>,
    /// The AP-REQ the keytab opened (its ticket session key opens the AP-REP).
    krb: Option<Box<kerberos::Accepted>>,
    origin: Option<KeyOrigin>,
}

impl Setup {
    fn new(session_id: u64, hash: [u8; 64]) -> Setup {
        Setup {
            session_id,
            hash,
            challenge: None,
            session_key: None,
            krb: None,
            origin: None,
        }
    }
}

/// The security buffer of a SESSION_SETUP request or response PDU.
fn security_blob(pdu: &[u8], response: bool) -> Option<&[u8]> {
    let at = if response { 64 + 4 } else { 64 + 12 };
    let off = usize::from(u16::from_le_bytes([*pdu.get(at)?, *pdu.get(at + 1)?]));
    let len = usize::from(u16::from_le_bytes([*pdu.get(at + 2)?, *pdu.get(at + 3)?]));
    pdu.get(off..off.checked_add(len)?)
}

fn kerberos_origin(etype: i32, origin: &str, a: &kerberos::Accepted) -> KeyOrigin {
    KeyOrigin {
        recovered: true,
        how: format!("key recovered from Kerberos ({})", enctype_name(etype)),
        detail: Some(format!(
            "{origin}; ticket for {} ({}), client {}",
            a.service,
            enctype_name(a.ticket_etype),
            a.client
        )),
    }
}

fn not_recovered(how: String) -> KeyOrigin {
    KeyOrigin {
        recovered: false,
        how,
        detail: None,
    }
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
    /// SIGNING_CAPABILITIES choice of the 3.1.1 NEGOTIATE response.
    signing_alg: Option<u16>,
    /// Signing keys of the sessions set up (or bound) on this connection.
    signers: Vec<(u64, Signer)>,
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
            signing_alg: None,
            signers: Vec::new(),
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
    /// SESSION_SETUP feed the preauth hash, the dialect, the cipher, NTLM and
    /// Kerberos. A successful SESSION_SETUP response returns how its session's
    /// key came (when a credential, keytab or key was given for it).
    pub fn observe(&mut self, h: &Smb2Header, pdu: &[u8], body: &Body) -> Option<KeyOrigin> {
        let resp = h.is_response();
        match (h.command, resp) {
            (cmd::NEGOTIATE, false) => {
                self.negotiate_request = Some(kdf::preauth_step(&[0; 64], pdu));
            }
            (cmd::NEGOTIATE, true) => {
                if let Body::NegotiateResponse(n) = body {
                    if n.dialect == 0x02FF {
                        return None;
                    }
                    self.dialect = Some(n.dialect);
                    self.signing_alg = n.contexts.signing.first().copied();
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
            (cmd::SESSION_SETUP, true) => return self.setup_response(h, pdu),
            _ => {}
        }
        None
    }

    /// Whether signed messages of `session_id` should be buffered whole (a key to check them).
    pub fn can_verify(&self, session_id: u64) -> bool {
        self.signers.iter().any(|(s, _)| *s == session_id)
    }

    /// Checks a signed cleartext PDU (`whole`: every byte of it is in `pdu`).
    /// `None` when it is not signed or no key is known for its session.
    pub fn check_signature(
        &mut self,
        h: &Smb2Header,
        pdu: &[u8],
        whole: bool,
    ) -> Option<SignatureCheck> {
        if h.flags & wire::flags::SIGNED == 0 || h.session_id == 0 {
            return None;
        }
        if !self.can_verify(h.session_id) {
            // A supplied session key works mid-stream where no preauth hash is needed.
            let sk = self.ring.spec(h.session_id)?.session_key.clone()?;
            let d = self.dialect.filter(|d| *d != 0x0311)?;
            let s = Signer::new(d, None, sk.expose(), None)?;
            self.add_signer(h.session_id, s);
        }
        let signer = &self.signers.iter().find(|(s, _)| *s == h.session_id)?.1;
        let r = if !whole {
            self.stats.signatures_unchecked += 1;
            SignatureCheck::Unchecked
        } else if signer.verify(pdu) {
            self.stats.signatures_verified += 1;
            SignatureCheck::Verified
        } else {
            self.stats.signatures_failed += 1;
            SignatureCheck::Failed
        };
        Some(r)
    }

    fn add_signer(&mut self, sid: u64, s: Signer) {
        self.signers.retain(|(x, _)| *x != sid);
        if self.signers.len() >= MAX_SESSIONS {
            self.signers.remove(0);
        }
        self.signers.push((sid, s));
    }

    /// Opens a SESSION_SETUP request's AP-REQ with the keytab.
    fn kerberos_request(&mut self, s: &mut Setup, pdu: &[u8]) {
        let Some(kt) = self.ring.keytab() else { return };
        let Some((kerberos::TOK_AP_REQ, m)) =
            security_blob(pdu, false).and_then(kerberos::krb5_token)
        else {
            return;
        };
        let kv = |k: Option<u32>| k.map_or("no kvno".to_string(), |k| format!("kvno {k}"));
        match kerberos::accept_ap_req(m, kt) {
            ApReqOutcome::Accepted(a) => {
                self.stats.krb_recovered += 1;
                let g = a.gss_key();
                s.origin = Some(kerberos_origin(g.etype, g.origin, &a));
                s.session_key = Some(g.key);
                s.krb = Some(a);
            }
            o => {
                self.stats.krb_failed += 1;
                s.session_key = None;
                s.krb = None;
                s.origin = Some(not_recovered(match o {
                    ApReqOutcome::NoEntry {
                        service,
                        kvno,
                        etype,
                    } => format!(
                        "key not recovered: no keytab entry for {service}, {}, {}",
                        kv(kvno),
                        enctype_name(etype)
                    ),
                    ApReqOutcome::IntegrityFailed {
                        service,
                        kvno,
                        etype,
                    } => format!(
                        "key not recovered: ticket integrity check failed ({service}, {}, {}: the keytab's key is not the one the ticket was sealed with)",
                        kv(kvno),
                        enctype_name(etype)
                    ),
                    ApReqOutcome::Unsupported { service, etype } => format!(
                        "key not recovered: {} is not supported (ticket for {service}; supported: aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96, rc4-hmac)",
                        enctype_name(etype)
                    ),
                    _ => "key not recovered: malformed Kerberos AP-REQ".to_string(),
                }));
            }
        }
    }

    /// Opens a SESSION_SETUP response's AP-REP: its acceptor subkey, when present,
    /// is the session's key.
    fn kerberos_response(s: &mut Setup, pdu: &[u8]) {
        let Some(a) = s.krb.as_deref() else { return };
        let Some((kerberos::TOK_AP_REP, m)) =
            security_blob(pdu, true).and_then(kerberos::krb5_token)
        else {
            return;
        };
        match kerberos::open_ap_rep(m, &a.ticket_key) {
            ApRepOutcome::Opened(Some((etype, key))) => {
                s.origin = Some(kerberos_origin(etype, "acceptor subkey", a));
                s.session_key = Some(key);
            }
            ApRepOutcome::Opened(None) => {}
            _ => {
                if let Some(o) = &mut s.origin {
                    o.detail = Some(format!(
                        "{}; the AP-REP did not open with the ticket session key",
                        o.detail.as_deref().unwrap_or("")
                    ));
                }
            }
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
            None if sid == 0 => self
                .pending_new
                .take()
                .unwrap_or_else(|| Setup::new(0, base)),
            None => Setup::new(sid, base),
        };
        s.hash = kdf::preauth_step(&s.hash, pdu);
        if let (Some(m), Some(ch)) = (ntlm::find(pdu), s.challenge) {
            if ntlm::message_type(m) == Some(3) && !self.ring.credentials().is_empty() {
                match ntlm::session_key(m, &ch, self.ring.credentials()) {
                    ntlm::Outcome::Key(k) => {
                        self.stats.ntlm_recovered += 1;
                        s.session_key = Some(k);
                        s.origin = Some(KeyOrigin {
                            recovered: true,
                            how: "key recovered from NTLMv2 (supplied password or NT hash)".into(),
                            detail: ntlm::account(m).map(|(d, u)| format!("account {d}\\{u}")),
                        });
                    }
                    ntlm::Outcome::WrongPassword => {
                        self.stats.ntlm_wrong_password += 1;
                        s.origin = Some(not_recovered(match ntlm::account(m) {
                            Some((d, u)) => format!(
                                "key not recovered: the NTLMv2 response of {d}\\{u} matches no supplied password"
                            ),
                            None => "key not recovered: the NTLMv2 response matches no supplied password".into(),
                        }));
                    }
                    _ => {}
                }
            }
        }
        self.kerberos_request(&mut s, pdu);
        if sid == 0 {
            self.pending_new = Some(s);
        } else {
            if self.setups.len() >= MAX_SETUPS {
                self.setups.remove(0);
            }
            self.setups.push(s);
        }
    }

    fn setup_response(&mut self, h: &Smb2Header, pdu: &[u8]) -> Option<KeyOrigin> {
        let sid = h.session_id;
        if sid == 0 {
            return None;
        }
        let i = match self.setups.iter().position(|s| s.session_id == sid) {
            Some(i) => i,
            None => {
                let mut s = self.pending_new.take()?;
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
            Self::kerberos_response(s, pdu);
            return None;
        }
        let mut s = self.setups.swap_remove(i);
        if h.status != status::SUCCESS {
            return None;
        }
        Self::kerberos_response(&mut s, pdu);
        // A binding SESSION_SETUP (3.x) keeps the session's cipher keys.
        let from_credential = s.session_key.is_some();
        let supplied = self.ring.spec(sid).and_then(|k| k.session_key.clone());
        let origin = match (&s.origin, &s.session_key, &supplied) {
            (Some(o), Some(_), _) => Some(o.clone()),
            (_, None, Some(_)) => Some(KeyOrigin {
                recovered: true,
                how: "key supplied (--smb-key)".into(),
                detail: None,
            }),
            (o, _, _) => o.clone(),
        };
        let key = s.session_key.clone().or(supplied);
        let (Some(key), Some(dialect)) = (key, self.dialect) else {
            return origin;
        };
        let preauth = (dialect == 0x0311).then_some(&s.hash);
        if let Some(sg) = Signer::new(dialect, self.signing_alg, key.expose(), preauth) {
            self.add_signer(sid, sg);
        }
        if !matches!(dialect, 0x0300 | 0x0302 | 0x0311) {
            return origin; // SMB 2.x has no encryption: only signing uses the key
        }
        let cipher = self.cipher.unwrap_or(cipher::AES_128_CCM);
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
        origin
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
