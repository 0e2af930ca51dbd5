//! The Duo Auth API over the network: signed requests (`sign`), the HTTPS client with
//! pinned roots (`tls`, `http`, `response`, `proxy`), time budgets for every wait (`deadline`),
//! dates (`timefmt`) and where the time of a login went (`phases`).
//!
//! This layer knows the configuration and nothing of PAM, users or the login flow above it.

pub(crate) mod client;
pub(crate) mod deadline;
pub(crate) mod evidence;
pub(crate) mod http;
pub(crate) mod localhop;
pub mod phases;
pub(crate) mod proxy;
// Its items are public for the fuzz targets (re-exported by `crate::fuzzing`).
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub(crate) mod response;
pub(crate) mod sign;
pub mod timefmt;
pub(crate) mod tls;
