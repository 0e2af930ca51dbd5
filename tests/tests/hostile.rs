//! The adversarial local caller (issue 9; docs/BEHAVIOUR.md §0a D9–D12): nothing a local user
//! controls (environment, resource limits, stopping its own process, argv, text that reaches the
//! log) may turn a Duo denial into a login, forge a log line or change which file is trusted.
//!
//! Every row runs the real setuid programs as an unprivileged test user, inside a private mount
//! namespace (`unshare -m`) in which a private copy of /etc is bound over /etc and a datagram
//! socket of the test over /dev/log (on an overlay of /dev, so the host's /dev is not written
//! either; the host's /etc is never written apart from the `useradd`/`userdel` of the user),
//! and a tmpfs over /run (so that what a setuid `login_duo` prepares there, its outage window
//! directory, stays out of the host's /run):
//! - `su -c id root` with `pam_duo.so` built from this tree first in su's PAM stack and
//!   `pam_permit.so` for the rest, so that Duo alone decides (su to root makes the caller the
//!   Duo user, docs/BEHAVIOUR.md §6);
//! - a root-owned setuid copy of `login_duo` (its auth child runs as the privsep user `sshd`).
//!
//! Both configs say `failmode = safe` and `host = localhost:<port>`, a name, so that the name
//! lookup (and its thread) really runs. Most rows use a mock that denies every user
//! (`--scenario pushdeny`: the push is refused) and must end denied with no `Failsafe` line;
//! sanity rows with an allowing mock (`--scenario alice`: the push is approved) must allow, so
//! the suite proves it reaches the server.
//!
//! A test collects every failing row and reports them all at the end; `--nocapture` also
//! prints one line per row.
//!
//! Rows of issue 20 live in submodules under tests/tests/hostile/, with the helpers here:
//! `config_files` (a FIFO, a device, a huge file as the config) and `dumpable` (login_duo's
//! processes cannot be traced by the caller or the privsep user).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::net::UdpSocket;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use duo_tests::users::TempUser;
use duo_tests::{Captured, Mock, Spawned, IKEY, SKEY};

// Issue 20's rows, one file each (tests/tests/hostile/).
#[path = "hostile/config_files.rs"]
mod config_files;
#[path = "hostile/dumpable.rs"]
mod dumpable;
#[path = "hostile/probe.rs"]
mod probe;
#[path = "hostile/proxy_hop.rs"]
mod proxy_hop;
#[path = "hostile/silent_dns.rs"]
mod silent_dns;

/// The setuid copy of `login_duo`, as seen inside the namespace.
const LOGIN: &str = "/etc/duo-hostile/login_duo";
/// `PATH` of every run.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Longest any run may take before it is killed (and the row fails).
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// `https_timeout` of the SIGSTOP rows.
const STOP_TIMEOUT: u64 = 2;
/// How long a SIGSTOP row keeps the process stopped: longer than `https_timeout`.
const STOP_FOR: Duration = Duration::from_millis(3500);

/// Run inside `unshare -m`: `$1` is the sandbox directory, the rest the command to exec. Puts
/// an overlay over /dev (upper layer on a tmpfs of this namespace), binds the test's log socket
/// over /dev/log and the private /etc copy over /etc, and mounts an empty tmpfs over /run.
const SANDBOX_SH: &str = r#"set -e
T="$1"; shift
mount -t tmpfs -o mode=0755 hostile-dev "$T/dev"
mkdir "$T/dev/up" "$T/dev/work"
mount -t overlay hostile-dev -o lowerdir=/dev,upperdir="$T/dev/up",workdir="$T/dev/work" /dev
: > /dev/log
mount --bind "$T/log.sock" /dev/log
mount --bind "$T/etc" /etc
mount -t tmpfs -o mode=0755 hostile-run /run
exec "$@"
"#;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A string unique to this process and call.
fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn bytes(b: &[u8]) -> OsString {
    OsString::from_vec(b.to_vec())
}

/// uid and gid of `name` on the host.
fn ids_of(name: &str) -> (u32, u32) {
    let get = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, name])
            .output()
            .expect("run id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no user {name}"))
    };
    (get("-u"), get("-g"))
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

/// A port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind")
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Fields after the command name in /proc/<pid>/stat (state is [0], ppid [1]).
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

fn children_of(pid: u32) -> Vec<u32> {
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    let is_child = |p: &u32| stat_fields(*p).get(1).and_then(|x| x.parse().ok()) == Some(pid);
    // Children usually have higher numbers: look there first (fast), then everywhere (after
    // the pid counter wrapped).
    let v: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| *p > pid)
        .filter(is_child)
        .collect();
    if !v.is_empty() {
        return v;
    }
    pids.into_iter()
        .filter(|p| *p < pid)
        .filter(is_child)
        .collect()
}

/// `pid` and all its descendants, parents first.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() && all.len() < 1000 {
        let kids = children_of(all[i]);
        all.extend(kids);
        i += 1;
    }
    all
}

/// Real uid of `pid` (None once it is gone).
fn uid_of(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: sends a signal to a process id this test started or found under it.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Wait (at most 2 s) until `pid` is in the stopped state.
fn wait_stopped(pid: u32) -> bool {
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        if matches!(
            stat_fields(pid).first().map(String::as_str),
            Some("T") | Some("t")
        ) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Bytes waiting unread in the receive queues of the TCP sockets `pid` holds.
fn rx_queued(pid: u32) -> u64 {
    let mut inodes = HashSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(l) = std::fs::read_link(e.path()) {
            let l = l.to_string_lossy().into_owned();
            if let Some(n) = l.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(n.to_string());
            }
        }
    }
    let mut total = 0;
    for table in ["tcp", "tcp6"] {
        let t = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in t.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.contains(f[9]) {
                if let Some((_, rx)) = f[4].split_once(':') {
                    total += u64::from_str_radix(rx, 16).unwrap_or(0);
                }
            }
        }
    }
    total
}

/// Remote ports of the TCP sockets `pid` holds.
fn tcp_peers(pid: u32) -> Vec<u16> {
    let mut inodes = HashSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(l) = std::fs::read_link(e.path()) {
            let l = l.to_string_lossy().into_owned();
            if let Some(n) = l.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(n.to_string());
            }
        }
    }
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let t = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in t.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.contains(f[9]) {
                if let Some((_, port)) = f[2].rsplit_once(':') {
                    ports.extend(u16::from_str_radix(port, 16).ok());
                }
            }
        }
    }
    ports
}

/// Wait for a run until it exits; past `RUN_LIMIT` kill it and everything under it.
fn finish(running: Spawned) -> Captured {
    running.finish(RUN_LIMIT, |child| {
        for p in tree(child.id()) {
            signal(p, libc::SIGKILL);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The sandbox

/// Which program a row drives.
#[derive(Clone, Debug, PartialEq)]
enum Front {
    /// `su -c id root` with pam_duo first in su's stack.
    Su,
    /// The setuid `login_duo` (`args`, then `--` and `command`).
    Login,
    /// `pamclient` (real libpam) with the service `duo-hostile`, as root.
    Pam,
}

/// One run: what to start and how.
struct Run {
    front: Front,
    env: Vec<(OsString, OsString)>,
    /// `prlimit` options put in front of the program.
    limits: Vec<String>,
    /// Options: login_duo's (before `--`) or pamclient's.
    args: Vec<OsString>,
    /// login_duo's command (after `--`); `echo <marker>` unless set.
    command: Option<Vec<OsString>>,
    /// Exec the program with this argv[0] (through bash's `exec -a`).
    argv0: Option<OsString>,
    /// Run as root instead of the test user.
    as_root: bool,
    /// A bash snippet run just before the program is exec'd (as the test user, after the
    /// limits): traps, umask, closed descriptors.
    pre: Option<String>,
}

impl Run {
    fn new(front: Front) -> Run {
        Run {
            front,
            env: Vec::new(),
            limits: Vec::new(),
            args: Vec::new(),
            command: None,
            argv0: None,
            as_root: false,
            pre: None,
        }
    }
    fn env(mut self, k: &str, v: impl Into<OsString>) -> Run {
        self.env.push((os(k), v.into()));
        self
    }
    fn envs(mut self, vars: &[(OsString, OsString)]) -> Run {
        self.env.extend(vars.iter().cloned());
        self
    }
    fn limit(mut self, l: &str) -> Run {
        self.limits.push(l.to_string());
        self
    }
    fn arg(mut self, a: impl Into<OsString>) -> Run {
        self.args.push(a.into());
        self
    }
    fn args(mut self, a: &[&str]) -> Run {
        self.args.extend(a.iter().map(|s| os(s)));
        self
    }
    fn command(mut self, c: Vec<OsString>) -> Run {
        self.command = Some(c);
        self
    }
    fn argv0(mut self, a: impl Into<OsString>) -> Run {
        self.argv0 = Some(a.into());
        self
    }
    fn pre(mut self, snippet: Option<&str>) -> Run {
        self.pre = snippet.map(String::from);
        self
    }
    fn root(mut self) -> Run {
        self.as_root = true;
        self
    }
}

/// One line received on the sandbox's /dev/log.
struct SysLine {
    /// The whole datagram.
    raw: Vec<u8>,
    /// `<PRI>` value (facility << 3 | level).
    pri: u32,
    /// The tag (ident and `[pid]`).
    tag: Vec<u8>,
    /// The message.
    msg: Vec<u8>,
}

fn parse_syslog(raw: Vec<u8>) -> SysLine {
    let close = raw.iter().position(|&b| b == b'>').unwrap_or(0);
    let pri = std::str::from_utf8(raw.get(1..close).unwrap_or_default())
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(u32::MAX);
    // glibc: "<PRI>Mmm dd hh:mm:ss TAG: message".
    let rest = raw.get(close + 17..).unwrap_or_default();
    let (tag, msg) = match rest.windows(2).position(|w| w == b": ") {
        Some(i) => (rest[..i].to_vec(), rest[i + 2..].to_vec()),
        None => (Vec::new(), rest.to_vec()),
    };
    SysLine { raw, pri, tag, msg }
}

/// What a run did.
struct Outcome {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    syslog: Vec<SysLine>,
    killed: bool,
    elapsed: Duration,
}

impl Outcome {
    /// Whether the login went through: su ran `id` as root, login_duo ran the command.
    fn allowed(&self, front: &Front, marker: &str) -> bool {
        let out = String::from_utf8_lossy(&self.stdout);
        match front {
            Front::Su => out.contains("uid=0(root)"),
            Front::Login => out.contains(marker),
            Front::Pam => out.contains("RESULT 0 "),
        }
    }

    /// Every log line, from syslog and from stderr, as text.
    fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .syslog
            .iter()
            .map(|l| String::from_utf8_lossy(&l.msg).into_owned())
            .collect();
        v.extend(
            String::from_utf8_lossy(&self.stderr)
                .lines()
                .map(String::from),
        );
        v
    }

    fn logged(&self, text: &str) -> bool {
        self.lines().iter().any(|l| l.contains(text))
    }

    /// The Duo verdict lines (`... Duo login ...`), for reports.
    fn verdict(&self) -> String {
        let v: Vec<String> = self
            .lines()
            .into_iter()
            .filter(|l| l.contains("Duo login") || l.contains("Couldn't") || l.contains("rror"))
            .collect();
        if v.is_empty() {
            "(no verdict line)".into()
        } else {
            v.join(" | ")
        }
    }

    /// How it ended, for reports.
    fn how(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (_, Some(s)) => format!("signal {s}"),
            _ => "?".into(),
        }
    }

    fn dump(&self) -> String {
        let mut s = format!(
            "status {} (killed: {}), {:.2} s\n  stdout: {:?}\n  stderr: {:?}\n  syslog:",
            self.how(),
            self.killed,
            self.elapsed.as_secs_f64(),
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        );
        for l in &self.syslog {
            s.push_str(&format!("\n    {:?}", String::from_utf8_lossy(&l.raw)));
        }
        s
    }
}

/// A test user, a private /etc copy and a /dev/log listener.
struct Sandbox {
    dir: PathBuf,
    etc: PathBuf,
    log: UnixDatagram,
    user: TempUser,
    /// The copy's pristine /etc/passwd, nsswitch.conf and resolv.conf.
    passwd: Vec<u8>,
    nsswitch: Vec<u8>,
    resolv: Vec<u8>,
    /// What login_duo echoes when it runs its command.
    marker: String,
    sshd: (u32, u32),
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        let user = TempUser::create("duoh", "hostile test user");
        let dir = duo_tests::temp_dir(tag);
        chmod(&dir, 0o700);
        let etc = dir.join("etc");
        // A concurrent useradd may remove a lock file under cp's feet; the files that matter
        // are checked below.
        let _ = Command::new("cp")
            .args(["-a", "/etc"])
            .arg(&etc)
            .stderr(Stdio::null())
            .status()
            .expect("run cp");
        let passwd = std::fs::read(etc.join("passwd")).expect("passwd copied");
        assert!(
            String::from_utf8_lossy(&passwd).contains(&format!("\n{}:", user.name)),
            "the /etc copy lacks the test user"
        );
        let nsswitch = std::fs::read(etc.join("nsswitch.conf")).unwrap_or_default();
        let resolv = std::fs::read(etc.join("resolv.conf")).unwrap_or_default();
        std::fs::create_dir_all(dir.join("dev")).expect("mkdir dev");
        let sock = dir.join("log.sock");
        let log = UnixDatagram::bind(&sock).expect("bind log socket");
        log.set_nonblocking(true).expect("nonblocking");
        chmod(&sock, 0o666);
        for d in ["duo", "duo-hostile"] {
            let p = etc.join(d);
            std::fs::create_dir_all(&p).expect("mkdir");
            chown(&p, 0, 0);
            chmod(&p, 0o755);
        }
        let login = etc.join("duo-hostile/login_duo");
        std::fs::copy(duo_tests::built("login_duo"), &login).expect("copy login_duo");
        chown(&login, 0, 0);
        chmod(&login, 0o4755);
        let sb = Sandbox {
            dir,
            etc,
            log,
            user,
            passwd,
            nsswitch,
            resolv,
            marker: unique("RAN"),
            sshd: ids_of("sshd"),
        };
        // The namespace itself must work (unshare, overlayfs, bind mounts), or every row
        // would fail for a reason that has nothing to do with Duo.
        let out = sb
            .command(&Run::new(Front::Su).pre(Some("logger -t hostile-check sandbox-ok; exit 0")))
            .output()
            .expect("run unshare");
        assert!(
            out.status.success(),
            "cannot set up the private mount namespace: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            sb.drain().iter().any(|l| l.msg == b"sandbox-ok"),
            "the /dev/log socket bound in the namespace received nothing"
        );
        sb
    }

    /// Point both configs at `mock` with `extra` config lines, restore passwd, name lookup and
    /// the PAM stacks.
    fn configure(&self, mock: &Mock, extra: &str) {
        self.configure_pam(mock, extra, "");
    }

    /// As [`Sandbox::configure`], with `pam_args` after `conf=` in the PAM lines.
    fn configure_pam(&self, mock: &Mock, extra: &str, pam_args: &str) {
        let duo = self.etc.join("duo");
        let ca = duo.join("ca.pem");
        std::fs::copy(&mock.ca, &ca).expect("copy CA");
        chmod(&ca, 0o644);
        let body = format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = localhost:{}\ncafile = /etc/duo/ca.pem\n\
             failmode = safe\nautopush = yes\nprompts = 1\n{extra}\n",
            mock.port
        );
        self.write_conf("pam_duo.conf", &body, (0, 0));
        self.write_conf("login_duo.conf", &body, self.sshd);
        // For login_duo run by root (-c): owned by root.
        self.write_conf("login_root.conf", &body, (0, 0));
        let stack = format!(
            "auth required {} conf=/etc/duo/pam_duo.conf {pam_args}\nauth required pam_permit.so\n\
             account required pam_permit.so\nsession required pam_permit.so\n\
             password required pam_permit.so\n",
            duo_tests::built("libpam_duo.so").display()
        );
        for svc in ["su", "duo-hostile"] {
            std::fs::write(self.etc.join("pam.d").join(svc), &stack).expect("pam stack");
        }
        std::fs::write(self.etc.join("passwd"), &self.passwd).expect("passwd");
        std::fs::write(self.etc.join("nsswitch.conf"), &self.nsswitch).expect("nsswitch");
        std::fs::write(self.etc.join("resolv.conf"), &self.resolv).expect("resolv");
    }

    /// Write `/etc/duo/<name>` in the copy, mode 0600, owned by `owner`.
    fn write_conf(&self, name: &str, body: &str, owner: (u32, u32)) {
        let p = self.etc.join("duo").join(name);
        std::fs::write(&p, body).expect("write config");
        chmod(&p, 0o600);
        chown(&p, owner.0, owner.1);
    }

    /// Replace the copy's /etc/passwd by the pristine one with `lines` in front.
    fn passwd_with(&self, lines: &[u8]) {
        let mut p = lines.to_vec();
        p.extend_from_slice(&self.passwd);
        std::fs::write(self.etc.join("passwd"), p).expect("passwd");
    }

    /// The passwd line of the test user in the copy.
    fn user_line(&self) -> String {
        String::from_utf8_lossy(&self.passwd)
            .lines()
            .find(|l| l.starts_with(&format!("{}:", self.user.name)))
            .expect("user line")
            .to_string()
    }

    /// Resolve host names through DNS first, at `server` (port 53), then /etc/hosts.
    fn dns_first(&self, server: std::net::Ipv4Addr) {
        let ns: String = String::from_utf8_lossy(&self.nsswitch)
            .lines()
            .map(|l| {
                if l.starts_with("hosts:") {
                    "hosts: dns files\n".to_string()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(self.etc.join("nsswitch.conf"), ns).expect("nsswitch");
        std::fs::write(
            self.etc.join("resolv.conf"),
            format!("nameserver {server}\noptions timeout:5 attempts:1\n"),
        )
        .expect("resolv");
    }

    fn command(&self, r: &Run) -> Command {
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(SANDBOX_SH)
            .arg("sandbox")
            .arg(&self.dir);
        if !r.as_root {
            c.arg("setpriv")
                .arg(format!("--reuid={}", self.user.uid))
                .arg(format!("--regid={}", self.user.gid))
                .args(["--init-groups", "--"]);
        }
        if !r.limits.is_empty() {
            c.arg("prlimit").args(&r.limits).arg("--");
        }
        let mut prog: Vec<OsString> = Vec::new();
        match r.front {
            Front::Su => prog.extend(["su", "-c", "id", "root"].map(os)),
            Front::Login => {
                let cmd = r
                    .command
                    .clone()
                    .unwrap_or_else(|| vec![os("echo"), os(&self.marker)]);
                prog.push(os(LOGIN));
                prog.extend(r.args.iter().cloned());
                prog.push(os("--"));
                prog.extend(cmd);
            }
            Front::Pam => {
                prog.push(duo_tests::built("pamclient").into_os_string());
                prog.extend(["--confdir", "/etc/pam.d", "--service", "duo-hostile"].map(os));
                prog.extend(r.args.iter().cloned());
            }
        }
        if r.argv0.is_some() || r.pre.is_some() {
            // bash runs the snippet, then execs the program with the given argv[0].
            let script = format!("{}\nexec -a \"$0\" \"$@\"", r.pre.as_deref().unwrap_or(":"));
            c.args(["/bin/bash", "-c", &script])
                .arg(r.argv0.clone().unwrap_or_else(|| prog[0].clone()));
        }
        c.args(prog);
        c.env_clear().env("PATH", PATH);
        for (k, v) in &r.env {
            c.env(k, v);
        }
        c
    }

    /// Every datagram received on /dev/log so far.
    fn drain(&self) -> Vec<SysLine> {
        let mut v = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.log.recv(&mut buf) {
            v.push(parse_syslog(buf[..n].to_vec()));
        }
        v
    }

    fn start(&self, r: &Run) -> Spawned {
        self.drain();
        Spawned::start(self.command(r))
    }

    fn finish(&self, running: Spawned) -> Outcome {
        let Captured {
            status,
            stdout,
            stderr,
            killed,
            elapsed,
        } = finish(running);
        // Datagrams are queued when sent; give the kernel a moment anyway.
        std::thread::sleep(Duration::from_millis(20));
        Outcome {
            status,
            stdout,
            stderr,
            syslog: self.drain(),
            killed,
            elapsed,
        }
    }

    fn run(&self, r: &Run) -> Outcome {
        let running = self.start(r);
        self.finish(running)
    }
}

/// Print one line for the row (with `HOSTILE_VERBOSE` set, everything it did).
fn show(row: &str, o: &Outcome, note: &str) {
    println!("{row}: {} {} {note}", o.how(), o.verdict());
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        println!("  {}", o.dump());
    }
}

/// Failures collected across the rows of one test.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn check(&mut self, ok: bool, row: &str, what: &str, o: &Outcome) {
        if !ok {
            self.0.push(format!("[{row}] {what}\n  {}", o.dump()));
        }
    }
    fn fail(&mut self, row: &str, what: &str) {
        self.0.push(format!("[{row}] {what}"));
    }
    fn done(self, test: &str) {
        assert!(
            self.0.is_empty(),
            "{test}: {} failing row(s):\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// Denied (command not run, non-zero exit) and never `Failsafe`.
fn expect_denied(rep: &mut Report, sb: &Sandbox, row: &str, front: &Front, o: &Outcome) {
    rep.check(
        !o.allowed(front, &sb.marker) && !o.status.success(),
        row,
        "must be denied",
        o,
    );
    rep.check(!o.logged("Failsafe"), row, "logged a Failsafe verdict", o);
    rep.check(!o.killed, row, "did not end in time", o);
}

/// The denying mock's own verdict: denied with `Failed Duo login`.
fn expect_server_deny(rep: &mut Report, sb: &Sandbox, row: &str, front: &Front, o: &Outcome) {
    expect_denied(rep, sb, row, front, o);
    rep.check(
        o.logged("Failed Duo login"),
        row,
        "expected the server's verdict `Failed Duo login` (push denied)",
        o,
    );
}

/// The allowing mock's verdict: allowed with `Successful Duo login`.
fn expect_server_allow(rep: &mut Report, sb: &Sandbox, row: &str, front: &Front, o: &Outcome) {
    rep.check(
        o.allowed(front, &sb.marker) && o.status.success(),
        row,
        "must be allowed (the allowing mock approves)",
        o,
    );
    rep.check(
        o.logged("Successful Duo login"),
        row,
        "expected `Successful Duo login`",
        o,
    );
    rep.check(!o.logged("Failsafe"), row, "logged a Failsafe verdict", o);
}

fn mock_deny() -> Mock {
    Mock::start(&["--scenario", "pushdeny"])
}

fn mock_allow() -> Mock {
    Mock::start(&["--scenario", "alice"])
}

// ---------------------------------------------------------------------------------------------
// Environment

/// The environment rows: name and variables.
fn env_rows(
    keylog: &Path,
    attacker: &Path,
    attacker_dir: &Path,
    aliases: &Path,
) -> Vec<(&'static str, Vec<(OsString, OsString)>)> {
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let v = |pairs: &[(&str, &OsStr)]| -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (os(k), v.to_os_string()))
            .collect()
    };
    let d = OsStr::new(&dead);
    let socks = format!("socks5://127.0.0.1:{}", closed_port());
    let mut rows = vec![
        ("no variables", Vec::new()),
        (
            "RUST_MIN_STACK=99999999999999",
            v(&[("RUST_MIN_STACK", OsStr::new("99999999999999"))]),
        ),
        (
            "RUST_MIN_STACK=1",
            v(&[("RUST_MIN_STACK", OsStr::new("1"))]),
        ),
        (
            "RUST_BACKTRACE=full RUST_LIB_BACKTRACE=1",
            v(&[
                ("RUST_BACKTRACE", OsStr::new("full")),
                ("RUST_LIB_BACKTRACE", OsStr::new("1")),
            ]),
        ),
        ("SSLKEYLOGFILE", v(&[("SSLKEYLOGFILE", keylog.as_os_str())])),
        (
            "proxy variables at a dead port",
            v(&[
                ("http_proxy", d),
                ("https_proxy", d),
                ("HTTP_PROXY", d),
                ("HTTPS_PROXY", d),
                ("ALL_PROXY", OsStr::new(&socks)),
                ("all_proxy", OsStr::new(&socks)),
                ("no_proxy", OsStr::new("*.invalid")),
                ("NO_PROXY", OsStr::new("*.invalid")),
            ]),
        ),
        (
            "CA variables at an attacker's CA",
            v(&[
                ("SSL_CERT_FILE", attacker.as_os_str()),
                ("SSL_CERT_DIR", attacker_dir.as_os_str()),
                ("CURL_CA_BUNDLE", attacker.as_os_str()),
                ("REQUESTS_CA_BUNDLE", attacker.as_os_str()),
            ]),
        ),
        (
            "LANG=C LC_ALL=C",
            v(&[("LANG", OsStr::new("C")), ("LC_ALL", OsStr::new("C"))]),
        ),
        (
            "LANG=tr_TR.UTF-8 LC_ALL=tr_TR.UTF-8",
            v(&[
                ("LANG", OsStr::new("tr_TR.UTF-8")),
                ("LC_ALL", OsStr::new("tr_TR.UTF-8")),
            ]),
        ),
        (
            "resolver variables (RES_OPTIONS, LOCALDOMAIN, HOSTALIASES)",
            v(&[
                ("RES_OPTIONS", OsStr::new("ndots:15 timeout:0 attempts:0")),
                ("LOCALDOMAIN", OsStr::new("invalid")),
                ("HOSTALIASES", aliases.as_os_str()),
            ]),
        ),
        (
            "GLIBC_TUNABLES and MALLOC_ variables",
            v(&[
                (
                    "GLIBC_TUNABLES",
                    OsStr::new(
                        "glibc.malloc.mmap_max=0:glibc.malloc.arena_max=1:\
                         glibc.pthread.stack_cache_size=0:glibc.malloc.tcache_count=0:\
                         glibc.malloc.perturb=255",
                    ),
                ),
                ("MALLOC_ARENA_MAX", OsStr::new("1")),
                ("MALLOC_MMAP_MAX_", OsStr::new("0")),
                ("MALLOC_PERTURB_", OsStr::new("255")),
                ("MALLOC_CHECK_", OsStr::new("3")),
            ]),
        ),
        ("TZ=XXX-14", v(&[("TZ", OsStr::new("XXX-14"))])),
        (
            "TZ=Pacific/Kiritimati",
            v(&[("TZ", OsStr::new("Pacific/Kiritimati"))]),
        ),
    ];
    let mut all: Vec<(OsString, OsString)> = rows
        .iter()
        .filter(|(n, _)| !n.starts_with("RUST_MIN_STACK=1") && !n.starts_with("LANG=C"))
        .flat_map(|(_, e)| e.clone())
        .filter(|(k, _)| k != "TZ")
        .collect();
    all.push((os("TZ"), os("XXX-14")));
    rows.push(("all of them at once", all));
    rows
}

/// What an environment row must give.
#[derive(Clone, Copy, PartialEq)]
enum Same {
    /// The verdict and log line it gives without the change.
    Verdict,
    /// The same verdict; the log line went nowhere (stderr closed with -d).
    VerdictNoLog,
    /// The denying mock still denies; the caller may break its own approved login, as long as
    /// it says why (exit 1 with a message) and never via failmode.
    DenyOrClearError,
}

/// An environment row: name, variables, a bash snippet run before the exec, login_duo
/// options, expectation.
type Row = (
    &'static str,
    Vec<(OsString, OsString)>,
    Option<&'static str>,
    Vec<&'static str>,
    Same,
);

fn environment_changes_nothing(front: Front) {
    let sb = Sandbox::new("hostile-env");
    let public = duo_tests::temp_dir("hostile-env-pub");
    chmod(&public, 0o777);
    let keylog = public.join("keys");
    // Another mock's CA: trusting it instead of the configured cafile fails the handshake,
    // which failmode = safe would turn into a login.
    let attacker_mock = Mock::start(&[]);
    let attacker_dir = public.join("certs");
    std::fs::create_dir_all(&attacker_dir).expect("mkdir");
    let attacker = attacker_dir.join("ca.pem");
    std::fs::copy(&attacker_mock.ca, &attacker).expect("copy attacker CA");
    chmod(&public, 0o777);
    chmod(&attacker_dir, 0o755);
    chmod(&attacker, 0o644);
    drop(attacker_mock);

    let deny = mock_deny();
    let allow = mock_allow();
    let mut rep = Report::default();
    // HOSTALIASES: send "localhost" elsewhere.
    let aliases = public.join("aliases");
    std::fs::write(&aliases, "localhost blackhole.invalid\n").expect("aliases");
    chmod(&aliases, 0o644);
    let mut rows: Vec<Row> = env_rows(&keylog, &attacker, &attacker_dir, &aliases)
        .into_iter()
        .map(|(name, vars)| (name, vars, None, Vec::new(), Same::Verdict))
        .collect();
    // What else the caller sets up in its own process before the exec.
    for (name, pre) in [
        (
            "signals ignored (PIPE, HUP, INT, QUIT, TERM, ALRM, TSTP, TTIN, TTOU)",
            "trap '' PIPE HUP INT QUIT TERM ALRM TSTP TTIN TTOU",
        ),
        ("umask 0777", "umask 0777"),
        (
            "a deleted working directory",
            "d=$(mktemp -d) && cd \"$d\" && rmdir \"$d\"",
        ),
        ("stdin and stderr closed", "exec 0<&- 2>&-"),
        ("niceness 19", "renice -n 19 $$ >/dev/null"),
    ] {
        rows.push((name, Vec::new(), Some(pre), Vec::new(), Same::Verdict));
    }
    // An ignored SIGCHLD is inherited and makes the kernel reap children itself.
    rows.push((
        "SIGCHLD ignored",
        Vec::new(),
        Some("trap '' CHLD"),
        Vec::new(),
        Same::DenyOrClearError,
    ));
    if front == Front::Login {
        rows.push((
            "stderr closed, with -d",
            Vec::new(),
            Some("exec 2>&-"),
            vec!["-d"],
            Same::VerdictNoLog,
        ));
    }
    for (name, vars, pre, args, same) in rows {
        for (mock, denies) in [(&deny, true), (&allow, false)] {
            sb.configure(mock, "");
            let o = sb.run(&Run::new(front.clone()).envs(&vars).pre(pre).args(&args));
            let row = format!(
                "{front:?} {name}, {} mock",
                if denies { "denying" } else { "allowing" }
            );
            show(&row, &o, "");
            match (same, denies) {
                (Same::Verdict, true) => expect_server_deny(&mut rep, &sb, &row, &front, &o),
                (Same::Verdict, false) => expect_server_allow(&mut rep, &sb, &row, &front, &o),
                (Same::VerdictNoLog, true) | (Same::DenyOrClearError, true) => {
                    expect_denied(&mut rep, &sb, &row, &front, &o)
                }
                (Same::VerdictNoLog, false) => rep.check(
                    o.allowed(&front, &sb.marker) && o.status.success(),
                    &row,
                    "must be allowed (the allowing mock approves)",
                    &o,
                ),
                (Same::DenyOrClearError, false) => {
                    rep.check(!o.logged("Failsafe"), &row, "logged a Failsafe verdict", &o);
                    if !o.allowed(&front, &sb.marker) {
                        rep.check(
                            o.status.code() == Some(1) && !o.stderr.is_empty(),
                            &row,
                            "a broken approved login must exit 1 with a message",
                            &o,
                        );
                    }
                }
            }
            rep.check(!keylog.exists(), &row, "SSLKEYLOGFILE was written", &o);
            rep.check(
                !String::from_utf8_lossy(&o.stderr).contains("panicked")
                    && o.status.code() != Some(101),
                &row,
                "a panic",
                &o,
            );
        }
    }
    let _ = std::fs::remove_dir_all(&public);
    rep.done("environment");
}

#[test]
#[ignore = "needs root"]
fn su_environment_changes_nothing() {
    duo_tests::require_root();
    environment_changes_nothing(Front::Su);
}

#[test]
#[ignore = "needs root"]
fn login_duo_environment_changes_nothing() {
    duo_tests::require_root();
    environment_changes_nothing(Front::Login);
}

// ---------------------------------------------------------------------------------------------
// Resource limits

fn resource_limits_deny(front: Front) {
    let sb = Sandbox::new("hostile-limits");
    let deny = mock_deny();
    let allow = mock_allow();
    let mut rep = Report::default();
    let mut rows: Vec<String> = Vec::new();
    rows.extend([0, 1, 2, 3, 8].iter().map(|n| format!("--nproc={n}")));
    rows.extend((3..=16).map(|n| format!("--nofile={n}")));
    rows.extend(
        [
            1u64, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 20, 24, 32, 48, 64, 96, 128, 256, 384,
        ]
        .iter()
        .map(|m| format!("--as={}", m << 20)),
    );
    // Private writable mappings (thread stacks among them) count against RLIMIT_DATA.
    rows.extend(
        [1u64, 2, 3, 4, 5, 6, 8, 12, 16, 32, 64]
            .iter()
            .map(|m| format!("--data={}", m << 20)),
    );
    rows.extend(
        [
            "--stack=16384",
            "--stack=65536",
            "--stack=unlimited",
            "--fsize=0",
            "--memlock=0",
            "--sigpending=0",
            "--msgqueue=0",
            "--core=0",
        ]
        .map(String::from),
    );
    sb.configure(&deny, "");
    for l in &rows {
        let o = sb.run(&Run::new(front.clone()).limit(l));
        let row = format!("{front:?} {l}");
        show(&row, &o, "");
        expect_denied(&mut rep, &sb, &row, &front, &o);
        if front == Front::Login && l == "--nproc=0" {
            // The privsep child cannot start a thread (or login_duo cannot fork): a local
            // failure, never the network's.
            rep.check(
                o.status.code() == Some(1),
                &row,
                "expected exit status 1",
                &o,
            );
            rep.check(
                o.logged("Error in Duo login") || o.logged("fork: "),
                &row,
                "expected `Error in Duo login` (or login_duo's `fork:`)",
                &o,
            );
        }
    }
    // Generous limits let the real verdict through, both ways.
    for l in ["--nofile=1024", "--nproc=1000", "--as=4294967296"] {
        for (mock, denies) in [(&deny, true), (&allow, false)] {
            sb.configure(mock, "");
            let o = sb.run(&Run::new(front.clone()).limit(l));
            let row = format!(
                "{front:?} {l}, {} mock",
                if denies { "denying" } else { "allowing" }
            );
            show(&row, &o, "");
            if denies {
                expect_server_deny(&mut rep, &sb, &row, &front, &o);
            } else {
                expect_server_allow(&mut rep, &sb, &row, &front, &o);
            }
        }
    }
    rep.done("resource limits");
}

#[test]
#[ignore = "needs root"]
fn su_resource_limits_deny() {
    duo_tests::require_root();
    resource_limits_deny(Front::Su);
}

#[test]
#[ignore = "needs root"]
fn login_duo_resource_limits_deny() {
    duo_tests::require_root();
    resource_limits_deny(Front::Login);
}

// ---------------------------------------------------------------------------------------------
// SIGSTOP / SIGCONT

/// A DNS server on 127.53.x.y:53 that answers every query with NXDOMAIN after `delay`
/// (so `hosts: dns files` goes on to /etc/hosts), and reports each query on a channel.
struct SlowDns {
    addr: std::net::Ipv4Addr,
    queries: mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowDns {
    fn start(delay: Duration) -> SlowDns {
        let base = (std::process::id() % 200) as u8 + 1;
        let (sock, addr) = (0..250u8)
            .find_map(|i| {
                let a = std::net::Ipv4Addr::new(127, 53, base, i + 1);
                UdpSocket::bind((a, 53)).ok().map(|s| (s, a))
            })
            .expect("bind a DNS port on 127.53.0.0/16");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(600);
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let _ = tx.send(());
                if let Some(reply) = nxdomain(&buf[..n]) {
                    std::thread::sleep(delay);
                    let _ = sock.send_to(&reply, peer);
                }
            }
        });
        SlowDns {
            addr,
            queries: rx,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SlowDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The NXDOMAIN answer to a DNS query: its header and question, flags set to
/// "response, recursion available, name error", no records.
fn nxdomain(q: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    while *q.get(i)? != 0 {
        i += usize::from(*q.get(i)?) + 1;
    }
    let end = i + 5;
    let mut r = q.get(..end)?.to_vec();
    r[2] = 0x80 | (r[2] & 0x01);
    r[3] = 0x83;
    r[6..12].fill(0);
    Some(r)
}

/// When a SIGSTOP row stops the process.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// Never stopped (control rows: each delay the other rows use fits the budget).
    Never,
    /// As soon as the Duo code is there (module loaded / auth child forked): whatever it is
    /// doing then (the row's note says whether it was connected yet). The server waits 300 ms
    /// before the TLS handshake, so that a busy machine still finds the login running.
    Start,
    /// During the name lookup of the Duo host (DNS answers after 300 ms, while stopped).
    Lookup,
    /// Connected, in the TLS handshake: the server starts it 1 s after accepting (while
    /// stopped).
    Handshake,
    /// During `/auth/v2/ping`, which the server answers after 1 s (while stopped).
    Ping,
    /// Right after preauth was sent; the server answers 600 ms later, into the stopped
    /// process's socket.
    ReplyWaiting,
    /// During `/auth/v2/preauth`, which the server answers after 1 s.
    Preauth,
    /// From the name lookup on, stopped again and again for 1.3 s (short stops count as
    /// waiting time) with 50 ms of running in between, until the login ends. The server takes
    /// 300 ms for ping and for preauth.
    Stutter,
    /// Stopped twice for 1.3 s during the name lookup, then left to run: the short stops used
    /// up most of `https_timeout` before the server, which takes 300 ms for ping and for
    /// preauth, was even asked.
    Charged,
    /// Right after ping was sent; the server answers 300 ms later and closes the idle
    /// keep-alive connection 1 s after that, all while the process is stopped.
    IdleClosed,
}

fn stopped_rows(front: Front) {
    let sb = Sandbox::new("hostile-stop");
    let mut rep = Report::default();
    let timeout = format!("https_timeout = {STOP_TIMEOUT}");
    // Each delay leaves a second of the 2 s budget for the rest (the control rows check it).
    let tls: &[&str] = &["--delay", "tls=1000"];
    let ping: &[&str] = &["--delay", "/auth/v2/ping=1000"];
    let preauth_soon: &[&str] = &["--delay", "/auth/v2/preauth=600"];
    let preauth: &[&str] = &["--delay", "/auth/v2/preauth=1000"];
    let closes: &[&str] = &["--delay", "/auth/v2/ping=300", "--idle-close", "1000"];
    let slowish: &[&str] = &[
        "--delay",
        "/auth/v2/ping=300",
        "--delay",
        "/auth/v2/preauth=300",
    ];
    // Keeps a login alive long enough to be found on a loaded machine.
    let start: &[&str] = &["--delay", "tls=300"];
    // Moment, mock scenario, more mock options.
    let rows: [(Moment, &str, &[&str]); 22] = [
        (Moment::Never, "pushdeny", tls),
        (Moment::Never, "pushdeny", ping),
        (Moment::Never, "pushdeny", preauth),
        (Moment::Never, "pushdeny", closes),
        (Moment::Never, "pushdeny", slowish),
        (Moment::Start, "pushdeny", start),
        (Moment::Lookup, "pushdeny", &[]),
        (Moment::Handshake, "pushdeny", tls),
        (Moment::Ping, "pushdeny", ping),
        (Moment::ReplyWaiting, "pushdeny", preauth_soon),
        (Moment::Preauth, "pushdeny", preauth),
        (Moment::IdleClosed, "pushdeny", closes),
        (Moment::Stutter, "pushdeny", slowish),
        (Moment::Charged, "pushdeny", slowish),
        (Moment::Start, "alice", start),
        (Moment::Lookup, "alice", &[]),
        (Moment::Handshake, "alice", tls),
        (Moment::Ping, "alice", ping),
        (Moment::ReplyWaiting, "alice", preauth_soon),
        (Moment::IdleClosed, "alice", closes),
        (Moment::Stutter, "alice", slowish),
        (Moment::Charged, "alice", slowish),
    ];
    for (moment, scenario, more) in rows {
        let mut args = vec!["--scenario", scenario];
        args.extend(more);
        let mock = Mock::start(&args);
        sb.configure(&mock, &timeout);
        let dns = matches!(moment, Moment::Lookup | Moment::Stutter | Moment::Charged).then(|| {
            let lag = if matches!(moment, Moment::Lookup) {
                300
            } else {
                100
            };
            let d = SlowDns::start(Duration::from_millis(lag));
            sb.dns_first(d.addr);
            d
        });
        let row = format!("{front:?} stopped at {moment:?}, {scenario}, mock {more:?}");
        let running = sb.start(&Run::new(front.clone()));
        let pid = running.pid();
        let end = Instant::now() + Duration::from_secs(20);
        let mut target = None;
        let mut due = false;
        while target.is_none() && Instant::now() < end && !matches!(moment, Moment::Never) {
            let duo_side = match front {
                Front::Su => {
                    let maps =
                        std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
                    maps.contains("libpam_duo").then_some(pid)
                }
                _ => children_of(pid)
                    .into_iter()
                    .find(|c| uid_of(*c) == Some(sb.sshd.0)),
            };
            due |= match moment {
                Moment::Start | Moment::Never => true,
                Moment::Lookup | Moment::Stutter | Moment::Charged => {
                    dns.as_ref().is_some_and(|d| d.queries.try_recv().is_ok())
                }
                Moment::Handshake => duo_side.is_some_and(|t| tcp_peers(t).contains(&mock.port)),
                Moment::Ping | Moment::IdleClosed => {
                    mock.requests().iter().any(|r| r["path"] == "/auth/v2/ping")
                }
                Moment::ReplyWaiting | Moment::Preauth => mock
                    .requests()
                    .iter()
                    .any(|r| r["path"] == "/auth/v2/preauth"),
            };
            if due {
                target = duo_side;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut note = String::new();
        match target {
            None if matches!(moment, Moment::Never) => {}
            None => rep.fail(&row, "the moment to stop never came (set-up problem)"),
            Some(t) if matches!(moment, Moment::Stutter | Moment::Charged) => {
                let cycles = if matches!(moment, Moment::Charged) {
                    2
                } else {
                    40
                };
                let mut n = 0;
                while n < cycles
                    && !matches!(stat_fields(t).first().map(String::as_str), None | Some("Z"))
                {
                    signal(t, libc::SIGSTOP);
                    std::thread::sleep(Duration::from_millis(1300));
                    signal(t, libc::SIGCONT);
                    n += 1;
                    std::thread::sleep(Duration::from_millis(if cycles == 2 { 20 } else { 50 }));
                }
                note = format!("({n} stops of 1.3 s)");
            }
            Some(t) => {
                if matches!(moment, Moment::Ping | Moment::Preauth) {
                    std::thread::sleep(Duration::from_millis(200));
                }
                signal(t, libc::SIGSTOP);
                if !wait_stopped(t) {
                    rep.fail(&row, "the process did not stop");
                }
                let connected = tcp_peers(t).contains(&mock.port);
                std::thread::sleep(STOP_FOR);
                let queued = rx_queued(t);
                note = format!(
                    "(connected when stopped: {connected}; {queued} bytes waiting in its \
                     sockets before SIGCONT)"
                );
                if matches!(
                    moment,
                    Moment::Handshake
                        | Moment::ReplyWaiting
                        | Moment::Ping
                        | Moment::Preauth
                        | Moment::IdleClosed
                ) && queued == 0
                {
                    rep.fail(
                        &row,
                        "set-up: the reply was not waiting in the stopped process's socket",
                    );
                }
                signal(t, libc::SIGCONT);
            }
        }
        let o = sb.finish(running);
        show(&row, &o, &note);
        if scenario == "pushdeny" {
            expect_server_deny(&mut rep, &sb, &row, &front, &o);
        } else {
            expect_server_allow(&mut rep, &sb, &row, &front, &o);
        }
        drop(dns);
    }
    rep.done("SIGSTOP");
}

#[test]
#[ignore = "needs root"]
fn su_stopped_gets_the_server_verdict() {
    duo_tests::require_root();
    stopped_rows(Front::Su);
}

#[test]
#[ignore = "needs root"]
fn login_duo_stopped_gets_the_server_verdict() {
    duo_tests::require_root();
    stopped_rows(Front::Login);
}

// ---------------------------------------------------------------------------------------------
// Log forging

/// No control byte in any datagram (su's own lines aside), no message starting with the forged
/// text; on stderr, no control byte but the LF that ends lines, and no line starting with it.
/// With `must_show`, the forged text (sanitised) must appear somewhere, or the row proved
/// nothing.
fn check_forging(rep: &mut Report, row: &str, o: &Outcome, must_show: bool) {
    let ours = |l: &&SysLine| !(l.msg.starts_with(b"(to ") || l.msg.starts_with(b"FAILED SU"));
    for l in o.syslog.iter().filter(ours) {
        if l.raw.iter().any(|&b| b < 0x20 || b == 0x7f) {
            rep.check(false, row, "a control byte in a syslog line", o);
        }
        if l.msg.starts_with(b"FORGED") {
            rep.check(
                false,
                row,
                "a syslog message starts with the forged text",
                o,
            );
        }
    }
    for line in o.stderr.split(|&b| b == b'\n') {
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            rep.check(false, row, "a control byte in a stderr line", o);
        }
        if line.starts_with(b"FORGED") {
            rep.check(false, row, "a stderr line starts with the forged text", o);
        }
    }
    if must_show {
        rep.check(
            o.logged("FORGED"),
            row,
            "the input never reached the log (the row proves nothing)",
            o,
        );
    }
}

#[test]
#[ignore = "needs root"]
fn logs_cannot_be_forged() {
    duo_tests::require_root();
    let sb = Sandbox::new("hostile-log");
    let deny = mock_deny();
    let mut rep = Report::default();
    let login = Front::Login;

    // login_duo, setuid, as the test user: -h and SSH_CONNECTION; syslog, then stderr (-d).
    let hosts: [&[u8]; 3] = [
        b"192.0.2.1\nFORGED-LINE root",
        b"192.0.2.1\r\nFORGED-CRLF root",
        b"192.0.2.1\rFORGED-CR\x1b[2J\x07\x7f\xc2\x9b root",
    ];
    for (i, h) in hosts.iter().enumerate() {
        for debug in [false, true] {
            sb.configure(&deny, "");
            let mut r = Run::new(login.clone()).arg("-h").arg(bytes(h));
            if debug {
                r = r.arg("-d");
            }
            let o = sb.run(&r);
            let row = format!("login_duo -h #{i} debug={debug}");
            show(&row, &o, "");
            expect_denied(&mut rep, &sb, &row, &login, &o);
            check_forging(&mut rep, &row, &o, true);
        }
    }
    let conns: [&[u8]; 2] = [
        b"1.2.3.4\nFORGED 5 6 7",
        b"1.2.3.4\rFORGED\x1b]0;x\x07 5 6 7",
    ];
    for (i, c) in conns.iter().enumerate() {
        for debug in [false, true] {
            sb.configure(&deny, "");
            let mut r = Run::new(login.clone()).env("SSH_CONNECTION", bytes(c));
            if debug {
                r = r.arg("-d");
            }
            let o = sb.run(&r);
            let row = format!("login_duo SSH_CONNECTION #{i} debug={debug}");
            show(&row, &o, "");
            expect_denied(&mut rep, &sb, &row, &login, &o);
            check_forging(&mut rep, &row, &o, true);
        }
    }

    // login_duo as root with a Duo user name (-f) full of controls.
    for debug in [false, true] {
        sb.configure(&deny, "");
        let mut r = Run::new(login.clone())
            .root()
            .args(&["-c", "/etc/duo/login_root.conf", "-f"])
            .arg(bytes(b"x\nFORGED-USER\r\x1b]0;t\x07 root"));
        if debug {
            r = r.arg("-d");
        }
        let o = sb.run(&r);
        let row = format!("login_duo -f as root, debug={debug}");
        show(&row, &o, "");
        expect_denied(&mut rep, &sb, &row, &login, &o);
        check_forging(&mut rep, &row, &o, true);
    }

    // login_duo started with a forged argv[0] logs as `login_duo`, facility authpriv.
    sb.configure(&deny, "");
    let o = sb.run(
        &Run::new(login.clone())
            .argv0(bytes(b"evil\nFORGED-TAG"))
            .arg("-h")
            .arg("192.0.2.9"),
    );
    let row = "login_duo with argv[0] = \"evil\\nFORGED-TAG\"";
    show(row, &o, "");
    expect_denied(&mut rep, &sb, row, &login, &o);
    check_forging(&mut rep, row, &o, false);
    rep.check(!o.syslog.is_empty(), row, "nothing reached syslog", &o);
    for l in &o.syslog {
        let tag = String::from_utf8_lossy(&l.tag);
        let ok = tag
            .strip_prefix("login_duo[")
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|p| p.parse::<u32>().is_ok());
        rep.check(
            ok,
            row,
            &format!("syslog tag {tag:?} is not login_duo[<pid>]"),
            &o,
        );
        rep.check(
            l.pri >> 3 == 10,
            row,
            &format!("facility {} is not authpriv (10)", l.pri >> 3),
            &o,
        );
    }

    // pam_duo through libpam (pamclient, as root): PAM_RHOST and PAM user with controls.
    let evil_name: &[u8] = b"h\rFORGED-NAME\x1b[1m\x7f";
    let mut entry = evil_name.to_vec();
    entry.extend_from_slice(
        format!(":x:{}:{}::/nonexistent:/bin/sh\n", sb.user.uid, sb.user.gid).as_bytes(),
    );
    for debug in [false, true] {
        for (user, rhost, must_show) in [
            (
                &b"nobody\nFORGED-PAMUSER"[..],
                &b"1.2.3.4\nFORGED-RHOST x"[..],
                false,
            ),
            (evil_name, &b"1.2.3.4\r\nFORGED-RHOST\x1b[2J x"[..], true),
        ] {
            sb.configure_pam(&deny, "", if debug { "debug" } else { "" });
            sb.passwd_with(&entry);
            let o = sb.run(
                &Run::new(Front::Pam)
                    .root()
                    .arg("--user")
                    .arg(bytes(user))
                    .arg("--rhost")
                    .arg(bytes(rhost)),
            );
            let row = format!(
                "pam_duo via libpam, user {:?}, debug={debug}",
                String::from_utf8_lossy(user)
            );
            show(&row, &o, "");
            rep.check(
                !o.allowed(&Front::Pam, ""),
                &row,
                "must not return PAM_SUCCESS",
                &o,
            );
            rep.check(!o.logged("Failsafe"), &row, "logged a Failsafe verdict", &o);
            // pamclient prints the conversation on stdout, not a log: only stderr and syslog.
            check_forging(&mut rep, &row, &o, must_show);
            for l in o
                .syslog
                .iter()
                .filter(|l| l.msg.windows(3).any(|w| w == b"Duo"))
            {
                rep.check(
                    l.pri >> 3 == 10,
                    &row,
                    &format!(
                        "pam_duo line with facility {}, not authpriv (10)",
                        l.pri >> 3
                    ),
                    &o,
                );
            }
        }
    }

    // su by a caller whose passwd name has controls; then one whose GECOS has them.
    let su = Front::Su;
    sb.configure(&deny, "");
    sb.passwd_with(&entry);
    let o = sb.run(&Run::new(su.clone()));
    let row = "su by a caller named \"h\\rFORGED-NAME\\e[1m\\x7f\"";
    show(row, &o, "");
    expect_denied(&mut rep, &sb, row, &su, &o);
    check_forging(&mut rep, row, &o, true);
    for l in o
        .syslog
        .iter()
        .filter(|l| l.msg.windows(3).any(|w| w == b"Duo"))
    {
        rep.check(
            l.pri >> 3 == 10,
            row,
            &format!(
                "pam_duo line with facility {}, not authpriv (10)",
                l.pri >> 3
            ),
            &o,
        );
    }

    sb.configure(&deny, "send_gecos = yes");
    let line = sb.user_line();
    let f: Vec<&str> = line.split(':').collect();
    let mut gecos_line = format!("{}:{}:{}:{}:", f[0], f[1], f[2], f[3]).into_bytes();
    gecos_line.extend_from_slice(b"g\rFORGED-GECOS\x1b]0;t\x07");
    gecos_line.extend_from_slice(format!(":{}:{}\n", f[5], f[6]).as_bytes());
    sb.passwd_with(&gecos_line);
    for debug in [false, true] {
        if debug {
            sb.configure_pam(&deny, "send_gecos = yes", "debug");
            sb.passwd_with(&gecos_line);
        }
        let o = sb.run(&Run::new(su.clone()));
        let row = format!("su with a GECOS full of controls, send_gecos, debug={debug}");
        show(&row, &o, "");
        expect_denied(&mut rep, &sb, &row, &su, &o);
        check_forging(&mut rep, &row, &o, true);
    }
    rep.done("log forging");
}

// ---------------------------------------------------------------------------------------------
// Bytes

/// Not a panic, not a signal; 0 or 1.
fn expect_clean_exit(rep: &mut Report, row: &str, o: &Outcome) {
    rep.check(
        matches!(o.status.code(), Some(0) | Some(1))
            && !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        row,
        "must exit 0 or 1 without a panic",
        o,
    );
    if o.status.code() == Some(1) {
        rep.check(
            !o.stderr.is_empty() || !o.syslog.is_empty(),
            row,
            "a refusal needs a message",
            o,
        );
    }
}

#[test]
#[ignore = "needs root"]
fn bytes_stay_bytes() {
    duo_tests::require_root();
    let sb = Sandbox::new("hostile-bytes");
    let deny = mock_deny();
    let allow = mock_allow();
    let mut rep = Report::default();
    let login = Front::Login;

    // SSH_ORIGINAL_COMMAND that is not UTF-8 runs exactly as given, through the user's shell.
    let cmd: &[u8] = b"echo MARK-\xff\xfe\xc3A-END";
    sb.configure(&allow, "");
    let o = sb.run(
        &Run::new(login.clone())
            .command(Vec::new())
            .env("SSH_ORIGINAL_COMMAND", bytes(cmd)),
    );
    let row = "non-UTF-8 SSH_ORIGINAL_COMMAND, allowing mock";
    show(
        row,
        &o,
        &format!("stdout {:?}", String::from_utf8_lossy(&o.stdout)),
    );
    rep.check(
        o.status.success() && o.stdout == b"MARK-\xff\xfe\xc3A-END\n",
        row,
        "the command must run with its bytes unchanged (never an interactive shell)",
        &o,
    );
    sb.configure(&deny, "");
    let o = sb.run(
        &Run::new(login.clone())
            .command(Vec::new())
            .env("SSH_ORIGINAL_COMMAND", bytes(cmd)),
    );
    let row = "non-UTF-8 SSH_ORIGINAL_COMMAND, denying mock";
    show(row, &o, "");
    rep.check(
        o.status.code() == Some(1) && o.stdout.is_empty(),
        row,
        "must be denied, nothing run",
        &o,
    );
    rep.check(!o.logged("Failsafe"), row, "logged a Failsafe verdict", &o);

    // Non-UTF-8 argv: the command, -h, SSH_CONNECTION.
    sb.configure(&allow, "");
    let o = sb.run(&Run::new(login.clone()).command(vec![os("echo"), bytes(b"MARK-\xff-END")]));
    let row = "non-UTF-8 command argument";
    show(
        row,
        &o,
        &format!("stdout {:?}", String::from_utf8_lossy(&o.stdout)),
    );
    expect_clean_exit(&mut rep, row, &o);
    if o.status.code() == Some(0) {
        rep.check(
            o.stdout == b"MARK-\xff-END\n",
            row,
            "ran, but not with the bytes given",
            &o,
        );
    }
    for (name, r) in [
        (
            "non-UTF-8 -h",
            Run::new(login.clone())
                .arg("-h")
                .arg(bytes(b"192.0.2.\xff\xfe")),
        ),
        (
            "non-UTF-8 SSH_CONNECTION",
            Run::new(login.clone()).env("SSH_CONNECTION", bytes(b"192.0.2.\xff 1 2 3")),
        ),
        (
            "non-UTF-8 -h with -d",
            Run::new(login.clone())
                .arg("-d")
                .arg("-h")
                .arg(bytes(b"\xc3\x28\xff")),
        ),
    ] {
        let o = sb.run(&r);
        show(name, &o, "");
        expect_clean_exit(&mut rep, name, &o);
        if o.status.code() == Some(0) {
            rep.check(
                o.allowed(&login, &sb.marker),
                name,
                "exit 0 without running the command",
                &o,
            );
        }
    }
    rep.done("bytes");
}

// ---------------------------------------------------------------------------------------------
// Ownership

#[test]
#[ignore = "needs root"]
fn ownership_is_trust() {
    duo_tests::require_root();
    let sb = Sandbox::new("hostile-owner");
    let allow = mock_allow();
    let mut rep = Report::default();
    let user = (sb.user.uid, sb.user.gid);
    let body = |m: &Mock| {
        format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = localhost:{}\ncafile = /etc/duo/ca.pem\n\
             failmode = safe\nautopush = yes\nprompts = 1\n",
            m.port
        )
    };
    // Sanity: the allowing mock allows with the right owners.
    for front in [Front::Su, Front::Login] {
        sb.configure(&allow, "");
        let o = sb.run(&Run::new(front.clone()));
        let row = format!("{front:?}, config owned as required");
        show(&row, &o, "");
        expect_server_allow(&mut rep, &sb, &row, &front, &o);
    }
    // A 0600 config owned by someone else is not trusted, whatever it says.
    for (front, file, owner, who) in [
        (Front::Su, "pam_duo.conf", user, "the calling user"),
        (Front::Su, "pam_duo.conf", sb.sshd, "the privsep user"),
        (Front::Login, "login_duo.conf", user, "the calling user"),
        (
            Front::Login,
            "login_duo.conf",
            user,
            "an ordinary user, run by root",
        ),
    ] {
        sb.configure(&allow, "");
        sb.write_conf(file, &body(&allow), owner);
        let before = allow.requests().len();
        let mut r = Run::new(front.clone());
        if who.ends_with("run by root") {
            r = r.root();
        }
        let o = sb.run(&r);
        let row = format!("{front:?}, {file} owned by {who}");
        show(&row, &o, "");
        expect_denied(&mut rep, &sb, &row, &front, &o);
        rep.check(
            allow.requests().len() == before,
            &row,
            "Duo was asked although the config is not trusted",
            &o,
        );
    }
    // A privsep user with uid 0 is refused at run time (the copy's passwd gives sshd uid 0).
    sb.configure(&allow, "");
    let root_sshd: String = String::from_utf8_lossy(&sb.passwd)
        .lines()
        .map(|l| {
            if l.starts_with("sshd:") {
                let f: Vec<&str> = l.split(':').collect();
                format!("sshd:x:0:0:{}:{}:{}\n", f[4], f[5], f[6])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(sb.etc.join("passwd"), root_sshd).expect("passwd");
    // Owned by root, which is the privsep user now: only the uid-0 rule can refuse.
    sb.write_conf("login_duo.conf", &body(&allow), (0, 0));
    let before = allow.requests().len();
    let o = sb.run(&Run::new(Front::Login));
    let row = "login_duo with a privsep user of uid 0";
    show(row, &o, "");
    rep.check(
        o.status.code() == Some(1) && !o.allowed(&Front::Login, &sb.marker),
        row,
        "must be refused (exit 1, command not run)",
        &o,
    );
    rep.check(
        allow.requests().len() == before,
        row,
        "Duo was asked by a privsep process running as root",
        &o,
    );
    rep.done("ownership");
}
