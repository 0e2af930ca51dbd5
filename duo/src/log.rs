//! Logging (docs/BEHAVIOUR.md §9): syslog(3) with facility authpriv, or stderr as `[N] message`
//! in debug mode. The PAM module never calls `openlog` (the host owns the log connection); it
//! passes the facility in each priority instead (§0a D9). `login_duo` opens its own log with
//! [`open_own_log`], so its tag cannot be chosen through argv\[0\].

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

/// The text of a log line as it is written: cut to [`MAX_LINE`] bytes, and every control
/// character (CR, LF and TAB included) replaced by `?`, so that no value from a user or a
/// server can start a line of its own (docs/BEHAVIOUR.md §0a D12).
pub fn render(msg: &str) -> String {
    crate::sanitize::sanitize_line(truncate(msg, MAX_LINE))
}

/// Open this program's own connection to syslog with ident `ident`, the process id, and
/// facility authpriv. For `login_duo` only: a PAM module must never call this.
pub fn open_own_log(ident: &'static std::ffi::CStr) {
    crate::sys::openlog(ident);
}

/// Write one line to syslog, whether debug mode is on or not.
pub fn syslog_only(priority: Priority, msg: &str) {
    let c = CString::new(render(msg)).unwrap_or_else(|_| CString::from(c"(unloggable message)"));
    crate::sys::syslog(libc::LOG_AUTHPRIV | priority as libc::c_int, &c);
}

/// Write one line to stderr as it is (no `[N]` prefix), sanitised like a log line, in one
/// write. The reference prints configuration problems this way.
pub fn raw_stderr(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(format!("{}\n", render(msg)).as_bytes());
    let _ = err.flush();
}

/// Log one line.
pub fn log(priority: Priority, msg: &str) {
    log_in_mode(priority, msg, false);
}

/// Log one line, to stderr when `debug_now` is set even if debug mode is not (yet) on. For
/// the PAM module's arguments, where `debug` takes effect for the lines after it before debug
/// mode is switched on for the login.
pub fn log_in_mode(priority: Priority, msg: &str, debug_now: bool) {
    let line = render(msg);
    if debug_now || debug() {
        to_stderr(priority, &line);
        return;
    }
    // Rendering replaced every control byte, so NUL cannot occur.
    syslog(priority, line);
}

/// Send `text` to syslog(3) as it is, with facility authpriv. The caller makes sure it holds
/// no control character; a NUL would make it a fixed text rather than panic.
pub(crate) fn syslog(priority: Priority, text: String) {
    let c = CString::new(text).unwrap_or_else(|_| CString::from(c"(unloggable message)"));
    // Without openlog, syslog uses the host process's ident; the facility given here applies
    // to this message only.
    crate::sys::syslog(libc::LOG_AUTHPRIV | priority as libc::c_int, &c);
}

/// Write `[<priority>] <text>` and a newline to stderr in one write, as debug mode does.
pub(crate) fn to_stderr(priority: Priority, text: &str) {
    let mut err = std::io::stderr().lock();
    // One write per line, so that lines of concurrent processes do not interleave.
    let _ = err.write_all(format!("[{}] {}\n", priority as i32, text).as_bytes());
    let _ = err.flush();
}

/// Replace the panic message printer of this copy of the Rust runtime with one log line
/// that names the source location only: no payload (it may hold server data), no backtrace
/// whatever `RUST_BACKTRACE` says, nothing on the caller's terminal. A panic still unwinds
/// and denies the login. In the PAM module this affects only the module's own runtime, not
/// the host.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            log(Priority::Err, &format!("internal error (panic){at}"));
        }));
    });
}

/// Assemble an outcome line: `msg[ for 'user'][ from addr][: err]` (docs/BEHAVIOUR.md §9). An address that
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
    fn no_value_can_start_a_new_line() {
        let line = outcome_line(
            "Failed Duo login",
            Some("bob\r\nFORGED root"),
            Some("192.0.2.1\nFORGED-LINE root"),
            Some("server\tsaid\u{1b}[2J\u{85}x"),
        );
        let r = render(&line);
        assert!(!r.chars().any(char::is_control), "{r:?}");
        assert_eq!(
            r,
            "Failed Duo login for 'bob??FORGED root' from 192.0.2.1?FORGED-LINE root: server?said?[2J?x"
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
