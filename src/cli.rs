//! Command-line interface (clap derive). Help texts teach: every subcommand
//! says what it reads, what it prints and an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hvsleuth",
    version,
    about = "Offline analyser for Hyper-V failover-cluster traffic",
    long_about = "hvsleuth reads packet captures (pcap, pcapng, gzip-compressed) and Windows \
performance/ETW exports from the nodes of a Hyper-V cluster and tells which role every byte on \
every network interface served: CSV redirected IO, live migration, storage, cluster, management.",
    after_help = "Exit codes: 0 all inputs read; 1 runtime error; 2 usage error; \
3 some input damaged (everything before the damage was analysed); 4 nothing readable.\n\n\
Examples:\n  hvsleuth inspect node1.pcapng node2.pcap.gz\n  hvsleuth inspect --json capture.pcap | jq .captures[0].top_flows"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise captures: packets, bytes, interfaces, conversations, TCP anomalies.
    ///
    /// Reads each capture once, in parallel across files. Byte counts use the
    /// length on the wire, so snaplen-truncated captures still count right.
    #[command(
        after_help = "Example:\n  hvsleuth inspect samples/restore-flood/node2.pcapng --top 5"
    )]
    Inspect(InspectArgs),
    /// Attribute every byte on every interface to a role over time.
    ///
    /// Reads captures (and directories of them), maps capture interfaces to
    /// cluster nodes and NICs (from --inventory, else inferred), groups traffic
    /// per interface and service, and gives each group a role with a reason:
    /// redirected-io, live-migration, storage, cluster, management, other. The
    /// sum over roles always equals the interface's wire bytes.
    #[command(
        after_help = "Examples:\n  hvsleuth analyze samples/restore-flood --inventory samples/inventory.toml\n  \
hvsleuth analyze captures/ --out report-dir --bucket 5s\n  hvsleuth analyze node*.pcapng --write-inventory inferred.toml"
    )]
    Analyze(AnalyzeArgs),
    /// The per-file stage of `analyze` alone: one shard per input (Parquet
    /// tables and manifest.json) for `analyze --from`.
    ///
    /// Each input is read once (captures in parallel): interface counts,
    /// service groups with their series, heartbeat tracks, clock-skew samples,
    /// MAC tables, the SMB session model, perfmon counters and timeline
    /// events. A shard whose input is unchanged (size and SHA-256 of the first
    /// MiB) and was made by this version with the same settings is reused.
    /// Prints the shard directories, one a line.
    #[command(
        after_help = "Examples:\n  hvsleuth scan samples/restore-flood --out shards/\n  \
hvsleuth analyze --from shards/ --inventory samples/inventory.toml"
    )]
    Scan(ScanArgs),
    /// SMB 2/3 sessions across captures: dialects, encryption, Multichannel channels,
    /// shares and their capabilities, files, bytes, witness and share redirects.
    #[command(
        after_help = "Examples:\n  hvsleuth smb node1.pcapng node2.pcapng\n  hvsleuth smb --json captures/ | jq '.sessions[] | {session_id, channels: (.channels|length)}'"
    )]
    Smb(SmbArgs),
    /// One time-ordered forensic timeline across captures, perfmon counters, event
    /// logs and cluster.log (each input's kind is detected by content).
    #[command(
        after_help = "Example:\n  hvsleuth timeline samples/restore-flood samples/fixtures --json"
    )]
    Timeline(TimelineArgs),
    /// Compare two analyses (before/after a change): per interface x role deltas,
    /// findings new / resolved / unchanged, overlay charts.
    ///
    /// A and B are each a directory or file of inputs (analysed now) or an
    /// earlier `analyze --out` directory (its stored analysis is used).
    #[command(
        after_help = "Example:\n  hvsleuth diff samples/restore-flood samples/restore-constrained --inventory samples/inventory.toml --out diff-out"
    )]
    Diff(DiffArgs),
    /// Re-render report.html, report.md and charts from an earlier `analyze --out` directory.
    Report(ReportArgs),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    #[command(
        after_help = "Examples:\n  hvsleuth completions bash > /etc/bash_completion.d/hvsleuth\n  \
hvsleuth completions zsh > \"${fpath[1]}/_hvsleuth\"\n  hvsleuth completions fish > ~/.config/fish/completions/hvsleuth.fish\n  \
hvsleuth completions powershell >> $PROFILE"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of hvsleuth, or write one page per command into --out.
    #[command(
        after_help = "Examples:\n  hvsleuth man | man -l -\n  hvsleuth man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Write hvsleuth.1 and hvsleuth-<command>.1 into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// List the finding rules: id, what each detects, why it matters, the fix.
    Rules {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Input files or directories (captures are detected by content).
    #[arg(required_unless_present = "from", value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Merge shards made by `hvsleuth scan --out` instead of reading inputs:
    /// a shard directory or a directory of them (repeatable). Shards are
    /// taken in the order of their inputs' paths, captures first.
    #[arg(long, value_name = "SHARDS", conflicts_with = "inputs")]
    pub from: Vec<PathBuf>,
    /// Cluster inventory (TOML; see README). Without it, nodes, addresses and
    /// networks are inferred from the traffic.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Write the report into this directory (created if missing): report.html
    /// (self-contained page: open it first), report.md, findings.json,
    /// charts/*.svg and *.png, the tables interface_roles, groups,
    /// smb_sessions and counters as CSV and Parquet, and summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Time bucket of the tables and peaks: e.g. 100ms, 1s, 5s, 1m.
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns, value_name = "DURATION")]
    pub bucket: i64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write what was inferred as an inventory file to correct and re-use.
    #[arg(long, value_name = "FILE")]
    pub write_inventory: Option<PathBuf>,
    /// Append this analysis to a Hive-partitioned Parquet dataset for fleet
    /// analytics (Spark, DuckDB, Trino, polars): interface_roles, groups,
    /// findings, timeline, counters, smb_sessions and incidents tables under
    /// DIR/<table>/cluster=…/date=…/node=…/part-<incident>.parquet, described
    /// by DIR/_schema.json. Re-running on the same inputs replaces that
    /// incident's parts.
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Input files or directories (detected by content, as `analyze` does).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Directory of shards (created if missing): one subdirectory per input.
    #[arg(long, value_name = "SHARDS")]
    pub out: PathBuf,
    /// Treat files named on the command line as a directory's files: skip
    /// (and say so) those that are not a recognised input, instead of
    /// failing on them. For drivers that hand `scan` one file of a directory
    /// at a time (scale/spark_analyze.py).
    #[arg(long)]
    pub skip_unrecognised: bool,
    /// Time bucket the merge will use (`analyze --from ... --bucket`): e.g.
    /// 100ms, 1s; any whole number of seconds scans at 1 s.
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns, value_name = "DURATION")]
    pub bucket: i64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Parses "250ms", "1s", "5s", "2m", "1h" (or a bare number of seconds) into nanoseconds.
pub fn parse_duration_ns(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000.0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1_000.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e9)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e9)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600e9)
    } else {
        (s, 1e9)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (try 1s, 500ms, 1m)"))?;
    let ns = v * mult;
    if !(1_000.0..=86_400e9).contains(&ns) {
        return Err(format!("duration {s:?} out of range (1us to 24h)"));
    }
    Ok(ns as i64)
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed; detected by content),
    /// or directories to search for them.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Print JSON (one object with a "captures" array) instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many of the largest conversations to list per capture.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by the commands that read inputs.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Never show a progress bar (it is shown only when stderr is a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Most conversations tracked at once, one budget for all the captures read in
    /// parallel (about 300 bytes each: 1,000,000 fit in ~300 MB); beyond it the
    /// least recently seen are evicted (their bytes still counted; evictions reported).
    #[arg(long, default_value_t = 1_000_000, value_name = "N", global = true)]
    pub max_flows: usize,
    /// Decrypt an SMB 3 session: SESSIONID:SESSIONKEY or SESSIONID:S2CKEY:C2SKEY
    /// (hex; SESSIONID is the 8 bytes in capture order, as tshark shows smb2.sesid;
    /// the two derived keys may be given in either order). Repeatable. Keys are
    /// never printed or written; reports say "decrypted with a supplied key".
    #[arg(long = "smb-key", value_name = "KEYSPEC", global = true)]
    pub smb_key: Vec<String>,
    /// File of --smb-key lines (one session per line, `#` comments).
    #[arg(long = "smb-keys", value_name = "FILE", global = true)]
    pub smb_keys: Option<PathBuf>,
    /// File of NT passwords, lines `DOMAIN\user:password` (or `user:password`):
    /// the session keys of NTLMv2 SESSION_SETUPs are recovered from them.
    #[arg(long = "ntlm-password", value_name = "FILE", global = true)]
    pub ntlm_password: Option<PathBuf>,
    /// File of NT hashes, lines `user:NTHASH` (or `DOMAIN\user:NTHASH`, 32 hex digits).
    #[arg(long = "nt-hash", value_name = "FILE", global = true)]
    pub nt_hash: Option<PathBuf>,
    /// Kerberos keytab (MIT format, as ktutil or ktpass write it) of the SMB
    /// servers' service accounts: Kerberos SESSION_SETUPs get their session key
    /// from the AP-REQ (aes256/aes128-cts-hmac-sha1-96 and rc4-hmac; not DES).
    /// Repeatable. Reports say how each session's key came, never the key.
    #[arg(long = "keytab", value_name = "FILE", global = true)]
    pub keytab: Vec<PathBuf>,
}

impl CommonArgs {
    /// The SMB decryption keys from --smb-key, --smb-keys, --ntlm-password,
    /// --nt-hash and --keytab (`None` without any). A bad key source is a usage error
    /// (exit 2); messages name the option and line, never key bytes.
    pub fn smb_key_ring(&self) -> Option<std::sync::Arc<hvsleuth_parsers::smb::crypto::KeyRing>> {
        use hvsleuth_parsers::smb::crypto::keys;
        let fail = |what: &str, e: String| -> ! {
            eprintln!("error: {what}: {e}");
            std::process::exit(2)
        };
        let read = |what: &str, p: &PathBuf| -> String {
            std::fs::read_to_string(p)
                .unwrap_or_else(|e| fail(what, format!("{}: {e}", p.display())))
        };
        let mut ring = keys::KeyRing::new();
        for (i, s) in self.smb_key.iter().enumerate() {
            let spec = keys::parse_key_spec(s)
                .unwrap_or_else(|e| fail(&format!("--smb-key #{}", i + 1), e));
            ring.add_session(spec);
        }
        if let Some(p) = &self.smb_keys {
            for spec in keys::parse_key_file(&read("--smb-keys", p))
                .unwrap_or_else(|e| fail("--smb-keys", e))
            {
                ring.add_session(spec);
            }
        }
        if let Some(p) = &self.ntlm_password {
            for c in keys::parse_password_file(&read("--ntlm-password", p))
                .unwrap_or_else(|e| fail("--ntlm-password", e))
            {
                ring.add_credential(c);
            }
        }
        for p in &self.keytab {
            let bytes = std::fs::read(p)
                .unwrap_or_else(|e| fail("--keytab", format!("{}: {e}", p.display())));
            let kt = hvsleuth_parsers::kerberos::keytab::parse(&bytes)
                .unwrap_or_else(|e| fail("--keytab", format!("{}: {e}", p.display())));
            ring.add_keytab(kt);
        }
        if let Some(p) = &self.nt_hash {
            for c in keys::parse_hash_file(&read("--nt-hash", p))
                .unwrap_or_else(|e| fail("--nt-hash", e))
            {
                ring.add_credential(c);
            }
        }
        (!ring.is_empty()).then(|| std::sync::Arc::new(ring))
    }
}

#[derive(Debug, Args)]
pub struct SmbArgs {
    /// Capture files or directories.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Files listed per session.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Before: inputs or an earlier output directory.
    #[arg(value_name = "BEFORE")]
    pub before: PathBuf,
    /// After: inputs or an earlier output directory.
    #[arg(value_name = "AFTER")]
    pub after: PathBuf,
    /// Inventory used for both sides when they are analysed now.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Write diff.html, diff.md and overlay charts here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Time bucket when analysing inputs.
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns, value_name = "DURATION")]
    pub bucket: i64,
    /// Print JSON (deltas and findings).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// An output directory written by `hvsleuth analyze --out`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Write the pages here instead of into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Captures, perfmon CSV/TSV, .evtx or event XML/CSV exports, cluster.log, or directories.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `hvsleuth completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> crate::exit::ExitCode {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "hvsleuth", &mut buf);
    crate::exit::print_stdout(&String::from_utf8_lossy(&buf))
}

/// `hvsleuth man [--out DIR]`: the man page on stdout, or one page per
/// visible command written into DIR.
pub fn man(out: Option<&std::path::Path>) -> crate::exit::ExitCode {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let render = |c: clap::Command| -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c).render(&mut buf)?;
        Ok(buf)
    };
    let Some(dir) = out else {
        return match render(cmd) {
            Ok(b) => crate::exit::print_stdout(&String::from_utf8_lossy(&b)),
            Err(e) => {
                eprintln!("error: rendering the man page: {e}");
                crate::exit::ExitCode::Error
            }
        };
    };
    let write = || -> std::io::Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        let p = dir.join("hvsleuth.1");
        std::fs::write(&p, render(cmd.clone())?)?;
        written.push(p);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("hvsleuth-{}", sub.get_name());
            let page = sub
                .clone()
                .name(clap::builder::Str::from(name.clone().leak() as &str));
            let p = dir.join(format!("{name}.1"));
            std::fs::write(&p, render(page)?)?;
            written.push(p);
        }
        Ok(written)
    };
    match write() {
        Ok(w) => {
            for p in w {
                eprintln!("wrote {}", p.display());
            }
            crate::exit::ExitCode::Ok
        }
        Err(e) => {
            eprintln!("error: writing man pages to {}: {e}", dir.display());
            crate::exit::ExitCode::Error
        }
    }
}
