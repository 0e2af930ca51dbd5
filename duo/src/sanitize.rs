//! Making server and user text safe for terminals and logs (docs/BEHAVIOUR.md §5.4, §0a D7).

/// Replace every C0 control except TAB and LF, DEL, and every C1 control (U+0080–U+009F) with
/// `?`. Other characters, including all valid UTF-8, pass unchanged.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' => c,
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => '?',
            _ => c,
        })
        .collect()
}

/// Make `s` safe as (part of) one log line: every control character, TAB, CR and LF included,
/// C1 controls too, and the Unicode line and paragraph separators (which some log viewers
/// break lines on) become `?`.
pub fn sanitize_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// As [`sanitize`], for raw bytes that may not be UTF-8: invalid sequences become U+FFFD first.
pub fn sanitize_bytes(b: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(b))
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn log_lines_have_no_line_breaks_of_any_kind() {
        assert_eq!(
            super::sanitize_line("a\rb\nc\td\u{85}e\u{2028}f\u{2029}g\u{1b}h"),
            "a?b?c?d?e?f?g?h"
        );
    }

    #[test]
    fn controls_become_question_marks() {
        assert_eq!(sanitize("\u{1b}]0;PWNED\u{7}"), "?]0;PWNED?");
        assert_eq!(sanitize("a\u{9b}b\u{7f}"), "a?b?");
        assert_eq!(sanitize("héllo\twörld\n"), "héllo\twörld\n");
    }
}
