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
    // ETL: the first WMI buffer's header; the buffer size (u32 at 0) is a power of two
    // multiple of 1 KiB, and offset 0x08 (saved offset) <= size.
    if let (Some(size), Some(saved)) = (u32le(0), u32le(4)) {
        if size >= 1024 && size.is_power_of_two() && saved <= size && at(0x2c, &[0, 0]) {
            // WNODE_HEADER flags at 0x2c..0x30 in buffer headers written by ETW sessions
            // have the high bits clear; combined with the size check this is specific
            // enough for our inputs. The ETL decoder validates further.
            return InputKind::Etl;
        }
    }
    let text = strip_bom(head);
    if text.starts_with(b"\"(PDH-CSV") || text.starts_with(b"\"(PDH-TSV") {
        return InputKind::PerfmonCsv;
    }
    if looks_like_cluster_log(text) {
        return InputKind::ClusterLog;
    }
    InputKind::Unknown
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(b)
}

/// `00000b84.00000e6c::2024/01/02-03:04:05.678 INFO ...` on one of the first lines.
fn looks_like_cluster_log(text: &[u8]) -> bool {
    text.split(|&c| c == b'\n').take(20).any(|line| {
        let hex = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_hexdigit);
        let Some(colons) = line.windows(2).position(|w| w == b"::") else {
            return false;
        };
        let (ids, rest) = (&line[..colons], &line[colons + 2..]);
        let mut parts = ids.split(|&c| c == b'.');
        let ok_ids = matches!((parts.next(), parts.next(), parts.next()), (Some(p), Some(t), None) if hex(p) && hex(t));
        ok_ids
            && rest.len() >= 23
            && rest[4] == b'/'
            && rest[7] == b'/'
            && rest[10] == b'-'
            && rest[..4].iter().all(u8::is_ascii_digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
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
        let mut blg = vec![0u8; 0x40];
        blg[..4].copy_from_slice(&[0, 0, 1, 0]);
        blg[0x30..0x38].copy_from_slice(&[0x30, 2, 0, 0, 1, 0, 4, 0]);
        assert_eq!(sniff(&blg), InputKind::Blg);
        assert_eq!(sniff(b""), InputKind::Unknown);
    }
}
