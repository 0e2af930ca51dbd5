//! `duo-check` run as a real process: against the mock Duo service for the network, TLS,
//! clock and credentials checks, and on scratch trees (`--root`) for the PAM, sshd and
//! login_duo checks. Every run uses `--json` (parsed here) unless the test is about the
//! other output forms.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duo_tests::{built, run_captured, temp_dir, Captured, Mock, SilentServer, IKEY, SKEY};
use serde_json::Value;

/// `https_timeout` of the configs, in seconds.
const T: u64 = 2;
/// Slack on time bounds: process start and a loaded 2-core machine.
const SLACK: u64 = 3;

/// A scratch tree for `--root`, removed on drop.
struct Tree {
    root: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Tree {
    fn new(files: &[(&str, &str)]) -> Tree {
        let t = Tree {
            root: temp_dir("duo-check-root"),
        };
        for (p, body) in files {
            t.write(p, body);
        }
        t
    }

    fn write(&self, rel: &str, body: &str) -> PathBuf {
        let f = self.root.join(rel);
        std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
        std::fs::write(&f, body).expect("write");
        f
    }
}

/// A Debian-style common-auth without Duo.
const COMMON_AUTH: &str = "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n";
/// sshd set up for pam_duo through keyboard-interactive.
const SSHD_KBDINT: &str =
    "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n";

/// A tree where sshd uses pam_duo correctly.
fn healthy_tree() -> Tree {
    Tree::new(&[
        (
            "etc/pam.d/sshd",
            "@include common-auth\nauth required pam_duo.so\n",
        ),
        ("etc/pam.d/common-auth", COMMON_AUTH),
        ("etc/ssh/sshd_config", SSHD_KBDINT),
        ("usr/lib/x86_64-linux-gnu/security/pam_duo.so", ""),
    ])
}

/// Write a 0600 config named `name` in `dir`.
fn write_conf(dir: &Path, name: &str, body: &str) -> PathBuf {
    duo_tests::write_conf(&dir.join(name), body)
}

/// A pam_duo config for the mock (or any `host:port`; Duo's pinned roots without `ca`), with
/// `extra` lines.
fn conf_for(dir: &Path, host: &str, ca: Option<&Path>, extra: &str) -> PathBuf {
    let cafile = ca.map_or(String::new(), |c| format!("cafile = {}\n", c.display()));
    write_conf(
        dir,
        "pam_duo.conf",
        &format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = {host}\n{cafile}https_timeout = {T}\nfailmode = secure\n{extra}"
        ),
    )
}

/// A port nobody listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind")
}

/// Run duo-check with `args` (and `--json` unless `json` is false).
fn duo_check(args: &[&str], json: bool) -> Captured {
    let mut cmd = Command::new(built("duo-check"));
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(args);
    if json {
        cmd.arg("--json");
    }
    let c = run_captured(cmd, Duration::from_secs(120));
    assert!(!c.killed, "duo-check ran for 120 s and was killed");
    c
}

/// Run with `--json`; the exit code and the parsed report.
fn report(args: &[&str]) -> (i32, Value, Captured) {
    let c = duo_check(args, true);
    let j: Value = serde_json::from_slice(&c.stdout).unwrap_or_else(|e| {
        panic!(
            "duo-check --json printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&c.stdout),
            String::from_utf8_lossy(&c.stderr)
        )
    });
    (c.status.code().unwrap_or(-1), j, c)
}

/// The rows of one check: (status, subject, finding, fix).
fn rows(j: &Value, check: &str) -> Vec<(String, String, String, String)> {
    j["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .filter(|r| r["check"] == check)
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("status"), s("subject"), s("finding"), s("fix"))
        })
        .collect()
}

/// Assert a row of `check` with `status` whose finding contains every one of `texts`;
/// return its finding and fix.
fn expect_row(j: &Value, check: &str, status: &str, texts: &[&str]) -> (String, String) {
    rows(j, check)
        .into_iter()
        .find(|(st, _, f, _)| st == status && texts.iter().all(|t| f.contains(t)))
        .map(|(_, _, f, x)| (f, x))
        .unwrap_or_else(|| {
            panic!(
                "no {status} row of {check} containing {texts:?}:\n{}",
                serde_json::to_string_pretty(j).unwrap_or_default()
            )
        })
}

fn pretty(j: &Value) -> String {
    serde_json::to_string_pretty(j).unwrap_or_default()
}

/// Every row of `check` has this status.
fn all_rows(j: &Value, check: &str, status: &str) {
    let r = rows(j, check);
    assert!(!r.is_empty(), "no {check} rows:\n{}", pretty(j));
    assert!(
        r.iter().all(|(s, ..)| s == status),
        "{check} rows not all {status}:\n{}",
        pretty(j)
    );
}

fn root_arg(t: &Tree) -> String {
    t.root.display().to_string()
}

#[test]
#[ignore = "needs root"]
fn healthy_host_is_all_ok_and_json_names_every_check() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let tree = healthy_tree();
    let conf = conf_for(&m.dir, &format!("127.0.0.1:{}", m.port), Some(&m.ca), "");
    let c = conf.display().to_string();
    let (code, j, out) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    let statuses: BTreeSet<&str> = j["checks"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["ok"]), "{}", pretty(&j));
    assert_eq!(
        (code, j["exit"].as_i64(), j["status"].as_str()),
        (0, Some(0), Some("ok"))
    );
    let names: BTreeSet<&str> = j["checks"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["check"].as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "config",
            "network",
            "tls",
            "clock",
            "credentials",
            "pam",
            "sshd",
            "login_duo",
            "selinux"
        ])
    );
    expect_row(
        &j,
        "tls",
        "ok",
        &[
            "verified against the CA certificates in cafile",
            "issued by CN=mockduo test CA",
            "expires ",
        ],
    );
    expect_row(
        &j,
        "network",
        "ok",
        &["127.0.0.1 is an address", "TCP connect to 127.0.0.1:"],
    );
    expect_row(&j, "clock", "ok", &["agree within"]);
    expect_row(
        &j,
        "credentials",
        "ok",
        &["accepted a signed GET /auth/v2/check"],
    );
    expect_row(
        &j,
        "pam",
        "ok",
        &[
            "pam_duo.so 'required' at /etc/pam.d/sshd:2",
            "auth module 4 of 4",
        ],
    );
    expect_row(&j, "config", "ok", &["owner root, mode 0600, parses"]);
    let reqs = m.requests();
    let seen: Vec<(&str, bool)> = reqs
        .iter()
        .map(|r| (r["path"].as_str().unwrap_or(""), r["sig_ok"] == true))
        .collect();
    assert_eq!(seen, [("/auth/v2/ping", true), ("/auth/v2/check", true)]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SKEY));

    // The table: no colour when not on a terminal, a fix line only for problems.
    let t = duo_check(&["--conf", &c, "--root", &root_arg(&tree)], false);
    let text = String::from_utf8_lossy(&t.stdout);
    assert_eq!(t.status.code(), Some(0), "{text}");
    assert!(!text.contains('\x1b') && !text.contains("fix:"), "{text}");
    assert!(text.contains("ok      credentials  127.0.0.1:"), "{text}");
    assert!(text.contains("\n0 errors, 0 warnings, "), "{text}");
    // Quiet: nothing at all, same status.
    let q = duo_check(
        &["--conf", &c, "--root", &root_arg(&tree), "--quiet"],
        false,
    );
    assert_eq!(
        (q.status.code(), q.stdout.len(), q.stderr.len()),
        (Some(0), 0, 0)
    );
}

#[test]
#[ignore = "needs root"]
fn wrong_skey_is_a_credentials_error_and_never_printed() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let tree = healthy_tree();
    let wrong = "WRONGskeyMARKERwrongSKEYmarker0123456789";
    let body = format!(
        "[duo]\nikey = {IKEY}\nskey = {wrong}\nhost = 127.0.0.1:{}\ncafile = {}\nhttps_timeout = {T}\n",
        m.port,
        m.ca.display()
    );
    let c = write_conf(&m.dir, "pam_duo.conf", &body)
        .display()
        .to_string();
    let (code, j, out) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    let (_, fix) = expect_row(
        &j,
        "credentials",
        "error",
        &[
            "HTTP 401",
            "wrong ikey/skey, or this integration is not for this API host",
        ],
    );
    assert!(fix.contains("Duo Admin Panel"), "{fix}");
    expect_row(&j, "clock", "warning", &["HTTP 401"]);
    let table = duo_check(&["--conf", &c, "--root", &root_arg(&tree)], false);
    for o in [&out, &table] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !all.contains(wrong) && !all.contains(SKEY),
            "the skey was printed:\n{all}"
        );
    }
    assert_eq!(table.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&table.stdout).contains("fix: copy the integration key"));
}

#[test]
#[ignore = "needs root"]
fn a_clock_ten_minutes_off_is_a_clock_error() {
    duo_tests::require_root();
    let m = Mock::start(&["--clock-offset", "600"]);
    let tree = healthy_tree();
    let c = conf_for(&m.dir, &format!("127.0.0.1:{}", m.port), Some(&m.ca), "")
        .display()
        .to_string();
    let (code, j, _) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    let (f, fix) = expect_row(
        &j,
        "clock",
        "error",
        &["s behind Duo's", "rejects signed requests"],
    );
    let secs: i64 = f
        .split("clock is ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {f}"));
    assert!((598..=602).contains(&secs), "{f}");
    assert!(fix.contains("NTP"), "{fix}");
    // The credentials call carries the corrected date (the mock refuses a skewed one).
    expect_row(&j, "credentials", "ok", &["accepted"]);
}

#[test]
#[ignore = "needs root"]
fn an_expired_certificate_names_its_date() {
    duo_tests::require_root();
    let m = Mock::start(&["--cert", "expired"]);
    let tree = healthy_tree();
    let c = conf_for(&m.dir, &format!("127.0.0.1:{}", m.port), Some(&m.ca), "")
        .display()
        .to_string();
    let (code, j, _) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    expect_row(
        &j,
        "tls",
        "error",
        &[
            "certificate expired",
            "CN=localhost",
            "issued by CN=mockduo test CA",
            "expired on 2020-01-01",
        ],
    );
    expect_row(&j, "clock", "warning", &["not checked"]);
    expect_row(&j, "credentials", "warning", &["not checked"]);
}

#[test]
#[ignore = "needs root"]
fn a_certificate_expiring_within_30_days_is_a_warning() {
    duo_tests::require_root();
    let m = Mock::start(&["--cert", "expiring"]);
    let tree = healthy_tree();
    let c = conf_for(&m.dir, &format!("127.0.0.1:{}", m.port), Some(&m.ca), "")
        .display()
        .to_string();
    let (code, j, _) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 1, "{}", pretty(&j));
    let (f, _) = expect_row(
        &j,
        "tls",
        "warning",
        &[
            "verified against",
            "the server's certificate expires within 30 days",
        ],
    );
    assert!(
        f.contains("(in 9 days)") || f.contains("(in 10 days)"),
        "{f}"
    );
    expect_row(&j, "credentials", "ok", &["accepted"]);
}

#[test]
#[ignore = "needs root"]
fn a_certificate_from_an_unknown_ca_names_the_issuer_and_expiry() {
    duo_tests::require_root();
    let m = Mock::start(&["--cert", "self-signed"]);
    let tree = healthy_tree();
    let c = conf_for(&m.dir, &format!("127.0.0.1:{}", m.port), Some(&m.ca), "")
        .display()
        .to_string();
    let (code, j, _) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    let (f, fix) = expect_row(
        &j,
        "tls",
        "error",
        &[
            "not issued by the CA certificates in cafile",
            "the host sees CN=localhost, issued by CN=localhost",
            "intercepting proxy",
        ],
    );
    let date = f
        .split("expires ")
        .nth(1)
        .unwrap_or_else(|| panic!("no expiry in {f}"));
    let d = date.as_bytes();
    assert!(
        d.len() >= 10 && d[4] == b'-' && d[7] == b'-' && d[..4].iter().all(u8::is_ascii_digit),
        "{f}"
    );
    assert!(fix.contains("cafile"), "{fix}");
}

#[test]
#[ignore = "needs root"]
fn a_refused_port_is_a_network_error_at_once() {
    duo_tests::require_root();
    let tree = healthy_tree();
    let dir = temp_dir("duo-check-refused");
    let port = closed_port();
    let c = conf_for(&dir, &format!("127.0.0.1:{port}"), None, "")
        .display()
        .to_string();
    let (code, j, out) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    expect_row(&j, "network", "error", &["connection refused"]);
    for check in ["tls", "clock", "credentials"] {
        all_rows(&j, check, "warning");
    }
    assert!(
        out.elapsed < Duration::from_secs(SLACK + 2),
        "{:?}",
        out.elapsed
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root"]
fn a_silent_server_is_a_network_error_within_the_bound() {
    duo_tests::require_root();
    let tree = healthy_tree();
    // TCP accepted, not one byte back.
    let silent = SilentServer::start();
    let dir = temp_dir("duo-check-silent");
    let c = conf_for(&dir, &format!("127.0.0.1:{}", silent.port), None, "")
        .display()
        .to_string();
    let (code, j, out) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    expect_row(
        &j,
        "network",
        "error",
        &[&format!("the server sent nothing within {T} s")],
    );
    // The row's text says the wait ran to its end; the time is bounded from above only.
    assert!(
        out.elapsed < Duration::from_secs(T + SLACK),
        "{:?}",
        out.elapsed
    );
    drop(silent);

    // TLS completes, then no answer to the ping: bounded by the TLS and ping steps.
    let m = Mock::start(&["--silent"]);
    let c = conf_for(&m.dir, &format!("127.0.0.1:{}", m.port), Some(&m.ca), "")
        .display()
        .to_string();
    let (code, j, out) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    expect_row(
        &j,
        "clock",
        "error",
        &[&format!("no answer to GET /auth/v2/ping within {T} s")],
    );
    expect_row(&j, "credentials", "warning", &["not checked"]);
    assert!(
        out.elapsed < Duration::from_secs(2 * T + SLACK),
        "{:?}",
        out.elapsed
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A proxy that answers every CONNECT with 407; stopped on drop.
struct Proxy407 {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy407 {
    fn start() -> Proxy407 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
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
                let _ = s.write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
                );
            }
        });
        Proxy407 {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Proxy407 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
#[ignore = "needs root"]
fn a_proxy_answering_407_is_a_network_error_with_its_fix() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let tree = healthy_tree();
    let proxy = Proxy407::start();
    let c = conf_for(
        &m.dir,
        &format!("127.0.0.1:{}", m.port),
        Some(&m.ca),
        &format!("http_proxy = http://127.0.0.1:{}\n", proxy.port),
    )
    .display()
    .to_string();
    let (code, j, _) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2, "{}", pretty(&j));
    let (_, fix) = expect_row(
        &j,
        "network",
        "error",
        &[
            &format!(
                "the proxy 127.0.0.1:{} answered CONNECT 127.0.0.1:{}",
                proxy.port, m.port
            ),
            "407 Proxy Authentication Required",
            "it wants credentials",
        ],
    );
    assert!(fix.contains("http://user:password@proxy:port"), "{fix}");
    assert!(m.requests().is_empty(), "nothing reached the mock");
}

/// A proxy on this host served by an ordinary user is a network warning (D15); the same proxy
/// address served by root is not.
#[test]
#[ignore = "needs root"]
fn a_local_proxy_served_by_an_ordinary_user_is_a_warning() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let tree = healthy_tree();
    let conf = |port: u16| {
        conf_for(
            &m.dir,
            &format!("127.0.0.1:{}", m.port),
            Some(&m.ca),
            &format!("http_proxy = http://127.0.0.1:{port}\n"),
        )
        .display()
        .to_string()
    };
    let warned = |j: &Value| {
        rows(j, "network")
            .iter()
            .any(|(st, _, f, _)| st == "warning" && f.contains("on this host is served by"))
    };
    // Root's proxy: no such warning.
    let root = Proxy407::start();
    let (_, j, _) = report(&["--conf", &conf(root.port), "--root", &root_arg(&tree)]);
    assert!(!warned(&j), "{}", pretty(&j));
    // An ordinary user's listener on the proxy's address.
    let user = duo_tests::users::TempUser::create("duock", "duo-check proxy test");
    let mut squatter = Command::new("setpriv")
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .args(["--clear-groups", "--", "/usr/bin/python3", "-c"])
        .arg(
            "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(8)\n\
             print(s.getsockname()[1],flush=True)\ntime.sleep(60)\n",
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the user's listener");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let out = squatter.stdout.take().expect("stdout");
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let port: u16 = line.trim().parse().expect("the listener's port");
    let (_, j, _) = report(&["--conf", &conf(port), "--root", &root_arg(&tree)]);
    let _ = squatter.kill();
    let _ = squatter.wait();
    let (finding, fix) = expect_row(
        &j,
        "network",
        "warning",
        &[&format!(
            "the proxy at 127.0.0.1:{port} on this host is served by uid {}",
            user.uid
        )],
    );
    assert!(finding.contains(&user.name), "{finding}");
    assert!(fix.contains("root or as a system account"), "{fix}");
}

/// Run the PAM/sshd/login_duo checks on a tree, with a config whose network check fails at
/// once (a refused port).
fn scratch(tree: &Tree, extra_args: &[&str]) -> (i32, Value) {
    let dir = temp_dir("duo-check-scratch");
    let c = conf_for(&dir, &format!("127.0.0.1:{}", closed_port()), None, "")
        .display()
        .to_string();
    let root = root_arg(tree);
    let mut args = vec!["--conf", &c, "--root", &root];
    args.extend_from_slice(extra_args);
    let (code, j, _) = report(&args);
    let _ = std::fs::remove_dir_all(&dir);
    (code, j)
}

/// The pam rows about sshd's stack.
fn sshd_stack(j: &Value) -> Vec<(String, String, String, String)> {
    rows(j, "pam")
        .into_iter()
        .filter(|r| r.1 == "sshd")
        .collect()
}

#[test]
#[ignore = "needs root"]
fn pam_stacks_missing_after_sufficient_optional_and_correct() {
    duo_tests::require_root();
    let module = ("usr/lib/x86_64-linux-gnu/security/pam_duo.so", "");
    // Missing, while sshd runs PAM keyboard-interactive.
    let t = Tree::new(&[
        ("etc/pam.d/sshd", "@include common-auth\n"),
        ("etc/pam.d/common-auth", COMMON_AUTH),
        ("etc/ssh/sshd_config", SSHD_KBDINT),
    ]);
    let (_, j) = scratch(&t, &[]);
    let (_, fix) = expect_row(
        &j,
        "pam",
        "error",
        &["its auth stack has no pam_duo.so: SSH logins skip Duo"],
    );
    assert!(fix.contains("auth required pam_duo.so"), "{fix}");

    // After a sufficient pam_unix.
    let t = Tree::new(&[
        (
            "etc/pam.d/sshd",
            "auth sufficient pam_unix.so\nauth required pam_duo.so\n",
        ),
        ("etc/ssh/sshd_config", SSHD_KBDINT),
        module,
    ]);
    let (_, j) = scratch(&t, &[]);
    let (_, fix) = expect_row(
        &j,
        "pam",
        "error",
        &[
            "'sufficient pam_unix.so' at /etc/pam.d/sshd:1",
            "ends the stack with success before pam_duo.so (/etc/pam.d/sshd:2) runs",
            "without Duo",
        ],
    );
    assert!(fix.contains("move pam_duo.so above this line"), "{fix}");

    // Optional.
    let t = Tree::new(&[
        (
            "etc/pam.d/sshd",
            "auth required pam_unix.so\nauth optional pam_duo.so\n",
        ),
        ("etc/ssh/sshd_config", SSHD_KBDINT),
        module,
    ]);
    let (_, j) = scratch(&t, &[]);
    let (_, fix) = expect_row(
        &j,
        "pam",
        "error",
        &[
            "pam_duo.so is 'optional' at /etc/pam.d/sshd:2",
            "a failed Duo check is ignored",
        ],
    );
    assert!(fix.contains("required"), "{fix}");

    // Correct, through common-auth's jump (and a sudo stack with Duo after the password).
    let t = Tree::new(&[
        (
            "etc/pam.d/sshd",
            "@include common-auth\nauth required pam_duo.so\n",
        ),
        (
            "etc/pam.d/sudo",
            "@include common-auth\nauth required pam_duo.so conf=/etc/duo/sudo.conf\n",
        ),
        ("etc/duo/sudo.conf", ""),
        ("etc/pam.d/common-auth", COMMON_AUTH),
        ("etc/ssh/sshd_config", SSHD_KBDINT),
        module,
    ]);
    let (_, j) = scratch(&t, &[]);
    all_rows(&j, "pam", "ok");
    assert_eq!(sshd_stack(&j).len(), 1, "{}", pretty(&j));
    expect_row(
        &j,
        "pam",
        "ok",
        &["pam_duo.so 'required' at /etc/pam.d/sudo:2"],
    );
    expect_row(
        &j,
        "pam",
        "ok",
        &["installed at /usr/lib/x86_64-linux-gnu/security/pam_duo.so"],
    );
    all_rows(&j, "sshd", "ok");

    // A conf= that does not exist, and the module file missing.
    let t = Tree::new(&[
        (
            "etc/pam.d/sshd",
            "auth required pam_unix.so\nauth required pam_duo.so conf=/etc/duo/nope.conf\n",
        ),
        ("etc/ssh/sshd_config", SSHD_KBDINT),
    ]);
    let (_, j) = scratch(&t, &[]);
    expect_row(
        &j,
        "pam",
        "error",
        &["conf=/etc/duo/nope.conf, which does not exist"],
    );
    expect_row(
        &j,
        "pam",
        "error",
        &["pam_duo.so (used at /etc/pam.d/sshd:2) is not installed"],
    );
}

#[test]
#[ignore = "needs root"]
fn sshd_without_keyboard_interactive_is_an_error() {
    duo_tests::require_root();
    let t = Tree::new(&[
        (
            "etc/pam.d/sshd",
            "@include common-auth\nauth required pam_duo.so\n",
        ),
        ("etc/pam.d/common-auth", COMMON_AUTH),
        (
            "etc/ssh/sshd_config",
            "UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication yes\n",
        ),
        ("usr/lib/x86_64-linux-gnu/security/pam_duo.so", ""),
    ]);
    let (code, j) = scratch(&t, &[]);
    assert_eq!(code, 2);
    let (_, fix) = expect_row(
        &j,
        "sshd",
        "error",
        &[
            "KbdInteractiveAuthentication no",
            "cannot show the Duo prompt",
        ],
    );
    assert!(fix.contains("KbdInteractiveAuthentication yes"), "{fix}");
    expect_row(
        &j,
        "sshd",
        "warning",
        &["AuthenticationMethods any", "publickey"],
    );
    // The settings came from sshd -T when it could run, else from the file (and it says so).
    let (_, _, source, _) = rows(&j, "sshd")
        .into_iter()
        .find(|r| r.2.starts_with("settings from"))
        .expect("source row");
    assert!(
        source.contains("`sshd -T` on") || source.contains("read directly (`sshd -T` failed:"),
        "{source}"
    );
}

#[test]
#[ignore = "needs root"]
fn login_duo_without_setuid_and_its_config_owner() {
    duo_tests::require_root();
    let t = Tree::new(&[
        ("etc/pam.d/sshd", "@include common-auth\n"),
        ("etc/pam.d/common-auth", COMMON_AUTH),
        (
            "etc/ssh/sshd_config",
            "UsePAM yes\nKbdInteractiveAuthentication no\nForceCommand /usr/sbin/login_duo\nAllowTcpForwarding no\nPermitTunnel no\n",
        ),
    ]);
    let bin = t.write("usr/sbin/login_duo", "not really login_duo\n");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = temp_dir("duo-check-login");
    let login_conf = write_conf(
        &dir,
        "login_duo.conf",
        &format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{}\nhttps_timeout = {T}\n",
            closed_port()
        ),
    );
    let lc = login_conf.display().to_string();
    let root = root_arg(&t);
    let (code, j, _) = report(&["--conf", &lc, "--root", &root]);
    assert_eq!(code, 2);
    let (_, fix) = expect_row(&j, "login_duo", "error", &["is not setuid (mode 0755)"]);
    assert_eq!(
        fix,
        "chown root:root /usr/sbin/login_duo && chmod 4755 /usr/sbin/login_duo"
    );
    expect_row(
        &j,
        "sshd",
        "error",
        &["ForceCommand runs /usr/sbin/login_duo, which is not setuid"],
    );
    expect_row(
        &j,
        "pam",
        "ok",
        &["SSH logins use login_duo (ForceCommand)"],
    );

    // Setuid now, but the config is root's: the privsep user cannot read it.
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
    let (_, j, _) = report(&["--conf", &lc, "--root", &root]);
    expect_row(&j, "login_duo", "ok", &["owner root, setuid"]);
    expect_row(
        &j,
        "sshd",
        "ok",
        &["ForceCommand runs /usr/sbin/login_duo (root-owned, setuid)"],
    );
    let (_, fix) = expect_row(
        &j,
        "login_duo",
        "error",
        &[
            "'sshd' cannot read it (owner root, mode 0600)",
            "every login is denied",
        ],
    );
    assert!(fix.starts_with("chown sshd "), "{fix}");

    // Owned by sshd: readable, and an accepted owner for login_duo.conf.
    let sshd = uid_of("sshd");
    std::os::unix::fs::chown(&login_conf, Some(sshd), None).expect("chown");
    let (_, j, _) = report(&["--conf", &lc, "--root", &root]);
    all_rows(&j, "login_duo", "ok");
    expect_row(&j, "config", "ok", &["owner sshd, mode 0600, parses"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The uid of a local account (from /etc/passwd).
fn uid_of(name: &str) -> u32 {
    std::fs::read_to_string("/etc/passwd")
        .expect("passwd")
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name))
                .then(|| f[2].parse().ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no user {name}"))
}

#[test]
#[ignore = "needs root"]
fn config_problems_are_listed_with_their_lines() {
    duo_tests::require_root();
    let tree = healthy_tree();
    let dir = temp_dir("duo-check-conf");
    let p = dir.join("pam_duo.conf");
    std::fs::write(
        &p,
        format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = h.example\nfailmode = open\nmotd = yes\n"
        ),
    )
    .expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let c = p.display().to_string();
    let missing = dir.join("nope.conf").display().to_string();
    let (code, j, out) = report(&["--conf", &c, "--conf", &missing, "--root", &root_arg(&tree)]);
    assert_eq!(code, 2);
    let (_, fix) = expect_row(
        &j,
        "config",
        "error",
        &["mode 0640: readable or writable by group or others"],
    );
    assert_eq!(fix, format!("chmod 600 {c}"));
    expect_row(&j, "config", "error", &["line 5: Invalid failmode: 'open'"]);
    expect_row(
        &j,
        "config",
        "error",
        &["line 6: Invalid pam_duo option: 'motd'"],
    );
    expect_row(
        &j,
        "config",
        "error",
        &["does not exist (named with --conf)"],
    );
    all_rows(&j, "network", "warning");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SKEY));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIFO, a link to /dev/zero and a 100 MiB file named with --conf are reported at once as
/// what they are (issue 20): duo-check opens a config the way the programs do, without
/// blocking, and reads only a regular file of at most 64 KiB.
#[test]
#[ignore = "needs root"]
fn odd_config_files_are_reported_not_read() {
    duo_tests::require_root();
    let tree = healthy_tree();
    let dir = temp_dir("duo-check-odd");
    let fifo = dir.join("fifo.conf");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let zero = dir.join("zero.conf");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let big = dir.join("big.conf");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(100 << 20))
        .expect("sparse file");
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let [f, z, b] = [&fifo, &zero, &big].map(|p| p.display().to_string());
    let start = std::time::Instant::now();
    let (code, j, _) = report(&[
        "--conf",
        &f,
        "--conf",
        &z,
        "--conf",
        &b,
        "--root",
        &root_arg(&tree),
    ]);
    assert_eq!(code, 2, "{}", pretty(&j));
    for (subject, what) in [
        (&f, "not a regular file (a FIFO)"),
        (&z, "not a regular file (a character device)"),
        (&b, "104857600 bytes, more than the 65536 allowed"),
    ] {
        let found = rows(&j, "config").into_iter().any(|(st, sub, finding, _)| {
            st == "error" && &sub == subject && finding.contains(what)
        });
        assert!(found, "no error `{what}` for {subject}:\n{}", pretty(&j));
    }
    // Bounded from above only: the FIFO must not block (other checks run too, so the bound is
    // loose; a blocking open would never return).
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root"]
fn colour_only_on_a_terminal() {
    duo_tests::require_root();
    let tree = healthy_tree();
    let dir = temp_dir("duo-check-colour");
    let c = conf_for(&dir, &format!("127.0.0.1:{}", closed_port()), None, "")
        .display()
        .to_string();
    let mut cmd = Command::new(built("duo-check"));
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(["--conf", &c, "--root", &root_arg(&tree)]);
    let mut t = duo_tests::pty::PtyChild::spawn(cmd).expect("pty");
    t.expect("\x1b[32mok     \x1b[0m config", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    t.expect("\x1b[1;31merror  \x1b[0m network", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let status = t.finish(Duration::from_secs(30)).expect("exit");
    assert_eq!(status.code(), Some(2));
    // The same run without a terminal has no escape sequences (see the healthy test), and
    // --json never has any.
    let (_, j, out) = report(&["--conf", &c, "--root", &root_arg(&tree)]);
    assert!(!out.stdout.contains(&0x1b), "{}", pretty(&j));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root"]
fn usage_errors_exit_2() {
    duo_tests::require_root();
    let c = duo_check(&["--frobnicate"], false);
    assert_eq!(c.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&c.stderr).contains("usage: duo-check"));
    let c = duo_check(&["--version"], false);
    assert_eq!(c.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&c.stdout).trim(),
        format!("duo-check {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Run by the package test (tests/packaging/test-packages.sh) after `dpkg -i`: the installed
/// /usr/sbin/duo-check with the installed sample configs, which have no keys yet.
#[test]
#[ignore = "needs the installed package; run by tests/packaging/test-packages.sh"]
fn installed_duo_check() {
    duo_tests::require_root();
    let bin = Path::new("/usr/sbin/duo-check");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .args(args);
        let c = run_captured(cmd, Duration::from_secs(120));
        assert!(!c.killed, "the installed duo-check ran for 120 s");
        c
    };
    let c = run(&["--json"]);
    let j: Value = serde_json::from_slice(&c.stdout).expect("JSON");
    assert_eq!(
        (c.status.code(), j["exit"].as_i64()),
        (Some(2), Some(2)),
        "{}",
        pretty(&j)
    );
    let names: BTreeSet<&str> = j["checks"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["check"].as_str())
        .collect();
    assert_eq!(names.len(), 9, "{}", pretty(&j));
    expect_row(
        &j,
        "config",
        "error",
        &["host, ikey, skey missing or empty"],
    );
    expect_row(&j, "login_duo", "ok", &["owner root, setuid"]);
    expect_row(
        &j,
        "login_duo",
        "ok",
        &["'sshd' can read /etc/duo/login_duo.conf"],
    );
    let t = run(&[]);
    assert_eq!(t.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&t.stdout).contains("fix: copy the integration key"));
    let v = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("duo-check {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The outage window (issue: outage memory): duo-check says whether it is off, closed or open,
/// reading the state that a login left, and creates nothing.
#[test]
#[ignore = "needs root"]
fn the_outage_window_is_shown() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("check-outage");
    let state = dir.join("state");
    std::fs::create_dir(&state).expect("mkdir state");
    let hole = match duo_tests::BlackHole::start() {
        Ok(h) => h,
        Err(e) => panic!("cannot make a black hole here: {e}"),
    };
    let host = format!("127.0.0.1:{}", hole.port);
    let extra = format!(
        "outage_window = 60\noutage_state_dir = {}\n",
        state.display()
    );
    let conf = conf_for(&dir, &host, None, &extra);
    let p = conf.display().to_string();
    let window = |j: &Value| {
        rows(j, "network")
            .into_iter()
            .find(|r| r.1.ends_with("outage window"))
            .unwrap_or_else(|| panic!("no outage window row:\n{}", pretty(j)))
    };
    // Closed: no login has met the outage yet.
    let (_, j, _) = report(&["--conf", &p]);
    let row = window(&j);
    assert_eq!(row.0, "ok", "{row:?}");
    assert!(row.2.starts_with("closed"), "{row:?}");
    // A login meets the black hole, which opens the window.
    let mut login = duo_tests::login_duo_echo(&conf, "alice", "RAN-outage");
    login.stdin(std::process::Stdio::null());
    let out = run_captured(login, Duration::from_secs(30));
    assert!(!out.status.success(), "failmode secure denies");
    let (_, j, _) = report(&["--conf", &p]);
    let row = window(&j);
    assert_eq!(row.0, "warning", "{row:?}");
    assert!(row.2.starts_with("OPEN: Duo unreachable since "), "{row:?}");
    // Off.
    let off = conf_for(&dir, &host, None, "outage_window = 0\n");
    let (_, j, _) = report(&["--conf", &off.display().to_string()]);
    let row = window(&j);
    assert_eq!(
        (row.0.as_str(), row.2.as_str()),
        ("ok", "off (outage_window = 0)")
    );
    drop(hole);
    let _ = std::fs::remove_dir_all(&dir);
}
