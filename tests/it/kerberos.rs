//! `--keytab`: the Kerberos session of zeek/smb2_krb.pcap gets its key from
//! zeek/smb2_krb.keytab, the signed SESSION_SETUP response verifies with it,
//! and no key (recovered or from the keytab) appears in any output. Expected
//! figures from tshark: tests/expected/smb_krb.json (regen_smb_krb.py).

use crate::common::{corpus, repo, run};
use crate::usage::tempdir;

fn expected() -> serde_json::Value {
    let p = repo().join("tests/expected/smb_krb.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `needle` in `hay`, as bytes, as lower-case hex or upper-case hex.
fn leaks(hay: &[u8], key: &[u8]) -> bool {
    let lower = hex(key);
    let upper = lower.to_ascii_uppercase();
    let has = |n: &[u8]| hay.windows(n.len()).any(|w| w == n);
    // The first 8 bytes are enough to find a key printed whole or cut.
    has(&key[..8]) || has(&lower.as_bytes()[..16]) || has(&upper.as_bytes()[..16])
}

#[test]
fn keytab_recovers_the_kerberos_session_key_and_verifies_its_signature() {
    needs_corpus!();
    let e = expected();
    let pcap = corpus().join("zeek/smb2_krb.pcap");
    let keytab = corpus().join("zeek/smb2_krb.keytab");
    let (p, k) = (pcap.to_str().unwrap(), keytab.to_str().unwrap());
    let sid = e["session_id"].as_str().unwrap();
    let n = e["signed_messages"].as_u64().unwrap();

    let json = run(&["smb", "--json", p, "--keytab", k]);
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let s = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == sid)
        .expect("the Kerberos session");
    assert_eq!(s["key"]["recovered"], true);
    assert_eq!(
        s["key"]["how"],
        "key recovered from Kerberos (aes256-cts-hmac-sha1-96)"
    );
    let detail = s["key"]["detail"].as_str().unwrap();
    assert!(detail.contains(e["service"].as_str().unwrap()), "{detail}");
    assert!(detail.contains(e["client"].as_str().unwrap()), "{detail}");
    assert_eq!(s["signatures"]["verified"], n);
    assert_eq!(s["signatures"]["failed"], 0);
    assert_eq!(s["signatures"]["unchecked"], 0);

    let text = run(&["smb", p, "--keytab", k]);
    assert_eq!(text.status.code(), Some(0));
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains(&format!(
            "key recovered from Kerberos (aes256-cts-hmac-sha1-96), {n} of {n} signature(s) verified"
        )),
        "{t}"
    );

    let dir = tempdir().join("out");
    let an = run(&["analyze", p, "--keytab", k, "--out", dir.to_str().unwrap()]);
    assert!(
        an.status.success(),
        "{}",
        String::from_utf8_lossy(&an.stderr)
    );
    let csv = std::fs::read_to_string(dir.join("smb_sessions.csv")).unwrap();
    assert!(
        csv.contains("key recovered from Kerberos (aes256-cts-hmac-sha1-96)"),
        "{csv}"
    );

    // No key material anywhere: the keytab's keys and every key tshark learnt.
    let kt = hvsleuth_parsers::kerberos::keytab::parse(&std::fs::read(&keytab).unwrap()).unwrap();
    let mut keys: Vec<Vec<u8>> = kt.entries.iter().map(|x| x.key.expose().to_vec()).collect();
    for f in ["ticket_session_key", "initiator_subkey", "acceptor_subkey"] {
        keys.push(unhex(e[f].as_str().unwrap()));
    }
    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("smb --json stdout".into(), json.stdout.clone()),
        ("smb --json stderr".into(), json.stderr.clone()),
        ("smb stdout".into(), text.stdout.clone()),
        ("smb stderr".into(), text.stderr.clone()),
        ("analyze stdout".into(), an.stdout.clone()),
        ("analyze stderr".into(), an.stderr.clone()),
    ];
    let mut out_files = Vec::new();
    files(&dir, &mut out_files);
    assert!(out_files.len() > 3, "{out_files:?}");
    for f in out_files {
        outputs.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    for (what, bytes) in &outputs {
        for key in &keys {
            assert!(!leaks(bytes, key), "key material in {what}");
        }
    }
}

#[test]
fn a_wrong_keytab_says_why_per_session_and_a_bad_one_is_a_usage_error() {
    needs_corpus!();
    let e = expected();
    let pcap = corpus().join("zeek/smb2_krb.pcap");
    let p = pcap.to_str().unwrap();
    let dir = tempdir();
    // The service's principal and kvno with another key.
    let wrong = hvsleuth_parsers::kerberos::fixtures::keytab(&[(
        &["cifs", "phxlabbal821.techlab.susq.com"],
        "DS.SUSQ.COM",
        2,
        18,
        &[0x11; 32],
    )]);
    let kw = dir.join("wrong.keytab");
    std::fs::write(&kw, wrong).unwrap();
    let out = run(&["smb", p, "--keytab", kw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        t.contains(&format!(
            "key not recovered: ticket integrity check failed ({}, kvno 2, aes256-cts-hmac-sha1-96",
            e["service"].as_str().unwrap()
        )),
        "{t}"
    );
    // Only an rc4 key: no entry of the ticket's type.
    let rc4 = hvsleuth_parsers::kerberos::fixtures::keytab(&[(
        &["host", "x"],
        "DS.SUSQ.COM",
        2,
        23,
        &[0x22; 16],
    )]);
    let kr = dir.join("rc4.keytab");
    std::fs::write(&kr, rc4).unwrap();
    let out = run(&["smb", "--json", p, "--keytab", kr.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == e["session_id"])
        .unwrap();
    assert_eq!(s["key"]["recovered"], false);
    assert_eq!(
        s["key"]["how"],
        format!(
            "key not recovered: no keytab entry for {}, kvno 2, aes256-cts-hmac-sha1-96",
            e["service"].as_str().unwrap()
        )
    );
    // Not a keytab: exit 2, naming the option.
    let junk = dir.join("junk.keytab");
    std::fs::write(&junk, b"not a keytab").unwrap();
    let out = run(&["smb", p, "--keytab", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keytab"));
}
