//! The outage matrix: every fault of the Duo service or the network path, through both
//! frontends (`login_duo`, and `pam_duo.so` loaded by the real libpam through `pamclient`),
//! each with `failmode = safe` and `failmode = secure`.
//!
//! Each run asserts the outcome (exit status and whether the command ran; the PAM code), the
//! log line with its reason text, and the elapsed time against the row's bound. Every run is
//! made twice: with the outage window off (the default) and on (`outage_window`, with a state
//! directory per run). With it on, the window must be open afterwards exactly for the rows
//! whose fault is network-level unreachability, and for those a second login must get the
//! same verdict from memory at once. The README's
//! "How it fails" table is the same matrix; a test checks that every row is named there.
//!
//! Servers are all on loopback: mock Duo services (normal, wrong name, expired, self-signed,
//! silent after TLS), a TCP server that never speaks, a listener whose accept queue is full
//! (its SYNs go unanswered), an `openssl s_server` limited to TLS 1.0/1.1, and a proxy that
//! answers 407. Everything is stopped when the test ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duo_tests::pam_codes::{PAM_ABORT, PAM_MAXTRIES, PAM_SERVICE_ERR, PAM_SUCCESS};
use duo_tests::pty::PtyChild;
use duo_tests::runner::{pam_service, LoginDuo, PamClient};
use duo_tests::users::TempUser;
use duo_tests::{BlackHole, Mock, SilentServer, IKEY, SKEY};

/// `https_timeout` of most rows, in seconds.
const T: u64 = 3;
/// The `/auth` + `/auth_status` bound of one attempt (`duo::flow::attempt::AUTH_STAGE_SECS`).
const AUTH_STAGE: u64 = 75;
/// Slack on every bound: process start, scheduling on a loaded 2-core machine.
const SLACK: u64 = 2;

/// What a row must end in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// `failmode` decides: safe allows (`Failsafe`), secure denies (`Failsecure`).
    Failmode,
    /// Approved: `Successful Duo login`.
    Success,
    /// Duo let the user in without 2FA: `Skipped Duo login`.
    Skipped,
    /// Duo's final answer was no: `Aborted Duo login`, denied in both modes.
    Aborted,
    /// A failure after preauth: `Error in Duo login`, denied in both modes.
    Error,
    /// The user did not complete 2FA: `Failed Duo login`, denied in both modes.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Frontend {
    /// `login_duo` without a terminal (headless: automatic push, synchronous `/auth`).
    LoginDuo,
    /// `login_duo` on a pseudo-terminal (asynchronous `/auth` and `/auth_status` polls).
    LoginDuoTty,
    /// `pam_duo.so` through libpam (asynchronous unless the service is `sshd`).
    Pam,
}

#[derive(Clone)]
struct Row {
    /// The fault, exactly as the README's table names it.
    fault: &'static str,
    /// Config lines that point at the server (host, cafile, http_proxy).
    conn: String,
    /// The Duo username, which picks the mock's scenario.
    user: &'static str,
    expect: Expect,
    /// Text the log line must contain.
    reason: String,
    https_timeout: u64,
    /// Longest allowed time from start to verdict.
    bound: Duration,
    /// PAM service name (`sshd` makes the module use synchronous `/auth`).
    service: Option<&'static str>,
    frontends: &'static [Frontend],
    /// The service is unreachable at the network level: with the outage window on, the
    /// failmode verdict opens it, and the next login gets the verdict from memory.
    opens: bool,
}

const BOTH: &[Frontend] = &[Frontend::LoginDuo, Frontend::Pam];

fn row(fault: &'static str, conn: &str, user: &'static str, expect: Expect, reason: &str) -> Row {
    Row {
        fault,
        conn: conn.to_string(),
        user,
        expect,
        reason: reason.to_string(),
        https_timeout: T,
        bound: Duration::from_secs(T + SLACK),
        service: None,
        frontends: BOTH,
        opens: false,
    }
}

impl Row {
    fn timeout(mut self, secs: u64) -> Row {
        self.https_timeout = secs;
        self.bound = Duration::from_secs(secs + SLACK);
        self
    }
    fn bound(mut self, secs: u64) -> Row {
        self.bound = Duration::from_secs(secs);
        self
    }
    /// Synchronous `/auth`: headless login_duo, and the module under the `sshd` service.
    fn synchronous(mut self) -> Row {
        self.service = Some("sshd");
        self
    }
    /// Asynchronous `/auth` + `/auth_status`: login_duo on a terminal, the module elsewhere.
    fn asynchronous(mut self) -> Row {
        self.frontends = &[Frontend::LoginDuoTty, Frontend::Pam];
        self
    }
    /// Network-level unreachability: opens the outage window when it is on.
    fn opens(mut self) -> Row {
        self.opens = true;
        self
    }
}

/// A port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind")
}

/// Background servers that stop when `stop` is set (and after 10 minutes at the latest).
struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    children: Vec<Child>,
    /// A listener with a full accept queue, kept open (SYNs to it are dropped).
    _full: BlackHole,
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A proxy that answers every request with `reply` and closes, until stopped.
fn refusing_proxy(
    stop: Arc<AtomicBool>,
    reply: &'static str,
) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let t = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(600);
        while !stop.load(Ordering::SeqCst) && Instant::now() < end {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        match s.read(&mut b) {
                            Ok(1) => head.push(b[0]),
                            _ => break,
                        }
                    }
                    let _ = s.write_all(reply.as_bytes());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, t)
}

/// `openssl s_server` that speaks only TLS 1.0 and 1.1, with a self-made certificate for
/// 127.0.0.1 (written to `dir/tls11.pem`, which the row trusts as its `cafile`).
fn tls11_server(dir: &Path) -> (u16, Child, PathBuf) {
    let cert = dir.join("tls11.pem");
    let key = dir.join("tls11.key");
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(st.success(), "openssl req failed");
    let port = closed_port();
    let mut child = Command::new("openssl")
        .args(["s_server", "-quiet", "-no_tls1_2", "-no_tls1_3", "-cipher"])
        .args([
            "DEFAULT:@SECLEVEL=0",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("openssl s_server did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Prove the server really speaks TLS 1.1 (so the row tests the version, nothing else).
    let out = Command::new("timeout")
        .args([
            "10",
            "openssl",
            "s_client",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .args(["-connect", &format!("127.0.0.1:{port}"), "-CAfile"])
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Protocol  : TLSv1.1") || text.contains("TLSv1.1"),
        "the TLS 1.1 server does not speak TLS 1.1:\n{text}"
    );
    (port, child, cert)
}

/// A finished run.
struct Run {
    allowed: bool,
    pam_code: Option<i32>,
    log: String,
    elapsed: Duration,
}

fn write_private(path: &Path, body: &str) {
    duo_tests::write_conf(path, body);
}

/// One run of one row: returns what happened. With `window`, the config turns the outage
/// window on, with a state directory of its own (`state_dir`), and a second run with the same
/// config sees what the first left.
fn run_row(
    dir: &Path,
    idx: usize,
    row: &Row,
    fe: Frontend,
    mode: &str,
    pam_user: &str,
    window: bool,
) -> Run {
    let tag = format!("{idx}-{mode}-{fe:?}-{}", if window { "on" } else { "off" });
    let marker = format!("RAN-{tag}");
    let conf = dir.join(format!("{tag}.conf"));
    let gecos = if fe == Frontend::Pam {
        "send_gecos = yes\n"
    } else {
        ""
    };
    // On a terminal, login_duo's automatic push is synchronous; the menu's push is not.
    let autopush = if fe == Frontend::LoginDuoTty {
        "no"
    } else {
        "yes"
    };
    let outage = if window {
        let state = state_dir(&conf);
        std::fs::create_dir_all(&state).expect("mkdir state");
        format!(
            "outage_window = 60\noutage_state_dir = {}\n",
            state.display()
        )
    } else {
        String::new()
    };
    write_private(
        &conf,
        &format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\n{}\nfailmode = {mode}\nhttps_timeout = {}\n\
             autopush = {autopush}\nprompts = 1\n{gecos}{outage}",
            row.conn, row.https_timeout
        ),
    );
    let limit = row.bound + Duration::from_secs(30);
    match fe {
        Frontend::LoginDuo => {
            let c = LoginDuo::new(&conf)
                .user(row.user)
                .echo(&marker)
                .limit(limit)
                .run();
            assert_eq!(
                c.status.success(),
                c.ran,
                "{}: exit status and command disagree: {}\n{}\n{}",
                row.fault,
                c.status,
                c.stdout,
                c.stderr
            );
            Run {
                allowed: c.allowed,
                pam_code: None,
                log: c.stderr,
                elapsed: c.elapsed,
            }
        }
        Frontend::LoginDuoTty => {
            let start = Instant::now();
            let mut p = PtyChild::spawn(LoginDuo::new(&conf).user(row.user).echo(&marker).cmd())
                .expect("spawn on a pty");
            // Rows that reach the menu pick option 1 (push).
            if p.expect("Passcode or option", limit).is_ok() {
                p.send("1\n");
            }
            let status = p.finish(limit);
            let elapsed = start.elapsed();
            let ran = p.transcript.contains(&marker);
            let exited_ok = status.is_some_and(|s| s.success());
            assert_eq!(
                exited_ok, ran,
                "{}: exit status and command disagree: {status:?}\n{}",
                row.fault, p.transcript
            );
            Run {
                allowed: ran,
                pam_code: None,
                log: p.transcript.clone(),
                elapsed,
            }
        }
        Frontend::Pam => {
            let service = row.service.unwrap_or("duo-fault");
            let confdir = pam_service(&dir.join(format!("pam-{tag}")), service, &conf, "debug");
            let c = PamClient::new(&confdir, service, pam_user)
                .limit(limit)
                .run();
            Run {
                allowed: c.allowed,
                pam_code: c.pam_code,
                log: c.stderr,
                elapsed: c.elapsed,
            }
        }
    }
}

/// The outage window state directory of the run whose config is `conf` (mode 0755, root's).
fn state_dir(conf: &Path) -> PathBuf {
    conf.with_extension("state")
}

/// Whether the outage window of the config `conf` is open now.
fn window_open(conf: &Path, fe: Frontend) -> bool {
    let frontend = match fe {
        Frontend::Pam => duo::config::Frontend::Pam,
        _ => duo::config::Frontend::Login,
    };
    let text = std::fs::read(conf).expect("read config");
    let cfg = duo::config::parse(&text, frontend, &mut |_, _| {}).expect("config parses");
    duo::flow::outage::status(&cfg).is_some()
}

/// Check one run against its row; returns the problems found (empty: it passed).
fn judge(row: &Row, fe: Frontend, mode: &str, pam_user: &str, run: &Run) -> Vec<String> {
    let safe = mode == "safe";
    let (allowed, pam, line) = match row.expect {
        Expect::Failmode if safe => (true, PAM_SUCCESS, "[4] Failsafe Duo login for '"),
        Expect::Failmode => (false, PAM_SERVICE_ERR, "[4] Failsecure Duo login for '"),
        Expect::Success => (true, PAM_SUCCESS, "[6] Successful Duo login for '"),
        Expect::Skipped => (true, PAM_SUCCESS, "[4] Skipped Duo login for '"),
        Expect::Aborted => (false, PAM_ABORT, "[4] Aborted Duo login for '"),
        Expect::Error => (false, PAM_SERVICE_ERR, "[3] Error in Duo login for '"),
        Expect::Failed => (false, PAM_MAXTRIES, "[4] Failed Duo login for '"),
    };
    // "Failed" names the OS user; every other line names the Duo username.
    let who = if row.expect == Expect::Failed && fe == Frontend::Pam {
        pam_user
    } else {
        row.user
    };
    let line = format!("{line}{who}'");
    let mut problems = Vec::new();
    if run.allowed != allowed {
        problems.push(format!("allowed = {}, want {allowed}", run.allowed));
    }
    if fe == Frontend::Pam && run.pam_code != Some(pam) {
        problems.push(format!("PAM code {:?}, want {pam}", run.pam_code));
    }
    let logged = run
        .log
        .lines()
        .any(|l| l.contains(&line) && l.contains(&row.reason));
    if !logged {
        problems.push(format!("no log line with {line:?} and {:?}", row.reason));
    }
    if run.elapsed > row.bound {
        problems.push(format!("took {:?}, bound {:?}", run.elapsed, row.bound));
    }
    problems
}

/// With the outage window on, after the first run of a row: the window is open exactly when
/// the row's fault is network-level unreachability, and then a second login gets the same
/// verdict from memory at once (its log line says so).
fn judge_window(
    dir: &Path,
    idx: usize,
    row: &Row,
    fe: Frontend,
    mode: &str,
    user: &str,
) -> Vec<String> {
    let conf = dir.join(format!("{idx}-{mode}-{fe:?}-on.conf"));
    let open = window_open(&conf, fe);
    if open != row.opens {
        return vec![format!("outage window open = {open}, want {}", row.opens)];
    }
    if !open {
        return Vec::new();
    }
    let memory = Row {
        reason: "Duo service unreachable since ".into(),
        bound: Duration::from_secs(SLACK),
        ..row.clone()
    };
    let again = run_row(dir, idx, row, fe, mode, user, true);
    let mut problems: Vec<String> = judge(&memory, fe, mode, user, &again)
        .into_iter()
        .map(|p| format!("second login: {p}"))
        .collect();
    if !again.log.contains("(outage window)") {
        problems.push(format!(
            "second login: no '(outage window)' in\n{}",
            again.log
        ));
    }
    problems
}

fn rows(s: &Setup) -> Vec<Row> {
    use Expect::*;
    let m = &s.mock;
    let to = |port: u16| format!("host = 127.0.0.1:{port}\ncafile = {}", m.ca.display());
    let ok_conn = to(m.port);
    let mut rows = vec![
        row("Normal approval (control)", &ok_conn, "alice", Success, ""),
        row(
            "Name does not resolve",
            "host = duo-fault-test.invalid",
            "alice",
            Failmode,
            "Couldn't connect to duo-fault-test.invalid: ",
        )
        .opens(),
        row(
            "Connection refused",
            &format!("host = 127.0.0.1:{}", s.refused),
            "alice",
            Failmode,
            &format!("Couldn't connect to 127.0.0.1:{}: ", s.refused),
        )
        .opens(),
        row(
            "Server accepts TCP and never speaks",
            &format!("host = 127.0.0.1:{}", s.silent_tcp.port),
            "alice",
            Failmode,
            "Couldn't connect to 127.0.0.1:",
        )
        .opens(),
        row(
            "TLS completes, no HTTP answer",
            &format!(
                "host = 127.0.0.1:{}\ncafile = {}",
                s.silent_tls.port,
                s.silent_tls.ca.display()
            ),
            "alice",
            Failmode,
            "Couldn't connect to 127.0.0.1:",
        )
        .opens(),
        row(
            "Reply slower than https_timeout",
            &ok_conn,
            "slow-preauth-6",
            Failmode,
            "Couldn't connect to 127.0.0.1:",
        )
        .opens(),
        row(
            "Connection closed mid-reply",
            &ok_conn,
            "close-mid-reply",
            Failmode,
            "Couldn't connect to 127.0.0.1:",
        ),
        row(
            "Certificate for another host name",
            &format!(
                "host = 127.0.0.2:{}\ncafile = {}",
                s.other_name.port,
                s.other_name.ca.display()
            ),
            "alice",
            Failmode,
            "Certificate name validation failed (the certificate is for ",
        )
        .opens(),
        row(
            "Self-signed certificate",
            &format!(
                "host = 127.0.0.1:{}\ncafile = {}",
                s.self_signed.port,
                s.self_signed.ca.display()
            ),
            "alice",
            Failmode,
            "certificate verify failed (unknown certificate authority, or a self-signed certificate)",
        )
        .opens(),
        row(
            "Expired certificate",
            &format!(
                "host = 127.0.0.1:{}\ncafile = {}",
                s.expired.port,
                s.expired.ca.display()
            ),
            "alice",
            Failmode,
            "certificate verify failed (the certificate expired on ",
        )
        .opens(),
        row(
            "Certificate from an untrusted CA",
            &format!("host = 127.0.0.1:{}", m.port),
            "alice",
            Failmode,
            "certificate verify failed",
        )
        .opens(),
        row(
            "Server offers only TLS 1.0/1.1",
            &format!(
                "host = 127.0.0.1:{}\ncafile = {}",
                s.tls11.0,
                s.tls11.1.display()
            ),
            "alice",
            Failmode,
            &format!("Couldn't connect to 127.0.0.1:{}: ", s.tls11.0),
        )
        .opens(),
        row(
            "HTTP 401",
            &ok_conn,
            "401",
            Failmode,
            "Invalid ikey or skey",
        ),
        row("HTTP 403", &ok_conn, "403", Aborted, "HTTP 403"),
        row("HTTP 400", &ok_conn, "400", Aborted, "HTTP 400"),
        row(
            "HTTP 429 with Retry-After",
            &ok_conn,
            "retry-after-1",
            Skipped,
            "preauth-allowed",
        ),
        row(
            "HTTP 429 without Retry-After",
            &ok_conn,
            "rate-limited",
            Skipped,
            "preauth-allowed",
        )
        .timeout(10),
        row(
            "HTTP 429 that never ends",
            &ok_conn,
            "always-429",
            Aborted,
            "HTTP 429",
        )
        .timeout(4),
        row("HTTP 500", &ok_conn, "500", Failmode, "HTTP 500"),
        row("HTTP 502", &ok_conn, "502", Failmode, "HTTP 502"),
        row("HTTP 503", &ok_conn, "503", Failmode, "HTTP 503"),
        row(
            "Body is not JSON",
            &ok_conn,
            "bad-json",
            Failmode,
            "invalid JSON response",
        ),
        row(
            "Body truncated",
            &ok_conn,
            "truncated",
            Failmode,
            "invalid JSON response",
        ),
        row(
            "Body over 1 MiB",
            &ok_conn,
            "oversized",
            Failmode,
            "response body too large",
        ),
        row(
            "No `stat`",
            &ok_conn,
            "preauth-missing-stat",
            Failmode,
            "JSON missing valid 'stat'",
        ),
        row(
            "No `response`",
            &ok_conn,
            "preauth-ok-missing_response",
            Failmode,
            "JSON missing valid 'response'",
        ),
        row(
            "No `result`",
            &ok_conn,
            "preauth-missing-result",
            Failmode,
            "JSON missing valid 'result'",
        ),
        row(
            "No `status_msg`",
            &ok_conn,
            "preauth-allow-bad_response",
            Failmode,
            "JSON missing valid 'status_msg'",
        ),
        row(
            "`stat: FAIL` with a code",
            &ok_conn,
            "preauth-fail",
            Failed,
            "1000: Pre-authentication failed",
        ),
        row(
            "Preauth deny",
            &ok_conn,
            "preauth-deny",
            Aborted,
            "preauth-denied",
        ),
        row(
            "Preauth enroll",
            &ok_conn,
            "enroll",
            Aborted,
            "User enrollment required",
        ),
        row(
            "Preauth allow",
            &ok_conn,
            "preauth-allow",
            Skipped,
            "preauth-allowed",
        ),
        row(
            "`/auth` answers 500",
            &ok_conn,
            "auth-500",
            Error,
            "HTTP 500",
        ),
        // Asynchronous: the one transport attempt waits https_timeout for the txid; a written
        // /auth is never sent again (one push per login).
        row(
            "`/auth` never answers (asynchronous)",
            &ok_conn,
            "silent-auth",
            Error,
            "Couldn't connect to 127.0.0.1:",
        )
        .bound(T + T + SLACK)
        .asynchronous(),
        // Synchronous: the answer is the user's, so only the 75 s stage bound applies.
        row(
            "`/auth` never answers (synchronous)",
            &ok_conn,
            "silent-auth",
            Error,
            "Couldn't connect to 127.0.0.1:",
        )
        .bound(T + AUTH_STAGE + SLACK)
        .synchronous(),
        row(
            "`/auth_status` stuck on waiting",
            &ok_conn,
            "status-waiting",
            Failed,
            "Authentication timed out",
        )
        .bound(T + AUTH_STAGE + SLACK)
        .asynchronous(),
        row(
            "Proxy refuses CONNECT (407)",
            &format!("{ok_conn}\nhttp_proxy = http://127.0.0.1:{}", s.proxy407),
            "alice",
            Failmode,
            "Proxy error: HTTP/1.1 407 Proxy Authentication Required",
        ),
        // A proxy on this host that refuses is no evidence about Duo (D15): any local user
        // could have made it so.
        row(
            "Proxy on this host unreachable",
            &format!("{ok_conn}\nhttp_proxy = http://127.0.0.1:{}", s.refused),
            "alice",
            Error,
            "did not accept the connection",
        ),
    ];
    rows.insert(
        3,
        row(
            "SYN unanswered (packets dropped)",
            &format!("host = 127.0.0.1:{}", s.full_port),
            "alice",
            Failmode,
            "Couldn't connect to 127.0.0.1:",
        )
        .opens(),
    );
    rows
}

struct Setup {
    mock: Mock,
    other_name: Mock,
    self_signed: Mock,
    expired: Mock,
    silent_tls: Mock,
    refused: u16,
    silent_tcp: SilentServer,
    proxy407: u16,
    full_port: u16,
    tls11: (u16, PathBuf),
    _servers: Servers,
}

fn setup(dir: &Path) -> Setup {
    let stop = Arc::new(AtomicBool::new(false));
    let silent_tcp = SilentServer::start();
    let (proxy407, t2) = refusing_proxy(
        stop.clone(),
        "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
    );
    let (tls11_port, tls11_child, tls11_cert) = tls11_server(dir);
    let full = BlackHole::start().unwrap_or_else(|why| panic!("SYN-dropping listener: {why}"));
    let full_port = full.port;
    let mocks = [
        Mock::start(&[]),
        Mock::start(&["--listen", "127.0.0.2:0"]),
        Mock::start(&["--cert", "self-signed"]),
        Mock::start(&["--cert", "expired"]),
        Mock::start(&["--silent"]),
    ];
    for m in &mocks {
        std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let [mock, other_name, self_signed, expired, silent_tls] = mocks;
    Setup {
        mock,
        other_name,
        self_signed,
        expired,
        silent_tls,
        refused: closed_port(),
        silent_tcp,
        proxy407,
        full_port,
        tls11: (tls11_port, tls11_cert),
        _servers: Servers {
            stop,
            threads: vec![t2],
            children: vec![tls11_child],
            _full: full,
        },
    }
}

/// The whole matrix, run on a pool of workers; every failure is collected, then reported.
#[test]
#[ignore = "needs root"]
fn fault_matrix_both_frontends_both_failmodes() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("faults");
    let s = setup(&dir);
    let rows = rows(&s);
    // One OS user per Duo username for the PAM runs (send_gecos maps it to the scenario).
    let mut users: Vec<(String, TempUser)> = Vec::new();
    for r in &rows {
        if !users.iter().any(|(u, _)| u == r.user) {
            users.push((r.user.to_string(), TempUser::create("duofm", r.user)));
        }
    }
    let pam_user = |duo: &str| -> String {
        users
            .iter()
            .find(|(u, _)| u == duo)
            .map(|(_, t)| t.name.clone())
            .expect("user")
    };
    let mut jobs = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        for fe in r.frontends {
            for mode in ["safe", "secure"] {
                for window in [false, true] {
                    jobs.push((i, *fe, mode, pam_user(r.user), window));
                }
            }
        }
    }
    // The slowest rows first, so that they overlap with everything else.
    jobs.sort_by_key(|j| std::cmp::Reverse(rows[j.0].bound));
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let report = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..8 {
            sc.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some((i, fe, mode, user, window)) = jobs.get(n) else {
                    break;
                };
                let row = &rows[*i];
                let run = run_row(&dir, *i, row, *fe, mode, user, *window);
                let mut problems = judge(row, *fe, mode, user, &run);
                if *window {
                    problems.extend(judge_window(&dir, *i, row, *fe, mode, user));
                }
                let verdict_line = run
                    .log
                    .lines()
                    .find(|l| l.contains(" Duo login for '"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                report.lock().expect("lock").push(format!(
                    "{:<45} {:<11} {:<6} {:<10} {:>8.2?} {:<4} {verdict_line}",
                    row.fault,
                    format!("{fe:?}"),
                    mode,
                    if *window { "window on" } else { "window off" },
                    run.elapsed,
                    if problems.is_empty() { "ok" } else { "FAIL" }
                ));
                if !problems.is_empty() {
                    failures.lock().expect("lock").push(format!(
                        "{} / {fe:?} / failmode={mode} / window={window}: {}\n--- log ---\n{}",
                        row.fault,
                        problems.join("; "),
                        run.log
                    ));
                }
            });
        }
    });
    let mut report = report.into_inner().expect("lock");
    report.sort();
    println!("{}", report.join("\n"));
    let failures = failures.into_inner().expect("lock");
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n\n")
    );
    // Every request that reached a mock was signed correctly.
    for m in [&s.mock, &s.other_name] {
        assert!(m.requests().iter().all(|r| r["sig_ok"] == true));
    }
    // README's "How it fails" table names every row of this matrix.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let section = readme
        .split("## How it fails")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("README has a 'How it fails' section");
    let missing: Vec<&str> = rows
        .iter()
        .map(|r| r.fault)
        .filter(|f| !f.contains("control") && !section.contains(&format!("| {f} |")))
        .collect();
    assert!(
        missing.is_empty(),
        "README 'How it fails' lacks rows for: {missing:?}"
    );
    drop(users);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
