//! The mock Duo service as a product: its help text, a fixed port, and a CA that survives a
//! restart (README "Try it against the mock service").

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use duo_tests::{built, run_captured, IKEY, SKEY};

#[test]
fn help_lists_the_options_the_keys_and_the_user_names() {
    let out = run_captured(
        {
            let mut c = Command::new(built("mockduo"));
            c.arg("--help");
            c
        },
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "--dir DIR",
        "--listen ADDR",
        "--scenario NAME",
        &format!("Integration key: {IKEY}"),
        &format!("Secret key:      {SKEY}"),
        "pushdeny",
        "preauth-allow",
        "silent-preauth",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    let out = run_captured(
        {
            let mut c = Command::new(built("mockduo"));
            c.arg("--bogus");
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mockduo --help"));
}

/// Start the mock in `dir` on `port`; returns it once it printed READY.
fn start(dir: &Path, port: u16) -> Child {
    let mut child = Command::new(built("mockduo"))
        .arg("--dir")
        .arg(dir)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--exit-on-stdin-eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start mockduo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    if line.trim() != format!("READY {port}") {
        let _ = child.kill();
        panic!("mockduo did not start on port {port}: {line:?}");
    }
    child
}

fn login(conf: &Path) -> bool {
    let out = duo_tests::runner::LoginDuo::new(conf)
        .user("alice")
        .echo("RAN-mock")
        .limit(Duration::from_secs(30))
        .run();
    out.status.success() && out.ran
}

#[test]
#[ignore = "needs root"]
fn a_fixed_port_and_a_ca_that_survives_a_restart() {
    duo_tests::require_root();
    let dir = duo_tests::temp_dir("mock-restart");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut first = start(&dir, port);
    let ca = std::fs::read(dir.join("ca.pem")).expect("ca.pem");
    let key_mode = std::fs::metadata(dir.join("ca-key.pem"))
        .expect("ca-key.pem")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600, "the CA key is private");
    let conf = dir.join("try.conf");
    std::fs::write(
        &conf,
        format!(
            "[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{port}\ncafile = {}\nautopush = yes\n",
            dir.join("ca.pem").display()
        ),
    )
    .expect("conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(login(&conf), "a login against the first run");
    let _ = first.kill();
    let _ = first.wait();

    let mut second = start(&dir, port);
    assert_eq!(
        std::fs::read(dir.join("ca.pem")).expect("ca.pem"),
        ca,
        "the CA file is kept"
    );
    let ok = login(&conf);
    let _ = second.kill();
    let _ = second.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "the same config works against the restarted mock");
}
