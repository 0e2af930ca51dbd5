//! The Duo API handle: signed requests over pinned TLS with transport retries, 429 backoff and
//! HTTP status classification (SPEC §1.5–§1.10, §2). The JSON envelope is left to the caller.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conv::Conversation;
use crate::outcome::Outcome;

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
    _private: (),
}

impl Client {
    /// Open a handle: build the TLS configuration (pinned roots, `cafile`, or `noverify` with
    /// its warning) and parse `http_proxy`. No network traffic yet. `program` is `pam_duo` or
    /// `login_duo` (User-Agent). An error here is a hard denial ("Couldn't open Duo API
    /// handle"); the string says why, for a debug line.
    pub fn open(cfg: &Config, program: &str) -> Result<Client, String> {
        let _ = (cfg, program);
        todo!("Client::open")
    }

    /// Set the server time offset in seconds, added to the local clock for `X-Duo-Date`.
    pub fn set_time_offset(&mut self, offset: i64) {
        let _ = offset;
        todo!("Client::set_time_offset")
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
        let _ = (method, path, params, limits, ui);
        todo!("Client::call")
    }
}
