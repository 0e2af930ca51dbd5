//! The `http_proxy` option and the CONNECT tunnel (SPEC §2.4). Never read from the environment.
