//! The GECOS-derived Duo username (duo::user::gecos). Input: a settings byte, then the GECOS field.
//! Properties: off unless enabled; an empty field is never a name; with a position, the name
//! is exactly that non-empty field and holds no delimiter; without one it is the whole field.
#![no_main]

use duo::config::Config;
use duo::fuzzing::gecos_name;
use libfuzzer_sys::fuzz_target;

const DELIMS: &[u8] = b",/;|-_.!#+=";

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let gecos = String::from_utf8_lossy(rest);
    let cfg = Config {
        send_gecos: sel & 1 != 0,
        gecos_username_pos: (sel & 2 != 0).then_some(usize::from(sel >> 5)),
        gecos_delim: DELIMS[usize::from(sel >> 2 & 7)],
        ..Config::default()
    };
    let field = (sel & 0x10 == 0).then_some(&*gecos);
    let r = gecos_name(&cfg, field);
    if !cfg.send_gecos && cfg.gecos_username_pos.is_none() {
        assert_eq!(r, Err("off"));
        return;
    }
    let g = field.unwrap_or("");
    if g.is_empty() {
        assert_eq!(r, Err("empty"));
        return;
    }
    let delim = cfg.gecos_delim as char;
    match (cfg.gecos_username_pos, r) {
        (Some(pos), Ok(name)) => {
            assert!(!name.is_empty() && !name.contains(delim));
            assert_eq!(g.split(delim).nth(pos), Some(name.as_str()));
        }
        (Some(pos), Err(why)) => {
            assert_eq!(why, "unparsable");
            assert!(g.split(delim).nth(pos).is_none_or(str::is_empty));
        }
        (None, r) => assert_eq!(r.as_deref(), Ok(g)),
    }
});
