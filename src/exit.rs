//! Process exit codes (documented in README.md).

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every input was read completely.
    Ok = 0,
    /// A runtime error unrelated to input content (I/O on the output, bad options).
    Error = 1,
    // 2 is clap's exit code for usage errors.
    /// Some input was damaged: everything before the damage was analysed.
    Partial = 3,
    /// No input could be read at all.
    NothingReadable = 4,
}

/// Writes `text` to stdout; a closed pipe (e.g. `| head`) is not an error worth a panic.
/// Every control character other than newline and tab (ESC, CR, BEL, C1) and
/// every bidi override is written as a visible `\uXXXX` escape: names taken
/// from captures can never drive the terminal (retitle, clear, forge lines).
pub fn print_stdout(text: &str) -> ExitCode {
    print_stdout_styled(&hvsleuth_reports::escape::terminal_text(text))
}

/// Writes text that escaped its capture-derived fields itself
/// ([`hvsleuth_reports::escape::terminal`]) and carries its own colour codes.
pub fn print_stdout_styled(text: &str) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Ok,
        Err(_) => ExitCode::Error,
    }
}

impl From<ExitCode> for i32 {
    fn from(c: ExitCode) -> i32 {
        c as i32
    }
}

impl ExitCode {
    /// The exit code for a set of per-input outcomes: (readable at all, complete).
    pub fn from_outcomes(outcomes: impl IntoIterator<Item = (bool, bool)>) -> ExitCode {
        let (mut any, mut readable, mut complete) = (false, false, true);
        for (r, c) in outcomes {
            any = true;
            readable |= r;
            complete &= c;
        }
        if !any || !readable {
            ExitCode::NothingReadable
        } else if !complete {
            ExitCode::Partial
        } else {
            ExitCode::Ok
        }
    }
}
