//! Every C library call of the core, each behind a safe function: accounts and groups, user
//! ids, name lookup with the resolver's own error code, a TCP connect that can be waited on in
//! slices, address literals, the host name, and syslog.
//!
//! This is the only module of the crate allowed to contain `unsafe` code (see the crate's
//! lint settings); every `unsafe` block says why it is sound. Nothing here keeps a descriptor
//! open after an error, and every descriptor is opened close-on-exec.

use std::ffi::{CStr, CString};
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Why a name lookup failed, split by where the failure came from (docs/BEHAVIOUR.md §0a D11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The resolver answered that the name does not exist or could not be resolved now: the
    /// text is the resolver's (`gai_strerror`).
    Network(String),
    /// The lookup could not be carried out on this machine (memory, descriptors, a system
    /// error): the text says why.
    Local(String),
}

/// Look `host` up for TCP on `port` with `getaddrinfo`, keeping the resolver's error code so
/// that local failures (`EAI_MEMORY`, `EAI_SYSTEM` for a descriptor or memory limit) are not
/// mistaken for an answer from the network.
pub fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, LookupError> {
    let name = CString::new(host).map_err(|_| LookupError::Local("invalid host name".into()))?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value; the fields set below are
    // plain integers.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_ADDRCONFIG;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `name` is a valid NUL-terminated string, `hints` a valid addrinfo, and `list` a
    // valid place for the result pointer; all live across the call.
    let rc = unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        let errno = io::Error::last_os_error();
        return Err(classify_gai(rc, errno));
    }
    let mut out = Vec::new();
    let mut p = list;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*p };
        if let Some(a) = sockaddr(ai) {
            let mut a = a;
            a.set_port(port);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        p = ai.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed exactly once; no
    // reference into it survives (the addresses were copied out above).
    unsafe { libc::freeaddrinfo(list) };
    if out.is_empty() {
        return Err(LookupError::Network(
            "No address associated with hostname".into(),
        ));
    }
    Ok(out)
}

/// Copy the address out of one addrinfo node.
fn sockaddr(ai: &libc::addrinfo) -> Option<SocketAddr> {
    if ai.ai_addr.is_null() {
        return None;
    }
    let len = ai.ai_addrlen as usize;
    match ai.ai_family {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says this is a sockaddr_in and the length covers it;
            // read_unaligned copes with any alignment.
            let sin = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in>()) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, 0)))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in6>()) };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                0,
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Sort a getaddrinfo failure into network and local (docs/BEHAVIOUR.md §0a D11). When in
/// doubt it is local: a local failure denies, while a network one may allow under
/// `failmode = safe`.
fn classify_gai(rc: libc::c_int, errno: io::Error) -> LookupError {
    match rc {
        libc::EAI_NONAME | libc::EAI_AGAIN | libc::EAI_FAIL | libc::EAI_NODATA => {
            LookupError::Network(gai_text(rc))
        }
        libc::EAI_SYSTEM => match errno.raw_os_error() {
            Some(libc::ECONNREFUSED | libc::ETIMEDOUT | libc::EHOSTUNREACH | libc::ENETUNREACH) => {
                LookupError::Network(strerror(&errno))
            }
            _ => LookupError::Local(format!("name lookup failed: {}", strerror(&errno))),
        },
        _ => LookupError::Local(format!("name lookup failed: {}", gai_text(rc))),
    }
}

fn gai_text(rc: libc::c_int) -> String {
    // SAFETY: gai_strerror returns a pointer to a static, NUL-terminated string for any code.
    let p = unsafe { libc::gai_strerror(rc) };
    if p.is_null() {
        return format!("resolver error {rc}");
    }
    // SAFETY: non-null pointer to a static NUL-terminated string (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A TCP connect in progress, waited on in slices with [`Connecting::wait`].
#[derive(Debug)]
pub struct Connecting {
    fd: OwnedFd,
}

/// Whether an I/O error is a local resource problem (descriptors, memory, buffers, local
/// ports) rather than something the network did.
pub fn is_local_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE
                | libc::ENFILE
                | libc::ENOMEM
                | libc::ENOBUFS
                | libc::EADDRNOTAVAIL
                | libc::EAFNOSUPPORT
                | libc::EPROTONOSUPPORT
                | libc::EACCES
                | libc::EPERM
        )
    )
}

impl Connecting {
    /// Open a non-blocking, close-on-exec TCP socket and start connecting to `addr`. An error
    /// from `socket` is local; an error from `connect` other than "in progress" is returned
    /// as it is (see [`is_local_error`]).
    pub fn start(addr: &SocketAddr) -> io::Result<Connecting> {
        let family = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        // SAFETY: plain system call with integer arguments.
        let raw = unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just opened and own; OwnedFd closes it once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let (storage, len) = to_sockaddr(addr);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes for the socket's family and
        // lives across the call.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&raw const storage).cast::<libc::sockaddr>(),
                len,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
        }
        Ok(Connecting { fd })
    }

    /// Wait up to `slice` for the connect to finish. `Ok(None)`: still in progress.
    /// `Ok(Some(stream))`: connected, as a blocking stream. `Err`: the connect failed.
    pub fn wait(self, slice: Duration) -> io::Result<Result<TcpStream, Connecting>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = libc::c_int::try_from(slice.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, count 1, for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(Err(self));
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(Err(self));
        }
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid, writable and sized for SO_ERROR's int.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut err).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        let stream = TcpStream::from(self.fd);
        stream.set_nonblocking(false)?;
        Ok(Ok(stream))
    }
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned for it.
            unsafe { std::ptr::write((&raw mut storage).cast::<libc::sockaddr_in>(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned for it.
            unsafe { std::ptr::write((&raw mut storage).cast::<libc::sockaddr_in6>(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The C library's text for an I/O error, without Rust's " (os error N)" suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A user id. A type of its own, so that a user id and a group id cannot be swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(pub u32);

/// A group id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gid(pub u32);

impl Uid {
    /// The superuser.
    pub const ROOT: Uid = Uid(0);

    /// Whether this is the superuser.
    pub fn is_root(self) -> bool {
        self == Uid::ROOT
    }
}

impl std::fmt::Display for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for Gid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Effective user id of this process.
pub fn effective_uid() -> Uid {
    // SAFETY: geteuid cannot fail and touches no memory.
    Uid(unsafe { libc::geteuid() })
}

/// Real user id of this process.
pub fn real_uid() -> Uid {
    // SAFETY: getuid cannot fail and touches no memory.
    Uid(unsafe { libc::getuid() })
}

/// Real group id of this process.
pub fn real_gid() -> Gid {
    // SAFETY: getgid cannot fail and touches no memory.
    Gid(unsafe { libc::getgid() })
}

/// A passwd entry as the C library gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passwd {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: Uid,
    /// Primary group id.
    pub gid: Gid,
    /// GECOS field, `None` when NULL.
    pub gecos: Option<String>,
    /// Home directory, `None` when NULL.
    pub dir: Option<String>,
    /// Login shell, `None` when NULL.
    pub shell: Option<String>,
}

/// Copy a C string field, `None` for NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
unsafe fn field(p: *const libc::c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated per the caller's contract.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

/// Which passwd entry to look up.
enum PwKey<'a> {
    Name(&'a CStr),
    Uid(Uid),
}

/// Call `getpwnam_r`/`getpwuid_r` with a growing buffer. `None` when there is no such entry
/// or the lookup fails.
fn getpw(key: PwKey<'_>) -> Option<Passwd> {
    let mut size = 1024;
    while size <= 1 << 20 {
        let mut buf = vec![0u8; size];
        // SAFETY: passwd is plain data; zeroed is a valid value to be filled in.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = match key {
            // SAFETY: all pointers are valid for the call; the buffer length is its real size.
            PwKey::Name(n) => unsafe {
                libc::getpwnam_r(
                    n.as_ptr(),
                    &mut pw,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                )
            },
            // SAFETY: as above.
            PwKey::Uid(u) => unsafe {
                libc::getpwuid_r(
                    u.0,
                    &mut pw,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                )
            },
        };
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: on success every string field is NULL or points into `buf`, alive here.
        unsafe {
            return Some(Passwd {
                name: field(pw.pw_name)?,
                uid: Uid(pw.pw_uid),
                gid: Gid(pw.pw_gid),
                gecos: field(pw.pw_gecos),
                dir: field(pw.pw_dir),
                shell: field(pw.pw_shell),
            });
        }
    }
    None
}

/// The passwd entry of `name`.
pub fn getpwnam(name: &str) -> Option<Passwd> {
    let c = CString::new(name).ok()?;
    getpw(PwKey::Name(&c))
}

/// The passwd entry of `uid`.
pub fn getpwuid(uid: Uid) -> Option<Passwd> {
    getpw(PwKey::Uid(uid))
}

/// Name of a group id, `None` when it has none (or the lookup fails).
pub fn group_name(gid: Gid) -> Option<String> {
    let mut size = 1024;
    while size <= 1 << 22 {
        let mut buf = vec![0u8; size];
        // SAFETY: group is plain data; zeroed is a valid value to be filled in.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers are valid; the buffer length is its real size.
        let rc = unsafe {
            libc::getgrgid_r(gid.0, &mut gr, buf.as_mut_ptr().cast(), buf.len(), &mut res)
        };
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || res.is_null() {
            return None;
        }
        // SAFETY: gr_name is NULL or points into `buf` on success.
        return unsafe { field(gr.gr_name) };
    }
    None
}

/// All group ids of the user `name` whose primary group is `primary` (`getgrouplist`).
pub fn group_list(name: &str, primary: Gid) -> io::Result<Vec<Gid>> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut n: libc::c_int = 64;
    loop {
        let mut gids: Vec<libc::gid_t> = vec![0; usize::try_from(n).unwrap_or(0)];
        let before = n;
        // SAFETY: `gids` has room for `n` entries and `n` is a valid in/out count.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), primary.0, gids.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            gids.truncate(usize::try_from(n).unwrap_or(0));
            return Ok(gids.into_iter().map(Gid).collect());
        }
        if n <= before || n > 65_536 {
            return Err(io::Error::from_raw_os_error(libc::ERANGE));
        }
    }
}

// The libc crate does not bind these two; glibc exports both.
extern "C" {
    fn inet_aton(cp: *const libc::c_char, inp: *mut libc::in_addr) -> libc::c_int;
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
}

/// Whether `s` is an IP literal: IPv4 as `inet_aton` accepts it (lenient: `127.1`, `0x7f.1`)
/// or IPv6 as `inet_pton` accepts it.
pub fn is_ip_literal(s: &str) -> bool {
    let Ok(c) = CString::new(s) else {
        return false;
    };
    // SAFETY: in_addr/in6_addr are plain data; the string is NUL-terminated and both output
    // buffers are valid for writing.
    unsafe {
        let mut v4: libc::in_addr = std::mem::zeroed();
        if inet_aton(c.as_ptr(), &mut v4) != 0 {
            return true;
        }
        let mut v6: libc::in6_addr = std::mem::zeroed();
        inet_pton(libc::AF_INET6, c.as_ptr(), (&raw mut v6).cast()) == 1
    }
}

/// This host's name from `gethostname`.
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; one byte is kept for the NUL.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } != 0 {
        return None;
    }
    CStr::from_bytes_until_nul(&buf)
        .ok()
        .map(|c| c.to_string_lossy().into_owned())
}

/// The canonical name of `host` (`getaddrinfo` with `AI_CANONNAME`), if any.
pub fn canonical_name(host: &str) -> Option<String> {
    let c = CString::new(host).ok()?;
    // SAFETY: hints is plain data; getaddrinfo receives valid pointers and its result list is
    // read before being freed exactly once.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_family = libc::AF_UNSPEC;
        hints.ai_socktype = libc::SOCK_STREAM;
        hints.ai_flags = libc::AI_CANONNAME;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c.as_ptr(), std::ptr::null(), &hints, &mut res) != 0 || res.is_null() {
            return None;
        }
        let name = (*res).ai_canonname;
        let out = (!name.is_null())
            .then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
            .filter(|n| !n.is_empty());
        libc::freeaddrinfo(res);
        out
    }
}

/// Write one message to syslog with `priority` (facility included).
pub fn syslog(priority: libc::c_int, msg: &CStr) {
    // SAFETY: the format is a constant "%s" and the single argument is a valid NUL-terminated
    // string that lives across the call. syslog(3) is thread-safe.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), msg.as_ptr()) };
}

/// `openlog(ident, LOG_PID, LOG_AUTHPRIV)`. For programs only, never for the PAM module.
pub fn openlog(ident: &'static CStr) {
    // SAFETY: `ident` is a 'static NUL-terminated string, so the pointer syslog keeps stays
    // valid for the life of the process; the flags are constants.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV) };
}

/// Check that this process can still open a few descriptors and reserve some memory before
/// it talks to the network. The C library's resolver turns some local shortages into
/// "name not found"; a shortage found here is reported as the local failure it is.
pub fn headroom() -> Result<(), String> {
    const FDS: usize = 8;
    const MEMORY: usize = 16 << 20;
    let mut held = Vec::with_capacity(FDS);
    for _ in 0..FDS {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) => return Err(format!("cannot open file descriptors: {}", strerror(&e))),
        }
    }
    drop(held);
    let mut probe: Vec<u8> = Vec::new();
    if probe.try_reserve_exact(MEMORY).is_err() {
        return Err("cannot allocate memory".into());
    }
    drop(probe);
    Ok(())
}

/// A C string for a file name; a NUL inside is an invalid argument.
fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// `openat(2)`: open `name` relative to the directory `dir`, or as an absolute path when `dir`
/// is `None`, adding `O_CLOEXEC`, `O_NOFOLLOW` and `O_NOCTTY` to `flags`. A symbolic link as
/// the last component is an error (`ELOOP`, or `ENOTDIR` together with `O_DIRECTORY`).
pub fn open_at(
    dir: Option<&std::fs::File>,
    name: &str,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<std::fs::File> {
    let c = c_name(name)?;
    let at = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let flags = flags | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY;
    // SAFETY: `c` is a valid NUL-terminated string and `at` a descriptor owned by `dir` (or
    // AT_FDCWD), both alive across the call; the mode is a plain integer.
    let fd = unsafe { libc::openat(at, c.as_ptr(), flags, mode as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by openat and is owned by nobody else.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// `mkdirat(2)`: create the directory `name` in `dir` (the umask applies).
pub fn mkdir_at(dir: &std::fs::File, name: &str, mode: u32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string and `dir` an open descriptor, both alive
    // across the call.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `fchmodat(2)`: set the mode of `name` in `dir`. It follows a link, so use it only on an
/// entry just created in a directory that nobody else can write to.
pub fn chmod_at(dir: &std::fs::File, name: &str, mode: u32) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: as for mkdir_at.
    if unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Try to take a `flock(2)` on `f` without waiting: `Ok(true)` when taken, `Ok(false)` when
/// another open file holds a conflicting lock. Closing `f` releases it.
pub fn try_flock(f: &std::fs::File, exclusive: bool) -> io::Result<bool> {
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock on a descriptor owned by `f`, which outlives the call.
    if unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(e)
}

/// Release this open file's `flock(2)`, if it holds one.
pub fn unflock(f: &std::fs::File) -> io::Result<()> {
    // SAFETY: flock on a descriptor owned by `f`, which outlives the call.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) } == 0 {
        return Ok(());
    }
    Err(io::Error::last_os_error())
}

/// Try to take a write lock on the first byte of `f` as an open-file-description lock
/// (`F_OFD_SETLK`), without waiting: `Ok(true)` when taken, `Ok(false)` when another open file
/// holds it. Such a lock is independent of `flock(2)` locks on the same file, belongs to this
/// open file (not to the process), and is released when `f` is closed, including when the
/// process dies.
pub fn try_ofd_lock(f: &std::fs::File) -> io::Result<bool> {
    // SAFETY: an all-zero `flock` struct is a valid value of this plain C struct.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = libc::F_WRLCK as libc::c_short;
    l.l_whence = libc::SEEK_SET as libc::c_short;
    l.l_start = 0;
    l.l_len = 1;
    // SAFETY: fcntl on a descriptor owned by `f`, which outlives the call; `l` is a valid,
    // initialised struct that lives across the call, and OFD locks require `l_pid == 0`.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_SETLK, &l) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) {
        return Ok(false);
    }
    Err(e)
}

/// The IP addresses of this host's network interfaces (`getifaddrs`), in this network
/// namespace.
pub fn interface_addresses() -> io::Result<Vec<std::net::IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head`; it is freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: `ifa_addr` points to a sockaddr whose family field may be read.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: the family says this is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                    u32::from_be(sin.sin_addr.s_addr),
                )));
            } else if family == libc::AF_INET6 {
                // SAFETY: the family says this is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(std::net::IpAddr::V6(std::net::Ipv6Addr::from(
                    sin6.sin6_addr.s6_addr,
                )));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once; no node is used after this.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// What a [`Worker`]'s thread leaves for the thread that waits on it.
struct Shared<T> {
    result: std::sync::Mutex<Option<T>>,
    /// The write end of the pipe the waiter polls; closed by the thread when it is done.
    done: std::sync::Mutex<Option<OwnedFd>>,
}

/// One piece of work on a thread of its own, started with `pthread_create` and waited on with
/// `poll` on a pipe, so that the host's thread (the one that called into the PAM module) never
/// runs Rust's thread-spawning or channel code, whose thread-local state would register a
/// destructor in the host's thread and keep the module mapped after `dlclose`. The thread's
/// stack size is set explicitly, so nothing in the environment chooses it. A panic in the work
/// is caught on the thread and reads as "no result".
pub struct Worker<T> {
    thread: Option<libc::pthread_t>,
    ready: OwnedFd,
    shared: std::sync::Arc<Shared<T>>,
}

/// What a started thread runs: the work and where its result goes.
struct Job<T> {
    work: Box<dyn FnOnce() -> T + Send>,
    shared: std::sync::Arc<Shared<T>>,
}

extern "C" fn run_job<T: Send + 'static>(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the `Box<Job<T>>` leaked by `Worker::start` for this thread alone; it
    // is taken back exactly once, here.
    let job = unsafe { Box::from_raw(arg.cast::<Job<T>>()) };
    let Job { work, shared } = *job;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok();
    if let Ok(mut slot) = shared.result.lock() {
        *slot = r;
    }
    // Closing the write end wakes the waiter (poll sees the hang-up).
    if let Ok(mut w) = shared.done.lock() {
        w.take();
    }
    std::ptr::null_mut()
}

impl<T: Send + 'static> Worker<T> {
    /// Start `work` on a new thread with a stack of `stack` bytes.
    pub fn start(stack: usize, work: impl FnOnce() -> T + Send + 'static) -> io::Result<Worker<T>> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two descriptors for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nothing else.
        let (ready, done) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let shared = std::sync::Arc::new(Shared {
            result: std::sync::Mutex::new(None),
            done: std::sync::Mutex::new(Some(done)),
        });
        let job = Box::new(Job::<T> {
            work: Box::new(work),
            shared: shared.clone(),
        });
        let arg = Box::into_raw(job).cast::<libc::c_void>();
        // SAFETY: an all-zero pthread_attr_t is only a placeholder that pthread_attr_init
        // initialises before any other use.
        let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
        let mut thread: libc::pthread_t = 0;
        // SAFETY: `attr` is initialised, given a stack size and destroyed once; `thread` and
        // `attr` are valid for the calls; `run_job::<T>` takes ownership of `arg`, which
        // is taken back below when the thread could not be created.
        let rc = unsafe {
            libc::pthread_attr_init(&mut attr);
            libc::pthread_attr_setstacksize(&mut attr, stack.max(libc::PTHREAD_STACK_MIN));
            let rc = libc::pthread_create(&mut thread, &attr, run_job::<T>, arg);
            libc::pthread_attr_destroy(&mut attr);
            rc
        };
        if rc != 0 {
            // SAFETY: the thread was not created, so `arg` is still ours alone.
            drop(unsafe { Box::from_raw(arg.cast::<Job<T>>()) });
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Worker {
            thread: Some(thread),
            ready,
            shared,
        })
    }

    /// Wait at most `slice` for the work to end; its result once it has (`None` if it
    /// panicked), else `Err(self)` to wait again.
    pub fn wait(mut self, slice: Duration) -> Result<Option<T>, Worker<T>> {
        let ms = libc::c_int::try_from(slice.as_millis())
            .unwrap_or(libc::c_int::MAX)
            .max(1);
        if !self.finished_within(ms) {
            return Err(self);
        }
        self.join();
        Ok(self.shared.result.lock().ok().and_then(|mut r| r.take()))
    }

    fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            // SAFETY: `t` is a joinable thread of ours that has closed its end of the pipe,
            // which is the last thing it does; it is joined once.
            unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
        }
    }
}

impl<T> Worker<T> {
    /// Whether the thread has closed its end of the pipe (it is done) within `ms`
    /// milliseconds; 0 only looks. An interrupted or failed poll counts as not yet.
    fn finished_within(&self, ms: libc::c_int) -> bool {
        let mut p = libc::pollfd {
            fd: self.ready.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut p, 1, ms) > 0 }
    }
}

impl<T> Drop for Worker<T> {
    /// A thread still working (its lookup waiting on the resolver) is left to finish on its
    /// own, detached; one that has finished is joined.
    fn drop(&mut self) {
        let Some(t) = self.thread.take() else {
            return;
        };
        let finished = self.finished_within(0);
        // SAFETY: `t` is a joinable thread of ours, joined or detached exactly once.
        unsafe {
            if finished {
                libc::pthread_join(t, std::ptr::null_mut());
            } else {
                libc::pthread_detach(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_of_localhost_and_of_a_name_that_cannot_exist() {
        let a = lookup("localhost", 4443).unwrap();
        assert!(a.iter().all(|a| a.port() == 4443 && a.ip().is_loopback()));
        match lookup("no-such-host.invalid", 443) {
            Err(LookupError::Network(_)) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(lookup("a\0b", 1), Err(LookupError::Local(_))));
    }

    #[test]
    fn resolver_codes_are_sorted_into_network_and_local() {
        let none = io::Error::from_raw_os_error(0);
        assert!(matches!(
            classify_gai(libc::EAI_NONAME, io::Error::from_raw_os_error(0)),
            LookupError::Network(_)
        ));
        assert!(matches!(
            classify_gai(libc::EAI_MEMORY, none),
            LookupError::Local(_)
        ));
        assert!(matches!(
            classify_gai(libc::EAI_SYSTEM, io::Error::from_raw_os_error(libc::EMFILE)),
            LookupError::Local(_)
        ));
        assert!(matches!(
            classify_gai(
                libc::EAI_SYSTEM,
                io::Error::from_raw_os_error(libc::ETIMEDOUT)
            ),
            LookupError::Network(_)
        ));
    }

    #[test]
    fn connect_in_slices_to_a_listener_and_to_a_closed_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = Connecting::start(&addr).unwrap();
        let s = loop {
            match c.wait(Duration::from_millis(100)).unwrap() {
                Ok(s) => break s,
                Err(again) => c = again,
            }
        };
        assert_eq!(s.peer_addr().unwrap(), addr);
        drop(l);
        let refused = Connecting::start(&addr).and_then(|c| c.wait(Duration::from_secs(2)));
        match refused {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            Ok(_) => panic!("connected to a closed port"),
        }
    }

    #[test]
    fn local_errors_are_recognised() {
        assert!(is_local_error(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(!is_local_error(&io::Error::from_raw_os_error(
            libc::ECONNREFUSED
        )));
        assert!(headroom().is_ok());
    }

    #[test]
    fn accounts_and_groups() {
        let root = getpwnam("root").unwrap();
        assert_eq!((root.uid, root.gid), (Uid::ROOT, Gid(0)));
        assert_eq!(getpwuid(Uid::ROOT).unwrap().name, "root");
        assert!(getpwnam("no-such-user-duo-test").is_none());
        assert!(getpwnam("a\0b").is_none());
        assert_eq!(group_name(Gid(0)).as_deref(), Some("root"));
        assert!(group_list("root", Gid(0)).unwrap().contains(&Gid(0)));
        assert!(is_ip_literal("127.1") && is_ip_literal("::1") && !is_ip_literal("x.y"));
        assert!(hostname().is_some_and(|h| !h.is_empty()));
    }

    #[test]
    fn loopback_is_an_interface_address() {
        let a = interface_addresses().unwrap();
        assert!(a.contains(&std::net::IpAddr::from([127, 0, 0, 1])), "{a:?}");
    }

    #[test]
    fn an_ofd_lock_is_held_per_open_file_until_it_is_closed() {
        let p = std::env::temp_dir().join(format!("duo-ofd-{}", std::process::id()));
        std::fs::write(&p, b"x").unwrap();
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&p)
                .unwrap()
        };
        let first = open();
        let second = open();
        assert!(try_ofd_lock(&first).unwrap());
        assert!(!try_ofd_lock(&second).unwrap());
        // A flock on the same file is a different kind of lock and is not blocked.
        assert!(try_flock(&second, true).unwrap());
        drop(first);
        assert!(try_ofd_lock(&second).unwrap());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn a_worker_gives_its_result_and_leaves_no_thread() {
        let mut w = Worker::start(256 << 10, || 6 * 7).unwrap();
        let got = loop {
            match w.wait(Duration::from_millis(50)) {
                Ok(r) => break r,
                Err(again) => w = again,
            }
        };
        assert_eq!(got, Some(42));
        // A panic on the thread is no result, not a crash.
        let mut w = Worker::start(256 << 10, || -> u32 { panic!("inside the worker") }).unwrap();
        let got = loop {
            match w.wait(Duration::from_millis(50)) {
                Ok(r) => break r,
                Err(again) => w = again,
            }
        };
        assert_eq!(got, None);
        // One still working when dropped is detached and ends on its own.
        let w =
            Worker::start(256 << 10, || std::thread::sleep(Duration::from_millis(200))).unwrap();
        assert!(w.wait(Duration::from_millis(1)).is_err());
    }
}
