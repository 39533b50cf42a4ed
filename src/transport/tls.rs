//! Mutual TLS for the TCP transport: rustls 0.23 (ring provider, TLS 1.3
//! only) server and client configurations built from a member's PEM files,
//! and the rule that turns a peer's certificate into its [`NodeId`].
//!
//! **Identity rule.** A peer's identity is the subject of its end-entity
//! certificate rendered as an RFC 4514 string (RDNs from last to first,
//! joined by `,`; multi-valued RDNs joined by `+`; the usual short names
//! `CN`, `C`, `L`, `ST`, `O`, `OU`, `STREET`, `DC`, `UID`, otherwise the
//! dotted OID; values escaped as RFC 4514 section 2.4 says), then passed to
//! [`NodeId::from_certificate_subject`]. A certificate whose subject is only
//! `CN=node-a` (what `synod certs` issues) is therefore identity `CN=node-a`,
//! which is what the catalog stores. Attribute values must be one of the
//! ASN.1 string types UTF8String, PrintableString, IA5String or
//! NumericString; any other subject is refused.
//!
//! Both sides must present a certificate chaining to the configured CA
//! bundle (client certificates are required); a certificate of another CA
//! fails the handshake. The client also checks the server's name against
//! the host part of the address it dialled (so member certificates carry
//! their listen host, `127.0.0.1`/`localhost` for `synod certs`), and the
//! transport checks the server's identity against the member it meant to
//! reach.
//!
//! **Revocation.** A certificate that chains to the CA bundle can still be
//! refused: by its identity (a deny list) or by a CRL of its CA
//! ([`Revocation`], set with [`TlsConfig::set_revocation`]). Both the server
//! side (a dialer's client certificate) and the client side (the certificate
//! of the member dialled) check them during the handshake, so a refused
//! identity never gets a connection either way. The lists live in state that
//! every clone of a [`TlsConfig`] shares, and `set_revocation` swaps them
//! while connections run: new handshakes see the new lists at once, and an
//! open connection checks its peer's certificate again, with the new lists,
//! at its next read or write, failing it if it is now refused. CRLs are
//! checked for end-entity certificates only; a certificate whose CA has no
//! CRL among them is not refused for that, and a CRL's next-update time is
//! not enforced (an operator replaces the file). Session resumption is off
//! on both sides: a resumed session would skip the verifiers.
//!
//! [`Security::Insecure`] is plain TCP in which the dialer merely *claims*
//! an identity in its Hello frame: for tests and development only.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, DistinguishedName,
    OtherError, RootCertStore, ServerConfig, ServerConnection, SignatureScheme,
};
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate, X509Name};

use super::TransportError;
use crate::entry::NodeId;

/// The ALPN protocol both sides offer.
pub const ALPN: &[u8] = b"synod/1";

/// How a transport secures its connections.
#[derive(Clone)]
pub enum Security {
    /// Mutual TLS: the identity comes from certificates.
    Tls(TlsConfig),
    /// Plain TCP, identities claimed in the Hello frame. **Tests and
    /// development only**: anyone who can reach the port can claim to be any
    /// member.
    Insecure {
        /// The identity this side claims.
        identity: NodeId,
    },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Tls(t) => f.debug_tuple("Tls").field(&t.identity).finish(),
            Security::Insecure { identity } => f
                .debug_struct("Insecure")
                .field("identity", identity)
                .finish(),
        }
    }
}

impl Security {
    /// This side's identity.
    pub fn identity(&self) -> &NodeId {
        match self {
            Security::Tls(t) => &t.identity,
            Security::Insecure { identity } => identity,
        }
    }
}

/// A member's TLS material, ready for connections: its identity (from its
/// own certificate, by the rule above) and rustls server and client
/// configurations that both require the peer's certificate to chain to the
/// CA bundle and not to be refused by the revocation lists. Clones share
/// those lists: [`TlsConfig::set_revocation`] on one changes them for all.
#[derive(Clone)]
pub struct TlsConfig {
    identity: NodeId,
    /// This member's own chain (its certificate first).
    chain: Vec<CertificateDer<'static>>,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    revocation: Arc<RevocationState>,
}

/// Certificates refused although they chain to the CA bundle: the
/// identities of a deny list, and those a CRL revokes (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Revocation {
    /// Identities refused whatever certificate carries them.
    pub deny: BTreeSet<NodeId>,
    /// X.509 CRLs (DER), each issued by a CA of the bundle.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl Revocation {
    /// Reads a PEM file of one or more `X509 CRL` blocks.
    pub fn crls_from_pem_file(
        path: &Path,
    ) -> Result<Vec<CertificateRevocationListDer<'static>>, TransportError> {
        Self::crls_from_pem(&read_file("CRL file", path)?)
    }

    /// Like [`Revocation::crls_from_pem_file`], from PEM bytes. A file
    /// without a CRL is refused: it is more likely a mistake than a wish.
    pub fn crls_from_pem(
        pem: &[u8],
    ) -> Result<Vec<CertificateRevocationListDer<'static>>, TransportError> {
        let crls = CertificateRevocationListDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error("CRL file"))?;
        if crls.is_empty() {
            return Err(TransportError::Pem {
                what: "CRL file",
                detail: "no X509 CRL block".into(),
            });
        }
        Ok(crls)
    }
}

/// Why a certificate chaining to the CA was refused by identity.
#[derive(thiserror::Error)]
#[error("{0} is on the deny list ([tls] deny)")]
struct Denied(NodeId);

/// rustls shows the reason of a refusal with `Debug`: this one says it.
impl std::fmt::Debug for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The verifiers in force: rebuilt and swapped whole by
/// [`TlsConfig::set_revocation`].
struct Verifiers {
    deny: BTreeSet<NodeId>,
    client: Arc<dyn ClientCertVerifier>,
    server: Arc<WebPkiServerVerifier>,
}

impl Verifiers {
    /// Refuses an end-entity certificate whose identity is denied. A
    /// certificate without a usable identity is left to the transport,
    /// which refuses it after the handshake as before.
    fn check_denied(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if self.deny.is_empty() {
            return Ok(());
        }
        match identity_from_certificate(end_entity) {
            Ok(id) if self.deny.contains(&id) => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(Denied(id)))),
            )),
            _ => Ok(()),
        }
    }
}

/// The CA bundle and the crypto provider: what the verifiers are built
/// from.
struct Anchors {
    roots: Arc<RootCertStore>,
    /// The DER subjects of the bundle's CAs (a CRL's issuer must be one).
    ca_subjects: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
}

impl Anchors {
    /// Builds the verifiers for `revocation`, checking that every CRL
    /// parses and was issued by a CA of the bundle.
    fn verifiers(&self, revocation: &Revocation) -> Result<Verifiers, TransportError> {
        let config_err = |e: rustls::server::VerifierBuilderError| {
            TransportError::TlsConfig(rustls::Error::General(e.to_string()))
        };
        for (i, der) in revocation.crls.iter().enumerate() {
            let (_, crl) = CertificateRevocationList::from_der(der).map_err(|e| {
                TransportError::Certificate(format!("CRL {} does not parse: {e}", i + 1))
            })?;
            if !self
                .ca_subjects
                .iter()
                .any(|s| s.as_slice() == crl.issuer().as_raw())
            {
                let issuer = subject_rfc4514(crl.issuer()).unwrap_or_else(|_| "?".into());
                return Err(TransportError::Certificate(format!(
                    "CRL {} is issued by {issuer}, which is not a CA of the bundle",
                    i + 1
                )));
            }
        }
        let client =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .with_crls(revocation.crls.iter().cloned())
                .only_check_end_entity_revocation()
                .allow_unknown_revocation_status()
                .build()
                .map_err(config_err)?;
        let server =
            WebPkiServerVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .with_crls(revocation.crls.iter().cloned())
                .only_check_end_entity_revocation()
                .allow_unknown_revocation_status()
                .build()
                .map_err(config_err)?;
        Ok(Verifiers {
            deny: revocation.deny.clone(),
            client,
            server,
        })
    }
}

/// What every clone of a [`TlsConfig`] shares: the anchors, and the
/// current verifiers with a generation that counts their replacements (an
/// open connection compares it with the one it was checked at).
struct RevocationState {
    anchors: Anchors,
    hints: Vec<DistinguishedName>,
    current: RwLock<Arc<Verifiers>>,
    generation: AtomicU64,
}

impl RevocationState {
    fn current(&self) -> Arc<Verifiers> {
        match self.current.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn install(&self, verifiers: Verifiers) {
        let verifiers = Arc::new(verifiers);
        match self.current.write() {
            Ok(mut v) => *v = verifiers,
            Err(poisoned) => *poisoned.into_inner() = verifiers,
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Checks a dialer's chain (server side) with the current lists.
    fn verify_client(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let v = self.current();
        v.client
            .verify_client_cert(end_entity, intermediates, now)?;
        v.check_denied(end_entity)
    }

    /// Checks a listener's chain (client side) with the current lists.
    fn verify_server(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let v = self.current();
        v.server
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)?;
        v.check_denied(end_entity)
    }
}

/// The server side's client-certificate verifier: the current WebPKI
/// verifier (with the current CRLs), then the deny list.
struct ClientVerifier(Arc<RevocationState>);

impl std::fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientVerifier").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.0.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.verify_client(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .client
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .client
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current().client.supported_verify_schemes()
    }
}

/// The client side's server-certificate verifier: the current WebPKI
/// verifier (name, chain, CRLs), then the deny list.
struct ServerVerifier(Arc<RevocationState>);

impl std::fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerVerifier").finish_non_exhaustive()
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server(end_entity, intermediates, server_name, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .server
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .server
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current().server.supported_verify_schemes()
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|source| TransportError::File {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(what: &'static str) -> impl Fn(rustls::pki_types::pem::Error) -> TransportError {
    move |e| TransportError::Pem {
        what,
        detail: format!("{e:?}"),
    }
}

fn certs_from_pem(
    what: &'static str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(what))?;
    if certs.is_empty() {
        return Err(TransportError::Pem {
            what,
            detail: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

impl TlsConfig {
    /// Reads a member's certificate chain (its own certificate first), its
    /// private key and the CA bundle, all PEM files.
    pub fn from_pem_files(
        cert_chain: &Path,
        key: &Path,
        ca_bundle: &Path,
    ) -> Result<Self, TransportError> {
        Self::from_pem(
            &read_file("certificate chain", cert_chain)?,
            &read_file("private key", key)?,
            &read_file("CA bundle", ca_bundle)?,
        )
    }

    /// Like [`TlsConfig::from_pem_files`], from PEM bytes.
    pub fn from_pem(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        ca_bundle_pem: &[u8],
    ) -> Result<Self, TransportError> {
        let chain = certs_from_pem("certificate chain", cert_chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(pem_error("private key"))?;
        let mut roots = RootCertStore::empty();
        let mut ca_subjects = Vec::new();
        for ca in certs_from_pem("CA bundle", ca_bundle_pem)? {
            if let Ok((_, cert)) = X509Certificate::from_der(&ca) {
                ca_subjects.push(cert.subject().as_raw().to_vec());
            }
            roots.add(ca).map_err(TransportError::TlsConfig)?;
        }
        let roots = Arc::new(roots);
        let identity = identity_from_certificate(&chain[0])?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = &[&rustls::version::TLS13];

        let anchors = Anchors {
            roots: roots.clone(),
            ca_subjects,
            provider: provider.clone(),
        };
        let verifiers = anchors.verifiers(&Revocation::default())?;
        let state = Arc::new(RevocationState {
            anchors,
            hints: roots.subjects(),
            current: RwLock::new(Arc::new(verifiers)),
            generation: AtomicU64::new(0),
        });

        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(TransportError::TlsConfig)?
            .with_client_cert_verifier(Arc::new(ClientVerifier(state.clone())))
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(TransportError::TlsConfig)?;
        server.alpn_protocols = vec![ALPN.to_vec()];
        // No session resumption: a resumed session skips the certificate
        // verifier, so it would let a newly denied or revoked identity back
        // in with the ticket of an earlier connection.
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        server.send_tls13_tickets = 0;

        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(TransportError::TlsConfig)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerVerifier(state.clone())))
            .with_client_auth_cert(chain.clone(), key)
            .map_err(TransportError::TlsConfig)?;
        client.alpn_protocols = vec![ALPN.to_vec()];
        client.resumption = rustls::client::Resumption::disabled();

        Ok(Self {
            identity,
            chain,
            server: Arc::new(server),
            client: Arc::new(client),
            revocation: state,
        })
    }

    /// The identity this member's own certificate gives it.
    pub fn identity(&self) -> &NodeId {
        &self.identity
    }

    /// Replaces the identities and CRLs refused, for this configuration and
    /// every clone of it (a running transport's included): new handshakes
    /// use them at once, open connections at their next read or write.
    ///
    /// Refused, keeping the lists in force, when a CRL does not parse or
    /// was not issued by a CA of the bundle, or when this member's own
    /// certificate would be refused by the new lists (its own identity
    /// denied, or revoked by a CRL, or a CRL whose signature does not
    /// verify with its CA's key).
    pub fn set_revocation(&self, revocation: &Revocation) -> Result<(), TransportError> {
        let verifiers = self.revocation.anchors.verifiers(revocation)?;
        if let Some((own, intermediates)) = self.chain.split_first() {
            let own_check = if revocation.crls.is_empty() {
                Ok(())
            } else {
                verifiers
                    .client
                    .verify_client_cert(own, intermediates, UnixTime::now())
                    .map(|_| ())
            }
            .and_then(|()| verifiers.check_denied(own));
            if let Err(e) = own_check {
                return Err(TransportError::Certificate(format!(
                    "the new revocation lists would refuse this member's own certificate \
                     ({}): {e}",
                    self.identity
                )));
            }
        }
        self.revocation.install(verifiers);
        Ok(())
    }

    /// The rustls server configuration (client certificates required).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    /// The rustls client configuration (presents this member's certificate).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.client.clone()
    }
}

/// The identity a DER certificate gives its holder (see the module docs).
pub fn identity_from_certificate(der: &[u8]) -> Result<NodeId, TransportError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| TransportError::Certificate(format!("does not parse: {e}")))?;
    let subject = subject_rfc4514(cert.subject())?;
    // Exactly the subject: a subject that trimming would change (one that
    // ends in Unicode white space, say) is refused, never read as another
    // identity.
    Ok(NodeId::from_exact_bytes(subject.as_bytes())?)
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn escape_value(v: &str, out: &mut String) {
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Renders a certificate name as an RFC 4514 string (see the module docs).
pub fn subject_rfc4514(name: &X509Name<'_>) -> Result<String, TransportError> {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut out = String::new();
        for (i, atv) in rdn.iter().enumerate() {
            if i > 0 {
                out.push('+');
            }
            let oid = atv.attr_type().to_id_string();
            out.push_str(short_name(&oid).unwrap_or(&oid));
            out.push('=');
            let value = atv.as_str().map_err(|_| {
                TransportError::Certificate(format!(
                    "subject attribute {oid} is not a UTF8, printable, IA5 or numeric string"
                ))
            })?;
            escape_value(value, &mut out);
        }
        rdns.push(out);
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// The TLS server name for a `host:port` address: the host part, an IP
/// address or a DNS name (`[v6]:port` is accepted).
pub fn server_name_for(address: &str) -> Result<ServerName<'static>, TransportError> {
    let bad = |detail: &str| TransportError::Address {
        addr: address.to_string(),
        detail: detail.to_string(),
    };
    let (host, _port) = address
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_string()).map_err(|e| bad(&e.to_string()))
}

/// A TCP socket that never raises SIGPIPE in the host process.
///
/// A write to a connection whose peer died fails with `EPIPE`; unless the
/// write says `MSG_NOSIGNAL`, the kernel also sends SIGPIPE, which kills a
/// C/C++ host that keeps the default disposition (the `synod` binary is
/// immune only because Rust's `main` ignores the signal). The standard
/// library's `TcpStream::write` passes `MSG_NOSIGNAL`, but its
/// `write_vectored` (`writev`) cannot, and rustls writes TLS records with
/// `write_vectored`. This wrapper keeps every write on `send` with
/// `MSG_NOSIGNAL`: it does not forward `write_vectored`, so the trait's
/// default writes the first non-empty buffer with `write`.
#[derive(Debug)]
pub(crate) struct Socket(pub(crate) TcpStream);

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A connection's byte stream: plain TCP or TLS on either side (with the
/// [`Watch`] that checks the peer's certificate again after the revocation
/// lists change).
pub(crate) enum Stream {
    Plain(Socket),
    Server(Box<rustls::StreamOwned<ServerConnection, Socket>>, Watch),
    Client(Box<rustls::StreamOwned<ClientConnection, Socket>>, Watch),
}

/// An open TLS connection's view of the revocation lists: the generation
/// its peer's certificate was last checked at, and what refused it if the
/// lists in force now do.
#[derive(Clone)]
pub(crate) struct Watch {
    state: Arc<RevocationState>,
    checked_at: u64,
    /// The name the client side dialled (`None` on the server side).
    server_name: Option<ServerName<'static>>,
    refused: Option<rustls::Error>,
}

impl Watch {
    /// A watch for a connection whose handshake starts now, with the lists
    /// of `config` (read before the handshake: a change during it is
    /// caught at the first read or write).
    fn new(config: &TlsConfig, server_name: Option<ServerName<'static>>) -> Self {
        Self {
            state: config.revocation.clone(),
            checked_at: config.revocation.generation(),
            server_name,
            refused: None,
        }
    }

    /// A watch for the client side of a connection to `server_name` whose
    /// handshake starts now (run on an async runtime).
    pub(crate) fn client(config: &TlsConfig, server_name: ServerName<'static>) -> Self {
        Self::new(config, Some(server_name))
    }

    /// A watch for the server side of a connection whose handshake starts
    /// now (the listener's handshakes run on the async runtime).
    pub(crate) fn server(config: &TlsConfig) -> Self {
        Self::new(config, None)
    }

    /// Fails with the refusal if the lists changed since the last check and
    /// now refuse `peer_certs` (the peer's chain, its certificate first).
    pub(crate) fn check(
        &mut self,
        peer_certs: Option<&[CertificateDer<'static>]>,
    ) -> io::Result<()> {
        if self.refused.is_none() {
            let now = self.state.generation();
            if now == self.checked_at {
                return Ok(());
            }
            self.checked_at = now;
            let Some((end_entity, intermediates)) = peer_certs.and_then(|c| c.split_first()) else {
                return Ok(());
            };
            let verdict = match &self.server_name {
                None => self
                    .state
                    .verify_client(end_entity, intermediates, UnixTime::now()),
                Some(name) => {
                    self.state
                        .verify_server(end_entity, intermediates, name, UnixTime::now())
                }
            };
            match verdict {
                Ok(()) => return Ok(()),
                Err(e) => self.refused = Some(e),
            }
        }
        match &self.refused {
            Some(e) => Err(io::Error::new(io::ErrorKind::PermissionDenied, e.clone())),
            None => Ok(()),
        }
    }
}

impl Stream {
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => &s.0,
            Stream::Server(s, _) => &s.sock.0,
            Stream::Client(s, _) => &s.sock.0,
        }
    }

    /// A plain TCP stream (no TLS).
    pub fn plain(sock: TcpStream) -> Stream {
        Stream::Plain(Socket(sock))
    }

    /// The server side of a TLS connection whose handshake ran elsewhere
    /// (on the async runtime), continued on a blocking socket.
    pub(crate) fn server_from_parts(
        conn: ServerConnection,
        sock: TcpStream,
        watch: Watch,
    ) -> Stream {
        Stream::Server(
            Box::new(rustls::StreamOwned::new(conn, Socket(sock))),
            watch,
        )
    }

    /// The identity in the peer's certificate (`None` on plain TCP).
    pub fn peer_identity(&self) -> Result<Option<NodeId>, TransportError> {
        let certs = match self {
            Stream::Plain(_) => return Ok(None),
            Stream::Server(s, _) => s.conn.peer_certificates(),
            Stream::Client(s, _) => s.conn.peer_certificates(),
        };
        match certs.and_then(|c| c.first()) {
            Some(der) => identity_from_certificate(der).map(Some),
            None => Err(TransportError::Certificate(
                "the peer presented no certificate".into(),
            )),
        }
    }

    /// Checks the peer's certificate again if the revocation lists changed
    /// since it was last checked.
    fn recheck(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Server(s, w) => w.check(s.conn.peer_certificates()),
            Stream::Client(s, w) => w.check(s.conn.peer_certificates()),
        }
    }

    /// Sends a TLS close_notify (best effort) and shuts the socket down.
    pub fn close(&mut self) {
        match self {
            Stream::Plain(_) => {}
            Stream::Server(s, _) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
            }
            Stream::Client(s, _) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
            }
        }
        let _ = self.socket().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recheck()?;
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Server(s, _) => s.read(buf),
            Stream::Client(s, _) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.recheck()?;
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Server(s, _) => s.write(buf),
            Stream::Client(s, _) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Server(s, _) => s.flush(),
            Stream::Client(s, _) => s.flush(),
        }
    }
}

/// Whether an I/O error is a socket timeout (the read or write timeout
/// fired), as opposed to a failure.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Turns an I/O error on a connection into a [`TransportError`], unwrapping
/// the rustls error inside it when there is one.
pub(crate) fn io_error(peer: &str, context: &str, e: io::Error) -> TransportError {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return TransportError::Tls {
            peer: peer.to_string(),
            source: inner.clone(),
        };
    }
    TransportError::Io {
        context: format!("{context} {peer}"),
        source: e,
    }
}

fn handshake<C, S>(
    conn: &mut C,
    sock: &mut Socket,
    peer: &str,
    deadline: Instant,
    stop: Option<&AtomicBool>,
) -> Result<(), TransportError>
where
    C: std::ops::DerefMut<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    while conn.is_handshaking() {
        if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return Err(TransportError::Shutdown);
        }
        if Instant::now() >= deadline {
            return Err(TransportError::Timeout(format!(
                "TLS handshake with {peer}"
            )));
        }
        match conn.complete_io(sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(io_error(peer, "TLS handshake with", e)),
        }
    }
    // Flush what the handshake still has to say.
    while conn.wants_write() {
        conn.write_tls(sock)
            .map_err(|e| io_error(peer, "TLS handshake with", e))?;
    }
    Ok(())
}

/// Runs the server side of the TLS handshake on an accepted socket (whose
/// read timeout is the poll interval for `stop`), blocking. The listener
/// runs its handshakes on the async runtime (`tcp::inbound`); the tests of
/// this module use this one.
#[cfg(test)]
pub(crate) fn accept_tls(
    config: &TlsConfig,
    sock: TcpStream,
    peer: &str,
    deadline: Instant,
    stop: Option<&AtomicBool>,
) -> Result<Stream, TransportError> {
    let watch = Watch::new(config, None);
    let mut conn =
        ServerConnection::new(config.server_config()).map_err(|source| TransportError::Tls {
            peer: peer.to_string(),
            source,
        })?;
    let mut sock = Socket(sock);
    handshake(&mut conn, &mut sock, peer, deadline, stop)?;
    Ok(Stream::Server(
        Box::new(rustls::StreamOwned::new(conn, sock)),
        watch,
    ))
}

/// Runs the client side of the TLS handshake on a connected socket, to the
/// server named by `address`'s host part.
pub(crate) fn connect_tls(
    config: &TlsConfig,
    sock: TcpStream,
    address: &str,
    deadline: Instant,
    stop: Option<&AtomicBool>,
) -> Result<Stream, TransportError> {
    let name = server_name_for(address)?;
    let watch = Watch::new(config, Some(name.clone()));
    let mut conn = ClientConnection::new(config.client_config(), name).map_err(|source| {
        TransportError::Tls {
            peer: address.to_string(),
            source,
        }
    })?;
    let mut sock = Socket(sock);
    handshake(&mut conn, &mut sock, address, deadline, stop)?;
    Ok(Stream::Client(
        Box::new(rustls::StreamOwned::new(conn, sock)),
        watch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::certs::DevCa;

    #[test]
    fn identity_is_the_rfc4514_subject() {
        let ca = DevCa::new("test-ca").unwrap();
        let leaf = ca.issue("node-a").unwrap();
        let der = CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
        assert_eq!(
            identity_from_certificate(&der).unwrap().as_str(),
            "CN=node-a"
        );
        let der = CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap();
        assert_eq!(
            identity_from_certificate(&der).unwrap().as_str(),
            "CN=test-ca"
        );
    }

    #[test]
    fn multi_attribute_subjects_render_last_rdn_first_and_escaped() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Synod, Inc");
        dn.push(rcgen::DnType::CommonName, " node+b");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            identity_from_certificate(cert.der()).unwrap().as_str(),
            "CN=\\ node\\+b,O=Synod\\, Inc"
        );
    }

    #[test]
    fn a_subject_that_trimming_would_change_is_refused_not_read_as_another() {
        for cn in ["ops\u{00A0}", "ops\u{2003}", "ops\u{3000}"] {
            let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::CommonName, cn);
            params.distinguished_name = dn;
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            match identity_from_certificate(cert.der()) {
                Err(TransportError::Identity(_)) => {}
                other => panic!("{cn:?} read as {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            identity_from_certificate(b"not a certificate"),
            Err(TransportError::Certificate(_))
        ));
    }

    #[test]
    fn configs_build_from_dev_certs_and_refuse_bad_pem() {
        let ca = DevCa::new("ca").unwrap();
        let a = ca.issue("node-a").unwrap();
        let cfg = TlsConfig::from_pem(
            a.cert_pem.as_bytes(),
            a.key_pem.as_bytes(),
            ca.cert_pem().as_bytes(),
        )
        .unwrap();
        assert_eq!(cfg.identity().as_str(), "CN=node-a");
        assert!(matches!(
            TlsConfig::from_pem(b"", a.key_pem.as_bytes(), ca.cert_pem().as_bytes()),
            Err(TransportError::Pem { .. })
        ));
        assert!(matches!(
            TlsConfig::from_pem(a.cert_pem.as_bytes(), b"nope", ca.cert_pem().as_bytes()),
            Err(TransportError::Pem { .. })
        ));
        assert!(TlsConfig::from_pem_files(
            Path::new("/nonexistent/a.pem"),
            Path::new("/nonexistent/a-key.pem"),
            Path::new("/nonexistent/ca.pem")
        )
        .is_err());
    }

    /// A member's or client's configuration from `ca`.
    fn tls(ca: &DevCa, name: &str) -> TlsConfig {
        let c = ca.issue(name).unwrap();
        TlsConfig::from_pem(
            c.cert_pem.as_bytes(),
            c.key_pem.as_bytes(),
            ca.cert_pem().as_bytes(),
        )
        .unwrap()
    }

    fn denying(names: &[&str]) -> Revocation {
        Revocation {
            deny: names
                .iter()
                .map(|n| NodeId::from_certificate_subject(n).unwrap())
                .collect(),
            crls: Vec::new(),
        }
    }

    /// Both ends of a connection from `client` to `server` over loopback:
    /// (server side, client side), each the handshake's outcome.
    fn connect(
        server: &TlsConfig,
        client: &TlsConfig,
    ) -> (
        Result<Stream, TransportError>,
        Result<Stream, TransportError>,
    ) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let server = server.clone();
        let accepting = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(std::time::Duration::from_millis(20)))
                .unwrap();
            accept_tls(&server, sock, "the client", deadline, None)
        });
        let sock = TcpStream::connect(&addr).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .unwrap();
        let client = connect_tls(client, sock, &addr, deadline, None);
        (accepting.join().unwrap(), client)
    }

    /// Reads one byte, waiting up to 5 s.
    fn read_byte(s: &mut Stream) -> io::Result<u8> {
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut b = [0u8; 1];
        loop {
            match s.read(&mut b) {
                Ok(1) => return Ok(b[0]),
                Ok(_) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A byte each way over an established connection.
    fn ping(server: &mut Stream, client: &mut Stream) -> io::Result<()> {
        client.write_all(b"?")?;
        client.flush()?;
        assert_eq!(read_byte(server)?, b'?');
        server.write_all(b"!")?;
        server.flush()?;
        assert_eq!(read_byte(client)?, b'!');
        Ok(())
    }

    /// The dialer's view of a refusal by the server: TLS 1.3 lets the
    /// client finish its handshake before the server checks its
    /// certificate, so the refusal can arrive as an alert at the first read.
    fn client_refused(client: Result<Stream, TransportError>) -> String {
        match client {
            Err(e) => e.to_string(),
            Ok(mut c) => {
                let _ = c.write_all(b"?").and_then(|()| c.flush());
                match read_byte(&mut c) {
                    Err(e) => io_error("the server", "reading from", e).to_string(),
                    Ok(b) => panic!("the refused client read {b}"),
                }
            }
        }
    }

    #[test]
    fn a_denied_identity_fails_the_handshake_both_ways() {
        let ca = DevCa::new("ca").unwrap();
        let (node, ops, app) = (tls(&ca, "node-a"), tls(&ca, "ops"), tls(&ca, "app"));
        let (mut s, mut c) = connect(&node, &ops);
        ping(s.as_mut().unwrap(), c.as_mut().unwrap()).unwrap();

        // The server refuses a denied client; others still get in.
        node.set_revocation(&denying(&["CN=ops"])).unwrap();
        let (s, c) = connect(&node, &ops);
        let e = s.err().expect("the server refused CN=ops").to_string();
        assert!(e.contains("CN=ops is on the deny list"), "{e}");
        let e = client_refused(c);
        assert!(e.contains("alert"), "{e}");
        let (mut s, mut c) = connect(&node, &app);
        ping(s.as_mut().unwrap(), c.as_mut().unwrap()).unwrap();

        // A dialer refuses a denied server.
        node.set_revocation(&Revocation::default()).unwrap();
        ops.set_revocation(&denying(&["CN=node-a"])).unwrap();
        let (_, c) = connect(&node, &ops);
        let e = c.err().expect("the client refused CN=node-a").to_string();
        assert!(e.contains("CN=node-a is on the deny list"), "{e}");

        // Lifted: both ways work again.
        ops.set_revocation(&Revocation::default()).unwrap();
        let (mut s, mut c) = connect(&node, &ops);
        ping(s.as_mut().unwrap(), c.as_mut().unwrap()).unwrap();
    }

    #[test]
    fn an_open_connection_of_a_newly_denied_identity_fails_at_its_next_read_or_write() {
        let ca = DevCa::new("ca").unwrap();
        let (node, ops) = (tls(&ca, "node-a"), tls(&ca, "ops"));
        let (s, c) = connect(&node, &ops);
        let (mut s, mut c) = (s.unwrap(), c.unwrap());
        ping(&mut s, &mut c).unwrap();
        // A change that does not concern it leaves it alone.
        node.set_revocation(&denying(&["CN=app"])).unwrap();
        ping(&mut s, &mut c).unwrap();
        node.set_revocation(&denying(&["CN=app", "CN=ops"]))
            .unwrap();
        let e = read_byte(&mut s).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let e = io_error("the client", "reading from", e);
        assert!(
            matches!(&e, TransportError::Tls { .. }) && e.to_string().contains("deny list"),
            "{e}"
        );
        // And it stays refused.
        assert!(s.write_all(b"x").is_err());

        // The client side of a connection to a newly denied server, too.
        node.set_revocation(&Revocation::default()).unwrap();
        let (s, c) = connect(&node, &ops);
        let (mut s, mut c) = (s.unwrap(), c.unwrap());
        ping(&mut s, &mut c).unwrap();
        ops.set_revocation(&denying(&["CN=node-a"])).unwrap();
        let e = c.write_all(b"?").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_crl_of_the_ca_revokes_and_bad_lists_are_refused_keeping_the_old_ones() {
        let ca = DevCa::new("ca").unwrap();
        let ops_cert = ca.issue("ops").unwrap();
        let ops = TlsConfig::from_pem(
            ops_cert.cert_pem.as_bytes(),
            ops_cert.key_pem.as_bytes(),
            ca.cert_pem().as_bytes(),
        )
        .unwrap();
        let node_cert = ca.issue("node-a").unwrap();
        let node = TlsConfig::from_pem(
            node_cert.cert_pem.as_bytes(),
            node_cert.key_pem.as_bytes(),
            ca.cert_pem().as_bytes(),
        )
        .unwrap();
        let app = tls(&ca, "app");
        let crl = |revoked: &[&str]| {
            Revocation::crls_from_pem(ca.crl_pem(1, revoked).unwrap().as_bytes()).unwrap()
        };
        let revoking = |revoked: &[&str]| Revocation {
            deny: BTreeSet::new(),
            crls: crl(revoked),
        };
        node.set_revocation(&revoking(&[&ops_cert.cert_pem]))
            .unwrap();
        let (s, c) = connect(&node, &ops);
        let e = s
            .err()
            .expect("the server refused the revoked CN=ops")
            .to_string();
        assert!(e.contains("Revoked"), "{e}");
        client_refused(c);
        let (mut s, mut c) = connect(&node, &app);
        ping(s.as_mut().unwrap(), c.as_mut().unwrap()).unwrap();

        // A client holding the CRL refuses the revoked server.
        app.set_revocation(&revoking(&[&node_cert.cert_pem]))
            .unwrap();
        let (_, c) = connect(&node, &app);
        assert!(c.err().expect("refused").to_string().contains("Revoked"));

        // Refused, the old lists staying in force: a CRL of another CA,
        // one that revokes this member's own certificate, this member's own
        // identity denied, a file without a CRL.
        let other = DevCa::new("other-ca").unwrap();
        let foreign = Revocation {
            deny: BTreeSet::new(),
            crls: Revocation::crls_from_pem(other.crl_pem(1, &[]).unwrap().as_bytes()).unwrap(),
        };
        let e = node.set_revocation(&foreign).unwrap_err().to_string();
        assert!(e.contains("not a CA of the bundle"), "{e}");
        let e = node
            .set_revocation(&revoking(&[&node_cert.cert_pem]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("own certificate"), "{e}");
        let e = node
            .set_revocation(&denying(&["CN=node-a"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("own certificate"), "{e}");
        assert!(Revocation::crls_from_pem(ca.cert_pem().as_bytes()).is_err());
        let (s, _) = connect(&node, &ops);
        assert!(s.is_err(), "the CRL in force still revokes CN=ops");

        // An empty CRL of the CA revokes nobody.
        node.set_revocation(&revoking(&[])).unwrap();
        let (mut s, mut c) = connect(&node, &ops);
        ping(s.as_mut().unwrap(), c.as_mut().unwrap()).unwrap();
    }

    #[test]
    fn server_names_come_from_the_host_part() {
        assert!(matches!(
            server_name_for("127.0.0.1:7000").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name_for("localhost:7000").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name_for("[::1]:7000").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name_for("no-port").is_err());
    }
}
