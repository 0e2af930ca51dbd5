//! The `http_proxy` option and the CONNECT request (docs/BEHAVIOUR.md §2.4). Never read from the
//! environment.

use zeroize::Zeroizing;

/// A parsed `http_proxy` value.
#[derive(Debug)]
pub struct Proxy {
    /// Proxy host.
    pub host: String,
    /// Proxy port (80 by default).
    pub port: u16,
    /// The userinfo before the first `@`, sent verbatim as Basic credentials.
    pub credentials: Option<Zeroizing<String>>,
}

/// Why an `http_proxy` value cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// A scheme other than `http://`.
    NotHttp,
    /// The port is not a number from 0 to 65535.
    BadPort(String),
    /// No host before the port or path.
    NoHost,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::NotHttp => f.write_str("http_proxy must be HTTP"),
            ProxyError::BadPort(p) => write!(f, "bad http_proxy port '{p}'"),
            ProxyError::NoHost => f.write_str("http_proxy has no host"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Parse `[http://][user:pass@]host[:port][/...]`. Any other scheme is an error.
pub fn parse(value: &str) -> Result<Proxy, ProxyError> {
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err(ProxyError::NotHttp),
        None => value,
    };
    let (credentials, rest) = match rest.split_once('@') {
        Some((c, r)) => (Some(Zeroizing::new(c.to_string())), r),
        None => (None, rest),
    };
    let hostport = rest.split('/').next().unwrap_or("");
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| ProxyError::BadPort(p.to_string()))?,
        ),
        None => (hostport, 80),
    };
    if host.is_empty() {
        return Err(ProxyError::NoHost);
    }
    Ok(Proxy {
        host: host.to_string(),
        port,
        credentials,
    })
}

/// The CONNECT request for `host:port`.
pub fn connect_request(
    proxy: &Proxy,
    host: &str,
    port: u16,
    user_agent: &str,
) -> Zeroizing<String> {
    let mut r = format!("CONNECT {host}:{port} HTTP/1.0\r\nUser-Agent: {user_agent}\r\n");
    if let Some(c) = &proxy.credentials {
        r.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            crate::api::sign::base64(c.as_bytes())
        ));
    }
    r.push_str("\r\n");
    Zeroizing::new(r)
}

/// Check the proxy's reply: `Ok` for a 200, else `Err((first line, transient))`, where
/// transient means a status of 500 or more.
pub fn check_reply(reply: &[u8]) -> Result<(), (String, bool)> {
    let text = String::from_utf8_lossy(reply);
    let first = text.lines().next().unwrap_or("").to_string();
    let mut parts = first.split(' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    // The status is the whole second word, three digits: "HTTP/1.1 2000" is not a 200.
    if (version == "HTTP/1.0" || version == "HTTP/1.1") && code == "200" {
        return Ok(());
    }
    let status: u16 = code.parse().unwrap_or(0);
    Err((first, status >= 500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_opens_the_tunnel() {
        assert!(check_reply(b"HTTP/1.1 200 Connection established\r\n\r\n").is_ok());
        assert!(check_reply(b"HTTP/1.0 200\r\n\r\n").is_ok());
        for bad in [
            &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
            b"HTTP/1.1 200x OK\r\n\r\n",
            b"HTTP/1.1 0200 OK\r\n\r\n",
            b"HTTP/1.1 +200 OK\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"XHTTP/1.1 200\r\n\r\n",
            b"",
        ] {
            assert!(
                check_reply(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            check_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
            Err(("HTTP/1.1 407 Proxy Authentication Required".into(), false))
        );
        assert!(check_reply(b"HTTP/1.1 503 x\r\n\r\n").unwrap_err().1);
    }

    #[test]
    fn parsing() {
        let p = parse("http://us:pw@proxy.example:3128/ignored").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.example", 3128));
        assert_eq!(p.credentials.as_deref().map(String::as_str), Some("us:pw"));
        let p = parse("proxy.example").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.credentials.is_none()),
            ("proxy.example", 80, true)
        );
        assert_eq!(
            parse("socks5://x:1").unwrap_err().to_string(),
            "http_proxy must be HTTP"
        );
        assert_eq!(
            parse("x:notaport").unwrap_err(),
            ProxyError::BadPort("notaport".into())
        );
        assert_eq!(parse("http://:3128").unwrap_err(), ProxyError::NoHost);
        assert!(parse("http://").is_err());
        assert!(parse("x:notaport").is_err());
    }

    #[test]
    fn connect_bytes_and_replies() {
        let p = parse("a:b@proxy:8080").unwrap();
        assert_eq!(
            connect_request(&p, "api.example", 443, "ua/1").as_str(),
            "CONNECT api.example:443 HTTP/1.0\r\nUser-Agent: ua/1\r\nProxy-Authorization: Basic YTpi\r\n\r\n"
        );
        assert!(check_reply(b"HTTP/1.1 200 Connection established\r\n\r\n").is_ok());
        assert_eq!(
            check_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").unwrap_err(),
            (
                "HTTP/1.1 407 Proxy Authentication Required".to_string(),
                false
            )
        );
        assert!(
            check_reply(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                .unwrap_err()
                .1
        );
    }
}
