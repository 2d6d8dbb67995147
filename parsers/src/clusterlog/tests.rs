use super::*;

#[test]
fn line_heads() {
    let e =
        parse_line("00000b84.00000e6c::2026/03/10-13:00:41.118 WARN  [DCM] Volume1 redirected  ")
            .unwrap();
    assert_eq!(
        (e.pid, e.tid, e.level, e.component, e.text),
        (
            0xb84,
            0xe6c,
            LogLevel::Warn,
            Some("DCM"),
            "Volume1 redirected"
        )
    );
    // `date -u -d '2026-03-10 13:00:41' +%s` = 1773147641
    assert_eq!(e.ts_ns, 1_773_147_641_118_000_000);
    // Windows 2000 form: no level, short ids.
    let e =
        parse_line("378.380::1999/06/09-18:00:50.881 [NM] Forming cluster membership.").unwrap();
    assert_eq!(
        (e.pid, e.level, e.component, e.text),
        (
            0x378,
            LogLevel::None,
            Some("NM"),
            "Forming cluster membership."
        )
    );
    let e =
        parse_line("00000001.00000002::2026/03/10-13:00:41.118 ERR   no component here").unwrap();
    assert_eq!(
        (e.level, e.component, e.text),
        (LogLevel::Err, None, "no component here")
    );
    let e = parse_line("[System] 00000000.00000000::2026/03/10-13:00:41 INFO [X] y").unwrap();
    assert_eq!(e.ts_ns, 1_773_147_641_000_000_000);
    let e = parse_line("00000f1c.00001a2c::2020/05/12-21:17:46.284 INFO  [CHANNEL 10.0.1.13:~49258~] graceful close").unwrap();
    assert_eq!(
        (e.component, e.text),
        (Some("CHANNEL 10.0.1.13:~49258~"), "graceful close")
    );
    assert!(parse_line("[=== System ===]").is_none());
    assert!(parse_line("    continuation").is_none());
    assert!(parse_line("zz.1::2026/03/10-13:00:41.118 INFO").is_none());
    assert!(parse_line("1.1::2026/02/30-13:00:41.118 INFO").is_none());
    assert!(parse_line("1.1::2026/03/10-13:00:41.").is_none());
}

#[test]
fn fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/fixtures/cluster.log"
    );
    let f = std::fs::File::open(path).unwrap();
    let mut ev = Vec::new();
    let st = read_cluster_log(f, &ClusterLogOptions::default(), |e| ev.push(e)).unwrap();
    assert_eq!(st.lines, 31);
    assert_eq!(st.entries, 26);
    assert_eq!(st.classified, 19);
    assert_eq!(st.unclassified, 7);
    assert_eq!(st.continuation_lines, 2);
    assert_eq!(st.other_lines, 3);
    assert_eq!(st.time_going_back, 1, "the System section restarts earlier");
    let kinds: Vec<ClusterLogKind> = ev.iter().map(|e| e.kind).collect();
    use ClusterLogKind::*;
    assert_eq!(
        kinds,
        [
            CsvStateChange,
            CsvRedirected,
            Gum,
            Gum,
            RouteDown,
            RouteDown,
            RouteDown,
            RouteUp,
            CsvStateChange,
            RouteDown,
            Regroup,
            NodeDown,
            Isolation,
            NodeDown,
            Isolation,
            NodeUp,
            Quarantine,
            CsvPaused,
            NodeDown
        ]
    );
    assert!(ev[1].text.ends_with("-VOLUME1$"), "{}", ev[1].text);
    assert_eq!(ev[1].text.lines().count(), 3);
    assert_eq!(ev[1].line, 8);
    assert_eq!(ev[4].component.as_deref(), Some("IM"));
    // Local-time option: the same file read as CET (+60) is an hour earlier in UTC.
    let f = std::fs::File::open(path).unwrap();
    let mut first = None;
    let opts = ClusterLogOptions {
        utc_offset_minutes: 60,
        keep_unclassified: true,
    };
    let st = read_cluster_log(f, &opts, |e| {
        first.get_or_insert(e.ts_ns);
    })
    .unwrap();
    assert_eq!(st.entries, 26);
    // `date -u -d '2026-03-10 12:00:00.102' +%s` = 1773144000
    assert_eq!(first, Some(1_773_144_000_102_000_000));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let _ = read_cluster_log(&bytes[..], &ClusterLogOptions { utc_offset_minutes: 0, keep_unclassified: true }, |_| {});
        }

        #[test]
        fn any_line(s in "\\PC{0,120}") {
            let _ = parse_line(&s);
        }

        #[test]
        fn mutated_fixture(pos in 0usize..4000, byte in any::<u8>(), cut in 0usize..4200) {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/fixtures/cluster.log");
            let mut b = std::fs::read(path).unwrap();
            if let Some(x) = b.get_mut(pos) { *x = byte; }
            b.truncate(cut);
            let st = read_cluster_log(&b[..], &ClusterLogOptions::default(), |e| assert!(e.text.len() <= MAX_EVENT_TEXT)).unwrap();
            prop_assert!(st.entries <= st.lines);
        }

        #[test]
        fn generated_lines_parse(pid in any::<u32>(), tid in any::<u32>(), y in 1990i64..2100, mo in 1u32..=12, d in 1u32..=28,
                                 h in 0u32..24, mi in 0u32..60, s in 0u32..60, ms in 0u32..1000,
                                 comp in "[A-Z]{2,6}", text in "[a-zA-Z0-9 .:]{0,40}") {
            let line = format!("{pid:08x}.{tid:08x}::{y:04}/{mo:02}/{d:02}-{h:02}:{mi:02}:{s:02}.{ms:03} INFO  [{comp}] {text}");
            let e = parse_line(&line).unwrap();
            prop_assert_eq!((e.pid, e.tid, e.component), (pid, tid, Some(comp.as_str())));
            prop_assert_eq!(e.text, text.trim());
            let want = (crate::civil::days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s)) * 1_000_000_000 + i64::from(ms) * 1_000_000;
            prop_assert_eq!(e.ts_ns, want);
        }
    }
}

#[test]
fn a_file_cut_inside_a_line_is_reported() {
    let log = "00000e10.00001a2c::2026/03/08-10:00:00.000 INFO  [NM] Received request from client address node2.\r\n\
               00000e10.00001a2c::2026/03/08-10:00:01.000 WARN  [NM] Connectivity lost\r\n";
    let opts = ClusterLogOptions::default();
    let st = read_cluster_log(log.as_bytes(), &opts, |_| {}).unwrap();
    assert!(!st.truncated_tail);
    let cut = &log.as_bytes()[..log.len() - 10];
    let st = read_cluster_log(cut, &opts, |_| {}).unwrap();
    assert!(st.truncated_tail);
    assert_eq!(st.entries, 2);
    assert_eq!(st.bytes, cut.len() as u64);
}
