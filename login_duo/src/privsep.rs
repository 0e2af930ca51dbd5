//! Privilege separation for the setuid install (docs/BEHAVIOUR.md §10): the auth runs in a child that drops
//! to the privsep user; the parent drops to the real user and only execs when the child exits
//! with status 0. Both make themselves non-dumpable right after their drop.

use crate::sys::{self, Exit, Forked, Gid, Uid};
use crate::Exit1;

/// Name of the privilege-separation user, fixed at build time (`DUO_PRIVSEP_USER`, default
/// `sshd`). It can never be root.
pub const PRIVSEP_USER: &str = match option_env!("DUO_PRIVSEP_USER") {
    Some(u) => u,
    None => "sshd",
};

const _: () = assert!(
    !const_str_eq(PRIVSEP_USER, "root"),
    "the privsep user must not be root"
);

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Real user and group ids of this process.
pub fn real_ids() -> (Uid, Gid) {
    (sys::real_uid(), sys::real_gid())
}

/// Whether this is a setuid run by another user (`euid != ruid`).
pub fn is_setuid() -> bool {
    sys::effective_uid() != sys::real_uid()
}

/// After a privilege drop: keep the caller (parent) or the other processes of the privsep
/// user (child) from tracing this process or reading its memory, whatever `fs.suid_dumpable`
/// says. A failure denies (the parent never execs).
fn not_dumpable() -> Result<(), Exit1> {
    sys::set_not_dumpable().map_err(|e| {
        Exit1(format!(
            "couldn't make the process non-dumpable: {}",
            duo::sys::strerror(&e)
        ))
    })
}

/// Run `auth` in a child that has dropped to the privsep user, drop this process to the real
/// user, and return whether the child approved (exited normally with status 0). A child killed
/// by a signal denies with a message. The child never returns from here: it exits with its
/// verdict once `auth` has returned (and dropped whatever it held), or with status 1 and a
/// message if it cannot drop its privileges.
pub fn run_separated(auth: impl FnOnce() -> Result<bool, Exit1>) -> Result<bool, Exit1> {
    let Some(privsep) = duo::user::account::by_name(PRIVSEP_USER) else {
        return Err(Exit1(format!("User '{PRIVSEP_USER}' not found")));
    };
    if privsep.uid.is_root() {
        // Checked at build time by name; an account with that name but uid 0 would run the
        // network side with full privileges.
        return Err(Exit1(format!(
            "User '{PRIVSEP_USER}' has uid 0: refusing to run the Duo check as root"
        )));
    }
    // The auth child cannot create its outage window directory under /run; it is made here,
    // as root, whether or not the config turns the window on (the parent never reads it).
    if let Err(why) = duo::flow::outage::prepare_for(privsep.uid, privsep.gid) {
        duo::log::log(
            duo::log::Priority::Debug,
            &format!("outage window directory: {why}"),
        );
    }
    let (ruid, rgid) = real_ids();
    let pid = match sys::fork_single_threaded() {
        Ok(Forked::Parent(pid)) => pid,
        Ok(Forked::Child) => {
            let code = match child(&privsep, ruid, auth) {
                Ok(true) => 0,
                Ok(false) => 1,
                Err(e) => {
                    e.print();
                    1
                }
            };
            // Everything the child held is dropped by now; it must not go back to main, which
            // would run the shell.
            std::process::exit(code);
        }
        Err(e) => return Err(Exit1(format!("fork: {}", duo::sys::strerror(&e)))),
    };
    // Supplementary groups are left as inherited: they are already the caller's.
    sys::drop_to(ruid, rgid, None).map_err(|e| {
        Exit1(format!(
            "couldn't drop privileges: {}",
            duo::sys::strerror(&e)
        ))
    })?;
    not_dumpable()?;
    match sys::wait(pid) {
        Ok(Exit::Code(code)) => Ok(code == 0),
        Ok(Exit::Signal(sig)) => Err(Exit1(format!(
            "unprivileged process terminated by signal: {sig}"
        ))),
        Err(e) => Err(Exit1(format!("waitpid: {}", duo::sys::strerror(&e)))),
    }
}

/// The auth child: drop to the privsep user, become non-dumpable, run `auth`.
fn child(
    privsep: &duo::user::account::Account,
    ruid: Uid,
    auth: impl FnOnce() -> Result<bool, Exit1>,
) -> Result<bool, Exit1> {
    let groups = (ruid != privsep.uid).then_some([privsep.gid]);
    sys::drop_to(privsep.uid, privsep.gid, groups.as_ref().map(|g| &g[..])).map_err(|e| {
        Exit1(format!(
            "couldn't drop privileges: {}",
            duo::sys::strerror(&e)
        ))
    })?;
    not_dumpable()?;
    auth()
}
