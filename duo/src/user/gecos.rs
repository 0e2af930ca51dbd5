//! The GECOS-derived Duo username (docs/BEHAVIOUR.md §3.6).

use crate::config::Config;
use crate::log::{log, Priority};
use crate::user::account::Account;

/// What the GECOS rules decided, before logging.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Not enabled: the OS name.
    Off,
    /// Empty GECOS: the OS name, with a warning.
    Empty,
    /// The field could not be found: the OS name, with a debug line.
    Unparsable,
    /// This name.
    Name(String),
}

pub(crate) fn choose(cfg: &Config, gecos: Option<&str>) -> Choice {
    if !cfg.send_gecos && cfg.gecos_username_pos.is_none() {
        return Choice::Off;
    }
    let g = gecos.unwrap_or("");
    if g.is_empty() {
        return Choice::Empty;
    }
    match cfg.gecos_username_pos {
        Some(pos) => match g.split(cfg.gecos_delim as char).nth(pos) {
            Some(f) if !f.is_empty() => Choice::Name(f.to_string()),
            _ => Choice::Unparsable,
        },
        None => Choice::Name(g.to_string()),
    }
}

/// The Duo username for `account`: the OS name, or a GECOS-derived one when `send_gecos` or
/// `gecos_username_pos` is set. Logs the lines of §3.6.
pub fn duo_username(cfg: &Config, account: &Account) -> String {
    let user = &account.name;
    match choose(cfg, account.gecos.as_deref()) {
        Choice::Off => user.clone(),
        Choice::Empty => {
            log(
                Priority::Warning,
                &format!("Empty GECOS field for '{user}'"),
            );
            user.clone()
        }
        Choice::Unparsable => {
            log(
                Priority::Debug,
                &format!("Could not parse GECOS field for '{user}'"),
            );
            user.clone()
        }
        Choice::Name(n) => {
            if &n != user {
                log(
                    Priority::Info,
                    &format!("Presenting GECOS-derived Duo username for '{user}': {n}"),
                );
            }
            n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(send: bool, pos: Option<usize>, delim: u8) -> Config {
        Config {
            send_gecos: send,
            gecos_username_pos: pos,
            gecos_delim: delim,
            ..Config::default()
        }
    }

    #[test]
    fn rules() {
        assert_eq!(choose(&cfg(false, None, b','), Some("x")), Choice::Off);
        assert_eq!(
            choose(&cfg(true, None, b','), Some("Al Ice,room,phone")),
            Choice::Name("Al Ice,room,phone".into())
        );
        assert_eq!(choose(&cfg(true, None, b','), Some("")), Choice::Empty);
        assert_eq!(
            choose(&cfg(false, Some(1), b','), Some("a,duo-bob,c")),
            Choice::Name("duo-bob".into())
        );
        assert_eq!(
            choose(&cfg(false, Some(2), b'/'), Some("a/b/c")),
            Choice::Name("c".into())
        );
        assert_eq!(
            choose(&cfg(false, Some(3), b','), Some("a,b,c")),
            Choice::Unparsable
        );
        assert_eq!(
            choose(&cfg(false, Some(1), b','), Some("a,,c")),
            Choice::Unparsable
        );
    }
}
