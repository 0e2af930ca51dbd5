//! The `groups` option: tokenising and matching (docs/BEHAVIOUR.md §3.4).

use crate::user::pattern::match_pattern;

// The value's tokens are the configuration's business (it checks its own keys); matching
// them against a user's groups is this module's.
pub use crate::config::groups::{tokenize, MAX_GROUPS};

/// Whether every non-empty sub-pattern of every token is negated (the warning of §3.4).
pub fn all_negated(tokens: &[String]) -> bool {
    let mut any = false;
    for t in tokens {
        for p in t.split(',').filter(|p| !p.is_empty()) {
            any = true;
            if !p.starts_with('!') {
                return false;
            }
        }
    }
    any
}

/// Whether one pattern-list token matches a user in `groups`: a group matching a negated
/// pattern makes the token a non-match; otherwise any group matching a plain pattern matches.
fn token_matches(token: &str, groups: &[String]) -> bool {
    let mut positive = false;
    for p in token.split(',') {
        if let Some(neg) = p.strip_prefix('!') {
            if groups.iter().any(|g| match_pattern(g, neg)) {
                return false;
            }
        } else if groups.iter().any(|g| match_pattern(g, p)) {
            positive = true;
        }
    }
    positive
}

/// Whether a user in `groups` matches the configured tokens (any token matches).
pub fn matches(tokens: &[String], groups: &[String]) -> bool {
    tokens.iter().any(|t| token_matches(t, groups))
}

/// The text of the all-negated warning.
pub const ALL_NEGATED_WARNING: &str = "All configured groups are negated; no user can match, so Duo 2FA is disabled for every user (use \"*,!group\" to require 2FA for everyone except a group)";

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(v: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokenize(v, &mut out).expect("tokenize");
        out
    }

    fn g(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_examples() {
        assert_eq!(tok("groups name"), ["groups", "name"]);
        assert_eq!(
            tok("test group\\ name,groups"),
            ["test", "group name,groups"]
        );
        assert_eq!(tok("users\\ with\\ spaces, x"), ["users with spaces,", "x"]);
        assert_eq!(tok("  a   b\tc "), ["a", "b\tc"], "only spaces separate");
        assert_eq!(tok("a\\b"), ["a\\b"], "other backslashes are kept");
    }

    #[test]
    fn limit_of_255_tokens() {
        let mut out = Vec::new();
        let many: Vec<String> = (0..255).map(|i| format!("g{i}")).collect();
        tokenize(&many.join(" "), &mut out).expect("255 fit");
        assert_eq!(out.len(), 255);
        assert_eq!(
            tokenize("one-more", &mut out).unwrap_err(),
            "Exceeded max 256 groups"
        );
        assert!(out.is_empty(), "all groups are discarded");
    }

    #[test]
    fn negation_wins_within_a_token_only() {
        let admin = g(&["users", "wheel"]);
        let plain = g(&["users"]);
        assert!(!matches(&tok("*,!wheel"), &admin));
        assert!(matches(&tok("*,!wheel"), &plain));
        assert!(
            matches(&tok("* !wheel"), &admin),
            "a separate negated token does nothing"
        );
        assert!(matches(&tok("adm*"), &g(&["admins"])));
        assert!(!matches(&tok("adm*"), &plain));
        assert!(
            matches(&tok("a,,b"), &g(&[""])),
            "empty sub-pattern matches an empty name"
        );
        assert!(!matches(&tok("a,,b"), &plain));
    }

    #[test]
    fn all_negated_warning_condition() {
        assert!(all_negated(&tok("!wheel,!admin")));
        assert!(all_negated(&tok("!wheel, !admin")));
        assert!(!all_negated(&tok("admin,!users")));
        assert!(!all_negated(&[]));
    }
}
