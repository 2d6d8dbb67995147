//! Kerberos session keys from a keytab (RFC 4120, RFC 4121, MS-KILE): the
//! AP-REQ of a GSS-API/SPNEGO security blob is opened with the service's
//! long-term key (the ticket, key usage 2), which gives the ticket session
//! key; that opens the authenticator (usage 11, the initiator's subkey) and
//! the AP-REP (usage 12, the acceptor's subkey). The GSS key, and so the SMB
//! session key, is the acceptor subkey when the AP-REP carries one, else the
//! initiator subkey, else the ticket session key.
//!
//! Supported encryption types: see [`crypto`] (aes256/aes128-cts-hmac-sha1-96,
//! rc4-hmac). Key bytes stay in [`Secret`]s and never reach a message.

pub mod crypto;
pub mod der;
pub mod fixtures;
pub mod keytab;

pub use keytab::{Keytab, KeytabEntry};

use crate::smb::crypto::keys::Secret;
use crypto::{Enctype, USAGE_AP_REP, USAGE_AP_REQ_AUTHENTICATOR, USAGE_TICKET};
use der::{app, field, integer, octets, string};

/// The Kerberos 5 mechanism OIDs (RFC 1964 and Microsoft's legacy one), DER content.
const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// SPNEGO (1.3.6.1.5.5.2).
const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// GSS-API krb5 token ids (RFC 1964 section 1.1).
pub const TOK_AP_REQ: u16 = 0x0100;
pub const TOK_AP_REP: u16 = 0x0200;
pub const TOK_ERROR: u16 = 0x0300;

/// Most keytab keys tried on one ticket.
const MAX_TRIES: usize = 64;

/// The Kerberos message of a security blob: a raw GSS krb5 token, or one
/// inside a SPNEGO negTokenInit (mechToken) or negTokenResp (responseToken).
/// Returns the token id and the message (AP-REQ, AP-REP or KRB-ERROR DER).
pub fn krb5_token(blob: &[u8]) -> Option<(u16, &[u8])> {
    token(blob, 0)
}

fn token(blob: &[u8], depth: u8) -> Option<(u16, &[u8])> {
    if depth > 3 {
        return None;
    }
    let (t, _) = der::tlv(blob)?;
    match t.tag {
        // InitialContextToken: [APPLICATION 0] { thisMech OID, innerContextToken }
        0x60 => {
            let (oid, inner) = der::tlv(t.value)?;
            if oid.tag != der::OID {
                return None;
            }
            if oid.value == OID_KRB5 || oid.value == OID_MS_KRB5 {
                let id = u16::from_be_bytes([*inner.first()?, *inner.get(1)?]);
                return Some((id, &inner[2..]));
            }
            if oid.value == OID_SPNEGO {
                return token(inner, depth + 1);
            }
            None
        }
        // negTokenInit [0] { mechTypes [0], reqFlags [1], mechToken [2] OCTET STRING }
        0xA0 => {
            let seq = der::expect(t.value, der::SEQUENCE)?;
            let mech = octets(field(seq.value, 2)?)?;
            token(mech, depth + 1)
        }
        // negTokenResp [1] { negState [0], supportedMech [1], responseToken [2] }
        0xA1 => {
            let seq = der::expect(t.value, der::SEQUENCE)?;
            let resp = octets(field(seq.value, 2)?)?;
            token(resp, depth + 1)
        }
        // A bare AP-REQ / AP-REP.
        0x6E => Some((TOK_AP_REQ, blob)),
        0x6F => Some((TOK_AP_REP, blob)),
        _ => None,
    }
}

/// An EncryptedData: (etype, kvno, cipher).
fn encrypted_data(t: der::Tlv<'_>) -> Option<(i32, Option<u32>, &[u8])> {
    if t.tag != der::SEQUENCE {
        return None;
    }
    let etype = i32::try_from(integer(field(t.value, 0)?)?).ok()?;
    let kvno = field(t.value, 1)
        .and_then(integer)
        .and_then(|k| u32::try_from(k).ok());
    let cipher = octets(field(t.value, 2)?)?;
    Some((etype, kvno, cipher))
}

/// An EncryptionKey: (keytype, keyvalue).
fn encryption_key(t: der::Tlv<'_>) -> Option<(i32, Secret)> {
    if t.tag != der::SEQUENCE {
        return None;
    }
    let kt = i32::try_from(integer(field(t.value, 0)?)?).ok()?;
    let kv = octets(field(t.value, 1)?)?;
    if kv.is_empty() || kv.len() > 64 {
        return None;
    }
    Some((kt, Secret::new(kv.to_vec())))
}

/// A PrincipalName as `a/b`.
fn principal_name(t: der::Tlv<'_>) -> Option<String> {
    if t.tag != der::SEQUENCE {
        return None;
    }
    let names = field(t.value, 1)?;
    if names.tag != der::SEQUENCE {
        return None;
    }
    let parts: Vec<String> = der::elements(names.value)
        .take(16)
        .filter_map(string)
        .collect();
    Some(parts.join("/"))
}

/// The key a Kerberos exchange gave, with its encryption type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub etype: i32,
    pub key: Secret,
    /// Where the key came from: "acceptor subkey", "initiator subkey" or "ticket session key".
    pub origin: &'static str,
}

/// An AP-REQ the keytab opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The ticket's service principal (`cifs/host@REALM`).
    pub service: String,
    /// The client principal (`user@REALM`).
    pub client: String,
    /// Encryption type of the ticket.
    pub ticket_etype: i32,
    /// The ticket session key.
    pub ticket_key: (i32, Secret),
    /// The authenticator's subkey, when the authenticator opened and had one.
    pub initiator_subkey: Option<(i32, Secret)>,
    /// The authenticator did not open with the ticket session key.
    pub authenticator_failed: bool,
}

impl Accepted {
    /// The GSS key before any AP-REP: the initiator subkey, else the ticket session key.
    pub fn gss_key(&self) -> SessionKey {
        match &self.initiator_subkey {
            Some((e, k)) => SessionKey {
                etype: *e,
                key: k.clone(),
                origin: "initiator subkey",
            },
            None => SessionKey {
                etype: self.ticket_key.0,
                key: self.ticket_key.1.clone(),
                origin: "ticket session key",
            },
        }
    }
}

/// What a keytab made of an AP-REQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApReqOutcome {
    Accepted(Box<Accepted>),
    /// No keytab key of the ticket's encryption type.
    NoEntry {
        service: String,
        kvno: Option<u32>,
        etype: i32,
    },
    /// The ticket's encryption type is not supported here.
    Unsupported {
        service: String,
        etype: i32,
    },
    /// Keys of the right type were tried; none passed the integrity check.
    IntegrityFailed {
        service: String,
        kvno: Option<u32>,
        etype: i32,
    },
    /// Not a well-formed AP-REQ (or its EncTicketPart).
    Malformed,
}

/// Opens the AP-REQ DER `m` with `keytab`.
pub fn accept_ap_req(m: &[u8], keytab: &Keytab) -> ApReqOutcome {
    accept(m, keytab).unwrap_or(ApReqOutcome::Malformed)
}

fn accept(m: &[u8], keytab: &Keytab) -> Option<ApReqOutcome> {
    let ap = der::expect(m, app(14))?;
    let seq = der::expect(ap.value, der::SEQUENCE)?;
    let ticket = der::expect(
        der::elements(seq.value)
            .find(|t| t.tag == der::ctx(3))?
            .value,
        app(1),
    )?;
    let tseq = der::expect(ticket.value, der::SEQUENCE)?;
    let realm = field(tseq.value, 1).and_then(string).unwrap_or_default();
    let sname = field(tseq.value, 2)
        .and_then(principal_name)
        .unwrap_or_default();
    let service = format!("{sname}@{realm}");
    let (etype, kvno, cipher) = encrypted_data(field(tseq.value, 3)?)?;
    let (auth_etype, _, auth_cipher) = encrypted_data(field(seq.value, 4)?)?;
    let Some(e) = Enctype::of(etype) else {
        return Some(ApReqOutcome::Unsupported { service, etype });
    };
    // Keys of the ticket's type; the named principal and kvno first, then the
    // rest (a service is often known by several names sharing one key).
    let mut keys: Vec<&KeytabEntry> = keytab
        .entries
        .iter()
        .filter(|k| k.enctype == etype)
        .collect();
    if keys.is_empty() {
        return Some(ApReqOutcome::NoEntry {
            service,
            kvno,
            etype,
        });
    }
    let rank = |k: &KeytabEntry| {
        let name = k.components.join("/").eq_ignore_ascii_case(&sname)
            && k.realm.eq_ignore_ascii_case(&realm);
        let v = kvno.is_none_or(|v| v == k.kvno);
        u8::from(!name) * 2 + u8::from(!v)
    };
    keys.sort_by_key(|k| rank(k));
    let plain = keys
        .iter()
        .take(MAX_TRIES)
        .find_map(|k| crypto::decrypt(e, k.key.expose(), USAGE_TICKET, cipher).ok());
    let Some(plain) = plain else {
        return Some(ApReqOutcome::IntegrityFailed {
            service,
            kvno,
            etype,
        });
    };
    // EncTicketPart ::= [APPLICATION 3] SEQUENCE { flags [0], key [1], crealm [2], cname [3], ... }
    let etp = der::expect(&plain, app(3))?;
    let etp = der::expect(etp.value, der::SEQUENCE)?;
    let ticket_key = encryption_key(field(etp.value, 1)?)?;
    let crealm = field(etp.value, 2).and_then(string).unwrap_or_default();
    let cname = field(etp.value, 3)
        .and_then(principal_name)
        .unwrap_or_default();
    let mut out = Accepted {
        service,
        client: format!("{cname}@{crealm}"),
        ticket_etype: etype,
        ticket_key,
        initiator_subkey: None,
        authenticator_failed: false,
    };
    // Authenticator ::= [APPLICATION 2] SEQUENCE { ..., subkey [6] EncryptionKey OPTIONAL, ... }
    let opened = Enctype::of(auth_etype).and_then(|ae| {
        crypto::decrypt(
            ae,
            out.ticket_key.1.expose(),
            USAGE_AP_REQ_AUTHENTICATOR,
            auth_cipher,
        )
        .ok()
    });
    match opened {
        Some(a) => {
            out.initiator_subkey = der::expect(&a, app(2))
                .and_then(|a| der::expect(a.value, der::SEQUENCE))
                .and_then(|s| field(s.value, 6))
                .and_then(encryption_key);
        }
        None => out.authenticator_failed = true,
    }
    Some(ApReqOutcome::Accepted(Box::new(out)))
}

/// What the AP-REP said, opened with the ticket session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApRepOutcome {
    /// The acceptor's subkey (`None`: the AP-REP carried none).
    Opened(Option<(i32, Secret)>),
    /// The enc-part did not open with the ticket session key.
    IntegrityFailed,
    Unsupported(i32),
    Malformed,
}

/// Opens the AP-REP DER `m` with the ticket session key `key`.
pub fn open_ap_rep(m: &[u8], key: &(i32, Secret)) -> ApRepOutcome {
    let Some((etype, cipher)) = der::expect(m, app(15))
        .and_then(|a| der::expect(a.value, der::SEQUENCE))
        .and_then(|s| field(s.value, 2))
        .and_then(encrypted_data)
        .map(|(e, _, c)| (e, c))
    else {
        return ApRepOutcome::Malformed;
    };
    let Some(e) = Enctype::of(etype) else {
        return ApRepOutcome::Unsupported(etype);
    };
    let Ok(p) = crypto::decrypt(e, key.1.expose(), USAGE_AP_REP, cipher) else {
        return ApRepOutcome::IntegrityFailed;
    };
    // EncAPRepPart ::= [APPLICATION 27] SEQUENCE { ctime [0], cusec [1], subkey [2] OPTIONAL, seq [3] }
    match der::expect(&p, app(27)).and_then(|a| der::expect(a.value, der::SEQUENCE)) {
        Some(s) => ApRepOutcome::Opened(field(s.value, 2).and_then(encryption_key)),
        None => ApRepOutcome::Malformed,
    }
}

#[cfg(test)]
mod tests;
