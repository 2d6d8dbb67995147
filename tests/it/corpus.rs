//! `inspect --json` on every public corpus capture equals tshark's figures,
//! stored in tests/expected/corpus.json by tests/expected/regen_corpus.py.

use crate::common::*;

fn epoch_to_ns(s: &str) -> i64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    sec.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

#[test]
fn inspect_matches_tshark_on_every_corpus_capture() {
    needs_corpus!();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/expected/corpus.json")).unwrap(),
    )
    .unwrap();
    let expected = expected["captures"].as_object().unwrap();
    let files = corpus_captures();
    assert!(
        files.len() >= 30,
        "corpus not found at {}",
        corpus().display()
    );
    let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut argv = vec!["inspect", "--json", "--top", "3"];
    argv.extend(args.iter().map(String::as_str));
    let (code, v) = run_json(&argv);
    assert_eq!(code, 0, "every corpus capture reads cleanly: {v}");
    let caps = v["captures"].as_array().unwrap();
    assert_eq!(caps.len(), files.len());
    let mut checked = 0;
    for (file, got) in files.iter().zip(caps) {
        let rel = file
            .strip_prefix(corpus())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let want = expected.get(&rel).unwrap_or_else(|| {
            panic!("{rel}: no expected figures; run tests/expected/regen_corpus.py")
        });
        for key in ["packets", "wire_bytes", "captured_bytes", "flows"] {
            assert_eq!(got[key], want[key], "{rel}: {key}");
        }
        for (ours, theirs) in [("first_ts_ns", "first_ts"), ("last_ts_ns", "last_ts")] {
            if let Some(t) = want[theirs].as_str() {
                assert_eq!(got[ours].as_i64().unwrap(), epoch_to_ns(t), "{rel}: {ours}");
            }
        }
        assert!(got["error"].is_null(), "{rel}: {}", got["error"]);
        checked += 1;
    }
    assert_eq!(
        checked,
        expected.len(),
        "every expected capture was checked"
    );
}

#[test]
fn inspect_json_has_the_documented_shape() {
    needs_corpus!();
    let f = corpus().join("zeek/smb3_multichannel.pcap");
    let (code, v) = run_json(&["inspect", "--json", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let c = &v["captures"][0];
    for key in [
        "path",
        "packets",
        "wire_bytes",
        "captured_bytes",
        "first_ts_ns",
        "last_ts_ns",
        "interfaces",
        "flows",
        "tcp",
        "top_flows",
    ] {
        assert!(!c[key].is_null(), "missing {key}");
    }
    let i = &c["interfaces"][0];
    assert_eq!(i["index"], 0);
    assert_eq!(i["name"], "smb3_multichannel.pcap");
    assert_eq!(i["link_type"], "ETHERNET");
    assert!(i["speed_bps"].is_null());
    for key in ["retransmissions", "duplicates", "out_of_order", "gaps"] {
        assert!(c["tcp"][key].is_u64(), "tcp.{key}");
    }
    // tshark -r smb3_multichannel.pcap -q -z conv,tcp: the largest conversation is
    // 172.17.0.184:57092 <-> 172.17.0.189:445 with 999 frames, 2199190 bytes.
    let top = &c["top_flows"][0];
    assert_eq!(top["proto"], "tcp");
    assert_eq!(top["a"], "172.17.0.184:57092");
    assert_eq!(top["b"], "172.17.0.189:445");
    assert_eq!(top["packets"], 999);
    assert_eq!(top["bytes"], 2199190);
}

#[test]
fn pcapng_interfaces_are_named() {
    needs_corpus!();
    // tshark -r smb311-chained-patternv1-lznt1.pcapng.gz -T fields -e frame.interface_name
    // -e frame.interface_description gives \Device\NPF_{03819E39-...} "Ethernet"
    // (interface 1) for both frames: an Npcap device path, named by its description.
    let f = corpus().join("wireshark/smb311-chained-patternv1-lznt1.pcapng.gz");
    let (_, v) = run_json(&["inspect", "--json", f.to_str().unwrap()]);
    let ifs = v["captures"][0]["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 2);
    assert_eq!(ifs[1]["name"], "Ethernet");
    assert_eq!(ifs[1]["packets"], 2);
    assert_eq!(v["captures"][0]["gzip"], true);
}

#[test]
fn tcp_anomalies_agree_with_tshark_where_definitions_meet() {
    needs_corpus!();
    // tshark -r smb2-01/smb2-peter.pcap -Y tcp.analysis.retransmission | wc -l  -> 9
    let f = corpus().join("suricata-verify/smb2-01/smb2-peter.pcap");
    let (_, v) = run_json(&["inspect", "--json", f.to_str().unwrap()]);
    let t = &v["captures"][0]["tcp"];
    assert_eq!(t["retransmissions"], 9);
    assert_eq!(t["duplicates"], 0);
    // tshark -r zeek/rdp-proprietary-encryption.pcap -Y tcp.analysis.out_of_order | wc -l -> 9,
    // and -Y tcp.analysis.lost_segment -> 9: nine holes, each filled by one late segment.
    // tshark flags the filler as out_of_order; we count it as a hole fill, and count
    // every segment that arrived ahead of a hole as out_of_order (10).
    let f = corpus().join("zeek/rdp-proprietary-encryption.pcap");
    let (_, v) = run_json(&["inspect", "--json", f.to_str().unwrap()]);
    let t = &v["captures"][0]["tcp"];
    assert_eq!(t["hole_fills"], 9);
    assert_eq!(t["out_of_order"], 10);
    assert_eq!(t["gaps"], 0, "every hole was filled");
    // zeek/smb2_krb.pcap is snaplen-cut: capinfos data size 42861 of 44865 wire bytes.
    let f = corpus().join("zeek/smb2_krb.pcap");
    let (_, v) = run_json(&["inspect", "--json", f.to_str().unwrap()]);
    let c = &v["captures"][0];
    assert_eq!(c["wire_bytes"], 44865);
    assert_eq!(c["captured_bytes"], 42861);
    assert!(c["tcp"]["truncated"].as_u64().unwrap() >= 1);
}

/// Every pktmon file of the corpus through `inspect --json`: the figures of
/// tests/expected/pktmon.json (tshark on the pcapng, Microsoft's etl2txt on
/// the ETL; see regen_pktmon.py). Both demikernel files give 38 packets.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn pktmon_files_match_their_peers() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/expected/pktmon.json")).unwrap(),
    )
    .unwrap();
    for (rel, want) in expected["files"].as_object().unwrap() {
        let f = corpus().join(rel);
        let (code, v) = run_json(&["inspect", "--json", f.to_str().unwrap()]);
        let got = &v["captures"][0];
        if want["packets"] == 0 {
            // gdn: counters and component table only: nothing readable.
            assert_eq!(code, 4, "{rel}: {v}");
            assert_eq!(got["packets"], 0);
            continue;
        }
        assert_eq!(code, 0, "{rel}: {v}");
        for key in ["packets", "wire_bytes", "captured_bytes"] {
            assert_eq!(got[key], want[key], "{rel}: {key}");
        }
        let frames = want["frames"]
            .as_u64()
            .or(want["packet_events"].as_u64())
            .unwrap();
        assert_eq!(
            got["duplicates_removed"].as_u64().unwrap(),
            frames - want["packets"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(got["wifi_frames"], 0);
        assert!(got["error"].is_null(), "{rel}: {}", got["error"]);
    }
}
