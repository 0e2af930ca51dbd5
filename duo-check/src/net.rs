//! The checks that talk to Duo: network (name lookup, TCP, proxy), TLS (chain, name,
//! version, expiry, an intercepting proxy's CA), clock (`/auth/v2/ping`) and credentials (a
//! signed `/auth/v2/check`). Each step is bounded by `https_timeout` (30 s when unset), and a
//! step that fails stops the ones after it, so one API host costs at most four such bounds.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use duo::check::Deadline;
use duo::check::Problem as DuoProblem;
use duo::check::Proxy;
use duo::check::{CallError, Client, Method};
use duo::config::Config;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct};

use crate::der;
use crate::report::{Check, Level, Report};

/// Step bound when `https_timeout` is unset (the module's ping+preauth bound, §0a D4).
const DEFAULT_STEP_SECS: u64 = 30;
/// Warn when a certificate expires within this many days.
const EXPIRY_WARNING_DAYS: i64 = 30;
/// Warn past this clock difference, in seconds.
const CLOCK_WARNING_SECS: i64 = 60;
/// Duo rejects signed requests whose date is this far off, in seconds.
pub const CLOCK_ERROR_SECS: i64 = 300;
/// Longest single blocking read, so that deadlines are kept closely.
const SLICE: Duration = Duration::from_millis(250);

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// Split `host[:port]`.
fn split_host(h: &str) -> Result<(String, u16), String> {
    match h.split_once(':') {
        Some((name, port)) => port
            .parse::<u16>()
            .map(|p| (name.to_string(), p))
            .map_err(|_| format!("host = {h}: bad port '{port}'")),
        None => Ok((h.to_string(), 443)),
    }
}

/// Look `host` up within the deadline, on a helper thread that is left behind if the
/// resolver hangs (the process exits soon anyway).
fn lookup(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("lookup".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| format!("cannot start the lookup: {e}"))?;
    match rx.recv_timeout(left) {
        Ok(Ok(a)) if !a.is_empty() => Ok(a),
        Ok(Ok(_)) => Err("no address".into()),
        Ok(Err(e)) => Err(duo::sys::strerror(&e)),
        Err(_) => Err(format!("no answer within {} s", secs(left))),
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs_f64().round() as u64
}

/// Connect to the first address that answers; on failure, the reason for the last one.
fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<(TcpStream, SocketAddr), String> {
    let mut last = String::from("no address");
    for a in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{a}: no answer in time"));
        }
        match TcpStream::connect_timeout(a, left) {
            Ok(s) => return Ok((s, *a)),
            Err(e) => {
                last = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => format!("{a}: connection refused"),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                        format!("{a}: no answer within {} s", secs(left))
                    }
                    _ => format!("{a}: {}", duo::sys::strerror(&e)),
                }
            }
        }
    }
    Err(last)
}

/// A problem: finding and fix.
type Problem = (String, String);

/// Open TCP to the API host, directly or through the CONNECT proxy; a line saying how.
fn open(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    deadline: Instant,
) -> Result<(TcpStream, String), Problem> {
    let Some(p) = proxy else {
        let t = Instant::now();
        let addrs = lookup(host, port, deadline).map_err(|e| {
            (
                format!("cannot look up {host}: {e} (after {})", ms(t.elapsed())),
                "check host = (the API hostname of your integration) and the DNS servers in /etc/resolv.conf; without outside DNS, set http_proxy".to_string(),
            )
        })?;
        let looked = if host.parse::<IpAddr>().is_ok() {
            format!("{host} is an address (no lookup)")
        } else {
            format!(
                "{host} resolved to {} in {}",
                addrs[0].ip(),
                ms(t.elapsed())
            )
        };
        let t = Instant::now();
        let (s, a) = connect(&addrs, deadline).map_err(|e| {
            (
                format!("{looked}; TCP connect failed: {e} (after {})", ms(t.elapsed())),
                format!("allow outbound TCP to {host} port {port} in the firewall, or set http_proxy to your web proxy"),
            )
        })?;
        return Ok((
            s,
            format!("{looked}; TCP connect to {a} in {}", ms(t.elapsed())),
        ));
    };
    let at = format!("{}:{}", p.host, p.port);
    let t = Instant::now();
    let fix_proxy = "check http_proxy = (host and port of your web proxy)".to_string();
    let addrs = lookup(&p.host, p.port, deadline).map_err(|e| {
        (
            format!("cannot look up the proxy {}: {e}", p.host),
            fix_proxy.clone(),
        )
    })?;
    let (mut s, _) = connect(&addrs, deadline).map_err(|e| {
        (
            format!("cannot reach the proxy {at}: {e}"),
            fix_proxy.clone(),
        )
    })?;
    let reached = ms(t.elapsed());
    let t = Instant::now();
    let ua = format!("duo-check/{}", duo::VERSION);
    let req = duo::check::proxy_connect_request(p, host, port, &ua);
    let timeout = || {
        (
            format!("the proxy {at} did not answer CONNECT {host}:{port} in time"),
            "check the proxy, or that it allows CONNECT to port 443".to_string(),
        )
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timeout());
    }
    let _ = s.set_write_timeout(Some(left));
    s.write_all(req.as_bytes()).map_err(|_| timeout())?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") && reply.len() < 4096 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout());
        }
        let _ = s.set_read_timeout(Some(left.min(SLICE)));
        match s.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => reply.push(byte[0]),
            Err(e) if wait_again(&e) => {}
            Err(_) => break,
        }
    }
    match duo::check::check_proxy_reply(&reply) {
        Ok(()) => Ok((
            s,
            format!(
                "through the proxy {at} (reached in {reached}); CONNECT {host}:{port} answered 200 in {} (the proxy looks {host} up)",
                ms(t.elapsed())
            ),
        )),
        Err((line, _)) if line.contains(" 407") => Err((
            format!("the proxy {at} answered CONNECT {host}:{port} with '{line}': it wants credentials{}", if p.credentials.is_some() { " and refused the ones in http_proxy" } else { "" }),
            "set http_proxy = http://user:password@proxy:port in the config, or let this host CONNECT to Duo without authentication".to_string(),
        )),
        Err((line, _)) => Err((
            format!(
                "the proxy {at} refused CONNECT {host}:{port}: '{}'",
                if line.is_empty() { "no reply" } else { &line }
            ),
            format!("allow CONNECT to {host}:{port} on the proxy"),
        )),
    }
}

/// What is wrong with a proxy on this host (docs/BEHAVIOUR.md §0a D15): for each address of
/// the proxy that is on this host, a listener owned by an ordinary user (logins refuse it), or
/// no listener at all (any local user could take the port). Nothing for a proxy elsewhere, or
/// when the name does not resolve (the network check reports that).
fn local_proxy_problems(p: &Proxy, deadline: Instant) -> Vec<Problem> {
    use duo::check::{is_on_this_host, listener_owners, trusted_owner, SYS_UID_MAX};
    let Ok(addrs) = lookup(&p.host, p.port, deadline) else {
        return Vec::new();
    };
    let fix = format!(
        "run the proxy as root or as a system account (uid {SYS_UID_MAX} or below), listening on every address that {} resolves to, or set http_proxy to an address it listens on",
        p.host
    );
    let mut out = Vec::new();
    for a in addrs {
        match is_on_this_host(a.ip()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                out.push((
                    format!("cannot list this host's addresses to check the proxy {a}: {e}"),
                    fix.clone(),
                ));
                continue;
            }
        }
        match listener_owners(a) {
            Ok(owners) if owners.is_empty() => out.push((
                format!(
                    "nothing listens on {a}, an address of the proxy {} on this host: any local user could listen there (logins pass over an address served by an ordinary user)",
                    p.host
                ),
                fix.clone(),
            )),
            Ok(owners) => {
                let bad: Vec<String> = owners
                    .iter()
                    .filter(|u| !trusted_owner(**u))
                    .map(|u| match duo::sys::getpwuid(duo::sys::Uid(*u)) {
                        Some(pw) => format!("uid {u} ({})", pw.name),
                        None => format!("uid {u}"),
                    })
                    .collect();
                if !bad.is_empty() {
                    out.push((
                        format!(
                            "the proxy at {a} on this host is served by {}, not by root or a system account: logins refuse it (Error in Duo login)",
                            bad.join(", ")
                        ),
                        fix.clone(),
                    ));
                }
            }
            Err(e) => out.push((
                format!("cannot tell who serves the proxy at {a}: {e}"),
                fix.clone(),
            )),
        }
    }
    out
}

fn wait_again(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::Interrupted
    )
}

/// Counts the bytes the server sent, to tell a silent server from a slow handshake.
struct Counting<'a> {
    s: &'a mut TcpStream,
    got: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.s.read(buf)?;
        self.got += n;
        Ok(n)
    }
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.s.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.s.flush()
    }
}

/// Why a handshake failed.
enum HsError {
    /// Not one byte from the server before the deadline.
    Silent,
    /// The deadline passed mid-handshake.
    Timeout,
    /// The certificate was refused.
    Cert(CertificateError),
    /// Anything else.
    Other(String),
}

/// Run a TLS handshake on `sock` within the deadline.
fn handshake(
    mut sock: TcpStream,
    host: &str,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<ClientConnection, HsError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| HsError::Other(format!("'{host}' is not a valid host name")))?;
    let mut conn =
        ClientConnection::new(config, name).map_err(|e| HsError::Other(e.to_string()))?;
    let mut io = Counting {
        s: &mut sock,
        got: 0,
    };
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(if io.got == 0 {
                HsError::Silent
            } else {
                HsError::Timeout
            });
        }
        let _ = io.s.set_read_timeout(Some(left.min(SLICE)));
        let _ = io.s.set_write_timeout(Some(left));
        match conn.complete_io(&mut io) {
            Ok(_) => {}
            Err(e) if wait_again(&e) => {}
            Err(e) => {
                return Err(
                    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                        Some(rustls::Error::InvalidCertificate(c)) => HsError::Cert(c.clone()),
                        Some(other) => HsError::Other(other.to_string()),
                        None if e.kind() == std::io::ErrorKind::UnexpectedEof => HsError::Other(
                            "the server closed the connection during the handshake".into(),
                        ),
                        None => HsError::Other(duo::sys::strerror(&e)),
                    },
                )
            }
        }
    }
    Ok(conn)
}

/// Records the chain the server presents and trusts nothing: used only to describe a chain
/// that failed verification. The handshake it is used in always fails.
#[derive(Debug)]
struct Recorder {
    seen: Arc<Mutex<Vec<CertificateDer<'static>>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut v) = self.seen.lock() {
            v.push(end_entity.clone().into_owned());
            v.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        Err(rustls::Error::General("chain recorded, not trusted".into()))
    }

    fn verify_tls12_signature(
        &self,
        _m: &[u8],
        _c: &CertificateDer<'_>,
        _d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not trusted".into()))
    }

    fn verify_tls13_signature(
        &self,
        _m: &[u8],
        _c: &CertificateDer<'_>,
        _d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not trusted".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The chain the server presents, fetched over a fresh connection without trusting it.
fn record_chain(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    deadline: Instant,
) -> Vec<der::CertInfo> {
    let Ok((sock, _)) = open(host, port, proxy, deadline) else {
        return Vec::new();
    };
    let provider = duo::crypto::provider();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let Ok(builder) = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    else {
        return Vec::new();
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recorder {
            seen: seen.clone(),
            provider,
        }))
        .with_no_client_auth();
    let _ = handshake(sock, host, Arc::new(config), deadline);
    let certs = seen.lock().map(|v| v.clone()).unwrap_or_default();
    certs
        .iter()
        .filter_map(|c| der::parse(c.as_ref()).ok())
        .collect()
}

/// `expires 2027-01-01 (in 400 days)` or `expired on 2020-01-01 (2100 days ago)`.
fn expiry(c: &der::CertInfo, now: i64) -> String {
    if c.not_after < now {
        let ago = (now - c.not_after) / 86_400;
        format!("expired on {} ({ago} days ago)", der::date(c.not_after))
    } else {
        let days = (c.not_after - now) / 86_400;
        format!("expires {} (in {days} days)", der::date(c.not_after))
    }
}

/// All four network checks for one API host; `files` names the config files it comes from.
pub fn check(report: &mut Report, subject: &str, files: &str, cfg: &Config) {
    let step = Duration::from_secs(cfg.https_timeout.map_or(DEFAULT_STEP_SECS, u64::from));
    let later = |report: &mut Report, checks: &[Check], why: &str, first: &str| {
        for &c in checks {
            report.add(
                c,
                Level::Warning,
                subject,
                format!("not checked: {why}"),
                format!("fix the {first} error first"),
            );
        }
    };
    let (host, port) = match split_host(&cfg.host) {
        Ok(hp) => hp,
        Err(e) => {
            report.add(
                Check::Network,
                Level::Error,
                subject,
                e,
                "set host = to the API hostname of your integration (api-XXXXXXXX.duosecurity.com)",
            );
            later(
                report,
                &[Check::Tls, Check::Clock, Check::Credentials],
                "the host is unusable",
                "network",
            );
            return;
        }
    };
    let proxy = match cfg
        .http_proxy
        .as_deref()
        .map(|p| duo::check::parse_proxy(p))
    {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            report.add(
                Check::Network,
                Level::Error,
                subject,
                format!("http_proxy is unusable: {e}"),
                "set http_proxy = http://[user:password@]host:port",
            );
            later(
                report,
                &[Check::Tls, Check::Clock, Check::Credentials],
                "the proxy is unusable",
                "network",
            );
            return;
        }
    };
    let all_later = [Check::Tls, Check::Clock, Check::Credentials];

    // A proxy on this host must be served by root or a system account (D15).
    if let Some(p) = &proxy {
        for (finding, fix) in local_proxy_problems(p, Instant::now() + step) {
            report.add(Check::Network, Level::Warning, subject, finding, fix);
        }
    }

    // Network.
    let sock = match open(&host, port, proxy.as_ref(), Instant::now() + step) {
        Ok((s, how)) => {
            report.ok(Check::Network, subject, how);
            s
        }
        Err((finding, fix)) => {
            report.add(Check::Network, Level::Error, subject, finding, fix);
            later(report, &all_later, "Duo could not be reached", "network");
            return;
        }
    };

    // TLS.
    let trust = match &cfg.cafile {
        Some(f) => format!("the CA certificates in cafile {}", f.as_str()),
        None => "Duo's 15 pinned root CAs".to_string(),
    };
    let tls = match duo::check::client_config(cfg) {
        Ok(t) => t,
        Err(e) => {
            report.add(
                Check::Tls,
                Level::Error,
                subject,
                format!("cannot load the trusted certificates: {e}"),
                "set cafile = to a readable PEM file of CA certificates, or remove it to use Duo's pinned roots",
            );
            later(
                report,
                &[Check::Clock, Check::Credentials],
                "no TLS configuration",
                "tls",
            );
            return;
        }
    };
    let deadline = Instant::now() + step;
    let now = unix_now();
    match handshake(sock, &host, tls, deadline) {
        Ok(conn) => tls_ok(report, subject, cfg, &trust, &conn, now),
        Err(e) => {
            let (check, finding, fix) = match e {
                HsError::Silent => (
                    Check::Network,
                    format!("TCP connected, but the server sent nothing within {} s of the TLS handshake", secs(step)),
                    "something other than Duo's API holds this port, or a middlebox swallows the traffic: check host = and the firewall".to_string(),
                ),
                HsError::Timeout => (
                    Check::Tls,
                    format!("the TLS handshake did not finish within {} s", secs(step)),
                    "check host = and the network path (an inspecting middlebox?)".to_string(),
                ),
                HsError::Other(t) => (
                    Check::Tls,
                    format!("TLS handshake failed: {t}"),
                    "check host = and the port: Duo speaks TLS 1.2 or 1.3; an intercepting proxy may offer only old versions".to_string(),
                ),
                HsError::Cert(c) => {
                    let chain = record_chain(&host, port, proxy.as_ref(), deadline);
                    let (f, x) = cert_problem(&c, &host, &trust, &chain, now);
                    (Check::Tls, f, x)
                }
            };
            report.add(check, Level::Error, subject, finding, fix);
            if check == Check::Network {
                later(report, &all_later, "the server never answered", "network");
            } else {
                later(
                    report,
                    &[Check::Clock, Check::Credentials],
                    "no trusted TLS connection",
                    "tls",
                );
            }
            return;
        }
    }

    // Clock, then credentials on the same handle with the server's time offset applied.
    let mut client = match Client::open(cfg, "duo-check") {
        Ok(c) => c,
        Err(e) => {
            report.add(
                Check::Clock,
                Level::Error,
                subject,
                format!("cannot open a Duo API handle: {e}"),
                "fix the config",
            );
            later(report, &[Check::Credentials], "no API handle", "clock");
            return;
        }
    };
    let sent = Instant::now();
    let budget = Deadline::new(step);
    let offset = match client.call(
        Method::Get,
        "/auth/v2/ping",
        &[],
        &budget,
        Some(step),
        &mut |_| {},
    ) {
        Ok(body) => {
            let rtt = sent.elapsed();
            let time = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["response"]["time"].as_i64());
            match time {
                Some(server) => {
                    let offset = server - unix_now();
                    clock_finding(report, subject, offset, rtt);
                    offset
                }
                None => {
                    report.add(
                        Check::Clock,
                        Level::Error,
                        subject,
                        "the answer to GET /auth/v2/ping has no response.time: this is not Duo's Auth API",
                        "check host =",
                    );
                    0
                }
            }
        }
        Err(CallError::Unauthorized) => {
            report.add(
                Check::Clock,
                Level::Warning,
                subject,
                "Duo refused the signed ping (HTTP 401), so its time is unknown; see the credentials check",
                "fix the credentials error first",
            );
            0
        }
        Err(e) => {
            let connect = matches!(e, CallError::Connect { .. });
            let text = e.to_string();
            report.add(
                Check::Clock,
                Level::Error,
                subject,
                if connect && text.contains("timed out") {
                    format!(
                        "no answer to GET /auth/v2/ping within {} s ({text})",
                        secs(step)
                    )
                } else {
                    format!("GET /auth/v2/ping failed: {text}")
                },
                "check that host = names Duo's API and that nothing between holds the connection",
            );
            if connect {
                later(report, &[Check::Credentials], "Duo did not answer", "clock");
                return;
            }
            0
        }
    };
    client.set_time_offset(offset);
    let fix_keys = format!(
        "copy the integration key, secret key and API hostname of one Duo Auth API (UNIX) integration from the Duo Admin Panel into {files}"
    );
    let budget = Deadline::new(step);
    match client.call(
        Method::Get,
        "/auth/v2/check",
        &[],
        &budget,
        Some(step),
        &mut |_| {},
    ) {
        Ok(body) => match duo::check::envelope(&body) {
            Ok(_) => report.ok(
                Check::Credentials,
                subject,
                "Duo accepted a signed GET /auth/v2/check: ikey, skey and host belong together",
            ),
            Err(p) => report.add(
                Check::Credentials,
                Level::Error,
                subject,
                format!("unexpected answer to GET /auth/v2/check: {}", problem_text(&p)),
                fix_keys,
            ),
        },
        Err(CallError::Unauthorized) => report.add(
            Check::Credentials,
            Level::Error,
            subject,
            "Duo answered HTTP 401 to a signed GET /auth/v2/check: wrong ikey/skey, or this integration is not for this API host",
            fix_keys,
        ),
        Err(e) => report.add(
            Check::Credentials,
            Level::Error,
            subject,
            format!("GET /auth/v2/check failed: {e}"),
            fix_keys,
        ),
    }
}

/// The text of a problem.
fn problem_text(p: &DuoProblem) -> &str {
    match p {
        DuoProblem::Service(t)
        | DuoProblem::Abort(t)
        | DuoProblem::Fail(t)
        | DuoProblem::Local(t) => t,
    }
}

/// The clock finding for a server-minus-local offset in seconds.
fn clock_finding(report: &mut Report, subject: &str, offset: i64, rtt: Duration) {
    let abs = offset.abs();
    let side = if offset > 0 { "behind" } else { "ahead of" };
    let level = if abs > CLOCK_ERROR_SECS {
        Level::Error
    } else if abs > CLOCK_WARNING_SECS {
        Level::Warning
    } else {
        Level::Ok
    };
    let finding = if level == Level::Ok {
        format!(
            "this host's clock and Duo's agree within {abs} s (round trip {})",
            ms(rtt)
        )
    } else {
        format!(
            "this host's clock is {abs} s {side} Duo's{}",
            if level == Level::Error {
                format!(", past the {CLOCK_ERROR_SECS} s at which Duo rejects signed requests (pam_duo and login_duo correct for it only after a ping)")
            } else {
                format!(" (Duo rejects signed requests past {CLOCK_ERROR_SECS} s)")
            }
        )
    };
    report.add(
        Check::Clock,
        level,
        subject,
        finding,
        "set the clock and keep it set: enable NTP (timedatectl set-ntp true, or chronyd/ntpd)",
    );
}

/// The TLS finding for a verified (or, with noverify, unverified) handshake.
fn tls_ok(
    report: &mut Report,
    subject: &str,
    cfg: &Config,
    trust: &str,
    conn: &ClientConnection,
    now: i64,
) {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "TLS".to_string(),
    };
    let chain: Vec<der::CertInfo> = conn
        .peer_certificates()
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| der::parse(c.as_ref()).ok())
        .collect();
    let (level, finding, fix) = tls_summary(&version, &chain, cfg.noverify, trust, now);
    report.add(Check::Tls, level, subject, finding, fix);
}

/// Level, finding and fix for the chain a completed handshake presented: the leaf's and the
/// intermediates' expiry (a warning within [`EXPIRY_WARNING_DAYS`]), or noverify.
fn tls_summary(
    version: &str,
    chain: &[der::CertInfo],
    noverify: bool,
    trust: &str,
    now: i64,
) -> (Level, String, String) {
    let Some(leaf) = chain.first() else {
        return (
            Level::Warning,
            format!("{version}, but the server's certificate could not be read"),
            "check host =".into(),
        );
    };
    let mut line = if noverify {
        format!(
            "{version}; NOT verified (noverify): the host sees {}, issued by {}, {}",
            leaf.subject,
            leaf.issuer,
            expiry(leaf, now)
        )
    } else {
        format!(
            "{version}; verified against {trust} for {}, issued by {}, {}",
            leaf.subject,
            leaf.issuer,
            expiry(leaf, now)
        )
    };
    // Roots the server sends along are not part of what it proves; intermediates are.
    let intermediates: Vec<&der::CertInfo> =
        chain.iter().skip(1).filter(|c| !c.self_issued()).collect();
    if let Some(first) = intermediates.iter().min_by_key(|c| c.not_after) {
        line.push_str(&format!(
            "; intermediate {} {}",
            first.subject,
            expiry(first, now)
        ));
    }
    let soonest = std::iter::once(leaf)
        .chain(intermediates.iter().copied())
        .min_by_key(|c| c.not_after)
        .unwrap_or(leaf);
    if noverify {
        (
            Level::Warning,
            line,
            "remove noverify; set cafile to your CA if Duo is reached through an inspecting proxy"
                .into(),
        )
    } else if soonest.not_after - now < EXPIRY_WARNING_DAYS * 86_400 {
        let which = if std::ptr::eq(soonest, leaf) {
            "the server's certificate"
        } else {
            "an intermediate certificate"
        };
        (
            Level::Warning,
            format!("{line}: {which} expires within {EXPIRY_WARNING_DAYS} days"),
            "if it is your proxy's or your own CA's, renew it now; if it is Duo's, the host may be seeing an old chain (check host = and the network path)".into(),
        )
    } else {
        (Level::Ok, line, String::new())
    }
}

/// Finding and fix for a refused certificate, with the chain the host sees.
fn cert_problem(
    e: &CertificateError,
    host: &str,
    trust: &str,
    chain: &[der::CertInfo],
    now: i64,
) -> Problem {
    let seen = match chain.first() {
        Some(leaf) => format!(
            "the host sees {}, issued by {}{}, {}",
            leaf.subject,
            leaf.issuer,
            if leaf.self_issued() {
                " (self-signed)"
            } else {
                ""
            },
            expiry(leaf, now)
        ),
        None => "the certificate could not be fetched again to describe it".to_string(),
    };
    let check_clock = "if this host's date is right, the server (or a proxy in between) presents an outdated certificate: check host = and the network path";
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            format!("certificate expired: {seen}"),
            check_clock.to_string(),
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
            format!("certificate not valid yet: {seen}"),
            "check this host's date (timedatectl); set the clock with NTP".to_string(),
        ),
        CertificateError::UnknownIssuer => (
            format!(
                "certificate not issued by {trust}: {seen}; a TLS-intercepting proxy or firewall between this host and {host} is the usual cause"
            ),
            format!(
                "exempt {host} from TLS inspection, or set cafile = to that proxy's CA certificate (PEM); also check host ="
            ),
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            format!("certificate not valid for {host}: {seen}"),
            "check host = (the API hostname of your integration); an intercepting proxy may present its own certificate".to_string(),
        ),
        other => (
            format!("certificate verify failed ({other:?}): {seen}"),
            "check host = and the network path".to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(
            split_host("api-x.duosecurity.com").unwrap(),
            ("api-x.duosecurity.com".into(), 443)
        );
        assert_eq!(
            split_host("127.0.0.1:8443").unwrap(),
            ("127.0.0.1".into(), 8443)
        );
        assert!(split_host("h:99999").is_err());
        assert!(split_host("h:").is_err());
    }

    #[test]
    fn clock_levels() {
        for (off, level) in [
            (0, Level::Ok),
            (-60, Level::Ok),
            (61, Level::Warning),
            (-300, Level::Warning),
            (301, Level::Error),
            (-600, Level::Error),
        ] {
            let mut r = Report::default();
            clock_finding(&mut r, "h", off, Duration::from_millis(3));
            assert_eq!(r.worst(), level, "{off}");
            let f = &r.findings()[0].finding;
            if off > 60 {
                assert!(f.contains("behind"), "{f}");
            } else if off < -60 {
                assert!(f.contains("ahead of"), "{f}");
            }
        }
    }

    #[test]
    fn expiry_of_leaf_and_intermediates() {
        let day = 86_400;
        let now = 1_800_000_000;
        let cert = |s: &str, i: &str, days: i64| der::CertInfo {
            subject: format!("CN={s}"),
            issuer: format!("CN={i}"),
            not_after: now + days * day + 60,
        };
        let (l, f, _) = tls_summary(
            "TLS 1.3",
            &[
                cert("api", "Inter", 400),
                cert("Inter", "Root", 900),
                cert("Root", "Root", 1),
            ],
            false,
            "Duo's 15 pinned root CAs",
            now,
        );
        assert_eq!(l, Level::Ok, "a root sent along does not count: {f}");
        assert!(f.starts_with("TLS 1.3; verified against Duo's 15 pinned root CAs for CN=api, issued by CN=Inter, expires "), "{f}");
        assert!(
            f.contains("(in 400 days); intermediate CN=Inter expires "),
            "{f}"
        );
        let (l, f, _) = tls_summary(
            "TLS 1.2",
            &[cert("api", "Inter", 400), cert("Inter", "Root", 29)],
            false,
            "t",
            now,
        );
        assert_eq!(l, Level::Warning);
        assert!(
            f.ends_with("(in 29 days): an intermediate certificate expires within 30 days"),
            "{f}"
        );
        let (l, f, _) = tls_summary("TLS 1.3", &[cert("api", "Inter", 3)], false, "t", now);
        assert_eq!(l, Level::Warning);
        assert!(
            f.ends_with("the server's certificate expires within 30 days"),
            "{f}"
        );
        let (l, f, fix) = tls_summary("TLS 1.3", &[cert("api", "Inter", 300)], true, "t", now);
        assert_eq!(l, Level::Warning);
        assert!(
            f.contains("NOT verified (noverify): the host sees CN=api"),
            "{f}"
        );
        assert!(fix.starts_with("remove noverify"));
        assert_eq!(
            tls_summary("TLS 1.3", &[], false, "t", now).0,
            Level::Warning
        );
    }

    #[test]
    fn expiry_wording() {
        let c = der::CertInfo {
            subject: "CN=x".into(),
            issuer: "CN=y".into(),
            not_after: 1_577_836_800,
        };
        assert_eq!(
            expiry(&c, 1_577_836_800 - 86_400 * 10),
            "expires 2020-01-01 (in 10 days)"
        );
        assert_eq!(
            expiry(&c, 1_577_836_800 + 86_400 * 3 + 5),
            "expired on 2020-01-01 (3 days ago)"
        );
    }

    #[test]
    fn a_refused_port_is_quick_and_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let start = Instant::now();
        let e = open(
            "127.0.0.1",
            port,
            None,
            Instant::now() + Duration::from_secs(5),
        )
        .err()
        .unwrap();
        assert!(e.0.contains("connection refused"), "{e:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
