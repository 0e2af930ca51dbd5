//! The `groups` value: its tokens (docs/BEHAVIOUR.md §3.4). Matching them against a user's
//! groups is `crate::user::groups`.

/// Most group tokens a configuration may hold; the 256th is an error.
pub const MAX_GROUPS: usize = 255;

/// Split one `groups` value into tokens and append them to `out`. Only the space character
/// separates tokens (runs collapse); backslash-space is a literal space; any other backslash
/// is kept. Fails with `Exceeded max 256 groups` when the total would reach 256.
pub fn tokenize(value: &str, out: &mut Vec<String>) -> Result<(), String> {
    let mut cur = String::new();
    let mut chars = value.chars().peekable();
    let push = |cur: &mut String, out: &mut Vec<String>| -> Result<(), String> {
        if !cur.is_empty() {
            if out.len() >= MAX_GROUPS {
                out.clear();
                return Err("Exceeded max 256 groups".to_string());
            }
            out.push(std::mem::take(cur));
        }
        Ok(())
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' => push(&mut cur, out)?,
            _ => cur.push(c),
        }
    }
    push(&mut cur, out)
}
