//! The host-name lookup inside the budget (issue 20; docs/BEHAVIOUR.md §0a D4).
//!
//! A private network namespace whose only DNS server (on its loopback) reads every query and
//! never answers, which is what a network outage looks like from here, and an /etc/hosts that
//! does not name this host: looking the host's canonical name up takes the resolver's full
//! timeouts (5 s per try, 2 tries). With `https_timeout = 2`, the verdict must still come
//! within the budget plus slack, through both frontends, and the short host name is sent.
//! Then the same with an /etc/hosts that names this host: the name from there is sent and
//! nothing waits for DNS (D19).

use super::*;

/// `https_timeout` of these rows.
const TIMEOUT: u64 = 2;
/// Process start, PAM, su and the sandbox on a busy machine (an upper bound only).
const SLACK: Duration = Duration::from_millis(2500);

/// A network namespace of the test with its loopback up; deleted on drop.
struct NetNs {
    name: String,
}

impl NetNs {
    fn new() -> NetNs {
        let name = unique("duons");
        let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        assert!(
            ok(Command::new("ip").args(["netns", "add", &name])),
            "ip netns add {name}"
        );
        let ns = NetNs { name };
        assert!(
            ok(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"])),
            "loopback up in {}",
            ns.name
        );
        ns
    }

    fn prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// One login through `front` of the sandbox `sb`, run inside this namespace.
    fn login(&self, sb: &Sandbox, front: &Front) -> Outcome {
        let inner = sb.command(&Run::new(front.clone()));
        let mut cmd = Command::new("ip");
        cmd.args(self.prefix().iter().skip(1))
            .arg(inner.get_program())
            .args(inner.get_args())
            .env_clear()
            .env("PATH", PATH);
        sb.drain();
        sb.finish(Spawned::start(cmd))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A DNS server on 127.0.0.1:53 of the namespace that reads queries and never answers;
/// killed on drop.
struct SilentDns {
    child: std::process::Child,
}

const SILENT_DNS_PY: &str = r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
s.settimeout(1)
end = time.time() + 300
while time.time() < end:
    try:
        s.recvfrom(4096)
    except Exception:
        pass
"#;

impl SilentDns {
    fn start(ns: &NetNs) -> SilentDns {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                "/usr/bin/python3",
                "-c",
                SILENT_DNS_PY,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the silent DNS server");
        let mut out = child.stdout.take().expect("stdout");
        let mut b = [0u8; 6];
        use std::io::Read;
        let ready = out.read_exact(&mut b).is_ok() && &b == b"ready\n";
        let s = SilentDns { child };
        assert!(ready, "the silent DNS server did not start");
        s
    }
}

impl Drop for SilentDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn silent_dns_rows(front: Front) {
    let sb = Sandbox::new("hostile-dns");
    let mut rep = Report::default();
    let ns = NetNs::new();
    let _dns = SilentDns::start(&ns);
    let mock = Mock::start_with_prefix(
        &ns.prefix(),
        &duo_tests::built("mockduo"),
        &["--scenario", "alice"],
    );
    sb.configure(&mock, &format!("https_timeout = {TIMEOUT}\n"));
    // After configure, which restores name lookup: DNS at the silent server, and a hosts file
    // that knows `localhost` (the Duo host of the config) but not this host's name.
    std::fs::write(sb.etc.join("hosts"), "127.0.0.1 localhost\n::1 localhost\n").expect("hosts");
    std::fs::write(
        sb.etc.join("nsswitch.conf"),
        "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
    )
    .expect("nsswitch");
    std::fs::write(sb.etc.join("resolv.conf"), "nameserver 127.0.0.1\n").expect("resolv");

    let row = "silent DNS, host name not in /etc/hosts";
    let o = ns.login(&sb, &front);
    show(row, &o, "");
    expect_server_allow(&mut rep, &sb, row, &front, &o);
    let bound = Duration::from_secs(TIMEOUT) + SLACK;
    rep.check(
        o.elapsed < bound,
        row,
        &format!(
            "the verdict took {:.2} s, more than https_timeout + slack ({:.1} s)",
            o.elapsed.as_secs_f64(),
            bound.as_secs_f64()
        ),
        &o,
    );
    rep.check(
        o.logged("was not found in time"),
        row,
        "the host-name lookup should have been cut short (is the DNS server silent?)",
        &o,
    );
    let raw = duo::sys::hostname().unwrap_or_default();
    let sent: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r["params"]["hostname"].as_str().map(String::from))
        .collect();
    if !sent.iter().all(|h| *h == raw) || sent.is_empty() {
        rep.fail(
            row,
            &format!("preauth should carry the short host name {raw:?}, sent {sent:?}"),
        );
    }

    // The same silent DNS, but /etc/hosts names this host: its canonical name comes from there
    // (as glibc's `files` source would give it) without a lookup thread, so nothing waits (D19).
    let row = "silent DNS, host name in /etc/hosts";
    let before = mock.requests().len();
    std::fs::write(
        sb.etc.join("hosts"),
        format!("127.0.0.1 localhost\n127.0.1.1 web.duo-test.example {raw}\n"),
    )
    .expect("hosts");
    let o = ns.login(&sb, &front);
    show(row, &o, "");
    expect_server_allow(&mut rep, &sb, row, &front, &o);
    rep.check(
        !o.logged("was not found in time"),
        row,
        "the canonical name is in /etc/hosts: nothing should have waited for DNS",
        &o,
    );
    let sent: Vec<String> = mock.requests()[before..]
        .iter()
        .filter_map(|r| r["params"]["hostname"].as_str().map(String::from))
        .collect();
    if sent.is_empty() || !sent.iter().all(|h| h == "web.duo-test.example") {
        rep.fail(
            row,
            &format!("preauth should carry the name from /etc/hosts, sent {sent:?}"),
        );
    }
    rep.done("silent_dns_rows");
}

#[test]
#[ignore = "needs root"]
fn su_host_name_lookup_stays_within_the_budget() {
    duo_tests::require_root();
    silent_dns_rows(Front::Su);
}

#[test]
#[ignore = "needs root"]
fn login_duo_host_name_lookup_stays_within_the_budget() {
    duo_tests::require_root();
    silent_dns_rows(Front::Login);
}
