// Shared by the build scripts of the crates that link libpam (pam_duo, and duo-tests for its
// pamclient binary), through `include!`.
//
// Linking with `-lpam` normally needs the `libpam.so` symlink of the development package
// (libpam0g-dev on Debian). Every Linux system with PAM has the runtime library `libpam.so.0`,
// so the build makes its own `libpam.so` symlink to it in OUT_DIR and puts that directory first
// on the library search path. The linker records the library's SONAME (`libpam.so.0`) either
// way, so the result is the same binary, built without the -dev package.

/// Find `libpam.so.0` and let `-lpam` resolve to it.
fn link_runtime_libpam() {
    use std::path::{Path, PathBuf};
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86" => "i386-linux-gnu".to_string(),
        "arm" => "arm-linux-gnueabihf".to_string(),
        a => format!("{a}-linux-gnu"),
    };
    let dirs = [
        format!("/usr/lib/{multiarch}"),
        format!("/lib/{multiarch}"),
        "/usr/lib64".to_string(),
        "/lib64".to_string(),
        "/usr/lib".to_string(),
        "/lib".to_string(),
    ];
    let Some(lib) = dirs
        .iter()
        .map(|d| Path::new(d).join("libpam.so.0"))
        .find(|p| p.exists())
    else {
        println!(
            "cargo:warning=libpam.so.0 not found in {dirs:?}; linking needs libpam (Debian: libpam0g)"
        );
        return;
    };
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let dir = out.join("libpam-link");
    let link = dir.join("libpam.so");
    let _ = std::fs::remove_file(&link);
    if std::fs::create_dir_all(&dir).is_err() || std::os::unix::fs::symlink(&lib, &link).is_err() {
        println!(
            "cargo:warning=cannot create {}; falling back to the system -lpam",
            link.display()
        );
        return;
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
}
