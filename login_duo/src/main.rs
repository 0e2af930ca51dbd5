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
use std::time::Instant;

use duo::config::Config;
use duo::flow::conv::{Conversation, Silent};
use duo::flow::events::{self, Kind};
use duo::flow::login::{self, Flags, Gate, Reporter, Request, Verdict};
use duo::log::{log, Priority};
use zeroize::Zeroizing;

use args::Args;

/// Default configuration file.
const DEFAULT_CONF: &str = "/etc/duo/login_duo.conf";

/// Message of the day, printed after an interactive approval when `motd` is on.
const MOTD: &str = "/etc/motd";

/// Longest part of `SSH_CONNECTION` looked at, in bytes.
const MAX_SSH_CONNECTION: usize = 63;

/// Print `msg` on stderr and exit with status 1.
pub fn die(msg: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
    let _ = err.flush();
    std::process::exit(1);
}

fn main() {
    let started = Instant::now();
    // Our own tag, whatever argv[0] says (docs/BEHAVIOUR.md §0a D9).
    duo::log::open_own_log(c"login_duo");
    duo::log::quiet_panics();
    log(Priority::Info, "starting Duo Unix: Login Duo");
    let argv: Vec<OsString> = std::env::args_os().collect();
    let a = match args::parse("login_duo", argv.get(1..).unwrap_or(&[])) {
        Ok(a) => a,
        Err(e) => die(&format!("{e}\n{}", args::USAGE)),
    };
    if a.version {
        // The FIPS build names its cryptographic module and mode; the default build prints
        // exactly what the C version prints.
        if duo::crypto::FIPS_BUILD {
            die(&format!(
                "login_duo {} ({})",
                duo::VERSION,
                duo::crypto::module().describe()
            ));
        }
        die(&format!("login_duo {}", duo::VERSION));
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
            die("Only root may specify -c or -f");
        }
        privsep::run_separated(|| do_auth(&a, caller, command.as_deref(), true, started))
    } else {
        do_auth(&a, caller, command.as_deref(), false, started) == 0
    };
    if !approved {
        std::process::exit(1);
    }
    exec::exec_shell(command.as_deref());
}

/// The auth side (docs/BEHAVIOUR.md §7.3) for the calling user `caller`. Returns the exit
/// status: 0 approves. `separated` says whether this is the privsep child of a setuid run;
/// `started` is when the program started (for the auth event).
fn do_auth(
    a: &Args,
    caller: sys::Uid,
    command: Option<&OsStr>,
    separated: bool,
    started: Instant,
) -> i32 {
    let Some(account) = duo::user::account::by_uid(caller) else {
        die("Who are you?");
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
    let Some(cfg) = login::load_config(&path, Reporter::Login, &owners, &owner) else {
        return 1;
    };
    let headless =
        std::env::var_os(exec::ORIGINAL_COMMAND).is_some() || !std::io::stdin().is_terminal();
    // The auth event (`events = json`): filled in as the login goes on, sent where it ends.
    let mut ev = events::Login::new(&cfg, "login_duo", started);
    ev.os_user = Some(account.name.clone());

    let shown = a.duo_user.as_deref().unwrap_or(&account.name);
    match login::group_gate(&cfg, &account, shown) {
        Gate::Error => {
            ev.emit(Kind::Error, "Couldn't get groups");
            return 1;
        }
        Gate::Bypass => {
            ev.emit(Kind::Skipped, events::GROUP_BYPASS);
            if cfg.motd && !headless {
                print_motd();
            }
            return 0;
        }
        Gate::Required => {}
    }

    let duo_user = match &a.duo_user {
        Some(u) => u.clone(),
        None => duo::user::gecos::duo_username(&cfg, &account),
    };
    ev.duo_user = Some(duo_user.clone());
    let addr = client_address(a, &cfg);
    ev.client_addr.clone_from(&addr);
    // Shown to the user in the push (pushinfo) only: text, not bytes.
    let shown_command = command.map(|c| c.to_string_lossy().into_owned());

    let mut client = match login::open_client(&cfg, "login_duo", &account.name, addr.as_deref()) {
        Ok(c) => c,
        Err(why) => {
            ev.emit(Kind::Error, &format!("Couldn't open Duo API handle: {why}"));
            return 1;
        }
    };

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
    let ended = login::run(
        &cfg,
        &mut client,
        Request {
            duo_user: &duo_user,
            fail_user: &duo_user,
            addr: addr.as_deref(),
            command: shown_command.as_deref(),
            flags,
            prompts,
            autopush_fallback: cfg.autopush && !headless,
            env_factor,
        },
        ui,
    );
    ev.emit_ended(&ended, client.phases());
    if matches!(ended.verdict, Verdict::Success | Verdict::Skipped) && cfg.motd && !headless {
        print_motd();
    }
    if ended.verdict.allows() {
        0
    } else {
        1
    }
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
