use super::*;
use crate::model::{Finding, Severity, TimelineEvent};
use crate::sample::{synthetic_diff, synthetic_report};

#[test]
fn golden_ish_report() {
    let data = synthetic_report();
    let html = render_html(&data);
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Findings come first, critical before high.
    let cards = html.find("<section id=\"findings\">").unwrap();
    assert!(
        html.find("<p class=\"verdict\">").unwrap() < cards,
        "the verdict heads the page"
    );
    let crit = cards
        + html[cards..]
            .find("CSV redirected IO saturates the management network")
            .unwrap();
    let high = cards
        + html[cards..]
            .find("Cluster heartbeats late on the management network")
            .unwrap();
    let node = html.find("Node HV01").unwrap();
    assert!(crit < high && high < node);
    assert!(html.contains("<span class=\"badge sev-critical\">critical</span>"));
    assert!(
        html.contains("New-SmbMultichannelConstraint -ServerName HV01 -InterfaceAlias Cluster")
    );
    assert!(html.contains("<code>tcp.port &#61;&#61; 445 &amp;&amp; ip.src &#61;&#61; 10.0.0.12"));
    assert!(html.contains("2013-07-23 14:02:00.000 → 14:02:30.000Z"));
    // 9 interface charts inline, 14 charts in all.
    let ifaces = data.interfaces.len();
    assert_eq!(ifaces, 9);
    let iface_svgs = html
        .matches("<figure class=\"chart\" id=\"chart-hv0")
        .count();
    assert_eq!(iface_svgs, 9);
    assert_eq!(html.matches("<svg").count(), 14);
    // No external resources, no scripts.
    for bad in [
        "<script", "http://", "https://", "src=", "<link", "@import", "url(",
    ] {
        let hits: Vec<_> = html
            .match_indices(bad)
            .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
            .collect();
        assert!(hits.is_empty(), "{bad} in output");
    }
    // Void elements are self-closed, so the page (after the doctype) is well-formed XML.
    crate::testutil::check_xml(&html[html.find("<html").unwrap()..])
        .unwrap_or_else(|e| panic!("unbalanced: {e}"));
}

fn hostile() -> Vec<String> {
    vec![
        "<script>alert(1)</script>".into(),
        "\"><img src=x onerror=alert(1)>".into(),
        "'quoted' \"double\" & amp".into(),
        "nul\u{0}esc\u{1b}[31mred\r\u{7f}".into(),
        "x".repeat(5000),
        "abc\u{202E}fdp.exe".into(),
    ]
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    for s in hostile() {
        let mut data = synthetic_report();
        data.title = s.clone();
        data.generator = s.clone();
        data.inputs.push(s.clone());
        data.interfaces[3].node = s.clone();
        data.interfaces[4].interface = s.clone();
        data.interfaces[5].capture = s.clone();
        data.interfaces[5].addresses = vec![s.clone()];
        data.findings.push(Finding {
            id: s.clone(),
            severity: Severity::Medium,
            title: s.clone(),
            node: Some(s.clone()),
            interface: Some(s.clone()),
            window_start_ns: Some(i64::MIN),
            window_end_ns: Some(i64::MAX),
            summary: s.clone(),
            evidence: vec![(s.clone(), s.clone())],
            tshark_filter: Some(s.clone()),
            remediation: vec![s.clone()],
            note: Some(s.clone()),
            also: Vec::new(),
        });
        data.heartbeats[0].network = s.clone();
        data.heartbeats[0].from = s.clone();
        data.timeline.push(TimelineEvent {
            ts_ns: 0,
            source: s.clone(),
            node: Some(s.clone()),
            text: s.clone(),
        });
        data.inferred.push((s.clone(), s.clone(), f32::NAN));
        let html = render_html(&data);
        for bad in [
            "<script", "onerror=", "<img", "\u{202E}", "\u{0}", "\u{1b}", "\u{7f}", "\r",
        ] {
            assert!(
                !html.contains(bad),
                "{bad:?} leaked for input {:?}",
                &s[..s.len().min(40)]
            );
        }
        assert!(html.contains("</html>"));
        crate::testutil::check_xml(&html[html.find("<html").unwrap()..]).unwrap();
        assert_eq!(
            html.matches("class=\"chart-error\"").count(),
            0,
            "a chart failed"
        );
        let diff = crate::sample::diff_of(data.clone(), synthetic_report());
        let dh = render_diff_html(&diff);
        for bad in ["<script", "onerror=", "<img", "\u{202E}", "\u{0}", "\u{1b}"] {
            assert!(!dh.contains(bad), "{bad:?} leaked in diff");
        }
    }
}

#[test]
fn empty_report_renders() {
    let html = render_html(&crate::model::ReportData::default());
    assert!(html.contains("No findings."));
    assert!(html.contains("</html>"));
    let d = render_diff_html(&crate::model::DiffData::default());
    assert!(d.contains("No findings before or after."));
}

#[test]
fn diff_page_shows_resolution() {
    let diff = synthetic_diff();
    let h = render_diff_html(&diff);
    assert!(h.contains("<span class=\"badge status-resolved\">resolved</span>"));
    assert!(h.contains("HVS001"));
    // The management NIC's redirected IO goes away: a decrease row.
    let row = h.find("HV02 / Management</td><td><span class=\"sw\" style=\"background:rgb(214,39,40)\"></span>redirected-io").unwrap();
    assert!(
        h[row..]
            .split("</tr>")
            .next()
            .unwrap()
            .contains("class=\"num good\">−100.0%")
    );
    assert_eq!(h.matches("<svg").count(), 9);
    crate::testutil::check_xml(&h[h.find("<html").unwrap()..]).unwrap();
}
