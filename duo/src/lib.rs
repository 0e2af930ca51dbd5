//! Core of Duo Unix in Rust.
//!
//! This crate holds everything the two frontends (`pam_duo` and `login_duo`) share: the
//! configuration reader, request signing, the HTTPS client with pinned roots, the Duo
//! authentication flow with its failmode rules, group and GECOS handling, logging and text
//! sanitising. It never touches PAM and never forks, execs or changes credentials.
//!
//! The behaviour is described in docs/BEHAVIOUR.md (that of Duo Unix 2.2.3, with the
//! project's deliberate deviations listed in its §0a).

#![forbid(unsafe_op_in_unsafe_fn)]
// Only the `sys` module talks to the C library (see docs/ARCHITECTURE.md).
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod api;
pub mod check;
pub mod config;
pub mod crypto;
pub mod flow;
// Entry points for the fuzz targets (`fuzz/`), never in a shipped build (compiled for the
// unit tests too, which check its properties).
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod log;
pub mod sanitize;
#[allow(unsafe_code)]
pub mod sys;
pub mod user;

/// Version reported in `-v` and the User-Agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Default configuration directory.
pub const CONF_DIR: &str = "/etc/duo";

/// The platform part of the User-Agent, in autoconf spelling: a fixed string, the same on
/// every architecture, as the C version sends (not detected from the build host).
pub const HOST_TRIPLE: &str = "x86_64-pc-linux-gnu";
