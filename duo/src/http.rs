//! A small HTTP/1.1 client over one TLS connection with keep-alive (SPEC §1.7, §1.8), where
//! every wait is bounded by a deadline (§0a D4).
//!
//! Writes go through `std::net::TcpStream`, which sends with `MSG_NOSIGNAL` on Linux, so a
//! closed peer never raises SIGPIPE in the host process.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::deadline::Deadline;
use crate::phases::Phases;
use crate::proxy::{self, Proxy};
use crate::sys;

/// Largest response body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Largest response header block accepted.
const MAX_HEADERS: usize = 64 << 10;
/// Bound of one TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection could not be opened. Where the failure came from is part of the type:
/// only [`OpenError::Network`] is evidence that the Duo service could not be reached
/// (docs/BEHAVIOUR.md §0a D11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Something on the way to the service failed: name lookup, connect, proxy, TLS.
    Network {
        /// Reason text (goes after `Couldn't connect to <host>: `).
        reason: String,
        /// Timeouts and proxy 5xx: worth a retry after a pause.
        transient: bool,
        /// The service could not be reached at the network level: the name did not resolve,
        /// the connect was refused or unanswered, the TLS handshake failed, silence, or a
        /// proxy that could not reach it (5xx). False when a proxy answered otherwise (e.g.
        /// 407). Only this may open the outage window (`crate::outage`).
        unreachable: bool,
    },
    /// This machine could not even try: descriptors, memory, threads, an internal error.
    Local(String),
}

impl OpenError {
    fn net(reason: impl Into<String>, transient: bool) -> OpenError {
        OpenError::Network {
            reason: reason.into(),
            transient,
            unreachable: true,
        }
    }
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lowercased) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The server asked to close the connection.
    pub close: bool,
}

impl Response {
    /// First header of that (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where to connect.
pub struct Target<'a> {
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
/// short-lived thread that is joined when it answers in time; if the budget runs out first the
/// thread is left to finish its `getaddrinfo` on its own (bounded by the resolver's timeouts;
/// the PAM module is never unloaded, so that is safe) and the lookup fails with a timeout.
/// Failing to start the thread is a local failure.
fn resolve(host: &str, port: u16, deadline: &Deadline<'_>) -> Result<Vec<SocketAddr>, OpenError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    sys::headroom().map_err(OpenError::Local)?;
    if deadline.expired() {
        return Err(timed_out());
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    let worker = std::thread::Builder::new()
        .name("duo-dns".into())
        .stack_size(RESOLVER_STACK)
        .spawn(move || {
            let _ = tx.send(sys::lookup(&name, port));
        })
        .map_err(|e| {
            OpenError::Local(format!(
                "cannot start resolver: {}",
                crate::sys::strerror(&e)
            ))
        })?;
    let mut looked = false;
    while let Some(wait) = deadline.wait_or_last_look(&mut looked) {
        match rx.recv_timeout(wait.slice) {
            Ok(r) => {
                let _ = worker.join();
                return r.map_err(|e| match e {
                    sys::LookupError::Network(t) => OpenError::net(t, false),
                    sys::LookupError::Local(t) => OpenError::Local(t),
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(OpenError::Local("resolver thread failed".into()))
            }
        }
    }
    Err(timed_out())
}

/// Look `host` up and connect TCP to the first address that answers, each try bounded by
/// [`CONNECT_TIMEOUT`] and all of them by the budget. The time of each step is added to
/// `phases`, failures included.
fn tcp(
    host: &str,
    port: u16,
    deadline: &Deadline<'_>,
    phases: &mut Phases,
) -> Result<TcpStream, OpenError> {
    let started = Instant::now();
    let addrs = resolve(host, port, deadline);
    phases.lookup += started.elapsed();
    let started = Instant::now();
    let r = connect(addrs?, deadline);
    phases.connect += started.elapsed();
    r
}

/// Connect TCP to the first of `addrs` that answers, each try bounded by [`CONNECT_TIMEOUT`]
/// and all of them by the budget.
fn connect(addrs: Vec<SocketAddr>, deadline: &Deadline<'_>) -> Result<TcpStream, OpenError> {
    let mut timed_out_last = false;
    for addr in addrs {
        let this = deadline.within(Some(CONNECT_TIMEOUT));
        let mut pending = match sys::Connecting::start(&addr) {
            Ok(c) => c,
            Err(e) if sys::is_local_error(&e) => {
                return Err(OpenError::Local(format!(
                    "cannot connect: {}",
                    crate::sys::strerror(&e)
                )))
            }
            Err(_) => {
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
            Some(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Some(Err(e)) if sys::is_local_error(&e) => {
                return Err(OpenError::Local(format!(
                    "cannot connect: {}",
                    crate::sys::strerror(&e)
                )))
            }
            Some(Err(_)) => timed_out_last = false,
            None => timed_out_last = true,
        }
        if deadline.expired() {
            break;
        }
    }
    Err(OpenError::net("Failed to connect", timed_out_last))
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
pub struct Conn {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// Open TCP (through the proxy if any) and complete the TLS handshake, all within the
    /// budget. SNI is always the API host. The time of the lookup, the connect and the
    /// handshake is added to `phases`, failures included.
    pub fn open(
        target: &Target<'_>,
        tls: &Arc<ClientConfig>,
        deadline: &Deadline<'_>,
        phases: &mut Phases,
    ) -> Result<Conn, OpenError> {
        let name = ServerName::try_from(target.host.to_string())
            .map_err(|_| OpenError::Local("invalid host name".into()))?;
        let sock = match target.proxy {
            None => tcp(target.host, target.port, deadline, phases)?,
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

    /// Send one request and read one response. Any error leaves the connection unusable.
    pub fn round_trip(
        &mut self,
        request: &[u8],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
    ) -> Result<Response, String> {
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                "Connection timed out".to_string()
            }
            std::io::ErrorKind::UnexpectedEof => "Connection closed".to_string(),
            _ => crate::sys::strerror(&e),
        };
        {
            // Sending a small request does not block unless the peer stopped reading; it is
            // charged like any other wait.
            let wait = deadline.wait();
            let slice = wait
                .as_ref()
                .map_or(crate::deadline::LAST_LOOK, |w| w.slice);
            set_slice(self.tls.get_ref(), slice).map_err(io)?;
            self.tls.write_all(request).map_err(io)?;
            self.tls.flush().map_err(io)?;
        }
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEADERS {
                return Err("response headers too large".into());
            }
            self.fill(deadline, per_wait).map_err(io)?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status: u16 = match (
            version.starts_with("HTTP/1."),
            parts.next().and_then(|s| s.parse().ok()),
        ) {
            (true, Some(s)) => s,
            _ => return Err("malformed HTTP status line".into()),
        };
        let mut headers = Vec::new();
        for l in lines.filter(|l| !l.is_empty()) {
            let Some((n, v)) = l.split_once(':') else {
                return Err("malformed HTTP header".into());
            };
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        self.buf.drain(..head_end);
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let chunked = get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            self.chunked(deadline, per_wait)
                .map_err(|e| e.unwrap_or_else(&io))?
        } else if let Some(len) = get("content-length") {
            let len: usize = len.parse().map_err(|_| "bad Content-Length".to_string())?;
            if len > MAX_BODY {
                return Err("response body too large".into());
            }
            self.exact(len, deadline, per_wait).map_err(io)?
        } else if (100..200).contains(&status) || status == 204 || status == 304 {
            Vec::new()
        } else {
            return Err("response without Content-Length".into());
        };
        let close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        Ok(Response {
            status,
            headers,
            body,
            close,
        })
    }

    /// Read some more of the response: wait at most `per_wait` (if given), within the budget,
    /// in slices, with one last look before a timeout.
    fn fill(&mut self, deadline: &Deadline<'_>, per_wait: Option<Duration>) -> std::io::Result<()> {
        let wait = deadline.within(per_wait);
        let mut looked = false;
        let mut chunk = [0u8; 8192];
        loop {
            let Some(slice) = wait.wait_or_last_look(&mut looked) else {
                return Err(std::io::ErrorKind::TimedOut.into());
            };
            set_slice(self.tls.get_ref(), slice.slice)?;
            match self.tls.read(&mut chunk) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if wait_again(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn exact(
        &mut self,
        len: usize,
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
    ) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < len {
            self.fill(deadline, per_wait)?;
        }
        Ok(self.buf.drain(..len).collect())
    }

    fn chunked(
        &mut self,
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
    ) -> Result<Vec<u8>, Result<String, std::io::Error>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                if self.buf.len() > 1024 {
                    return Err(Ok("malformed chunk".into()));
                }
                self.fill(deadline, per_wait).map_err(Err)?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| Ok("malformed chunk".to_string()))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Skip trailers up to the empty line.
                loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        self.buf.drain(..i + 2);
                        if i == 0 {
                            return Ok(body);
                        }
                        continue;
                    }
                    self.fill(deadline, per_wait).map_err(Err)?;
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(Ok("response body too large".into()));
            }
            let data = self.exact(size + 2, deadline, per_wait).map_err(Err)?;
            body.extend_from_slice(&data[..size]);
        }
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
            crate::timefmt::rfc3339(i64::try_from(not_after.as_secs()).unwrap_or(i64::MAX))
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
    let s = tcp(&p.host, p.port, deadline, phases).map_err(|e| match e {
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
        unreachable: transient,
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
