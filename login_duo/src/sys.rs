//! Every C library call of `login_duo`, each behind a safe function: process ids and
//! credentials, fork and wait, reading the terminal, and exec.
//!
//! This is the only module of the program allowed to contain `unsafe` code; every `unsafe`
//! block says why it is sound.

use std::ffi::CString;
use std::io;

pub use duo::sys::{effective_uid, real_gid, real_uid, Gid, Uid};

/// Drop every privilege to `uid`/`gid`. When `groups` is given the supplementary group list is
/// set to exactly it first. The result is checked, real and effective ids alike.
pub fn drop_to(uid: Uid, gid: Gid, groups: Option<&[Gid]>) -> io::Result<()> {
    if let Some(g) = groups {
        let raw: Vec<libc::gid_t> = g.iter().map(|g| g.0).collect();
        // SAFETY: the pointer and length describe a valid slice of gid_t.
        if unsafe { libc::setgroups(raw.len(), raw.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: plain system calls with integer arguments. With euid 0 they set the real,
    // effective and saved ids, so the change cannot be undone.
    unsafe {
        if libc::setgid(gid.0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setuid(uid.0) != 0 {
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
    if now != (uid.0, uid.0, gid.0, gid.0) {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(())
}

/// Make this process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`) and check that it is: no
/// core dump, `/proc/<pid>` owned by root, and no `ptrace` by processes of the same user
/// (docs/BEHAVIOUR.md §10). Called right after each privilege drop of a setuid run, so that
/// the protection does not depend on the `fs.suid_dumpable` setting.
pub fn set_not_dumpable() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes plain integer arguments and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: PR_GET_DUMPABLE takes no pointer and returns the flag.
    match unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } {
        0 => Ok(()),
        -1 => Err(io::Error::last_os_error()),
        _ => Err(io::Error::from_raw_os_error(libc::EPERM)),
    }
}

/// Which side of a fork this is.
pub enum Forked {
    /// The parent, with the child's pid.
    Parent(libc::pid_t),
    /// The child.
    Child,
}

/// `fork()`.
///
/// # Safety
///
/// The process must have a single thread. After a fork with other threads running, the child
/// holds a copy of whatever locks they held (the allocator's, stdio's), so any allocation in
/// it may deadlock or corrupt memory. Use [`fork_single_threaded`], which checks this.
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller guarantees that no other thread is running (the function's
    // contract), so the child is a complete copy that may run any code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// [`fork`] after checking, in `/proc/self/status`, that this process has one thread; an
/// error (and no fork) otherwise. `login_duo` forks before it starts any thread (the lookup
/// threads start later, in the child).
pub fn fork_single_threaded() -> io::Result<Forked> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok());
    if threads != Some(1) {
        return Err(io::Error::other(format!(
            "refusing to fork with {} threads",
            threads.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
        )));
    }
    // SAFETY: the kernel just said this process has one thread, and nothing here starts one
    // between that look and the fork.
    unsafe { fork() }
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// Wait for the child `pid` to end, retrying on EINTR.
pub fn wait(pid: libc::pid_t) -> io::Result<Exit> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid, writable local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    if libc::WIFSIGNALED(status) {
        return Ok(Exit::Signal(libc::WTERMSIG(status)));
    }
    if libc::WIFEXITED(status) {
        return Ok(Exit::Code(libc::WEXITSTATUS(status)));
    }
    Ok(Exit::Code(-1))
}

/// Read one byte from fd 0: `Ok(None)` at end of input. Retries on EINTR.
pub fn read_stdin_byte() -> io::Result<Option<u8>> {
    loop {
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into a valid, writable local.
        let n = unsafe { libc::read(0, (&raw mut byte).cast(), 1) };
        match n {
            1 => return Ok(Some(byte)),
            0 => return Ok(None),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Give SIGPIPE its default disposition back and `execve(path, argv, envp)`. Returns only on
/// failure, with the error.
pub fn exec(path: &CString, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut args: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    args.push(std::ptr::null());
    let mut env: Vec<*const libc::c_char> = envp.iter().map(|c| c.as_ptr()).collect();
    env.push(std::ptr::null());
    // SAFETY: the Rust runtime ignores SIGPIPE at start-up; the program we exec must get the
    // default disposition back (a regression test in the reference). Then execve receives a
    // valid path and two NULL-terminated arrays of valid strings that outlive the call.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::execve(path.as_ptr(), args.as_ptr(), env.as_ptr());
    }
    io::Error::last_os_error()
}
