//! A private OpenSSH server on 127.0.0.1 whose PAM service is `sshd` (the name pam_duo treats
//! as sshd), and `ssh` clients for it.
//!
//! The host's sshd ([`Sshd::start`]): OpenSSH up to 9.x uses its program name as the PAM
//! service name, so the server runs through a symlink named `sshd` in the test's directory,
//! and sees `/etc/pam.d/sshd` (and anything else the test puts there) in a private overlay
//! over `/etc` ([`crate::PrivateEtc`]), never the host's.
//!
//! Another Debian's sshd ([`Sshd::start_in_root`]): a tree made by `tests/sshd-roots.sh`
//! ([`Root`]), seen through an overlay of its own in a private mount namespace and entered
//! with `chroot`; the test's users, PAM service and sshd configuration are files of that
//! overlay, and the directories the test names (the build, the mock's) are bound at the same
//! paths inside. The tree itself is never written.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
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
    /// The overlay it sees `/etc` through (the host's sshd only).
    _etc: Option<PrivateEtc>,
    /// The socket at its `/dev/log` (an sshd of a [`Root`] only), and what came through it.
    syslog: Option<(UnixDatagram, Mutex<Vec<String>>)>,
}

/// A Debian userland with its own OpenSSH server, made by `tests/sshd-roots.sh`.
#[derive(Clone, Debug)]
pub struct Root {
    /// The tree.
    pub dir: PathBuf,
    /// The Debian suite it was made from (`trixie`, `sid`).
    pub suite: String,
    /// Its openssh-server package version, e.g. `1:10.0p1-7+deb13u4`.
    pub openssh: String,
}

/// Makers of roots, one at a time in this process (the script also locks across processes).
static MAKING: Mutex<()> = Mutex::new(());

impl Root {
    /// The tree of Debian `suite`, made by `tests/sshd-roots.sh` when it is missing (a
    /// debootstrap from the Debian mirror: a minute or two, once). Panics with the script's
    /// words when the tree cannot be made: such a test fails, it never passes unrun.
    pub fn get(suite: &str) -> Root {
        let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sshd-roots.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(suite)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        let mut words = line.split_whitespace();
        match (out.status.success(), words.next(), words.nth(1)) {
            (true, Some(dir), Some(openssh)) => Root {
                dir: PathBuf::from(dir),
                suite: suite.to_string(),
                openssh: openssh.to_string(),
            },
            _ => panic!(
                "no Debian {suite} tree for this sshd test: {} failed ({}):\n{}{}",
                script.display(),
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

/// The `sshd_config` lines every test server gets.
fn base_config(port: u16, key: &Path) -> String {
    format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nUsePAM yes\nPidFile none\n\
         StrictModes no\nLogLevel VERBOSE\nPrintMotd no\nPrintLastLog no\n",
        key.display()
    )
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A new ed25519 host key at `key`.
fn host_key(key: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
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
        Sshd::start_with(binary, dir, pam, settings, |_| {})
    }

    /// [`Sshd::start`] with more files in its `/etc`: `prepare` writes them into the overlay.
    pub fn start_with(
        binary: &Path,
        dir: &Path,
        pam: &str,
        settings: &str,
        prepare: impl FnOnce(&PrivateEtc),
    ) -> Sshd {
        let etc = PrivateEtc::with_run("sshd-screen");
        std::fs::write(etc.file("pam.d/sshd"), pam).expect("pam service");
        prepare(&etc);
        let port = free_port();
        let bin = dir.join(format!("bin-{port}"));
        std::fs::create_dir_all(&bin).expect("mkdir");
        let link = bin.join("sshd");
        std::os::unix::fs::symlink(binary, &link).expect("symlink sshd");
        let key = dir.join(format!("hostkey-{port}"));
        host_key(&key);
        let cfg = dir.join(format!("sshd_config-{port}"));
        std::fs::write(&cfg, format!("{}{settings}\n", base_config(port, &key)))
            .expect("sshd_config");
        // Its privilege separation directory, in the private /run.
        etc.run_dir("sshd");
        let log = dir.join(format!("sshd-{port}.log"));
        // sshd must be started by its absolute path (it re-executes itself).
        let mut cmd = etc.command(&link, None);
        cmd.args(["-D", "-e", "-f"]).arg(&cfg);
        Sshd::run(cmd, port, log, Some(etc))
    }

    /// Start the sshd of `root` on loopback, chrooted into a private overlay of the tree in
    /// `dir`, with `pam` as its `/etc/pam.d/sshd`, `settings` added to its configuration,
    /// the host accounts `users` copied into its user database (home `/tmp`; the password as
    /// on the host), and the host
    /// directories `shared` bound at the same paths inside.
    pub fn start_in_root(
        root: &Root,
        dir: &Path,
        pam: &str,
        settings: &str,
        users: &[&str],
        shared: &[&Path],
    ) -> Sshd {
        let port = free_port();
        let view = dir.join(format!("root-{port}"));
        let upper = view.join("upper");
        for d in [
            "upper/etc/pam.d",
            "upper/etc/ssh",
            "upper/run/sshd",
            "work",
            "merged",
        ] {
            std::fs::create_dir_all(view.join(d)).expect("mkdir");
        }
        std::fs::write(upper.join("etc/pam.d/sshd"), pam).expect("pam service");
        for (db, line) in [
            ("passwd", passwd_line as fn(&str) -> String),
            ("group", group_line),
            ("shadow", shadow_line),
        ] {
            let to = upper.join("etc").join(db);
            std::fs::copy(root.dir.join("etc").join(db), &to).expect("copy user database");
            let mut text = std::fs::read_to_string(&to).expect("read user database");
            for u in users {
                text.push_str(&line(u));
                text.push('\n');
            }
            std::fs::write(&to, text).expect("write user database");
        }
        for p in shared {
            std::fs::create_dir_all(upper.join(p.strip_prefix("/").unwrap_or(p))).expect("mkdir");
        }
        host_key(&upper.join("etc/ssh/test_host_key"));
        // Every OpenSSH of the roots (9.8 and later) knows PerSourcePenalties; a refused login
        // must not make the next connection wait.
        std::fs::write(
            upper.join("etc/ssh/test_sshd_config"),
            format!(
                "{}PerSourcePenalties no\n{settings}\n",
                base_config(port, Path::new("/etc/ssh/test_host_key"))
            ),
        )
        .expect("sshd_config");
        let log = dir.join(format!("sshd-{port}.log"));
        let sock = UnixDatagram::bind(view.join("log.sock")).expect("syslog socket");
        sock.set_nonblocking(true).expect("nonblocking");
        // Its /dev: a tmpfs with the host's device nodes and terminals, and the test's socket
        // as /dev/log (the module's syslog lines).
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(
                "set -e; r=$1; v=$2; shift 2
                 mount -t overlay overlay -o \"lowerdir=$r,upperdir=$v/upper,workdir=$v/work\" \"$v/merged\" || exit 97
                 d=$v/merged/dev
                 mount -t tmpfs -o mode=0755,nosuid tmpfs \"$d\"
                 for n in null zero full random urandom tty log; do touch \"$d/$n\"; done
                 for n in null zero full random urandom tty; do mount --bind \"/dev/$n\" \"$d/$n\"; done
                 mount --bind \"$v/log.sock\" \"$d/log\"
                 mkdir \"$d/pts\" \"$d/shm\"
                 mount --bind /dev/pts \"$d/pts\"
                 ln -s pts/ptmx \"$d/ptmx\"
                 ln -s /proc/self/fd \"$d/fd\"
                 mount -t proc proc \"$v/merged/proc\"
                 while [ \"$1\" != -- ]; do mount --bind \"$1\" \"$v/merged$1\"; shift; done
                 shift
                 exec chroot \"$v/merged\" \"$@\"",
            )
            .arg("sshd-root")
            .arg(&root.dir)
            .arg(&view)
            .args(shared)
            .args(["--", "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/test_sshd_config"]);
        let mut server = Sshd::run(cmd, port, log, None);
        server.syslog = Some((sock, Mutex::new(Vec::new())));
        server
    }

    /// Spawn `cmd` (an sshd in the foreground, logging to stderr) and wait until it listens.
    fn run(mut cmd: Command, port: u16, log: PathBuf, etc: Option<PrivateEtc>) -> Sshd {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
            .spawn()
            .expect("start sshd");
        let server = Sshd {
            child,
            port,
            log,
            _etc: etc,
            syslog: None,
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

    /// The syslog messages that came through this sshd's `/dev/log` so far (an sshd of a
    /// [`Root`]; None for the host's, whose module logs go to the host's syslog, if any).
    pub fn syslog_lines(&self) -> Option<Vec<String>> {
        let (sock, got) = self.syslog.as_ref()?;
        let mut got = got.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        Some(got.clone())
    }

    /// sshd's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The host's passwd entry of `name`, with home `/tmp` (the roots have no `/home/<name>`).
fn passwd_line(name: &str) -> String {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .expect("getent passwd");
    let entry = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = entry.trim().split(':').collect();
    assert_eq!(f.len(), 7, "no host account {name}: {entry}");
    format!("{}:x:{}:{}:{}:/tmp:/bin/sh", f[0], f[2], f[3], f[4])
}

/// The host's shadow entry of `name` (its password, if the test set one).
fn shadow_line(name: &str) -> String {
    let out = Command::new("getent")
        .args(["shadow", name])
        .output()
        .expect("getent shadow");
    let entry = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        entry.starts_with(&format!("{name}:")),
        "no shadow entry for {name}"
    );
    entry
}

/// The host's group entry of `name`'s primary group, without members.
fn group_line(name: &str) -> String {
    let out = Command::new("id")
        .args(["-gn", name])
        .output()
        .expect("id -gn");
    let group = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = Command::new("getent")
        .args(["group", &group])
        .output()
        .expect("getent group");
    let entry = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = entry.trim().split(':').collect();
    assert_eq!(f.len(), 4, "no host group {group}: {entry}");
    format!("{}:x:{}:", f[0], f[2])
}
