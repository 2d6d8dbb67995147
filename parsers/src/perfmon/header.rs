//! The header line of a PDH export: the format/time-zone cell, then one
//! counter path per column.

use super::fields::{Fields, unescape};

/// Upper bound on columns we accept (perfmon itself caps a log far lower).
pub const MAX_COUNTERS: usize = 1 << 20;

/// One column: `\\HOST\Object(Instance#n)\Counter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CounterPath {
    /// Machine name without the leading `\\` (empty if the path had none).
    pub host: String,
    /// Performance object (counter set), e.g. `Network Interface`.
    pub object: String,
    /// Instance, e.g. `Intel[R] Ethernet, #2`, without a PDH duplicate index.
    /// Parent instances (`Parent/Child`) are kept as written.
    pub instance: Option<String>,
    /// PDH duplicate-instance index: `svchost#3` -> 3. `None` when absent.
    pub instance_index: Option<u32>,
    /// Counter name, e.g. `Bytes Total/sec`.
    pub counter: String,
}

impl CounterPath {
    /// Parses a counter path cell. Never fails: a cell that is not a path
    /// becomes an object-less counter named after the whole cell.
    pub fn parse(raw: &str) -> Self {
        let (host, rest) = match raw.strip_prefix("\\\\") {
            Some(r) => match r.find('\\') {
                Some(i) => (&r[..i], &r[i + 1..]),
                None => ("", r),
            },
            None => ("", raw.strip_prefix('\\').unwrap_or(raw)),
        };
        // Counter names never contain a backslash; instance names may
        // (`SMB Client Shares(\\sofs\vms)`), so split at the last one.
        let (objinst, counter) = match rest.rfind('\\') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => ("", rest),
        };
        let (object, instance) = match (objinst.find('('), objinst.ends_with(')')) {
            (Some(open), true) => (
                &objinst[..open],
                Some(&objinst[open + 1..objinst.len() - 1]),
            ),
            _ => (objinst, None),
        };
        let (instance, instance_index) = match instance {
            Some(inst) => {
                let (name, idx) = split_index(inst);
                (Some(name.to_string()), idx)
            }
            None => (None, None),
        };
        Self {
            host: host.to_string(),
            object: object.to_string(),
            instance,
            instance_index,
            counter: counter.to_string(),
        }
    }

    /// Renders the path back the way PDH writes it.
    pub fn to_pdh(&self) -> String {
        let mut s = String::new();
        if !self.host.is_empty() {
            s.push_str("\\\\");
            s.push_str(&self.host);
        }
        s.push('\\');
        s.push_str(&self.object);
        if let Some(i) = &self.instance {
            s.push('(');
            s.push_str(i);
            if let Some(n) = self.instance_index {
                s.push('#');
                s.push_str(&n.to_string());
            }
            s.push(')');
        }
        s.push('\\');
        s.push_str(&self.counter);
        s
    }
}

/// `name#3` -> (`name`, Some(3)). PDH appends the index directly to the name,
/// so `Ethernet, #2` (a space before `#`) is part of an adapter's name, not an index.
fn split_index(inst: &str) -> (&str, Option<u32>) {
    if let Some(h) = inst.rfind('#') {
        let (name, num) = (&inst[..h], &inst[h + 1..]);
        let direct = name.chars().last().is_some_and(|c| !c.is_whitespace());
        if direct && !num.is_empty() && num.len() <= 9 && num.bytes().all(|b| b.is_ascii_digit()) {
            return (name, num.parse().ok());
        }
    }
    (inst, None)
}

/// The parsed first line of a PDH-CSV / PDH-TSV export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PerfmonHeader {
    /// `"PDH-CSV 4.0"` or `"PDH-TSV 4.0"`.
    pub format: String,
    /// Time-zone name as written, e.g. `W. Europe Standard Time`.
    pub time_zone: String,
    /// Minutes WEST of UTC, as Windows `TIME_ZONE_INFORMATION.Bias`:
    /// UTC = local + bias (Pacific Standard Time = 480, CET = -60).
    pub bias_minutes: i32,
    /// One per value column (the timestamp column excluded).
    pub counters: Vec<CounterPath>,
}

impl PerfmonHeader {
    /// The classification of every column, in column order.
    pub fn classes(&self) -> Vec<super::CounterClass> {
        self.counters.iter().map(super::classify).collect()
    }

    /// Columns hvsleuth does not attribute to a role (kept in the data, listed in reports).
    pub fn unknown_counters(&self) -> impl Iterator<Item = &CounterPath> {
        self.counters
            .iter()
            .filter(|c| super::classify(c).role.is_none())
    }
}

/// Why a header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("not a PDH-CSV/PDH-TSV export (first cell {0:?})")]
    NotPdh(String),
    #[error("too many counter columns ({0})")]
    TooManyColumns(usize),
}

/// Parses the header line (without line terminator).
pub fn parse_header(line: &[u8], delim: u8) -> Result<PerfmonHeader, HeaderError> {
    let mut cells = Fields::new(line, delim);
    let first = unescape(cells.next().unwrap_or_default());
    let (format, time_zone, bias_minutes) = parse_first_cell(&first)
        .ok_or_else(|| HeaderError::NotPdh(first.chars().take(80).collect()))?;
    let mut counters = Vec::new();
    for cell in cells {
        if counters.len() >= MAX_COUNTERS {
            return Err(HeaderError::TooManyColumns(counters.len()));
        }
        counters.push(CounterPath::parse(&unescape(cell)));
    }
    Ok(PerfmonHeader {
        format,
        time_zone,
        bias_minutes,
        counters,
    })
}

/// `(PDH-CSV 4.0) (W. Europe Standard Time)(-60)` -> ("PDH-CSV 4.0", tz, -60).
/// A missing or unparsable bias is read as 0 (UTC), the tz name is kept.
fn parse_first_cell(cell: &str) -> Option<(String, String, i32)> {
    let body = cell.trim().strip_prefix('(')?;
    let close = body.find(')')?;
    let format = &body[..close];
    if !format.starts_with("PDH-") {
        return None;
    }
    let rest = body[close + 1..].trim();
    // Bias: the last parenthesised group. Time zone: everything between.
    let (tz, bias) = match rest
        .strip_suffix(')')
        .and_then(|r| r.rfind('(').map(|i| (r, i)))
    {
        Some((r, i)) => {
            let bias = r[i + 1..].trim().parse::<i32>().ok();
            let tz = r[..i].trim();
            match bias {
                Some(b) => (tz, b),
                None => (rest, 0),
            }
        }
        None => (rest, 0),
    };
    let tz = tz.strip_prefix('(').unwrap_or(tz);
    let tz = tz.strip_suffix(')').unwrap_or(tz);
    Some((
        format.to_string(),
        tz.to_string(),
        bias.clamp(-24 * 60, 24 * 60),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p =
            CounterPath::parse(r"\\N1\Network Interface(Intel[R] Ethernet, #2)\Bytes Total/sec");
        assert_eq!(p.host, "N1");
        assert_eq!(p.object, "Network Interface");
        assert_eq!(p.instance.as_deref(), Some("Intel[R] Ethernet, #2"));
        assert_eq!(p.instance_index, None);
        assert_eq!(p.counter, "Bytes Total/sec");

        let p = CounterPath::parse(r"\\N1\Process(svchost#3)\% Processor Time");
        assert_eq!(
            (p.instance.as_deref(), p.instance_index),
            (Some("svchost"), Some(3))
        );
        assert_eq!(p.to_pdh(), r"\\N1\Process(svchost#3)\% Processor Time");

        let p = CounterPath::parse(r"\\N2\SMB Client Shares(\\sofs\vms)\Write Bytes/sec");
        assert_eq!(p.object, "SMB Client Shares");
        assert_eq!(p.instance.as_deref(), Some(r"\\sofs\vms"));
        assert_eq!(p.counter, "Write Bytes/sec");

        let p = CounterPath::parse(r"\\N1\Memory\Available MBytes");
        assert_eq!((p.object.as_str(), p.instance.as_deref()), ("Memory", None));

        let p = CounterPath::parse("junk");
        assert_eq!(
            (p.host.as_str(), p.object.as_str(), p.counter.as_str()),
            ("", "", "junk")
        );
    }

    #[test]
    fn first_cell() {
        let h = parse_header(
            br#""(PDH-CSV 4.0) (W. Europe Daylight Time)(-120)","\\N1\Processor(_Total)\% Processor Time""#,
            b',',
        )
        .unwrap();
        assert_eq!(
            (h.format.as_str(), h.time_zone.as_str(), h.bias_minutes),
            ("PDH-CSV 4.0", "W. Europe Daylight Time", -120)
        );
        assert_eq!(h.counters.len(), 1);
        let h = parse_header(b"\"(PDH-TSV 4.0) (Pacific Standard Time)(480)\"", b'\t').unwrap();
        assert_eq!(
            (h.time_zone.as_str(), h.bias_minutes),
            ("Pacific Standard Time", 480)
        );
        assert!(h.counters.is_empty());
        assert!(matches!(
            parse_header(b"\"Time\",\"x\"", b','),
            Err(HeaderError::NotPdh(_))
        ));
        let h = parse_header(b"\"(PDH-CSV 4.0) (Odd)\"", b',').unwrap();
        assert_eq!((h.time_zone.as_str(), h.bias_minutes), ("Odd", 0));
    }
}
