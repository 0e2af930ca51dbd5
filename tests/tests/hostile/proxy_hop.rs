//! A local user in front of a local proxy (issue 20; docs/BEHAVIOUR.md §0a D15).
//!
//! The config says `http_proxy = http://localhost:<port>/` and the real proxy (root, this
//! test) listens on `127.0.0.1:<port>` only. The sandbox's /etc/hosts names `::1` first for
//! `localhost`, as Debian's does, and the test user binds `[::1]:<port>` and answers every
//! connection badly (a 503, a close, silence, or a tunnel that is not TLS). A login must never
//! take any of that as evidence about Duo: with the real proxy up it goes on to it and gets
//! the server's verdict; with the real proxy down it is denied with `Error in Duo login` and
//! a line that says why, and the outage window stays closed.

use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// The squatter, run as the test user: binds `[::1]:<port>` and misbehaves as `<mode>` says.
const SQUATTER_PY: &str = r#"
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::1", port))
s.listen(64)
print("ready", flush=True)
end = time.time() + 300
held = []
while time.time() < end:
    if mode == "stall":
        time.sleep(1)
        continue
    c, _ = s.accept()
    if mode == "close":
        c.close()
        continue
    c.settimeout(5)
    head = b""
    try:
        while b"\r\n\r\n" not in head and len(head) < 8192:
            b = c.recv(1024)
            if not b:
                break
            head += b
        if mode == "503":
            c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        elif mode == "tls":
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            c.sendall(b"this is not a TLS server hello\r\n" * 8)
    except Exception:
        pass
    c.close()
"#;

/// How the squatter misbehaves.
const MODES: [&str; 4] = ["503", "close", "stall", "tls"];

/// The test user's squatter process; killed on drop.
struct Squatter {
    child: std::process::Child,
}

impl Squatter {
    /// Start it on `[::1]:port`; `None` if the port is taken there.
    fn start(sb: &Sandbox, port: u16, mode: &str) -> Option<Squatter> {
        let mut child = Command::new("setpriv")
            .arg(format!("--reuid={}", sb.user.uid))
            .arg(format!("--regid={}", sb.user.gid))
            .args(["--init-groups", "--", "/usr/bin/python3", "-c", SQUATTER_PY])
            .arg(port.to_string())
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the squatter");
        let mut out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 6];
            let _ = tx.send(out.read_exact(&mut b).is_ok() && &b == b"ready\n");
        });
        let ready = rx.recv_timeout(Duration::from_secs(10)).unwrap_or(false);
        let s = Squatter { child };
        ready.then_some(s)
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real proxy: root (this test), on `127.0.0.1:<port>`, tunnelling CONNECT to the mock.
/// Counts the tunnels it opened. Stopped on drop.
struct RealProxy {
    port: u16,
    tunnels: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RealProxy {
    fn start(target: u16) -> RealProxy {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        l.set_nonblocking(true).expect("nonblocking");
        let port = l.local_addr().expect("addr").port();
        let tunnels = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, flag) = (tunnels.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(900);
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                let Ok((c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let count = count.clone();
                std::thread::spawn(move || tunnel(c, target, &count));
            }
        });
        RealProxy {
            port,
            tunnels,
            stop,
            thread: Some(thread),
        }
    }

    fn tunnels(&self) -> u32 {
        self.tunnels.load(Ordering::SeqCst)
    }
}

impl Drop for RealProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One CONNECT: read the request head, connect to the mock, say 200, relay both ways.
fn tunnel(mut c: TcpStream, target: u16, count: &AtomicU32) {
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match c.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    if !head.starts_with(b"CONNECT ") {
        return;
    }
    let Ok(s) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    if c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    count.fetch_add(1, Ordering::SeqCst);
    let (Ok(c2), Ok(s2)) = (c.try_clone(), s.try_clone()) else {
        return;
    };
    let t = std::thread::spawn(move || duo_tests::pump(c2, s2));
    duo_tests::pump(s, c);
    let _ = t.join();
}

/// A port free on both `127.0.0.1` and `[::1]`, not listened on.
fn free_port() -> u16 {
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        if TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both loopback addresses");
}

/// A state directory for the outage window that both frontends can use: root's (0755), with
/// `uid-<sshd>` made for login_duo's privilege-separated child.
fn state_dir(sb: &Sandbox, tag: &str) -> PathBuf {
    let d = duo_tests::temp_dir(tag);
    chmod(&d, 0o755);
    let sub = d.join(format!("uid-{}", sb.sshd.0));
    std::fs::create_dir_all(&sub).expect("mkdir");
    chown(&sub, sb.sshd.0, sb.sshd.1);
    chmod(&sub, 0o700);
    d
}

/// Whether any state file under `dir` records an open window.
fn window_open(dir: &Path) -> bool {
    let Ok(subs) = std::fs::read_dir(dir) else {
        return false;
    };
    subs.flatten().any(|sub| {
        std::fs::read_dir(sub.path()).is_ok_and(|files| {
            files
                .flatten()
                .any(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains("\nsince ")))
        })
    })
}

/// `/etc/hosts` with `localhost` on `::1` first, as Debian writes it.
fn hosts_v6_first(sb: &Sandbox) {
    std::fs::write(
        sb.etc.join("hosts"),
        "::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n",
    )
    .expect("hosts");
}

fn proxy_rows(front: Front) {
    let sb = Sandbox::new("hostile-hop");
    hosts_v6_first(&sb);
    let mut rep = Report::default();
    let deny = mock_deny();
    let allow = mock_allow();
    let state = state_dir(&sb, "hostile-hop-state");
    let window = format!(
        "outage_window = 300\noutage_probe_interval = 60\noutage_state_dir = {}\n",
        state.display()
    );

    // Sanity: the real proxy alone carries the login to the server, both ways.
    let real_allow = RealProxy::start(allow.port);
    let proxy_line = |port: u16| format!("http_proxy = http://localhost:{port}/\n");
    sb.configure(&allow, &proxy_line(real_allow.port));
    let o = sb.run(&Run::new(front.clone()));
    show("real proxy, allowing mock", &o, "");
    expect_server_allow(&mut rep, &sb, "real proxy, allowing mock", &front, &o);
    rep.check(
        real_allow.tunnels() >= 1,
        "real proxy, allowing mock",
        "the login did not go through the real proxy",
        &o,
    );

    let real_deny = RealProxy::start(deny.port);
    for mode in MODES {
        for with_window in [false, true] {
            let extra = if with_window { window.as_str() } else { "" };
            // The real proxy is up on 127.0.0.1: the squatter on ::1 is passed over and the
            // server decides.
            let row = format!("squatter ({mode}) in front of the real proxy, window {with_window}");
            let Some(_sq) = Squatter::start(&sb, real_deny.port, mode) else {
                rep.fail(&row, "could not bind the squatter on [::1]");
                continue;
            };
            sb.configure(&deny, &format!("{}{extra}", proxy_line(real_deny.port)));
            let before = real_deny.tunnels();
            let o = sb.run(&Run::new(front.clone()));
            show(&row, &o, "");
            expect_server_deny(&mut rep, &sb, &row, &front, &o);
            rep.check(
                real_deny.tunnels() > before,
                &row,
                "the login did not reach the real proxy",
                &o,
            );
            rep.check(!window_open(&state), &row, "the outage window opened", &o);
            drop(_sq);

            // The real proxy is down (its port free on 127.0.0.1): nothing is evidence.
            let row = format!("squatter ({mode}) alone, window {with_window}");
            let port = free_port();
            let Some(_sq) = Squatter::start(&sb, port, mode) else {
                rep.fail(&row, "could not bind the squatter on [::1]");
                continue;
            };
            sb.configure(&deny, &format!("{}{extra}", proxy_line(port)));
            let o = sb.run(&Run::new(front.clone()));
            show(&row, &o, "");
            expect_denied(&mut rep, &sb, &row, &front, &o);
            rep.check(
                o.logged("Error in Duo login"),
                &row,
                "expected `Error in Duo login`",
                &o,
            );
            // A squatter that closes at once may be gone before it is looked up.
            let who = o.logged(&format!(
                "is served by uid {}, not by root or a system account",
                sb.user.uid
            )) || (mode == "close"
                && o.logged("closed the connection before its owner could be checked"));
            rep.check(who, &row, "the log does not say who served the proxy", &o);
            rep.check(!window_open(&state), &row, "the outage window opened", &o);
        }
    }

    // Sanity with the window on: the real proxy, an allowing mock, no squatter.
    sb.configure(&allow, &format!("{}{window}", proxy_line(real_allow.port)));
    let o = sb.run(&Run::new(front.clone()));
    show("real proxy, window on, allowing mock", &o, "");
    expect_server_allow(&mut rep, &sb, "real proxy, window on", &front, &o);
    let _ = std::fs::remove_dir_all(&state);
    rep.done("proxy_rows");
}

#[test]
#[ignore = "needs root"]
fn su_local_proxy_squatter_is_no_evidence() {
    duo_tests::require_root();
    proxy_rows(Front::Su);
}

#[test]
#[ignore = "needs root"]
fn login_duo_local_proxy_squatter_is_no_evidence() {
    duo_tests::require_root();
    proxy_rows(Front::Login);
}
