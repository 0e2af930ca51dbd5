//! A real `sudo` whose PAM service stacks `pam_duo.so`, against the mock Duo service.
//!
//! The test puts `/etc/sudoers.d/duo-test-<pid>` (a per-user `pam_service` and one allowed
//! command) and `/etc/pam.d/duo-sudo-<pid>` in a private overlay over `/etc` that only its
//! sudo runs see (`duo_tests::PrivateEtc`); the host's `/etc` is never written. A unique
//! service name is used, so the module does not apply its `sudo`-only pushinfo rule in the
//! first test; the second one replaces the overlay's `pam.d/sudo` so that the rule applies, and
//! checks that the push names the command sudo runs, never a `SUDO_COMMAND` of the caller
//! (docs/BEHAVIOUR.md §0a D18).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use duo_tests::users::TempUser;
use duo_tests::{Mock, PrivateEtc};

#[test]
#[ignore = "needs root"]
fn sudo_runs_the_command_only_after_approval() {
    duo_tests::require_root();
    if Command::new("sudo").arg("-V").output().is_err() {
        panic!("sudo is not installed (.ci/run installs it)");
    }
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let approve = TempUser::create("duosa", "alice");
    let deny = TempUser::create("duosd", "pushdeny");
    // Duo answers 503 (failsecure) and preauth deny (abort).
    let outage = TempUser::create("duoso", "503");
    let abort = TempUser::create("duosx", "preauth-deny");
    // The same outage under a service whose config says failmode = safe.
    let safe_outage = TempUser::create("duosf", "503");
    let pid = std::process::id();
    let service = format!("duo-sudo-{pid}");
    let conf = duo_tests::mock_conf(
        &m,
        "sudo.conf",
        "autopush = yes\nprompts = 1\nsend_gecos = yes\nfailmode = secure",
    );

    let safe_conf = m.dir.join("sudo-safe.conf");
    let safe_body = std::fs::read_to_string(&conf)
        .expect("conf")
        .replace("failmode = secure", "failmode = safe");
    duo_tests::write_conf(&safe_conf, &safe_body);

    let etc = PrivateEtc::with_run("sudo");
    let pam_file = etc.file(&format!("pam.d/{service}"));
    let safe_pam_file = etc.file(&format!("pam.d/{service}-safe"));
    let sudoers = etc.file(&format!("sudoers.d/duo-test-{pid}"));
    std::fs::write(
        &safe_pam_file,
        format!(
            "auth required {} conf={}\naccount required pam_permit.so\nsession required pam_permit.so\n",
            duo_tests::built("libpam_duo.so").display(),
            safe_conf.display()
        ),
    )
    .expect("pam service");
    std::fs::write(
        &pam_file,
        format!(
            "auth required {} conf={}\naccount required pam_permit.so\nsession required pam_permit.so\n",
            duo_tests::built("libpam_duo.so").display(),
            conf.display()
        ),
    )
    .expect("pam service");
    let mut rules = String::new();
    for u in [&approve, &deny, &outage, &abort] {
        rules.push_str(&format!(
            "Defaults:{0} pam_service={service}\nDefaults:{0} !lecture\n{0} ALL=(root) /usr/bin/id\n",
            u.name
        ));
    }
    rules.push_str(&format!(
        "Defaults:{0} pam_service={service}-safe\nDefaults:{0} !lecture\n{0} ALL=(root) /usr/bin/id\n",
        safe_outage.name
    ));
    std::fs::write(&sudoers, rules).expect("sudoers");
    std::fs::set_permissions(&sudoers, std::fs::Permissions::from_mode(0o440)).expect("chmod");
    let check = Command::new("visudo")
        .args(["-c", "-f"])
        .arg(&sudoers)
        .output()
        .expect("visudo");
    assert!(
        check.status.success(),
        "sudoers file invalid: {}",
        String::from_utf8_lossy(&check.stdout)
    );

    let sudo_as = |u: &TempUser| {
        etc.command("timeout", None)
            .args([
                "60",
                "runuser",
                "-u",
                &u.name,
                "--",
                "sudo",
                "-S",
                "/usr/bin/id",
                "-un",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run sudo")
    };
    let out = sudo_as(&approve);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "approved sudo failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // sudo shows the module's status lines (PAM_TEXT_INFO) too.
    assert!(stdout.contains("Success. Logging you in..."), "{stdout}");
    assert!(
        stdout.lines().any(|l| l == "root"),
        "the command ran as root after approval: {stdout}"
    );

    // §0a D9: the module's lines reach syslog with facility authpriv, where sudo and
    // pam_unix write (a private /dev/log, never the host's logging).
    {
        use duo_tests::logsink::{Journal, LogSinks};
        let sinks = LogSinks::start(Journal::Absent);
        let mut cmd = etc.command("timeout", None);
        cmd.args([
            "60",
            "runuser",
            "-u",
            &approve.name,
            "--",
            "sudo",
            "-S",
            "/usr/bin/id",
            "-un",
        ])
        .stdin(Stdio::null());
        sinks.sandbox(&mut cmd);
        let out = duo_tests::run_captured(cmd, Duration::from_secs(70));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let duo: Vec<(u32, String)> = sinks
            .finish()
            .syslog_messages()
            .into_iter()
            .map(|(p, m)| (p, String::from_utf8_lossy(&m).into_owned()))
            .filter(|(_, m)| m.contains("Duo"))
            .collect();
        assert!(
            duo.iter()
                .any(|(_, m)| m == "Successful Duo login for 'alice'"),
            "{duo:?}"
        );
        for (pri, m) in &duo {
            assert_eq!(pri >> 3, 10, "facility of {m:?} is not authpriv");
        }
    }

    let out = sudo_as(&deny);
    assert!(!out.status.success(), "denied sudo must fail");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.lines().any(|l| l == "root"),
        "the command must not run: {stdout}"
    );
    assert!(stdout.contains("Login request denied."), "{stdout}");

    // A failsecure denial and an abort are not "wrong answers": sudo stops at once with a PAM
    // error instead of asking again (README "How it fails").
    for (u, duo_name) in [(&outage, "503"), (&abort, "preauth-deny")] {
        let out = sudo_as(u);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{duo_name}: sudo must fail");
        assert!(
            !stdout.lines().any(|l| l == "root"),
            "{duo_name}: the command must not run: {stdout}"
        );
        assert!(
            stderr.contains("PAM authentication error"),
            "{duo_name}: {stderr}"
        );
        // An outage is told to the user (§0a D13); a denial by Duo is not an outage.
        assert_eq!(
            stderr.contains("Duo two-factor service unreachable: login denied (failmode secure)"),
            duo_name == "503",
            "{duo_name}: {stderr}"
        );
        let preauths = m
            .requests()
            .iter()
            .filter(|r| r["path"] == "/auth/v2/preauth" && r["params"]["username"] == duo_name)
            .count();
        assert_eq!(preauths, 1, "{duo_name}: sudo did not ask again");
    }

    // An outage under failmode = safe: the command runs, and the user is told (§0a D13).
    let out = sudo_as(&safe_outage);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.lines().any(|l| l == "root"), "{stdout}");
    assert!(
        stdout.contains(
            "Duo two-factor service unreachable: continuing without two-factor (failmode safe)"
        ),
        "{stdout}"
    );

    let users: Vec<String> = m
        .requests()
        .iter()
        .filter(|r| r["path"] == "/auth/v2/auth")
        .filter_map(|r| r["params"]["username"].as_str().map(String::from))
        .collect();
    // Two approvals for alice (the second one with a private syslog); sudo retries a failed
    // authentication itself (passwd_tries = 3).
    assert_eq!(users[..2], ["alice", "alice"]);
    assert_eq!(users[2..], ["pushdeny", "pushdeny", "pushdeny"]);
}

#[test]
#[ignore = "needs root"]
fn sudo_push_names_the_command_sudo_runs() {
    duo_tests::require_root();
    if Command::new("sudo").arg("-V").output().is_err() {
        panic!("sudo is not installed (.ci/run installs it)");
    }
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let user = TempUser::create("duosc", "alice");
    let conf = duo_tests::mock_conf(
        &m,
        "sudo-pushinfo.conf",
        "autopush = yes\nprompts = 1\nsend_gecos = yes\npushinfo = yes",
    );
    let etc = PrivateEtc::with_run("sudo-cmd");
    // The service really is `sudo` here (in the private overlay only).
    std::fs::write(
        etc.file("pam.d/sudo"),
        format!(
            "auth required {} conf={}\naccount required pam_permit.so\nsession required pam_permit.so\n",
            duo_tests::built("libpam_duo.so").display(),
            conf.display()
        ),
    )
    .expect("pam service");
    let sudoers = etc.file(&format!("sudoers.d/duo-cmd-{}", std::process::id()));
    std::fs::write(
        &sudoers,
        format!(
            "Defaults:{0} pam_service=sudo\nDefaults:{0} !lecture\n{0} ALL=(root) /usr/bin/id\n",
            user.name
        ),
    )
    .expect("sudoers");
    std::fs::set_permissions(&sudoers, std::fs::Permissions::from_mode(0o440)).expect("chmod");

    // The caller sets SUDO_COMMAND to something harmless-looking; sudo runs id.
    let run = |sudo_args: &[&str]| {
        let mut args = vec![
            "60",
            "runuser",
            "-u",
            &user.name,
            "--",
            "env",
            "SUDO_COMMAND=/usr/bin/true harmless",
            "sudo",
        ];
        args.extend(sudo_args);
        let before = m.requests().len();
        let out = etc
            .command("timeout", None)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run sudo");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "sudo {sudo_args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pushinfo: Vec<String> = m.requests()[before..]
            .iter()
            .filter(|r| r["path"] == "/auth/v2/auth")
            .filter_map(|r| r["params"]["pushinfo"].as_str().map(String::from))
            .collect();
        assert_eq!(pushinfo.len(), 1, "sudo {sudo_args:?}: {pushinfo:?}");
        for p in &pushinfo {
            assert!(!p.contains("harmless"), "SUDO_COMMAND was shown: {p}");
        }
        (stdout, pushinfo[0].clone())
    };
    let (stdout, pushinfo) = run(&["-S", "-u", "root", "/usr/bin/id", "-un"]);
    assert!(stdout.lines().any(|l| l == "root"), "{stdout}");
    assert!(
        pushinfo.ends_with("&Command=%2Fusr%2Fbin%2Fid%20-un"),
        "{pushinfo}"
    );
    let (_, pushinfo) = run(&["-S", "--", "/usr/bin/id", "-u"]);
    assert!(
        pushinfo.ends_with("&Command=%2Fusr%2Fbin%2Fid%20-u"),
        "{pushinfo}"
    );
    // Listing is not running a command: no command is shown.
    let (stdout, pushinfo) = run(&["-S", "-l"]);
    assert!(stdout.contains("/usr/bin/id"), "{stdout}");
    assert!(pushinfo.ends_with("&Command="), "{pushinfo}");
}
