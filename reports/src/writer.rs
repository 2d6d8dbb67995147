//! Writes a report directory: report.html, report.md, findings.json,
//! charts/<slug>.png and charts/<slug>.svg (charts rendered in parallel once,
//! in both formats, and shared by the HTML and the files).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::charts::{Chart, ChartOptions, Formats, render_diff_charts, render_report_charts};
use crate::html::{render_diff_html_with_charts, render_html_with_charts};
use crate::json::findings_json;
use crate::markdown::{render_diff_markdown, render_markdown};
use crate::model::{DiffData, ReportData};

/// What [`write_report_dir`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub html: PathBuf,
    pub markdown: PathBuf,
    /// None for a diff directory.
    pub findings_json: Option<PathBuf>,
    /// Chart files (PNG and SVG).
    pub charts: Vec<PathBuf>,
    /// Charts that failed to render: (slug, error).
    pub chart_errors: Vec<(String, String)>,
    /// Wall time spent rendering charts.
    pub chart_time: Duration,
    pub total_bytes: u64,
}

fn write(path: &Path, bytes: &[u8], w: &mut Written) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    w.total_bytes += bytes.len() as u64;
    Ok(())
}

fn write_charts(dir: &Path, charts: &[Chart], w: &mut Written) -> anyhow::Result<()> {
    let cdir = dir.join("charts");
    fs::create_dir_all(&cdir).with_context(|| format!("creating {}", cdir.display()))?;
    for c in charts {
        if let Some(png) = &c.png {
            let p = cdir.join(format!("{}.png", c.slug));
            write(&p, png, w)?;
            w.charts.push(p);
        }
        if let Some(svg) = &c.svg {
            let p = cdir.join(format!("{}.svg", c.slug));
            write(&p, svg.as_bytes(), w)?;
            w.charts.push(p);
        }
        if let Some(e) = &c.error {
            w.chart_errors.push((c.slug.clone(), e.clone()));
        }
    }
    Ok(())
}

/// Writes report.html, report.md, findings.json and charts/*.{png,svg} into
/// `dir` (created if missing; existing files of the same names are replaced).
pub fn write_report_dir(dir: &Path, data: &ReportData) -> anyhow::Result<Written> {
    write_report_dir_with(dir, data, &ChartOptions::default())
}

/// [`write_report_dir`] with chart options (size, heartbeat thresholds).
pub fn write_report_dir_with(
    dir: &Path,
    data: &ReportData,
    opts: &ChartOptions,
) -> anyhow::Result<Written> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut w = Written::default();
    let t = Instant::now();
    let charts = render_report_charts(data, opts, Formats::BOTH);
    w.chart_time = t.elapsed();
    write_charts(dir, &charts, &mut w)?;
    let html = dir.join("report.html");
    write(
        &html,
        render_html_with_charts(data, &charts).as_bytes(),
        &mut w,
    )?;
    w.html = html;
    let md = dir.join("report.md");
    write(&md, render_markdown(data).as_bytes(), &mut w)?;
    w.markdown = md;
    let j = dir.join("findings.json");
    write(&j, findings_json(&data.findings).as_bytes(), &mut w)?;
    w.findings_json = Some(j);
    Ok(w)
}

/// Writes a before/after directory: diff.html, diff.md, charts/diff-*.{png,svg}.
pub fn write_diff_dir(dir: &Path, diff: &DiffData) -> anyhow::Result<Written> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut w = Written::default();
    let t = Instant::now();
    let charts = render_diff_charts(diff, &ChartOptions::default(), Formats::BOTH);
    w.chart_time = t.elapsed();
    write_charts(dir, &charts, &mut w)?;
    let html = dir.join("diff.html");
    write(
        &html,
        render_diff_html_with_charts(diff, &charts).as_bytes(),
        &mut w,
    )?;
    w.html = html;
    let md = dir.join("diff.md");
    write(&md, render_diff_markdown(diff).as_bytes(), &mut w)?;
    w.markdown = md;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_the_markdown_references() {
        let dir = std::env::temp_dir().join(format!("hvsleuth-writer-{}", std::process::id()));
        let data = crate::sample::synthetic_report();
        let w = write_report_dir(&dir, &data).unwrap();
        assert!(w.chart_errors.is_empty());
        assert_eq!(w.charts.len(), 28); // 14 charts × (png + svg)
        let md = fs::read_to_string(&w.markdown).unwrap();
        let mut refs = 0;
        for line in md.lines().filter(|l| l.starts_with("![")) {
            let path = line.split("](").nth(1).unwrap().trim_end_matches(')');
            assert!(dir.join(path).is_file(), "{path}");
            refs += 1;
        }
        assert_eq!(refs, 14);
        let png = fs::read(dir.join("charts/hv02-management.png")).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let svg = fs::read_to_string(dir.join("charts/hv02-management.svg")).unwrap();
        assert!(svg.contains("HVS001, HVS003"));
        let j: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("findings.json")).unwrap()).unwrap();
        assert_eq!(j["count"], 3);
        let d = write_diff_dir(&dir.join("diff"), &crate::sample::synthetic_diff()).unwrap();
        assert_eq!(d.charts.len(), 18);
        assert!(fs::read_to_string(d.html).unwrap().contains("resolved"));
        let _ = fs::remove_dir_all(&dir);
    }
}
