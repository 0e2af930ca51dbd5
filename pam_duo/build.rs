//! Link the module so that it is never really unloaded: a resolver thread that outlives a call
//! (see duo::api::http) must never run code that has been unmapped. Link libpam through its runtime
//! library, so that no -dev package is needed. Link AWS-LC's hot code and data together
//! (build-support/crypto_hot_link.rs).

include!("../build-support/libpam_link.rs");
include!("../build-support/crypto_hot_link.rs");

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    link_runtime_libpam();
    link_crypto_hot();
}
