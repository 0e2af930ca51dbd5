//! The outage window (issue 14), end to end through `login_duo` (run by root, single process),
//! `pam_duo.so` (through the real libpam in `pamclient`) and a setuid `login_duo` whose auth
//! child runs as the privilege-separation user:
//! - a black-holed service (its SYNs dropped): the first login waits `https_timeout`, the next
//!   ten get the failmode verdict from memory at once, one login per probe interval still asks
//!   the network, and once the service is back the next probe closes the window;
//! - answers from the service (HTTP 401, 403, 5xx, bad replies) and local failures never open
//!   it;
//! - planted state (wrong owner or mode, a link, garbage, the future) is ignored;
//! - 50 concurrent logins share one state file without corrupting it or waiting on each other.
//!
//! Every config points the state at a directory of the test (`outage_state_dir`), so nothing is
//! left in the host's /run; the setuid run binds a directory of the test over /run in a private
//! mount namespace.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use duo_tests::pam_codes::{PAM_ABORT, PAM_SERVICE_ERR, PAM_SUCCESS};
use duo_tests::runner::{pam_service, Login, LoginDuo, PamClient};
use duo_tests::users::TempUser;
use duo_tests::{BlackHole, Mock, IKEY, SKEY};

/// `https_timeout` of every config, in seconds.
const T: u64 = 3;
/// `outage_probe_interval` of the recovery runs, in seconds: longer than ten fast logins take.
const PROBE: u64 = 10;
/// Loose bound of a verdict from memory (process start included; exact times: `make bench`).
const FAST: Duration = Duration::from_secs(1);
/// Slack on a login that waits `https_timeout`.
const SLACK: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fe {
    /// `login_duo -c <conf> -f alice` as root: headless, automatic push.
    Login,
    /// `pam_duo.so` through `pamclient` as root (Duo username `root`), automatic push.
    Pam,
}

impl Fe {
    fn duo_user(self) -> &'static str {
        match self {
            Fe::Login => "alice",
            Fe::Pam => "root",
        }
    }
}

/// What one login did.
type Out = Login;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Sleep until the wall clock has passed the start of second `at` (bounded to 2 minutes).
fn sleep_until(at: i64) {
    let target = UNIX_EPOCH + Duration::from_secs(at.max(0) as u64) + Duration::from_millis(150);
    if let Ok(d) = target.duration_since(SystemTime::now()) {
        std::thread::sleep(d.min(Duration::from_secs(120)));
    }
}

/// A config for `host` (with the mock's CA), the outage window on with its state in `state`.
fn conf_text(host: &str, ca: &Path, mode: &str, state: &Path, extra: &str) -> String {
    format!(
        "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = {host}\ncafile = {}\nfailmode = {mode}\n\
         https_timeout = {T}\nautopush = yes\nprompts = 1\noutage_window = 60\n\
         outage_state_dir = {}\n{extra}",
        ca.display(),
        state.display()
    )
}

/// A fresh state directory (root's, mode 0755) in `dir`.
fn state_dir(dir: &Path, name: &str) -> PathBuf {
    let s = dir.join(name);
    std::fs::create_dir_all(&s).expect("mkdir");
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    s
}

fn parsed(conf: &Path, fe: Fe) -> duo::config::Config {
    let f = match fe {
        Fe::Login => duo::config::Frontend::Login,
        Fe::Pam => duo::config::Frontend::Pam,
    };
    duo::config::parse(&std::fs::read(conf).expect("read"), f, &mut |_, _| {}).expect("parse")
}

/// One login through `fe` with the config `conf`; `prefix` runs it under another program
/// (e.g. `prlimit`).
fn login(fe: Fe, conf: &Path, prefix: &[&str]) -> Out {
    let limit = Duration::from_secs(T) + SLACK + Duration::from_secs(30);
    match fe {
        Fe::Login => {
            let run = LoginDuo::new(conf)
                .user("alice")
                .echo("RAN-outage")
                .prefix(prefix)
                .limit(limit)
                .run();
            assert_eq!(
                run.ran,
                run.status.success(),
                "exit status and command disagree"
            );
            run
        }
        Fe::Pam => {
            let confdir = conf.with_extension("pam.d");
            pam_service(&confdir, "duo-outage", conf, "debug");
            PamClient::new(&confdir, "duo-outage", "root")
                .prefix(prefix)
                .limit(limit)
                .run()
        }
    }
}

/// Problems with a failmode verdict: allowed exactly under `safe`, the PAM code, and the log
/// line with `reason`.
fn failmode_problems(fe: Fe, mode: &str, out: &Out, reason: &str) -> Vec<String> {
    let safe = mode == "safe";
    let word = if safe { "Failsafe" } else { "Failsecure" };
    let line = format!("[4] {word} Duo login for '{}': {reason}", fe.duo_user());
    let mut p = Vec::new();
    if out.allowed != safe {
        p.push(format!("allowed = {}, want {safe}", out.allowed));
    }
    if fe == Fe::Pam {
        let want = if safe { PAM_SUCCESS } else { PAM_SERVICE_ERR };
        if out.pam_code != Some(want) {
            p.push(format!("PAM code {:?}, want {want}", out.pam_code));
        }
    }
    if !out.stderr.lines().any(|l| l.starts_with(&line)) {
        p.push(format!("no line starting {line:?}"));
    }
    p
}

/// `problems` of the login `out`, as one entry naming `what`, with the log; none if empty.
fn check(what: &str, out: &Out, problems: Vec<String>) -> Vec<String> {
    if problems.is_empty() {
        return problems;
    }
    vec![format!(
        "{what} ({:.2?}): {}\n--- log ---\n{}",
        out.elapsed,
        problems.join("; "),
        out.stderr
    )]
}

/// Black hole → first login waits, ten from memory, a probe per interval, recovery.
fn recovery(fe: Fe, mode: &str) -> Vec<String> {
    let dir = duo_tests::temp_dir("outage-recovery");
    let hole = BlackHole::start().unwrap_or_else(|why| panic!("black hole: {why}"));
    let mock = Mock::start(&[]);
    let state = state_dir(&dir, "state");
    let conf = dir.join("c.conf");
    let host = format!("127.0.0.1:{}", hole.port);
    duo_tests::write_conf(
        &conf,
        &conf_text(
            &host,
            &mock.ca,
            mode,
            &state,
            &format!("outage_probe_interval = {PROBE}\n"),
        ),
    );
    let cfg = parsed(&conf, fe);
    let mut problems = Vec::new();
    // A login that asks the network (its reason is the connect failure, not the memory
    // verdict) can end only at its stage deadline, since the black hole answers no SYN; it
    // must end within the bound (no lower bound: a login is never required to be slow).
    let asked = format!("Couldn't connect to {host}: Failed to connect");
    let slow = |out: &Out| {
        let bound = Duration::from_secs(T) + SLACK;
        (out.elapsed > bound).then(|| format!("took {:.2?}, bound {bound:?}", out.elapsed))
    };

    // The first login pays the timeout and opens the window.
    let out = login(fe, &conf, &[]);
    let mut p = failmode_problems(fe, mode, &out, &asked);
    p.extend(slow(&out));
    if !out.stderr.contains("Duo outage window opened: ") {
        p.push("no 'Duo outage window opened' line".into());
    }
    problems.extend(check("first login", &out, p));
    let Some(st) = duo::flow::outage::status(&cfg) else {
        problems.push("the window is not open after the first login".into());
        return problems;
    };

    // The next ten: the verdict from memory, at once.
    let memory = format!(
        "Duo service unreachable since {} (outage window)",
        duo::api::timefmt::rfc3339(st.since)
    );
    for i in 0..10 {
        let out = login(fe, &conf, &[]);
        let mut p = failmode_problems(fe, mode, &out, &memory);
        if out.elapsed > FAST {
            p.push(format!("took {:.2?}, bound {FAST:?}", out.elapsed));
        }
        problems.extend(check(&format!("login {} from memory", i + 2), &out, p));
    }

    // One probe per interval: it asks the network (and fails again), then memory again.
    sleep_until(st.next_probe);
    let out = login(fe, &conf, &[]);
    let mut p = failmode_problems(fe, mode, &out, &asked);
    p.extend(slow(&out));
    if !out.stderr.contains("this login probes") {
        p.push("no 'this login probes' line".into());
    }
    problems.extend(check("probe during the outage", &out, p));
    let Some(st2) = duo::flow::outage::status(&cfg) else {
        problems.push("a failed probe closed the window".into());
        return problems;
    };
    if st2.since != st.since || st2.last_failure <= st.last_failure {
        problems.push(format!(
            "a failed probe must extend the window: {st:?} then {st2:?}"
        ));
    }
    let out = login(fe, &conf, &[]);
    let mut p = failmode_problems(fe, mode, &out, &memory);
    if out.elapsed > FAST {
        p.push(format!("took {:.2?}, bound {FAST:?}", out.elapsed));
    }
    problems.extend(check("memory after the probe", &out, p));

    // The service comes back: the next probe gets Duo's answer and closes the window.
    let _relay = hole.relay(mock.port);
    sleep_until(st2.next_probe);
    let success = format!("[6] Successful Duo login for '{}'", fe.duo_user());
    let out = login(fe, &conf, &[]);
    let mut p = Vec::new();
    if !out.allowed || !out.stderr.contains(&success) {
        p.push("the probe after recovery was not approved by Duo".into());
    }
    if !out.stderr.contains("this login probes")
        || !out.stderr.contains("Duo outage window closed: ")
    {
        p.push("no probe / 'Duo outage window closed' lines".into());
    }
    problems.extend(check("probe after recovery", &out, p));
    if let Some(s) = duo::flow::outage::status(&cfg) {
        problems.push(format!("window still open after recovery: {s:?}"));
    }
    let before = mock.requests().len();
    let out = login(fe, &conf, &[]);
    let mut p = Vec::new();
    if !out.allowed || !out.stderr.contains(&success) || out.stderr.contains("outage window") {
        p.push("the login after recovery did not go to Duo as usual".into());
    }
    if mock.requests().len() <= before {
        p.push("the mock saw no request".into());
    }
    problems.extend(check("login after recovery", &out, p));
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
    problems
        .into_iter()
        .map(|p| format!("{fe:?} failmode={mode}: {p}"))
        .collect()
}

#[test]
#[ignore = "needs root"]
fn black_hole_memory_probes_and_recovery_both_frontends_both_failmodes() {
    duo_tests::require_root();
    let problems: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = [Fe::Login, Fe::Pam]
            .into_iter()
            .flat_map(|fe| ["safe", "secure"].map(|m| (fe, m)))
            .map(|(fe, m)| s.spawn(move || recovery(fe, m)))
            .collect();
        runs.into_iter()
            .flat_map(|r| r.join().expect("scenario thread"))
            .collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
#[ignore = "needs root"]
fn answers_and_local_failures_never_open_the_window() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("outage-answers");
    let mock = Mock::start(&[]);
    let hole = BlackHole::start().unwrap_or_else(|why| panic!("black hole: {why}"));
    let mut problems = Vec::new();
    // (Duo username, frontend, whether the failmode verdict is expected)
    let rows: &[(&str, Fe, bool)] = &[
        ("401", Fe::Login, true),
        ("401", Fe::Pam, true),
        ("403", Fe::Login, false),
        ("500", Fe::Login, true),
        ("503", Fe::Pam, true),
        ("bad-json", Fe::Login, true),
        ("close-mid-reply", Fe::Login, true),
    ];
    for (n, (user, fe, failmode)) in rows.iter().enumerate() {
        let state = state_dir(&dir, &format!("state-{n}"));
        let conf = dir.join(format!("{n}.conf"));
        let text = conf_text(
            &format!("127.0.0.1:{}", mock.port),
            &mock.ca,
            "safe",
            &state,
            "",
        );
        duo_tests::write_conf(&conf, &text);
        let cfg = parsed(&conf, *fe);
        for round in 0..2 {
            let before = mock.requests().len();
            let out = match fe {
                Fe::Login => LoginDuo::new(&conf)
                    .user(user)
                    .command(["true"])
                    .limit(Duration::from_secs(30))
                    .run(),
                Fe::Pam => pam_as(&dir, n, &conf, user),
            };
            let mut p = Vec::new();
            let word = if *failmode { "Failsafe" } else { "Aborted" };
            if !out
                .stderr
                .contains(&format!("{word} Duo login for '{user}'"))
            {
                p.push(format!("no {word} line"));
            }
            if *fe == Fe::Pam && !*failmode && out.pam_code != Some(PAM_ABORT) {
                p.push(format!("PAM code {:?}", out.pam_code));
            }
            if out.stderr.contains("outage window") {
                p.push("the outage window was used".into());
            }
            if mock.requests().len() <= before {
                p.push("the login did not reach the service".into());
            }
            if duo::flow::outage::status(&cfg).is_some()
                || duo::flow::outage::state_path(&cfg, duo::sys::Uid::ROOT).exists()
            {
                p.push("a state file was written".into());
            }
            problems.extend(check(&format!("{user} {fe:?} round {round}"), &out, p));
        }
    }
    // A local failure (no descriptors left) while the service is also black-holed: an error,
    // whatever failmode says, and no window.
    let state = state_dir(&dir, "state-local");
    let conf = dir.join("local.conf");
    duo_tests::write_conf(
        &conf,
        &conf_text(
            &format!("localhost:{}", hole.port),
            &mock.ca,
            "safe",
            &state,
            "",
        ),
    );
    let cfg = parsed(&conf, Fe::Login);
    let out = login(Fe::Login, &conf, &["prlimit", "--nofile=8:8", "--"]);
    let mut p = Vec::new();
    if out.allowed
        || !out
            .stderr
            .contains("[3] Error in Duo login for 'alice': cannot open")
    {
        p.push("not a local error".into());
    }
    if duo::flow::outage::status(&cfg).is_some() {
        p.push("a local failure opened the window".into());
    }
    problems.extend(check("local failure", &out, p));
    drop(hole);
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// pam_duo with the config `conf` plus `send_gecos`, for a temporary user whose GECOS field
/// (and so Duo username) is `duo_user`.
fn pam_as(dir: &Path, n: usize, conf: &Path, duo_user: &str) -> Out {
    let user = TempUser::create("duoout", duo_user);
    let text = std::fs::read_to_string(conf).expect("read");
    let gconf = dir.join(format!("{n}-gecos.conf"));
    duo_tests::write_conf(&gconf, &format!("{text}send_gecos = yes\n"));
    let confdir = pam_service(
        &dir.join(format!("{n}-pam.d")),
        "duo-outage",
        &gconf,
        "debug",
    );
    PamClient::new(&confdir, "duo-outage", &user.name)
        .limit(Duration::from_secs(30))
        .run()
}

/// The text of an open window.
fn open_state(since: i64, last: i64, probe: i64) -> String {
    format!("duo-unix-rs outage window v1\nsince {since}\nlast {last}\nprobe {probe}\n")
}

/// Write `text` as the state file of `cfg` for root, with `mode`, in a 0700 directory.
fn plant(cfg: &duo::config::Config, text: &str, mode: u32) -> PathBuf {
    let p = duo::flow::outage::state_path(cfg, duo::sys::Uid::ROOT);
    let d = p.parent().expect("dir");
    std::fs::create_dir_all(d).expect("mkdir");
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, text).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    p
}

#[test]
#[ignore = "needs root"]
fn planted_state_is_ignored_unless_it_is_exactly_ours() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("outage-planted");
    let mock = Mock::start(&[]);
    let state = state_dir(&dir, "state");
    let conf = dir.join("c.conf");
    duo_tests::write_conf(
        &conf,
        &conf_text(
            &format!("127.0.0.1:{}", mock.port),
            &mock.ca,
            "safe",
            &state,
            "outage_probe_interval = 3600\n",
        ),
    );
    let cfg = parsed(&conf, Fe::Login);
    let now = now_secs();
    let open = open_state(now - 30, now - 1, now - 1);
    let elsewhere = dir.join("elsewhere");
    std::fs::write(&elsewhere, &open).expect("write");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    type Plant = Box<dyn Fn(&Path)>;
    let target = elsewhere.clone();
    let cases: Vec<(&str, Plant, Option<&str>)> = vec![
        (
            "owned by another user",
            Box::new(|p: &Path| std::os::unix::fs::chown(p, Some(65534), None).expect("chown")),
            Some("owned by uid 65534"),
        ),
        (
            "mode 0644",
            Box::new(|p: &Path| {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).expect("chmod")
            }),
            Some("mode 0644, not 0600"),
        ),
        (
            "a symbolic link",
            Box::new(move |p: &Path| {
                std::fs::remove_file(p).expect("rm");
                std::os::unix::fs::symlink(&target, p).expect("symlink");
            }),
            Some("symbolic link"),
        ),
        (
            "a second hard link",
            Box::new(|p: &Path| {
                std::fs::hard_link(p, p.with_extension("twin")).expect("link");
            }),
            Some("2 links"),
        ),
        (
            "garbage",
            Box::new(|p: &Path| std::fs::write(p, "open\nsince ever\n").expect("write")),
            None,
        ),
        (
            "times in the future",
            Box::new(|p: &Path| {
                let later = now_secs() + 3600;
                std::fs::write(p, open_state(later, later, later)).expect("write")
            }),
            None,
        ),
        (
            "a directory open to others",
            Box::new(|p: &Path| {
                let base = p.parent().and_then(Path::parent).expect("base");
                std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o777))
                    .expect("chmod");
            }),
            Some("writable by group or others"),
        ),
    ];
    let mut problems = Vec::new();
    // Control: exactly our state gives the verdict from memory without the network.
    plant(&cfg, &open, 0o600);
    let before = mock.requests().len();
    let out = login(Fe::Login, &conf, &[]);
    let mut p = failmode_problems(Fe::Login, "safe", &out, "Duo service unreachable since ");
    if mock.requests().len() != before {
        p.push("a verdict from memory reached the service".into());
    }
    problems.extend(check("control", &out, p));
    for (what, spoil, warning) in &cases {
        let p = plant(&cfg, &open, 0o600);
        spoil(&p);
        let before = mock.requests().len();
        let out = login(Fe::Login, &conf, &[]);
        let mut p = Vec::new();
        if !out.allowed || !out.stderr.contains("[6] Successful Duo login for 'alice'") {
            p.push("not approved by Duo".into());
        }
        if mock.requests().len() <= before {
            p.push("did not reach the service".into());
        }
        if out.stderr.contains("(outage window)") {
            p.push("the planted state was used".into());
        }
        if let Some(w) = warning {
            let seen = out
                .stderr
                .lines()
                .any(|l| l.contains("Duo outage window not used for this login") && l.contains(w));
            if !seen {
                p.push(format!("no warning naming {w:?}"));
            }
        }
        problems.extend(check(what, &out, p));
        // Undo for the next case.
        let _ = std::fs::remove_file(
            duo::flow::outage::state_path(&cfg, duo::sys::Uid::ROOT).with_extension("twin"),
        );
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    assert_eq!(
        std::fs::read_to_string(&elsewhere).expect("read"),
        open,
        "nothing is written through a link"
    );
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
#[ignore = "needs root"]
fn fifty_concurrent_logins_share_one_state_file() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("outage-fifty");
    let hole = BlackHole::start().unwrap_or_else(|why| panic!("black hole: {why}"));
    let mock = Mock::start(&[]);
    let state = state_dir(&dir, "state");
    let conf = dir.join("c.conf");
    duo_tests::write_conf(
        &conf,
        &conf_text(
            &format!("127.0.0.1:{}", hole.port),
            &mock.ca,
            "secure",
            &state,
            "outage_probe_interval = 60\n",
        ),
    );
    let cfg = parsed(&conf, Fe::Login);
    let fifty = || -> Vec<Out> {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..50)
                .map(|_| s.spawn(|| login(Fe::Login, &conf, &[])))
                .collect();
            hs.into_iter().map(|h| h.join().expect("login")).collect()
        })
    };
    let network = "[4] Failsecure Duo login for 'alice': Couldn't connect to 127.0.0.1:";
    let memory = "[4] Failsecure Duo login for 'alice': Duo service unreachable since ";
    let count = |outs: &[Out], s: &str| outs.iter().filter(|o| o.stderr.contains(s)).count();
    let mut problems = Vec::new();

    // Window closed: all fifty ask the network at once and record the failure together.
    let outs = fifty();
    if count(&outs, network) != 50 || outs.iter().any(|o| o.allowed) {
        problems.push(format!(
            "closed window: {} of 50 network verdicts",
            count(&outs, network)
        ));
    }
    if let Some(o) = outs
        .iter()
        .find(|o| o.elapsed > Duration::from_secs(T) + SLACK * 3)
    {
        problems.push(format!("closed window: a login took {:.2?}", o.elapsed));
    }
    let text = std::fs::read_to_string(duo::flow::outage::state_path(&cfg, duo::sys::Uid::ROOT))
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if duo::flow::outage::status(&cfg).is_none() || lines.len() != 4 {
        problems.push(format!("state after 50 writers: {text:?}"));
    }

    // Window open, probe slot free: exactly one probe, forty-nine verdicts from memory.
    let now = now_secs();
    plant(&cfg, &open_state(now - 100, now - 1, now - 100), 0o600);
    let outs = fifty();
    let probes = count(&outs, "this login probes");
    if probes != 1 || count(&outs, network) != 1 || count(&outs, memory) != 49 {
        problems.push(format!(
            "open window: {probes} probes, {} network and {} memory verdicts",
            count(&outs, network),
            count(&outs, memory)
        ));
    }
    if outs.iter().any(|o| o.allowed) {
        problems.push("open window: a login was allowed".into());
    }
    match duo::flow::outage::status(&cfg) {
        Some(st) if st.since == now - 100 && st.last_failure >= now => {}
        other => problems.push(format!("state after the probe: {other:?}")),
    }
    drop(hole);
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Run inside `unshare -m`: `$1` is the test directory, `$2` the privsep user; the rest is the
/// command. Binds `$1/run` over /run, puts an overlay (upper layer on a tmpfs of this
/// namespace) over /etc with the test's `login_duo.conf` in /etc/duo, and execs the command.
const SANDBOX_SH: &str = r#"set -e
T="$1"; P="$2"; shift 2
mount --bind "$T/run" /run
mount -t tmpfs -o mode=0755 duo-outage-etc "$T/ovl"
mkdir "$T/ovl/up" "$T/ovl/work"
mount -t overlay duo-outage-etc -o lowerdir=/etc,upperdir="$T/ovl/up",workdir="$T/ovl/work" /etc
mkdir -p /etc/duo
cp "$T/login_duo.conf" /etc/duo/login_duo.conf
chown "$P" /etc/duo/login_duo.conf
chmod 600 /etc/duo/login_duo.conf
exec "$@"
"#;

#[test]
#[ignore = "needs root"]
fn setuid_login_duo_keeps_its_state_as_the_privsep_user() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("outage-setuid");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir_all(dir.join("run")).expect("mkdir run");
    std::fs::create_dir_all(dir.join("ovl")).expect("mkdir ovl");
    let hole = BlackHole::start().unwrap_or_else(|why| panic!("black hole: {why}"));
    let mock = Mock::start(&[]);
    std::fs::set_permissions(&mock.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&mock.ca, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let login = dir.join("login_duo");
    std::fs::copy(duo_tests::built("login_duo"), &login).expect("copy");
    std::os::unix::fs::chown(&login, Some(0), Some(0)).expect("chown");
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o4755)).expect("4755");
    // The default state directory (/run/duo-unix-rs, here the test's run/duo-unix-rs).
    duo_tests::write_conf(
        &dir.join("login_duo.conf"),
        &format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{}\ncafile = {}\n\
             failmode = secure\nhttps_timeout = {T}\nautopush = yes\noutage_window = 60\n",
            hole.port,
            mock.ca.display()
        ),
    );
    let user = TempUser::create("duoos", "");
    let privsep = duo::user::account::by_name("sshd").expect("privsep user sshd");
    let run = || {
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(SANDBOX_SH)
            .arg("sandbox")
            .arg(&dir)
            .arg("sshd")
            .arg("setpriv")
            .arg(format!("--reuid={}", user.uid))
            .arg(format!("--regid={}", user.gid))
            .args(["--init-groups", "--"])
            .arg(&login)
            .args(["-d", "--", "echo", "RAN-setuid"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        let c = duo_tests::runner::run(cmd, Duration::from_secs(60));
        Out {
            allowed: c.stdout.contains("RAN-setuid"),
            ..c
        }
    };
    let mut problems = Vec::new();
    let who = user.name.clone();
    let first = run();
    let mut p = Vec::new();
    let line = format!("[4] Failsecure Duo login for '{who}': Couldn't connect to 127.0.0.1:");
    if first.allowed
        || !first.stderr.contains(&line)
        || !first.stderr.contains("outage window opened")
    {
        p.push("not a failsecure verdict that opened the window".into());
    }
    problems.extend(check("first setuid login", &first, p));
    let base = dir.join("run/duo-unix-rs");
    let sub = base.join(format!("uid-{}", privsep.uid));
    let meta = |p: &Path| std::fs::symlink_metadata(p).map(|m| (m.uid(), m.mode() & 0o7777));
    if meta(&base).ok() != Some((0, 0o755))
        || std::fs::metadata(&base).map(|m| m.gid()).ok() != Some(0)
    {
        problems.push(format!(
            "{}: {:?}, want root:root 0755",
            base.display(),
            meta(&base)
        ));
    }
    if meta(&sub).ok() != Some((privsep.uid.0, 0o700)) {
        problems.push(format!("{}: {:?}", sub.display(), meta(&sub)));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&sub)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    if files.len() != 1
        || files
            .iter()
            .any(|f| meta(f).ok() != Some((privsep.uid.0, 0o600)))
    {
        problems.push(format!("state files: {files:?}"));
    }
    let second = run();
    let mut p = Vec::new();
    if second.allowed
        || !second.stderr.contains(&format!(
            "[4] Failsecure Duo login for '{who}': Duo service unreachable since "
        ))
    {
        p.push("not a failsecure verdict from memory".into());
    }
    if second.elapsed > FAST * 2 {
        p.push(format!("took {:.2?}", second.elapsed));
    }
    problems.extend(check("second setuid login", &second, p));
    drop(hole);
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
