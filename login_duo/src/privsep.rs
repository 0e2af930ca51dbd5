//! Privilege separation for the setuid install (SPEC §10): the auth runs in a child that drops
//! to the privsep user; the parent drops to the real user and only execs when the child exits
//! with status 0.

use std::io;

use crate::die;

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
pub fn real_ids() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// Effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Whether this is a setuid run by another user (`euid != ruid`).
pub fn is_setuid() -> bool {
    // SAFETY: geteuid/getuid cannot fail and touch no memory.
    unsafe { libc::geteuid() != libc::getuid() }
}

/// Drop every privilege to `uid`/`gid`. When `groups` is given the supplementary group list is
/// set to exactly it first. The result is checked, real and effective ids alike.
pub fn drop_to(uid: u32, gid: u32, groups: Option<&[libc::gid_t]>) -> io::Result<()> {
    if let Some(g) = groups {
        // SAFETY: the pointer and length describe a valid slice of gid_t.
        if unsafe { libc::setgroups(g.len(), g.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: plain system calls with integer arguments. With euid 0 they set the real,
    // effective and saved ids, so the change cannot be undone.
    unsafe {
        if libc::setgid(gid) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setuid(uid) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: getters that cannot fail.
    let now = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    if now != (uid, uid, gid, gid) {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(())
}

/// Run `auth` in a child that has dropped to the privsep user, drop this process to the real
/// user, and return whether the child approved (exited normally with status 0). A child killed
/// by a signal denies with a message.
pub fn run_separated(auth: impl FnOnce() -> i32) -> bool {
    let Some(privsep) = duo::account::by_name(PRIVSEP_USER) else {
        die(&format!("User '{PRIVSEP_USER}' not found"));
    };
    if privsep.uid == 0 {
        // Checked at build time by name; an account with that name but uid 0 would run the
        // network side with full privileges.
        die(&format!(
            "User '{PRIVSEP_USER}' has uid 0: refusing to run the Duo check as root"
        ));
    }
    let (ruid, rgid) = real_ids();
    // SAFETY: this program has started no threads yet, so the child is a full copy that may
    // run any code. Both sides are handled below.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        die(&format!(
            "fork: {}",
            duo::config::strerror(&io::Error::last_os_error())
        ));
    }
    if pid == 0 {
        let groups = (ruid != privsep.uid).then_some([privsep.gid as libc::gid_t]);
        if let Err(e) = drop_to(privsep.uid, privsep.gid, groups.as_ref().map(|g| &g[..])) {
            die(&format!(
                "couldn't drop privileges: {}",
                duo::config::strerror(&e)
            ));
        }
        let code = auth();
        std::process::exit(code);
    }
    // Supplementary groups are left as inherited: they are already the caller's.
    if let Err(e) = drop_to(ruid, rgid, None) {
        die(&format!(
            "couldn't drop privileges: {}",
            duo::config::strerror(&e)
        ));
    }
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid, writable local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            die(&format!("waitpid: {}", duo::config::strerror(&e)));
        }
    }
    if libc::WIFSIGNALED(status) {
        die(&format!(
            "unprivileged process terminated by signal: {}",
            libc::WTERMSIG(status)
        ));
    }
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}
