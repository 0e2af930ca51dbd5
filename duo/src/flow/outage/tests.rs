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
        failmode: cfg.failmode,
        host: cfg.host.to_string(),
        check: Check::Network,
    }
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
    assert_eq!(w.consult(), Ok(Check::Network), "no state yet");
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
    assert_eq!(w.consult(), Ok(Check::Memory(st.since)));
    // A free probe slot is claimed by exactly one login.
    let now = now_secs();
    plant(&cfg, &open_text(now - 20, now - 10, now - 10));
    assert_eq!(w.consult(), Ok(Check::Probe(now - 20)));
    assert_eq!(w.consult(), Ok(Check::Memory(now - 20)));
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
    assert_eq!(w.consult(), Ok(Check::Network));
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
    assert_eq!(w.consult(), Ok(Check::Network));
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
    assert!(matches!(w.consult(), Ok(Check::Memory(_))), "control");
    // Wrong mode.
    for mode in [0o644, 0o640, 0o400, 0o700, 0o4600] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = w.consult().unwrap_err();
        assert!(e.contains("not 0600"), "{mode:o}: {e}");
    }
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Two links.
    let twin = base.join("twin");
    std::fs::hard_link(&p, &twin).unwrap();
    assert!(w.consult().unwrap_err().contains("2 links"));
    std::fs::remove_file(&twin).unwrap();
    // Too large.
    std::fs::write(&p, format!("{open}{}", " ".repeat(300))).unwrap();
    assert!(w.consult().unwrap_err().contains("bytes"));
    // Garbage and times in the future: no window, and a failure overwrites them.
    for text in ["garbage\n", &open_text(now + 100, now + 100, now + 100)] {
        std::fs::write(&p, text).unwrap();
        assert_eq!(w.consult(), Ok(Check::Network));
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
    assert!(w.consult().unwrap_err().contains("symbolic link"));
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
    assert!(w.consult().unwrap_err().contains("not a regular file"));
    std::fs::remove_file(&p).unwrap();
    // A directory of the wrong mode.
    let dir = p.parent().unwrap();
    plant(&cfg, &open);
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(w.consult().unwrap_err().contains("mode 0700"));
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A base directory writable by others, or reached through a link.
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(w
        .consult()
        .unwrap_err()
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
        .contains("symbolic link"));
    std::fs::remove_file(&link).unwrap();
    // A configured base that does not exist is reported.
    let mut missing = config(&base);
    missing.outage_state_dir = Some(format!("{}/none", base.display()));
    assert!(on(&missing)
        .consult()
        .unwrap_err()
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
                    let c = w.consult().unwrap();
                    match i % 3 {
                        0 => w.failed().unwrap(),
                        _ => {
                            let _ = w.consult().unwrap();
                        }
                    }
                    c
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let probes = checks
        .iter()
        .filter(|c| matches!(c, Check::Probe(_)))
        .count();
    assert_eq!(probes, 1, "{checks:?}");
    assert!(checks
        .iter()
        .all(|c| matches!(c, Check::Probe(s) | Check::Memory(s) if *s == now - 20)));
    let st = status(&cfg).expect("whole and open");
    assert_eq!(st.since, now - 20);
    let _ = std::fs::remove_dir_all(&base);
}
