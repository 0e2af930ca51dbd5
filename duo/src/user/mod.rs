//! Who logs in and from where: local accounts (`account`), the `groups` gate (`groups`,
//! `pattern`), the GECOS-derived Duo username (`gecos`), client and host addresses (`netaddr`,
//! with this host's name from `/etc/hosts` in `hosts_file`) and the command a sudo push shows
//! (`sudo_cmd`).

pub mod account;
pub mod gecos;
pub mod groups;
mod hosts_file;
pub mod netaddr;
pub mod pattern;
pub mod sudo_cmd;
