//! Result classes of one authentication attempt (SPEC §0 table, §5.4).

/// What one step or one whole attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Preauth said "auth": go on to factor selection.
    Continue,
    /// Authenticated, or preauth allowed the user without 2FA.
    Ok,
    /// This attempt failed; the frontend may try again.
    Fail,
    /// Stop now and deny.
    Abort,
    /// Local or internal error.
    LibError,
    /// The HTTPS exchange could not be completed.
    ConnError,
    /// HTTP 401, or a local precondition failure.
    ClientError,
    /// HTTP 5xx, malformed JSON or unexpected values.
    ServerError,
    /// Failmode verdict "safe": allow. Only produced from the ping/preauth stage.
    FailSafeAllow,
    /// Failmode verdict "secure": deny. Only produced from the ping/preauth stage.
    FailSecureDeny,
}

/// A class with its error text (possibly empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The class.
    pub class: Class,
    /// Error or status text; empty when there is none.
    pub text: String,
}

impl Outcome {
    /// An outcome with the given class and text.
    pub fn new(class: Class, text: impl Into<String>) -> Self {
        Outcome {
            class,
            text: text.into(),
        }
    }

    /// Whether this is one of the error classes that failmode converts at preauth.
    pub fn is_failmode_class(&self) -> bool {
        matches!(
            self.class,
            Class::ConnError | Class::ClientError | Class::ServerError
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.class, self.text)
    }
}
