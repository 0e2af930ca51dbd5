//! Addresses: the client address rules, this host's IPv4 address and FQDN (SPEC §1.2, §1.2.2,
//! §6 step 10, §7.3 step 8).

/// Whether `s` is an IP literal: IPv4 as `inet_aton` accepts it (lenient: `127.1`, `0x7f.1`)
/// or IPv6 as `inet_pton` accepts it.
pub fn is_ip_literal(s: &str) -> bool {
    let _ = s;
    todo!("netaddr::is_ip_literal")
}

/// This host's IPv4 address as seen on the default route (UDP connect to 192.0.2.1:53, no
/// packet sent), dotted-quad; `None` on any failure.
pub fn local_ip() -> Option<String> {
    todo!("netaddr::local_ip")
}

/// This host's canonical name (gethostname + getaddrinfo AI_CANONNAME), at most 255 bytes.
pub fn fqdn() -> String {
    todo!("netaddr::fqdn")
}

/// The client address to report. `raw` is the address source (PAM_RHOST, the first token of
/// SSH_CONNECTION, or `-h`), `None` when there is no source. When `raw` is not an IP literal
/// (including absent or empty) and `fallback` is on, this host's IP is used, with the
/// `fallback_local_ip` warning when `raw` was non-empty. Otherwise `raw` is used as it is.
pub fn client_address(raw: Option<&str>, fallback: bool) -> Option<String> {
    let _ = (raw, fallback);
    todo!("netaddr::client_address")
}
