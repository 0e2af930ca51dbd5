//! One push per sshd login (docs/BEHAVIOUR.md §0a D17): sshd runs the same PAM stack on the
//! same handle once per authentication method (`AuthenticationMethods
//! password,keyboard-interactive`). A Duo approval obtained for a user in an earlier run is
//! kept on the handle (`pam_set_data`) and used by the later run instead of a second push.
//!
//! Only for service `sshd`: a handle there is one connection's login. Applications that keep a
//! handle across several logins (a screen locker re-authenticating on the same handle) must
//! be asked every time, so nothing is kept for them.

use std::time::{Duration, Instant};

use pam::module::PamHandle;

/// The data key; the version makes sure a value read back was stored by this very build.
const KEY: &str = concat!("duo_unix_rs/sshd_approval/", env!("CARGO_PKG_VERSION"));

/// How long an approval is good for a later method of the same login. sshd's own
/// `LoginGraceTime` is 120 s by default.
pub const KEEP: Duration = Duration::from_secs(300);

/// An approval kept on the handle.
struct Approval {
    os_user: String,
    duo_user: String,
    at: Instant,
}

/// Whether the service keeps approvals.
pub fn applies(service: &str) -> bool {
    service == "sshd"
}

/// Whether this handle holds an approval, younger than [`KEEP`], for this OS user and Duo
/// user.
pub fn earlier(pamh: &PamHandle, os_user: &str, duo_user: &str) -> bool {
    crate::sys::get::<Approval>(pamh, KEY)
        .is_some_and(|a| a.os_user == os_user && a.duo_user == duo_user && a.at.elapsed() < KEEP)
}

/// Keep a fresh approval on the handle. False when PAM would not store it (the next method
/// then asks Duo again).
pub fn keep(pamh: &mut PamHandle, os_user: &str, duo_user: &str) -> bool {
    crate::sys::set(
        pamh,
        KEY,
        Approval {
            os_user: os_user.to_string(),
            duo_user: duo_user.to_string(),
            at: Instant::now(),
        },
    )
}
