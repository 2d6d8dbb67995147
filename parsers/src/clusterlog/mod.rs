//! `cluster.log` text as written by `Get-ClusterLog`.
//!
//! Line layout (DOMAIN.md; Microsoft's "Anatomy of a Cluster Log Entry",
//! learn.microsoft.com previous-versions windows-2000-server cc962179):
//!
//! ```text
//! 00000b84.00000e6c::2026/03/10-13:00:41.118 WARN  [DCM] text ...
//! PID     .TID     ::YYYY/MM/DD-HH:MM:SS.mmm LEVEL [COMPONENT] text
//! ```
//!
//! PID and TID are hex. Times are GMT unless the log was produced with
//! `-UseLocalTime`: then pass the offset in [`ClusterLogOptions`]. Windows
//! 2000-era lines have no level (`378.380::1999/06/09-18:00:50.881 [NM] ...`)
//! and some lines have no `[COMPONENT]`; both are accepted. Windows Server 2016
//! logs add section banners (`[=== System ===]`) and may prefix lines with a
//! bracketed channel tag; a leading `[...] ` before the PID is skipped. A line
//! that does not start like an entry continues the previous entry.

mod kinds;

use std::io::Read;

pub use kinds::{ClusterLogKind, classify};

use crate::civil::{Civil, digits, fraction_ns};
use crate::textio::{Line, TextReader};

/// Longest line kept; longer lines are cut (and counted).
pub const MAX_LINE: usize = 64 * 1024;
/// Longest text kept for one event, continuation lines included.
pub const MAX_EVENT_TEXT: usize = 8 * 1024;

/// Severity column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Info,
    Warn,
    Err,
    Dbg,
    /// No level column (old format) or an unknown word.
    None,
}

/// One parsed line head, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawEntry<'a> {
    pub pid: u32,
    pub tid: u32,
    /// Timestamp as written, read as UTC (no offset applied).
    pub ts_ns: i64,
    pub level: LogLevel,
    /// Content of the first `[...]` after the level, e.g. `NETFT`, `RES` or
    /// `CHANNEL 10.0.0.2:~3343~`.
    pub component: Option<&'a str>,
    pub text: &'a str,
}

/// A classified cluster.log entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusterLogEvent {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    pub pid: u32,
    pub tid: u32,
    pub level: LogLevel,
    pub component: Option<String>,
    pub kind: ClusterLogKind,
    /// Message text, continuation lines joined with `\n`, at most [`MAX_EVENT_TEXT`] bytes.
    pub text: String,
    /// 1-based line number of the entry's first line.
    pub line: u64,
}

/// How to read a cluster.log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterLogOptions {
    /// Minutes EAST of UTC of the times in the file (0 for the default GMT
    /// log; +60 for a `-UseLocalTime` log written in CET). UTC = time - offset.
    pub utc_offset_minutes: i32,
    /// Also deliver entries that match no [`ClusterLogKind`] (as `Other`).
    pub keep_unclassified: bool,
}

/// What reading found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClusterLogStats {
    pub lines: u64,
    /// Lines that start an entry.
    pub entries: u64,
    pub classified: u64,
    pub unclassified: u64,
    /// Lines appended to the previous entry.
    pub continuation_lines: u64,
    /// Lines before the first entry or banners (`[=== ... ===]`), skipped.
    pub other_lines: u64,
    /// Lines longer than [`MAX_LINE`] (cut).
    pub long_lines: u64,
    /// Entries whose time is earlier than the previous entry's.
    pub time_going_back: u64,
    /// The file ends inside a line (no line end after it): probably cut
    /// short; the last entry's text may be incomplete.
    pub truncated_tail: bool,
    /// Decoded bytes read.
    pub bytes: u64,
}

/// Parses one line's head. `None` if the line does not start an entry.
pub fn parse_line(line: &str) -> Option<RawEntry<'_>> {
    let mut s = line;
    if s.starts_with('[') && !s.starts_with("[===") {
        // Optional channel tag before the PID: `[System] 00000000.00000000::...`.
        let close = s.find("] ")?;
        s = &s[close + 2..];
    }
    let colons = s.find("::")?;
    let (ids, rest) = (&s[..colons], &s[colons + 2..]);
    let (pid, tid) = ids.split_once('.')?;
    let hex = |x: &str| {
        (!x.is_empty() && x.len() <= 8)
            .then(|| u32::from_str_radix(x, 16).ok())
            .flatten()
    };
    let (pid, tid) = (hex(pid)?, hex(tid)?);
    let ts = rest.get(..19)?.as_bytes();
    if ts[4] != b'/' || ts[7] != b'/' || ts[10] != b'-' || ts[13] != b':' || ts[16] != b':' {
        return None;
    }
    let mut rest = &rest[19..];
    let mut nanos = 0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        nanos = fraction_ns(f.get(..n)?.as_bytes())?;
        rest = &f[n..];
    }
    let c = Civil {
        year: i64::from(digits(&ts[0..4])?),
        month: digits(&ts[5..7])?,
        day: digits(&ts[8..10])?,
        hour: digits(&ts[11..13])?,
        minute: digits(&ts[14..16])?,
        second: digits(&ts[17..19])?,
        nanos,
    };
    if !c.valid() {
        return None;
    }
    let rest = rest.trim_start();
    let word_end = rest.find(' ').unwrap_or(rest.len());
    let (level, rest) = match &rest[..word_end] {
        "INFO" => (LogLevel::Info, &rest[word_end..]),
        "WARN" => (LogLevel::Warn, &rest[word_end..]),
        "ERR" | "ERROR" => (LogLevel::Err, &rest[word_end..]),
        "DBG" | "DEBUG" => (LogLevel::Dbg, &rest[word_end..]),
        _ => (LogLevel::None, rest),
    };
    let rest = rest.trim_start();
    let (component, text) = match rest
        .strip_prefix('[')
        .and_then(|r| r.find(']').map(|i| (r, i)))
    {
        Some((r, i)) => (Some(r[..i].trim()), r[i + 1..].trim_start()),
        None => (None, rest),
    };
    Some(RawEntry {
        pid,
        tid,
        ts_ns: c.to_unix_ns(),
        level,
        component,
        text: text.trim_end(),
    })
}

/// Streams a cluster.log, calling `f` for every classified entry (and every
/// entry if `keep_unclassified`). Only I/O errors stop reading.
pub fn read_cluster_log<R: Read>(
    r: R,
    opts: &ClusterLogOptions,
    mut f: impl FnMut(ClusterLogEvent),
) -> std::io::Result<ClusterLogStats> {
    let mut text = TextReader::new(r)?;
    let mut buf = Vec::with_capacity(4096);
    let mut stats = ClusterLogStats::default();
    let mut pending: Option<ClusterLogEvent> = None;
    // Inside an entry (classified or not): continuation lines belong to it.
    let mut in_entry = false;
    let mut last_ts = i64::MIN;
    let offset_ns = i64::from(opts.utc_offset_minutes) * 60_000_000_000;
    loop {
        match text.read_line(&mut buf, MAX_LINE)? {
            Line::Eof => break,
            Line::TooLong => stats.long_lines += 1,
            Line::Line => {}
        }
        stats.lines += 1;
        stats.truncated_tail |= text.ended_mid_line();
        stats.bytes = text.consumed();
        let line = String::from_utf8_lossy(&buf);
        if let Some(e) = parse_line(&line) {
            stats.entries += 1;
            if let Some(p) = pending.take() {
                f(p);
            }
            in_entry = true;
            let ts = e.ts_ns.saturating_sub(offset_ns);
            if ts < last_ts {
                stats.time_going_back += 1;
            }
            last_ts = ts;
            let kind = classify(e.component, e.text);
            match kind {
                Some(_) => stats.classified += 1,
                None => stats.unclassified += 1,
            }
            if kind.is_some() || opts.keep_unclassified {
                pending = Some(ClusterLogEvent {
                    ts_ns: ts,
                    pid: e.pid,
                    tid: e.tid,
                    level: e.level,
                    component: e.component.map(str::to_string),
                    kind: kind.unwrap_or(ClusterLogKind::Other),
                    text: truncate(e.text, MAX_EVENT_TEXT).to_string(),
                    line: stats.lines,
                });
            }
        } else if in_entry && !line.starts_with("[===") && !line.trim().is_empty() {
            stats.continuation_lines += 1;
            if let Some(p) = &mut pending {
                let room = MAX_EVENT_TEXT.saturating_sub(p.text.len() + 1);
                if room > 0 {
                    p.text.push('\n');
                    p.text.push_str(truncate(line.trim_end(), room));
                }
            }
        } else {
            stats.other_lines += 1;
            in_entry = false;
            if let Some(p) = pending.take() {
                f(p);
            }
        }
    }
    if let Some(p) = pending.take() {
        f(p);
    }
    Ok(stats)
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
