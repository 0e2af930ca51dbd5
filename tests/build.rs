//! The `pamclient` binary links libpam: link it through the runtime library, so that building
//! the tests needs no -dev package.

include!("../build-support/libpam_link.rs");

fn main() {
    link_runtime_libpam();
}
