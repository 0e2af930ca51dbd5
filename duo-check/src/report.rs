//! Findings and how they are shown: a table for people, JSON for tools, or nothing.

use serde_json::{json, Value};

/// How bad a finding is. Ordered: the worst finding decides the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing to do.
    Ok,
    /// Works, but something is risky or could not be checked.
    Warning,
    /// Duo will not work as intended here.
    Error,
}

impl Level {
    /// The word shown and put in the JSON.
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    /// Exit status when this is the worst finding: 0, 1 or 2.
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Error => 2,
        }
    }
}

/// The nine checks, in the order they are run and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// The configuration files.
    Config,
    /// Name lookup, TCP, proxy.
    Network,
    /// Certificate chain, name, version, expiry.
    Tls,
    /// The server's time against ours.
    Clock,
    /// A signed `/auth/v2/check` call.
    Credentials,
    /// The PAM stacks.
    Pam,
    /// sshd's settings.
    Sshd,
    /// The setuid helper.
    LoginDuo,
    /// SELinux.
    Selinux,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 9] = [
        Check::Config,
        Check::Network,
        Check::Tls,
        Check::Clock,
        Check::Credentials,
        Check::Pam,
        Check::Sshd,
        Check::LoginDuo,
        Check::Selinux,
    ];

    /// The name shown and put in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Check::Config => "config",
            Check::Network => "network",
            Check::Tls => "tls",
            Check::Clock => "clock",
            Check::Credentials => "credentials",
            Check::Pam => "pam",
            Check::Sshd => "sshd",
            Check::LoginDuo => "login_duo",
            Check::Selinux => "selinux",
        }
    }
}

/// One line of the report: what was looked at, what was found and what to do about it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// What it is about: a file, a host, a PAM service.
    pub subject: String,
    /// How bad.
    pub level: Level,
    /// One line: what was found.
    pub finding: String,
    /// One line: what to change (may be empty when there is nothing to do).
    pub fix: String,
}

/// Text from files, servers and the system made safe and kept to one line.
pub fn one_line(s: &str) -> String {
    duo::sanitize::sanitize(s)
        .replace(['\n', '\t'], " ")
        .trim()
        .to_string()
}

/// Every finding of a run.
#[derive(Debug, Default)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    /// Add a finding.
    pub fn add(
        &mut self,
        check: Check,
        level: Level,
        subject: impl AsRef<str>,
        finding: impl AsRef<str>,
        fix: impl AsRef<str>,
    ) {
        self.findings.push(Finding {
            check,
            subject: one_line(subject.as_ref()),
            level,
            finding: one_line(finding.as_ref()),
            fix: one_line(fix.as_ref()),
        });
    }

    /// An ok finding with nothing to fix.
    pub fn ok(&mut self, check: Check, subject: impl AsRef<str>, finding: impl AsRef<str>) {
        self.add(check, Level::Ok, subject, finding, "");
    }

    /// The findings, ordered by check (stable within one check).
    pub fn findings(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self.findings.iter().collect();
        v.sort_by_key(|f| f.check);
        v
    }

    /// The worst level found (ok when empty).
    pub fn worst(&self) -> Level {
        self.findings
            .iter()
            .map(|f| f.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// Whether any finding belongs to `check`.
    pub fn has(&self, check: Check) -> bool {
        self.findings.iter().any(|f| f.check == check)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let worst = self.worst();
        let checks: Vec<Value> = self
            .findings()
            .into_iter()
            .map(|f| {
                json!({
                    "check": f.check.name(),
                    "subject": f.subject,
                    "status": f.level.word(),
                    "finding": f.finding,
                    "fix": f.fix,
                })
            })
            .collect();
        let m = duo::crypto::module();
        json!({
            "version": duo::VERSION,
            "status": worst.word(),
            "exit": worst.exit_code(),
            "crypto": {
                "module": m.version,
                "build": if m.fips_build { "fips" } else { "default" },
                "fips_mode": m.fips_mode.is_ok(),
                "self_test": match duo::crypto::self_test() {
                    Ok(()) => "passed".to_string(),
                    Err(e) => e,
                },
                "summary": m.describe(),
            },
            "checks": checks,
        })
    }

    /// The report as a table, with colour when `colour` is set.
    pub fn to_table(&self, colour: bool) -> String {
        let paint = |level: Level| -> String {
            let word = format!("{:<7}", level.word());
            if !colour {
                return word;
            }
            let code = match level {
                Level::Ok => "32",
                Level::Warning => "33",
                Level::Error => "1;31",
            };
            format!("\x1b[{code}m{word}\x1b[0m")
        };
        let mut out = String::new();
        let indent = " ".repeat(7 + 1 + 12 + 1);
        for f in self.findings() {
            out.push_str(&format!(
                "{} {:<12} {}: {}\n",
                paint(f.level),
                f.check.name(),
                f.subject,
                f.finding
            ));
            if f.level != Level::Ok && !f.fix.is_empty() {
                out.push_str(&format!("{indent}fix: {}\n", f.fix));
            }
        }
        let count = |l: Level| self.findings.iter().filter(|f| f.level == l).count();
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        out.push_str(&format!(
            "\n{}, {}, {} ok: {}\n",
            plural(count(Level::Error), "error"),
            plural(count(Level::Warning), "warning"),
            count(Level::Ok),
            match self.worst() {
                Level::Ok => "Duo should work on this host",
                Level::Warning => "Duo should work; review the warnings",
                Level::Error => "Duo will not work as intended until the errors are fixed",
            }
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_level_decides_exit_and_rows_are_ordered() {
        let mut r = Report::default();
        assert_eq!(r.worst().exit_code(), 0);
        r.ok(Check::Selinux, "selinux", "not present");
        r.add(Check::Config, Level::Warning, "f", "w", "do x");
        assert_eq!(r.worst().exit_code(), 1);
        r.add(
            Check::Clock,
            Level::Error,
            "h",
            "off\nby\t600 s\x1b[2J",
            "set it",
        );
        assert_eq!(r.worst().exit_code(), 2);
        let names: Vec<&str> = r.findings().iter().map(|f| f.check.name()).collect();
        assert_eq!(names, ["config", "clock", "selinux"]);
        let j = r.to_json();
        assert_eq!(j["exit"], 2);
        assert_eq!(j["status"], "error");
        assert_eq!(j["checks"][1]["finding"], "off by 600 s?[2J");
        let t = r.to_table(false);
        assert!(
            t.contains("error   clock        h: off by 600 s?[2J\n"),
            "{t}"
        );
        assert!(t.contains("fix: set it"));
        assert!(!t.contains('\x1b'));
        assert!(t.contains("1 error, 1 warning, 1 ok"));
        assert!(r.to_table(true).contains("\x1b[1;31merror"));
    }
}
