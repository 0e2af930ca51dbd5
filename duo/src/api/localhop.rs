//! Who is at the other end of a connection to this host (docs/BEHAVIOUR.md §0a D15).
//!
//! A proxy on a loopback address, or on an address of one of this host's interfaces, is a
//! process of this host. Any local user can bind a free port there (or a port the real proxy
//! has not taken on one of the addresses its name resolves to), so what such a "proxy"
//! answers, and how it fails, says nothing about the Duo service unless the socket belongs to
//! an account that ordinary users cannot run code as. Linux tells who owns a TCP socket of
//! this network namespace in `/proc/net/tcp` and `/proc/net/tcp6`: the `uid` column is the
//! owner of the socket, which for an accepted connection is the owner of the listening socket.
//!
//! Nothing here trusts a name: the decision is made on the address connected to and on the
//! kernel's table.

use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The highest uid of a system account (Debian's `SYS_UID_MAX` in /etc/login.defs). Root and
/// the system accounts (`proxy`, `squid`, ...) may serve a local proxy; no other account may.
pub const SYS_UID_MAX: u32 = 999;

/// Whether a socket owned by `uid` may serve as a hop to the Duo service: root or a system
/// account.
pub fn trusted_owner(uid: u32) -> bool {
    uid <= SYS_UID_MAX
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; any other address as it is.
fn plain(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address of this host: loopback, unspecified (which connects to this
/// host), or an address of one of its interfaces.
pub fn is_on_this_host(ip: IpAddr) -> io::Result<bool> {
    let ip = plain(ip);
    if ip.is_loopback() || ip.is_unspecified() {
        return Ok(true);
    }
    Ok(crate::sys::interface_addresses()?
        .into_iter()
        .any(|a| plain(a) == ip))
}

/// One row of `/proc/net/tcp{,6}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    local: SocketAddr,
    remote: SocketAddr,
    /// The kernel's TCP state (`0A` is LISTEN).
    state: u8,
    uid: u32,
}

/// The kernel's TCP state of a listening socket.
const LISTEN: u8 = 0x0A;
/// The kernel's TCP state of an open connection.
const ESTABLISHED: u8 = 0x01;

/// An address as the kernel prints it: `0100007F:0CEA` (IPv4, the 32-bit word in host byte
/// order) or 32 hex digits (IPv6, four such words), a colon and the port in hex.
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(ip.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(plain(ip), port))
}

/// One line of the table; `None` for the header or anything not in the expected shape.
fn parse_row(line: &str) -> Option<Row> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 || !f[0].ends_with(':') {
        return None;
    }
    Some(Row {
        local: parse_addr(f[1])?,
        remote: parse_addr(f[2])?,
        state: u8::from_str_radix(f[3], 16).ok()?,
        uid: f[7].parse().ok()?,
    })
}

/// Every row of this network namespace's TCP tables (IPv4 and IPv6).
fn rows() -> io::Result<Vec<Row>> {
    let mut out = Vec::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let f = match std::fs::File::open(table) {
            Ok(f) => f,
            // A kernel without IPv6 has no tcp6 table.
            Err(e) if e.kind() == io::ErrorKind::NotFound && table.ends_with('6') => continue,
            Err(e) => return Err(e),
        };
        for line in io::BufReader::new(f).lines() {
            if let Some(r) = parse_row(&line?) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// The owner of the socket at the other end of this host's connection from `local` to
/// `peer`: the row whose own address is `peer` and whose remote address is `local`, while it
/// is an open connection. `None` when there is no such row: the other end is not on this
/// host, or it has already closed its side. A closed side must not count: the kernel lists a
/// connection in `TIME_WAIT` (and one in `FIN_WAIT2` after its owner closed it) with uid 0,
/// whoever owned it, so a user's process that accepts and closes at once would pass for root.
pub(crate) fn peer_owner(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u32>> {
    let (local, peer) = (unplain(local), unplain(peer));
    Ok(rows()?
        .into_iter()
        .find(|r| r.state == ESTABLISHED && r.local == peer && r.remote == local)
        .map(|r| r.uid))
}

/// The owners of the listening sockets that take connections to `addr`: those bound to that
/// address and port, or to the unspecified address of either family on that port.
pub fn listener_owners(addr: SocketAddr) -> io::Result<Vec<u32>> {
    let addr = unplain(addr);
    Ok(rows()?
        .into_iter()
        .filter(|r| r.state == LISTEN && r.local.port() == addr.port())
        .filter(|r| r.local.ip() == addr.ip() || r.local.ip().is_unspecified())
        .map(|r| r.uid)
        .collect())
}

/// `addr` with an IPv4-mapped IPv6 address written as IPv4, as the rows are.
fn unplain(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(plain(addr.ip()), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn rows_are_read_as_the_kernel_writes_them() {
        let v4 = "   3: 0100007F:0CEA 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1";
        let r = parse_row(v4).unwrap();
        assert_eq!(r.local, "127.0.0.1:3306".parse().unwrap());
        assert_eq!(r.remote, "127.0.0.1:40000".parse().unwrap());
        assert_eq!((r.state, r.uid), (1, 1000));
        let v6 = "   0: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0";
        let r = parse_row(v6).unwrap();
        assert_eq!(r.local, "[::1]:3306".parse().unwrap());
        assert_eq!((r.state, r.uid), (LISTEN, 0));
        let mapped = "   1: 0000000000000000FFFF00000100007F:0CEA 0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 00000000    13        0 7 1";
        assert_eq!(
            parse_row(mapped).unwrap().local,
            "127.0.0.1:3306".parse().unwrap()
        );
        for bad in [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            "",
            "   3: 0100007F 0100007F:9C40 01 0:0 0:0 0 1000",
            "   3: 0100007F:0CEA 0100007F:9C40 01 0:0 0:0 0 -1",
            "   3: 0100007F0:0CEA 0100007F:9C40 01 0:0 0:0 0 5",
        ] {
            assert_eq!(parse_row(bad), None, "{bad}");
        }
    }

    #[test]
    fn system_accounts_are_trusted_and_users_are_not() {
        assert!(trusted_owner(0) && trusted_owner(13) && trusted_owner(999));
        assert!(!trusted_owner(1000) && !trusted_owner(65534));
    }

    #[test]
    fn loopback_and_interface_addresses_are_on_this_host() {
        for ip in [
            "127.0.0.1",
            "127.8.9.1",
            "::1",
            "0.0.0.0",
            "::",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_on_this_host(ip.parse().unwrap()).unwrap(), "{ip}");
        }
        for ip in ["192.0.2.1", "2001:db8::1"] {
            assert!(!is_on_this_host(ip.parse().unwrap()).unwrap(), "{ip}");
        }
    }

    #[test]
    fn the_owner_of_the_other_end_is_found() {
        let me = crate::sys::effective_uid().0;
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(l) = TcpListener::bind(bind) else {
                continue; // no IPv6 on this machine
            };
            let addr = l.local_addr().unwrap();
            let c = TcpStream::connect(addr).unwrap();
            let owner = peer_owner(c.local_addr().unwrap(), c.peer_addr().unwrap()).unwrap();
            assert_eq!(owner, Some(me), "{bind}");
            assert!(listener_owners(addr).unwrap().contains(&me), "{bind}");
            // A connection nobody on this host serves has no owner.
            let nobody: SocketAddr = "192.0.2.1:9".parse().unwrap();
            assert_eq!(peer_owner(c.local_addr().unwrap(), nobody).unwrap(), None);
        }
    }

    #[test]
    fn an_other_end_that_closed_has_no_owner() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, _) = l.accept().unwrap();
        drop(accepted);
        // The closed side lingers in the table (FIN_WAIT2/TIME_WAIT, listed as uid 0).
        std::thread::sleep(std::time::Duration::from_millis(50));
        let owner = peer_owner(c.local_addr().unwrap(), c.peer_addr().unwrap()).unwrap();
        assert_eq!(owner, None);
    }

    #[test]
    fn a_dual_stack_listener_is_found_for_an_ipv4_connection() {
        let Ok(l) = TcpListener::bind("[::]:0") else {
            return; // no IPv6 on this machine
        };
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let me = crate::sys::effective_uid().0;
        assert_eq!(
            peer_owner(c.local_addr().unwrap(), c.peer_addr().unwrap()).unwrap(),
            Some(me)
        );
        let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(listener_owners(to).unwrap().contains(&me));
    }
}
