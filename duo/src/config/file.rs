//! Opening a config file without blocking and reading it with a size cap (docs/BEHAVIOUR.md
//! §3.1, issue 20).
//!
//! Whoever can write the directory of a `conf=` path could put a FIFO, a link to a device or
//! a huge file there. The file is therefore opened with `O_NONBLOCK | O_NOCTTY | O_CLOEXEC`
//! (opening a FIFO then returns at once instead of waiting for a writer, and a terminal never
//! becomes the controlling one), the opened descriptor is `fstat`ed before anything is read,
//! and only a regular file of at most [`MAX_BYTES`] is read. Anything else is a config
//! problem, which denies (§0a D1).

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use super::ConfigError;

/// Largest config file read, in bytes (64 KiB). The shipped samples are a few KiB.
pub(crate) const MAX_BYTES: u64 = 65_536;

/// What kind of file stands where a config file was expected, when it is not a regular one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A named pipe.
    Fifo,
    /// A directory.
    Directory,
    /// A character device, such as `/dev/zero` or a terminal.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// Anything else that is not a regular file.
    Other,
}

impl Kind {
    /// The kind of `meta`, or `None` for a regular file.
    pub fn of(meta: &Metadata) -> Option<Kind> {
        let t = meta.file_type();
        if t.is_file() {
            None
        } else if t.is_fifo() {
            Some(Kind::Fifo)
        } else if t.is_dir() {
            Some(Kind::Directory)
        } else if t.is_char_device() {
            Some(Kind::CharDevice)
        } else if t.is_block_device() {
            Some(Kind::BlockDevice)
        } else if t.is_socket() {
            Some(Kind::Socket)
        } else {
            Some(Kind::Other)
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Fifo => "a FIFO",
            Kind::Directory => "a directory",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Socket => "a socket",
            Kind::Other => "an unknown kind of file",
        })
    }
}

/// A config file opened without blocking and known (by `fstat` on its descriptor) to be a
/// regular file of at most [`MAX_BYTES`] bytes.
#[derive(Debug)]
pub struct ConfigFile {
    file: File,
    meta: Metadata,
}

impl ConfigFile {
    /// Open `path` read-only with `O_NONBLOCK | O_NOCTTY | O_CLOEXEC` (a symbolic link is
    /// followed, as an administrator may link the config) and check what the descriptor
    /// refers to. Errors: [`ConfigError::Open`] when the open fails, [`ConfigError::NotRegular`]
    /// for a FIFO, device, directory or socket, [`ConfigError::TooLarge`] when `fstat` reports
    /// more than [`MAX_BYTES`]. Nothing is read here.
    pub fn open(path: &Path) -> Result<ConfigFile, ConfigError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .map_err(ConfigError::Open)?;
        // `File::metadata` asks the kernel about the descriptor (fstat), not the path.
        let meta = file.metadata().map_err(|_| ConfigError::Internal)?;
        if let Some(kind) = Kind::of(&meta) {
            return Err(ConfigError::NotRegular(kind));
        }
        if meta.len() > MAX_BYTES {
            return Err(ConfigError::TooLarge {
                bytes: meta.len(),
                grew: false,
            });
        }
        Ok(ConfigFile { file, meta })
    }

    /// What `fstat` said about the opened file (owner, mode, size).
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Read the whole file into a buffer that is wiped when dropped. At most `MAX_BYTES + 1`
    /// bytes are read, so a file that grew past the cap after the `fstat` is caught
    /// ([`ConfigError::TooLarge`] with `grew`); a read error is [`ConfigError::Internal`].
    pub fn read(mut self) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
        let cap = MAX_BYTES as usize;
        // One allocation of the final size: a growing Vec would leave copies of the secrets
        // behind in freed memory.
        let mut buf = Zeroizing::new(vec![0u8; cap + 1]);
        let mut len = 0;
        while len < buf.len() {
            match self.file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(ConfigError::Internal),
            }
        }
        if len > cap {
            return Err(ConfigError::TooLarge {
                bytes: len as u64,
                grew: true,
            });
        }
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    /// A fresh directory for one test, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let d =
                std::env::temp_dir().join(format!("duo-config-file-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(p: &Path, len: u64) {
        let f = File::create(p).unwrap();
        f.set_len(len).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn open_err(p: &Path) -> ConfigError {
        match ConfigFile::open(p) {
            Err(e) => e,
            Ok(f) => panic!("{} opened: {:?}", p.display(), f.metadata().file_type()),
        }
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let d = Dir::new("fifo");
        let p = d.0.join("c.conf");
        let st = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        let t = Instant::now();
        let e = open_err(&p);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(matches!(e, ConfigError::NotRegular(Kind::Fifo)), "{e:?}");
        assert_eq!(
            e.message(&p, "root"),
            format!("{}: not a regular file (a FIFO)", p.display())
        );
    }

    #[test]
    fn a_directory_is_refused() {
        let d = Dir::new("dir");
        let e = open_err(&d.0);
        assert!(
            matches!(e, ConfigError::NotRegular(Kind::Directory)),
            "{e:?}"
        );
        assert!(e
            .message(&d.0, "root")
            .ends_with(": not a regular file (a directory)"));
    }

    #[test]
    fn a_link_to_a_device_is_refused() {
        let d = Dir::new("dev");
        for dev in ["/dev/null", "/dev/zero"] {
            let p = d.0.join(format!("{}.conf", &dev[5..]));
            std::os::unix::fs::symlink(dev, &p).unwrap();
            let e = open_err(&p);
            assert!(
                matches!(e, ConfigError::NotRegular(Kind::CharDevice)),
                "{e:?}"
            );
            assert_eq!(
                e.message(&p, "root"),
                format!("{}: not a regular file (a character device)", p.display())
            );
        }
    }

    #[test]
    fn the_size_cap_is_64_kib() {
        let d = Dir::new("size");
        let ok = d.0.join("ok.conf");
        write(&ok, MAX_BYTES);
        let text = ConfigFile::open(&ok).unwrap().read().unwrap();
        assert_eq!(text.len(), 65_536);
        let big = d.0.join("big.conf");
        write(&big, MAX_BYTES + 1);
        let e = open_err(&big);
        assert!(
            matches!(
                e,
                ConfigError::TooLarge {
                    bytes: 65_537,
                    grew: false
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.message(&big, "root"),
            format!(
                "{}: 65537 bytes, more than the 65536 allowed",
                big.display()
            )
        );
        let huge = d.0.join("huge.conf");
        write(&huge, 100 << 20);
        let t = Instant::now();
        let e = open_err(&huge);
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(e
            .message(&huge, "root")
            .ends_with(": 104857600 bytes, more than the 65536 allowed"));
    }

    #[test]
    fn a_file_that_grows_after_the_check_is_caught() {
        let d = Dir::new("grow");
        let p = d.0.join("c.conf");
        write(&p, 10);
        let f = ConfigFile::open(&p).unwrap();
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(MAX_BYTES + 100)
            .unwrap();
        let e = f.read().unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::TooLarge {
                    bytes: 65_537,
                    grew: true
                }
            ),
            "{e:?}"
        );
        assert!(e
            .message(&p, "root")
            .contains("more than the 65536 bytes allowed"));
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let d = Dir::new("read");
        let p = d.0.join("c.conf");
        std::fs::write(&p, b"[duo]\nhost = h\n").unwrap();
        let f = ConfigFile::open(&p).unwrap();
        assert_eq!(f.metadata().len(), 15);
        assert_eq!(&f.read().unwrap()[..], b"[duo]\nhost = h\n");
        // Through a symbolic link too: only what the link leads to counts.
        let l = d.0.join("link.conf");
        std::os::unix::fs::symlink(&p, &l).unwrap();
        assert_eq!(
            &ConfigFile::open(&l).unwrap().read().unwrap()[..],
            b"[duo]\nhost = h\n"
        );
        let missing = d.0.join("nope.conf");
        assert!(matches!(open_err(&missing), ConfigError::Open(_)));
    }
}
