//! Decryption against tshark: the five encrypted Wireshark captures with their
//! published keys (`../shared/corpus/KEYS.md`), whole and cut after
//! SESSION_SETUP; figures in `tests/expected/smb_encrypted.json` (made by
//! `tests/expected/regen_smb_encrypted.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::cipher::{self, Cipher};
use super::kdf;
use super::keys::{self, KeyRing};
use super::ntlm;
use crate::smb::events::{Body, SmbEventKind};
use crate::smb::harness::{Opts, Run, run_with};

fn expected() -> serde_json::Value {
    let p = format!(
        "{}/../tests/expected/smb_encrypted.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// (file, session id, session key, s2c, c2s) rows of KEYS.md.
fn keys_md() -> Vec<[String; 5]> {
    let p = format!("{}/../../shared/corpus/KEYS.md", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| wireshark/"))
        .map(|l| {
            let c: Vec<String> = l.split('|').map(|x| x.trim().to_string()).collect();
            [
                c[1].clone(),
                c[2].clone(),
                c[3].clone(),
                c[4].clone(),
                c[5].clone(),
            ]
        })
        .collect()
}

fn ring(specs: &[&str]) -> Arc<KeyRing> {
    let mut r = KeyRing::new();
    for s in specs {
        r.add_session(keys::parse_key_spec(s).unwrap());
    }
    Arc::new(r)
}

/// Our figures in the shape of the expected JSON.
fn figures(r: &Run) -> serde_json::Value {
    let rep = r.model.report();
    let mut trees = BTreeSet::new();
    let mut files = BTreeSet::new();
    let (mut write, mut read) = (0u64, 0u64);
    for e in &r.events {
        if let SmbEventKind::Pdu(p) = &e.kind {
            match &p.body {
                Body::TreeConnectRequest { path, .. } => {
                    trees.insert(path.clone());
                }
                // tshark shows no field for the empty name (the share root).
                Body::CreateRequest { name, .. } if !name.is_empty() => {
                    files.insert(name.clone());
                }
                Body::WriteRequest { length, .. } => write += u64::from(*length),
                Body::ReadResponse { data_length, .. } => read += u64::from(*data_length),
                _ => {}
            }
        }
    }
    let commands: BTreeMap<String, u64> =
        rep.commands.into_iter().filter(|(_, n)| *n > 0).collect();
    serde_json::json!({
        "commands": commands,
        "trees": trees,
        "files": files,
        "write_bytes": write,
        "read_bytes": read,
    })
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_captures_decrypt_like_tshark() {
    let exp = expected();
    let rows = keys_md();
    assert_eq!(rows.len(), 5);
    for [file, sid, sk, s2c, c2s] in rows {
        let e = &exp["captures"][&file];
        // Session key: derived per dialect (3.0 labels, 3.1.1 preauth hash).
        let r = run_with(
            &file,
            Opts {
                keys: Some(ring(&[&format!("{sid}:{sk}")])),
                ..Default::default()
            },
        );
        assert_eq!(figures(&r), e["session_key"], "{file} with the session key");
        let rep = r.model.report();
        let s = &rep
            .sessions
            .iter()
            .find(|s| s.decryption.decrypted_frames > 0)
            .unwrap();
        assert_eq!(s.decryption.decrypted_frames, 2, "{file}");
        assert_eq!(s.decryption.auth_failures, 0, "{file}");
        // Without keys: what tshark sees without keys.
        let r = run_with(&file, Opts::default());
        assert_eq!(figures(&r), e["no_key"], "{file} without keys");
        // Cut after SESSION_SETUP, the two derived keys in either order.
        for (variant, a, b) in [("cut_s2c_c2s", &s2c, &c2s), ("cut_c2s_s2c", &c2s, &s2c)] {
            let r = run_with(
                &file,
                Opts {
                    keys: Some(ring(&[&format!("{sid}:{a}:{b}")])),
                    from_frame: 7,
                    ..Default::default()
                },
            );
            let got = figures(&r);
            if file.contains("gcm") {
                assert_eq!(got, e[variant], "{file} {variant}");
            } else {
                // tshark 4.0 assumes GCM when no NEGOTIATE was seen and decrypts
                // nothing; we try both modes and get the whole-capture figures.
                assert_eq!(e[variant]["commands"], serde_json::json!({}));
                assert_eq!(
                    got["commands"],
                    serde_json::json!({"TREE_CONNECT": 2}),
                    "{file}"
                );
                assert_eq!(got["trees"], e["session_key"]["trees"], "{file}");
            }
        }
    }
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn wrong_key_is_counted_not_decoded() {
    let file = "wireshark/smb311-aes-128-gcm.pcap.gz";
    let r = run_with(
        file,
        Opts {
            keys: Some(ring(&["3900000000400000:00112233445566778899aabbccddeeff"])),
            ..Default::default()
        },
    );
    let rep = r.model.report();
    assert_eq!(rep.commands.get("TREE_CONNECT").copied().unwrap_or(0), 0);
    let s = rep.sessions.iter().find(|s| s.encrypted_bytes > 0).unwrap();
    assert_eq!(s.decryption.auth_failures, 2);
    assert_eq!(s.decryption.decrypted_frames, 0);
    // A key for another session: nothing tried.
    let r = run_with(
        file,
        Opts {
            keys: Some(ring(&["0100000000000000:e79161ded03bda1449b2c8e58f753953"])),
            ..Default::default()
        },
    );
    let rep = r.model.report();
    assert!(rep.sessions.iter().all(|s| !s.decryption.attempted()));
}

#[test]
fn key_specs_parse_in_tshark_byte_order_and_never_echo_keys() {
    let k = keys::parse_key_spec("3900000000400000:e79161ded03bda1449b2c8e58f753953").unwrap();
    assert_eq!(k.session_id, 0x0000_4000_0000_0039);
    assert!(k.session_key.is_some() && k.s2c.is_none());
    let k = keys::parse_key_spec(
        "0x400000000039,\"\",b02f5de25e0562075c3dc329fa2aa396,7201623a31754e6581864581209dd3d2",
    )
    .unwrap();
    assert_eq!(k.session_id, 0x0000_4000_0000_0039);
    assert!(k.session_key.is_none() && k.s2c.is_some() && k.c2s.is_some());
    let dbg = format!("{k:?}");
    assert!(!dbg.contains("b02f5de2") && !dbg.contains("176") && dbg.contains("redacted"));
    let e = keys::parse_key_spec("3900000000400000:e79161ded03bda1449b2c8e58f7539zz").unwrap_err();
    assert!(!e.contains("e79161"), "{e}");
    let e = keys::parse_key_spec("3900000000400000:e79161ded03bda14").unwrap_err();
    assert!(!e.contains("e79161"), "{e}");
    assert!(keys::parse_key_spec("39000000004000:e79161ded03bda1449b2c8e58f753953").is_err());
    let f = keys::parse_key_file(
        "# comment\n\n3900000000400000:e79161ded03bda1449b2c8e58f753953 # x\n",
    )
    .unwrap();
    assert_eq!(f.len(), 1);
    let e = keys::parse_key_file("a\n").unwrap_err();
    assert!(e.starts_with("line 1"), "{e}");
}

#[test]
fn kdf_smb30_known_answer() {
    // smb300-aes-128-ccm: the session key derives the published S2C/C2S keys.
    let sk = hex("9a9ea16a0cdbeb6064772318073f172f");
    let (c2s, s2c) = kdf::cipher_keys(0x0300, 1, &sk, None).unwrap();
    assert_eq!(s2c.expose(), hex("8be6cc53d4beba29387e69aef035d497"));
    assert_eq!(c2s.expose(), hex("bff985870e81784d533fdc09497b8eab"));
    assert!(kdf::cipher_keys(0x0210, 1, &sk, None).is_none());
    assert!(kdf::cipher_keys(0x0311, 2, &sk, None).is_none());
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn ciphers_round_trip_and_peek() {
    for (id, klen) in [
        (cipher::AES_128_CCM, 16),
        (cipher::AES_128_GCM, 16),
        (cipher::AES_256_CCM, 32),
        (cipher::AES_256_GCM, 32),
    ] {
        let key: Vec<u8> = (0..klen as u8).collect();
        let c = Cipher::new(id, &key).unwrap();
        assert!(Cipher::new(id, &key[..klen - 1]).is_none());
        let nonce = [7u8; 16];
        let aad = [1u8; 32];
        let mut buf = b"\xfeSMB@\x00 the rest of an SMB2 header".to_vec();
        let orig = buf.clone();
        let tag = c.seal(&nonce, &aad, &mut buf);
        assert_ne!(buf, orig);
        assert_eq!(&c.peek(&nonce, &buf)[..4], b"\xfeSMB", "{id}");
        let mut b2 = buf.clone();
        assert!(c.open(&nonce, &aad, &mut b2, &tag));
        assert_eq!(b2, orig);
        let mut b3 = buf.clone();
        b3[10] ^= 1;
        assert!(!c.open(&nonce, &aad, &mut b3, &tag));
        let mut t2 = tag;
        t2[0] ^= 1;
        let mut b4 = buf.clone();
        assert!(!c.open(&nonce, &aad, &mut b4, &t2));
    }
}

#[test]
fn ntlmv2_ms_nlmp_4_2_4_known_answer() {
    // MS-NLMP 4.2.4: User "User", domain "Domain", password "Password",
    // server challenge 0123456789abcdef, key exchange.
    let nt = keys::nt_hash("Password");
    assert_eq!(nt.expose(), hex("a4f49c406510bdcab6824ee7c30fd852"));
    let creds = keys::parse_password_file("Domain\\User:Password\n").unwrap();
    assert_eq!(creds[0].nt_hash, nt);
    assert_eq!(creds[0].user.as_deref(), Some("User"));
    let h = keys::parse_hash_file("user:a4f49c406510bdcab6824ee7c30fd852\n").unwrap();
    assert_eq!(h[0].nt_hash, nt);
    let dbg = format!("{:?}", h[0]);
    assert!(!dbg.contains("a4f49c40"), "{dbg}");
    // The AUTHENTICATE message of 4.2.4.3 (NTLMv2 response with the 4.2.4.1.3 temp).
    let challenge: [u8; 8] = hex("0123456789abcdef").try_into().unwrap();
    let temp = hex(concat!(
        "0101000000000000",
        "0000000000000000",
        "aaaaaaaaaaaaaaaa",
        "00000000",
        "02000c0044006f006d00610069006e00",
        "01000c0053006500720076006500720000000000",
        "00000000"
    ));
    let key_nt = {
        use hmac::{Hmac, KeyInit, Mac};
        let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(nt.expose()).unwrap();
        m.update(
            &"USERDomain"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>(),
        );
        m.finalize().into_bytes().to_vec()
    };
    assert_eq!(key_nt, hex("0c868a403bfd7a93a3001ef22ef02e3f"));
    let proof = {
        use hmac::{Hmac, KeyInit, Mac};
        let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(&key_nt).unwrap();
        m.update(&challenge);
        m.update(&temp);
        m.finalize().into_bytes().to_vec()
    };
    assert_eq!(proof, hex("68cd0ab851e51c96aabc927bebef6a1c"));
    let enc_key = hex("c5dad2544fc9799094ce1ce90bc9d03e");
    let msg = authenticate(
        "Domain",
        "User",
        &[proof.clone(), temp.clone()].concat(),
        &enc_key,
        0xe2888215,
    );
    match ntlm::session_key(&msg, &challenge, &creds) {
        ntlm::Outcome::Key(k) => assert_eq!(k.expose(), vec![0x55; 16]),
        o => panic!("{o:?}"),
    }
    let wrong = keys::parse_password_file("Domain\\User:Passw0rd\n").unwrap();
    assert_eq!(
        ntlm::session_key(&msg, &challenge, &wrong),
        ntlm::Outcome::WrongPassword
    );
    let other = keys::parse_password_file("Domain\\Someone:Password\n").unwrap();
    assert_eq!(
        ntlm::session_key(&msg, &challenge, &other),
        ntlm::Outcome::NoCredential
    );
    // Truncated messages never panic.
    for n in 0..msg.len() {
        let _ = ntlm::session_key(&msg[..n], &challenge, &creds);
    }
}

/// An NTLMSSP AUTHENTICATE message with the given fields (Unicode).
fn authenticate(domain: &str, user: &str, nt: &[u8], enc_key: &[u8], flags: u32) -> Vec<u8> {
    let d: Vec<u8> = domain.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let u: Vec<u8> = user.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut payload = Vec::new();
    let mut fields = Vec::new();
    let base = 64u32;
    for part in [&[][..], nt, &d, &u, &[][..], enc_key] {
        let off = base + payload.len() as u32;
        fields.extend_from_slice(&(part.len() as u16).to_le_bytes());
        fields.extend_from_slice(&(part.len() as u16).to_le_bytes());
        fields.extend_from_slice(&off.to_le_bytes());
        payload.extend_from_slice(part);
    }
    m.extend_from_slice(&fields);
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&payload);
    m
}

fn password_ring(text: &str) -> Arc<KeyRing> {
    let mut r = KeyRing::new();
    for c in keys::parse_password_file(text).unwrap() {
        r.add_credential(c);
    }
    Arc::new(r)
}

#[test]
fn lab_captures_decrypt_from_the_password_like_tshark() {
    let exp = expected();
    for file in [
        "samples/encrypted/smb311-aes128gcm-ntlmv2.pcap",
        "samples/encrypted/smb311-aes256gcm-ntlmv2.pcap",
    ] {
        let e = &exp["captures"][file];
        let r = run_with(
            file,
            Opts {
                keys: Some(password_ring("LAB\\labuser:Encrypt-Me-2026\n")),
                ..Default::default()
            },
        );
        assert_eq!(figures(&r), e["password"], "{file} with the password");
        let rep = r.model.report();
        let s = rep.sessions.iter().find(|s| s.encrypted_bytes > 0).unwrap();
        assert!(
            s.decryption.decrypted_frames > 20,
            "{file}: {:?}",
            s.decryption
        );
        assert_eq!(s.decryption.auth_failures, 0);
        assert!(s.trees.iter().any(|t| t.share.ends_with("\\csv1")));
        assert!(
            s.files.iter().any(|f| f.name == "Hyper-V\\vm-disk.vhdx"
                && f.write_bytes == e["password"]["write_bytes"])
        );
        // The NT hash works the same; a password for any account too.
        let mut h = KeyRing::new();
        for c in keys::parse_hash_file(&format!(
            "labuser:{}\n",
            keys::nt_hash("Encrypt-Me-2026")
                .expose()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
        .unwrap()
        {
            h.add_credential(c);
        }
        let r = run_with(
            file,
            Opts {
                keys: Some(Arc::new(h)),
                ..Default::default()
            },
        );
        assert_eq!(figures(&r), e["password"], "{file} with the NT hash");
        // A wrong password decrypts nothing and is counted.
        let r = run_with(
            file,
            Opts {
                keys: Some(password_ring("labuser:wrong\n")),
                ..Default::default()
            },
        );
        assert_eq!(figures(&r), e["no_key"], "{file} with a wrong password");
        let r = run_with(file, Opts::default());
        assert_eq!(figures(&r), e["no_key"], "{file} without keys");
    }
}

mod hostile {
    use super::*;
    use crate::flow::Direction;
    use crate::smb::crypto::Decryption;
    use crate::smb::events::SmbEvent;
    use crate::smb::stream::SmbConnState;

    const SID: u64 = 0x0000_4000_0000_0039;
    const C2S: &str = "7201623a31754e6581864581209dd3d2";
    const S2C: &str = "b02f5de25e0562075c3dc329fa2aa396";

    /// An SMB2 ECHO request of session SID.
    fn echo(mid: u64) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\xfeSMB");
        h[4] = 64;
        h[12] = 0x0D;
        h[24..32].copy_from_slice(&mid.to_le_bytes());
        h[40..48].copy_from_slice(&SID.to_le_bytes());
        h.extend_from_slice(&[4, 0, 0, 0]);
        h
    }

    fn framed(msg: &[u8]) -> Vec<u8> {
        let l = (msg.len() as u32).to_be_bytes();
        let mut v = vec![0, l[1], l[2], l[3]];
        v.extend_from_slice(msg);
        v
    }

    fn c2s() -> Cipher {
        Cipher::new(cipher::AES_128_GCM, &hex(C2S)).unwrap()
    }

    fn state() -> SmbConnState {
        SmbConnState::with_keys(Some(&ring(&[&format!("3900000000400000:{S2C}:{C2S}")])))
    }

    fn outcomes(ev: &[SmbEvent]) -> Vec<Decryption> {
        ev.iter()
            .filter_map(|e| match e.kind {
                SmbEventKind::Encrypted { decryption, .. } => Some(decryption),
                _ => None,
            })
            .collect()
    }

    fn echoes(ev: &[SmbEvent]) -> usize {
        ev.iter()
            .filter(|e| matches!(&e.kind, SmbEventKind::Pdu(p) if p.header.command == 0x0D))
            .count()
    }

    #[test]
    fn decrypts_counts_replays_and_survives_damage() {
        let mut st = state();
        let mut ev: Vec<SmbEvent> = Vec::new();
        let good = cipher::transform_message(&c2s(), SID, [1; 16], &echo(1));
        // Byte by byte, then whole: the same nonce twice is a replay.
        for b in framed(&good) {
            st.data(Direction::AtoB, 0, &[b], &mut ev);
        }
        st.data(Direction::AtoB, 0, &framed(&good), &mut ev);
        assert_eq!(
            outcomes(&ev),
            vec![Decryption::Decrypted, Decryption::Replayed]
        );
        assert_eq!(echoes(&ev), 2);
        // Absurd sizes: OriginalMessageSize beyond the message, and zero.
        for size in [u32::MAX, 1 << 24, 0] {
            let mut m = cipher::transform_message(&c2s(), SID, [2; 16], &echo(2));
            m[36..40].copy_from_slice(&size.to_le_bytes());
            st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        }
        // Tampered ciphertext, tampered tag, a wrong key.
        let mut m = cipher::transform_message(&c2s(), SID, [3; 16], &echo(3));
        let n = m.len();
        m[n - 1] ^= 0x80;
        st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        let mut m = cipher::transform_message(&c2s(), SID, [4; 16], &echo(4));
        m[5] ^= 1;
        st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        let wrong = Cipher::new(cipher::AES_128_GCM, &[9; 16]).unwrap();
        let m = cipher::transform_message(&wrong, SID, [5; 16], &echo(5));
        st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        // Still in sync: a good message decrypts after all of it.
        let m = cipher::transform_message(&c2s(), SID, [6; 16], &echo(6));
        st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        // Truncated (the capture lost the end of the message).
        let m = cipher::transform_message(&c2s(), SID, [7; 16], &echo(7));
        let f = framed(&m);
        st.data(Direction::AtoB, 0, &f[..f.len() - 10], &mut ev);
        st.gap(Direction::AtoB, 10, 0, &mut ev);
        let m = cipher::transform_message(&c2s(), SID, [8; 16], &echo(8));
        st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        use Decryption::*;
        assert_eq!(
            outcomes(&ev),
            vec![
                Decrypted, Replayed, BadSize, BadSize, BadSize, AuthFailed, AuthFailed, AuthFailed,
                Decrypted, Truncated, Decrypted
            ]
        );
        assert_eq!(echoes(&ev), 4);
        let cs = st.crypto_stats().unwrap();
        assert_eq!(
            (
                cs.decrypted,
                cs.replayed,
                cs.auth_failed,
                cs.bad_size,
                cs.truncated
            ),
            (3, 1, 3, 3, 1)
        );
        assert_eq!(st.stats().resyncs, 0);
    }

    #[test]
    fn a_session_whose_keys_never_fit_stops_being_buffered() {
        let mut st = state();
        let mut ev: Vec<SmbEvent> = Vec::new();
        let wrong = Cipher::new(cipher::AES_128_GCM, &[9; 16]).unwrap();
        let big = {
            let mut p = echo(1);
            p.resize(1 << 20, 0);
            p
        };
        for i in 0..80u8 {
            let m = cipher::transform_message(&wrong, SID, [i; 16], &big);
            st.data(Direction::AtoB, 0, &framed(&m), &mut ev);
        }
        let o = outcomes(&ev);
        assert_eq!(
            o.iter().filter(|d| **d == Decryption::AuthFailed).count(),
            64
        );
        assert_eq!(o.iter().filter(|d| **d == Decryption::NoKey).count(), 16);
        assert!(st.max_buffer_capacity() <= crate::smb::stream::MAX_BUFFER);
    }
}

/// A fresh ring keeps the key sources and learns on its own: keys learnt in
/// one (one capture file) are not in another until handed over.
#[test]
fn a_fresh_ring_keeps_sources_and_learns_apart() {
    let mut base = KeyRing::new();
    base.add_session(
        keys::parse_key_spec("3900000000400000:00112233445566778899aabbccddeeff").unwrap(),
    );
    base.add_credential(keys::parse_password_file("u:pw").unwrap().remove(0));
    let (a, b) = (base.fresh(), base.fresh());
    assert!(a.spec(0x0000_4000_0000_0039).is_some());
    assert_eq!(a.credentials().len(), 1);
    let k = keys::LearnedKeys {
        cipher: 2,
        c2s: keys::Secret::new(vec![1; 16]),
        s2c: keys::Secret::new(vec![2; 16]),
        from_credential: true,
    };
    a.learn(7, k.clone(), false);
    a.learn(3, k.clone(), false);
    assert!(a.has_learned(7) && !b.has_learned(7) && !base.has_learned(7));
    let all = a.learned_all();
    assert_eq!(all.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 7]);
    b.learn(all[1].0, all[1].1.clone(), false);
    assert_eq!(b.learned(7), Some(k));
}
