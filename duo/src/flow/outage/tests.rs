use super::*;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh base directory (mode 0755, owned by the running user) under the temp dir.
fn base_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "duo-outage-unit-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn config(base: &Path) -> Config {
    Config {
        host: "api-test.example.com".to_string().into(),
        ikey: "DIXYZV6YM8IFYVWBINCA".to_string().into(),
        skey: "secret".to_string().into(),
        outage_window: 60,
        outage_probe_interval: 5,
        outage_state_dir: Some(base.to_str().unwrap().to_string()),
        ..Config::default()
    }
}

fn on(cfg: &Config) -> On {
    On {
        place: Place::new(cfg, crate::sys::effective_uid()),
        window: i64::from(cfg.outage_window),
        every: i64::from(cfg.outage_probe_interval),
        lease: 35,
        failmode: cfg.failmode,
        host: cfg.host.to_string(),
        check: Check::Network,
        probe_lock: None,
    }
}

/// What `w` would do, without keeping a probe's lock.
fn look(w: &On) -> Result<Check, String> {
    w.consult().map(|(c, _)| c).map_err(|e| e.to_string())
}

/// The probe time stored in the state file of `cfg`.
fn stored_probe(cfg: &Config) -> i64 {
    let text = std::fs::read_to_string(state_path(cfg, crate::sys::effective_uid())).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("probe "))
        .unwrap()
        .parse()
        .unwrap()
}

fn plant(cfg: &Config, text: &str) -> PathBuf {
    let p = state_path(cfg, crate::sys::effective_uid());
    let dir = p.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn open_text(since: i64, last: i64, probe: i64) -> String {
    render(&Stored::Open(Open { since, last, probe }))
}

#[test]
fn state_text_round_trips_and_rejects_everything_else() {
    let now = 1_800_000_000;
    let o = Stored::Open(Open {
        since: now - 30,
        last: now - 10,
        probe: now - 5,
    });
    assert_eq!(parse(render(&o).as_bytes(), now), Some(o));
    assert_eq!(
        parse(render(&Stored::Closed).as_bytes(), now),
        Some(Stored::Closed)
    );
    assert_eq!(
        render(&o),
        "duo-unix-rs outage window v1\nsince 1799999970\nlast 1799999990\nprobe 1799999995\n"
    );
    let good = render(&o);
    let bad = [
        String::new(),
        good.replace("v1", "v2"),
        good.replace("since", "Since"),
        good.replace(" 1799999970", "  1799999970"),
        good.replace("1799999970", "+1799999970"),
        good.replace("1799999970", "-1799999970"),
        good.replace("1799999970", "17999x9970"),
        good.trim_end().to_string(),
        format!("{good}extra\n"),
        format!("{good}\n"),
        good.replace('\n', "\r\n"),
        // out of order, zero, in the future
        open_text(now - 5, now - 10, now - 5),
        open_text(now - 5, now - 5, now - 10),
        open_text(0, now, now),
        open_text(now - 5, now + 1, now),
        open_text(now - 5, now, now + 100),
        "duo-unix-rs outage window v1\nclosed".into(),
        "duo-unix-rs outage window v1\nclosed\nsince 1\n".into(),
        format!("{HEADER}\nsince 99999999999999999999\nlast 1\nprobe 1\n"),
    ];
    for b in &bad {
        assert_eq!(parse(b.as_bytes(), now), None, "{b:?}");
    }
    assert_eq!(parse(&[0xff, 0xfe], now), None);
}

#[test]
fn dir_names_are_plain_absolute_paths() {
    assert_eq!(
        crate::config::check_outage_dir("/run/duo").unwrap(),
        "/run/duo"
    );
    for bad in [
        "", "/", "run", "/run/", "/a//b", "/a/./b", "/a/../b", "/a\nb",
    ] {
        assert!(crate::config::check_outage_dir(bad).is_err(), "{bad:?}");
    }
    assert!(crate::config::check_outage_dir(&format!("/{}", "a".repeat(300))).is_err());
}

#[test]
fn the_file_name_follows_what_decides_reachability() {
    let base = base_dir();
    let cfg = config(&base);
    let name = file_name(&cfg);
    assert!(
        name.starts_with("window-") && name.len() == 7 + 32,
        "{name}"
    );
    let changed = |f: &dyn Fn(&mut Config)| {
        let mut c = config(&base);
        f(&mut c);
        file_name(&c)
    };
    assert_ne!(changed(&|c| c.host = "other".to_string().into()), name);
    assert_ne!(changed(&|c| c.ikey = "DIOTHER".to_string().into()), name);
    assert_ne!(changed(&|c| c.failmode = FailMode::Secure), name);
    assert_ne!(
        changed(&|c| c.http_proxy = Some("http://p:3128".to_string().into())),
        name
    );
    assert_ne!(
        changed(&|c| c.cafile = Some("/etc/ca.pem".to_string().into())),
        name
    );
    assert_ne!(changed(&|c| c.noverify = true), name);
    // Neither the secret key nor the timings decide where the service is.
    assert_eq!(changed(&|c| c.skey = "other".to_string().into()), name);
    assert_eq!(changed(&|c| c.https_timeout = Some(3)), name);
    assert_eq!(changed(&|c| c.outage_window = 5), name);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn failure_opens_memory_answers_probe_claims_once_and_an_answer_closes() {
    let base = base_dir();
    let cfg = config(&base);
    let w = on(&cfg);
    assert_eq!(look(&w), Ok(Check::Network), "no state yet");
    assert_eq!(status(&cfg), None);
    w.failed().unwrap();
    let p = state_path(&cfg, crate::sys::effective_uid());
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    let dm = std::fs::metadata(p.parent().unwrap()).unwrap();
    assert_eq!(dm.mode() & 0o7777, 0o700);
    let st = status(&cfg).expect("open");
    assert_eq!(st.until, st.last_failure + 60);
    assert_eq!(st.next_probe, st.since + 5);
    // Within the probe interval of the failure: the verdict from memory.
    assert_eq!(look(&w), Ok(Check::Memory(st.since)));
    // A free probe slot is claimed by exactly one login.
    let now = now_secs();
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    let (c, lock) = w.consult().unwrap();
    assert!(
        matches!(c, Check::Probe { since, claimed, before } if since == now - 20 && claimed >= now && before == now - 10),
        "{c:?}"
    );
    assert!(lock.is_some(), "the probe holds the prober's lock");
    assert_eq!(look(&w), Ok(Check::Memory(now - 20)));
    drop(lock);
    // A failed probe extends the window, keeping `since`.
    w.failed().unwrap();
    let st = status(&cfg).unwrap();
    assert_eq!(st.since, now - 20);
    assert!(st.last_failure >= now);
    // An answer closes it.
    w.answered().unwrap();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        format!("{HEADER}\nclosed\n")
    );
    assert_eq!(look(&w), Ok(Check::Network));
    assert_eq!(status(&cfg), None);
    // A failure after that starts a new outage.
    w.failed().unwrap();
    assert!(status(&cfg).unwrap().since >= now);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn an_expired_window_is_closed_and_a_new_failure_restarts_it() {
    let base = base_dir();
    let cfg = config(&base);
    let w = on(&cfg);
    let now = now_secs();
    plant(&cfg, &open_text(now - 500, now - 61, now - 61));
    assert_eq!(look(&w), Ok(Check::Network));
    assert_eq!(status(&cfg), None);
    w.failed().unwrap();
    assert!(
        status(&cfg).unwrap().since >= now,
        "a new outage, not the old one"
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_window_that_is_off_touches_nothing() {
    let base = base_dir();
    let mut cfg = config(&base);
    cfg.outage_window = 0;
    let mut w = Window::open(&cfg);
    assert!(w.on.is_none());
    assert_eq!(w.remembered(), None);
    assert_eq!(status(&cfg), None);
    assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn memory_verdicts_follow_failmode_and_name_the_time() {
    let base = base_dir();
    for (mode, secure) in [(FailMode::Safe, false), (FailMode::Secure, true)] {
        let mut cfg = config(&base);
        cfg.failmode = mode;
        let now = now_secs();
        plant(&cfg, &open_text(1_764_558_600, now - 1, now - 1));
        let mut w = Window::open(&cfg);
        let why = "Duo service unreachable since 2025-12-01T03:10:00Z (outage window)".to_string();
        let want = if secure {
            Outcome::FailSecure(why)
        } else {
            Outcome::FailSafe(why)
        };
        assert_eq!(w.remembered(), Some(want));
        assert_eq!(w.remembered(), None, "given once");
    }
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn untrusted_state_files_are_ignored() {
    let base = base_dir();
    let cfg = config(&base);
    let w = on(&cfg);
    let now = now_secs();
    let open = open_text(now - 10, now - 1, now - 1);
    let p = plant(&cfg, &open);
    assert!(matches!(look(&w), Ok(Check::Memory(_))), "control");
    // Wrong mode.
    for mode in [0o644, 0o640, 0o400, 0o700, 0o4600] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = look(&w).unwrap_err();
        assert!(e.contains("not 0600"), "{mode:o}: {e}");
    }
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Two links.
    let twin = base.join("twin");
    std::fs::hard_link(&p, &twin).unwrap();
    assert!(look(&w).unwrap_err().contains("2 links"));
    std::fs::remove_file(&twin).unwrap();
    // Too large.
    std::fs::write(&p, format!("{open}{}", " ".repeat(300))).unwrap();
    assert!(look(&w).unwrap_err().contains("bytes"));
    // Garbage and times in the future: no window, and a failure overwrites them.
    for text in ["garbage\n", &open_text(now + 100, now + 100, now + 100)] {
        std::fs::write(&p, text).unwrap();
        assert_eq!(look(&w), Ok(Check::Network));
        assert_eq!(status(&cfg), None);
    }
    w.failed().unwrap();
    assert!(status(&cfg).is_some());
    // A symbolic link to a valid state.
    let real = base.join("real");
    std::fs::write(&real, &open).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&p).unwrap();
    symlink(&real, &p).unwrap();
    assert!(look(&w).unwrap_err().contains("symbolic link"));
    assert!(w.failed().is_err(), "never written through a link");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), open);
    std::fs::remove_file(&p).unwrap();
    // A FIFO.
    let made = std::process::Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(made.success());
    assert!(look(&w).unwrap_err().contains("not a regular file"));
    std::fs::remove_file(&p).unwrap();
    // A directory of the wrong mode.
    let dir = p.parent().unwrap();
    plant(&cfg, &open);
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(look(&w).unwrap_err().contains("mode 0700"));
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A base directory writable by others, or reached through a link.
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(w
        .consult()
        .unwrap_err()
        .to_string()
        .contains("writable by group or others"));
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let link = base_dir();
    std::fs::remove_dir(&link).unwrap();
    symlink(&base, &link).unwrap();
    let mut via_link = config(&base);
    via_link.outage_state_dir = Some(link.to_str().unwrap().to_string());
    assert!(on(&via_link)
        .consult()
        .unwrap_err()
        .to_string()
        .contains("symbolic link"));
    std::fs::remove_file(&link).unwrap();
    // A configured base that does not exist is reported.
    let mut missing = config(&base);
    missing.outage_state_dir = Some(format!("{}/none", base.display()));
    assert!(on(&missing)
        .consult()
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn concurrent_logins_keep_the_state_whole_and_claim_one_probe() {
    let base = base_dir();
    let cfg = config(&base);
    let now = now_secs();
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    let checks: Vec<Check> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let cfg = &cfg;
                s.spawn(move || {
                    let w = on(cfg);
                    // The prober keeps its lock until every thread is done, as a live probe
                    // would.
                    let (c, lock) = w.consult().unwrap();
                    match i % 3 {
                        0 if !matches!(c, Check::Probe { .. }) => w.failed().unwrap(),
                        _ => {
                            let _ = look(&w).unwrap();
                        }
                    }
                    (c, lock)
                })
            })
            .collect();
        let all: Vec<(Check, Option<File>)> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        all.into_iter().map(|(c, _)| c).collect()
    });
    let probes = checks
        .iter()
        .filter(|c| matches!(c, Check::Probe { .. }))
        .count();
    assert_eq!(probes, 1, "{checks:?}");
    assert!(checks
        .iter()
        .all(|c| matches!(c, Check::Probe { since: s, .. } | Check::Memory(s) if *s == now - 20)));
    let st = status(&cfg).expect("whole and open");
    assert_eq!(st.since, now - 20);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_probe_that_learns_nothing_gives_its_claim_back() {
    let base = base_dir();
    let cfg = config(&base);
    let now = now_secs();
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    let mut w = on(&cfg);
    let (c, lock) = w.consult().unwrap();
    assert!(matches!(c, Check::Probe { .. }), "{c:?}");
    assert!(stored_probe(&cfg) >= now, "the claim is written");
    w.check = c;
    w.probe_lock = lock;
    let other = on(&cfg);
    assert_eq!(look(&other), Ok(Check::Memory(now - 20)), "claimed");
    w.hand_back().unwrap();
    assert_eq!(stored_probe(&cfg), now - 10, "the window as it was found");
    assert!(w.probe_lock.is_none() && w.check == Check::Network);
    // The next login probes.
    assert!(matches!(look(&other), Ok(Check::Probe { .. })));
    // Giving back twice, or a login that never probed, changes nothing.
    plant(&cfg, &open_text(now - 20, now - 10, now - 4));
    w.hand_back().unwrap();
    on(&cfg).hand_back().unwrap();
    assert_eq!(stored_probe(&cfg), now - 4);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_hand_back_never_undoes_what_another_login_learnt() {
    let base = base_dir();
    let cfg = config(&base);
    let now = now_secs();
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    let mut w = on(&cfg);
    let (c, lock) = w.consult().unwrap();
    w.check = c;
    w.probe_lock = lock;
    // Meanwhile another login saw the service unreachable...
    on(&cfg).failed().unwrap();
    w.hand_back().unwrap();
    let st = status(&cfg).unwrap();
    assert!(st.last_failure >= now && stored_probe(&cfg) >= now, "kept");
    // ...or saw it answer.
    let (c, lock) = {
        plant(&cfg, &open_text(now - 20, now - 10, now - 10));
        w.consult().unwrap()
    };
    w.check = c;
    w.probe_lock = lock;
    on(&cfg).answered().unwrap();
    w.hand_back().unwrap();
    assert_eq!(status(&cfg), None, "still closed");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_dead_probe_is_void_at_once_and_a_stopped_one_after_its_lease() {
    let base = base_dir();
    let cfg = config(&base);
    let now = now_secs();
    // A prober that was killed: its claim is written, its lock is gone with it.
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    let w = on(&cfg);
    let (c, lock) = w.consult().unwrap();
    assert!(matches!(c, Check::Probe { .. }));
    drop(lock);
    let (c, lock) = w.consult().unwrap();
    assert!(
        matches!(c, Check::Probe { before, .. } if before >= now),
        "{c:?}"
    );
    // A prober that is alive (holds the lock) keeps its claim for its lease...
    let p = plant(&cfg, &open_text(now - 20, now - 10, now - 3));
    drop(lock);
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    assert!(crate::sys::try_ofd_lock(&held).unwrap());
    assert_eq!(
        look(&w),
        Ok(Check::Memory(now - 20)),
        "alive, within its lease"
    );
    // ...and not longer: a stopped prober cannot hold the window.
    let mut short = on(&cfg);
    short.lease = 2;
    assert!(matches!(look(&short), Ok(Check::Probe { .. })));
    // A probe that recorded a failure has settled: the interval holds whoever has the lock.
    plant(&cfg, &open_text(now - 20, now - 2, now - 3));
    drop(held);
    assert_eq!(look(&w), Ok(Check::Memory(now - 20)));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_window_dropped_while_probing_gives_the_claim_back() {
    let base = base_dir();
    let cfg = config(&base);
    let now = now_secs();
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    let w = Window::open(&cfg);
    assert!(matches!(
        w.on.as_ref().map(|o| o.check),
        Some(Check::Probe { .. })
    ));
    assert!(stored_probe(&cfg) >= now);
    drop(w);
    assert_eq!(stored_probe(&cfg), now - 10);
    let _ = std::fs::remove_dir_all(&base);
}

/// A user who makes the probe fail on this machine in every interval (a kill, a local
/// error) cannot keep the window open: each failed probe hands its claim back or dies with
/// its lock, and the first probe that reaches Duo closes the window.
#[test]
fn a_user_who_fails_every_probe_cannot_hold_the_window_open() {
    let base = base_dir();
    for mode in [FailMode::Safe, FailMode::Secure] {
        let mut cfg = config(&base);
        cfg.failmode = mode;
        let now = now_secs();
        plant(&cfg, &open_text(now - 30, now - 10, now - 10));
        for round in 0..5 {
            let mut w = on(&cfg);
            let (c, lock) = w.consult().unwrap();
            assert!(matches!(c, Check::Probe { .. }), "round {round}: {c:?}");
            w.check = c;
            w.probe_lock = lock;
            if round % 2 == 0 {
                w.hand_back().unwrap(); // a local error
            } else {
                drop(w); // killed: the lock goes with the process
            }
        }
        // The next clean login asks Duo, which answers: closed.
        let w = on(&cfg);
        assert!(matches!(look(&w), Ok(Check::Probe { .. })));
        w.answered().unwrap();
        assert_eq!(status(&cfg), None);
        assert_eq!(look(&w), Ok(Check::Network));
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// A login stopped while it holds the state's lock cannot keep the window open once Duo
/// answers another login.
#[test]
fn an_answer_closes_the_window_even_while_a_stopped_login_holds_the_lock() {
    let base = base_dir();
    let cfg = config(&base);
    let now = now_secs();
    let p = plant(&cfg, &open_text(now - 20, now - 10, now - 3));
    let holder = std::fs::File::open(&p).unwrap();
    assert!(crate::sys::try_flock(&holder, true).unwrap());
    let started = std::time::Instant::now();
    on(&cfg).answered().unwrap();
    assert!(started.elapsed() < LOCK_WAIT + Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        format!("{HEADER}\nclosed\n")
    );
    drop(holder);
    let _ = std::fs::remove_dir_all(&base);
}
