// Included by the build scripts of the three programs (issue 22, docs/ARCHITECTURE.md
// "Cryptography"): link with build-support/crypto-hot.ld, which gathers the AWS-LC code and
// read-only data a login uses into sections of their own before `.text` and `.rodata`, so that
// the rest of AWS-LC (about 500 KiB that no login runs) is never made resident. The script only
// names input sections and ends in `INSERT BEFORE`, so the linker's default layout stays in
// force; rust-lld, zig's lld and GNU ld all read it.
//
// Only for x86_64 Linux, where the list was measured, and not for the FIPS build, whose module
// is one object laid out by AWS-LC's own build (its integrity check covers that layout).

/// Pass the linker script to every link of this package.
fn link_crypto_hot() {
    println!("cargo:rerun-if-changed=../build-support/crypto-hot.ld");
    println!("cargo:rerun-if-changed=../build-support/crypto_hot_link.rs");
    println!("cargo:rerun-if-env-changed=DUO_NO_CRYPTO_HOT");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let fips = std::env::var_os("CARGO_FEATURE_FIPS").is_some();
    // DUO_NO_CRYPTO_HOT=1 builds without the script, to measure what it saves (compare the
    // two builds with `bench --compare`).
    let off = std::env::var_os("DUO_NO_CRYPTO_HOT").is_some_and(|v| v == "1");
    if os != "linux" || arch != "x86_64" || fips || off {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let script = std::path::Path::new(&dir).join("../build-support/crypto-hot.ld");
    println!("cargo:rustc-link-arg=-Wl,-T,{}", script.display());
}
