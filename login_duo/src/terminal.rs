//! The terminal conversation: the menu on stdout, answers from stdin (docs/BEHAVIOUR.md §7.3 step 10).

use std::io::Write;

use duo::flow::conv::Conversation;
use zeroize::Zeroizing;

/// Longest answer read, in bytes.
const MAX_ANSWER: usize = 255;

/// Talks to the user on stdin/stdout.
pub struct Terminal;

impl Conversation for Terminal {
    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>> {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        read_line()
    }

    fn status(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn notice(&mut self, text: &str, _denied: bool) {
        duo::log::raw_stderr(text);
    }
}

/// Read one line from fd 0 a byte at a time, so nothing meant for the program run after the
/// login is swallowed by a buffer. `None` at end of input or on error. Bytes past
/// [`MAX_ANSWER`] are read and dropped.
fn read_line() -> Option<Zeroizing<String>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(64));
    loop {
        let byte = match crate::sys::read_stdin_byte() {
            Ok(Some(b)) => b,
            Ok(None) if buf.is_empty() => return None,
            Ok(None) => break,
            Err(_) => return None,
        };
        if buf.len() < MAX_ANSWER {
            buf.push(byte);
        }
        if byte == b'\n' {
            break;
        }
    }
    Some(Zeroizing::new(String::from_utf8_lossy(&buf).into_owned()))
}
