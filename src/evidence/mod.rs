//! Evidence that is not packets: perfmon counters (PDH-CSV/TSV), Windows event
//! logs (.evtx and XML/CSV exports) and cluster.log. Each file is read by its
//! parser into typed records; here they become counter series and timeline
//! events next to the captures.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hvsleuth_parsers::InputKind;
use hvsleuth_parsers::clusterlog::{ClusterLogOptions, read_cluster_log};
use hvsleuth_parsers::evtx::{Select, WinEvent, read_event_csv, read_event_xml, read_evtx_path};
use hvsleuth_parsers::perfmon::{CounterClass, CounterPath, CounterRole, PerfmonReader, classify};
use hvsleuth_reports::model::TimelineEvent;

/// One perfmon counter column with its samples.
#[derive(Debug, Clone)]
pub struct Counter {
    pub path: CounterPath,
    pub class: CounterClass,
    /// (UTC ns, value); missing samples are left out.
    pub samples: Vec<(i64, f64)>,
}

impl Counter {
    /// Integral over time of a per-second rate (bytes for Bytes/sec counters):
    /// each sample counts for the interval since the previous one.
    pub fn integral(&self) -> f64 {
        self.samples
            .windows(2)
            .map(|w| w[1].1 * ((w[1].0 - w[0].0) as f64 / 1e9).clamp(0.0, 3600.0))
            .sum()
    }

    /// First and last sample time with a value above `min`.
    pub fn active_window(&self, min: f64) -> Option<(i64, i64)> {
        let first = self.samples.iter().find(|s| s.1 > min)?.0;
        let last = self.samples.iter().rev().find(|s| s.1 > min)?.0;
        Some((first, last))
    }

    pub fn peak(&self) -> f64 {
        self.samples.iter().map(|s| s.1).fold(0.0, f64::max)
    }

    pub fn label(&self) -> String {
        let p = &self.path;
        match &p.instance {
            Some(i) => format!("\\\\{}\\{}({})\\{}", p.host, p.object, i, p.counter),
            None => format!("\\\\{}\\{}\\{}", p.host, p.object, p.counter),
        }
    }
}

/// What the non-packet inputs held.
#[derive(Debug, Default)]
pub struct Evidence {
    pub counters: Vec<Counter>,
    pub events: Vec<TimelineEvent>,
    /// Remarks and damage, one line each, naming the file.
    pub notes: Vec<String>,
    /// Damage that lost data (the input is partial), one line each, naming the file.
    pub damaged: Vec<String>,
}

impl Evidence {
    pub fn merge(&mut self, o: Evidence) {
        self.counters.extend(o.counters);
        self.events.extend(o.events);
        self.notes.extend(o.notes);
        self.damaged.extend(o.damaged);
    }
}

/// Whether `kind` is evidence this module reads.
pub fn is_evidence(kind: InputKind) -> bool {
    matches!(
        kind,
        InputKind::PerfmonCsv
            | InputKind::Evtx
            | InputKind::EventXml
            | InputKind::EventCsv
            | InputKind::ClusterLog
            | InputKind::Blg
    )
}

fn win_event(e: WinEvent, source: &str) -> Option<TimelineEvent> {
    let kind = e.kind?;
    Some(TimelineEvent {
        ts_ns: e.ts_ns,
        source: source.into(),
        node: Some(
            e.computer
                .split('.')
                .next()
                .unwrap_or(&e.computer)
                .to_string(),
        )
        .filter(|c| !c.is_empty()),
        text: format!(
            "{} {}: {}",
            short_provider(&e.provider),
            e.event_id,
            kind.describe()
        ),
    })
}

fn short_provider(p: &str) -> &str {
    p.strip_prefix("Microsoft-Windows-").unwrap_or(p)
}

/// Reads one evidence file. `Err` when it cannot be read at all.
/// `evtx_threads`: threads the evtx decoder may use (0 = its own rayon
/// parallelism; it must then not be called from inside a rayon task, where
/// nesting its pool deadlocked).
pub fn read(path: &Path, kind: InputKind, evtx_threads: usize) -> Result<Evidence, String> {
    let name = path.display().to_string();
    let open = || {
        File::open(path)
            .map(|f| BufReader::with_capacity(256 << 10, f))
            .map_err(|e| format!("{name}: {e}"))
    };
    let mut ev = Evidence::default();
    match kind {
        InputKind::PerfmonCsv => {
            let mut r = PerfmonReader::new(open()?).map_err(|e| format!("{name}: {e}"))?;
            let mut counters: Vec<Counter> = r
                .header()
                .counters
                .iter()
                .map(|p| Counter {
                    class: classify(p),
                    path: p.clone(),
                    samples: Vec::new(),
                })
                .collect();
            loop {
                match r.next_row() {
                    Ok(Some(row)) => {
                        for (c, v) in counters.iter_mut().zip(row.values) {
                            if let Some(v) = v.filter(|v| v.is_finite()) {
                                c.samples.push((row.ts_utc_ns, v));
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        ev.damaged.push(format!(
                            "{name}: reading stopped at byte {}: {e}",
                            r.consumed()
                        ));
                        break;
                    }
                }
            }
            let st = r.stats();
            if st.truncated_tail {
                ev.damaged.push(format!(
                    "{name}: the file ends inside a row at byte {} (no line end: probably cut short); that row was {}",
                    r.consumed(),
                    if st.bad_rows > 0 { "skipped if short" } else { "complete and kept" }
                ));
            }
            if st.bad_rows > 0 {
                ev.damaged
                    .push(format!("{name}: {} bad perfmon rows skipped", st.bad_rows));
            }
            let unknown = counters.iter().filter(|c| c.class.role.is_none()).count();
            ev.notes.push(format!(
                "{name}: perfmon, {} counters ({unknown} not classified, kept), {} rows, {} missing samples, {} bad rows",
                counters.len(),
                st.rows,
                st.missing_values,
                st.bad_rows
            ));
            ev.events.extend(counter_events(&counters));
            ev.counters = counters;
        }
        InputKind::Evtx => {
            let rep = read_evtx_path(path, evtx_threads, Select::Tracked, |e| {
                ev.events.extend(win_event(e, "eventlog"))
            })
            .map_err(|e| format!("{name}: {e}"))?;
            ev.notes.push(format!(
                "{name}: event log, {} records ({} of tracked providers/IDs, {} unreadable)",
                rep.records,
                rep.records - rep.untracked - rep.unparsed_records,
                rep.errors
            ));
            if rep.errors > 0 {
                ev.damaged.push(format!(
                    "{name}: {} unreadable chunks/records skipped ({})",
                    rep.errors,
                    rep.error_samples.first().map(String::as_str).unwrap_or("")
                ));
            }
            if let Some((off, len)) = rep.partial_chunk {
                ev.damaged.push(format!(
                    "{name}: the file ends inside a chunk: the {len} bytes from byte offset {off} (a partial chunk) were not read"
                ));
            }
        }
        InputKind::EventXml => {
            let st = read_event_xml(open()?, |e| ev.events.extend(win_event(e, "eventlog")))
                .map_err(|e| format!("{name}: {e}"))?;
            ev.notes.push(format!(
                "{name}: event log XML export, {} events",
                st.events
            ));
        }
        InputKind::EventCsv => {
            read_event_csv(open()?, 0, |e| ev.events.extend(win_event(e, "eventlog")))
                .map_err(|e| format!("{name}: {e}"))?;
        }
        InputKind::ClusterLog => {
            // Get-ClusterLog writes <node>_cluster.log; a bare cluster.log names no node.
            let node = path
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .split('.')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .map(|n| n.strip_suffix("_cluster").map(str::to_string).unwrap_or(n))
                .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("cluster"));
            let st = read_cluster_log(open()?, &ClusterLogOptions::default(), |e| {
                ev.events.push(TimelineEvent {
                    ts_ns: e.ts_ns,
                    source: "cluster.log".into(),
                    node: node.clone(),
                    text: format!(
                        "[{}] {:?}: {}",
                        e.component.as_deref().unwrap_or("-"),
                        e.kind,
                        e.text.lines().next().unwrap_or("")
                    ),
                })
            })
            .map_err(|e| format!("{name}: {e}"))?;
            ev.notes.push(format!(
                "{name}: cluster.log, {} entries, {} on the timeline",
                st.entries, st.classified
            ));
            if st.truncated_tail {
                ev.damaged.push(format!(
                    "{name}: the file ends inside a line at byte {} (no line end: probably cut short); the last entry may be incomplete",
                    st.bytes
                ));
            }
        }
        InputKind::Blg => {
            return Err(format!(
                "{name}: a binary perfmon log (.blg): convert it with `relog {name} -f csv -o out.csv`"
            ));
        }
        k => return Err(format!("{name}: {k:?} is not an evidence input")),
    }
    Ok(ev)
}

/// Timeline events from counters: when redirected IO, RDMA, live migration or
/// missed heartbeats became active, with duration and peak.
fn counter_events(counters: &[Counter]) -> Vec<TimelineEvent> {
    let mut out = Vec::new();
    for c in counters {
        let (min, what) = match c.class.role {
            Some(CounterRole::RedirectedIo) => (1.0, "CSV redirected IO"),
            Some(CounterRole::Rdma) | Some(CounterRole::SmbDirect) => (1.0, "RDMA / SMB Direct"),
            Some(CounterRole::LiveMigration) => (1.0, "live migration"),
            Some(CounterRole::MissingHeartbeats) => (0.5, "missing heartbeats"),
            _ => continue,
        };
        // Each run of samples above `min` is one event.
        let mut run: Option<(i64, i64, f64)> = None;
        let mut flush = |run: &mut Option<(i64, i64, f64)>| {
            if let Some((s, e, peak)) = run.take() {
                out.push(TimelineEvent {
                    ts_ns: s,
                    source: "perfmon".into(),
                    node: Some(c.path.host.clone()),
                    text: format!(
                        "{what}: {} active {:.0} s, peak {}",
                        c.label(),
                        (e - s) as f64 / 1e9,
                        fmt_value(peak, c)
                    ),
                });
            }
        };
        for &(t, v) in &c.samples {
            if v > min {
                run = Some(match run {
                    Some((s, _, p)) => (s, t, p.max(v)),
                    None => (t, t, v),
                });
            } else {
                flush(&mut run);
            }
        }
        flush(&mut run);
    }
    out
}

fn fmt_value(v: f64, c: &Counter) -> String {
    use hvsleuth_parsers::perfmon::CounterUnit;
    match c.class.unit {
        CounterUnit::BytesPerSec => crate::units::human_bps((v * 8.0) as u64),
        _ => format!("{v:.0}"),
    }
}
