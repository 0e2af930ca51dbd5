//! One login run for the end-to-end tests: the built `login_duo`, or `pam_duo.so` through
//! `pamclient` and the real libpam, without a terminal, with a time limit, and what it did
//! ([`Login`]).
//!
//! ```text
//! let run = LoginDuo::new(&conf).user("alice").echo("RAN-x").run();
//! assert!(run.allowed, "{}", run.stderr);
//! let dir = pam_service(&confdir, "duo-x", &conf, "debug");
//! let run = PamClient::new(&dir, "duo-x", "root").run();
//! assert_eq!(run.pam_code, Some(PAM_SUCCESS));
//! ```

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::pam_codes::PAM_SUCCESS;
use crate::{built, pam_result, prefixed, run_captured};

/// The `PATH` a login runs with unless the test sets another.
pub const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The time limit of a run unless the test sets another.
pub const LIMIT: Duration = Duration::from_secs(60);

/// What one run did.
pub struct Login {
    /// Its exit status (after the kill, if it overran).
    pub status: ExitStatus,
    /// Its stdout, as text (invalid UTF-8 replaced).
    pub stdout: String,
    /// Its stderr, as text (invalid UTF-8 replaced).
    pub stderr: String,
    /// Time from spawn to exit.
    pub elapsed: Duration,
    /// Whether it overran its limit and was killed.
    pub killed: bool,
    /// `login_duo`: its command ran (the marker of [`LoginDuo::echo`] is on stdout; without
    /// a marker, it exited 0). `pamclient`: the PAM code is `PAM_SUCCESS`.
    pub allowed: bool,
    /// `pamclient` only: the code of its last `RESULT` line.
    pub pam_code: Option<i32>,
    /// `login_duo` with [`LoginDuo::echo`]: whether the marker is on stdout.
    pub ran: bool,
}

impl Login {
    /// The PAM code; panics, with both outputs, if `pamclient` printed none.
    pub fn code(&self) -> i32 {
        self.pam_code
            .unwrap_or_else(|| panic!("no RESULT line:\n{}\n{}", self.stdout, self.stderr))
    }

    /// Its exit code (`None` if a signal ended it).
    pub fn exit_code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Run any command line `cmd` as a login (stdin from /dev/null), for at most `limit`:
/// `allowed` is its exit status.
pub fn run(cmd: Command, limit: Duration) -> Login {
    capture(cmd, limit, |_| {})
}

/// Run `cmd`, after `hook` (e.g. a log sandbox), for at most `limit`.
fn capture(mut cmd: Command, limit: Duration, hook: impl FnOnce(&mut Command)) -> Login {
    hook(&mut cmd);
    let c = run_captured(cmd, limit);
    let stdout = String::from_utf8_lossy(&c.stdout).into_owned();
    Login {
        status: c.status,
        allowed: c.status.success(),
        stderr: String::from_utf8_lossy(&c.stderr).into_owned(),
        stdout,
        elapsed: c.elapsed,
        killed: c.killed,
        pam_code: None,
        ran: false,
    }
}

/// What a run of either program is given besides its own arguments.
struct Spawn {
    prefix: Vec<String>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    limit: Duration,
}

impl Spawn {
    fn new(args: Vec<OsString>) -> Spawn {
        Spawn {
            prefix: Vec::new(),
            args,
            env: Vec::new(),
            limit: LIMIT,
        }
    }

    /// `[prefix] <built bin>`, with only `PATH` and the variables set here when `clean`,
    /// else the inherited environment and those variables.
    fn cmd(&self, bin: &str, clean: bool) -> Command {
        let prefix: Vec<&str> = self.prefix.iter().map(String::as_str).collect();
        let mut cmd = prefixed(&prefix, &built(bin));
        if clean {
            cmd.env_clear().env("PATH", PATH);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// The setters both builders share.
macro_rules! spawn_setters {
    ($t:ident) => {
        impl $t {
            /// More arguments (for `login_duo`, before `--`).
            pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> $t {
                self.spawn
                    .args
                    .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
                self
            }

            /// An environment variable (`login_duo`: besides `PATH`, which it may replace;
            /// `pamclient`: besides the inherited environment).
            pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> $t {
                self.spawn
                    .env
                    .push((key.into(), value.as_ref().to_os_string()));
                self
            }

            /// Run it through `prefix` (e.g. `prlimit ...`), which must exec it.
            pub fn prefix(mut self, prefix: &[&str]) -> $t {
                self.spawn.prefix = prefix.iter().map(|p| p.to_string()).collect();
                self
            }

            /// Kill it after `limit` ([`LIMIT`] unless set).
            pub fn limit(mut self, limit: Duration) -> $t {
                self.spawn.limit = limit;
                self
            }
        }
    };
}

/// A `login_duo` run: `[prefix] login_duo [-d] [-c conf] [args] [-- command]` with an
/// environment of `PATH` and the variables set here only. Debug mode (`-d`) is on unless
/// turned off.
pub struct LoginDuo {
    spawn: Spawn,
    debug: bool,
    conf: Option<PathBuf>,
    command: Vec<OsString>,
    marker: Option<String>,
}

spawn_setters!(LoginDuo);

impl LoginDuo {
    /// `login_duo -d -c <conf>`.
    pub fn new(conf: &Path) -> LoginDuo {
        LoginDuo {
            conf: Some(conf.to_path_buf()),
            ..LoginDuo::bare()
        }
    }

    /// `login_duo -d` with no `-c`.
    pub fn bare() -> LoginDuo {
        LoginDuo {
            spawn: Spawn::new(Vec::new()),
            debug: true,
            conf: None,
            command: Vec::new(),
            marker: None,
        }
    }

    /// Debug mode (`-d`) on or off.
    pub fn debug(mut self, on: bool) -> LoginDuo {
        self.debug = on;
        self
    }

    /// `-f <user>`: the Duo username (root only).
    pub fn user(self, user: &str) -> LoginDuo {
        self.args(["-f", user])
    }

    /// `-- echo <marker>`: the command, whose output tells that it ran.
    pub fn echo(mut self, marker: &str) -> LoginDuo {
        self.command = vec!["echo".into(), marker.into()];
        self.marker = Some(marker.to_string());
        self
    }

    /// `-- <command...>` (replaces [`LoginDuo::echo`]).
    pub fn command<S: AsRef<OsStr>>(mut self, words: impl IntoIterator<Item = S>) -> LoginDuo {
        self.command = words
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        self.marker = None;
        self
    }

    /// The command line, to run some other way (on a pseudo-terminal, in a namespace).
    pub fn cmd(&self) -> Command {
        let mut cmd = self.spawn.cmd("login_duo", true);
        if self.debug {
            cmd.arg("-d");
        }
        if let Some(conf) = &self.conf {
            cmd.arg("-c").arg(conf);
        }
        cmd.args(&self.spawn.args);
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        cmd
    }

    /// Run it without a terminal.
    pub fn run(&self) -> Login {
        self.run_with(|_| {})
    }

    /// Run it without a terminal, after `hook` changed the command (e.g. a log sandbox).
    pub fn run_with(&self, hook: impl FnOnce(&mut Command)) -> Login {
        let mut run = capture(self.cmd(), self.spawn.limit, hook);
        if let Some(m) = &self.marker {
            run.ran = run.stdout.contains(m.as_str());
            run.allowed = run.ran;
        }
        run
    }
}

/// Write the PAM service `service` into the directory `confdir` (made if missing): an `auth`
/// stack of the built `pam_duo.so` with `conf=<conf>` and `args`, and a permissive `account`
/// line. Returns `confdir`.
pub fn pam_service(confdir: &Path, service: &str, conf: &Path, args: &str) -> PathBuf {
    pam_service_with(confdir, service, &built("libpam_duo.so"), conf, args)
}

/// [`pam_service`] with the module at `module` (another build, or a copy of it).
pub fn pam_service_with(
    confdir: &Path,
    service: &str,
    module: &Path,
    conf: &Path,
    args: &str,
) -> PathBuf {
    std::fs::create_dir_all(confdir).expect("mkdir PAM service directory");
    let mut auth = format!("auth required {} conf={}", module.display(), conf.display());
    if !args.is_empty() {
        auth.push(' ');
        auth.push_str(args);
    }
    std::fs::write(
        confdir.join(service),
        format!("{auth}\naccount required pam_permit.so\n"),
    )
    .expect("write PAM service");
    confdir.to_path_buf()
}

/// A `pamclient` run: `[prefix] pamclient --confdir <dir> --service <s> --user <u>
/// [--rhost <r>] [--answer <a>]... [args]`, in the environment of the test plus the variables
/// set here.
pub struct PamClient {
    spawn: Spawn,
}

spawn_setters!(PamClient);

impl PamClient {
    /// `pam_authenticate` for `user` through the service `service` of `confdir`.
    pub fn new(confdir: &Path, service: &str, user: &str) -> PamClient {
        let mut args: Vec<OsString> = vec!["--confdir".into(), confdir.into()];
        args.extend(["--service", service, "--user", user].map(OsString::from));
        PamClient {
            spawn: Spawn::new(args),
        }
    }

    /// `PAM_RHOST`.
    pub fn rhost(self, rhost: impl AsRef<OsStr>) -> PamClient {
        self.args([OsStr::new("--rhost"), rhost.as_ref()])
    }

    /// Answers to the conversation's echo-on prompts, in order.
    pub fn answers(mut self, answers: &[&str]) -> PamClient {
        for a in answers {
            self = self.args(["--answer", a]);
        }
        self
    }

    /// The command line, to run some other way.
    pub fn cmd(&self) -> Command {
        let mut cmd = self.spawn.cmd("pamclient", false);
        cmd.args(&self.spawn.args);
        cmd
    }

    /// Run it.
    pub fn run(&self) -> Login {
        self.run_with(|_| {})
    }

    /// Run it after `hook` changed the command (e.g. a log sandbox).
    pub fn run_with(&self, hook: impl FnOnce(&mut Command)) -> Login {
        let mut run = capture(self.cmd(), self.spawn.limit, hook);
        run.pam_code = pam_result(run.stdout.as_bytes());
        run.allowed = run.pam_code == Some(PAM_SUCCESS);
        run
    }
}

/// The module at `module` in a host that loads and unloads it 1,100 times: pam_start (libpam
/// loads it) / pam_authenticate (TLS and HMAC against `mock`, as `user`) / pam_end (libpam
/// unloads it), a third on the main thread, a third with the login on a thread that exits
/// before the unload, a third on a thread that exits after it. It runs a copy without
/// NODELETE, so each pam_end really unmaps it and each pam_start maps it anew (AWS-LC creates
/// a thread-local key per load). Asserts: every cycle succeeds the same way and asks Duo with a
/// good signature; no crash, no abort; descriptors and threads flat; RSS bounded (by one page a
/// load, see below); the module unmapped at the end. `label` names the build in the summary.
pub fn assert_survives_unloads(mock: &crate::Mock, module: &Path, user: &str, label: &str) {
    let copy = mock.dir.join("libpam_duo-unloadable.so");
    assert!(
        crate::copy_without_nodelete(module, &copy),
        "the built module carries NODELETE"
    );
    let conf = crate::mock_conf(mock, "duo-unload.conf", "send_gecos = yes");
    let confdir = pam_service_with(&mock.dir.join("pam.d"), "duo-unload", &copy, &conf, "");
    let started = std::time::Instant::now();
    // A few ms a cycle for the default build; the FIPS build's module runs its power-on
    // self-test at every load (tens of ms), hence the limit.
    let run = PamClient::new(&confdir, "duo-unload", user)
        .args(["--cycles", "1100", "--threads", "--stats"])
        .limit(Duration::from_secs(150))
        .run();
    let out = &run.stdout;
    assert_eq!(run.pam_code, Some(PAM_SUCCESS), "{out}\n{}", run.stderr);
    assert!(!out.contains("CHANGED"), "a cycle ended differently: {out}");
    let stat = |tag: &str, key: &str| crate::pam_stat_num(out, tag, key);
    crate::assert_flat(out);
    assert_eq!(
        stat("end", "duo_maps"),
        0,
        "the module is still mapped: {out}"
    );
    // AWS-LC maps one page for fork detection at each load and never unmaps it
    // (crypto/ube/fork_ube_detect.c): 4 KiB a load, nothing else may grow.
    let growth = stat("end", "rss_kb").saturating_sub(stat("warm", "rss_kb"));
    assert!(
        growth < 1050 * 4 + 1024,
        "RSS grew by {growth} KiB over 1,050 cycles"
    );
    let pre = mock
        .requests()
        .iter()
        .filter(|r| r["path"] == "/auth/v2/preauth" && r["sig_ok"] == true)
        .count();
    assert_eq!(pre, 1100, "every cycle asked Duo with a good signature");
    eprintln!(
        "{label}: 1,100 load/unload cycles in {:.1} s; RSS {} -> {} KiB",
        started.elapsed().as_secs_f64(),
        stat("warm", "rss_kb"),
        stat("end", "rss_kb")
    );
}
