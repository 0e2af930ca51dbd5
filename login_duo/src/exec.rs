//! Running the user's shell or command after approval (docs/BEHAVIOUR.md §7.4).

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;

use crate::Exit1;

/// Where the command comes from when none is given on the command line.
pub const ORIGINAL_COMMAND: &str = "SSH_ORIGINAL_COMMAND";

/// The variable that may carry a passcode: never passed to the shell.
const PASSCODE: &str = "DUO_PASSCODE";

/// Exec the real user's shell: `shell -c command` (the command's bytes exactly as given), or a
/// login shell. The environment is this process's, without `DUO_PASSCODE`, built explicitly for
/// `execve` (the process environment is never modified). Returns only when it could not run
/// the shell, with the reason.
pub fn exec_shell(command: Option<&OsStr>) -> Exit1 {
    let (uid, _) = crate::privsep::real_ids();
    let Some(account) = duo::user::account::by_uid(uid) else {
        return Exit1("Who are you?".into());
    };
    let shell = match account.shell.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "/bin/sh".to_string(),
    };
    let base = shell.rsplit('/').next().unwrap_or(&shell).to_string();
    let argv: Vec<Vec<u8>> = match command {
        Some(c) => vec![base.into_bytes(), b"-c".to_vec(), c.as_bytes().to_vec()],
        None => {
            let login = format!("-{base}");
            if login.len() > 255 {
                return Exit1(format!("{shell}: Invalid argument"));
            }
            vec![login.into_bytes()]
        }
    };
    let Ok(path) = CString::new(shell.as_str()) else {
        return Exit1(format!("{shell}: Invalid argument"));
    };
    let Ok(cargs) = argv
        .into_iter()
        .map(CString::new)
        .collect::<Result<Vec<_>, _>>()
    else {
        return Exit1("error converting arguments to command".into());
    };
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != PASSCODE)
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let e = crate::sys::exec(&path, &cargs, &env);
    Exit1(format!("{shell}: {}", duo::sys::strerror(&e)))
}
