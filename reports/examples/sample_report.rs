//! Writes the synthetic incident report (and the restore-flood vs
//! restore-constrained diff) and prints how long the charts take.
//!
//! `cargo run -p hvsleuth-reports --example sample_report -- <out-dir>`
//! writes `<out-dir>/report/` and `<out-dir>/diff/`. With `--hostile` as the
//! second argument, node/interface/finding strings are replaced by injection
//! attempts, control characters and very long names (to eyeball the escaping);
//! with `--edge`, the interfaces are edge cases (1 h capture at 1 s, 2 s at
//! 1 ms, a single bucket, an empty series, zero link speed).

use std::path::PathBuf;
use std::time::Instant;

use hvsleuth_reports::charts::{ChartOptions, Formats, render_report_charts};
use hvsleuth_reports::sample::{synthetic_diff, synthetic_report};
use hvsleuth_reports::{write_diff_dir, write_report_dir};

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "sample-report".into()),
    );
    let mut data = synthetic_report();
    match std::env::args().nth(2).as_deref() {
        Some("--hostile") => make_hostile(&mut data),
        Some("--edge") => data = edge_cases(),
        _ => {}
    }
    let w = write_report_dir(&out.join("report"), &data)?;
    println!(
        "report: {} ({} chart files, {} bytes in all); charts rendered (SVG+PNG, parallel) in {:.1} ms",
        w.html.display(),
        w.charts.len(),
        w.total_bytes,
        w.chart_time.as_secs_f64() * 1e3
    );
    for (slug, e) in &w.chart_errors {
        println!("chart {slug} failed: {e}");
    }
    let d = write_diff_dir(&out.join("diff"), &synthetic_diff())?;
    println!(
        "diff: {} ({} chart files); charts in {:.1} ms",
        d.html.display(),
        d.charts.len(),
        d.chart_time.as_secs_f64() * 1e3
    );

    // Benchmark-ish: all 14 charts of the 9-interface report, best of 5.
    let opts = ChartOptions::default();
    for (name, f) in [
        ("svg", Formats::SVG),
        ("png", Formats::PNG),
        ("svg+png", Formats::BOTH),
    ] {
        let mut best = f64::INFINITY;
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let charts = render_report_charts(&data, &opts, f);
            best = best.min(t.elapsed().as_secs_f64());
            n = charts.len();
        }
        println!(
            "render {n} charts ({name}), {} rayon threads: best of 5 {:.1} ms",
            rayon::current_num_threads(),
            best * 1e3
        );
    }
    Ok(())
}

fn make_hostile(d: &mut hvsleuth_reports::ReportData) {
    let evil = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "nul\u{0}esc\u{1b}[31m'q'",
        "abc\u{202E}fdp.exe",
    ];
    let long = "VeryLongInterfaceName-".repeat(12);
    d.title = evil[0].into();
    d.interfaces[3].node = evil[0].into();
    d.interfaces[4].node = evil[0].into();
    d.interfaces[5].node = evil[0].into();
    d.interfaces[3].interface = evil[1].into();
    d.interfaces[4].interface = long.clone();
    d.interfaces[5].interface = evil[3].into();
    d.findings[0].title = evil[1].into();
    d.findings[0].node = Some(evil[0].into());
    d.findings[0].interface = Some(evil[1].into());
    d.findings[0].evidence.push((evil[2].into(), long));
    d.findings[0].remediation.push(evil[0].into());
    d.heartbeats[0].network = evil[2].into();
    d.timeline[0].text = evil[1].into();
}

fn edge_cases() -> hvsleuth_reports::ReportData {
    use hvsleuth_reports::sample::T0_NS;
    let mut d = synthetic_report();
    let base = d.interfaces[0].clone();
    let mk = |name: &str, series: Vec<(i64, [f64; 6])>, link: Option<u64>| {
        let mut f = base.clone();
        f.interface = name.into();
        f.series = series;
        f.link_bps = link;
        f
    };
    let wave = |i: i64| {
        let x = (i as f64 / 97.0).sin().abs();
        [4e8 * x, 0.0, 1e8, 1e6, 5e6 * (1.0 - x), 1e5]
    };
    d.interfaces = vec![
        mk(
            "1h-at-1s",
            (0..3600)
                .map(|i| (T0_NS + i * 1_000_000_000, wave(i)))
                .collect(),
            Some(1_000_000_000),
        ),
        mk(
            "2s-at-1ms",
            (0..2000)
                .map(|i| (T0_NS + i * 1_000_000, wave(i)))
                .collect(),
            Some(10_000_000_000),
        ),
        mk(
            "single-bucket",
            vec![(T0_NS, wave(50))],
            Some(1_000_000_000),
        ),
        mk("empty", vec![], Some(1_000_000_000)),
        mk(
            "zero-link",
            (0..60)
                .map(|i| (T0_NS + i * 1_000_000_000, wave(i)))
                .collect(),
            Some(0),
        ),
    ];
    d.bucket_ns = 0; // inferred per interface
    d
}
