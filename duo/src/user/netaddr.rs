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

/// This host's canonical name (gethostname + getaddrinfo AI_CANONNAME), at most 255 bytes,
/// waiting as long as the resolver takes: what [`HostName`] is checked against in the tests.
#[cfg(test)]
fn fqdn() -> String {
    let Some(raw) = crate::sys::hostname() else {
        return String::new();
    };
    let name = crate::sys::canonical_name(&raw).unwrap_or(raw);
    crate::log::truncate(&name, 255).to_string()
}

/// Stack of the lookup thread, set explicitly so that nothing in the environment chooses it.
const LOOKUP_STACK: usize = 512 << 10;

/// This host's name as sent to Duo (`hostname`), looked up inside the login's time budget
/// (docs/BEHAVIOUR.md §0a D4): the canonical name is read from `/etc/hosts` when the resolver
/// would answer from there (D19), and otherwise looked up on a thread started when the login
/// begins, and the flow waits for it only within its own budget. When the lookup has
/// not answered in time (a silent DNS server and a name that is not in /etc/hosts) or fails,
/// the name from `gethostname` is sent. A thread left behind finishes its lookup on its own,
/// bounded by the resolver's timeouts, as the API host's lookup thread does.
pub struct HostName {
    raw: String,
    pending: std::cell::RefCell<Option<crate::sys::Worker<Option<String>>>>,
    known: std::cell::OnceCell<String>,
}

impl HostName {
    /// Start looking this host's canonical name up.
    pub fn start() -> HostName {
        let raw = crate::sys::hostname().unwrap_or_default();
        let h = HostName {
            raw: crate::log::truncate(&raw, 255).to_string(),
            pending: std::cell::RefCell::new(None),
            known: std::cell::OnceCell::new(),
        };
        if raw.is_empty() {
            let _ = h.known.set(String::new());
            return h;
        }
        // The answer glibc would read from /etc/hosts needs no thread (D19).
        if let Some(name) = super::hosts_file::canonical_name(&raw) {
            let _ = h.known.set(crate::log::truncate(&name, 255).to_string());
            return h;
        }
        let name = raw.clone();
        match crate::sys::Worker::start(LOOKUP_STACK, move || crate::sys::canonical_name(&name)) {
            Ok(w) => *h.pending.borrow_mut() = Some(w),
            // Without a thread there is no lookup that could be bounded: the plain name.
            Err(e) => {
                log(
                    Priority::Info,
                    &format!(
                        "cannot start the lookup of this host's canonical name ({}); sending the name as it is",
                        crate::sys::strerror(&e)
                    ),
                );
                let _ = h.known.set(h.raw.clone());
            }
        }
        h
    }

    /// A name known from the start, for tests.
    #[cfg(test)]
    fn fixed(name: &str) -> HostName {
        let h = HostName {
            raw: name.to_string(),
            pending: std::cell::RefCell::new(None),
            known: std::cell::OnceCell::new(),
        };
        let _ = h.known.set(name.to_string());
        h
    }

    /// The name as chosen so far, without waiting: the one [`HostName::get`] settled on, or
    /// the name from `gethostname` while the lookup has not been waited for.
    pub fn chosen(&self) -> &str {
        self.known.get().unwrap_or(&self.raw)
    }

    /// The name, waiting for the lookup at most within `deadline`.
    pub fn get(&self, deadline: &crate::api::deadline::Deadline<'_>) -> &str {
        if let Some(n) = self.known.get() {
            return n;
        }
        let name = self.wait(deadline);
        self.known.get_or_init(|| name)
    }

    fn wait(&self, deadline: &crate::api::deadline::Deadline<'_>) -> String {
        let Some(mut lookup) = self.pending.borrow_mut().take() else {
            return self.raw.clone();
        };
        let mut looked = false;
        while let Some(wait) = deadline.wait_or_last_look(&mut looked) {
            match lookup.wait(wait.slice) {
                Ok(found) => {
                    let name = found.flatten().unwrap_or_else(|| self.raw.clone());
                    return crate::log::truncate(&name, 255).to_string();
                }
                Err(again) => lookup = again,
            }
        }
        drop(lookup);
        log(
            Priority::Info,
            &format!(
                "the canonical name of this host ('{}') was not found in time; sending the name as it is",
                crate::sanitize::sanitize(&self.raw)
            ),
        );
        self.raw.clone()
    }
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
    fn the_host_name_is_found_within_the_budget() {
        use crate::api::deadline::Deadline;
        let h = HostName::start();
        let d = Deadline::new(std::time::Duration::from_secs(30));
        assert_eq!(h.get(&d), fqdn());
        // An empty budget gives the name as it is at once (or the canonical one if the
        // lookup happened to answer already).
        let h = HostName::start();
        let spent = Deadline::new(std::time::Duration::ZERO);
        let started = std::time::Instant::now();
        let got = h.get(&spent).to_string();
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert!(
            got == crate::sys::hostname().unwrap() || got == fqdn(),
            "{got}"
        );
        // Once chosen, the name stays the same for the login.
        assert_eq!(h.get(&d), got);
        assert_eq!(HostName::fixed("h.example").get(&spent), "h.example");
    }

    #[test]
    fn fqdn_is_not_empty() {
        let f = fqdn();
        assert!(!f.is_empty() && f.len() <= 255);
    }
}
