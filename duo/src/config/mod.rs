//! Configuration files `pam_duo.conf` and `login_duo.conf` (docs/BEHAVIOUR.md §3, §0a D1/D3/D5/D6).
//!
//! Every problem found here denies the login, whatever `failmode` says (§0a D1).

pub(crate) mod file;
pub mod groups;
pub(crate) mod ini;

use std::path::Path;
use zeroize::Zeroizing;

/// The outage window's state directory when `outage_state_dir` is not set.
pub const DEFAULT_OUTAGE_DIR: &str = "/run/duo-unix-rs";
/// Seconds between probe logins when `outage_probe_interval` is not set.
pub const DEFAULT_PROBE_INTERVAL: u32 = 5;
/// Largest `outage_window`, in seconds (one day).
pub const MAX_OUTAGE_WINDOW: u32 = 86_400;
/// Largest `outage_probe_interval`, in seconds.
pub const MAX_PROBE_INTERVAL: u32 = 3_600;

/// A secret or sensitive string, wiped from memory when dropped.
pub type Secret = Zeroizing<String>;

/// Which frontend runs: it reads the file (`motd` and `accept_env_factor` differ between
/// them), reports config problems its own way, and names itself in the User-Agent and the
/// auth event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// `pam_duo.so`: `motd` is an unknown key.
    Pam,
    /// `login_duo`: `motd` is accepted.
    Login,
}

impl Frontend {
    /// The program's name: `pam_duo` or `login_duo`.
    pub fn program(self) -> &'static str {
        match self {
            Frontend::Pam => "pam_duo",
            Frontend::Login => "login_duo",
        }
    }
}

/// What to do when Duo cannot be reached at the preauth stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Allow the login (`failmode = safe`, the default). Sent to Duo as `failmode=open`.
    #[default]
    Safe,
    /// Deny the login (`failmode = secure`). Sent to Duo as `failmode=closed`.
    Secure,
}

/// Whether each login also writes a structured auth event (`events`, see [`crate::flow::events`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Events {
    /// No event: the log lines are exactly those of the C version (the default).
    #[default]
    Off,
    /// One JSON event per login, to the journal or syslog.
    Json,
}

/// How pam_duo under sshd brings Duo's status lines and the Verified Push code to the ssh
/// client (`sshd_messages`, docs/BEHAVIOUR.md §0a D17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SshdMessages {
    /// In a keyboard-interactive prompt ("..., then press Enter"), then polling: the only way
    /// to the screen on an sshd that holds informational messages back (OpenSSH bug 2876,
    /// e.g. Debian 12's 9.2), and it works on every sshd (the default).
    #[default]
    Prompt,
    /// As informational messages at once, like every other service: for an sshd known to
    /// deliver them immediately.
    Immediate,
}

/// A parsed and validated configuration.
#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    /// Integration key.
    pub ikey: Secret,
    /// Secret key.
    pub skey: Secret,
    /// API host, `hostname[:port]`, exactly as written.
    pub host: Secret,
    /// Trust only the certificates in this PEM file. Never empty (D3).
    pub cafile: Option<Secret>,
    /// HTTP proxy, from the config only. Never empty (D5).
    pub http_proxy: Option<Secret>,
    /// Group pattern-list tokens (§3.4), in order.
    pub groups: Vec<String>,
    /// Failmode.
    pub failmode: FailMode,
    /// Send the command in pushinfo.
    pub pushinfo: bool,
    /// Disable certificate verification (logs a warning).
    pub noverify: bool,
    /// Push to the default factor without a menu.
    pub autopush: bool,
    /// Advertise and use verified push.
    pub verified_push: bool,
    /// `login_duo` only: read a factor from `DUO_PASSCODE`.
    pub accept_env_factor: bool,
    /// Report this server's IP when the client address is not an IP literal.
    pub fallback_local_ip: bool,
    /// Use the GECOS field as the Duo username.
    pub send_gecos: bool,
    /// `login_duo` only: print `/etc/motd` after success.
    pub motd: bool,
    /// Tell the user when a failmode verdict was given (§0a D13); on by default.
    pub failmode_notice: bool,
    /// How pam_duo shows status lines under sshd (§0a D17).
    pub sshd_messages: SshdMessages,
    /// Maximum attempts, 1..=3.
    pub prompts: u32,
    /// Per-wait timeout in seconds and the bound of the ping+preauth stage; `None` when unset
    /// or ≤ 0 (the stage bound is then 30 s, §0a D4).
    pub https_timeout: Option<u32>,
    /// 0-based GECOS field holding the Duo username.
    pub gecos_username_pos: Option<usize>,
    /// GECOS field delimiter (ASCII punctuation, not `:`).
    pub gecos_delim: u8,
    /// Structured auth events.
    pub events: Events,
    /// Seconds the outage window stays open after the service was last found unreachable;
    /// 0 (the default) turns the window off (`crate::flow::outage`).
    pub outage_window: u32,
    /// Seconds between probe logins while the outage window is open.
    pub outage_probe_interval: u32,
    /// Directory holding the outage window's state, instead of `/run/duo-unix-rs`. Absolute.
    pub outage_state_dir: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ikey: Secret::default(),
            skey: Secret::default(),
            host: Secret::default(),
            cafile: None,
            http_proxy: None,
            groups: Vec::new(),
            failmode: FailMode::Safe,
            pushinfo: false,
            noverify: false,
            autopush: false,
            verified_push: false,
            accept_env_factor: false,
            fallback_local_ip: false,
            send_gecos: false,
            motd: false,
            failmode_notice: true,
            sshd_messages: SshdMessages::Prompt,
            prompts: 3,
            https_timeout: None,
            gecos_username_pos: None,
            gecos_delim: b',',
            events: Events::Off,
            outage_window: 0,
            outage_probe_interval: DEFAULT_PROBE_INTERVAL,
            outage_state_dir: None,
        }
    }
}

/// Why a configuration could not be used. Each one denies the login (§0a D1).
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read safely (e.g. read error after open).
    Internal,
    /// The file is readable (or writable) by group or others.
    Permissions,
    /// The file belongs to an account that may not decide about two-factor authentication
    /// (§0a D10).
    Owner,
    /// The file could not be opened.
    Open(std::io::Error),
    /// The path leads to something other than a regular file (a FIFO, a device, a
    /// directory, a socket), which is never read.
    NotRegular(file::Kind),
    /// The file is larger than [`file::MAX_BYTES`].
    TooLarge {
        /// Its size as `fstat` reported it, or the bytes read so far when it grew.
        bytes: u64,
        /// It grew past the cap after it was opened.
        grew: bool,
    },
    /// The file has a bad line (1-based number).
    Parse {
        /// 1-based line number.
        line: usize,
        /// The key of the line, when the line has one (an unknown key or a bad value); `None`
        /// for a line that is not `key = value` at all.
        key: Option<String>,
        /// What is wrong with the value, e.g. `Invalid failmode: 'x'`; `None` for an unknown
        /// key.
        problem: Option<String>,
    },
    /// `host`, `ikey` or `skey` is missing or empty.
    Missing,
    /// `autopush` and `verified_push` are both on.
    BothPush,
}

impl ConfigError {
    /// Every line that reports this error, in the reference's order (docs/BEHAVIOUR.md §3.3):
    /// for a bad line, the value problem (if any), then `Invalid <prog> option: '<key>'` (if
    /// the line has a key), then `Parse error in <path>, line <n>`; otherwise the one
    /// [`ConfigError::message`]. `prog` is `pam_duo` or `login_duo`.
    pub fn lines(&self, path: &Path, owner: &str, prog: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let ConfigError::Parse { key, problem, .. } = self {
            out.extend(problem.iter().cloned());
            if let Some(k) = key {
                out.push(format!("Invalid {prog} option: '{k}'"));
            }
        }
        out.push(self.message(path, owner));
        if let ConfigError::Open(e) = self {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                out.push(format!(
                    "{} must be owned by user '{owner}' with mode 0600",
                    path.display()
                ));
            }
        }
        out
    }

    /// The log line for this error, in the reference wording (docs/BEHAVIOUR.md §6 step 4 / §7.3 step 3).
    /// `owner` is the user named in the permission message.
    pub fn message(&self, path: &Path, owner: &str) -> String {
        let p = path.display();
        match self {
            ConfigError::Internal => format!("Internal error reading {p}"),
            ConfigError::Permissions => format!("{p} must be readable only by user '{owner}'"),
            ConfigError::Owner => format!("{p} must be owned by user '{owner}'"),
            ConfigError::Open(e) => format!("Couldn't open {p}: {}", crate::sys::strerror(e)),
            ConfigError::NotRegular(kind) => format!("{p}: not a regular file ({kind})"),
            ConfigError::TooLarge { grew: true, .. } => format!(
                "{p}: grew to more than the {} bytes allowed while it was read",
                file::MAX_BYTES
            ),
            ConfigError::TooLarge { bytes, .. } => {
                format!(
                    "{p}: {bytes} bytes, more than the {} allowed",
                    file::MAX_BYTES
                )
            }
            ConfigError::Parse { line, .. } => format!("Parse error in {p}, line {line}"),
            ConfigError::Missing => format!("Missing host, ikey, or skey in {p}"),
            ConfigError::BothPush => {
                format!("autopush and verified_push cannot both be enabled in {p}")
            }
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Internal => f.write_str("the file could not be read"),
            ConfigError::Permissions => {
                f.write_str("the file is readable or writable by group or others")
            }
            ConfigError::Owner => {
                f.write_str("the file is owned by an account that may not configure Duo")
            }
            ConfigError::Open(e) => write!(
                f,
                "the file could not be opened: {}",
                crate::sys::strerror(e)
            ),
            ConfigError::NotRegular(kind) => write!(f, "not a regular file ({kind})"),
            ConfigError::TooLarge { grew: true, .. } => write!(
                f,
                "grew to more than the {} bytes allowed while it was read",
                file::MAX_BYTES
            ),
            ConfigError::TooLarge { bytes, .. } => {
                write!(
                    f,
                    "{bytes} bytes, more than the {} allowed",
                    file::MAX_BYTES
                )
            }
            ConfigError::Parse { line, key, problem } => {
                write!(f, "line {line}: ")?;
                match (key, problem) {
                    (_, Some(p)) => f.write_str(p),
                    (Some(k), None) => write!(f, "unknown key '{k}'"),
                    (None, None) => f.write_str("not a section, a key = value line or a comment"),
                }
            }
            ConfigError::Missing => f.write_str("host, ikey or skey is missing"),
            ConfigError::BothPush => f.write_str("autopush and verified_push are both enabled"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Open(e) => Some(e),
            _ => None,
        }
    }
}

/// Log sink for the diagnostics produced while reading (deprecation lines). Receives a syslog
/// priority and the message.
pub type Diag<'a> = &'a mut dyn FnMut(crate::log::Priority, &str);

/// Open `path` without blocking ([`file::ConfigFile::open`]: only a regular file of at most
/// 64 KiB), check its permissions on the opened descriptor, parse and validate it. The
/// file must be owned by root, or for login_duo also by the account this runs as (the privsep
/// user in a setuid run); see [`load_owned_by`].
pub fn load(path: &Path, frontend: Frontend, diag: Diag<'_>) -> Result<Config, ConfigError> {
    let owners = match frontend {
        Frontend::Pam => vec![crate::sys::Uid::ROOT],
        Frontend::Login => vec![crate::sys::Uid::ROOT, crate::sys::effective_uid()],
    };
    load_owned_by(path, frontend, &owners, diag)
}

/// As [`load`], accepting a file owned by any of `owners` (§0a D10: whoever owns the file
/// can turn two-factor authentication off, so only root and, for login_duo, its privsep user
/// may). The file must not be readable or writable by group or others.
pub fn load_owned_by(
    path: &Path,
    frontend: Frontend,
    owners: &[crate::sys::Uid],
    diag: Diag<'_>,
) -> Result<Config, ConfigError> {
    use std::os::unix::fs::MetadataExt;

    let file = file::ConfigFile::open(path)?;
    let meta = file.metadata();
    // Group/other read (the reference rule) and, stricter, group/other write.
    if meta.mode() & 0o066 != 0 {
        return Err(ConfigError::Permissions);
    }
    if !owners.contains(&crate::sys::Uid(meta.uid())) {
        return Err(ConfigError::Owner);
    }
    let text = file.read()?;
    parse(&text, frontend, diag)
}

/// Parse and validate configuration text (everything of [`load`] after reading the file).
pub fn parse(text: &[u8], frontend: Frontend, diag: Diag<'_>) -> Result<Config, ConfigError> {
    let mut cfg = Config::default();
    let mut bad: Option<(String, Option<String>)> = None;
    let r = crate::config::ini::parse(text, &mut |name, value, _line| match apply(
        &mut cfg, frontend, name, value, diag,
    ) {
        Ok(()) => true,
        Err(problem) => {
            let problem = match problem {
                KeyError::Unknown => None,
                KeyError::Invalid(why) => Some(why),
            };
            bad = Some((name.to_string(), problem));
            false
        }
    });
    if let Err(line) = r {
        let (key, problem) = match bad {
            Some((k, p)) => (Some(k), p),
            None => (None, None),
        };
        return Err(ConfigError::Parse { line, key, problem });
    }
    if cfg.host.is_empty() || cfg.ikey.is_empty() || cfg.skey.is_empty() {
        return Err(ConfigError::Missing);
    }
    if cfg.autopush && cfg.verified_push {
        return Err(ConfigError::BothPush);
    }
    Ok(cfg)
}

/// Booleans are true only for exactly `yes`, `true`, `on` or `1`.
fn boolean(v: &str) -> bool {
    matches!(v, "yes" | "true" | "on" | "1")
}

/// C `atoi`: optional sign and leading digits; anything else gives 0.
fn atoi(v: &str) -> i64 {
    let v = v.trim_start();
    let (neg, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let n: i64 = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .take(12)
        .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
    if neg {
        -n
    } else {
        n
    }
}

/// Largest `https_timeout` honoured, in seconds.
pub const MAX_HTTPS_TIMEOUT: u32 = 3600;

/// A whole number of seconds in `min..=max`, digits only (no sign, no unit); anything else
/// is an error naming the key and the range.
fn seconds(key: &str, v: &str, min: u32, max: u32) -> Result<u32, String> {
    let n = (!v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse::<u64>().ok())
        .flatten()
        .filter(|n| (u64::from(min)..=u64::from(max)).contains(n));
    match n {
        Some(n) => Ok(n as u32),
        None => Err(format!(
            "Invalid {key}: '{v}' (a number of seconds from {min} to {max})"
        )),
    }
}

/// Why a `key = value` line was not taken.
#[derive(Debug)]
enum KeyError {
    /// No such key (for this frontend).
    Unknown,
    /// The value is not one the key accepts; the text says why, in the reference's words.
    Invalid(String),
}

impl From<String> for KeyError {
    fn from(why: String) -> KeyError {
        KeyError::Invalid(why)
    }
}

fn apply(
    cfg: &mut Config,
    frontend: Frontend,
    name: &str,
    v: &str,
    diag: Diag<'_>,
) -> Result<(), KeyError> {
    use crate::log::Priority;
    let secret = |v: &str| Secret::new(v.to_string());
    match name {
        "ikey" => cfg.ikey = secret(v),
        "skey" => cfg.skey = secret(v),
        "host" => cfg.host = secret(v),
        "cafile" if v.is_empty() => {
            return Err(KeyError::Invalid("cafile is empty; remove the line or name a CA file (an empty cafile would disable certificate checks)".into()))
        }
        "cafile" => cfg.cafile = Some(secret(v)),
        "http_proxy" if v.is_empty() => {
            return Err(KeyError::Invalid("http_proxy is empty; remove the line or name a proxy".into()))
        }
        "http_proxy" => cfg.http_proxy = Some(secret(v)),
        "groups" | "group" => groups::tokenize(v, &mut cfg.groups).map_err(KeyError::Invalid)?,
        "failmode" => {
            cfg.failmode = match v {
                "safe" => FailMode::Safe,
                "secure" => FailMode::Secure,
                _ => return Err(KeyError::Invalid(format!("Invalid failmode: '{v}'"))),
            }
        }
        "events" => {
            cfg.events = match v {
                "off" => Events::Off,
                "json" => Events::Json,
                _ => return Err(KeyError::Invalid(format!("Invalid events: '{v}' (use off or json)"))),
            }
        }
        "sshd_messages" => {
            cfg.sshd_messages = match v {
                "prompt" => SshdMessages::Prompt,
                "immediate" => SshdMessages::Immediate,
                _ => {
                    return Err(KeyError::Invalid(format!(
                        "Invalid sshd_messages: '{v}' (use prompt or immediate)"
                    )))
                }
            }
        }
        "pushinfo" => cfg.pushinfo = boolean(v),
        // A FIPS build cannot talk to a server it does not authenticate (D16): a config
        // problem, whatever the failmode (D1).
        "noverify" if crate::crypto::FIPS_BUILD && boolean(v) => {
            return Err(KeyError::Invalid(crate::crypto::NOVERIFY_IN_FIPS.into()))
        }
        "noverify" => cfg.noverify = boolean(v),
        "autopush" => cfg.autopush = boolean(v),
        "verified_push" => cfg.verified_push = boolean(v),
        "accept_env_factor" => cfg.accept_env_factor = boolean(v),
        "fallback_local_ip" => cfg.fallback_local_ip = boolean(v),
        "send_gecos" => cfg.send_gecos = boolean(v),
        "failmode_notice" => cfg.failmode_notice = boolean(v),
        "motd" if frontend == Frontend::Login => cfg.motd = boolean(v),
        "prompts" => {
            let n = atoi(v).clamp(1, 3) as u32;
            if n < cfg.prompts {
                cfg.prompts = n;
            }
        }
        "https_timeout" => {
            let n = atoi(v);
            cfg.https_timeout = (n > 0).then(|| n.min(i64::from(MAX_HTTPS_TIMEOUT)) as u32);
        }
        "gecos_username_pos" => {
            let n = atoi(v);
            if n < 1 {
                return Err(KeyError::Invalid("Gecos position starts at 1".into()));
            }
            cfg.gecos_username_pos = Some((n - 1) as usize);
        }
        "gecos_delim" => {
            let b = v.as_bytes();
            if b.len() != 1 {
                return Err(KeyError::Invalid(format!("Invalid character option length. Character fields must be 1 character long: '{v}'")));
            }
            if !b[0].is_ascii_punctuation() || b[0] == b':' {
                return Err(KeyError::Invalid(format!("Invalid gecos_delim '{v}' (delimiter must be punctuation other than ':')")));
            }
            cfg.gecos_delim = b[0];
        }
        "outage_window" => {
            cfg.outage_window = seconds(name, v, 0, MAX_OUTAGE_WINDOW)?;
        }
        "outage_probe_interval" => {
            cfg.outage_probe_interval = seconds(name, v, 1, MAX_PROBE_INTERVAL)?;
        }
        "outage_state_dir" => cfg.outage_state_dir = Some(check_outage_dir(v)?),
        "gecos_parsed" => diag(Priority::Err, "The gecos_parsed configuration item for Duo Unix is deprecated and no longer has any effect. Use gecos_delim and gecos_username_pos instead"),
        "dev_fips_mode" => diag(Priority::Err, "The dev_fips_mode configuration item for Duo Unix is deprecated and no longer has any effect"),
        _ => return Err(KeyError::Unknown),
    }
    Ok(())
}

#[cfg(any(test, feature = "fuzzing"))]
mod render;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use render::render;

/// Check an `outage_state_dir` value: an absolute path of plain names (no `.`, `..`, empty
/// or control-character components), at most 255 bytes. The owner and mode of each directory
/// are checked when it is used.
pub(crate) fn check_outage_dir(v: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "Invalid outage_state_dir: '{v}' (an absolute path of plain names, like {DEFAULT_OUTAGE_DIR})"
        )
    };
    let rest = v.strip_prefix('/').ok_or_else(bad)?;
    let plain = |c: &str| !c.is_empty() && c != "." && c != ".." && !c.contains(char::is_control);
    if v.len() > 255 || !rest.split('/').all(plain) {
        return Err(bad());
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[duo]\nikey = I\nskey = S\nhost = h.example.com\n";

    fn p(extra: &str, f: Frontend) -> Result<Config, ConfigError> {
        parse(format!("{BASE}{extra}").as_bytes(), f, &mut |_, _| {})
    }

    fn detail(extra: &str, f: Frontend) -> (usize, String) {
        match p(extra, f) {
            Err(ConfigError::Parse { line, key, problem }) => {
                let prog = match f {
                    Frontend::Pam => "pam_duo",
                    Frontend::Login => "login_duo",
                };
                let detail = problem.unwrap_or_else(|| {
                    format!("Invalid {prog} option: '{}'", key.unwrap_or_default())
                });
                (line, detail)
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_keys() {
        let c = p("", Frontend::Pam).unwrap();
        assert_eq!(
            (c.failmode, c.prompts, c.https_timeout, c.gecos_delim),
            (FailMode::Safe, 3, None, b',')
        );
        let c = p("failmode = secure\npushinfo = yes\nautopush = true\nnoverify = Yes\nprompts = 2\nprompts = 3\nhttps_timeout = 15\ngroups = a b\ngroup = c\ngecos_username_pos = 2\ngecos_delim = /\naccept_env_factor = on\n", Frontend::Pam).unwrap();
        assert_eq!(c.failmode, FailMode::Secure);
        assert!(c.pushinfo && c.autopush && !c.noverify && c.accept_env_factor);
        assert_eq!(c.prompts, 2, "prompts only goes down");
        assert_eq!(c.https_timeout, Some(15));
        assert_eq!(c.groups, ["a", "b", "c"]);
        assert_eq!((c.gecos_username_pos, c.gecos_delim), (Some(1), b'/'));
        assert_eq!(p("prompts = 0\n", Frontend::Pam).unwrap().prompts, 1);
        assert_eq!(p("prompts = x\n", Frontend::Pam).unwrap().prompts, 1);
        assert_eq!(p("prompts = 9\n", Frontend::Pam).unwrap().prompts, 3);
        assert_eq!(
            p("https_timeout = -1\n", Frontend::Pam)
                .unwrap()
                .https_timeout,
            None
        );
        assert_eq!(
            p("https_timeout = 99999999999\n", Frontend::Pam)
                .unwrap()
                .https_timeout,
            Some(MAX_HTTPS_TIMEOUT)
        );
    }

    #[test]
    fn error_lines_follow_the_reference() {
        let path = Path::new("/etc/duo/login_duo.conf");
        let e = p("gecos_delim = ,,\n", Frontend::Login).unwrap_err();
        assert_eq!(
            e.lines(path, "sshd", "login_duo"),
            [
                "Invalid character option length. Character fields must be 1 character long: ',,'",
                "Invalid login_duo option: 'gecos_delim'",
                "Parse error in /etc/duo/login_duo.conf, line 5",
            ]
        );
        let e = p("no equals sign here\n", Frontend::Login).unwrap_err();
        assert_eq!(
            e.lines(path, "sshd", "login_duo"),
            ["Parse error in /etc/duo/login_duo.conf, line 5"]
        );
        let e = p("bogus = 1\n", Frontend::Pam).unwrap_err();
        assert_eq!(
            e.lines(Path::new("/p"), "root", "pam_duo"),
            [
                "Invalid pam_duo option: 'bogus'",
                "Parse error in /p, line 5"
            ]
        );
        assert_eq!(
            ConfigError::Missing.lines(Path::new("/p"), "root", "pam_duo"),
            ["Missing host, ikey, or skey in /p"]
        );
    }

    #[test]
    fn bad_values_name_line_and_reason() {
        assert_eq!(
            detail("failmode = open\n", Frontend::Pam),
            (5, "Invalid failmode: 'open'".into())
        );
        assert_eq!(
            detail("motd = yes\n", Frontend::Pam).1,
            "Invalid pam_duo option: 'motd'"
        );
        assert!(p("motd = yes\n", Frontend::Login).unwrap().motd);
        assert_eq!(
            detail("bogus = 1\n", Frontend::Login).1,
            "Invalid login_duo option: 'bogus'"
        );
        assert_eq!(
            detail("gecos_username_pos = 0\n", Frontend::Pam).1,
            "Gecos position starts at 1"
        );
        assert!(detail("gecos_delim = ::\n", Frontend::Pam)
            .1
            .starts_with("Invalid character option length"));
        assert!(detail("gecos_delim = :\n", Frontend::Pam)
            .1
            .starts_with("Invalid gecos_delim ':'"));
        assert!(detail("gecos_delim = a\n", Frontend::Pam)
            .1
            .starts_with("Invalid gecos_delim 'a'"));
        assert!(detail("cafile =\n", Frontend::Pam)
            .1
            .starts_with("cafile is empty"));
        assert!(detail("http_proxy =\n", Frontend::Pam)
            .1
            .starts_with("http_proxy is empty"));
    }

    #[test]
    fn events_key() {
        assert_eq!(p("", Frontend::Pam).unwrap().events, Events::Off);
        for f in [Frontend::Pam, Frontend::Login] {
            assert_eq!(p("events = json\n", f).unwrap().events, Events::Json);
            assert_eq!(p("events = off\n", f).unwrap().events, Events::Off);
        }
        for bad in ["yes", "JSON", "", "json,syslog"] {
            assert_eq!(
                detail(&format!("events = {bad}\n"), Frontend::Pam),
                (5, format!("Invalid events: '{bad}' (use off or json)"))
            );
        }
    }

    #[test]
    fn outage_keys() {
        let c = p("", Frontend::Pam).unwrap();
        assert_eq!(
            (c.outage_window, c.outage_probe_interval, c.outage_state_dir),
            (0, 5, None)
        );
        let c = p(
            "outage_window = 300\noutage_probe_interval = 2\noutage_state_dir = /var/lib/x\n",
            Frontend::Login,
        )
        .unwrap();
        assert_eq!(
            (c.outage_window, c.outage_probe_interval),
            (300, 2),
            "both frontends"
        );
        assert_eq!(c.outage_state_dir.as_deref(), Some("/var/lib/x"));
        assert_eq!(
            p("outage_window = 0\n", Frontend::Pam)
                .unwrap()
                .outage_window,
            0
        );
        for bad in ["-1", "5s", "", "1e3", "86401", "99999999999", " 5x", "+5"] {
            assert!(
                detail(&format!("outage_window = {bad}\n"), Frontend::Pam)
                    .1
                    .starts_with("Invalid outage_window: "),
                "{bad:?}"
            );
        }
        for bad in ["0", "3601", "x"] {
            assert!(
                detail(&format!("outage_probe_interval = {bad}\n"), Frontend::Pam)
                    .1
                    .starts_with("Invalid outage_probe_interval: "),
                "{bad:?}"
            );
        }
        for bad in ["", "run/duo", "/run/../tmp", "/run/./duo", "/run//duo"] {
            assert!(
                detail(&format!("outage_state_dir = {bad}\n"), Frontend::Pam)
                    .1
                    .starts_with("Invalid outage_state_dir: "),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deprecated_keys_keep_parsing() {
        let mut lines = Vec::new();
        let c = parse(
            format!("{BASE}dev_fips_mode = yes\nfailmode = secure\n").as_bytes(),
            Frontend::Pam,
            &mut |_, m| lines.push(m.to_string()),
        )
        .unwrap();
        assert_eq!(c.failmode, FailMode::Secure);
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn shipped_samples_parse_and_deny_until_keys_are_set() {
        let pam = include_bytes!("../../../conf/pam_duo.conf");
        let login = include_bytes!("../../../conf/login_duo.conf");
        assert!(matches!(
            parse(pam, Frontend::Pam, &mut |_, _| {}),
            Err(ConfigError::Missing)
        ));
        assert!(matches!(
            parse(login, Frontend::Login, &mut |_, _| {}),
            Err(ConfigError::Missing)
        ));
        // With keys filled in, every commented-out key, uncommented, is valid too.
        for (text, f) in [(&pam[..], Frontend::Pam), (&login[..], Frontend::Login)] {
            let text = String::from_utf8_lossy(text)
                .replace("ikey =\n", "ikey = I\n")
                .replace("skey =\n", "skey = S\n")
                .replace("host =\n", "host = h\n")
                .replace("\n;cafile", "\n;")
                .replace("\n;verified_push", "\n;");
            let uncommented: String = text
                .lines()
                .map(|l| {
                    if l.starts_with(';') && l.contains(" = ") {
                        &l[1..]
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            let c = parse(uncommented.as_bytes(), f, &mut |_, _| {}).expect("samples are valid");
            assert_eq!(c.failmode, FailMode::Secure);
        }
    }

    #[test]
    fn validation() {
        let missing = parse(
            b"[duo]\nikey = I\nhost = h\n",
            Frontend::Pam,
            &mut |_, _| {},
        );
        assert!(matches!(missing, Err(ConfigError::Missing)));
        let empty = parse(
            b"[duo]\nikey = I\nskey =\nhost = h\n",
            Frontend::Pam,
            &mut |_, _| {},
        );
        assert!(matches!(empty, Err(ConfigError::Missing)));
        assert!(matches!(
            p("autopush = yes\nverified_push = yes\n", Frontend::Pam),
            Err(ConfigError::BothPush)
        ));
    }

    /// `parse(render(c)) == c` for `c` parsed from `text`.
    fn round_trip(text: &str, f: Frontend) {
        let c = parse(text.as_bytes(), f, &mut |_, _| {}).expect("parses");
        let r = render(&c, f).expect("renders");
        let back = parse(r.as_bytes(), f, &mut |_, _| {})
            .unwrap_or_else(|e| panic!("{e:?} from {:?}", r.as_str()));
        assert_eq!(back, c, "{:?}", r.as_str());
    }

    #[test]
    fn rendered_configs_parse_back_to_the_same_settings() {
        round_trip(BASE, Frontend::Pam);
        round_trip(
            &format!("{BASE}failmode = secure\nprompts = 2\nhttps_timeout = 99999\ngroups = a\\ b !c,d\ngecos_username_pos = 3\ngecos_delim = ;\nmotd = on\ncafile = /x y/ca.pem\nhttp_proxy = u:p@h:3\n"),
            Frontend::Login,
        );
        // The project's own keys (found by the config fuzz target: they were not rendered).
        round_trip(
            &format!("{BASE}failmode_notice = no\nevents = json\noutage_window = 15\noutage_probe_interval = 7\noutage_state_dir = /var/lib/duo-window\nsshd_messages = immediate\n"),
            Frontend::Pam,
        );
        // Values that only a continuation line can hold, and group tokens that must share a
        // line (leading/trailing whitespace inside) or end one (trailing backslash).
        round_trip(
            "[duo]\nikey = I\nskey = x\n  S ;not a comment\nhost = h\ngroups = a\n  b ;c\tx \tq x\\ \\  y\\\ngroups = ;z\n  e\\\\ ;f\n",
            Frontend::Pam,
        );
        let c = Config {
            ikey: Secret::new("a\nb".into()),
            ..Config::default()
        };
        assert!(render(&c, Frontend::Pam).is_err());
    }

    #[test]
    fn file_permissions_and_open_errors() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("duo-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.conf");
        std::fs::write(&f, BASE).unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, false),
            (0o604, false),
            (0o620, false),
            (0o602, false),
        ] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            // login_duo accepts a file owned by the account it runs as, which owns this one
            // whoever runs the test, so only the mode decides here.
            let r = load(&f, Frontend::Login, &mut |_, _| {});
            assert_eq!(r.is_ok(), ok, "mode {mode:o}");
            if !ok {
                assert!(matches!(r, Err(ConfigError::Permissions)));
            }
        }
        // pam_duo accepts only root's files (§0a D10): this one is root's only when root runs
        // the test.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = load(&f, Frontend::Pam, &mut |_, _| {});
        if crate::sys::effective_uid() == crate::sys::Uid(0) {
            assert!(r.is_ok(), "{r:?}");
        } else {
            assert!(matches!(r, Err(ConfigError::Owner)), "{r:?}");
        }
        let missing = dir.join("nope.conf");
        let e = load(&missing, Frontend::Pam, &mut |_, _| {}).unwrap_err();
        assert_eq!(
            e.message(&missing, "root"),
            format!(
                "Couldn't open {}: No such file or directory",
                missing.display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
