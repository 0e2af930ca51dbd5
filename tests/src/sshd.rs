//! A private OpenSSH server on 127.0.0.1 whose PAM service is `sshd` (the name pam_duo treats
//! as sshd), and `ssh` clients for it.
//!
//! OpenSSH uses its program name as the PAM service name: the server runs through a symlink
//! named `sshd` in the test's directory, and sees `/etc/pam.d/sshd` (and anything else the
//! test puts there) in a private overlay over `/etc` ([`crate::PrivateEtc`]), never the
//! host's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pty::PtyChild;
use crate::PrivateEtc;

/// Debian 12's sshd, the host's.
pub const HOST_SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; stopped on drop.
pub struct Sshd {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its log (stderr, `LogLevel VERBOSE`).
    pub log: PathBuf,
    /// The overlay it sees `/etc` through.
    pub etc: PrivateEtc,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `auth` line of pam_duo with config `conf`.
pub fn duo_line(conf: &Path) -> String {
    format!(
        "auth required {} conf={}",
        crate::built("libpam_duo.so").display(),
        conf.display()
    )
}

/// A PAM service with `auth` lines `auth` and permissive account and session stacks.
pub fn stack(auth: &[&str]) -> String {
    let mut s = auth.join("\n");
    s.push_str("\naccount required pam_permit.so\nsession required pam_permit.so\n");
    s
}

impl Sshd {
    /// Start `binary` (e.g. [`HOST_SSHD`]) on loopback with `pam` as `/etc/pam.d/sshd` and
    /// `settings` added to its configuration. `dir` is the test's own directory.
    pub fn start(binary: &Path, dir: &Path, pam: &str, settings: &str) -> Sshd {
        let etc = PrivateEtc::new("sshd-screen");
        std::fs::write(etc.file("pam.d/sshd"), pam).expect("pam service");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let bin = dir.join(format!("bin-{port}"));
        std::fs::create_dir_all(&bin).expect("mkdir");
        let link = bin.join("sshd");
        std::os::unix::fs::symlink(binary, &link).expect("symlink sshd");
        let key = dir.join(format!("hostkey-{port}"));
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
        let cfg = dir.join(format!("sshd_config-{port}"));
        std::fs::write(
            &cfg,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nUsePAM yes\nPidFile none\n\
                 StrictModes no\nLogLevel VERBOSE\nPrintMotd no\nPrintLastLog no\n{settings}\n",
                key.display()
            ),
        )
        .expect("sshd_config");
        std::fs::create_dir_all("/run/sshd").expect("privsep dir");
        let log = dir.join(format!("sshd-{port}.log"));
        // sshd must be started by its absolute path (it re-executes itself).
        let child = etc
            .command(&link, None)
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
            .spawn()
            .expect("start sshd");
        let server = Sshd {
            child,
            port,
            log,
            etc,
        };
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < end,
                "sshd did not start: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `ssh [-tt] user@127.0.0.1 COMMAND` (the host's client) with `methods` as its
    /// `PreferredAuthentications`, not yet started.
    pub fn client(&self, user: &str, methods: &str, tty: bool, command: &str) -> Command {
        let mut cmd = Command::new("ssh");
        if tty {
            cmd.arg("-tt");
        }
        cmd.args([
            "-p",
            &self.port.to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            &format!("PreferredAuthentications={methods}"),
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=10",
            &format!("{user}@127.0.0.1"),
            command,
        ]);
        cmd
    }

    /// [`Sshd::client`] started on a pseudo-terminal.
    pub fn login(&self, user: &str, methods: &str, tty: bool, command: &str) -> PtyChild {
        PtyChild::spawn(self.client(user, methods, tty, command)).expect("spawn ssh")
    }

    /// sshd's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
