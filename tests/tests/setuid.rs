//! A real setuid run of `login_duo` (docs/BEHAVIOUR.md §7.2, §10): a root-owned 4755 copy run by
//! unprivileged users. Setuid mode always reads `/etc/duo/login_duo.conf`, so this test runs
//! login_duo with a private overlay over `/etc` that holds its config (the host's `/etc` is
//! never written).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use duo_tests::users::TempUser;
use duo_tests::{Mock, PrivateEtc};

const CONF: &str = "/etc/duo/login_duo.conf";

fn id_of(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric id")
}

/// Run the setuid copy as `user`, headless, and wait (bounded).
fn run_as(
    etc: &PrivateEtc,
    login: &Path,
    user: &TempUser,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = etc
        .command("timeout", Some((user.uid, user.gid)))
        .arg("30")
        .arg(login)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("run login_duo");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Uid/Gid/Groups lines of /proc/<pid>/status.
fn creds(pid: u32) -> (String, String, String) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .map(|l| {
                l[k.len()..]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    (get("Uid:"), get("Gid:"), get("Groups:"))
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        // The field after the ")" that closes the command name: state, then ppid.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.get(1).and_then(|x| x.parse::<u32>().ok()) == Some(pid) {
                v.push(p);
            }
        }
    }
    v
}

#[test]
#[ignore = "needs root"]
fn setuid_login_duo_separates_privileges() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let privsep_uid = id_of(&["-u", "sshd"]);
    let privsep_gid = id_of(&["-g", "sshd"]);
    // The auth child (the privsep user) must be able to read the CA file.
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::set_permissions(&m.ca, std::fs::Permissions::from_mode(0o644)).expect("chmod ca");

    let dir = duo_tests::temp_dir("setuid");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let login = dir.join("login_duo");
    std::fs::copy(duo_tests::built("login_duo"), &login).expect("copy login_duo");
    std::os::unix::fs::chown(&login, Some(0), Some(0)).expect("chown");
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o4755)).expect("chmod 4755");

    let body = format!(
        "[duo]\nikey = DIXYZV6YM8IFYVWBINCA\nskey = yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo\n\
         host = 127.0.0.1:{}\ncafile = {}\nfailmode = secure\nautopush = yes\nsend_gecos = yes\n",
        m.port,
        m.ca.display()
    );
    // The setuid copy makes its outage window directory in /run: the private one.
    let etc = PrivateEtc::with_run("setuid");
    let conf = duo_tests::write_conf(&etc.file("duo/login_duo.conf"), &body);
    std::os::unix::fs::chown(&conf, Some(privsep_uid), Some(privsep_gid)).expect("chown");

    let approve = TempUser::create("duoa", "alice");
    let deny = TempUser::create("duod", "pushdeny");
    let slow = TempUser::create("duos", "slow-preauth-3");

    // -c and -f are refused when setuid; -d and -h are allowed.
    for args in [
        &["-c", "/tmp/x.conf", "--", "id"][..],
        &["-f", "root", "--", "id"],
    ] {
        let (code, out, err) = run_as(&etc, &login, &approve, args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains("Only root may specify -c or -f"), "{err}");
        assert!(out.is_empty());
    }

    // Approved: the command runs, as the user.
    let (code, out, err) = run_as(
        &etc,
        &login,
        &approve,
        &["-d", "-h", "192.0.2.7", "--", "id", "-u"],
    );
    assert_eq!(code, Some(0), "approve: {err}");
    assert_eq!(
        out.trim(),
        approve.uid.to_string(),
        "command runs as the calling user"
    );
    assert!(
        err.contains("[6] Successful Duo login for 'alice' from 192.0.2.7"),
        "{err}"
    );

    // Denied: the command does not run.
    let (code, out, err) = run_as(&etc, &login, &deny, &["-d", "--", "id", "-u"]);
    assert_eq!(code, Some(1), "deny: {err}");
    assert!(out.is_empty(), "command must not run: {out}");
    assert!(err.contains("[4] Failed Duo login for 'pushdeny'"), "{err}");

    // While Duo is slow to answer, look at both processes.
    let child = etc
        .command(&login, Some((slow.uid, slow.gid)))
        .args(["--", "id", "-u"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slow login");
    let parent = child.id();
    let end = Instant::now() + Duration::from_secs(10);
    let mut seen = None;
    while Instant::now() < end && seen.is_none() {
        if let Some(c) = children_of(parent).first() {
            let c = *c;
            let cc = creds(c);
            if cc.0.starts_with(&privsep_uid.to_string()) {
                seen = Some((cc, creds(parent)));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (child_creds, parent_creds) = seen.expect("saw the auth child run as the privsep user");
    let u = privsep_uid.to_string();
    let g = privsep_gid.to_string();
    assert_eq!(child_creds.0, format!("{u} {u} {u} {u}"), "auth child uids");
    assert_eq!(child_creds.1, format!("{g} {g} {g} {g}"), "auth child gids");
    assert_eq!(
        child_creds.2, g,
        "auth child supplementary groups = privsep primary group only"
    );
    let su = slow.uid.to_string();
    assert_eq!(
        parent_creds.0,
        format!("{su} {su} {su} {su}"),
        "parent dropped to the user"
    );
    let out = child.wait_with_output().expect("wait slow login");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), su);

    // A signal-killed auth child denies.
    let child = etc
        .command(&login, Some((slow.uid, slow.gid)))
        .args(["--", "echo", "RAN-killed"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slow login");
    let parent = child.id();
    let end = Instant::now() + Duration::from_secs(10);
    let mut killed = false;
    while Instant::now() < end && !killed {
        if let Some(c) = children_of(parent).first() {
            if creds(*c).0.starts_with(&privsep_uid.to_string()) {
                // SAFETY: sending a signal to a process id we just looked up.
                unsafe { libc::kill(*c as i32, libc::SIGTERM) };
                killed = true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(killed, "found the auth child");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("unprivileged process terminated by signal: 15"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("RAN-killed"));

    // A config readable by its group: the message names the account that must own it, the
    // privsep user, not the user logging in.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let (code, out, err) = run_as(&etc, &login, &approve, &["--", "echo", "RAN-perm"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("{CONF} must be readable only by user 'sshd'")),
        "{err}"
    );
    // A config the privsep user cannot open (here: owned by an ordinary user): the message
    // says who must own it.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::chown(&conf, Some(deny.uid), Some(deny.gid)).expect("chown");
    let (code, out, err) = run_as(&etc, &login, &approve, &["--", "echo", "RAN-owner"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("Couldn't open {CONF}: Permission denied")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{CONF} must be owned by user 'sshd' with mode 0600"
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
