//! Renders the sample report and diff, then runs tests/screenshot.sh (headless
//! Chromium: screenshot, clean console, DOM loaded). Skips with a note when
//! chromium is not installed.

use std::path::PathBuf;
use std::process::Command;

use hvsleuth_reports::sample::{synthetic_diff, synthetic_report};
use hvsleuth_reports::{write_diff_dir, write_report_dir};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|d| PathBuf::from(d).join(name))
            .find(|p| p.is_file())
    })
}

#[test]
fn sample_report_loads_in_headless_chromium() {
    if chromium().is_none() {
        eprintln!(
            "SKIP: chromium not installed; the browser check did not run (apt-get install -y chromium)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("hvsleuth-screenshot-{}", std::process::id()));
    let w = write_report_dir(&dir.join("report"), &synthetic_report()).unwrap();
    assert!(w.chart_errors.is_empty(), "{:?}", w.chart_errors);
    write_diff_dir(&dir.join("diff"), &synthetic_diff()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/screenshot.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("REPORT_DIR", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "screenshot.sh failed");
    assert!(
        stdout.contains("report/report.html: 14 inline SVGs"),
        "{stdout}"
    );
    assert!(stdout.contains("diff/diff.html: 9 inline SVGs"), "{stdout}");
    let shot = std::fs::read(dir.join("report-screenshot.png")).unwrap();
    assert!(shot.starts_with(b"\x89PNG"));
    let _ = std::fs::remove_dir_all(&dir);
}
