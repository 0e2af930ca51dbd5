//! A small HTTP/1.1 client over one TLS connection with keep-alive (docs/BEHAVIOUR.md §1.7, §1.8), where
//! every wait is bounded by a deadline (§0a D4).
//!
//! Writes go through `std::net::TcpStream`, which sends with `MSG_NOSIGNAL` on Linux, so a
//! closed peer never raises SIGPIPE in the host process.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::api::deadline::Deadline;
use crate::api::evidence::Evidence;
use crate::api::phases::Phases;
use crate::api::proxy::{self, Proxy};
pub(crate) use crate::api::response::{ReadError, Response};
use crate::sys;

/// How many times the owner of a proxy socket on this host is looked up before giving up.
const OWNER_LOOKS: u32 = 20;

/// Bound of one TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection could not be opened. Where the failure came from is part of the type:
/// only [`OpenError::Network`] is evidence that the Duo service could not be reached
/// (docs/BEHAVIOUR.md §0a D11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Something on the way to the service failed: name lookup, connect, proxy, TLS.
    Network {
        /// Reason text (goes after `Couldn't connect to <host>: `).
        reason: String,
        /// Timeouts and proxy 5xx: worth a retry after a pause.
        transient: bool,
        /// What the failure shows about the service: [`Evidence::Unreachable`] when the name
        /// did not resolve, the connect was refused or unanswered, the TLS handshake failed,
        /// silence, or a proxy that could not reach it (5xx); [`Evidence::Answered`] when a
        /// proxy answered otherwise (e.g. 407). Only unreachability may open the outage
        /// window (`crate::flow::outage`).
        evidence: Evidence,
    },
    /// This machine could not even try: descriptors, memory, threads, an internal error.
    Local(String),
}

impl OpenError {
    fn net(reason: impl Into<String>, transient: bool) -> OpenError {
        OpenError::Network {
            reason: reason.into(),
            transient,
            evidence: Evidence::Unreachable,
        }
    }
}

/// Where to connect.
pub(crate) struct Target<'a> {
    /// API host without port.
    pub host: &'a str,
    /// API port.
    pub port: u16,
    /// Optional CONNECT proxy.
    pub proxy: Option<&'a Proxy>,
    /// User-Agent for the CONNECT request.
    pub user_agent: &'a str,
}

fn timed_out() -> OpenError {
    OpenError::net("Connection timed out", true)
}

/// Stack of the resolver thread. Set explicitly so that nothing in the environment (such as
/// `RUST_MIN_STACK`) can choose it.
const RESOLVER_STACK: usize = 512 << 10;

/// Resolve `host:port` within the budget. IP literals need no lookup. Names are looked up on a
/// short-lived thread (`sys::Worker`) that is joined when it answers in time; if the budget
/// runs out first the thread is left to finish its `getaddrinfo` on its own (bounded by the
/// resolver's timeouts; the PAM module is never unloaded, so that is safe) and the lookup
/// fails with a timeout.
/// Failing to start the thread is a local failure.
fn resolve(host: &str, port: u16, deadline: &Deadline<'_>) -> Result<Vec<SocketAddr>, OpenError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    sys::headroom().map_err(OpenError::Local)?;
    if deadline.expired() {
        return Err(timed_out());
    }
    let name = host.to_string();
    let mut worker =
        sys::Worker::start(RESOLVER_STACK, move || sys::lookup(&name, port)).map_err(|e| {
            OpenError::Local(format!(
                "cannot start resolver: {}",
                crate::sys::strerror(&e)
            ))
        })?;
    let mut looked = false;
    while let Some(wait) = deadline.wait_or_last_look(&mut looked) {
        match worker.wait(wait.slice) {
            Ok(Some(r)) => {
                return r.map_err(|e| match e {
                    sys::LookupError::Network(t) => OpenError::net(t, false),
                    sys::LookupError::Local(t) => OpenError::Local(t),
                });
            }
            Ok(None) => return Err(OpenError::Local("resolver thread failed".into())),
            Err(again) => worker = again,
        }
    }
    Err(timed_out())
}

/// What a TCP connection is for: the Duo service itself, or a proxy on the way to it (for
/// which the local-hop rule of docs/BEHAVIOUR.md §0a D15 applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hop {
    Service,
    Proxy,
}

/// Look `host` up and connect TCP to the first address that answers, each try bounded by
/// [`CONNECT_TIMEOUT`] and all of them by the budget. The time of each step is added to
/// `phases`, failures included.
fn tcp(
    host: &str,
    port: u16,
    hop: Hop,
    deadline: &Deadline<'_>,
    phases: &mut Phases,
) -> Result<TcpStream, OpenError> {
    let started = Instant::now();
    let addrs = resolve(host, port, deadline);
    phases.lookup += started.elapsed();
    let started = Instant::now();
    let r = connect(addrs?, hop, deadline);
    phases.connect += started.elapsed();
    r
}

/// How a proxy on this host refused a connection.
fn not_accepted(e: &std::io::Error) -> String {
    format!(
        "did not accept the connection ({})",
        crate::sys::strerror(e)
    )
}

fn local_connect_error(e: &std::io::Error) -> OpenError {
    OpenError::Local(format!("cannot connect: {}", crate::sys::strerror(e)))
}

/// Connect TCP to the first of `addrs` that answers, each try bounded by [`CONNECT_TIMEOUT`]
/// and all of them by the budget.
///
/// For a proxy, an address on this host is usable only when the socket that accepted the
/// connection belongs to root or a system account (D15); any other is closed at once and the
/// next address is tried. Nothing that happens at such an address (refused, silent, served by
/// another user) is evidence about the Duo service: when no address could be used and one of
/// them was on this host, the result is a local error that says why, never a network one.
fn connect(
    addrs: Vec<SocketAddr>,
    hop: Hop,
    deadline: &Deadline<'_>,
) -> Result<TcpStream, OpenError> {
    let mut timed_out_last = false;
    // Why each unusable address on this host could not be used.
    let mut local_hop: Vec<String> = Vec::new();
    for addr in addrs {
        let on_host = match hop {
            Hop::Service => false,
            Hop::Proxy => crate::api::localhop::is_on_this_host(addr.ip()).map_err(|e| {
                OpenError::Local(format!(
                    "cannot list this host's addresses: {}",
                    crate::sys::strerror(&e)
                ))
            })?,
        };
        // Why this address, on this host, could not be used (no evidence about Duo).
        let refused = |how: String| format!("the proxy at {addr} on this host {how}");
        let this = deadline.within(Some(CONNECT_TIMEOUT));
        let mut pending = match sys::Connecting::start(&addr) {
            Ok(c) => c,
            Err(e) if sys::is_local_error(&e) => return Err(local_connect_error(&e)),
            Err(e) => {
                if on_host {
                    local_hop.push(refused(not_accepted(&e)));
                }
                timed_out_last = false;
                continue;
            }
        };
        let mut looked = false;
        let result = loop {
            let Some(wait) = this.wait_or_last_look(&mut looked) else {
                break None;
            };
            match pending.wait(wait.slice) {
                Ok(Ok(s)) => break Some(Ok(s)),
                Ok(Err(again)) => pending = again,
                Err(e) => break Some(Err(e)),
            }
        };
        match result {
            Some(Ok(s)) => match on_host.then(|| local_owner(&s, addr)).transpose()? {
                Some(Err(why)) => local_hop.push(refused(why)),
                Some(Ok(())) | None => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
            },
            Some(Err(e)) if sys::is_local_error(&e) => return Err(local_connect_error(&e)),
            Some(Err(e)) => {
                if on_host {
                    local_hop.push(refused(not_accepted(&e)));
                }
                timed_out_last = false;
            }
            None => {
                if on_host {
                    local_hop.push(refused("did not accept the connection in time".into()));
                }
                timed_out_last = true;
            }
        }
        if deadline.expired() {
            break;
        }
    }
    if !local_hop.is_empty() {
        return Err(OpenError::Local(format!(
            "{}; a proxy on this host counts only when it runs as root or a system account",
            local_hop.join("; ")
        )));
    }
    Err(OpenError::net("Failed to connect", timed_out_last))
}

/// For a connection `s` to `addr` on this host: `Ok(Ok(()))` when the socket at the other end
/// belongs to root or a system account, `Ok(Err(how))` when it belongs to anyone else or
/// cannot be found (`how` follows "the proxy at <addr> on this host"). Failing to read the
/// kernel's table is a local error.
fn local_owner(s: &TcpStream, addr: SocketAddr) -> Result<Result<(), String>, OpenError> {
    let table = |e: std::io::Error| {
        OpenError::Local(format!(
            "cannot tell who serves the proxy at {addr}: {}",
            crate::sys::strerror(&e)
        ))
    };
    let local = s.local_addr().map_err(table)?;
    let peer = s.peer_addr().map_err(table)?;
    // On loopback the other end's socket is made when the handshake's last ACK is processed,
    // which may come a moment after connect() returned: look again for a few milliseconds.
    let mut owner = None;
    for _ in 0..OWNER_LOOKS {
        owner = crate::api::localhop::peer_owner(local, peer).map_err(table)?;
        if owner.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(match owner {
        Some(uid) if crate::api::localhop::trusted_owner(uid) => Ok(()),
        Some(uid) => Err(format!(
            "is served by uid {uid}, not by root or a system account"
        )),
        None => Err("closed the connection before its owner could be checked".to_string()),
    })
}

/// Bound the next blocking read and write on `s` to `slice`.
fn set_slice(s: &TcpStream, slice: Duration) -> std::io::Result<()> {
    s.set_read_timeout(Some(slice))?;
    s.set_write_timeout(Some(slice))
}

/// Whether an I/O error is a socket timeout (or an interrupted call): wait again if time is
/// left.
fn wait_again(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::Interrupted
    )
}

/// One open TLS connection to the API host.
pub(crate) struct Conn {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// Open TCP (through the proxy if any) and complete the TLS handshake, all within the
    /// budget. SNI is always the API host. The time of the lookup, the connect and the
    /// handshake is added to `phases`, failures included.
    pub(crate) fn open(
        target: &Target<'_>,
        tls: &Arc<ClientConfig>,
        deadline: &Deadline<'_>,
        phases: &mut Phases,
    ) -> Result<Conn, OpenError> {
        let name = ServerName::try_from(target.host.to_string())
            .map_err(|_| OpenError::Local("invalid host name".into()))?;
        let sock = match target.proxy {
            None => tcp(target.host, target.port, Hop::Service, deadline, phases)?,
            Some(p) => tunnel(p, target, deadline, phases)?,
        };
        let started = Instant::now();
        let r = handshake(sock, tls, name, deadline);
        phases.tls += started.elapsed();
        let conn = r?;
        phases.tls_version = conn.tls.conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "other",
        });
        Ok(conn)
    }

    /// Whether the server has already closed this idle kept-alive connection (or sent
    /// something unasked, which leaves it unusable too): a request written now would never be
    /// read. Looks without waiting; a failure to look counts as closed.
    pub(crate) fn peer_closed(&self) -> bool {
        let sock = &self.tls.sock;
        if sock.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let closed =
            !matches!(sock.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        sock.set_nonblocking(false).is_err() || closed
    }

    /// Send one request and read one response (`crate::api::response`). The whole exchange is
    /// bounded by `deadline`; each wait for response data also by `per_wait`, if given. Any
    /// error leaves the connection unusable.
    pub(crate) fn round_trip(
        &mut self,
        request: &[u8],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
    ) -> Result<Response, ReadError> {
        self.send(request, deadline)?;
        crate::api::response::read(&mut self.tls, &mut self.buf, deadline, per_wait)
    }

    /// Queue the request in TLS and write it out, one socket write per slice of the budget.
    fn send(&mut self, request: &[u8], deadline: &Deadline<'_>) -> Result<(), ReadError> {
        self.tls.conn.writer().write_all(request)?;
        let mut looked = false;
        while self.tls.conn.wants_write() {
            let Some(wait) = deadline.wait_or_last_look(&mut looked) else {
                return Err(ReadError::TimedOut);
            };
            self.tls.sock.set_write_timeout(Some(wait.slice))?;
            match self.tls.conn.write_tls(&mut self.tls.sock) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => looked = false,
                Err(e) if wait_again(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// The TLS connection as a response source: already decrypted data first, else at most one
/// socket read that waits at most `wait` (rustls' own `read` loops over socket reads until a
/// whole record has arrived, which a server sending a byte at a time could stretch without
/// bound).
impl crate::api::response::Source for StreamOwned<ClientConnection, TcpStream> {
    fn read_within(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<usize> {
        match self.conn.reader().read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            done => return done,
        }
        // A zero timeout means "none" to the socket: wait at least a microsecond.
        self.sock
            .set_read_timeout(Some(wait.max(Duration::from_micros(1))))?;
        self.conn.read_tls(&mut self.sock)?;
        self.conn
            .process_new_packets()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        // Nothing decrypted yet (a partial record) reads as WouldBlock: look again.
        self.conn.reader().read(buf)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Text for a TLS failure, in the reference's words where it has them (docs/BEHAVIOUR.md
/// §1.9): a certificate for another name is "Certificate name validation failed", other
/// certificate problems "certificate verify failed"; the detail follows in plain words.
fn tls_reason(e: &std::io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => certificate_reason(c),
        Some(rustls::Error::AlertReceived(a)) => {
            format!("TLS handshake failed (the server sent the alert \"{}\")", words(&format!("{a:?}")))
        }
        Some(rustls::Error::PeerIncompatible(_)) => {
            "TLS handshake failed (the server offers no TLS version or cipher suite that is allowed: TLS 1.2 or later is required)".into()
        }
        Some(other) => format!("TLS handshake failed ({other})"),
        None => format!("TLS handshake failed ({})", crate::sys::strerror(e)),
    }
}

/// The reason text for a certificate that did not verify.
fn certificate_reason(c: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    let verify = |detail: &str| format!("certificate verify failed ({detail})");
    match c {
        C::NotValidForName => "Certificate name validation failed".into(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().map(|p| plain_name(p)).collect();
            let names = if names.is_empty() {
                "no name".to_string()
            } else {
                names.join(", ")
            };
            format!(
                "Certificate name validation failed (the certificate is for {names}, not {})",
                expected.to_str()
            )
        }
        C::Expired => verify("the certificate has expired"),
        C::ExpiredContext { not_after, .. } => verify(&format!(
            "the certificate expired on {}",
            crate::api::timefmt::rfc3339(i64::try_from(not_after.as_secs()).unwrap_or(i64::MAX))
        )),
        C::NotValidYet | C::NotValidYetContext { .. } => verify("the certificate is not valid yet"),
        C::UnknownIssuer => verify("unknown certificate authority, or a self-signed certificate"),
        C::BadSignature => verify("bad signature"),
        C::Revoked => verify("the certificate is revoked"),
        other => verify(&words(&format!("{other:?}"))),
    }
}

/// A name as rustls lists it (`DnsName("a.example")`, `IpAddress(..)`), without the wrapper.
fn plain_name(p: &str) -> String {
    let inner = match (p.find('('), p.strip_suffix(')')) {
        (Some(open), Some(body)) => &body[open + 1..],
        _ => p,
    };
    inner.trim_matches('"').to_string()
}

/// `HandshakeFailure` → `handshake failure`: an enum name in plain words.
fn words(name: &str) -> String {
    let name = name.split(['(', ' ', '{']).next().unwrap_or(name);
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

/// The TLS handshake on a connected socket, within the budget.
fn handshake(
    mut sock: TcpStream,
    tls: &Arc<ClientConfig>,
    name: ServerName<'static>,
    deadline: &Deadline<'_>,
) -> Result<Conn, OpenError> {
    let mut conn = ClientConnection::new(tls.clone(), name)
        .map_err(|e| OpenError::Local(format!("TLS set-up failed: {e}")))?;
    // A FIPS build sends nothing over a connection rustls does not report as FIPS (D16).
    if crate::crypto::FIPS_BUILD && !conn.fips() {
        return Err(OpenError::Local(
            "FIPS build, but this TLS connection is not in FIPS mode: refusing to connect".into(),
        ));
    }
    let mut looked = false;
    while conn.is_handshaking() {
        let Some(wait) = deadline.wait_or_last_look(&mut looked) else {
            return Err(OpenError::net("SSL handshake timed out", true));
        };
        set_slice(&sock, wait.slice).map_err(|e| OpenError::Local(crate::sys::strerror(&e)))?;
        match conn.complete_io(&mut sock) {
            Ok(_) => {}
            // rustls keeps its state across a timed-out read: wait for the next slice.
            Err(e) if wait_again(&e) => {}
            Err(e) => return Err(OpenError::net(tls_reason(&e), false)),
        }
    }
    Ok(Conn {
        tls: StreamOwned::new(conn, sock),
        buf: Vec::new(),
    })
}

/// TCP to the proxy and a CONNECT tunnel to the API host.
fn tunnel(
    p: &Proxy,
    target: &Target<'_>,
    deadline: &Deadline<'_>,
    phases: &mut Phases,
) -> Result<TcpStream, OpenError> {
    let s = tcp(&p.host, p.port, Hop::Proxy, deadline, phases).map_err(|e| match e {
        OpenError::Network { reason, .. } => {
            OpenError::net(format!("Proxy connection error: {reason}"), true)
        }
        local => local,
    })?;
    let started = Instant::now();
    let r = connect_through(s, p, target, deadline);
    phases.connect += started.elapsed();
    r
}

/// The CONNECT exchange with the proxy on `s`.
fn connect_through(
    mut s: TcpStream,
    p: &Proxy,
    target: &Target<'_>,
    deadline: &Deadline<'_>,
) -> Result<TcpStream, OpenError> {
    let req = proxy::connect_request(p, target.host, target.port, target.user_agent);
    let io_err = |e: std::io::Error| {
        if sys::is_local_error(&e) {
            OpenError::Local(crate::sys::strerror(&e))
        } else {
            OpenError::net("Proxy connection timed out", true)
        }
    };
    let mut looked = false;
    let mut sent = 0;
    while sent < req.len() {
        let Some(wait) = deadline.wait_or_last_look(&mut looked) else {
            return Err(OpenError::net("Proxy connection timed out", true));
        };
        set_slice(&s, wait.slice).map_err(io_err)?;
        match s.write(&req.as_bytes()[sent..]) {
            Ok(0) => return Err(OpenError::net("Proxy connection timed out", true)),
            Ok(n) => sent += n,
            Err(e) if wait_again(&e) => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    let mut looked = false;
    // Byte by byte, so nothing of the TLS stream that follows is consumed.
    while find(&reply, b"\r\n\r\n").is_none() && reply.len() < 4096 {
        let Some(wait) = deadline.wait_or_last_look(&mut looked) else {
            return Err(OpenError::net("Proxy connection timed out", true));
        };
        set_slice(&s, wait.slice).map_err(io_err)?;
        match s.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => reply.push(byte[0]),
            Err(e) if wait_again(&e) => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    // A proxy's 5xx says that it could not reach the service; any other refusal is an answer.
    proxy::check_reply(&reply).map_err(|(line, transient)| OpenError::Network {
        reason: format!("Proxy error: {line}"),
        transient,
        evidence: if transient {
            Evidence::Unreachable
        } else {
            Evidence::Answered
        },
    })?;
    Ok(s)
}

#[cfg(test)]
mod tls_reason_tests {
    use super::*;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::CertificateError as C;

    fn reason(e: rustls::Error) -> String {
        tls_reason(&std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn certificate_failures_use_the_reference_words() {
        let e = rustls::Error::InvalidCertificate(C::NotValidForNameContext {
            expected: ServerName::try_from("localhost").unwrap(),
            presented: vec!["DnsName(\"mockduo.wronghost\")".into()],
        });
        assert_eq!(
            reason(e),
            "Certificate name validation failed (the certificate is for mockduo.wronghost, not localhost)"
        );
        assert_eq!(
            reason(rustls::Error::InvalidCertificate(C::UnknownIssuer)),
            "certificate verify failed (unknown certificate authority, or a self-signed certificate)"
        );
        let expired = C::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_764_547_200)),
        };
        assert_eq!(
            reason(rustls::Error::InvalidCertificate(expired)),
            "certificate verify failed (the certificate expired on 2025-12-01T00:00:00Z)"
        );
        let alert = reason(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(
            alert,
            "TLS handshake failed (the server sent the alert \"handshake failure\")"
        );
        assert!(!alert.contains('{'), "{alert}");
    }
}
