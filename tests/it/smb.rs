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
