//! Link AWS-LC's hot code and data together (build-support/crypto_hot_link.rs).

include!("../build-support/crypto_hot_link.rs");

fn main() {
    link_crypto_hot();
}
