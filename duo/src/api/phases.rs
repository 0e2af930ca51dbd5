//! Where the time of a login went: a small record that the connection set-up
//! ([`crate::api::http::Conn::open`]) and the API calls ([`crate::api::client::Client::call`]) fill in,
//! and that the auth event reports ([`crate::flow::events`]).
//!
//! The phases are disjoint: name lookup, TCP connect (with the proxy's CONNECT) and the TLS
//! handshake are counted where they happen; the time of an API call is counted without the
//! connection set-up it needed, but with its transport retries and 429 waits. Their sum is
//! therefore never more than the time the login took.

use std::time::Duration;

/// Time spent per phase, and what the transport had to repeat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// Name lookups of the API host (or the proxy).
    pub lookup: Duration,
    /// TCP connects, and the CONNECT exchange with a proxy.
    pub connect: Duration,
    /// TLS handshakes.
    pub tls: Duration,
    /// `/auth/v2/ping` calls, connection set-up excluded.
    pub ping: Duration,
    /// `/auth/v2/preauth` calls, connection set-up excluded.
    pub preauth: Duration,
    /// `/auth/v2/auth` calls, connection set-up excluded.
    pub auth: Duration,
    /// `/auth/v2/auth_status` polls, connection set-up excluded.
    pub status: Duration,
    /// Protocol of the last completed TLS handshake (`TLSv1.3`, `TLSv1.2`).
    pub tls_version: Option<&'static str>,
    /// Transport attempts that repeated a failed one (a new connection and a resend).
    pub retries: u32,
    /// HTTP 429 answers that were waited out and retried.
    pub rate_limit_waits: u32,
    /// Time spent in those waits (part of the call's phase).
    pub rate_limit_wait: Duration,
}

impl Phases {
    /// Total connection set-up time so far.
    pub fn setup(&self) -> Duration {
        self.lookup + self.connect + self.tls
    }

    /// Add the time of one API call to `path` (connection set-up already taken out).
    pub(crate) fn charge_call(&mut self, path: &str, spent: Duration) {
        let slot = match path.rsplit('/').next() {
            Some("ping") => &mut self.ping,
            Some("preauth") => &mut self.preauth,
            Some("auth") => &mut self.auth,
            Some("auth_status") => &mut self.status,
            _ => return,
        };
        *slot += spent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_charged_to_their_path() {
        let mut p = Phases::default();
        let ms = Duration::from_millis;
        p.charge_call("/auth/v2/ping", ms(1));
        p.charge_call("/auth/v2/preauth", ms(2));
        p.charge_call("/auth/v2/auth", ms(3));
        p.charge_call("/auth/v2/auth_status", ms(4));
        p.charge_call("/auth/v2/auth_status", ms(4));
        p.charge_call("/auth/v2/logo", ms(100));
        assert_eq!(
            (p.ping, p.preauth, p.auth, p.status),
            (ms(1), ms(2), ms(3), ms(8))
        );
        p.lookup = ms(5);
        p.connect = ms(6);
        p.tls = ms(7);
        assert_eq!(p.setup(), ms(18));
    }
}
