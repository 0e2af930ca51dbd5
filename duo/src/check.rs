//! What `duo-check` needs of the core beyond the configuration and the flow: the API handle
//! and its calls, the time budget, the TLS set-up and the pinned roots, the raw INI reader,
//! the config file's open rules, the reply envelope, and who serves a proxy on this host. The
//! frontends do not use it.

pub use crate::api::client::{CallError, Client, HandleError, Method};
pub use crate::api::deadline::Deadline;
pub use crate::api::evidence::Evidence;
pub use crate::api::localhop::{is_on_this_host, listener_owners, trusted_owner, SYS_UID_MAX};
pub use crate::api::proxy::{
    check_reply as check_proxy_reply, connect_request as proxy_connect_request,
    parse as parse_proxy, Proxy, ProxyError,
};
pub use crate::api::tls::{client_config, parse_pem, PINNED_ROOTS_PEM};
pub use crate::config::file::ConfigFile;
pub use crate::config::ini::parse as parse_ini;
pub use crate::flow::attempt::envelope;
pub use crate::flow::outcome::Problem;
