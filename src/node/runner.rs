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

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::admin::{Limits, MetricsListener, Render};
use super::client::{Client, ClientCallError};
use super::config::{ClusterStart, NodeConfig, TlsSettings};
use super::service::ClientService;
use super::{ControlPlaneConsensus, Node, NodeError, NodeOptions};
use crate::entry::NodeId;
use crate::storage::{DurableStore, RealDisk, StorageError, StoreOptions};
use crate::transport::tcp::{ClientHandler, TcpConfig, TcpHandle, TcpTransport};
use crate::transport::tls::TlsConfig;
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
}

impl ClientHandler for ClientService {
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8> {
        self.handle_bytes(client, request)
    }
}

/// A member started from its configuration.
#[derive(Debug)]
pub struct RunningMember {
    node: Arc<Node>,
    transport: TcpHandle,
    metrics: Option<MetricsListener>,
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
    let security = security_for(&config.id, &config.tls)?;
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
    let late = Arc::new(LateService::default());
    tcp.client_handler = Some(late.clone());
    let transport = TcpTransport::bind(tcp)?;
    let handle = transport.handle();
    let mut options = NodeOptions::new(config.id.clone());
    options.engine = config.engine.clone();
    options.join_peer_id = join_peer_id;
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
