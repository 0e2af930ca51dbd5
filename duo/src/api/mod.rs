//! The Duo Auth API over the network: signed requests (`sign`), the HTTPS client with
//! pinned roots (`tls`, `http`, `response`, `proxy`), time budgets for every wait (`deadline`),
//! dates (`timefmt`) and where the time of a login went (`phases`).
//!
//! This layer knows the configuration and nothing of PAM, users or the login flow above it.

pub mod client;
pub mod deadline;
pub(crate) mod http;
pub mod phases;
pub mod proxy;
pub(crate) mod response;
pub(crate) mod sign;
pub mod timefmt;
pub mod tls;
