//! What an ssh user sees (issue 23, docs/BEHAVIOUR.md §0a D17): a real sshd on 127.0.0.1 with
//! pam_duo under service `sshd`, a real `ssh` client on a pseudo-terminal whose every screen
//! chunk is time-stamped, and the mock's `slow-push` user, whose push stays pending for 4 s
//! and then approves (the mock records when). Each row checks what reached the screen before
//! the phone approved, how often the success line appears, and how many `/auth` (pushes) the
//! login sent.
//!
//! Every row runs against the host's sshd (Debian 12's OpenSSH 9.2, which holds informational
//! messages back until the next prompt: OpenSSH bug 2876).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use duo_tests::pty::PtyChild;
use duo_tests::sshd::{duo_line, stack, Sshd, HOST_SSHD};
use duo_tests::users::TempUser;
use duo_tests::Mock;

const T: Duration = Duration::from_secs(30);
const SUCCESS: &str = "Success. Logging you in...";
const KBDINT: &str = "keyboard-interactive";
const SSHD_KBDINT: &str =
    "KbdInteractiveAuthentication yes\nPasswordAuthentication no\nAuthenticationMethods keyboard-interactive";

/// One login's setting: a mock, its config, a user and an sshd.
struct Row {
    mock: Mock,
    user: TempUser,
    sshd: Sshd,
    dir: std::path::PathBuf,
}

impl Drop for Row {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A row with pam_duo configured with `conf_extra`, the stack `auth` (where `DUO` stands for
/// pam_duo's line), the Duo user `duo_user` and `settings` for sshd.
fn row(tag: &str, conf_extra: &str, auth: &[&str], duo_user: &str, settings: &str) -> Row {
    row_with(&[], tag, conf_extra, auth, duo_user, settings)
}

/// [`row`] with a mock started with `mock_args`.
fn row_with(
    mock_args: &[&str],
    tag: &str,
    conf_extra: &str,
    auth: &[&str],
    duo_user: &str,
    settings: &str,
) -> Row {
    let mock = Mock::start(mock_args);
    let dir = duo_tests::temp_dir(tag);
    let conf = duo_tests::mock_conf(
        &mock,
        "pam_duo.conf",
        &format!("send_gecos = yes\n{conf_extra}"),
    );
    let duo = duo_line(&conf);
    let lines: Vec<&str> = auth
        .iter()
        .map(|l| if *l == "DUO" { duo.as_str() } else { l })
        .collect();
    // Users are made before sshd starts: its overlay over /etc does not follow later changes.
    let user = TempUser::create("duoss", duo_user);
    let sshd = Sshd::start(Path::new(HOST_SSHD), &dir, &stack(&lines), settings);
    Row {
        mock,
        user,
        sshd,
        dir,
    }
}

impl Row {
    fn auths(&self) -> Vec<serde_json::Value> {
        self.mock
            .requests()
            .into_iter()
            .filter(|r| r["path"] == "/auth/v2/auth")
            .collect()
    }

    /// When the phone approved, for each approval.
    fn approvals(&self) -> Vec<SystemTime> {
        self.mock
            .requests()
            .iter()
            .filter_map(|r| r["at_ms"].as_u64())
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
            .collect()
    }

    /// The one approval of the login.
    fn approval(&self, p: &PtyChild) -> SystemTime {
        let a = self.approvals();
        assert_eq!(a.len(), 1, "one approval: {a:?}\n{}", p.transcript);
        a[0]
    }
}

fn ok(r: Result<(), String>, p: &PtyChild, sshd: &Sshd) {
    if let Err(e) = r {
        panic!(
            "{e}\nsshd log:\n{}\ntranscript:\n{}",
            sshd.log_text(),
            p.transcript
        );
    }
}

/// `needle` was on the screen before `approved`.
fn before(p: &PtyChild, needle: &str, approved: SystemTime) {
    let seen = p
        .seen_at(needle)
        .unwrap_or_else(|| panic!("{needle:?} never shown:\n{}", p.transcript));
    assert!(
        seen < approved,
        "{needle:?} shown {:?} after the approval:\n{}",
        seen.duration_since(approved).unwrap_or_default(),
        p.transcript
    );
}

/// The login ran its command and ended well; at most one success line; one `/auth`.
fn logged_in(r: &Row, p: &mut PtyChild, marker: &str) {
    ok(p.expect(marker, T), p, &r.sshd);
    let status = p.finish(T);
    assert!(status.is_some_and(|s| s.success()), "{}", p.transcript);
    assert!(
        p.count(SUCCESS) <= 1,
        "success line at most once:\n{}",
        p.transcript
    );
    assert_eq!(r.auths().len(), 1, "one /auth per login: {:?}", r.auths());
}

fn marker(tag: &str) -> String {
    format!("RAN-{tag}")
}

/// With `verified_push = yes` and a menu answer, the code is on the screen before the phone
/// approves; the login then polls after the Enter.
#[test]
#[ignore = "needs root"]
fn verified_push_code_before_approval() {
    duo_tests::require_root();
    let r = row(
        "ss-vp",
        "verified_push = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''vp");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(p.expect("enter code 708 in Duo Mobile", T), &p, &r.sshd);
    ok(p.expect("then press Enter: ", T), &p, &r.sshd);
    p.send("\n");
    logged_in(&r, &mut p, &marker("vp"));
    before(&p, "enter code 708 in Duo Mobile", r.approval(&p));
    let auth = &r.auths()[0];
    assert_eq!(auth["params"]["async"], "1", "{auth}");
    assert_eq!(auth["params"]["txid"], "vp-slow-push", "{auth}");
}

/// After a menu answer the status line is on the screen before the approval; an early Enter
/// just waits for the phone.
#[test]
#[ignore = "needs root"]
fn status_before_approval_after_menu_answer() {
    duo_tests::require_root();
    let r = row("ss-menu", "", &["DUO"], "slow-push", SSHD_KBDINT);
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''menu");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(
        p.expect("Pushed a login request to your device...", T),
        &p,
        &r.sshd,
    );
    ok(p.expect("then press Enter: ", T), &p, &r.sshd);
    p.send("\n");
    logged_in(&r, &mut p, &marker("menu"));
    let approved = r.approval(&p);
    before(&p, "Pushed a login request to your device...", approved);
    // The Enter came before the approval: the login waited for the phone.
    let shell = p.seen_at(&marker("menu")).expect("ran");
    assert!(shell >= approved, "{}", p.transcript);
}

/// With autopush, "Autopushing..." and the push's status are on the screen before approval.
#[test]
#[ignore = "needs root"]
fn status_before_approval_with_autopush() {
    duo_tests::require_root();
    let r = row(
        "ss-auto",
        "autopush = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''auto");
    ok(
        p.expect("Autopushing login request to phone...", T),
        &p,
        &r.sshd,
    );
    ok(p.expect("then press Enter: ", T), &p, &r.sshd);
    p.send("\n");
    logged_in(&r, &mut p, &marker("auto"));
    let approved = r.approval(&p);
    before(&p, "Autopushing login request to phone...", approved);
    before(&p, "Pushed a login request to your device...", approved);
}

/// `pam_permit` then pam_duo: the success line at most once (the C version shows it twice on
/// this sshd), one `/auth`, and nothing after the login but the command's output.
#[test]
#[ignore = "needs root"]
fn success_line_at_most_once_after_pam_permit() {
    duo_tests::require_root();
    let r = row(
        "ss-permit",
        "autopush = yes",
        &["auth required pam_permit.so", "DUO"],
        "slow-push",
        SSHD_KBDINT,
    );
    let mut p = r
        .sshd
        .login(&r.user.name, KBDINT, true, "echo RAN-''permit");
    ok(p.expect("then press Enter: ", T), &p, &r.sshd);
    p.send("\n");
    logged_in(&r, &mut p, &marker("permit"));
    let after = &p.transcript[p.transcript.find("press Enter: ").unwrap_or(0)..];
    assert!(
        !after.contains("Autopushing"),
        "no status line after the login:\n{}",
        p.transcript
    );
}

/// `AuthenticationMethods password,keyboard-interactive` with `pam_unix` and autopush: sshd
/// runs the stack twice on one handle; the second run uses the first run's approval, so the
/// login sends one push and shows the success line at most once.
#[test]
#[ignore = "needs root"]
fn password_then_keyboard_interactive_pushes_once() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let dir = duo_tests::temp_dir("ss-pwkbd");
    let conf = duo_tests::mock_conf(&mock, "pam_duo.conf", "send_gecos = yes\nautopush = yes");
    let user = TempUser::create("duosp", "slow-push");
    let pw = format!("Pw-{}-x", std::process::id());
    let mut chpasswd = Command::new("chpasswd")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("chpasswd");
    use std::io::Write;
    chpasswd
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{}:{pw}\n", user.name).as_bytes())
        .expect("write");
    assert!(chpasswd.wait().expect("wait").success());
    let duo = duo_line(&conf);
    let sshd = Sshd::start(
        Path::new(HOST_SSHD),
        &dir,
        &stack(&["auth requisite pam_unix.so", &duo]),
        "KbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods password,keyboard-interactive",
    );
    let r = Row {
        mock,
        user,
        sshd,
        dir,
    };
    let mut p = r.sshd.login(
        &r.user.name,
        "password,keyboard-interactive",
        true,
        "echo RAN-''pwkbd",
    );
    // The password method: sshd's password conversation cannot prompt, so the push waits
    // for the phone without a word (what sshd allows there); the approval is kept.
    ok(p.expect("password: ", T), &p, &r.sshd);
    p.send(&format!("{pw}\n"));
    // keyboard-interactive: pam_unix asks again, pam_duo uses the kept approval.
    ok(p.expect("Password: ", T), &p, &r.sshd);
    p.send(&format!("{pw}\n"));
    logged_in(&r, &mut p, &marker("pwkbd"));
    assert!(!p.transcript.contains("press Enter"), "{}", p.transcript);
}

/// A passcode: no push, no wait, in one `/auth`.
#[test]
#[ignore = "needs root"]
fn passcode() {
    duo_tests::require_root();
    let r = row("ss-code", "", &["DUO"], "slow-push", SSHD_KBDINT);
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''code");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("123456\n");
    logged_in(&r, &mut p, &marker("code"));
    assert!(!p.transcript.contains("press Enter"), "{}", p.transcript);
    assert!(r.approvals().is_empty());
}

/// `ssh host command` without a terminal gets the code and the status before the approval
/// too (sshd never prints its held login messages for a command session).
#[test]
#[ignore = "needs root"]
fn command_without_terminal_gets_code() {
    duo_tests::require_root();
    let r = row(
        "ss-cmd",
        "verified_push = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, false, "echo RAN-''cmd");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(p.expect("then press Enter: ", T), &p, &r.sshd);
    p.send("\n");
    logged_in(&r, &mut p, &marker("cmd"));
    before(&p, "enter code 708 in Duo Mobile", r.approval(&p));
}

/// A client that cannot answer (stdin closed, no terminal) is refused within seconds, and no
/// push is sent.
#[test]
#[ignore = "needs root"]
fn client_that_cannot_answer_is_refused_without_push() {
    duo_tests::require_root();
    let r = row("ss-closed", "", &["DUO"], "slow-push", SSHD_KBDINT);
    let mut cmd = Command::new("setsid");
    let client = r
        .sshd
        .client(&r.user.name, KBDINT, false, "echo RAN-closed");
    cmd.arg(client.get_program()).args(client.get_args());
    let out = duo_tests::run_captured(cmd, T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.killed && !out.status.success(),
        "{:?} {err}",
        out.status
    );
    assert!(out.elapsed < Duration::from_secs(15), "{:?}", out.elapsed);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("RAN-closed"));
    assert!(r.auths().is_empty(), "no push: {:?}", r.auths());
}

/// A written `/auth` is never sent again: the mock reads it and never answers; the login
/// fails after one `/auth` (it was retried three times before).
#[test]
#[ignore = "needs root"]
fn unanswered_auth_is_not_resent() {
    duo_tests::require_root();
    let r = row(
        "ss-silent",
        "autopush = yes\nhttps_timeout = 2\nprompts = 1",
        &["DUO"],
        "silent-auth",
        SSHD_KBDINT,
    );
    let mut p = r
        .sshd
        .login(&r.user.name, KBDINT, true, "echo RAN-''silent");
    let status = p.finish(T);
    assert!(status.is_some_and(|s| !s.success()), "{}", p.transcript);
    assert_eq!(r.auths().len(), 1, "one /auth: {:?}", r.auths());
}

/// The server closed the kept-alive connection while the user read the menu: the `/auth` goes
/// out on a new connection (it is not written into the closed one and then given up).
#[test]
#[ignore = "needs root"]
fn auth_after_the_server_closed_the_idle_connection() {
    duo_tests::require_root();
    let r = row_with(
        &["--idle-close", "200"],
        "ss-idle",
        "",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''idle");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    std::thread::sleep(Duration::from_millis(800));
    p.send("123456\n");
    logged_in(&r, &mut p, &marker("idle"));
    let preauth = r
        .mock
        .requests()
        .into_iter()
        .find(|q| q["path"] == "/auth/v2/preauth")
        .expect("preauth");
    assert_ne!(r.auths()[0]["conn"], preauth["conn"], "a new connection");
}
