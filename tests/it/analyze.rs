//! `analyze`: every byte lands in exactly one role, on every corpus capture.

use crate::common::*;
use crate::usage::tempdir;

#[test]
fn roles_sum_to_wire_bytes_on_every_corpus_capture() {
    needs_corpus!();
    let files: Vec<String> = corpus_captures()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut argv = vec!["analyze", "--json"];
    argv.extend(files.iter().map(String::as_str));
    let (code, v) = run_json(&argv);
    assert_eq!(code, 0);
    let ifs = v["interfaces"].as_array().unwrap();
    assert!(ifs.len() >= files.len());
    let mut total = 0u64;
    for i in ifs {
        let wire = i["wire_bytes"].as_u64().unwrap();
        let roles = i["roles"].as_object().unwrap();
        assert_eq!(roles.len(), 6, "every role is listed");
        let sum: u64 = roles.values().map(|r| r["bytes"].as_u64().unwrap()).sum();
        assert_eq!(sum, wire, "{}: roles sum to wire bytes", i["capture"]);
        let txrx: u64 = roles
            .values()
            .map(|r| r["tx_bytes"].as_u64().unwrap() + r["rx_bytes"].as_u64().unwrap())
            .sum();
        assert_eq!(txrx, wire);
        total += wire;
    }
    // Sum of the wire bytes in tests/expected/corpus.json (tshark's frame.len sums).
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/expected/corpus.json")).unwrap(),
    )
    .unwrap();
    let want: u64 = expected["captures"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["wire_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(total, want);
}

#[test]
fn tables_are_written() {
    needs_corpus!();
    let dir = tempdir().join("out");
    let f = corpus().join("zeek/rdp-to-ssl.pcap");
    let out = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--bucket",
        "5s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "interface_roles.csv",
        "interface_roles.parquet",
        "groups.csv",
        "groups.parquet",
        "summary.json",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    let csv = std::fs::read_to_string(dir.join("groups.csv")).unwrap();
    // tshark -r rdp-to-ssl.pcap -q -z conv,tcp: 192.168.1.200 <-> 192.168.1.150:3389, 658 frames, 124430 bytes
    assert!(
        csv.lines()
            .any(|l| l.contains(",3389,management,") && l.contains(",124430,")),
        "{csv}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("management"), "{text}");
}

#[test]
fn inferred_inventory_round_trips() {
    needs_corpus!();
    let dir = tempdir();
    // One client and one server on the capture's only link; the answer
    // times say which end captured it. tshark agrees:
    //   tshark -r smb3_multichannel.pcap -Y tcp.analysis.ack_rtt -T fields -e ip.src -e tcp.analysis.ack_rtt
    // gives 172.17.0.184 acknowledging in 1-3 us (412 segments) and
    // 172.17.0.189 in 76 us or more (443): the capture is at 172.17.0.184.
    let inv = dir.join("inferred.toml");
    let f = corpus().join("zeek/smb3_multichannel.pcap");
    let out = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--write-inventory",
        inv.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let (code, v) = run_json(&[
        "analyze",
        "--json",
        f.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let i = &v["interfaces"][0];
    assert_eq!(i["from_inventory"], true);
    assert_eq!(i["addresses"], serde_json::json!(["172.17.0.184"]));
    let text = std::fs::read_to_string(&inv).unwrap();
    assert!(!text.contains("# CONFLICT: "), "{text}");
    // Here only one segment is answered (tshark: one tcp.analysis.ack_rtt):
    // nothing says which end captured, so no own address is taken and the
    // written inventory marks that for the user to decide.
    let inv = dir.join("inferred2.toml");
    let f = corpus().join("zeek/smb2-multiple-pdus.pcap");
    let out = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--write-inventory",
        inv.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let (code, v) = run_json(&[
        "analyze",
        "--json",
        f.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["interfaces"][0]["addresses"], serde_json::json!([]));
    let text = std::fs::read_to_string(&inv).unwrap();
    assert!(
        text.contains("# CONFLICT: ") && text.contains("undecided"),
        "{text}"
    );
}

#[test]
fn smb_sessions_table_lists_multichannel() {
    needs_corpus!();
    let dir = tempdir().join("smbtab");
    let f = corpus().join("zeek/smb3_multichannel.pcap");
    let out = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let csv = std::fs::read_to_string(dir.join("smb_sessions.csv")).unwrap();
    // One session with 4 channels and 1,366,632 bytes written (tshark smb2.write_length sum).
    let row = csv
        .lines()
        .find(|l| l.starts_with("0x00001c0010000049,"))
        .unwrap();
    assert!(
        row.starts_with("0x00001c0010000049,3.1.1,false,4,"),
        "{row}"
    );
    assert!(row.contains(",1366632,"), "{row}");
    assert!(dir.join("smb_sessions.parquet").is_file());
}

#[test]
fn one_peer_captures_own_end_agrees_with_tshark_ack_times() {
    needs_corpus!();
    // Real captures of one link with one peer, no direction flags: the own
    // end is taken from answer times. The expected end is the one tshark
    // times as acknowledging faster (third-lowest tcp.analysis.ack_rtt per
    // source, by benches/own_end_vs_tshark.py, tshark 4.0.17):
    //   ndpi/smb_deletefile.pcap: 192.168.1.118 35 us, 192.168.1.187 374 us
    //   zeek/smb2.pcap: 10.0.0.12 63 us, 10.0.0.11 222 us
    //   zeek/rdp-to-ssl.pcap: 192.168.1.200 20 us, 192.168.1.150 390 us
    //   zeek/smb2-zero-byte-error-ioctl.pcapng: 192.168.2.186 20 us, 192.168.2.69 295 us
    for (file, own) in [
        ("ndpi/smb_deletefile.pcap", "192.168.1.118"),
        ("zeek/smb2.pcap", "10.0.0.12"),
        ("zeek/rdp-to-ssl.pcap", "192.168.1.200"),
        ("zeek/smb2-zero-byte-error-ioctl.pcapng", "192.168.2.186"),
    ] {
        let f = corpus().join(file);
        let (code, v) = run_json(&["analyze", "--json", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{file}");
        let addrs: Vec<&str> = v["interfaces"][0]["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .filter(|a| !a.starts_with("fe80"))
            .collect();
        assert_eq!(addrs, vec![own], "{file}: {:#}", v["inferred"]);
    }
}
