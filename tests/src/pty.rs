//! Driving a program through a pseudo-terminal, with bounded waits.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A child process whose stdin, stdout and stderr are one pseudo-terminal.
pub struct PtyChild {
    master: File,
    child: Child,
    /// Everything read from the terminal so far.
    pub transcript: String,
    /// Where the next [`PtyChild::expect`] starts looking: just past the last match.
    cursor: usize,
    /// When each chunk of the transcript was read, with the offset where it starts.
    pub chunks: Vec<(SystemTime, usize)>,
}

impl PtyChild {
    /// Start `cmd` on a new pseudo-terminal, as the leader of a new session with the terminal
    /// as its controlling terminal.
    pub fn spawn(mut cmd: Command) -> std::io::Result<PtyChild> {
        let mut master: libc::c_int = -1;
        let mut slave: libc::c_int = -1;
        // SAFETY: openpty writes two descriptors into the given locals; the other pointers may
        // be NULL.
        let r = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just opened and are owned by nobody else.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe and run in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        Ok(PtyChild {
            master: File::from(master),
            child,
            transcript: String::new(),
            cursor: 0,
            chunks: Vec::new(),
        })
    }

    /// Read what is available within `wait`; false at end of output.
    fn read_some(&mut self, wait: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n <= 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.chunks.push((SystemTime::now(), self.transcript.len()));
                self.transcript
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
        }
    }

    /// Wait until the output after the previous match contains `needle`, for at most
    /// `timeout`; the next call then looks after this match.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> Result<(), String> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(i) = self.transcript[self.cursor..].find(needle) {
                self.cursor += i + needle.len();
                return Ok(());
            }
            let now = Instant::now();
            if now >= end {
                return Err(format!(
                    "timed out waiting for {needle:?}; transcript:\n{}",
                    self.transcript
                ));
            }
            if !self.read_some(end - now) {
                if let Some(i) = self.transcript[self.cursor..].find(needle) {
                    self.cursor += i + needle.len();
                    return Ok(());
                }
                return Err(format!(
                    "output ended before {needle:?}; transcript:\n{}",
                    self.transcript
                ));
            }
        }
    }

    /// When the first occurrence of `needle` in the transcript was complete on the screen
    /// (the time its last chunk was read).
    pub fn seen_at(&self, needle: &str) -> Option<SystemTime> {
        let end = self.transcript.find(needle)? + needle.len();
        self.chunks
            .iter()
            .rev()
            .find(|(_, start)| *start < end)
            .map(|(t, _)| *t)
    }

    /// How many times `needle` is in the transcript.
    pub fn count(&self, needle: &str) -> usize {
        self.transcript.matches(needle).count()
    }

    /// Type `text` into the terminal.
    pub fn send(&mut self, text: &str) {
        let _ = self.master.write_all(text.as_bytes());
        let _ = self.master.flush();
    }

    /// Read the rest of the output and wait for the exit, for at most `timeout`; the child is
    /// killed if it has not exited by then (and `None` is returned).
    pub fn finish(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                while self.read_some(Duration::from_millis(50)) {
                    if Instant::now() >= end {
                        break;
                    }
                }
                return Some(status);
            }
            let now = Instant::now();
            if now >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            if !self.read_some((end - now).min(Duration::from_millis(100))) {
                // Output closed: the exit follows shortly.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
