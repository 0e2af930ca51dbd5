//! `duo-check`: tells a sysadmin whether Duo Unix will work on this host, and what to fix.
//!
//! Nine checks, each reported as ok, warning or error with one line of finding and one line
//! of fix: the configuration files, the network path to Duo, TLS, the clock, the credentials,
//! the PAM stacks, sshd, login_duo and SELinux. Exit status: 0 all ok, 1 warnings only, 2 any
//! error (or a usage error). The network steps are bounded by `https_timeout` each (30 s when
//! unset); the secret key is never printed.

#![forbid(unsafe_code)]

mod cmd;
mod conf;
mod der;
mod login;
mod net;
mod pam;
mod report;
#[cfg(test)]
mod scratch;
mod selinux;
mod sshd;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use duo::config::{Config, Frontend};

use report::{Check, Level, Report};

const USAGE: &str = "usage: duo-check [--conf PATH]... [--root DIR] [--json | --quiet]

Checks whether Duo Unix (pam_duo, login_duo) will work on this host and says what to fix.
Run it as root.

  --conf PATH   check this configuration file (repeatable; a name containing \"login_duo\"
                is read as login_duo's). Default: /etc/duo/pam_duo.conf,
                /etc/duo/login_duo.conf and every conf= of the PAM stacks
  --root DIR    read the PAM and sshd files (and the module and login_duo they name) under
                DIR instead of /
  --json        print the findings as JSON
  --quiet       print nothing; the exit status says it all
  --version     print the version

Exit status: 0 everything ok, 1 warnings only, 2 any error.";

/// Default configuration files.
const PAM_CONF: &str = "/etc/duo/pam_duo.conf";
const LOGIN_CONF: &str = "/etc/duo/login_duo.conf";

#[derive(Debug, PartialEq)]
enum Output {
    Table,
    Json,
    Quiet,
}

#[derive(Debug)]
struct Args {
    confs: Vec<PathBuf>,
    root: PathBuf,
    output: Output,
}

/// Parse the command line; `Ok(None)` when help or the version was printed.
fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        confs: Vec::new(),
        root: PathBuf::from("/"),
        output: Output::Table,
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "--conf" => a.confs.push(PathBuf::from(value("--conf")?)),
            "--root" => a.root = PathBuf::from(value("--root")?),
            "--json" => a.output = Output::Json,
            "--quiet" | "-q" => a.output = Output::Quiet,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--version" | "-V" => {
                if duo::crypto::FIPS_BUILD {
                    println!(
                        "duo-check {} ({})",
                        duo::VERSION,
                        duo::crypto::module().describe()
                    );
                    return Ok(None);
                }
                println!("duo-check {}", duo::VERSION);
                return Ok(None);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if !a.root.is_dir() {
        return Err(format!("--root {}: not a directory", a.root.display()));
    }
    Ok(Some(a))
}

fn main() {
    let code = match std::panic::catch_unwind(run) {
        Ok(c) => c,
        Err(_) => {
            eprintln!("duo-check: internal error; please report it");
            2
        }
    };
    std::process::exit(code);
}

fn run() -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("duo-check: {e}\n{USAGE}");
            return 2;
        }
    };
    let report = diagnose(&args);
    let mut out = std::io::stdout().lock();
    let _ = match args.output {
        Output::Quiet => Ok(()),
        Output::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        ),
        Output::Table => write!(out, "{}", report.to_table(std::io::stdout().is_terminal())),
    };
    let _ = out.flush();
    report.worst().exit_code()
}

/// Two configurations that reach Duo the same way and with the same keys are checked once.
fn same_target(a: &Config, b: &Config) -> bool {
    a.host == b.host
        && a.ikey == b.ikey
        && a.skey == b.skey
        && a.cafile == b.cafile
        && a.http_proxy == b.http_proxy
        && a.noverify == b.noverify
        && a.https_timeout == b.https_timeout
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Run every check.
fn diagnose(a: &Args) -> Report {
    let mut r = Report::default();
    let root = a.root.as_path();

    let sshd = sshd::gather(root);
    let forced = sshd.forced_login_duo().map(str::to_string);
    let methods = sshd.get("authenticationmethods");
    let sshd_use = pam::SshdUse {
        pam_kbdint: sshd.present
            && sshd.config.exists()
            && sshd.get("usepam") == "yes"
            && (sshd.get("kbdinteractiveauthentication") == "yes"
                || methods.contains("keyboard-interactive")),
        forced_login_duo: forced.is_some(),
    };
    let facts = pam::check(&mut r, root, &sshd_use);

    // The configuration files.
    let mut confs: Vec<(PathBuf, conf::Missing)> = Vec::new();
    if a.confs.is_empty() {
        confs.push((
            PathBuf::from(PAM_CONF),
            if facts.default_conf_used {
                conf::Missing {
                    level: Level::Error,
                    why: "a PAM stack uses pam_duo.so with it: every login through it is denied"
                        .into(),
                }
            } else {
                conf::Missing {
                    level: Level::Ok,
                    why: "no PAM stack uses pam_duo.so with it".into(),
                }
            },
        ));
        for c in &facts.conf_paths {
            let p = login::under(root, c);
            if p.exists() && !confs.iter().any(|(q, _)| *q == p) {
                confs.push((
                    p,
                    conf::Missing {
                        level: Level::Error,
                        why: "named by conf=".into(),
                    },
                ));
            }
        }
        confs.push((
            PathBuf::from(LOGIN_CONF),
            if forced.is_some() {
                conf::Missing {
                    level: Level::Error,
                    why: "sshd's ForceCommand runs login_duo: every SSH login is denied".into(),
                }
            } else {
                conf::Missing {
                    level: Level::Ok,
                    why: "login_duo is not used by sshd".into(),
                }
            },
        ));
    } else {
        for c in &a.confs {
            confs.push((
                c.clone(),
                conf::Missing {
                    level: Level::Error,
                    why: "named with --conf".into(),
                },
            ));
        }
    }
    let mut loaded: Vec<(Vec<String>, Config)> = Vec::new();
    // pam_duo's sshd_messages, from the first module config that loads.
    let mut messages = None;
    for (path, missing) in &confs {
        let frontend = conf::frontend_of(path);
        if let Some(cfg) = conf::check(&mut r, path, frontend, login::PRIVSEP_USER, missing.clone())
        {
            if frontend == Frontend::Pam && messages.is_none() {
                messages = Some(cfg.sshd_messages);
            }
            match loaded.iter_mut().find(|(_, c)| same_target(c, &cfg)) {
                Some((names, _)) => names.push(file_name(path)),
                None => loaded.push((vec![file_name(path)], cfg)),
            }
        }
    }
    if !r.has(Check::Config) {
        r.ok(
            Check::Config,
            "configuration",
            "no configuration file to check",
        );
    }

    // The network checks, once per distinct API host and keys.
    if loaded.is_empty() {
        let none_exist = confs.iter().all(|(p, _)| !p.exists());
        for c in [Check::Network, Check::Tls, Check::Clock, Check::Credentials] {
            r.add(
                c,
                Level::Warning,
                "Duo",
                if none_exist {
                    "not checked: no configuration file exists"
                } else {
                    "not checked: no configuration file could be used"
                },
                if none_exist {
                    "put the keys of your Duo integration in /etc/duo/pam_duo.conf or /etc/duo/login_duo.conf (or name a file with --conf)"
                } else {
                    "fix the config errors first"
                },
            );
        }
    }
    for (names, cfg) in &loaded {
        let subject = format!("{} ({})", cfg.host.as_str(), names.join(", "));
        net::check(&mut r, &subject, &names.join(" and "), cfg);
        outage_window(&mut r, &subject, cfg);
    }

    // sshd, login_duo, SELinux.
    let forced_problem = forced.as_deref().and_then(|f| {
        let p = login::under(root, f);
        if p.exists() {
            login::binary_problem(&p)
        } else {
            Some("does not exist".into())
        }
    });
    sshd::check(&mut r, &sshd, facts.sshd_has_duo, forced_problem, messages);
    let login_conf = confs
        .iter()
        .map(|(p, _)| p)
        .find(|p| conf::frontend_of(p) == Frontend::Login)
        .cloned()
        .unwrap_or_else(|| PathBuf::from(LOGIN_CONF));
    login::check(&mut r, root, forced.as_deref(), &login_conf);
    selinux::check(&mut r);
    for c in Check::ALL {
        if !r.has(c) {
            r.ok(c, c.name(), "nothing to check");
        }
    }
    r
}

/// Whether the outage window (docs/BEHAVIOUR.md §8.1) of `cfg` is open now, for the state
/// that pam_duo (root) or login_duo (its privilege-separation user) keeps. Read-only.
fn outage_window(r: &mut Report, subject: &str, cfg: &Config) {
    let subject = format!("{subject}: outage window");
    if cfg.outage_window == 0 {
        r.ok(Check::Network, subject, "off (outage_window = 0)");
        return;
    }
    let mut owners = vec![duo::sys::Uid::ROOT];
    owners.extend(duo::user::account::by_name(login::PRIVSEP_USER).map(|a| a.uid));
    let open = owners
        .iter()
        .find_map(|&o| duo::flow::outage::status_of(cfg, o));
    match open {
        None => r.ok(
            Check::Network,
            subject,
            format!(
                "closed: logins ask Duo (outage_window = {} s)",
                cfg.outage_window
            ),
        ),
        Some(st) => r.add(
            Check::Network,
            Level::Warning,
            subject,
            format!(
                "OPEN: Duo unreachable since {}; logins get the failmode verdict without asking Duo until {} (next probe at {})",
                duo::api::timefmt::rfc3339(st.since),
                duo::api::timefmt::rfc3339(st.until),
                duo::api::timefmt::rfc3339(st.next_probe)
            ),
            "restore the path to Duo (see the network rows); the next login that probes and reaches Duo closes the window",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn command_line() {
        let a = args(&["--conf", "/a", "--conf=/b", "--json", "--root", "/"])
            .unwrap()
            .unwrap();
        assert_eq!(a.confs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(a.output, Output::Json);
        assert_eq!(args(&["-q"]).unwrap().unwrap().output, Output::Quiet);
        assert!(args(&["--conf"]).is_err());
        assert!(args(&["--conf="]).is_err());
        assert!(args(&["--bogus"]).is_err());
        assert!(args(&["--root", "/nonexistent/dir"]).is_err());
    }
}
