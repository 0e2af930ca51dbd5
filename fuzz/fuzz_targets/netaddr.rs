//! Client addresses (duo::user::netaddr): the IP-literal test (glibc inet_aton / inet_pton) and the
//! client-address rule. Properties: every address Rust's strict parsers accept is a literal; a
//! string with a NUL never is; without `fallback_local_ip`, or for a literal, the address is
//! reported exactly as given. (With the fallback and a non-literal the local address is looked
//! up and a warning logged: not fuzzed, it touches the network stack and syslog.)
#![no_main]

use duo::user::netaddr::{client_address, is_ip_literal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let literal = is_ip_literal(&s);
    if s.parse::<std::net::Ipv4Addr>().is_ok() || s.parse::<std::net::Ipv6Addr>().is_ok() {
        assert!(literal, "{s:?} is an address");
    }
    if s.contains('\0') {
        assert!(!literal);
    }
    assert_eq!(client_address(Some(&s), false).as_deref(), Some(&*s));
    if literal {
        assert_eq!(client_address(Some(&s), true).as_deref(), Some(&*s));
    }
    assert_eq!(client_address(None, false), None);
});
