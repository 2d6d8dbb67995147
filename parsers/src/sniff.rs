//! Recognise an input file's kind from its first bytes, never from its name.

/// What a file is, judged by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    Gzip,
    Pcap,
    PcapNg,
    /// ETW trace log (.etl): a WMI buffer header.
    Etl,
    /// Windows XML event log (.evtx): "ElfFile\0".
    Evtx,
    /// Binary perfmon log (.blg): needs `relog -f csv` first.
    Blg,
    /// Perfmon export, comma or tab separated: `"(PDH-CSV 4.0) ...` / `"(PDH-TSV 4.0) ...`.
    PerfmonCsv,
    /// `Get-ClusterLog` text: `PID.TID::YYYY/MM/DD-HH:MM:SS.mmm ...`.
    ClusterLog,
    /// Windows event XML export (`wevtutil qe /f:xml`, Event Viewer "Save as XML").
    EventXml,
    /// Event Viewer CSV export: `Level,Date and Time,Source,Event ID,Task Category`.
    EventCsv,
    /// A Microsoft cabinet archive ("MSCF"): the companion `netsh trace ...
    /// report=yes` writes beside its .etl (configuration reports, logs). Not
    /// an input: recognised so that it is set aside with a note.
    Cab,
    Unknown,
}

/// Classifies `head` (the first few KiB of a file).
pub fn sniff(head: &[u8]) -> InputKind {
    let at = |o: usize, m: &[u8]| head.get(o..o + m.len()) == Some(m);
    let u32le = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if at(0, &[0x1f, 0x8b]) {
        return InputKind::Gzip;
    }
    match u32le(0) {
        Some(0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 | 0xa1b2cd34 | 0x34cdb2a1) => {
            return InputKind::Pcap;
        }
        Some(0x0a0d0d0a) => return InputKind::PcapNg,
        _ => {}
    }
    if at(0, b"ElfFile\0") {
        return InputKind::Evtx;
    }
    // MS-CAB header: signature "MSCF", then reserved1 (0).
    if at(0, b"MSCF\0\0\0\0") {
        return InputKind::Cab;
    }
    // BLG (binary perfmon log): both public samples (corpus microsoft-tx/BasicPerfCounters.blg
    // and pal/SampleLog.blg, checked with xxd) start `00 00 01 00`, hold the header length
    // (0x230 / 0x240, where the 0xff fill starts) as u32 at 0x30 and `01 00 04 00` at 0x34.
    // Checked before ETL: `00 00 01 00` read as a buffer size is 64 KiB, a valid ETL size.
    if at(0, &[0, 0, 1, 0])
        && at(0x34, &[1, 0, 4, 0])
        && u32le(0x30).is_some_and(|h| (0x100..=0x1000).contains(&h))
    {
        return InputKind::Blg;
    }
    if looks_like_etl(head) {
        return InputKind::Etl;
    }
    // Text inputs may be UTF-16LE with a BOM (relog, PowerShell, Event Viewer):
    // judge the ASCII transcription of their start.
    let ascii;
    let text = if head.starts_with(&[0xff, 0xfe]) {
        ascii = utf16le_ascii(&head[2..]);
        &ascii[..]
    } else {
        strip_bom(head)
    };
    if text.starts_with(b"\"(PDH-CSV") || text.starts_with(b"\"(PDH-TSV") {
        return InputKind::PerfmonCsv;
    }
    if looks_like_cluster_log(text) {
        return InputKind::ClusterLog;
    }
    let lead = text.trim_ascii_start();
    if lead.starts_with(b"Level,Date and Time,Source,Event ID") {
        return InputKind::EventCsv;
    }
    if (lead.starts_with(b"<?xml") || lead.starts_with(b"<Event"))
        && contains(text, b"<Event")
        && contains(text, b"<System")
    {
        return InputKind::EventXml;
    }
    InputKind::Unknown
}

/// ETL: the first `WMI_BUFFER_HEADER` (buffer size at 0, filled bytes at
/// 0x30, both sane) followed at 0x48 by the logfile header record: a system
/// trace header (marker type 1 or 2 with flags 0xc0, hook id 0) large enough
/// to hold `TRACE_LOGFILE_HEADER`.
fn looks_like_etl(head: &[u8]) -> bool {
    let u16le = |o: usize| head.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32le = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(size), Some(filled)) = (u32le(0), u32le(0x30)) else {
        return false;
    };
    let sane_buffer = (0x100..=64 << 20).contains(&size) && filled >= 0x48 && filled <= size;
    let header_record = matches!(head.get(0x4a), Some(1 | 2))
        && head.get(0x4b) == Some(&0xc0)
        && u16le(0x4e) == Some(0)
        && u16le(0x4c).is_some_and(|n| n >= 0x20 + 0x110);
    sane_buffer && header_record
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The ASCII characters of UTF-16LE text (others become `?`), for sniffing only.
fn utf16le_ascii(b: &[u8]) -> Vec<u8> {
    b.chunks_exact(2)
        .map(|u| {
            if u[1] == 0 && u[0].is_ascii() {
                u[0]
            } else {
                b'?'
            }
        })
        .collect()
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(b)
}

/// `00000b84.00000e6c::2024/01/02-03:04:05.678 INFO ...` on one of the first lines.
fn looks_like_cluster_log(text: &[u8]) -> bool {
    text.split(|&c| c == b'\n')
        .take(20)
        .any(|line| crate::clusterlog::parse_line(&String::from_utf8_lossy(line)).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
    fn corpus_blg() {
        for f in ["microsoft-tx/BasicPerfCounters.blg", "pal/SampleLog.blg"] {
            let path = format!("{}/../../shared/corpus/{f}", env!("CARGO_MANIFEST_DIR"));
            let bytes = std::fs::read(&path).expect("corpus file");
            assert_eq!(sniff(&bytes[..4096]), InputKind::Blg, "{f}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(sniff(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), InputKind::Pcap);
        assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]), InputKind::PcapNg);
        assert_eq!(sniff(&[0x1f, 0x8b, 8]), InputKind::Gzip);
        assert_eq!(sniff(b"ElfFile\0xxxx"), InputKind::Evtx);
        assert_eq!(
            sniff(b"\"(PDH-CSV 4.0) (GMT Standard Time)(0)\",\"\\\\N1\\Processor(_Total)\\% Processor Time\"\r\n"),
            InputKind::PerfmonCsv
        );
        assert_eq!(
            sniff(b"00000b84.00000e6c::2024/01/02-03:04:05.678 INFO  [NETFT] hello\r\n"),
            InputKind::ClusterLog
        );
        assert_eq!(sniff(b"hello"), InputKind::Unknown);
        assert_eq!(sniff(&[0u8; 200]), InputKind::Unknown);
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(
                "\"(PDH-TSV 4.0) (UTC)(0)\""
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(sniff(&utf16), InputKind::PerfmonCsv);
        assert_eq!(
            sniff(b"\xef\xbb\xbfLevel,Date and Time,Source,Event ID,Task Category\r\n"),
            InputKind::EventCsv
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\r\n<Events>\r\n<Event xmlns='x'><System>"),
            InputKind::EventXml
        );
        assert_eq!(
            sniff(b"<Event xmlns='x'><System><Provider"),
            InputKind::EventXml
        );
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><html>"), InputKind::Unknown);
        let mut blg = vec![0u8; 0x40];
        blg[..4].copy_from_slice(&[0, 0, 1, 0]);
        blg[0x30..0x38].copy_from_slice(&[0x30, 2, 0, 0, 1, 0, 4, 0]);
        assert_eq!(sniff(&blg), InputKind::Blg);
        assert_eq!(sniff(b""), InputKind::Unknown);
        assert_eq!(sniff(b"MSCF\0\0\0\0\x40\x02\0\0"), InputKind::Cab);
        assert_eq!(sniff(b"MSCF"), InputKind::Unknown);
    }

    /// First 0x50 bytes of the corpus ETL files (`xxd -l 80`):
    /// microsoft-tx/HTTP_Server.etl, microsoft-tx/KernelNetwork.etl,
    /// etl-parser/lxcore_kernel.etl.
    #[test]
    #[cfg_attr(not(corpus), ignore = "needs ../shared/corpus beside the repository")]
    fn etl_heads() {
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let zeros = "0000 0000 0000 0000 0000 0000 0000 0000";
        let http = hex(&format!(
            "0020 0000 0000 0000 2802 0000 0000 0000 {zeros} 0000 0000 0000 0000 0008 1f00 0300 0000
             2802 0000 0100 0400 0000 0000 0000 0000 0000 0000 0000 0000 0200 02c0 e001 0000"
        ));
        let kernel = hex(&format!(
            "0020 0000 0000 0000 4002 0000 0000 0000 {zeros} 0000 0000 0000 0000 0008 1400 0300 0000
             4002 0000 0100 0400 0000 0000 0000 0000 0000 0000 0000 0000 0200 02c0 f201 0000"
        ));
        let lxcore = hex(&format!(
            "0020 0000 2002 0000 2002 0000 0000 0000 {zeros} 0000 0000 0000 0000 0000 1400 0300 0000
             2002 0000 2100 0400 0000 0000 0000 0000 0000 0000 0000 0000 0200 02c0 8801 0000"
        ));
        for (name, head) in [("http", &http), ("kernel", &kernel), ("lxcore", &lxcore)] {
            assert_eq!(head.len(), 0x50, "{name}");
            assert_eq!(sniff(head), InputKind::Etl, "{name}");
            // Cut before the record header, or with another marker: not ETL.
            assert_eq!(sniff(&head[..0x48]), InputKind::Unknown, "{name}");
            let mut bad = head.clone();
            bad[0x4b] = 0x00;
            assert_eq!(sniff(&bad), InputKind::Unknown, "{name}");
            let mut bad = head.clone();
            bad[0x30] = 0x10; // filled bytes inside the header
            bad[0x31] = 0x00;
            assert_eq!(sniff(&bad), InputKind::Unknown, "{name}");
        }
        // The real files sniff as ETL too.
        for rel in [
            "microsoft-tx/HTTP_Server.etl",
            "microsoft-tx/KernelNetwork.etl",
            "etl-parser/lxcore_kernel.etl",
        ] {
            let path = format!("{}/../../shared/corpus/{rel}", env!("CARGO_MANIFEST_DIR"));
            let data = std::fs::read(&path).unwrap();
            assert_eq!(sniff(&data[..4096]), InputKind::Etl, "{rel}");
        }
    }
}
