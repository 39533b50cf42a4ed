//! Transports: how raft messages travel between members.
//!
//! A transport takes messages from a member's driver ([`Transport::send`])
//! and hands messages that arrive for it to its [`Inbox`]. It never sees
//! proposals as bytes it could forge: a member refuses `MsgPropose` from the
//! network (see [`crate::engine::Replica::step`]). Delivery is best effort:
//! raft retries what is lost, so a transport may drop under pressure, and
//! must tell the sender when a snapshot was lost
//! ([`Inbox::report_snapshot`]).
//!
//! This room holds the trait and the transports:
//! * [`memory::MemoryNetwork`]: in-process clusters and tests;
//! * [`tcp::TcpTransport`]: TCP with mutual TLS ([`tls`]), a listener that
//!   authenticates peers by certificate and membership, per-peer writer
//!   threads with byte-bounded queues, snapshots in chunks, and a client
//!   channel ([`tcp::ClientHandler`], [`tcp::connect_client`]);
//! * [`host::HostTransport`]: Synod's frames carried by a host's own RPC
//!   stack;
//! * [`certs`]: a development CA and member certificates (`synod certs`).
//!
//! Every byte from the network goes through [`wire`]: frames are bounded and
//! checksummed, raft messages are decoded by our own codec (never by
//! protobuf) and `MsgPropose` is refused.

#[cfg(feature = "dev-certs")]
pub mod certs;
pub mod host;
pub mod memory;
mod queue;
pub mod tcp;
pub mod tls;
pub mod traffic;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use raft::eraftpb::Message;

use crate::entry::{MemberAddress, NodeId};
use crate::identity::IdentityError;
pub use tls::Security;
pub use traffic::{PeerTraffic, Traffic};

/// Why a transport operation failed. Errors on one connection close that
/// connection; they never stop the member.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// Which file it is (for example `certificate chain`).
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// PEM input did not hold what it should.
    #[error("{what}: {detail}")]
    Pem {
        /// Which input.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// rustls refused the configuration (keys, certificates, roots).
    #[error("TLS configuration: {0}")]
    TlsConfig(rustls::Error),
    /// The TLS handshake or session failed.
    #[error("TLS with {peer}: {source}")]
    Tls {
        /// The remote address.
        peer: String,
        /// What rustls reported.
        source: rustls::Error,
    },
    /// A certificate is unusable as an identity.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A subject is not a valid identity.
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    /// Socket I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with whom.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A frame or message did not decode or broke the protocol.
    #[error("wire: {0}")]
    Wire(#[from] wire::WireError),
    /// Bytes arrived that the protocol does not allow here.
    #[error("protocol violation by {peer}: {detail}")]
    Protocol {
        /// Who sent them.
        peer: String,
        /// What was wrong.
        detail: String,
    },
    /// The listener refused the connection (it closed without a HelloAck).
    #[error("refused by {addr}")]
    Refused {
        /// The listener's address.
        addr: String,
    },
    /// A frame from a peer was refused (not a member, spoofed sender).
    #[error("not authorized: {0}")]
    NotAuthorized(String),
    /// The listener answered that this member, as the peer id it claimed,
    /// was removed from the cluster (its catalog assigned that peer id once
    /// and no longer lists it).
    #[error("{addr} says this member was removed from the cluster: {detail}")]
    Removed {
        /// The listener's address.
        addr: String,
        /// The listener's account of the removal.
        detail: String,
    },
    /// An address could not be parsed or resolved.
    #[error("bad address {addr:?}: {detail}")]
    Address {
        /// The address as given.
        addr: String,
        /// What was wrong.
        detail: String,
    },
    /// A deadline passed.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection was closed.
    #[error("connection to {0} closed")]
    Closed(String),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    CertGen(String),
    /// The transport is shut down (or not yet attached to a member).
    #[error("the transport is shut down")]
    Shutdown,
}

/// One peer as the transport needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Its raft peer id.
    pub peer_id: u64,
    /// Its identity (what its certificate must say).
    pub id: NodeId,
    /// Where it listens.
    pub address: MemberAddress,
}

/// Sends messages to peers. Implementations must not block the driver for
/// long: queue, and drop when a peer's queue is full.
pub trait Transport: Send {
    /// Queues `msg` for peer `msg.to`.
    fn send(&mut self, msg: Message);

    /// The current peers (called whenever the catalog's membership changes).
    fn set_peers(&mut self, peers: &[Peer]);

    /// The catalog's next peer id (called with [`Transport::set_peers`]):
    /// every peer id below it was assigned once, so one that is not among
    /// the current peers belongs to a removed member. A transport that can
    /// answers a removed member that contacts it with that news (the TCP
    /// transport does, in its HelloAck), so the member stops instead of
    /// campaigning forever with its old voter list. The default ignores it.
    fn set_next_peer_id(&mut self, next_peer_id: u64) {
        let _ = next_peer_id;
    }

    /// This member (raft peer `my_peer_id`) applied its own removal and
    /// lingers: ask the peers,
    /// without blocking, whether they are done with it, and report
    /// [`Inbound::Removed`] when one says so (the TCP transport dials each
    /// peer afresh: its listener answers a removed member's Hello with
    /// `removed`). The default does nothing: the member lingers until it
    /// is shut down.
    fn probe_removed(&mut self, my_peer_id: u64) {
        let _ = my_peer_id;
    }
}

/// What a transport hands to its member from outside the member's thread.
#[derive(Debug)]
pub enum Inbound {
    /// A raft message from a peer.
    Message(Message),
    /// A snapshot message to `peer_id` was delivered (`true`) or lost.
    SnapshotReport {
        /// The peer the snapshot was for.
        peer_id: u64,
        /// Whether it arrived.
        delivered: bool,
    },
    /// `peer_id` could not be reached.
    Unreachable {
        /// The peer.
        peer_id: u64,
    },
    /// Peer `by_peer` refused this member's connection because its catalog
    /// says this member (the peer id it dialled as) was removed from the
    /// cluster. The peer was authenticated, and a catalog only ever applies
    /// committed entries, so the removal is committed: the member stops.
    Removed {
        /// The peer that said so.
        by_peer: u64,
        /// Its account of the removal.
        detail: String,
    },
}

/// Where a member takes [`Inbound`] traffic: returns false once the member
/// has shut down.
pub type Deliver = Arc<dyn Fn(Inbound) -> bool + Send + Sync>;

/// The handle through which a transport delivers to one member.
#[derive(Clone)]
pub struct Inbox {
    deliver: Deliver,
    traffic: Arc<Traffic>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox that hands traffic to `deliver` and counts it in `traffic`.
    pub fn new(deliver: Deliver, traffic: Arc<Traffic>) -> Self {
        Self { deliver, traffic }
    }

    /// The member's per-peer traffic counters.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Delivers a message from a peer. Returns false when the member has
    /// shut down.
    pub fn deliver(&self, msg: Message) -> bool {
        (self.deliver)(Inbound::Message(msg))
    }

    /// Reports whether a snapshot message this member sent to `peer_id`
    /// arrived.
    pub fn report_snapshot(&self, peer_id: u64, delivered: bool) -> bool {
        (self.deliver)(Inbound::SnapshotReport { peer_id, delivered })
    }

    /// Reports that `peer_id` could not be reached.
    pub fn report_unreachable(&self, peer_id: u64) -> bool {
        (self.deliver)(Inbound::Unreachable { peer_id })
    }

    /// Reports that `by_peer` says this member was removed from the
    /// cluster.
    pub fn report_removed(&self, by_peer: u64, detail: String) -> bool {
        (self.deliver)(Inbound::Removed { by_peer, detail })
    }
}

/// Raises this process's soft limit on open files to its hard limit (each
/// connection takes a descriptor) and returns the soft limit in force
/// after, or `None` when it cannot be read. For programs that serve many
/// connections (`synod node`, the benchmark); the library never calls it on
/// its own: an embedding host owns its process's limits.
pub fn raise_open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill and setrlimit
    // to read.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Some(lim.rlim_cur)
}

/// Blocks SIGPIPE in the calling thread. Every thread the library starts
/// calls it first: a library must never raise SIGPIPE in its host (a C/C++
/// host keeps the default disposition, which kills the process), and writes
/// on sockets already use `MSG_NOSIGNAL` (see `tls::Socket`); this covers
/// any write a thread makes that does not.
pub(crate) fn block_sigpipe() {
    // SAFETY: manipulates only the calling thread's signal mask, with a set
    // built by sigemptyset/sigaddset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
