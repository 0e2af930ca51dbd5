//! Running the user's shell or command after approval (SPEC §7.4).

use std::ffi::CString;

use crate::die;

/// Where the command comes from when none is given on the command line.
pub const ORIGINAL_COMMAND: &str = "SSH_ORIGINAL_COMMAND";

/// Exec the real user's shell: `shell -c command`, or a login shell. Never returns.
pub fn exec_shell(command: Option<&str>) -> ! {
    // SAFETY: single-threaded here (the parent after fork, or the only process); no other code
    // reads or writes the environment concurrently.
    unsafe { std::env::remove_var("DUO_PASSCODE") };
    let (uid, _) = crate::privsep::real_ids();
    let Some(account) = duo::account::by_uid(uid) else {
        die("Who are you?");
    };
    let shell = match account.shell.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "/bin/sh".to_string(),
    };
    let base = shell.rsplit('/').next().unwrap_or(&shell).to_string();
    let argv: Vec<String> = match command {
        Some(c) => vec![base, "-c".into(), c.into()],
        None => {
            let login = format!("-{base}");
            if login.len() > 255 {
                die(&format!("{shell}: Invalid argument"));
            }
            vec![login]
        }
    };
    let Ok(path) = CString::new(shell.as_str()) else {
        die(&format!("{shell}: Invalid argument"));
    };
    let Ok(cargs) = argv
        .into_iter()
        .map(CString::new)
        .collect::<Result<Vec<_>, _>>()
    else {
        die("error converting arguments to command");
    };
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: the Rust runtime ignores SIGPIPE at start-up; the program we exec must get the
    // default disposition back (a regression test in the reference). Then execv receives a
    // valid path and a NULL-terminated array of valid strings that outlive the call.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::execv(path.as_ptr(), ptrs.as_ptr());
    }
    let e = std::io::Error::last_os_error();
    die(&format!("{shell}: {}", duo::config::strerror(&e)));
}
