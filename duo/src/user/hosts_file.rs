//! This host's canonical name read from `/etc/hosts`, when the resolver would answer from there
//! too (docs/BEHAVIOUR.md §0a D19).
//!
//! When `/etc/nsswitch.conf` asks the `files` source first for `hosts`, and `/etc/hosts` has a
//! line naming this host, glibc's `getaddrinfo(AI_CANONNAME)` answers with the first name of
//! the first such line, without asking anything else. Reading that line here gives the same
//! answer without starting the lookup thread of [`super::netaddr::HostName`] (a thread costs
//! about 0.05 ms of CPU per login, a tenth of a `pam_authenticate`). Whenever the answer is not
//! certain (another source first, an action after `files`, a line this reader cannot parse
//! that names the host, a file that cannot be read) the caller asks the resolver as before.

use std::io::Read;

/// Largest `/etc/hosts` or `/etc/nsswitch.conf` read; larger ones go to the resolver.
const MAX_FILE: u64 = 1 << 20;

/// The canonical name of `host` as glibc's `files` source would give it, or `None` when only
/// the resolver can say.
pub(crate) fn canonical_name(host: &str) -> Option<String> {
    canonical_name_in(host, "/etc/nsswitch.conf", "/etc/hosts")
}

fn canonical_name_in(host: &str, nsswitch: &str, hosts: &str) -> Option<String> {
    if host.is_empty() || !files_first(&read_small(nsswitch)?) {
        return None;
    }
    first_match(host, &read_small(hosts)?)
}

/// `path` read whole if it is a regular file of at most [`MAX_FILE`] bytes. Opened without
/// blocking and without taking a terminal, so that whatever sits at the path cannot hold the
/// login (a FIFO is refused by the type check).
fn read_small(path: &str) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(MAX_FILE + 1).read_to_string(&mut text).ok()?;
    (text.len() as u64 <= MAX_FILE).then_some(text)
}

/// Whether the `hosts` database's first source is `files` with no action of its own (an action
/// such as `[SUCCESS=continue]` would let later sources change the answer). A file with more
/// than one `hosts:` line is left to the resolver.
fn files_first(nsswitch: &str) -> bool {
    let mut lines = nsswitch.lines().filter_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        line.trim_start()
            .strip_prefix("hosts")?
            .trim_start()
            .strip_prefix(':')
    });
    let (Some(sources), None) = (lines.next(), lines.next()) else {
        // No `hosts:` line (glibc's default asks DNS first), or several.
        return false;
    };
    let mut words = sources.split_whitespace();
    words.next() == Some("files") && !words.next().is_some_and(|w| w.starts_with('['))
}

/// The first name of the first line of `hosts` that names `host` (case-insensitively), as
/// glibc's `files` source reads it; `None` when no line names it or when a line that mentions
/// it has an address this reader does not take as glibc would.
fn first_match(host: &str, hosts: &str) -> Option<String> {
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words.next() else {
            continue;
        };
        let names: Vec<&str> = words.collect();
        if !names.iter().any(|n| n.eq_ignore_ascii_case(host)) {
            continue;
        }
        if addr.parse::<std::net::IpAddr>().is_err() {
            // A scoped IPv6 address, say: leave the whole question to the resolver.
            return None;
        }
        return names.first().map(|n| n.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_first_only_when_files_leads_without_an_action() {
        assert!(files_first("passwd: files\nhosts:          files dns\n"));
        assert!(files_first(
            "hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname\n"
        ));
        assert!(files_first("hosts:files"));
        assert!(!files_first("hosts: dns files\n"));
        assert!(!files_first("hosts: files [SUCCESS=continue] dns\n"));
        assert!(!files_first("hosts: myhostname files\n"));
        assert!(!files_first("# hosts: files\npasswd: files\n"));
        assert!(!files_first(""));
        // Several hosts lines: the resolver decides.
        assert!(!files_first("hosts: dns\nhosts: files\n"));
        assert!(!files_first("hosts: files\nhosts: files\n"));
        assert!(!files_first("hostsfoo: files\n"));
    }

    #[test]
    fn the_first_matching_line_gives_its_first_name() {
        let hosts = "127.0.0.1 localhost\n\
                     # 10.0.0.9 web web.example.com\n\
                     127.0.1.1\tweb.example.com  web   # the installer's line\n\
                     10.0.0.9 other.example.com web\n";
        assert_eq!(
            first_match("web", hosts).as_deref(),
            Some("web.example.com")
        );
        assert_eq!(
            first_match("WEB", hosts).as_deref(),
            Some("web.example.com")
        );
        assert_eq!(
            first_match("web.example.com", hosts).as_deref(),
            Some("web.example.com")
        );
        assert_eq!(
            first_match("localhost", hosts).as_deref(),
            Some("localhost")
        );
        assert_eq!(first_match("absent", hosts), None);
        assert_eq!(
            first_match("web", "::1 web6.example.com web\n").as_deref(),
            Some("web6.example.com")
        );
    }

    #[test]
    fn an_address_this_reader_cannot_take_leaves_it_to_the_resolver() {
        assert_eq!(
            first_match("web", "fe80::1%eth0 web.example.com web\n10.0.0.1 web\n"),
            None
        );
        assert_eq!(first_match("web", "nonsense web\n"), None);
        // A bad line for another name does not matter.
        assert_eq!(
            first_match("web", "fe80::1%eth0 other\n10.0.0.1 web.example.com web\n").as_deref(),
            Some("web.example.com")
        );
    }

    #[test]
    fn agrees_with_glibc_on_this_host() {
        let Some(raw) = crate::sys::hostname() else {
            return;
        };
        if let Some(ours) = canonical_name(&raw) {
            assert_eq!(Some(ours), crate::sys::canonical_name(&raw));
        }
    }

    #[test]
    fn files_that_cannot_be_read_leave_it_to_the_resolver() {
        let dir = std::env::temp_dir().join(format!("duo-hosts-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ns = dir.join("nsswitch.conf");
        let hosts = dir.join("hosts");
        std::fs::write(&ns, "hosts: files dns\n").unwrap();
        std::fs::write(&hosts, "127.0.1.1 web.example.com web\n").unwrap();
        let (ns_s, hosts_s) = (ns.to_str().unwrap(), hosts.to_str().unwrap());
        assert_eq!(
            canonical_name_in("web", ns_s, hosts_s).as_deref(),
            Some("web.example.com")
        );
        assert_eq!(canonical_name_in("", ns_s, hosts_s), None);
        assert_eq!(canonical_name_in("web", ns_s, "/nonexistent/hosts"), None);
        assert_eq!(
            canonical_name_in("web", "/nonexistent/nsswitch.conf", hosts_s),
            None
        );
        assert_eq!(canonical_name_in("web", ns_s, dir.to_str().unwrap()), None);
        // A FIFO neither blocks nor counts.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(canonical_name_in("web", ns_s, fifo.to_str().unwrap()), None);
        std::fs::write(&hosts, "#".repeat((MAX_FILE + 1) as usize)).unwrap();
        assert_eq!(canonical_name_in("web", ns_s, hosts_s), None);
        std::fs::write(&ns, "hosts: dns files\n").unwrap();
        std::fs::write(&hosts, "127.0.1.1 web.example.com web\n").unwrap();
        assert_eq!(canonical_name_in("web", ns_s, hosts_s), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
