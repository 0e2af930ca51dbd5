//! TLS client configuration: the 15 pinned roots of docs/BEHAVIOUR.md Appendix A, or only `cafile`, or
//! `noverify` (docs/BEHAVIOUR.md §2.1, §0a D2/D3). TLS 1.2 minimum, the aws-lc-rs provider
//! (`crate::crypto`), no system roots and no environment variables.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::Config;
use crate::log::{log, Priority};

/// The embedded roots, PEM, in Appendix A order.
pub const PINNED_ROOTS_PEM: &str = include_str!("roots.pem");

/// The warning logged when certificate checks are off.
pub(crate) const NOVERIFY_WARNING: &str = "TLS certificate verification is disabled (noverify is set, or cafile is empty); the connection to Duo is encrypted but not authenticated and cannot be trusted. Remove noverify and set a valid cafile to restore verification";

/// Parse every certificate of a PEM bundle; any bad block or an empty bundle is an error.
pub fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM certificate: {e:?}"))?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

/// Build the TLS client configuration for `cfg`.
pub fn client_config(cfg: &Config) -> Result<Arc<ClientConfig>, String> {
    if crate::crypto::FIPS_BUILD {
        log(Priority::Debug, &crate::crypto::module().describe());
        if cfg.noverify {
            log(Priority::Err, crate::crypto::NOVERIFY_IN_FIPS);
            return Err(crate::crypto::NOVERIFY_IN_FIPS.into());
        }
    }
    let provider = crate::crypto::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let config = if cfg.noverify {
        log(Priority::Warning, NOVERIFY_WARNING);
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let pem = match &cfg.cafile {
            Some(path) => std::fs::read(path.as_str())
                .map_err(|e| format!("cannot read cafile {}: {e}", path.as_str()))?,
            None => PINNED_ROOTS_PEM.as_bytes().to_vec(),
        };
        let mut roots = RootCertStore::empty();
        for cert in parse_pem(&pem)? {
            roots
                .add(cert)
                .map_err(|e| format!("unusable CA certificate: {e}"))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    crate::crypto::fips_check(&config).inspect_err(|e| log(Priority::Err, e))?;
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks the handshake signatures (`noverify`).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/BEHAVIOUR.md Appendix A, in order.
    const FINGERPRINTS: [&str; 15] = [
        "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E",
        "1BA5B2AA8C65401A82960118F80BEC4F62304D83CEC4713A19C39C011EA46DB4",
        "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4",
        "E35D28419ED02025CFA69038CD623962458DA5C695FBDEA3C22B0BFB25897092",
        "568D6905A2C88708A4B3025190EDCFEDB1974A606A13C6E5290FCB2AE63EDAB5",
        "7431E5F4C3C1CE4690774F0B61E05440883BA9A01ED00BA6ABD7806ED3B118CF",
        "018E13F0772532CF809BD1B17281867283FC48C6E13BE9C69812854A490C1B05",
        "371A00DC0533B3721A7EEB40E8419E70799D2B0A0F2C1D80693165F7CEC4AD75",
        "4FA3126D8D3A11D1C4855A4F807CBAD6CF919D3A5A88B03BEA2C6372D93C40C9",
        "CBB9C44D84B8043E1050EA31A69F514955D7BFD2E2C6B49301019AD61D9F5058",
        "8D25CD97229DBF70356BDA4EB3CC734031E24CF00FAFCFD32DC76EB5841C7EA8",
        "349DFA4058C5E263123B398AE795573C4E1313C83FE68F93556CD5E8031B3C7D",
        "5D56499BE4D2E08BCFCAD08A3E38723D50503BDE706948E42F55603019E528AE",
        "983D826BA9C87F653FF9E8384C5413E1D59ACF19DDC9C98CECAE5FDEA2AC229C",
        "2CE1CB0BF9D2F9E102993FBE215152C3B2DD0CABDE1C68E5319B839154DBB7F5",
    ];

    #[test]
    fn pinned_roots_match_appendix_a() {
        let certs = parse_pem(PINNED_ROOTS_PEM.as_bytes()).expect("roots parse");
        let got: Vec<String> = certs
            .iter()
            .map(|c| {
                crate::crypto::sha256(c.as_ref())
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect()
            })
            .collect();
        assert_eq!(got, FINGERPRINTS);
        let mut store = RootCertStore::empty();
        for c in certs {
            store.add(c).expect("usable as a trust anchor");
        }
        assert_eq!(store.len(), 15);
    }

    #[test]
    fn bad_bundles_are_refused() {
        assert!(parse_pem(b"").is_err());
        assert!(
            parse_pem(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").is_err()
        );
        let cfg = Config {
            cafile: Some(crate::config::Secret::new("/nonexistent/ca.pem".into())),
            ..Config::default()
        };
        assert!(client_config(&cfg).is_err());
        assert!(client_config(&Config::default()).is_ok());
    }
}
