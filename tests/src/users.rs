//! Temporary local users for tests, removed when dropped.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A local account created with `useradd`, deleted (with its home) on drop.
pub struct TempUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

impl TempUser {
    /// Create a user named `<prefix><pid><n>` (at most 32 characters) with a home directory,
    /// `/bin/sh` as shell and the given GECOS field.
    pub fn create(prefix: &str, gecos: &str) -> TempUser {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut name = format!("{prefix}{}x{n}", std::process::id());
        name.truncate(32);
        let st = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-c", gecos, &name])
            .status()
            .expect("run useradd");
        assert!(st.success(), "useradd {name} failed");
        let out = Command::new("id")
            .args(["-u", &name])
            .output()
            .expect("id -u");
        let uid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("uid");
        let out = Command::new("id")
            .args(["-g", &name])
            .output()
            .expect("id -g");
        let gid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("gid");
        TempUser { name, uid, gid }
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .status();
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .output();
    }
}
