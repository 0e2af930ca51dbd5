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

/// Look an account up by name.
pub fn by_name(name: &str) -> Option<Account> {
    let _ = name;
    todo!("account::by_name")
}

/// Look an account up by uid.
pub fn by_uid(uid: u32) -> Option<Account> {
    let _ = uid;
    todo!("account::by_uid")
}

/// Names of all groups of `account` (primary and supplementary). Any failure — too many
/// groups, a gid without a name, no groups at all — is an error (fail closed, §3.4).
pub fn group_names(account: &Account) -> std::io::Result<Vec<String>> {
    let _ = account;
    todo!("account::group_names")
}
