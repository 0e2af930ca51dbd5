//! What an ssh user sees (issue 23, docs/BEHAVIOUR.md §0a D17): a real sshd on 127.0.0.1 with
//! pam_duo under service `sshd`, a real `ssh` client on a pseudo-terminal whose every screen
//! chunk is time-stamped, and the mock's `slow-push` user, whose push stays pending for 4 s
//! and then approves (the mock records when). Each row checks what reached the screen before
//! the phone approved, how often the success line appears, and how many `/auth` (pushes) the
//! login sent.
//!
//! The servers ([`On`]):
//! - the host's sshd, Debian 12's OpenSSH 9.2p1, which holds informational messages back
//!   until the next prompt or the end of the stack (OpenSSH bug 2876): every row;
//! - Debian 13's OpenSSH 10.0p1, which holds them back too, and Debian unstable's (10.3p1 or
//!   later), which shows them at once (upstream 10.3: "immediately report interactive
//!   instructions to clients"), each from a Debian tree that `tests/sshd-roots.sh` makes
//!   with debootstrap (once, kept in `target/sshd-roots/`) and run chrooted into a private
//!   overlay of it: the rows about what reaches the screen. The client is always the host's
//!   `ssh`. A tree that cannot be made fails these rows, with the script's reason.
//!
//! The `*_holds_messages_back` rows are the evidence for the README's table: with
//! `sshd_messages = immediate`, a holding sshd shows the code only after the approval.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use duo_tests::pty::PtyChild;
use duo_tests::sshd::{duo_line, stack, Root, Sshd, HOST_SSHD};
use duo_tests::users::TempUser;
use duo_tests::Mock;

const T: Duration = Duration::from_secs(30);
const SUCCESS: &str = "Success. Logging you in...";
const CODE: &str = "enter code 708 in Duo Mobile";
const PUSHED: &str = "Pushed a login request to your device...";
const AUTOPUSH: &str = "Autopushing login request to phone...";
const GO_AHEAD: &str = "then press Enter: ";
const KBDINT: &str = "keyboard-interactive";
const SSHD_KBDINT: &str =
    "KbdInteractiveAuthentication yes\nPasswordAuthentication no\nAuthenticationMethods keyboard-interactive";

/// Which sshd a row runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// The host's: Debian 12, OpenSSH 9.2p1.
    Host,
    /// A tree of `tests/sshd-roots.sh`: `trixie` (OpenSSH 10.0p1) or `sid`.
    Root(&'static str),
}

/// The sshd of a row, and pam_duo's `sshd_messages`.
#[derive(Clone, Copy, Debug)]
struct On {
    server: Server,
    /// `sshd_messages = immediate` (else the default, `prompt`).
    immediate: bool,
}

/// Debian 12's sshd with the default key.
const HOST: On = On {
    server: Server::Host,
    immediate: false,
};
/// Debian 13's sshd (holds messages back) with the default key.
const TRIXIE: On = On {
    server: Server::Root("trixie"),
    immediate: false,
};
/// Debian unstable's sshd (shows messages at once) with `sshd_messages = immediate`.
const SID_IMMEDIATE: On = On {
    server: Server::Root("sid"),
    immediate: true,
};
/// Debian unstable's sshd with the default key: the prompts work there too.
const SID: On = On {
    server: Server::Root("sid"),
    immediate: false,
};

/// One login's setting: a mock, its config, a user and an sshd.
struct Row {
    mock: Mock,
    user: TempUser,
    sshd: Sshd,
    dir: std::path::PathBuf,
    on: On,
}

impl Drop for Row {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A row on the host's sshd: pam_duo configured with `conf_extra`, the stack `auth` (where
/// `DUO` stands for pam_duo's line), the Duo user `duo_user` and `settings` for sshd.
fn row(tag: &str, conf_extra: &str, auth: &[&str], duo_user: &str, settings: &str) -> Row {
    row_on(HOST, &[], tag, conf_extra, auth, duo_user, settings, None)
}

/// [`row`] on the sshd `on` with a mock started with `mock_args`; `password` is set for the
/// user when given.
#[allow(clippy::too_many_arguments)]
fn row_on(
    on: On,
    mock_args: &[&str],
    tag: &str,
    conf_extra: &str,
    auth: &[&str],
    duo_user: &str,
    settings: &str,
    password: Option<&str>,
) -> Row {
    // Made (or found) before anything else, so that a missing tree fails before users exist.
    let root = match on.server {
        Server::Host => None,
        Server::Root(suite) => Some(Root::get(suite)),
    };
    let mock = Mock::start(mock_args);
    let dir = duo_tests::temp_dir(tag);
    let key = if on.immediate {
        "\nsshd_messages = immediate"
    } else {
        ""
    };
    let conf = duo_tests::mock_conf(
        &mock,
        "pam_duo.conf",
        &format!("send_gecos = yes\n{conf_extra}{key}"),
    );
    let duo = duo_line(&conf);
    let lines: Vec<&str> = auth
        .iter()
        .map(|l| if *l == "DUO" { duo.as_str() } else { l })
        .collect();
    // Users are made before sshd starts: its view of the user database is fixed then.
    let user = TempUser::create("duoss", duo_user);
    if let Some(pw) = password {
        set_password(&user.name, pw);
    }
    let pam = stack(&lines);
    let sshd = match &root {
        None => Sshd::start(Path::new(HOST_SSHD), &dir, &pam, settings),
        Some(root) => {
            let module = duo_tests::built("libpam_duo.so");
            let build = module.parent().expect("build dir");
            Sshd::start_in_root(
                root,
                &dir,
                &pam,
                settings,
                &[&user.name],
                &[build, &mock.dir],
            )
        }
    };
    Row {
        mock,
        user,
        sshd,
        dir,
        on,
    }
}

/// Give `user` the password `pw` (on the host; a root's copy of the account takes it along).
fn set_password(user: &str, pw: &str) {
    use std::io::Write;
    let mut chpasswd = Command::new("chpasswd")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("chpasswd");
    chpasswd
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{user}:{pw}\n").as_bytes())
        .expect("write");
    assert!(chpasswd.wait().expect("wait").success());
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

    /// The go-ahead after Duo's news of a push: with `sshd_messages = prompt` a prompt of its
    /// own, answered with Enter; with `immediate` nothing to answer.
    fn go_ahead(&self, p: &mut PtyChild) {
        if !self.on.immediate {
            ok(p.expect(GO_AHEAD, T), p, &self.sshd);
            p.send("\n");
        }
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

/// `needle` was on the screen once, before `approved`: no status line after the login.
fn once_before(p: &PtyChild, needle: &str, approved: SystemTime) {
    before(p, needle, approved);
    assert_eq!(p.count(needle), 1, "{needle:?} once:\n{}", p.transcript);
}

/// The login ran its command and ended well; at most one success line; one `/auth`; with
/// `sshd_messages = immediate` no go-ahead prompt.
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
    if r.on.immediate {
        assert!(!p.transcript.contains("press Enter"), "{}", p.transcript);
    }
}

fn marker(tag: &str) -> String {
    format!("RAN-{tag}")
}

/// With `verified_push = yes` and a menu answer, the code is on the screen before the phone
/// approves; with the default key the login then polls after the Enter.
fn verified_push_code(on: On, tag: &str) {
    duo_tests::require_root();
    let r = row_on(
        on,
        &[],
        tag,
        "verified_push = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
        None,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''vp");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(p.expect(CODE, T), &p, &r.sshd);
    r.go_ahead(&mut p);
    logged_in(&r, &mut p, &marker("vp"));
    once_before(&p, CODE, r.approval(&p));
    let auth = &r.auths()[0];
    assert_eq!(auth["params"]["async"], "1", "{auth}");
    assert_eq!(auth["params"]["txid"], "vp-slow-push", "{auth}");
}

/// After a menu answer the status line is on the screen before the approval; an early Enter
/// just waits for the phone.
fn status_after_menu_answer(on: On, tag: &str) {
    duo_tests::require_root();
    let r = row_on(on, &[], tag, "", &["DUO"], "slow-push", SSHD_KBDINT, None);
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''menu");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(p.expect(PUSHED, T), &p, &r.sshd);
    r.go_ahead(&mut p);
    logged_in(&r, &mut p, &marker("menu"));
    let approved = r.approval(&p);
    once_before(&p, PUSHED, approved);
    // The Enter came before the approval: the login waited for the phone.
    let shell = p.seen_at(&marker("menu")).expect("ran");
    assert!(shell >= approved, "{}", p.transcript);
}

/// With autopush, "Autopushing..." and the push's status are on the screen before approval.
fn status_with_autopush(on: On, tag: &str) {
    duo_tests::require_root();
    let r = row_on(
        on,
        &[],
        tag,
        "autopush = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
        None,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''auto");
    ok(p.expect(AUTOPUSH, T), &p, &r.sshd);
    r.go_ahead(&mut p);
    logged_in(&r, &mut p, &marker("auto"));
    let approved = r.approval(&p);
    once_before(&p, AUTOPUSH, approved);
    once_before(&p, PUSHED, approved);
}

/// `pam_permit` then pam_duo: the success line at most once, one `/auth`, and no status line
/// after the login (each shown once, before the approval).
fn success_line_after_pam_permit(on: On, tag: &str) {
    duo_tests::require_root();
    let r = row_on(
        on,
        &[],
        tag,
        "autopush = yes",
        &["auth required pam_permit.so", "DUO"],
        "slow-push",
        SSHD_KBDINT,
        None,
    );
    let mut p = r
        .sshd
        .login(&r.user.name, KBDINT, true, "echo RAN-''permit");
    ok(p.expect(AUTOPUSH, T), &p, &r.sshd);
    r.go_ahead(&mut p);
    logged_in(&r, &mut p, &marker("permit"));
    let approved = r.approval(&p);
    once_before(&p, AUTOPUSH, approved);
    once_before(&p, PUSHED, approved);
    if r.on.immediate {
        // An sshd that shows lines at once shows the success line too, once.
        assert_eq!(p.count(SUCCESS), 1, "{}", p.transcript);
    }
}

/// `AuthenticationMethods password,keyboard-interactive` with `pam_unix` and autopush: sshd
/// runs the stack twice on one handle; the second run uses the first run's approval, so the
/// login sends one push and shows the success line at most once.
fn password_then_keyboard_interactive(on: On, tag: &str) {
    duo_tests::require_root();
    let pw = format!("Pw-{}-x", std::process::id());
    let r = row_on(
        on,
        &[],
        tag,
        "autopush = yes",
        &["auth requisite pam_unix.so", "DUO"],
        "slow-push",
        "KbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods password,keyboard-interactive",
        Some(&pw),
    );
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
    assert_eq!(r.approvals().len(), 1, "{}", p.transcript);
    assert!(
        r.sshd
            .log_text()
            .contains("Accepted keyboard-interactive/pam"),
        "{}",
        r.sshd.log_text()
    );
    // The keyboard-interactive step logged that it used the earlier approval (the trees'
    // sshd logs the module's syslog lines to the test; the host's has no /dev/log).
    if let Some(lines) = r.sshd.syslog_lines() {
        let reused: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("approved earlier in this sshd login"))
            .collect();
        assert_eq!(reused.len(), 1, "{lines:#?}");
        assert!(
            reused[0].contains("Successful Duo login for 'slow-push'"),
            "{reused:?}"
        );
    }
    assert!(r.on.server == Server::Host || r.sshd.syslog_lines().is_some());
}

/// `ssh host command` without a terminal gets the code and the status before the approval
/// too (no held login message is needed for a command session).
fn command_without_terminal(on: On, tag: &str) {
    duo_tests::require_root();
    let r = row_on(
        on,
        &[],
        tag,
        "verified_push = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
        None,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, false, "echo RAN-''cmd");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(p.expect(CODE, T), &p, &r.sshd);
    r.go_ahead(&mut p);
    logged_in(&r, &mut p, &marker("cmd"));
    once_before(&p, CODE, r.approval(&p));
}

/// The evidence for "this sshd holds messages back": with `sshd_messages = immediate` the code
/// reaches the screen only after the phone approved (together with the success line), and the
/// login still works.
fn holds_messages_back(server: Server, tag: &str) {
    duo_tests::require_root();
    let on = On {
        server,
        immediate: true,
    };
    let r = row_on(
        on,
        &[],
        tag,
        "verified_push = yes",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
        None,
    );
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "echo RAN-''held");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    logged_in(&r, &mut p, &marker("held"));
    let approved = r.approval(&p);
    let seen = p
        .seen_at(CODE)
        .unwrap_or_else(|| panic!("{CODE:?} never shown:\n{}", p.transcript));
    assert!(
        seen >= approved,
        "this sshd showed the code before the approval: it does not hold messages back \
         (docs and this test need updating):\n{}",
        p.transcript
    );
}

// --- Debian 12's OpenSSH 9.2p1 (the host's): every row, with the default key.

#[test]
#[ignore = "needs root"]
fn verified_push_code_before_approval() {
    verified_push_code(HOST, "ss-vp");
}

#[test]
#[ignore = "needs root"]
fn status_before_approval_after_menu_answer() {
    status_after_menu_answer(HOST, "ss-menu");
}

#[test]
#[ignore = "needs root"]
fn status_before_approval_with_autopush() {
    status_with_autopush(HOST, "ss-auto");
}

/// The C version shows the success line twice on this sshd.
#[test]
#[ignore = "needs root"]
fn success_line_at_most_once_after_pam_permit() {
    success_line_after_pam_permit(HOST, "ss-permit");
}

#[test]
#[ignore = "needs root"]
fn password_then_keyboard_interactive_pushes_once() {
    password_then_keyboard_interactive(HOST, "ss-pwkbd");
}

/// The other order, `keyboard-interactive,password`, still pushes twice: sshd runs the
/// keyboard-interactive step in a child process, so the approval kept there is gone when the
/// password step runs the stack again. This is why duo-check warns about that order
/// (duo-check/src/sshd.rs `PamRuns::Twice`); the README recommends the order above.
#[test]
#[ignore = "needs root"]
fn keyboard_interactive_then_password_pushes_twice_as_duo_check_warns() {
    duo_tests::require_root();
    let pw = format!("Pw-{}-y", std::process::id());
    let r = row_on(
        HOST,
        &[],
        "ss-kbdpw",
        "autopush = yes",
        &["auth requisite pam_unix.so", "DUO"],
        "slow-push",
        "KbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods keyboard-interactive,password",
        Some(&pw),
    );
    let mut p = r.sshd.login(
        &r.user.name,
        "keyboard-interactive,password",
        true,
        "echo RAN-''kbdpw",
    );
    ok(p.expect("Password: ", T), &p, &r.sshd);
    p.send(&format!("{pw}\n"));
    r.go_ahead(&mut p);
    ok(p.expect("password: ", T), &p, &r.sshd);
    p.send(&format!("{pw}\n"));
    ok(p.expect(&marker("kbdpw"), T), &p, &r.sshd);
    assert!(p.finish(T).is_some_and(|s| s.success()), "{}", p.transcript);
    assert_eq!(r.auths().len(), 2, "two pushes: {:?}", r.auths());
}

#[test]
#[ignore = "needs root"]
fn command_without_terminal_gets_code() {
    command_without_terminal(HOST, "ss-cmd");
}

#[test]
#[ignore = "needs root"]
fn host_sshd_holds_messages_back() {
    holds_messages_back(Server::Host, "ss-held");
}

// --- Debian 13's OpenSSH 10.0p1 (holds messages back), with the default key.

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_verified_push_code_before_approval() {
    verified_push_code(TRIXIE, "ss-t-vp");
}

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_status_before_approval_after_menu_answer() {
    status_after_menu_answer(TRIXIE, "ss-t-menu");
}

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_status_before_approval_with_autopush() {
    status_with_autopush(TRIXIE, "ss-t-auto");
}

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_success_line_at_most_once_after_pam_permit() {
    success_line_after_pam_permit(TRIXIE, "ss-t-permit");
}

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_password_then_keyboard_interactive_pushes_once() {
    password_then_keyboard_interactive(TRIXIE, "ss-t-pwkbd");
}

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_command_without_terminal_gets_code() {
    command_without_terminal(TRIXIE, "ss-t-cmd");
}

#[test]
#[ignore = "needs root and a Debian trixie tree (tests/sshd-roots.sh, made on first use)"]
fn trixie_sshd_holds_messages_back() {
    holds_messages_back(Server::Root("trixie"), "ss-t-held");
}

// --- Debian unstable's OpenSSH (10.3p1 or later: shows messages at once), with
// `sshd_messages = immediate`: no go-ahead prompt, every line as it comes.

#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_immediate_verified_push_code_before_approval() {
    verified_push_code(SID_IMMEDIATE, "ss-s-vp");
}

#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_immediate_status_before_approval_after_menu_answer() {
    status_after_menu_answer(SID_IMMEDIATE, "ss-s-menu");
}

#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_immediate_status_before_approval_with_autopush() {
    status_with_autopush(SID_IMMEDIATE, "ss-s-auto");
}

#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_immediate_success_line_once_after_pam_permit() {
    success_line_after_pam_permit(SID_IMMEDIATE, "ss-s-permit");
}

#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_immediate_password_then_keyboard_interactive_pushes_once() {
    password_then_keyboard_interactive(SID_IMMEDIATE, "ss-s-pwkbd");
}

#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_immediate_command_without_terminal_gets_code() {
    command_without_terminal(SID_IMMEDIATE, "ss-s-cmd");
}

/// The default key works on an sshd that shows messages at once too (one extra Enter).
#[test]
#[ignore = "needs root and a Debian sid tree (tests/sshd-roots.sh, made on first use)"]
fn sid_prompt_verified_push_code_before_approval() {
    verified_push_code(SID, "ss-s-vp-prompt");
}

// --- The host's sshd only: passcode, clients that cannot answer, the transport.

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

/// `login_duo` as `ForceCommand` (no pam_duo in sshd's stack) still shows the Verified Push
/// code at once, before the approval: it writes to the terminal itself.
#[test]
#[ignore = "needs root"]
fn forced_login_duo_shows_the_code_before_approval() {
    use std::os::unix::fs::PermissionsExt;
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    // login_duo reads its config and the CA as the privilege-separation user.
    std::fs::set_permissions(&mock.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&mock.ca, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let dir = duo_tests::temp_dir("ss-forced");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let login = dir.join("login_duo");
    std::fs::copy(duo_tests::built("login_duo"), &login).expect("copy login_duo");
    std::os::unix::fs::chown(&login, Some(0), Some(0)).expect("chown");
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o4755)).expect("setuid");
    let user = TempUser::create("duosf", "slow-push");
    let body = duo_tests::mock_conf_body(&mock, "send_gecos = yes\nverified_push = yes");
    let sshd = Sshd::start_with(
        Path::new(HOST_SSHD),
        &dir,
        &stack(&["auth required pam_permit.so"]),
        &format!("{SSHD_KBDINT}\nForceCommand {}", login.display()),
        |etc| {
            let conf = duo_tests::write_conf(&etc.file("duo/login_duo.conf"), &body);
            let out = Command::new("id")
                .args(["-u", "sshd"])
                .output()
                .expect("id");
            let uid: u32 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("sshd uid");
            std::os::unix::fs::chown(&conf, Some(uid), None).expect("chown");
        },
    );
    let r = Row {
        mock,
        user,
        sshd,
        dir,
        on: On {
            server: Server::Host,
            immediate: true,
        },
    };
    // An interactive login: with a command (SSH_ORIGINAL_COMMAND) login_duo is headless and
    // pushes without a word, as the C version does.
    let mut p = r.sshd.login(&r.user.name, KBDINT, true, "");
    ok(p.expect("Passcode or option (1-4): ", T), &p, &r.sshd);
    p.send("1\n");
    ok(p.expect("708", T), &p, &r.sshd);
    let end = std::time::Instant::now() + T;
    while r.approvals().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    p.send("echo RAN-''forced; exit\n");
    logged_in(&r, &mut p, &marker("forced"));
    before(&p, "708", r.approval(&p));
    assert_eq!(r.auths()[0]["params"]["async"], "1", "{:?}", r.auths());
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
    // The refusal came from pam_duo, which reached Duo's preauth, not from an earlier step.
    assert!(
        r.mock
            .requests()
            .iter()
            .any(|q| q["path"] == "/auth/v2/preauth"),
        "pam_duo ran: {}",
        r.sshd.log_text()
    );
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
    let r = row_on(
        HOST,
        &["--idle-close", "200"],
        "ss-idle",
        "",
        &["DUO"],
        "slow-push",
        SSHD_KBDINT,
        None,
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
