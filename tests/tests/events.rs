//! Auth events (`events = json`, issue 13), end to end through both frontends: `login_duo`,
//! and `pam_duo.so` loaded by the real libpam through `pamclient`.
//!
//! Every run happens in a private mount namespace whose `/dev/log` and journal socket are
//! sockets of the test ([`duo_tests::logsink`]), so the real syslog receives what the program
//! sends, and the host's logging never sees it. Checked: the event of every verdict of the
//! fault table, parsed as JSON, in the debug-mode stderr copy and in the syslog sink (the same
//! text); the journal's native fields and the fallback to syslog when the journal is absent
//! or full; hostile values (user names, `-h`, PAM_RHOST, server messages) that never break the
//! record or add one; no secret in any output; and, with `events` unset, the exact log lines
//! of today.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use duo_tests::logsink::{Journal, LogSinks, Received};
use duo_tests::pam_codes::{PAM_ABORT, PAM_MAXTRIES, PAM_SERVICE_ERR, PAM_SUCCESS};
use duo_tests::pty::PtyChild;
use duo_tests::runner::{pam_service, LoginDuo, PamClient};
use duo_tests::users::TempUser;
use duo_tests::{Mock, PrivateEtc, HOSTILE_MSG, IKEY, SKEY};

/// Bound of one run (every run here ends in well under a second).
const LIMIT: Duration = Duration::from_secs(30);

/// The client address given with `-h` to login_duo and as PAM_RHOST to the module.
const LOGIN_ADDR: &str = "203.0.113.9";
const PAM_ADDR: &str = "198.51.100.7";

/// Longest syslog message of an event (duo::flow::events::MAX_MESSAGE).
const MAX_MESSAGE: usize = 7680;

/// syslog facility authpriv, as the number in `<PRI>`.
const AUTHPRIV: u32 = 10 << 3;

fn write_conf(dir: &Path, name: &str, body: &str) -> PathBuf {
    duo_tests::write_conf(
        &dir.join(name),
        &format!("[duo]\nikey = {IKEY}\nskey = {SKEY}\n{body}"),
    )
}

/// What one login run produced.
struct Run {
    /// login_duo: whether it exited 0 (and ran the command); pam: whether PAM_SUCCESS.
    allowed: bool,
    /// The PAM code (pam runs only).
    pam_code: Option<i32>,
    /// stderr (for a terminal run, the whole transcript), lines without CR.
    stderr: String,
    received: Received,
    elapsed: Duration,
}

/// `login_duo -d? -c conf <args> -- echo MARK` without a terminal, in a sandbox with `mode`.
fn login_duo(mode: Journal, conf: &Path, debug: bool, args: &[&std::ffi::OsStr]) -> Run {
    login_duo_env(mode, conf, debug, args, &[])
}

fn login_duo_env(
    mode: Journal,
    conf: &Path,
    debug: bool,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
) -> Run {
    let sinks = LogSinks::start(mode);
    let mut l = LoginDuo::new(conf)
        .debug(debug)
        .args(args)
        .echo("RAN-OK")
        .limit(LIMIT);
    for (k, v) in env {
        l = l.env(k, v);
    }
    let c = l.run_with(|cmd| sinks.sandbox(cmd));
    assert!(!c.killed, "login_duo overran");
    assert_eq!(c.status.success(), c.ran, "{}", c.stdout);
    Run {
        allowed: c.status.success(),
        pam_code: None,
        stderr: c.stderr,
        received: sinks.finish(),
        elapsed: c.elapsed,
    }
}

/// `login_duo -d -c conf -f user -h LOGIN_ADDR` on a pseudo-terminal (no answers typed).
fn login_duo_tty(mode: Journal, conf: &Path, user: &str) -> Run {
    let sinks = LogSinks::start(mode);
    let mut cmd = LoginDuo::new(conf)
        .args(["-f", user, "-h", LOGIN_ADDR])
        .echo("RAN-OK")
        .cmd();
    sinks.sandbox(&mut cmd);
    let start = Instant::now();
    let mut p = PtyChild::spawn(cmd).expect("spawn on a pty");
    let status = p.finish(LIMIT);
    let elapsed = start.elapsed();
    let ran = p.transcript.contains("RAN-OK");
    assert_eq!(status.is_some_and(|s| s.success()), ran, "{}", p.transcript);
    Run {
        allowed: ran,
        pam_code: None,
        stderr: p.transcript.replace('\r', ""),
        received: sinks.finish(),
        elapsed,
    }
}

/// `pam_authenticate` for `user` through `pam_duo.so conf=<conf> [debug]`, service `service`,
/// with PAM_RHOST `rhost`.
fn pam(mode: Journal, conf: &Path, service: &str, user: &str, rhost: &[u8], debug: bool) -> Run {
    let sinks = LogSinks::start(mode);
    let confdir = duo_tests::temp_dir("ev-pamd");
    pam_service(&confdir, service, conf, if debug { "debug" } else { "" });
    let c = PamClient::new(&confdir, service, user)
        .rhost(std::ffi::OsStr::from_bytes(rhost))
        .limit(LIMIT)
        .run_with(|cmd| sinks.sandbox(cmd));
    let _ = std::fs::remove_dir_all(&confdir);
    assert!(!c.killed, "pamclient overran");
    Run {
        allowed: c.allowed,
        pam_code: c.pam_code,
        stderr: c.stderr,
        received: sinks.finish(),
        elapsed: c.elapsed,
    }
}

/// The event lines of stderr: `(priority, message)` for each `[P] @cee: …` line.
fn stderr_events(stderr: &str) -> Vec<(u32, String)> {
    stderr
        .lines()
        .filter(|l| l.contains("@cee:"))
        .map(|l| {
            let p = l
                .strip_prefix('[')
                .and_then(|r| r.split_once("] "))
                .expect("a [P] prefix");
            (p.0.parse().expect("priority"), p.1.to_string())
        })
        .collect()
}

/// The object of an event message (`@cee: {…}`).
fn parse(message: &str) -> BTreeMap<String, Value> {
    let json = message
        .strip_prefix("@cee: ")
        .unwrap_or_else(|| panic!("no cookie: {message:?}"));
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(m)) => m.into_iter().collect(),
        other => panic!("not a JSON object ({other:?}): {message:?}"),
    }
}

/// The one event of a debug run that went to syslog: it is on stderr exactly once, in the
/// syslog sink exactly once, the same text in both with the same priority, on one line and
/// within the size limit. Returns its object.
fn the_event(run: &Run) -> BTreeMap<String, Value> {
    let on_stderr = stderr_events(&run.stderr);
    assert_eq!(on_stderr.len(), 1, "stderr events:\n{}", run.stderr);
    let (prio, message) = &on_stderr[0];
    let in_syslog: Vec<(u32, Vec<u8>)> = run
        .received
        .syslog_messages()
        .into_iter()
        .filter(|(_, m)| m.windows(5).any(|w| w == b"@cee:"))
        .collect();
    assert_eq!(
        in_syslog.len(),
        1,
        "syslog events: {:?}",
        run.received.syslog
    );
    assert_eq!(in_syslog[0].0, AUTHPRIV + prio, "syslog priority");
    assert_eq!(
        in_syslog[0].1,
        message.as_bytes(),
        "the stderr copy and syslog differ"
    );
    assert!(message.len() <= MAX_MESSAGE, "{} bytes", message.len());
    assert!(
        !message
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
        "{message:?}"
    );
    assert!(
        run.received.journal.is_empty(),
        "the journal got something while syslog got the event"
    );
    let o = parse(message);
    let want_prio = match o["result"].as_str() {
        Some("success") => 6,
        Some("error") => 3,
        _ => 4,
    };
    assert_eq!(*prio, want_prio, "priority of {:?}", o["result"]);
    o
}

fn num(o: &BTreeMap<String, Value>, k: &str) -> u64 {
    o.get(k)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no number {k} in {o:?}"))
}

/// The phase times add up to at most the total.
fn check_phases(o: &BTreeMap<String, Value>) {
    let sum: u64 = [
        "lookup_ms",
        "connect_ms",
        "tls_ms",
        "ping_ms",
        "preauth_ms",
        "auth_ms",
        "status_ms",
    ]
    .iter()
    .map(|k| num(o, k))
    .sum();
    assert!(sum <= num(o, "total_ms"), "phases {sum} ms > total: {o:?}");
    assert!(num(o, "rate_limit_wait_ms") <= num(o, "total_ms"));
}

/// One row of the verdict table.
struct Row {
    name: &'static str,
    /// Duo username: the mock's scenario.
    user: &'static str,
    failmode: &'static str,
    /// Port to connect to instead of the mock's (a closed one for "unreachable").
    port: Option<u16>,
    prompts: u32,
    result: &'static str,
    /// Start of the reason text.
    reason: String,
    attempts: u64,
    allowed: bool,
    pam_code: i32,
    /// Whether a factor was sent (and so is reported).
    factor: bool,
}

#[allow(clippy::too_many_arguments)]
fn row(
    name: &'static str,
    user: &'static str,
    failmode: &'static str,
    result: &'static str,
    reason: &str,
    allowed: bool,
    pam_code: i32,
    factor: bool,
) -> Row {
    Row {
        name,
        user,
        failmode,
        port: None,
        prompts: 1,
        result,
        reason: reason.to_string(),
        attempts: 1,
        allowed,
        pam_code,
        factor,
    }
}

fn row_conf(dir: &Path, m: &Mock, r: &Row, tag: &str) -> PathBuf {
    write_conf(
        dir,
        &format!("{tag}.conf"),
        &format!(
            "host = 127.0.0.1:{}\ncafile = {}\nfailmode = {}\nautopush = yes\nprompts = {}\n\
             https_timeout = 5\nsend_gecos = yes\nevents = json\n",
            r.port.unwrap_or(m.port),
            m.ca.display(),
            r.failmode,
            r.prompts
        ),
    )
}

fn check_row(r: &Row, run: &Run, frontend: &str, os_user: &str, port: u16) -> Vec<String> {
    let mut problems = Vec::new();
    if run.allowed != r.allowed {
        problems.push(format!("allowed = {}", run.allowed));
    }
    if frontend == "pam_duo" && run.pam_code != Some(r.pam_code) {
        problems.push(format!("PAM code {:?}", run.pam_code));
    }
    let o = the_event(run);
    check_phases(&o);
    let want = |k: &str, v: Value, problems: &mut Vec<String>| {
        if o.get(k) != Some(&v) {
            problems.push(format!("{k} = {:?}, want {v}", o.get(k)));
        }
    };
    want("version", 1.into(), &mut problems);
    want("event", "login".into(), &mut problems);
    want("result", r.result.into(), &mut problems);
    want("frontend", frontend.into(), &mut problems);
    want("os_user", os_user.into(), &mut problems);
    want("duo_user", r.user.into(), &mut problems);
    want("failmode", r.failmode.into(), &mut problems);
    want("attempts", r.attempts.into(), &mut problems);
    want(
        "api_host",
        format!("127.0.0.1:{}", r.port.unwrap_or(port)).into(),
        &mut problems,
    );
    if frontend == "pam_duo" {
        want("service", "duo-ev".into(), &mut problems);
        want("client_addr", PAM_ADDR.into(), &mut problems);
    } else {
        want("client_addr", LOGIN_ADDR.into(), &mut problems);
        if o.contains_key("service") {
            problems.push("login_duo has a service".into());
        }
    }
    let reason = o["reason"].as_str().unwrap_or("");
    if !reason.starts_with(&r.reason) || (r.reason.is_empty() && !reason.is_empty()) {
        problems.push(format!("reason {reason:?}, want {:?}", r.reason));
    }
    if r.factor {
        want("factor", "push1".into(), &mut problems);
    } else if o.contains_key("factor") {
        problems.push(format!("factor {:?} without a factor sent", o["factor"]));
    }
    // An asynchronous /auth that answered (the module under a service other than sshd) gave
    // a txid; login_duo without a terminal authenticates synchronously, without one.
    let txid = frontend == "pam_duo" && r.result == "success";
    if txid != o.contains_key("txid") {
        problems.push(format!("txid {:?}", o.get("txid")));
    }
    if r.port.is_none() {
        want("tls_version", "TLSv1.3".into(), &mut problems);
    } else if o.contains_key("tls_version") {
        problems.push("a TLS version without a connection".into());
    }
    problems
}

/// Every verdict of the fault table (docs/BEHAVIOUR.md §8) through both frontends: the event parses, has
/// the right result, reason and users, and its phases add up to at most the total.
#[test]
#[ignore = "needs root"]
fn an_event_for_every_verdict_through_both_frontends() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-verdicts");
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let rows = vec![
        row(
            "success",
            "alice",
            "safe",
            "success",
            "",
            true,
            PAM_SUCCESS,
            true,
        ),
        row(
            "skipped",
            "preauth-allow",
            "safe",
            "skipped",
            "preauth-allowed",
            true,
            PAM_SUCCESS,
            false,
        ),
        row(
            "denied by preauth",
            "preauth-deny",
            "safe",
            "denied",
            "preauth-denied",
            false,
            PAM_ABORT,
            false,
        ),
        row(
            "denied by HTTP 403",
            "403",
            "safe",
            "denied",
            "HTTP 403",
            false,
            PAM_ABORT,
            false,
        ),
        row(
            "failed",
            "preauth-fail",
            "secure",
            "failed",
            "1000: Pre-authentication failed",
            false,
            PAM_MAXTRIES,
            false,
        ),
        Row {
            prompts: 2,
            attempts: 2,
            ..row(
                "maxtries",
                "preauth-fail",
                "safe",
                "maxtries",
                "1000: Pre-authentication failed",
                false,
                PAM_MAXTRIES,
                false,
            )
        },
        Row {
            port: Some(closed),
            ..row(
                "failsafe",
                "alice",
                "safe",
                "failsafe",
                &format!("Couldn't connect to 127.0.0.1:{closed}: Failed to connect"),
                true,
                PAM_SUCCESS,
                false,
            )
        },
        row(
            "failsecure",
            "500",
            "secure",
            "failsecure",
            "HTTP 500",
            false,
            PAM_SERVICE_ERR,
            false,
        ),
        row(
            "error after preauth",
            "auth-500",
            "safe",
            "error",
            "HTTP 500",
            false,
            PAM_SERVICE_ERR,
            true,
        ),
    ];
    let mut users: Vec<(&str, TempUser)> = Vec::new();
    for r in &rows {
        if !users.iter().any(|(u, _)| *u == r.user) {
            users.push((r.user, TempUser::create("duoev", r.user)));
        }
    }
    let mut failures = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let conf = row_conf(&dir, &m, r, &format!("row{i}"));
        // login_duo: without a terminal it makes one attempt; several need a terminal.
        let run = if r.prompts > 1 {
            login_duo_tty(Journal::Absent, &conf, r.user)
        } else {
            login_duo(
                Journal::Absent,
                &conf,
                true,
                &[
                    "-f".as_ref(),
                    r.user.as_ref(),
                    "-h".as_ref(),
                    LOGIN_ADDR.as_ref(),
                ],
            )
        };
        let p = check_row(r, &run, "login_duo", "root", m.port);
        if !p.is_empty() {
            failures.push(format!(
                "{} / login_duo: {}\n{}",
                r.name,
                p.join("; "),
                run.stderr
            ));
        }
        let os_user = &users
            .iter()
            .find(|(u, _)| *u == r.user)
            .expect("user")
            .1
            .name;
        let run = pam(
            Journal::Absent,
            &conf,
            "duo-ev",
            os_user,
            PAM_ADDR.as_bytes(),
            true,
        );
        let p = check_row(r, &run, "pam_duo", os_user, m.port);
        if !p.is_empty() {
            failures.push(format!(
                "{} / pam_duo: {}\n{}",
                r.name,
                p.join("; "),
                run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    drop(users);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Parse a journal datagram (native protocol) into its fields, in order.
fn journal_fields(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let nl = b.iter().position(|&c| c == b'\n').expect("a newline");
        let line = &b[..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            out.push((
                String::from_utf8(line[..eq].to_vec()).expect("name"),
                line[eq + 1..].to_vec(),
            ));
            b = &b[nl + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).expect("name");
            let len = u64::from_le_bytes(b[nl + 1..nl + 9].try_into().expect("length")) as usize;
            out.push((name, b[nl + 9..nl + 9 + len].to_vec()));
            assert_eq!(
                b[nl + 9 + len],
                b'\n',
                "binary field not ended by a newline"
            );
            b = &b[nl + 10 + len..];
        }
    }
    out
}

/// With a journal, the event goes there as native fields and not to syslog; without one, or
/// when its queue is full, it goes to syslog, and the login does not wait.
#[test]
#[ignore = "needs root"]
fn journal_fields_and_the_syslog_fallback() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-journal");
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = write_conf(
        &dir,
        "j.conf",
        &format!(
            "host = 127.0.0.1:{}\ncafile = {}\nautopush = yes\nevents = json\nsend_gecos = yes\n",
            m.port,
            m.ca.display()
        ),
    );
    // A client address with a newline: the journal field must use the binary-safe form.
    let addr = "192.0.2.1\nDUO_RESULT=success";
    let user = TempUser::create("duoevj", "preauth-deny");
    let runs = [
        (
            "login_duo",
            login_duo(
                Journal::Listening,
                &conf,
                true,
                &[
                    "-f".as_ref(),
                    "alice".as_ref(),
                    "-h".as_ref(),
                    addr.as_ref(),
                ],
            ),
        ),
        (
            "pam_duo",
            pam(
                Journal::Listening,
                &conf,
                "duo-evj",
                &user.name,
                addr.as_bytes(),
                true,
            ),
        ),
    ];
    for (frontend, run) in &runs {
        let on_stderr = stderr_events(&run.stderr);
        assert_eq!(on_stderr.len(), 1, "{}", run.stderr);
        let (prio, message) = &on_stderr[0];
        assert!(
            !run.received
                .syslog
                .iter()
                .any(|d| d.windows(5).any(|w| w == b"@cee:")),
            "{frontend}: the event also went to syslog"
        );
        assert_eq!(
            run.received.journal.len(),
            1,
            "{frontend}: journal datagrams"
        );
        let fields = journal_fields(&run.received.journal[0]);
        let get = |n: &str| -> Vec<u8> {
            let all: Vec<&Vec<u8>> = fields
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v)
                .collect();
            assert_eq!(all.len(), 1, "{frontend}: field {n} {} times", all.len());
            all[0].clone()
        };
        assert_eq!(get("MESSAGE"), message.as_bytes(), "{frontend}");
        assert_eq!(get("PRIORITY"), prio.to_string().as_bytes());
        assert_eq!(get("SYSLOG_FACILITY"), b"10");
        assert_eq!(
            get("SYSLOG_IDENTIFIER"),
            // Fixed, not the host program's name (pamclient here); the service is DUO_SERVICE.
            if *frontend == "login_duo" {
                &b"login_duo"[..]
            } else {
                b"pam_duo"
            }
        );
        assert_eq!(get("MESSAGE_ID").len(), 32);
        let o = parse(message);
        check_phases(&o);
        // Every field of the object is a DUO_ field with the same value, and nothing else is.
        for (k, v) in &o {
            let want = match v {
                Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            };
            assert_eq!(
                get(&format!("DUO_{}", k.to_ascii_uppercase())),
                want,
                "{frontend}: {k}"
            );
        }
        let duo_fields = fields.iter().filter(|(k, _)| k.starts_with("DUO_")).count();
        assert_eq!(duo_fields, o.len(), "{frontend}");
        assert_eq!(get("DUO_CLIENT_ADDR"), addr.as_bytes());
        assert_eq!(
            get("DUO_FRONTEND"),
            frontend.as_bytes(),
            "{frontend}: frontend field"
        );
        // The address went in the binary-safe form (name, newline, 64-bit length), so its
        // "DUO_RESULT=" line is part of the value, not a field: the parse above found one
        // DUO_RESULT, the real one.
        let mut framed = b"\nDUO_CLIENT_ADDR\n".to_vec();
        framed.extend_from_slice(&(addr.len() as u64).to_le_bytes());
        framed.extend_from_slice(addr.as_bytes());
        let raw = &run.received.journal[0];
        assert!(
            raw.windows(framed.len()).any(|w| w == framed),
            "{frontend}: the address is not in binary form"
        );
        assert_eq!(
            get("DUO_RESULT"),
            o["result"].as_str().unwrap_or("").as_bytes()
        );
    }
    assert_eq!(
        parse(&stderr_events(&runs[0].1.stderr)[0].1)["result"],
        "success"
    );
    assert_eq!(
        parse(&stderr_events(&runs[1].1.stderr)[0].1)["result"],
        "denied"
    );

    // No journal, and a journal whose queue is full: syslog gets the event, at once.
    for mode in [Journal::Absent, Journal::Full] {
        let run = login_duo(
            mode,
            &conf,
            true,
            &[
                "-f".as_ref(),
                "alice".as_ref(),
                "-h".as_ref(),
                LOGIN_ADDR.as_ref(),
            ],
        );
        assert!(run.allowed, "{mode:?}: {}", run.stderr);
        let o = the_event(&run);
        assert_eq!(o["result"], "success", "{mode:?}");
        assert!(
            run.elapsed < Duration::from_secs(10),
            "{mode:?}: {:?}",
            run.elapsed
        );
        let run = pam(
            mode,
            &conf,
            "duo-evj",
            &user.name,
            PAM_ADDR.as_bytes(),
            true,
        );
        assert_eq!(run.pam_code, Some(PAM_ABORT), "{mode:?}");
        assert_eq!(the_event(&run)["result"], "denied", "{mode:?}");
    }
    drop(user);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The journal's `SYSLOG_IDENTIFIER` is `pam_duo` whatever the host program is called: the
/// real setuid `su`, started by an ordinary user through a symbolic link named `sshd`, files
/// its event under `pam_duo`, with `su` as the event's service (issue 20 item 5).
#[test]
#[ignore = "needs root"]
fn the_journal_identifier_is_not_the_program_name() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-ident");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let m = Mock::start(&[]);
    let conf = write_conf(
        &dir,
        "su.conf",
        &format!(
            "host = 127.0.0.1:{}\ncafile = {}\nautopush = yes\nprompts = 1\nevents = json\n\
             send_gecos = yes\n",
            m.port,
            m.ca.display()
        ),
    );
    let user = TempUser::create("duoevi", "alice");
    let etc = PrivateEtc::new("ev-ident");
    std::fs::write(
        etc.file("pam.d/su"),
        format!(
            "auth required {} conf={}\nauth required pam_permit.so\naccount required pam_permit.so\n\
             session required pam_permit.so\npassword required pam_permit.so\n",
            duo_tests::built("libpam_duo.so").display(),
            conf.display()
        ),
    )
    .expect("pam service");
    let link = dir.join("sshd");
    std::os::unix::fs::symlink("/usr/bin/su", &link).expect("symlink");
    let sinks = LogSinks::start(Journal::Listening);
    let mut cmd = etc.command(&link, Some((user.uid, user.gid)));
    cmd.args(["-c", "id -u", "root"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    sinks.sandbox(&mut cmd);
    let c = duo_tests::run_captured(cmd, LIMIT);
    let received = sinks.finish();
    let out = String::from_utf8_lossy(&c.stdout);
    assert!(
        c.status.success() && out.lines().any(|l| l == "0"),
        "su through the link: {out} {}",
        String::from_utf8_lossy(&c.stderr)
    );
    assert_eq!(received.journal.len(), 1, "journal datagrams");
    let fields = journal_fields(&received.journal[0]);
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(get("SYSLOG_IDENTIFIER").as_deref(), Some("pam_duo"));
    assert_eq!(get("DUO_SERVICE").as_deref(), Some("su"));
    assert_eq!(get("DUO_FRONTEND").as_deref(), Some("pam_duo"));
    assert_eq!(get("DUO_RESULT").as_deref(), Some("success"));
    drop(user);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Hostile values from users (`-f`, `-h`, PAM_RHOST, invalid UTF-8 included) and from the
/// server (a status message with quotes, backslashes, newlines, controls) never make invalid
/// JSON, a second record or a forged line; an over-long value is cut, never the record.
#[test]
#[ignore = "needs root"]
fn hostile_values_never_break_the_record() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-hostile");
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = write_conf(
        &dir,
        "h.conf",
        &format!(
            "host = 127.0.0.1:{}\ncafile = {}\nautopush = yes\nevents = json\nsend_gecos = yes\n",
            m.port,
            m.ca.display()
        ),
    );
    let user = "eve \"x\" \\ y\n[4] FORGED\u{1b}[2J\u{85}\u{2028}}, \"result\":\"success";
    let addr: &[u8] = b"198.51.100.9\xff\xfe\n[6] FORGED-ADDR\x1b]0;t\x07\"\\";
    let addr_text = String::from_utf8_lossy(addr).into_owned();
    let long_user = "\u{1}\"\\".repeat(5000);
    let cases: Vec<(&str, Vec<&std::ffi::OsStr>, &str, &str)> = vec![
        (
            "user name and -h",
            vec![
                "-f".as_ref(),
                user.as_ref(),
                "-h".as_ref(),
                std::ffi::OsStr::from_bytes(addr),
            ],
            "success",
            user,
        ),
        (
            "server message",
            vec!["-f".as_ref(), "hostile-msg".as_ref()],
            "skipped",
            "hostile-msg",
        ),
        (
            "over-long user name",
            vec!["-f".as_ref(), long_user.as_ref()],
            "success",
            "",
        ),
    ];
    for (name, args, result, duo_user) in &cases {
        let run = login_duo(Journal::Absent, &conf, true, args);
        let o = the_event(&run);
        assert_eq!(o["result"], *result, "{name}");
        match *name {
            "user name and -h" => {
                assert_eq!(o["duo_user"], *duo_user);
                assert_eq!(o["client_addr"], addr_text.as_str());
            }
            "server message" => {
                assert_eq!(o["duo_user"], *duo_user);
                assert_eq!(o["reason"], HOSTILE_MSG);
            }
            _ => {
                assert_eq!(o["truncated"], true, "{name}");
                let cut = o["duo_user"].as_str().expect("duo_user");
                assert!(!cut.is_empty() && long_user.starts_with(cut), "{name}");
            }
        }
        // Only the expected lines, none forged: Loading, the verdict, the event.
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{name}: {lines:?}");
        assert!(lines
            .iter()
            .all(|l| l.starts_with("[6] ") || l.starts_with("[4] ")));
        for (_, msg) in run.received.syslog_messages() {
            assert!(
                !msg.iter().any(|&b| b < 0x20 || b == 0x7f),
                "{name}: a control byte in a syslog message: {:?}",
                String::from_utf8_lossy(&msg)
            );
        }
    }
    // The module: a hostile PAM_RHOST (not UTF-8) and a hostile server message.
    let u = TempUser::create("duoevh", "hostile-msg");
    let run = pam(Journal::Absent, &conf, "duo-evh", &u.name, addr, true);
    assert_eq!(run.pam_code, Some(PAM_SUCCESS));
    let o = the_event(&run);
    assert_eq!(o["result"], "skipped");
    assert_eq!(o["reason"], HOSTILE_MSG);
    assert_eq!(o["client_addr"], addr_text.as_str());
    assert_eq!(o["os_user"], u.name.as_str());
    // The GECOS line, the verdict, the event: no forged line.
    let ours: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours
        .iter()
        .all(|l| l.starts_with("[6] ") || l.starts_with("[4] ")));
    drop(u);
    let _ = std::fs::remove_dir_all(&dir);
}

/// No secret reaches any output: not the secret key, the Authorization header, nor a
/// passcode (here from DUO_PASSCODE; the factor is reported as `passcode`).
#[test]
#[ignore = "needs root"]
fn no_secret_in_any_output() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-secret");
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = write_conf(
        &dir,
        "s.conf",
        &format!(
            "host = 127.0.0.1:{}\ncafile = {}\naccept_env_factor = yes\nevents = json\n",
            m.port,
            m.ca.display()
        ),
    );
    let passcode = "123456";
    for mode in [Journal::Listening, Journal::Absent] {
        let run = login_duo_env(
            mode,
            &conf,
            true,
            &["-f".as_ref(), "alice".as_ref()],
            &[("DUO_PASSCODE", passcode)],
        );
        assert!(run.allowed, "{}", run.stderr);
        let message = &stderr_events(&run.stderr)[0].1;
        let o = parse(message);
        assert_eq!(o["factor"], "passcode");
        assert_eq!(o["result"], "success");
        let mut outputs: Vec<Vec<u8>> = vec![run.stderr.clone().into_bytes()];
        outputs.extend(run.received.syslog_messages().into_iter().map(|(_, m)| m));
        for d in &run.received.journal {
            outputs.extend(
                journal_fields(d)
                    .into_iter()
                    .filter(|(k, _)| k != "SYSLOG_PID")
                    .map(|(_, v)| v),
            );
        }
        for out in &outputs {
            let text = String::from_utf8_lossy(out);
            for secret in [passcode, SKEY, "Authorization", "Basic "] {
                assert!(!text.contains(secret), "{mode:?}: {secret:?} in {text:?}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `events` takes `off` or `json`; anything else is a config error that denies.
#[test]
#[ignore = "needs root"]
fn a_bad_events_value_denies() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-bad");
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = write_conf(
        &dir,
        "b.conf",
        &format!(
            "host = 127.0.0.1:{}\ncafile = {}\nautopush = yes\nevents = yes\n",
            m.port,
            m.ca.display()
        ),
    );
    let run = login_duo(
        Journal::Absent,
        &conf,
        true,
        &["-f".as_ref(), "alice".as_ref()],
    );
    assert!(!run.allowed);
    assert!(
        run.stderr
            .contains("Invalid events: 'yes' (use off or json)")
            && run
                .stderr
                .contains(&format!("Parse error in {}, line 7", conf.display())),
        "{}",
        run.stderr
    );
    assert!(stderr_events(&run.stderr).is_empty());
    let run = pam(Journal::Absent, &conf, "duo-evb", "root", b"", true);
    assert_eq!(run.pam_code, Some(PAM_SERVICE_ERR));
    assert!(m.requests().is_empty(), "a denied config reached Duo");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `events` unset (or `off`), every log line is exactly what it was before events
/// existed, on stderr and in syslog; with `events = json` the same lines come, plus the event
/// last.
#[test]
#[ignore = "needs root"]
fn without_events_the_log_is_unchanged() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("ev-same");
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let base = |port: u16, extra: &str| {
        format!(
            "host = 127.0.0.1:{port}\ncafile = {}\nautopush = yes\nfailmode = secure\n{extra}",
            m.ca.display()
        )
    };
    let user = TempUser::create("duoevs", "");
    for (variant, extra) in [
        ("unset", ""),
        ("off", "events = off\n"),
        ("json", "events = json\n"),
    ] {
        let ok = write_conf(&dir, &format!("ok-{variant}.conf"), &base(m.port, extra));
        let down = write_conf(&dir, &format!("down-{variant}.conf"), &base(closed, extra));
        let with_event = variant == "json";
        let args: [&std::ffi::OsStr; 4] = [
            "-f".as_ref(),
            "alice".as_ref(),
            "-h".as_ref(),
            LOGIN_ADDR.as_ref(),
        ];

        // login_duo -d: lines on stderr, only the first one in syslog.
        let run = login_duo(Journal::Absent, &ok, true, &args);
        let want = format!(
            "[6] Loading config file {}\n[6] Successful Duo login for 'alice' from {LOGIN_ADDR}\n",
            ok.display()
        );
        check_lines(
            &run,
            true,
            &want,
            with_event,
            &[(86, "starting Duo Unix: Login Duo")],
        );

        // login_duo without -d: every line in syslog; on stderr only the notice to the user.
        let run = login_duo(Journal::Absent, &down, false, &args);
        let reason = format!("Couldn't connect to 127.0.0.1:{closed}: Failed to connect");
        let loading = format!("Loading config file {}", down.display());
        let verdict = format!("Failsecure Duo login for 'alice' from {LOGIN_ADDR}: {reason}");
        check_lines(
            &run,
            false,
            "Duo two-factor service unreachable: login denied (failmode secure)\n",
            with_event,
            &[
                (86, "starting Duo Unix: Login Duo"),
                (86, &loading),
                (84, &verdict),
            ],
        );

        // pam_duo with debug (the first two lines go to syslog: debug takes effect after
        // them, as in the reference).
        let run = pam(
            Journal::Absent,
            &ok,
            "duo-evs",
            &user.name,
            PAM_ADDR.as_bytes(),
            true,
        );
        let want = format!(
            "[6] Successful Duo login for '{}' from {PAM_ADDR}\n",
            user.name
        );
        let loading = format!("Loading config file {}", ok.display());
        check_lines(
            &run,
            true,
            &want,
            with_event,
            &[(86, "starting Duo Unix: PAM Duo"), (86, &loading)],
        );

        // pam_duo without debug.
        let run = pam(
            Journal::Absent,
            &down,
            "duo-evs",
            &user.name,
            PAM_ADDR.as_bytes(),
            false,
        );
        let loading = format!("Loading config file {}", down.display());
        let verdict = format!(
            "Failsecure Duo login for '{}' from {PAM_ADDR}: {reason}",
            user.name
        );
        check_lines(
            &run,
            false,
            "",
            with_event,
            &[
                (86, "starting Duo Unix: PAM Duo"),
                (86, &loading),
                (84, &verdict),
            ],
        );
    }
    drop(user);
    let _ = std::fs::remove_dir_all(&dir);
}

/// stderr must be `want` and the syslog messages (libpam's own left out) `syslog`, exactly;
/// with an event, syslog also ends with the event, and in a `debug` run so does stderr.
fn check_lines(run: &Run, debug: bool, want: &str, with_event: bool, syslog: &[(u32, &str)]) {
    let mut got: Vec<(u32, String)> = run
        .received
        .syslog_messages()
        .into_iter()
        .map(|(p, m)| (p, String::from_utf8(m).expect("UTF-8")))
        .filter(|(_, m)| !m.starts_with("PAM "))
        .collect();
    let mut stderr = run.stderr.clone();
    if with_event {
        let ev = got.pop().expect("an event in syslog");
        assert!(ev.1.starts_with("@cee: {"), "{ev:?}");
        if debug {
            let last = stderr
                .trim_end_matches('\n')
                .rsplit_once('\n')
                .map_or(0, |(head, _)| head.len() + 1);
            let line = stderr.split_off(last);
            assert_eq!(line, format!("[{}] {}\n", ev.0 - AUTHPRIV, ev.1));
        }
    }
    assert_eq!(stderr, want, "stderr");
    let want_syslog: Vec<(u32, String)> = syslog.iter().map(|(p, m)| (*p, m.to_string())).collect();
    assert_eq!(got, want_syslog, "syslog");
}
