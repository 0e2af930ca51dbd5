//! A small HTTP/1.1 client over one TLS connection with keep-alive (SPEC §1.7, §1.8), where
//! every wait is bounded by a deadline (§0a D4).
//!
//! Writes go through `std::net::TcpStream`, which sends with `MSG_NOSIGNAL` on Linux, so a
//! closed peer never raises SIGPIPE in the host process.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::proxy::{self, Proxy};

/// Largest response body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Largest response header block accepted.
const MAX_HEADERS: usize = 64 << 10;
/// Bound of one TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection could not be opened, and whether trying again may help.
#[derive(Debug)]
pub struct OpenError {
    /// Reason text (goes after `Couldn't connect to <host>: `).
    pub reason: String,
    /// Timeouts and proxy 5xx: worth a retry after a pause.
    pub transient: bool,
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

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn timed_out() -> OpenError {
    OpenError {
        reason: "Connection timed out".into(),
        transient: true,
    }
}

/// Resolve `host:port`, bounded by the deadline. IP literals need no lookup; names are looked
/// up on a short-lived thread that is joined when it answers in time. If the deadline passes
/// first the thread is left to finish on its own (the PAM module is never unloaded, so that
/// is safe) and the lookup fails with a timeout.
fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, OpenError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let wait = remaining(deadline).ok_or_else(timed_out)?;
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    let worker = std::thread::Builder::new()
        .name("duo-dns".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| OpenError {
            reason: format!("cannot start resolver: {e}"),
            transient: false,
        })?;
    match rx.recv_timeout(wait) {
        Ok(r) => {
            let _ = worker.join();
            r.map_err(|e| OpenError {
                reason: crate::config::strerror(&e),
                transient: false,
            })
        }
        Err(_) => Err(timed_out()),
    }
}

/// Connect TCP to the first address that answers.
fn tcp(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, OpenError> {
    let mut last = None;
    for addr in resolve(host, port, deadline)? {
        let wait = remaining(deadline)
            .ok_or_else(timed_out)?
            .min(CONNECT_TIMEOUT);
        match TcpStream::connect_timeout(&addr, wait) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let transient = last.as_ref().is_some_and(|e| {
        matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        )
    });
    Err(OpenError {
        reason: "Failed to connect".into(),
        transient,
    })
}

/// Longest single blocking read. Socket timeouts run on the kernel's timer wheel, whose
/// granularity grows with the timeout (about 2 s for a 30 s timeout at HZ=250), so long waits
/// are taken in slices of at most this long: each overshoots by a few milliseconds at most.
const SLICE: Duration = Duration::from_millis(500);

/// Bound the next blocking read on `s` (one slice, never past `until`) and the next write
/// (until `until`). `Err(TimedOut)` once `until` has passed.
fn arm(s: &TcpStream, until: Instant) -> std::io::Result<()> {
    let left =
        remaining(until).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::TimedOut))?;
    s.set_read_timeout(Some(left.min(SLICE)))?;
    s.set_write_timeout(Some(left))
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
    /// deadline. SNI is always the API host.
    pub fn open(
        target: &Target<'_>,
        tls: &Arc<ClientConfig>,
        deadline: Instant,
    ) -> Result<Conn, OpenError> {
        let mut sock = match target.proxy {
            None => tcp(target.host, target.port, deadline)?,
            Some(p) => tunnel(p, target, deadline)?,
        };
        let name = ServerName::try_from(target.host.to_string()).map_err(|_| OpenError {
            reason: "invalid host name".into(),
            transient: false,
        })?;
        let mut conn = ClientConnection::new(tls.clone(), name).map_err(|e| OpenError {
            reason: e.to_string(),
            transient: false,
        })?;
        while conn.is_handshaking() {
            arm(&sock, deadline).map_err(|_| OpenError {
                reason: "SSL handshake timed out".into(),
                transient: true,
            })?;
            match conn.complete_io(&mut sock) {
                Ok(_) => {}
                // rustls keeps its state across a timed-out read: wait for the next slice.
                Err(e) if wait_again(&e) => {}
                Err(e) => {
                    return Err(OpenError {
                        reason: tls_reason(&e),
                        transient: false,
                    })
                }
            }
        }
        Ok(Conn {
            tls: StreamOwned::new(conn, sock),
            buf: Vec::new(),
        })
    }

    /// Send one request and read one response. Any error leaves the connection unusable.
    pub fn round_trip(
        &mut self,
        request: &[u8],
        deadline: Instant,
        per_wait: Option<Duration>,
    ) -> Result<Response, String> {
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                "Connection timed out".to_string()
            }
            std::io::ErrorKind::UnexpectedEof => "Connection closed".to_string(),
            _ => crate::config::strerror(&e),
        };
        arm(self.tls.get_ref(), deadline).map_err(io)?;
        self.tls.write_all(request).map_err(io)?;
        self.tls.flush().map_err(io)?;
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

    /// Read some more of the response: wait at most `per_wait` (if given), never past the
    /// deadline.
    fn fill(&mut self, deadline: Instant, per_wait: Option<Duration>) -> std::io::Result<()> {
        let until = per_wait.map_or(deadline, |w| deadline.min(Instant::now() + w));
        let mut chunk = [0u8; 8192];
        loop {
            arm(self.tls.get_ref(), until)?;
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
        deadline: Instant,
        per_wait: Option<Duration>,
    ) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < len {
            self.fill(deadline, per_wait)?;
        }
        Ok(self.buf.drain(..len).collect())
    }

    fn chunked(
        &mut self,
        deadline: Instant,
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

/// Text for a TLS failure; certificate problems say "certificate verify failed".
fn tls_reason(e: &std::io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => format!("certificate verify failed ({c})"),
        Some(other) => format!("TLS handshake failed ({other})"),
        None => format!("TLS handshake failed ({})", crate::config::strerror(e)),
    }
}

/// TCP to the proxy and a CONNECT tunnel to the API host.
fn tunnel(p: &Proxy, target: &Target<'_>, deadline: Instant) -> Result<TcpStream, OpenError> {
    let mut s = tcp(&p.host, p.port, deadline).map_err(|e| OpenError {
        reason: format!("Proxy connection error: {}", e.reason),
        transient: true,
    })?;
    let req = proxy::connect_request(p, target.host, target.port, target.user_agent);
    let io_err = |_| OpenError {
        reason: "Proxy connection timed out".into(),
        transient: true,
    };
    arm(&s, deadline).map_err(io_err)?;
    s.write_all(req.as_bytes()).map_err(io_err)?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing of the TLS stream that follows is consumed.
    while find(&reply, b"\r\n\r\n").is_none() && reply.len() < 4096 {
        arm(&s, deadline).map_err(io_err)?;
        match s.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => reply.push(byte[0]),
            Err(e) if wait_again(&e) => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    proxy::check_reply(&reply).map_err(|(line, transient)| OpenError {
        reason: format!("Proxy error: {line}"),
        transient,
    })?;
    Ok(s)
}
