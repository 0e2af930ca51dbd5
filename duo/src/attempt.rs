//! One authentication attempt (SPEC §5): ping, preauth, factor choice, auth, status polling,
//! and the failmode conversion at the preauth stage.
//!
//! Time bounds (§0a D4): the ping+preauth stage ends within `https_timeout` seconds in total
//! (30 when unset), whatever the server does. The `/auth` + `/auth_status` stage ends within
//! [`AUTH_STAGE_SECS`] seconds in total.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::client::{Client, Limits, Method};
use crate::config::{Config, FailMode};
use crate::conv::Conversation;
use crate::login::Flags;
use crate::outcome::{Class, Outcome};
use crate::sanitize::sanitize;
use crate::sign;

/// Bound of the ping+preauth stage when `https_timeout` is not set.
pub const DEFAULT_STAGE_SECS: u64 = 30;

/// Bound of the `/auth` + `/auth_status` stage of one attempt. Duo lets a push wait for about
/// 60 seconds; this leaves room for that and for the network.
pub const AUTH_STAGE_SECS: u64 = 75;

/// Most `/auth_status` polls of one attempt.
pub const MAX_POLLS: usize = 20;

/// Longest factor or passcode sent, in bytes.
pub const MAX_FACTOR_LEN: usize = 255;

/// What stays the same across the attempts of one login.
pub struct Context<'a> {
    /// The configuration.
    pub cfg: &'a Config,
    /// This machine's name, sent as `hostname`.
    pub hostname: String,
    /// This machine's IPv4 address for pushinfo (empty when unknown).
    pub local_ip: Option<String>,
}

/// Who logs in, and how, for one attempt.
pub struct Input<'a> {
    /// Duo username.
    pub duo_user: &'a str,
    /// Client address, if any.
    pub addr: Option<&'a str>,
    /// Command for pushinfo, already `None` when `pushinfo` is off.
    pub command: Option<&'a str>,
    /// Mode flags.
    pub flags: Flags,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn missing(field: &str) -> Outcome {
    Outcome::new(Class::ServerError, format!("JSON missing valid '{field}'"))
}

/// Parse a reply body and check the envelope (SPEC §1.8). Returns the `response` object of a
/// `stat: OK` reply; `stat: FAIL` becomes `Fail` with `<code>: <message>`.
pub fn envelope(body: &[u8]) -> Result<Map<String, Value>, Outcome> {
    let top = parse_object(body)?;
    let stat = match top.get("stat") {
        Some(Value::String(s)) => s,
        _ => return Err(missing("stat")),
    };
    if stat.eq_ignore_ascii_case("OK") {
        return match top.get("response") {
            Some(Value::Object(m)) => Ok(m.clone()),
            _ => Err(missing("response")),
        };
    }
    if stat.eq_ignore_ascii_case("FAIL") {
        let code = match top.get("code").and_then(Value::as_f64) {
            Some(c) if c.trunc() != 0.0 => c.trunc() as i64,
            _ => return Err(missing("code")),
        };
        let message = match top.get("message") {
            Some(Value::String(m)) => m,
            _ => return Err(missing("message")),
        };
        return Err(Outcome::new(Class::Fail, format!("{code}: {message}")));
    }
    Err(Outcome::new(Class::ServerError, ""))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Outcome> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Outcome::new(
            Class::ServerError,
            "No JSON object in response",
        )),
        Err(_) => Err(Outcome::new(Class::ServerError, "invalid JSON response")),
    }
}

fn get_str<'v>(m: &'v Map<String, Value>, field: &str) -> Result<&'v str, Outcome> {
    match m.get(field) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(missing(field)),
    }
}

fn get_obj<'v>(m: &'v Map<String, Value>, field: &str) -> Result<&'v Map<String, Value>, Outcome> {
    match m.get(field) {
        Some(Value::Object(o)) => Ok(o),
        _ => Err(missing(field)),
    }
}

/// Read the server time from a ping reply (SPEC §1.6); the envelope `stat` is not checked.
fn ping_time(body: &[u8]) -> Result<i64, Outcome> {
    if body.is_empty() {
        return Err(Outcome::new(
            Class::ServerError,
            "No response body from server",
        ));
    }
    let top = parse_object(body)?;
    let response = get_obj(&top, "response")?;
    match response.get("time").and_then(Value::as_f64) {
        Some(t) if t.trunc() != 0.0 => Ok(t.trunc() as i64),
        _ => Err(missing("time")),
    }
}

/// Preauth said "auth": what the factor step needs from it.
struct AuthPrompt {
    response: Map<String, Value>,
    txid: Option<String>,
}

/// Run one attempt. `env_factor` is consumed by the first attempt that uses it.
pub fn attempt(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    env_factor: &mut Option<Zeroizing<String>>,
    ui: &mut dyn Conversation,
) -> Outcome {
    let prompt = match preauth_stage(client, ctx, input, ui) {
        Ok(p) => p,
        Err(o) => return failmode(o, ctx.cfg.failmode),
    };
    let factor = match choose_factor(&prompt.response, input.flags, env_factor, ui) {
        Ok(f) => f,
        Err(o) => return o,
    };
    match auth_stage(client, ctx, input, &factor, prompt.txid.as_deref(), ui) {
        Ok(o) | Err(o) => o,
    }
}

/// Turn the errors of the ping/preauth stage into the failmode verdict (SPEC §5.1 step 3).
fn failmode(o: Outcome, mode: FailMode) -> Outcome {
    if !o.is_failmode_class() {
        return o;
    }
    let class = match mode {
        FailMode::Safe => Class::FailSafeAllow,
        FailMode::Secure => Class::FailSecureDeny,
    };
    Outcome::new(class, o.text)
}

fn stage_limits(ctx: &Context<'_>) -> Limits {
    let secs = ctx
        .cfg
        .https_timeout
        .map(u64::from)
        .unwrap_or(DEFAULT_STAGE_SECS);
    Limits {
        deadline: Instant::now() + Duration::from_secs(secs),
        read_timeout: ctx.cfg.https_timeout.map(|s| Duration::from_secs(s.into())),
    }
}

/// Ping and preauth. `Ok` carries the preauth reply when the result is "auth"; every other
/// result is an `Err` outcome (which may be `Ok` for preauth allow).
fn preauth_stage(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    ui: &mut dyn Conversation,
) -> Result<AuthPrompt, Outcome> {
    let limits = stage_limits(ctx);
    let body = client.call(Method::Get, "/auth/v2/ping", &[], limits, ui)?;
    let server_time = ping_time(&body)?;
    client.set_time_offset(server_time - now_secs());

    if input.duo_user.is_empty() {
        return Err(Outcome::new(Class::LibError, "empty username"));
    }
    let mut params: Vec<(&str, &str)> = vec![("text_prompt", "1"), ("username", input.duo_user)];
    if let Some(a) = input.addr.filter(|a| !a.is_empty()) {
        params.push(("ipaddr", a));
    }
    if !ctx.hostname.is_empty() {
        params.push(("hostname", &ctx.hostname));
    }
    params.push((
        "failmode",
        match ctx.cfg.failmode {
            FailMode::Safe => "open",
            FailMode::Secure => "closed",
        },
    ));
    if input.flags.verified_push {
        params.push(("client_supports_verified_push", "1"));
    }
    let body = client.call(Method::Post, "/auth/v2/preauth", &params, limits, ui)?;
    let response = envelope(&body)?;
    let result = get_str(&response, "result")?.to_string();
    if result.eq_ignore_ascii_case("auth") {
        let txid = if input.flags.verified_push {
            match response.get("txid") {
                Some(Value::String(t)) => Some(t.clone()),
                _ => None,
            }
        } else {
            None
        };
        return Ok(AuthPrompt { response, txid });
    }
    let status_msg = get_str(&response, "status_msg")?;
    if result.eq_ignore_ascii_case("allow") {
        Err(Outcome::new(Class::Ok, status_msg))
    } else if result.eq_ignore_ascii_case("deny") {
        ui.status(&sanitize(status_msg));
        Err(Outcome::new(Class::Abort, status_msg))
    } else if result.eq_ignore_ascii_case("enroll") {
        let text = match response.get("prompt") {
            Some(Value::Object(p)) => match p.get("text") {
                Some(Value::String(t)) => t.as_str(),
                _ => status_msg,
            },
            _ => status_msg,
        };
        ui.status(&sanitize(text));
        Err(Outcome::new(Class::Abort, "User enrollment required"))
    } else {
        Err(Outcome::new(
            Class::ServerError,
            format!("JSON invalid 'result': {result}"),
        ))
    }
}

/// Pick what is sent as the `prompt` parameter (SPEC §5.2): ENV, then AUTO, then the menu.
fn choose_factor(
    response: &Map<String, Value>,
    flags: Flags,
    env_factor: &mut Option<Zeroizing<String>>,
    ui: &mut dyn Conversation,
) -> Result<Zeroizing<String>, Outcome> {
    if flags.env {
        if let Some(value) = env_factor.take() {
            if value.len() > MAX_FACTOR_LEN {
                return Err(Outcome::new(Class::LibError, "DUO_PASSCODE is too long"));
            }
            ui.status("Reading $DUO_PASSCODE...");
            return Ok(value);
        }
    }
    if flags.auto {
        let prompt = get_obj(response, "prompt")?;
        let factors = get_obj(prompt, "factors")?;
        let default = get_str(factors, "default")?;
        ui.status(if default.contains("push") {
            "Autopushing login request to phone..."
        } else if default.contains("phone") {
            "Calling your phone..."
        } else {
            "Using default second-factor authentication."
        });
        return Ok(Zeroizing::new(default.to_string()));
    }
    if !ui.can_prompt() {
        return Err(Outcome::new(Class::ClientError, "No prompt function set"));
    }
    let prompt = get_obj(response, "prompt")?;
    let text = get_str(prompt, "text")?;
    let factors = get_obj(prompt, "factors")?;
    let Some(answer) = ui.prompt(&sanitize(text)) else {
        return Err(Outcome::new(Class::Abort, "Error gathering user response"));
    };
    let answer = first_line(&answer);
    if answer.is_empty() {
        // The reference sends an empty or "\n" factor that the server or the client rejects;
        // we count it as a failed attempt (SPEC §5.2 DEVIATION-OK).
        return Err(Outcome::new(Class::Fail, "no factor or passcode entered"));
    }
    match factors.get(answer.as_str()) {
        Some(Value::String(f)) => Ok(Zeroizing::new(f.clone())),
        _ => Ok(answer),
    }
}

/// The answer up to the first CR or LF, at most [`MAX_FACTOR_LEN`] bytes.
fn first_line(answer: &str) -> Zeroizing<String> {
    let line = answer.split(['\r', '\n']).next().unwrap_or("");
    Zeroizing::new(crate::log::truncate(line, MAX_FACTOR_LEN).to_string())
}

/// `/auth` and, in asynchronous mode, `/auth_status` polling (SPEC §5.3). Never failmode.
fn auth_stage(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    factor: &str,
    txid: Option<&str>,
    ui: &mut dyn Conversation,
) -> Result<Outcome, Outcome> {
    let sync = input.flags.sync;
    let pushinfo = sign::pushinfo_value(ctx.local_ip.as_deref(), input.command);
    let mut params: Vec<(&str, &str)> = vec![
        ("username", input.duo_user),
        ("factor", "prompt"),
        ("prompt", factor),
        ("async", if sync { "0" } else { "1" }),
    ];
    if let Some(a) = input.addr.filter(|a| !a.is_empty()) {
        params.push(("ipaddr", a));
    }
    if !ctx.hostname.is_empty() {
        params.push(("hostname", &ctx.hostname));
    }
    params.push(("pushinfo", &pushinfo));
    if let Some(t) = txid.filter(|_| input.flags.verified_push) {
        params.push(("txid", t));
    }
    let limits = Limits {
        deadline: Instant::now() + Duration::from_secs(AUTH_STAGE_SECS),
        read_timeout: if sync {
            None
        } else {
            ctx.cfg.https_timeout.map(|s| Duration::from_secs(s.into()))
        },
    };
    let body = client.call(Method::Post, "/auth/v2/auth", &params, limits, ui)?;
    let response = envelope(&body)?;
    if sync {
        let status_msg = get_str(&response, "status_msg")?;
        ui.status(&sanitize(status_msg));
        return decide(get_str(&response, "result")?);
    }
    let txid = get_str(&response, "txid")?.to_string();
    if txid.len() > MAX_FACTOR_LEN {
        return Err(Outcome::new(Class::LibError, "txid is too long"));
    }
    ui.status("");
    let poll_limits = Limits {
        read_timeout: None,
        ..limits
    };
    for _ in 0..MAX_POLLS {
        let body = client.call(
            Method::Get,
            "/auth/v2/auth_status",
            &[("txid", &txid)],
            poll_limits,
            ui,
        )?;
        let response = envelope(&body)?;
        let status_msg = get_str(&response, "status_msg")?;
        ui.status(&sanitize(status_msg));
        let result = get_str(&response, "result")?;
        if !result.eq_ignore_ascii_case("waiting") {
            return decide(result);
        }
    }
    Ok(Outcome::new(Class::Fail, "Authentication timed out"))
}

/// Map a final auth result to an outcome: allow → `Ok`, deny → `Fail`, anything else →
/// `ServerError`.
fn decide(result: &str) -> Result<Outcome, Outcome> {
    if result.eq_ignore_ascii_case("allow") {
        Ok(Outcome::new(Class::Ok, ""))
    } else if result.eq_ignore_ascii_case("deny") {
        Ok(Outcome::new(Class::Fail, ""))
    } else {
        Err(Outcome::new(
            Class::ServerError,
            format!("JSON invalid 'result': {result}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_ok_returns_response() {
        let r = envelope(br#"{"stat":"ok","response":{"result":"allow"}}"#).unwrap();
        assert_eq!(r["result"], "allow");
    }

    #[test]
    fn envelope_errors_follow_the_spec() {
        let cases: &[(&[u8], Class, &str)] = &[
            (b"", Class::ServerError, "invalid JSON response"),
            (b"<html>", Class::ServerError, "invalid JSON response"),
            (b"[1]", Class::ServerError, "No JSON object in response"),
            (b"{}", Class::ServerError, "JSON missing valid 'stat'"),
            (
                br#"{"stat":"OK"}"#,
                Class::ServerError,
                "JSON missing valid 'response'",
            ),
            (
                br#"{"stat":"FAIL"}"#,
                Class::ServerError,
                "JSON missing valid 'code'",
            ),
            (
                br#"{"stat":"FAIL","code":0,"message":"x"}"#,
                Class::ServerError,
                "JSON missing valid 'code'",
            ),
            (
                br#"{"stat":"FAIL","code":40002}"#,
                Class::ServerError,
                "JSON missing valid 'message'",
            ),
            (
                br#"{"stat":"FAIL","code":40002.7,"message":"Invalid request"}"#,
                Class::Fail,
                "40002: Invalid request",
            ),
            (
                br#"{"stat":"BAD_STATUS","response":{}}"#,
                Class::ServerError,
                "",
            ),
        ];
        for (body, class, text) in cases {
            let e = envelope(body).unwrap_err();
            assert_eq!(
                (e.class, e.text.as_str()),
                (*class, *text),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn ping_time_rules() {
        assert_eq!(
            ping_time(br#"{"stat":"OK","response":{"time":1700000000}}"#).unwrap(),
            1700000000
        );
        // stat is not checked for ping
        assert_eq!(ping_time(br#"{"response":{"time":5}}"#).unwrap(), 5);
        for bad in [
            &br#"{"response":{"time":0}}"#[..],
            br#"{"response":{"time":"x"}}"#,
            br#"{"response":{}}"#,
        ] {
            assert_eq!(
                ping_time(bad).unwrap_err().text,
                "JSON missing valid 'time'"
            );
        }
        assert_eq!(
            ping_time(br#"{"stat":"OK"}"#).unwrap_err().text,
            "JSON missing valid 'response'"
        );
    }

    #[test]
    fn failmode_converts_only_error_classes() {
        for class in [Class::ConnError, Class::ClientError, Class::ServerError] {
            let o = Outcome::new(class, "why");
            assert_eq!(
                failmode(o.clone(), FailMode::Safe),
                Outcome::new(Class::FailSafeAllow, "why")
            );
            assert_eq!(
                failmode(o, FailMode::Secure),
                Outcome::new(Class::FailSecureDeny, "why")
            );
        }
        for class in [Class::Ok, Class::Fail, Class::Abort, Class::LibError] {
            let o = Outcome::new(class, "x");
            assert_eq!(failmode(o.clone(), FailMode::Safe), o);
        }
    }

    struct Scripted {
        answers: Vec<&'static str>,
        shown: Vec<String>,
        can: bool,
    }

    impl Conversation for Scripted {
        fn can_prompt(&self) -> bool {
            self.can
        }
        fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>> {
            self.shown.push(format!("PROMPT {text}"));
            if self.answers.is_empty() {
                None
            } else {
                Some(Zeroizing::new(self.answers.remove(0).to_string()))
            }
        }
        fn status(&mut self, text: &str) {
            self.shown.push(text.to_string());
        }
    }

    fn menu() -> Map<String, Value> {
        match serde_json::json!({"result":"auth","prompt":{"text":"Menu\x1b[31m\n1. Push\nPasscode or option (1-2): ",
            "factors":{"default":"push1","1":"push1","2":"phone1"}}})
        {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn factor_from_menu_maps_keys_and_passes_passcodes() {
        let mut ui = Scripted {
            answers: vec!["1\n", "123456\r\nrest", "default"],
            shown: vec![],
            can: true,
        };
        let flags = Flags::default();
        let mut env = None;
        assert_eq!(
            *choose_factor(&menu(), flags, &mut env, &mut ui).unwrap(),
            "push1"
        );
        assert_eq!(
            *choose_factor(&menu(), flags, &mut env, &mut ui).unwrap(),
            "123456"
        );
        assert_eq!(
            *choose_factor(&menu(), flags, &mut env, &mut ui).unwrap(),
            "push1"
        );
        // The menu is sanitised before it is shown.
        assert!(ui.shown[0].starts_with("PROMPT Menu?[31m\n1. Push"));
        let e = choose_factor(&menu(), flags, &mut env, &mut ui).unwrap_err();
        assert_eq!(
            (e.class, e.text.as_str()),
            (Class::Abort, "Error gathering user response")
        );
    }

    #[test]
    fn empty_answer_is_a_failed_attempt() {
        let mut ui = Scripted {
            answers: vec!["\n"],
            shown: vec![],
            can: true,
        };
        let e = choose_factor(&menu(), Flags::default(), &mut None, &mut ui).unwrap_err();
        assert_eq!(e.class, Class::Fail);
    }

    #[test]
    fn headless_without_auto_cannot_prompt() {
        let mut ui = Scripted {
            answers: vec![],
            shown: vec![],
            can: false,
        };
        let e = choose_factor(&menu(), Flags::default(), &mut None, &mut ui).unwrap_err();
        assert_eq!(
            (e.class, e.text.as_str()),
            (Class::ClientError, "No prompt function set")
        );
    }

    #[test]
    fn auto_uses_default_with_status_text() {
        let mut ui = Scripted {
            answers: vec![],
            shown: vec![],
            can: false,
        };
        let flags = Flags {
            auto: true,
            ..Flags::default()
        };
        assert_eq!(
            *choose_factor(&menu(), flags, &mut None, &mut ui).unwrap(),
            "push1"
        );
        assert_eq!(
            ui.shown,
            vec!["Autopushing login request to phone...".to_string()]
        );
        let bare = Map::new();
        assert_eq!(
            choose_factor(&bare, flags, &mut None, &mut ui)
                .unwrap_err()
                .text,
            "JSON missing valid 'prompt'"
        );
    }

    #[test]
    fn env_factor_is_used_once_and_verbatim() {
        let mut ui = Scripted {
            answers: vec!["2"],
            shown: vec![],
            can: true,
        };
        let flags = Flags {
            env: true,
            ..Flags::default()
        };
        let mut env = Some(Zeroizing::new("1".to_string()));
        // "1" is sent verbatim, not looked up in the factor table.
        assert_eq!(
            *choose_factor(&menu(), flags, &mut env, &mut ui).unwrap(),
            "1"
        );
        assert_eq!(ui.shown, vec!["Reading $DUO_PASSCODE...".to_string()]);
        assert!(env.is_none());
        assert_eq!(
            *choose_factor(&menu(), flags, &mut env, &mut ui).unwrap(),
            "phone1"
        );
        let mut long = Some(Zeroizing::new("9".repeat(256)));
        assert_eq!(
            choose_factor(&menu(), flags, &mut long, &mut ui)
                .unwrap_err()
                .class,
            Class::LibError
        );
    }

    #[test]
    fn answers_are_cut_to_255_bytes() {
        assert_eq!(first_line(&"7".repeat(300)).len(), 255);
        assert_eq!(*first_line("abc\rdef"), "abc");
    }
}
