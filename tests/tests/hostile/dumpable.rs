//! The setuid `login_duo`'s two processes are not dumpable (issue 20 item 5; docs/BEHAVIOUR.md
//! §10): the parent, which runs as the caller while it waits for the auth child, and the auth
//! child, which runs as the privsep user (shared by every login), each call
//! `prctl(PR_SET_DUMPABLE, 0)` right after their privilege drop. The kernel shows it by
//! giving the entries of `/proc/<pid>` to root, and refuses `ptrace` and `/proc/<pid>/environ` to processes of
//! the same user. A control row shows that the probes do reach a dumpable process of the test
//! user, so their failure means something.
//!
//! The kernel also clears the flag itself on a setuid drop when `fs.suid_dumpable` is 0 (the
//! usual setting), so the second test traces the run (`strace -u`, as root) and checks that
//! each process makes the call itself after its `setuid`.

use super::*;
use std::os::unix::fs::MetadataExt;

/// Run `argv` as `uid:gid` without supplementary groups, at most 3 s: (success, stderr).
fn as_user(uid: u32, gid: u32, argv: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["-k", "1", "3", "setpriv"])
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .args(["--clear-groups", "--"])
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the probes of `uid` found out about `pid`: whether the entries of `/proc/<pid>` are
/// root's, whether reading its environment failed with "Permission denied", whether `ptrace`
/// failed with "Operation not permitted".
fn probe(pid: u32, uid: u32, gid: u32) -> (bool, bool, bool) {
    // The entries under /proc/<pid> (the directory itself keeps the real uid).
    let root_owned = ["status", "environ", "fd"]
        .iter()
        .all(|e| std::fs::symlink_metadata(format!("/proc/{pid}/{e}")).is_ok_and(|m| m.uid() == 0));
    let environ = format!("/proc/{pid}/environ");
    let (read, err) = as_user(uid, gid, &["head", "-c", "1", &environ]);
    let read_refused = !read && err.contains("Permission denied");
    let p = pid.to_string();
    let (_, err) = as_user(uid, gid, &["strace", "-qq", "-e", "trace=none", "-p", &p]);
    let trace_refused = err.contains("Operation not permitted");
    (root_owned, read_refused, trace_refused)
}

#[test]
#[ignore = "needs root"]
fn login_duo_processes_cannot_be_traced() {
    duo_tests::require_root();
    let sb = Sandbox::new("hostile-dump");
    let mut rep = Report::default();
    let (uid, gid) = (sb.user.uid, sb.user.gid);

    // Control: a dumpable process of the test user can be read and traced by the probes.
    let mut sleeper = Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .args(["--clear-groups", "--", "sleep", "10"])
        .spawn()
        .expect("run sleep");
    std::thread::sleep(Duration::from_millis(100));
    let (owned, read_refused, trace_refused) = probe(sleeper.id(), uid, gid);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    if owned || read_refused || trace_refused {
        rep.fail(
            "control",
            &format!(
                "a plain process of the test user: /proc root-owned {owned}, environ refused \
                 {read_refused}, ptrace refused {trace_refused}; all should be false"
            ),
        );
    }

    // The auth is answered 4 s late, so both processes wait long enough to be probed.
    let mock = Mock::start(&["--scenario", "alice", "--delay", "/auth/v2/auth=4000"]);
    sb.configure(&mock, "");
    let running = sb.start(&Run::new(Front::Login));
    let parent = running.pid();
    let end = Instant::now() + Duration::from_secs(10);
    let mut child = None;
    while child.is_none() && Instant::now() < end {
        child = children_of(parent)
            .into_iter()
            .find(|c| uid_of(*c) == Some(sb.sshd.0) && tcp_peers(*c).contains(&mock.port));
        std::thread::sleep(Duration::from_millis(10));
    }
    match child {
        None => rep.fail("wait", "the auth child never talked to the mock"),
        Some(child) => {
            for (row, pid, (u, g)) in [
                ("parent (as the caller)", parent, (uid, gid)),
                ("auth child (as the privsep user)", child, sb.sshd),
            ] {
                let runs_as = uid_of(pid);
                let (owned, read_refused, trace_refused) = probe(pid, u, g);
                println!(
                    "{row}: uid {runs_as:?}, /proc root-owned {owned}, environ refused \
                     {read_refused}, ptrace refused {trace_refused}"
                );
                if runs_as != Some(u) {
                    rep.fail(row, &format!("runs as {runs_as:?}, not uid {u}"));
                }
                if !owned {
                    rep.fail(
                        row,
                        "/proc/<pid> is not owned by root: the process is dumpable",
                    );
                }
                if !read_refused {
                    rep.fail(row, "its environment could be read by the same user");
                }
                if !trace_refused {
                    rep.fail(row, "ptrace by the same user was not refused");
                }
            }
        }
    }
    let o = sb.finish(running);
    show("login after the probes", &o, "");
    expect_server_allow(&mut rep, &sb, "login after the probes", &Front::Login, &o);
    rep.done("dumpable");
}

#[test]
#[ignore = "needs root"]
fn login_duo_makes_each_process_non_dumpable_after_its_drop() {
    duo_tests::require_root();
    let sb = Sandbox::new("hostile-prctl");
    let mut rep = Report::default();
    let mock = mock_allow();
    sb.configure(&mock, "");
    // One trace file per process (`-ff`: strace.<pid>), so no call is split across lines.
    let trace = sb.dir.join("strace");
    // strace (root) runs login_duo as the test user with its setuid bit honoured.
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(SANDBOX_SH)
        .arg("sandbox")
        .arg(&sb.dir)
        .args(["strace", "-ff", "-qq", "-e", "trace=setuid,prctl", "-o"])
        .arg(&trace)
        .args(["-u", &sb.user.name, LOGIN, "--", "echo"])
        .arg(&sb.marker)
        .env_clear()
        .env("PATH", PATH);
    sb.drain();
    let o = sb.finish(Spawned::start(c));
    show("login_duo under strace", &o, "");
    expect_server_allow(&mut rep, &sb, "login_duo under strace", &Front::Login, &o);
    // Per process: the uids it dropped to (setuid to a non-root uid), each followed by
    // PR_SET_DUMPABLE 0 or not.
    let mut procs: Vec<(String, Vec<(u32, bool)>)> = Vec::new();
    let mut all = String::new();
    for e in std::fs::read_dir(&sb.dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("strace.") else {
            continue;
        };
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        all.push_str(&format!("[{pid}]\n{text}"));
        let mut drops: Vec<(u32, bool)> = Vec::new();
        for call in text.lines() {
            if let Some(rest) = call.strip_prefix("setuid(") {
                let n = rest.split(')').next().and_then(|n| n.parse::<u32>().ok());
                if let Some(n) = n.filter(|n| *n != 0 && call.ends_with("= 0")) {
                    drops.push((n, false));
                }
            } else if call.starts_with("prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE)")
                && call.ends_with("= 0")
            {
                if let Some(last) = drops.last_mut() {
                    last.1 = true;
                }
            }
        }
        procs.push((pid.to_string(), drops));
    }
    for (who, uid) in [("parent", sb.user.uid), ("auth child", sb.sshd.0)] {
        // strace -u itself does setuid(<user>) in its child before the exec; what counts is a
        // drop of login_duo's that is followed by the prctl.
        let ok = procs
            .iter()
            .any(|(_, drops)| drops.iter().any(|&(u, then)| u == uid && then));
        if !ok {
            rep.fail(
                who,
                &format!(
                    "no setuid({uid}) followed by prctl(PR_SET_DUMPABLE, 0) = 0 in one process; \
                     traces:\n{all}"
                ),
            );
        }
    }
    rep.done("prctl");
}
