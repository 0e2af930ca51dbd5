//! Who logs in and from where: local accounts (`account`), the `groups` gate (`groups`,
//! `pattern`), the GECOS-derived Duo username (`gecos`) and client and host addresses (`netaddr`).

pub mod account;
pub mod gecos;
pub mod groups;
pub mod netaddr;
pub mod pattern;
