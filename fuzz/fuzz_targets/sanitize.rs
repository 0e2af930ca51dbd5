//! Sanitising of server and user text for terminals and logs (menus, status lines, log lines).
//! Properties: shown text has no C0 control other than TAB and LF, no DEL and no C1 control;
//! a log line has no control character at all (so nothing can start a line of its own) and is
//! at most MAX_LINE bytes; every other character is kept, in place.
#![no_main]

use duo::fuzzing::has_forbidden_control;
use duo::log::{render, truncate, MAX_LINE};
use duo::sanitize::{sanitize, sanitize_bytes, sanitize_line};
use libfuzzer_sys::fuzz_target;

fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n') || ('\u{80}'..='\u{9f}').contains(&c)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let clean = sanitize(&text);
    assert!(!has_forbidden_control(&clean));
    assert_eq!(clean.chars().count(), text.chars().count());
    for (a, b) in text.chars().zip(clean.chars()) {
        assert!(a == b || (b == '?' && forbidden(a)));
    }
    assert_eq!(sanitize(&clean), clean, "sanitising is idempotent");
    assert_eq!(sanitize_bytes(data), clean);

    let one = sanitize_line(&text);
    assert!(!one.chars().any(char::is_control));
    assert_eq!(one.chars().count(), text.chars().count());
    for (a, b) in text.chars().zip(one.chars()) {
        assert!(a == b || (b == '?' && a.is_control()));
    }
    let line = render(&text);
    assert!(line.len() <= MAX_LINE);
    assert!(!line.contains(['\n', '\r']) && !line.chars().any(char::is_control));
    assert_eq!(line, sanitize_line(truncate(&text, MAX_LINE)));
    assert!(one.starts_with(&line));
});
