//! A real OpenSSH server on loopback with `pam_duo.so` in its PAM stack (keyboard-interactive),
//! and a real `ssh` client on a pseudo-terminal answering the Duo menu.
//!
//! OpenSSH uses its program name as the PAM service name, so the server runs through a
//! uniquely named symlink and the test writes `/etc/pam.d/<that name>`, removed however the
//! test ends.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use duo_tests::pty::PtyChild;
use duo_tests::users::TempUser;
use duo_tests::{Mock, PrivateEtc};

/// The sshd process and the PAM service file; both go away on drop.
/// A running sshd; it sees its PAM service (and any other file the test put there) in a
/// private overlay over `/etc`, never in the host's.
struct Server {
    child: Child,
    port: u16,
    _etc: PrivateEtc,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sshd(dir: &Path, conf: &Path, auth: &str) -> Server {
    start_sshd_in(dir, conf, auth, PrivateEtc::with_run("sshd"))
}

fn start_sshd_in(dir: &Path, conf: &Path, auth: &str, etc: PrivateEtc) -> Server {
    let stack = format!(
        "auth required {} conf={}\naccount required pam_permit.so\nsession required pam_permit.so\n",
        duo_tests::built("libpam_duo.so").display(),
        conf.display()
    );
    start_sshd_with_stack(dir, &stack, auth, etc)
}

/// Start sshd on loopback with `stack` as its PAM service and `auth` added to its config.
fn start_sshd_with_stack(dir: &Path, stack: &str, auth: &str, etc: PrivateEtc) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let name = format!("sshd-duo-{}-{}", std::process::id(), port);
    let link = dir.join(&name);
    std::os::unix::fs::symlink("/usr/sbin/sshd", &link).expect("symlink sshd");
    std::fs::write(etc.file(&format!("pam.d/{name}")), stack).expect("pam service");
    let key = dir.join("hostkey");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nUsePAM yes\nPasswordAuthentication no\n\
             PidFile none\nStrictModes no\nLogLevel VERBOSE\n{auth}\n",
            key.display()
        ),
    )
    .expect("sshd_config");
    // Its privilege separation directory, in the private /run.
    etc.run_dir("sshd");
    // sshd must be started by its absolute path (it re-executes itself); the link's name is
    // the PAM service name.
    let child = etc
        .command(&link, None)
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("sshd.log")).expect("log"),
        ))
        .spawn()
        .expect("start sshd");
    let server = Server {
        child,
        port,
        _etc: etc,
    };
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < end,
            "sshd did not start: {}",
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn ssh(user: &str, port: u16, marker: &str) -> PtyChild {
    ssh_with(None, user, port, marker)
}

/// `ssh user@127.0.0.1 echo MARKER` on a pseudo-terminal: keyboard-interactive only, or with
/// `key` a public key first.
fn ssh_with(key: Option<&Path>, user: &str, port: u16, marker: &str) -> PtyChild {
    let mut cmd = Command::new("ssh");
    if let Some(k) = key {
        cmd.arg("-i").arg(k);
    }
    let methods = if key.is_some() {
        "PreferredAuthentications=publickey,keyboard-interactive"
    } else {
        "PreferredAuthentications=keyboard-interactive"
    };
    cmd.args([
        "-p",
        &port.to_string(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        methods,
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "ConnectTimeout=10",
        &format!("{user}@127.0.0.1"),
        "echo",
        marker,
    ]);
    PtyChild::spawn(cmd).expect("spawn ssh")
}

#[test]
#[ignore = "needs root"]
fn sshd_keyboard_interactive_with_duo() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let dir = duo_tests::temp_dir("sshd");
    let conf = duo_tests::mock_conf(
        &m,
        "sshd.conf",
        "send_gecos = yes\nprompts = 1\nfailmode = secure",
    );
    let approve = TempUser::create("duoka", "alice");
    let deny = TempUser::create("duokd", "pushdeny");
    // Made before sshd starts: it sees /etc through an overlay that does not follow later
    // changes of the host's user database.
    let outage = TempUser::create("duoko", "503");
    let server = start_sshd(
        &dir,
        &conf,
        "KbdInteractiveAuthentication yes\nPubkeyAuthentication no\nAuthenticationMethods keyboard-interactive",
    );
    let t = Duration::from_secs(30);

    let mut p = ssh(&approve.name, server.port, "RAN-over-ssh");
    p.expect("Passcode or option (1-4): ", t).unwrap();
    p.send("1\n");
    p.expect("RAN-over-ssh", t).unwrap();
    let status = p.finish(t);
    assert!(status.is_some_and(|s| s.success()), "{}", p.transcript);

    let mut p = ssh(&deny.name, server.port, "RAN-denied");
    p.expect("Passcode or option (1-4): ", t).unwrap();
    p.send("1\n");
    let status = p.finish(t).expect("ssh exits");
    assert!(!status.success());
    assert!(
        p.transcript.contains("Permission denied"),
        "{}",
        p.transcript
    );
    assert!(!p.transcript.contains("RAN-denied"), "{}", p.transcript);

    // An outage with failmode = secure: denied, and the user is told why (§0a D13).
    let mut p = ssh(&outage.name, server.port, "RAN-outage");
    let status = p.finish(t).expect("ssh exits");
    assert!(!status.success());
    assert!(!p.transcript.contains("RAN-outage"), "{}", p.transcript);
    assert!(
        p.transcript
            .contains("Duo two-factor service unreachable: login denied (failmode secure)"),
        "{}",
        p.transcript
    );

    // The same outage with failmode = safe: the login goes on, and sshd shows the notice with
    // its login messages, which OpenSSH prints for an interactive session.
    let body = std::fs::read_to_string(&conf).expect("conf");
    std::fs::write(&conf, body.replace("failmode = secure", "failmode = safe")).expect("conf");
    let mut cmd = Command::new("ssh");
    cmd.args([
        "-tt",
        "-p",
        &server.port.to_string(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PreferredAuthentications=keyboard-interactive",
        "-o",
        "ConnectTimeout=10",
        &format!("{}@127.0.0.1", outage.name),
    ]);
    let mut p = PtyChild::spawn(cmd).expect("spawn ssh");
    p.expect(
        "Duo two-factor service unreachable: continuing without two-factor (failmode safe)",
        t,
    )
    .unwrap_or_else(|e| panic!("{e:?}: {}", p.transcript));
    p.send("echo RAN-fail''safe; exit\n");
    p.expect("RAN-failsafe", t)
        .unwrap_or_else(|e| panic!("{e:?}: {}", p.transcript));
    let _ = p.finish(t);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A new ed25519 key pair in `dir` (`userkey`, `userkey.pub`), authorised for `users`.
fn authorize_key(dir: &Path, users: &[&TempUser]) -> PathBuf {
    let key = dir.join("userkey");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("keygen");
    assert!(st.success());
    let pubkey = std::fs::read_to_string(dir.join("userkey.pub")).expect("pub");
    for u in users {
        let ssh_dir = PathBuf::from(format!("/home/{}/.ssh", u.name));
        std::fs::create_dir_all(&ssh_dir).expect("mkdir .ssh");
        std::fs::write(ssh_dir.join("authorized_keys"), &pubkey).expect("authorized_keys");
        std::os::unix::fs::chown(&ssh_dir, Some(u.uid), Some(u.gid)).expect("chown");
        std::os::unix::fs::chown(ssh_dir.join("authorized_keys"), Some(u.uid), Some(u.gid))
            .expect("chown");
    }
    key
}

/// "A public key, then Duo" with the shipped example PAM stack (conf/pam.d/sshd-key-and-duo)
/// and sshd snippet: the key is checked, Duo is asked, and no password is ever asked.
#[test]
#[ignore = "needs root"]
fn sshd_key_then_duo_with_the_shipped_example() {
    duo_tests::require_root();
    let m = Mock::start(&[]);
    let dir = duo_tests::temp_dir("sshd-key-duo");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = duo_tests::mock_conf(
        &m,
        "key-duo.conf",
        "send_gecos = yes\nprompts = 1\nfailmode = secure",
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example =
        std::fs::read_to_string(root.join("conf/pam.d/sshd-key-and-duo")).expect("example");
    // The example names the module by file name; point it at the built one and its config.
    let module = format!(
        "{} conf={}",
        duo_tests::built("libpam_duo.so").display(),
        conf.display()
    );
    let stack = example.replace("pam_duo.so", &module);
    assert_ne!(stack, example, "the example names pam_duo.so");
    let snippet = std::fs::read_to_string(root.join("conf/sshd/duo-keyboard-interactive.conf"))
        .expect("snippet");
    let approve = TempUser::create("duoqa", "alice");
    let deny = TempUser::create("duoqd", "pushdeny");
    let key = authorize_key(&dir, &[&approve, &deny]);
    let server = start_sshd_with_stack_default(
        &dir,
        &stack,
        &format!("PubkeyAuthentication yes\n{snippet}"),
    );
    let t = Duration::from_secs(30);
    let ssh_key = |user: &str, marker: &str| ssh_with(Some(&key), user, server.port, marker);
    let mut p = ssh_key(&approve.name, "RAN-key-duo");
    p.expect("Passcode or option (1-4): ", t).unwrap();
    p.send("1\n");
    p.expect("RAN-key-duo", t).unwrap();
    let status = p.finish(t);
    assert!(status.is_some_and(|s| s.success()), "{}", p.transcript);
    assert!(
        !p.transcript.contains("assword"),
        "no password asked: {}",
        p.transcript
    );

    let mut p = ssh_key(&deny.name, "RAN-key-denied");
    p.expect("Passcode or option (1-4): ", t).unwrap();
    p.send("1\n");
    let status = p.finish(t).expect("ssh exits");
    assert!(!status.success());
    assert!(!p.transcript.contains("RAN-key-denied"), "{}", p.transcript);
    let auths = m
        .requests()
        .iter()
        .filter(|r| r["path"] == "/auth/v2/auth")
        .count();
    assert_eq!(auths, 2, "Duo was asked once per login");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn start_sshd_with_stack_default(dir: &Path, stack: &str, auth: &str) -> Server {
    start_sshd_with_stack(dir, stack, auth, PrivateEtc::with_run("sshd"))
}

/// Put `body` as `/etc/duo/login_duo.conf` in `etc`, owned by the privsep user `sshd`, mode
/// 0600, as the package installs it. Rewriting it changes what the next login reads.
fn login_conf(etc: &PrivateEtc, body: &str) {
    let path = duo_tests::write_conf(&etc.file("duo/login_duo.conf"), body);
    let out = Command::new("id")
        .args(["-u", "sshd"])
        .output()
        .expect("id");
    let uid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("sshd uid");
    std::os::unix::fs::chown(&path, Some(uid), None).expect("chown");
}

/// `ForceCommand` running a root-owned setuid copy of login_duo after public-key login.
#[test]
#[ignore = "needs root"]
fn sshd_forcecommand_setuid_login_duo() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("forcecommand");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let login = dir.join("login_duo");
    std::fs::copy(duo_tests::built("login_duo"), &login).expect("copy login_duo");
    std::os::unix::fs::chown(&login, Some(0), Some(0)).expect("chown");
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o4755)).expect("setuid");
    forcecommand(&dir, &login);
}

/// The same login through the packaged `/usr/sbin/login_duo`; run by
/// `tests/packaging/test-packages.sh` after it has installed the .deb.
#[test]
#[ignore = "needs the .deb installed; run by tests/packaging/test-packages.sh"]
fn installed_login_duo_forcecommand() {
    duo_tests::require_root();
    let login = Path::new("/usr/sbin/login_duo");
    let meta = std::fs::metadata(login).expect("the package installs /usr/sbin/login_duo");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o4755);
    let dir = duo_tests::temp_dir("installed");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    forcecommand(&dir, login);
}

/// Public-key SSH logins through `ForceCommand <login>`: an approving user runs the command,
/// a denied user does not.
fn forcecommand(dir: &Path, login: &Path) {
    let m = Mock::start(&[]);
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&m.ca, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let etc = PrivateEtc::with_run("forcecommand");
    let body = duo_tests::mock_conf_body(&m, "send_gecos = yes\nfailmode = secure");
    login_conf(&etc, &body);
    let approve = TempUser::create("duofa", "alice");
    let deny = TempUser::create("duofd", "pushdeny");
    let outage = TempUser::create("duofo", "503");
    let key = authorize_key(dir, &[&approve, &deny, &outage]);
    let server = start_sshd_in(
        dir,
        &dir.join("unused.conf"),
        &format!(
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAuthenticationMethods publickey\nForceCommand {}",
            login.display()
        ),
        etc,
    );
    let run = |u: &TempUser| {
        Command::new("timeout")
            .args(["60", "ssh", "-i"])
            .arg(&key)
            .args([
                "-p",
                &server.port.to_string(),
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
            ])
            .args([
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
            ])
            .arg(format!("{}@127.0.0.1", u.name))
            .args(["id", "-un"])
            .stdin(Stdio::null())
            .output()
            .expect("ssh")
    };
    let out = run(&approve);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        approve.name,
        "the command runs as the user after approval"
    );
    let out = run(&deny);
    assert!(!out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&deny.name),
        "denied: the command must not run"
    );
    // An outage with failmode = secure: denied, and the ssh client shows why (§0a D13).
    let out = run(&outage);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&outage.name));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Duo two-factor service unreachable: login denied (failmode secure)"),
        "{stderr}"
    );
    // With failmode = safe the command runs, and the ssh client shows the notice.
    login_conf(
        &server._etc,
        &body.replace("failmode = secure", "failmode = safe"),
    );
    let out = run(&outage);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), outage.name);
    assert!(
        stderr.contains(
            "Duo two-factor service unreachable: continuing without two-factor (failmode safe)"
        ),
        "{stderr}"
    );
    let users: Vec<String> = m
        .requests()
        .iter()
        .filter(|r| r["path"] == "/auth/v2/auth")
        .filter_map(|r| r["params"]["username"].as_str().map(String::from))
        .collect();
    assert_eq!(users, ["alice", "pushdeny"]);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
