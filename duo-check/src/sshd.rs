//! sshd's effective settings: from `sshd -T`, or, when that fails (no host keys, no privilege
//! separation directory), from reading `sshd_config` and its `Include`s directly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use duo::config::SshdMessages;

use crate::report::{Check, Level, Report};

/// The sshd binary (always the host's; `--root` only moves the configuration).
const SSHD: &str = "/usr/sbin/sshd";
/// Bound of `sshd -T`.
const SSHD_T_LIMIT: Duration = Duration::from_secs(10);
/// Most files read through `Include`.
const MAX_INCLUDES: usize = 64;

/// sshd's settings as far as Duo cares.
#[derive(Debug, Default)]
pub struct Sshd {
    /// The sshd_config that was read (under `--root`).
    pub config: PathBuf,
    /// Whether sshd is there at all (binary or config).
    pub present: bool,
    /// Where the settings came from, for the report.
    pub source: String,
    /// Whether the file could not be read at all.
    pub unreadable: bool,
    /// The OpenSSH release of the tree's `usr/sbin/sshd` (`9.2p1`), from its version string.
    pub openssh: Option<String>,
    /// Lowercase keyword and value, in order; multi-valued keywords appear once per value.
    settings: Vec<(String, String)>,
}

/// Defaults of OpenSSH for the keywords looked at, used when the file is parsed directly.
const DEFAULTS: [(&str, &str); 9] = [
    ("usepam", "no"),
    ("kbdinteractiveauthentication", "yes"),
    ("authenticationmethods", "any"),
    ("pubkeyauthentication", "yes"),
    ("passwordauthentication", "yes"),
    ("permituserenvironment", "no"),
    ("forcecommand", "none"),
    ("allowtcpforwarding", "yes"),
    ("permittunnel", "no"),
];

impl Sshd {
    /// The (first) value of a keyword, lowercase keyword; the OpenSSH default when unset.
    pub fn get(&self, key: &str) -> &str {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .or_else(|| DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
            .unwrap_or("")
    }

    /// Every value of a multi-valued keyword (`acceptenv`), split on whitespace.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split_whitespace())
            .collect()
    }

    /// The program `ForceCommand` runs, if any.
    pub fn force_command(&self) -> Option<&str> {
        let v = self.get("forcecommand");
        let prog = v.split_whitespace().next()?;
        (prog != "none").then_some(prog)
    }

    /// The `login_duo` that `ForceCommand` runs, if it runs one.
    pub fn forced_login_duo(&self) -> Option<&str> {
        self.force_command()
            .filter(|p| Path::new(p).file_name().is_some_and(|n| n == "login_duo"))
    }
}

/// Normalise keyword spellings across OpenSSH versions.
fn keyword(k: &str) -> String {
    let k = k.to_ascii_lowercase();
    match k.as_str() {
        "challengeresponseauthentication" => "kbdinteractiveauthentication".into(),
        _ => k,
    }
}

/// Read sshd's settings for the tree under `root`.
pub fn gather(root: &Path) -> Sshd {
    let config = root.join("etc/ssh/sshd_config");
    let mut s = Sshd {
        present: Path::new(SSHD).exists() || config.exists(),
        config: config.clone(),
        openssh: openssh_release(&root.join("usr/sbin/sshd")),
        ..Sshd::default()
    };
    if !config.exists() {
        s.source = format!("{} does not exist", config.display());
        return s;
    }
    let mut why = String::from("sshd is not installed");
    if Path::new(SSHD).exists() {
        let mut cmd = Command::new(SSHD);
        cmd.arg("-T");
        if root != Path::new("/") {
            cmd.arg("-f").arg(&config);
        }
        match crate::cmd::run(cmd, SSHD_T_LIMIT) {
            Ok(o) if o.success && !o.stdout.trim().is_empty() => {
                for line in o.stdout.lines() {
                    if let Some((k, v)) = line.trim().split_once(' ') {
                        s.settings.push((keyword(k), v.trim().to_string()));
                    }
                }
                s.source = format!("`sshd -T` on {}", config.display());
                return s;
            }
            Ok(o) => {
                why = o
                    .stderr
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no output")
                    .to_string()
            }
            Err(e) => why = e,
        }
    }
    let mut files = 0;
    match parse_file(root, &config, &mut s.settings, &mut files) {
        Ok(()) => {
            s.source = format!(
                "{} read directly (`sshd -T` failed: {why}; Match blocks are not applied)",
                config.display()
            )
        }
        Err(e) => {
            s.unreadable = true;
            s.source = format!("cannot read {}: {e}", config.display());
        }
    }
    s
}

/// Parse one sshd_config file into `out` (first value wins, as sshd does, except for the
/// multi-valued `AcceptEnv`), following `Include`s and skipping `Match` blocks.
fn parse_file(
    root: &Path,
    path: &Path,
    out: &mut Vec<(String, String)>,
    files: &mut usize,
) -> Result<(), String> {
    *files += 1;
    if *files > MAX_INCLUDES {
        return Err("too many Include files".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| duo::sys::strerror(&e))?;
    let mut in_match = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once(|c: char| c.is_whitespace() || c == '=') {
            Some((k, v)) => (keyword(k), v.trim_start_matches([' ', '\t', '=']).trim()),
            None => (keyword(line), ""),
        };
        if k == "match" {
            in_match = true;
            continue;
        }
        if in_match {
            continue;
        }
        if k == "include" {
            for pattern in v.split_whitespace() {
                for f in expand(root, pattern) {
                    // A missing or unreadable included file is skipped, as sshd does for globs.
                    let _ = parse_file(root, &f, out, files);
                }
            }
            continue;
        }
        let v = v.trim_matches('"').to_string();
        if k == "acceptenv" || !out.iter().any(|(ok, _)| *ok == k) {
            out.push((k, v));
        }
    }
    Ok(())
}

/// Files an `Include` pattern names: relative to /etc/ssh, under `root`; `*` and `?` in the
/// last component only; sorted, as sshd does.
fn expand(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let rel = pattern.strip_prefix('/').map_or_else(
        || Path::new("etc/ssh").join(pattern),
        |p| Path::new(p).to_path_buf(),
    );
    let full = root.join(rel);
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![full];
    }
    let Some(dir) = full.parent() else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    duo::user::pattern::match_pattern(&e.file_name().to_string_lossy(), &name)
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// What sshd's settings mean for Duo. `pam_duo` says whether sshd's PAM auth stack has the
/// module; `login_duo_state` says what is wrong with the forced login_duo, if anything
/// (`does not exist`, `is not setuid (mode 0755)`, ...).
pub fn check(
    report: &mut Report,
    s: &Sshd,
    pam_duo: bool,
    login_duo_state: Option<String>,
    messages: Option<SshdMessages>,
) {
    let subject = "sshd";
    if !s.present {
        report.ok(Check::Sshd, subject, "sshd is not installed");
        return;
    }
    if s.unreadable || !s.config.exists() {
        report.add(
            Check::Sshd,
            Level::Warning,
            subject,
            format!("sshd settings not checked: {}", s.source),
            if s.unreadable {
                "run duo-check as root"
            } else {
                "install sshd's configuration, or point --root at the tree that has it"
            },
        );
        return;
    }
    report.ok(Check::Sshd, subject, format!("settings from {}", s.source));
    let before = count(report);
    if pam_duo {
        // A working forced login_duo asks Duo whatever the authentication method.
        let forced_ok = s.forced_login_duo().is_some() && login_duo_state.is_none();
        pam_settings(report, s, forced_ok);
        if let Some(m) = messages {
            sshd_messages(report, s, m);
        }
    }
    if let Some(prog) = s.forced_login_duo() {
        match &login_duo_state {
            Some(problem) => report.add(
                Check::Sshd,
                Level::Error,
                subject,
                format!(
                    "ForceCommand runs {prog}, which {problem}: SSH logins through it are denied"
                ),
                if problem == "does not exist" {
                    "install the package (or make install), or correct ForceCommand".to_string()
                } else {
                    format!(
                        "chown root:root {prog} && chmod 4755 {prog} (or reinstall the package)"
                    )
                },
            ),
            None => report.ok(
                Check::Sshd,
                subject,
                format!("ForceCommand runs {prog} (root-owned, setuid)"),
            ),
        }
        if s.get("allowtcpforwarding") != "no" {
            report.add(
                Check::Sshd,
                Level::Warning,
                subject,
                format!(
                    "AllowTcpForwarding {}: with `ssh -N` a user opens tunnels without ever running the forced login_duo",
                    s.get("allowtcpforwarding")
                ),
                "set AllowTcpForwarding no (and PermitTunnel no) next to ForceCommand",
            );
        }
        if s.get("permittunnel") != "no" {
            report.add(
                Check::Sshd,
                Level::Warning,
                subject,
                format!(
                    "PermitTunnel {}: tunnels can be opened without running login_duo",
                    s.get("permittunnel")
                ),
                "set PermitTunnel no",
            );
        }
    }
    environment(report, s);
    if count(report) == before && !pam_duo && s.forced_login_duo().is_none() {
        report.ok(
            Check::Sshd,
            subject,
            "sshd uses neither pam_duo.so nor login_duo (see the pam check)",
        );
    }
}

fn count(report: &Report) -> usize {
    report
        .findings()
        .iter()
        .filter(|f| f.check == Check::Sshd)
        .count()
}

/// UsePAM, keyboard-interactive and AuthenticationMethods, when sshd's PAM stack has Duo.
fn pam_settings(report: &mut Report, s: &Sshd, forced_login_duo: bool) {
    let subject = "sshd";
    let mut bad = false;
    if s.get("usepam") != "yes" {
        bad = true;
        report.add(
            Check::Sshd,
            Level::Error,
            subject,
            "UsePAM no: sshd never runs its PAM stack, so pam_duo.so in /etc/pam.d/sshd is not used",
            format!("set UsePAM yes in {}", s.config.display()),
        );
    }
    if s.get("kbdinteractiveauthentication") != "yes" {
        bad = true;
        report.add(
            Check::Sshd,
            Level::Error,
            subject,
            "KbdInteractiveAuthentication no: sshd cannot show the Duo prompt, so SSH logins through pam_duo fail or skip it",
            format!(
                "set KbdInteractiveAuthentication yes (and AuthenticationMethods publickey,keyboard-interactive) in {}",
                s.config.display()
            ),
        );
    }
    let methods = s.get("authenticationmethods");
    let without: Vec<&str> = if methods == "any" {
        if s.get("pubkeyauthentication") == "yes" {
            vec!["publickey"]
        } else {
            Vec::new()
        }
    } else {
        methods
            .split_whitespace()
            .filter(|alt| {
                !alt.split(',')
                    .any(|m| m.split(':').next() == Some("keyboard-interactive"))
            })
            .collect()
    };
    if !without.is_empty() && !forced_login_duo {
        bad = true;
        report.add(
            Check::Sshd,
            Level::Warning,
            subject,
            format!(
                "AuthenticationMethods {methods}: a login by {} never runs keyboard-interactive, so it skips Duo",
                without.join(" or ")
            ),
            "set AuthenticationMethods publickey,keyboard-interactive (or keyboard-interactive), or use login_duo as ForceCommand",
        );
    }
    bad |= pushes_twice(report, s, methods);
    if !bad {
        report.ok(
            Check::Sshd,
            subject,
            if without.is_empty() {
                format!("UsePAM yes, KbdInteractiveAuthentication yes, AuthenticationMethods {methods}: every SSH login runs pam_duo")
            } else {
                format!("UsePAM yes, KbdInteractiveAuthentication yes, AuthenticationMethods {methods}: a login by {} skips pam_duo but still runs login_duo (ForceCommand)", without.join(" or "))
            },
        );
    }
}

/// The first OpenSSH release that shows PAM's informational messages during
/// keyboard-interactive at once ("immediately report interactive instructions to clients").
const DELIVERS_AT_ONCE: (u32, u32) = (10, 3);
/// Most bytes of the sshd binary searched for its version string.
const MAX_BINARY: u64 = 32 << 20;

/// The OpenSSH release named in the binary at `path`: the `OpenSSH_<major>.<minor>p<n>` string
/// sshd announces itself with (the binary also holds release names of peers it knows quirks
/// of, but those have no `p<n>`).
fn openssh_release(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_BINARY)
        .read_to_end(&mut bytes)
        .ok()?;
    release_in(&bytes)
}

/// The first `OpenSSH_<major>.<minor>p<n>` in `bytes`, without the prefix.
fn release_in(bytes: &[u8]) -> Option<String> {
    const TAG: &[u8] = b"OpenSSH_";
    let mut from = 0;
    while let Some(i) = bytes[from..].windows(TAG.len()).position(|w| w == TAG) {
        let start = from + i + TAG.len();
        let rest = &bytes[start..];
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.' || **b == b'p')
            .count();
        let cand = String::from_utf8_lossy(&rest[..len]).into_owned();
        if release_parts(&cand).is_some() {
            return Some(cand);
        }
        from = start;
    }
    None
}

/// `10.0p2` → (10, 0); None unless it has the form `<digits>.<digits>p<digits>`.
fn release_parts(v: &str) -> Option<(u32, u32)> {
    let (ver, port) = v.split_once('p')?;
    let (major, minor) = ver.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) || !digits(port) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// pam_duo's `sshd_messages` against the OpenSSH release (docs/BEHAVIOUR.md §0a D17). The
/// release is a hint, not proof: distributions carry the upstream change on older releases.
fn sshd_messages(report: &mut Report, s: &Sshd, m: SshdMessages) {
    let subject = "sshd";
    let Some(at_once) = s
        .openssh
        .as_deref()
        .and_then(release_parts)
        .map(|r| r >= DELIVERS_AT_ONCE)
    else {
        return;
    };
    let release = s.openssh.as_deref().unwrap_or_default();
    match (m, at_once) {
        (SshdMessages::Immediate, false) => report.add(
            Check::Sshd,
            Level::Warning,
            subject,
            format!("sshd_messages = immediate, but OpenSSH {release} holds PAM's informational messages back (releases before 10.3 do, unless the distribution patched them): the Verified Push code and \"Pushed a login request...\" reach the ssh user only after the approval"),
            "use sshd_messages = prompt (the default), or keep immediate only after trying a login with this sshd",
        ),
        (SshdMessages::Immediate, true) => report.ok(
            Check::Sshd,
            subject,
            format!("sshd_messages = immediate: OpenSSH {release} shows informational messages at once"),
        ),
        (SshdMessages::Prompt, false) => report.ok(
            Check::Sshd,
            subject,
            format!("sshd_messages = prompt: OpenSSH {release} holds informational messages back, so pam_duo shows Duo's news in a prompt (\"..., then press Enter\")"),
        ),
        (SshdMessages::Prompt, true) => report.ok(
            Check::Sshd,
            subject,
            format!("sshd_messages = prompt works here; OpenSSH {release} shows informational messages at once, so sshd_messages = immediate would spare users the extra Enter"),
        ),
    }
}

/// How one list of `AuthenticationMethods` runs sshd's PAM stack, and so pam_duo.
#[derive(Debug, PartialEq, Eq)]
enum PamRuns {
    /// At most once.
    Once,
    /// More than once, each step but the last a `password` one: the password step's approval
    /// (kept with `pam_set_data` in sshd's monitor process) serves the later steps: one push.
    Shared,
    /// Twice where no approval carries over: sshd runs a keyboard-interactive step in a child
    /// process, so what pam_duo keeps there is gone for any later step: two pushes.
    Twice,
}

/// How the methods of one list (`password,keyboard-interactive:pam`) run the PAM stack.
fn pam_runs(list: &str) -> PamRuns {
    let steps: Vec<&str> = list
        .split(',')
        .filter_map(|m| m.split(':').next())
        .filter(|m| *m == "password" || *m == "keyboard-interactive")
        .collect();
    if steps.len() < 2 {
        return PamRuns::Once;
    }
    // Only a step in the monitor (password) keeps its approval for the steps after it.
    let last = steps.len() - 1;
    if steps[..last].contains(&"keyboard-interactive") {
        PamRuns::Twice
    } else {
        PamRuns::Shared
    }
}

/// Combinations of sshd settings that ask Duo twice in one SSH login; true when one was
/// reported.
fn pushes_twice(report: &mut Report, s: &Sshd, methods: &str) -> bool {
    let subject = "sshd";
    let mut found = false;
    let lists: Vec<&str> = if methods == "any" {
        Vec::new()
    } else {
        methods.split_whitespace().collect()
    };
    if let Some(prog) = s.forced_login_duo() {
        // The methods that run sshd's PAM stack (and so pam_duo) and that a login may use.
        let pam_methods: Vec<&str> = [
            ("keyboard-interactive", "kbdinteractiveauthentication"),
            ("password", "passwordauthentication"),
        ]
        .into_iter()
        .filter(|(_, key)| s.get("usepam") == "yes" && s.get(key) == "yes")
        .map(|(m, _)| m)
        .filter(|m| {
            lists.is_empty()
                || lists
                    .iter()
                    .any(|l| l.split(',').any(|x| x.split(':').next() == Some(*m)))
        })
        .collect();
        if !pam_methods.is_empty() {
            found = true;
            report.add(
                Check::Sshd,
                Level::Warning,
                subject,
                format!("pam_duo.so in sshd's PAM stack and ForceCommand {prog}: a login through {} asks Duo twice (two pushes)", pam_methods.join(" or ")),
                "use one of them: remove pam_duo.so from /etc/pam.d/sshd, or drop the ForceCommand",
            );
        }
    }
    for list in &lists {
        match pam_runs(list) {
            PamRuns::Once => {}
            PamRuns::Shared => report.ok(
                Check::Sshd,
                subject,
                format!("AuthenticationMethods {list}: sshd runs pam_duo for both steps; the password step's approval is kept for keyboard-interactive, so one push (the password step cannot show the menu or any line: it needs autopush = yes, and its push is silent)"),
            ),
            PamRuns::Twice => {
                found = true;
                report.add(
                    Check::Sshd,
                    Level::Warning,
                    subject,
                    format!("AuthenticationMethods {list}: sshd runs pam_duo in more than one step, and an approval from a keyboard-interactive step is not kept for a later one: two pushes per login"),
                    "list keyboard-interactive once, as the last method (publickey,keyboard-interactive, or password,keyboard-interactive)",
                );
            }
        }
    }
    found
}

/// Variables the module or login_duo read, and whether clients can set them.
const READ_VARS: [&str; 3] = ["SSH_ORIGINAL_COMMAND", "SSH_CONNECTION", "DUO_PASSCODE"];

/// PermitUserEnvironment and AcceptEnv.
fn environment(report: &mut Report, s: &Sshd) {
    let subject = "sshd";
    let pue = s.get("permituserenvironment");
    if pue != "no" {
        report.add(
            Check::Sshd,
            Level::Warning,
            subject,
            format!("PermitUserEnvironment {pue}: users can set SSH_CONNECTION, SSH_ORIGINAL_COMMAND or DUO_PASSCODE for login_duo in ~/.ssh/environment (a forged client address or command in the push)"),
            "set PermitUserEnvironment no",
        );
    }
    let patterns = s.all("acceptenv");
    let matched: Vec<&str> = READ_VARS
        .iter()
        .copied()
        .filter(|v| {
            patterns
                .iter()
                .any(|p| duo::user::pattern::match_pattern(v, p))
        })
        .collect();
    let risky: Vec<&str> = matched
        .iter()
        .copied()
        .filter(|v| *v != "DUO_PASSCODE")
        .collect();
    if !risky.is_empty() {
        report.add(
            Check::Sshd,
            Level::Warning,
            subject,
            format!(
                "AcceptEnv {} lets clients send {}, which login_duo reads",
                patterns.join(" "),
                risky.join(" and ")
            ),
            "narrow AcceptEnv to the variables you need (LANG LC_*; DUO_PASSCODE only with accept_env_factor)",
        );
    } else if matched.contains(&"DUO_PASSCODE") {
        report.ok(
            Check::Sshd,
            subject,
            "AcceptEnv lets clients send DUO_PASSCODE (used by login_duo only with accept_env_factor = yes)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        crate::scratch::tree("sshd", files)
    }

    fn parsed(root: &Path) -> Sshd {
        let mut s = Sshd {
            present: true,
            config: root.join("etc/ssh/sshd_config"),
            ..Sshd::default()
        };
        let mut n = 0;
        parse_file(root, &s.config.clone(), &mut s.settings, &mut n).unwrap();
        s
    }

    #[test]
    fn file_parsing_follows_sshd_rules() {
        let root = tree(&[
            (
                "etc/ssh/sshd_config",
                "# comment\nInclude /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nChallengeResponseAuthentication no\nAcceptEnv LANG LC_*\nAcceptEnv=DUO_PASSCODE\nForceCommand \"/usr/sbin/login_duo\"\nMatch User bob\n  UsePAM no\n  AllowTcpForwarding yes\n",
            ),
            ("etc/ssh/sshd_config.d/10-duo.conf", "UsePAM no\nAllowTcpForwarding no\n"),
            ("etc/ssh/sshd_config.d/ignored.txt", "PermitTunnel yes\n"),
        ]);
        let s = parsed(&root);
        assert_eq!(s.get("usepam"), "no", "the included file comes first");
        assert_eq!(s.get("allowtcpforwarding"), "no");
        assert_eq!(
            s.get("permittunnel"),
            "no",
            "only *.conf files are included"
        );
        assert_eq!(s.get("kbdinteractiveauthentication"), "no");
        assert_eq!(s.get("pubkeyauthentication"), "yes", "default");
        assert_eq!(s.all("acceptenv"), ["LANG", "LC_*", "DUO_PASSCODE"]);
        assert_eq!(s.forced_login_duo(), Some("/usr/sbin/login_duo"));
        let _ = std::fs::remove_dir_all(&root);
    }

    fn levels(s: &Sshd, pam: bool, login: Option<String>) -> Vec<(Level, String)> {
        let mut r = Report::default();
        check(&mut r, s, pam, login, None);
        r.findings()
            .iter()
            .map(|f| (f.level, f.finding.clone()))
            .collect()
    }

    /// The release is the `OpenSSH_<x>.<y>p<n>` string, not the names of peers sshd knows
    /// quirks of.
    #[test]
    fn openssh_release_from_the_binary() {
        let bin = b"\0OpenSSH_2.*\0OpenSSH_7.7\0OpenSSH_6.6.1\0x\0OpenSSH_10.0p2\0OpenSSH_10.0\0";
        assert_eq!(release_in(bin).as_deref(), Some("10.0p2"));
        assert_eq!(
            release_in(b"OpenSSH_9.2p1 Debian").as_deref(),
            Some("9.2p1")
        );
        assert_eq!(release_in(b"OpenSSH_7.7 OpenSSH_3"), None);
        assert_eq!(release_in(b""), None);
        assert_eq!(release_parts("9.2p1"), Some((9, 2)));
        assert_eq!(release_parts("10.6p1"), Some((10, 6)));
        for bad in ["10.0", "p1", "10.p1", ".0p1", "10.0p", "10.0p1x", "1.2.3p1"] {
            assert_eq!(release_parts(bad), None, "{bad}");
        }
    }

    /// `sshd_messages = immediate` with an sshd before 10.3 is a warning; every other pair is
    /// fine; an unknown release says nothing.
    #[test]
    fn sshd_messages_against_the_release() {
        let root = tree(&[(
            "etc/ssh/sshd_config",
            "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n",
        )]);
        let mut s = parsed(&root);
        let about = |s: &Sshd, m: SshdMessages| -> Vec<(Level, String)> {
            let mut r = Report::default();
            check(&mut r, s, true, None, Some(m));
            r.findings()
                .iter()
                .filter(|f| f.finding.starts_with("sshd_messages"))
                .map(|f| (f.level, f.finding.clone()))
                .collect()
        };
        for (release, m, level, words) in [
            (
                "9.2p1",
                SshdMessages::Immediate,
                Level::Warning,
                "holds PAM's informational messages back",
            ),
            (
                "10.0p2",
                SshdMessages::Immediate,
                Level::Warning,
                "only after the approval",
            ),
            (
                "10.3p1",
                SshdMessages::Immediate,
                Level::Ok,
                "shows informational messages at once",
            ),
            (
                "10.6p1",
                SshdMessages::Prompt,
                Level::Ok,
                "would spare users the extra Enter",
            ),
            ("9.2p1", SshdMessages::Prompt, Level::Ok, "in a prompt"),
        ] {
            s.openssh = Some(release.to_string());
            let f = about(&s, m);
            assert_eq!(f.len(), 1, "{release} {m:?}: {f:?}");
            assert_eq!(f[0].0, level, "{release} {m:?}: {f:?}");
            assert!(f[0].1.contains(words), "{release} {m:?}: {f:?}");
        }
        s.openssh = None;
        assert!(about(&s, SshdMessages::Immediate).is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn pam_runs_of_method_lists() {
        for (list, runs) in [
            ("publickey,keyboard-interactive", PamRuns::Once),
            ("keyboard-interactive:pam", PamRuns::Once),
            ("password", PamRuns::Once),
            ("password,keyboard-interactive", PamRuns::Shared),
            ("password,keyboard-interactive:pam", PamRuns::Shared),
            ("publickey,password,keyboard-interactive", PamRuns::Shared),
            ("keyboard-interactive,password", PamRuns::Twice),
            ("keyboard-interactive,keyboard-interactive", PamRuns::Twice),
            ("password,keyboard-interactive,password", PamRuns::Twice),
        ] {
            assert_eq!(pam_runs(list), runs, "{list}");
        }
    }

    /// Every combination that still asks Duo twice in one SSH login is a warning; the
    /// combination whose approval is shared is not.
    #[test]
    fn two_pushes_per_login_are_warned_about() {
        let warnings = |conf: &str| -> Vec<String> {
            let root = tree(&[("etc/ssh/sshd_config", conf)]);
            let f = levels(&parsed(&root), true, None);
            let _ = std::fs::remove_dir_all(&root);
            f.into_iter()
                .filter(|(l, _)| *l == Level::Warning)
                .map(|(_, t)| t)
                .collect()
        };
        let base = "UsePAM yes\nKbdInteractiveAuthentication yes\n";
        let w = warnings(&format!(
            "{base}AuthenticationMethods keyboard-interactive,password\n"
        ));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("two pushes per login"), "{w:?}");
        let w = warnings(&format!(
            "{base}AuthenticationMethods publickey,keyboard-interactive\nForceCommand /usr/sbin/login_duo\nAllowTcpForwarding no\n"
        ));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("asks Duo twice (two pushes)"), "{w:?}");
        // Shared approval, and one keyboard-interactive step: no warning.
        for methods in [
            "password,keyboard-interactive",
            "publickey,keyboard-interactive",
        ] {
            let w = warnings(&format!("{base}AuthenticationMethods {methods}\n"));
            assert!(w.is_empty(), "{methods}: {w:?}");
        }
        // login_duo alone (no keyboard-interactive): one push.
        let w = warnings(
            "UsePAM yes\nKbdInteractiveAuthentication no\nAuthenticationMethods publickey\nForceCommand /usr/sbin/login_duo\nAllowTcpForwarding no\n",
        );
        assert!(!w.iter().any(|t| t.contains("twice")), "{w:?}");
    }

    /// pam_duo and a forced login_duo: every method that runs sshd's PAM stack and that a
    /// login may use asks Duo twice (sshd's password method runs the stack too); methods
    /// that do not run it, or that sshd has switched off, ask once.
    #[test]
    fn forced_login_duo_with_pam_duo_warns_for_each_pam_method() {
        let twice = |conf: &str| -> Vec<String> {
            let root = tree(&[("etc/ssh/sshd_config", conf)]);
            let f = levels(&parsed(&root), true, None);
            let _ = std::fs::remove_dir_all(&root);
            f.into_iter()
                .filter(|(l, t)| *l == Level::Warning && t.contains("asks Duo twice"))
                .map(|(_, t)| t)
                .collect()
        };
        let forced = "ForceCommand /usr/sbin/login_duo\nAllowTcpForwarding no\n";
        for (settings, through) in [
            // Positive: each way a PAM method is reachable.
            (
                "UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication yes\n",
                Some("password"),
            ),
            (
                "UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication yes\nAuthenticationMethods publickey,password\n",
                Some("password"),
            ),
            (
                "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n",
                Some("keyboard-interactive or password"),
            ),
            (
                "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive:pam\n",
                Some("keyboard-interactive"),
            ),
            // Negative: no method that runs PAM can be used.
            (
                "UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication no\n",
                None,
            ),
            (
                "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods publickey\n",
                None,
            ),
            (
                "UsePAM no\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n",
                None,
            ),
        ] {
            let w = twice(&format!("{settings}{forced}"));
            match through {
                Some(m) => {
                    assert_eq!(w.len(), 1, "{settings}: {w:?}");
                    assert!(
                        w[0].contains(&format!("a login through {m} asks Duo twice")),
                        "{settings}: {w:?}"
                    );
                }
                None => assert!(w.is_empty(), "{settings}: {w:?}"),
            }
        }
        // Without the ForceCommand, no such warning.
        let w = twice("UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n");
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn findings() {
        let root = tree(&[(
            "etc/ssh/sshd_config",
            "UsePAM yes\nKbdInteractiveAuthentication no\nAcceptEnv LANG SSH_*\nPermitUserEnvironment yes\n",
        )]);
        let f = levels(&parsed(&root), true, None);
        let errors: Vec<&String> = f
            .iter()
            .filter(|(l, _)| *l == Level::Error)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(errors.len(), 1, "{f:?}");
        assert!(errors[0].starts_with("KbdInteractiveAuthentication no"));
        let warnings: Vec<&String> = f
            .iter()
            .filter(|(l, _)| *l == Level::Warning)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(warnings.len(), 3, "{f:?}");
        assert!(warnings[0].contains("publickey never runs keyboard-interactive"));
        assert!(warnings[1].starts_with("PermitUserEnvironment yes"));
        assert!(warnings[2].contains("SSH_ORIGINAL_COMMAND and SSH_CONNECTION"));

        let root = tree(&[(
            "etc/ssh/sshd_config",
            "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive:pam\n",
        )]);
        let f = levels(&parsed(&root), true, None);
        assert!(f.iter().all(|(l, _)| *l == Level::Ok), "{f:?}");

        let root = tree(&[(
            "etc/ssh/sshd_config",
            "ForceCommand /opt/bin/login_duo -c x\nAllowTcpForwarding no\n",
        )]);
        let f = levels(&parsed(&root), false, Some("is not setuid".into()));
        assert_eq!(f[1].0, Level::Error, "{f:?}");
        assert!(f[1].1.contains("/opt/bin/login_duo, which is not setuid"));
        let f = levels(&parsed(&root), false, None);
        assert!(f.iter().all(|(l, _)| *l == Level::Ok), "{f:?}");
    }
}
