//! Builders of SPNEGO-wrapped AP-REQ / AP-REP tokens with chosen keys (unit
//! tests, SMB fixtures and the `kerberos` fuzz target). DER encoding per
//! RFC 4120's ASN.1, only the fields the reader needs plus the usual ones.

use super::crypto::{self, Enctype};

/// One DER TLV.
pub fn enc(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else if n < 0x10000 {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    } else {
        v.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn int(n: i64) -> Vec<u8> {
    let b = n.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xFF && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    enc(0x02, &b[i..])
}

fn seq(fields: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut c = Vec::new();
    for (n, v) in fields {
        c.extend(enc(0xA0 | n, v));
    }
    enc(0x30, &c)
}

fn gstr(s: &str) -> Vec<u8> {
    enc(0x1B, s.as_bytes())
}

fn principal(name_type: i64, parts: &[&str]) -> Vec<u8> {
    let mut names = Vec::new();
    for p in parts {
        names.extend(gstr(p));
    }
    seq(&[(0, int(name_type)), (1, enc(0x30, &names))])
}

fn key(etype: i32, k: &[u8]) -> Vec<u8> {
    seq(&[(0, int(i64::from(etype))), (1, enc(0x04, k))])
}

fn encrypted(etype: i32, kvno: Option<u32>, cipher: Vec<u8>) -> Vec<u8> {
    let mut f = vec![(0, int(i64::from(etype)))];
    if let Some(k) = kvno {
        f.push((1, int(i64::from(k))));
    }
    f.push((2, enc(0x04, &cipher)));
    seq(&f)
}

const KRB5_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
];

fn gss_krb5(tok_id: u16, msg: &[u8]) -> Vec<u8> {
    let mut inner = KRB5_OID.to_vec();
    inner.extend_from_slice(&tok_id.to_be_bytes());
    inner.extend_from_slice(msg);
    enc(0x60, &inner)
}

/// What to put in an AP-REQ.
pub struct ApReqSpec<'a> {
    pub service: &'a [&'a str],
    pub realm: &'a str,
    pub kvno: u32,
    /// Ticket encryption type and the service's long-term key.
    pub etype: i32,
    pub service_key: &'a [u8],
    /// Ticket session key (and its type: also the authenticator's).
    pub session_etype: i32,
    pub session_key: &'a [u8],
    pub subkey: Option<&'a [u8]>,
}

/// A SPNEGO negTokenInit carrying the krb5 AP-REQ of `s`.
pub fn spnego_ap_req(s: &ApReqSpec<'_>) -> Option<Vec<u8>> {
    let e = Enctype::of(s.etype)?;
    let se = Enctype::of(s.session_etype)?;
    let enc_ticket_part = enc(
        0x63,
        &seq(&[
            (0, enc(0x03, &[0, 0x40, 0x81, 0, 0])),
            (1, key(s.session_etype, s.session_key)),
            (2, gstr(s.realm)),
            (3, principal(1, &["user"])),
            (4, seq(&[(0, int(1)), (1, enc(0x04, b""))])),
            (5, enc(0x18, b"20170329141952Z")),
            (7, enc(0x18, b"20170330001952Z")),
        ]),
    );
    let conf = [0x5Au8; 16];
    let ticket_cipher = crypto::encrypt(
        e,
        s.service_key,
        crypto::USAGE_TICKET,
        &conf,
        &enc_ticket_part,
    )?;
    let ticket = enc(
        0x61,
        &seq(&[
            (0, int(5)),
            (1, gstr(s.realm)),
            (2, principal(2, s.service)),
            (3, encrypted(s.etype, Some(s.kvno), ticket_cipher)),
        ]),
    );
    let mut af = vec![
        (0, int(5)),
        (1, gstr(s.realm)),
        (2, principal(1, &["user"])),
        (4, int(22526)),
        (5, enc(0x18, b"20170329141952Z")),
    ];
    if let Some(sk) = s.subkey {
        af.push((6, key(s.session_etype, sk)));
    }
    af.push((7, int(901016573)));
    let authenticator = enc(0x62, &seq(&af));
    let auth_cipher = crypto::encrypt(
        se,
        s.session_key,
        crypto::USAGE_AP_REQ_AUTHENTICATOR,
        &[0xA5; 16],
        &authenticator,
    )?;
    let ap_req = enc(
        0x6E,
        &seq(&[
            (0, int(5)),
            (1, int(14)),
            (2, enc(0x03, &[0, 0x20, 0, 0, 0])),
            (3, ticket),
            (4, encrypted(s.session_etype, None, auth_cipher)),
        ]),
    );
    let mech_types = enc(0x30, KRB5_OID);
    let init = seq(&[(0, mech_types), (2, enc(0x04, &gss_krb5(0x0100, &ap_req)))]);
    let mut spnego = vec![0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    spnego.extend(enc(0xA0, &init));
    Some(enc(0x60, &spnego))
}

/// A SPNEGO negTokenResp (accept-completed) carrying an AP-REP sealed with
/// the ticket session key, with `subkey` as the acceptor subkey.
pub fn spnego_ap_rep(
    session_etype: i32,
    session_key: &[u8],
    subkey: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let se = Enctype::of(session_etype)?;
    let mut f = vec![(0, enc(0x18, b"20170329141952Z")), (1, int(22526))];
    if let Some(sk) = subkey {
        f.push((2, key(session_etype, sk)));
    }
    f.push((3, int(901016573)));
    let part = enc(0x7B, &seq(&f));
    let cipher = crypto::encrypt(se, session_key, crypto::USAGE_AP_REP, &[0x3C; 16], &part)?;
    let ap_rep = enc(
        0x6F,
        &seq(&[
            (0, int(5)),
            (1, int(15)),
            (2, encrypted(session_etype, None, cipher)),
        ]),
    );
    let resp = seq(&[
        (0, enc(0x0A, &[0])),
        (1, KRB5_OID.to_vec()),
        (2, enc(0x04, &gss_krb5(0x0200, &ap_rep))),
    ]);
    Some(enc(0xA1, &resp))
}

/// One keytab entry: (principal parts, realm, kvno, etype, key).
pub type Entry<'a> = (&'a [&'a str], &'a str, u32, i32, &'a [u8]);

/// A keytab (format 0x502) with one entry per [`Entry`].
pub fn keytab(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut v = vec![0x05, 0x02];
    for (parts, realm, kvno, etype, k) in entries {
        let mut e = Vec::new();
        e.extend_from_slice(&(parts.len() as u16).to_be_bytes());
        let counted = |e: &mut Vec<u8>, b: &[u8]| {
            e.extend_from_slice(&(b.len() as u16).to_be_bytes());
            e.extend_from_slice(b);
        };
        counted(&mut e, realm.as_bytes());
        for p in *parts {
            counted(&mut e, p.as_bytes());
        }
        e.extend_from_slice(&1u32.to_be_bytes());
        e.extend_from_slice(&0x58bf_3d16u32.to_be_bytes());
        e.push(*kvno as u8);
        e.extend_from_slice(&(*etype as u16).to_be_bytes());
        counted(&mut e, k);
        e.extend_from_slice(&kvno.to_be_bytes());
        v.extend_from_slice(&(e.len() as u32).to_be_bytes());
        v.extend(e);
    }
    v
}
