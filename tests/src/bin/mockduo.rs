//! A mock Duo Auth API service for tests and the demo.
//!
//! `mockduo [--listen ADDR] --dir DIR [--record FILE] [--exit-on-stdin-eof]
//!          [--cert expired|expiring|self-signed] [--silent] [--clock-offset SECS]
//!          [--scenario NAME] [--delay PATH=MS]... [--idle-close MS]`
//!
//! Generates a CA (`DIR/ca.pem`, its key in `DIR/ca-key.pem`; both are reused when present, so
//! a client configured with `cafile = DIR/ca.pem` keeps working across restarts) and a server
//! certificate for `localhost`, `127.0.0.1` and
//! `::1` (`--cert expired`: one that expired in 2020; `--cert expiring`: one that expires in
//! 10 days; `--cert self-signed`: a self-signed one, not issued by `ca.pem`), serves HTTPS (`--silent`: completes every TLS handshake and
//! never answers a request), prints `READY <port>`, and answers the Duo Auth API v2 endpoints used
//! by Duo Unix. Every request's signature, date and header layout is checked independently of
//! the client code; a bad one gets 401. Each request is appended to the record file as one
//! JSON line: `{"method","path","params","sig_ok","reason"}`.
//!
//! `--clock-offset SECS` runs the mock's clock SECS seconds ahead (negative: behind) of the
//! host's: `/auth/v2/ping` and `/auth/v2/check` report that time, and every other request
//! whose `X-Duo-Date` is more than 300 s away from it gets 401 (as Duo rejects a skewed
//! signature). `/auth/v2/check` answers any correctly signed request with the time.
//!
//! Scenarios by `username` (tests depend on these names):
//! - any ordinary name: a menu (1 → push1, or verified_push1 + txid with verified push;
//!   2 → voice1, 3 → smsrefresh1, 4 → voice2); push and passcode `123456` approve; other
//!   answers are denied with "Invalid passcode, please try again.".
//! - `pushdeny`: push is denied ("Login request denied."); passcode 123456 still approves.
//! - `preauth-allow`, `preauth-deny`, `enroll`, `preauth-fail` (FAIL 1000),
//!   `preauth-ok-missing_response`, `preauth-fail-missing_response`, `preauth-bad-stat`,
//!   `preauth-allow-bad_response`, `bad-json` (empty 200 body), `evil-msg` (deny with terminal
//!   escapes in status_msg), `preauth-bad-result` (result "weird"), `oversized` (a 2 MiB body),
//!   `hostile-msg` (allow, with [`HOSTILE_MSG`] as status_msg).
//! - a number `N` (e.g. `401`, `403`, `500`, `503`): bare HTTP status N at preauth.
//! - `auth-500`: preauth asks for auth, `/auth` answers 500.
//! - `slow-preauth-N`: preauth answers after N seconds, then as an ordinary name.
//! - `silent-preauth`: preauth is read over TLS and never answered.
//! - `retry-after-N`: the first preauth gets 429 with `Retry-After: N`, then preauth allow
//!   (a 429 again for a retry sent before the N s are over).
//! - `rate-limited`: the first preauth gets a bare 429, then preauth allow (a 429 again for a
//!   retry sent within 1 s).
//! - `always-429`: every preauth gets 429 with `Retry-After: 1`.
//! - `truncated`: preauth answers 200 with half a JSON document (Content-Length matches).
//! - `close-mid-reply`: preauth answers a status line, headers announcing 4096 bytes and 20
//!   of them, then closes the connection.
//! - `preauth-missing-stat`, `preauth-missing-result`: preauth without those fields.
//! - `silent-auth`: preauth asks for auth, `/auth` is read and never answered.
//! - `status-waiting`: `/auth_status` answers `waiting` forever (after 100 ms each, like a
//!   short long-poll).
//! - `slow-push`: a push stays pending for [`SLOW_PUSH_MS`] after `/auth`, then approves. The
//!   first `/auth_status` answers `waiting` at once, with the Verified Push code 708 in its
//!   status message for `verified_push1`; the next one waits for the approval (a long-poll). A
//!   synchronous `/auth` answers at the approval. Each approval is recorded as a line
//!   `{"approved": TXID, "at_ms": UNIX_MS}`, with the time the phone approved.
//!
//! `--scenario NAME`: every request is answered as if its username were NAME (the record keeps
//! the real one), so a test can give any local user a scenario. `--delay PATH=MS`: requests to
//! PATH (e.g. `/auth/v2/ping`) are recorded at once and answered MS milliseconds later;
//! `--delay tls=MS` waits that long after accepting a connection before the TLS handshake.
//! `--idle-close MS`: a connection that brings no (further) request within MS milliseconds is
//! closed, as a server's keep-alive timeout does.
//!
//! Each record line also carries `conn`, a number per TCP connection, so tests can check
//! keep-alive.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{json, Value};
use sha2::Sha512;

use duo_tests::{HOSTILE_MSG, IKEY, SKEY};

struct State {
    record: Option<Mutex<std::fs::File>>,
    polls: Mutex<HashMap<String, u32>>,
    /// When each rate-limited user got its first 429.
    limited: Mutex<HashMap<String, std::time::Instant>>,
    next_tx: AtomicU64,
    next_conn: AtomicU64,
    /// Complete TLS, then never answer.
    silent: bool,
    /// Seconds added to the host's clock, and whether request dates are checked against it.
    clock_offset: Option<i64>,
    /// Username that replaces every request's own (`--scenario`).
    scenario: Option<String>,
    /// Paths answered late, with their delay in milliseconds (`--delay`).
    delays: Vec<(String, u64)>,
    /// How long a connection may wait for its next request (`--idle-close`).
    idle: Duration,
}

/// How far `X-Duo-Date` may be from the mock's clock under `--clock-offset`.
const DATE_WINDOW: i64 = 300;

/// Which server certificate to present.
#[derive(Clone, Copy, PartialEq)]
enum CertKind {
    /// Issued by `ca.pem`, valid now.
    Normal,
    /// Issued by `ca.pem`, expired in 2020.
    Expired,
    /// Issued by `ca.pem`, expires 10 days from now.
    Expiring,
    /// Self-signed; `ca.pem` did not issue it.
    SelfSigned,
}

/// The TLS of the server, beyond the certificate (`--key`, `--only`).
#[derive(Clone, Copy, PartialEq, Default)]
struct TlsShape {
    /// RSA-2048 keys for a new CA and the server, as Duo's own certificates; else ECDSA P-256.
    rsa: bool,
    /// Offer only X25519 key exchange (no group a FIPS client may use).
    only_x25519: bool,
    /// Offer only ChaCha20-Poly1305 suites (no suite a FIPS client may use).
    only_chacha20: bool,
}

/// What `mockduo --help` prints.
const USAGE: &str = "\
mockduo: a mock Duo Auth API service (for tests, the demo, and trying Duo Unix without a Duo
account). It checks every request's signature and answers by the Duo user name.

Usage: mockduo --dir DIR [options]

  --dir DIR            where the CA (ca.pem, ca-key.pem; reused when present) and the port
                       file go
  --listen ADDR        address to listen on (default 127.0.0.1:0, any free port); e.g.
                       127.0.0.1:8443 for a fixed port
  --record FILE        append one JSON line per request
  --exit-on-stdin-eof  stop when stdin closes
  --cert KIND          expired | expiring | self-signed server certificate
  --key KIND           p256 (default) | rsa2048: the server's key (and a new CA's)
  --only WHAT          x25519 | chacha20: offer only that key exchange or those suites
  --silent             complete TLS handshakes, never answer
  --clock-offset SECS  run the mock's clock ahead (or behind, negative)
  --scenario NAME      answer every request as if the user were NAME
  --delay PATH=MS      answer PATH (e.g. /auth/v2/ping, or tls) MS milliseconds late
  --idle-close MS      close connections idle for MS milliseconds
  --help               this text

Integration key: DIXYZV6YM8IFYVWBINCA
Secret key:      yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo

Duo user names that select a behaviour:
  any other name       menu; 1 (push) and passcode 123456 approve, other passcodes deny
  pushdeny             the push is denied
  preauth-allow        allowed without two-factor (logged as Skipped)
  preauth-deny         denied at preauth (Aborted)
  enroll               enrollment required (Aborted)
  401, 403, 500, 503   that HTTP status at preauth (503: the failmode verdict)
  slow-preauth-N       preauth answers after N seconds
  silent-preauth       preauth never answers (the failmode verdict after https_timeout)
  rate-limited, retry-after-N, always-429   rate limiting
  auth-500, silent-auth, status-waiting      failures after preauth
  slow-push            the push is approved 4 s after it was sent (Verified Push code 708)
  bad-json, truncated, close-mid-reply, oversized, evil-msg, hostile-msg   bad replies
";

fn main() {
    let mut listen = "127.0.0.1:0".to_string();
    let mut dir = None;
    let mut record = None;
    let mut exit_on_eof = false;
    let mut cert = CertKind::Normal;
    let mut shape = TlsShape::default();
    let mut silent = false;
    let mut clock_offset = None;
    let mut scenario = None;
    let mut delays = Vec::new();
    let mut idle = Duration::from_secs(120);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--listen" => listen = args.next().unwrap_or(listen),
            "--dir" => dir = args.next(),
            "--record" => record = args.next(),
            "--exit-on-stdin-eof" => exit_on_eof = true,
            "--silent" => silent = true,
            "--clock-offset" => match args.next().and_then(|v| v.parse::<i64>().ok()) {
                Some(n) => clock_offset = Some(n),
                None => {
                    eprintln!("mockduo: --clock-offset needs a number of seconds");
                    std::process::exit(2);
                }
            },
            "--scenario" => scenario = args.next(),
            "--idle-close" => match args.next().map(|ms| ms.parse::<u64>()) {
                Some(Ok(ms)) => idle = Duration::from_millis(ms),
                other => {
                    eprintln!("mockduo: --idle-close MS, not {other:?}");
                    std::process::exit(2);
                }
            },
            "--delay" => {
                let spec = args.next().unwrap_or_default();
                match spec.split_once('=').map(|(p, ms)| (p, ms.parse::<u64>())) {
                    Some((p, Ok(ms))) => delays.push((p.to_string(), ms)),
                    _ => {
                        eprintln!("mockduo: --delay PATH=MS, not {spec:?}");
                        std::process::exit(2);
                    }
                }
            }
            "--key" => match args.next().as_deref() {
                Some("p256") => shape.rsa = false,
                Some("rsa2048") => shape.rsa = true,
                other => {
                    eprintln!("mockduo: --key p256|rsa2048, not {other:?}");
                    std::process::exit(2);
                }
            },
            "--only" => match args.next().as_deref() {
                Some("x25519") => shape.only_x25519 = true,
                Some("chacha20") => shape.only_chacha20 = true,
                other => {
                    eprintln!("mockduo: --only x25519|chacha20, not {other:?}");
                    std::process::exit(2);
                }
            },
            "--cert" => {
                cert = match args.next().as_deref() {
                    Some("expired") => CertKind::Expired,
                    Some("expiring") => CertKind::Expiring,
                    Some("self-signed") => CertKind::SelfSigned,
                    other => {
                        eprintln!("mockduo: --cert expired|expiring|self-signed, not {other:?}");
                        std::process::exit(2);
                    }
                }
            }
            other => {
                eprintln!("mockduo: unknown argument {other} (see mockduo --help)");
                std::process::exit(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("mockduo: --dir is required");
        std::process::exit(2);
    };
    let config = match tls_config(std::path::Path::new(&dir), cert, shape) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mockduo: {e}");
            std::process::exit(1);
        }
    };
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("mockduo: bind {listen}: {e}");
        std::process::exit(1);
    });
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let _ = std::fs::write(std::path::Path::new(&dir).join("port"), port.to_string());
    let state = Arc::new(State {
        record: record.and_then(|r| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(r)
                .ok()
                .map(Mutex::new)
        }),
        polls: Mutex::new(HashMap::new()),
        limited: Mutex::new(HashMap::new()),
        next_tx: AtomicU64::new(1),
        next_conn: AtomicU64::new(1),
        silent,
        clock_offset,
        scenario,
        delays,
        idle,
    });
    if exit_on_eof {
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            std::process::exit(0);
        });
    }
    println!("READY {port}");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        let (config, state) = (config.clone(), state.clone());
        std::thread::spawn(move || serve(stream, config, state));
    }
}

fn tls_config(
    dir: &std::path::Path,
    kind: CertKind,
    shape: TlsShape,
) -> Result<Arc<ServerConfig>, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let e = |e: rcgen::Error| e.to_string();
    let new_key = || {
        if shape.rsa {
            KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        } else {
            KeyPair::generate()
        }
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mockduo test CA");
    // Reuse the CA of an earlier run in DIR: the same key and name make the same trust
    // anchor, so a config that trusts DIR/ca.pem keeps working after a restart.
    let (ca_pem, key_pem) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let saved = std::fs::read_to_string(&key_pem)
        .ok()
        .filter(|_| ca_pem.exists())
        .and_then(|pem| KeyPair::from_pem(&pem).ok());
    let reused = saved.is_some();
    let ca_key = match saved {
        Some(k) => k,
        None => new_key().map_err(e)?,
    };
    let ca_cert = ca.self_signed(&ca_key).map_err(e)?;
    let mut srv =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
            .map_err(e)?;
    srv.distinguished_name.push(DnType::CommonName, "localhost");
    if kind == CertKind::Expired {
        srv.not_before = rcgen::date_time_ymd(2019, 1, 1);
        srv.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    if kind == CertKind::Expiring {
        let (y, m, d) = civil_from_days(now() as i64 / 86_400 + 10);
        srv.not_after = rcgen::date_time_ymd(y as i32, m as u8, d as u8);
    }
    let srv_key = new_key().map_err(e)?;
    let srv_cert = if kind == CertKind::SelfSigned {
        srv.self_signed(&srv_key).map_err(e)?
    } else {
        srv.signed_by(&srv_key, &ca_cert, &ca_key).map_err(e)?
    };
    if !reused {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::write(&ca_pem, ca_cert.pem()).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&key_pem);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_pem)
            .map_err(|e| e.to_string())?;
        f.write_all(ca_key.serialize_pem().as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if shape.only_x25519 {
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    }
    if shape.only_chacha20 {
        use rustls::crypto::aws_lc_rs::cipher_suite as cs;
        provider.cipher_suites = vec![
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ];
    }
    let provider = Arc::new(provider);
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(srv_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(srv_key.serialize_der())),
        )
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(cfg))
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.trim_end().split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len.min(1 << 20)];
    r.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn serve(stream: TcpStream, config: Arc<ServerConfig>, state: Arc<State>) {
    let _ = stream.set_read_timeout(Some(state.idle));
    let _ = stream.set_nodelay(true);
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    if let Some((_, ms)) = state.delays.iter().find(|(p, _)| p == "tls") {
        std::thread::sleep(Duration::from_millis(*ms));
    }
    let tls = StreamOwned::new(conn, stream);
    let mut reader = std::io::BufReader::new(tls);
    let conn_id = state.next_conn.fetch_add(1, Ordering::Relaxed);
    while let Some(req) = read_request(&mut reader) {
        if state.silent {
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        let (status, body, extra, user) = handle(&req, &state, conn_id);
        if let Some((_, ms)) = state.delays.iter().find(|(p, _)| *p == req.path) {
            std::thread::sleep(Duration::from_millis(*ms));
        }
        if user == "close-mid-reply" && req.path == "/auth/v2/preauth" {
            let tls = reader.get_mut();
            let _ = tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"stat\": \"OK\", \"res",
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tls.sock.shutdown(std::net::Shutdown::Both);
            return;
        }
        let reply = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            if status == 200 { "OK" } else { "Status" },
            body.len()
        );
        let tls = reader.get_mut();
        if tls
            .write_all(reply.as_bytes())
            .and_then(|_| tls.flush())
            .is_err()
        {
            return;
        }
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn b64decode(s: &str) -> Option<Vec<u8>> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | A.iter().position(|&a| a == c)? as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

/// Check signature, date and header layout; `Err` says why not.
fn verify(req: &Request, params: &[(String, String)]) -> Result<(), String> {
    let names: Vec<&str> = req.headers.iter().map(|(n, _)| n.as_str()).collect();
    let want: &[&str] = if req.method == "POST" {
        &[
            "Host",
            "User-Agent",
            "X-Duo-Date",
            "Authorization",
            "Content-Type",
            "Content-Length",
        ]
    } else {
        &["Host", "User-Agent", "X-Duo-Date", "Authorization"]
    };
    if names != want {
        return Err(format!("headers {names:?}"));
    }
    let date = header(req, "X-Duo-Date").unwrap_or("");
    let host = header(req, "Host")
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut canon: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    canon.sort();
    let canon = format!(
        "{date}\n{}\n{host}\n{}\n{}",
        req.method,
        req.path,
        canon.join("&")
    );
    let mut mac = Hmac::<Sha512>::new_from_slice(SKEY.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(canon.as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let auth = header(req, "Authorization")
        .and_then(|a| a.strip_prefix("Basic "))
        .unwrap_or("");
    let cred = String::from_utf8(b64decode(auth).unwrap_or_default()).unwrap_or_default();
    if cred != format!("{IKEY}:{sig}") {
        return Err("bad signature".into());
    }
    if !date.ends_with(" +0000") {
        return Err("bad date".into());
    }
    Ok(())
}

fn ok(response: Value) -> (u16, String) {
    (200, json!({"stat": "OK", "response": response}).to_string())
}

fn menu(user: &str, verified: bool) -> Value {
    let push = if verified { "verified_push1" } else { "push1" };
    let mut r = json!({
        "result": "auth",
        "status_msg": "Account is active",
        "prompt": {
            "text": format!("Duo two-factor login for {user}\n\nEnter a passcode or select one of the following options:\n\n 1. Duo Push to XXX-XXX-1234\n 2. Phone call to XXX-XXX-1234\n 3. SMS passcodes to XXX-XXX-1234\n 4. Phone call to XXX-XXX-5678\n\nPasscode or option (1-4): "),
            "factors": {"default": push, "1": push, "2": "voice1", "3": "smsrefresh1", "4": "voice2"}
        }
    });
    if verified {
        r["txid"] = json!(format!("vp-{user}"));
    }
    r
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Civil date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The mock's clock: the host's plus `--clock-offset`.
fn mock_now(state: &State) -> i64 {
    now() as i64 + state.clock_offset.unwrap_or(0)
}

/// UNIX time of an `X-Duo-Date` (`Tue, 21 Aug 2012 17:29:18 +0000`).
fn parse_duo_date(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let f: Vec<&str> = s.split_once(", ")?.1.split(' ').collect();
    let [d, mon, y, hms, "+0000"] = f[..] else {
        return None;
    };
    let (d, y): (i64, i64) = (d.parse().ok()?, y.parse().ok()?);
    let m = MONTHS.iter().position(|x| *x == mon)? as i64 + 1;
    let t: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = t[..] else {
        return None;
    };
    // Days since 1970-01-01 of a civil date.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Answer a request: status, body, extra header lines, and the request's username.
fn handle(req: &Request, state: &State, conn_id: u64) -> (u16, String, String, String) {
    let (status, body) = answer(req, state, conn_id);
    let user = parse_params(if req.method == "POST" {
        &req.body
    } else {
        &req.query
    })
    .into_iter()
    .find(|(k, _)| k == "username")
    .map(|(_, v)| v)
    .unwrap_or_default();
    let user = state.scenario.clone().unwrap_or(user);
    let extra = if status != 429 {
        String::new()
    } else if let Some(n) = user.strip_prefix("retry-after-") {
        format!("Retry-After: {n}\r\n")
    } else if user == "always-429" {
        "Retry-After: 1\r\n".to_string()
    } else {
        String::new()
    };
    (status, body, extra, user)
}

fn answer(req: &Request, state: &State, conn_id: u64) -> (u16, String) {
    let raw = if req.method == "POST" {
        &req.body
    } else {
        &req.query
    };
    let params = parse_params(raw);
    let verdict = verify(req, &params);
    if let Some(rec) = &state.record {
        let p: serde_json::Map<String, Value> =
            params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let line = json!({"method": req.method, "path": req.path, "params": p, "conn": conn_id,
            "sig_ok": verdict.is_ok(), "reason": verdict.as_ref().err()});
        if let Ok(mut f) = rec.lock() {
            let _ = writeln!(f, "{line}");
        }
    }
    if verdict.is_err() {
        return (
            401,
            json!({"stat": "FAIL", "code": 40101, "message": "Invalid signature"}).to_string(),
        );
    }
    if state.clock_offset.is_some() && req.path != "/auth/v2/ping" {
        let date = header(req, "X-Duo-Date").and_then(parse_duo_date);
        if date.is_none_or(|d| (d - mock_now(state)).abs() > DATE_WINDOW) {
            return (
                401,
                json!({"stat": "FAIL", "code": 40103, "message": "Request date out of window"})
                    .to_string(),
            );
        }
    }
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let user = state.scenario.as_deref().unwrap_or(get("username"));
    match req.path.as_str() {
        "/auth/v2/ping" | "/auth/v2/check" => ok(json!({"time": mock_now(state)})),
        "/auth/v2/preauth" => {
            if rate_limited(state, user) {
                return (
                    429,
                    json!({"stat": "FAIL", "code": 42901, "message": "Too Many Requests"})
                        .to_string(),
                );
            }
            preauth(user, get("client_supports_verified_push") == "1")
        }
        "/auth/v2/auth" => auth(state, user, get("prompt"), get("async") == "1"),
        "/auth/v2/auth_status" => status(state, get("txid")),
        _ => (
            404,
            json!({"stat": "FAIL", "code": 40401, "message": "Not found"}).to_string(),
        ),
    }
}

/// Whether this preauth gets a 429: every one for `always-429`; for `retry-after-N` and
/// `rate-limited`, the first one, and, as a real rate limit would, any other that comes
/// before the wait it asked for is over (N s, or 1 s, the client's first backoff, for a bare
/// 429). A client that does not wait therefore makes more than two requests.
fn rate_limited(state: &State, user: &str) -> bool {
    if user == "always-429" {
        return true;
    }
    let wait = match user.strip_prefix("retry-after-") {
        Some(n) => n.parse().unwrap_or(0),
        None if user == "rate-limited" => 1,
        None => return false,
    };
    let Ok(mut m) = state.limited.lock() else {
        return false;
    };
    match m.get(user) {
        None => {
            m.insert(user.to_string(), std::time::Instant::now());
            true
        }
        Some(at) => at.elapsed() < std::time::Duration::from_secs(wait),
    }
}

fn preauth(user: &str, verified: bool) -> (u16, String) {
    if user.starts_with("retry-after-") || user == "rate-limited" {
        return ok(json!({"result": "allow", "status_msg": "preauth-allowed"}));
    }
    if let Ok(code) = user.parse::<u16>() {
        return (
            code,
            json!({"stat": "FAIL", "code": u32::from(code) * 100, "message": "status"}).to_string(),
        );
    }
    if let Some(n) = user
        .strip_prefix("slow-preauth-")
        .and_then(|n| n.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_secs(n.min(60)));
    }
    if user == "silent-preauth" {
        // Read the request, never answer (the client must give up on its own).
        std::thread::sleep(Duration::from_secs(120));
    }
    match user {
        "preauth-allow" => ok(json!({"result": "allow", "status_msg": "preauth-allowed"})),
        "preauth-deny" => ok(json!({"result": "deny", "status_msg": "preauth-denied"})),
        "hostile-msg" => ok(json!({"result": "allow", "status_msg": HOSTILE_MSG})),
        "evil-msg" => ok(json!({"result": "deny", "status_msg": "\u{1b}]0;PWNED\u{7} denied"})),
        "enroll" => ok(
            json!({"result": "enroll", "status_msg": "Enroll an authentication device to proceed",
            "prompt": {"text": "Please enroll at https://example.invalid/enroll"}}),
        ),
        "preauth-fail" => (
            200,
            json!({"stat": "FAIL", "code": 1000, "message": "Pre-authentication failed"})
                .to_string(),
        ),
        "preauth-ok-missing_response" => (200, json!({"stat": "OK"}).to_string()),
        "preauth-fail-missing_response" => (200, json!({"stat": "FAIL"}).to_string()),
        "preauth-bad-stat" => (
            200,
            json!({"stat": "BAD_STATUS", "response": {}}).to_string(),
        ),
        "preauth-allow-bad_response" => ok(json!({"result": "allow"})),
        "bad-json" => (200, String::new()),
        "oversized" => (
            200,
            format!("{{\"stat\":\"OK\",\"pad\":\"{}\"}}", "x".repeat(2 << 20)),
        ),
        "preauth-bad-result" => ok(json!({"result": "weird", "status_msg": "?"})),
        "preauth-missing-stat" => (
            200,
            json!({"response": {"result": "allow", "status_msg": "x"}}).to_string(),
        ),
        "preauth-missing-result" => ok(json!({"status_msg": "no result"})),
        "truncated" => {
            let full = ok(menu(user, verified)).1;
            (200, full[..full.len() / 2].to_string())
        }
        _ => ok(menu(user, verified)),
    }
}

/// Whether this factor approves for this user.
fn approves(user: &str, factor: &str) -> bool {
    match factor {
        "push1" | "verified_push1" => user != "pushdeny",
        "123456" => true,
        _ => false,
    }
}

fn auth(state: &State, user: &str, factor: &str, asynchronous: bool) -> (u16, String) {
    if user == "silent-auth" {
        // Read, never answered: the client's own bounds must end the attempt.
        std::thread::sleep(Duration::from_secs(120));
    }
    if user == "auth-500" {
        return (
            500,
            json!({"stat": "FAIL", "code": 50000, "message": "error"}).to_string(),
        );
    }
    if asynchronous {
        let n = state.next_tx.fetch_add(1, Ordering::Relaxed);
        let txid = format!("tx{n}:{user}:{factor}");
        if user == "slow-push" {
            slow_push::sent(&txid);
        }
        return ok(json!({ "txid": txid }));
    }
    if user == "slow-push" && factor.contains("push") {
        let n = state.next_tx.fetch_add(1, Ordering::Relaxed);
        let txid = format!("tx{n}:{user}:{factor}");
        slow_push::sent(&txid);
        return slow_push::approve(state, &txid);
    }
    if approves(user, factor) {
        ok(
            json!({"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}),
        )
    } else if factor.starts_with("push") {
        ok(json!({"result": "deny", "status": "deny", "status_msg": "Login request denied."}))
    } else {
        ok(
            json!({"result": "deny", "status": "deny", "status_msg": "Invalid passcode, please try again."}),
        )
    }
}

fn status(state: &State, txid: &str) -> (u16, String) {
    let mut parts = txid.splitn(3, ':');
    let (_, user, factor) = (
        parts.next(),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let polls = {
        let Ok(mut m) = state.polls.lock() else {
            return (500, String::new());
        };
        let c = m.entry(txid.to_string()).or_insert(0);
        *c += 1;
        *c
    };
    let waiting =
        |msg: &str| ok(json!({"result": "waiting", "status": "pushed", "status_msg": msg}));
    if user == "status-waiting" {
        std::thread::sleep(Duration::from_millis(100));
        return waiting("Pushed a login request to your phone.");
    }
    if user == "slow-push" && factor.contains("push") {
        return match (polls, factor) {
            (1, "verified_push1") => waiting("Verified Duo Push: enter code 708 in Duo Mobile."),
            (1, _) => waiting("Pushed a login request to your device..."),
            _ => slow_push::approve(state, txid),
        };
    }
    match factor {
        "push1" if polls == 1 => waiting("Pushed a login request to your phone."),
        "verified_push1" if polls == 1 => {
            waiting("Please enter verification code 708 into Duo Mobile...")
        }
        "push1" | "verified_push1" if !approves(user, factor) => {
            ok(json!({"result": "deny", "status": "deny", "status_msg": "Login request denied."}))
        }
        f if approves(user, f) => ok(
            json!({"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}),
        ),
        _ => ok(
            json!({"result": "deny", "status": "deny", "status_msg": "Invalid passcode, please try again."}),
        ),
    }
}

/// How long a `slow-push` push stays pending.
const SLOW_PUSH_MS: u64 = 4000;

/// The `slow-push` user's pushes: when each was sent, and its approval.
mod slow_push {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::{now_ms, ok, State, SLOW_PUSH_MS};

    /// Approval time (Unix ms) of each pending push, by txid.
    fn pending() -> &'static Mutex<HashMap<String, u64>> {
        static P: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
        P.get_or_init(|| Mutex::new(HashMap::new()))
    }

    /// A push was sent now.
    pub(super) fn sent(txid: &str) {
        if let Ok(mut m) = pending().lock() {
            m.insert(txid.to_string(), now_ms() + SLOW_PUSH_MS);
        }
    }

    /// Wait until the phone approves `txid`, record the approval, and answer "allow".
    pub(super) fn approve(state: &State, txid: &str) -> (u16, String) {
        let at = pending()
            .lock()
            .ok()
            .and_then(|m| m.get(txid).copied())
            .unwrap_or_else(now_ms);
        let now = now_ms();
        if at > now {
            std::thread::sleep(Duration::from_millis(at - now));
        }
        if let Some(rec) = &state.record {
            let line: Value = json!({"approved": txid, "at_ms": at});
            if let Ok(mut f) = rec.lock() {
                let _ = writeln!(f, "{line}");
            }
        }
        ok(
            json!({"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}),
        )
    }
}

/// The time in Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
