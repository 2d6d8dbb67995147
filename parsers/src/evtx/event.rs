//! [`WinEvent`]: one Windows event, and its extraction from event XML.

use super::kinds::{ClusterEventKind, classify_event};
use super::xml::{Scanner, Token, attr, decode};
use crate::civil::{Civil, digits, fraction_ns};

/// At most this many `EventData` / `UserData` name-value pairs are kept.
pub const MAX_DATA_ITEMS: usize = 64;
/// Values (and the message hint) are cut to this many bytes.
pub const MAX_VALUE_LEN: usize = 4096;
/// Elements nested deeper than this are skipped.
const MAX_DEPTH: usize = 32;

/// One event from an .evtx file or an XML/CSV export.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WinEvent {
    /// `TimeCreated/@SystemTime`, nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    /// `Provider/@Name`, e.g. `Microsoft-Windows-FailoverClustering`.
    pub provider: String,
    pub event_id: u32,
    /// 1 critical, 2 error, 3 warning, 4 information, 5 verbose (0 = LogAlways / unknown).
    pub level: u8,
    pub computer: String,
    pub channel: String,
    pub record_id: Option<u64>,
    /// `EventData/Data` (`Name` attribute, or `Data[n]` when unnamed) and
    /// `UserData` leaf elements, in document order, bounded.
    pub data: Vec<(String, String)>,
    /// Rendered message when the export carries one (`RenderingInfo/Message`,
    /// or the CSV export's message column).
    pub message_hint: Option<String>,
    /// Timeline meaning, when the provider/ID is one we track.
    pub kind: Option<ClusterEventKind>,
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_VALUE_LEN {
        let mut end = MAX_VALUE_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Extracts the first `<Event>` of `xml`. `None` when there is no `Event`
/// element with a parsable `EventID`.
pub fn parse_event_xml(xml: &str) -> Option<WinEvent> {
    let mut ev = WinEvent::default();
    let mut stack: Vec<&str> = Vec::with_capacity(8);
    let mut in_event = false;
    let mut have_id = false;
    // The element whose text we are collecting, and the Data name.
    let mut text = String::new();
    let mut data_name: Option<String> = None;
    let mut unnamed = 0u32;
    for tok in Scanner::new(xml) {
        match tok {
            Token::Start { name, attrs, empty } => {
                if !in_event {
                    if name == "Event" {
                        in_event = true;
                        stack.push(name);
                    }
                    continue;
                }
                let parent = stack.last().copied().unwrap_or("");
                match name {
                    "Provider" if parent == "System" => {
                        if let Some(n) = attr(attrs, "Name") {
                            ev.provider = n.into_owned();
                        }
                    }
                    "TimeCreated" if parent == "System" => {
                        ev.ts_ns = attr(attrs, "SystemTime")
                            .and_then(|t| parse_iso_time(&t))
                            .unwrap_or(0);
                    }
                    "Data" if parent == "EventData" => {
                        data_name = Some(match attr(attrs, "Name") {
                            Some(n) => n.into_owned(),
                            None => {
                                unnamed += 1;
                                format!("Data[{unnamed}]")
                            }
                        });
                        if empty {
                            push_data(&mut ev, data_name.take(), String::new());
                        }
                    }
                    _ => {}
                }
                text.clear();
                if !empty {
                    if stack.len() >= MAX_DEPTH {
                        return finish(ev, have_id);
                    }
                    stack.push(name);
                }
            }
            Token::Text(t) => {
                if in_event && text.len() < MAX_VALUE_LEN {
                    text.push_str(t);
                }
            }
            Token::End { name } => {
                if !in_event {
                    continue;
                }
                let parent = stack
                    .len()
                    .checked_sub(2)
                    .and_then(|i| stack.get(i))
                    .copied()
                    .unwrap_or("");
                let value = || cut(decode(text.trim()).into_owned());
                match (parent, name) {
                    ("System", "EventID") => {
                        if let Ok(id) = text.trim().parse() {
                            ev.event_id = id;
                            have_id = true;
                        }
                    }
                    ("System", "Level") => ev.level = text.trim().parse().unwrap_or(0),
                    ("System", "Computer") => ev.computer = value(),
                    ("System", "Channel") => ev.channel = value(),
                    ("System", "EventRecordID") => ev.record_id = text.trim().parse().ok(),
                    ("EventData", "Data") => push_data(&mut ev, data_name.take(), value()),
                    ("RenderingInfo", "Message") => ev.message_hint = Some(value()),
                    (_, "Event") => return finish(ev, have_id),
                    _ if stack.contains(&"UserData") && !text.trim().is_empty() => {
                        push_data(&mut ev, Some(name.to_string()), value());
                    }
                    _ => {}
                }
                text.clear();
                // Pop up to and including the matching element (tolerates bad nesting).
                if let Some(i) = stack.iter().rposition(|s| *s == name) {
                    stack.truncate(i);
                }
            }
        }
    }
    finish(ev, have_id)
}

fn push_data(ev: &mut WinEvent, name: Option<String>, value: String) {
    if ev.data.len() < MAX_DATA_ITEMS {
        ev.data.push((name.unwrap_or_default(), value));
    }
}

fn finish(mut ev: WinEvent, have_id: bool) -> Option<WinEvent> {
    if !have_id {
        return None;
    }
    ev.kind = classify_event(&ev.provider, ev.event_id);
    Some(ev)
}

/// `2019-03-18T14:23:22.1347224Z` (fraction and zone optional; `+hh:mm` accepted).
pub fn parse_iso_time(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0;
    if let Some(f) = rest.strip_prefix(b".") {
        let n = f.iter().take_while(|c| c.is_ascii_digit()).count();
        nanos = fraction_ns(f.get(..n.min(9))?)?;
        rest = &f[n..];
    }
    let offset_s: i64 = match rest {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let v = i64::from(digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?) * 60;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let c = Civil {
        year: i64::from(digits(&b[0..4])?),
        month: digits(&b[5..7])?,
        day: digits(&b[8..10])?,
        hour: digits(&b[11..13])?,
        minute: digits(&b[14..16])?,
        second: digits(&b[17..19])?,
        nanos,
    };
    c.valid().then(|| c.to_unix_ns() - offset_s * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
<System><Provider Name="Microsoft-Windows-FailoverClustering" Guid="{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}"/>
<EventID>5121</EventID><Version>0</Version><Level>2</Level><Task>38</Task>
<TimeCreated SystemTime="2026-03-10T13:00:40.0123456Z"/><EventRecordID>88211</EventRecordID>
<Channel>System</Channel><Computer>node2.lab.local</Computer></System>
<EventData><Data Name="VolumeName">Volume1</Data><Data Name="ResourceName">Cluster Disk 1</Data><Data>x &amp; y</Data><Data Name="E"/></EventData>
<RenderingInfo Culture="en-US"><Message>Cluster Shared Volume 'Volume1' is no longer directly accessible.</Message></RenderingInfo>
</Event>"#;

    #[test]
    fn event() {
        let e = parse_event_xml(EV).unwrap();
        assert_eq!(e.provider, "Microsoft-Windows-FailoverClustering");
        assert_eq!((e.event_id, e.level, e.record_id), (5121, 2, Some(88211)));
        assert_eq!(
            (e.computer.as_str(), e.channel.as_str()),
            ("node2.lab.local", "System")
        );
        // `date -u -d '2026-03-10 13:00:40' +%s` = 1773147640
        assert_eq!(e.ts_ns, 1_773_147_640_012_345_600);
        assert_eq!(e.data[0], ("VolumeName".into(), "Volume1".into()));
        assert_eq!(e.data[2], ("Data[1]".into(), "x & y".into()));
        assert_eq!(e.data[3], ("E".into(), String::new()));
        assert!(
            e.message_hint
                .unwrap()
                .contains("no longer directly accessible")
        );
        assert_eq!(e.kind, Some(ClusterEventKind::CsvRedirected));
    }

    #[test]
    fn userdata_and_open_close_form() {
        let x = r#"<Event><System><Provider Name="P"></Provider><EventID Qualifiers="0">7</EventID>
<TimeCreated SystemTime="2019-03-18T14:23:22Z"></TimeCreated></System>
<UserData><Ev xmlns="u"><A>1</A><B>two</B></Ev></UserData></Event>"#;
        let e = parse_event_xml(x).unwrap();
        assert_eq!((e.provider.as_str(), e.event_id), ("P", 7));
        assert_eq!(
            e.data,
            [
                ("A".to_string(), "1".to_string()),
                ("B".into(), "two".into())
            ]
        );
        assert!(parse_event_xml("<Event><System></System></Event>").is_none());
        assert!(parse_event_xml("").is_none());
    }

    #[test]
    fn iso() {
        assert_eq!(parse_iso_time("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(parse_iso_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_iso_time("1970-01-01 00:00:00.5"), Some(500_000_000));
        assert_eq!(
            parse_iso_time("1970-01-01T00:00:00.1234567891Z"),
            Some(123_456_789)
        );
        assert_eq!(parse_iso_time("1970-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso_time("1970-01-01T00:00:00X"), None);
    }
}
