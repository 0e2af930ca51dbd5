//! The outage window: while the Duo service is unreachable, answer logins at once.
//!
//! When a login reaches the failmode verdict because the service could not be reached at the
//! network level (the name did not resolve, the connect was refused or unanswered, the TLS
//! handshake failed, or the service stayed silent; never HTTP 401/4xx/5xx, a malformed reply
//! or a local failure), that fact is written to a small state file. For `outage_window`
//! seconds after the last such failure, a new login gets the failmode verdict at once, without
//! the network, with the reason `Duo service unreachable since <time> (outage window)`. One
//! login per `outage_probe_interval` seconds still asks Duo (a probe): if any answer comes
//! back the window closes at once; if the service is still unreachable the window is
//! extended. The window is off unless `outage_window` is set.
//!
//! The state is trusted exactly like the configuration, and nothing a local user writes can
//! open the window:
//! - it lives in `<base>/uid-<euid>/`, where `<base>` is `/run/duo-unix-rs` (a tmpfs, empty
//!   after a reboot) or `outage_state_dir`. Every directory on the way is opened without
//!   following links and checked on its descriptor: owned by root or the running euid, not
//!   writable by group or others (a sticky directory such as `/tmp` may be on the way, not at
//!   the end). `uid-<euid>` must be owned by the running euid with mode 0700: root for
//!   `pam_duo`, the privilege-separation user for `login_duo`'s auth child (its setuid parent
//!   creates that directory before it forks, [`prepare_for`]);
//! - there is one file per API host, integration key, failmode, proxy and CA setting (a hash
//!   of them is the file name), so changing any of them closes the window;
//! - the file is opened with `O_NOFOLLOW | O_CLOEXEC` and used only if `fstat` on the
//!   descriptor shows a regular file with one link, owned by the running euid, mode 0600, at
//!   most [`MAX_STATE`] bytes, and its text is exactly the format below with no time in the
//!   future; anything else is ignored and the login talks to the network as it would without
//!   the window;
//! - every read and write happens under an exclusive `flock` on the file, taken with a wait of
//!   at most [`LOCK_WAIT`] (no lock: the login talks to the network). Nothing waits on the
//!   network while holding the lock, so concurrent logins only queue for microseconds, and
//!   the probe slot is claimed by one login only.
//!
//! The file's text (ASCII, one field per line, times in seconds since the epoch):
//!
//! ```text
//! duo-unix-rs outage window v1
//! since 1764558600
//! last 1764558630
//! probe 1764558630
//! ```
//!
//! `since`: the first failure of this outage; `last`: the latest failure (the window ends
//! `outage_window` seconds later); `probe`: when the last probe started. A closed window is
//! the header followed by the line `closed`.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::api::evidence::Evidence;
use crate::config::{Config, FailMode};
use crate::flow::outcome::Outcome;
use crate::log::{log, Priority};
use crate::sys::{chmod_at, mkdir_at, open_at, strerror, Gid, Uid};

/// The state directory when `outage_state_dir` is not set (the key itself, its default and
/// its limits belong to the configuration, which checks its own keys).
pub use crate::config::DEFAULT_OUTAGE_DIR as DEFAULT_DIR;
/// Largest state file accepted, in bytes.
pub const MAX_STATE: u64 = 256;
/// Longest wait for the lock on the state file.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);

/// First line of the state file; a new format gets a new version.
const HEADER: &str = "duo-unix-rs outage window v1";

/// The state file of `cfg` for the account `uid` (the running euid for a login).
pub fn state_path(cfg: &Config, uid: Uid) -> PathBuf {
    PathBuf::from(base_path(cfg))
        .join(sub_name(uid))
        .join(file_name(cfg))
}

/// An open outage window, as [`status`] sees it. Times are seconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The first failure of this outage.
    pub since: i64,
    /// The latest failure.
    pub last_failure: i64,
    /// When the window closes unless a probe fails before.
    pub until: i64,
    /// When the next login will probe the service.
    pub next_probe: i64,
}

/// Whether the outage window of `cfg` is open now for the running euid: `None` when the
/// window is off, closed, expired, or its state cannot be trusted. Read-only: it creates
/// and changes nothing.
pub fn status(cfg: &Config) -> Option<Status> {
    status_of(cfg, crate::sys::effective_uid())
}

/// [`status`] for the state kept by the account `owner` (e.g. the privilege-separation user
/// of `login_duo`), read by root or by `owner`.
pub fn status_of(cfg: &Config, owner: Uid) -> Option<Status> {
    if cfg.outage_window == 0 {
        return None;
    }
    let place = Place::new(cfg, owner);
    let base = place.base(false).ok()?;
    let dir = place.sub(&base, false).ok()??;
    let file = place.file(&dir, false).ok()??;
    if !lock(&file, false) {
        return None;
    }
    let now = now_secs();
    match read(&file).and_then(|t| parse(&t, now)) {
        Some(Stored::Open(o)) if now < o.end(i64::from(cfg.outage_window)) => Some(Status {
            since: o.since,
            last_failure: o.last,
            until: o.end(i64::from(cfg.outage_window)),
            next_probe: o.probe.saturating_add(i64::from(cfg.outage_probe_interval)),
        }),
        _ => None,
    }
}

/// For `login_duo`'s setuid parent, as root, before it forks the auth child that runs as
/// `uid`/`gid`: create `/run/duo-unix-rs` (root, 0755) and `/run/duo-unix-rs/uid-<uid>`
/// (`uid`, 0700) if they do not exist, since the child cannot. An existing directory is left
/// as it is (the child checks it). Does nothing unless running as root.
pub fn prepare_for(uid: Uid, gid: Gid) -> Result<(), StateError> {
    if !crate::sys::effective_uid().is_root() {
        return Ok(());
    }
    let base = open_path(DEFAULT_DIR, Uid::ROOT, true).map_err(StateError::from)?;
    let name = sub_name(uid);
    match mkdir_at(&base, &name, 0o700) {
        Ok(()) => {
            let d = open_at(Some(&base), &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(|e| StateError::io(&format!("{DEFAULT_DIR}/{name}"), e))?;
            std::os::unix::fs::fchown(&d, Some(uid.0), Some(gid.0))
                .and_then(|()| d.set_permissions(std::fs::Permissions::from_mode(0o700)))
                .map_err(|e| StateError::io(&format!("{DEFAULT_DIR}/{name}"), e))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StateError::io(&format!("{DEFAULT_DIR}/{name}"), e)),
    }
}

/// The outage window of one login. Made by [`Window::open`] before the first attempt; see the
/// module documentation.
pub struct Window {
    on: Option<On>,
}

struct On {
    place: Place,
    window: i64,
    every: i64,
    /// How long a probe's claim holds while its login is alive but has not finished
    /// (stopped, for example): the stage budget plus [`PROBE_SLACK`].
    lease: i64,
    failmode: FailMode,
    host: String,
    check: Check,
    /// While this login probes: the state file, holding the prober's lock (see
    /// [`Check::Probe`]). Closing it, also by the death of the process, releases the lock.
    probe_lock: Option<File>,
}

/// What the state said when the login started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// No open window (or none that can be trusted): ask Duo as usual.
    Network,
    /// The window is open since `since` and this login is the probe: ask Duo. It claimed the
    /// probe slot by writing `probe = claimed` over `before`; until it learns something, it
    /// holds an open-file-description lock on the state file so that other logins can tell
    /// a live probe from a dead one. A probe that learns nothing gives the slot back.
    Probe {
        since: i64,
        claimed: i64,
        before: i64,
    },
    /// The window is open since the given time: the failmode verdict, without the network.
    Memory(i64),
}

/// Seconds a live probe may take beyond its stage budget before its claim is void.
pub const PROBE_SLACK: i64 = 5;

impl Window {
    /// Look at the outage window of `cfg` for this login. When this login is to be the probe,
    /// the probe slot is claimed here. Problems with the state directory are logged and
    /// leave the window closed for this login.
    pub fn open(cfg: &Config) -> Window {
        if cfg.outage_window == 0 {
            return Window { on: None };
        }
        let stage = cfg
            .https_timeout
            .map_or(crate::flow::attempt::DEFAULT_STAGE_SECS, u64::from);
        let mut on = On {
            place: Place::new(cfg, crate::sys::effective_uid()),
            window: i64::from(cfg.outage_window),
            every: i64::from(cfg.outage_probe_interval),
            lease: i64::try_from(stage)
                .unwrap_or(i64::MAX)
                .saturating_add(PROBE_SLACK),
            failmode: cfg.failmode,
            host: cfg.host.to_string(),
            check: Check::Network,
            probe_lock: None,
        };
        match on.consult() {
            Ok((c, lock)) => {
                on.check = c;
                on.probe_lock = lock;
            }
            Err(why) => warn(&why),
        }
        if let Check::Probe { since, .. } = on.check {
            log(
                Priority::Info,
                &format!(
                    "Duo outage window open since {}: this login probes {}",
                    crate::api::timefmt::rfc3339(since),
                    on.host
                ),
            );
        }
        Window { on: Some(on) }
    }

    /// The failmode verdict from the outage memory, if the window is open and this login is
    /// not the probe (given once).
    pub fn remembered(&mut self) -> Option<Outcome> {
        let on = self.on.as_mut()?;
        let Check::Memory(since) = on.check else {
            return None;
        };
        on.check = Check::Network;
        let why = format!(
            "Duo service unreachable since {} (outage window)",
            crate::api::timefmt::rfc3339(since)
        );
        Some(match on.failmode {
            FailMode::Safe => Outcome::FailSafe(why),
            FailMode::Secure => Outcome::FailSecure(why),
        })
    }

    /// Learn from the ping/preauth stage of an attempt that went to the network: network
    /// unreachability (which at that stage is always a failmode verdict) opens or extends the
    /// window; any answer from the service closes it; nothing either way (a local failure)
    /// changes nothing, except that a probe gives its claim back so that the next login
    /// probes.
    pub fn learn(&mut self, evidence: Evidence) {
        let Some(on) = self.on.as_mut() else {
            return;
        };
        let r = match evidence {
            Evidence::Unreachable => {
                on.settle();
                on.failed()
            }
            Evidence::Answered => {
                on.settle();
                on.answered()
            }
            Evidence::None => on.hand_back(),
        };
        if let Err(why) = r {
            warn(&why);
        }
    }
}

impl Drop for Window {
    /// A probe that ends before it learnt anything (an error, a panic) gives its claim back.
    fn drop(&mut self) {
        if let Some(on) = self.on.as_mut() {
            if let Err(why) = on.hand_back() {
                warn(&why);
            }
        }
    }
}

fn warn(why: &StateError) {
    log(
        Priority::Warning,
        &format!("Duo outage window not used for this login: {why}"),
    );
}

impl On {
    /// Read the state: what this login does, and (for the probe) the state file holding the
    /// prober's lock.
    fn consult(&self) -> Result<(Check, Option<File>), StateError> {
        let network = Ok((Check::Network, None));
        let base = match self.place.base(false) {
            Ok(b) => b,
            Err(DirError::Missing(_)) if !self.place.configured => return network,
            Err(e) => return Err(e.into()),
        };
        let Some(dir) = self.place.sub(&base, false)? else {
            return network;
        };
        let Some(file) = self.place.file(&dir, false)? else {
            return network;
        };
        let path = self.place.path();
        if !lock(&file, true) {
            return Err(StateError::Locked(path));
        }
        let now = now_secs();
        let Some(Stored::Open(o)) = read(&file).and_then(|t| parse(&t, now)) else {
            return network;
        };
        if now >= o.end(self.window) {
            return network;
        }
        // Whether the prober of the last claim is still running: it holds the lock, which the
        // kernel drops when its process dies. Taking it makes this login the prober.
        let free = crate::sys::try_ofd_lock(&file).map_err(|e| StateError::io(&path, e))?;
        if now < o.probe.saturating_add(self.every) {
            // A probe that failed has recorded its failure (`last` not before `probe`); one
            // that is still running holds its claim for at most its lease.
            let settled = o.last >= o.probe;
            let alive = !free && now < o.probe.saturating_add(self.lease);
            if settled || alive {
                return Ok((Check::Memory(o.since), None));
            }
            if o.last < o.probe {
                log(
                    Priority::Info,
                    &format!(
                        "Duo outage window: the probe that started at {} did not finish; this login probes instead",
                        crate::api::timefmt::rfc3339(o.probe)
                    ),
                );
            }
        }
        // This login is the probe: claim the slot before anyone else can look.
        write(&file, &Stored::Open(Open { probe: now, ..o }))
            .map_err(|e| StateError::io(&path, e))?;
        let check = Check::Probe {
            since: o.since,
            claimed: now,
            before: o.probe,
        };
        // The file stays open for the lock that marks the probe as alive; the flock that
        // guards reads and writes is given up now, so that other logins do not wait.
        crate::sys::unflock(&file).map_err(|e| StateError::io(&path, e))?;
        Ok((check, free.then_some(file)))
    }

    /// This login learnt something: it is no longer a pending probe.
    fn settle(&mut self) {
        if matches!(self.check, Check::Probe { .. }) {
            self.check = Check::Network;
        }
        self.probe_lock = None;
    }

    /// A probe that learnt nothing: put back the probe time it replaced, if nobody has
    /// changed the state since, so that the next login probes. Does nothing for a login that
    /// is not a pending probe.
    fn hand_back(&mut self) -> Result<(), StateError> {
        let Check::Probe {
            claimed, before, ..
        } = self.check
        else {
            return Ok(());
        };
        self.check = Check::Network;
        let _lock = self.probe_lock.take();
        let Some(file) = self.place.existing()? else {
            return Ok(());
        };
        let path = self.place.path();
        if !lock(&file, true) {
            return Err(StateError::Locked(path));
        }
        let now = now_secs();
        match read(&file).and_then(|t| parse(&t, now)) {
            Some(Stored::Open(o)) if o.probe == claimed && o.last < o.probe => {
                write(&file, &Stored::Open(Open { probe: before, ..o }))
                    .map_err(|e| StateError::io(&path, e))?;
                log(
                    Priority::Info,
                    &format!(
                        "Duo outage window: this login's probe of {} learnt nothing (no answer and no network failure); the next login probes",
                        self.host
                    ),
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The service was unreachable: open the window, or extend the open one.
    fn failed(&self) -> Result<(), StateError> {
        let base = self.place.base(true).map_err(StateError::from)?;
        let dir = self
            .place
            .sub(&base, true)?
            .ok_or_else(|| StateError::Bad(format!("{} does not exist", self.place.dir_path())))?;
        let file = self
            .place
            .file(&dir, true)?
            .ok_or_else(|| StateError::Bad(format!("{} does not exist", self.place.path())))?;
        let path = self.place.path();
        if !lock(&file, true) {
            return Err(StateError::Locked(path));
        }
        let now = now_secs();
        let (next, opened) = match read(&file).and_then(|t| parse(&t, now)) {
            Some(Stored::Open(o)) if now < o.end(self.window) => {
                (Stored::Open(Open { last: now, ..o }), false)
            }
            _ => (
                Stored::Open(Open {
                    since: now,
                    last: now,
                    probe: now,
                }),
                true,
            ),
        };
        write(&file, &next).map_err(|e| StateError::io(&path, e))?;
        if opened {
            log(
                Priority::Warning,
                &format!(
                    "Duo outage window opened: {} is unreachable; for the next {} s logins get the failmode verdict at once, and one login every {} s asks Duo",
                    self.host, self.window, self.every
                ),
            );
        }
        Ok(())
    }

    /// The service answered: close the window if one is recorded.
    fn answered(&self) -> Result<(), StateError> {
        let Some(file) = self.place.existing()? else {
            return Ok(());
        };
        let path = self.place.path();
        // A login that holds the lock and is stopped (its user can stop it at any moment)
        // must not keep the window open after Duo answered: closing is written without the
        // lock then. That is safe whatever it races with: a cut or mixed text is no window,
        // and without a window every login asks Duo.
        let locked = lock(&file, true);
        if !locked {
            log(
                Priority::Warning,
                &format!(
                    "Duo outage window: {path} is locked by another login; Duo answered, so the window is closed without the lock"
                ),
            );
        }
        let now = now_secs();
        let was = read(&file).and_then(|t| parse(&t, now));
        if locked && !matches!(was, Some(Stored::Open(_))) {
            return Ok(());
        }
        write(&file, &Stored::Closed).map_err(|e| StateError::io(&path, e))?;
        let Some(Stored::Open(o)) = was else {
            return Ok(());
        };
        if now < o.end(self.window) {
            log(
                Priority::Info,
                &format!(
                    "Duo outage window closed: {} answers again (unreachable since {})",
                    self.host,
                    crate::api::timefmt::rfc3339(o.since)
                ),
            );
        }
        Ok(())
    }
}

/// Where the state of one configuration lives, for one account.
struct Place {
    base: String,
    /// `outage_state_dir` was set (its absence is then worth a warning).
    configured: bool,
    owner: Uid,
    name: String,
}

impl Place {
    fn new(cfg: &Config, owner: Uid) -> Place {
        Place {
            base: base_path(cfg).to_string(),
            configured: cfg.outage_state_dir.is_some(),
            owner,
            name: file_name(cfg),
        }
    }

    fn dir_path(&self) -> String {
        format!("{}/{}", self.base, sub_name(self.owner))
    }

    fn path(&self) -> String {
        format!("{}/{}", self.dir_path(), self.name)
    }

    /// The state file, checked on the way, if it and every directory to it exist (nothing is
    /// created).
    fn existing(&self) -> Result<Option<File>, StateError> {
        let base = match self.base(false) {
            Ok(b) => b,
            Err(DirError::Missing(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(dir) = self.sub(&base, false)? else {
            return Ok(None);
        };
        self.file(&dir, false)
    }

    /// The base directory, checked. With `create`, the default one is made by root if it is
    /// missing (a configured one must exist).
    fn base(&self, create: bool) -> Result<File, DirError> {
        let create = create && !self.configured && crate::sys::effective_uid().is_root();
        open_path(&self.base, self.owner, create)
    }

    /// `uid-<owner>` in `base`, checked: owned by `owner`, mode 0700. `None` if it does not
    /// exist (and `create` is off).
    fn sub(&self, base: &File, create: bool) -> Result<Option<File>, StateError> {
        let name = sub_name(self.owner);
        let shown = self.dir_path();
        let mut created = false;
        if create {
            match mkdir_at(base, &name, 0o700) {
                Ok(()) => created = true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StateError::io(&format!("cannot create {shown}"), e)),
            }
        }
        if created {
            // Exactly 0700 whatever the umask; nobody else can write to `base`.
            chmod_at(base, &name, 0o700).map_err(|e| StateError::io(&shown, e))?;
        }
        let d = match open_at(Some(base), &name, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::io(&shown, e)),
        };
        if created {
            root_group(&d).map_err(|e| StateError::io(&shown, e))?;
        }
        let m = d.metadata().map_err(|e| StateError::io(&shown, e))?;
        if !m.is_dir() || Uid(m.uid()) != self.owner || m.mode() & 0o7777 != 0o700 {
            return Err(StateError::Bad(format!(
                "{shown} must be a directory owned by uid {} with mode 0700",
                self.owner
            )));
        }
        Ok(Some(d))
    }

    /// The state file in `dir`, checked (see the module documentation). `None` if it does
    /// not exist (and `create` is off).
    fn file(&self, dir: &File, create: bool) -> Result<Option<File>, StateError> {
        let shown = self.path();
        let flags = libc::O_RDWR | libc::O_NONBLOCK;
        if create {
            match open_at(
                Some(dir),
                &self.name,
                flags | libc::O_CREAT | libc::O_EXCL,
                0o600,
            ) {
                Ok(f) => {
                    // Exactly 0600 whatever the umask.
                    f.set_permissions(std::fs::Permissions::from_mode(0o600))
                        .and_then(|()| root_group(&f))
                        .map_err(|e| StateError::io(&shown, e))?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StateError::io(&format!("cannot create {shown}"), e)),
            }
        }
        let f = match open_at(Some(dir), &self.name, flags, 0) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(StateError::Bad(format!(
                    "ignoring {shown}: it is a symbolic link"
                )))
            }
            Err(e) => {
                return Err(StateError::Bad(format!(
                    "ignoring {shown}: {}",
                    strerror(&e)
                )))
            }
        };
        let m = f.metadata().map_err(|e| StateError::io(&shown, e))?;
        let why = if !m.file_type().is_file() {
            Some("not a regular file".to_string())
        } else if Uid(m.uid()) != self.owner {
            Some(format!("owned by uid {}, not {}", m.uid(), self.owner))
        } else if m.mode() & 0o7777 != 0o600 {
            Some(format!("mode {:04o}, not 0600", m.mode() & 0o7777))
        } else if m.nlink() != 1 {
            Some(format!("{} links", m.nlink()))
        } else if m.len() > MAX_STATE {
            Some(format!("{} bytes", m.len()))
        } else {
            None
        };
        match why {
            Some(w) => Err(StateError::Bad(format!("ignoring {shown}: {w}"))),
            None => Ok(Some(f)),
        }
    }
}

/// Set the mode of the directory `name`, just created in `dir` by root, and its group to
/// root's (it was made with the caller's group, e.g. under `su` or a setuid `login_duo`).
fn owned_by_root(dir: &File, name: &str, mode: u32) -> io::Result<()> {
    chmod_at(dir, name, mode)?;
    let d = open_at(Some(dir), name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    std::os::unix::fs::fchown(&d, Some(0), Some(0))
}

/// Give `f`, just created by this process, root's group when running as root (it was made
/// with the caller's group, e.g. under `su`). Its mode gives the group nothing either way.
fn root_group(f: &File) -> io::Result<()> {
    if crate::sys::effective_uid().is_root() {
        std::os::unix::fs::fchown(f, None, Some(0))?;
    }
    Ok(())
}

fn base_path(cfg: &Config) -> &str {
    cfg.outage_state_dir.as_deref().unwrap_or(DEFAULT_DIR)
}

fn sub_name(uid: Uid) -> String {
    format!("uid-{uid}")
}

/// `window-<hex>`: a hash of everything that decides which service is reached and how.
fn file_name(cfg: &Config) -> String {
    let failmode = match cfg.failmode {
        FailMode::Safe => "safe",
        FailMode::Secure => "secure",
    };
    let mut h = Vec::new();
    for part in [
        HEADER,
        cfg.host.as_str(),
        cfg.ikey.as_str(),
        failmode,
        cfg.http_proxy.as_deref().map_or("", |s| s.as_str()),
        cfg.cafile.as_deref().map_or("", |s| s.as_str()),
        if cfg.noverify { "noverify" } else { "verify" },
    ] {
        h.extend_from_slice(part.as_bytes());
        h.push(0u8);
    }
    let digest = crate::crypto::sha256(&h);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("window-{hex}")
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An open window as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Open {
    since: i64,
    last: i64,
    probe: i64,
}

impl Open {
    /// When the window closes without a new failure.
    fn end(&self, window: i64) -> i64 {
        self.last.saturating_add(window)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    Closed,
    Open(Open),
}

fn render(s: &Stored) -> String {
    match s {
        Stored::Closed => format!("{HEADER}\nclosed\n"),
        Stored::Open(o) => format!(
            "{HEADER}\nsince {}\nlast {}\nprobe {}\n",
            o.since, o.last, o.probe
        ),
    }
}

/// Read the state text exactly; `None` for anything else, including times in the future
/// (after `now`) or out of order.
fn parse(text: &[u8], now: i64) -> Option<Stored> {
    let text = std::str::from_utf8(text).ok()?;
    let body = text.strip_prefix(HEADER)?.strip_prefix('\n')?;
    if body == "closed\n" {
        return Some(Stored::Closed);
    }
    let mut lines = body.split_terminator('\n');
    let mut field = |name: &str| -> Option<i64> {
        let v = lines.next()?.strip_prefix(name)?.strip_prefix(' ')?;
        if v.is_empty() || v.len() > 18 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    };
    let o = Open {
        since: field("since")?,
        last: field("last")?,
        probe: field("probe")?,
    };
    let ordered = 0 < o.since && o.since <= o.last && o.since <= o.probe;
    let past = o.last <= now && o.probe <= now;
    if lines.next().is_some() || !body.ends_with('\n') || !ordered || !past {
        return None;
    }
    Some(Stored::Open(o))
}

/// The file's text, if it fits in [`MAX_STATE`] bytes.
fn read(f: &File) -> Option<Vec<u8>> {
    let cap = MAX_STATE as usize;
    let mut buf = vec![0u8; cap + 1];
    let mut n = 0;
    while n <= cap {
        match f.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    (n <= cap).then(|| {
        buf.truncate(n);
        buf
    })
}

/// Replace the file's text (the caller holds the lock). A write cut short leaves text that
/// [`parse`] refuses, which counts as no state.
fn write(f: &File, s: &Stored) -> io::Result<()> {
    let text = render(s);
    f.write_all_at(text.as_bytes(), 0)?;
    f.set_len(text.len() as u64)
}

/// Take a `flock` (exclusive or shared), waiting at most [`LOCK_WAIT`]. Closing the file
/// releases it.
fn lock(f: &File, exclusive: bool) -> bool {
    let start = Instant::now();
    loop {
        match crate::sys::try_flock(f, exclusive) {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
        if start.elapsed() >= LOCK_WAIT {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Why the outage state could not be read or written; the login then goes on as if the
/// window were off (logged as a warning).
#[derive(Debug)]
pub enum StateError {
    /// A directory or the file is missing, or must not be used; the text says why.
    Bad(String),
    /// Another login held the lock for longer than [`LOCK_WAIT`] (the path).
    Locked(String),
    /// A system call on the named path failed.
    Io {
        /// The path, or what was being done to it.
        what: String,
        /// The error.
        err: io::Error,
    },
}

impl StateError {
    fn io(what: &str, err: io::Error) -> StateError {
        StateError::Io {
            what: what.to_string(),
            err,
        }
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Bad(why) => f.write_str(why),
            StateError::Locked(path) => write!(f, "{path} is locked"),
            StateError::Io { what, err } => write!(f, "{what}: {}", strerror(err)),
        }
    }
}

impl std::error::Error for StateError {}

impl From<DirError> for StateError {
    fn from(e: DirError) -> StateError {
        StateError::Bad(e.text())
    }
}

/// Why a directory on the way to the state cannot be used.
#[derive(Debug)]
enum DirError {
    /// The named directory does not exist.
    Missing(String),
    /// It exists and must not be used (or could not be opened); the text says why.
    Bad(String),
}

impl DirError {
    fn text(self) -> String {
        match self {
            DirError::Missing(p) => format!("{p} does not exist"),
            DirError::Bad(t) => t,
        }
    }
}

/// Open the absolute directory `path` one component at a time, never following a link, and
/// check each on its descriptor: a directory owned by root or `owner`; not writable by group
/// or others, except a sticky directory on the way. With `create`, a missing last component
/// is made (mode 0755).
fn open_path(path: &str, owner: Uid, create: bool) -> Result<File, DirError> {
    let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY;
    let names: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut cur = open_at(None, "/", dir_flags, 0).map_err(|e| DirError::Bad(strerror(&e)))?;
    check_dir(&cur, "/", owner, names.is_empty())?;
    let mut shown = String::new();
    for (i, name) in names.iter().enumerate() {
        shown.push('/');
        shown.push_str(name);
        let last = i + 1 == names.len();
        if last && create {
            match mkdir_at(&cur, name, 0o755) {
                Ok(()) => owned_by_root(&cur, name, 0o755)
                    .map_err(|e| DirError::Bad(format!("{shown}: {}", strerror(&e))))?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(DirError::Bad(format!(
                        "cannot create {shown}: {}",
                        strerror(&e)
                    )))
                }
            }
        }
        let next = match open_at(Some(&cur), name, dir_flags, 0) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DirError::Missing(shown)),
            // With O_DIRECTORY a link gives ENOTDIR rather than ELOOP.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                return Err(DirError::Bad(format!(
                    "{shown} is a symbolic link or not a directory"
                )))
            }
            Err(e) => return Err(DirError::Bad(format!("{shown}: {}", strerror(&e)))),
        };
        check_dir(&next, &shown, owner, last)?;
        cur = next;
    }
    Ok(cur)
}

fn check_dir(d: &File, shown: &str, owner: Uid, last: bool) -> Result<(), DirError> {
    let m = d
        .metadata()
        .map_err(|e| DirError::Bad(format!("{shown}: {}", strerror(&e))))?;
    if !m.is_dir() {
        return Err(DirError::Bad(format!("{shown} is not a directory")));
    }
    if m.uid() != 0 && Uid(m.uid()) != owner {
        return Err(DirError::Bad(format!(
            "{shown} is owned by uid {}, not root or {owner}",
            m.uid()
        )));
    }
    let sticky = m.mode() & 0o1000 != 0;
    if m.mode() & 0o022 != 0 && (last || !sticky) {
        return Err(DirError::Bad(format!(
            "{shown} is writable by group or others"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
