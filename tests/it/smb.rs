//! `hvsleuth smb --json` against tshark's figures on the public corpus.

use crate::common::*;

#[test]
fn multichannel_is_one_session_with_four_channels() {
    needs_corpus!();
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
    needs_corpus!();
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

// ---------------------------------------------------------------------------
// Snaplen-cut captures (issue 11 item 6), byte counts from what the TCP stream
// carried (issue 13 item 3), one channel per connection across captures
// (issue 14 item 8).

/// A scratch file path unique to this call.
fn scratch(name: &str) -> std::path::PathBuf {
    // Unique per call too: tests run in parallel and cut the same samples.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("hvsleuth-it-{}-{n}-{name}", std::process::id()))
}

/// `editcap -s n` in Rust: every packet's captured length becomes at most `n`,
/// its wire length stays. Little-endian pcap and pcapng (what the lab and the
/// corpus files used here are).
fn cut_capture(src: &[u8], n: usize) -> Vec<u8> {
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let mut out = Vec::with_capacity(src.len());
    if src[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || src[..4] == [0x4d, 0x3c, 0xb2, 0xa1] {
        out.extend_from_slice(&src[..24]);
        let mut p = 24;
        while p + 16 <= src.len() {
            let incl = u32_at(src, p + 8);
            let keep = incl.min(n);
            out.extend_from_slice(&src[p..p + 8]);
            out.extend_from_slice(&(keep as u32).to_le_bytes());
            out.extend_from_slice(&src[p + 12..p + 16]);
            out.extend_from_slice(&src[p + 16..p + 16 + keep]);
            p += 16 + incl;
        }
        return out;
    }
    assert_eq!(&src[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "pcapng");
    assert_eq!(u32_at(src, 8), 0x1a2b_3c4d, "little-endian pcapng");
    let mut p = 0;
    while p + 12 <= src.len() {
        let ty = u32_at(src, p);
        let len = u32_at(src, p + 4);
        let b = &src[p..p + len];
        if ty == 6 {
            let cap = u32_at(b, 20);
            let keep = cap.min(n);
            let padded = |x: usize| (x + 3) & !3;
            let opts = &b[28 + padded(cap)..len - 4];
            let total = 28 + padded(keep) + opts.len() + 4;
            out.extend_from_slice(&6u32.to_le_bytes());
            out.extend_from_slice(&(total as u32).to_le_bytes());
            out.extend_from_slice(&b[8..20]);
            out.extend_from_slice(&(keep as u32).to_le_bytes());
            out.extend_from_slice(&b[24..28]);
            out.extend_from_slice(&b[28..28 + keep]);
            out.resize(out.len() + padded(keep) - keep, 0);
            out.extend_from_slice(opts);
            out.extend_from_slice(&(total as u32).to_le_bytes());
        } else {
            out.extend_from_slice(b);
        }
        p += len;
    }
    out
}

fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let h = String::from_utf8_lossy(hay).to_ascii_lowercase();
    h.contains(&needle.to_ascii_lowercase())
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
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
    let e = &smb_encrypted_expected()["captures"]["samples/encrypted/smb311-aes256gcm-ntlmv2.pcap"]
        ["password"];
    assert_eq!(v["commands"]["WRITE"], e["commands"]["WRITE"]);
    assert_eq!(v["commands"]["CREATE"], e["commands"]["CREATE"]);
    let s = &v["sessions"][0];
    assert_eq!(s["write_bytes"], e["write_bytes"]);
    assert_eq!(s["read_bytes"], e["read_bytes"]);
    assert_eq!(e["write_bytes"], 4096);
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

pub(crate) fn smb_encrypted_expected() -> serde_json::Value {
    let t = std::fs::read_to_string(repo().join("tests/expected/smb_encrypted.json")).unwrap();
    serde_json::from_str(&t).unwrap()
}

fn snaplen_expected() -> serde_json::Value {
    let t = std::fs::read_to_string(repo().join("tests/expected/snaplen.json")).unwrap();
    serde_json::from_str(&t).unwrap()
}

fn source_path(src: &str) -> std::path::PathBuf {
    match src.strip_prefix("corpus:") {
        Some(rest) => corpus().join(rest),
        None => repo().join(src),
    }
}

/// `smb --json` on `src` cut to `n` bytes per packet.
fn smb_cut(src: &str, n: usize) -> serde_json::Value {
    let data = std::fs::read(source_path(src)).unwrap();
    let f = scratch(&format!("{}-{n}.pcapng", src.replace(['/', ':'], "_")));
    std::fs::write(&f, cut_capture(&data, n)).unwrap();
    let (code, v) = run_json(&["smb", "--json", f.to_str().unwrap()]);
    let _ = std::fs::remove_file(&f);
    assert!(code == 0 || code == 3, "{src} at {n}: exit {code}");
    v
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn snaplen_cut_headers_decode_like_tshark() {
    // tests/expected/snaplen.json, from tests/expected/regen_snaplen.py (editcap -s N,
    // tshark's smb2.cmd per command). At 96 bytes an IPv4 + TCP-timestamp frame
    // holds 26 bytes of the SMB2 header (Command, Status, Flags), IPv6 6; at 128,
    // 58 (IPv6: 38, MessageId but no SessionId); at 160 the header and the first
    // READ/WRITE body fields.
    let exp = snaplen_expected();
    for (src, per) in exp["captures"].as_object().unwrap() {
        let full = &per["0"]["commands"];
        for n in [96usize, 128, 160] {
            let v = smb_cut(src, n);
            let tshark = &per[n.to_string()]["commands"];
            let ours = &v["commands"];
            let names: std::collections::BTreeSet<&String> = tshark
                .as_object()
                .unwrap()
                .keys()
                .chain(ours.as_object().unwrap().keys())
                .collect();
            for c in names {
                let (t, o) = (
                    tshark[c].as_u64().unwrap_or(0),
                    ours[c].as_u64().unwrap_or(0),
                );
                // Never more than the uncut capture holds.
                assert!(o <= full[c].as_u64().unwrap_or(0), "{src} at {n}: {c} {o}");
                if src.starts_with("samples/restore-flood/") && n == 96 && c == "WRITE" {
                    // tshark skips the first two WRITE responses of the IPv4
                    // connection (frames 3083/3084 of node1: "[Packet size limited
                    // during capture]", no SMB2); we decode their 26 header bytes.
                    // All 7 IPv4 WRITE PDUs (1 request, 6 responses) are counted.
                    assert_eq!((t, o), (5, 7), "{src} at {n}: {c}");
                    continue;
                }
                assert_eq!(o, t, "{src} at {n}: {c} ours {o}, tshark {t}");
            }
        }
    }
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn snaplen_cut_write_bytes_from_the_stream() {
    // restore-flood: node3 wrote 3 MiB per session (timeline.txt), 1 MiB WRITEs.
    // At 160 bytes tshark sees one WRITE Length (1 MiB) and the IPv4 responses'
    // Counts (3 MiB, snaplen.json write_count_sum); the IPv6 responses' Count is
    // cut. Ours: the request the snaplen hid is backed by the client bytes the TCP
    // stream carried out of sync, capped by the response's Count, or where that is
    // cut too by the largest WRITE seen on the connection (those are marked
    // incomplete).
    let exp = snaplen_expected();
    for src in [
        "samples/restore-flood/node1.pcapng",
        "samples/restore-flood/node3.pcapng",
    ] {
        let t = &exp["captures"][src];
        assert_eq!(t["160"]["write_count_sum"], 3_145_728);
        let v = smb_cut(src, 160);
        let s = v["sessions"].as_array().unwrap();
        assert_eq!(s.len(), 2, "{src}");
        for x in s {
            assert_eq!(x["write_bytes"], 3_145_728, "{src}: {x}");
        }
        assert_eq!(v["incomplete_messages"], 2, "{src}");
        // At 128 the IPv6 connection shows no SessionId; the IPv4 session's
        // 3 MiB are all there (and per capture channel, both connections' 3 MiB).
        let v = smb_cut(src, 128);
        assert_eq!(v["sessions"][0]["write_bytes"], 3_145_728, "{src}");
        for c in v["channels"].as_array().unwrap() {
            assert_eq!(c["write_bytes"], 3_145_728, "{src}: {c}");
        }
    }
    // The zeek capture's WRITE Lengths (1,366,632 bytes, SOURCES.md) at 160;
    // at 128 Length is cut and the framed length stands for it (116 bytes of
    // padding more).
    let z = "corpus:zeek/smb3_multichannel.pcap";
    let w = |v: &serde_json::Value| -> u64 {
        v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["write_bytes"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(w(&smb_cut(z, 160)), 1_366_632);
    assert_eq!(w(&smb_cut(z, 128)), 1_366_748);
    // Encrypted bytes stay exact under the cut: transform header + msg_size.
    for src in [
        "samples/baseline/host1.pcapng",
        "samples/sofs-redirect/node2.pcapng",
    ] {
        let v = smb_cut(src, 160);
        let enc: u64 = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["encrypted_bytes"].as_u64().unwrap())
            .sum();
        assert_eq!(enc, exp["captures"][src]["160"]["transform_bytes"], "{src}");
    }
}

#[test]
fn a_connection_captured_at_both_ends_is_one_channel_with_its_bytes_once() {
    // samples/restore-flood: node1 and node3 both captured node3's two SMB
    // connections. timeline.txt: 3,145,728 bytes written on each;
    // tshark per capture (snaplen.json, write_count_sum): 6,291,456 in node1.pcapng
    // and the same in node3.pcapng, i.e. both sessions, each file.
    let exp = snaplen_expected();
    for f in ["node1", "node3"] {
        assert_eq!(
            exp["captures"][format!("samples/restore-flood/{f}.pcapng")]["0"]["write_count_sum"],
            6_291_456
        );
    }
    let dir = repo().join("samples/restore-flood");
    let (_, v) = run_json(&["smb", "--json", dir.to_str().unwrap()]);
    let s = v["sessions"].as_array().unwrap();
    assert_eq!(s.len(), 2);
    for x in s {
        let ch = x["channels"].as_array().unwrap();
        assert_eq!(ch.len(), 1, "{x}");
        let seen: Vec<&str> = ch[0]["seen_in"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[0].starts_with("node1.pcapng/") && seen[1].starts_with("node3.pcapng/"));
        assert_eq!(x["write_bytes"], 3_145_728, "{x}");
        assert_eq!(ch[0]["write_bytes"], 3_145_728);
        assert_eq!(x["incomplete_messages"], 0);
    }
    // Encrypted sessions seen from host1 and node2: tshark's transform bytes per
    // capture (equal in both files), counted once.
    for (scenario, id) in [
        ("baseline", "0x00000000acecfeb8"),
        ("sofs-redirect", "0x00000000aa22b98b"),
    ] {
        let per =
            &exp["captures"][format!("samples/{scenario}/host1.pcapng")]["0"]["transform_bytes"];
        assert_eq!(
            per,
            &exp["captures"][format!("samples/{scenario}/node2.pcapng")]["0"]["transform_bytes"]
        );
        let dir = repo().join("samples").join(scenario);
        let (_, v) = run_json(&["smb", "--json", dir.to_str().unwrap()]);
        let x = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["session_id"] == id)
            .unwrap();
        assert_eq!(&x["encrypted_bytes"], per, "{scenario}");
        assert_eq!(x["channels"].as_array().unwrap().len(), 1, "{scenario}");
    }
}

/// A little pcap writer for hand-built TCP/IPv4 captures.
struct Pcap(Vec<u8>, u32);

impl Pcap {
    fn new() -> Pcap {
        let mut v = Vec::new();
        for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        Pcap(v, 0)
    }
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        src: [u8; 4],
        dst: [u8; 4],
        sp: u16,
        dp: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        pay: &[u8],
    ) {
        let mut f = Vec::new();
        // MACs as the lab's cluster NICs: 02:48:56:02:<host>:00 (inventory.toml).
        f.extend_from_slice(&[
            2, 0x48, 0x56, 2, dst[3], 0, 2, 0x48, 0x56, 2, src[3], 0, 0x08, 0x00,
        ]);
        let total = (20 + 20 + pay.len()) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&(self.1 as u16).to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(pay);
        self.1 += 1;
        for x in [1_700_000_000u32, self.1, f.len() as u32, f.len() as u32] {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
        self.0.extend_from_slice(&f);
    }
}

/// An SMB2 header (64 bytes): command, response flag, MessageId, SessionId.
fn smb2_hdr(cmd: u16, resp: bool, mid: u64, sid: u64) -> Vec<u8> {
    let mut h = vec![0xFE, b'S', b'M', b'B', 64, 0, 1, 0, 0, 0, 0, 0];
    h.extend_from_slice(&cmd.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&u32::from(resp).to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&mid.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&sid.to_le_bytes());
    h.extend_from_slice(&[0; 16]);
    h
}

/// A WRITE request message (session header included) of `framed` bytes whose
/// Length field says `length`; only the first `have` bytes are returned.
fn write_msg(framed: u32, length: u32, mid: u64, sid: u64, have: usize) -> Vec<u8> {
    let mut m = framed.to_be_bytes().to_vec();
    m[0] = 0;
    m.extend_from_slice(&smb2_hdr(9, false, mid, sid));
    m.extend_from_slice(&49u16.to_le_bytes());
    m.extend_from_slice(&0x70u16.to_le_bytes());
    m.extend_from_slice(&length.to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&1u64.to_le_bytes());
    m.extend_from_slice(&2u64.to_le_bytes());
    m.extend_from_slice(&[0; 16]);
    m.resize(have, 0x5a);
    m
}

#[test]
fn declared_lengths_are_capped_by_what_the_stream_carried() {
    // Issue 13 item 3's hostile capture, rebuilt: (1) a WRITE whose session
    // header says 16 MiB - 1, of which the capture carries 100,000 bytes, then
    // FIN; (2) 1000 WRITE requests and 1000 READ responses of 200 bytes each
    // whose Length / DataLength say 0xFFFFFFFF. Before: 4,294,967,295,000 bytes
    // written (plus 16 MiB) and as much read.
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let sid = 0x77;
    let mut p = Pcap::new();
    p.tcp(c, s, 50000, 445, 999, 0, 0x02, &[]);
    p.tcp(s, c, 445, 50000, 4999, 1000, 0x12, &[]);
    let big = write_msg(0x00FF_FFFF, 0x00FF_FFFF - 112, 1, sid, 100_000);
    let mut seq = 1000u32;
    for chunk in big.chunks(1448) {
        p.tcp(c, s, 50000, 445, seq, 5000, 0x18, chunk);
        seq += chunk.len() as u32;
    }
    p.tcp(c, s, 50000, 445, seq, 5000, 0x11, &[]);
    p.tcp(c, s, 50001, 445, 99, 0, 0x02, &[]);
    p.tcp(s, c, 445, 50001, 7999, 100, 0x12, &[]);
    let (mut cs, mut ss) = (100u32, 8000u32);
    for mid in 0..1000u64 {
        let w = write_msg(196, u32::MAX, 10 + 2 * mid, sid, 200);
        p.tcp(c, s, 50001, 445, cs, ss, 0x18, &w);
        cs += w.len() as u32;
        let mut r = 196u32.to_be_bytes().to_vec();
        r[0] = 0;
        r.extend_from_slice(&smb2_hdr(8, true, 11 + 2 * mid, sid));
        r.extend_from_slice(&[17, 0, 0x50, 0]);
        r.extend_from_slice(&u32::MAX.to_le_bytes());
        r.extend_from_slice(&[0; 8]);
        r.resize(200, 0xa5);
        p.tcp(s, c, 445, 50001, ss, cs, 0x18, &r);
        ss += r.len() as u32;
    }
    let f = scratch("hostile-lengths.pcap");
    std::fs::write(&f, &p.0).unwrap();
    let (code, v) = run_json(&["smb", "--json", f.to_str().unwrap()]);
    let csv_dir = scratch("hostile-lengths-out");
    let out = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&f);
    assert_eq!(code, 0);
    let x = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == "0x0000000000000077")
        .expect("the session");
    // Carried: 100,000 - 4 - 112 bytes of the big WRITE; 200 - 4 - 112 of each
    // small WRITE; 200 - 4 - 80 of each READ response.
    assert_eq!(x["write_bytes"], 100_000 - 116 + 1000 * 84, "{x}");
    assert_eq!(x["read_bytes"], 1000 * 116, "{x}");
    assert_eq!(x["incomplete_messages"], 2001);
    assert_eq!(v["incomplete_messages"], 2001);
    // smb_sessions.csv has the same figures and the incomplete count.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(csv_dir.join("smb_sessions.csv")).unwrap();
    let _ = std::fs::remove_dir_all(&csv_dir);
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row = csv
        .lines()
        .find(|l| l.contains("0x0000000000000077"))
        .unwrap();
    let cell = |name: &str| {
        let i = head.iter().position(|h| *h == name).unwrap();
        row.split(',').nth(i).unwrap().to_string()
    };
    assert_eq!(cell("write_bytes"), (100_000 - 116 + 1000 * 84).to_string());
    assert_eq!(cell("read_bytes"), (1000 * 116).to_string());
    assert_eq!(cell("incomplete_messages"), "2001");
}

#[test]
fn hvs010_counts_an_encrypted_connection_captured_at_both_ends_once() {
    // node3 -> node1 over the cluster network (inventory.toml addresses and
    // MACs), 40 encrypted messages of 100,052 bytes (52-byte transform header
    // + 100,000), captured in node1's and node3's files alike: 4,002,080 bytes
    // once, not twice.
    let (c, s) = ([172, 30, 1, 13], [172, 30, 1, 11]);
    let mut p = Pcap::new();
    p.tcp(c, s, 50100, 445, 999, 0, 0x02, &[]);
    p.tcp(s, c, 445, 50100, 4999, 1000, 0x12, &[]);
    let mut seq = 1000u32;
    for i in 0..40u64 {
        let mut m = vec![0, 0, 0, 0];
        m[1..4].copy_from_slice(&100_052u32.to_be_bytes()[1..]);
        m.extend_from_slice(&[0xFD, b'S', b'M', b'B']);
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(&i.to_le_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&100_000u32.to_le_bytes());
        m.extend_from_slice(&[0, 0, 1, 0]);
        m.extend_from_slice(&0x5555u64.to_le_bytes());
        m.resize(4 + 100_052, 0xc3);
        for chunk in m.chunks(1448) {
            p.tcp(c, s, 50100, 445, seq, 5000, 0x18, chunk);
            seq += chunk.len() as u32;
        }
    }
    p.tcp(c, s, 50100, 445, seq, 5000, 0x11, &[]);
    let dir = scratch("hvs010");
    std::fs::create_dir_all(&dir).unwrap();
    for n in ["node1.pcapng", "node3.pcapng"] {
        std::fs::write(dir.join(n), &p.0).unwrap();
    }
    let inv = repo().join("samples/inventory.toml");
    let (_, v) = run_json(&[
        "analyze",
        dir.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--json",
    ]);
    let (_, smb) = run_json(&["smb", "--json", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    let x = &smb["sessions"][0];
    assert_eq!(x["encrypted_bytes"], 40 * 100_056 - 40 * 4);
    assert_eq!(x["channels"].as_array().unwrap().len(), 1);
    let f: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "HVS010")
        .collect();
    assert_eq!(f.len(), 1, "{v}");
    let text = f[0].to_string();
    assert!(text.contains("4.00 MB"), "{text}");
    assert!(!text.contains("8.00 MB"), "{text}");
}

/// A little-endian pcap's packets `from..to` as a pcap of their own.
fn pcap_slice(src: &[u8], from: usize, to: usize) -> Vec<u8> {
    let u32_at = |o: usize| u32::from_le_bytes(src[o..o + 4].try_into().unwrap()) as usize;
    let mut out = src[..24].to_vec();
    let (mut p, mut i) = (24, 0);
    while p + 16 <= src.len() {
        let end = p + 16 + u32_at(p + 8);
        if (from..to).contains(&i) {
            out.extend_from_slice(&src[p..end]);
        }
        p = end;
        i += 1;
    }
    out
}

/// A session's channels may lie in other captures than its SESSION_SETUP
/// (Multichannel: one capture per NIC or node). With a password, the keys
/// learnt where the session was set up decrypt its messages in the other
/// file too; the files read in parallel give the same result in any order.
#[test]
fn keys_learnt_in_one_capture_decrypt_the_session_in_another() {
    let sample = repo().join("samples/encrypted/smb311-aes128gcm-ntlmv2.pcap");
    let src = std::fs::read(&sample).unwrap();
    let dir = scratch("split");
    std::fs::create_dir_all(&dir).unwrap();
    let pwf = dir.join("pw.txt");
    std::fs::write(&pwf, "LAB\\labuser:Encrypt-Me-2026\n").unwrap();
    let session_of = |args: &[&str]| {
        let mut a = vec!["smb", "--json", "--ntlm-password", pwf.to_str().unwrap()];
        a.extend_from_slice(args);
        let (code, v) = run_json(&a);
        assert_eq!(code, 0, "{args:?}");
        v["sessions"][0].clone()
    };
    let full = session_of(&[sample.to_str().unwrap()]);
    let whole = full["decryption"]["decrypted_frames"].as_u64().unwrap();
    let whole_writes = full["write_bytes"].as_u64().unwrap();
    assert!(whole > 20 && whole_writes > 0);
    // The setup in the first file ("a-"), the rest of the connection in the
    // second; file names chosen so that the setup file is read last as well.
    for (first, second) in [
        ("a-setup.pcap", "b-rest.pcap"),
        ("b-setup.pcap", "a-rest.pcap"),
    ] {
        let (setup, rest) = (dir.join(first), dir.join(second));
        std::fs::write(&setup, pcap_slice(&src, 0, 30)).unwrap();
        std::fs::write(&rest, pcap_slice(&src, 30, usize::MAX)).unwrap();
        let alone = session_of(&[rest.to_str().unwrap()]);
        assert_eq!(alone["encrypted"], true);
        assert_eq!(
            alone["decryption"]["decrypted_frames"], 0,
            "no key without the setup"
        );
        let both = session_of(&[setup.to_str().unwrap(), rest.to_str().unwrap()]);
        let d = &both["decryption"];
        assert_eq!(d["auth_failures"], 0);
        // Every message but possibly the one cut by the split.
        let n = d["decrypted_frames"].as_u64().unwrap();
        assert!(n + 1 >= whole && n <= whole, "{n} of {whole}");
        // A WRITE the split cuts would lose its first part; without the
        // setup file, none is seen.
        let w = both["write_bytes"].as_u64().unwrap();
        assert!(w > 0 && w <= whole_writes, "{both}");
        assert_eq!(alone["write_bytes"], 0);
        // The same with the inputs named in the other order.
        let swapped = session_of(&[rest.to_str().unwrap(), setup.to_str().unwrap()]);
        assert_eq!(swapped["decryption"], both["decryption"]);
        std::fs::remove_file(&setup).unwrap();
        std::fs::remove_file(&rest).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
