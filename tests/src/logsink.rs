//! Log sinks for tests: a Unix datagram socket standing in for syslog's `/dev/log`, and one
//! standing in for the journal's `/run/systemd/journal/socket`, seen only by the processes a
//! test starts through [`LogSinks::sandbox`]. Those run in a private mount namespace where
//! `/dev` is a fresh tmpfs of links to the real device nodes plus `/dev/log`, and
//! `/run/systemd` (or `/run`) is a fresh tmpfs holding the journal socket or nothing. The
//! host's logging is never touched, and the product reads no setting for this.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What stands at the journal's socket path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Journal {
    /// Nothing: there is no journal.
    Absent,
    /// A socket whose datagrams are collected.
    Listening,
    /// A socket whose receive queue is full and is never read.
    Full,
}

/// A socket read by a thread until stopped.
struct Reader {
    stop: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    fn start(sock: UnixDatagram) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (flag, sink) = (stop.clone(), got.clone());
        let _ = sock.set_read_timeout(Some(Duration::from_millis(20)));
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(600);
            let mut buf = vec![0u8; 1 << 17];
            let mut last_round = false;
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        if let Ok(mut g) = sink.lock() {
                            g.push(buf[..n].to_vec());
                        }
                        continue;
                    }
                    Err(_) if last_round => break,
                    Err(_) => {}
                }
                // After the stop, one more read that finds the queue empty ends the loop.
                last_round = flag.load(Ordering::SeqCst) || Instant::now() > end;
            }
        });
        Reader {
            stop,
            got,
            thread: Some(thread),
        }
    }

    /// Stop reading (after the queue is drained) and return every datagram.
    fn finish(&mut self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The datagrams the sinks received.
pub struct Received {
    /// Datagrams at `/dev/log`, as syslog(3) sent them (`<PRI>time ident[pid]: message`).
    pub syslog: Vec<Vec<u8>>,
    /// Datagrams at the journal socket (empty unless [`Journal::Listening`]).
    pub journal: Vec<Vec<u8>>,
}

impl Received {
    /// Each syslog datagram (`<PRI>Mmm dd hh:mm:ss ident[pid]: message`) as its `<PRI>`
    /// number (facility * 8 + priority) and its message. A datagram of another shape is
    /// returned whole, with priority `u32::MAX`.
    pub fn syslog_messages(&self) -> Vec<(u32, Vec<u8>)> {
        self.syslog
            .iter()
            .map(|d| {
                let parsed = d.strip_prefix(b"<").and_then(|r| {
                    let end = r.iter().position(|&c| c == b'>')?;
                    let pri = std::str::from_utf8(&r[..end]).ok()?.parse::<u32>().ok()?;
                    // The time stamp is 15 characters and a space.
                    let rest = r.get(end + 1 + 16..)?;
                    let colon = rest.windows(2).position(|w| w == b": ")?;
                    Some((pri, rest[colon + 2..].to_vec()))
                });
                parsed.unwrap_or_else(|| (u32::MAX, d.clone()))
            })
            .collect()
    }
}

/// The sinks of one test run; stopped and removed on drop.
pub struct LogSinks {
    /// Private directory holding the sockets.
    pub dir: PathBuf,
    syslog: Reader,
    journal: Option<Reader>,
    /// Journal mode.
    pub mode: Journal,
    /// Sockets that filled the journal's queue; kept open so the queue stays full.
    _fillers: Vec<UnixDatagram>,
    /// `(target, link)` pairs to create in the private `/dev`.
    links: Vec<(CString, CString)>,
    realdev: CString,
    run_mount: CString,
    journal_dirs: Vec<CString>,
    journal_link: Option<(CString, CString)>,
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

impl LogSinks {
    /// Bind the sockets and prepare the private `/dev` and `/run` views.
    pub fn start(mode: Journal) -> LogSinks {
        let dir = crate::temp_dir("logsink");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let bind = |name: &str| {
            let p = dir.join(name);
            let s = UnixDatagram::bind(&p).expect("bind a log socket");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).expect("chmod");
            (p, s)
        };
        let (syslog_path, syslog_sock) = bind("dev-log");
        let syslog = Reader::start(syslog_sock);
        let mut fillers = Vec::new();
        let (journal, journal_link) = match mode {
            Journal::Absent => (None, None),
            Journal::Listening | Journal::Full => {
                let (p, s) = bind("journal-socket");
                let link = Some((
                    cstr(&p),
                    CString::new("/run/systemd/journal/socket").expect("cstr"),
                ));
                if mode == Journal::Listening {
                    (Some(Reader::start(s)), link)
                } else {
                    fill(&p, &mut fillers);
                    // The socket stays bound (and full) as long as `fillers` and `s` live.
                    fillers.push(s);
                    (None, link)
                }
            }
        };
        let realdev = dir.join("realdev");
        std::fs::create_dir(&realdev).expect("mkdir");
        let mut links = Vec::new();
        for e in std::fs::read_dir("/dev").expect("read /dev").flatten() {
            let name = e.file_name();
            if name == "log" {
                continue;
            }
            links.push((
                cstr(&realdev.join(&name)),
                cstr(&Path::new("/dev").join(&name)),
            ));
        }
        links.push((cstr(&syslog_path), CString::new("/dev/log").expect("cstr")));
        let (run_mount, journal_dirs) = if Path::new("/run/systemd").is_dir() {
            ("/run/systemd", vec!["/run/systemd/journal"])
        } else {
            ("/run", vec!["/run/systemd", "/run/systemd/journal"])
        };
        LogSinks {
            syslog,
            journal,
            mode,
            _fillers: fillers,
            links,
            realdev: cstr(&realdev),
            run_mount: CString::new(run_mount).expect("cstr"),
            journal_dirs: journal_dirs
                .into_iter()
                .map(|d| CString::new(d).expect("cstr"))
                .collect(),
            journal_link,
            dir,
        }
    }

    /// Make `cmd` run in its own mount namespace where these sinks are the system's log
    /// sockets.
    pub fn sandbox(&self, cmd: &mut Command) {
        let links = self.links.clone();
        let realdev = self.realdev.clone();
        let run_mount = self.run_mount.clone();
        let journal_dirs = self.journal_dirs.clone();
        let journal_link = self.journal_link.clone();
        let check = |r: libc::c_int| {
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        // SAFETY: between fork and exec only async-signal-safe system calls run here, on
        // NUL-terminated strings prepared (allocated) before the fork; the mounts happen in
        // the child's own mount namespace, made private first, so the host never sees them.
        unsafe {
            cmd.pre_exec(move || {
                let none = std::ptr::null::<libc::c_char>();
                check(libc::unshare(libc::CLONE_NEWNS))?;
                check(libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    c"/dev".as_ptr(),
                    realdev.as_ptr(),
                    none,
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/dev".as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID,
                    c"mode=0755".as_ptr().cast(),
                ))?;
                for (target, link) in &links {
                    check(libc::symlink(target.as_ptr(), link.as_ptr()))?;
                }
                check(libc::mount(
                    c"tmpfs".as_ptr(),
                    run_mount.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    c"mode=0755".as_ptr().cast(),
                ))?;
                for d in &journal_dirs {
                    check(libc::mkdir(d.as_ptr(), 0o755))?;
                }
                if let Some((target, link)) = &journal_link {
                    check(libc::symlink(target.as_ptr(), link.as_ptr()))?;
                }
                Ok(())
            });
        }
    }

    /// Stop the sinks and return what they received.
    pub fn finish(mut self) -> Received {
        Received {
            syslog: self.syslog.finish(),
            journal: self
                .journal
                .as_mut()
                .map(Reader::finish)
                .unwrap_or_default(),
        }
    }
}

impl Drop for LogSinks {
    fn drop(&mut self) {
        self.syslog.finish();
        if let Some(j) = self.journal.as_mut() {
            j.finish();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fill the receive queue of the datagram socket at `path` until a new sender is refused at
/// once. Bounded: at most 64 senders of at most 100 000 datagrams each.
fn fill(path: &Path, fillers: &mut Vec<UnixDatagram>) {
    for _ in 0..64 {
        let s = UnixDatagram::unbound().expect("socket");
        s.set_nonblocking(true).expect("nonblocking");
        let mut sent = 0;
        for _ in 0..100_000 {
            match s.send_to(b"FILLER=1\n", path) {
                Ok(_) => sent += 1,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the journal socket: {e}"),
            }
        }
        fillers.push(s);
        if sent == 0 {
            return;
        }
    }
    panic!("the journal socket's queue did not fill up");
}
