//! `login_duo`: Duo two-factor authentication for SSH logins (SPEC §7, §10).
fn main() {}
