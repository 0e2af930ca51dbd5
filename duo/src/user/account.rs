//! Local accounts: passwd entries and group membership, through the C library (NSS).

use crate::sys::{self, Gid, Uid};

/// A passwd entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: Uid,
    /// Primary group id.
    pub gid: Gid,
    /// GECOS field (`None` when the C library gives none).
    pub gecos: Option<String>,
    /// Home directory.
    pub dir: String,
    /// Login shell (`None` when the C library gives none).
    pub shell: Option<String>,
}

impl From<sys::Passwd> for Account {
    fn from(p: sys::Passwd) -> Account {
        Account {
            name: p.name,
            uid: p.uid,
            gid: p.gid,
            gecos: p.gecos,
            dir: p.dir.unwrap_or_default(),
            shell: p.shell,
        }
    }
}

/// Look an account up by name.
pub fn by_name(name: &str) -> Option<Account> {
    sys::getpwnam(name).map(Account::from)
}

/// Look an account up by uid.
pub fn by_uid(uid: Uid) -> Option<Account> {
    sys::getpwuid(uid).map(Account::from)
}

/// Resolve every gid to a name; any gid without one, or no gids at all, is an error.
fn names_of(gids: &[Gid], resolve: &dyn Fn(Gid) -> Option<String>) -> std::io::Result<Vec<String>> {
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
    let gids = sys::group_list(&account.name, account.gid)?;
    names_of(&gids, &sys::group_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists() {
        let r = by_name("root").expect("root");
        assert_eq!((r.uid, r.gid), (Uid(0), Gid(0)));
        assert_eq!(by_uid(Uid::ROOT).expect("uid 0").name, "root");
        assert!(by_name("no-such-user-duo-test").is_none());
        assert!(group_names(&r)
            .expect("groups")
            .contains(&"root".to_string()));
    }

    #[test]
    fn unresolvable_gid_fails_closed() {
        let resolve = |g: Gid| (g != Gid(4242)).then(|| format!("g{g}"));
        assert_eq!(names_of(&[Gid(1), Gid(2)], &resolve).unwrap(), ["g1", "g2"]);
        assert!(names_of(&[Gid(1), Gid(4242)], &resolve).is_err());
        assert!(names_of(&[], &resolve).is_err());
    }
}
