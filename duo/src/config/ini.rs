//! The INI dialect of docs/BEHAVIOUR.md §3.2 (an old `inih`), with §0a D6: lines of any length, a leading
//! UTF-8 BOM ignored.
//!
//! A line that is not valid UTF-8 is a parse error at that line.

/// Parse `text`, calling `handler(name, value, line)` for every `name = value` and every
/// continuation line. The handler returns false to reject the entry, which stops parsing.
/// Returns the 1-based number of the first bad line.
pub fn parse(text: &[u8], handler: &mut dyn FnMut(&str, &str, usize) -> bool) -> Result<(), usize> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut prev_name: Option<String> = None;
    for (idx, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = idx + 1;
        let Ok(line) = std::str::from_utf8(raw) else {
            return Err(line_no);
        };
        let trimmed_end = line.trim_end();
        let stripped = trimmed_end.trim_start();
        let indented = stripped.len() < trimmed_end.len();
        if stripped.is_empty() {
            continue;
        }
        if indented {
            if let Some(name) = &prev_name {
                if stripped.starts_with(';') {
                    continue;
                }
                if !handler(name, stripped, line_no) {
                    return Err(line_no);
                }
                continue;
            }
        }
        if stripped.starts_with(';') || stripped.starts_with('#') {
            continue;
        }
        if stripped.starts_with('[') {
            if !stripped.contains(']') {
                return Err(line_no);
            }
            prev_name = None;
            continue;
        }
        let Some((name, value)) = stripped.split_once('=') else {
            return Err(line_no);
        };
        let name = name.trim_end();
        let value = strip_inline_comment(value.trim_start()).trim_end();
        prev_name = Some(name.chars().take(49).collect());
        if !handler(name, value, line_no) {
            return Err(line_no);
        }
    }
    Ok(())
}

/// Cut the value at a `;` that follows whitespace.
fn strip_inline_comment(v: &str) -> &str {
    let b = v.as_bytes();
    for i in 1..b.len() {
        if b[i] == b';' && b[i - 1].is_ascii_whitespace() {
            return &v[..i];
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> Result<Vec<(String, String, usize)>, usize> {
        let mut v = Vec::new();
        parse(text.as_bytes(), &mut |n, val, l| {
            v.push((n.to_string(), val.to_string(), l));
            true
        })?;
        Ok(v)
    }

    fn pairs(text: &str) -> Vec<(String, String)> {
        collect(text)
            .expect("parses")
            .into_iter()
            .map(|(n, v, _)| (n, v))
            .collect()
    }

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn basics_sections_comments_crlf() {
        let t =
            "; c\n# c\n[duo]\r\nhost = x ; note\r\nikey=a;b\n\n[other]\n  \nskey =  s  \nempty =\n";
        assert_eq!(
            pairs(t),
            vec![
                p("host", "x"),
                p("ikey", "a;b"),
                p("skey", "s"),
                p("empty", "")
            ]
        );
        assert_eq!(
            pairs("before = 1\n[duo]\nafter = 2"),
            vec![p("before", "1"), p("after", "2")]
        );
    }

    #[test]
    fn continuation_lines_replace_the_value_of_the_previous_key() {
        let t = "[duo]\nskey = X\n  failmode = secure\n  ; skipped\n  # kept\n";
        assert_eq!(
            pairs(t),
            vec![
                p("skey", "X"),
                p("skey", "failmode = secure"),
                p("skey", "# kept")
            ]
        );
        // After a section header there is no previous key: an indented line is a normal line.
        assert_eq!(pairs("[duo]\n  host = h\n"), vec![p("host", "h")]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(collect("[duo]\nhost = x\nnonsense\n").unwrap_err(), 3);
        assert_eq!(collect("[duo\nhost = x\n").unwrap_err(), 1);
        let mut seen = 0;
        let r = parse(b"a=1\nb=2\nc=3\n", &mut |n, _, _| {
            seen += 1;
            n != "b"
        });
        assert_eq!(r, Err(2));
        assert_eq!(seen, 2, "parsing stops at the rejected line");
        assert_eq!(parse(b"a=1\nb=\xff\n", &mut |_, _, _| true), Err(2));
    }

    #[test]
    fn bom_and_long_lines() {
        assert_eq!(pairs("\u{feff}[duo]\nhost = h\n"), vec![p("host", "h")]);
        let long = "g".repeat(300);
        assert_eq!(
            pairs(&format!("groups = {long}\n")),
            vec![p("groups", &long)]
        );
    }
}
