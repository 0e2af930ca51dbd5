//! Helpers shared by the end-to-end tests: the mock Duo service, temporary users, and a
//! pseudo-terminal driver.

pub mod logsink;
pub mod pty;
pub mod runner;
pub mod sshd;
pub mod users;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The effective uid of this process, read from `/proc/self/status` (no libc
/// call needed). `None` when that file cannot be read or parsed.
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    // "Uid:\t<real>\t<effective>\t<saved>\t<fs>"
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The first line of every end-to-end test that needs root (they create users, PAM services
/// and setuid files, or bind mounts in a private namespace). Such a test is also marked
/// `#[ignore = "needs root"]`, so that `cargo test` as an ordinary user lists it as ignored
/// instead of reporting a pass; `make check` runs them as root with `--include-ignored`. Run
/// that way without root, the test fails here with one clear line before it touches anything.
pub fn require_root() {
    assert_eq!(
        effective_uid(),
        Some(0),
        "this end-to-end test needs root: run 'make check' (or cargo test -- --include-ignored) as root"
    );
}

/// The integration key of every test config; the mock accepts only this one.
pub const IKEY: &str = "DIXYZV6YM8IFYVWBINCA";
/// The secret key that goes with [`IKEY`].
pub const SKEY: &str = "yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo";

/// The `status_msg` of the mock's `hostile-msg` user: quotes, backslashes, a newline that
/// would start a forged line, CR, NUL, terminal escapes, DEL, C1 controls, the Unicode line
/// and paragraph separators, and text that looks like more JSON fields.
pub const HOSTILE_MSG: &str = "a \"quoted\" back\\slash\nFORGED-LINE root\r\u{0}nul\u{1b}[31mred\u{7f}del\u{85}nel\u{9b}csi\u{2028}ls\u{2029}ps\t}, \"result\":\"success\", {";

/// Linux-PAM return codes that the tests expect.
pub mod pam_codes {
    /// PAM_SUCCESS
    pub const PAM_SUCCESS: i32 = 0;
    /// PAM_SERVICE_ERR
    pub const PAM_SERVICE_ERR: i32 = 3;
    /// PAM_USER_UNKNOWN
    pub const PAM_USER_UNKNOWN: i32 = 10;
    /// PAM_MAXTRIES
    pub const PAM_MAXTRIES: i32 = 11;
    /// PAM_ABORT
    pub const PAM_ABORT: i32 = 26;
}

/// `login_duo -d -c <conf> -f <user> -- echo <marker>` (the built binary) with an environment
/// holding only `PATH`. Run as root, `-c` and `-f` are allowed and the login is single-process.
/// The same as [`runner::LoginDuo`]`::new(conf).user(user).echo(marker).cmd()`.
pub fn login_duo_echo(conf: &Path, user: &str, marker: &str) -> Command {
    runner::LoginDuo::new(conf).user(user).echo(marker).cmd()
}

/// `bin` run through `prefix` (e.g. `ip netns exec NAME`), or directly if `prefix` is empty.
pub fn prefixed(prefix: &[&str], bin: &Path) -> Command {
    match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and holds them without sending a byte.
/// Stopped (and its connections closed) on drop, or after 10 minutes at the latest.
pub struct SilentServer {
    /// Its port.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentServer {
    /// Bind an ephemeral port and start accepting.
    pub fn start() -> SilentServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let end = Instant::now() + Duration::from_secs(600);
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                if let Ok((s, _)) = listener.accept() {
                    held.push(s);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        SilentServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback listener that never accepts, with its accept queue already full: the kernel
/// drops further SYNs, as a firewall that silently drops packets would. [`BlackHole::relay`]
/// later opens it, on the same port, as a relay to a real server.
pub struct BlackHole {
    /// Its port on 127.0.0.1.
    pub port: u16,
    fd: std::os::fd::OwnedFd,
    _first: std::net::TcpStream,
}

impl BlackHole {
    /// Make one. An error says why not, e.g. if this kernel did not drop a probe's SYN for
    /// 500 ms.
    pub fn start() -> Result<BlackHole, String> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket syscalls on a descriptor this function owns (it is wrapped in
        // an OwnedFd at once); the sockaddr is a fully initialised local value whose size is
        // passed alongside it.
        let (fd, port) = unsafe {
            let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if raw < 0 {
                return Err("socket() failed".into());
            }
            let fd = std::os::fd::OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::bind(raw, &addr as *const _ as *const libc::sockaddr, len) != 0
                || libc::listen(raw, 0) != 0
            {
                return Err("bind/listen failed".into());
            }
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut glen = len;
            if libc::getsockname(raw, &mut got as *mut _ as *mut libc::sockaddr, &mut glen) != 0 {
                return Err("getsockname failed".into());
            }
            (fd, u16::from_be(got.sin_port))
        };
        let first = std::net::TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("first connect: {e}"))?;
        let probe = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(500),
        );
        match probe {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(BlackHole {
                port,
                fd,
                _first: first,
            }),
            other => Err(format!("a probe was not left hanging: {other:?}")),
        }
    }

    /// The service comes back: from now on, connections to the same port are accepted and
    /// relayed to `127.0.0.1:target`. Stopped on drop.
    pub fn relay(self, target: u16) -> Relay {
        use std::os::fd::AsRawFd;
        // SAFETY: listen on the descriptor owned by `self.fd`: a bigger accept queue.
        unsafe { libc::listen(self.fd.as_raw_fd(), 128) };
        let listener = std::net::TcpListener::from(self.fd);
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(600);
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                std::thread::spawn(move || pump(client, server));
                std::thread::spawn(move || pump(s2, c2));
            }
        });
        Relay {
            stop,
            thread: Some(thread),
        }
    }
}

/// Copy `from` to `to` until either closes or 60 s pass without data, then shut both down.
pub fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    use std::io::Write;
    let _ = from.set_read_timeout(Some(Duration::from_secs(60)));
    let mut buf = [0u8; 16 << 10];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

/// A running relay made by [`BlackHole::relay`]; stopped on drop.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a process run by [`run_captured`] did.
pub struct Captured {
    /// Its exit status (after a kill if it overran).
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// Time from spawn to exit.
    pub elapsed: Duration,
    /// Whether it ran longer than the limit and was killed.
    pub killed: bool,
}

/// Run `cmd` with stdin from /dev/null and both outputs captured; kill it after `limit`.
pub fn run_captured(cmd: Command, limit: Duration) -> Captured {
    Spawned::start(cmd).finish(limit, |child| {
        let _ = child.kill();
    })
}

/// A command started with stdin from /dev/null whose outputs are being collected; for tests
/// that act on the process while it runs (signals, /proc). [`run_captured`] is the usual way.
pub struct Spawned {
    child: Child,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
    start: Instant,
}

impl Spawned {
    /// Start `cmd`.
    pub fn start(mut cmd: Command) -> Spawned {
        let start = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {:?}: {e}", cmd.get_program()));
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                v
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("stdout")));
        let err = drain(Box::new(child.stderr.take().expect("stderr")));
        Spawned {
            child,
            out,
            err,
            start,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait until it exits. Past `limit`, `kill` must make it exit (it is then waited for and
    /// the result says it was killed).
    pub fn finish(mut self, limit: Duration, kill: impl FnOnce(&mut Child)) -> Captured {
        let mut killed = false;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if self.start.elapsed() > limit {
                killed = true;
                kill(&mut self.child);
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.start.elapsed();
        Captured {
            status,
            stdout: self.out.join().unwrap_or_default(),
            stderr: self.err.join().unwrap_or_default(),
            elapsed,
            killed,
        }
    }
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A new empty directory (mode 0755) unique to this process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("duo-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// The PAM code that `pamclient` printed (its last `RESULT <code> <text>` line), if any.
pub fn pam_result(stdout: &[u8]) -> Option<i32> {
    String::from_utf8_lossy(stdout)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|r| r.split(' ').next())
        .and_then(|c| c.parse().ok())
}

/// Write a config file (or any private file) with mode 0600, owned by whoever runs the test,
/// and return its path. Every test writes its configs through this.
pub fn write_conf(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    path.to_path_buf()
}

/// The text of a config for `mock`: the test keys, `host = 127.0.0.1:<port>`, `cafile` = the
/// mock's CA, then the `extra` lines.
pub fn mock_conf_body(mock: &Mock, extra: &str) -> String {
    format!(
        "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{}\ncafile = {}\n{extra}\n",
        mock.port,
        mock.ca.display()
    )
}

/// [`write_conf`] of [`mock_conf_body`] as `name` in the mock's directory.
pub fn mock_conf(mock: &Mock, name: &str, extra: &str) -> PathBuf {
    write_conf(&mock.dir.join(name), &mock_conf_body(mock, extra))
}

/// A running mock Duo service; stopped and cleaned up when dropped.
pub struct Mock {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its private directory.
    pub dir: PathBuf,
    /// The CA certificate that signed its server certificate.
    pub ca: PathBuf,
    /// The file that records every request.
    pub record: PathBuf,
    child: Child,
}

impl Mock {
    /// Start `target/<profile>/mockduo`, found next to the running test or program.
    pub fn start(args: &[&str]) -> Mock {
        let exe = std::env::current_exe().expect("current_exe");
        let mut dir = exe.parent().expect("exe dir").to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        Mock::start_with(&dir.join("mockduo"), args)
    }

    /// Start the mock binary at `bin` and wait (at most 10 s) until it is ready.
    pub fn start_with(bin: &Path, args: &[&str]) -> Mock {
        Mock::start_with_prefix(&[], bin, args)
    }

    /// Like [`Mock::start_with`], run through `prefix` (e.g. `ip netns exec NAME`), which
    /// must exec the binary in place so that stopping the child stops the mock.
    pub fn start_with_prefix(prefix: &[&str], bin: &Path, args: &[&str]) -> Mock {
        let dir = temp_dir("mock");
        let record = dir.join("requests.jsonl");
        let mut child = prefixed(prefix, bin)
            .arg("--dir")
            .arg(&dir)
            .arg("--record")
            .arg(&record)
            .arg("--exit-on-stdin-eof")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("mockduo did not become ready: {line:?}")
            });
        Mock {
            port,
            ca: dir.join("ca.pem"),
            record,
            dir,
            child,
        }
    }

    /// Every request received so far, one JSON object each.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A binary or library built by `cargo build --workspace` (which `make check` runs first), found
/// in the target directory of the running test or program. Panics with a clear message if it
/// is missing.
pub fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` first (make check does)",
        p.display()
    );
    p
}

/// A private view of `/etc` for the commands a test starts through [`PrivateEtc::command`]:
/// an overlay whose upper layer is a directory of the test, mounted over `/etc` in a private
/// mount namespace. Files the test puts in the upper layer ([`PrivateEtc::file`]) appear
/// under `/etc` for those commands only; the host's `/etc` is never written. Made with
/// [`PrivateEtc::with_run`], `/run` gets such an overlay too, so that what the commands write
/// there (sshd's privilege separation directory, sudo's timestamps, login_duo's default
/// outage state directory) stays in the test's directory.
pub struct PrivateEtc {
    dir: PathBuf,
    upper: PathBuf,
    run: bool,
}

impl PrivateEtc {
    /// A new, empty overlay over `/etc` (nothing changed yet).
    pub fn new(tag: &str) -> PrivateEtc {
        PrivateEtc::make(tag, false)
    }

    /// A new, empty overlay over `/etc` and another over `/run`.
    pub fn with_run(tag: &str) -> PrivateEtc {
        PrivateEtc::make(tag, true)
    }

    fn make(tag: &str, run: bool) -> PrivateEtc {
        let dir = temp_dir(&format!("etc-{tag}"));
        let upper = dir.join("upper");
        let mut dirs = vec![upper.clone(), dir.join("work")];
        if run {
            dirs.extend([dir.join("run-upper"), dir.join("run-work")]);
        }
        for d in dirs {
            std::fs::create_dir_all(d).expect("mkdir overlay layer");
        }
        PrivateEtc { dir, upper, run }
    }

    /// Where `/etc/<rel>` lives in the upper layer, its directories made (mode 0755, root's).
    pub fn file(&self, rel: &str) -> PathBuf {
        let p = self.upper.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir in upper");
        }
        p
    }

    /// Make the directory `/run/<rel>` (mode 0755, root's) in the upper layer of `/run`, and
    /// return where it lives there. Panics unless made with [`PrivateEtc::with_run`].
    pub fn run_dir(&self, rel: &str) -> PathBuf {
        assert!(self.run, "run_dir needs PrivateEtc::with_run");
        let p = self.dir.join("run-upper").join(rel);
        std::fs::create_dir_all(&p).expect("mkdir in the /run upper layer");
        p
    }

    /// `program` run in a private mount namespace with this overlay over `/etc` (and over
    /// `/run`, see [`PrivateEtc::with_run`]). With `user`, it runs as that user (real and
    /// effective ids, and its groups) once the overlays are mounted.
    pub fn command(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        user: Option<(u32, u32)>,
    ) -> Command {
        let mut script = String::from(
            "mount -t overlay overlay -o \"lowerdir=/etc,upperdir=$1/upper,workdir=$1/work\" /etc \
             || exit 97; ",
        );
        if self.run {
            script.push_str(
                "mount -t overlay overlay -o \"lowerdir=/run,upperdir=$1/run-upper,workdir=$1/run-work\" /run \
                 || exit 97; ",
            );
        }
        script.push_str("shift; exec \"$@\"");
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(script)
            .arg("private-etc")
            .arg(&self.dir);
        if let Some((uid, gid)) = user {
            c.arg("setpriv")
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .args(["--init-groups", "--"]);
        }
        c.arg(program);
        c
    }
}

impl Drop for PrivateEtc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A copy of `so` at `dest` without the NODELETE flag, so that libpam's `dlclose` really unmaps
/// it. Returns false if the file has no such flag to clear.
pub fn copy_without_nodelete(so: &std::path::Path, dest: &std::path::Path) -> bool {
    const DT_FLAGS_1: u64 = 0x6fff_fffb;
    const DF_1_NODELETE: u64 = 0x8;
    let mut b = std::fs::read(so).expect("read module");
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    assert_eq!(&b[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let (shoff, shentsize, shnum) = (
        u64_at(&b, 0x28) as usize,
        u16_at(&b, 0x3a),
        u16_at(&b, 0x3c),
    );
    let mut cleared = false;
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        if u32::from_le_bytes(b[sh + 4..sh + 8].try_into().expect("4 bytes")) != 6 {
            continue; // not SHT_DYNAMIC
        }
        let (off, size) = (
            u64_at(&b, sh + 0x18) as usize,
            u64_at(&b, sh + 0x20) as usize,
        );
        for e in (off..off + size).step_by(16) {
            if u64_at(&b, e) == DT_FLAGS_1 && u64_at(&b, e + 8) & DF_1_NODELETE != 0 {
                let v = u64_at(&b, e + 8) & !DF_1_NODELETE;
                b[e + 8..e + 16].copy_from_slice(&v.to_le_bytes());
                cleared = true;
            }
        }
    }
    std::fs::write(dest, &b).expect("write copy");
    cleared
}

/// The value of `key` on `pamclient --stats`'s line `STATS <tag> key=value ...` in `out`;
/// panics with `out` when there is none.
pub fn pam_stat(out: &str, tag: &str, key: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("STATS {tag} ")))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(String::from))
        })
        .unwrap_or_else(|| panic!("no {key} for {tag} in {out}"))
}

/// [`pam_stat`] as a number.
pub fn pam_stat_num(out: &str, tag: &str, key: &str) -> u64 {
    let v = pam_stat(out, tag, key);
    v.parse()
        .unwrap_or_else(|_| panic!("{key} for {tag} is not a number: {v}"))
}

/// The module left the host as it found it over a `pamclient --cycles N --stats` run: as many
/// descriptors and threads at the end as at the start.
pub fn assert_flat(out: &str) {
    assert_eq!(
        pam_stat_num(out, "start", "fds"),
        pam_stat_num(out, "end", "fds"),
        "file descriptors leaked"
    );
    assert_eq!(
        pam_stat_num(out, "start", "threads"),
        pam_stat_num(out, "end", "threads"),
        "threads left behind"
    );
}
