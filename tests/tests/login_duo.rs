//! `login_duo` run as a real process against the mock Duo service.
//!
//! These tests run as root: root may use `-c` and `-f`, so most of them run login_duo in its
//! single-process mode with a private config and pick the mock scenario through `-f`. The
//! setuid test installs a root-owned 4755 copy and runs it as an unprivileged user.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use duo_tests::pty::PtyChild;
use duo_tests::runner::{Login, LoginDuo};
use duo_tests::{Mock, PrivateEtc};
use serde_json::Value;

use duo_tests::{IKEY, SKEY};

fn mock() -> Mock {
    Mock::start(&[])
}

use duo_tests::{mock_conf as conf, write_conf};

/// A headless login that must finish within its limit.
fn finished(run: Login) -> Login {
    assert!(
        !run.killed,
        "process ran longer than its limit and was killed ({})",
        run.status
    );
    run
}

/// login_duo -d -c <conf> -f <user> -- echo <marker>, headless, with a clean environment.
fn login(conf: &Path, user: &str, marker: &str, env: &[(&str, &str)]) -> Login {
    let mut l = LoginDuo::new(conf).user(user).echo(marker);
    for (k, v) in env {
        l = l.env(k, v);
    }
    finished(l.limit(Duration::from_secs(60)).run())
}

fn text(b: impl AsRef<[u8]>) -> String {
    String::from_utf8_lossy(b.as_ref()).into_owned()
}

fn requests_for<'a>(reqs: &'a [Value], path: &str, user: &str) -> Vec<&'a Value> {
    reqs.iter()
        .filter(|r| r["path"] == path && r["params"]["username"] == user)
        .collect()
}

struct Row {
    user: &'static str,
    /// Allowed with failmode safe / secure.
    allowed: (bool, bool),
    /// Expected log line with failmode safe / secure.
    log: (&'static str, &'static str),
}

/// Every row of the docs/BEHAVIOUR.md §8 table that the mock can produce, with both failmodes.
#[test]
#[ignore = "needs root"]
fn failmode_matrix() {
    duo_tests::require_root();
    let m = mock();
    let rows = [
        Row { user: "alice", allowed: (true, true), log: ("[6] Successful Duo login for 'alice'", "[6] Successful Duo login for 'alice'") },
        Row { user: "preauth-allow", allowed: (true, true), log: ("[4] Skipped Duo login for 'preauth-allow' from 203.0.113.9: preauth-allowed", "[4] Skipped Duo login for 'preauth-allow' from 203.0.113.9: preauth-allowed") },
        Row { user: "preauth-deny", allowed: (false, false), log: ("[4] Aborted Duo login for 'preauth-deny' from 203.0.113.9: preauth-denied", "[4] Aborted Duo login for 'preauth-deny' from 203.0.113.9: preauth-denied") },
        Row { user: "enroll", allowed: (false, false), log: ("[4] Aborted Duo login for 'enroll' from 203.0.113.9: User enrollment required", "[4] Aborted Duo login for 'enroll' from 203.0.113.9: User enrollment required") },
        Row { user: "preauth-fail", allowed: (false, false), log: ("[4] Failed Duo login for 'preauth-fail' from 203.0.113.9: 1000: Pre-authentication failed", "[4] Failed Duo login for 'preauth-fail' from 203.0.113.9: 1000: Pre-authentication failed") },
        Row { user: "401", allowed: (true, false), log: ("[4] Failsafe Duo login for '401' from 203.0.113.9: Invalid ikey or skey", "[4] Failsecure Duo login for '401' from 203.0.113.9: Invalid ikey or skey") },
        Row { user: "500", allowed: (true, false), log: ("[4] Failsafe Duo login for '500' from 203.0.113.9: HTTP 500", "[4] Failsecure Duo login for '500' from 203.0.113.9: HTTP 500") },
        Row { user: "503", allowed: (true, false), log: ("[4] Failsafe Duo login for '503' from 203.0.113.9: HTTP 503", "[4] Failsecure Duo login for '503' from 203.0.113.9: HTTP 503") },
        Row { user: "400", allowed: (false, false), log: ("[4] Aborted Duo login for '400' from 203.0.113.9: HTTP 400", "[4] Aborted Duo login for '400' from 203.0.113.9: HTTP 400") },
        Row { user: "403", allowed: (false, false), log: ("[4] Aborted Duo login for '403' from 203.0.113.9: HTTP 403", "[4] Aborted Duo login for '403' from 203.0.113.9: HTTP 403") },
        Row { user: "bad-json", allowed: (true, false), log: ("[4] Failsafe Duo login for 'bad-json' from 203.0.113.9: invalid JSON response", "[4] Failsecure Duo login for 'bad-json' from 203.0.113.9: invalid JSON response") },
        Row { user: "preauth-ok-missing_response", allowed: (true, false), log: ("Failsafe Duo login for 'preauth-ok-missing_response' from 203.0.113.9: JSON missing valid 'response'", "Failsecure Duo login for 'preauth-ok-missing_response' from 203.0.113.9: JSON missing valid 'response'") },
        Row { user: "preauth-fail-missing_response", allowed: (true, false), log: ("Failsafe Duo login for 'preauth-fail-missing_response' from 203.0.113.9: JSON missing valid 'code'", "Failsecure Duo login for 'preauth-fail-missing_response' from 203.0.113.9: JSON missing valid 'code'") },
        Row { user: "preauth-bad-stat", allowed: (true, false), log: ("[4] Failsafe Duo login for 'preauth-bad-stat' from 203.0.113.9\n", "[4] Failsecure Duo login for 'preauth-bad-stat' from 203.0.113.9\n") },
        Row { user: "preauth-allow-bad_response", allowed: (true, false), log: ("Failsafe Duo login for 'preauth-allow-bad_response' from 203.0.113.9: JSON missing valid 'status_msg'", "Failsecure Duo login for 'preauth-allow-bad_response' from 203.0.113.9: JSON missing valid 'status_msg'") },
        Row { user: "auth-500", allowed: (false, false), log: ("[3] Error in Duo login for 'auth-500' from 203.0.113.9: HTTP 500", "[3] Error in Duo login for 'auth-500' from 203.0.113.9: HTTP 500") },
    ];
    let env = [("SSH_CONNECTION", "203.0.113.9 50000 127.0.0.1 22")];
    for (mode, idx) in [("safe", 0), ("secure", 1)] {
        let c = conf(
            &m,
            &format!("matrix-{mode}.conf"),
            &format!("failmode = {mode}\npushinfo = yes"),
        );
        for row in &rows {
            let marker = format!("RAN-{}-{mode}", row.user);
            let out = login(&c, row.user, &marker, &env);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            let allowed = if idx == 0 {
                row.allowed.0
            } else {
                row.allowed.1
            };
            let line = if idx == 0 { row.log.0 } else { row.log.1 };
            let ctx = format!(
                "user {} failmode {mode}\nstdout: {stdout}\nstderr: {stderr}",
                row.user
            );
            assert_eq!(out.status.success(), allowed, "exit status, {ctx}");
            assert_eq!(stdout.contains(&marker), allowed, "command run, {ctx}");
            assert!(stderr.contains(line), "log line {line:?} missing, {ctx}");
        }
    }
    // What the mock received: failmode, hostname, ipaddr on preauth; pushinfo and async on auth.
    let reqs = m.requests();
    for (user, wanted) in [("alice", "open"), ("preauth-deny", "closed")] {
        let pre = requests_for(&reqs, "/auth/v2/preauth", user);
        assert!(
            pre.iter().any(|r| r["params"]["failmode"] == wanted),
            "failmode={wanted} for {user}"
        );
        for r in &pre {
            assert_eq!(r["params"]["ipaddr"], "203.0.113.9");
            assert_eq!(r["params"]["text_prompt"], "1");
            assert!(r["params"]["hostname"]
                .as_str()
                .is_some_and(|h| !h.is_empty()));
            assert_eq!(r["sig_ok"], true);
        }
    }
    let auth = requests_for(&reqs, "/auth/v2/auth", "alice");
    assert_eq!(auth.len(), 2, "one /auth per failmode run for alice");
    for r in auth {
        assert_eq!(
            r["params"]["async"], "0",
            "headless login_duo is synchronous"
        );
        assert_eq!(r["params"]["factor"], "prompt");
        assert_eq!(
            r["params"]["prompt"], "push1",
            "autopush uses the default factor"
        );
        let pushinfo = r["params"]["pushinfo"].as_str().unwrap_or("");
        assert!(pushinfo.starts_with("Server+IP="), "pushinfo {pushinfo:?}");
        assert!(
            pushinfo.contains("&Command=echo%20RAN-alice-"),
            "pushinfo {pushinfo:?}"
        );
    }
    assert!(
        reqs.iter().all(|r| r["sig_ok"] == true),
        "every request was signed correctly"
    );
}

#[test]
#[ignore = "needs root"]
fn refused_port_is_a_failmode_verdict() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("refused");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    for (mode, ok, word) in [("safe", true, "Failsafe"), ("secure", false, "Failsecure")] {
        let c = write_conf(
            &dir.join(format!("{mode}.conf")),
            &format!("[duo]\nikey={IKEY}\nskey={SKEY}\nhost=127.0.0.1:{port}\nfailmode={mode}\n"),
        );
        let out = login(&c, "alice", "RAN-refused", &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.success(), ok, "{stderr}");
        assert_eq!(text(&out.stdout).contains("RAN-refused"), ok);
        let want =
            format!("[4] {word} Duo login for 'alice': Couldn't connect to 127.0.0.1:{port}: ");
        assert!(stderr.contains(&want), "want {want:?} in {stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// §0a D4: a server that accepts and never answers gives the verdict within https_timeout + 2 s.
#[test]
#[ignore = "needs root"]
fn silent_server_is_bounded_by_https_timeout() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("silent");
    let silent = duo_tests::SilentServer::start();
    let port = silent.port;
    for (mode, ok) in [("safe", true), ("secure", false)] {
        let c = write_conf(
            &dir.join(format!("{mode}.conf")),
            &format!("[duo]\nikey={IKEY}\nskey={SKEY}\nhost=127.0.0.1:{port}\nfailmode={mode}\nhttps_timeout=2\n"),
        );
        let out = login(&c, "alice", "RAN-silent", &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.success(), ok, "{stderr}");
        assert!(
            stderr.contains("Duo login for 'alice': Couldn't connect to 127.0.0.1:"),
            "{stderr}"
        );
        assert!(
            out.elapsed < Duration::from_secs(4),
            "verdict took {:?}, bound is 2 s + 2 s",
            out.elapsed
        );
    }
    drop(silent);
    let _ = std::fs::remove_dir_all(dir);
}

/// §0a D4 again, past TLS: preauth read and never answered.
#[test]
#[ignore = "needs root"]
fn silent_preauth_after_tls_is_bounded() {
    duo_tests::require_root();
    let m = mock();
    for (mode, ok) in [("safe", true), ("secure", false)] {
        let c = conf(
            &m,
            &format!("silent-{mode}.conf"),
            &format!("failmode = {mode}\nhttps_timeout = 2"),
        );
        let out = login(&c, "silent-preauth", "RAN-silent-tls", &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.success(), ok, "{stderr}");
        assert!(
            stderr.contains("Duo login for 'silent-preauth': Couldn't connect to 127.0.0.1:"),
            "{stderr}"
        );
        assert!(
            out.elapsed < Duration::from_secs(4),
            "verdict took {:?}, bound is 2 s + 2 s",
            out.elapsed
        );
    }
}

/// §0a D1: every config problem denies, even with failmode = safe.
#[test]
#[ignore = "needs root"]
fn config_problems_deny_even_when_failsafe() {
    duo_tests::require_root();
    let m = mock();
    let base = format!(
        "[duo]\nfailmode = safe\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{}\ncafile = {}\n",
        m.port,
        m.ca.display()
    );
    let cases: Vec<(&str, String, u32, &str)> = vec![
        (
            "unknown-key.conf",
            format!("{base}bogus = 1\n"),
            0o600,
            "Invalid login_duo option: 'bogus'",
        ),
        (
            "bad-failmode.conf",
            base.replace("failmode = safe", "failmode = maybe"),
            0o600,
            "Invalid failmode: 'maybe'",
        ),
        (
            "missing-skey.conf",
            base.replace(&format!("skey = {SKEY}\n"), ""),
            0o600,
            "Missing host, ikey, or skey in",
        ),
        (
            "both-push.conf",
            format!("{base}autopush = yes\nverified_push = yes\n"),
            0o600,
            "autopush and verified_push cannot both be enabled in",
        ),
        (
            "empty-cafile.conf",
            format!("{base}cafile =\n"),
            0o600,
            "Parse error in",
        ),
        (
            "empty-proxy.conf",
            format!("{base}http_proxy =\n"),
            0o600,
            "Parse error in",
        ),
        (
            "world-readable.conf",
            base.clone(),
            0o644,
            "must be readable only by user 'root'",
        ),
        (
            "group-readable.conf",
            base.clone(),
            0o640,
            "must be readable only by user 'root'",
        ),
        (
            "no-section-line.conf",
            format!("{base}[duo\n"),
            0o600,
            "Parse error in",
        ),
    ];
    for (name, body, mode, want) in cases {
        let p = m.dir.join(name);
        std::fs::write(&p, body).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let out = login(&p, "alice", "RAN-config", &[]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{name} must deny: {stderr}");
        assert!(
            !text(&out.stdout).contains("RAN-config"),
            "{name} ran the command"
        );
        assert!(stderr.contains(want), "{name}: want {want:?} in {stderr}");
    }
    let missing = m.dir.join("does-not-exist.conf");
    let out = login(&missing, "alice", "RAN-config", &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("No such file or directory"),
        "{}",
        text(&out.stderr)
    );
    // A correct config after all that still works, so the denials above were the config's doing.
    let good = write_conf(&m.dir.join("good.conf"), &base);
    let out = login(&good, "alice", "RAN-good", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// DUO-PSA-2017-002: proxy settings in the environment change nothing.
#[test]
#[ignore = "needs root"]
fn proxy_environment_is_ignored() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "env.conf", "failmode = safe");
    let env = [
        ("http_proxy", "http://127.0.0.1:1"),
        ("https_proxy", "http://127.0.0.1:1"),
        ("HTTPS_PROXY", "http://127.0.0.1:1"),
        ("ALL_PROXY", "http://127.0.0.1:1"),
        ("SSL_CERT_FILE", "/nonexistent"),
    ];
    let out = login(&c, "preauth-deny", "RAN-env", &env);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("[4] Aborted Duo login for 'preauth-deny': preauth-denied"),
        "{stderr}"
    );
    assert!(!stderr.contains("Failsafe"), "{stderr}");
}

#[test]
#[ignore = "needs root"]
fn version_and_usage() {
    duo_tests::require_root();
    let out = finished(
        LoginDuo::bare()
            .debug(false)
            .args(["-v"])
            .limit(Duration::from_secs(10))
            .run(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!("login_duo {}", env!("CARGO_PKG_VERSION"))
    );
    let out = finished(
        LoginDuo::bare()
            .debug(false)
            .args(["ls", "-l"])
            .limit(Duration::from_secs(10))
            .run(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("invalid option -- 'l'"), "{err}");
    assert!(err.contains(
        "Usage: login_duo [-v] [-c config] [-d] [-f duouser] [-h host] [prog [args...]]"
    ));
}

/// Start login_duo on a pseudo-terminal: `-d -c conf -f user -- sh -c 'echo marker'`.
fn interactive(conf: &Path, user: &str, command: &str, env: &[(&str, &str)]) -> PtyChild {
    let mut l = LoginDuo::new(conf).user(user).command([command]);
    for (k, v) in env {
        l = l.env(k, v);
    }
    PtyChild::spawn(l.cmd()).expect("spawn on a pty")
}

const T: Duration = Duration::from_secs(15);
const MENU_END: &str = "Passcode or option (1-4): ";

#[test]
#[ignore = "needs root"]
fn menu_push_approval() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "menu.conf", "");
    let mut p = interactive(&c, "alice", "echo RAN-menu-push", &[]);
    p.expect(MENU_END, T).unwrap();
    p.send("1\n");
    p.expect("Success. Logging you in...", T).unwrap();
    p.expect("RAN-menu-push", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()), "{}", p.transcript);
    let reqs = m.requests();
    let auth = requests_for(&reqs, "/auth/v2/auth", "alice");
    assert_eq!(auth.len(), 1);
    assert_eq!(
        auth[0]["params"]["async"], "1",
        "interactive login_duo polls asynchronously"
    );
    assert_eq!(
        auth[0]["params"]["prompt"], "push1",
        "menu key 1 maps to its factor"
    );
    assert!(
        reqs.iter().any(|r| r["path"] == "/auth/v2/auth_status"),
        "status was polled"
    );
}

#[test]
#[ignore = "needs root"]
fn wrong_then_right_passcode() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "passcode.conf", "");
    let mut p = interactive(&c, "alice", "echo RAN-passcode", &[]);
    p.expect(MENU_END, T).unwrap();
    p.send("999999\n");
    p.expect("Invalid passcode, please try again.", T).unwrap();
    p.expect("[4] Failed Duo login for 'alice'", T).unwrap();
    p.expect(MENU_END, T).unwrap();
    p.send("123456\n");
    p.expect("RAN-passcode", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()), "{}", p.transcript);
}

#[test]
#[ignore = "needs root"]
fn prompts_exhausted_denies() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "exhaust.conf", "prompts = 2");
    let mut p = interactive(&c, "alice", "echo RAN-exhaust", &[]);
    for _ in 0..2 {
        p.expect(MENU_END, T).unwrap();
        p.send("000000\n");
        p.expect("[4] Failed Duo login for 'alice'", T).unwrap();
    }
    let status = p.finish(T).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", p.transcript);
    assert!(!p.transcript.contains("RAN-exhaust"));
    assert_eq!(
        p.transcript.matches(MENU_END).count(),
        2,
        "prompts = 2 means two menus"
    );
}

#[test]
#[ignore = "needs root"]
fn ssh_original_command_is_headless() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "headless.conf", "");
    let mut cmd = Command::new(duo_tests::built("login_duo"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SSH_ORIGINAL_COMMAND", "echo RAN-headless")
        .args(["-d", "-c"])
        .arg(&c)
        .args(["-f", "alice"]);
    let mut p = PtyChild::spawn(cmd).expect("spawn");
    p.expect("RAN-headless", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()));
    assert!(
        !p.transcript.contains(MENU_END),
        "headless never shows the menu"
    );
    let reqs = m.requests();
    let auth = requests_for(&reqs, "/auth/v2/auth", "alice");
    assert_eq!(auth[0]["params"]["async"], "0");
    assert_eq!(auth[0]["params"]["prompt"], "push1");
}

#[test]
#[ignore = "needs root"]
fn autopush_falls_back_to_the_menu() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "autopush.conf", "autopush = yes");
    let mut p = interactive(&c, "pushdeny", "echo RAN-autopush", &[]);
    p.expect("Autopushing login request to phone...", T)
        .unwrap();
    p.expect("[4] Failed Duo login for 'pushdeny'", T).unwrap();
    p.expect(MENU_END, T).unwrap();
    p.send("123456\n");
    p.expect("RAN-autopush", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()), "{}", p.transcript);
}

#[test]
#[ignore = "needs root"]
fn duo_passcode_from_environment_is_used_and_removed() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "env-factor.conf", "accept_env_factor = yes");
    let mut p = interactive(
        &c,
        "alice",
        "echo RAN-${DUO_PASSCODE:-UNSET}",
        &[("DUO_PASSCODE", "123456")],
    );
    p.expect("Reading $DUO_PASSCODE...", T).unwrap();
    p.expect("RAN-UNSET", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()), "{}", p.transcript);
    assert!(!p.transcript.contains(MENU_END));
    let reqs = m.requests();
    assert_eq!(
        requests_for(&reqs, "/auth/v2/auth", "alice")[0]["params"]["prompt"],
        "123456"
    );
}

#[test]
#[ignore = "needs root"]
fn verified_push_forwards_the_txid() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "verified.conf", "verified_push = yes");
    let mut p = interactive(&c, "alice", "echo RAN-verified", &[]);
    p.expect(MENU_END, T).unwrap();
    p.send("1\n");
    p.expect("verification code 708", T).unwrap();
    p.expect("RAN-verified", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()), "{}", p.transcript);
    let reqs = m.requests();
    let pre = requests_for(&reqs, "/auth/v2/preauth", "alice");
    assert_eq!(pre[0]["params"]["client_supports_verified_push"], "1");
    let auth = requests_for(&reqs, "/auth/v2/auth", "alice");
    let txid = auth[0]["params"]["txid"].as_str().unwrap_or("");
    assert!(!txid.is_empty(), "txid forwarded to /auth");
    assert_eq!(auth[0]["params"]["prompt"], "verified_push1");
}

/// `motd = yes` prints /etc/motd after an interactive approval, never for a headless one. The
/// motd is the test's, in a private overlay over `/etc` (the host's `/etc/motd` is not touched).
#[test]
#[ignore = "needs root"]
fn motd_only_for_interactive_sessions() {
    duo_tests::require_root();
    let etc = PrivateEtc::new("motd");
    let marker = "DUO-TEST-MOTD-LINE";
    std::fs::write(etc.file("motd"), format!("{marker}\n")).expect("write the test's motd");
    let m = mock();
    let c = conf(&m, "motd.conf", "motd = yes");
    let in_etc = |command: &str| {
        let mut cmd = etc.command(duo_tests::built("login_duo"), None);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .args(["-d", "-c"])
            .arg(&c)
            .args(["-f", "alice", "--", command]);
        cmd
    };
    let mut p = PtyChild::spawn(in_etc("echo RAN-motd")).expect("spawn on a pty");
    p.expect(MENU_END, T).unwrap();
    p.send("1\n");
    p.expect(marker, T).unwrap();
    p.expect("RAN-motd", T).unwrap();
    assert!(p.finish(T).is_some_and(|s| s.success()));
    let mut headless = in_etc("echo");
    headless
        .arg("RAN-motd-headless")
        .env("SSH_ORIGINAL_COMMAND", "x");
    let out = finished(duo_tests::runner::run(headless, Duration::from_secs(60)));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains(marker),
        "no MOTD for a headless session"
    );
}

#[test]
#[ignore = "needs root"]
fn sanitises_control_characters_from_the_server() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "evil.conf", "");
    let mut p = interactive(&c, "evil-msg", "echo RAN-evil", &[]);
    let status = p.finish(T).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        p.transcript.contains("?]0;PWNED? denied"),
        "{}",
        p.transcript
    );
    assert!(
        !p.transcript.contains('\u{1b}'),
        "no ESC reaches the terminal"
    );
    assert!(
        !p.transcript.contains('\u{7}'),
        "no BEL reaches the terminal"
    );
}

#[test]
#[ignore = "needs root"]
fn sigpipe_is_default_in_the_command() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "sigpipe.conf", "");
    let out = login(&c, "alice", "x; grep SigIgn /proc/self/status", &[]);
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("SigIgn:"))
        .expect("SigIgn line");
    let mask = u64::from_str_radix(line["SigIgn:".len()..].trim(), 16).expect("hex mask");
    assert_eq!(
        mask & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE is ignored in the command: {line}"
    );
}

/// docs/BEHAVIOUR.md §1.10: 429 with Retry-After is waited out and retried; one that never ends aborts.
#[test]
#[ignore = "needs root"]
fn rate_limiting_is_obeyed_and_bounded() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "429.conf", "failmode = safe\nhttps_timeout = 20");
    for user in ["retry-after-1", "rate-limited"] {
        let out = login(&c, user, "RAN-429", &[]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{user}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "[4] Skipped Duo login for '{user}': preauth-allowed"
            )),
            "{stderr}"
        );
        // The mock answers 429 again to a retry sent before the wait is over, so two
        // requests in all means that the back-off was waited out.
        let pre = requests_for(&m.requests(), "/auth/v2/preauth", user).len();
        assert_eq!(pre, 2, "{user}: one 429, then one retry after the wait");
    }
    // A server that rate-limits forever: capped, and an abort, never a failmode allow.
    let c = conf(&m, "429-forever.conf", "failmode = safe\nhttps_timeout = 4");
    let out = login(&c, "always-429", "RAN-429", &[]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[4] Aborted Duo login for 'always-429': HTTP 429"),
        "{stderr}"
    );
    let n = requests_for(&m.requests(), "/auth/v2/preauth", "always-429").len();
    assert!(
        (1..=8).contains(&n),
        "429 retries are capped ({n} requests)"
    );
}

/// docs/BEHAVIOUR.md §1.7: one TLS connection carries ping, preauth and auth of a login.
#[test]
#[ignore = "needs root"]
fn one_connection_per_login() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "keepalive.conf", "");
    let out = login(&c, "alice", "RAN-keepalive", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reqs = m.requests();
    let paths: Vec<&str> = reqs.iter().filter_map(|r| r["path"].as_str()).collect();
    assert_eq!(
        paths,
        ["/auth/v2/ping", "/auth/v2/preauth", "/auth/v2/auth"]
    );
    let conns: std::collections::HashSet<u64> =
        reqs.iter().filter_map(|r| r["conn"].as_u64()).collect();
    assert_eq!(conns.len(), 1, "all requests on one connection: {conns:?}");
}

/// A CONNECT proxy on loopback: forwards to `target`, or answers every CONNECT with `refuse`.
/// Returns its port and the CONNECT requests it saw.
fn start_proxy(
    target: u16,
    refuse: Option<&'static str>,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
                let mut reader = BufReader::new(client.try_clone().expect("clone"));
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                log.lock().expect("lock").push(head);
                let mut client = client;
                if let Some(reply) = refuse {
                    let _ = client.write_all(reply.as_bytes());
                    return;
                }
                let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c2, mut u2) = (
                    client.try_clone().expect("clone"),
                    upstream.try_clone().expect("clone"),
                );
                let mut upstream = upstream;
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u2, &mut c2);
                });
                let _ = std::io::copy(&mut client, &mut upstream);
                let _ = upstream.shutdown(std::net::Shutdown::Both);
                let _ = t.join();
            });
        }
    });
    (port, seen)
}

/// docs/BEHAVIOUR.md §2.4: `http_proxy` from the config tunnels with CONNECT; SNI and the signature stay the
/// API host's; a 407 is a failmode event with the proxy's status line.
#[test]
#[ignore = "needs root"]
fn http_proxy_from_config() {
    duo_tests::require_root();
    let m = mock();
    let (port, seen) = start_proxy(m.port, None);
    let c = conf(
        &m,
        "proxy.conf",
        &format!("http_proxy = http://us:pw@127.0.0.1:{port}"),
    );
    let out = login(&c, "alice", "RAN-proxy", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("RAN-proxy"));
    let heads = seen.lock().expect("lock").clone();
    assert_eq!(heads.len(), 1, "one tunnel for the whole login");
    assert!(
        heads[0].starts_with(&format!("CONNECT 127.0.0.1:{} HTTP/1.0\r\n", m.port)),
        "{:?}",
        heads[0]
    );
    assert!(
        heads[0].contains("Proxy-Authorization: Basic dXM6cHc=\r\n"),
        "{:?}",
        heads[0]
    );

    let (port, _) = start_proxy(
        m.port,
        Some("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
    );
    for (mode, ok, word) in [("safe", true, "Failsafe"), ("secure", false, "Failsecure")] {
        let c = conf(
            &m,
            &format!("proxy407-{mode}.conf"),
            &format!("http_proxy = 127.0.0.1:{port}\nfailmode = {mode}"),
        );
        let out = login(&c, "alice", "RAN-407", &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.success(), ok, "{stderr}");
        let want = format!("{word} Duo login for 'alice': Couldn't connect to 127.0.0.1:{}: Proxy error: HTTP/1.1 407 Proxy Authentication Required", m.port);
        assert!(stderr.contains(&want), "want {want:?} in {stderr}");
    }
}

/// The transport rows of docs/BEHAVIOUR.md §8: untrusted certificate, wrong name, unresolvable host and an
/// unknown preauth result are failmode verdicts; an empty username is a local error.
#[test]
#[ignore = "needs root"]
fn transport_failures_follow_failmode() {
    duo_tests::require_root();
    let m = Mock::start(&["--listen", "0.0.0.0:0"]);
    let base = format!("[duo]\nikey = {IKEY}\nskey = {SKEY}\nhttps_timeout = 5\n");
    let rows: Vec<(&str, String, &str)> = vec![
        // No cafile: only the 15 pinned public roots are trusted, not the mock's CA.
        (
            "untrusted",
            format!("host = 127.0.0.1:{}\n", m.port),
            "certificate verify failed",
        ),
        // The certificate names localhost, 127.0.0.1 and ::1, not 127.0.0.2.
        (
            "wrong-name",
            format!("host = 127.0.0.2:{}\ncafile = {}\n", m.port, m.ca.display()),
            "Certificate name validation failed (the certificate is for localhost, 127.0.0.1",
        ),
        (
            "no-dns",
            "host = duo-test.invalid\n".to_string(),
            "Couldn't connect to duo-test.invalid: ",
        ),
    ];
    for (name, host, want) in rows {
        for (mode, ok, word) in [("safe", true, "Failsafe"), ("secure", false, "Failsecure")] {
            let c = write_conf(
                &m.dir.join(format!("{name}-{mode}.conf")),
                &format!("{base}{host}failmode = {mode}\n"),
            );
            let out = login(&c, "alice", "RAN-transport", &[]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.success(), ok, "{name} {mode}: {stderr}");
            assert_eq!(
                text(&out.stdout).contains("RAN-transport"),
                ok,
                "{name} {mode}"
            );
            assert!(
                stderr.contains(&format!(
                    "[4] {word} Duo login for 'alice': Couldn't connect to "
                )),
                "{name} {mode}: {stderr}"
            );
            assert!(
                stderr.contains(want),
                "{name} {mode}: want {want:?} in {stderr}"
            );
        }
    }
    let c = conf(&m, "big.conf", "failmode = secure");
    let out = login(&c, "oversized", "RAN-big", &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("response body too large"),
        "{}",
        text(&out.stderr)
    );
    let c = conf(&m, "result.conf", "failmode = secure");
    let out = login(&c, "preauth-bad-result", "RAN-x", &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(
            "Failsecure Duo login for 'preauth-bad-result': JSON invalid 'result': weird"
        ),
        "{}",
        text(&out.stderr)
    );
    let c = conf(&m, "empty-user.conf", "failmode = safe");
    let out = login(&c, "", "RAN-empty", &[]);
    assert!(
        !out.status.success(),
        "an empty username is an error, not a failmode allow"
    );
    assert!(
        text(&out.stderr).contains("[3] Error in Duo login for ''"),
        "{}",
        text(&out.stderr)
    );
}

/// docs/BEHAVIOUR.md §3.4: a user outside every configured group bypasses Duo; a member needs it.
#[test]
#[ignore = "needs root"]
fn group_filter() {
    duo_tests::require_root();
    let m = mock();
    let c = conf(&m, "groups-out.conf", "groups = duo-test-nosuchgroup-*");
    let out = login(&c, "alice", "RAN-bypass", &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(text(&out.stdout).contains("RAN-bypass"));
    assert!(
        stderr.contains("[6] User alice bypassed Duo 2FA due to user's UNIX group"),
        "{stderr}"
    );
    assert!(m.requests().is_empty(), "a bypassed user never reaches Duo");
    let c = conf(&m, "groups-in.conf", "groups = *,!duo-test-nosuchgroup");
    let out = login(&c, "pushdeny", "RAN-member", &[]);
    assert!(
        !out.status.success(),
        "root is in '*': Duo is required and denies"
    );
    assert!(!text(&out.stdout).contains("RAN-member"));
    let c = conf(&m, "groups-negated.conf", "groups = !root");
    let out = login(&c, "alice", "RAN-negated", &[]);
    assert!(
        text(&out.stderr).contains("All configured groups are negated"),
        "{}",
        text(&out.stderr)
    );
}
