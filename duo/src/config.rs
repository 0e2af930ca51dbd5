//! Configuration files `pam_duo.conf` and `login_duo.conf` (SPEC §3, §0a D1/D3/D5/D6).
//!
//! Every problem found here denies the login, whatever `failmode` says (§0a D1).

use std::path::Path;
use zeroize::Zeroizing;

/// A secret or sensitive string, wiped from memory when dropped.
pub type Secret = Zeroizing<String>;

/// Which frontend reads the file: `motd` and `accept_env_factor` differ between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// `pam_duo.so`: `motd` is an unknown key.
    Pam,
    /// `login_duo`: `motd` is accepted.
    Login,
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

/// A parsed and validated configuration.
#[derive(Debug)]
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
    /// Maximum attempts, 1..=3.
    pub prompts: u32,
    /// Per-wait timeout in seconds and the bound of the ping+preauth stage; `None` when unset
    /// or ≤ 0 (the stage bound is then 30 s, §0a D4).
    pub https_timeout: Option<u32>,
    /// 0-based GECOS field holding the Duo username.
    pub gecos_username_pos: Option<usize>,
    /// GECOS field delimiter (ASCII punctuation, not `:`).
    pub gecos_delim: u8,
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
            prompts: 3,
            https_timeout: None,
            gecos_username_pos: None,
            gecos_delim: b',',
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
    /// The file could not be opened.
    Open(std::io::Error),
    /// The file has a bad line (1-based number); `detail` says what is wrong with it.
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong, e.g. `Invalid failmode: 'x'` or `Invalid pam_duo option: 'foo'`.
        detail: String,
    },
    /// `host`, `ikey` or `skey` is missing or empty.
    Missing,
    /// `autopush` and `verified_push` are both on.
    BothPush,
}

impl ConfigError {
    /// The log line for this error, in the reference wording (SPEC §6 step 4 / §7.3 step 3).
    /// `owner` is the user named in the permission message.
    pub fn message(&self, path: &Path, owner: &str) -> String {
        let p = path.display();
        match self {
            ConfigError::Internal => format!("Internal error reading {p}"),
            ConfigError::Permissions => format!("{p} must be readable only by user '{owner}'"),
            ConfigError::Open(e) => format!("Couldn't open {p}: {}", strerror(e)),
            ConfigError::Parse { line, .. } => format!("Parse error in {p}, line {line}"),
            ConfigError::Missing => format!("Missing host, ikey, or skey in {p}"),
            ConfigError::BothPush => {
                format!("autopush and verified_push cannot both be enabled in {p}")
            }
        }
    }
}

/// The C library's text for an I/O error, without Rust's " (os error N)" suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Log sink for the diagnostics produced while reading (deprecation lines). Receives a syslog
/// priority and the message.
pub type Diag<'a> = &'a mut dyn FnMut(crate::log::Priority, &str);

/// Open `path`, check its permissions on the opened descriptor, parse and validate it.
pub fn load(path: &Path, frontend: Frontend, diag: Diag<'_>) -> Result<Config, ConfigError> {
    let _ = (path, frontend, diag);
    todo!("config::load")
}
