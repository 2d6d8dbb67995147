//! Perfmon exports: PDH-CSV and PDH-TSV as written by `relog -f csv|tsv` and
//! by perfmon's "Save data as".
//!
//! Format (DOMAIN.md "Perfmon"): the first line is
//! `"(PDH-CSV 4.0) (<time zone>)(<bias>)","\\HOST\Object(Instance)\Counter",...`;
//! each further line is `"MM/DD/YYYY HH:MM:SS.mmm","<value>",...` in local time
//! of the collecting machine, a missing sample being `""` or `" "`.
//!
//! Time: PDH writes the Windows `TIME_ZONE_INFORMATION.Bias` of the collector
//! (minutes WEST of UTC, including the daylight bias in force when the log
//! started). Microsoft documents the relation as "UTC = local time + bias"
//! (learn.microsoft.com, ReportService2010 `TimeZoneInformation.Bias`; Outlook
//! `TimeZone.Bias`: Pacific bias 480 -> 2 AM PST is 10 AM UTC). So we compute
//! `ts_utc = local + bias_minutes`. A log spanning a DST change keeps one
//! bias: rows jump forward or repeat an hour. We keep every row in file order
//! and count timestamps that do not increase in [`PerfmonStats::non_monotonic`].
//!
//! Reading is streaming with one reused line buffer and one reused value
//! buffer: no allocation per row.

mod classify;
mod fields;
mod header;

use std::io::Read;

pub use classify::{CounterClass, CounterDirection, CounterRole, CounterUnit, classify};
pub use fields::{Fields, unescape};
pub use header::{CounterPath, HeaderError, MAX_COUNTERS, PerfmonHeader, parse_header};

use crate::civil::{Civil, digits, fraction_ns};
use crate::textio::{Line, TextEncoding, TextReader};

/// Longest line we accept (a header with thousands of long counter paths fits).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Message for a binary log, which we do not decode.
pub const BLG_MESSAGE: &str =
    "binary perfmon log (.blg): convert with `relog file.blg -f csv -o file.csv` and read the CSV";

/// Why a perfmon file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PerfmonError {
    #[error("{BLG_MESSAGE}")]
    Blg,
    #[error("empty file")]
    Empty,
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("header line longer than {MAX_LINE} bytes")]
    HeaderTooLong,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Counts of what reading found, for the report's "data quality" section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PerfmonStats {
    /// Rows delivered.
    pub rows: u64,
    /// Rows skipped: empty, unparsable timestamp, or too long.
    pub bad_rows: u64,
    /// Rows whose UTC timestamp is <= the previous row's (DST fall-back, clock changes).
    pub non_monotonic: u64,
    /// Rows with fewer cells than counters (missing cells read as `None`).
    pub short_rows: u64,
    /// Rows with more cells than counters (extra cells ignored).
    pub long_rows: u64,
    /// Blank or single-space samples.
    pub missing_values: u64,
    /// The file ends inside a row (no line end after it): the file was
    /// probably cut short. The row is kept when it has every cell, skipped
    /// (and counted in `bad_rows`) when it is short.
    pub truncated_tail: bool,
    /// Non-empty samples that are not numbers (read as `None`).
    pub unparsable_values: u64,
}

/// One sample row, borrowed from the reader's reused buffer.
#[derive(Debug, Clone, Copy)]
pub struct PerfmonRow<'a> {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_utc_ns: i64,
    /// One value per [`PerfmonHeader::counters`] entry.
    pub values: &'a [Option<f64>],
}

/// Streaming reader of a PDH-CSV / PDH-TSV export.
pub struct PerfmonReader<R: Read> {
    text: TextReader<R>,
    header: PerfmonHeader,
    delim: u8,
    line: Vec<u8>,
    values: Vec<Option<f64>>,
    last_ts: Option<i64>,
    stats: PerfmonStats,
}

impl<R: Read> PerfmonReader<R> {
    /// Reads and parses the header. A `.blg` yields [`PerfmonError::Blg`].
    pub fn new(r: R) -> Result<Self, PerfmonError> {
        let mut text = TextReader::new(r)?;
        let mut line = Vec::with_capacity(64 * 1024);
        // Skip leading blank lines.
        loop {
            match text.read_line(&mut line, MAX_LINE)? {
                Line::Eof => return Err(PerfmonError::Empty),
                Line::TooLong => return Err(PerfmonError::HeaderTooLong),
                Line::Line if line.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Line => break,
            }
        }
        if text.encoding() == TextEncoding::Utf8 && is_blg(&line) {
            return Err(PerfmonError::Blg);
        }
        let delim = fields::delimiter_of(&line);
        let header = parse_header(&line, delim)?;
        let n = header.counters.len();
        Ok(Self {
            text,
            header,
            delim,
            line,
            values: vec![None; n],
            last_ts: None,
            stats: PerfmonStats::default(),
        })
    }

    pub fn header(&self) -> &PerfmonHeader {
        &self.header
    }

    pub fn stats(&self) -> PerfmonStats {
        self.stats
    }

    /// Text encoding detected from the BOM.
    pub fn encoding(&self) -> TextEncoding {
        self.text.encoding()
    }

    /// Decoded bytes consumed so far (for progress bars).
    pub fn consumed(&self) -> u64 {
        self.text.consumed()
    }

    /// The next row, or `None` at end of file. Bad rows are skipped and counted.
    pub fn next_row(&mut self) -> Result<Option<PerfmonRow<'_>>, PerfmonError> {
        loop {
            match self.text.read_line(&mut self.line, MAX_LINE)? {
                Line::Eof => return Ok(None),
                Line::TooLong => {
                    self.stats.bad_rows += 1;
                    continue;
                }
                Line::Line => {}
            }
            if self.line.is_empty() {
                continue;
            }
            let mut cells = Fields::new(&self.line, self.delim);
            let Some(ts) = cells.next().and_then(parse_pdh_time) else {
                self.stats.bad_rows += 1;
                continue;
            };
            let ts = ts.saturating_add(i64::from(self.header.bias_minutes) * 60_000_000_000);
            let mut n = 0;
            for cell in cells {
                match self.values.get_mut(n) {
                    Some(slot) => {
                        *slot = parse_value(cell, &mut self.stats);
                        n += 1;
                    }
                    None => {
                        self.stats.long_rows += 1;
                        break;
                    }
                }
            }
            if self.text.ended_mid_line() {
                self.stats.truncated_tail = true;
                if n < self.values.len() {
                    self.stats.bad_rows += 1;
                    continue;
                }
            }
            if n < self.values.len() {
                self.stats.short_rows += 1;
                for v in &mut self.values[n..] {
                    *v = None;
                }
            }
            if self.last_ts.is_some_and(|l| ts <= l) {
                self.stats.non_monotonic += 1;
            }
            self.last_ts = Some(ts);
            self.stats.rows += 1;
            return Ok(Some(PerfmonRow {
                ts_utc_ns: ts,
                values: &self.values,
            }));
        }
    }

    /// Calls `f` for every row; returns the final statistics.
    pub fn for_each_row(
        mut self,
        mut f: impl FnMut(i64, &[Option<f64>]),
    ) -> Result<PerfmonStats, PerfmonError> {
        while let Some(row) = self.next_row()? {
            f(row.ts_utc_ns, row.values);
        }
        Ok(self.stats)
    }
}

/// True when `head` starts like a binary perfmon log (see [`crate::sniff`]).
fn is_blg(head: &[u8]) -> bool {
    crate::sniff::sniff(head) == crate::sniff::InputKind::Blg
}

/// Parses a sample cell: blank / space = missing.
fn parse_value(cell: &[u8], stats: &mut PerfmonStats) -> Option<f64> {
    let t = cell.trim_ascii();
    if t.is_empty() {
        stats.missing_values += 1;
        return None;
    }
    // ASCII-only check keeps from_utf8 trivially valid; numbers are ASCII.
    match std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(v) => Some(v),
        None => {
            stats.unparsable_values += 1;
            None
        }
    }
}

/// `MM/DD/YYYY HH:MM:SS.mmm` (fraction optional, 1-9 digits) as local-time
/// nanoseconds "since the epoch" (i.e. read as if UTC; the caller adds the bias).
pub fn parse_pdh_time(cell: &[u8]) -> Option<i64> {
    let s = cell.trim_ascii();
    let (date, time) = s.split_at_checked(10)?;
    let time = time.strip_prefix(b" ")?;
    if date.get(2) != Some(&b'/') || date.get(5) != Some(&b'/') {
        return None;
    }
    let (hms, frac) = match time.iter().position(|&c| c == b'.') {
        Some(i) => (&time[..i], Some(&time[i + 1..])),
        None => (time, None),
    };
    if hms.len() != 8 || hms[2] != b':' || hms[5] != b':' {
        return None;
    }
    let c = Civil {
        month: digits(&date[0..2])?,
        day: digits(&date[3..5])?,
        year: i64::from(digits(&date[6..10])?),
        hour: digits(&hms[0..2])?,
        minute: digits(&hms[3..5])?,
        second: digits(&hms[6..8])?,
        nanos: match frac {
            Some(f) => fraction_ns(f)?,
            None => 0,
        },
    };
    c.valid().then(|| c.to_unix_ns())
}

#[cfg(test)]
mod tests;
