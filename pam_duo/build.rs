//! Link the module so that it is never really unloaded: a resolver thread that outlives a call
//! (see duo::http) must never run code that has been unmapped.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
