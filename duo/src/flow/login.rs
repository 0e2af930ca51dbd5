//! The part of a login both frontends share once they know who logs in: the attempt loop with
//! its log lines and verdicts (docs/BEHAVIOUR.md §6 step 14, §7.3 step 11).

use zeroize::Zeroizing;

use crate::api::client::Client;
use crate::config::{Config, Frontend};
use crate::flow::attempt::{attempt, Context, Input};
pub use crate::flow::attempt::{Flags, Seen};
use crate::flow::conv::Conversation;
use crate::flow::outcome::Outcome;
use crate::log::{log, outcome_line, Priority};

/// Who logs in, from where, and how.
pub(crate) struct Request<'a> {
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

/// How a login ended: the verdict, already logged, and what the auth event reports about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The verdict: the outcome of the last attempt (a last [`Outcome::Failed`] means every
    /// attempt failed), or of what ended the login before Duo was asked.
    pub outcome: Outcome,
    /// The reason text of the auth event: the verdict line's (of the last failed attempt when
    /// every attempt failed), or a note such as [`crate::flow::events::GROUP_BYPASS`].
    pub reason: String,
    /// Attempts made; 0 when the login ended before Duo was asked.
    pub attempts: u32,
    /// Attempts allowed (1..=3).
    pub allowed: u32,
    /// Factor and transaction id of the last attempt.
    pub seen: Seen,
}

impl Ended {
    /// A login that ended before Duo was asked, with `outcome`; `reason` is the event's.
    pub fn early(outcome: Outcome, reason: &str) -> Ended {
        Ended {
            outcome,
            reason: reason.to_string(),
            attempts: 0,
            allowed: 1,
            seen: Seen::default(),
        }
    }
}

/// Run up to `req.prompts` attempts and return how the login ended, logging each outcome.
pub(crate) fn run(
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
    let mut last: Option<Outcome> = None;
    let ended = |outcome: Outcome, n: u32, seen: Seen| Ended {
        reason: outcome.reason().to_string(),
        outcome,
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
        // The verdict line names the OS user for a failed attempt in pam_duo (§6).
        let who = match outcome {
            Outcome::Failed(_) => req.fail_user,
            _ => user,
        };
        log(
            outcome.priority(),
            &line(outcome.line_words(), who, outcome.reason()),
        );
        if let Outcome::Failed(_) = outcome {
            if !flags.sync {
                ui.status("");
            }
            if req.autopush_fallback && n == 0 {
                flags = Flags::default();
            }
            last = Some(outcome);
            continue;
        }
        if cfg.failmode_notice {
            match outcome {
                Outcome::FailSafe(_) => ui.notice(crate::flow::conv::failmode_notice(false), false),
                Outcome::FailSecure(_) => ui.notice(crate::flow::conv::failmode_notice(true), true),
                _ => {}
            }
        }
        return ended(outcome, n, seen);
    }
    // Every attempt failed: the last failure is the verdict.
    let last = last.unwrap_or_else(|| Outcome::Failed(String::new()));
    ended(last, allowed - 1, seen)
}

/// Read the configuration both frontends share: load it (owner, mode, syntax, values,
/// required keys), report any problem in the reference's words, and warn when every group
/// is negated. `None` means the login must be denied (§0a D1). `owners` are the accounts that
/// may own the file; `owner` is the account named in a permission or ownership message.
///
/// How a problem is reported depends on the frontend (docs/BEHAVIOUR.md §3.3, §7.3):
/// `pam_duo` writes the value problem raw on stderr in debug mode, then the log lines (stderr
/// with `[3] ` in debug mode, else syslog, where the value problem goes too); `login_duo`
/// writes every line raw on stderr, debug mode or not, and to syslog when not in debug mode.
pub fn load_config(
    path: &std::path::Path,
    frontend: Frontend,
    owners: &[crate::sys::Uid],
    owner: &str,
) -> Option<Config> {
    let prog = frontend.program();
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
                match frontend {
                    Frontend::Login => {
                        crate::log::raw_stderr(line);
                        if !crate::log::debug() {
                            crate::log::syslog_only(Priority::Err, line);
                        }
                    }
                    Frontend::Pam if i == 0 && problem_first => {
                        if crate::log::debug() {
                            crate::log::raw_stderr(line);
                        } else {
                            crate::log::syslog_only(Priority::Err, line);
                        }
                    }
                    Frontend::Pam => log(Priority::Err, line),
                }
            }
            None
        }
    }
}

/// Open the API handle for a login; on failure log `Couldn't open Duo API handle for '<os
/// user>'[ from <addr>]` (with the reason at debug level) and return the reason: a hard
/// denial.
pub(crate) fn open_client(
    cfg: &Config,
    program: &str,
    os_user: &str,
    addr: Option<&str>,
) -> Result<Client, crate::api::client::HandleError> {
    Client::open(cfg, program).inspect_err(|why| {
        log(Priority::Debug, &why.to_string());
        log(
            Priority::Err,
            &outcome_line("Couldn't open Duo API handle", Some(os_user), addr, None),
        );
    })
}

/// What the `groups` option says about a user (docs/BEHAVIOUR.md §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Duo is required (no groups configured, or the user matches).
    Required,
    /// The user matches no group: logged, and the login is allowed without Duo.
    Bypass,
    /// The user's groups could not be read: logged; deny.
    Error,
}

/// Apply the `groups` option to `account`. `shown` is the name in the bypass line.
pub(crate) fn group_gate(
    cfg: &Config,
    account: &crate::user::account::Account,
    shown: &str,
) -> Gate {
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

/// Which name the verdict line of a failed attempt uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailName {
    /// The local account (`pam_duo`).
    OsUser,
    /// The Duo username (`login_duo`).
    DuoUser,
}

/// Who logs in and how, as the frontend found out: everything [`session`] needs.
pub struct Who<'a> {
    /// The local account that logs in (after su's caller substitution in `pam_duo`).
    pub account: &'a crate::user::account::Account,
    /// A Duo username the frontend was given (`login_duo -f`); else the GECOS rules decide.
    pub duo_user: Option<&'a str>,
    /// The name in the `groups` bypass line.
    pub shown: &'a str,
    /// The name in `Failed Duo login` lines.
    pub fail_name: FailName,
    /// The client address reported to Duo (`ipaddr`), if any: worked out once the `groups`
    /// gate has passed (its `fallback_local_ip` rule may log a warning).
    pub addr: &'a dyn Fn() -> Option<String>,
    /// The command to approve (sent in pushinfo when `pushinfo` is on).
    pub command: Option<&'a str>,
    /// Mode flags.
    pub flags: Flags,
    /// Number of attempts (1..=3).
    pub prompts: u32,
    /// After a failed first autopush, drop all flags and show the menu (`login_duo`).
    pub autopush_fallback: bool,
    /// The `DUO_PASSCODE` value (flag `env`).
    pub env_factor: Option<Zeroizing<String>>,
}

/// The login sequence both frontends share once they know who logs in
/// (docs/BEHAVIOUR.md §6 steps 9–15, §7.3 steps 7–12): the `groups` gate, the Duo username,
/// an approval obtained earlier in the same login (`earlier`, `pam_duo` under sshd: it returns
/// the note to log in the event), the API handle, the attempt loop, and the auth event, which
/// is sent here for every way the login ends. The verdict has been logged.
pub fn session(
    cfg: &Config,
    frontend: Frontend,
    ev: &mut crate::flow::events::Login<'_>,
    who: Who<'_>,
    ui: &mut dyn Conversation,
    earlier: &mut dyn FnMut(&str, Option<&str>) -> Option<&'static str>,
) -> Ended {
    let ended = |ev: &crate::flow::events::Login<'_>, e: Ended| {
        ev.emit(&e, &crate::api::phases::Phases::default());
        e
    };
    match group_gate(cfg, who.account, who.shown) {
        Gate::Error => {
            return ended(
                ev,
                Ended::early(Outcome::Error(NO_GROUPS.into()), NO_GROUPS),
            )
        }
        Gate::Bypass => {
            let why = crate::flow::events::GROUP_BYPASS;
            return ended(ev, Ended::early(Outcome::Skipped(why.into()), why));
        }
        Gate::Required => {}
    }
    let duo_user = match who.duo_user {
        Some(u) => u.to_string(),
        None => crate::user::gecos::duo_username(cfg, who.account),
    };
    ev.duo_user = Some(duo_user.clone());
    let addr = (who.addr)();
    ev.client_addr.clone_from(&addr);
    let addr = addr.as_deref();
    if let Some(note) = earlier(&duo_user, addr) {
        return ended(ev, Ended::early(Outcome::Approved, note));
    }
    let mut client = match open_client(cfg, frontend.program(), &who.account.name, addr) {
        Ok(c) => c,
        Err(why) => {
            let why = format!("Couldn't open Duo API handle: {why}");
            return ended(ev, Ended::early(Outcome::Error(why.clone()), &why));
        }
    };
    let fail_user = match who.fail_name {
        FailName::OsUser => who.account.name.as_str(),
        FailName::DuoUser => duo_user.as_str(),
    };
    let e = run(
        cfg,
        &mut client,
        Request {
            duo_user: &duo_user,
            fail_user,
            addr,
            command: who.command,
            flags: who.flags,
            prompts: who.prompts,
            autopush_fallback: who.autopush_fallback,
            env_factor: who.env_factor,
        },
        ui,
    );
    ev.emit(&e, client.phases());
    e
}

/// The reason of the event of a login whose groups could not be read.
const NO_GROUPS: &str = "Couldn't get groups";
