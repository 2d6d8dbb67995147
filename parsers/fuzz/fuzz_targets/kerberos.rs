#![no_main]
//! Kerberos from a keytab: keytab files, SPNEGO/GSS tokens, AP-REQ and AP-REP
//! DER, and an SMB connection doing a Kerberos SESSION_SETUP. The input's first
//! byte picks the mode: 0 mod 4, the rest is a keytab file; 1, a security blob
//! opened with a fixed keytab (AP-REQ and AP-REP paths); 2, a valid AP-REQ
//! (aes256, aes128 or rc4 by the second byte) with the rest XORed over it;
//! 3, raw SMB stream bytes on a connection holding a keytab. Must never panic.
use std::sync::Arc;

use hvsleuth_parsers::Direction;
use hvsleuth_parsers::kerberos::{self, fixtures, keytab};
use hvsleuth_parsers::smb::SmbConnState;
use hvsleuth_parsers::smb::crypto::KeyRing;
use hvsleuth_parsers::smb::crypto::keys::Secret;
use hvsleuth_parsers::smb::wire::MAX_MESSAGE_LEN;
use libfuzzer_sys::fuzz_target;

const SERVICE_KEY: [u8; 32] = [0x51; 32];

fn keytab_bytes(etype: i32) -> Vec<u8> {
    let kl = if etype == 18 { 32 } else { 16 };
    fixtures::keytab(&[(&["cifs", "fs1.lab.test"], "LAB.TEST", 4, etype, &SERVICE_KEY[..kl])])
}

fn open(blob: &[u8], kt: &kerberos::Keytab) {
    if let Some((_, m)) = kerberos::krb5_token(blob) {
        if let kerberos::ApReqOutcome::Accepted(a) = kerberos::accept_ap_req(m, kt) {
            let _ = kerberos::open_ap_rep(m, &a.ticket_key);
        }
        let _ = kerberos::open_ap_rep(m, &(18, Secret::new(vec![0x62; 32])));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => {
            let _ = keytab::parse(rest);
        }
        1 => {
            let kt = keytab::parse(&keytab_bytes(18)).unwrap();
            open(rest, &kt);
        }
        2 => {
            let Some((&pick, xor)) = rest.split_first() else { return };
            let etype = [17, 18, 23][usize::from(pick % 3)];
            let kl = if etype == 18 { 32 } else { 16 };
            let spec = fixtures::ApReqSpec {
                service: &["cifs", "fs1.lab.test"],
                realm: "LAB.TEST",
                kvno: 4,
                etype,
                service_key: &SERVICE_KEY[..kl],
                session_etype: etype,
                session_key: &[0x62; 32][..kl],
                subkey: Some(&[0x73; 32][..kl]),
            };
            let mut blob = fixtures::spnego_ap_req(&spec).unwrap();
            for (b, x) in blob.iter_mut().zip(xor) {
                *b ^= x;
            }
            let cut = xor.len().saturating_sub(blob.len()).min(blob.len());
            blob.truncate(blob.len() - cut);
            let kt = keytab::parse(&keytab_bytes(etype)).unwrap();
            open(&blob, &kt);
        }
        _ => {
            let mut ring = KeyRing::new();
            ring.add_keytab(keytab::parse(&keytab_bytes(18)).unwrap());
            let ring = Arc::new(ring);
            let mut st = SmbConnState::with_keys(Some(&ring));
            let mut ev = Vec::new();
            let dir = if mode & 4 == 0 { Direction::AtoB } else { Direction::BtoA };
            st.data(dir, 0, rest, &mut ev);
            st.data(dir.reverse(), 0, rest, &mut ev);
            assert!(st.max_buffer_capacity() <= MAX_MESSAGE_LEN as usize + 64);
        }
    }
});
