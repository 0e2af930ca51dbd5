//! The part of a login both frontends share once they know who logs in: the attempt loop with
//! its log lines and verdicts (docs/BEHAVIOUR.md §6 step 14, §7.3 step 11).

use zeroize::Zeroizing;

use crate::api::client::Client;
use crate::config::Config;
pub use crate::flow::attempt::Flags;
use crate::flow::attempt::{attempt, Context, Input, Seen};
use crate::flow::conv::Conversation;
use crate::flow::outcome::Outcome;
use crate::log::{log, outcome_line, Priority};

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
        matches!(
            self,
            Verdict::Success | Verdict::Skipped | Verdict::FailSafe
        )
    }
}

/// How a login ended: the verdict, already logged, and what the auth event reports about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The verdict.
    pub verdict: Verdict,
    /// The reason text of the verdict line (of the last failed attempt for
    /// [`Verdict::MaxTries`]); empty when the line has none.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts allowed (1..=3).
    pub allowed: u32,
    /// Factor and transaction id of the last attempt.
    pub seen: Seen,
}

/// Run up to `req.prompts` attempts and return how the login ended, logging each outcome.
pub fn run(
    cfg: &Config,
    client: &mut Client,
    req: Request<'_>,
    ui: &mut dyn Conversation,
) -> Ended {
    // Looked at before anything else, so that a verdict from the outage memory waits on
    // nothing (not even the host name lookup of the context).
    let mut window = crate::flow::outage::Window::open(cfg);
    let mut ctx = None;
    let command = req.command.filter(|_| cfg.pushinfo);
    let mut flags = req.flags;
    let mut env_factor = req.env_factor;
    let line =
        |msg: &str, user: &str, err: &str| outcome_line(msg, Some(user), req.addr, Some(err));
    let allowed = req.prompts.clamp(1, 3);
    let mut seen = Seen::default();
    let mut last_reason = String::new();
    let ended = |verdict, reason: String, n: u32, seen: Seen| Ended {
        verdict,
        reason,
        attempts: n + 1,
        allowed,
        seen,
    };
    for n in 0..allowed {
        let input = Input {
            duo_user: req.duo_user,
            addr: req.addr,
            command,
            flags,
        };
        let user = req.duo_user;
        seen = Seen::default();
        let outcome = match window.remembered() {
            Some(o) => o,
            None => {
                let ctx = ctx.get_or_insert_with(|| Context {
                    cfg,
                    hostname: crate::user::netaddr::HostName::start(),
                    local_ip: crate::user::netaddr::local_ip(),
                });
                attempt(
                    client,
                    ctx,
                    &input,
                    &mut env_factor,
                    ui,
                    &mut seen,
                    &mut window,
                )
            }
        };
        match outcome {
            Outcome::Failed(why) => {
                log(
                    Priority::Warning,
                    &line("Failed Duo login", req.fail_user, &why),
                );
                if !flags.sync {
                    ui.status("");
                }
                if req.autopush_fallback && n == 0 {
                    flags = Flags::default();
                }
                last_reason = why;
            }
            Outcome::Approved => {
                log(Priority::Info, &line("Successful Duo login", user, ""));
                return ended(Verdict::Success, String::new(), n, seen);
            }
            Outcome::Skipped(why) => {
                log(Priority::Warning, &line("Skipped Duo login", user, &why));
                return ended(Verdict::Skipped, why, n, seen);
            }
            Outcome::Aborted(why) => {
                log(Priority::Warning, &line("Aborted Duo login", user, &why));
                return ended(Verdict::Aborted, why, n, seen);
            }
            Outcome::FailSafe(why) => {
                log(Priority::Warning, &line("Failsafe Duo login", user, &why));
                if cfg.failmode_notice {
                    ui.notice(crate::flow::conv::failmode_notice(false), false);
                }
                return ended(Verdict::FailSafe, why, n, seen);
            }
            Outcome::FailSecure(why) => {
                log(Priority::Warning, &line("Failsecure Duo login", user, &why));
                if cfg.failmode_notice {
                    ui.notice(crate::flow::conv::failmode_notice(true), true);
                }
                return ended(Verdict::FailSecure, why, n, seen);
            }
            Outcome::Error(why) => {
                log(Priority::Err, &line("Error in Duo login", user, &why));
                return ended(Verdict::Error, why, n, seen);
            }
        }
    }
    ended(Verdict::MaxTries, last_reason, allowed - 1, seen)
}

/// Which frontend reports a configuration problem, and how (docs/BEHAVIOUR.md §3.3, §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reporter {
    /// `pam_duo`: the value problem raw on stderr in debug mode, then the log lines (stderr
    /// with `[3] ` in debug mode, else syslog, where the value problem goes too).
    Pam,
    /// `login_duo`: every line raw on stderr, debug mode or not; and to syslog when not in
    /// debug mode.
    Login,
}

/// Read the configuration both frontends share: load it (owner, mode, syntax, values,
/// required keys), report any problem in the reference's words, and warn when every group
/// is negated. `None` means the login must be denied (§0a D1). `owners` are the accounts that
/// may own the file; `owner` is the account named in a permission or ownership message.
pub fn load_config(
    path: &std::path::Path,
    reporter: Reporter,
    owners: &[crate::sys::Uid],
    owner: &str,
) -> Option<Config> {
    let frontend = match reporter {
        Reporter::Pam => crate::config::Frontend::Pam,
        Reporter::Login => crate::config::Frontend::Login,
    };
    let prog = match reporter {
        Reporter::Pam => "pam_duo",
        Reporter::Login => "login_duo",
    };
    let mut diag = |p: Priority, m: &str| log(p, m);
    match crate::config::load_owned_by(path, frontend, owners, &mut diag) {
        Ok(cfg) => {
            if crate::user::groups::all_negated(&cfg.groups) {
                log(Priority::Warning, crate::user::groups::ALL_NEGATED_WARNING);
            }
            Some(cfg)
        }
        Err(e) => {
            let problem_first = matches!(
                e,
                crate::config::ConfigError::Parse {
                    problem: Some(_),
                    ..
                }
            );
            for (i, line) in e.lines(path, owner, prog).iter().enumerate() {
                match reporter {
                    Reporter::Login => {
                        crate::log::raw_stderr(line);
                        if !crate::log::debug() {
                            crate::log::syslog_only(Priority::Err, line);
                        }
                    }
                    Reporter::Pam if i == 0 && problem_first => {
                        if crate::log::debug() {
                            crate::log::raw_stderr(line);
                        } else {
                            crate::log::syslog_only(Priority::Err, line);
                        }
                    }
                    Reporter::Pam => log(Priority::Err, line),
                }
            }
            None
        }
    }
}

/// Open the API handle for a login; on failure log `Couldn't open Duo API handle for '<os
/// user>'[ from <addr>]` (with the reason at debug level) and return the reason: a hard
/// denial.
pub fn open_client(
    cfg: &Config,
    program: &str,
    os_user: &str,
    addr: Option<&str>,
) -> Result<Client, String> {
    Client::open(cfg, program).inspect_err(|why| {
        log(Priority::Debug, why);
        log(
            Priority::Err,
            &outcome_line("Couldn't open Duo API handle", Some(os_user), addr, None),
        );
    })
}

/// What the `groups` option says about a user (docs/BEHAVIOUR.md §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Duo is required (no groups configured, or the user matches).
    Required,
    /// The user matches no group: logged, and the login is allowed without Duo.
    Bypass,
    /// The user's groups could not be read: logged; deny.
    Error,
}

/// Apply the `groups` option to `account`. `shown` is the name in the bypass line.
pub fn group_gate(cfg: &Config, account: &crate::user::account::Account, shown: &str) -> Gate {
    if cfg.groups.is_empty() {
        return Gate::Required;
    }
    match crate::user::account::group_names(account) {
        Err(e) => {
            log(
                Priority::Err,
                &format!(
                    "Couldn't get groups for '{}': {}",
                    account.name,
                    crate::sys::strerror(&e)
                ),
            );
            Gate::Error
        }
        Ok(names) if !crate::user::groups::matches(&cfg.groups, &names) => {
            log(
                Priority::Info,
                &format!("User {shown} bypassed Duo 2FA due to user's UNIX group"),
            );
            Gate::Bypass
        }
        Ok(_) => Gate::Required,
    }
}
