//! Key sources: per-session keys (`--smb-key`, `--smb-keys`) and NT credentials
//! (`--ntlm-password`, `--nt-hash`), parsed without ever echoing key bytes.

use std::fmt;
use std::sync::Mutex;

use crate::flowtable::FastMap;

/// Key bytes. `Debug` never shows them; the bytes are overwritten on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            *b = 0;
        }
    }
}

/// Keys given for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeySpec {
    /// SessionId as a number (the hex form is the capture byte order, as tshark shows it).
    pub session_id: u64,
    /// The session key (Ki of the key derivation).
    pub session_key: Option<Secret>,
    /// Server-to-client cipher key (the client's DecryptionKey).
    pub s2c: Option<Secret>,
    /// Client-to-server cipher key (the client's EncryptionKey).
    pub c2s: Option<Secret>,
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn key_part(s: &str, what: &str) -> Result<Option<Secret>, String> {
    let s = s.trim().trim_matches('"');
    if s.is_empty() {
        return Ok(None);
    }
    match hex(s) {
        Some(b) if b.len() == 16 || b.len() == 32 => Ok(Some(Secret::new(b))),
        Some(b) => Err(format!(
            "{what}: {} bytes, expected 16 or 32 (32 or 64 hex digits)",
            b.len()
        )),
        None => Err(format!("{what}: not hex ({} characters)", s.len())),
    }
}

/// Parses `SESSIONID:SESSIONKEY`, `SESSIONID:S2CKEY:C2SKEY` or
/// `SESSIONID:SESSIONKEY:S2CKEY:C2SKEY` (`,` also separates; empty parts allowed
/// in the four-part form). SESSIONID is 16 hex digits in capture byte order
/// (tshark's `smb2.sesid` bytes), or `0x` and the number.
pub fn parse_key_spec(s: &str) -> Result<SessionKeySpec, String> {
    let parts: Vec<&str> = s.trim().split([':', ',']).collect();
    let sid = parts[0].trim();
    let session_id = if let Some(n) = sid.strip_prefix("0x") {
        u64::from_str_radix(n, 16).map_err(|_| format!("session id {sid:?} is not hex"))?
    } else {
        match hex(sid) {
            Some(b) if b.len() == 8 => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
            _ => {
                return Err(format!(
                    "session id {sid:?}: expected 16 hex digits (capture byte order) or 0x<number>"
                ));
            }
        }
    };
    let (session_key, s2c, c2s) = match parts.len() {
        2 => (key_part(parts[1], "session key")?, None, None),
        3 => (
            None,
            key_part(parts[1], "server-to-client key")?,
            key_part(parts[2], "client-to-server key")?,
        ),
        4 => (
            key_part(parts[1], "session key")?,
            key_part(parts[2], "server-to-client key")?,
            key_part(parts[3], "client-to-server key")?,
        ),
        n => {
            return Err(format!(
                "{n} fields; expected SESSIONID:SESSIONKEY or SESSIONID:S2CKEY:C2SKEY"
            ));
        }
    };
    if session_key.is_none() && s2c.is_none() && c2s.is_none() {
        return Err("no key given".into());
    }
    Ok(SessionKeySpec {
        session_id,
        session_key,
        s2c,
        c2s,
    })
}

/// Lines of a key file: one [`parse_key_spec`] per line; `#` starts a comment.
pub fn parse_key_file(text: &str) -> Result<Vec<SessionKeySpec>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_key_spec(line).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(out)
}

/// An account's NT hash (MD4 of the UTF-16LE password), with the user and
/// domain it is for (either may be absent: then it is tried for any account).
#[derive(Clone, PartialEq, Eq)]
pub struct NtCredential {
    pub domain: Option<String>,
    pub user: Option<String>,
    pub nt_hash: Secret,
}

impl fmt::Debug for NtCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtCredential")
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("nt_hash", &self.nt_hash)
            .finish()
    }
}

/// MD4 of the UTF-16LE password (MS-NLMP 3.3.1 NTOWFv1).
pub fn nt_hash(password: &str) -> Secret {
    use md4::{Digest, Md4};
    let mut h = Md4::new();
    for u in password.encode_utf16() {
        h.update(u.to_le_bytes());
    }
    Secret::new(h.finalize().to_vec())
}

fn split_account(acct: &str) -> (Option<String>, Option<String>) {
    let acct = acct.trim();
    if acct.is_empty() {
        return (None, None);
    }
    match acct.split_once('\\') {
        Some((d, u)) => (
            (!d.is_empty()).then(|| d.to_string()),
            (!u.is_empty()).then(|| u.to_string()),
        ),
        None => match acct.split_once('@') {
            Some((u, d)) => (Some(d.to_string()), Some(u.to_string())),
            None => (None, Some(acct.to_string())),
        },
    }
}

/// Lines `DOMAIN\user:password`, `user:password` or `password` (the password is
/// everything after the first `:`; `#` starts a comment only at line start).
pub fn parse_password_file(text: &str) -> Result<Vec<NtCredential>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (acct, pw) = line.split_once(':').unwrap_or(("", line));
        let (domain, user) = split_account(acct);
        out.push(NtCredential {
            domain,
            user,
            nt_hash: nt_hash(pw),
        });
    }
    if out.is_empty() {
        return Err("no password line".into());
    }
    Ok(out)
}

/// Lines `DOMAIN\user:NTHASH`, `user:NTHASH` or `NTHASH` (32 hex digits).
pub fn parse_hash_file(text: &str) -> Result<Vec<NtCredential>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (acct, h) = line.rsplit_once(':').unwrap_or(("", line));
        let (domain, user) = split_account(acct);
        let nt_hash = match hex(h) {
            Some(b) if b.len() == 16 => Secret::new(b),
            _ => return Err(format!("line {}: the NT hash is not 32 hex digits", n + 1)),
        };
        out.push(NtCredential {
            domain,
            user,
            nt_hash,
        });
    }
    if out.is_empty() {
        return Err("no hash line".into());
    }
    Ok(out)
}

/// Cipher keys of a session learnt from its SESSION_SETUP (shared by every
/// channel of the session, on any connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedKeys {
    pub cipher: u16,
    pub c2s: Secret,
    pub s2c: Secret,
    /// Recovered from an NTLMv2 exchange with a supplied credential or from Kerberos with a keytab.
    pub from_credential: bool,
}

/// Most sessions whose learnt keys a ring remembers.
pub const MAX_LEARNED: usize = 65_536;

/// Every key source of a run; shared (behind an `Arc`) by all connections.
#[derive(Debug, Default)]
pub struct KeyRing {
    sessions: Vec<SessionKeySpec>,
    credentials: Vec<NtCredential>,
    keytab: Option<crate::kerberos::Keytab>,
    learned: Mutex<FastMap<u64, LearnedKeys>>,
}

impl KeyRing {
    pub fn new() -> KeyRing {
        KeyRing::default()
    }
    pub fn add_session(&mut self, spec: SessionKeySpec) {
        self.sessions.push(spec);
    }
    pub fn add_credential(&mut self, c: NtCredential) {
        self.credentials.push(c);
    }
    /// Keys of a keytab (`--keytab`): Kerberos SESSION_SETUPs get their session key.
    pub fn add_keytab(&mut self, kt: crate::kerberos::Keytab) {
        match &mut self.keytab {
            Some(k) => k.entries.extend(kt.entries),
            None => self.keytab = Some(kt),
        }
    }
    pub fn keytab(&self) -> Option<&crate::kerberos::Keytab> {
        self.keytab.as_ref()
    }
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.credentials.is_empty() && self.keytab.is_none()
    }
    /// The same key sources with nothing learnt yet. Each capture file gets
    /// one, so that what a file decrypts never depends on how far the files
    /// read beside it (in parallel) have got; keys learnt in one file reach
    /// another only when the caller hands them over ([`KeyRing::learn`]).
    pub fn fresh(&self) -> KeyRing {
        KeyRing {
            sessions: self.sessions.clone(),
            credentials: self.credentials.clone(),
            keytab: self.keytab.clone(),
            learned: Mutex::default(),
        }
    }
    /// Every session's learnt keys, by session id.
    pub fn learned_all(&self) -> Vec<(u64, LearnedKeys)> {
        let mut v: Vec<(u64, LearnedKeys)> = self
            .learned
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default();
        v.sort_by_key(|x| x.0);
        v
    }
    pub fn credentials(&self) -> &[NtCredential] {
        &self.credentials
    }
    pub fn spec(&self, session_id: u64) -> Option<&SessionKeySpec> {
        self.sessions.iter().find(|s| s.session_id == session_id)
    }
    /// Records keys derived for a session; the first learnt keys of a session
    /// stay (a channel bound later shares the session's cipher keys).
    pub fn learn(&self, session_id: u64, keys: LearnedKeys, replace: bool) {
        if let Ok(mut m) = self.learned.lock() {
            if replace || !m.contains_key(&session_id) {
                if m.len() >= MAX_LEARNED && !m.contains_key(&session_id) {
                    return;
                }
                m.insert(session_id, keys);
            }
        }
    }
    pub fn learned(&self, session_id: u64) -> Option<LearnedKeys> {
        self.learned.lock().ok()?.get(&session_id).cloned()
    }
    pub fn has_learned(&self, session_id: u64) -> bool {
        self.learned
            .lock()
            .map(|m| m.contains_key(&session_id))
            .unwrap_or(false)
    }
}
