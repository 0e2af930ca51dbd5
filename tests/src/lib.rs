//! Helpers shared by the end-to-end tests: the mock Duo service, temporary users, and a
//! pseudo-terminal driver.

pub mod pty;
pub mod users;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A new empty directory (mode 0755) unique to this process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("duo-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// A running mock Duo service; stopped and cleaned up when dropped.
pub struct Mock {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its private directory.
    pub dir: PathBuf,
    /// The CA certificate that signed its server certificate.
    pub ca: PathBuf,
    /// The file that records every request.
    pub record: PathBuf,
    child: Child,
}

impl Mock {
    /// Start `target/<profile>/mockduo`, found next to the running test or program.
    pub fn start(args: &[&str]) -> Mock {
        let exe = std::env::current_exe().expect("current_exe");
        let mut dir = exe.parent().expect("exe dir").to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        Mock::start_with(&dir.join("mockduo"), args)
    }

    /// Start the mock binary at `bin` and wait (at most 10 s) until it is ready.
    pub fn start_with(bin: &Path, args: &[&str]) -> Mock {
        Mock::start_with_prefix(&[], bin, args)
    }

    /// Like [`Mock::start_with`], run through `prefix` (e.g. `ip netns exec NAME`), which
    /// must exec the binary in place so that stopping the child stops the mock.
    pub fn start_with_prefix(prefix: &[&str], bin: &Path, args: &[&str]) -> Mock {
        let dir = temp_dir("mock");
        let record = dir.join("requests.jsonl");
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .arg("--dir")
            .arg(&dir)
            .arg("--record")
            .arg(&record)
            .arg("--exit-on-stdin-eof")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("mockduo did not become ready: {line:?}")
            });
        Mock {
            port,
            ca: dir.join("ca.pem"),
            record,
            dir,
            child,
        }
    }

    /// Every request received so far, one JSON object each.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A binary or library built by `cargo build --workspace` (which `make check` runs first), found
/// in the target directory of the running test or program. Panics with a clear message if it
/// is missing.
pub fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` first (make check does)",
        p.display()
    );
    p
}
