//! The configuration file, whole, through `config::parse` (what `config::load` runs after its
//! open and permission checks). Properties: every accepted config satisfies the validation
//! rules, and renders back to text that parses to the same settings (also with CRLF line ends
//! and a BOM).
#![no_main]

use duo::config::{Frontend, MAX_HTTPS_TIMEOUT};
use duo::fuzzing::{config_parse, config_render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    let frontend = if sel & 1 == 0 {
        Frontend::Pam
    } else {
        Frontend::Login
    };
    let Ok(cfg) = config_parse(text, frontend) else {
        return;
    };
    assert!(!cfg.ikey.is_empty() && !cfg.skey.is_empty() && !cfg.host.is_empty());
    assert!(cfg.cafile.as_ref().is_none_or(|c| !c.is_empty()));
    assert!(cfg.http_proxy.as_ref().is_none_or(|p| !p.is_empty()));
    assert!((1..=3).contains(&cfg.prompts));
    assert!(cfg
        .https_timeout
        .is_none_or(|t| (1..=MAX_HTTPS_TIMEOUT).contains(&t)));
    assert!(!(cfg.autopush && cfg.verified_push));
    assert!(cfg.groups.len() <= duo::user::groups::MAX_GROUPS);
    assert!(cfg.groups.iter().all(|g| !g.is_empty()));
    assert!(cfg.gecos_delim.is_ascii_punctuation() && cfg.gecos_delim != b':');
    assert!(frontend == Frontend::Login || !cfg.motd);

    let text = config_render(&cfg, frontend).expect("every parsed config renders");
    let back = config_parse(text.as_bytes(), frontend).expect("a rendered config parses");
    assert_eq!(back, cfg, "render/parse round trip of {:?}", text.as_str());
    let again = config_render(&back, frontend).expect("renders");
    assert_eq!(again, text, "rendering is deterministic");
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let back = config_parse(crlf.as_bytes(), frontend).expect("CRLF and BOM parse");
    assert_eq!(back, cfg);
});
