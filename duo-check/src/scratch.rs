//! Scratch file trees for the unit tests.

use std::path::PathBuf;

/// A new directory under the temporary directory holding `files` (path relative to it, body),
/// named after `tag`.
pub fn tree(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("duo-check-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (p, body) in files {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().expect("a file in a directory")).expect("mkdir");
        std::fs::write(f, body).expect("write");
    }
    root
}
