//! The lab scenario samples/encrypted/csv-cluster/ (samples/README.md): two
//! cluster nodes exchanging heartbeats on a management and a cluster network;
//! node2 writes to node1's CSV-like share `Volume1` over the cluster network
//! and copies a file to `C$` over the management network, once with SMB 3.1.1
//! encryption (AES-128-GCM, NTLMv2, known password) and once in clear.
//! tshark's figures per TCP connection are in tests/expected/smb_encrypted.json
//! (tests/expected/regen_smb_encrypted.py, `-o ntlmssp.nt_password:...`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::*;

const PASSWORD_LINE: &str = "LAB\\labuser:Encrypt-Me-2026\n";
/// Bytes an SMB2 TRANSFORM_HEADER adds to each encrypted message (MS-SMB2 2.2.41).
const TRANSFORM_HEADER: i64 = 52;
/// A pure TCP ACK on these links: Ethernet 14 + IPv4 20 + TCP 20 + timestamps 12.
const ACK_FRAME: i64 = 66;
/// An SMB2 interim response in clear: NBSS 4 + header 64 + ERROR body 9.
const INTERIM_RESPONSE: i64 = 77;
/// A heartbeat frame of the emulation (samples/lab/labtraffic.py).
const HEARTBEAT_FRAME: i64 = 134;

fn capture(mode: &str) -> PathBuf {
    repo().join(format!("samples/encrypted/csv-cluster/{mode}/node2.pcapng"))
}

fn expected(mode: &str) -> serde_json::Value {
    crate::smb::smb_encrypted_expected()["captures"]
        [format!("samples/encrypted/csv-cluster/{mode}/node2.pcapng")]
    .clone()
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hvs-csvcl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One CSV record (RFC 4180 quoting, as the groups table writes it).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Group {
    role: String,
    reason: String,
    bytes: i64,
    packets: i64,
}

/// groups.csv keyed by (interface, proto, client, server, port).
type Groups = BTreeMap<(String, String, String, String, String), Group>;

fn groups(dir: &Path) -> Groups {
    let text = std::fs::read_to_string(dir.join("groups.csv")).unwrap();
    let mut lines = text.lines();
    let head = csv_fields(lines.next().unwrap());
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (i_if, i_pr, i_cl, i_sv, i_po) = (
        col("interface"),
        col("proto"),
        col("client"),
        col("server"),
        col("port"),
    );
    let (i_ro, i_re, i_by, i_pk) = (col("role"), col("reason"), col("bytes"), col("packets"));
    let mut out = Groups::new();
    for l in lines {
        let f = csv_fields(l);
        let key = (
            f[i_if].clone(),
            f[i_pr].clone(),
            f[i_cl].clone(),
            f[i_sv].clone(),
            f[i_po].clone(),
        );
        let g = Group {
            role: f[i_ro].clone(),
            reason: f[i_re].clone(),
            bytes: f[i_by].parse().unwrap(),
            packets: f[i_pk].parse().unwrap(),
        };
        assert!(out.insert(key, g).is_none(), "one row per group: {l}");
    }
    out
}

/// `analyze --out` on one capture of the scenario; the groups and the summary.
fn analyze(mode: &str, password: Option<&str>, tag: &str) -> (Groups, serde_json::Value) {
    let dir = scratch_dir(tag);
    let report = dir.join("report");
    let pwf = dir.join("pw.txt");
    let cap = capture(mode);
    let mut args = vec![
        "analyze",
        "--no-progress",
        "--json",
        cap.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ];
    if let Some(p) = password {
        std::fs::write(&pwf, p).unwrap();
        args.extend(["--ntlm-password", pwf.to_str().unwrap()]);
    }
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = groups(&report);
    let _ = std::fs::remove_dir_all(&dir);
    (g, summary)
}

/// The SMB group of a TCP connection named as tshark's figures name it
/// ("client -> server:port").
fn smb_group<'a>(g: &'a Groups, conn: &str) -> &'a Group {
    let (client, rest) = conn.split_once(" -> ").unwrap();
    let (server, port) = rest.rsplit_once(':').unwrap();
    g.iter()
        .find(|(k, _)| k.1 == "tcp" && k.2 == client && k.3 == server && k.4 == port)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no group for {conn}: {g:?}"))
}

const CSV_CONN: &str = "198.51.100.12 -> 198.51.100.11:445";
const ADMIN_CONN: &str = "192.0.2.12 -> 192.0.2.11:445";

fn hvs010(summary: &serde_json::Value) -> Vec<&serde_json::Value> {
    summary["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "HVS010")
        .collect()
}

/// Every SMB group carries exactly tshark's frames and wire bytes for its connection.
fn bytes_are_tsharks(g: &Groups, e: &serde_json::Value, what: &str) {
    let conns = e["connections"].as_object().unwrap();
    assert_eq!(conns.len(), 2, "{what}: two SMB connections");
    for (conn, c) in conns {
        let grp = smb_group(g, conn);
        assert_eq!(
            grp.bytes,
            c["wire_bytes"].as_i64().unwrap(),
            "{what} {conn}"
        );
        assert_eq!(grp.packets, c["frames"].as_i64().unwrap(), "{what} {conn}");
    }
}

#[test]
fn decrypted_csv_cluster_is_attributed_by_its_shares_like_the_clear_run() {
    let (clear, clear_sum) = analyze("clear", None, "clear");
    let (dec, dec_sum) = analyze("encrypted", Some(PASSWORD_LINE), "dec");
    let (ec, ee) = (expected("clear"), expected("encrypted"));
    bytes_are_tsharks(&clear, &ec, "clear");
    bytes_are_tsharks(&dec, &ee, "decrypted");
    // The same groups (interface, service, endpoints), each with the same
    // role for the same reason.
    assert_eq!(
        clear.keys().collect::<Vec<_>>(),
        dec.keys().collect::<Vec<_>>()
    );
    for (k, c) in &clear {
        let d = &dec[k];
        assert_eq!((&d.role, &d.reason), (&c.role, &c.reason), "{k:?}");
        if k.1 == "tcp" && k.4 == "445" {
            // Every frame here is 66 bytes of headers plus its TCP payload
            // (the two SYNs 8 more), so the wire bytes differ by 66 per frame
            // (ACKs the kernels' timing gave each run) plus the payload
            // difference: 52 per transform header, 77 (4 + 64 + 9) per interim
            // STATUS_PENDING response the server's timing added (tshark counts
            // both), and the negotiate contexts encryption adds (a few bytes).
            let conn = format!("{} -> {}:{}", k.2, k.3, k.4);
            let (ce, cc) = (&ee["connections"][&conn], &ec["connections"][&conn]);
            let tf = ce["transforms"].as_i64().unwrap();
            assert!(tf > 10, "{conn}: {tf} transform headers");
            assert_eq!(cc["transforms"], 0);
            let interim = ce["password"]["interim_responses"].as_i64().unwrap()
                - cc["clear"]["interim_responses"].as_i64().unwrap();
            let extra = d.bytes
                - c.bytes
                - ACK_FRAME * (d.packets - c.packets)
                - TRANSFORM_HEADER * tf
                - INTERIM_RESPONSE * interim;
            assert!(
                (0..=32).contains(&extra),
                "{conn}: decrypted {} B / {} frames, clear {} B / {} frames, {tf} transforms, \
                 {interim} more interim responses: {extra} B unexplained",
                d.bytes,
                d.packets,
                c.bytes,
                c.packets
            );
        } else {
            // Heartbeats, ARP, ICMP: the same traffic, give or take two heartbeats
            // each way (a sender starting late on a loaded machine misses its first).
            assert!(
                (d.bytes - c.bytes).abs() <= 4 * HEARTBEAT_FRAME,
                "{k:?}: {} vs {}",
                d.bytes,
                c.bytes
            );
        }
    }
    // The administrative copy is management, the CSV write redirected IO, in both runs.
    for g in [&clear, &dec] {
        let a = smb_group(g, ADMIN_CONN);
        assert_eq!(a.role, "management");
        assert!(a.reason.contains("c$"), "{}", a.reason);
        let c = smb_group(g, CSV_CONN);
        assert_eq!(c.role, "redirected-io");
    }
    // Per interface, the roles that carry bytes are the same, and so are the
    // byte shares within the transform-header overhead.
    let roles = |s: &serde_json::Value| -> BTreeMap<String, Vec<String>> {
        s["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let mut r: Vec<String> = i["roles"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(_, v)| v["bytes"].as_u64().unwrap() > 0)
                    .map(|(k, _)| k.clone())
                    .collect();
                r.sort();
                (i["interface"].as_str().unwrap().to_string(), r)
            })
            .collect()
    };
    assert_eq!(roles(&clear_sum), roles(&dec_sum));
    // (ARP and ICMP errors, role other, come and go with the kernels' timing.)
    let has = |i: &str, want: &[&str]| {
        let r = &roles(&dec_sum)[i];
        let busy: Vec<&str> = r
            .iter()
            .map(String::as_str)
            .filter(|x| *x != "other")
            .collect();
        assert_eq!(busy, want, "{i}: {r:?}");
    };
    has("mgmt", &["cluster", "management"]);
    has("cluster", &["cluster", "redirected-io"]);
    // HVS010 names the one node-to-node encrypted session left (the CSV
    // write), decrypted; the clear run has none.
    assert!(hvs010(&clear_sum).is_empty());
    let f = hvs010(&dec_sum);
    assert_eq!(f.len(), 1);
    let title = f[0]["title"].as_str().unwrap();
    assert!(
        title.starts_with("1 encrypted SMB session(s)")
            && title.contains("decrypted with a supplied key"),
        "{title}"
    );
    let ev = f[0]["evidence"].to_string();
    assert!(
        ev.contains("198.51.100.11:445") && ev.contains("Volume1"),
        "{ev}"
    );
    assert!(!ev.contains("192.0.2.11:445"), "{ev}");
}

#[test]
fn encrypted_csv_cluster_without_keys_is_attributed_by_endpoints() {
    let ee = expected("encrypted");
    // No key, and a wrong password: the same opaque result, roles by endpoints.
    for (pw, tag) in [(None, "nokey"), (Some("LAB\\labuser:wrong\n"), "wrongpw")] {
        let (g, sum) = analyze("encrypted", pw, tag);
        bytes_are_tsharks(&g, &ee, tag);
        for conn in [CSV_CONN, ADMIN_CONN] {
            let s = smb_group(&g, conn);
            assert_eq!(s.role, "redirected-io", "{tag} {conn}");
            assert_eq!(
                s.reason, "SMB 3 between cluster nodes: CSV redirected IO",
                "{tag} {conn}"
            );
        }
        let f = hvs010(&sum);
        assert_eq!(f.len(), 1, "{tag}");
        let title = f[0]["title"].as_str().unwrap();
        assert!(
            title.starts_with("2 encrypted SMB session(s)") && title.contains("by session only"),
            "{tag}: {title}"
        );
        // A wrong password fails the NTLMv2 proof in SESSION_SETUP: no key is
        // derived, so nothing is tried and the sessions stay opaque.
        let summary = f[0]["summary"].as_str().unwrap();
        assert!(
            summary.contains("2 session(s)") && summary.contains("could not be decrypted"),
            "{summary}"
        );
        for i in sum["interfaces"].as_array().unwrap() {
            assert_eq!(i["roles"]["management"]["bytes"], 0, "{tag}: {i}");
        }
    }
}

/// `smb --json` per session against tshark per TCP connection: trees, file
/// names, write bytes; decrypted messages = transform headers.
#[test]
fn csv_cluster_sessions_match_tshark_with_and_without_the_password() {
    let dir = scratch_dir("smb");
    let pwf = dir.join("pw.txt");
    std::fs::write(&pwf, PASSWORD_LINE).unwrap();
    for (mode, variant, pw) in [
        ("encrypted", "password", true),
        ("encrypted", "no_key", false),
        ("clear", "clear", false),
    ] {
        let e = expected(mode);
        let cap = capture(mode);
        let mut args = vec!["smb", "--json", cap.to_str().unwrap()];
        if pw {
            args.extend(["--ntlm-password", pwf.to_str().unwrap()]);
        }
        let (code, v) = run_json(&args);
        assert_eq!(code, 0, "{mode} {variant}");
        assert_eq!(v["commands"], e[variant]["commands"], "{mode} {variant}");
        let sessions = v["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2, "{mode} {variant}");
        for (conn, c) in e["connections"].as_object().unwrap() {
            let (client, server) = conn.split_once(" -> ").unwrap();
            let s = sessions
                .iter()
                .find(|s| {
                    s["channels"].as_array().unwrap().iter().any(|ch| {
                        ch["server"] == server
                            && ch["client"]
                                .as_str()
                                .unwrap()
                                .starts_with(&format!("{client}:"))
                    })
                })
                .unwrap_or_else(|| panic!("{mode}: no session on {conn}"));
            let want = &c[variant];
            let trees: Vec<&str> = s["trees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["share"].as_str().unwrap())
                .filter(|t| !t.is_empty())
                .collect();
            let mut trees = trees;
            trees.sort();
            let want_trees: Vec<&str> = want["trees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(trees, want_trees, "{mode} {variant} {conn}");
            let mut files: Vec<&str> = s["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .filter(|f| !f.is_empty())
                .collect();
            files.sort();
            let want_files: Vec<&str> = want["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(files, want_files, "{mode} {variant} {conn}");
            assert_eq!(
                s["write_bytes"], want["write_bytes"],
                "{mode} {variant} {conn}"
            );
            let decrypted = &s["decryption"]["decrypted_frames"];
            match variant {
                "password" => {
                    assert_eq!(decrypted, &c["transforms"], "{conn}");
                    assert_eq!(s["decryption"]["auth_failures"], 0, "{conn}");
                }
                _ => assert_eq!(decrypted.as_u64().unwrap_or(0), 0, "{mode} {conn}"),
            }
            assert_eq!(s["encrypted"], mode == "encrypted", "{mode} {conn}");
        }
    }
    // tshark's own view of the scenario: the admin session touches only IPC$
    // and C$, the CSV one Volume1, the same in clear and decrypted.
    let (ec, ee) = (expected("clear"), expected("encrypted"));
    for conn in [CSV_CONN, ADMIN_CONN] {
        assert_eq!(
            ee["connections"][conn]["password"]["trees"],
            ec["connections"][conn]["clear"]["trees"]
        );
    }
    assert_eq!(
        ee["connections"][ADMIN_CONN]["password"]["trees"],
        serde_json::json!(["\\\\NODE1\\C$", "\\\\NODE1\\IPC$"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
