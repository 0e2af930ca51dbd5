//! The Duo API handle: signed requests over pinned TLS with transport retries, 429 backoff and
//! HTTP status classification (SPEC §1.5–§1.10, §2). The JSON envelope is left to the caller.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::conv::Conversation;
use crate::http::{Conn, Response, Target};
use crate::outcome::Class;
use crate::outcome::Outcome;
use crate::proxy::Proxy;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET: parameters in the query string (always with `?`).
    Get,
    /// POST: parameters form-encoded in the body.
    Post,
}

/// Time limits for one API call, retries and 429 backoff included.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The call fails with `ConnError` (text `Couldn't connect to <host>: timed out`-style)
    /// when this instant passes, whatever it was doing (DNS, connect, TLS, write, read, sleep).
    pub deadline: Instant,
    /// Bound of each single wait for response data, if any (`https_timeout`).
    pub read_timeout: Option<Duration>,
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
}

/// Most transport attempts per call.
const ATTEMPTS: u32 = 3;
/// Most 429 retries per call.
const MAX_429_RETRIES: u32 = 7;
/// Longest 429 wait honoured, in seconds.
const MAX_429_WAIT: i64 = 32;

impl Client {
    /// Open a handle: build the TLS configuration (pinned roots, `cafile`, or `noverify` with
    /// its warning) and parse `http_proxy`. No network traffic yet. `program` is `pam_duo` or
    /// `login_duo` (User-Agent). An error here is a hard denial ("Couldn't open Duo API
    /// handle"); the string says why, for a debug line.
    pub fn open(cfg: &Config, program: &str) -> Result<Client, String> {
        let tls = crate::tls::client_config(cfg)?;
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
            .map(|p| crate::proxy::parse(p))
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
        })
    }

    /// Set the server time offset in seconds, added to the local clock for `X-Duo-Date`.
    pub fn set_time_offset(&mut self, offset: i64) {
        self.offset = offset;
    }

    /// Send one signed request to `path` (e.g. `/auth/v2/preauth`) and return the body of a 2xx
    /// reply. Non-2xx replies and transport failures become the outcomes of SPEC §1.9:
    /// no status → `ConnError` "Couldn't connect to <host>: <reason>"; 401 → `ClientError`
    /// "Invalid ikey or skey"; 5xx → `ServerError` "HTTP <code>"; other → `Abort` "HTTP <code>".
    /// 429 is retried as in §1.10 (at most 7 retries, never past the deadline), showing the
    /// rate-limit message through `ui.status`.
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        limits: Limits,
        ui: &mut dyn Conversation,
    ) -> Result<Vec<u8>, Outcome> {
        let qs = crate::sign::canonical_params(params);
        let mut backoff: i64 = 1;
        let mut retries = 0;
        loop {
            let request = self.request(method, path, &qs);
            let resp = self.exchange(&request, limits)?;
            if resp.status == 429 {
                let (wait, from_header) = match retry_after(&resp) {
                    Some(w) => (w, true),
                    None => (backoff, false),
                };
                let wait = wait.max(0);
                let too_late =
                    Instant::now() + Duration::from_secs(wait as u64 + 1) > limits.deadline;
                if wait > MAX_429_WAIT || retries >= MAX_429_RETRIES || too_late {
                    return Err(Outcome::new(Class::Abort, "HTTP 429"));
                }
                ui.status(&format!(
                    "Rate-limiting response received from server. Waiting for {wait} seconds before retrying."
                ));
                std::thread::sleep(Duration::from_secs(wait as u64) + jitter());
                if !from_header {
                    backoff *= 2;
                }
                retries += 1;
                continue;
            }
            return match resp.status {
                200..=299 => Ok(resp.body),
                401 => Err(Outcome::new(Class::ClientError, "Invalid ikey or skey")),
                500..=599 => Err(Outcome::new(
                    Class::ServerError,
                    format!("HTTP {}", resp.status),
                )),
                s => Err(Outcome::new(Class::Abort, format!("HTTP {s}"))),
            };
        }
    }

    /// The exact request bytes of SPEC §1.7.
    fn request(&self, method: Method, path: &str, qs: &str) -> Zeroizing<Vec<u8>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let date = crate::timefmt::rfc2822(now + self.offset);
        let m = match method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let sig = crate::sign::signature(&self.skey, &date, m, &self.host, path, qs);
        let host_header = if self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut r = match method {
            Method::Get => format!("GET {path}?{qs} HTTP/1.1\r\n"),
            Method::Post => format!("POST {path} HTTP/1.1\r\n"),
        };
        r.push_str(&format!(
            "Host: {host_header}\r\nUser-Agent: {}\r\nX-Duo-Date: {date}\r\nAuthorization: {}\r\n",
            self.user_agent,
            crate::sign::authorization(&self.ikey, &sig)
        ));
        if method == Method::Post {
            r.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{qs}",
                qs.len()
            ));
        } else {
            r.push_str("\r\n");
        }
        Zeroizing::new(r.into_bytes())
    }

    /// Send with the transport retries of SPEC §1.10, bounded by the deadline.
    fn exchange(&mut self, request: &[u8], limits: Limits) -> Result<Response, Outcome> {
        let fail = |reason: &str| {
            Outcome::new(
                Class::ConnError,
                format!("Couldn't connect to {}: {reason}", self.host_conf),
            )
        };
        let mut last = String::from("Connection timed out");
        for attempt in 0..ATTEMPTS {
            if Instant::now() >= limits.deadline {
                // The last real failure says more than "timed out" (e.g. a refused proxy).
                return Err(fail(&last));
            }
            if self.conn.is_none() {
                let target = Target {
                    host: &self.host,
                    port: self.port,
                    proxy: self.proxy.as_ref(),
                    user_agent: &self.user_agent,
                };
                match Conn::open(&target, &self.tls, limits.deadline) {
                    Ok(c) => self.conn = Some(c),
                    Err(e) if e.transient => {
                        last = e.reason;
                        if attempt + 1 < ATTEMPTS {
                            let pause = Duration::from_secs(1 << attempt);
                            let left = limits.deadline.saturating_duration_since(Instant::now());
                            std::thread::sleep(pause.min(left));
                        }
                        continue;
                    }
                    Err(e) => return Err(fail(&e.reason)),
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            match conn.round_trip(request, limits.deadline, limits.read_timeout) {
                Ok(resp) => {
                    if resp.close {
                        self.conn = None;
                    }
                    return Ok(resp);
                }
                Err(reason) => {
                    self.conn = None;
                    last = reason;
                }
            }
        }
        Err(fail(&last))
    }
}

/// Seconds to wait from `Retry-After` / `X-Retry-After`: digits (optionally signed) or an
/// HTTP date; anything else counts as absent.
fn retry_after(resp: &Response) -> Option<i64> {
    let v = resp
        .header("retry-after")
        .or_else(|| resp.header("x-retry-after"))?
        .trim();
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<i64>().ok();
    }
    let at = crate::timefmt::parse_http_date(v)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Some(at - now)
}

/// A random pause of 0–1 s.
fn jitter() -> Duration {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 2];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    Duration::from_millis(u64::from(u16::from_le_bytes(b)) % 1000)
}
