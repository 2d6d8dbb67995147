use super::*;
use std::collections::HashMap;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/");

/// (file, records, (provider-less) top event id and its count, first/last SystemTime)
/// All figures from /work/shared/corpus/SOURCES.md ("records parsed by evtx_dump
/// 0.15.1", "top (channel / provider / event id)", "time range").
const FILES: &[(&str, u64, u32, usize, &str, &str)] = &[
    (
        "evtx-rs/2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
        1910,
        148,
        398,
        "2018-08-02T04:32:33.1773324Z",
        "2018-08-07T19:35:02.3683994Z",
    ),
    (
        "evtx-rs/2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx",
        1795,
        261,
        1790,
        "2018-08-02T04:34:06.8200576Z",
        "2018-08-07T19:23:03.7535660Z",
    ),
    (
        "evtx-rs/sample-with-zero-data-size-event.evtx",
        449,
        16,
        75,
        "2015-07-10T12:22:57.9504769Z",
        "2022-10-27T10:00:00.0000000Z",
    ),
    (
        "evtx-attack-samples/LM_5145_Remote_FileCopy.evtx",
        869,
        5145,
        869,
        "2019-03-18T14:23:22.1347224Z",
        "2019-03-18T14:24:10.0636408Z",
    ),
    (
        "evtx-attack-samples/RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx",
        6,
        169,
        3,
        "2019-05-20T15:54:31.7069105Z",
        "2019-05-20T15:54:32.5649009Z",
    ),
    (
        "evtx-attack-samples/LM_winrm_target_wrmlogs_91_wsmanShellStarted_poorLog.evtx",
        1,
        91,
        1,
        "2019-05-16T01:33:54.5678966Z",
        "2019-05-16T01:33:54.5678966Z",
    ),
    (
        "evtx-attack-samples/DFIR_RDP_Client_TimeZone_RdpCoreTs_104_example.evtx",
        21,
        104,
        21,
        "2020-07-09T19:47:00.7191248Z",
        "2020-07-10T10:20:33.5605421Z",
    ),
    (
        "hayabusa-sample-evtx/smb-password-guessing-security.evtx",
        3561,
        4625,
        3561,
        "2016-09-19T16:50:06.4778789Z",
        "2016-09-19T16:52:49.3996746Z",
    ),
];

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn corpus_counts_match_evtx_dump() {
    for &(file, records, top_id, top_n, first, last) in FILES {
        let mut ids: HashMap<u32, usize> = HashMap::new();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let rep = read_evtx_path(Path::new(&format!("{CORPUS}{file}")), 2, Select::All, |e| {
            *ids.entry(e.event_id).or_default() += 1;
            lo = lo.min(e.ts_ns);
            hi = hi.max(e.ts_ns);
            assert!(e.data.len() <= MAX_DATA_ITEMS);
        })
        .unwrap();
        assert_eq!(rep.records, records, "{file}: {rep:?}");
        assert_eq!(rep.unparsed_records, 0, "{file}");
        assert_eq!(ids.get(&top_id).copied(), Some(top_n), "{file}");
        assert_eq!(
            (lo, hi),
            (
                parse_iso_time(first).unwrap(),
                parse_iso_time(last).unwrap()
            ),
            "{file}"
        );
    }
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn evtx_fields() {
    let mut first = None;
    read_evtx_path(
        Path::new(&format!("{CORPUS}{}", FILES[3].0)),
        1,
        Select::All,
        |e| {
            first.get_or_insert(e);
        },
    )
    .unwrap();
    let e = first.unwrap();
    assert_eq!(e.provider, "Microsoft-Windows-Security-Auditing");
    assert_eq!(e.channel, "Security");
    assert_eq!(e.event_id, 5145);
    assert!(e.data.iter().any(|(k, _)| k == "ShareName"), "{:?}", e.data);
}

/// The prefilter reads the same provider and ID as the full extraction on
/// every corpus record (43,060 records by six providers' templates).
#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn peek_agrees_with_full_parse_on_corpus() {
    let mut checked = 0;
    for &(file, ..) in FILES {
        let mut p = evtx::EvtxParser::from_path(format!("{CORPUS}{file}")).unwrap();
        for r in p.records_bytes().filter_map(Result::ok) {
            let full = parse_event_xml(std::str::from_utf8(&r.data).unwrap()).unwrap();
            let (provider, id) = peek_provider_id(&r.data).expect("usual form");
            assert_eq!((provider, id), (full.provider.as_str(), full.event_id));
            checked += 1;
        }
    }
    assert!(checked > 8000, "{checked}");
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn tracked_selection() {
    let fc = r#"<Event xmlns="x"><System><Provider Name="Microsoft-Windows-FailoverClustering" Guid="{1}"/><EventID Qualifiers="">5121</EventID><TimeCreated SystemTime="2026-03-10T13:00:40Z"/><Computer>n1</Computer></System><EventData><Data Name="VolumeName">V</Data></EventData></Event>"#;
    let Extracted::Event(e) = extract(fc.as_bytes(), Select::Tracked) else {
        panic!("tracked event not delivered");
    };
    assert_eq!(e.kind, Some(ClusterEventKind::CsvRedirected));
    assert_eq!(e.data, [("VolumeName".to_string(), "V".to_string())]);
    let other = fc.replace("5121", "1069");
    assert!(matches!(
        extract(other.as_bytes(), Select::Tracked),
        Extracted::Untracked
    ));
    assert!(matches!(
        extract(other.as_bytes(), Select::All),
        Extracted::Event(_)
    ));
    // Unusual forms fall back to the full parse: an escaped provider, an ID
    // split by whitespace, no provider at all.
    let escaped = fc.replace("Microsoft-Windows-FailoverClustering", "A&amp;B");
    assert_eq!(peek_provider_id(escaped.as_bytes()), None);
    let spaced = fc.replace(">5121<", "> 5121 <");
    assert_eq!(peek_provider_id(spaced.as_bytes()), None);
    assert!(matches!(
        extract(spaced.as_bytes(), Select::Tracked),
        Extracted::Event(_)
    ));
    assert_eq!(
        peek_provider_id(b"<Event><EventID>1</EventID></Event>"),
        None
    );
    assert!(matches!(
        extract(b"<Event/>", Select::Tracked),
        Extracted::Unparsed
    ));
    // Every corpus log: only tracked events come through (there are none there).
    for &(file, records, ..) in FILES {
        let mut n = 0;
        let rep = read_evtx_path(
            Path::new(&format!("{CORPUS}{file}")),
            1,
            Select::Tracked,
            |_| n += 1,
        )
        .unwrap();
        assert_eq!(
            (n, rep.records, rep.untracked),
            (0, records, records),
            "{file}"
        );
    }
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn damaged_evtx_reports_and_continues() {
    let mut bytes = std::fs::read(format!("{CORPUS}{}", FILES[0].0)).unwrap();
    // Corrupt the second chunk's header (file header 4 KiB, chunks 64 KiB).
    for b in &mut bytes[4096 + 65536..4096 + 65536 + 512] {
        *b = 0x41;
    }
    let mut n = 0u64;
    let rep = read_evtx_bytes(bytes, 1, Select::All, |_| n += 1).unwrap();
    assert!(rep.errors >= 1, "{rep:?}");
    assert!(!rep.error_samples.is_empty());
    assert!(n > 0 && n < 1910, "{n}");
    assert!(read_evtx_bytes(b"not an evtx".to_vec(), 1, Select::All, |_| {}).is_err());
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn truncated_evtx_reports_its_partial_chunk() {
    // Issue 13: a cut .evtx lost the records of its partial last chunk with
    // no message. Now the lost tail is reported (offset, bytes).
    let mut bytes = std::fs::read(format!("{CORPUS}{}", FILES[0].0)).unwrap();
    let whole = read_evtx_bytes(bytes.clone(), 1, Select::All, |_| {}).unwrap();
    assert_eq!(whole.partial_chunk, None, "{whole:?}");
    bytes.truncate(4096 + 65536 + 30_000);
    let mut n = 0u64;
    let rep = read_evtx_bytes(bytes, 1, Select::All, |_| n += 1).unwrap();
    assert_eq!(rep.partial_chunk, Some((4096 + 65536, 30_000)));
    assert!(rep.is_partial());
    assert!(n < whole.records, "{n}");
}

#[test]
fn xml_export_fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/fixtures/FailoverClustering.xml"
    );
    let mut ev = Vec::new();
    let st = read_event_xml(std::fs::File::open(path).unwrap(), |e| ev.push(e)).unwrap();
    assert_eq!(
        st,
        XmlExportStats {
            events: 4,
            unparsed: 0,
            oversized: 0
        }
    );
    let ids: Vec<u32> = ev.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, [5121, 1673, 1135, 1672]);
    use ClusterEventKind::*;
    let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            Some(CsvRedirected),
            Some(IsolationEntered),
            Some(NodeRemoved),
            Some(NodeQuarantined)
        ]
    );
    assert_eq!(ev[0].level, 2);
    assert_eq!(ev[0].channel, "System");
    assert_eq!(
        ev[3].data[1],
        (
            "QuarantineEnd".to_string(),
            "2026/03/10-15:31:07.812".to_string()
        )
    );
    assert!(
        ev[3]
            .message_hint
            .as_deref()
            .unwrap()
            .contains("has been quarantined")
    );
    assert!(ev[1].message_hint.as_deref().unwrap().contains("'node3'"));
}

#[test]
fn xml_export_forms() {
    // wevtutil qe /f:xml: bare <Event> elements, split over reads; UTF-16LE with BOM.
    let one = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-SMBClient"/><EventID>30703</EventID><Level>3</Level><TimeCreated SystemTime="2026-03-10T13:00:40Z"/></System><EventData><Data Name="Reason">x</Data></EventData></Event>"#;
    let doc = format!(
        "{one}\r\n{}\r\n<Event><System></System></Event>",
        one.replace("30703", "30810")
    );
    let mut u16 = vec![0xff, 0xfe];
    for u in doc.encode_utf16() {
        u16.extend_from_slice(&u.to_le_bytes());
    }
    for bytes in [doc.as_bytes().to_vec(), u16] {
        let mut ev = Vec::new();
        let st = read_event_xml(&bytes[..], |e| ev.push(e)).unwrap();
        assert_eq!(
            st,
            XmlExportStats {
                events: 3,
                unparsed: 1,
                oversized: 0
            }
        );
        assert_eq!(ev[0].kind, Some(ClusterEventKind::SmbMultichannel));
        assert_eq!(ev[1].kind, Some(ClusterEventKind::SmbConnectivity));
    }
}

/// Opens with no close: the search for `</Event>` resumes where the last one
/// stopped, so a 9 MB run of `<Event ` (one open every 7 bytes, no close) is
/// one linear pass, where searching again from every open scanned the rest of
/// a 4 MiB buffer 600,000 times. The event after the run is still delivered.
#[test]
fn opens_without_close_stay_linear() {
    let mut b = b"<Events>".to_vec();
    b.extend(std::iter::repeat_n(&b"<Event "[..], 9 << 20 >> 3).flatten());
    let tail = b"</Events><Event xmlns='x'><System><Provider Name='P'/><EventID>7</EventID></System></Event>";
    b.extend_from_slice(tail);
    let mut ids = Vec::new();
    let st = read_event_xml(&b[..], |e| ids.push(e.event_id)).unwrap();
    assert!(st.oversized >= 1, "{st:?}");
    // The last `<Event ` of the run opens the element the tail closes.
    assert!(st.events >= 1, "{st:?}");
}

/// An element split across many reads is searched once for its close.
#[test]
fn element_across_reads() {
    let mut b =
        b"<Event><System><Provider Name='P'/><EventID>9</EventID></System><EventData><Data>"
            .to_vec();
    b.extend(std::iter::repeat_n(b'x', 3 << 20));
    b.extend_from_slice(b"</Data></EventData></Event>");
    let mut ids = Vec::new();
    let st = read_event_xml(&b[..], |e| ids.push(e.event_id)).unwrap();
    assert_eq!((st.events, st.oversized, ids), (1, 0, vec![9]));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn xml_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let _ = read_event_xml(&bytes[..], |_| {});
            let _ = parse_event_xml(&String::from_utf8_lossy(&bytes));
            let _ = read_event_csv(&bytes[..], 0, |_| {});
        }

        #[test]
        fn mutated_xml_fixture(pos in 0usize..4843, byte in any::<u8>(), cut in 0usize..5000) {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/fixtures/FailoverClustering.xml");
            let mut b = std::fs::read(path).unwrap();
            if let Some(x) = b.get_mut(pos) { *x = byte; }
            b.truncate(cut);
            let st = read_event_xml(&b[..], |_| {}).unwrap();
            prop_assert!(st.events <= 5);
        }

        #[test]
        fn evtx_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
            let mut b = b"ElfFile\0".to_vec();
            b.extend_from_slice(&bytes);
            let _ = read_evtx_bytes(b, 1, Select::All, |_| {});
        }
    }
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn mutated_evtx_corpus_never_panics() {
    // Deterministic byte flips across a small real file (a cheap stand-in for fuzzing).
    let orig = std::fs::read(format!("{CORPUS}{}", FILES[4].0)).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..40 {
        let mut b = orig.clone();
        for _ in 0..64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % b.len() as u64) as usize;
            b[i] = (seed >> 32) as u8;
        }
        let _ = read_evtx_bytes(b, 1, Select::All, |_| {});
    }
}
