//! Configuration text from a `Config`: the inverse of [`super::parse`], for the round-trip
//! property of the config fuzz target and the unit tests. Not in a shipped build.

use super::*;

/// Write `cfg` as configuration text that [`parse`] reads back to an equal `Config` (the
/// round-trip property of the config fuzz target). Every configuration that `parse` returns can
/// be written; `Err` names a value that cannot (one made in code with a newline, surrounding
/// whitespace, an out-of-range number, ...).
pub(crate) fn render(cfg: &Config, frontend: Frontend) -> Result<Secret, String> {
    let mut out = Secret::new(String::from("[duo]\n"));
    let o = &mut *out;
    value(o, "ikey", &cfg.ikey)?;
    value(o, "skey", &cfg.skey)?;
    value(o, "host", &cfg.host)?;
    if let Some(c) = &cfg.cafile {
        value(o, "cafile", c)?;
    }
    if let Some(p) = &cfg.http_proxy {
        value(o, "http_proxy", p)?;
    }
    group_lines(o, &cfg.groups)?;
    let failmode = match cfg.failmode {
        FailMode::Safe => "safe",
        FailMode::Secure => "secure",
    };
    o.push_str(&format!("failmode = {failmode}\n"));
    let yes = |b: bool| if b { "yes" } else { "no" };
    for (name, on) in [
        ("pushinfo", cfg.pushinfo),
        ("noverify", cfg.noverify),
        ("autopush", cfg.autopush),
        ("verified_push", cfg.verified_push),
        ("accept_env_factor", cfg.accept_env_factor),
        ("fallback_local_ip", cfg.fallback_local_ip),
        ("send_gecos", cfg.send_gecos),
    ] {
        o.push_str(&format!("{name} = {}\n", yes(on)));
    }
    o.push_str(match cfg.sshd_messages {
        SshdMessages::Prompt => "sshd_messages = prompt\n",
        SshdMessages::Immediate => "sshd_messages = immediate\n",
    });
    match frontend {
        Frontend::Login => o.push_str(&format!("motd = {}\n", yes(cfg.motd))),
        Frontend::Pam if cfg.motd => return Err("motd is a login_duo option".into()),
        Frontend::Pam => {}
    }
    if !(1..=3).contains(&cfg.prompts) {
        return Err(format!("prompts {} out of range", cfg.prompts));
    }
    o.push_str(&format!("prompts = {}\n", cfg.prompts));
    if let Some(t) = cfg.https_timeout {
        if !(1..=MAX_HTTPS_TIMEOUT).contains(&t) {
            return Err(format!("https_timeout {t} out of range"));
        }
        o.push_str(&format!("https_timeout = {t}\n"));
    }
    if let Some(p) = cfg.gecos_username_pos {
        // `atoi` reads at most 12 digits.
        match p.checked_add(1).filter(|n| *n < 1_000_000_000_000) {
            Some(n) => o.push_str(&format!("gecos_username_pos = {n}\n")),
            None => return Err(format!("gecos_username_pos {p} out of range")),
        }
    }
    let d = cfg.gecos_delim;
    if !d.is_ascii_punctuation() || d == b':' {
        return Err(format!("gecos_delim {d:#x} is not allowed"));
    }
    o.push_str(&format!("gecos_delim = {}\n", d as char));
    o.push_str(&format!("failmode_notice = {}\n", yes(cfg.failmode_notice)));
    o.push_str(match cfg.events {
        Events::Off => "events = off\n",
        Events::Json => "events = json\n",
    });
    if cfg.outage_window > MAX_OUTAGE_WINDOW {
        return Err(format!("outage_window {} out of range", cfg.outage_window));
    }
    o.push_str(&format!("outage_window = {}\n", cfg.outage_window));
    if !(1..=MAX_PROBE_INTERVAL).contains(&cfg.outage_probe_interval) {
        return Err(format!(
            "outage_probe_interval {} out of range",
            cfg.outage_probe_interval
        ));
    }
    o.push_str(&format!(
        "outage_probe_interval = {}\n",
        cfg.outage_probe_interval
    ));
    if let Some(d) = &cfg.outage_state_dir {
        check_outage_dir(d)?;
        value(o, "outage_state_dir", d)?;
    }
    Ok(out)
}

/// Whether a `name = v` line gives back `v` (the INI reader cuts values at a `;` that follows
/// whitespace, and trims them).
fn plain_ok(v: &str) -> bool {
    let b = v.as_bytes();
    v.trim() == v
        && !v.contains('\n')
        && !(1..b.len()).any(|i| b[i] == b';' && b[i - 1].is_ascii_whitespace())
}

/// Whether an indented continuation line gives back `v` (it is not cut at `;`, but one that
/// starts with `;` is a comment).
fn continuation_ok(v: &str) -> bool {
    !v.is_empty() && v.trim() == v && !v.contains('\n') && !v.starts_with(';')
}

/// One string setting: `name = v`, or when `v` holds an inline-comment marker, a placeholder
/// line followed by a continuation line that replaces it.
fn value(out: &mut String, name: &str, v: &str) -> Result<(), String> {
    if !v.is_empty() && plain_ok(v) {
        out.push_str(&format!("{name} = {v}\n"));
    } else if continuation_ok(v) {
        out.push_str(&format!("{name} = x\n  {v}\n"));
    } else {
        return Err(format!("{name} cannot be written"));
    }
    Ok(())
}

/// The group tokens, in order: an empty `groups =` line, then lines of tokens (a literal space
/// as `\ `), each written plain or as a continuation. A token that ends with a backslash must
/// end its line (a space after it would be read as an escaped space), and a line may not start
/// or end with whitespace. A split into lines that can all be written is searched for (every
/// token list that `parse` produced has one: the lines it came from).
fn group_lines(out: &mut String, tokens: &[String]) -> Result<(), String> {
    if tokens.is_empty() {
        return Ok(());
    }
    let esc: Vec<String> = tokens.iter().map(|t| t.replace(' ', "\\ ")).collect();
    let n = tokens.len();
    // best[j]: the start of the last line of a writable split of tokens[..j].
    let mut best: Vec<Option<usize>> = vec![None; n + 1];
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for i in 0..n {
        if !reach[i] {
            continue;
        }
        let mut line = String::new();
        for j in i..n {
            if tokens[j].is_empty() || tokens[j].contains('\n') {
                return Err("groups cannot be written".into());
            }
            if j > i {
                line.push(' ');
            }
            line.push_str(&esc[j]);
            if (plain_ok(&line) || continuation_ok(&line)) && !reach[j + 1] {
                reach[j + 1] = true;
                best[j + 1] = Some(i);
            }
            if tokens[j].ends_with('\\') {
                break;
            }
        }
    }
    if !reach[n] {
        return Err("groups cannot be written".into());
    }
    let mut starts = Vec::new();
    let mut j = n;
    while j > 0 {
        let i = best[j].ok_or("groups cannot be written")?;
        starts.push((i, j));
        j = i;
    }
    out.push_str("groups =\n");
    for &(i, j) in starts.iter().rev() {
        let line = esc[i..j].join(" ");
        if continuation_ok(&line) {
            out.push_str(&format!("  {line}\n"));
        } else {
            out.push_str(&format!("groups = {line}\n"));
        }
    }
    Ok(())
}
