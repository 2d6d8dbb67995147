//! Corpus tests: our figures against tshark 4.0's for every SMB capture of
//! the public corpus, through the test harness (see `harness.rs`).

use std::collections::BTreeMap;

use super::events::SmbEventKind;
use super::harness::{Opts, run, run_with};

/// Expected figures per capture, from tshark 4.0.17:
/// commands: `tshark -r F -T fields -E occurrence=a -e smb2.cmd -e smb2.flags.response`
///   (every comma-separated element counted, mapped from the numeric code to the MS-SMB2 name);
/// write bytes: `tshark -r F -Y 'smb2.write_length && smb2.flags.response==0' -T fields
///   -E occurrence=a -e smb2.write_length` summed;
/// read bytes: `tshark -r F -Y 'smb2.cmd==8 && smb2.flags.response==1 && (smb2.nt_status==0 ||
///   smb2.nt_status==0x80000005)' -T fields -e smb2.olb.length` summed.
const EXPECTED: &[(&str, &str, u64, u64)] = &[
    (
        "zeek/smb3.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=4",
        0,
        0,
    ),
    ("zeek/smb311.pcap", "NEGOTIATE=2 SESSION_SETUP=4", 0, 0),
    (
        "zeek/smb3_multichannel.pcap",
        "NEGOTIATE=8 SESSION_SETUP=120 TREE_CONNECT=2 CREATE=162 CLOSE=136 READ=74 WRITE=36 IOCTL=2 QUERY_DIRECTORY=8 QUERY_INFO=174 SET_INFO=128 OPLOCK_BREAK=1",
        1366632,
        1018212,
    ),
    ("zeek/smb3_negotiate_context.pcap", "NEGOTIATE=3", 0, 0),
    (
        "zeek/smb2readwrite.pcap",
        "CREATE=12 CLOSE=8 READ=2 WRITE=2 IOCTL=2 QUERY_DIRECTORY=8 CHANGE_NOTIFY=6 QUERY_INFO=14",
        7000,
        16,
    ),
    (
        "zeek/smb2.pcap",
        "NEGOTIATE=1 SESSION_SETUP=4 TREE_CONNECT=4 CREATE=12 CLOSE=8 READ=2 WRITE=50 IOCTL=2 QUERY_DIRECTORY=4 QUERY_INFO=8 SET_INFO=4",
        1509055,
        92,
    ),
    (
        "zeek/smb2.delete-on-close-perms-delete-existing.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=2 CREATE=18 CLOSE=12 QUERY_DIRECTORY=4 QUERY_INFO=4 SET_INFO=4",
        0,
        0,
    ),
    (
        "zeek/smb2-zero-byte-error-ioctl.pcapng",
        "NEGOTIATE=3 SESSION_SETUP=4 TREE_CONNECT=6 TREE_DISCONNECT=4 CREATE=12 CLOSE=12 IOCTL=24 QUERY_INFO=6",
        0,
        0,
    ),
    (
        "zeek/smb2-multiple-pdus.pcap",
        "CREATE=2 CLOSE=2 SET_INFO=2",
        0,
        0,
    ),
    ("zeek/smb2_fscontrol.pcap", "SET_INFO=1", 0, 0),
    ("zeek/SMBGhost.pcap", "NEGOTIATE=2", 0, 0),
    (
        "zeek/smb_many_open_files_500.pcap.gz",
        "NEGOTIATE=3 SESSION_SETUP=4 TREE_CONNECT=8 TREE_DISCONNECT=4 CREATE=83 CLOSE=76 READ=8 LOCK=8 IOCTL=24 QUERY_DIRECTORY=48 CHANGE_NOTIFY=2 QUERY_INFO=10",
        0,
        16392,
    ),
    ("zeek/cifs_negotiate_lanman.pcap", "", 0, 0),
    (
        "zeek/20-fids.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=2 TREE_DISCONNECT=2 CREATE=40 CLOSE=40 WRITE=40 IOCTL=244",
        9560,
        0,
    ),
    (
        "zeek/kerberos445_auth.pcapng",
        "NEGOTIATE=3 SESSION_SETUP=2",
        0,
        0,
    ),
    (
        "zeek/smb2_krb.pcap",
        "NEGOTIATE=3 SESSION_SETUP=2 TREE_CONNECT=4 CREATE=26 CLOSE=18 READ=2 WRITE=2 IOCTL=4 QUERY_DIRECTORY=31 CHANGE_NOTIFY=2 QUERY_INFO=6",
        160,
        68,
    ),
    (
        "suricata-verify/smb2-async-read/input.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=4 TREE_DISCONNECT=4 CREATE=2 CLOSE=2 READ=3 IOCTL=2 QUERY_INFO=2",
        0,
        3164140,
    ),
    (
        "suricata-verify/smb-length-5770/input.pcap",
        "NEGOTIATE=6 SESSION_SETUP=8 LOGOFF=6 TREE_CONNECT=4 CREATE=516 CLOSE=494 FLUSH=8 READ=54 WRITE=20 IOCTL=204 ECHO=64 QUERY_DIRECTORY=178 CHANGE_NOTIFY=16 QUERY_INFO=230 SET_INFO=42 OPLOCK_BREAK=27",
        // tshark sums the declared lengths: 77997. Frame 2229 (MessageId 799)
        // declares 65542 bytes in a message whose connection carries 118 of it
        // (6 bytes of data): bytes count what the stream carried, so
        // 77997 - 65542 + 6.
        12461,
        // tshark's first smb2.olb.length per frame gives 31060, but 10 frames are
        // CREATE+READ(+CLOSE) compounds whose first blob is the CREATE's; with the
        // READ's own blob (`-E occurrence=l`) tshark sums 31340.
        31340,
    ),
    (
        "suricata-verify/smb2-01/smb2-peter.pcap",
        "NEGOTIATE=2 SESSION_SETUP=4 TREE_CONNECT=2 CREATE=114 CLOSE=114 READ=76 WRITE=34 QUERY_DIRECTORY=8 QUERY_INFO=110",
        63061,
        306083,
    ),
    (
        "suricata-verify/smb3-02-midstream/input.pcap",
        "TREE_CONNECT=2",
        0,
        0,
    ),
    (
        "suricata-verify/smb2-async/input.pcap",
        "CREATE=3 CLOSE=2 QUERY_INFO=2 SET_INFO=2",
        0,
        0,
    ),
    (
        "ndpi/smb_deletefile.pcap",
        "CREATE=54 CLOSE=54 READ=2 QUERY_DIRECTORY=16 CHANGE_NOTIFY=3 QUERY_INFO=34 SET_INFO=2 OPLOCK_BREAK=3",
        0,
        0,
    ),
    (
        "wireshark/smb300-aes-128-ccm.pcap.gz",
        "NEGOTIATE=2 SESSION_SETUP=4",
        0,
        0,
    ),
    (
        "wireshark/smb311-aes-128-ccm.pcap.gz",
        "NEGOTIATE=2 SESSION_SETUP=4",
        0,
        0,
    ),
    (
        "wireshark/smb311-aes-128-gcm.pcap.gz",
        "NEGOTIATE=2 SESSION_SETUP=4",
        0,
        0,
    ),
    (
        "wireshark/smb311-aes-256-ccm.pcap.gz",
        "NEGOTIATE=2 SESSION_SETUP=4",
        0,
        0,
    ),
    (
        "wireshark/smb311-aes-256-gcm.pcap.gz",
        "NEGOTIATE=2 SESSION_SETUP=4",
        0,
        0,
    ),
];

fn commands_string(c: &BTreeMap<String, u64>) -> String {
    let order = super::wire::COMMAND_NAMES;
    let mut v: Vec<(usize, String)> = c
        .iter()
        .map(|(k, n)| {
            (
                order.iter().position(|o| o == k).unwrap_or(99),
                format!("{k}={n}"),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join(" ")
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn commands_and_bytes_match_tshark() {
    let mut failures = Vec::new();
    for &(file, cmds, write, read) in EXPECTED {
        let r = run(file);
        let rep = r.model.report();
        let got = commands_string(&rep.commands);
        let w: u64 = rep.channels.iter().map(|c| c.write_bytes).sum();
        let rd: u64 = rep.channels.iter().map(|c| c.read_bytes).sum();
        if got != cmds || w != write || rd != read {
            failures.push(format!(
                "{file}:\n  tshark {cmds} write={write} read={read}\n  ours   {got} write={w} read={rd}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// zeek/smb3_multichannel.pcap: session 0x00001c0010000049 spans all 4 TCP
/// connections (`tshark -r F -Y smb2 -T fields -E occurrence=f -e tcp.stream -e smb2.sesid | sort -u`:
/// it is the only session id seen on more than one stream; 6 SESSION_SETUP requests carry
/// the BINDING flag). The interface list (`tshark -r F -Y 'smb2.ioctl.function == 0x001401fc'
/// -V`): IfIndex 8, RSS, 1 Gbit/s, fe80::582f:92c0:c9c1:9ba1 (port 0), then IfIndex 8, RSS,
/// 1 Gbit/s, 172.17.0.189.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn multichannel_one_session_four_channels() {
    let r = run("zeek/smb3_multichannel.pcap");
    let rep = r.model.report();
    let multi: Vec<_> = rep
        .sessions
        .iter()
        .filter(|s| s.channels.len() > 1)
        .collect();
    assert_eq!(multi.len(), 1);
    let s = multi[0];
    assert_eq!(s.session_id, "0x00001c0010000049");
    assert_eq!(s.channels.len(), 4);
    assert_eq!(s.dialect.as_deref(), Some("3.1.1"));
    assert_eq!(s.binding_requests, 6);
    assert!(s.channels.iter().all(|c| c.server == "172.17.0.189:445"));
    // All the capture's READ/WRITE bytes belong to this session.
    assert_eq!(s.write_bytes, 1366632);
    assert_eq!(s.read_bytes, 1018212);
    let per_channel_writes: u64 = s.channels.iter().map(|c| c.write_bytes).sum();
    assert_eq!(per_channel_writes, 1366632);
    // Every READ/WRITE is on a FileId whose CREATE was seen (possibly on another channel).
    assert_eq!(s.files.iter().map(|f| f.write_bytes).sum::<u64>(), 1366632);
    assert_eq!(s.files.iter().map(|f| f.read_bytes).sum::<u64>(), 1018212);
    assert_eq!(s.trees.len(), 1);
    assert_eq!(rep.server_interfaces.len(), 1);
    let ifs = &rep.server_interfaces[0];
    assert_eq!(ifs.server, "172.17.0.189:445");
    let got: Vec<(u32, &str, u64, bool, bool)> = ifs
        .interfaces
        .iter()
        .map(|i| (i.if_index, i.addr.as_str(), i.link_speed_bps, i.rss, i.rdma))
        .collect();
    assert_eq!(
        got,
        vec![
            (8, "fe80::582f:92c0:c9c1:9ba1", 1_000_000_000, true, false),
            (8, "172.17.0.189", 1_000_000_000, true, false),
        ]
    );
    // Every connection carries SMB with dialect 3.1.1.
    assert_eq!(r.conns.len(), 4);
    assert!(r.conns.iter().all(|c| c.3 && c.2 == Some(0x0311)));
    let json = serde_json::to_value(&rep).unwrap();
    assert!(json["commands"]["NEGOTIATE"].as_u64() == Some(8));
    assert!(json["witness"].as_array().is_some_and(|w| w.is_empty()));
}

/// Encrypted captures: every 0xFD message on the transform header's session.
/// `tshark -r F -Y smb2.header.transform.msg_size -T fields -E occurrence=a -e smb2.sesid
/// -e smb2.header.transform.msg_size`: (session, frames, sum of OriginalMessageSize);
/// our encrypted bytes are session-message lengths = 52 * frames + sum.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn encrypted_bytes_on_transform_session() {
    let cases: &[(&str, &str, u64, u64, Option<&str>)] = &[
        (
            "zeek/smb3.pcap",
            "0x000048009400003d",
            44,
            6074,
            Some("3.0"),
        ),
        (
            "zeek/smb311.pcap",
            "0x0000281cac000069",
            28,
            3980,
            Some("3.1.1"),
        ),
        (
            "suricata-verify/smb3-02-midstream/input.pcap",
            "0x000048009400003d",
            44,
            6074,
            None,
        ),
        (
            "wireshark/smb300-aes-128-ccm.pcap.gz",
            "0x00003c009c000019",
            2,
            202,
            Some("3.0"),
        ),
        (
            "wireshark/smb311-aes-128-ccm.pcap.gz",
            "0x00003c009c000029",
            2,
            202,
            Some("3.1.1"),
        ),
        (
            "wireshark/smb311-aes-128-gcm.pcap.gz",
            "0x0000400000000039",
            2,
            202,
            Some("3.1.1"),
        ),
        (
            "wireshark/smb311-aes-256-ccm.pcap.gz",
            "0x000000006db9fdd6",
            2,
            190,
            Some("3.1.1"),
        ),
        (
            "wireshark/smb311-aes-256-gcm.pcap.gz",
            "0x00000000ab03dc56",
            2,
            190,
            Some("3.1.1"),
        ),
    ];
    for &(file, sid, frames, msg_sum, dialect) in cases {
        let r = run(file);
        let rep = r.model.report();
        assert_eq!(rep.encrypted_frames, frames, "{file}");
        let s = rep
            .sessions
            .iter()
            .find(|s| s.session_id == sid)
            .unwrap_or_else(|| panic!("{file}: no session {sid}"));
        assert!(s.encrypted, "{file}");
        assert_eq!(s.encrypted_bytes, 52 * frames + msg_sum, "{file}");
        assert_eq!(s.dialect.as_deref(), dialect, "{file}");
        let total: u64 = rep.sessions.iter().map(|s| s.encrypted_bytes).sum();
        assert_eq!(total, s.encrypted_bytes, "{file}: bytes on another session");
    }
}

/// suricata-verify/smb3-02-midstream starts inside the stream: the parser
/// must find the frames (44 encrypted + 2 TREE_CONNECT, figures above) and
/// at most resynchronise, never lose them.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn midstream_resynchronises() {
    let r = run("suricata-verify/smb3-02-midstream/input.pcap");
    let rep = r.model.report();
    assert_eq!(rep.commands.get("TREE_CONNECT"), Some(&2));
    assert_eq!(rep.encrypted_frames, 44);
    // The first segment of each direction may start mid-message: any resync must
    // have found the next frame (every frame above was decoded).
    let resyncs = r
        .events
        .iter()
        .filter(|e| matches!(e.kind, SmbEventKind::Resync { .. }))
        .count() as u64;
    assert_eq!(resyncs, rep.resyncs);
    // Direction inferred from the flags: the client is the 445 side's peer.
    assert!(r.conns.iter().all(|c| c.3));
}

/// A mid-stream start as the reassembler reports it: the first byte of each
/// direction is missing (gap), so the first message of each direction is lost
/// and the parser resynchronises at the next one. Figures from
/// `tshark -r F -T fields -e frame.number -e tcp.srcport -e tcp.len -e smb2.header.transform.msg_size`:
/// the first client segment is one 202-byte message (transform, msg_size 146), the first
/// server segment one 192-byte message (msg_size 136).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn midstream_gap_resynchronises_on_real_data() {
    let r = run_with(
        "suricata-verify/smb3-02-midstream/input.pcap",
        Opts {
            drop_prefix: 1,
            ..Default::default()
        },
    );
    let rep = r.model.report();
    assert_eq!(rep.resyncs, 2);
    assert_eq!(rep.resync_skipped_bytes, 201 + 191);
    assert_eq!(rep.encrypted_frames, 42);
    assert_eq!(rep.commands.get("TREE_CONNECT"), Some(&2));
    assert_eq!(rep.sessions.len(), 1);
    assert_eq!(
        rep.sessions[0].encrypted_bytes,
        8362 - (146 + 52) - (136 + 52)
    );

    // zeek/smb2.pcap: the client's first segment is the 148-byte SMB1 NEGOTIATE, the
    // server's the 240-byte SMB2 NEGOTIATE response (`tshark -r F -T fields -e tcp.len
    // -e smb.cmd -e smb2.cmd`); everything after them is still found.
    let r = run_with(
        "zeek/smb2.pcap",
        Opts {
            drop_prefix: 1,
            ..Default::default()
        },
    );
    let rep = r.model.report();
    assert_eq!(rep.resyncs, 2);
    assert_eq!(rep.resync_skipped_bytes, 147 + 239);
    assert_eq!(
        commands_string(&rep.commands),
        "SESSION_SETUP=4 TREE_CONNECT=4 CREATE=12 CLOSE=8 READ=2 WRITE=50 IOCTL=2 QUERY_DIRECTORY=4 QUERY_INFO=8 SET_INFO=4"
    );
    let w: u64 = rep.channels.iter().map(|c| c.write_bytes).sum();
    assert_eq!(w, 1509055);
}

/// SMB1 negotiates: cifs_negotiate_lanman.pcap offers only SMB1 dialects;
/// smb3_negotiate_context.pcap's SMB1 NEGOTIATE offers "SMB 2.002"/"SMB 2.???"
/// (`tshark -r F -Y 'smb.cmd==0x72' -T fields -e smb.dialect.name`).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn smb1_negotiate_recognised() {
    let r = run("zeek/cifs_negotiate_lanman.pcap");
    let rep = r.model.report();
    assert_eq!(rep.smb1_negotiates, 1);
    assert_eq!(rep.smb1_negotiates_offering_smb2, 0);
    assert!(rep.commands.is_empty());
    let r = run("zeek/smb3_negotiate_context.pcap");
    let rep = r.model.report();
    assert_eq!(rep.smb1_negotiates, 1);
    assert_eq!(rep.smb1_negotiates_offering_smb2, 1);
}

/// 3.1.1 negotiate contexts (smb3_negotiate_context.pcap): PREAUTH_INTEGRITY
/// SHA-512 and ENCRYPTION contexts (`tshark -r F -Y 'smb2.cmd==0' -V`).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn negotiate_contexts_decoded() {
    use super::events::Body;
    let r = run("zeek/smb3_negotiate_context.pcap");
    let mut seen_req = false;
    let mut seen_resp = false;
    for e in &r.events {
        if let SmbEventKind::Pdu(p) = &e.kind {
            match &p.body {
                Body::NegotiateRequest(n) if n.dialects.contains(&0x0311) => {
                    assert_eq!(n.dialects.len(), 8);
                    assert_eq!(n.contexts.preauth_hashes, vec![1]);
                    assert_eq!(n.contexts.ciphers, vec![1, 2]);
                    seen_req = true;
                }
                Body::NegotiateResponse(n) if n.dialect == 0x0311 => {
                    assert_eq!(n.contexts.preauth_hashes, vec![1]);
                    assert_eq!(n.contexts.ciphers, vec![1]);
                    seen_resp = true;
                }
                _ => {}
            }
        }
    }
    assert!(seen_req && seen_resp);
}

/// Compressed captures. tshark 4.0 decompresses and counts READ=1 WRITE=1,
/// write 256, read 256 (chained LZNT1+Pattern_V1 / NONE+Pattern_V1 file) and
/// READ=3, read 12288 (LZ77, LZ77+Huffman, LZNT1 file; same commands/bytes
/// commands as in the table above). We rebuild the message prefix for NONE,
/// LZNT1, LZ77, LZ77+Huffman and Pattern_V1: all three READs of the second
/// file are counted, as tshark does.
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn compressed_frames_counted() {
    let r = run("wireshark/smb311-chained-patternv1-lznt1.pcapng.gz");
    let rep = r.model.report();
    assert_eq!(rep.compressed_frames, 2);
    assert_eq!(commands_string(&rep.commands), "READ=1 WRITE=1");
    let w: u64 = rep.channels.iter().map(|c| c.write_bytes).sum();
    let rd: u64 = rep.channels.iter().map(|c| c.read_bytes).sum();
    assert_eq!((w, rd), (256, 256));

    let r = run("wireshark/smb311-lz77-lz77huff-lznt1.pcap.gz");
    let rep = r.model.report();
    assert_eq!(rep.compressed_frames, 3);
    let visible: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SmbEventKind::Compressed {
                algorithm,
                header_visible,
                ..
            } => Some((*algorithm, *header_visible)),
            _ => None,
        })
        .collect();
    assert_eq!(visible, vec![(2, true), (3, true), (1, true)]);
    assert_eq!(commands_string(&rep.commands), "READ=3");
    let rd: u64 = rep.channels.iter().map(|c| c.read_bytes).sum();
    assert_eq!(rd, 12288);
}

/// Prints a capture's report (debug aid): `SMB_DUMP=zeek/smb3.pcap cargo test -p
/// hvsleuth-parsers dump_report -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump_report() {
    let f = std::env::var("SMB_DUMP").unwrap_or_else(|_| "zeek/smb3_multichannel.pcap".into());
    let r = run(&f);
    for c in &r.conns {
        println!("{:?} {:?} dialect={:?} smb={}", c.0, c.1, c.2, c.3);
    }
    let mut rep = r.model.report();
    for c in &mut rep.channels {
        c.series.truncate(5);
    }
    for s in &mut rep.sessions {
        s.files.truncate(5);
    }
    println!("{}", serde_json::to_string_pretty(&rep).unwrap());
}
