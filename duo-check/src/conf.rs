//! The configuration files: there, owned and protected as the module and login_duo require,
//! every problem with its line, required and deprecated keys, what `failmode` means here, and
//! a `groups` setting that matches nobody.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use duo::config::{Config, ConfigError, FailMode, Frontend};

use crate::report::{Check, Level, Report};

/// Most problems listed per file.
const MAX_PROBLEMS: usize = 50;
/// Most local users looked at for `groups`.
const MAX_USERS: usize = 10_000;

/// Which program reads a config file: `login_duo` when its name says so, else `pam_duo`.
pub fn frontend_of(path: &Path) -> Frontend {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains("login_duo") {
        Frontend::Login
    } else {
        Frontend::Pam
    }
}

fn program(f: Frontend) -> &'static str {
    match f {
        Frontend::Pam => "pam_duo",
        Frontend::Login => "login_duo",
    }
}

/// What to say when the file is missing.
#[derive(Clone, Debug)]
pub struct Missing {
    /// Level of the finding.
    pub level: Level,
    /// Why that level (e.g. "pam_duo.so is not used here").
    pub why: String,
}

/// Check one file; the parsed configuration when it parses.
pub fn check(
    report: &mut Report,
    path: &Path,
    frontend: Frontend,
    privsep: &str,
    missing: Missing,
) -> Option<Config> {
    let subject = path.display().to_string();
    let prog = program(frontend);
    // The same open as pam_duo and login_duo: without blocking, and only a regular file of
    // at most 64 KiB (a FIFO or a device there would hang or mislead this check too).
    let file = match duo::check::ConfigFile::open(path) {
        Ok(f) => f,
        Err(ConfigError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            report.add(
                Check::Config,
                missing.level,
                &subject,
                format!("does not exist ({})", missing.why),
                format!(
                    "install it (owner {}, mode 0600) with the ikey, skey and host of your Duo integration",
                    if frontend == Frontend::Login { privsep } else { "root" }
                ),
            );
            return None;
        }
        Err(ConfigError::Open(e)) => {
            report.add(
                Check::Config,
                Level::Error,
                &subject,
                format!("cannot be read: {}", duo::sys::strerror(&e)),
                "run duo-check as root",
            );
            return None;
        }
        Err(e @ (ConfigError::NotRegular(_) | ConfigError::TooLarge { .. })) => {
            report.add(
                Check::Config,
                Level::Error,
                &subject,
                format!("{e}; {prog} never reads it and denies every login"),
                "replace it with the configuration file (a regular file of at most 64 KiB)",
            );
            return None;
        }
        Err(e) => {
            report.add(
                Check::Config,
                Level::Error,
                &subject,
                format!("cannot be read: {e}"),
                "run duo-check as root",
            );
            return None;
        }
    };
    let meta = file.metadata().clone();
    let mut sound = true;
    let uid = meta.uid();
    let owner = duo::user::account::by_uid(duo::sys::Uid(uid))
        .map(|a| a.name)
        .unwrap_or_else(|| format!("uid {uid}"));
    let privsep_uid = duo::user::account::by_name(privsep).map(|a| a.uid.0);
    let owner_ok = uid == 0 || (frontend == Frontend::Login && privsep_uid == Some(uid));
    if !owner_ok {
        sound = false;
        let (who, to) = match frontend {
            Frontend::Pam => ("root", "root".to_string()),
            Frontend::Login => ("root or the privsep user", privsep.to_string()),
        };
        report.add(
            Check::Config,
            Level::Error,
            &subject,
            format!("owned by {owner}: only {who} may own it, because whoever owns it can switch Duo off"),
            format!("chown {to} {subject}"),
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o066 != 0 {
        sound = false;
        report.add(
            Check::Config,
            Level::Error,
            &subject,
            format!("mode {mode:04o}: readable or writable by group or others, so {prog} refuses it and denies every login"),
            format!("chmod 600 {subject}"),
        );
    } else if mode & 0o011 != 0 {
        report.add(
            Check::Config,
            Level::Warning,
            &subject,
            format!("mode {mode:04o}: execute bits for group or others"),
            format!("chmod 600 {subject}"),
        );
    }
    let text = match file.read() {
        Ok(t) => t,
        Err(e) => {
            report.add(
                Check::Config,
                Level::Error,
                &subject,
                format!("cannot be read: {e}"),
                "replace it with the configuration file (a regular file of at most 64 KiB)",
            );
            return None;
        }
    };
    let parsed = enumerate(&text, frontend);
    for d in &parsed.deprecated {
        report.add(
            Check::Config,
            Level::Warning,
            &subject,
            format!("deprecated key: {d}"),
            "remove that line",
        );
    }
    for p in &parsed.problems {
        sound = false;
        report.add(Check::Config, Level::Error, &subject, &p.0, &p.1);
    }
    let cfg = parsed.config?;
    if sound {
        report.ok(
            Check::Config,
            &subject,
            format!(
                "owner {owner}, mode {mode:04o}, parses: host {}, https_timeout {}",
                cfg.host.as_str(),
                match cfg.https_timeout {
                    Some(t) => format!("{t} s"),
                    None => "unset (30 s for ping+preauth)".into(),
                }
            ),
        );
    }
    failmode(report, &subject, &cfg);
    if cfg.noverify {
        report.add(
            Check::Config,
            Level::Warning,
            &subject,
            "noverify = yes: the Duo server's certificate is not checked; anyone on the network path can impersonate Duo",
            "remove noverify; set cafile to your CA if Duo is reached through an inspecting proxy",
        );
    }
    if !cfg.groups.is_empty() {
        groups(report, &subject, &cfg.groups);
    }
    Some(cfg)
}

/// What `failmode` means for this host.
fn failmode(report: &mut Report, subject: &str, cfg: &Config) {
    match cfg.failmode {
        FailMode::Safe => report.add(
            Check::Config,
            Level::Ok,
            subject,
            "failmode = safe (the default): when Duo cannot be reached from this host, logins through this file succeed without Duo",
            "set failmode = secure to deny instead (a Duo outage then locks out everyone who needs Duo; keep console access)",
        ),
        FailMode::Secure => report.add(
            Check::Config,
            Level::Ok,
            subject,
            "failmode = secure: when Duo cannot be reached from this host, logins through this file are denied",
            "keep console access, or a groups exemption (groups = *,!duo-exempt), for recovery",
        ),
    }
}

/// A `groups` setting that matches no local user means Duo is never asked.
fn groups(report: &mut Report, subject: &str, tokens: &[String]) {
    let shown = tokens.join(" ");
    if duo::user::groups::all_negated(tokens) {
        report.add(
            Check::Config,
            Level::Warning,
            subject,
            format!("groups = {shown}: every pattern is negated, so no user matches and Duo is skipped for everyone"),
            "use \"*,!group\" to require Duo for everyone except a group",
        );
        return;
    }
    let names: Vec<String> = std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|n| !n.is_empty() && !n.starts_with(['+', '-', '#']))
        .take(MAX_USERS)
        .map(str::to_string)
        .collect();
    let mut matched = Vec::new();
    for n in &names {
        let Some(acct) = duo::user::account::by_name(n) else {
            continue;
        };
        if let Ok(g) = duo::user::account::group_names(&acct) {
            if duo::user::groups::matches(tokens, &g) {
                matched.push(n.clone());
            }
        }
    }
    if matched.is_empty() {
        report.add(
            Check::Config,
            Level::Warning,
            subject,
            format!("groups = {shown} matches none of the {} local users: none of them is asked for Duo", names.len()),
            "check the group names (getent group NAME); users outside these groups skip Duo",
        );
    } else {
        let sample: Vec<&str> = matched.iter().take(5).map(String::as_str).collect();
        report.ok(
            Check::Config,
            subject,
            format!(
                "groups = {shown}: {} of {} local users need Duo ({}{}); the others skip it",
                matched.len(),
                names.len(),
                sample.join(", "),
                if matched.len() > sample.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        );
    }
}

/// Everything wrong with a file's text.
struct Parsed {
    config: Option<Config>,
    /// Finding and fix of each problem.
    problems: Vec<(String, String)>,
    deprecated: Vec<String>,
}

/// Parse again and again, blanking each bad line, so that every bad line is listed.
fn enumerate(text: &[u8], frontend: Frontend) -> Parsed {
    let mut work = zeroize::Zeroizing::new(text.to_vec());
    let mut out = Parsed {
        config: None,
        problems: Vec::new(),
        deprecated: Vec::new(),
    };
    let prog = program(frontend);
    for _ in 0..MAX_PROBLEMS {
        let mut diag = |_p, m: &str| {
            if !out.deprecated.iter().any(|d| d == m) {
                out.deprecated.push(m.to_string());
            }
        };
        match duo::config::parse(&work, frontend, &mut diag) {
            Ok(c) => {
                if out.problems.is_empty() {
                    out.config = Some(c);
                }
                return out;
            }
            Err(ConfigError::Parse { line, key, problem }) => {
                let what = match (key, problem) {
                    (_, Some(p)) => p,
                    (Some(k), None) => format!("Invalid {prog} option: '{k}'"),
                    (None, None) => {
                        "not a `key = value` line, a [section] or a comment".to_string()
                    }
                };
                out.problems.push((
                    format!("line {line}: {what}; {prog} denies every login until it is fixed"),
                    format!("correct or remove line {line} (the keys are listed in {prog}(8))"),
                ));
                blank_line(&mut work, line);
            }
            Err(ConfigError::Missing) => {
                let missing = missing_keys(&work);
                out.problems.push((
                    format!("{} missing or empty; {prog} denies every login until it is set", missing.join(", ")),
                    "copy the integration key (ikey), secret key (skey) and API hostname (host) of your Duo Auth API / Unix integration from the Duo Admin Panel".into(),
                ));
                return out;
            }
            Err(ConfigError::BothPush) => {
                out.problems.push((
                    format!("autopush and verified_push are both on; {prog} denies every login"),
                    "turn one of them off".into(),
                ));
                return out;
            }
            Err(e) => {
                out.problems.push((
                    format!("cannot be used: {e}"),
                    "rewrite the file from the sample".into(),
                ));
                return out;
            }
        }
    }
    out.problems.push((
        format!("more than {MAX_PROBLEMS} bad lines"),
        "rewrite the file from the sample".into(),
    ));
    out
}

/// Make line `n` (1-based) empty, keeping the numbering of the others.
fn blank_line(text: &mut zeroize::Zeroizing<Vec<u8>>, n: usize) {
    let mut start = 0;
    for _ in 1..n {
        match text[start..].iter().position(|&b| b == b'\n') {
            Some(i) => start += i + 1,
            None => return,
        }
    }
    let end = text[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| start + i);
    text.drain(start..end);
}

/// Which of host, ikey and skey are missing or empty.
fn missing_keys(text: &[u8]) -> Vec<&'static str> {
    let mut set = Vec::new();
    let _ = duo::check::parse_ini(text, &mut |name, value, _| {
        if !value.is_empty() {
            set.push(name.to_string());
        }
        true
    });
    ["host", "ikey", "skey"]
        .into_iter()
        .filter(|k| !set.iter().any(|s| s == k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_line_is_listed_and_keys_named() {
        let text = b"[duo]\nikey = I\nfailmode = open\nbogus = 1\nthis is not ini\nhost = h\n";
        let p = enumerate(text, Frontend::Pam);
        assert!(p.config.is_none());
        let f: Vec<&str> = p.problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(f.len(), 4, "{f:?}");
        assert!(f[0].starts_with("line 3: Invalid failmode: 'open'"));
        assert!(f[1].starts_with("line 4: Invalid pam_duo option: 'bogus'"));
        assert!(f[2].starts_with("line 5: not a `key = value` line"));
        assert!(f[3].starts_with("skey missing or empty"), "{f:?}");
        let p = enumerate(
            b"[duo]\nikey = I\nskey = S\nhost = h\ndev_fips_mode = 1\n",
            Frontend::Login,
        );
        assert!(p.config.is_some() && p.problems.is_empty());
        assert_eq!(p.deprecated.len(), 1);
        let p = enumerate(
            b"[duo]\nikey = I\nskey = S\nhost = h\nmotd = yes\n",
            Frontend::Pam,
        );
        assert!(p.problems[0].0.contains("Invalid pam_duo option: 'motd'"));
        let p = enumerate(
            b"[duo]\nikey = I\nskey = S\nhost = h\nautopush=1\nverified_push=1\n",
            Frontend::Pam,
        );
        assert!(p.problems[0].0.starts_with("autopush and verified_push"));
        let many: String = (0..80).map(|i| format!("bad{i}\n")).collect();
        let p = enumerate(many.as_bytes(), Frontend::Pam);
        assert_eq!(p.problems.len(), MAX_PROBLEMS + 1);
    }

    #[test]
    fn blanking_keeps_line_numbers() {
        let mut t = zeroize::Zeroizing::new(b"a\nb\nc".to_vec());
        blank_line(&mut t, 2);
        assert_eq!(&t[..], b"a\n\nc");
        blank_line(&mut t, 3);
        assert_eq!(&t[..], b"a\n\n");
        blank_line(&mut t, 9);
        assert_eq!(&t[..], b"a\n\n");
    }

    #[test]
    fn frontend_by_name() {
        assert_eq!(
            frontend_of(Path::new("/etc/duo/login_duo.conf")),
            Frontend::Login
        );
        assert_eq!(
            frontend_of(Path::new("/x/login_duo-test.conf")),
            Frontend::Login
        );
        assert_eq!(
            frontend_of(Path::new("/etc/duo/pam_duo.conf")),
            Frontend::Pam
        );
        assert_eq!(frontend_of(Path::new("/etc/duo/sshd.conf")), Frontend::Pam);
    }

    #[test]
    fn only_a_small_regular_file_is_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("duo-check-conf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo.conf");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let zero = dir.join("zero.conf");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let big = dir.join("big.conf");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(100 << 20)
            .unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        let missing = || Missing {
            level: Level::Error,
            why: "test".into(),
        };
        for (p, what) in [
            (&fifo, "not a regular file (a FIFO)"),
            (&zero, "not a regular file (a character device)"),
            (&dir, "not a regular file (a directory)"),
            (&big, "104857600 bytes, more than the 65536 allowed"),
        ] {
            let mut r = Report::default();
            let t = std::time::Instant::now();
            assert!(check(&mut r, p, Frontend::Pam, "sshd", missing()).is_none());
            assert!(t.elapsed() < std::time::Duration::from_secs(1));
            let f = r.findings();
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].level, Level::Error);
            assert!(f[0].finding.starts_with(what), "{:?}", f[0].finding);
        }
        let good = dir.join("good.conf");
        std::fs::write(&good, "[duo]\nikey = I\nskey = S\nhost = h.example.com\n").unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut r = Report::default();
        let cfg = check(&mut r, &good, Frontend::Login, "sshd", missing());
        assert_eq!(
            cfg.map(|c| c.host.to_string()).as_deref(),
            Some("h.example.com")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
