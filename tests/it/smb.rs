//! `hvsleuth smb --json` against tshark's figures on the public corpus.

use crate::common::*;

#[test]
fn multichannel_is_one_session_with_four_channels() {
    // SOURCES.md (tshark 4.0.17): NEGOTIATE=8 SESSION_SETUP=120 TREE_CONNECT=2 CREATE=162 CLOSE=136
    // READ=74 WRITE=36 IOCTL=2 QUERY_DIRECTORY=8 QUERY_INFO=174 SET_INFO=128 OPLOCK_BREAK=1;
    // WRITE requests=18 bytes=1366632; FSCTL_QUERY_NETWORK_INTERFACE_INFO x2.
    let f = corpus().join("zeek/smb3_multichannel.pcap");
    let (code, v) = run_json(&["smb", "--json", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let c = &v["commands"];
    for (cmd, n) in [
        ("NEGOTIATE", 8),
        ("SESSION_SETUP", 120),
        ("TREE_CONNECT", 2),
        ("CREATE", 162),
        ("CLOSE", 136),
        ("READ", 74),
        ("WRITE", 36),
        ("IOCTL", 2),
        ("QUERY_DIRECTORY", 8),
        ("QUERY_INFO", 174),
        ("SET_INFO", 128),
        ("OPLOCK_BREAK", 1),
    ] {
        assert_eq!(c[cmd], n, "{cmd}");
    }
    let sessions = v["sessions"].as_array().unwrap();
    let multi: Vec<_> = sessions
        .iter()
        .filter(|s| s["channels"].as_array().unwrap().len() > 1)
        .collect();
    assert_eq!(multi.len(), 1);
    let s = multi[0];
    assert_eq!(s["channels"].as_array().unwrap().len(), 4);
    assert_eq!(s["dialect"], "3.1.1");
    assert_eq!(s["write_bytes"], 1366632);
    // tshark -Y 'smb2.ioctl.function == 0x001401fc' -V: the server lists 172.17.0.189 at 1 Gb/s, RSS.
    let ifs = &v["server_interfaces"];
    let text = ifs.to_string();
    assert!(text.contains("172.17.0.189"), "{text}");
    assert!(text.contains("1000000000"), "{text}");
}

#[test]
fn encrypted_bytes_land_on_the_transform_session() {
    // tshark -r smb3.pcap -Y smb2.header.transform: 44 frames; 44 x 52 + sum(msg_size) = 8362
    // bytes, all with smb2.tf.sesid 0x000048009400003d.
    let f = corpus().join("zeek/smb3.pcap");
    let (_, v) = run_json(&["smb", "--json", f.to_str().unwrap()]);
    let s = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == "0x000048009400003d")
        .expect("the transform header's session");
    assert_eq!(s["encrypted"], true);
    assert_eq!(s["encrypted_bytes"], 8362);
}

/// Every file under `dir` (recursively) with its bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let h = String::from_utf8_lossy(hay).to_ascii_lowercase();
    h.contains(&needle.to_ascii_lowercase())
}

#[test]
fn smb_key_decrypts_a_corpus_capture_and_no_key_is_printed() {
    // KEYS.md: smb311-aes-256-gcm, session 56dc03ab00000000; tshark shows the
    // tree \\172.31.9.163\IPC$ and TREE_CONNECT=2 (tests/expected/smb_encrypted.json).
    let f = corpus().join("wireshark/smb311-aes-256-gcm.pcap.gz");
    let sk = "6a5004adfbdef1abd5879800675324e5";
    let s2c = "46b64f320a0f856b63b3a0dc2c058a67267830a8cbdd44a088fbf1d0308a981f";
    let c2s = "484c30bf3e17e322e0d217764d4584a325ec0495519c3f1547e0f996ab76c4c4";
    let spec = format!("56dc03ab00000000:{sk}");
    let out = run(&["smb", "--json", f.to_str().unwrap(), "--smb-key", &spec]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["commands"]["TREE_CONNECT"], 2);
    let s = &v["sessions"][0];
    assert_eq!(s["decryption"]["decrypted_frames"], 2);
    assert!(
        s["trees"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["share"] == "\\\\172.31.9.163\\IPC$")
    );
    // The derived keys, in a key file, both orders, text output.
    let dir = std::env::temp_dir().join(format!("hvs-crypt-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kf = dir.join("keys.txt");
    std::fs::write(
        &kf,
        format!("# published keys\n56dc03ab00000000:{c2s}:{s2c}\n"),
    )
    .unwrap();
    let text = run(&[
        "smb",
        f.to_str().unwrap(),
        "--smb-keys",
        kf.to_str().unwrap(),
    ]);
    assert_eq!(text.status.code(), Some(0));
    assert!(contains_ci(&text.stdout, "decrypted with a supplied key"));
    for o in [&out.stdout, &out.stderr, &text.stdout, &text.stderr] {
        for k in [sk, s2c, c2s, &s2c[..16], &c2s[..16]] {
            assert!(!contains_ci(o, k), "key material in the output");
        }
    }
    // A malformed key is a usage error that does not echo it.
    let bad = run(&[
        "smb",
        f.to_str().unwrap(),
        "--smb-key",
        &format!("56dc03ab00000000:{}", &sk[..30]),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!contains_ci(&bad.stderr, &sk[..30]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ntlm_password_decrypts_the_lab_samples_and_no_secret_reaches_any_output() {
    let dir = std::env::temp_dir().join(format!("hvs-crypt-pw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pw = "Encrypt-Me-2026";
    let pwf = dir.join("pw.txt");
    std::fs::write(&pwf, format!("LAB\\labuser:{pw}\nhvlab:Lab-Passw0rd!\n")).unwrap();
    let sample = repo().join("samples/encrypted/smb311-aes256gcm-ntlmv2.pcap");
    let (code, v) = run_json(&[
        "smb",
        "--json",
        sample.to_str().unwrap(),
        "--ntlm-password",
        pwf.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    // tests/expected/smb_encrypted.json (tshark -o ntlmssp.nt_password:...).
    assert_eq!(v["commands"]["WRITE"], 3);
    assert_eq!(v["commands"]["CREATE"], 16);
    let s = &v["sessions"][0];
    assert_eq!(s["write_bytes"], 65536);
    assert_eq!(s["read_bytes"], 65536);
    assert!(s["decryption"]["decrypted_frames"].as_u64().unwrap() > 20);
    assert_eq!(s["decryption"]["auth_failures"], 0);
    // The lab's encrypted CSV2 session (SOFS1\csv2, smb encrypt = required) is
    // seen inside like the clear CSV1 one: its file and bytes.
    let (code, v) = run_json(&[
        "smb",
        "--json",
        repo().join("samples/baseline").to_str().unwrap(),
        "--ntlm-password",
        pwf.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let csv2 = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["trees"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["share"] == "\\\\SOFS1\\csv2")
        })
        .unwrap();
    assert!(csv2["decryption"]["decrypted_frames"].as_u64().unwrap() > 0);
    assert!(
        csv2["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "vm2.vhdx")
    );
    // analyze --out: nothing written or printed holds the password or its hash.
    let out_dir = dir.join("report");
    let out = run(&[
        "analyze",
        sample.to_str().unwrap(),
        repo().join("samples/baseline").to_str().unwrap(),
        "--ntlm-password",
        pwf.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nt_hash: String = hvsleuth_parsers::smb::crypto::keys::nt_hash(pw)
        .expose()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut outputs = files_under(&out_dir);
    outputs.push(("stdout".into(), out.stdout.clone()));
    outputs.push(("stderr".into(), out.stderr.clone()));
    assert!(outputs.len() > 5);
    for (p, bytes) in &outputs {
        for secret in [pw, "Lab-Passw0rd!", &nt_hash] {
            assert!(
                !contains_ci(bytes, secret),
                "{} holds a secret",
                p.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
