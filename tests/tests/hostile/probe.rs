//! A user who spoils the outage window's probe in every interval cannot hold the window open
//! (issue 20; docs/BEHAVIOUR.md §8.1).
//!
//! The window is open (its state written as a real outage would leave it) and Duo answers
//! again. In each round the test user starts `su`, waits until that login has claimed the
//! probe slot, and then kills it (the claim dies with it) or stops it (a live claim holds only
//! for its lease, `https_timeout` plus 5 s). The next clean login must ask Duo, get its answer
//! and close the window, in both failmodes. The mock delays its ping by 1.5 s, so that a
//! probe is still waiting when it is spoiled.

use super::*;

/// `https_timeout` of these rows; a stopped probe's lease is this plus 5 s.
const TIMEOUT: i64 = 4;
/// The lease of a live probe's claim.
const LEASE: i64 = TIMEOUT + 5;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Rewrite both configs with `failmode = <mode>`.
fn set_failmode(sb: &Sandbox, mode: &str) {
    for (name, owner) in [("pam_duo.conf", (0, 0)), ("login_duo.conf", sb.sshd)] {
        let p = sb.etc.join("duo").join(name);
        let body = std::fs::read_to_string(&p).expect("read config");
        sb.write_conf(
            name,
            &body.replace("failmode = safe", &format!("failmode = {mode}")),
            owner,
        );
    }
}

/// The state file of the su config (pam_duo runs as root).
fn state_file(sb: &Sandbox) -> PathBuf {
    let text = std::fs::read(sb.etc.join("duo/pam_duo.conf")).expect("read config");
    let cfg = duo::config::parse(&text, duo::config::Frontend::Pam, &mut |_, _| {})
        .expect("parse config");
    duo::flow::outage::state_path(&cfg, duo::sys::Uid(0))
}

/// Write an open window whose probe is due: since 100 s, last failure 70 s ago, last probe 70
/// s ago (the interval is 60 s).
fn plant_open(file: &Path) -> i64 {
    let dir = file.parent().expect("dir");
    std::fs::create_dir_all(dir).expect("mkdir");
    chmod(dir, 0o700);
    let now = now_secs();
    let probe = now - 70;
    let _ = std::fs::remove_file(file);
    std::fs::write(
        file,
        format!(
            "duo-unix-rs outage window v1\nsince {}\nlast {probe}\nprobe {probe}\n",
            now - 100
        ),
    )
    .expect("plant");
    chmod(file, 0o600);
    probe
}

/// The probe time in the state file, if it holds an open window.
fn stored_probe(file: &Path) -> Option<i64> {
    let t = std::fs::read_to_string(file).ok()?;
    t.lines()
        .find_map(|l| l.strip_prefix("probe ")?.parse().ok())
}

/// Wait (at most 10 s) until a login has claimed the probe slot over `old`.
fn wait_for_claim(file: &Path, old: i64) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if stored_probe(file).is_some_and(|p| p > old) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A clean login after a spoiled probe: it must have asked Duo (which approves) and closed the
/// window.
fn expect_asked_duo(rep: &mut Report, sb: &Sandbox, row: &str, file: &Path) {
    let o = sb.run(&Run::new(Front::Su));
    show(row, &o, "");
    expect_server_allow(rep, sb, row, &Front::Su, &o);
    rep.check(
        !o.logged("(outage window)"),
        row,
        "got the verdict from the outage window instead of asking Duo",
        &o,
    );
    rep.check(
        stored_probe(file).is_none(),
        row,
        "the window is still open after Duo answered",
        &o,
    );
}

fn spoiled_probes(mode: &str) {
    let sb = Sandbox::new("hostile-probe");
    let mut rep = Report::default();
    let mock = Mock::start(&["--scenario", "alice", "--delay", "/auth/v2/ping=1500"]);
    let state = duo_tests::temp_dir("hostile-probe-state");
    chmod(&state, 0o755);
    sb.configure(
        &mock,
        &format!(
            "https_timeout = {TIMEOUT}\noutage_window = 300\noutage_probe_interval = 60\n\
             outage_state_dir = {}\n",
            state.display()
        ),
    );
    set_failmode(&sb, mode);
    let file = state_file(&sb);
    for (round, how) in ["kill", "stop", "kill", "stop"].iter().enumerate() {
        let row = format!("{mode}: round {round}, the user {how}s its own probe");
        let old = plant_open(&file);
        let running = sb.start(&Run::new(Front::Su));
        if !wait_for_claim(&file, old) {
            rep.fail(&row, "the user's login never claimed the probe slot");
            let _ = sb.finish(running);
            continue;
        }
        let pids = tree(running.pid());
        match *how {
            "kill" => {
                for p in &pids {
                    signal(*p, libc::SIGKILL);
                }
                let _ = sb.finish(running);
                expect_asked_duo(&mut rep, &sb, &format!("{row}; next login"), &file);
            }
            _ => {
                // Stopped during its ping (the mock answers it after 1.5 s), after it let go
                // of the state's lock.
                std::thread::sleep(Duration::from_millis(300));
                for p in &pids {
                    signal(*p, libc::SIGSTOP);
                }
                let claimed = stored_probe(&file).unwrap_or(old);
                // Within the lease a live probe keeps its claim: the window answers.
                if now_secs() + 1 < claimed + LEASE {
                    let o = sb.run(&Run::new(Front::Su));
                    show(&format!("{row}; within the lease"), &o, "");
                    rep.check(
                        o.logged("(outage window)"),
                        &row,
                        "within the lease of a live probe the window should answer",
                        &o,
                    );
                }
                // After the lease the claim is void, stopped prober or not.
                let wait = (claimed + LEASE + 1 - now_secs()).max(0) as u64;
                std::thread::sleep(Duration::from_secs(wait) + Duration::from_millis(200));
                expect_asked_duo(&mut rep, &sb, &format!("{row}; after the lease"), &file);
                for p in &pids {
                    signal(*p, libc::SIGCONT);
                }
                let o = sb.finish(running);
                show(&format!("{row}; the stopped probe resumed"), &o, "");
                rep.check(
                    stored_probe(&file).is_none(),
                    &row,
                    "the resumed probe reopened the window",
                    &o,
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&state);
    rep.done(&format!("spoiled_probes({mode})"));
}

#[test]
#[ignore = "needs root"]
fn a_spoiled_probe_cannot_hold_the_window_open_failmode_safe() {
    duo_tests::require_root();
    spoiled_probes("safe");
}

#[test]
#[ignore = "needs root"]
fn a_spoiled_probe_cannot_hold_the_window_open_failmode_secure() {
    duo_tests::require_root();
    spoiled_probes("secure");
}
