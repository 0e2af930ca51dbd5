//! Drop-in parity with the C version's output (issue "Drop-in parity"): the exact texts that
//! sysadmins grep for, in both frontends. The expected strings come from the behaviour
//! description (docs/BEHAVIOUR.md §3.3, §1.9, §6, §9) and from what the C version prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use duo_tests::pam_codes::*;
use duo_tests::runner::{LoginDuo, PamClient};
use duo_tests::{Mock, IKEY, SKEY};

/// A config whose line 8 is `line8` (lines 6 and 7 are comments).
fn conf_with_line_8(dir: &Path, name: &str, mock: &Mock, line8: &str) -> PathBuf {
    let body = duo_tests::mock_conf_body(mock, &format!("; six\n; seven\n{line8}"));
    duo_tests::write_conf(&dir.join(name), &body)
}

fn login_duo(conf: &Path, debug: bool) -> (bool, String) {
    let out = LoginDuo::new(conf)
        .debug(debug)
        .env("PATH", "/usr/bin:/bin")
        .user("alice")
        .echo("RAN-parity")
        .limit(Duration::from_secs(30))
        .run();
    assert!(!out.stdout.contains("RAN-parity"), "{}", out.stdout);
    (out.status.success(), out.stderr)
}

/// The lines of `stderr` that are not `[N] ` log lines.
fn raw_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.starts_with('[')).collect()
}

#[test]
#[ignore = "needs root"]
fn login_duo_prints_config_problems_raw_with_or_without_debug() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let bad_delim = conf_with_line_8(&m.dir, "delim.conf", &m, "gecos_delim = ,,");
    let p = bad_delim.display();
    let want = [
        "Invalid character option length. Character fields must be 1 character long: ',,'"
            .to_string(),
        "Invalid login_duo option: 'gecos_delim'".to_string(),
        format!("Parse error in {p}, line 8"),
    ];
    let (ok, err) = login_duo(&bad_delim, false);
    assert!(!ok);
    assert_eq!(err.lines().collect::<Vec<_>>(), want, "{err}");
    let (ok, err) = login_duo(&bad_delim, true);
    assert!(!ok);
    assert_eq!(raw_lines(&err), want, "{err}");
    assert!(!err.contains("[3] "), "no prefixed copy: {err}");
    assert!(!err.contains("Syntax error"), "{err}");

    // A line without '=' on line 6: only the parse error.
    let body = format!(
        "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{}\ncafile = {}\nthis line has no equals sign\n",
        m.port,
        m.ca.display()
    );
    let no_eq = duo_tests::write_conf(&m.dir.join("no-eq.conf"), &body);
    for debug in [false, true] {
        let (ok, err) = login_duo(&no_eq, debug);
        assert!(!ok);
        assert_eq!(
            raw_lines(&err),
            [format!("Parse error in {}, line 6", no_eq.display())],
            "debug {debug}: {err}"
        );
    }

    // The other value problems of the same kind.
    for (line8, first) in [
        (
            "gecos_delim = a",
            "Invalid gecos_delim 'a' (delimiter must be punctuation other than ':')",
        ),
        ("gecos_username_pos = 0", "Gecos position starts at 1"),
    ] {
        let c = conf_with_line_8(&m.dir, "value.conf", &m, line8);
        let key = line8.split(' ').next().unwrap_or("");
        let (ok, err) = login_duo(&c, false);
        assert!(!ok);
        assert_eq!(
            err.lines().collect::<Vec<_>>(),
            [
                first.to_string(),
                format!("Invalid login_duo option: '{key}'"),
                format!("Parse error in {}, line 8", c.display()),
            ],
            "{err}"
        );
    }
}

/// A private PAM service directory with one service running the module with `debug`.
fn pam_service(m: &Mock, name: &str, conf: &Path) -> PathBuf {
    pam_service_args(m, name, conf, "debug")
}

/// A private PAM service directory with one service running the module with `args`.
fn pam_service_args(m: &Mock, name: &str, conf: &Path, args: &str) -> PathBuf {
    duo_tests::runner::pam_service(&m.dir.join(format!("pam.d-{name}")), name, conf, args)
}

fn pamclient(confdir: &Path, service: &str, user: &str, answers: &[&str]) -> (i32, String, String) {
    let out = PamClient::new(confdir, service, user)
        .answers(answers)
        .limit(Duration::from_secs(60))
        .run();
    (out.code(), out.stdout, out.stderr)
}

#[test]
#[ignore = "needs root"]
fn pam_duo_debug_prints_the_value_problem_raw_then_the_log_lines() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let conf = conf_with_line_8(&m.dir, "pam-delim.conf", &m, "gecos_delim =");
    let confdir = pam_service(&m, "duo-parity-conf", &conf);
    let (code, _out, err) = pamclient(&confdir, "duo-parity-conf", "root", &[]);
    assert_eq!(code, PAM_SERVICE_ERR);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "Invalid character option length. Character fields must be 1 character long: ''"
                .to_string(),
            "[3] Invalid pam_duo option: 'gecos_delim'".to_string(),
            format!("[3] Parse error in {}, line 8", conf.display()),
        ],
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn pam_duo_debug_starts_with_the_menu_not_the_config_path() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let conf = conf_with_line_8(&m.dir, "pam-ok.conf", &m, "; eight");
    let confdir = pam_service(&m, "duo-parity-order", &conf);
    let (code, out, err) = pamclient(&confdir, "duo-parity-order", "root", &["1"]);
    assert_eq!(code, PAM_SUCCESS, "{out}\n{err}");
    // "Loading config file" is logged before debug takes effect: it goes to syslog.
    assert!(!err.contains("Loading config file"), "{err}");
    assert!(!err.contains("starting Duo Unix"), "{err}");
    let first_conv = out
        .lines()
        .find(|l| l.starts_with("PROMPT ") || l.starts_with("INFO "));
    assert!(
        first_conv.is_some_and(|l| l.starts_with("PROMPT Duo two-factor login for root")),
        "{out}"
    );
    assert!(err.contains("[6] Successful Duo login for 'root'"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn an_overlong_answer_is_an_error_without_a_reason() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let conf = conf_with_line_8(&m.dir, "pam-long.conf", &m, "; eight");
    let confdir = pam_service(&m, "duo-parity-long", &conf);
    let long = "7".repeat(300);
    let (code, out, err) = pamclient(&confdir, "duo-parity-long", "root", &[&long]);
    assert_eq!(code, PAM_SERVICE_ERR, "{out}\n{err}");
    assert!(
        err.lines()
            .any(|l| l == "[3] Error in Duo login for 'root'"),
        "{err}"
    );
    // As in the C version (test_three_failed_inputs): the [3] line only, no debug line with
    // the reason.
    assert!(!err.contains("txid"), "{err}");
}

/// `debug` takes effect the moment it is read, as in the C version: the argument errors after
/// it are printed on stderr, each one, and the login is denied without reaching Duo.
#[test]
#[ignore = "needs root"]
fn pam_duo_debug_prints_each_invalid_argument_after_it() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let conf = conf_with_line_8(&m.dir, "pam-args.conf", &m, "; eight");
    let confdir = pam_service_args(&m, "duo-parity-args", &conf, "debug notanarg1 notanarg2");
    let (code, out, err) = pamclient(&confdir, "duo-parity-args", "root", &[]);
    assert_eq!(code, PAM_SERVICE_ERR, "{out}\n{err}");
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "[3] Invalid pam_duo option: 'notanarg1'",
            "[3] Invalid pam_duo option: 'notanarg2'",
        ],
        "{err}"
    );
    // An argument before `debug` is read without it: syslog only.
    let confdir = pam_service_args(&m, "duo-parity-args2", &conf, "notanarg0 debug");
    let (code, out, err) = pamclient(&confdir, "duo-parity-args2", "root", &[]);
    assert_eq!(code, PAM_SERVICE_ERR, "{out}\n{err}");
    assert!(!err.contains("notanarg0"), "{err}");
    assert!(m.requests().is_empty(), "nothing reached Duo");
}

/// §0a D13: after a failmode verdict the user gets one line saying what happened: an error
/// (PAM_ERROR_MSG) when the login is denied, information (PAM_TEXT_INFO) when it goes on; and
/// nothing with `failmode_notice = no`.
#[test]
#[ignore = "needs root"]
fn failmode_verdicts_are_told_to_the_user() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    // Duo user "503" (from the GECOS field): the mock answers preauth with HTTP 503.
    let user = duo_tests::users::TempUser::create("duopn", "503");
    let secure = "Duo two-factor service unreachable: login denied (failmode secure)";
    let safe = "Duo two-factor service unreachable: continuing without two-factor (failmode safe)";
    for (mode, notice, extra) in [
        ("secure", Some(format!("ERROR {secure}")), ""),
        ("safe", Some(format!("INFO {safe}")), ""),
        ("secure", None, "failmode_notice = no"),
    ] {
        let conf = conf_with_line_8(
            &m.dir,
            &format!("notice-{mode}-{}.conf", extra.is_empty()),
            &m,
            &format!("failmode = {mode}\nsend_gecos = yes\n{extra}"),
        );
        let svc = format!("duo-notice-{mode}-{}", extra.is_empty());
        let confdir = pam_service(&m, &svc, &conf);
        let (code, out, err) = pamclient(&confdir, &svc, &user.name, &[]);
        let want = if mode == "safe" {
            PAM_SUCCESS
        } else {
            PAM_SERVICE_ERR
        };
        assert_eq!(code, want, "{out}\n{err}");
        match &notice {
            Some(n) => assert!(out.lines().any(|l| l == n), "{mode}: {out}"),
            None => assert!(!out.contains("unreachable"), "{out}"),
        }
        // login_duo (headless: stdin is not a terminal) writes it on stderr.
        let out = LoginDuo::new(&conf)
            .debug(false)
            .env("PATH", "/usr/bin:/bin")
            .user("503")
            .echo("RAN-notice")
            .limit(Duration::from_secs(30))
            .run();
        let stderr = &out.stderr;
        assert_eq!(out.status.success(), mode == "safe", "{stderr}");
        let line = if mode == "safe" { safe } else { secure };
        assert_eq!(
            stderr.lines().any(|l| l == line),
            notice.is_some(),
            "{mode} {extra}: {stderr}"
        );
    }
}

/// §0a D10: a config file owned by an ordinary user is refused, even with mode 0600: its owner
/// could switch two-factor authentication off for everyone.
#[test]
#[ignore = "needs root"]
fn a_config_owned_by_an_ordinary_user_denies() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let owner = duo_tests::users::TempUser::create("duoow", "x");
    let conf = conf_with_line_8(&m.dir, "owned.conf", &m, "failmode = safe");
    std::os::unix::fs::chown(&conf, Some(owner.uid), Some(owner.gid)).expect("chown");
    let (ok, err) = login_duo(&conf, false);
    assert!(!ok);
    assert!(
        err.contains(&format!("{} must be owned by user 'root'", conf.display())),
        "{err}"
    );
    let confdir = pam_service(&m, "duo-parity-owner", &conf);
    let (code, _out, err) = pamclient(&confdir, "duo-parity-owner", "root", &[]);
    assert_eq!(code, PAM_SERVICE_ERR);
    assert!(
        err.contains(&format!(
            "[3] {} must be owned by user 'root'",
            conf.display()
        )),
        "{err}"
    );
    assert!(m.requests().is_empty(), "nothing reached Duo");
}

/// §0a D9: the module's lines carry facility authpriv even in a host that never called
/// `openlog` (pamclient), so they land where pam_unix's do; and without `debug` the config
/// problem lines of the reference go to syslog.
#[test]
#[ignore = "needs root"]
fn pam_duo_logs_to_authpriv_in_a_host_without_openlog() {
    duo_tests::require_root();
    use duo_tests::logsink::{Journal, LogSinks};
    let m = Mock::start(&[]);
    let ok = conf_with_line_8(&m.dir, "facility.conf", &m, "; eight");
    let bad = conf_with_line_8(&m.dir, "facility-bad.conf", &m, "gecos_delim = ,,");
    for (name, conf, answer) in [("duo-fac-ok", &ok, "1"), ("duo-fac-bad", &bad, "")] {
        let confdir = pam_service_args(&m, name, conf, "");
        let sinks = LogSinks::start(Journal::Absent);
        let mut pam = PamClient::new(&confdir, name, "root").limit(Duration::from_secs(60));
        if !answer.is_empty() {
            pam = pam.answers(&[answer]);
        }
        let out = pam.run_with(|cmd| sinks.sandbox(cmd));
        assert!(!out.killed);
        let got = sinks.finish().syslog_messages();
        let lines: Vec<(u32, String)> = got
            .iter()
            .map(|(pri, msg)| (*pri, String::from_utf8_lossy(msg).into_owned()))
            .collect();
        assert!(!lines.is_empty(), "{name}: no syslog line");
        for (pri, msg) in &lines {
            assert_eq!(pri >> 3, 10, "{name}: facility of {msg:?} is not authpriv");
        }
        let texts: Vec<&str> = lines.iter().map(|(_, m)| m.as_str()).collect();
        if name == "duo-fac-ok" {
            assert!(
                texts.contains(&"Successful Duo login for 'root'"),
                "{texts:?}"
            );
            assert!(
                texts.iter().any(|t| t.starts_with("Loading config file")),
                "{texts:?}"
            );
        } else {
            let p = bad.display();
            let want = [
                "Invalid character option length. Character fields must be 1 character long: ',,'"
                    .to_string(),
                "Invalid pam_duo option: 'gecos_delim'".to_string(),
                format!("Parse error in {p}, line 8"),
            ];
            for w in &want {
                assert!(texts.contains(&w.as_str()), "{w:?} not in {texts:?}");
            }
            // And nothing on stderr without debug.
            assert!(out.stderr.is_empty(), "{}", out.stderr);
        }
    }
}
