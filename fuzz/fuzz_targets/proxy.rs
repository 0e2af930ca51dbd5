//! `http_proxy` values and proxy CONNECT replies (duo::api::proxy). Properties: an accepted proxy
//! has a non-empty host without `/` or `:`, an `http://` scheme or none, credentials only when
//! the value has an `@`, and the CONNECT request built from it is well-formed (credentials
//! only as base64, no stray CR or LF); a proxy reply is accepted only when its first line is an
//! HTTP/1.x 200, and a refusal is transient exactly for a 5xx.
#![no_main]

use duo::fuzzing::{check_reply, connect_request, parse_proxy as parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        let value = String::from_utf8_lossy(rest);
        let Ok(p) = parse(&value) else {
            return;
        };
        assert!(!p.host.is_empty());
        assert!(!p.host.contains(['/', ':']));
        if let Some((scheme, _)) = value.split_once("://") {
            assert!(scheme.eq_ignore_ascii_case("http"));
        }
        if !value.contains('@') {
            assert!(p.credentials.is_none());
        }
        let req = connect_request(&p, "api-x.duosecurity.com", 443, "pam_duo/2.2.3");
        let lines: Vec<&str> = req.split("\r\n").collect();
        assert_eq!(lines[0], "CONNECT api-x.duosecurity.com:443 HTTP/1.0");
        assert!(req.ends_with("\r\n\r\n"));
        assert_eq!(lines.len(), if p.credentials.is_some() { 5 } else { 4 });
        assert!(lines.iter().all(|l| !l.contains(['\r', '\n'])));
        if p.credentials.is_some() {
            let b64 = lines[2]
                .strip_prefix("Proxy-Authorization: Basic ")
                .expect("auth line");
            assert!(b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='));
        }
    } else {
        match check_reply(rest) {
            Ok(()) => {
                let text = String::from_utf8_lossy(rest);
                let first = text.lines().next().unwrap_or("");
                assert!(first.starts_with("HTTP/1.0 200") || first.starts_with("HTTP/1.1 200"));
            }
            Err((line, transient)) => {
                assert!(!line.contains('\n'));
                let status: u16 = line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                assert_eq!(transient, status >= 500);
            }
        }
    }
});
