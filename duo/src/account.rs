//! Local accounts: passwd entries and group membership, through the C library (NSS).

/// A passwd entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS field (`None` when the C library gives none).
    pub gecos: Option<String>,
    /// Home directory.
    pub dir: String,
    /// Login shell (`None` when the C library gives none).
    pub shell: Option<String>,
}

use std::ffi::{CStr, CString};

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

/// Call a `getpw*_r` function with a growing buffer.
fn lookup(
    call: &dyn Fn(*mut libc::passwd, &mut [u8], *mut *mut libc::passwd) -> libc::c_int,
) -> Option<Account> {
    let mut size = 1024;
    while size <= 1 << 20 {
        let mut buf = vec![0u8; size];
        // SAFETY: passwd is plain data; zeroed is a valid value to be filled in.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pw, &mut buf, &mut result);
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: on success every string field points into `buf`, which is alive here.
        unsafe {
            return Some(Account {
                name: field(pw.pw_name)?,
                uid: pw.pw_uid,
                gid: pw.pw_gid,
                gecos: field(pw.pw_gecos),
                dir: field(pw.pw_dir).unwrap_or_default(),
                shell: field(pw.pw_shell),
            });
        }
    }
    None
}

/// Look an account up by name.
pub fn by_name(name: &str) -> Option<Account> {
    let c = CString::new(name).ok()?;
    lookup(&|pw, buf, res| {
        // SAFETY: all pointers are valid for the call; the buffer length is its real size.
        unsafe { libc::getpwnam_r(c.as_ptr(), pw, buf.as_mut_ptr().cast(), buf.len(), res) }
    })
}

/// Look an account up by uid.
pub fn by_uid(uid: u32) -> Option<Account> {
    lookup(&|pw, buf, res| {
        // SAFETY: all pointers are valid for the call; the buffer length is its real size.
        unsafe { libc::getpwuid_r(uid, pw, buf.as_mut_ptr().cast(), buf.len(), res) }
    })
}

/// Name of a group id, `None` when it has none (or the lookup fails).
fn group_name(gid: u32) -> Option<String> {
    let mut size = 1024;
    while size <= 1 << 22 {
        let mut buf = vec![0u8; size];
        // SAFETY: group is plain data; zeroed is a valid value to be filled in.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers are valid; the buffer length is its real size.
        let rc =
            unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr().cast(), buf.len(), &mut res) };
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || res.is_null() {
            return None;
        }
        // SAFETY: gr_name points into `buf` on success.
        return unsafe { field(gr.gr_name) };
    }
    None
}

/// Resolve every gid to a name; any gid without one, or no gids at all, is an error.
fn names_of(gids: &[u32], resolve: &dyn Fn(u32) -> Option<String>) -> std::io::Result<Vec<String>> {
    if gids.is_empty() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    gids.iter()
        .map(|&g| resolve(g).ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT)))
        .collect()
}

/// Names of all groups of `account` (primary and supplementary). Any failure — too many
/// groups, a gid without a name, no groups at all — is an error (fail closed, §3.4).
pub fn group_names(account: &Account) -> std::io::Result<Vec<String>> {
    let name = CString::new(account.name.as_str())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut n: libc::c_int = 64;
    loop {
        let mut gids: Vec<libc::gid_t> = vec![0; n as usize];
        let before = n;
        // SAFETY: `gids` has room for `n` entries and `n` is a valid in/out count.
        let rc =
            unsafe { libc::getgrouplist(name.as_ptr(), account.gid, gids.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            gids.truncate(n.max(0) as usize);
            return names_of(&gids, &group_name);
        }
        if n <= before || n > 65_536 {
            return Err(std::io::Error::from_raw_os_error(libc::ERANGE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists() {
        let r = by_name("root").expect("root");
        assert_eq!((r.uid, r.gid), (0, 0));
        assert_eq!(by_uid(0).expect("uid 0").name, "root");
        assert!(by_name("no-such-user-duo-test").is_none());
        assert!(group_names(&r)
            .expect("groups")
            .contains(&"root".to_string()));
    }

    #[test]
    fn unresolvable_gid_fails_closed() {
        let resolve = |g: u32| (g != 4242).then(|| format!("g{g}"));
        assert_eq!(names_of(&[1, 2], &resolve).unwrap(), ["g1", "g2"]);
        assert!(names_of(&[1, 4242], &resolve).is_err());
        assert!(names_of(&[], &resolve).is_err());
    }
}
