//! Entry points for the fuzz targets in `fuzz/` and their properties (issue 10). Not part of
//! the library's API: hidden from the documentation and free to change with the targets.
//!
//! Each function here calls the code the frontends run, with no copy of its logic; it only
//! opens what is crate-private and replaces the network and the user with in-memory stand-ins.

use std::time::Duration;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::api::deadline::Deadline;
use crate::config::{Config, ConfigError, FailMode, Frontend};
use crate::flow::attempt::Flags;
use crate::flow::conv::Conversation;
use crate::flow::outcome::{Outcome, Problem};

pub use crate::api::proxy::{check_reply, connect_request, parse as parse_proxy};
pub use crate::api::response::{
    ReadError, Response, Scripted, Step, MAX_BODY, MAX_CHUNK_LINE, MAX_FIELDS, MAX_FRAMING,
    MAX_HEAD, MAX_LATE_LOOKS, MAX_TRAILERS, MAX_TRAILER_BYTES,
};

/// Read one response from `src` through the same reader as the TLS connection. `spent`: the
/// deadline has already passed (a process that was stopped while the reply arrived), so every
/// wait is a last look.
pub fn read_response(
    src: &mut Scripted,
    buf: &mut Vec<u8>,
    spent: bool,
) -> Result<Response, ReadError> {
    let budget = if spent {
        Duration::ZERO
    } else {
        Duration::from_secs(3600)
    };
    crate::api::response::read(src, buf, &Deadline::new(budget), None)
}

/// `config::parse`, the bytes entry point of `config::load`, without diagnostics.
pub fn config_parse(text: &[u8], frontend: Frontend) -> Result<Config, ConfigError> {
    crate::config::parse(text, frontend, &mut |_, _| {})
}

/// Configuration text that parses back to `cfg`.
pub fn config_render(cfg: &Config, frontend: Frontend) -> Result<Zeroizing<String>, String> {
    crate::config::render(cfg, frontend)
}

/// A stand-in for the user: records every text shown, answers prompts from a list.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Prompts and status lines, in order.
    pub shown: Vec<String>,
    /// Answers given to prompts, first one first.
    pub answers: Vec<String>,
    /// What `can_prompt` says.
    pub can_prompt: bool,
}

impl Conversation for Recorder {
    fn can_prompt(&self) -> bool {
        self.can_prompt
    }
    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>> {
        self.shown.push(text.to_string());
        if self.answers.is_empty() {
            None
        } else {
            Some(Zeroizing::new(self.answers.remove(0)))
        }
    }
    fn status(&mut self, text: &str) {
        self.shown.push(text.to_string());
    }
}

/// The ping reply: the server time.
pub fn ping_time(body: &[u8]) -> Result<i64, Problem> {
    crate::flow::attempt::ping_time(body)
}

/// The envelope of any reply.
pub fn envelope(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    crate::flow::attempt::envelope(body)
}

/// Where a preauth reply body leaves the login (with the failmode conversion of `mode`).
#[derive(Debug)]
pub enum Preauth {
    /// A second factor is needed: the reply's `response` object and its `txid`.
    Prompt(Map<String, Value>, Option<String>),
    /// The attempt is decided by the reply alone; the outcome may allow or deny.
    Decided(Outcome),
}

/// A preauth reply body as the login sees it.
pub fn preauth(
    body: &[u8],
    verified_push: bool,
    mode: FailMode,
    ui: &mut dyn Conversation,
) -> Preauth {
    use crate::flow::attempt::AfterPreauth;
    use crate::flow::attempt::Preauth as P;
    let r = crate::flow::attempt::preauth_reply(body, verified_push);
    if let Ok(P::Deny(text) | P::Enroll(text)) = &r {
        ui.status(&crate::sanitize::sanitize(text));
    }
    match crate::flow::attempt::preauth_verdict(r, mode) {
        AfterPreauth::Prompt(p) => Preauth::Prompt(p.response, p.txid),
        AfterPreauth::Decided(o) => Preauth::Decided(o),
    }
}

/// The factor chosen from a preauth "auth" response (menu, default or `DUO_PASSCODE`).
pub fn choose_factor(
    response: &Map<String, Value>,
    flags: Flags,
    env_factor: Option<String>,
    ui: &mut dyn Conversation,
) -> Result<String, Outcome> {
    let mut env = env_factor.map(Zeroizing::new);
    crate::flow::attempt::choose_factor(response, flags, &mut env, ui)
        .map(|f| f.to_string())
        .map_err(Problem::outcome)
}

/// A synchronous `/auth` (`waiting` false) or an `/auth_status` (`waiting` true) reply body
/// as the login sees it: the attempt's outcome, or `None` to poll again.
pub fn auth_result(body: &[u8], waiting: bool, ui: &mut dyn Conversation) -> Option<Outcome> {
    let reply = crate::flow::attempt::result_reply(body);
    if let Ok(r) = &reply {
        ui.status(&crate::sanitize::sanitize(&r.status_msg));
    }
    let r = match reply.and_then(|r| r.result) {
        Ok(None) if waiting => return None,
        // What auth_stage does with "waiting" in synchronous mode.
        Ok(None) => crate::flow::attempt::decide("waiting"),
        Ok(Some(r)) => Ok(r),
        Err(p) => Err(p),
    };
    Some(crate::flow::attempt::auth_verdict(r))
}

/// The failmode conversion of a ping/preauth stage problem.
pub fn failmode(p: Problem, mode: FailMode) -> Outcome {
    crate::flow::attempt::failmode(p, mode)
}

/// The GECOS rules: `Ok(name)` when a GECOS-derived name is used, else why not (`off`,
/// `empty`, `unparsable`).
pub fn gecos_name(cfg: &Config, gecos: Option<&str>) -> Result<String, &'static str> {
    use crate::user::gecos::Choice;
    match crate::user::gecos::choose(cfg, gecos) {
        Choice::Name(n) => Ok(n),
        Choice::Off => Err("off"),
        Choice::Empty => Err("empty"),
        Choice::Unparsable => Err("unparsable"),
    }
}

/// An HTTP date for a UNIX time in years 0–9999 (the inverse of `timefmt::parse_http_date`).
pub fn http_date(unix_secs: i64) -> Option<String> {
    crate::api::timefmt::http_date(unix_secs)
}

/// Whether `s` holds a character that sanitised text must not: a C0 control other than TAB
/// and LF, DEL, or a C1 control.
pub fn has_forbidden_control(s: &str) -> bool {
    s.chars()
        .any(|c| (c.is_control() && c != '\t' && c != '\n') || ('\u{80}'..='\u{9f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_reach_the_real_code() {
        let mut src = Scripted::bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        let r = read_response(&mut src, &mut Vec::new(), true).unwrap();
        assert_eq!(r.body, b"{}");
        let mut ui = Recorder::default();
        let e = preauth(
            br#"{"stat":"OK","response":{"result":"deny","status_msg":"no\u001b"}}"#,
            false,
            FailMode::Safe,
            &mut ui,
        );
        assert!(matches!(e, Preauth::Decided(Outcome::Aborted(m)) if m == "no\u{1b}"));
        assert_eq!(ui.shown, ["no?"]);
        let e = preauth(b"<html>", false, FailMode::Safe, &mut ui);
        assert!(
            matches!(e, Preauth::Decided(Outcome::FailSafe(m)) if m == "invalid JSON response")
        );
        let body = br#"{"stat":"OK","response":{"result":"waiting","status_msg":"m"}}"#;
        assert_eq!(auth_result(body, true, &mut ui), None);
        assert!(matches!(
            auth_result(body, false, &mut ui),
            Some(Outcome::Error(_))
        ));
        assert!(has_forbidden_control("a\u{9b}"));
        assert!(!has_forbidden_control("a\tb\n\u{a0}"));
        let cfg = Config {
            gecos_username_pos: Some(1),
            ..Config::default()
        };
        assert_eq!(gecos_name(&cfg, Some("a,b")), Ok("b".into()));
        assert_eq!(
            http_date(0).as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }
}
