//! One authentication attempt (docs/BEHAVIOUR.md §5): ping, preauth, factor choice, auth, status polling,
//! and the failmode conversion at the preauth stage.
//!
//! Time bounds (§0a D4): the ping+preauth stage ends within `https_timeout` seconds in total
//! (30 when unset), whatever the server does. The `/auth` + `/auth_status` stage ends within
//! [`AUTH_STAGE_SECS`] seconds in total.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::api::client::{Client, Evidence, Method};
use crate::api::deadline::Deadline;
use crate::api::sign;
use crate::config::{Config, FailMode};
use crate::flow::conv::Conversation;
use crate::flow::outage::Window;
use crate::flow::outcome::{Outcome, Problem};
use crate::sanitize::sanitize;

/// Bound of the ping+preauth stage when `https_timeout` is not set.
pub(crate) const DEFAULT_STAGE_SECS: u64 = 30;

/// Bound of the `/auth` + `/auth_status` stage of one attempt. Duo lets a push wait for about
/// 60 seconds; this leaves room for that and for the network.
pub(crate) const AUTH_STAGE_SECS: u64 = 75;

/// Most `/auth_status` polls of one attempt.
pub(crate) const MAX_POLLS: usize = 20;

/// Longest factor or passcode sent, in bytes.
pub(crate) const MAX_FACTOR_LEN: usize = 255;

/// Mode flags of an attempt (docs/BEHAVIOUR.md §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Synchronous `/auth` (no `/auth_status` polling): sshd, headless and autopush login_duo.
    pub sync: bool,
    /// Use the default factor without a menu.
    pub auto: bool,
    /// Try the `DUO_PASSCODE` factor first (login_duo with `accept_env_factor`).
    pub env: bool,
    /// Advertise verified push and forward the preauth txid.
    pub verified_push: bool,
}

/// What stays the same across the attempts of one login.
pub(crate) struct Context<'a> {
    /// The configuration.
    pub cfg: &'a Config,
    /// This machine's name, sent as `hostname`, looked up within the stage budget.
    pub hostname: crate::user::netaddr::HostName,
    /// This machine's IPv4 address for pushinfo (empty when unknown).
    pub local_ip: Option<String>,
}

/// Who logs in, and how, for one attempt.
pub(crate) struct Input<'a> {
    /// Duo username.
    pub duo_user: &'a str,
    /// Client address, if any.
    pub addr: Option<&'a str>,
    /// Command for pushinfo, already `None` when `pushinfo` is off.
    pub command: Option<&'a str>,
    /// Mode flags.
    pub flags: Flags,
}

/// What an attempt learnt that the auth event reports. Never a secret: the factor is the
/// name of one of Duo's menu entries (`push1`, `phone1`, …) or just `passcode`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The kind of factor sent.
    pub factor: Option<String>,
    /// The transaction id: of the asynchronous `/auth`, or the verified-push one of preauth.
    pub txid: Option<String>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn missing(field: &str) -> Problem {
    Problem::Service(format!("JSON missing valid '{field}'"))
}

/// Parse a reply body and check the envelope (docs/BEHAVIOUR.md §1.8). Returns the `response` object of a
/// `stat: OK` reply; `stat: FAIL` becomes [`Problem::Fail`] with `<code>: <message>`.
pub fn envelope(body: &[u8]) -> Result<Map<String, Value>, Problem> {
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
        return Err(Problem::Fail(format!("{code}: {message}")));
    }
    Err(Problem::Service(String::new()))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Problem::Service("No JSON object in response".into())),
        Err(_) => Err(Problem::Service("invalid JSON response".into())),
    }
}

fn get_str<'v>(m: &'v Map<String, Value>, field: &str) -> Result<&'v str, Problem> {
    match m.get(field) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(missing(field)),
    }
}

fn get_obj<'v>(m: &'v Map<String, Value>, field: &str) -> Result<&'v Map<String, Value>, Problem> {
    match m.get(field) {
        Some(Value::Object(o)) => Ok(o),
        _ => Err(missing(field)),
    }
}

/// Read the server time from a ping reply (docs/BEHAVIOUR.md §1.6); the envelope `stat` is not checked.
pub(crate) fn ping_time(body: &[u8]) -> Result<i64, Problem> {
    if body.is_empty() {
        return Err(Problem::Service("No response body from server".into()));
    }
    let top = parse_object(body)?;
    let response = get_obj(&top, "response")?;
    match response.get("time").and_then(Value::as_f64) {
        Some(t) if t.trunc() != 0.0 => Ok(t.trunc() as i64),
        _ => Err(missing("time")),
    }
}

/// Preauth said "auth": what the factor step needs from it.
pub(crate) struct AuthPrompt {
    pub(crate) response: Map<String, Value>,
    pub(crate) txid: Option<String>,
}

/// What preauth decided (docs/BEHAVIOUR.md §5.1).
pub(crate) enum Preauth {
    /// Ask for a second factor.
    Auth(AuthPrompt),
    /// Allowed without two-factor authentication; Duo's `status_msg`.
    Allow(String),
    /// Denied; Duo's `status_msg`, which the user is shown.
    Deny(String),
    /// The user must enroll first; the text the user is shown (the enrollment prompt, else
    /// `status_msg`).
    Enroll(String),
}

/// A synchronous `/auth` or an `/auth_status` reply: what Duo says to show, and the result
/// (`None` while it is "waiting").
pub(crate) struct Reply {
    /// Duo's `status_msg`, as sent (sanitised when shown).
    pub(crate) status_msg: String,
    /// The decided result, `None` for "waiting"; or what is wrong with it (the status
    /// message is still shown first, as the reference does).
    pub(crate) result: Result<Option<AuthResult>, Problem>,
}

/// What the auth stage decided (docs/BEHAVIOUR.md §5.3).
pub(crate) enum AuthResult {
    /// Approved.
    Allow,
    /// Denied (a refused push, a wrong passcode).
    Deny,
    /// Still waiting after the last status poll.
    StillWaiting,
}

/// Run one attempt. `env_factor` is consumed by the first attempt that uses it. What the auth
/// event reports about the attempt is written to `seen`; the outage `window` learns from the
/// ping/preauth stage.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attempt(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    env_factor: &mut Option<Zeroizing<String>>,
    ui: &mut dyn Conversation,
    seen: &mut Seen,
    window: &mut Window,
) -> Outcome {
    let (stage, evidence) = preauth_stage(client, ctx, input, ui);
    // What the stage showed about the service is all the outage window needs; it learns it
    // now, so that a probe's claim never waits on a push.
    window.learn(evidence);
    let prompt = match preauth_verdict(stage, ctx.cfg.failmode) {
        AfterPreauth::Prompt(p) => p,
        AfterPreauth::Decided(o) => return o,
    };
    let factor = match choose_factor(&prompt.response, input.flags, env_factor, ui) {
        Ok(f) => f,
        Err(p) => return p.outcome(),
    };
    seen.factor = Some(factor_label(&prompt.response, &factor));
    seen.txid.clone_from(&prompt.txid);
    auth_verdict(auth_stage(
        client,
        ctx,
        input,
        &factor,
        prompt.txid.as_deref(),
        ui,
        seen,
    ))
}

/// Where the ping/preauth stage leaves the attempt: a second factor is needed, or the attempt
/// is decided already (allowed, skipped, denied, the failmode verdict or an error). Neither
/// case is an error, so neither is spelled `Err`: the caller matches on what happened.
pub(crate) enum AfterPreauth {
    /// Duo asks for a second factor.
    Prompt(AuthPrompt),
    /// The attempt ends here with this outcome, which may allow or deny.
    Decided(Outcome),
}

/// What the ping/preauth stage decided, or the prompt when a second factor is needed.
pub(crate) fn preauth_verdict(r: Result<Preauth, Problem>, mode: FailMode) -> AfterPreauth {
    let decided = match r {
        Ok(Preauth::Auth(p)) => return AfterPreauth::Prompt(p),
        // An allow without a status message is logged as a success, as the reference does.
        Ok(Preauth::Allow(msg)) if msg.is_empty() => Outcome::Approved,
        Ok(Preauth::Allow(msg)) => Outcome::Skipped(msg),
        Ok(Preauth::Deny(msg)) => Outcome::Aborted(msg),
        Ok(Preauth::Enroll(_)) => Outcome::Aborted("User enrollment required".into()),
        Err(p) => failmode(p, mode),
    };
    AfterPreauth::Decided(decided)
}

/// The outcome of the auth stage.
pub(crate) fn auth_verdict(r: Result<AuthResult, Problem>) -> Outcome {
    match r {
        Ok(AuthResult::Allow) => Outcome::Approved,
        Ok(AuthResult::Deny) => Outcome::Failed(String::new()),
        Ok(AuthResult::StillWaiting) => Outcome::Failed("Authentication timed out".into()),
        Err(p) => p.outcome(),
    }
}

/// The outcome of a problem at the ping/preauth stage (docs/BEHAVIOUR.md §5.1 step 3, §8):
/// only evidence that the service could not be reached gives the failmode verdict; a local
/// failure is an error whatever the failmode (§0a D11).
pub(crate) fn failmode(p: Problem, mode: FailMode) -> Outcome {
    match (p, mode) {
        (Problem::Service(t), FailMode::Safe) => Outcome::FailSafe(t),
        (Problem::Service(t), FailMode::Secure) => Outcome::FailSecure(t),
        (p @ (Problem::Abort(_) | Problem::Fail(_) | Problem::Local(_)), _) => p.outcome(),
    }
}

/// The waiting-time budget of the ping+preauth stage and the bound of each single wait.
fn stage_budget(ctx: &Context<'_>) -> (Deadline<'static>, Option<Duration>) {
    let secs = ctx
        .cfg
        .https_timeout
        .map(u64::from)
        .unwrap_or(DEFAULT_STAGE_SECS);
    (
        Deadline::new(Duration::from_secs(secs)),
        ctx.cfg.https_timeout.map(|s| Duration::from_secs(s.into())),
    )
}

/// What the user is told before a pause for Duo's rate limit (docs/BEHAVIOUR.md §1.10).
fn rate_limited(ui: &mut dyn Conversation) -> impl FnMut(u64) + '_ {
    move |wait| {
        ui.status(&format!(
            "Rate-limiting response received from server. Waiting for {wait} seconds before retrying."
        ))
    }
}

/// Ping and preauth, and what their calls showed about the service.
fn preauth_stage(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    ui: &mut dyn Conversation,
) -> (Result<Preauth, Problem>, Evidence) {
    let mut evidence = Evidence::None;
    let r = preauth_calls(client, ctx, input, ui, &mut evidence);
    (r, evidence)
}

/// One call of the ping/preauth stage, adding what it showed to `evidence`.
fn stage_call(
    client: &mut Client,
    call: (Method, &str, &[(&str, &str)]),
    budget: (&Deadline<'_>, Option<Duration>),
    ui: &mut dyn Conversation,
    evidence: &mut Evidence,
) -> Result<Zeroizing<Vec<u8>>, Problem> {
    let (method, path, params) = call;
    match client.call(
        method,
        path,
        params,
        budget.0,
        budget.1,
        &mut rate_limited(ui),
    ) {
        Ok(body) => {
            *evidence = evidence.then(Evidence::Answered);
            Ok(body)
        }
        Err(e) => {
            *evidence = evidence.then(e.evidence());
            Err(e.into())
        }
    }
}

fn preauth_calls(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    ui: &mut dyn Conversation,
    evidence: &mut Evidence,
) -> Result<Preauth, Problem> {
    if input.duo_user.is_empty() {
        return Err(Problem::Local("empty username".into()));
    }
    let (deadline, per_wait) = stage_budget(ctx);
    let budget = (&deadline, per_wait);
    let body = stage_call(
        client,
        (Method::Get, "/auth/v2/ping", &[]),
        budget,
        ui,
        evidence,
    )?;
    let server_time = ping_time(&body)?;
    client.set_time_offset(server_time.saturating_sub(now_secs()));

    let mut params: Vec<(&str, &str)> = vec![("text_prompt", "1"), ("username", input.duo_user)];
    if let Some(a) = input.addr.filter(|a| !a.is_empty()) {
        params.push(("ipaddr", a));
    }
    // The host-name lookup started with the login; it may take at most half of what is left,
    // so that a silent DNS server leaves preauth its time (D4).
    let half = deadline.left() / 2;
    let hostname = ctx.hostname.get(&deadline.within(Some(half)));
    if !hostname.is_empty() {
        params.push(("hostname", hostname));
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
    let body = stage_call(
        client,
        (Method::Post, "/auth/v2/preauth", &params),
        budget,
        ui,
        evidence,
    )?;
    let preauth = preauth_reply(&body, input.flags.verified_push)?;
    if let Preauth::Deny(text) | Preauth::Enroll(text) = &preauth {
        ui.status(&sanitize(text));
    }
    Ok(preauth)
}

/// What a preauth reply body says (docs/BEHAVIOUR.md §5.1). Nothing is shown here: the deny
/// and enroll texts travel in the result, and the flow shows them.
pub(crate) fn preauth_reply(body: &[u8], verified_push: bool) -> Result<Preauth, Problem> {
    let response = envelope(body)?;
    let result = get_str(&response, "result")?.to_string();
    if result.eq_ignore_ascii_case("auth") {
        let txid = if verified_push {
            match response.get("txid") {
                Some(Value::String(t)) => Some(t.clone()),
                _ => None,
            }
        } else {
            None
        };
        return Ok(Preauth::Auth(AuthPrompt { response, txid }));
    }
    let status_msg = get_str(&response, "status_msg")?;
    if result.eq_ignore_ascii_case("allow") {
        Ok(Preauth::Allow(status_msg.to_string()))
    } else if result.eq_ignore_ascii_case("deny") {
        Ok(Preauth::Deny(status_msg.to_string()))
    } else if result.eq_ignore_ascii_case("enroll") {
        let text = match response.get("prompt") {
            Some(Value::Object(p)) => match p.get("text") {
                Some(Value::String(t)) => t.as_str(),
                _ => status_msg,
            },
            _ => status_msg,
        };
        Ok(Preauth::Enroll(text.to_string()))
    } else {
        Err(Problem::Service(format!("JSON invalid 'result': {result}")))
    }
}

/// Pick what is sent as the `prompt` parameter (docs/BEHAVIOUR.md §5.2): ENV, then AUTO, then the menu.
pub(crate) fn choose_factor(
    response: &Map<String, Value>,
    flags: Flags,
    env_factor: &mut Option<Zeroizing<String>>,
    ui: &mut dyn Conversation,
) -> Result<Zeroizing<String>, Problem> {
    if flags.env {
        if let Some(value) = env_factor.take() {
            if value.len() > MAX_FACTOR_LEN {
                return Err(Problem::Local("DUO_PASSCODE is too long".into()));
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
        return Err(Problem::Local("No prompt function set".into()));
    }
    let prompt = get_obj(response, "prompt")?;
    let text = get_str(prompt, "text")?;
    let factors = get_obj(prompt, "factors")?;
    let Some(answer) = ui.prompt(&sanitize(text)) else {
        return Err(Problem::Abort("Error gathering user response".into()));
    };
    let answer = first_line(&answer);
    if answer.is_empty() {
        // The reference sends an empty or "\n" factor that the server or the client rejects;
        // we count it as a failed attempt (docs/BEHAVIOUR.md §5.2 DEVIATION-OK).
        return Err(Problem::Fail("no factor or passcode entered".into()));
    }
    match factors.get(answer.as_str()) {
        Some(Value::String(f)) => Ok(Zeroizing::new(f.clone())),
        _ => Ok(answer),
    }
}

/// What the auth event may say about the factor sent: a factor name from Duo's menu when the
/// value sent is one (`push1`, `phone1`, …), otherwise `passcode`. What the user typed is
/// never reported.
fn factor_label(response: &Map<String, Value>, sent: &str) -> String {
    let in_menu = response
        .get("prompt")
        .and_then(|p| p.get("factors"))
        .and_then(Value::as_object)
        .is_some_and(|f| f.values().any(|v| v.as_str() == Some(sent)));
    let a_name = sent.len() <= 32
        && sent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && sent.bytes().any(|b| b.is_ascii_alphabetic());
    if in_menu && a_name {
        sent.to_string()
    } else {
        "passcode".to_string()
    }
}

/// The answer up to the first CR or LF, at most [`MAX_FACTOR_LEN`] bytes.
fn first_line(answer: &str) -> Zeroizing<String> {
    let line = answer.split(['\r', '\n']).next().unwrap_or("");
    Zeroizing::new(crate::log::truncate(line, MAX_FACTOR_LEN).to_string())
}

/// `/auth` and, in asynchronous mode, `/auth_status` polling (docs/BEHAVIOUR.md §5.3). Never failmode.
fn auth_stage(
    client: &mut Client,
    ctx: &Context<'_>,
    input: &Input<'_>,
    factor: &str,
    txid: Option<&str>,
    ui: &mut dyn Conversation,
    seen: &mut Seen,
) -> Result<AuthResult, Problem> {
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
    // Settled at preauth, within that stage's budget; nothing is waited for here.
    let hostname = ctx.hostname.chosen();
    if !hostname.is_empty() {
        params.push(("hostname", hostname));
    }
    params.push(("pushinfo", &pushinfo));
    if let Some(t) = txid.filter(|_| input.flags.verified_push) {
        params.push(("txid", t));
    }
    let deadline = Deadline::new(Duration::from_secs(AUTH_STAGE_SECS));
    let per_wait = if sync {
        None
    } else {
        ctx.cfg.https_timeout.map(|s| Duration::from_secs(s.into()))
    };
    let body = client.call(
        Method::Post,
        "/auth/v2/auth",
        &params,
        &deadline,
        per_wait,
        &mut rate_limited(ui),
    )?;
    if sync {
        let reply = result_reply(&body)?;
        ui.status(&sanitize(&reply.status_msg));
        // "waiting" is not an answer here: decided like any other unknown result.
        return reply.result?.map_or_else(|| decide("waiting"), Ok);
    }
    let response = envelope(&body)?;
    let txid = get_str(&response, "txid")?.to_string();
    if txid.len() > MAX_FACTOR_LEN {
        // The reference logs this error without a reason, and so do we (no extra debug line).
        return Err(Problem::Service(String::new()));
    }
    seen.txid = Some(txid.clone());
    ui.status("");
    let mut first_wait = true;
    for _ in 0..MAX_POLLS {
        let body = client.call(
            Method::Get,
            "/auth/v2/auth_status",
            &[("txid", &txid)],
            &deadline,
            None,
            &mut rate_limited(ui),
        )?;
        let reply = result_reply(&body)?;
        let text = sanitize(&reply.status_msg);
        match reply.result {
            Err(p) => {
                ui.status(&text);
                return Err(p);
            }
            Ok(Some(r)) => {
                ui.status(&text);
                return Ok(r);
            }
            // The first news of a pending push or call (with the Verified Push code, if any)
            // must reach the user before they answer on the phone (§0a D17).
            Ok(None) if first_wait => {
                first_wait = false;
                ui.awaiting(&text);
            }
            Ok(None) => ui.status(&text),
        }
    }
    Ok(AuthResult::StillWaiting)
}

/// A synchronous `/auth` or an `/auth_status` reply body: its `status_msg` and its
/// [`decide`]d `result` (`None` when "waiting"). Nothing is shown here.
pub(crate) fn result_reply(body: &[u8]) -> Result<Reply, Problem> {
    let response = envelope(body)?;
    let status_msg = get_str(&response, "status_msg")?.to_string();
    let result = match get_str(&response, "result") {
        Ok(r) if r.eq_ignore_ascii_case("waiting") => Ok(None),
        Ok(r) => decide(r).map(Some),
        Err(p) => Err(p),
    };
    Ok(Reply { status_msg, result })
}

/// Read a final auth result: allow, deny, or a malformed reply.
pub(crate) fn decide(result: &str) -> Result<AuthResult, Problem> {
    if result.eq_ignore_ascii_case("allow") {
        Ok(AuthResult::Allow)
    } else if result.eq_ignore_ascii_case("deny") {
        Ok(AuthResult::Deny)
    } else {
        Err(Problem::Service(format!("JSON invalid 'result': {result}")))
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
        type Case<'a> = (&'a [u8], fn(String) -> Problem, &'a str);
        let cases: &[Case<'_>] = &[
            (b"", Problem::Service, "invalid JSON response"),
            (b"<html>", Problem::Service, "invalid JSON response"),
            (b"[1]", Problem::Service, "No JSON object in response"),
            (b"{}", Problem::Service, "JSON missing valid 'stat'"),
            (
                br#"{"stat":"OK"}"#,
                Problem::Service,
                "JSON missing valid 'response'",
            ),
            (
                br#"{"stat":"FAIL"}"#,
                Problem::Service,
                "JSON missing valid 'code'",
            ),
            (
                br#"{"stat":"FAIL","code":0,"message":"x"}"#,
                Problem::Service,
                "JSON missing valid 'code'",
            ),
            (
                br#"{"stat":"FAIL","code":40002}"#,
                Problem::Service,
                "JSON missing valid 'message'",
            ),
            (
                br#"{"stat":"FAIL","code":40002.7,"message":"Invalid request"}"#,
                Problem::Fail,
                "40002: Invalid request",
            ),
            (
                br#"{"stat":"BAD_STATUS","response":{}}"#,
                Problem::Service,
                "",
            ),
        ];
        for (body, class, text) in cases {
            let e = envelope(body).unwrap_err();
            assert_eq!(
                e,
                class(text.to_string()),
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
            assert_eq!(ping_time(bad).unwrap_err(), missing("time"));
        }
        assert_eq!(
            ping_time(br#"{"stat":"OK"}"#).unwrap_err(),
            missing("response")
        );
    }

    #[test]
    fn failmode_needs_network_evidence() {
        let why = || "why".to_string();
        assert_eq!(
            failmode(Problem::Service(why()), FailMode::Safe),
            Outcome::FailSafe(why())
        );
        assert_eq!(
            failmode(Problem::Service(why()), FailMode::Secure),
            Outcome::FailSecure(why())
        );
        // A local failure is an error in both failmodes (D11).
        for mode in [FailMode::Safe, FailMode::Secure] {
            assert_eq!(failmode(Problem::Local(why()), mode), Outcome::Error(why()));
            assert_eq!(
                failmode(Problem::Abort(why()), mode),
                Outcome::Aborted(why())
            );
            assert_eq!(failmode(Problem::Fail(why()), mode), Outcome::Failed(why()));
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
        assert_eq!(e, Problem::Abort("Error gathering user response".into()));
    }

    #[test]
    fn empty_answer_is_a_failed_attempt() {
        let mut ui = Scripted {
            answers: vec!["\n"],
            shown: vec![],
            can: true,
        };
        let e = choose_factor(&menu(), Flags::default(), &mut None, &mut ui).unwrap_err();
        assert!(matches!(e, Problem::Fail(_)));
    }

    #[test]
    fn headless_without_auto_cannot_prompt() {
        let mut ui = Scripted {
            answers: vec![],
            shown: vec![],
            can: false,
        };
        let e = choose_factor(&menu(), Flags::default(), &mut None, &mut ui).unwrap_err();
        assert_eq!(e, Problem::Local("No prompt function set".into()));
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
            choose_factor(&bare, flags, &mut None, &mut ui).unwrap_err(),
            missing("prompt")
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
            choose_factor(&menu(), flags, &mut long, &mut ui).unwrap_err(),
            Problem::Local("DUO_PASSCODE is too long".into())
        );
    }

    #[test]
    fn factor_labels_never_carry_what_was_typed() {
        let m = menu();
        assert_eq!(factor_label(&m, "push1"), "push1");
        assert_eq!(factor_label(&m, "phone1"), "phone1");
        // Passcodes, free text and anything not in Duo's menu.
        for typed in [
            "123456",
            "ccccccbtvlhvnbeuhtkglhbdbvuuvfecvtblfifgigdk",
            "1",
            "",
            "x y",
        ] {
            assert_eq!(factor_label(&m, typed), "passcode", "{typed:?}");
        }
        // Even a menu entry that looks like a passcode.
        let odd = match serde_json::json!({"prompt":{"factors":{"1":"123456","2":"a b"}}}) {
            Value::Object(o) => o,
            _ => unreachable!(),
        };
        assert_eq!(factor_label(&odd, "123456"), "passcode");
        assert_eq!(factor_label(&odd, "a b"), "passcode");
        assert_eq!(factor_label(&Map::new(), "push1"), "passcode");
    }

    #[test]
    fn answers_are_cut_to_255_bytes() {
        assert_eq!(first_line(&"7".repeat(300)).len(), 255);
        assert_eq!(*first_line("abc\rdef"), "abc");
    }
}
