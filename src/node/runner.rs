//! Running one member from its configuration: the durable store on disk,
//! the TCP transport with mutual TLS, the client service, and the optional
//! metrics listener. `synod node` is this plus signal handling.
//!
//! Start-up, in order: check that the certificate's identity is the
//! configured one; open the data directory (refusing a damaged one); if it
//! holds no cluster yet, either write the genesis snapshot (`bootstrap`) or
//! ask the member at `join` for this member's admission (it must have been
//! admitted by an operator first) and start empty, to receive a snapshot;
//! bind the listener; start the driver.
//!
//! The configuration's warnings ([`NodeConfig::warnings`]: exposed but
//! allowed settings) are logged at start. While the member runs,
//! [`RunningMember::reload_revocation`] replaces the identities and CRLs it
//! refuses (`[tls] deny`, `[tls] crl`) without a restart; `synod node` calls
//! it on SIGHUP.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::admin::{Limits, MetricsListener, Render};
use super::client::{Client, ClientCallError};
use super::config::{ClusterStart, NodeConfig, RevocationSettings, TlsSettings};
use super::service::ClientService;
use super::{ControlPlaneConsensus, Node, NodeError, NodeOptions};
use crate::entry::NodeId;
use crate::storage::{DurableStore, RealDisk, StorageError, StoreOptions};
use crate::transport::tcp::{ClientHandler, TcpConfig, TcpHandle, TcpTransport};
use crate::transport::tls::{Revocation, TlsConfig};
use crate::transport::{Peer, Security, TransportError};

/// Why a member could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// TLS material or the listener.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The data directory.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The engine.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The certificate does not carry the configured identity.
    #[error("the certificate's identity is {cert}, but the configuration says {configured}")]
    IdentityMismatch {
        /// From the certificate.
        cert: NodeId,
        /// From the configuration.
        configured: NodeId,
    },
    /// Joining failed.
    #[error("cannot join through {addr}: {reason}")]
    Join {
        /// The member asked.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An address does not resolve.
    #[error("cannot resolve {addr}: {reason}")]
    Address {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A reload asked for revocation lists on a member without TLS.
    #[error("[tls] deny and crl need mutual TLS; this member runs insecure")]
    RevocationWithoutTls,
}

/// A client handler bound once the node exists (the transport must exist
/// before the node, the service needs the node).
#[derive(Debug, Default)]
struct LateService(OnceLock<ClientService>);

impl ClientHandler for LateService {
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8> {
        match self.0.get() {
            Some(s) => s.handle_bytes(client, request),
            None => super::protocol::Response::Error(super::protocol::ClientError::Propose(
                super::ProposeError::Shutdown,
            ))
            .encode(),
        }
    }

    fn may_block(&self, request: &[u8]) -> bool {
        self.0.get().is_none_or(|s| s.may_block_bytes(request))
    }

    fn stream(
        &self,
        client: &NodeId,
        request: &[u8],
    ) -> Option<Box<dyn crate::transport::tcp::ResponseStream>> {
        self.0.get()?.stream_bytes(client, request)
    }
}

impl ClientHandler for ClientService {
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8> {
        self.handle_bytes(client, request)
    }

    fn may_block(&self, request: &[u8]) -> bool {
        self.may_block_bytes(request)
    }

    fn stream(
        &self,
        client: &NodeId,
        request: &[u8],
    ) -> Option<Box<dyn crate::transport::tcp::ResponseStream>> {
        self.stream_bytes(client, request)
    }
}

/// A member started from its configuration.
#[derive(Debug)]
pub struct RunningMember {
    node: Arc<Node>,
    transport: TcpHandle,
    metrics: Option<MetricsListener>,
    /// The transport's TLS configuration (shared state: replacing its
    /// revocation lists changes the transport's).
    tls: Option<TlsConfig>,
}

/// What a reload put in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationSummary {
    /// Identities on the deny list.
    pub denied: usize,
    /// CRLs read.
    pub crls: usize,
}

impl RunningMember {
    /// The member.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Where it listens for peers and clients.
    pub fn local_addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }

    /// Where the metrics listener listens, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsListener::local_addr)
    }

    /// Replaces the identities and CRLs this member refuses with those of
    /// `config` (`[tls] deny`, `[tls] crl`, the CRL file read again), for
    /// peers and clients, in both directions: new connections are checked
    /// against them at once, open ones at their next read or write (within
    /// the transport's poll interval). Nothing else of `config` is applied;
    /// other changes need a restart.
    ///
    /// On an error (an unreadable CRL file, a CRL not of the CA bundle, lists
    /// that refuse this member's own certificate) the lists in force stay.
    pub fn reload_revocation(&self, config: &NodeConfig) -> Result<RevocationSummary, RunError> {
        match &self.tls {
            Some(tls) => apply_revocation(tls, &config.revocation),
            None if config.revocation.is_empty() => Ok(RevocationSummary { denied: 0, crls: 0 }),
            None => Err(RunError::RevocationWithoutTls),
        }
    }

    /// Stops the member: the driver first (every waiter answered), then the
    /// listener and connections, then the metrics listener.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.node.shutdown();
        self.transport.shutdown();
        if let Some(mut m) = self.metrics.take() {
            m.stop();
        }
    }
}

impl Drop for RunningMember {
    fn drop(&mut self) {
        self.stop();
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, RunError> {
    addr.to_socket_addrs()
        .map_err(|e| RunError::Address {
            addr: addr.into(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| RunError::Address {
            addr: addr.into(),
            reason: "no address".into(),
        })
}

/// The TLS identity a member or client presents.
pub fn security_for(id: &NodeId, tls: &TlsSettings) -> Result<Security, RunError> {
    match tls {
        TlsSettings::Insecure => Ok(Security::Insecure {
            identity: id.clone(),
        }),
        TlsSettings::Mutual { cert, key, ca } => {
            let t = TlsConfig::from_pem_files(cert, key, ca)?;
            if t.identity() != id {
                return Err(RunError::IdentityMismatch {
                    cert: t.identity().clone(),
                    configured: id.clone(),
                });
            }
            Ok(Security::Tls(t))
        }
    }
}

/// Reads the CRL file `settings` names and puts the lists in force on `tls`.
fn apply_revocation(
    tls: &TlsConfig,
    settings: &RevocationSettings,
) -> Result<RevocationSummary, RunError> {
    let crls = match &settings.crl {
        Some(path) => Revocation::crls_from_pem_file(path)?,
        None => Vec::new(),
    };
    let revocation = Revocation {
        deny: settings.deny.clone(),
        crls,
    };
    tls.set_revocation(&revocation)?;
    Ok(RevocationSummary {
        denied: revocation.deny.len(),
        crls: revocation.crls.len(),
    })
}

/// Asks the member at `addr` for this member's admission: its peer id and
/// the current members (to accept the leader's connection before the
/// catalog arrives).
fn admission(addr: &str, security: &Security, me: &NodeId) -> Result<(u64, Vec<Peer>), RunError> {
    let join_err = |reason: String| RunError::Join {
        addr: addr.into(),
        reason,
    };
    let mut client = Client::new(
        vec![addr.to_string()],
        security.clone(),
        Duration::from_secs(10),
    );
    // The admission may still be on its way to the member asked: retry for
    // a while before concluding this member was not admitted.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (members, mine) = loop {
        let (members, _) = client
            .members(true)
            .map_err(|e: ClientCallError| join_err(e.to_string()))?;
        if let Some(m) = members.iter().find(|m| m.id == *me).cloned() {
            break (members, m);
        }
        if std::time::Instant::now() > deadline {
            return Err(join_err(format!(
                "{me} has not been admitted; an operator must admit it first"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let peers = members
        .iter()
        .map(|m| Peer {
            peer_id: m.peer_id,
            id: m.id.clone(),
            address: m.address.clone(),
        })
        .collect();
    Ok((mine.peer_id, peers))
}

/// Starts the member described by `config`.
pub fn start_member(config: &NodeConfig) -> Result<RunningMember, RunError> {
    for warning in &config.warnings {
        tracing::warn!(id = %config.id, "{warning}");
    }
    let security = security_for(&config.id, &config.tls)?;
    let tls = match &security {
        Security::Tls(t) => {
            apply_revocation(t, &config.revocation)?;
            Some(t.clone())
        }
        Security::Insecure { .. } if config.revocation.is_empty() => None,
        Security::Insecure { .. } => return Err(RunError::RevocationWithoutTls),
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|source| RunError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let disk = Arc::new(RealDisk);
    let (mut store, report) =
        DurableStore::open(disk.clone(), &config.data_dir, StoreOptions::default())?;
    if let Some(torn) = &report.torn_tail {
        tracing::warn!("recovered from a torn write: {torn:?}");
    }
    let mut join_peer_id = None;
    let mut seed_peers = Vec::new();
    if !store.has_snapshot() {
        match &config.cluster {
            ClusterStart::Bootstrap(members) => {
                drop(store);
                store = DurableStore::bootstrap(
                    disk,
                    &config.data_dir,
                    StoreOptions::default(),
                    members,
                )?
                .0;
                tracing::info!(members = members.len(), "bootstrapped a new cluster");
            }
            ClusterStart::Join(addr) => {
                let (peer, peers) = admission(addr, &security, &config.id)?;
                tracing::info!(peer, "joining through {addr}");
                join_peer_id = Some(peer);
                seed_peers = peers;
            }
        }
    }
    let mut tcp = TcpConfig::new(resolve(&config.listen)?, security);
    tcp.seed_peers = seed_peers;
    tcp.max_inbound = config.max_inbound;
    if let Some(n) = config.max_client_connections {
        tcp.max_client_connections = n;
    }
    if let Some(n) = config.max_client_connections_per_identity {
        tcp.max_client_connections_per_identity = n;
    }
    let late = Arc::new(LateService::default());
    tcp.client_handler = Some(late.clone());
    let transport = TcpTransport::bind(tcp)?;
    let handle = transport.handle();
    let mut options = NodeOptions::new(config.id.clone());
    options.engine = config.engine.clone();
    options.join_peer_id = join_peer_id;
    options.max_pending_calls = config.max_pending_calls;
    options.max_inbound_messages = config.max_inbound_messages;
    options.watch_history = config.watch_history;
    let node = Arc::new(Node::start(options, store, move |inbox| {
        transport.attach(inbox)
    })?);
    // The OnceLock was empty: set cannot fail here.
    let _ = late.0.set(ClientService::new(
        node.clone(),
        config.authorization.clone(),
    ));
    let metrics = match &config.metrics_listen {
        None => None,
        Some(addr) => Some(serve_metrics(resolve(addr)?, &node)?),
    };
    Ok(RunningMember {
        node,
        transport: handle,
        metrics,
        tls,
    })
}

/// Starts the admin HTTP listener on `addr`, serving the member's metrics
/// text. It holds the metrics, not the node.
fn serve_metrics(addr: SocketAddr, node: &Node) -> Result<MetricsListener, RunError> {
    let metrics = node.metrics();
    let member = node.id().as_str().to_owned();
    let render: Arc<Render> =
        Arc::new(move || (metrics.render(&member), super::metrics::CONTENT_TYPE));
    MetricsListener::bind(addr, Limits::default(), render).map_err(|source| {
        RunError::Transport(TransportError::Io {
            context: format!("metrics listener on {addr}"),
            source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::certs::{DevCa, IssuedCert};
    use std::path::Path;

    /// Writes `name`'s certificate and key (mode 600) into `dir`.
    fn write_pair(dir: &Path, name: &str, issued: &IssuedCert) {
        use std::io::Write;
        std::fs::write(dir.join(format!("{name}.pem")), &issued.cert_pem).unwrap();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(dir.join(format!("{name}-key.pem")))
            .unwrap()
            .write_all(issued.key_pem.as_bytes())
            .unwrap();
    }

    fn client(certs: &Path, name: &str, addr: &str) -> Client {
        let id = NodeId::from_certificate_subject(&format!("CN={name}")).unwrap();
        let tls = TlsSettings::Mutual {
            cert: certs.join(format!("{name}.pem")),
            key: certs.join(format!("{name}-key.pem")),
            ca: certs.join("ca.pem"),
        };
        Client::new(
            vec![addr.to_string()],
            security_for(&id, &tls).unwrap(),
            Duration::from_secs(2),
        )
    }

    /// Asserts that `c` cannot get a connection (the handshake is refused:
    /// `Tls`; an open connection is closed at its next request:
    /// `Unreachable`), as opposed to an answer of any kind.
    fn refused(c: &mut Client, addr: &str) {
        match c.status_of(addr) {
            Err(ClientCallError::Unreachable(_) | ClientCallError::Tls(_)) => {}
            other => panic!("expected a refused connection, got {other:?}"),
        }
    }

    /// A client whose certificate another CA issued is told at once, with
    /// the TLS reason, on every call; before, it retried every endpoint
    /// until its timeout and said "unreachable".
    #[test]
    fn a_client_of_another_ca_gets_a_tls_error_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        crate::transport::certs::write_dev_certs(&certs, &["node-a".into()], &["ops".into()])
            .unwrap();
        let other = dir.path().join("other");
        crate::transport::certs::write_dev_certs(&other, &[], &["ops".into()]).unwrap();
        let text = "id = \"CN=node-a\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\ncert = \"certs/node-a.pem\"\nkey = \"certs/node-a-key.pem\"\nca = \"certs/ca.pem\"\n[cluster]\nbootstrap = [{ id = \"CN=node-a\", address = \"127.0.0.1:0\" }]\n[authorization]\noperators = [\"CN=ops\"]\n";
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        let member = start_member(&NodeConfig::load(&path).unwrap()).unwrap();
        let addr = member.local_addr().to_string();
        let id = NodeId::from_certificate_subject("CN=ops").unwrap();
        let tls = TlsSettings::Mutual {
            cert: other.join("ops.pem"),
            key: other.join("ops-key.pem"),
            ca: other.join("ca.pem"),
        };
        // Two endpoints, the same member: every one refuses.
        let mut c = Client::new(
            vec![addr.clone(), addr.clone()],
            security_for(&id, &tls).unwrap(),
            Duration::from_secs(60),
        );
        let started = std::time::Instant::now();
        match c.status() {
            Err(ClientCallError::Tls(why)) => assert!(why.contains(&addr), "{why}"),
            other => panic!("expected a TLS error, got {other:?}"),
        }
        let entry = crate::entry::ControlPlaneEntry::Membership(
            crate::entry::MembershipChange::BeginDrain { member: id.clone() },
        );
        assert!(matches!(c.propose(entry), Err(ClientCallError::Tls(_))));
        assert!(matches!(c.status_of(&addr), Err(ClientCallError::Tls(_))));
        // One round each, not the 60 s timeout.
        assert!(started.elapsed() < Duration::from_secs(30));
        member.shutdown();
    }

    #[test]
    fn reloaded_lists_refuse_revoked_and_denied_clients_while_the_member_runs() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let ca = DevCa::new("ca").unwrap();
        std::fs::write(certs.join("ca.pem"), ca.cert_pem()).unwrap();
        let ops = ca.issue("ops").unwrap();
        for (name, issued) in [
            ("node-a", ca.issue("node-a").unwrap()),
            ("ops", ops.clone()),
            ("app", ca.issue("app").unwrap()),
        ] {
            write_pair(&certs, name, &issued);
        }
        let base = "id = \"CN=node-a\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\ncert = \"certs/node-a.pem\"\nkey = \"certs/node-a-key.pem\"\nca = \"certs/ca.pem\"\nEXTRA\n[cluster]\nbootstrap = [{ id = \"CN=node-a\", address = \"127.0.0.1:0\" }]\n[authorization]\nreaders = [\"CN=ops\", \"CN=app\"]\n[admin]\nmetrics_listen = \"0\"\n";
        let path = dir.path().join("node.toml");
        let configure = |extra: &str| {
            std::fs::write(&path, base.replace("EXTRA", extra)).unwrap();
            NodeConfig::load(&path).unwrap()
        };
        let member = start_member(&configure("")).unwrap();
        // A metrics port alone listens on loopback.
        assert!(member.metrics_addr().unwrap().ip().is_loopback());
        let addr = member.local_addr().to_string();
        let mut as_ops = client(&certs, "ops", &addr);
        let mut as_app = client(&certs, "app", &addr);
        as_ops.status_of(&addr).unwrap();
        as_app.status_of(&addr).unwrap();

        // A CRL revoking ops: its open connection and new ones are refused.
        std::fs::write(
            certs.join("crl.pem"),
            ca.crl_pem(1, &[&ops.cert_pem]).unwrap(),
        )
        .unwrap();
        let s = member
            .reload_revocation(&configure("crl = \"certs/crl.pem\""))
            .unwrap();
        assert_eq!(s, RevocationSummary { denied: 0, crls: 1 });
        refused(&mut as_ops, &addr);
        refused(&mut client(&certs, "ops", &addr), &addr);
        as_app.status_of(&addr).unwrap();

        // app on the deny list too.
        let both = "crl = \"certs/crl.pem\"\ndeny = [\"CN=app\"]";
        let s = member.reload_revocation(&configure(both)).unwrap();
        assert_eq!(s, RevocationSummary { denied: 1, crls: 1 });
        refused(&mut as_app, &addr);
        refused(&mut client(&certs, "app", &addr), &addr);

        // A CRL file gone bad is refused and the lists in force stay.
        std::fs::write(certs.join("crl.pem"), "not a CRL\n").unwrap();
        let e = member.reload_revocation(&configure(both)).unwrap_err();
        assert!(e.to_string().contains("CRL"), "{e}");
        refused(&mut client(&certs, "app", &addr), &addr);
        refused(&mut client(&certs, "ops", &addr), &addr);

        // Lifted: both are back, and the member never stopped.
        member.reload_revocation(&configure("")).unwrap();
        client(&certs, "ops", &addr).status_of(&addr).unwrap();
        client(&certs, "app", &addr).status_of(&addr).unwrap();
        assert!(member.node().stopped().is_none());
        member.shutdown();
    }

    #[test]
    fn revocation_lists_at_start_are_in_force_from_the_first_connection() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        crate::transport::certs::write_dev_certs(
            &certs,
            &["node-a".into()],
            &["ops".into(), "app".into()],
        )
        .unwrap();
        let text = "id = \"CN=node-a\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\ncert = \"certs/node-a.pem\"\nkey = \"certs/node-a-key.pem\"\nca = \"certs/ca.pem\"\ndeny = [\"CN=ops\"]\n[cluster]\nbootstrap = [{ id = \"CN=node-a\", address = \"127.0.0.1:0\" }]\n[authorization]\nreaders = [\"CN=ops\", \"CN=app\"]\n";
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        let member = start_member(&NodeConfig::load(&path).unwrap()).unwrap();
        let addr = member.local_addr().to_string();
        refused(&mut client(&certs, "ops", &addr), &addr);
        client(&certs, "app", &addr).status_of(&addr).unwrap();
        // A CRL file that is not there stops the start.
        std::fs::write(
            &path,
            text.replace("deny = [\"CN=ops\"]", "crl = \"certs/none.pem\""),
        )
        .unwrap();
        let e = start_member(&NodeConfig::load(&path).unwrap()).unwrap_err();
        assert!(e.to_string().contains("none.pem"), "{e}");
    }
}

#[cfg(test)]
mod client_over_tcp {
    use super::*;
    use crate::entry::{ControlPlaneEntry, ForcedOwnershipTransition};
    use crate::node::protocol::RemoteError;

    /// A one-member cluster over mutual TLS (in a directory kept until the
    /// first value drops) and a client of it as `CN=ops`, an operator.
    fn solo_member() -> (tempfile::TempDir, RunningMember, Client, NodeId) {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        crate::transport::certs::write_dev_certs(&certs, &["node-a".into()], &["ops".into()])
            .unwrap();
        let text = "id = \"CN=node-a\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\ncert = \"certs/node-a.pem\"\nkey = \"certs/node-a-key.pem\"\nca = \"certs/ca.pem\"\n[cluster]\nbootstrap = [{ id = \"CN=node-a\", address = \"127.0.0.1:0\" }]\n[authorization]\noperators = [\"CN=ops\"]\n";
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        let member = start_member(&NodeConfig::load(&path).unwrap()).unwrap();
        let ops = NodeId::from_certificate_subject("CN=ops").unwrap();
        let tls = TlsSettings::Mutual {
            cert: certs.join("ops.pem"),
            key: certs.join("ops-key.pem"),
            ca: certs.join("ca.pem"),
        };
        let c = Client::new(
            vec![member.local_addr().to_string()],
            security_for(&ops, &tls).unwrap(),
            Duration::from_secs(20),
        );
        (dir, member, c, ops)
    }

    /// `propose_all` sends a batch pipelined on one connection: every entry
    /// takes effect exactly once, each answer is its own entry's, and a
    /// batch larger than the calls one connection may have in flight goes
    /// in rounds. Refusals come back per entry.
    #[test]
    fn a_pipelined_batch_commits_each_entry_once_with_its_own_answer() {
        let (_dir, member, mut c, ops) = solo_member();
        let owner = member.node().id().clone();
        let forced = |range: String| {
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                range: range.parse().unwrap(),
                new_owner: owner.clone(),
                operator: ops.clone(),
                reason: "pipelined".parse().unwrap(),
            })
        };
        let n = 3 * crate::transport::tcp::MAX_CALLS_IN_FLIGHT + 7;
        let batch: Vec<_> = (0..n).map(|i| forced(format!("r{i}"))).collect();
        let results = c.propose_all(batch);
        assert_eq!(results.len(), n);
        let mut indexes = std::collections::BTreeSet::new();
        for r in &results {
            let committed = r.as_ref().expect("every entry commits");
            assert!(
                indexes.insert(committed.index),
                "two answers share an index"
            );
        }
        let view = member.node().view().unwrap();
        for i in 0..n {
            let range = format!("r{i}").parse().unwrap();
            let o = view.owner(&range).expect("every range is owned");
            // Forced once each: epoch 1, never applied twice.
            assert_eq!(o.epoch.0, 1, "r{i}");
        }
        // A batch mixing an entry the member refuses: that one's answer
        // says so, the others commit.
        let mut mixed: Vec<_> = (0..5).map(|i| forced(format!("s{i}"))).collect();
        mixed.insert(
            2,
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                range: "t".parse().unwrap(),
                new_owner: NodeId::from_certificate_subject("CN=nobody").unwrap(),
                operator: ops.clone(),
                reason: "pipelined".parse().unwrap(),
            }),
        );
        let results = c.propose_all(mixed);
        for (i, r) in results.iter().enumerate() {
            match (i, r) {
                (2, Err(ClientCallError::Remote(RemoteError::Refused { .. }))) => {}
                (2, other) => panic!("the entry for a non-member: {other:?}"),
                (_, r) => assert!(r.is_ok(), "{r:?}"),
            }
        }
        member.shutdown();
    }

    /// `Client::watch` from index 0 gets the catalog as it is (a
    /// `Compacted`, then snapshot parts with every range, the last marked),
    /// then the events after it, its resume index moving past the snapshot
    /// only with the last part.
    #[test]
    fn a_client_watch_from_zero_gets_the_catalog_then_the_events() {
        use crate::node::protocol::WatchWireItem;
        let (_dir, member, mut c, ops) = solo_member();
        let owner = member.node().id().clone();
        let forced = |range: &str| {
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                range: range.parse().unwrap(),
                new_owner: owner.clone(),
                operator: ops.clone(),
                reason: "watched".parse().unwrap(),
            })
        };
        for r in c.propose_all((0..20).map(|i| forced(&format!("r{i:02}"))).collect()) {
            r.unwrap();
        }
        let mut w = c.watch(crate::entry::Index(0)).unwrap();
        let mut at = None;
        let mut ranges = Vec::new();
        let mut complete = false;
        let mut after = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while after.is_none() {
            assert!(std::time::Instant::now() < deadline);
            let item = match w.next(Duration::from_secs(1)) {
                Ok(item) => item,
                Err(ClientCallError::Unreachable(_)) => continue,
                Err(e) => panic!("{e}"),
            };
            match item {
                WatchWireItem::Compacted { at: a } => {
                    assert!(at.is_none(), "one snapshot");
                    at = Some(a);
                }
                WatchWireItem::SnapshotPart {
                    at: a,
                    ranges: page,
                    last,
                    ..
                } => {
                    assert_eq!(Some(a), at);
                    ranges.extend(page.into_iter().map(|(r, _)| r.as_str().to_string()));
                    if last {
                        complete = true;
                        // Past the snapshot only now.
                        assert_eq!(w.next_index().0, a.0 + 1);
                        c.propose(forced("later")).unwrap();
                    } else {
                        assert!(w.next_index() <= a);
                    }
                }
                WatchWireItem::Event { index, .. } => {
                    assert!(complete, "an event before the snapshot was complete");
                    after = Some(index);
                }
                WatchWireItem::Role { .. } => {}
            }
        }
        let want: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
        assert_eq!(ranges, want);
        assert!(after.unwrap() > at.unwrap());
        member.shutdown();
    }
}
