//! login_duo: root-owned and setuid, its privilege-separation user present, and its config
//! readable by that user (the setuid helper reads it after dropping to that user).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::report::{Check, Level, Report};

/// The privilege-separation user, fixed at build time as in login_duo (`DUO_PRIVSEP_USER`).
pub const PRIVSEP_USER: &str = match option_env!("DUO_PRIVSEP_USER") {
    Some(u) => u,
    None => "sshd",
};

/// Where login_duo is looked for when no ForceCommand names it.
const INSTALLED: [&str; 2] = ["/usr/sbin/login_duo", "/usr/local/sbin/login_duo"];

/// `path` under `root`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// What is wrong with a login_duo binary, if anything: it must be a root-owned setuid file
/// that only root can change.
pub fn binary_problem(path: &Path) -> Option<String> {
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot be read ({})", duo::sys::strerror(&e))),
    };
    let mode = m.mode() & 0o7777;
    if !m.is_file() {
        return Some("is not a regular file".into());
    }
    if m.uid() != 0 {
        let owner = duo::user::account::by_uid(duo::sys::Uid(m.uid()))
            .map_or_else(|| format!("uid {}", m.uid()), |a| a.name);
        return Some(format!("is owned by {owner}, not root (mode {mode:04o})"));
    }
    if mode & 0o4000 == 0 {
        return Some(format!("is not setuid (mode {mode:04o})"));
    }
    if mode & 0o022 != 0 {
        return Some(format!("is writable by group or others (mode {mode:04o})"));
    }
    None
}

/// Permission bits that apply to `uid`/`gid` on `m` (root gets everything).
fn bits_for(m: &std::fs::Metadata, uid: u32, gid: u32) -> u32 {
    let mode = m.mode();
    if uid == 0 {
        7
    } else if m.uid() == uid {
        (mode >> 6) & 7
    } else if m.gid() == gid {
        (mode >> 3) & 7
    } else {
        mode & 7
    }
}

/// Why `uid`/`gid` cannot read `path` (every directory on the way searchable, the file
/// readable), or `None` when it can.
fn unreadable_by(path: &Path, uid: u32, gid: u32) -> Option<String> {
    for dir in path.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        match std::fs::metadata(dir) {
            Ok(m) if bits_for(&m, uid, gid) & 1 == 0 => {
                return Some(format!(
                    "cannot enter {} (mode {:04o})",
                    dir.display(),
                    m.mode() & 0o7777
                ))
            }
            Ok(_) => {}
            Err(e) => return Some(format!("{}: {}", dir.display(), duo::sys::strerror(&e))),
        }
    }
    match std::fs::metadata(path) {
        Ok(m) if bits_for(&m, uid, gid) & 4 == 0 => {
            let owner = duo::user::account::by_uid(duo::sys::Uid(m.uid()))
                .map_or_else(|| format!("uid {}", m.uid()), |a| a.name);
            Some(format!(
                "cannot read it (owner {owner}, mode {:04o})",
                m.mode() & 0o7777
            ))
        }
        Ok(_) => None,
        Err(e) => Some(duo::sys::strerror(&e)),
    }
}

/// The login_duo check. `forced` is sshd's ForceCommand program when it is login_duo;
/// `conf` is the login_duo config being checked.
pub fn check(report: &mut Report, root: &Path, forced: Option<&str>, conf: &Path) {
    let (shown, path) = match forced {
        Some(f) => (f.to_string(), under(root, f)),
        None => match INSTALLED.iter().find(|p| under(root, p).exists()) {
            Some(p) => (p.to_string(), under(root, p)),
            None => {
                report.ok(
                    Check::LoginDuo,
                    "login_duo",
                    "not installed and not named by a ForceCommand: nothing to check",
                );
                return;
            }
        },
    };
    if !path.exists() {
        report.add(
            Check::LoginDuo,
            Level::Error,
            &shown,
            "sshd's ForceCommand runs it, but it does not exist: every SSH login fails",
            "install the package (or make install), or correct ForceCommand",
        );
        return;
    }
    let setuid = match binary_problem(&path) {
        Some(p) => {
            report.add(
                Check::LoginDuo,
                Level::Error,
                &shown,
                format!("{p}: run by a user it cannot read its config as the privsep user, so every login through it is denied"),
                format!("chown root:root {shown} && chmod 4755 {shown}"),
            );
            false
        }
        None => {
            report.ok(Check::LoginDuo, &shown, "owner root, setuid");
            true
        }
    };
    let Some(acct) = duo::user::account::by_name(PRIVSEP_USER) else {
        report.add(
            Check::LoginDuo,
            Level::Error,
            &shown,
            format!("the privilege-separation user '{PRIVSEP_USER}' does not exist: login_duo denies every login (\"User '{PRIVSEP_USER}' not found\")"),
            format!("install openssh-server, which creates it, or create a system user: useradd -r -M -s /usr/sbin/nologin {PRIVSEP_USER}"),
        );
        return;
    };
    report.ok(
        Check::LoginDuo,
        &shown,
        format!(
            "privilege-separation user '{PRIVSEP_USER}' exists (uid {})",
            acct.uid
        ),
    );
    if !conf.exists() {
        // The config check already says it is missing.
        return;
    }
    match unreadable_by(conf, acct.uid.0, acct.gid.0) {
        Some(why) if setuid => report.add(
            Check::LoginDuo,
            Level::Error,
            &shown,
            format!("'{PRIVSEP_USER}' {why} for {}: the setuid login_duo reads its config as '{PRIVSEP_USER}', so every login is denied", conf.display()),
            format!("chown {PRIVSEP_USER} {} (keep mode 0600)", conf.display()),
        ),
        Some(why) => report.add(
            Check::LoginDuo,
            Level::Warning,
            &shown,
            format!("'{PRIVSEP_USER}' {why} for {}", conf.display()),
            format!("chown {PRIVSEP_USER} {} (keep mode 0600)", conf.display()),
        ),
        None => report.ok(
            Check::LoginDuo,
            &shown,
            format!("'{PRIVSEP_USER}' can read {}", conf.display()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_and_owners() {
        let dir = std::env::temp_dir().join(format!("duo-check-login-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let f = dir.join("login_duo");
        std::fs::write(&f, b"x").unwrap();
        let set = |m| std::fs::set_permissions(&f, std::fs::Permissions::from_mode(m)).unwrap();
        let root = duo::sys::effective_uid().is_root();
        set(0o755);
        if root {
            assert_eq!(binary_problem(&f).unwrap(), "is not setuid (mode 0755)");
            set(0o4755);
            assert_eq!(binary_problem(&f), None);
            set(0o4777);
            assert!(binary_problem(&f).unwrap().contains("writable"));
        }
        assert!(binary_problem(&dir.join("none")).is_some());
        set(0o600);
        assert_eq!(unreadable_by(&f, 0, 0), None, "root reads anything");
        let owner = std::fs::metadata(&f).unwrap().uid();
        if owner != 4242 {
            assert!(unreadable_by(&f, 4242, 4242)
                .unwrap()
                .starts_with("cannot read it"));
        }
        assert_eq!(unreadable_by(&f, owner, 4242), None);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        if owner != 4242 && std::fs::metadata(&dir).unwrap().uid() != 4242 {
            set(0o604);
            assert!(unreadable_by(&f, 4242, 4242)
                .unwrap()
                .starts_with("cannot enter"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
