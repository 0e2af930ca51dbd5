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
                unreachable: true,
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
