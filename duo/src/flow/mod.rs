//! The login flow: one attempt against the service (`attempt`) and what it came to (`outcome`),
//! the attempt loop both frontends share (`login`), the outage window (`outage`), the auth event
//! (`events`), and the conversation through which the flow alone talks to the user (`conv`).

pub(crate) mod attempt;
pub mod conv;
pub mod events;
pub mod login;
pub mod outage;
pub mod outcome;
