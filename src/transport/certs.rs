//! Development certificates (`synod certs`): a throw-away CA and, for each
//! member or client name, a certificate whose subject is exactly `CN=<name>`
//! (so its identity is `CN=<name>`, see [`super::tls`]), valid for
//! `127.0.0.1` and `localhost`, usable for both server and client
//! authentication, with an ECDSA P-256 key.
//!
//! This is for tests, demos and development clusters; production members
//! get their certificates from the operator's own CA.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::TransportError;

fn gen_err(e: rcgen::Error) -> TransportError {
    TransportError::CertGen(e.to_string())
}

/// A development certificate authority.
pub struct DevCa {
    params: CertificateParams,
    key: KeyPair,
    cert_pem: String,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

/// Checks a name for `synod certs`: 1 to 64 ASCII letters, digits, `-`,
/// `_` or `.`, not starting with `.`, and not `ca` (whose files would
/// collide with the CA's).
pub fn validate_name(name: &str) -> Result<(), TransportError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name != "ca";
    if ok {
        Ok(())
    } else {
        Err(TransportError::CertGen(format!(
            "bad name {name:?}: use 1-64 of [A-Za-z0-9._-], not starting with '.', not 'ca'"
        )))
    }
}

impl DevCa {
    /// A new CA whose subject is `CN=<common_name>`.
    pub fn new(common_name: &str) -> Result<Self, TransportError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(gen_err)?;
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Ok(Self {
            params,
            key,
            cert_pem: cert.pem(),
        })
    }

    /// The CA certificate (the bundle members trust).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Issues a certificate with subject `CN=<name>` for `127.0.0.1` and
    /// `localhost`, for server and client authentication.
    pub fn issue(&self, name: &str) -> Result<IssuedCert, TransportError> {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(gen_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().map_err(gen_err)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(gen_err)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A CRL of this CA (PEM, number `crl_number`) revoking the given
    /// certificates (PEM, issued by this CA), valid from a minute ago for a
    /// year: what `[tls] crl` reads.
    pub fn crl_pem(&self, crl_number: u64, revoked: &[&str]) -> Result<String, TransportError> {
        let now = x509_parser::time::ASN1Time::now().to_datetime();
        let mut revoked_certs = Vec::with_capacity(revoked.len());
        for pem in revoked {
            let der = CertificateDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| TransportError::CertGen(format!("a revoked certificate: {e:?}")))?;
            let (_, cert) = X509Certificate::from_der(&der).map_err(|e| {
                TransportError::CertGen(format!("a revoked certificate does not parse: {e}"))
            })?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(cert.raw_serial()),
                revocation_time: now,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: now - std::time::Duration::from_secs(60),
            next_update: now + std::time::Duration::from_secs(365 * 24 * 3600),
            crl_number: SerialNumber::from_slice(minimal_be(crl_number).as_slice()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        params
            .signed_by(&issuer)
            .and_then(|crl| crl.pem())
            .map_err(gen_err)
    }
}

/// `n`'s big-endian bytes without leading zeros (one byte at least).
fn minimal_be(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    bytes[first..].to_vec()
}

fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), TransportError> {
    let err = |source| TransportError::File {
        what: "certificate output",
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(contents.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}

/// Writes `ca.pem`, `ca-key.pem` and, for every node and client name,
/// `<name>.pem` and `<name>-key.pem` into `out` (created if missing).
/// Returns the files written, in that order. Names are checked first
/// ([`validate_name`], no duplicates), so a bad list writes nothing.
pub fn write_dev_certs(
    out: &Path,
    nodes: &[String],
    clients: &[String],
) -> Result<Vec<PathBuf>, TransportError> {
    let mut seen = std::collections::BTreeSet::new();
    for name in nodes.iter().chain(clients) {
        validate_name(name)?;
        if !seen.insert(name.as_str()) {
            return Err(TransportError::CertGen(format!(
                "name {name:?} given twice"
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| TransportError::File {
        what: "output directory",
        path: out.to_path_buf(),
        source,
    })?;
    let ca = DevCa::new("synod-dev-ca")?;
    let mut written = Vec::new();
    let mut put = |name: String, contents: &str, private: bool| {
        let path = out.join(name);
        write_file(&path, contents, private)?;
        written.push(path);
        Ok::<(), TransportError>(())
    };
    put("ca.pem".into(), ca.cert_pem(), false)?;
    put("ca-key.pem".into(), &ca.key_pem(), true)?;
    for name in nodes.iter().chain(clients) {
        let issued = ca.issue(name)?;
        put(format!("{name}.pem"), &issued.cert_pem, false)?;
        put(format!("{name}-key.pem"), &issued.key_pem, true)?;
    }
    if let Ok(dir) = std::fs::File::open(out) {
        if let Err(e) = dir.sync_all() {
            tracing::warn!("could not sync {}: {e}", out.display());
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tls::TlsConfig;

    #[test]
    fn writes_a_ca_and_one_pair_per_name() {
        let dir = tempfile::tempdir().unwrap();
        let files =
            write_dev_certs(dir.path(), &["a".into(), "b".into()], &["ops".into()]).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "ca.pem",
                "ca-key.pem",
                "a.pem",
                "a-key.pem",
                "b.pem",
                "b-key.pem",
                "ops.pem",
                "ops-key.pem"
            ]
        );
        let cfg = TlsConfig::from_pem_files(
            &dir.path().join("ops.pem"),
            &dir.path().join("ops-key.pem"),
            &dir.path().join("ca.pem"),
        )
        .unwrap();
        assert_eq!(cfg.identity().as_str(), "CN=ops");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("a-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private keys are private");
        }
    }

    #[test]
    fn bad_or_duplicate_names_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "ca", "a/b", ".hidden", "x y"] {
            assert!(
                write_dev_certs(dir.path(), &[bad.into()], &[]).is_err(),
                "{bad:?}"
            );
        }
        assert!(write_dev_certs(dir.path(), &["a".into()], &["a".into()]).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
