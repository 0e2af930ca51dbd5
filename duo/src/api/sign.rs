//! URL encoding, canonical parameter strings and request signing (docs/BEHAVIOUR.md §1.3–§1.5).

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

/// Every byte except `A-Z a-z 0-9 - . _ ~` is encoded; space is `%20`, never `+`.
const DUO_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode raw bytes with uppercase hex (docs/BEHAVIOUR.md §1.3).
pub(crate) fn encode(b: &[u8]) -> String {
    percent_encode(b, DUO_SET).to_string()
}

/// The canonical parameter string: `E(name)=E(value)` pairs sorted bytewise and joined with
/// `&` (docs/BEHAVIOUR.md §1.4). Used as POST body, GET query and last line of the signed request.
/// Values may hold a passcode, so every copy lives in wiped memory.
pub(crate) fn canonical_params(params: &[(&str, &str)]) -> Zeroizing<String> {
    let mut pairs: Vec<Zeroizing<String>> = params
        .iter()
        .map(|(k, v)| {
            let mut pair = Zeroizing::new(encode(k.as_bytes()));
            pair.push('=');
            let value = Zeroizing::new(encode(v.as_bytes()));
            pair.push_str(&value);
            pair
        })
        .collect();
    pairs.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out = Zeroizing::new(String::with_capacity(
        pairs.iter().map(|p| p.len() + 1).sum(),
    ));
    for (i, p) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(p);
    }
    out
}

/// The five-line canonical request. The host is lowercased and loses any `:port`.
pub(crate) fn canonical_request(
    date: &str,
    method: &str,
    host: &str,
    path: &str,
    params: &str,
) -> Zeroizing<String> {
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let mut out = Zeroizing::new(String::with_capacity(
        date.len() + method.len() + host.len() + path.len() + params.len() + 4,
    ));
    for (i, part) in [date, method, &host, path, params].into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(part);
    }
    out
}

/// Lowercase hex HMAC-SHA512 of the canonical request, keyed with `skey`.
pub(crate) fn signature(
    skey: &str,
    date: &str,
    method: &str,
    host: &str,
    path: &str,
    params: &str,
) -> String {
    let request = canonical_request(date, method, host, path, params);
    crate::crypto::hmac_sha512(skey.as_bytes(), request.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `Authorization` header value: `Basic base64(ikey:hexsig)`.
pub(crate) fn authorization(ikey: &str, hexsig: &str) -> String {
    format!("Basic {}", base64(format!("{ikey}:{hexsig}").as_bytes()))
}

/// The pushinfo string `Server+IP=<ip>&Command=<E(cmd)>` (docs/BEHAVIOUR.md §1.2.1); the caller encodes
/// it again as a parameter value. An unknown IP is sent empty.
pub(crate) fn pushinfo_value(local_ip: Option<&str>, command: Option<&str>) -> String {
    format!(
        "Server+IP={}&Command={}",
        local_ip.unwrap_or(""),
        encode(command.unwrap_or("").as_bytes())
    )
}

/// Standard base64 with padding.
pub(crate) fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IKEY: &str = "DIXYZV6YM8IFYVWBINCA";
    const SKEY: &str = "yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo";
    const DATE: &str = "Tue, 21 Aug 2012 17:29:18 +0000";
    const HOST: &str = "api-xxxxxxxx.duosecurity.com";

    #[test]
    fn vector_1_preauth() {
        let params = canonical_params(&[
            ("username", "al ice+x"),
            ("text_prompt", "1"),
            ("failmode", "open"),
            ("hostname", "host1.example.com"),
            ("ipaddr", "203.0.113.9"),
        ]);
        assert_eq!(
            *params,
            "failmode=open&hostname=host1.example.com&ipaddr=203.0.113.9&text_prompt=1&username=al%20ice%2Bx"
        );
        let sig = signature(SKEY, DATE, "POST", HOST, "/auth/v2/preauth", &params);
        assert_eq!(sig, "1e952e9b52fdcf819af23f919d9217ba00973b46f7059ff78b5460933da5df3ed453a1893e4c8dad240a277f58e5bc35e4d3229cf2c80d6407318e2dcc4fa1e6");
        assert_eq!(authorization(IKEY, &sig), "Basic RElYWVpWNllNOElGWVZXQklOQ0E6MWU5NTJlOWI1MmZkY2Y4MTlhZjIzZjkxOWQ5MjE3YmEwMDk3M2I0NmY3MDU5ZmY3OGI1NDYwOTMzZGE1ZGYzZWQ0NTNhMTg5M2U0YzhkYWQyNDBhMjc3ZjU4ZTViYzM1ZTRkMzIyOWNmMmM4MGQ2NDA3MzE4ZTJkY2M0ZmExZTY=");
    }

    #[test]
    fn vector_2_ping() {
        let sig = signature(SKEY, DATE, "GET", HOST, "/auth/v2/ping", "");
        assert_eq!(sig, "2747a75ec4b4e98f99588c98db69506117fe01b6c4936d948b28977dde18f4465d3a43722afcbde292e4f60d2d0cb7fe8f0afb23981e2587dbea75ae554d26ea");
    }

    #[test]
    fn host_is_lowercased_and_port_dropped() {
        assert_eq!(
            *canonical_request("d", "GET", "API-X.Example.COM:8443", "/p", ""),
            "d\nGET\napi-x.example.com\n/p\n"
        );
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(encode(b"aZ09-._~"), "aZ09-._~");
        assert_eq!(encode(b" +*/=&%"), "%20%2B%2A%2F%3D%26%25");
        assert_eq!(encode(&[0x00, 0x0a, 0xc3, 0xa9]), "%00%0A%C3%A9");
        assert_eq!(encode(b""), "");
    }

    #[test]
    fn pushinfo_is_encoded_twice_on_the_wire() {
        let v = pushinfo_value(Some("10.0.0.5"), Some("ls -l /tmp"));
        assert_eq!(v, "Server+IP=10.0.0.5&Command=ls%20-l%20%2Ftmp");
        assert_eq!(
            *canonical_params(&[("pushinfo", &v)]),
            "pushinfo=Server%2BIP%3D10.0.0.5%26Command%3Dls%2520-l%2520%252Ftmp"
        );
        assert_eq!(
            pushinfo_value(Some("10.0.0.5"), None),
            "Server+IP=10.0.0.5&Command="
        );
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
