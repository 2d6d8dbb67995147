use super::*;

const CSV: &str = concat!(
    "\"(PDH-CSV 4.0) (Pacific Standard Time)(480)\",\"\\\\N1\\Network Interface(Intel[R] Ethernet, #2)\\Bytes Total/sec\",\"\\\\N1\\Processor(_Total)\\% Processor Time\"\r\n",
    "\"03/08/2026 01:59:59.500\",\" \",\"3.5\"\r\n",
    "\"03/08/2026 03:00:00.500\",\"1000\",\"\"\r\n",
    "\"03/08/2026 03:00:00.500\",\"2e3\",\"x\"\r\n",
    "garbage\r\n",
    "\"03/08/2026 03:00:01.000\",\"5\"\r\n",
    "\"03/08/2026 03:00:02.000\",\"5\",\"6\",\"7\"\r\n",
);

type Rows = Vec<(i64, Vec<Option<f64>>)>;

fn collect(bytes: &[u8]) -> (PerfmonHeader, Rows, PerfmonStats) {
    let r = PerfmonReader::new(bytes).unwrap();
    let h = r.header().clone();
    let mut rows = Vec::new();
    let stats = r.for_each_row(|t, v| rows.push((t, v.to_vec()))).unwrap();
    (h, rows, stats)
}

#[test]
fn reads_csv_with_bias_and_missing() {
    let (h, rows, st) = collect(CSV.as_bytes());
    assert_eq!(h.bias_minutes, 480);
    assert_eq!(
        h.counters[0].instance.as_deref(),
        Some("Intel[R] Ethernet, #2")
    );
    assert_eq!(rows.len(), 5);
    // 2026-03-08 01:59:59.5 local + 480 min = 09:59:59.5 UTC;
    // `date -u -d '2026-03-08 09:59:59' +%s` = 1772963999
    assert_eq!(rows[0].0, 1_772_963_999_500_000_000);
    assert_eq!(rows[0].1, vec![None, Some(3.5)]);
    assert_eq!(rows[1].1, vec![Some(1000.0), None]);
    assert_eq!(rows[2].1, vec![Some(2000.0), None]);
    assert_eq!(rows[3].1, vec![Some(5.0), None]);
    assert_eq!(st.rows, 5);
    assert_eq!(st.bad_rows, 1);
    assert_eq!(st.non_monotonic, 1);
    assert_eq!(st.short_rows, 1);
    assert_eq!(st.long_rows, 1);
    assert_eq!(st.missing_values, 2);
    assert_eq!(st.unparsable_values, 1);
}

#[test]
fn tsv_utf16_and_bom() {
    let tsv = CSV
        .replace("\",\"", "\"\t\"")
        .replace("(PDH-CSV", "(PDH-TSV");
    let mut u16 = vec![0xff, 0xfe];
    for u in tsv.encode_utf16() {
        u16.extend_from_slice(&u.to_le_bytes());
    }
    let (h, rows, st) = collect(&u16);
    let (h0, rows0, st0) = collect(CSV.as_bytes());
    assert_eq!(h.format, "PDH-TSV 4.0");
    assert_eq!(
        (h.counters.clone(), rows.clone(), st),
        (h0.counters.clone(), rows0.clone(), st0)
    );
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend_from_slice(CSV.as_bytes());
    let (_, rows2, _) = collect(&bom);
    assert_eq!(rows2, rows0);
}

#[test]
fn times() {
    // `date -u -d '2026-11-01 01:30:00' +%s` = 1793496600
    assert_eq!(
        parse_pdh_time(b"11/01/2026 01:30:00.000"),
        Some(1_793_496_600_000_000_000)
    );
    assert_eq!(
        parse_pdh_time(b"11/01/2026 01:30:00"),
        Some(1_793_496_600_000_000_000)
    );
    assert_eq!(parse_pdh_time(b"02/29/2025 00:00:00.000"), None);
    assert_eq!(parse_pdh_time(b"13/01/2026 00:00:00.000"), None);
    assert_eq!(parse_pdh_time(b"2026-01-01 00:00:00"), None);
    // Outside what i64 nanoseconds can hold (regression: found by proptest).
    assert_eq!(parse_pdh_time(b"12/31/9999 23:59:59.999"), None);
    assert!(parse_pdh_time(b"12/31/2261 23:59:59.999").is_some());
    assert_eq!(parse_pdh_time("01/01/2026 00:00:00.é".as_bytes()), None);
}

#[test]
#[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
fn errors() {
    assert!(matches!(
        PerfmonReader::new(&b""[..]),
        Err(PerfmonError::Empty)
    ));
    assert!(matches!(
        PerfmonReader::new(&b"a,b\n"[..]),
        Err(PerfmonError::Header(_))
    ));
    let blg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/pal/SampleLog.blg"
    ))
    .unwrap();
    let e = PerfmonReader::new(&blg[..]).err().unwrap();
    assert!(matches!(e, PerfmonError::Blg));
    assert!(e.to_string().contains("relog file.blg -f csv -o file.csv"));
}

#[test]
fn restore_flood_fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/fixtures/perfmon-restore-flood.csv"
    );
    let r = PerfmonReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.bias_minutes, -60);
    let redirected: Vec<usize> = h
        .counters
        .iter()
        .enumerate()
        .filter(|(_, c)| classify(c).role == Some(CounterRole::RedirectedIo) && c.host == "node2")
        .map(|(i, _)| i)
        .collect();
    let rdma: Vec<usize> = h
        .counters
        .iter()
        .enumerate()
        .filter(|(_, c)| classify(c).role == Some(CounterRole::Rdma))
        .map(|(i, _)| i)
        .collect();
    assert!(!redirected.is_empty() && !rdma.is_empty());
    let unknown = h
        .counters
        .iter()
        .filter(|c| classify(c).role.is_none())
        .count();
    assert!(unknown >= 1, "fixture keeps an unknown counter");
    let (mut high, mut rdma_nonzero, mut first) = (0, 0, None);
    let st = r
        .for_each_row(|t, v| {
            first.get_or_insert(t);
            if redirected.iter().any(|&i| v[i].unwrap_or(0.0) > 50e6) {
                high += 1;
            }
            if rdma.iter().any(|&i| v[i].unwrap_or(0.0) > 0.0) {
                rdma_nonzero += 1;
            }
        })
        .unwrap();
    assert!(
        (25..=35).contains(&high),
        "{high} rows of high redirected IO"
    );
    assert!(rdma_nonzero > 0);
    assert!(st.missing_values > 0);
    assert_eq!((st.bad_rows, st.non_monotonic), (0, 0));
    // First row 03/10/2026 14:00:00.000 local, bias -60 -> 13:00:00 UTC;
    // `date -u -d '2026-03-10 13:00:00' +%s` = 1773147600
    assert_eq!(first, Some(1_773_147_600_000_000_000));
}

/// Renders a PDH-CSV file the way relog writes it.
fn render(bias: i32, counters: &[CounterPath], rows: &[(i64, Vec<Option<f64>>)]) -> String {
    let mut s = format!("\"(PDH-CSV 4.0) (Test Zone)({bias})\"");
    for c in counters {
        s.push_str(&format!(",\"{}\"", c.to_pdh().replace('"', "\"\"")));
    }
    s.push_str("\r\n");
    for (local_s, vals) in rows {
        let days = local_s.div_euclid(86_400);
        let sod = local_s.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        s.push_str(&format!(
            "\"{m:02}/{d:02}/{y:04} {:02}:{:02}:{:02}.000\"",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        ));
        for v in vals {
            match v {
                Some(v) => s.push_str(&format!(",\"{v:?}\"")),
                None => s.push_str(",\" \""),
            }
        }
        s.push_str("\r\n");
    }
    s
}

/// Inverse of days_from_civil (Hinnant), for the round-trip test only.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9 ,._\\[\\]-]{0,12}".prop_map(|s| s.trim_end().to_string() + "x")
    }

    fn path() -> impl Strategy<Value = CounterPath> {
        (
            name(),
            name(),
            proptest::option::of(name()),
            proptest::option::of(1u32..50),
            name(),
        )
            .prop_map(|(host, object, instance, idx, counter)| CounterPath {
                host,
                object: object.replace(['(', ')'], ""),
                instance_index: instance.as_ref().and(idx),
                instance,
                counter,
            })
    }

    proptest! {
        #[test]
        fn roundtrip(
            bias in -720i32..=720,
            counters in proptest::collection::vec(path(), 1..6),
            start in 0i64..4_000_000_000,
            steps in proptest::collection::vec((0i64..5000, proptest::collection::vec(proptest::option::of(-1e12f64..1e12), 6)), 0..20),
        ) {
            let n = counters.len();
            let mut t = start;
            let rows: Vec<(i64, Vec<Option<f64>>)> = steps.into_iter().map(|(dt, mut v)| { t += dt; v.truncate(n); (t, v) }).collect();
            let text = render(bias, &counters, &rows);
            let (h, got, st) = collect(text.as_bytes());
            prop_assert_eq!(h.bias_minutes, bias);
            prop_assert_eq!(&h.counters, &counters);
            prop_assert_eq!(got.len(), rows.len());
            for ((ts, v), (local, want)) in got.iter().zip(&rows) {
                prop_assert_eq!(*ts, (local + i64::from(bias) * 60) * 1_000_000_000);
                prop_assert_eq!(v, want);
            }
            prop_assert_eq!(st.bad_rows, 0);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(r) = PerfmonReader::new(&bytes[..]) {
                let _ = r.for_each_row(|_, _| {});
            }
        }

        #[test]
        fn mutated_csv_never_panics(pos in 0usize..600, byte in any::<u8>(), cut in 0usize..700) {
            let mut b = CSV.as_bytes().to_vec();
            if let Some(x) = b.get_mut(pos) { *x = byte; }
            b.truncate(cut);
            if let Ok(mut r) = PerfmonReader::new(&b[..]) {
                let n = r.header().counters.len();
                while let Ok(Some(row)) = r.next_row() {
                    prop_assert_eq!(row.values.len(), n);
                }
            }
        }
    }
}

#[test]
fn a_file_cut_inside_a_row_is_reported_and_the_short_row_skipped() {
    let text = format!("{CSV}\"03/08/2026 03:00:03.000\",\"1\",\"2\"\r\n");
    let full = text.as_bytes();
    assert!(!collect(full).2.truncated_tail);
    // Cut inside the last row (1 of its 2 counter cells): skipped, reported.
    let cut = &full[..full.len() - 6];
    let (_, rows_cut, st) = collect(cut);
    let (_, rows_full, st_full) = collect(full);
    assert!(st.truncated_tail);
    assert_eq!(rows_cut.len(), rows_full.len() - 1);
    assert_eq!(st.bad_rows, st_full.bad_rows + 1);
    // A last row with every cell but no line end is kept (and reported).
    let no_eol = &full[..full.len() - 2];
    let (_, rows, st) = collect(no_eol);
    assert!(st.truncated_tail);
    assert_eq!(rows.len(), rows_full.len());
}
