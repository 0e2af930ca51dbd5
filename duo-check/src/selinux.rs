//! SELinux, where present: its mode, whether the project's policy module `duo_unix` is loaded,
//! and the denial a confined sshd or sudo meets without it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::report::{Check, Level, Report};

/// Bound of `semodule -l`, which can take a few seconds on a large policy.
const SEMODULE_LIMIT: Duration = Duration::from_secs(30);

const FIX: &str = "load the policy module: cd /usr/share/selinux/devel/duo_unix && make -f /usr/share/selinux/devel/Makefile duo_unix.pp && semodule -i duo_unix.pp && restorecon -Rv /etc/duo";

/// The SELinux check (always the host's, whatever `--root` says).
pub fn check(report: &mut Report) {
    let subject = "selinux";
    let fs = Path::new("/sys/fs/selinux");
    if !fs.join("enforce").exists() {
        report.ok(
            Check::Selinux,
            subject,
            "SELinux is not present (no /sys/fs/selinux): ok",
        );
        return;
    }
    let enforcing = match std::fs::read_to_string(fs.join("enforce")) {
        Ok(s) => s.trim() == "1",
        Err(_) => crate::cmd::run(Command::new("getenforce"), Duration::from_secs(10))
            .map(|o| o.stdout.trim() == "Enforcing")
            .unwrap_or(false),
    };
    let mode = if enforcing { "enforcing" } else { "permissive" };
    let mut cmd = Command::new("semodule");
    cmd.arg("-l");
    let loaded = match crate::cmd::run(cmd, SEMODULE_LIMIT) {
        Ok(o) if o.success => o
            .stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some("duo_unix")),
        Ok(o) => {
            report.add(
                Check::Selinux,
                Level::Warning,
                subject,
                format!(
                    "SELinux is {mode}; `semodule -l` failed: {}",
                    crate::report::one_line(&o.stderr)
                ),
                "run duo-check as root; check with semodule -l | grep duo_unix",
            );
            return;
        }
        Err(e) => {
            report.add(
                Check::Selinux,
                Level::Warning,
                subject,
                format!("SELinux is {mode}; `semodule -l` could not be run: {e}"),
                "install policycoreutils; check with semodule -l | grep duo_unix",
            );
            return;
        }
    };
    let denial = "sshd, sshd-session and sudo run confined and are denied connecting to Duo (avc: denied { name_connect } ... scontext=system_u:system_r:sshd_t ... tcontext=system_u:object_r:http_port_t tclass=tcp_socket), so logins through pam_duo fail to reach Duo and failmode decides";
    match (loaded, enforcing) {
        (true, _) => report.ok(
            Check::Selinux,
            subject,
            format!("SELinux is {mode}; the duo_unix policy module is loaded"),
        ),
        (false, true) => report.add(
            Check::Selinux,
            Level::Error,
            subject,
            format!("SELinux is enforcing without the duo_unix policy module: {denial}"),
            FIX,
        ),
        (false, false) => report.add(
            Check::Selinux,
            Level::Warning,
            subject,
            "SELinux is permissive without the duo_unix policy module: the denials are only logged now (ausearch -m avc -ts recent) and will block Duo once it is enforcing",
            FIX,
        ),
    }
}
