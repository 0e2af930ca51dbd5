//! Wildcard matching with `*` (any run, dots included) and `?` (one character), byte-exact
//! otherwise (docs/BEHAVIOUR.md §2.2 matcher, used by §3.4 groups).

/// Whether `s` matches `pattern`. Iterative, O(len(s) × len(pattern)) at worst.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    let (s, p) = (s.as_bytes(), pattern.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < p.len() && (p[j] == b'?' || p[j] == s[i]) && p[j] != b'*' {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == b'*' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::match_pattern as m;

    #[test]
    fn wildcards() {
        assert!(m("wheel", "wheel"));
        assert!(!m("wheel", "Wheel"), "case-sensitive");
        assert!(m("a.b.example.com", "*.example.com"), "star crosses dots");
        assert!(m("admins", "adm?ns"));
        assert!(!m("admns", "adm?ns"));
        assert!(m("", "*"));
        assert!(m("", ""));
        assert!(!m("x", ""));
        assert!(m("abcabd", "*abd"));
        assert!(!m(&"a".repeat(5000), &format!("{}b", "*a".repeat(50))));
    }
}
