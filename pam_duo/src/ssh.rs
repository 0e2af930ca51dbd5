//! What pam_duo does differently under sshd (docs/BEHAVIOUR.md §0a D17): how status lines
//! reach the ssh client, and one push per login across sshd's authentication methods.

use duo::config::{Config, SshdMessages};
use duo::log::{log, outcome_line, Priority};
use pam::module::PamHandle;

use crate::conv::Delivery;

/// The reason of the auth event of a login that used an earlier approval.
pub const REUSED: &str = "approved earlier in this sshd login";

/// How status lines reach the user of `service`.
pub fn delivery(cfg: &Config, service: &str) -> Delivery {
    match (service, cfg.sshd_messages) {
        ("sshd", SshdMessages::Prompt) => Delivery::Prompted,
        _ => Delivery::Immediate,
    }
}

/// Whether an approval that an earlier run of the stack obtained on this handle lets this run
/// through; logged when it does.
pub fn approved_earlier(
    pamh: &PamHandle,
    service: &str,
    os_user: &str,
    duo_user: &str,
    addr: Option<&str>,
) -> bool {
    if !crate::approval::applies(service) || !crate::approval::earlier(pamh, os_user, duo_user) {
        return false;
    }
    log(
        Priority::Info,
        &outcome_line("Successful Duo login", Some(duo_user), addr, Some(REUSED)),
    );
    true
}

/// Keep a Duo approval on the handle for a later authentication method of the same sshd
/// login.
pub fn keep_approval(pamh: &mut PamHandle, service: &str, os_user: &str, duo_user: &str) {
    if crate::approval::applies(service) && !crate::approval::keep(pamh, os_user, duo_user) {
        log(
            Priority::Warning,
            "Couldn't keep the Duo approval for a later step of this sshd login",
        );
    }
}
