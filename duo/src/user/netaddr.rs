//! Addresses: the client address rules, this host's IPv4 address and FQDN (docs/BEHAVIOUR.md §1.2, §1.2.2,
//! §6 step 10, §7.3 step 8).

use crate::log::{log, outcome_line, Priority};

/// Whether `s` is an IP literal: IPv4 as `inet_aton` accepts it (lenient: `127.1`, `0x7f.1`)
/// or IPv6 as `inet_pton` accepts it.
pub fn is_ip_literal(s: &str) -> bool {
    crate::sys::is_ip_literal(s)
}

/// This host's IPv4 address as seen on the default route (UDP connect to 192.0.2.1:53, no
/// packet sent), dotted-quad; `None` on any failure.
pub fn local_ip() -> Option<String> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:53").ok()?;
    match sock.local_addr().ok()? {
        std::net::SocketAddr::V4(a) => Some(a.ip().to_string()),
        std::net::SocketAddr::V6(_) => None,
    }
}

/// This host's canonical name (gethostname + getaddrinfo AI_CANONNAME), at most 255 bytes.
pub fn fqdn() -> String {
    let Some(raw) = crate::sys::hostname() else {
        return String::new();
    };
    let name = crate::sys::canonical_name(&raw).unwrap_or(raw);
    crate::log::truncate(&name, 255).to_string()
}

/// The client address to report. `raw` is the address source (PAM_RHOST, the first token of
/// SSH_CONNECTION, or `-h`), `None` when there is no source. When `raw` is not an IP literal
/// (including absent or empty) and `fallback` is on, this host's IP is used, with the
/// `fallback_local_ip` warning when `raw` was non-empty. Otherwise `raw` is used as it is.
pub fn client_address(raw: Option<&str>, fallback: bool) -> Option<String> {
    let literal = raw.is_some_and(is_ip_literal);
    if literal || !fallback {
        return raw.map(str::to_string);
    }
    let local = local_ip().unwrap_or_else(|| "none".to_string());
    if let Some(r) = raw.filter(|r| !r.is_empty()) {
        log(
            Priority::Warning,
            &outcome_line(
                "fallback_local_ip is replacing the remote client address with this server's IP; the address reported to Duo is not the client's",
                None,
                Some(r),
                None,
            ),
        );
    }
    Some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_are_lenient_like_inet_aton() {
        for s in ["127.0.0.1", "127.1", "0x7f.1", "::1", "2001:db8::5"] {
            assert!(is_ip_literal(s), "{s}");
        }
        for s in ["", "badhost.example.com", "1.2.3.4.5", "::g"] {
            assert!(!is_ip_literal(s), "{s}");
        }
    }

    #[test]
    fn client_address_rules() {
        assert_eq!(client_address(Some("::1"), true).as_deref(), Some("::1"));
        assert_eq!(
            client_address(Some("203.0.113.9"), true).as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            client_address(Some("host.example"), false).as_deref(),
            Some("host.example")
        );
        assert_eq!(client_address(None, false), None);
        let replaced = client_address(Some("host.example"), true).expect("some");
        assert_ne!(replaced, "host.example");
        assert!(replaced == "none" || is_ip_literal(&replaced));
        assert!(client_address(None, true).is_some());
    }

    #[test]
    fn fqdn_is_not_empty() {
        let f = fqdn();
        assert!(!f.is_empty() && f.len() <= 255);
    }
}
