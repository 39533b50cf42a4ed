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
//! [`Security::Insecure`] is plain TCP in which the dialer merely *claims*
//! an identity in its Hello frame: for tests and development only.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

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
/// CA bundle.
#[derive(Clone)]
pub struct TlsConfig {
    identity: NodeId,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
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
        for ca in certs_from_pem("CA bundle", ca_bundle_pem)? {
            roots.add(ca).map_err(TransportError::TlsConfig)?;
        }
        let roots = Arc::new(roots);
        let identity = identity_from_certificate(&chain[0])?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = &[&rustls::version::TLS13];

        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| TransportError::TlsConfig(rustls::Error::General(e.to_string())))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(TransportError::TlsConfig)?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(TransportError::TlsConfig)?;
        server.alpn_protocols = vec![ALPN.to_vec()];

        let server_verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TransportError::TlsConfig(rustls::Error::General(e.to_string())))?;
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(TransportError::TlsConfig)?
            .with_webpki_verifier(server_verifier)
            .with_client_auth_cert(chain, key)
            .map_err(TransportError::TlsConfig)?;
        client.alpn_protocols = vec![ALPN.to_vec()];

        Ok(Self {
            identity,
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }

    /// The identity this member's own certificate gives it.
    pub fn identity(&self) -> &NodeId {
        &self.identity
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

/// A connection's byte stream: plain TCP or TLS on either side.
pub(crate) enum Stream {
    Plain(Socket),
    Server(Box<rustls::StreamOwned<ServerConnection, Socket>>),
    Client(Box<rustls::StreamOwned<ClientConnection, Socket>>),
}

impl Stream {
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => &s.0,
            Stream::Server(s) => &s.sock.0,
            Stream::Client(s) => &s.sock.0,
        }
    }

    /// A plain TCP stream (no TLS).
    pub fn plain(sock: TcpStream) -> Stream {
        Stream::Plain(Socket(sock))
    }

    /// The identity in the peer's certificate (`None` on plain TCP).
    pub fn peer_identity(&self) -> Result<Option<NodeId>, TransportError> {
        let certs = match self {
            Stream::Plain(_) => return Ok(None),
            Stream::Server(s) => s.conn.peer_certificates(),
            Stream::Client(s) => s.conn.peer_certificates(),
        };
        match certs.and_then(|c| c.first()) {
            Some(der) => identity_from_certificate(der).map(Some),
            None => Err(TransportError::Certificate(
                "the peer presented no certificate".into(),
            )),
        }
    }

    /// Sends a TLS close_notify (best effort) and shuts the socket down.
    pub fn close(&mut self) {
        match self {
            Stream::Plain(_) => {}
            Stream::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
            }
            Stream::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
            }
        }
        let _ = self.socket().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Server(s) => s.read(buf),
            Stream::Client(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Server(s) => s.write(buf),
            Stream::Client(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Server(s) => s.flush(),
            Stream::Client(s) => s.flush(),
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
/// read timeout is the poll interval for `stop`).
pub(crate) fn accept_tls(
    config: &TlsConfig,
    sock: TcpStream,
    peer: &str,
    deadline: Instant,
    stop: Option<&AtomicBool>,
) -> Result<Stream, TransportError> {
    let mut conn =
        ServerConnection::new(config.server_config()).map_err(|source| TransportError::Tls {
            peer: peer.to_string(),
            source,
        })?;
    let mut sock = Socket(sock);
    handshake(&mut conn, &mut sock, peer, deadline, stop)?;
    Ok(Stream::Server(Box::new(rustls::StreamOwned::new(
        conn, sock,
    ))))
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
    let mut conn = ClientConnection::new(config.client_config(), name).map_err(|source| {
        TransportError::Tls {
            peer: address.to_string(),
            source,
        }
    })?;
    let mut sock = Socket(sock);
    handshake(&mut conn, &mut sock, address, deadline, stop)?;
    Ok(Stream::Client(Box::new(rustls::StreamOwned::new(
        conn, sock,
    ))))
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
