//! The GECOS-derived Duo username (SPEC §3.6).

use crate::account::Account;
use crate::config::Config;

/// The Duo username for `account`: the OS name, or a GECOS-derived one when `send_gecos` or
/// `gecos_username_pos` is set. Logs the lines of §3.6.
pub fn duo_username(cfg: &Config, account: &Account) -> String {
    let _ = (cfg, account);
    todo!("gecos::duo_username")
}
