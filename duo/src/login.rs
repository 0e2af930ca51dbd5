//! The part of a login both frontends share once they know who logs in: the attempt loop with
//! its log lines and verdicts (SPEC §6 step 14, §7.3 step 11).

use zeroize::Zeroizing;

use crate::client::Client;
use crate::config::Config;
use crate::conv::Conversation;

/// Mode flags of an attempt (SPEC §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Synchronous `/auth` (no `/auth_status` polling): sshd, headless and autopush login_duo.
    pub sync: bool,
    /// Use the default factor without a menu.
    pub auto: bool,
    /// Try the `DUO_PASSCODE` factor first (login_duo with `accept_env_factor`).
    pub env: bool,
    /// Advertise verified push and forward the preauth txid.
    pub verified_push: bool,
}

/// Who logs in, from where, and how.
pub struct Request<'a> {
    /// Duo username (after `-f`, su and GECOS substitution).
    pub duo_user: &'a str,
    /// Name used in "Failed" lines: the OS user in pam_duo, the Duo user in login_duo.
    pub fail_user: &'a str,
    /// Client address (`ipaddr`), if any.
    pub addr: Option<&'a str>,
    /// The command to approve; sent in pushinfo only when `pushinfo` is on.
    pub command: Option<&'a str>,
    /// Mode flags.
    pub flags: Flags,
    /// Number of attempts (1..=3).
    pub prompts: u32,
    /// login_duo: after a failed first autopush, drop all flags and show the menu.
    pub autopush_fallback: bool,
    /// The `DUO_PASSCODE` value, consumed by the first attempt that uses it (flag `env`).
    pub env_factor: Option<Zeroizing<String>>,
}

/// How a login ended. Each verdict has already been logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Duo approved ("Successful Duo login").
    Success,
    /// Preauth allowed without 2FA ("Skipped Duo login").
    Skipped,
    /// Denied outright: preauth deny/enroll, HTTP 4xx ("Aborted Duo login").
    Aborted,
    /// Duo unreachable at preauth, failmode safe: allow ("Failsafe Duo login").
    FailSafe,
    /// Duo unreachable at preauth, failmode secure: deny ("Failsecure Duo login").
    FailSecure,
    /// Any other error ("Error in Duo login").
    Error,
    /// Every attempt failed.
    MaxTries,
}

impl Verdict {
    /// Whether the login may proceed.
    pub fn allows(self) -> bool {
        matches!(self, Verdict::Success | Verdict::Skipped | Verdict::FailSafe)
    }
}

/// Run up to `req.prompts` attempts and return the verdict, logging each outcome.
pub fn run(cfg: &Config, client: &mut Client, req: Request<'_>, ui: &mut dyn Conversation) -> Verdict {
    let _ = (cfg, client, req, ui);
    todo!("login::run")
}
