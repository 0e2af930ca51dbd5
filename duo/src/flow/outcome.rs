//! What one authentication attempt came to (docs/BEHAVIOUR.md §0, §5.4), and the problems met
//! on the way, sorted by where they came from.

/// A problem that ended a stage early. Where it came from is part of the type, so that a
/// local failure can never be taken for an unreachable service (docs/BEHAVIOUR.md §0a D11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The Duo service could not be reached, or did not answer as the protocol says: a
    /// transport failure, HTTP 401, HTTP 5xx, a malformed reply. This is network evidence,
    /// and at the ping/preauth stage it leads to the failmode verdict.
    Service(String),
    /// The service said no in a way that ends the login: another HTTP 4xx, a 429 that could
    /// not be waited out, or the user's answer could not be read.
    Abort(String),
    /// This attempt failed (`stat: FAIL`, no factor entered); the frontend may try again.
    Fail(String),
    /// This machine failed: threads, descriptors, memory, an internal error, a precondition.
    Local(String),
}

impl From<crate::api::client::CallError> for Problem {
    fn from(e: crate::api::client::CallError) -> Problem {
        use crate::api::client::CallError;
        match e {
            CallError::Connect { .. } | CallError::Unauthorized | CallError::Server(_) => {
                Problem::Service(e.to_string())
            }
            CallError::Rejected(_) => Problem::Abort(e.to_string()),
            CallError::Local(why) => Problem::Local(why),
        }
    }
}

/// What one attempt came to. Each variant but [`Outcome::Failed`] ends the login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Duo approved.
    Approved,
    /// Preauth allowed the user without two-factor authentication; the text is Duo's
    /// `status_msg`.
    Skipped(String),
    /// This attempt failed; the frontend may try again.
    Failed(String),
    /// Denied outright: preauth deny or enrollment, HTTP 4xx, the answer could not be read.
    Aborted(String),
    /// The service was unreachable at preauth and `failmode = safe`: allow.
    FailSafe(String),
    /// The service was unreachable at preauth and `failmode = secure`: deny.
    FailSecure(String),
    /// Any other error, local or from the service after preauth: deny.
    Error(String),
}

impl Outcome {
    /// Whether the login may proceed: approved, skipped by Duo or the `groups` option, or the
    /// failmode verdict with `failmode = safe`.
    pub fn allows(&self) -> bool {
        matches!(
            self,
            Outcome::Approved | Outcome::Skipped(_) | Outcome::FailSafe(_)
        )
    }

    /// The words that begin the verdict line (docs/BEHAVIOUR.md §9).
    pub fn line_words(&self) -> &'static str {
        match self {
            Outcome::Approved => "Successful Duo login",
            Outcome::Skipped(_) => "Skipped Duo login",
            Outcome::Failed(_) => "Failed Duo login",
            Outcome::Aborted(_) => "Aborted Duo login",
            Outcome::FailSafe(_) => "Failsafe Duo login",
            Outcome::FailSecure(_) => "Failsecure Duo login",
            Outcome::Error(_) => "Error in Duo login",
        }
    }

    /// The reason text of the verdict line (empty for an approval).
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Approved => "",
            Outcome::Skipped(t)
            | Outcome::Failed(t)
            | Outcome::Aborted(t)
            | Outcome::FailSafe(t)
            | Outcome::FailSecure(t)
            | Outcome::Error(t) => t,
        }
    }

    /// The auth event's `result` for a login that ended with this outcome after `allowed`
    /// attempts were allowed: a last [`Outcome::Failed`] is `failed` when one attempt was
    /// allowed and `maxtries` when several were.
    pub fn result(&self, allowed: u32) -> &'static str {
        match self {
            Outcome::Approved => "success",
            Outcome::Skipped(_) => "skipped",
            Outcome::Aborted(_) => "denied",
            Outcome::Failed(_) if allowed <= 1 => "failed",
            Outcome::Failed(_) => "maxtries",
            Outcome::FailSafe(_) => "failsafe",
            Outcome::FailSecure(_) => "failsecure",
            Outcome::Error(_) => "error",
        }
    }

    /// The syslog priority of the verdict line (and of the auth event).
    pub fn priority(&self) -> crate::log::Priority {
        use crate::log::Priority;
        match self {
            Outcome::Approved => Priority::Info,
            Outcome::Error(_) => Priority::Err,
            _ => Priority::Warning,
        }
    }
}

impl Problem {
    /// The outcome of this problem outside the ping/preauth stage, where failmode does not
    /// apply.
    pub fn outcome(self) -> Outcome {
        match self {
            Problem::Service(t) | Problem::Local(t) => Outcome::Error(t),
            Problem::Abort(t) => Outcome::Aborted(t),
            Problem::Fail(t) => Outcome::Failed(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::client::CallError;

    #[test]
    fn call_errors_keep_their_origin() {
        assert_eq!(
            Problem::from(CallError::Local("cannot start resolver".into())),
            Problem::Local("cannot start resolver".into())
        );
        assert_eq!(
            Problem::from(CallError::Connect {
                text: "Couldn't connect to h: Failed to connect".into(),
                evidence: crate::api::evidence::Evidence::Unreachable,
            }),
            Problem::Service("Couldn't connect to h: Failed to connect".into())
        );
        assert_eq!(
            Problem::from(CallError::Unauthorized),
            Problem::Service("Invalid ikey or skey".into())
        );
        assert_eq!(
            Problem::from(CallError::Server(503)),
            Problem::Service("HTTP 503".into())
        );
        assert_eq!(
            Problem::from(CallError::Rejected(429)),
            Problem::Abort("HTTP 429".into())
        );
    }

    #[test]
    fn results_and_priorities_follow_the_outcome() {
        use crate::log::Priority;
        let t = || "why".to_string();
        let cases = [
            (Outcome::Approved, 3, "success", Priority::Info, true),
            (Outcome::Skipped(t()), 3, "skipped", Priority::Warning, true),
            (Outcome::Aborted(t()), 3, "denied", Priority::Warning, false),
            (
                Outcome::FailSafe(t()),
                3,
                "failsafe",
                Priority::Warning,
                true,
            ),
            (
                Outcome::FailSecure(t()),
                3,
                "failsecure",
                Priority::Warning,
                false,
            ),
            (Outcome::Error(t()), 3, "error", Priority::Err, false),
            (Outcome::Failed(t()), 1, "failed", Priority::Warning, false),
            (
                Outcome::Failed(t()),
                2,
                "maxtries",
                Priority::Warning,
                false,
            ),
        ];
        for (o, allowed, result, prio, allows) in cases {
            assert_eq!(
                (o.result(allowed), o.priority(), o.allows()),
                (result, prio, allows),
                "{o:?}"
            );
        }
        assert_eq!(Outcome::Approved.reason(), "");
        assert_eq!(Outcome::Error("x".into()).reason(), "x");
    }

    #[test]
    fn outside_preauth_nothing_allows() {
        for p in [
            Problem::Service("x".into()),
            Problem::Local("x".into()),
            Problem::Abort("x".into()),
            Problem::Fail("x".into()),
        ] {
            assert!(!matches!(
                p.outcome(),
                Outcome::Approved | Outcome::Skipped(_) | Outcome::FailSafe(_)
            ));
        }
    }
}
