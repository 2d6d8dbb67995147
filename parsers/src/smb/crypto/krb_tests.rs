//! Kerberos session keys in the SMB analyser: the corpus capture with its
//! keytab (SMB 2.1, signed SESSION_SETUP response), wrong keytabs, and a
//! hand-built SMB 3.1.1 AES-256-GCM session per supported enctype whose
//! encrypted TREE_CONNECT decrypts with the recovered key.

use std::sync::Arc;

use super::cipher::{self, Cipher};
use super::conn::{KeyOrigin, SignatureCheck};
use super::kdf;
use super::keys::KeyRing;
use super::sign::Signer;
use crate::flow::Direction;
use crate::kerberos::{self, fixtures};
use crate::smb::crypto::Decryption;
use crate::smb::events::{Body, SmbEvent, SmbEventKind};
use crate::smb::fixtures::{
    H, frame, negotiate_request, negotiate_response, pdu, std_contexts, tree_connect_request,
};
use crate::smb::harness::{Opts, run_with};
use crate::smb::stream::SmbConnState;
use crate::smb::wire::{cmd, flags};

fn keytab_ring(kt: &[u8]) -> Arc<KeyRing> {
    let mut r = KeyRing::new();
    r.add_keytab(kerberos::keytab::parse(kt).unwrap());
    Arc::new(r)
}

fn corpus_keytab() -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../shared/corpus/zeek/smb2_krb.keytab",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const KRB_SESSION: &str = "0x00000000d31a67cf";

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_kerberos_session_key_verifies_the_signed_setup_response() {
    let r = run_with(
        "zeek/smb2_krb.pcap",
        Opts {
            keys: Some(keytab_ring(&corpus_keytab())),
            ..Default::default()
        },
    );
    let rep = r.model.report();
    let s = rep
        .sessions
        .iter()
        .find(|s| s.session_id == KRB_SESSION)
        .unwrap();
    let k = s.key.as_ref().expect("a key origin");
    assert!(k.recovered, "{k:?}");
    assert_eq!(
        k.how,
        "key recovered from Kerberos (aes256-cts-hmac-sha1-96)"
    );
    let d = k.detail.as_deref().unwrap();
    assert!(d.starts_with("acceptor subkey"), "{d}");
    assert!(
        d.contains("cifs/phxlabbal821.techlab.susq.com@DS.SUSQ.COM"),
        "{d}"
    );
    assert!(d.contains("wallior@DS.SUSQ.COM"), "{d}");
    // tshark: one frame with smb2.flags.signature == 1 (frame 14).
    assert_eq!(s.signatures.verified, 1);
    assert_eq!(s.signatures.failed + s.signatures.unchecked, 0);
    assert_eq!(s.dialect.as_deref(), Some("2.1"));
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_wrong_keytabs_say_why() {
    let run = |kt: Vec<u8>| {
        let r = run_with(
            "zeek/smb2_krb.pcap",
            Opts {
                keys: Some(keytab_ring(&kt)),
                ..Default::default()
            },
        );
        let rep = r.model.report();
        rep.sessions
            .iter()
            .find(|s| s.session_id == KRB_SESSION)
            .map(|s| (s.key.clone(), s.signatures))
            .unwrap()
    };
    let (k, sig) = run(fixtures::keytab(&[(
        &["host", "phxlabbal821.ds.susq.com"],
        "DS.SUSQ.COM",
        2,
        18,
        &[7; 32],
    )]));
    let k = k.unwrap();
    assert!(!k.recovered);
    assert!(
        k.how.starts_with("key not recovered: ticket integrity check failed (cifs/phxlabbal821.techlab.susq.com@DS.SUSQ.COM, kvno 2, aes256-cts-hmac-sha1-96"),
        "{}",
        k.how
    );
    assert_eq!(sig.total(), 0);
    let (k, _) = run(fixtures::keytab(&[(
        &["cifs", "phxlabbal821.techlab.susq.com"],
        "DS.SUSQ.COM",
        2,
        17,
        &[7; 16],
    )]));
    assert_eq!(
        k.unwrap().how,
        "key not recovered: no keytab entry for cifs/phxlabbal821.techlab.susq.com@DS.SUSQ.COM, kvno 2, aes256-cts-hmac-sha1-96"
    );
}

const SID: u64 = 0x0000_1234_0000_0077;

/// A SESSION_SETUP request or response PDU carrying `blob`.
fn setup(resp: bool, mid: u64, session: u64, status: u32, blob: &[u8]) -> Vec<u8> {
    let h = H {
        session,
        status,
        ..if resp {
            H::resp(cmd::SESSION_SETUP, mid)
        } else {
            H::req(cmd::SESSION_SETUP, mid)
        }
    };
    let mut b = Vec::new();
    if resp {
        b.extend_from_slice(&9u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&72u16.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&25u16.to_le_bytes());
        b.extend_from_slice(&[0, 1]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&88u16.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u16).to_le_bytes());
        b.extend_from_slice(&[0; 8]);
    }
    b.extend_from_slice(blob);
    pdu(h, &b)
}

struct Lab {
    events: Vec<SmbEvent>,
}

/// NEGOTIATE (3.1.1, AES-256-GCM, AES-GMAC signing), a Kerberos SESSION_SETUP
/// with `etype` and a signed final response, then an encrypted TREE_CONNECT.
/// `service_key` is what the keytab holds.
fn lab(etype: i32, keytab_key: &[u8]) -> Lab {
    let kl = if etype == 18 { 32 } else { 16 };
    let service_key = vec![0x51; kl];
    let ticket_key = vec![0x62; kl];
    let acceptor = vec![0x84; kl];
    let spec = fixtures::ApReqSpec {
        service: &["cifs", "fs1.lab.test"],
        realm: "LAB.TEST",
        kvno: 4,
        etype,
        service_key: &service_key,
        session_etype: etype,
        session_key: &ticket_key,
        subkey: Some(&[0x73; 32][..kl]),
    };
    let ap_req = fixtures::spnego_ap_req(&spec).unwrap();
    let ap_rep = fixtures::spnego_ap_rep(etype, &ticket_key, Some(&acceptor)).unwrap();
    let ctx = std_contexts(&[cipher::AES_256_GCM]);
    let neg_req = pdu(
        H {
            session: 0,
            ..H::req(cmd::NEGOTIATE, 0)
        },
        &negotiate_request(&[0x0311], 0x44, &ctx),
    );
    let resp_ctx = {
        let mut c = ctx.clone();
        // The response picks one cipher and one signing algorithm (AES-GMAC).
        c[1].1 = [1u16, cipher::AES_256_GCM]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        c
    };
    let neg_resp = pdu(
        H {
            session: 0,
            ..H::resp(cmd::NEGOTIATE, 0)
        },
        &negotiate_response(0x0311, 0x44, &resp_ctx),
    );
    let ss_req = setup(false, 1, 0, 0, &ap_req);
    let mut ss_resp = setup(true, 1, SID, 0, &ap_rep);
    ss_resp[16..20].copy_from_slice(&(flags::SERVER_TO_REDIR | flags::SIGNED).to_le_bytes());
    // The preauth hash over NEGOTIATE and the SESSION_SETUP request.
    let h = kdf::preauth_step(&[0; 64], &neg_req);
    let h = kdf::preauth_step(&h, &neg_resp);
    let h = kdf::preauth_step(&h, &ss_req);
    let signer = Signer::new(0x0311, Some(2), &acceptor, Some(&h)).unwrap();
    let sig = signer.sign(&ss_resp).unwrap();
    ss_resp[48..64].copy_from_slice(&sig);
    let (c2s, _) = kdf::cipher_keys(0x0311, cipher::AES_256_GCM, &acceptor, Some(&h)).unwrap();
    let c = Cipher::new(cipher::AES_256_GCM, c2s.expose()).unwrap();
    let tc = pdu(
        H {
            session: SID,
            ..H::req(cmd::TREE_CONNECT, 2)
        },
        &tree_connect_request(0, "\\\\fs1\\vms"),
    );
    let enc = cipher::transform_message(&c, SID, [3; 16], &tc);

    let kt = fixtures::keytab(&[(&["cifs", "fs1.lab.test"], "LAB.TEST", 4, etype, keytab_key)]);
    let mut st = SmbConnState::with_keys(Some(&keytab_ring(&kt)));
    let mut events = Vec::new();
    st.data(Direction::AtoB, 0, &frame(&neg_req), &mut events);
    st.data(Direction::BtoA, 0, &frame(&neg_resp), &mut events);
    st.data(Direction::AtoB, 0, &frame(&ss_req), &mut events);
    st.data(Direction::BtoA, 0, &frame(&ss_resp), &mut events);
    st.data(Direction::AtoB, 0, &frame(&enc), &mut events);
    let _ = service_key;
    Lab { events }
}

fn origin(ev: &[SmbEvent]) -> Option<KeyOrigin> {
    ev.iter().find_map(|e| match &e.kind {
        SmbEventKind::SessionKey { origin, .. } => Some(origin.clone()),
        _ => None,
    })
}

fn checks(ev: &[SmbEvent]) -> Vec<SignatureCheck> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            SmbEventKind::Signature { check, .. } => Some(*check),
            _ => None,
        })
        .collect()
}

fn decryptions(ev: &[SmbEvent]) -> Vec<Decryption> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            SmbEventKind::Encrypted { decryption, .. } => Some(*decryption),
            _ => None,
        })
        .collect()
}

#[test]
fn smb311_kerberos_sessions_decrypt_for_every_supported_enctype() {
    for (etype, name) in [
        (17, "aes128-cts-hmac-sha1-96"),
        (18, "aes256-cts-hmac-sha1-96"),
        (23, "rc4-hmac"),
    ] {
        let kl = if etype == 18 { 32 } else { 16 };
        let l = lab(etype, &vec![0x51; kl]);
        let o = origin(&l.events).unwrap();
        assert!(o.recovered, "{o:?}");
        assert_eq!(o.how, format!("key recovered from Kerberos ({name})"));
        assert_eq!(checks(&l.events), vec![SignatureCheck::Verified], "{name}");
        assert_eq!(
            decryptions(&l.events),
            vec![Decryption::Decrypted],
            "{name}"
        );
        assert!(l.events.iter().any(|e| matches!(
            &e.kind,
            SmbEventKind::Pdu(p) if matches!(&p.body, Body::TreeConnectRequest { path, .. } if path == "\\\\fs1\\vms")
        )));
        // The wrong service key: integrity failure, nothing decrypted, no signature checked.
        let l = lab(etype, &vec![0x99; kl]);
        let o = origin(&l.events).unwrap();
        assert!(!o.recovered);
        assert!(o.how.contains("ticket integrity check failed"), "{}", o.how);
        assert!(checks(&l.events).is_empty());
        assert_ne!(decryptions(&l.events), vec![Decryption::Decrypted]);
    }
}

#[test]
fn signing_known_answers_per_dialect() {
    // Each algorithm: a signature it made verifies, a flipped byte does not.
    let mut m = pdu(
        H::resp(cmd::TREE_CONNECT, 9),
        &[16, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    m[16..20].copy_from_slice(&(flags::SERVER_TO_REDIR | flags::SIGNED).to_le_bytes());
    let h = [0x5Au8; 64];
    for (d, alg) in [
        (0x0210, None),
        (0x0300, None),
        (0x0302, None),
        (0x0311, Some(0)),
        (0x0311, Some(1)),
        (0x0311, Some(2)),
    ] {
        let s = Signer::new(d, alg, &[0x42; 16], Some(&h)).unwrap();
        let mut x = m.clone();
        let sig = s.sign(&x).unwrap();
        x[48..64].copy_from_slice(&sig);
        assert!(s.verify(&x), "{d:#x} {alg:?}");
        x[70] ^= 1;
        assert!(!s.verify(&x), "{d:#x} {alg:?}");
        assert!(!s.verify(&x[..40]));
    }
    assert!(Signer::new(0x0311, Some(7), &[1; 16], Some(&h)).is_none());
    assert!(Signer::new(0x0311, None, &[1; 16], None).is_none());
    assert!(Signer::new(0x0202, None, &[], None).is_none());
}

/// The signed SESSION_SETUP responses of the captures with known keys verify:
/// AES-128-CMAC (Wireshark's 3.0 and 3.1.1 captures, session keys from
/// KEYS.md) and AES-GMAC (the Samba lab captures, NTLMv2 password). Counts
/// from tshark (`smb2.flags.signature == 1`), tests/expected/smb_krb.json.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn signed_setup_responses_verify_with_supplied_and_recovered_keys() {
    let e: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../tests/expected/smb_krb.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let keys_md = std::fs::read_to_string(format!(
        "{}/../../shared/corpus/KEYS.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for (rel, want) in e["signed_messages_by_capture"].as_object().unwrap() {
        let mut ring = KeyRing::new();
        if rel.starts_with("samples/") {
            for c in super::keys::parse_password_file("LAB\\labuser:Encrypt-Me-2026\n").unwrap() {
                ring.add_credential(c);
            }
        } else {
            let row = keys_md
                .lines()
                .find(|l| l.starts_with(&format!("| {rel} |")))
                .unwrap();
            let f: Vec<&str> = row.split('|').map(str::trim).collect();
            ring.add_session(super::keys::parse_key_spec(&format!("{}:{}", f[2], f[3])).unwrap());
        }
        let r = run_with(
            rel,
            Opts {
                keys: Some(Arc::new(ring)),
                ..Default::default()
            },
        );
        let rep = r.model.report();
        let v: u64 = rep.sessions.iter().map(|s| s.signatures.verified).sum();
        let bad: u64 = rep
            .sessions
            .iter()
            .map(|s| s.signatures.failed + s.signatures.unchecked)
            .sum();
        assert_eq!(v, want.as_u64().unwrap(), "{rel}");
        assert_eq!(bad, 0, "{rel}");
    }
}
