//! HTTP dates of `Retry-After` (duo::api::timefmt). Properties: a date that parses is in years
//! 0–9999 and formats back to a date that parses to the same time; any time in that range
//! formats and parses back; no input panics or overflows.
#![no_main]

use duo::api::timefmt::parse_http_date;
use duo::fuzzing::http_date;
use libfuzzer_sys::fuzz_target;

/// 0000-01-01 00:00:00 and 9999-12-31 23:59:59 (a parsed date may run a few days past the end
/// of its month: `31 Feb` is 3 March).
const FIRST: i64 = -62_167_219_200;
const LAST: i64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    if data.len() == 8 {
        let t = i64::from_le_bytes(data.try_into().unwrap());
        match http_date(t) {
            Some(s) => assert_eq!(parse_http_date(&s), Some(t), "{s}"),
            None => assert!(!(FIRST..=LAST).contains(&t)),
        }
    }
    let s = String::from_utf8_lossy(data);
    if let Some(t) = parse_http_date(&s) {
        assert!((FIRST..=LAST + 4 * 86_400).contains(&t), "{s:?} -> {t}");
        if let Some(back) = http_date(t) {
            assert_eq!(parse_http_date(&back), Some(t), "{s:?} -> {back}");
        }
    }
});
