//! The logfile header (`TRACE_LOGFILE_HEADER`, payload of the first record
//! of the file) and the clock it defines: QPC ticks, system time (FILETIME)
//! or CPU cycles, tied to wall time by the header record's own timestamp
//! and the session start time.

use super::container::{Record, RecordKind, u32_at, u64_at, utf16z};

/// FILETIME of 1970-01-01T00:00:00Z (100 ns units since 1601).
pub const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// How the trace's timestamps tick (`TRACE_LOGFILE_HEADER.ReservedFlags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockType {
    /// QueryPerformanceCounter ticks at `perf_freq` Hz.
    Qpc,
    /// System time: FILETIME, 100 ns since 1601.
    SystemTime,
    /// CPU cycle counter at `cpu_mhz` MHz.
    CpuCycles,
    Unknown(u32),
}

/// What the logfile header (first record of the file) says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogfileHeaderSummary {
    pub buffer_size: u32,
    /// Windows version that wrote the trace, e.g. "6.1".
    pub os_version: String,
    /// `ProviderVersion`: the Windows build number.
    pub os_build: u32,
    pub processors: u32,
    pub pointer_size: u32,
    pub clock: ClockType,
    pub perf_freq: u64,
    pub cpu_mhz: u32,
    pub timer_resolution: u32,
    pub log_file_mode: u32,
    pub buffers_written: u32,
    pub events_lost: u32,
    pub buffers_lost: u32,
    /// Session start, Unix nanoseconds.
    pub start_ns: i64,
    /// Last event written, Unix nanoseconds (0 when the logger never set it).
    pub end_ns: i64,
    pub boot_ns: i64,
    pub logger_name: String,
    pub log_file_name: String,
}

/// FILETIME to Unix nanoseconds (saturating).
pub fn filetime_to_unix_ns(ft: u64) -> i64 {
    let ns = (ft as i128 - FILETIME_UNIX_EPOCH as i128) * 100;
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Parses the logfile header record (system header, hook id 0). Returns the
/// summary and the record's own raw timestamp (the clock's reference point).
pub fn parse_logfile_header(rec: &Record<'_>) -> Option<(LogfileHeaderSummary, u64)> {
    if rec.kind != RecordKind::System || rec.hook_id()? != 0 {
        return None;
    }
    let p = rec.system_payload()?;
    let ptr = u32_at(p, 0x2c)?;
    // Pointer-sized LoggerName/LogFileName, then TIME_ZONE_INFORMATION
    // (0xac bytes), then 8-aligned LARGE_INTEGERs.
    let ptr_size = if rec.is_64bit() || ptr == 8 { 8 } else { 4 };
    let tz = 0x38 + 2 * ptr_size;
    let boot = (tz + 0xac + 7) & !7;
    let fixed_end = boot + 0x20;
    let clock = match u32_at(p, boot + 0x18)? {
        1 => ClockType::Qpc,
        2 => ClockType::SystemTime,
        3 => ClockType::CpuCycles,
        n => ClockType::Unknown(n),
    };
    let names = p.get(fixed_end..).unwrap_or(&[]);
    let (logger_name, used) = utf16z(names, 512);
    let (log_file_name, _) = utf16z(names.get(used..).unwrap_or(&[]), 1024);
    let end = u64_at(p, 0x10)?;
    let version = u32_at(p, 4)?.to_le_bytes();
    let s = LogfileHeaderSummary {
        buffer_size: u32_at(p, 0)?,
        os_version: format!("{}.{}", version[0], version[1]),
        os_build: u32_at(p, 8)?,
        processors: u32_at(p, 0x0c)?,
        pointer_size: ptr,
        clock,
        perf_freq: u64_at(p, boot + 8)?,
        cpu_mhz: u32_at(p, 0x34)?,
        timer_resolution: u32_at(p, 0x18)?,
        log_file_mode: u32_at(p, 0x20)?,
        buffers_written: u32_at(p, 0x24)?,
        events_lost: u32_at(p, 0x30)?,
        buffers_lost: u32_at(p, boot + 0x1c)?,
        start_ns: filetime_to_unix_ns(u64_at(p, boot + 0x10)?),
        end_ns: if end == 0 {
            0
        } else {
            filetime_to_unix_ns(end)
        },
        boot_ns: filetime_to_unix_ns(u64_at(p, boot)?),
        logger_name,
        log_file_name,
    };
    Some((s, rec.raw_timestamp()?))
}

/// Turns raw record timestamps into Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Raw values are FILETIMEs.
    Filetime,
    /// Raw values tick at `freq` Hz; `ref_raw` happened at `ref_ns`.
    Scaled {
        ref_raw: u64,
        ref_ns: i64,
        freq: u64,
        /// `1e9 / freq` when that is exact (fast path).
        ns_per_tick: u64,
    },
}

impl Clock {
    /// The clock a logfile header describes; `None` when it cannot be used
    /// (unknown clock type, zero frequency).
    pub fn from_header(h: &LogfileHeaderSummary, ref_raw: u64) -> Option<Clock> {
        let freq = match h.clock {
            ClockType::SystemTime => return Some(Clock::Filetime),
            ClockType::Qpc => h.perf_freq,
            ClockType::CpuCycles => h.cpu_mhz as u64 * 1_000_000,
            ClockType::Unknown(_) => 0,
        };
        if freq == 0 {
            return None;
        }
        let ns_per_tick = if 1_000_000_000 % freq == 0 {
            1_000_000_000 / freq
        } else {
            0
        };
        Some(Clock::Scaled {
            ref_raw,
            ref_ns: h.start_ns,
            freq,
            ns_per_tick,
        })
    }

    #[inline]
    pub fn to_unix_ns(&self, raw: u64) -> i64 {
        match *self {
            Clock::Filetime => filetime_to_unix_ns(raw),
            Clock::Scaled {
                ref_raw,
                ref_ns,
                freq,
                ns_per_tick,
            } => {
                let delta = raw as i128 - ref_raw as i128;
                let ns = if ns_per_tick != 0 {
                    delta * ns_per_tick as i128
                } else {
                    delta * 1_000_000_000 / freq as i128
                };
                (ref_ns as i128 + ns).clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32-bit logfile header: 4-byte name pointers move the time zone to
    /// 0x40 and the LARGE_INTEGERs to 0xf0 (dissect.etl: 0x110 bytes).
    #[test]
    fn header_32bit_layout() {
        let mut p = vec![0u8; 0x110];
        p[0..4].copy_from_slice(&0x1_0000u32.to_le_bytes());
        p[4..8].copy_from_slice(&[6, 3, 0, 0]);
        p[8..12].copy_from_slice(&9600u32.to_le_bytes());
        p[0x2c..0x30].copy_from_slice(&4u32.to_le_bytes());
        p[0x34..0x38].copy_from_slice(&3000u32.to_le_bytes());
        let start = FILETIME_UNIX_EPOCH + 10_000_000;
        p[0xf8..0x100].copy_from_slice(&3_579_545u64.to_le_bytes());
        p[0x100..0x108].copy_from_slice(&start.to_le_bytes());
        p[0x108..0x10c].copy_from_slice(&1u32.to_le_bytes());
        for u in "log\0f.etl\0".encode_utf16() {
            p.extend_from_slice(&u.to_le_bytes());
        }
        let mut r = vec![0x02, 0x00, 0x01, 0xc0];
        r.extend_from_slice(&((0x20 + p.len()) as u16).to_le_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        r.extend_from_slice(&1000u64.to_le_bytes());
        r.extend_from_slice(&[0u8; 8]);
        r.extend_from_slice(&p);
        let rec = Record {
            kind: RecordKind::System,
            header_type: 1,
            bytes: &r,
            offset: 0,
        };
        let (h, ref_raw) = parse_logfile_header(&rec).unwrap();
        assert_eq!(ref_raw, 1000);
        assert_eq!(
            (h.pointer_size, h.perf_freq, h.cpu_mhz),
            (4, 3_579_545, 3000)
        );
        assert_eq!((h.os_version.as_str(), h.os_build), ("6.3", 9600));
        assert_eq!(h.clock, ClockType::Qpc);
        assert_eq!(h.start_ns, 1_000_000_000);
        assert_eq!(
            (h.logger_name.as_str(), h.log_file_name.as_str()),
            ("log", "f.etl")
        );
        let c = Clock::from_header(&h, ref_raw).unwrap();
        assert_eq!(c.to_unix_ns(1000 + 3_579_545), 2_000_000_000);
        assert_eq!(c.to_unix_ns(0), 1_000_000_000 - 279_365); // before the reference
    }

    #[test]
    fn clocks() {
        assert_eq!(Clock::Filetime.to_unix_ns(FILETIME_UNIX_EPOCH + 5), 500);
        let c = Clock::Scaled {
            ref_raw: 10,
            ref_ns: 0,
            freq: 10_000_000,
            ns_per_tick: 100,
        };
        assert_eq!(c.to_unix_ns(11), 100);
        assert_eq!(c.to_unix_ns(u64::MAX), i64::MAX);
    }
}
