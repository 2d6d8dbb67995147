use proptest::prelude::*;

use super::crypto::{self, Enctype, cts_decrypt, cts_encrypt, nfold};
use super::fixtures::{ApReqSpec, keytab, spnego_ap_rep, spnego_ap_req};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn folded(input: &[u8], bits: usize) -> Vec<u8> {
    let mut out = vec![0u8; bits / 8];
    nfold(input, &mut out);
    out
}

#[test]
fn nfold_rfc3961_a1_vectors() {
    for (input, bits, want) in [
        (&b"012345"[..], 64, "be072631276b1955"),
        (b"password", 56, "78a07b6caf85fa"),
        (b"Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"),
        (
            b"password",
            168,
            "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e",
        ),
        (
            b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
            192,
            "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
        ),
        (b"Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"),
        (b"ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
        (b"kerberos", 64, "6b65726265726f73"),
        (b"kerberos", 128, "6b65726265726f737b9b5b2b93132b93"),
        (
            b"kerberos",
            168,
            "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4",
        ),
        (
            b"kerberos",
            256,
            "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4",
        ),
    ] {
        assert_eq!(folded(input, bits), hex(want), "{bits}-fold({input:?})");
    }
}

/// RFC 3962 appendix B: AES-128 CBC with ciphertext stealing, IV zero.
#[test]
fn cts_rfc3962_vectors() {
    let key = hex("636869636b656e207465726979616b69");
    // The RFC's input bytes, 49 20 77 6f ... 70 2e.
    let full = b"I would like the General Gau's Chicken, please, and wonton soup.".to_vec();
    for (n, want) in [
        (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
        (
            31,
            "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
        ),
        (
            32,
            "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
        ),
        (
            47,
            "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
        ),
        (
            48,
            "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8",
        ),
        (
            64,
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
        ),
    ] {
        let ct = cts_encrypt(&key, &full[..n]).unwrap();
        assert_eq!(ct, hex(want), "encrypt {n} bytes");
        assert_eq!(
            cts_decrypt(&key, &ct).unwrap(),
            full[..n],
            "decrypt {n} bytes"
        );
    }
    assert!(cts_encrypt(&key, &full[..15]).is_none());
    assert!(cts_decrypt(&key, &[0; 3]).is_none());
    assert!(cts_decrypt(&[0; 5], &[0; 32]).is_none());
}

#[test]
fn one_block_cts_is_plain_aes() {
    let key = hex("636869636b656e207465726979616b69");
    let p = [7u8; 16];
    assert_eq!(
        cts_decrypt(&key, &cts_encrypt(&key, &p).unwrap()).unwrap(),
        p
    );
}

/// DK is AES of the n-folded constant, chained to the key length (RFC 3961
/// 5.1), here over the RFC 3962 appendix B string-to-key outputs.
#[test]
fn dk_is_aes_of_the_folded_constant() {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let k = hex("42263c6e89f4fc28b8df68ee09799f15");
    let c = [0, 0, 0, 2, 0xAA];
    let mut b = [0u8; 16];
    nfold(&c, &mut b);
    let aes = aes::Aes128::new_from_slice(&k).unwrap();
    let mut blk = aes::Block::from(b);
    aes.encrypt_block(&mut blk);
    assert_eq!(crypto::dk(&k, &c).unwrap(), blk.to_vec());
    let k256 = hex("fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161");
    let d = crypto::dk(&k256, &c).unwrap();
    assert_eq!(d.len(), 32);
    let aes = aes::Aes256::new_from_slice(&k256).unwrap();
    let mut b1 = aes::Block::from(b);
    aes.encrypt_block(&mut b1);
    let mut b2 = b1;
    aes.encrypt_block(&mut b2);
    assert_eq!(&d[..16], &b1[..]);
    assert_eq!(&d[16..], &b2[..]);
}

#[test]
fn enctypes_round_trip_and_detect_tampering() {
    for (e, k) in [
        (Enctype::Aes128, vec![0x11u8; 16]),
        (Enctype::Aes256, vec![0x22u8; 32]),
        (Enctype::Rc4Hmac, vec![0x33u8; 16]),
    ] {
        for len in [0usize, 1, 15, 16, 17, 100] {
            let p: Vec<u8> = (0..len as u8).collect();
            let c = crypto::encrypt(e, &k, 2, &[9; 16], &p).unwrap();
            assert_eq!(crypto::decrypt(e, &k, 2, &c).unwrap(), p, "{e:?} {len}");
            // Another usage, another key: fails.
            assert_eq!(
                crypto::decrypt(e, &k, 11, &c),
                Err(crypto::DecryptError::Integrity)
            );
            let mut bad = c.clone();
            let n = bad.len();
            bad[n / 2] ^= 1;
            assert_eq!(
                crypto::decrypt(e, &k, 2, &bad),
                Err(crypto::DecryptError::Integrity)
            );
            assert_eq!(
                crypto::decrypt(e, &k[..8], 2, &c),
                Err(crypto::DecryptError::BadKey)
            );
        }
        assert_eq!(
            crypto::decrypt(e, &k, 2, &[0; 10]),
            Err(crypto::DecryptError::TooShort)
        );
    }
    assert_eq!(Enctype::of(3), None);
    assert_eq!(Enctype::of(16), None);
    assert_eq!(Enctype::of(24), None);
    assert_eq!(crypto::enctype_name(18), "aes256-cts-hmac-sha1-96");
}

/// RC4-HMAC per RFC 4757 with a key usage that the RFC translates (3 -> 8):
/// encrypting for usage 8 and decrypting for usage 3 agree.
#[test]
fn rc4_usage_translation() {
    let k = [0x44u8; 16];
    let c = crypto::encrypt(Enctype::Rc4Hmac, &k, 8, &[1; 16], b"abc").unwrap();
    assert_eq!(
        crypto::decrypt(Enctype::Rc4Hmac, &k, 3, &c).unwrap(),
        b"abc"
    );
}

const SERVICE_KEY: [u8; 32] = [0x51; 32];
const TICKET_KEY: [u8; 32] = [0x62; 32];
const INIT_SUB: [u8; 32] = [0x73; 32];
const ACC_SUB: [u8; 32] = [0x84; 32];

fn spec(etype: i32, kl: usize) -> ApReqSpec<'static> {
    ApReqSpec {
        service: &["cifs", "fs1.lab.test"],
        realm: "LAB.TEST",
        kvno: 3,
        etype,
        service_key: &SERVICE_KEY[..kl],
        session_etype: etype,
        session_key: &TICKET_KEY[..kl],
        subkey: Some(&INIT_SUB[..kl]),
    }
}

#[test]
fn ap_req_and_ap_rep_open_for_every_supported_enctype() {
    for (etype, kl) in [(17, 16), (18, 32), (23, 16)] {
        let blob = spnego_ap_req(&spec(etype, kl)).unwrap();
        let (id, m) = krb5_token(&blob).unwrap();
        assert_eq!(id, TOK_AP_REQ);
        // The principal differs from the ticket's: the key is still tried.
        let kt = keytab::parse(&keytab(&[(
            &["host", "fs1"],
            "LAB.TEST",
            3,
            etype,
            &SERVICE_KEY[..kl],
        )]))
        .unwrap();
        let ApReqOutcome::Accepted(a) = accept_ap_req(m, &kt) else {
            panic!("etype {etype} not accepted");
        };
        assert_eq!(a.service, "cifs/fs1.lab.test@LAB.TEST");
        assert_eq!(a.client, "user@LAB.TEST");
        assert_eq!(a.ticket_key.1.expose(), &TICKET_KEY[..kl]);
        assert_eq!(a.gss_key().key.expose(), &INIT_SUB[..kl]);
        assert!(!a.authenticator_failed);
        let rep = spnego_ap_rep(etype, &TICKET_KEY[..kl], Some(&ACC_SUB[..kl])).unwrap();
        let (id, m) = krb5_token(&rep).unwrap();
        assert_eq!(id, TOK_AP_REP);
        match open_ap_rep(m, &a.ticket_key) {
            ApRepOutcome::Opened(Some((e, k))) => {
                assert_eq!(e, etype);
                assert_eq!(k.expose(), &ACC_SUB[..kl]);
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(
            open_ap_rep(m, &(etype, Secret::new(vec![0; kl]))),
            ApRepOutcome::IntegrityFailed
        );
    }
}

#[test]
fn wrong_or_missing_keytab_keys_are_named() {
    let blob = spnego_ap_req(&spec(18, 32)).unwrap();
    let (_, m) = krb5_token(&blob).unwrap();
    let other = keytab::parse(&keytab(&[(
        &["cifs", "fs1.lab.test"],
        "LAB.TEST",
        3,
        17,
        &[1; 16],
    )]))
    .unwrap();
    assert_eq!(
        accept_ap_req(m, &other),
        ApReqOutcome::NoEntry {
            service: "cifs/fs1.lab.test@LAB.TEST".into(),
            kvno: Some(3),
            etype: 18
        }
    );
    let wrong = keytab::parse(&keytab(&[(
        &["cifs", "fs1.lab.test"],
        "LAB.TEST",
        3,
        18,
        &[1; 32],
    )]))
    .unwrap();
    assert!(matches!(
        accept_ap_req(m, &wrong),
        ApReqOutcome::IntegrityFailed { etype: 18, .. }
    ));
    let des = ApReqSpec {
        etype: 3,
        ..spec(18, 32)
    };
    assert!(
        spnego_ap_req(&des).is_none(),
        "fixtures cannot build DES either"
    );
}

#[test]
fn keytab_rejects_bad_headers_and_lengths_without_allocating() {
    assert!(keytab::parse(b"").is_err());
    assert!(keytab::parse(&[5, 1, 0, 0]).is_err());
    // A size far beyond the file.
    assert!(keytab::parse(&[5, 2, 0x7F, 0xFF, 0xFF, 0xFF, 0, 1]).is_err());
    // A hole (negative size) then nothing: no keys.
    assert!(keytab::parse(&[5, 2, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0]).is_err());
    let good = keytab(&[
        (&["a"], "R", 2, 18, &[1; 32]),
        (&["b", "c"], "R", 300, 23, &[2; 16]),
    ]);
    let kt = keytab::parse(&good).unwrap();
    assert_eq!(kt.entries.len(), 2);
    assert_eq!(kt.entries[1].principal(), "b/c@R");
    assert_eq!(kt.entries[1].kvno, 300);
    assert!(
        !format!("{:?}", kt).contains("0202"),
        "Debug shows no key bytes"
    );
    // Every truncation is an error or fewer keys, never a panic.
    for n in 0..good.len() {
        let _ = keytab::parse(&good[..n]);
    }
}

#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
#[test]
fn corpus_keytab_parses() {
    let p = format!(
        "{}/../../shared/corpus/zeek/smb2_krb.keytab",
        env!("CARGO_MANIFEST_DIR")
    );
    let kt = keytab::parse(&std::fs::read(p).unwrap()).unwrap();
    assert_eq!(kt.entries.len(), 1);
    let e = &kt.entries[0];
    assert_eq!(e.principal(), "host/phxlabbal821.ds.susq.com@DS.SUSQ.COM");
    assert_eq!((e.kvno, e.enctype, e.key.len()), (2, 18, 32));
}

#[test]
fn der_reader_bounds() {
    assert!(der::tlv(&[0x30, 0x85, 0, 0, 0, 0, 1]).is_none());
    assert!(der::tlv(&[0x30, 0x80]).is_none());
    assert!(der::tlv(&[0x30, 0x82, 0xFF, 0xFF, 0]).is_none());
    assert!(der::tlv(&[0x1F, 0x01, 0]).is_none());
    let (t, rest) = der::tlv(&[0x02, 0x01, 0xFF, 9]).unwrap();
    assert_eq!(der::integer(t), Some(-1));
    assert_eq!(rest, &[9]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cts_round_trips(key in proptest::collection::vec(any::<u8>(), 16..=16), p in proptest::collection::vec(any::<u8>(), 16..200)) {
        let c = cts_encrypt(&key, &p).unwrap();
        prop_assert_eq!(c.len(), p.len());
        prop_assert_eq!(cts_decrypt(&key, &c).unwrap(), p);
    }

    #[test]
    fn hostile_blobs_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let kt = keytab::parse(&keytab(&[(&["a"], "R", 2, 18, &[1; 32])])).unwrap();
        if let Some((_, m)) = krb5_token(&b) {
            let _ = accept_ap_req(m, &kt);
            let _ = open_ap_rep(m, &(18, Secret::new(vec![1; 32])));
        }
        let _ = accept_ap_req(&b, &kt);
        let _ = keytab::parse(&b);
    }

    #[test]
    fn damaged_ap_req_never_panics(at in 0usize..2000, x in 1u8..=255, cut in 0usize..2000) {
        let blob = spnego_ap_req(&spec(18, 32)).unwrap();
        let mut b = blob.clone();
        let i = at % b.len();
        b[i] ^= x;
        b.truncate(b.len() - cut % b.len());
        let kt = keytab::parse(&keytab(&[(&["cifs", "fs1.lab.test"], "LAB.TEST", 3, 18, &SERVICE_KEY)])).unwrap();
        if let Some((_, m)) = krb5_token(&b) {
            let _ = accept_ap_req(m, &kt);
        }
    }
}
