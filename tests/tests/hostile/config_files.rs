//! Config files that are not small regular files (issue 20 item 3; docs/BEHAVIOUR.md §3.1,
//! §0a D1): a FIFO, a symbolic link to `/dev/zero` and a 100 MiB file as the config of su's
//! `pam_duo.so` (`conf=` in the PAM line) and of the setuid `login_duo` (`-c`). Where a user
//! can write the directory of a config path, a FIFO there used to block every login in
//! `open`; now each is refused at once, with a line naming the file and why, and Duo is not
//! asked. A sanity row shows that the same setup with a normal config reaches the mock.

use super::*;

/// Upper bound for a refused config, from starting the sandbox to the exit: the 1 s the issue
/// allows plus a little for the namespace set-up on a loaded machine.
const QUICK: Duration = Duration::from_millis(1250);

/// Point su's PAM stack (in the sandbox's /etc copy) at the config `conf`.
fn su_stack(sb: &Sandbox, conf: &str) {
    let stack = format!(
        "auth required {} conf={conf}\nauth required pam_permit.so\n\
         account required pam_permit.so\nsession required pam_permit.so\n\
         password required pam_permit.so\n",
        duo_tests::built("libpam_duo.so").display()
    );
    std::fs::write(sb.etc.join("pam.d").join("su"), stack).expect("pam stack");
}

/// A sparse file of `len` bytes, mode 0600, owned by `owner`.
fn sparse(p: &Path, len: u64, owner: (u32, u32)) {
    std::fs::File::create(p)
        .and_then(|f| f.set_len(len))
        .unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
    chmod(p, 0o600);
    chown(p, owner.0, owner.1);
}

#[test]
#[ignore = "needs root"]
fn odd_config_files_are_refused_at_once() {
    duo_tests::require_root();
    let sb = Sandbox::new("hostile-conf");
    let allow = mock_allow();
    let mut rep = Report::default();
    sb.configure(&allow, "");
    // su sleeps FAIL_DELAY seconds (1 by default) after a failed authentication; the time
    // measured here is the module's, so the sandbox's login.defs turns that sleep off.
    let defs = sb.etc.join("login.defs");
    let mut text = std::fs::read_to_string(&defs).unwrap_or_default();
    text.push_str("\nFAIL_DELAY 0\n");
    std::fs::write(&defs, text).expect("login.defs");

    // Sanity: the stack written here and the same runs with normal configs reach the mock and
    // allow.
    for (front, by_root) in [
        (Front::Su, false),
        (Front::Login, false),
        (Front::Login, true),
    ] {
        su_stack(&sb, "/etc/duo/pam_duo.conf");
        let before = allow.requests().len();
        let o = sb.run(&login_run(&front, by_root, "/etc/duo/login_root.conf"));
        let row = format!("{}, a normal config", who(&front, by_root));
        show(&row, &o, "");
        expect_server_allow(&mut rep, &sb, &row, &front, &o);
        rep.check(
            allow.requests().len() > before,
            &row,
            "the mock was not asked",
            &o,
        );
    }

    // A directory the test user can write, as a careless conf= path might have: the user
    // made the FIFO and the link; the big files are owned as each frontend requires.
    let user = (sb.user.uid, sb.user.gid);
    let dir = sb.etc.join("duo-conf");
    std::fs::create_dir_all(&dir).expect("mkdir");
    chown(&dir, user.0, user.1);
    chmod(&dir, 0o755);
    let fifo = dir.join("fifo.conf");
    mkfifo(&fifo, user);
    let zero = dir.join("zero.conf");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    std::os::unix::fs::lchown(&zero, Some(user.0), Some(user.1)).expect("lchown");
    sparse(&dir.join("big.conf"), 100 << 20, (0, 0));

    let huge = "104857600 bytes, more than the 65536 allowed";
    let kinds = [
        ("fifo.conf", "not a regular file (a FIFO)"),
        ("zero.conf", "not a regular file (a character device)"),
        ("big.conf", huge),
    ];
    // su and login_duo run by root (-c) read the file in the user's directory; the setuid
    // login_duo run by the user (which may not pass -c) reads /etc/duo/login_duo.conf, here
    // replaced by the same kinds of file (the big one owned by the privsep user, as login_duo
    // requires).
    let default_conf = sb.etc.join("duo/login_duo.conf");
    for (front, by_root) in [
        (Front::Su, false),
        (Front::Login, true),
        (Front::Login, false),
    ] {
        for (name, why) in kinds {
            let path = if front == Front::Login && !by_root {
                let _ = std::fs::remove_file(&default_conf);
                match name {
                    "fifo.conf" => mkfifo(&default_conf, user),
                    "zero.conf" => {
                        std::os::unix::fs::symlink("/dev/zero", &default_conf).expect("symlink")
                    }
                    _ => sparse(&default_conf, 100 << 20, sb.sshd),
                }
                "/etc/duo/login_duo.conf".to_string()
            } else {
                format!("/etc/duo-conf/{name}")
            };
            su_stack(&sb, &path);
            let before = allow.requests().len();
            let o = sb.run(&login_run(&front, by_root, &path));
            let row = format!("{}, config {path} ({name})", who(&front, by_root));
            show(&row, &o, &format!("in {:.2} s", o.elapsed.as_secs_f64()));
            expect_denied(&mut rep, &sb, &row, &front, &o);
            rep.check(
                o.elapsed < QUICK,
                &row,
                &format!("took {:?}, more than {QUICK:?}", o.elapsed),
                &o,
            );
            let line = format!("{path}: {why}");
            rep.check(o.logged(&line), &row, &format!("no line `{line}`"), &o);
            rep.check(
                allow.requests().len() == before,
                &row,
                "Duo was asked although the config was refused",
                &o,
            );
        }
    }
    let _ = std::fs::remove_file(&default_conf);
    rep.done("config files");
}

/// The run of a row: su, the setuid login_duo run by the test user (its default config), or
/// login_duo run by root with `-c conf`.
fn login_run(front: &Front, by_root: bool, conf: &str) -> Run {
    match (front, by_root) {
        (Front::Login, true) => Run::new(Front::Login).root().args(&["-c", conf]),
        _ => Run::new(front.clone()),
    }
}

fn who(front: &Front, by_root: bool) -> &'static str {
    match (front, by_root) {
        (Front::Login, true) => "login_duo run by root with -c",
        (Front::Login, false) => "setuid login_duo",
        _ => "su",
    }
}

/// A FIFO at `p`, mode 0666, owned by `owner`.
fn mkfifo(p: &Path, owner: (u32, u32)) {
    let st = Command::new("mkfifo")
        .args(["-m", "0666"])
        .arg(p)
        .status()
        .expect("run mkfifo");
    assert!(st.success(), "mkfifo {} failed", p.display());
    chown(p, owner.0, owner.1);
}
