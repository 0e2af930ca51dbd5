//! Wildcard matching with `*` (any run, dots included) and `?` (one character), byte-exact
//! otherwise (SPEC §2.2 matcher, used by §3.4 groups).

/// Whether `s` matches `pattern`.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    let _ = (s, pattern);
    todo!("match_pattern")
}
