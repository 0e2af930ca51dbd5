//! `make demo`: a full `login_duo` login against the bundled mock Duo service.
//!
//! Starts the mock service on 127.0.0.1, writes a private config that trusts only the mock's
//! CA, runs the real `login_duo` on a pseudo-terminal, picks "1" (push) from the Duo menu, and
//! shows the wrapped command running after the approval.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use duo_tests::pty::PtyChild;
use duo_tests::Mock;

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent().map(|d| d.join(name)).unwrap_or_default()
}

fn main() -> ExitCode {
    let login = sibling("login_duo");
    if !login.exists() {
        eprintln!("{} not found: run `make build` first", login.display());
        return ExitCode::FAILURE;
    }
    println!("== Starting the mock Duo service (HTTPS on 127.0.0.1, its own CA)");
    let mock = Mock::start_with(&sibling("mockduo"), &[]);
    println!(
        "   listening on 127.0.0.1:{}, CA in {}",
        mock.port,
        mock.ca.display()
    );

    let conf = mock.dir.join("login_duo.conf");
    let body = format!(
        "[duo]\n; keys of the mock service (public test keys)\nikey = DIXYZV6YM8IFYVWBINCA\n\
         skey = yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo\nhost = 127.0.0.1:{}\ncafile = {}\n\
         failmode = secure\npushinfo = yes\n",
        mock.port,
        mock.ca.display()
    );
    if std::fs::write(&conf, body).is_err()
        || std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).is_err()
    {
        eprintln!("cannot write {}", conf.display());
        return ExitCode::FAILURE;
    }
    println!("== Config {}:", conf.display());
    print!("{}", std::fs::read_to_string(&conf).unwrap_or_default());

    let wrapped = "echo \"Hello from the wrapped command, running as $(id -un)\"";
    println!(
        "== Running: login_duo -d -c {} -f alice -- {wrapped}",
        conf.display()
    );
    println!("   (on a pseudo-terminal; the demo types '1' to choose Duo Push)\n");
    let mut cmd = Command::new(&login);
    cmd.args(["-d", "-c"])
        .arg(&conf)
        .args(["-f", "alice", "--", wrapped]);
    let mut p = match PtyChild::spawn(cmd) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot start login_duo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t = Duration::from_secs(20);
    let step = |p: &mut PtyChild, what: &str| -> bool {
        let before = p.transcript.len();
        let r = p.expect(what, t);
        print!("{}", &p.transcript[before..]);
        if let Err(e) = r {
            eprintln!("\n{e}");
            return false;
        }
        true
    };
    if !step(&mut p, "Passcode or option (1-4): ") {
        return ExitCode::FAILURE;
    }
    p.send("1\n");
    if !step(&mut p, "Hello from the wrapped command") {
        return ExitCode::FAILURE;
    }
    let before = p.transcript.len();
    let status = p.finish(t);
    print!("{}", &p.transcript[before..]);
    match status {
        Some(s) if s.success() => {
            println!("\n== Demo finished: Duo approved the push and login_duo ran the command.");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("\n== login_duo ended with {other:?}");
            ExitCode::FAILURE
        }
    }
}
