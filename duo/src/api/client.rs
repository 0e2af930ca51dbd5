//! The Duo API handle: signed requests over pinned TLS with transport retries, 429 backoff and
//! HTTP status classification (docs/BEHAVIOUR.md §1.5–§1.10, §2). The JSON envelope is left to the caller.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use zeroize::Zeroizing;

use crate::api::deadline::Deadline;
use crate::api::http::{Conn, OpenError, Response, Target};
use crate::api::phases::Phases;
use crate::api::proxy::Proxy;
use crate::config::Config;
use crate::flow::conv::Conversation;

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
        /// The service could not be reached at the network level (name lookup, connect, TLS
        /// handshake, silence), as opposed to a connection closed mid-reply, a malformed reply
        /// or a proxy's refusal. Only this may open the outage window (`crate::flow::outage`).
        unreachable: bool,
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
    /// Some HTTP response came back through this handle.
    answered: bool,
    /// The last call ended in [`CallError::Connect`] with `unreachable` set.
    unreachable: bool,
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
    pub fn open(cfg: &Config, program: &str) -> Result<Client, String> {
        let tls = crate::api::tls::client_config(cfg)?;
        let (host, port) = match cfg.host.split_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("bad port in host '{}'", cfg.host.as_str()))?,
            ),
            None => (cfg.host.as_str(), 443),
        };
        let proxy = cfg
            .http_proxy
            .as_deref()
            .map(|p| crate::api::proxy::parse(p))
            .transpose()?;
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
            answered: false,
            unreachable: false,
        })
    }

    /// Where the time of this handle's calls went so far (for the auth event).
    pub fn phases(&self) -> &Phases {
        &self.phases
    }

    /// Whether any HTTP response (of any status) came back from the service through this
    /// handle: evidence that the service is reachable (`crate::flow::outage`).
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// Whether the last call failed because the service could not be reached at the network
    /// level ([`CallError::Connect`] with `unreachable`).
    pub fn last_call_unreachable(&self) -> bool {
        self.unreachable
    }

    /// Set the server time offset in seconds, added to the local clock for `X-Duo-Date`.
    pub fn set_time_offset(&mut self, offset: i64) {
        self.offset = offset;
    }

    /// Send one signed request to `path` (e.g. `/auth/v2/preauth`) and return the body of a 2xx
    /// reply; other replies and failures are a [`CallError`] (docs/BEHAVIOUR.md §1.9). Every
    /// wait is charged to `deadline`; `per_wait` bounds each single wait for response data
    /// (`https_timeout`). 429 is retried as in §1.10 (at most 7 retries, never past the
    /// budget), showing the rate-limit message through `ui.status`.
    /// The time of the call, without the connection set-up it needed, is added to the phase
    /// of `path` in [`Client::phases`].
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
        ui: &mut dyn Conversation,
    ) -> Result<Zeroizing<Vec<u8>>, CallError> {
        let started = Instant::now();
        let setup_before = self.phases.setup();
        let r = self.call_timed(method, path, params, deadline, per_wait, ui);
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
        ui: &mut dyn Conversation,
    ) -> Result<Zeroizing<Vec<u8>>, CallError> {
        let qs = crate::api::sign::canonical_params(params);
        let mut backoff: u64 = 1;
        let mut retries = 0;
        self.unreachable = false;
        loop {
            let request = self.request(method, path, &qs);
            let resp = self
                .exchange(&request, deadline, per_wait, resendable(path))
                .inspect_err(|e| {
                    self.unreachable = matches!(
                        e,
                        CallError::Connect {
                            unreachable: true,
                            ..
                        }
                    );
                })?;
            self.answered = true;
            if resp.status == 429 {
                let (wait, from_header) = match retry_after(&resp) {
                    Some(w) => (w, true),
                    None => (backoff, false),
                };
                let fits = Duration::from_secs(wait.saturating_add(1)) <= deadline.left();
                if wait > MAX_429_WAIT || retries >= MAX_429_RETRIES || !fits {
                    return Err(CallError::Rejected(429));
                }
                ui.status(&format!(
                    "Rate-limiting response received from server. Waiting for {wait} seconds before retrying."
                ));
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
    /// kept-alive connection the server closed is replaced before writing, and a failure after
    /// writing ends the call.
    fn exchange(
        &mut self,
        request: &[u8],
        deadline: &Deadline<'_>,
        per_wait: Option<Duration>,
        resend: bool,
    ) -> Result<Response, CallError> {
        let fail = |reason: &str, unreachable: bool| CallError::Connect {
            text: format!("Couldn't connect to {}: {reason}", self.host_conf),
            unreachable,
        };
        let mut last = String::from(TIMED_OUT);
        // Whether `last` is network-level unreachability (no try made yet: no evidence).
        let mut unreachable = false;
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
                    return Err(fail(&last, unreachable));
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
                        unreachable: u,
                    }) => {
                        last = reason;
                        unreachable = u;
                        if attempt + 1 < ATTEMPTS {
                            deadline.sleep(Duration::from_secs(1 << attempt));
                        }
                        continue;
                    }
                    Err(OpenError::Network {
                        reason,
                        unreachable: u,
                        ..
                    }) => return Err(fail(&reason, u)),
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
                    unreachable = matches!(reason, crate::api::response::ReadError::TimedOut);
                    last = reason.to_string();
                    if !resend {
                        // The server may have read it: sending it again could push twice.
                        return Err(fail(&last, unreachable));
                    }
                }
            }
        }
        Err(fail(&last, unreachable))
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
