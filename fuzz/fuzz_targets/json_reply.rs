//! Duo's JSON replies through the code that turns them into outcomes (duo::flow::attempt): ping,
//! preauth (and the factor menu that follows "auth"), synchronous auth and auth_status, and the
//! failmode conversion. Input: a selector byte, an answer line for the menu, a NUL, the body.
//!
//! Properties: only a well-formed allow (valid JSON object, `stat` "OK", a `response` object
//! whose `result` is "allow" and whose `status_msg` is a string) yields an allow (Approved or
//! Skipped), the failmode verdicts come only from a service problem under their own failmode,
//! and a well-formed deny or enroll always aborts; "auth" only from a well-formed "auth"; every
//! text shown to the user is sanitised; a factor that is not from the server's table is at most
//! 255 bytes, and when typed is non-empty without CR or LF; a ping time is never 0.
#![no_main]

use duo::config::FailMode;
use duo::flow::login::Flags;
use duo::flow::outcome::{Outcome, Problem};
use duo::fuzzing::{
    auth_result, choose_factor, envelope, failmode, has_forbidden_control, ping_time, preauth,
    Preauth, Recorder,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// The `response` object of a reply with `stat` "OK" (any case), parsed independently.
fn ok_response(body: &[u8]) -> Option<Map<String, Value>> {
    let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    match (top.get("stat"), top.get("response")) {
        (Some(Value::String(s)), Some(Value::Object(r))) if s.eq_ignore_ascii_case("OK") => {
            Some(r.clone())
        }
        _ => None,
    }
}

/// The `status_msg` of a well-formed reply with this `result`.
fn well_formed(body: &[u8], result: &str) -> Option<String> {
    let r = ok_response(body)?;
    match (r.get("result"), r.get("status_msg")) {
        (Some(Value::String(s)), Some(Value::String(m))) if s.eq_ignore_ascii_case(result) => {
            Some(m.clone())
        }
        _ => None,
    }
}

/// Outcomes that let the user in.
fn allows(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::Approved | Outcome::Skipped(_) | Outcome::FailSafe(_)
    )
}

fn check_failmode(p: &Problem) {
    for mode in [FailMode::Safe, FailMode::Secure] {
        let v = failmode(p.clone(), mode);
        if allows(&v) {
            assert!(
                mode == FailMode::Safe && matches!(p, Problem::Service(_)),
                "{p:?} became {v:?} under {mode:?}"
            );
        }
        if matches!(v, Outcome::FailSecure(_)) {
            assert!(mode == FailMode::Secure && matches!(p, Problem::Service(_)));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (answer, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (
            String::from_utf8_lossy(&rest[..i]).into_owned(),
            &rest[i + 1..],
        ),
        None => (String::new(), rest),
    };
    let mut ui = Recorder {
        answers: vec![answer.clone()],
        can_prompt: sel & 0x10 == 0,
        ..Recorder::default()
    };
    let mode = if sel & 0x04 == 0 {
        FailMode::Safe
    } else {
        FailMode::Secure
    };
    match sel % 4 {
        0 => match ping_time(body) {
            Ok(t) => {
                assert_ne!(t, 0);
                let r = serde_json::from_slice::<Value>(body).expect("valid JSON");
                assert!(r["response"]["time"].is_number());
            }
            Err(p) => {
                assert!(matches!(p, Problem::Service(_)));
                check_failmode(&p);
            }
        },
        1 => {
            let verified_push = sel & 0x20 != 0;
            match preauth(body, verified_push, mode, &mut ui) {
                Preauth::Prompt(response, txid) => {
                    let r = ok_response(body).expect("auth from a well-formed reply");
                    assert!(
                        matches!(r.get("result"), Some(Value::String(s)) if s.eq_ignore_ascii_case("auth"))
                    );
                    assert!(verified_push || txid.is_none());
                    let flags = Flags {
                        auto: sel & 0x40 != 0,
                        env: sel & 0x80 != 0,
                        ..Flags::default()
                    };
                    let env = (sel & 0x08 != 0).then(|| answer.clone());
                    match choose_factor(&response, flags, env, &mut ui) {
                        Ok(f) => {
                            let from_table = response
                                .get("prompt")
                                .and_then(|p| p.get("factors"))
                                .and_then(Value::as_object)
                                .is_some_and(|t| t.values().any(|v| v.as_str() == Some(&f)));
                            if !from_table {
                                assert!(f.len() <= 255, "typed factor too long");
                                if !flags.env {
                                    assert!(!f.is_empty() && !f.contains(['\r', '\n']));
                                }
                            }
                        }
                        Err(o) => assert!(!allows(&o)),
                    }
                }
                Preauth::Decided(o) => {
                    match &o {
                        Outcome::Approved => {
                            assert_eq!(well_formed(body, "allow").as_deref(), Some(""))
                        }
                        Outcome::Skipped(m) => {
                            assert_eq!(well_formed(body, "allow").as_ref(), Some(m))
                        }
                        Outcome::FailSafe(_) => assert_eq!(mode, FailMode::Safe),
                        Outcome::FailSecure(_) => assert_eq!(mode, FailMode::Secure),
                        _ => {}
                    }
                    if well_formed(body, "deny").is_some() || well_formed(body, "enroll").is_some()
                    {
                        assert!(matches!(o, Outcome::Aborted(_)), "{o:?}");
                    }
                }
            }
        }
        _ => {
            let waiting = sel % 4 == 3;
            match auth_result(body, waiting, &mut ui) {
                Some(Outcome::Approved) => {
                    assert!(well_formed(body, "allow").is_some(), "allow from {body:?}")
                }
                Some(o) => {
                    assert!(!allows(&o) && !matches!(o, Outcome::FailSecure(_)), "{o:?}");
                    if matches!(o, Outcome::Failed(ref t) if t.is_empty()) {
                        assert!(well_formed(body, "deny").is_some());
                    }
                }
                None => assert!(waiting && well_formed(body, "waiting").is_some()),
            }
            if let Ok(r) = envelope(body) {
                assert_eq!(Some(r), ok_response(body));
            }
        }
    }
    for s in &ui.shown {
        assert!(!has_forbidden_control(s), "unsanitised text shown: {s:?}");
    }
});
