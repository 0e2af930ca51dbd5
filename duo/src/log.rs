//! Logging (SPEC §9): syslog(3) without `openlog`, or stderr as `[N] message` in debug mode.

use std::ffi::CString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Syslog priorities used by Duo Unix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Priority {
    /// LOG_ERR
    Err = 3,
    /// LOG_WARNING
    Warning = 4,
    /// LOG_INFO
    Info = 6,
    /// LOG_DEBUG
    Debug = 7,
}

/// Longest log line in bytes; longer lines are cut (at a character boundary).
pub const MAX_LINE: usize = 511;

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Send log lines to stderr instead of syslog. Process-wide and, as in the reference, it stays
/// on once set.
pub fn set_debug(on: bool) {
    if on {
        DEBUG.store(true, Ordering::Relaxed);
    }
}

/// Whether debug (stderr) logging is on.
pub fn debug() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Cut `s` to at most `max` bytes without splitting a character.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The text of a log line as it is written: cut to [`MAX_LINE`] bytes and sanitised.
pub fn render(msg: &str) -> String {
    crate::sanitize::sanitize(truncate(msg, MAX_LINE))
}

/// Log one line.
pub fn log(priority: Priority, msg: &str) {
    let line = render(msg);
    if debug() {
        let mut err = std::io::stderr().lock();
        // One write per line, so that lines of concurrent processes do not interleave.
        let _ = err.write_all(format!("[{}] {}\n", priority as i32, line).as_bytes());
        let _ = err.flush();
        return;
    }
    // Sanitising removed every control byte below 0x20 except TAB and LF, so NUL cannot occur;
    // fall back to a fixed text rather than panic if it ever did.
    let c = CString::new(line).unwrap_or_else(|_| CString::from(c"(unloggable message)"));
    // SAFETY: the format is a constant "%s" and the single argument is a valid NUL-terminated
    // string that lives across the call. syslog(3) is thread-safe and opens the log itself with
    // the host process's ident and facility (we never call openlog).
    unsafe { libc::syslog(priority as libc::c_int, c"%s".as_ptr(), c.as_ptr()) };
}

/// Assemble an outcome line: `msg[ for 'user'][ from addr][: err]` (SPEC §9). An address that
/// is present but empty still adds ` from `.
pub fn outcome_line(
    msg: &str,
    user: Option<&str>,
    addr: Option<&str>,
    err: Option<&str>,
) -> String {
    let mut s = String::from(msg);
    if let Some(u) = user {
        s.push_str(" for '");
        s.push_str(u);
        s.push('\'');
    }
    if let Some(a) = addr {
        s.push_str(" from ");
        s.push_str(a);
    }
    if let Some(e) = err {
        if !e.is_empty() {
            s.push_str(": ");
            s.push_str(e);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_lines() {
        assert_eq!(
            outcome_line(
                "Successful Duo login",
                Some("al ice+x"),
                Some("203.0.113.9"),
                None
            ),
            "Successful Duo login for 'al ice+x' from 203.0.113.9"
        );
        assert_eq!(
            outcome_line("Aborted Duo login", Some("bob"), None, Some("HTTP 429")),
            "Aborted Duo login for 'bob': HTTP 429"
        );
        assert_eq!(
            outcome_line("Failed Duo login", Some("bob"), Some(""), Some("")),
            "Failed Duo login for 'bob' from "
        );
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let long = "é".repeat(400);
        let r = render(&long);
        assert!(r.len() <= MAX_LINE);
        assert_eq!(r.len(), 510);
        assert_eq!(render(&"x".repeat(600)).len(), MAX_LINE);
    }
}
