//! The Duo API handle: signed requests over pinned TLS with transport retries, 429 backoff and
//! HTTP status classification (docs/BEHAVIOUR.md §1.5–§1.10, §2). The JSON envelope is left to the caller.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use zeroize::Zeroizing;

use crate::api::deadline::Deadline;
pub(crate) use crate::api::evidence::Evidence;
use crate::api::http::{Conn, OpenError, Response, Target};
use crate::api::phases::Phases;
use crate::api::proxy::Proxy;
use crate::config::Config;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET: parameters in the query string (always with `?`).
    Get,
    /// POST: parameters form-encoded in the body.
    Post,
}

/// Why an API call gave no usable reply (docs/BEHAVIOUR.md §1.9). Where the failure came
/// from is part of the type: only [`CallError::Connect`], [`CallError::Unauthorized`] and
/// [`CallError::Server`] say something about the service, and only they can lead to a
/// failmode verdict (§0a D11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No HTTP status could be obtained: name lookup, connect, proxy, TLS, timeout, framing.
    Connect {
        /// The whole `Couldn't connect to <host>: <reason>`.
        text: String,
        /// [`Evidence::Unreachable`] when the service could not be reached at the network level
        /// (name lookup, connect, TLS handshake, silence), as opposed to a connection closed
        /// mid-reply or a malformed reply ([`Evidence::None`]) or a proxy's refusal
        /// ([`Evidence::Answered`]). Only unreachability may open the outage window
        /// (`crate::flow::outage`).
        evidence: Evidence,
    },
    /// HTTP 401: wrong ikey or skey, or a bad signature.
    Unauthorized,
    /// HTTP 5xx.
    Server(u16),
    /// Any other status that is not 2xx, or a 429 that could not be waited out: stop and deny.
    Rejected(u16),
    /// This machine failed (descriptors, memory, threads, set-up): says nothing about the
    /// service.
    Local(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Connect { text: t, .. } | CallError::Local(t) => f.write_str(t),
            CallError::Unauthorized => f.write_str("Invalid ikey or skey"),
            CallError::Server(code) | CallError::Rejected(code) => write!(f, "HTTP {code}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Why an API handle could not be opened: a hard denial ("Couldn't open Duo API handle").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// The TLS configuration could not be built (`cafile`, a CA certificate); the text says
    /// why.
    Tls(String),
    /// The port in `host` is not a number from 0 to 65535.
    Port(String),
    /// `http_proxy` cannot be used.
    Proxy(crate::api::proxy::ProxyError),
}

impl std::fmt::Display for HandleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandleError::Tls(why) => f.write_str(why),
            HandleError::Port(host) => write!(f, "bad port in host '{host}'"),
            HandleError::Proxy(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for HandleError {}

impl CallError {
    /// What this failure shows about the service (for the outage window).
    pub fn evidence(&self) -> Evidence {
        match self {
            CallError::Connect { evidence, .. } => *evidence,
            CallError::Unauthorized | CallError::Server(_) | CallError::Rejected(_) => {
                Evidence::Answered
            }
            CallError::Local(_) => Evidence::None,
        }
    }
}

/// An open Duo API handle. One per login; the TLS connection is reused across calls.
pub struct Client {
    tls: Arc<ClientConfig>,
    /// `host[:port]` as configured, for error texts.
    host_conf: String,
    host: String,
    port: u16,
    proxy: Option<Proxy>,
    ikey: Zeroizing<String>,
    skey: Zeroizing<String>,
    user_agent: String,
    offset: i64,
    conn: Option<Conn>,
    phases: Phases,
}

/// Most transport attempts per call.
const ATTEMPTS: u32 = 3;
/// Most 429 retries per call.
const MAX_429_RETRIES: u32 = 7;
/// Longest 429 wait honoured, in seconds.
const MAX_429_WAIT: u64 = 32;
/// The reason text of a wait for the service that ran out (`crate::api::http`).
const TIMED_OUT: &str = "Connection timed out";

/// Whether a request to `path` may be sent again after it was written out. `/auth` starts a
/// push or a call: once the server may have read it, it is never resent (one push per login);
/// the other calls change nothing and are retried.
fn resendable(path: &str) -> bool {
    path != "/auth/v2/auth"
}

impl Client {
    /// Open a handle: build the TLS configuration (pinned roots, `cafile`, or `noverify` with
    /// its warning) and parse `http_proxy`. No network traffic yet. `program` is `pam_duo` or
    /// `login_duo` (User-Agent). An error here is a hard denial ("Couldn't open Duo API
    /// handle"); the string says why, for a debug line.
    pub fn open(cfg: &Config, program: &str) -> Result<Client, HandleError> {
        let tls = crate::api::tls::client_config(cfg).map_err(HandleError::Tls)?;
        let (host, port) = match cfg.host.split_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| HandleError::Port(cfg.host.to_string()))?,
            ),
            None => (cfg.host.as_str(), 443),
        };
        let proxy = cfg
            .http_proxy
            .as_deref()
            .map(|p| crate::api::proxy::parse(p))
            .transpose()
            .map_err(HandleError::Proxy)?;
        Ok(Client {
            tls,
            host_conf: cfg.host.to_string(),
            host: host.to_string(),
            port,
            proxy,
            ikey: cfg.ikey.clone(),
            skey: cfg.skey.clone(),
            user_agent: format!(
                "{program}/{v} ({t}) libduo/{v}",
                v = crate::VERSION,
                t = crate::HOST_TRIPLE
            ),
            offset: 0,
            conn: None,
            phases: Phases::default(),
        })
    }

    /// Where the time of this handle's calls went so far (for the auth event).
    pub fn phases(&self) -> &Phases {
        &self.phases
    }

    /// Set the server time offset in seconds, added to the local clock for `X-Duo-Date`.
    pub fn set_time_offset(&mut self, offset: i64) {
        self.offset = offset;
    }

    /// Send one signed request to `path` (e.g. `/auth/v2/preauth`) and return the body of a 2xx
    /// reply; other replies and failures are a [`CallError`] (docs/BEHAVIOUR.md §1.9). Every
    /// wait is charged to `deadline`; `per_wait` bounds each single wait for response data
    /// (`https_timeout`). 429 is retried as in §1.10 (at most 7 retries, never past the
    /// budget); before each pause `on_pause` is told its length in seconds, so that the flow
    /// can tell the user (the client itself never talks to the user).
    /// The time of the call, without the connection set-up it needed, is added to the phase
    /// of `path` in [`Client::phases`].
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
        on_pause: &mut dyn FnMut(u64),
    ) -> Result<Zeroizing<Vec<u8>>, CallError> {
        let started = Instant::now();
        let setup_before = self.phases.setup();
        let r = self.call_timed(method, path, params, deadline, per_wait, on_pause);
        let setup = self.phases.setup().saturating_sub(setup_before);
        self.phases
            .charge_call(path, started.elapsed().saturating_sub(setup));
        r
    }

    /// [`Client::call`] without its bookkeeping.
    fn call_timed(
        &mut self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
        on_pause: &mut dyn FnMut(u64),
    ) -> Result<Zeroizing<Vec<u8>>, CallError> {
        let qs = crate::api::sign::canonical_params(params);
        let mut backoff: u64 = 1;
        let mut retries = 0;
        loop {
            let request = self.request(method, path, &qs);
            let resp = self.exchange(&request, deadline, per_wait, resendable(path))?;
            if resp.status == 429 {
                let (wait, from_header) = match retry_after(&resp) {
                    Some(w) => (w, true),
                    None => (backoff, false),
                };
                let fits = Duration::from_secs(wait.saturating_add(1)) <= deadline.left();
                if wait > MAX_429_WAIT || retries >= MAX_429_RETRIES || !fits {
                    return Err(CallError::Rejected(429));
                }
                on_pause(wait);
                let paused = Instant::now();
                deadline.sleep(Duration::from_secs(wait) + jitter());
                self.phases.rate_limit_waits += 1;
                self.phases.rate_limit_wait += paused.elapsed();
                if !from_header {
                    backoff = backoff.saturating_mul(2);
                }
                retries += 1;
                continue;
            }
            return match resp.status {
                200..=299 => Ok(Zeroizing::new(resp.body)),
                401 => Err(CallError::Unauthorized),
                500..=599 => Err(CallError::Server(resp.status)),
                s => Err(CallError::Rejected(s)),
            };
        }
    }

    /// The exact request bytes of docs/BEHAVIOUR.md §1.7. Every copy of the parameters (which
    /// may hold a passcode) lives in wiped memory.
    fn request(&self, method: Method, path: &str, qs: &str) -> Zeroizing<Vec<u8>> {
        use std::io::Write;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let date = crate::api::timefmt::rfc2822(now.saturating_add(self.offset));
        let m = match method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let sig = crate::api::sign::signature(&self.skey, &date, m, &self.host, path, qs);
        let auth = crate::api::sign::authorization(&self.ikey, &sig);
        let mut r = Zeroizing::new(Vec::with_capacity(512 + 2 * qs.len()));
        // Writing into a Vec cannot fail.
        let _ = match method {
            Method::Get => write!(r, "GET {path}?{qs} HTTP/1.1\r\n"),
            Method::Post => write!(r, "POST {path} HTTP/1.1\r\n"),
        };
        let _ = if self.port == 443 {
            write!(r, "Host: {}\r\n", self.host)
        } else {
            write!(r, "Host: {}:{}\r\n", self.host, self.port)
        };
        let _ = write!(
            r,
            "User-Agent: {}\r\nX-Duo-Date: {date}\r\nAuthorization: {}\r\n",
            self.user_agent,
            auth.as_str()
        );
        let _ = if method == Method::Post {
            write!(
                r,
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{qs}",
                qs.len()
            )
        } else {
            write!(r, "\r\n")
        };
        r
    }

    /// Send with the transport retries of docs/BEHAVIOUR.md §1.10, within the budget. A
    /// request that is not `resend`able is retried only while it has not been written: a
    /// kept-alive connection the server closed is replaced before writing, and a failure once
    /// writing began (while writing, or waiting for the reply) ends the call, since the server
    /// may have read it.
    fn exchange(
        &mut self,
        request: &[u8],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
        resend: bool,
    ) -> Result<Response, CallError> {
        let fail = |reason: &str, evidence: Evidence| CallError::Connect {
            text: format!("Couldn't connect to {}: {reason}", self.host_conf),
            evidence,
        };
        let mut last = String::from(TIMED_OUT);
        // What `last` shows about the service (no try made yet: nothing).
        let mut evidence = Evidence::None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                self.phases.retries += 1;
            }
            if !resend && self.conn.as_ref().is_some_and(Conn::peer_closed) {
                self.conn = None;
            }
            if self.conn.is_none() {
                if deadline.expired() {
                    // The last real failure says more than "timed out" (e.g. a refused proxy).
                    return Err(fail(&last, evidence));
                }
                let target = Target {
                    host: &self.host,
                    port: self.port,
                    proxy: self.proxy.as_ref(),
                    user_agent: &self.user_agent,
                };
                match Conn::open(&target, &self.tls, deadline, &mut self.phases) {
                    Ok(c) => self.conn = Some(c),
                    Err(OpenError::Local(why)) => return Err(CallError::Local(why)),
                    Err(OpenError::Network {
                        reason,
                        transient: true,
                        evidence: e,
                    }) => {
                        last = reason;
                        evidence = e;
                        if attempt + 1 < ATTEMPTS {
                            deadline.sleep(Duration::from_secs(1 << attempt));
                        }
                        continue;
                    }
                    Err(OpenError::Network {
                        reason, evidence, ..
                    }) => return Err(fail(&reason, evidence)),
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            // A request is sent even when the budget ran out while the process was stopped
            // with a connection open: the reader makes its last look before timing out.
            match conn.round_trip(request, deadline, per_wait) {
                Ok(resp) => {
                    if resp.close {
                        self.conn = None;
                    }
                    return Ok(resp);
                }
                Err(reason) => {
                    self.conn = None;
                    // Silence after connecting is unreachability; a closed connection or a
                    // malformed reply is not.
                    evidence = if matches!(reason, crate::api::response::ReadError::TimedOut) {
                        Evidence::Unreachable
                    } else {
                        Evidence::None
                    };
                    last = reason.to_string();
                    if !resend {
                        // The server may have read it: sending it again could push twice.
                        return Err(fail(&last, evidence));
                    }
                }
            }
        }
        Err(fail(&last, evidence))
    }
}

/// Seconds to wait from `Retry-After` / `X-Retry-After`: digits (optionally signed) or an
/// HTTP date; anything else counts as absent. A wait in the past is 0; a number too large
/// for the arithmetic is returned as `u64::MAX` (the caller then gives up).
fn retry_after(resp: &Response) -> Option<u64> {
    let v = resp
        .header("retry-after")
        .or_else(|| resp.header("x-retry-after"))?
        .trim();
    let (negative, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if negative {
            return Some(0);
        }
        return Some(digits.parse::<u64>().unwrap_or(u64::MAX));
    }
    let at = crate::api::timefmt::parse_http_date(v)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Some(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
}

/// A random pause of 0–1 s.
fn jitter() -> Duration {
    let mut b = [0u8; 2];
    let _ = crate::crypto::fill_random(&mut b);
    Duration::from_millis(u64::from(u16::from_le_bytes(b)) % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> Response {
        Response {
            status: 429,
            headers: vec![(name.to_string(), value.to_string())],
            body: Vec::new(),
            close: false,
        }
    }

    #[test]
    fn a_written_auth_is_never_resent() {
        assert!(!resendable("/auth/v2/auth"));
        for p in [
            "/auth/v2/ping",
            "/auth/v2/preauth",
            "/auth/v2/auth_status",
            "/auth/v2/check",
        ] {
            assert!(resendable(p), "{p}");
        }
    }

    /// A scripted Duo service on 127.0.0.1 for the retry rule: a TLS server whose connections
    /// each do one thing from a list, and that records every request it read.
    mod server {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::path::PathBuf;
        use std::sync::{Arc, Mutex};
        use std::time::Duration;

        use rustls::{ServerConfig, ServerConnection, StreamOwned};
        use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

        /// What one connection does.
        #[derive(Clone, Copy, Debug)]
        pub(super) enum Then {
            /// Answer each request with 200 and keep the connection open.
            Answer,
            /// Answer the first request, then close the connection (an idle keep-alive the
            /// server ends).
            AnswerThenClose,
            /// Read the request, then close the connection without an answer.
            ReadThenClose,
            /// Read the request and say nothing for this long, then close.
            ReadThenSilent(Duration),
        }

        /// The running service.
        pub(super) struct Server {
            pub port: u16,
            /// The CA file that trusts it.
            pub ca: PathBuf,
            /// The path of every request it read, in order, with its connection's number.
            pub seen: Arc<Mutex<Vec<(usize, String)>>>,
            dir: PathBuf,
        }

        impl Drop for Server {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }

        /// Start a service whose n-th connection does `script[n]` (later ones are refused).
        pub(super) fn start(tag: &str, script: &[Then]) -> Server {
            let dir = std::env::temp_dir().join(format!("duo-client-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            let (config, ca_pem) = tls();
            let ca = dir.join("ca.pem");
            std::fs::write(&ca, ca_pem).expect("ca file");
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let script = script.to_vec();
            let log = seen.clone();
            std::thread::spawn(move || {
                for (n, then) in script.into_iter().enumerate() {
                    let Ok((sock, _)) = listener.accept() else {
                        return;
                    };
                    let (config, log) = (config.clone(), log.clone());
                    std::thread::spawn(move || serve(n, sock, config, then, &log));
                }
            });
            Server {
                port,
                ca,
                seen,
                dir,
            }
        }

        /// A CA and a server certificate for 127.0.0.1 signed by it.
        fn tls() -> (Arc<ServerConfig>, String) {
            use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
            let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca_key = KeyPair::generate().expect("ca key");
            let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
            let srv = CertificateParams::new(vec!["127.0.0.1".into()]).expect("params");
            let srv_key = KeyPair::generate().expect("key");
            let srv_cert = srv.signed_by(&srv_key, &ca_cert, &ca_key).expect("cert");
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(srv_cert.der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(srv_key.serialize_der())),
                )
                .expect("server config");
            (Arc::new(config), ca_cert.pem())
        }

        /// One request's path, or None when the client closed or sent nothing whole.
        fn read_request(tls: &mut StreamOwned<ServerConnection, TcpStream>) -> Option<String> {
            let mut buf = Vec::new();
            let mut b = [0u8; 4096];
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                match tls.read(&mut b) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&b[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < head_end + length {
                match tls.read(&mut b) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&b[..n]),
                }
            }
            let target = head.split_whitespace().nth(1)?;
            Some(target.split('?').next().unwrap_or(target).to_string())
        }

        fn serve(
            n: usize,
            sock: TcpStream,
            config: Arc<ServerConfig>,
            then: Then,
            seen: &Mutex<Vec<(usize, String)>>,
        ) {
            let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(conn) = ServerConnection::new(config) else {
                return;
            };
            let mut tls = StreamOwned::new(conn, sock);
            while let Some(path) = read_request(&mut tls) {
                seen.lock().expect("seen").push((n, path));
                match then {
                    Then::Answer | Then::AnswerThenClose => {
                        let body = br#"{"stat":"OK","response":{"time":1}}"#;
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let mut all = reply.into_bytes();
                        all.extend_from_slice(body);
                        if tls.write_all(&all).and_then(|()| tls.flush()).is_err() {
                            return;
                        }
                        if matches!(then, Then::AnswerThenClose) {
                            break;
                        }
                    }
                    Then::ReadThenClose => break,
                    Then::ReadThenSilent(d) => {
                        std::thread::sleep(d);
                        break;
                    }
                }
            }
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tls.sock.shutdown(std::net::Shutdown::Both);
        }
    }

    use server::Then;

    /// A handle on the scripted service `srv`.
    fn client_for(srv: &server::Server) -> Client {
        let text = format!(
            "[duo]\nikey = DIXYZV6YM8IFYVWBINCA\nskey = yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo\nhost = 127.0.0.1:{}\ncafile = {}\n",
            srv.port,
            srv.ca.display()
        );
        let cfg = crate::config::parse(
            text.as_bytes(),
            crate::config::Frontend::Pam,
            &mut |_, _| {},
        )
        .expect("config");
        Client::open(&cfg, "pam_duo").expect("client")
    }

    /// One call of `path` with a 10 s budget and `per_wait`.
    fn call(
        c: &mut Client,
        path: &str,
        per_wait: Option<Duration>,
    ) -> Result<Zeroizing<Vec<u8>>, CallError> {
        let deadline = Deadline::new(Duration::from_secs(10));
        let method = if path.ends_with("/auth") {
            Method::Post
        } else {
            Method::Get
        };
        c.call(
            method,
            path,
            &[("username", "alice")],
            &deadline,
            per_wait,
            &mut |_| {},
        )
    }

    fn seen(srv: &server::Server) -> Vec<(usize, String)> {
        srv.seen.lock().expect("seen").clone()
    }

    /// The server read `/auth` and closed the connection without an answer: the call fails,
    /// and `/auth` was written once (a second write could push twice).
    #[test]
    fn auth_read_then_closed_is_an_error_not_a_second_write() {
        let srv = server::start("closed", &[Then::ReadThenClose, Then::Answer]);
        let mut c = client_for(&srv);
        let r = call(&mut c, "/auth/v2/auth", None);
        assert!(
            matches!(&r, Err(CallError::Connect { text, .. }) if text.ends_with("Connection closed")),
            "{r:?}"
        );
        assert_eq!(seen(&srv), vec![(0, "/auth/v2/auth".to_string())]);
    }

    /// The server read `/auth` and stayed silent past `https_timeout`: the call times out, and
    /// `/auth` was written once.
    #[test]
    fn auth_read_then_silent_is_a_timeout_not_a_second_write() {
        let srv = server::start(
            "silent",
            &[Then::ReadThenSilent(Duration::from_secs(3)), Then::Answer],
        );
        let mut c = client_for(&srv);
        let started = std::time::Instant::now();
        let r = call(&mut c, "/auth/v2/auth", Some(Duration::from_millis(500)));
        assert!(
            matches!(&r, Err(CallError::Connect { text, evidence: Evidence::Unreachable }) if text.ends_with(TIMED_OUT)),
            "{r:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(seen(&srv), vec![(0, "/auth/v2/auth".to_string())]);
    }

    /// The same failures for a call that changes nothing (`/preauth`): sent again on a new
    /// connection, and answered there.
    #[test]
    fn other_calls_are_sent_again_after_such_failures() {
        let srv = server::start(
            "resend",
            &[
                Then::ReadThenClose,
                Then::ReadThenSilent(Duration::from_secs(3)),
                Then::Answer,
            ],
        );
        let mut c = client_for(&srv);
        let r = call(&mut c, "/auth/v2/preauth", Some(Duration::from_millis(500)));
        assert!(r.is_ok(), "{r:?}");
        let p = "/auth/v2/preauth".to_string();
        assert_eq!(seen(&srv), vec![(0, p.clone()), (1, p.clone()), (2, p)]);
    }

    /// A kept-alive connection the server closed while idle: the `/auth` is not written into
    /// it (the server would never read it, and the call could not be retried); it goes out on
    /// a new connection, once.
    #[test]
    fn auth_after_a_stale_kept_alive_connection_goes_on_a_new_one() {
        let srv = server::start("stale", &[Then::AnswerThenClose, Then::Answer]);
        let mut c = client_for(&srv);
        assert!(call(&mut c, "/auth/v2/preauth", None).is_ok());
        // The server's close reaches this end.
        std::thread::sleep(Duration::from_millis(300));
        let r = call(&mut c, "/auth/v2/auth", None);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            seen(&srv),
            vec![
                (0, "/auth/v2/preauth".to_string()),
                (1, "/auth/v2/auth".to_string())
            ]
        );
    }

    /// A kept-alive connection that is still open is used for `/auth` (no needless new one).
    #[test]
    fn auth_on_a_live_kept_alive_connection_reuses_it() {
        let srv = server::start("live", &[Then::Answer, Then::Answer]);
        let mut c = client_for(&srv);
        assert!(call(&mut c, "/auth/v2/preauth", None).is_ok());
        assert!(call(&mut c, "/auth/v2/auth", None).is_ok());
        assert_eq!(
            seen(&srv),
            vec![
                (0, "/auth/v2/preauth".to_string()),
                (0, "/auth/v2/auth".to_string())
            ]
        );
    }

    #[test]
    fn retry_after_never_overflows() {
        let r = |v: &str| retry_after(&with("retry-after", v));
        assert_eq!(r("7"), Some(7));
        assert_eq!(r("+7"), Some(7));
        assert_eq!(r("-7"), Some(0), "a wait in the past is no wait");
        // Values that overflowed the earlier Instant arithmetic.
        assert_eq!(r("9223372036854775807"), Some(9_223_372_036_854_775_807));
        assert_eq!(r("99999999999999999999999999"), Some(u64::MAX));
        assert_eq!(r("-99999999999999999999999999"), Some(0));
        assert_eq!(r("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert!(r("Fri, 31 Dec 9999 23:59:59 GMT").is_some_and(|s| s > 1 << 30));
        assert_eq!(r("soon"), None);
        assert_eq!(retry_after(&with("x-retry-after", "3")), Some(3));
    }
}
