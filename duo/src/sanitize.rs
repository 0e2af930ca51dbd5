//! Making server and user text safe for terminals and logs (SPEC §5.4, §0a D7).

/// Replace every C0 control except TAB and LF, DEL, and every C1 control (U+0080–U+009F) with
/// `?`. Other characters, including all valid UTF-8, pass unchanged.
pub fn sanitize(s: &str) -> String {
    let _ = s;
    todo!("sanitize")
}

/// As [`sanitize`], for raw bytes that may not be UTF-8: invalid sequences become U+FFFD first.
pub fn sanitize_bytes(b: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(b))
}
