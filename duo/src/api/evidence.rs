//! What a call showed about the Duo service: the one fact the outage window needs
//! (docs/BEHAVIOUR.md §8.1). It travels in the error types from the connection up to the
//! flow, so nothing has to be read back from the client afterwards.

/// What a call, or a stage of calls, showed about the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// An HTTP response (of any status) came back: the service is reachable.
    Answered,
    /// The service could not be reached at the network level: the name did not resolve, the
    /// connect was refused or unanswered, the TLS handshake failed, silence, or a proxy (one
    /// that may count, D15) could not reach it.
    Unreachable,
    /// Nothing either way: a local failure, a hop on this host that does not count (D15), a
    /// connection closed mid-reply, a malformed reply, a proxy's refusal.
    None,
}

impl Evidence {
    /// The evidence of a stage after one more call showed `next`: unreachability or an
    /// answer replaces what was known; a call that showed nothing leaves it.
    pub fn then(self, next: Evidence) -> Evidence {
        match next {
            Evidence::None => self,
            seen => seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Evidence::{self, Answered, None, Unreachable};

    #[test]
    fn the_last_call_that_showed_something_decides() {
        let stage = |calls: &[Evidence]| calls.iter().fold(None, |e, c| e.then(*c));
        assert_eq!(stage(&[]), None);
        assert_eq!(
            stage(&[Answered, None]),
            Answered,
            "ping answered, preauth closed"
        );
        assert_eq!(
            stage(&[Answered, Unreachable]),
            Unreachable,
            "ping answered, preauth silent"
        );
        assert_eq!(stage(&[None]), None, "a local failure");
        assert_eq!(stage(&[Unreachable]), Unreachable);
    }
}
