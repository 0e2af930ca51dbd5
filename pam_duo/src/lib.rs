//! `pam_duo.so`: a PAM module adding Duo two-factor authentication (docs/BEHAVIOUR.md §6).
//!
//! Only `pam_sm_authenticate` does work; it is a pure second factor and never reads or sets
//! the password. A panic inside it is caught and denies the login (PAM_SERVICE_ERR).
//!
//! Its only `unsafe` code is in `sys`: the `pam_get_data` call and AWS-LC's thread-local
//! clean-up (every entry point clears the calling thread's AWS-LC state before it returns, and
//! the key is deleted at unload). The C entry points come from the `pam::pam_hooks!` macro of
//! pam-bindings, and the C library calls from `duo::sys`.

#![deny(unsafe_code)]

mod approval;
mod conv;
mod ssh;
mod sys;

use std::ffi::CStr;
use std::path::PathBuf;
use std::time::Instant;

use duo::config::Frontend;
use duo::flow::events;
use duo::flow::login::{self, FailName, Flags, Who};
use duo::flow::outcome::Outcome;
use duo::log::{log, Priority};
use pam::constants::{PamFlag, PamResultCode};
use pam::conv::Conv;
use pam::items::{RHost, Service};
use pam::module::{PamHandle, PamHooks};

/// Default configuration file.
const DEFAULT_CONF: &str = "/etc/duo/pam_duo.conf";

struct PamDuo;
pam::pam_hooks!(PamDuo);

impl PamHooks for PamDuo {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        duo::log::quiet_panics();
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| authenticate(pamh, &args)))
                .unwrap_or(PamResultCode::PAM_SERVICE_ERR);
        returning(code)
    }

    fn sm_setcred(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        returning(PamResultCode::PAM_SUCCESS)
    }

    fn acct_mgmt(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        returning(PamResultCode::PAM_SUCCESS)
    }

    fn sm_open_session(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        returning(PamResultCode::PAM_SUCCESS)
    }

    fn sm_close_session(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        returning(PamResultCode::PAM_SUCCESS)
    }

    fn sm_chauthtok(_: &mut PamHandle, _: Vec<&CStr>, _: PamFlag) -> PamResultCode {
        returning(PamResultCode::PAM_SERVICE_ERR)
    }
}

/// What every entry point does last: clear the calling thread's AWS-LC state, so that the
/// host thread may outlive the module (issue 22).
fn returning(code: PamResultCode) -> PamResultCode {
    sys::crypto_thread_clear();
    code
}

/// Module arguments: `conf=<path>` (last wins) and `debug`. Anything else is an error.
/// Returns the config path and whether `debug` was given. As in the reference, `debug` takes
/// effect for the argument errors the moment it is read: `debug notanarg` reports
/// `[3] Invalid pam_duo option: 'notanarg'` on stderr, `notanarg debug` to syslog.
fn parse_args(args: &[&CStr]) -> Result<(PathBuf, bool), ()> {
    let mut conf = PathBuf::from(DEFAULT_CONF);
    let mut debug = false;
    let mut bad = false;
    for a in args {
        let a = a.to_string_lossy();
        if let Some(p) = a.strip_prefix("conf=") {
            conf = PathBuf::from(p);
        } else if a == "debug" {
            debug = true;
        } else {
            let line = format!("Invalid pam_duo option: '{a}'");
            duo::log::log_in_mode(Priority::Err, &line, debug);
            bad = true;
        }
    }
    if bad {
        Err(())
    } else {
        Ok((conf, debug))
    }
}

fn authenticate(pamh: &mut PamHandle, args: &[&CStr]) -> PamResultCode {
    use PamResultCode::*;
    let started = Instant::now();
    log(Priority::Info, "starting Duo Unix: PAM Duo");
    let Ok((path, debug)) = parse_args(args) else {
        return PAM_SERVICE_ERR;
    };
    // As in the reference, this line is logged before `debug` takes effect for the login, so
    // in debug mode it goes to syslog and the first line on stderr is the menu
    // (docs/BEHAVIOUR.md §6).
    log(
        Priority::Info,
        &format!("Loading config file {}", path.display()),
    );
    duo::log::set_debug(debug);
    // §0a D1: a config problem denies whatever failmode says.
    let Some(cfg) = login::load_config(&path, Frontend::Pam, &[duo::sys::Uid::ROOT], "root") else {
        return PAM_SERVICE_ERR;
    };
    // The auth event (`events = json`): filled in as the login goes on, sent where it ends.
    let mut ev = events::Login::new(&cfg, Frontend::Pam.program(), started);
    let Ok(user) = pamh.get_user(None) else {
        ev.emit_error("Couldn't get the user name");
        return PAM_USER_UNKNOWN;
    };
    ev.os_user = Some(user.clone());
    let Some(mut account) = duo::user::account::by_name(&user) else {
        ev.emit_error("Unknown user");
        return PAM_USER_UNKNOWN;
    };
    let service = match pamh.get_item::<Service>() {
        Ok(Some(s)) => s.to_string_lossy().into_owned(),
        _ => {
            ev.emit_error("Couldn't get the PAM service");
            return PAM_SERVICE_ERR;
        }
    };
    ev.service = Some(service.clone());
    let flags = Flags {
        auto: cfg.autopush,
        verified_push: cfg.verified_push,
        ..Flags::default()
    };
    let mut command = None;
    match service.as_str() {
        // Asynchronous, so that the Verified Push code and the status reach the ssh client
        // before the phone answers (§0a D17); the C version used a synchronous /auth here.
        "sshd" => {}
        // The command sudo will run, from sudo's own arguments; never SUDO_COMMAND, which is
        // the caller's to set (§0a D18).
        "sudo" => command = duo::user::sudo_cmd::of_this_process(),
        "su" | "su-l" if account.uid.is_root() => {
            match duo::user::account::by_uid(duo::sys::real_uid()) {
                Some(a) => account = a,
                None => {
                    ev.emit_error("Unknown calling user");
                    return PAM_USER_UNKNOWN;
                }
            }
        }
        _ => {}
    }
    ev.os_user = Some(account.name.clone());
    let rhost = match pamh.get_item::<RHost>() {
        Ok(Some(h)) => Some(h.to_string_lossy().into_owned()),
        _ => None,
    };
    let addr = || duo::user::netaddr::client_address(rhost.as_deref(), cfg.fallback_local_ip);
    let conv_item = pamh.get_item::<Conv>().ok().flatten();
    let mut ui = conv::PamConversation::new(conv_item, ssh::delivery(&cfg, &service));
    let who = Who {
        account: &account,
        duo_user: None,
        shown: &account.name,
        fail_name: FailName::OsUser,
        addr: &addr,
        command: command.as_deref(),
        flags,
        prompts: cfg.prompts,
        autopush_fallback: false,
        env_factor: None,
    };
    let mut earlier = |duo_user: &str, addr: Option<&str>| {
        ssh::approved_earlier(pamh, &service, &account.name, duo_user, addr).then_some(ssh::REUSED)
    };
    let ended = login::session(&cfg, Frontend::Pam, &mut ev, who, &mut ui, &mut earlier);
    ui.finish(ended.outcome.allows());
    drop(ui);
    if ended.outcome == Outcome::Approved && ended.attempts > 0 {
        let duo_user = ev.duo_user.clone().unwrap_or_default();
        ssh::keep_approval(pamh, &service, &account.name, &duo_user);
    }
    match ended.outcome {
        Outcome::Approved | Outcome::Skipped(_) | Outcome::FailSafe(_) => PAM_SUCCESS,
        Outcome::Aborted(_) => PAM_ABORT,
        Outcome::FailSecure(_) | Outcome::Error(_) => PAM_SERVICE_ERR,
        Outcome::Failed(_) => PAM_MAXTRIES,
    }
}
