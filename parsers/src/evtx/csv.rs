//! Event Viewer's "Save All Events As... CSV" export.
//!
//! Layout: a header `Level,Date and Time,Source,Event ID,Task Category`, then
//! one record per event with a sixth, unnamed column holding the rendered
//! message, which is quoted and may span several lines. Times are the
//! exporting machine's local time in its display format (en-US
//! `3/10/2026 2:00:40 PM`; ISO `2026-03-10 14:00:40` is also accepted); pass
//! the offset to get UTC. Column positions come from the header when it is
//! the English one, else the positional layout above is assumed.

use std::io::Read;

use super::event::{MAX_VALUE_LEN, WinEvent, parse_iso_time};
use super::kinds::classify_event;
use crate::civil::{Civil, digits};
use crate::perfmon::{Fields, unescape};
use crate::textio::{Line, TextReader};

/// Longest record (message included) we assemble.
const MAX_RECORD: usize = 256 * 1024;

/// What reading the CSV export found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CsvExportStats {
    pub records: u64,
    /// Records without a parsable time or event ID (skipped).
    pub bad_records: u64,
}

/// Streams an Event Viewer CSV export; `utc_offset_minutes` is the exporting
/// machine's offset EAST of UTC (UTC = local - offset).
pub fn read_event_csv<R: Read>(
    r: R,
    utc_offset_minutes: i32,
    mut f: impl FnMut(WinEvent),
) -> std::io::Result<CsvExportStats> {
    let mut text = TextReader::new(r)?;
    let mut line = Vec::new();
    let mut record = Vec::new();
    let mut stats = CsvExportStats::default();
    let mut cols = [0usize, 1, 2, 3, 4, 5];
    let mut first = true;
    let offset_ns = i64::from(utc_offset_minutes) * 60_000_000_000;
    loop {
        // Assemble one record: lines are joined while a quote is open.
        record.clear();
        let mut quotes = 0usize;
        loop {
            match text.read_line(&mut line, MAX_RECORD)? {
                Line::Eof if record.is_empty() => return Ok(stats),
                Line::Eof => break,
                _ => {}
            }
            if !record.is_empty() {
                record.push(b'\n');
            }
            let room = MAX_RECORD.saturating_sub(record.len());
            record.extend_from_slice(&line[..line.len().min(room)]);
            quotes += memchr::memchr_iter(b'"', &line).count();
            if quotes % 2 == 0 || record.len() >= MAX_RECORD {
                break;
            }
        }
        if record.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let cells: Vec<&[u8]> = Fields::new(&record, b',').take(16).collect();
        if first {
            first = false;
            if let Some(map) = header_columns(&cells) {
                cols = map;
                continue;
            }
        }
        let cell = |i: usize| cells.get(cols[i]).map(|c| unescape(c)).unwrap_or_default();
        let ts = parse_local_time(cell(1).trim());
        let id = cell(3).trim().parse::<u32>().ok();
        let (Some(ts), Some(event_id)) = (ts, id) else {
            stats.bad_records += 1;
            continue;
        };
        stats.records += 1;
        let provider = cell(2).trim().to_string();
        let message = cell(5);
        let mut message = message.trim().to_string();
        if message.len() > MAX_VALUE_LEN {
            let mut end = MAX_VALUE_LEN;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let task = cell(4).trim().to_string();
        f(WinEvent {
            ts_ns: ts.saturating_sub(offset_ns),
            kind: classify_event(&provider, event_id),
            provider,
            event_id,
            level: level_of(cell(0).trim()),
            data: if task.is_empty() {
                Vec::new()
            } else {
                vec![("Task Category".into(), task)]
            },
            message_hint: (!message.is_empty()).then_some(message),
            ..WinEvent::default()
        });
    }
}

/// Column indexes from an English header, if this is one.
fn header_columns(cells: &[&[u8]]) -> Option<[usize; 6]> {
    let names: Vec<String> = cells
        .iter()
        .map(|c| unescape(c).trim().to_ascii_lowercase())
        .collect();
    let pos = |n: &str| names.iter().position(|x| x == n);
    let level = pos("level")?;
    let time = pos("date and time")?;
    let source = pos("source")?;
    let id = pos("event id")?;
    let task = pos("task category").unwrap_or(usize::MAX);
    let message = names.len();
    Some([level, time, source, id, task, message])
}

fn level_of(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "critical" => 1,
        "error" => 2,
        "warning" => 3,
        "information" => 4,
        "verbose" => 5,
        _ => 0,
    }
}

/// `M/D/YYYY h:mm:ss AM|PM`, `M/D/YYYY H:mm:ss`, or ISO; local time read as UTC.
fn parse_local_time(s: &str) -> Option<i64> {
    if let Some(t) = parse_iso_time(s) {
        return Some(t);
    }
    let (date, rest) = s.split_once(' ')?;
    let mut d = date.split('/');
    let (m, day, y) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 {
        return None;
    }
    let (time, ampm) = match rest.trim().split_once(' ') {
        Some((t, ap)) => (t, Some(ap.trim().to_ascii_uppercase())),
        None => (rest.trim(), None),
    };
    let mut t = time.split(':');
    let (h, mi, sec) = (t.next()?, t.next()?, t.next().unwrap_or("0"));
    let num = |x: &str| (x.len() <= 2).then(|| digits(x.as_bytes())).flatten();
    let mut hour = num(h)?;
    match ampm.as_deref() {
        Some("AM") if hour == 12 => hour = 0,
        Some("AM") if hour <= 12 => {}
        Some("PM") if hour < 12 => hour += 12,
        Some("PM") if hour == 12 => {}
        None => {}
        _ => return None,
    }
    let c = Civil {
        year: i64::from(digits(y.as_bytes())?),
        month: num(m)?,
        day: num(day)?,
        hour,
        minute: num(mi)?,
        second: num(sec)?,
        nanos: 0,
    };
    c.valid().then(|| c.to_unix_ns())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        // `date -u -d '2026-03-10 14:00:40' +%s` = 1773151240
        assert_eq!(
            parse_local_time("3/10/2026 2:00:40 PM"),
            Some(1_773_151_240_000_000_000)
        );
        assert_eq!(
            parse_local_time("3/10/2026 14:00:40"),
            Some(1_773_151_240_000_000_000)
        );
        assert_eq!(
            parse_local_time("2026-03-10 14:00:40"),
            Some(1_773_151_240_000_000_000)
        );
        assert_eq!(
            parse_local_time("3/10/2026 12:00:00 AM"),
            Some(1_773_100_800_000_000_000)
        );
        assert_eq!(parse_local_time("3/10/2026 13:00:00 PM"), None);
        assert_eq!(parse_local_time("10.03.2026 14:00:40"), None);
    }

    #[test]
    fn export() {
        let csv = "\u{feff}Level,Date and Time,Source,Event ID,Task Category\r\n\
Error,3/10/2026 2:00:40 PM,Microsoft-Windows-FailoverClustering,5121,Cluster Shared Volume,\"Cluster Shared Volume 'Volume1' ('Cluster Disk 1') is no longer directly accessible from this cluster node.\r\n\r\nI/O access will be redirected, \"\"see\"\" below.\"\r\n\
Information,3/10/2026 2:01:10 PM,Microsoft-Windows-Kernel-General,16,None,The access history in hive was cleared.\r\n\
Critical,garbage,x,y,z,w\r\n";
        let mut ev = Vec::new();
        let st = read_event_csv(csv.as_bytes(), 60, |e| ev.push(e)).unwrap();
        assert_eq!(
            st,
            CsvExportStats {
                records: 2,
                bad_records: 1
            }
        );
        assert_eq!(ev[0].event_id, 5121);
        assert_eq!(ev[0].level, 2);
        assert_eq!(ev[0].ts_ns, 1_773_151_240_000_000_000 - 3_600_000_000_000);
        assert_eq!(
            ev[0].kind,
            Some(super::super::ClusterEventKind::CsvRedirected)
        );
        let m = ev[0].message_hint.as_deref().unwrap();
        assert!(
            m.contains("redirected, \"see\" below.") && m.lines().count() == 3,
            "{m}"
        );
        assert_eq!(ev[1].kind, None);
        assert_eq!(
            ev[1].data,
            [("Task Category".to_string(), "None".to_string())]
        );
    }
}
