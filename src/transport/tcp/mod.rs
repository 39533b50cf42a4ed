//! The networked transport: TCP, mutual TLS ([`super::tls`]), threads.
//!
//! # Protocol
//! Every connection is dialled by the side that sends: member A's raft
//! messages to B travel on A's outbound connection to B's listener; B's
//! answers travel on B's own outbound connection to A. After TCP (with
//! `TCP_NODELAY` and keepalive, see below) and the TLS handshake (both sides present certificates of
//! the configured CA), the dialer sends a [`Hello`] frame with its role:
//!
//! * **peer** with the raft peer id it claims. The listener takes the
//!   dialer's identity from its certificate (with [`Security::Insecure`],
//!   from the Hello itself) and accepts only when that identity is a current
//!   member (the last [`Transport::set_peers`], which includes admitted
//!   members that have not joined yet; before the catalog names anyone,
//!   [`TcpConfig::seed_peers`]) whose peer id is the claimed one. It then
//!   answers a `HelloAck` and reads raft and snapshot-chunk frames. Each raft
//!   message is decoded with [`wire::decode_message`] (which refuses
//!   `MsgPropose` and local types) and must say `from == ` the authenticated
//!   peer id; the member check is repeated for every message, so a removed
//!   member's connection is cut at its next frame.
//!
//!   **Vouching.** A member whose catalog lags (it was down while members
//!   were admitted) knows nothing of the newer members, and would refuse a
//!   newer leader forever. So when the dialer's identity is not a member and
//!   it claims a peer id at or above this catalog's next peer id
//!   ([`Transport::set_next_peer_id`]; not while that is unknown), the
//!   listener asks the members of its own catalog, one at a time, who that
//!   peer id is: it dials each with its own peer Hello (checking it reached
//!   that member), sends one `WhoIs`, reads one `WhoIsAnswer` within
//!   [`TcpConfig::io_timeout`] and closes. It accepts iff a member it knows
//!   answers that the peer id belongs to exactly the dialer's identity; the
//!   peer then counts as a member (for its later frames, and a writer link
//!   to the address in the answer, so answers flow back) until a
//!   `set_next_peer_id` passes its peer id (by then the catalog lists it, or
//!   it was removed). A vouched peer never shadows a member: its peer id is
//!   at or above the next peer id and neither it nor its identity is any
//!   member's. At most one query runs per listener (a claim arriving
//!   meanwhile is refused; the dialer retries), all asks end by the Hello
//!   deadline, and a refused identity is refused without asking again for
//!   a few seconds. An accepted peer connection may send one `WhoIs` as its
//!   first frame instead of raft frames: the listener answers from its
//!   members and vouched peers and closes; such a connection is not the
//!   peer's raft connection (its end reports nothing).
//! * **client**: the listener answers a `HelloAck` and hands every
//!   request, with the client's identity, to the [`ClientHandler`]: a
//!   `ClientRequest` is answered by a `ClientResponse`, one at a time in
//!   order; a `ClientCall` (a call id, then the request) by `ClientReply`
//!   frames with that id, many calls in flight at once (at most
//!   [`MAX_CALLS_IN_FLIGHT`]) and answered as they finish; a streaming
//!   request (a watch) gets a reply per batch. Any identity of the CA may
//!   connect as a client; authorising what it asks is the handler's job.
//!
//! Anything else (a refused Hello, garbage, a truncated or oversize frame, a
//! frame kind that does not belong to the role, a spoofed sender, a broken
//! snapshot stream) closes that connection with a `tracing::warn!` naming the
//! remote address, identity (when known) and reason. A refused Hello gets no
//! answer. Before the Hello is accepted, frames larger than a Hello are
//! refused, and the handshake plus Hello must complete within
//! [`TcpConfig::io_timeout`].
//!
//! # Limits (anyone who can reach the port)
//! Peers, clients and unfinished handshakes share [`TcpConfig::max_inbound`]
//! slots (64). So that connecting, or holding a certificate of the CA, is
//! not enough to cut a member off from its peers:
//!
//! * **Unfinished handshakes give way.** A connection is *pending* until
//!   its Hello is accepted, and must get there within
//!   [`TcpConfig::io_timeout`]. One source (an IPv4 address, an IPv6 /64)
//!   holds at most [`TcpConfig::max_pending_per_source`] pending
//!   connections (half the slots); a new one from a source holding that
//!   many closes that source's oldest. When every slot is taken, the
//!   oldest pending connection of the source holding the most pending
//!   connections is closed for the new one; only when none is pending is
//!   the new one refused (and while closed ones are still leaving, at
//!   twice the slots). A flood from one address thus makes room from its
//!   own connections, and a member's handshake (milliseconds) from another
//!   address is never the one closed while the flood holds more.
//!   *Trade-off:* a new connection from a source at its share is not
//!   refused but takes the place of that source's oldest, because members
//!   may share an address with the flood (127.0.0.1 in tests, a NAT): they
//!   then get in by being quick, as with one shared pool, not by their
//!   address. Many addresses (a botnet) can still crowd out members that
//!   take longer to handshake than the flood takes to renew the slots.
//! * **Clients** leave the slots once their Hello is accepted: they are
//!   served on the runtime, bounded by
//!   [`TcpConfig::max_client_connections`] (16,384) in all and
//!   [`TcpConfig::max_client_connections_per_identity`] (16) per identity;
//!   more are refused (the reason is logged). A client with nothing in
//!   flight that sends no whole request for
//!   [`TcpConfig::client_idle_timeout`] (60 s) is closed, and one whose
//!   answers cannot be written within [`TcpConfig::io_timeout`] (it stopped
//!   reading) too; a [`ClientConnection`] that finds its connection closed
//!   between requests dials again before sending, so idle closes are
//!   invisible to its user.
//! * **Peers**: a peer id holds one raft connection (the newest one that
//!   carried raft frames: an older one is closed; one that speaks up after
//!   a newer one did is closed itself) and at most two spare connections
//!   (a `WhoIs` question, the next raft connection being dialled); a third
//!   spare closes the oldest. Peer connections have no idle timeout: a
//!   follower's connection to another follower is silent between
//!   elections.
//! * **Keepalive**: every accepted and dialled socket probes after
//!   [`KEEPALIVE_TIME`] (30 s) of silence, [`KEEPALIVE_RETRIES`] times
//!   [`KEEPALIVE_INTERVAL`] apart, so a connection whose other end vanished
//!   without a word (power loss, a dropped NAT mapping) ends within about a
//!   minute instead of holding its slot for ever.
//! * **Refusals** are logged at most ten a second; the rest are counted
//!   ([`TcpStats::refused_connections`]) and the next logged one says how
//!   many were not.
//!
//! # Sending
//! One writer thread per peer drains that peer's byte-bounded queue
//! ([`TcpConfig::queue_bytes`]; overflow is dropped and counted in
//! [`TcpStats`]; raft retries), writing whole batches through one buffered
//! flush. It dials when it has something to send; when the peer cannot be
//! reached it discards the queue, calls [`Inbox::report_unreachable`] and
//! waits with jittered exponential backoff ([`TcpConfig::backoff_min`] to
//! [`TcpConfig::backoff_max`]). The dialer checks that the certificate of
//! the listener it reached is the identity of the member it meant to reach.
//!
//! A `MsgSnapshot` is sent as a header chunk and data chunks of
//! [`TcpConfig::snapshot_chunk_len`] bytes ([`wire::SnapshotChunk`]); the
//! receiver reassembles it under [`TcpConfig::max_snapshot_bytes`] and
//! delivers the whole message. **Delivered** ([`Inbox::report_snapshot`]
//! with `true`) means every chunk was written and flushed to the socket; a
//! snapshot dropped from the queue, or whose batch hit a write error, is
//! reported `false`. (A snapshot lost after the kernel took it is found by
//! raft itself: the follower's next response shows it did not install it.)
//!
//! # Threads and shutdown
//! One accept thread; a tokio runtime of [`TcpConfig::client_threads`]
//! workers that runs every accepted connection's TLS handshake and Hello
//! and then serves the clients (no thread per client; calls that may wait
//! run on its blocking pool, at most [`TcpConfig::max_blocking_calls`]);
//! one thread per accepted peer connection; one writer thread per peer. A
//! 3-member cluster thus runs 1 + workers + 2 + 2 threads per member,
//! however many clients it serves (docs/adr/0010-async-client-serving.md).
//! [`TcpTransport::shutdown`] (also run on drop, so stopping a [`crate::Node`]
//! stops its transport) stops accepting, closes every queue, shuts every
//! socket down, stops the runtime (a handler call in progress gets five
//! seconds) and joins every thread; it returns within about
//! [`TcpConfig::connect_timeout`] (a writer may be in `connect`), plus the
//! time a [`ClientHandler`] call in progress takes.
//!
//! # Parts
//! * this module: the [`TcpTransport`], its [`TcpConfig`] and [`TcpStats`],
//!   and how messages from the member are queued for their peer;
//! * `shared`: the state the transport's threads share (membership, peer
//!   links, sockets to cut at shutdown, counters), making the links match
//!   the membership, and shutdown itself;
//! * `membership`: the catalog's members, its next peer id and the vouched
//!   peers, and the member check;
//! * `vouch`: asking known members to vouch for a peer admitted after this
//!   catalog's view, and answering their `WhoIs`;
//! * `peer_link`: one outbound connection per peer, its writer thread and
//!   reconnect backoff;
//! * `accept`: the accept loop and the inbound slots;
//! * `inbound`: every accepted connection's TLS handshake and Hello on the
//!   runtime, refusals, and the hand-over of a peer to its thread or of a
//!   client to `client_serve`;
//! * `peer_inbound`: an accepted peer's checks (vouching), HelloAck and
//!   frames, on its thread; how a connection's end is logged;
//! * `client_serve`: serving a client connection on the runtime: calls in
//!   flight by id, streams, back-pressure, idle and write timeouts;
//! * `async_io`: bytes and frames on the runtime (plain or TLS streams, the
//!   revocation re-check, a cancel-safe frame reader);
//! * `async_client`: the client's side for async callers
//!   ([`AsyncClientConnection`]);
//! * `limits`: the bookkeeping of the limits: pending connections by
//!   source, client connections by identity, peer connections by peer id;
//! * `client`: the client channel's traits (the [`ClientHandler`] and its
//!   [`ResponseStream`]s) and the client's blocking side
//!   ([`connect_client`], pipelined [`ClientConnection::call_all`]);
//! * `dialer`: connecting to a listener up to its HelloAck, and
//!   [`FrameConnection`];
//! * `framing`: reading and writing frames on a stream.
//!
//! [`Hello`]: wire::Hello

mod accept;
mod async_client;
mod async_io;
mod client;
mod client_serve;
mod dialer;
mod framing;
mod inbound;
mod limits;
mod membership;
mod peer_inbound;
mod peer_link;
mod probe;
mod shared;
#[cfg(test)]
mod tests;
mod vouch;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use raft::eraftpb::{Message, MessageType};

use super::queue::{Outgoing, SendQueue};
use super::tls::Security;
use super::wire::{self, encode_message, frame, FrameKind, MAX_FRAME_PAYLOAD};
use super::{Inbox, Peer, Transport, TransportError};
use accept::accept_loop;
pub use async_client::AsyncClientConnection;
pub use client::{connect_client, ClientConnection, ClientHandler, ResponseStream, HEARTBEAT};
pub use client_serve::MAX_CALLS_IN_FLIGHT;
pub use dialer::FrameConnection;
use peer_link::relink;
use shared::Shared;

/// How often blocked threads look at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);
/// How often the accept loop polls its non-blocking listener.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// Buffer for socket reads and batched writes.
const IO_BUF: usize = 64 << 10;
/// Idle time before TCP keepalive probes start, on every accepted and
/// dialled socket.
pub const KEEPALIVE_TIME: Duration = Duration::from_secs(30);
/// Time between keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered keepalive probes after which the kernel drops the
/// connection (so a vanished peer or client is noticed within about
/// `KEEPALIVE_TIME + KEEPALIVE_RETRIES * KEEPALIVE_INTERVAL`, one minute).
pub const KEEPALIVE_RETRIES: u32 = 3;

/// The default of [`TcpConfig::max_client_connections`].
pub const DEFAULT_MAX_CLIENT_CONNECTIONS: usize = 16_384;

/// How to run a [`TcpTransport`].
#[derive(Clone)]
pub struct TcpConfig {
    /// Where to listen (port 0 picks a free one; see
    /// [`TcpTransport::local_addr`]).
    pub listen: SocketAddr,
    /// TLS material, or the insecure test/dev mode.
    pub security: Security,
    /// The members to talk to, and to accept, before the catalog names any
    /// (a joining member with an empty store: the member list the admitting
    /// leader reported). Ignored once `set_peers` gives a non-empty list.
    pub seed_peers: Vec<Peer>,
    /// Per-peer send queue bound, in bytes.
    pub queue_bytes: usize,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Deadline for the TLS handshake plus Hello exchange, and the socket
    /// write timeout.
    pub io_timeout: Duration,
    /// First reconnect delay (before jitter).
    pub backoff_min: Duration,
    /// Largest reconnect delay (before jitter).
    pub backoff_max: Duration,
    /// Inbound connections served at once. When all are taken, the oldest
    /// connection that has not had its Hello accepted, of the source
    /// holding the most such connections, is closed to make room (a silent
    /// flood cannot lock members out); clients may hold at most three
    /// quarters of them; refusals are logged at most ten a second.
    pub max_inbound: usize,
    /// Connections that have not had their Hello accepted one source (an
    /// IPv4 address, an IPv6 /64) may hold; a source holding that many
    /// gives way its own oldest for a new one. `None`: half of
    /// `max_inbound`.
    pub max_pending_per_source: Option<usize>,
    /// Client connections open at once (after their Hello; they hold no
    /// inbound slot); more are refused.
    pub max_client_connections: usize,
    /// Client connections one identity may hold at once; more are refused.
    pub max_client_connections_per_identity: usize,
    /// Threads of the async runtime that runs every handshake and serves
    /// the clients.
    pub client_threads: usize,
    /// Client calls that may wait (proposals, reads at an index) served at
    /// once, each on a thread of the runtime's blocking pool; more wait
    /// for one.
    pub max_blocking_calls: usize,
    /// A client connection that sends no whole request for this long is
    /// closed (its client reconnects when it next asks).
    pub client_idle_timeout: Duration,
    /// Largest snapshot message reassembled from chunks.
    pub max_snapshot_bytes: usize,
    /// Data bytes per snapshot chunk sent.
    pub snapshot_chunk_len: usize,
    /// Serves client connections; without one, clients are refused.
    pub client_handler: Option<Arc<dyn ClientHandler>>,
}

impl std::fmt::Debug for TcpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpConfig")
            .field("listen", &self.listen)
            .field("security", &self.security)
            .field("seed_peers", &self.seed_peers)
            .field("queue_bytes", &self.queue_bytes)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("max_inbound", &self.max_inbound)
            .field("max_pending_per_source", &self.max_pending_per_source)
            .field("max_client_connections", &self.max_client_connections)
            .field(
                "max_client_connections_per_identity",
                &self.max_client_connections_per_identity,
            )
            .field("client_threads", &self.client_threads)
            .field("max_blocking_calls", &self.max_blocking_calls)
            .field("client_idle_timeout", &self.client_idle_timeout)
            .field("max_snapshot_bytes", &self.max_snapshot_bytes)
            .field("snapshot_chunk_len", &self.snapshot_chunk_len)
            .field("client_handler", &self.client_handler.is_some())
            .finish()
    }
}

impl TcpConfig {
    /// Defaults: 16 MiB per peer queue, 2 s connect timeout, 5 s I/O
    /// timeout, backoff 50 ms to 2 s, 64 inbound connections (32 pending
    /// per source, 16 per client identity, idle clients closed after 60 s),
    /// snapshots up to [`wire::MAX_SNAPSHOT_MESSAGE`] in
    /// [`wire::SNAPSHOT_CHUNK_LEN`] chunks, no client handler, no seed
    /// peers.
    pub fn new(listen: SocketAddr, security: Security) -> Self {
        Self {
            listen,
            security,
            seed_peers: Vec::new(),
            queue_bytes: 16 << 20,
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            max_inbound: 64,
            max_pending_per_source: None,
            max_client_connections: DEFAULT_MAX_CLIENT_CONNECTIONS,
            max_client_connections_per_identity: 16,
            client_threads: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 4),
            max_blocking_calls: 512,
            client_idle_timeout: Duration::from_secs(60),
            max_snapshot_bytes: wire::MAX_SNAPSHOT_MESSAGE,
            snapshot_chunk_len: wire::SNAPSHOT_CHUNK_LEN,
            client_handler: None,
        }
    }
}

/// Counters of a [`TcpTransport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Messages dropped: queue full, peer unreachable, unknown peer.
    pub dropped_messages: u64,
    /// Their encoded bytes.
    pub dropped_bytes: u64,
    /// Inbound connections refused (TLS failure, not a member, bad Hello,
    /// too many connections).
    pub refused_connections: u64,
    /// Authenticated connections closed for a bad frame or message (a
    /// connection reset is not counted).
    pub bad_connections: u64,
    /// Raft messages handed to the inbox.
    pub delivered_messages: u64,
    /// Snapshots fully written to a socket.
    pub snapshots_sent: u64,
    /// Snapshots reassembled and handed to the inbox.
    pub snapshots_received: u64,
    /// Client requests answered.
    pub client_requests: u64,
    /// WhoIs questions this member sent to known peers to vouch for a
    /// connecting peer.
    pub vouch_queries: u64,
    /// Peers accepted now on a known member's word (see the module docs).
    pub vouched_peers: usize,
    /// Inbound connections closed before their Hello to make room for
    /// newer ones (the slots were full, or their source held its share).
    pub evicted_connections: u64,
    /// Client connections closed for asking nothing for
    /// [`TcpConfig::client_idle_timeout`].
    pub idle_clients_closed: u64,
    /// Peer connections closed because a newer connection of the same peer
    /// id replaced them (as its raft connection, or as a spare).
    pub superseded_peer_connections: u64,
    /// Inbound connections being served now.
    pub inbound_connections: usize,
    /// Of those, connections that have not had their Hello accepted.
    pub pending_connections: usize,
    /// Of those, accepted client connections.
    pub client_connections: usize,
    /// Bytes queued for peers now.
    pub queued_bytes: usize,
}

/// The TCP transport of one member. See the module docs for the protocol,
/// the threads and shutdown.
pub struct TcpTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("local_addr", &self.shared.local_addr)
            .field("identity", self.shared.cfg.security.identity())
            .finish_non_exhaustive()
    }
}

/// A cheap handle on a running [`TcpTransport`] (for its address, counters
/// and shutdown) that stays usable after the transport moved into a
/// [`crate::Node`].
#[derive(Clone)]
pub struct TcpHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TcpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpHandle")
            .field("local_addr", &self.shared.local_addr)
            .finish_non_exhaustive()
    }
}

impl TcpHandle {
    /// Where the listener listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The counters.
    pub fn stats(&self) -> TcpStats {
        self.shared.stats()
    }

    /// Stops the transport (see [`TcpTransport::shutdown`]).
    pub fn shutdown(&self) {
        self.shared.shutdown();
    }
}

impl TcpTransport {
    /// Binds the listener and starts the accept thread. Connections are
    /// served at once, but raft messages are delivered only after
    /// [`TcpTransport::attach`] (until then they are dropped; raft retries).
    pub fn bind(config: TcpConfig) -> Result<TcpTransport, TransportError> {
        let listener = TcpListener::bind(config.listen).map_err(|source| TransportError::Io {
            context: format!("binding {}", config.listen),
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| TransportError::Io {
            context: "reading the listener's address".into(),
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| TransportError::Io {
                context: format!("configuring the listener on {local_addr}"),
                source,
            })?;
        let members = config
            .seed_peers
            .iter()
            .map(|p| (p.peer_id, p.clone()))
            .collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.client_threads.max(1))
            .max_blocking_threads(config.max_blocking_calls.max(1))
            .thread_name("synod-tcp-async")
            .on_thread_start(crate::transport::block_sigpipe)
            .enable_io()
            .enable_time()
            .build()
            .map_err(|source| TransportError::Io {
                context: "starting the transport's runtime".into(),
                source,
            })?;
        let shared = Arc::new(Shared::new(config, local_addr, members, runtime));
        let s = shared.clone();
        shared.spawn("synod-tcp-accept".into(), move || accept_loop(s, listener))?;
        relink(&shared);
        Ok(TcpTransport { shared })
    }

    /// Connects the transport to its member's inbox (in the closure given
    /// to [`crate::Node::start`]).
    pub fn attach(self, inbox: Inbox) -> Self {
        if self.shared.inbox.set(inbox).is_err() {
            tracing::warn!("transport attached twice; keeping the first inbox");
        }
        self
    }

    /// Where the listener listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// A handle for the address, counters and shutdown.
    pub fn handle(&self) -> TcpHandle {
        TcpHandle {
            shared: self.shared.clone(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> TcpStats {
        self.shared.stats()
    }

    /// Stops accepting, closes every queue and socket and joins every
    /// thread. Idempotent; also run on drop.
    pub fn shutdown(&mut self) {
        self.shared.shutdown();
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, msg: Message) {
        if msg.from != 0 {
            self.shared.my_peer_id.store(msg.from, Ordering::Relaxed);
        }
        let to = msg.to;
        let is_snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
        let bytes = match encode_message(&msg) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(to, "cannot encode a raft message: {e}");
                if is_snapshot {
                    self.shared.report_snapshot(to, false);
                }
                return;
            }
        };
        let item = if is_snapshot {
            Outgoing::Snapshot(bytes)
        } else if bytes.len() > MAX_FRAME_PAYLOAD {
            tracing::error!(to, len = bytes.len(), "raft message too large for a frame");
            self.shared.dropped_other.fetch_add(1, Ordering::Relaxed);
            return;
        } else {
            Outgoing::Frame(frame(FrameKind::Raft, &bytes))
        };
        let link = lock(&self.shared.links).get(&to).cloned();
        let rejected = match link {
            Some(link) => link.queue.push(item).err(),
            None => {
                self.shared.dropped_other.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .dropped_other_bytes
                    .fetch_add(item.cost() as u64, Ordering::Relaxed);
                self.shared.report_unreachable(to);
                Some(item)
            }
        };
        if rejected.is_some() {
            if let Some(inbox) = self.shared.inbox.get() {
                inbox
                    .traffic()
                    .peer(to)
                    .dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
            if is_snapshot {
                self.shared.report_snapshot(to, false);
            }
        }
    }

    fn set_peers(&mut self, peers: &[Peer]) {
        let effective: Vec<Peer> = if peers.is_empty() {
            self.shared.cfg.seed_peers.clone()
        } else {
            peers.to_vec()
        };
        // The members' literal IP addresses: their handshakes are protected
        // from floods from elsewhere (see `Pending::evict_from_heaviest`).
        let sources = effective
            .iter()
            .filter_map(|p| p.address.as_str().parse::<std::net::SocketAddr>().ok())
            .map(|a| limits::Source::of(a.ip()))
            .collect();
        self.shared.set_member_sources(sources);
        let dropped = self
            .shared
            .membership_mut()
            .set_catalog(effective.iter().map(|p| (p.peer_id, p.clone())).collect());
        log_dropped_vouches(&dropped, "the catalog lists its peer id or identity now");
        relink(&self.shared);
    }

    fn probe_removed(&mut self, my_peer_id: u64) {
        probe::probe_removed(&self.shared, my_peer_id);
    }

    fn set_next_peer_id(&mut self, next_peer_id: u64) {
        let dropped = self.shared.membership_mut().set_next_peer_id(next_peer_id);
        if !dropped.is_empty() {
            log_dropped_vouches(
                &dropped,
                "the catalog's view passed its peer id (it lists the peer, or removed it)",
            );
            relink(&self.shared);
        }
    }
}

/// Logs the vouched peers the catalog made unnecessary, and why.
fn log_dropped_vouches(dropped: &[Peer], why: &str) {
    for p in dropped {
        tracing::info!(peer_id = p.peer_id, identity = %p.id, "no longer vouched for: {why}");
    }
}

/// Locks `m`, going on after a thread panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns TCP keepalive on for `sock` ([`KEEPALIVE_TIME`],
/// [`KEEPALIVE_INTERVAL`], [`KEEPALIVE_RETRIES`] where the platform has
/// them): a peer or client that vanished without closing (power loss, a
/// dropped NAT mapping) is found and its connection ends.
fn keepalive(sock: &std::net::TcpStream) -> std::io::Result<()> {
    let params = socket2::TcpKeepalive::new().with_time(KEEPALIVE_TIME);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "windows"
    ))]
    let params = params
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    socket2::SockRef::from(sock).set_tcp_keepalive(&params)
}

/// Turns a socket error into a [`TransportError::Io`] that says what was
/// being done (`what`) with whom (`peer`).
fn sock_err(peer: &str, what: &str) -> impl Fn(std::io::Error) -> TransportError {
    let context = format!("{what} {peer}");
    move |source| TransportError::Io {
        context: context.clone(),
        source,
    }
}
