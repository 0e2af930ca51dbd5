//! Locale-free date handling: the RFC 2822 `X-Duo-Date` string and HTTP dates in
//! `Retry-After` (SPEC §1.5, §1.10).
