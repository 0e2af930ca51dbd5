//! `login_duo`: Duo two-factor authentication for SSH logins (docs/BEHAVIOUR.md §7, §10).
//!
//! Installed setuid root, it forks: the child drops to the privsep user and asks Duo; the
//! parent drops to the calling user and runs the shell or command only when the child approves.
//! Run by root or not setuid, it does both in one process.

// Only the `sys` module talks to the C library.
#![deny(unsafe_code)]

mod args;
mod exec;
mod privsep;
#[allow(unsafe_code)]
mod sys;
mod terminal;

use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use duo::config::{Config, Frontend};
use duo::flow::conv::{Conversation, Silent};
use duo::flow::events;
use duo::flow::login::{self, FailName, Flags, Who};
use duo::flow::outcome::Outcome;
use duo::log::{log, Priority};
use zeroize::Zeroizing;

use args::Args;

/// Default configuration file.
const DEFAULT_CONF: &str = "/etc/duo/login_duo.conf";

/// Message of the day, printed after an interactive approval when `motd` is on.
const MOTD: &str = "/etc/motd";

/// Longest part of `SSH_CONNECTION` looked at, in bytes.
const MAX_SSH_CONNECTION: usize = 63;

/// A reason to end the run with status 1: printed on stderr by [`main`]. It is returned, never
/// acted on where it arises, so that everything in scope (the config's secret key, a
/// passcode) is dropped and wiped before the process exits.
pub struct Exit1(pub String);

impl Exit1 {
    /// Print the message on stderr.
    pub fn print(&self) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", self.0);
        let _ = err.flush();
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    // Our own tag, whatever argv[0] says (docs/BEHAVIOUR.md §0a D9).
    duo::log::open_own_log(c"login_duo");
    duo::log::quiet_panics();
    log(Priority::Info, "starting Duo Unix: Login Duo");
    match run(started) {
        // Denied (already logged and shown).
        Ok(()) => ExitCode::FAILURE,
        Err(e) => {
            e.print();
            ExitCode::FAILURE
        }
    }
}

/// Everything but the exit: returns `Ok(())` when the login was denied, and does not return
/// when it was approved and the shell could be started.
fn run(started: Instant) -> Result<(), Exit1> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let a = args::parse("login_duo", argv.get(1..).unwrap_or(&[]))
        .map_err(|e| Exit1(format!("{e}\n{}", args::USAGE)))?;
    if a.version {
        // The FIPS build names its cryptographic module and mode; the default build prints
        // exactly what the C version prints.
        if duo::crypto::FIPS_BUILD {
            return Err(Exit1(format!(
                "login_duo {} ({})",
                duo::VERSION,
                duo::crypto::module().describe()
            )));
        }
        return Err(Exit1(format!("login_duo {}", duo::VERSION)));
    }
    duo::log::set_debug(a.debug);
    // The command is bytes: it is run exactly as given, UTF-8 or not.
    let command: Option<OsString> = if a.command.is_empty() {
        std::env::var_os(exec::ORIGINAL_COMMAND)
    } else {
        Some(args::joined(&a.command))
    };

    // The caller, looked up before any privilege change: in setuid mode the auth child runs
    // as the privsep user but authenticates the caller.
    let (caller, _) = privsep::real_ids();
    let approved = if privsep::is_setuid() {
        if a.config.is_some() || a.duo_user.is_some() {
            return Err(Exit1("Only root may specify -c or -f".into()));
        }
        privsep::run_separated(|| {
            do_auth(&a, caller, command.as_deref(), true, started).map(|o| o.allows())
        })?
    } else {
        do_auth(&a, caller, command.as_deref(), false, started)?.allows()
    };
    if !approved {
        return Ok(());
    }
    Err(exec::exec_shell(command.as_deref()))
}

/// The auth side (docs/BEHAVIOUR.md §7.3) for the calling user `caller`: the verdict, already
/// logged (a config problem is an error). `separated` says whether this is the privsep child
/// of a setuid run; `started` is when the program started (for the auth event).
fn do_auth(
    a: &Args,
    caller: sys::Uid,
    command: Option<&OsStr>,
    separated: bool,
    started: Instant,
) -> Result<Outcome, Exit1> {
    let Some(account) = duo::user::account::by_uid(caller) else {
        return Err(Exit1("Who are you?".into()));
    };
    let path = a
        .config
        .as_ref()
        .map_or_else(|| PathBuf::from(DEFAULT_CONF), PathBuf::from);
    log(
        Priority::Info,
        &format!("Loading config file {}", path.display()),
    );
    // The account that must own the file: the privsep user in a setuid run, else the user
    // running this (root, in every supported set-up).
    let owner = if separated {
        privsep::PRIVSEP_USER.to_string()
    } else {
        duo::user::account::by_uid(sys::effective_uid())
            .map_or_else(|| "root".to_string(), |u| u.name)
    };
    // Root or the privsep user may own it (§0a D10), in a setuid run or not: the package
    // gives the file to the privsep user, and root can still check it with -c.
    let mut owners = vec![sys::Uid::ROOT];
    owners.extend(duo::user::account::by_name(privsep::PRIVSEP_USER).map(|a| a.uid));
    let Some(cfg) = login::load_config(&path, Frontend::Login, &owners, &owner) else {
        return Ok(Outcome::Error("configuration problem".into()));
    };
    let headless =
        std::env::var_os(exec::ORIGINAL_COMMAND).is_some() || !std::io::stdin().is_terminal();
    // The auth event (`events = json`): filled in as the login goes on, sent where it ends.
    let mut ev = events::Login::new(&cfg, Frontend::Login.program(), started);
    ev.os_user = Some(account.name.clone());
    // Shown to the user in the push (pushinfo) only: text, not bytes.
    let shown_command = command.map(|c| c.to_string_lossy().into_owned());
    let env_factor = if cfg.accept_env_factor {
        take_env_passcode()
    } else {
        None
    };
    let mut flags = Flags {
        env: cfg.accept_env_factor,
        verified_push: cfg.verified_push,
        ..Flags::default()
    };
    let mut prompts = cfg.prompts;
    let mut silent = Silent;
    let mut term = terminal::Terminal;
    let ui: &mut dyn Conversation = if headless {
        flags.sync = true;
        flags.auto = true;
        prompts = 1;
        &mut silent
    } else {
        if cfg.autopush {
            flags.sync = true;
            flags.auto = true;
        }
        &mut term
    };
    let addr = || client_address(a, &cfg);
    let who = Who {
        account: &account,
        duo_user: a.duo_user.as_deref(),
        shown: a.duo_user.as_deref().unwrap_or(&account.name),
        fail_name: FailName::DuoUser,
        addr: &addr,
        command: shown_command.as_deref(),
        flags,
        prompts,
        autopush_fallback: cfg.autopush && !headless,
        env_factor,
    };
    let ended = login::session(&cfg, Frontend::Login, &mut ev, who, ui, &mut |_, _| None);
    if matches!(ended.outcome, Outcome::Approved | Outcome::Skipped(_)) && cfg.motd && !headless {
        print_motd();
    }
    Ok(ended.outcome)
}

/// The client address (docs/BEHAVIOUR.md §7.3 step 8): the first token of `SSH_CONNECTION`, else `-h`,
/// else none (local sessions send no address).
fn client_address(a: &Args, cfg: &Config) -> Option<String> {
    let raw = match std::env::var_os("SSH_CONNECTION") {
        Some(v) => {
            let bytes = v.as_encoded_bytes();
            let cut = &bytes[..bytes.len().min(MAX_SSH_CONNECTION)];
            let text = String::from_utf8_lossy(cut);
            Some(text.split(' ').next().unwrap_or("").to_string())
        }
        None => a.host.as_ref().map(|h| h.to_string_lossy().into_owned()),
    };
    raw.and_then(|r| duo::user::netaddr::client_address(Some(&r), cfg.fallback_local_ip))
}

/// Read `DUO_PASSCODE` into wiped memory. The variable itself is never passed on: the shell
/// or command is started with an environment built without it (see exec.rs).
fn take_env_passcode() -> Option<Zeroizing<String>> {
    let raw = std::env::var_os("DUO_PASSCODE")?;
    let bytes = Zeroizing::new(raw.into_encoded_bytes());
    Some(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Copy `/etc/motd` to stdout if it can be read.
fn print_motd() {
    if let Ok(text) = std::fs::read(MOTD) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&text);
        let _ = out.flush();
    }
}
