use super::*;
use crate::model::{HeartbeatSeries, InterfaceData, RoleTotal, TimelineEvent};
use crate::sample::synthetic_report;
use crate::testutil::check_xml;

type Series = Vec<(i64, [f64; 6])>;

fn iface(series: Vec<(i64, [f64; 6])>, link: Option<u64>) -> InterfaceData {
    InterfaceData {
        node: "n".into(),
        interface: "i".into(),
        capture: String::new(),
        addresses: vec![],
        link_bps: link,
        wire_bytes: 0,
        roles: vec![RoleTotal {
            role: crate::Role::Other,
            bytes: 1,
            peak_bps: 1,
        }],
        series,
    }
}

fn report_with(interfaces: Vec<InterfaceData>, bucket_ns: i64) -> ReportData {
    ReportData {
        interfaces,
        bucket_ns,
        ..Default::default()
    }
}

fn assert_svg_ok(c: &Chart) {
    assert!(c.error.is_none(), "{}: {:?}", c.slug, c.error);
    let svg = c.svg.as_deref().unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    check_xml(svg).unwrap_or_else(|e| panic!("{}: {e}", c.slug));
}

#[test]
fn edge_cases_render_valid_svg_and_png() {
    let t0 = 1_374_588_000_000_000_000i64;
    let v = [1e6, 0.0, 0.0, 0.0, 2e6, 0.0];
    let cases: Vec<(&str, Series, Option<u64>, i64)> = vec![
        ("empty", vec![], Some(1_000_000_000), 1_000_000_000),
        ("single", vec![(t0, v)], Some(1_000_000_000), 1_000_000_000),
        (
            "zero-link",
            (0..10).map(|i| (t0 + i * 1_000_000_000, v)).collect(),
            Some(0),
            1_000_000_000,
        ),
        (
            "no-link",
            (0..10).map(|i| (t0 + i * 1_000_000_000, v)).collect(),
            None,
            1_000_000_000,
        ),
        (
            "1ms",
            (0..5000).map(|i| (t0 + i * 1_000_000, v)).collect(),
            Some(10),
            1_000_000,
        ),
        (
            "1h",
            (0..48).map(|i| (t0 + i * 3_600_000_000_000, v)).collect(),
            Some(1),
            3_600_000_000_000,
        ),
        (
            "zero-bucket",
            (0..3).map(|i| (t0 + i * 7, v)).collect(),
            Some(1),
            0,
        ),
        (
            "all-zero",
            (0..3).map(|i| (t0 + i * 1_000_000_000, [0.0; 6])).collect(),
            Some(1_000_000_000),
            1_000_000_000,
        ),
        (
            "hostile",
            vec![
                (i64::MIN, [f64::NAN; 6]),
                (i64::MAX, [f64::INFINITY, -1.0, 1e300, 0.0, 0.0, 0.0]),
            ],
            Some(u64::MAX),
            -5,
        ),
    ];
    for (name, series, link, bucket) in cases {
        let data = report_with(vec![iface(series, link)], bucket);
        let charts = render_report_charts(&data, &ChartOptions::default(), Formats::BOTH);
        for c in &charts {
            assert_svg_ok(c);
            let png = c.png.as_deref().unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        }
    }
}

#[test]
fn heartbeats_timeline_and_empty_render() {
    let hb = |arr: Vec<i64>| HeartbeatSeries {
        from: "a".into(),
        to: "b".into(),
        network: "<net>".into(),
        arrivals_ns: arr,
    };
    let data = ReportData {
        heartbeats: vec![
            hb(vec![]),
            hb(vec![5]),
            hb((0..100_000).map(|i| i * 1_000_000_000).collect()),
            hb(vec![i64::MIN, i64::MAX]),
        ],
        timeline: vec![
            TimelineEvent {
                ts_ns: 0,
                source: "x\u{0}".into(),
                node: None,
                text: "<b>&\u{1b}".into(),
            },
            TimelineEvent {
                ts_ns: 0,
                source: "y".into(),
                node: None,
                text: "same time".into(),
            },
        ],
        ..Default::default()
    };
    let charts = render_report_charts(&data, &ChartOptions::default(), Formats::SVG);
    assert_eq!(
        charts.len(),
        2,
        "{:?}",
        charts.iter().map(|c| &c.slug).collect::<Vec<_>>()
    );
    for c in &charts {
        assert_svg_ok(c);
    }
    // Bad thresholds don't panic.
    let opts = ChartOptions {
        width: 10,
        hb_warn_s: f64::NAN,
        hb_fail_s: -1.0,
    };
    for c in render_report_charts(&data, &opts, Formats::BOTH) {
        assert_svg_ok(&c);
    }
}

#[test]
fn synthetic_report_charts() {
    let data = synthetic_report();
    let charts = render_report_charts(&data, &ChartOptions::default(), Formats::SVG);
    // 9 interfaces + role share + 2 heartbeat pairs + live migration + timeline.
    assert_eq!(
        charts.len(),
        14,
        "{:?}",
        charts.iter().map(|c| &c.slug).collect::<Vec<_>>()
    );
    for c in &charts {
        assert_svg_ok(c);
    }
    let mgmt = charts.iter().find(|c| c.slug == "hv02-management").unwrap();
    let svg = mgmt.svg.as_deref().unwrap();
    // The redirected-io layer (red) and the link label are there.
    assert!(svg.contains("#D62728"), "no red layer");
    assert!(svg.contains("link 1.00 Gb/s"));
    assert!(svg.contains("HV02 / Management"));
}

#[test]
fn hostile_labels_are_clean_in_svg() {
    let mut f = iface(vec![(0, [1.0; 6])], Some(1));
    f.node = "<script>alert(1)</script>\u{0}\u{1b}\u{202E}".into();
    f.interface = "\"><img src=x onerror=alert(1)>".into();
    let data = report_with(vec![f], 1);
    for c in render_report_charts(&data, &ChartOptions::default(), Formats::SVG) {
        assert_svg_ok(&c);
        let svg = c.svg.unwrap();
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("onerror="));
        assert!(!svg.contains('\u{202E}'));
    }
}

#[test]
fn diff_charts_render() {
    let diff = crate::sample::synthetic_diff();
    let charts = render_diff_charts(&diff, &ChartOptions::default(), Formats::SVG);
    assert_eq!(charts.len(), 9);
    for c in &charts {
        assert_svg_ok(c);
    }
    let empty = render_diff_charts(
        &DiffData::default(),
        &ChartOptions::default(),
        Formats::BOTH,
    );
    assert!(empty.is_empty());
}
