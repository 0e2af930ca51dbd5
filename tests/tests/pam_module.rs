//! `pam_duo.so` loaded by the real libpam (through `pamclient`, which uses
//! `pam_start_confdir` with a private service directory) against the mock Duo service.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use duo_tests::runner::PamClient;
use duo_tests::users::TempUser;
use duo_tests::Mock;

use duo_tests::pam_codes::*;
use duo_tests::{IKEY, SKEY};

/// A PAM service directory with one service using the module.
struct Setup {
    mock: Mock,
    confdir: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let mock = Mock::start(&[]);
        let confdir = mock.dir.join("pam.d");
        std::fs::create_dir_all(&confdir).expect("mkdir");
        Setup { mock, confdir }
    }

    /// Write config `name` and a service of the same name whose auth stack is our module.
    fn service(&self, name: &str, conf_extra: &str, module_args: &str) -> String {
        let conf = duo_tests::mock_conf(&self.mock, &format!("{name}.conf"), conf_extra);
        let args = format!("debug {module_args}");
        duo_tests::runner::pam_service(&self.confdir, name, &conf, args.trim_end());
        name.to_string()
    }

    fn run(
        &self,
        service: &str,
        user: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        self.run_limited(service, user, extra, env, 60)
    }

    /// `run`, killed after `limit_s` seconds.
    fn run_limited(
        &self,
        service: &str,
        user: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        limit_s: u32,
    ) -> (i32, String, String) {
        let mut pam = PamClient::new(&self.confdir, service, user)
            .args(extra)
            .limit(Duration::from_secs(limit_s.into()));
        for (k, v) in env {
            pam = pam.env(k, v);
        }
        let out = pam.run();
        (out.code(), out.stdout, out.stderr)
    }
}

#[test]
#[ignore = "needs root"]
fn menu_push_success_and_the_conversation() {
    duo_tests::require_root();
    let s = Setup::new();
    let svc = s.service("duo-menu", "", "");
    let (code, out, err) = s.run(
        &svc,
        "root",
        &["--rhost", "203.0.113.9", "--answer", "1"],
        &[],
    );
    assert_eq!(code, PAM_SUCCESS, "{out}\n{err}");
    assert!(
        out.contains("PROMPT Duo two-factor login for root"),
        "{out}"
    );
    assert!(out.contains("Passcode or option (1-4): "), "{out}");
    assert!(
        out.contains("INFO Pushed a login request to your phone."),
        "{out}"
    );
    assert!(out.contains("INFO Success. Logging you in..."), "{out}");
    assert!(
        err.contains("[6] Successful Duo login for 'root' from 203.0.113.9"),
        "{err}"
    );
    let reqs = s.mock.requests();
    let auth: Vec<_> = reqs
        .iter()
        .filter(|r| r["path"] == "/auth/v2/auth")
        .collect();
    assert_eq!(auth[0]["params"]["async"], "1");
    assert_eq!(auth[0]["params"]["ipaddr"], "203.0.113.9");
    assert!(reqs.iter().all(|r| r["sig_ok"] == true));
}

#[test]
#[ignore = "needs root"]
fn outcomes_map_to_pam_codes() {
    duo_tests::require_root();
    let s = Setup::new();
    let users: Vec<TempUser> = [
        "pushdeny",
        "preauth-deny",
        "500",
        "preauth-allow",
        "auth-500",
    ]
    .iter()
    .map(|g| TempUser::create("duop", g))
    .collect();
    let safe = s.service(
        "duo-safe",
        "send_gecos = yes\nautopush = yes\nprompts = 1\nfailmode = safe",
        "",
    );
    let secure = s.service(
        "duo-secure",
        "send_gecos = yes\nautopush = yes\nprompts = 1\nfailmode = secure",
        "",
    );
    let rows = [
        (&users[0], &safe, PAM_MAXTRIES, "[4] Failed Duo login for '"),
        (
            &users[1],
            &safe,
            PAM_ABORT,
            "[4] Aborted Duo login for 'preauth-deny': preauth-denied",
        ),
        (
            &users[2],
            &safe,
            PAM_SUCCESS,
            "[4] Failsafe Duo login for '500': HTTP 500",
        ),
        (
            &users[2],
            &secure,
            PAM_SERVICE_ERR,
            "[4] Failsecure Duo login for '500': HTTP 500",
        ),
        (
            &users[3],
            &secure,
            PAM_SUCCESS,
            "[4] Skipped Duo login for 'preauth-allow': preauth-allowed",
        ),
        (
            &users[4],
            &safe,
            PAM_SERVICE_ERR,
            "[3] Error in Duo login for 'auth-500': HTTP 500",
        ),
    ];
    for (user, svc, want, line) in rows {
        let (code, out, err) = s.run(svc, &user.name, &[], &[]);
        assert_eq!(code, want, "{} via {svc}\n{out}\n{err}", user.name);
        assert!(err.contains(line), "want {line:?}\n{err}");
    }
    // The "Failed" line names the OS user (docs/BEHAVIOUR.md §12.7).
    let (_, _, err) = s.run(&safe, &users[0].name, &[], &[]);
    assert!(
        err.contains(&format!("[4] Failed Duo login for '{}'", users[0].name)),
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn refused_port_follows_failmode() {
    duo_tests::require_root();
    let s = Setup::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = &s.confdir;
    for (mode, want) in [("safe", PAM_SUCCESS), ("secure", PAM_SERVICE_ERR)] {
        let conf = duo_tests::write_conf(
            &s.mock.dir.join(format!("refused-{mode}.conf")),
            &format!("[duo]\nikey={IKEY}\nskey={SKEY}\nhost=127.0.0.1:{port}\nfailmode={mode}\n"),
        );
        let svc = format!("duo-refused-{mode}");
        std::fs::write(
            dir.join(&svc),
            format!(
                "auth required {} conf={} debug\n",
                duo_tests::built("libpam_duo.so").display(),
                conf.display()
            ),
        )
        .expect("svc");
        let (code, out, err) = s.run(&svc, "root", &[], &[]);
        assert_eq!(code, want, "{out}\n{err}");
        assert!(
            err.contains(&format!("Couldn't connect to 127.0.0.1:{port}: ")),
            "{err}"
        );
    }
}

#[test]
#[ignore = "needs root"]
fn local_problems_deny() {
    duo_tests::require_root();
    let s = Setup::new();
    // Config readable by others, with failmode = safe: denied (§0a D1).
    let svc = s.service("duo-perm", "failmode = safe", "");
    let conf = s.mock.dir.join("duo-perm.conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (code, _, err) = s.run(&svc, "root", &[], &[]);
    assert_eq!(code, PAM_SERVICE_ERR, "{err}");
    assert!(
        err.contains("must be readable only by user 'root'"),
        "{err}"
    );
    // motd is not a pam_duo key.
    let svc = s.service("duo-motd", "failmode = safe\nmotd = yes", "");
    let (code, _, err) = s.run(&svc, "root", &[], &[]);
    assert_eq!(code, PAM_SERVICE_ERR);
    assert!(err.contains("Invalid pam_duo option: 'motd'"), "{err}");
    // A bad module argument. As in the reference, `debug` (which `service` puts before the
    // other arguments) takes effect the moment it is read, so the line is on stderr.
    let svc = s.service("duo-arg", "", "bogus");
    let (code, _, err) = s.run(&svc, "root", &[], &[]);
    assert_eq!(code, PAM_SERVICE_ERR);
    assert!(
        err.lines()
            .any(|l| l == "[3] Invalid pam_duo option: 'bogus'"),
        "{err}"
    );
    // An unknown user.
    let svc = s.service("duo-unknown", "", "");
    let (code, _, _) = s.run(&svc, "no-such-user-duo-test", &[], &[]);
    assert_eq!(code, PAM_USER_UNKNOWN);
    assert!(s.mock.requests().is_empty(), "none of these reached Duo");
}

#[test]
#[ignore = "needs root"]
fn prompts_exhausted_is_maxtries() {
    duo_tests::require_root();
    let s = Setup::new();
    let svc = s.service("duo-exhaust", "", "");
    let answers = [
        "--answer", "000000", "--answer", "111111", "--answer", "222222",
    ];
    let (code, out, err) = s.run(&svc, "root", &answers, &[]);
    assert_eq!(code, PAM_MAXTRIES, "{out}\n{err}");
    assert_eq!(out.matches("PROMPT Duo two-factor login").count(), 3);
    assert_eq!(err.matches("[4] Failed Duo login for 'root'").count(), 3);
}

#[test]
#[ignore = "needs root"]
fn service_specific_behaviour() {
    duo_tests::require_root();
    let s = Setup::new();
    // sshd: asynchronous /auth, like the other services (issue 23; the C version's is
    // synchronous).
    let svc = s.service("sshd", "autopush = yes", "");
    let (code, _, err) = s.run(&svc, "root", &[], &[]);
    assert_eq!(code, PAM_SUCCESS, "{err}");
    // sudo with pushinfo: the command shown comes from sudo's own arguments (§0a D18), never
    // from SUDO_COMMAND, which the caller sets. The program here is pamclient, not sudo, so
    // no command is shown at all (tests/pam_sudo.rs has the real sudo).
    let svc = s.service("sudo", "autopush = yes\npushinfo = yes", "");
    let (code, _, err) = s.run(&svc, "root", &[], &[("SUDO_COMMAND", "/usr/bin/id -u")]);
    assert_eq!(code, PAM_SUCCESS, "{err}");
    let reqs = s.mock.requests();
    let auth: Vec<_> = reqs
        .iter()
        .filter(|r| r["path"] == "/auth/v2/auth")
        .collect();
    assert_eq!(auth.len(), 2);
    assert_eq!(auth[0]["params"]["async"], "1", "sshd is asynchronous");
    assert_eq!(auth[1]["params"]["async"], "1");
    let pushinfo = auth[1]["params"]["pushinfo"].as_str().unwrap_or("");
    assert!(pushinfo.ends_with("&Command="), "{pushinfo}");
    assert!(
        !pushinfo.contains("id%20-u"),
        "SUDO_COMMAND was shown: {pushinfo}"
    );
    // su to root: the Duo username is the caller's (root here, running the test).
    let svc = s.service("su", "autopush = yes", "");
    let user = TempUser::create("duosu", "");
    let (code, _, err) = s.run(&svc, "root", &[], &[]);
    assert_eq!(code, PAM_SUCCESS, "{err}");
    let (code, _, err) = s.run(&svc, &user.name, &[], &[]);
    assert_eq!(code, PAM_SUCCESS, "{err}");
    let reqs = s.mock.requests();
    let pre: Vec<&str> = reqs
        .iter()
        .filter(|r| r["path"] == "/auth/v2/preauth")
        .filter_map(|r| r["params"]["username"].as_str())
        .collect();
    assert_eq!(
        pre[pre.len() - 1],
        user.name,
        "su to a non-root user: the target does 2FA"
    );
}

/// 1,000 pam_start/pam_authenticate/pam_end cycles in one process: no growth in file
/// descriptors or threads, bounded RSS.
#[test]
#[ignore = "needs root"]
fn endurance_1000_cycles() {
    duo_tests::require_root();
    let s = Setup::new();
    let user = TempUser::create("duoe", "preauth-allow");
    let svc = s.service("duo-endurance", "send_gecos = yes", "");
    let conf_line = std::fs::read_to_string(s.confdir.join(&svc)).expect("read");
    // No debug here: 1,000 cycles of log lines would only slow the run; syslog is used.
    std::fs::write(s.confdir.join(&svc), conf_line.replace(" debug", "")).expect("write");
    let (code, out, _) = s.run(&svc, &user.name, &["--cycles", "1000", "--stats"], &[]);
    assert_eq!(code, PAM_SUCCESS, "{out}");
    let stat = |tag: &str, key: &str| duo_tests::pam_stat_num(&out, tag, key);
    duo_tests::assert_flat(&out);
    let raw = |tag: &str, key: &str| duo_tests::pam_stat(&out, tag, key);
    // glibc installs its own handlers for its internal signals 32 and 33 (SIGCANCEL,
    // SIGSETXID) when the process creates its first thread, which a login does (the lookup
    // threads). Every other signal's disposition must be as the host left it.
    let host_signals = |tag: &str, key: &str| -> u64 {
        let mask = u64::from_str_radix(&raw(tag, key), 16).expect("hex mask");
        mask & !(0b11 << 31)
    };
    for key in ["sigign", "sigcgt"] {
        assert_eq!(
            host_signals("start", key),
            host_signals("end", key),
            "{key}: signal dispositions changed: {out}"
        );
    }
    let growth = stat("end", "rss_kb").saturating_sub(stat("warm", "rss_kb"));
    assert!(growth < 2048, "RSS grew by {growth} KiB over 950 cycles");
    let pre = s
        .mock
        .requests()
        .iter()
        .filter(|r| r["path"] == "/auth/v2/preauth")
        .count();
    assert_eq!(pre, 1000, "every cycle asked Duo");
}

/// The module survives a host that loads and unloads it (issue 22): 1,100 cycles of
/// The default build's module loaded and unloaded 1,100 times by one host
/// (`runner::assert_survives_unloads`).
#[test]
#[ignore = "needs root"]
fn host_loads_and_unloads_the_module_1100_times() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let user = TempUser::create("duoh", "preauth-allow");
    duo_tests::runner::assert_survives_unloads(
        &mock,
        &duo_tests::built("libpam_duo.so"),
        &user.name,
        "default build",
    );
}

/// Every docs/BEHAVIOUR.md §8 row the mock can produce, through libpam, with both failmodes.
#[test]
#[ignore = "needs root"]
fn failmode_rows_both_modes() {
    duo_tests::require_root();
    let s = Setup::new();
    // (scenario, code with safe, code with secure, log text)
    let rows: &[(&str, i32, i32, &str)] = &[
        ("401", PAM_SUCCESS, PAM_SERVICE_ERR, "Invalid ikey or skey"),
        ("500", PAM_SUCCESS, PAM_SERVICE_ERR, "HTTP 500"),
        ("503", PAM_SUCCESS, PAM_SERVICE_ERR, "HTTP 503"),
        (
            "bad-json",
            PAM_SUCCESS,
            PAM_SERVICE_ERR,
            "invalid JSON response",
        ),
        (
            "preauth-ok-missing_response",
            PAM_SUCCESS,
            PAM_SERVICE_ERR,
            "JSON missing valid 'response'",
        ),
        (
            "preauth-fail-missing_response",
            PAM_SUCCESS,
            PAM_SERVICE_ERR,
            "JSON missing valid 'code'",
        ),
        (
            "preauth-allow-bad_response",
            PAM_SUCCESS,
            PAM_SERVICE_ERR,
            "JSON missing valid 'status_msg'",
        ),
        (
            "preauth-bad-result",
            PAM_SUCCESS,
            PAM_SERVICE_ERR,
            "JSON invalid 'result': weird",
        ),
        (
            "400",
            PAM_ABORT,
            PAM_ABORT,
            "Aborted Duo login for '400': HTTP 400",
        ),
        (
            "403",
            PAM_ABORT,
            PAM_ABORT,
            "Aborted Duo login for '403': HTTP 403",
        ),
        (
            "preauth-deny",
            PAM_ABORT,
            PAM_ABORT,
            "Aborted Duo login for 'preauth-deny': preauth-denied",
        ),
        ("enroll", PAM_ABORT, PAM_ABORT, "User enrollment required"),
        (
            "preauth-fail",
            PAM_MAXTRIES,
            PAM_MAXTRIES,
            "1000: Pre-authentication failed",
        ),
        (
            "preauth-allow",
            PAM_SUCCESS,
            PAM_SUCCESS,
            "Skipped Duo login for 'preauth-allow'",
        ),
        (
            "auth-500",
            PAM_SERVICE_ERR,
            PAM_SERVICE_ERR,
            "Error in Duo login for 'auth-500': HTTP 500",
        ),
    ];
    let users: Vec<TempUser> = rows.iter().map(|r| TempUser::create("duor", r.0)).collect();
    let extra = "send_gecos = yes\nautopush = yes\nprompts = 1";
    let safe = s.service("duo-rows-safe", &format!("{extra}\nfailmode = safe"), "");
    let secure = s.service(
        "duo-rows-secure",
        &format!("{extra}\nfailmode = secure"),
        "",
    );
    for (row, user) in rows.iter().zip(&users) {
        for (svc, want, word) in [(&safe, row.1, "Failsafe"), (&secure, row.2, "Failsecure")] {
            let (code, out, err) = s.run(svc, &user.name, &[], &[]);
            assert_eq!(code, want, "{} via {svc}\n{out}\n{err}", row.0);
            assert!(
                err.contains(row.3),
                "{} via {svc}: want {:?}\n{err}",
                row.0,
                row.3
            );
            if row.1 != row.2 {
                assert!(
                    err.contains(&format!("[4] {word} Duo login for '{}'", row.0)),
                    "{err}"
                );
            }
        }
    }
    let failmodes: Vec<String> = s
        .mock
        .requests()
        .iter()
        .filter(|r| r["path"] == "/auth/v2/preauth")
        .filter_map(|r| r["params"]["failmode"].as_str().map(String::from))
        .collect();
    assert!(failmodes.contains(&"open".to_string()) && failmodes.contains(&"closed".to_string()));
}
