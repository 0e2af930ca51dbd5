//! Structured auth events (`events = json`): one record per login that a SIEM can read
//! without parsing free text, with where the time went.
//!
//! The record is a JSON object (field names are stable; `version` says which set). It is sent
//!
//! - to the systemd journal when its socket exists, through the native protocol: `MESSAGE` is
//!   the syslog form below, and every field of the object is also a `DUO_<NAME>` field;
//! - otherwise, or when the journal does not take it at once, to syslog(3) with the ident and
//!   facility of every other line of the login: one message `@cee: {…}` (the CEE cookie that
//!   rsyslog's `mmjsonparse` looks for; syslog-ng's `json-parser(marker("@cee:"))`), on one
//!   line, at most [`MAX_MESSAGE`] bytes;
//! - in debug mode, also to stderr as `[<priority>] @cee: {…}`, like every other line.
//!
//! Every value is escaped: serde_json escapes quotes, backslashes and C0 controls, and this
//! module also escapes DEL, the C1 controls and U+2028/U+2029, so that no value from a user or
//! the server can end the line or start a record of its own. A value that would make the
//! message too long is cut (the record then says `"truncated":true`); the structure never is.
//! No secret is ever part of the record: the factor is a menu name or `passcode`, never what
//! was typed, and neither keys nor signatures are known here.
//!
//! Sending never blocks on the journal: one datagram on a non-blocking socket; when it is
//! refused (no journal, a full queue, any error) the event goes to syslog instead. A lost
//! event never changes the login's outcome.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::api::phases::Phases;
use crate::config::{Config, Events, FailMode};
use crate::flow::login::Ended;
use crate::log::Priority;

/// Version of the field set.
pub const VERSION: u64 = 1;

/// Longest syslog message (`@cee: ` and the object), in bytes: with the syslog header (ident,
/// pid, time) it stays under the common 8 KiB limit of syslog daemons.
pub const MAX_MESSAGE: usize = 7680;

/// The CEE cookie in front of the object in the syslog form.
pub const COOKIE: &str = "@cee: ";

/// The journal's native socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// `MESSAGE_ID` of every auth event in the journal (for `journalctl MESSAGE_ID=…`).
pub const MESSAGE_ID: &str = "8a5b4c1e2f9d4e7a9c0b3d6e1f2a4b5c";

/// The reason of the event of a login that the `groups` option let through without Duo.
pub const GROUP_BYPASS: &str = "bypassed Duo 2FA due to user's UNIX group";

/// The login an event is about, as far as the frontend knows it. Made once the configuration
/// is read; nothing is sent unless it says `events = json`.
pub struct Login<'c> {
    cfg: &'c Config,
    started: Instant,
    frontend: &'static str,
    /// PAM service (`pam_duo` only).
    pub service: Option<String>,
    /// The local account.
    pub os_user: Option<String>,
    /// The Duo username.
    pub duo_user: Option<String>,
    /// The client address reported to Duo.
    pub client_addr: Option<String>,
}

/// A rendered event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Syslog priority.
    pub priority: Priority,
    /// The syslog form: `@cee: ` and the JSON object.
    pub message: String,
    /// The journal datagram (native protocol).
    pub journal: Vec<u8>,
}

impl<'c> Login<'c> {
    /// A login by `frontend` (`pam_duo` or `login_duo`) that began at `started`.
    pub fn new(cfg: &'c Config, frontend: &'static str, started: Instant) -> Login<'c> {
        Login {
            cfg,
            started,
            frontend,
            service: None,
            os_user: None,
            duo_user: None,
            client_addr: None,
        }
    }

    /// Whether events are on.
    pub fn enabled(&self) -> bool {
        self.cfg.events == Events::Json
    }

    /// Send the event of a login that has ended; `phases` from its API handle (empty when it
    /// ended before one was opened).
    pub fn emit(&self, ended: &Ended, phases: &Phases) {
        if self.enabled() {
            send(&self.render(ended, phases));
        }
    }

    /// Send the event of a login that ended in an error before Duo was asked.
    pub fn emit_error(&self, reason: &str) {
        self.emit(
            &Ended::early(crate::flow::outcome::Outcome::Error(reason.into()), reason),
            &Phases::default(),
        );
    }

    /// Build the event (whether or not events are on).
    pub fn render(&self, ended: &Ended, phases: &Phases) -> Rendered {
        let reason = ended.reason.as_str();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let total = self.started.elapsed();
        let text = |s: &'static str| Some(Val::Text(Cow::Borrowed(s)));
        let num = |n: u64| Some(Val::Num(n));
        let ms = |d: Duration| Some(Val::Num(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
        let mut fields: Vec<(&'static str, Val<'_>)> = [
            ("version", num(VERSION)),
            (
                "time",
                Some(Val::Text(Cow::Owned(crate::api::timefmt::rfc3339_millis(
                    since_epoch,
                )))),
            ),
            ("event", text("login")),
            ("result", text(ended.outcome.result(ended.allowed))),
            ("reason", Some(Val::Text(Cow::Borrowed(reason)))),
            ("frontend", text(self.frontend)),
            ("service", opt(&self.service)),
            ("os_user", opt(&self.os_user)),
            ("duo_user", opt(&self.duo_user)),
            ("client_addr", opt(&self.client_addr)),
            (
                "api_host",
                Some(Val::Text(Cow::Borrowed(self.cfg.host.as_str()))),
            ),
            (
                "failmode",
                text(match self.cfg.failmode {
                    FailMode::Safe => "safe",
                    FailMode::Secure => "secure",
                }),
            ),
            ("txid", opt(&ended.seen.txid)),
            ("factor", opt(&ended.seen.factor)),
            ("attempts", num(u64::from(ended.attempts))),
            ("lookup_ms", ms(phases.lookup)),
            ("connect_ms", ms(phases.connect)),
            ("tls_ms", ms(phases.tls)),
            ("ping_ms", ms(phases.ping)),
            ("preauth_ms", ms(phases.preauth)),
            ("auth_ms", ms(phases.auth)),
            ("status_ms", ms(phases.status)),
            ("total_ms", ms(total)),
            ("tls_version", phases.tls_version.and_then(text)),
            ("retries", num(u64::from(phases.retries))),
            ("rate_limit_waits", num(u64::from(phases.rate_limit_waits))),
            ("rate_limit_wait_ms", ms(phases.rate_limit_wait)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let json = fit(&mut fields);
        let message = format!("{COOKIE}{json}");
        let priority = ended.outcome.priority();
        let journal = journal_payload(&message, priority, self.ident(), &fields);
        Rendered {
            priority,
            message,
            journal,
        }
    }

    /// `SYSLOG_IDENTIFIER` in the journal: fixed, `pam_duo` for the PAM module and
    /// `login_duo` for login_duo, whatever name the host program was started under (a link
    /// called `sshd` must not file `su`'s events under `sshd`). The PAM service is the event's
    /// `service` field.
    fn ident(&self) -> &'static str {
        match self.frontend {
            "login_duo" => "login_duo",
            _ => "pam_duo",
        }
    }
}

/// The text of an optional value.
fn opt(v: &Option<String>) -> Option<Val<'_>> {
    v.as_deref().map(|s| Val::Text(Cow::Borrowed(s)))
}

/// A field value.
#[derive(Clone, Debug)]
enum Val<'a> {
    Text(Cow<'a, str>),
    Num(u64),
    Bool(bool),
}

/// Append `s` as a JSON string: serde_json's escaping, plus `\uXXXX` for DEL, the C1
/// controls and the Unicode line and paragraph separators, which serde_json leaves as they
/// are and which some log viewers take for a line break or a terminal control. Those
/// characters can only occur inside a string, so the result is the same JSON value.
fn push_string(out: &mut String, s: &str) {
    let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    for c in quoted.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}') {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// The object, fields in order.
fn object(fields: &[(&'static str, Val<'_>)]) -> String {
    let mut out = String::with_capacity(768);
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, k);
        out.push(':');
        match v {
            Val::Text(t) => push_string(&mut out, t),
            Val::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
    out.push('}');
    out
}

/// The fields whose values come from users, the server or the configuration, and may be cut.
const CUTTABLE: [&str; 8] = [
    "reason",
    "service",
    "os_user",
    "duo_user",
    "client_addr",
    "api_host",
    "txid",
    "factor",
];

/// Render the object so that `@cee: ` and it fit in [`MAX_MESSAGE`] bytes: while too long, the
/// longest [`CUTTABLE`] value (as escaped) is cut to half its length, at a character boundary,
/// and `"truncated":true` is added. Each round shortens a value, so the loop ends after at
/// most a few hundred rounds (the bit lengths of the values); the field list keeps the cut
/// values, so the journal fields are the object's.
fn fit(fields: &mut Vec<(&'static str, Val<'_>)>) -> String {
    let mut json = object(fields);
    let mut cut = false;
    while COOKIE.len() + json.len() > MAX_MESSAGE {
        if !cut {
            fields.push(("truncated", Val::Bool(true)));
            cut = true;
        }
        let longest = fields
            .iter()
            .enumerate()
            .filter_map(|(i, (k, v))| match v {
                Val::Text(t) if !t.is_empty() && CUTTABLE.contains(k) => {
                    let mut e = String::new();
                    push_string(&mut e, t);
                    Some((i, e.len()))
                }
                _ => None,
            })
            .max_by_key(|&(_, len)| len);
        let Some((i, _)) = longest else { break };
        if let Val::Text(t) = &mut fields[i].1 {
            let mut keep = t.len() / 2;
            while !t.is_char_boundary(keep) {
                keep -= 1;
            }
            *t = Cow::Owned(t[..keep].to_string());
        }
        json = object(fields);
    }
    json
}

/// Append one journal field: `NAME=value\n`, or for a value with a newline (or any other
/// control byte) the binary-safe form `NAME\n`, the length as 64-bit little endian, the
/// value, `\n`.
fn journal_field(buf: &mut Vec<u8>, name: &str, value: &[u8]) {
    buf.extend_from_slice(name.as_bytes());
    if value.iter().any(|&b| b < 0x20 || b == 0x7f) {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        buf.push(b'=');
    }
    buf.extend_from_slice(value);
    buf.push(b'\n');
}

/// The journal datagram: the usual syslog fields, `MESSAGE` (the syslog form), and one
/// `DUO_<NAME>` field per field of the object.
fn journal_payload(
    message: &str,
    priority: Priority,
    ident: &str,
    fields: &[(&'static str, Val<'_>)],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(2 * message.len() + 512);
    journal_field(&mut buf, "MESSAGE", message.as_bytes());
    journal_field(&mut buf, "MESSAGE_ID", MESSAGE_ID.as_bytes());
    journal_field(
        &mut buf,
        "PRIORITY",
        (priority as i32).to_string().as_bytes(),
    );
    journal_field(
        &mut buf,
        "SYSLOG_FACILITY",
        (libc::LOG_AUTHPRIV >> 3).to_string().as_bytes(),
    );
    journal_field(&mut buf, "SYSLOG_IDENTIFIER", ident.as_bytes());
    journal_field(
        &mut buf,
        "SYSLOG_PID",
        std::process::id().to_string().as_bytes(),
    );
    let mut name = String::with_capacity(32);
    for (k, v) in fields {
        name.clear();
        name.push_str("DUO_");
        name.push_str(&k.to_ascii_uppercase());
        match v {
            Val::Text(t) => journal_field(&mut buf, &name, t.as_bytes()),
            Val::Num(n) => journal_field(&mut buf, &name, n.to_string().as_bytes()),
            Val::Bool(b) => journal_field(&mut buf, &name, if *b { b"true" } else { b"false" }),
        }
    }
    buf
}

/// Send one datagram to the journal without waiting. False when it was not taken: no
/// journal, a full queue, or any other error.
fn to_journal(payload: &[u8]) -> bool {
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    if sock.set_nonblocking(true).is_err() {
        return false;
    }
    matches!(sock.send_to(payload, JOURNAL_SOCKET), Ok(n) if n == payload.len())
}

/// Send an event: a copy to stderr in debug mode, then the journal, else syslog.
fn send(ev: &Rendered) {
    if crate::log::debug() {
        crate::log::to_stderr(ev.priority, &ev.message);
    }
    if !to_journal(&ev.journal) {
        crate::log::syslog(ev.priority, ev.message.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::attempt::Seen;
    use crate::flow::outcome::Outcome;
    use serde_json::Value;

    fn cfg() -> Config {
        Config {
            host: crate::config::Secret::new("api-x.example.com".into()),
            ikey: crate::config::Secret::new("DIXYZV6YM8IFYVWBINCA".into()),
            skey: crate::config::Secret::new("yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo".into()),
            events: Events::Json,
            ..Config::default()
        }
    }

    fn ended(outcome: Outcome, allowed: u32) -> Ended {
        Ended {
            outcome,
            reason: "why".into(),
            attempts: allowed,
            allowed,
            seen: Seen {
                factor: Some("push1".into()),
                txid: Some("tx-1".into()),
            },
        }
    }

    fn object_of(r: &Rendered) -> serde_json::Map<String, Value> {
        let json = r.message.strip_prefix(COOKIE).expect("cookie");
        match serde_json::from_str(json).expect("valid JSON") {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    /// Parse a journal datagram into (name, value) pairs.
    fn journal_fields(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let nl = b.iter().position(|&c| c == b'\n').expect("newline");
            let line = &b[..nl];
            if let Some(eq) = line.iter().position(|&c| c == b'=') {
                out.push((
                    String::from_utf8(line[..eq].to_vec()).unwrap(),
                    line[eq + 1..].to_vec(),
                ));
                b = &b[nl + 1..];
            } else {
                let name = String::from_utf8(line.to_vec()).unwrap();
                let len = u64::from_le_bytes(b[nl + 1..nl + 9].try_into().unwrap()) as usize;
                let value = b[nl + 9..nl + 9 + len].to_vec();
                assert_eq!(b[nl + 9 + len], b'\n');
                out.push((name, value));
                b = &b[nl + 10 + len..];
            }
        }
        out
    }

    #[test]
    fn results_follow_the_outcome() {
        let c = cfg();
        let l = Login::new(&c, "pam_duo", Instant::now());
        let cases = [
            (Outcome::Approved, 3, "success", Priority::Info),
            (Outcome::Aborted("x".into()), 3, "denied", Priority::Warning),
            (Outcome::Error("x".into()), 3, "error", Priority::Err),
            (Outcome::Failed("x".into()), 1, "failed", Priority::Warning),
            (
                Outcome::Failed("x".into()),
                2,
                "maxtries",
                Priority::Warning,
            ),
        ];
        for (o, allowed, result, prio) in cases {
            let r = l.render(&ended(o.clone(), allowed), &Phases::default());
            assert_eq!(r.priority, prio, "{o:?}");
            assert_eq!(object_of(&r)["result"], result, "{o:?}");
        }
    }

    #[test]
    fn the_object_has_every_field_in_order() {
        let c = cfg();
        let mut l = Login::new(&c, "pam_duo", Instant::now());
        l.service = Some("sshd".into());
        l.os_user = Some("alice".into());
        l.duo_user = Some("alice.duo".into());
        l.client_addr = Some("203.0.113.9".into());
        let phases = Phases {
            lookup: Duration::from_millis(1),
            connect: Duration::from_millis(2),
            tls: Duration::from_millis(3),
            ping: Duration::from_millis(4),
            preauth: Duration::from_millis(5),
            auth: Duration::from_millis(6),
            status: Duration::from_millis(7),
            tls_version: Some("TLSv1.3"),
            retries: 1,
            rate_limit_waits: 2,
            rate_limit_wait: Duration::from_millis(8),
        };
        let r = l.render(&ended(Outcome::Failed("why".into()), 3), &phases);
        assert!(!r.message.contains('\n'));
        let o = object_of(&r);
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        let mut want = vec![
            "version",
            "time",
            "event",
            "result",
            "reason",
            "frontend",
            "service",
            "os_user",
            "duo_user",
            "client_addr",
            "api_host",
            "failmode",
            "txid",
            "factor",
            "attempts",
            "lookup_ms",
            "connect_ms",
            "tls_ms",
            "ping_ms",
            "preauth_ms",
            "auth_ms",
            "status_ms",
            "total_ms",
            "tls_version",
            "retries",
            "rate_limit_waits",
            "rate_limit_wait_ms",
        ];
        // The printed order is the list's; serde_json's map sorts.
        let printed: Vec<usize> = want
            .iter()
            .map(|k| r.message.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(printed.windows(2).all(|w| w[0] < w[1]), "{}", r.message);
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(o["version"], 1);
        assert_eq!(o["event"], "login");
        assert_eq!(o["result"], "maxtries");
        assert_eq!(o["frontend"], "pam_duo");
        assert_eq!(o["service"], "sshd");
        assert_eq!(o["api_host"], "api-x.example.com");
        assert_eq!(o["failmode"], "safe");
        assert_eq!(o["factor"], "push1");
        assert_eq!(o["txid"], "tx-1");
        assert_eq!(o["attempts"], 3);
        assert_eq!(o["preauth_ms"], 5);
        assert_eq!(o["tls_version"], "TLSv1.3");
        assert_eq!(o["rate_limit_wait_ms"], 8);
        let t = o["time"].as_str().unwrap();
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
        // No secret of the configuration.
        for secret in [c.skey.as_str(), c.ikey.as_str()] {
            assert!(!r.message.contains(secret));
            assert!(!String::from_utf8_lossy(&r.journal).contains(secret));
        }
    }

    #[test]
    fn absent_values_are_left_out() {
        let c = cfg();
        let l = Login::new(&c, "login_duo", Instant::now());
        let o = object_of(&l.render(
            &Ended::early(Outcome::Skipped("groups".to_string()), "groups"),
            &Phases::default(),
        ));
        for k in [
            "service",
            "os_user",
            "duo_user",
            "client_addr",
            "txid",
            "factor",
            "tls_version",
            "truncated",
        ] {
            assert!(!o.contains_key(k), "{k}");
        }
        assert_eq!(o["attempts"], 0);
        assert_eq!(o["result"], "skipped");
    }

    const HOSTILE: &str = "a\"b\\c\nd\re\tf\u{0}g\u{1b}[2J\u{7f}h\u{85}i\u{9b}j\u{2028}k\u{2029}l\u{fffd}m}\",\"result\":\"success";

    #[test]
    fn hostile_values_stay_inside_their_string() {
        let c = cfg();
        let mut l = Login::new(&c, "login_duo", Instant::now());
        l.duo_user = Some(HOSTILE.into());
        l.client_addr = Some(HOSTILE.into());
        let r = l.render(
            &Ended::early(Outcome::Aborted(HOSTILE.to_string()), HOSTILE),
            &Phases::default(),
        );
        let bad = |ch: char| ch.is_control() || ch == '\u{2028}' || ch == '\u{2029}';
        assert!(!r.message.chars().any(bad), "{:?}", r.message);
        let o = object_of(&r);
        assert_eq!(o["reason"], HOSTILE);
        assert_eq!(o["duo_user"], HOSTILE);
        assert_eq!(o["client_addr"], HOSTILE);
        assert_eq!(o["result"], "denied");
        // The journal carries the raw values, binary-safe.
        let f = journal_fields(&r.journal);
        let get = |n: &str| {
            f.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {n}"))
        };
        assert_eq!(get("DUO_REASON"), HOSTILE.as_bytes());
        assert_eq!(get("DUO_DUO_USER"), HOSTILE.as_bytes());
        assert_eq!(get("DUO_RESULT"), b"denied");
        assert_eq!(get("MESSAGE"), r.message.as_bytes());
        assert_eq!(get("PRIORITY"), b"4");
        assert_eq!(get("SYSLOG_FACILITY"), b"10");
        assert_eq!(get("SYSLOG_IDENTIFIER"), b"login_duo");
        assert_eq!(f.iter().filter(|(k, _)| k == "DUO_RESULT").count(), 1);
    }

    #[test]
    fn the_journal_identifier_is_the_frontend_not_the_program() {
        let c = cfg();
        for (frontend, service) in [("pam_duo", "sshd"), ("login_duo", "login_duo")] {
            let mut l = Login::new(&c, frontend, Instant::now());
            l.service = Some(service.into());
            let r = l.render(&Ended::early(Outcome::Approved, "ok"), &Phases::default());
            let f = journal_fields(&r.journal);
            let get = |n: &str| f.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            // This test program's own name (its comm) is neither.
            assert_eq!(
                get("SYSLOG_IDENTIFIER").as_deref(),
                Some(frontend.as_bytes())
            );
            if frontend == "pam_duo" {
                assert_eq!(get("DUO_SERVICE").as_deref(), Some(service.as_bytes()));
            }
        }
    }

    #[test]
    fn long_values_are_cut_never_the_structure() {
        let c = cfg();
        let mut l = Login::new(&c, "pam_duo", Instant::now());
        // Each control character takes six bytes escaped.
        l.duo_user = Some("\u{1}".repeat(20_000));
        l.os_user = Some("é".repeat(9_000));
        l.service = Some("s".repeat(100));
        let long_reason = format!("{}{}", "r".repeat(50_000), HOSTILE);
        let r = l.render(
            &Ended::early(Outcome::Error(long_reason.clone()), &long_reason),
            &Phases::default(),
        );
        assert!(r.message.len() <= MAX_MESSAGE, "{}", r.message.len());
        let o = object_of(&r);
        assert_eq!(o["truncated"], true);
        assert_eq!(o["result"], "error");
        assert_eq!(o["service"], "s".repeat(100));
        for k in ["reason", "duo_user", "os_user"] {
            assert!(o[k].as_str().is_some(), "{k}");
        }
        assert!(o["os_user"].as_str().unwrap().chars().all(|c| c == 'é'));
        let f = journal_fields(&r.journal);
        let user = f.iter().find(|(k, _)| k == "DUO_DUO_USER").unwrap();
        assert_eq!(user.1, o["duo_user"].as_str().unwrap().as_bytes());
        // Only a record that had to be cut is marked.
        let short = Login::new(&c, "pam_duo", Instant::now());
        let short = object_of(&short.render(
            &Ended::early(Outcome::Error("x".to_string()), "x"),
            &Phases::default(),
        ));
        assert!(!short.contains_key("truncated"));
    }

    #[test]
    fn off_sends_nothing() {
        let mut c = cfg();
        c.events = Events::Off;
        assert!(!Login::new(&c, "pam_duo", Instant::now()).enabled());
    }
}
