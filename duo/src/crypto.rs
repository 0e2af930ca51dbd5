//! Every cryptographic primitive of the program, from one library: AWS-LC through aws-lc-rs
//! (issue 22, docs/BEHAVIOUR.md §0a D16). TLS uses rustls's aws-lc-rs provider; the request
//! signature is aws-lc-rs's HMAC-SHA512; file-name hashes are its SHA-256; the retry jitter
//! comes from its random generator. Built with the `fips` feature, all of it is AWS-LC's FIPS
//! module in FIPS mode.

use std::sync::Arc;

use aws_lc_rs::{digest, hmac, rand::SecureRandom as _};
use rustls::crypto::CryptoProvider;
use zeroize::Zeroizing;

/// True in a build made with the `fips` feature (AWS-LC's FIPS module).
pub const FIPS_BUILD: bool = cfg!(feature = "fips");

/// The TLS provider. In a FIPS build rustls's FIPS provider (AWS-LC's FIPS module, only
/// FIPS-approved suites and groups). In the default build aws-lc-rs with the algorithms the
/// program offered on ring before (see [`default_build::provider`]).
pub fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "fips")]
    let p = rustls::crypto::default_fips_provider();
    #[cfg(not(feature = "fips"))]
    let p = default_build::provider();
    Arc::new(p)
}

/// The default build's provider: aws-lc-rs's TLS suites with the key exchange groups and
/// signature algorithms of rustls's *ring* provider, which this program used before (X25519,
/// P-256, P-384; ECDSA P-256/P-384, Ed25519, RSA PKCS#1 and PSS). aws-lc-rs's default adds
/// ML-KEM hybrids, P-521 and ML-DSA: none is used by Duo's service, and leaving them out keeps
/// their code out of the binaries (smaller files, less memory per login: issue 22).
#[cfg(not(feature = "fips"))]
mod default_build {
    use rustls::crypto::aws_lc_rs::{kx_group, DEFAULT_CIPHER_SUITES};
    use rustls::crypto::{
        CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
    };
    use rustls::pki_types::PrivateKeyDer;
    use rustls::sign::SigningKey;
    use rustls::SignatureScheme;
    use std::sync::Arc;
    use webpki::aws_lc_rs as alg;

    /// Random bytes from AWS-LC; no private keys (the client never authenticates itself).
    #[derive(Debug)]
    struct AwsLc;

    impl SecureRandom for AwsLc {
        fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
            if super::fill_random(buf) {
                Ok(())
            } else {
                Err(GetRandomFailed)
            }
        }
    }

    impl KeyProvider for AwsLc {
        fn load_private_key(
            &self,
            _key: PrivateKeyDer<'static>,
        ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
            Err(rustls::Error::General(
                "this client loads no private keys".into(),
            ))
        }
    }

    static SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::ED25519,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            ),
            (SignatureScheme::ED25519, &[alg::ED25519]),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[alg::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[alg::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[alg::RSA_PKCS1_2048_8192_SHA256],
            ),
        ],
    };

    /// See the module documentation.
    pub(super) fn provider() -> CryptoProvider {
        CryptoProvider {
            cipher_suites: DEFAULT_CIPHER_SUITES.to_vec(),
            kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
            signature_verification_algorithms: SIGNATURES,
            secure_random: &AwsLc,
            key_provider: &AwsLc,
        }
    }
}

/// What a FIPS build refuses `noverify` with (docs/BEHAVIOUR.md §0a D16).
pub const NOVERIFY_IN_FIPS: &str = "noverify is not allowed in a FIPS build: a connection whose server is not authenticated is not FIPS-compliant. Remove noverify (and set cafile only to a CA you trust)";

/// Which cryptographic module is in use and in which mode, for `login_duo -V`, debug output
/// and `duo-check`.
#[derive(Clone, Debug)]
pub struct Module {
    /// The library and its version ("AWS-LC 1.x" or "AWS-LC FIPS 3.x").
    pub version: String,
    /// Whether this is the FIPS build.
    pub fips_build: bool,
    /// Whether AWS-LC reports FIPS mode (`FIPS_mode()`), with its reason when not.
    pub fips_mode: Result<(), String>,
}

impl Module {
    /// One line for people: "AWS-LC 1.x (default build, not FIPS mode)" or
    /// "AWS-LC FIPS 3.x (FIPS build, FIPS mode)".
    pub fn describe(&self) -> String {
        let build = if self.fips_build {
            "FIPS build"
        } else {
            "default build"
        };
        let mode = match &self.fips_mode {
            Ok(()) => "FIPS mode".to_string(),
            Err(e) if self.fips_build => format!("NOT in FIPS mode: {e}"),
            Err(_) => "not FIPS mode".to_string(),
        };
        format!("{} ({build}, {mode})", self.version)
    }
}

/// The module in use. In a FIPS build this also makes AWS-LC run its power-on self-test if it
/// has not yet (AWS-LC aborts the process if a self-test fails).
pub fn module() -> Module {
    aws_lc_rs::init();
    Module {
        version: format!(
            "AWS-LC{} {}",
            if FIPS_BUILD { " FIPS" } else { "" },
            aws_lc_rs::awslc_version()
        ),
        fips_build: FIPS_BUILD,
        fips_mode: aws_lc_rs::try_fips_mode().map_err(str::to_string),
    }
}

/// Run AWS-LC's known-answer self-tests again, now (`duo-check`). In a FIPS build a wrong
/// answer aborts the process inside AWS-LC; an error is any other failure.
pub fn self_test() -> Result<(), String> {
    aws_lc_rs::try_fips_self_test().map_err(|_| "AWS-LC's self-test failed".to_string())
}

/// The checks a FIPS build makes before it sends anything (docs/BEHAVIOUR.md §0a D16): AWS-LC
/// in FIPS mode, and a TLS configuration rustls reports as FIPS. Nothing in the default build.
pub fn fips_check(config: &rustls::ClientConfig) -> Result<(), String> {
    if !FIPS_BUILD {
        return Ok(());
    }
    aws_lc_rs::try_fips_mode().map_err(|e| {
        format!("FIPS build, but AWS-LC is not in FIPS mode ({e}): refusing to connect")
    })?;
    if !config.fips() {
        return Err(
            "FIPS build, but the TLS configuration is not FIPS-compliant: refusing to connect"
                .into(),
        );
    }
    // A connection made from this configuration, before any byte is sent: rustls decides its
    // FIPS status per connection (`ClientConnection::fips`).
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config.clone()), name)
        .map_err(|e| format!("FIPS build, TLS set-up failed: {e}"))?;
    if !conn.fips() {
        return Err(
            "FIPS build, but a TLS connection is not in FIPS mode: refusing to connect".into(),
        );
    }
    Ok(())
}

/// HMAC-SHA512 of `message` keyed with `key` (docs/ARCHITECTURE.md: how the key and the state
/// are wiped).
pub fn hmac_sha512(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 64]> {
    let key = hmac::Key::new(hmac::HMAC_SHA512, key);
    let tag = hmac::sign(&key, message);
    let mut out = Zeroizing::new([0u8; 64]);
    out.copy_from_slice(tag.as_ref());
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Fill `buf` with random bytes from AWS-LC's generator; false if it failed.
pub fn fill_random(buf: &mut [u8]) -> bool {
    aws_lc_rs::rand::SystemRandom::new().fill(buf).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_sha512_rfc_4231_vectors() {
        // Test case 1.
        assert_eq!(
            hex(&*hmac_sha512(&[0x0b; 20], b"Hi There")),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        );
        // Test case 2: a key shorter than the output.
        assert_eq!(
            hex(&*hmac_sha512(b"Jefe", b"what do ya want for nothing?")),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        // Test case 3: 50 bytes of 0xdd under a 20-byte key of 0xaa.
        assert_eq!(
            hex(&*hmac_sha512(&[0xaa; 20], &[0xdd; 50])),
            "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"
        );
        // Test case 6: a key longer than a block.
        assert_eq!(
            hex(&*hmac_sha512(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
        );
        // Test case 7: a long key and a long message.
        assert_eq!(
            hex(&*hmac_sha512(&[0xaa; 131], b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")),
            "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"
        );
    }

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_bytes_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        assert!(fill_random(&mut a) && fill_random(&mut b));
        assert_ne!(a, b);
    }
}
