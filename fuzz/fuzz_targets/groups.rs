//! Group patterns (duo::user::pattern, duo::user::groups): the `groups` value tokeniser and the matcher.
//! Input: a `groups` value, a NUL, then group names separated by NUL.
//!
//! Properties: the wildcard matcher agrees with a plain dynamic-programming matcher; tokens are
//! non-empty, at most MAX_GROUPS, and hold a space only where the value had `\ `; a user
//! matches exactly when some token has a matching plain pattern and no matching negated one;
//! when every pattern is negated no user (with non-empty group names) can match.
#![no_main]

use duo::user::groups::{all_negated, matches, tokenize, MAX_GROUPS};
use duo::user::pattern::match_pattern;
use libfuzzer_sys::fuzz_target;

/// `*` any run, `?` one byte, anything else itself.
fn reference(s: &[u8], p: &[u8]) -> bool {
    let mut row = vec![false; s.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; s.len() + 1];
        if c == b'*' {
            let mut any = false;
            for i in 0..=s.len() {
                any |= row[i];
                next[i] = any;
            }
        } else {
            for i in 1..=s.len() {
                next[i] = row[i - 1] && (c == b'?' || c == s[i - 1]);
            }
        }
        row = next;
    }
    row[s.len()]
}

fn token_matches(token: &str, groups: &[String]) -> bool {
    let mut positive = false;
    for p in token.split(',') {
        match p.strip_prefix('!') {
            Some(neg)
                if groups
                    .iter()
                    .any(|g| reference(g.as_bytes(), neg.as_bytes())) =>
            {
                return false
            }
            Some(_) => {}
            None => positive |= groups.iter().any(|g| reference(g.as_bytes(), p.as_bytes())),
        }
    }
    positive
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let value = parts.next().unwrap_or("");
    let groups: Vec<String> = parts.take(16).map(str::to_string).collect();
    for g in &groups {
        if g.len() <= 256 && value.len() <= 256 {
            assert_eq!(
                match_pattern(g, value),
                reference(g.as_bytes(), value.as_bytes()),
                "{g:?} ~ {value:?}"
            );
        }
    }
    let mut tokens = Vec::new();
    match tokenize(value, &mut tokens) {
        Ok(()) => {
            assert!(tokens.len() <= MAX_GROUPS);
            assert!(tokens.iter().all(|t| !t.is_empty()));
            if !value.contains("\\ ") {
                assert!(tokens.iter().all(|t| !t.contains(' ')));
            }
        }
        Err(e) => {
            assert_eq!(e, "Exceeded max 256 groups");
            assert!(tokens.is_empty());
            return;
        }
    }
    if value.len() <= 512 {
        let m = matches(&tokens, &groups);
        assert_eq!(m, tokens.iter().any(|t| token_matches(t, &groups)));
        // (An empty sub-pattern matches an empty group name, which no real group has.)
        if all_negated(&tokens) && groups.iter().all(|g| !g.is_empty()) {
            assert!(!m);
        }
    }
});
