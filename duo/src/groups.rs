//! The `groups` option: tokenising and matching (SPEC §3.4).

/// Most group tokens a configuration may hold; the 256th is an error.
pub const MAX_GROUPS: usize = 255;

/// Split one `groups` value into tokens and append them to `out`. Fails with
/// `Exceeded max 256 groups` when the total would reach 256.
pub fn tokenize(value: &str, out: &mut Vec<String>) -> Result<(), String> {
    let _ = (value, out);
    todo!("groups::tokenize")
}

/// Whether every non-empty sub-pattern of every token is negated (the warning of §3.4).
pub fn all_negated(tokens: &[String]) -> bool {
    let _ = tokens;
    todo!("groups::all_negated")
}

/// Whether a user in `groups` matches the configured tokens (any token matches).
pub fn matches(tokens: &[String], groups: &[String]) -> bool {
    let _ = (tokens, groups);
    todo!("groups::matches")
}

/// The text of the all-negated warning.
pub const ALL_NEGATED_WARNING: &str = "All configured groups are negated; no user can match, so Duo 2FA is disabled for every user (use \"*,!group\" to require 2FA for everyone except a group)";
