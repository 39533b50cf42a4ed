//! The networked transport: TCP, mutual TLS ([`super::tls`]), threads.
//!
//! # Protocol
//! Every connection is dialled by the side that sends: member A's raft
//! messages to B travel on A's outbound connection to B's listener; B's
//! answers travel on B's own outbound connection to A. After TCP (with
//! `TCP_NODELAY`) and the TLS handshake (both sides present certificates of
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
//! * **client**: the listener answers a `HelloAck` and hands every
//!   `ClientRequest` payload, with the client's identity, to the
//!   [`ClientHandler`], writing back its answer as a `ClientResponse`. Any
//!   identity of the CA may connect as a client; authorising what it asks is
//!   the handler's job.
//!
//! Anything else (a refused Hello, garbage, a truncated or oversize frame, a
//! frame kind that does not belong to the role, a spoofed sender, a broken
//! snapshot stream) closes that connection with a `tracing::warn!` naming the
//! remote address, identity (when known) and reason. A refused Hello gets no
//! answer. Before the Hello is accepted, frames larger than a Hello are
//! refused, and the handshake plus Hello must complete within
//! [`TcpConfig::io_timeout`].
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
//! One accept thread; one thread per inbound connection (at most
//! [`TcpConfig::max_inbound`]; more are refused); one writer thread per
//! peer. A 3-member cluster thus runs 1 + 2 + 2 threads per member.
//! [`TcpTransport::shutdown`] (also run on drop, so stopping a [`crate::Node`]
//! stops its transport) stops accepting, closes every queue, shuts every
//! socket down and joins every thread; it returns within about
//! [`TcpConfig::connect_timeout`] (a writer may be in `connect`), plus the
//! time a [`ClientHandler`] call in progress takes.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft::eraftpb::{Message, MessageType};

use super::queue::{Outgoing, SendQueue};
use super::tls::{accept_tls, connect_tls, io_error, is_timeout, Security, Stream};
use super::wire::{
    self, decode_hello, decode_hello_ack, decode_message, encode_hello, encode_hello_ack,
    encode_message, frame, FrameDecoder, FrameKind, Hello, HelloRole, SnapshotAssembler,
    MAX_FRAME_PAYLOAD, MAX_HELLO_PAYLOAD,
};
use super::{Inbox, Peer, Transport, TransportError};
use crate::entry::NodeId;

/// How often blocked threads look at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);
/// How often the accept loop polls its non-blocking listener.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// Buffer for socket reads and batched writes.
const IO_BUF: usize = 64 << 10;

/// Serves client connections: gets each request payload with the client's
/// authenticated identity and returns the response payload. Called on the
/// connection's own thread; one call at a time per connection, calls for
/// different connections run concurrently. Payloads are opaque here.
pub trait ClientHandler: Send + Sync {
    /// Answers one request.
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8>;
}

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
    /// Most inbound connections served at once.
    pub max_inbound: usize,
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
            .field("max_snapshot_bytes", &self.max_snapshot_bytes)
            .field("snapshot_chunk_len", &self.snapshot_chunk_len)
            .field("client_handler", &self.client_handler.is_some())
            .finish()
    }
}

impl TcpConfig {
    /// Defaults: 16 MiB per peer queue, 2 s connect timeout, 5 s I/O
    /// timeout, backoff 50 ms to 2 s, 64 inbound connections, snapshots up
    /// to [`wire::MAX_SNAPSHOT_MESSAGE`] in [`wire::SNAPSHOT_CHUNK_LEN`]
    /// chunks, no client handler, no seed peers.
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
    /// Inbound connections being served now.
    pub inbound_connections: usize,
    /// Bytes queued for peers now.
    pub queued_bytes: usize,
}

struct PeerLink {
    queue: SendQueue,
    target: Mutex<Peer>,
    generation: AtomicU64,
}

impl PeerLink {
    fn target(&self) -> Peer {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

struct Shared {
    cfg: TcpConfig,
    local_addr: SocketAddr,
    inbox: OnceLock<Inbox>,
    members: RwLock<HashMap<u64, Peer>>,
    links: Mutex<HashMap<u64, Arc<PeerLink>>>,
    my_peer_id: AtomicU64,
    stopping: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next_socket: AtomicU64,
    next_stream: AtomicU64,
    inbound: AtomicUsize,
    // Counters.
    dropped_other: AtomicU64,
    dropped_other_bytes: AtomicU64,
    refused: AtomicU64,
    bad: AtomicU64,
    delivered: AtomicU64,
    snapshots_sent: AtomicU64,
    snapshots_received: AtomicU64,
    client_requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn spawn(
        self: &Arc<Self>,
        name: String,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<(), TransportError> {
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map_err(|source| TransportError::Io {
                context: "starting a transport thread".into(),
                source,
            })?;
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Remembers a socket so shutdown can cut it; returns its key.
    fn register(&self, sock: &TcpStream) -> Option<u64> {
        let clone = sock.try_clone().ok()?;
        let key = self.next_socket.fetch_add(1, Ordering::Relaxed);
        lock(&self.sockets).insert(key, clone);
        Some(key)
    }

    fn unregister(&self, key: Option<u64>) {
        if let Some(k) = key {
            lock(&self.sockets).remove(&k);
        }
    }

    /// Why `identity` claiming `peer_id` is not a current member, if it is
    /// not.
    fn check_member(&self, identity: &NodeId, peer_id: u64) -> Result<(), String> {
        let members = self.members.read().unwrap_or_else(|p| p.into_inner());
        match members.values().find(|p| &p.id == identity) {
            None => Err("not a member".into()),
            Some(p) if p.peer_id != peer_id => Err(format!(
                "claims peer id {peer_id} but the member's peer id is {}",
                p.peer_id
            )),
            Some(_) => Ok(()),
        }
    }

    fn report_unreachable(&self, peer_id: u64) {
        if let Some(inbox) = self.inbox.get() {
            inbox.report_unreachable(peer_id);
        }
    }

    fn report_snapshot(&self, peer_id: u64, delivered: bool) {
        if let Some(inbox) = self.inbox.get() {
            inbox.report_snapshot(peer_id, delivered);
        }
    }

    /// Reports lost items: snapshots as not delivered.
    fn lost(&self, peer_id: u64, items: &[Outgoing]) {
        for item in items {
            if matches!(item, Outgoing::Snapshot(_)) {
                self.report_snapshot(peer_id, false);
            }
        }
    }

    fn stats(&self) -> TcpStats {
        let links = lock(&self.links);
        let (mut dropped, mut dropped_bytes, mut queued) = (0, 0, 0);
        for l in links.values() {
            let (n, b) = l.queue.dropped();
            dropped += n;
            dropped_bytes += b;
            queued += l.queue.bytes();
        }
        TcpStats {
            dropped_messages: dropped + self.dropped_other.load(Ordering::Relaxed),
            dropped_bytes: dropped_bytes + self.dropped_other_bytes.load(Ordering::Relaxed),
            refused_connections: self.refused.load(Ordering::Relaxed),
            bad_connections: self.bad.load(Ordering::Relaxed),
            delivered_messages: self.delivered.load(Ordering::Relaxed),
            snapshots_sent: self.snapshots_sent.load(Ordering::Relaxed),
            snapshots_received: self.snapshots_received.load(Ordering::Relaxed),
            client_requests: self.client_requests.load(Ordering::Relaxed),
            inbound_connections: self.inbound.load(Ordering::Relaxed),
            queued_bytes: queued,
        }
    }

    fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for link in lock(&self.links).values() {
            link.queue.close();
        }
        for sock in lock(&self.sockets).values() {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        loop {
            let threads: Vec<JoinHandle<()>> = lock(&self.threads).drain(..).collect();
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let name = t.thread().name().unwrap_or("?").to_string();
                if t.join().is_err() {
                    tracing::error!("transport thread {name} panicked");
                }
            }
        }
    }
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
        let shared = Arc::new(Shared {
            cfg: config,
            local_addr,
            inbox: OnceLock::new(),
            members: RwLock::new(members),
            links: Mutex::new(HashMap::new()),
            my_peer_id: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            sockets: Mutex::new(HashMap::new()),
            next_socket: AtomicU64::new(0),
            next_stream: AtomicU64::new(1),
            inbound: AtomicUsize::new(0),
            dropped_other: AtomicU64::new(0),
            dropped_other_bytes: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bad: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            snapshots_sent: AtomicU64::new(0),
            snapshots_received: AtomicU64::new(0),
            client_requests: AtomicU64::new(0),
        });
        let s = shared.clone();
        shared.spawn("synod-tcp-accept".into(), move || accept_loop(s, listener))?;
        let mut t = TcpTransport { shared };
        let seeds = t.shared.cfg.seed_peers.clone();
        t.reconcile(&seeds);
        Ok(t)
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

    /// Makes the writer threads match `peers` (minus this member).
    fn reconcile(&mut self, peers: &[Peer]) {
        let me = self.shared.cfg.security.identity().clone();
        if let Some(p) = peers.iter().find(|p| p.id == me) {
            self.shared.my_peer_id.store(p.peer_id, Ordering::Relaxed);
        }
        let mut links = lock(&self.shared.links);
        links.retain(|id, link| {
            let keep = peers.iter().any(|p| p.peer_id == *id && p.id != me);
            if !keep {
                link.queue.close();
                let (n, b) = link.queue.dropped();
                self.shared.dropped_other.fetch_add(n, Ordering::Relaxed);
                self.shared
                    .dropped_other_bytes
                    .fetch_add(b, Ordering::Relaxed);
            }
            keep
        });
        if self.shared.stopping() {
            return;
        }
        for p in peers.iter().filter(|p| p.id != me) {
            if let Some(link) = links.get(&p.peer_id) {
                let mut target = lock(&link.target);
                if *target != *p {
                    *target = p.clone();
                    link.generation.fetch_add(1, Ordering::SeqCst);
                }
                continue;
            }
            let link = Arc::new(PeerLink {
                queue: SendQueue::new(self.shared.cfg.queue_bytes),
                target: Mutex::new(p.clone()),
                generation: AtomicU64::new(0),
            });
            let (s, l, peer_id) = (self.shared.clone(), link.clone(), p.peer_id);
            match self
                .shared
                .spawn(format!("synod-tcp-out-{peer_id}"), move || {
                    writer_loop(s, l, peer_id)
                }) {
                Ok(()) => {
                    links.insert(p.peer_id, link);
                }
                Err(e) => tracing::error!(peer_id, "no writer for peer: {e}"),
            }
        }
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
        *self
            .shared
            .members
            .write()
            .unwrap_or_else(|p| p.into_inner()) =
            effective.iter().map(|p| (p.peer_id, p.clone())).collect();
        self.reconcile(&effective);
    }
}

// ---------------------------------------------------------------------------
// Reading frames.
// ---------------------------------------------------------------------------

struct FrameReader {
    dec: FrameDecoder,
    buf: Vec<u8>,
}

impl FrameReader {
    fn new(limit: usize) -> Self {
        Self {
            dec: FrameDecoder::with_limit(limit),
            buf: vec![0; IO_BUF],
        }
    }

    /// The next frame; `Ok(None)` when the other side closed cleanly
    /// between frames. Socket timeouts are polls: they end the wait only
    /// when `stop` is set or `deadline` passed.
    fn read(
        &mut self,
        stream: &mut Stream,
        stop: Option<&AtomicBool>,
        deadline: Option<Instant>,
        peer: &str,
    ) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return Ok(Some(f));
            }
            match stream.read(&mut self.buf) {
                Ok(0) => return self.eof(peer),
                Ok(n) => self.dec.feed(&self.buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return self.eof(peer),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                        return Err(TransportError::Shutdown);
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(TransportError::Timeout(format!("waiting for {peer}")));
                    }
                }
                Err(e) => return Err(io_error(peer, "reading from", e)),
            }
        }
    }

    fn eof(&self, peer: &str) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        if self.dec.buffered() == 0 {
            Ok(None)
        } else {
            Err(TransportError::Protocol {
                peer: peer.to_string(),
                detail: format!(
                    "connection closed inside a frame ({} bytes pending)",
                    self.dec.buffered()
                ),
            })
        }
    }
}

fn write_frame(
    stream: &mut Stream,
    kind: FrameKind,
    payload: &[u8],
    peer: &str,
) -> Result<(), TransportError> {
    stream
        .write_all(&frame(kind, payload))
        .and_then(|()| stream.flush())
        .map_err(|e| io_error(peer, "writing to", e))
}

// ---------------------------------------------------------------------------
// Dialling.
// ---------------------------------------------------------------------------

fn sock_err(peer: &str, what: &str) -> impl Fn(std::io::Error) -> TransportError {
    let context = format!("{what} {peer}");
    move |source| TransportError::Io {
        context: context.clone(),
        source,
    }
}

/// Connects, handshakes, says Hello and waits for the HelloAck.
fn dial(
    security: &Security,
    address: &str,
    role: HelloRole,
    expect: Option<&NodeId>,
    connect_timeout: Duration,
    io_timeout: Duration,
    stop: Option<&AtomicBool>,
) -> Result<(Stream, Option<NodeId>), TransportError> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| TransportError::Address {
            addr: address.to_string(),
            detail: e.to_string(),
        })?
        .collect();
    let mut last = None;
    let mut sock = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, connect_timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let sock = match (sock, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(sock_err(address, "connecting to")(e)),
        (None, None) => {
            return Err(TransportError::Address {
                addr: address.to_string(),
                detail: "resolves to no address".into(),
            })
        }
    };
    let setup = sock_err(address, "configuring the connection to");
    sock.set_nodelay(true).map_err(&setup)?;
    sock.set_read_timeout(Some(POLL.min(io_timeout)))
        .map_err(&setup)?;
    sock.set_write_timeout(Some(io_timeout)).map_err(&setup)?;
    let deadline = Instant::now() + io_timeout;
    let (mut stream, claim) = match security {
        Security::Tls(cfg) => (connect_tls(cfg, sock, address, deadline, stop)?, None),
        Security::Insecure { identity } => (Stream::Plain(sock), Some(identity.clone())),
    };
    let server = stream.peer_identity()?;
    if let (Some(expect), Some(got)) = (expect, &server) {
        if got != expect {
            stream.close();
            return Err(TransportError::NotAuthorized(format!(
                "{address} presented identity {got}, expected {expect}"
            )));
        }
    }
    let hello = Hello {
        role,
        identity: claim,
    };
    write_frame(
        &mut stream,
        FrameKind::Hello,
        &encode_hello(&hello),
        address,
    )?;
    let mut reader = FrameReader::new(16);
    match reader.read(&mut stream, stop, Some(deadline), address)? {
        None => Err(TransportError::Refused {
            addr: address.to_string(),
        }),
        Some((FrameKind::HelloAck, p)) => {
            decode_hello_ack(&p)?;
            Ok((stream, server))
        }
        Some((kind, _)) => Err(TransportError::Protocol {
            peer: address.to_string(),
            detail: format!("expected a HelloAck, got a {kind:?} frame"),
        }),
    }
}

/// A connection that has been accepted by a listener: raw frame access, for
/// tools and tests. [`ClientConnection`] is the request/response face.
pub struct FrameConnection {
    stream: Stream,
    reader: FrameReader,
    addr: String,
    server: Option<NodeId>,
}

impl std::fmt::Debug for FrameConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameConnection")
            .field("addr", &self.addr)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl FrameConnection {
    /// Dials `addr` (`host:port`), runs the TLS handshake (or not, when
    /// insecure), sends a Hello with `role` and waits for the HelloAck, all
    /// within `timeout`. A listener that refuses closes the connection:
    /// [`TransportError::Refused`] (or a TLS error when it refused the
    /// certificate).
    pub fn dial(
        addr: &str,
        security: &Security,
        role: HelloRole,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let (stream, server) = dial(security, addr, role, None, timeout, timeout, None)?;
        Ok(Self {
            stream,
            reader: FrameReader::new(MAX_FRAME_PAYLOAD),
            addr: addr.to_string(),
            server,
        })
    }

    /// The identity in the listener's certificate (`None` when insecure).
    pub fn server_identity(&self) -> Option<&NodeId> {
        self.server.as_ref()
    }

    /// Sends one frame.
    pub fn send_frame(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), TransportError> {
        write_frame(&mut self.stream, kind, payload, &self.addr)
    }

    /// Sends bytes as they are (for tests of what a listener does with
    /// garbage).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| io_error(&self.addr, "writing to", e))
    }

    /// The next frame within `timeout`; `Ok(None)` when the listener closed
    /// the connection.
    pub fn read_frame(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        self.reader.read(
            &mut self.stream,
            None,
            Some(Instant::now() + timeout),
            &self.addr,
        )
    }
}

impl Drop for FrameConnection {
    fn drop(&mut self) {
        self.stream.close();
    }
}

/// A client's connection to a member's listener.
#[derive(Debug)]
pub struct ClientConnection {
    conn: FrameConnection,
    broken: bool,
}

/// Connects to the listener at `addr` as a client, within `timeout`. With
/// TLS the client's identity is its certificate's; when insecure it is the
/// identity in `security`.
pub fn connect_client(
    addr: &str,
    security: &Security,
    timeout: Duration,
) -> Result<ClientConnection, TransportError> {
    Ok(ClientConnection {
        conn: FrameConnection::dial(addr, security, HelloRole::Client, timeout)?,
        broken: false,
    })
}

impl ClientConnection {
    /// The identity in the listener's certificate (`None` when insecure).
    pub fn server_identity(&self) -> Option<&NodeId> {
        self.conn.server_identity()
    }

    /// Sends one request and waits up to `timeout` for its response. After
    /// an error the connection is unusable (a late response would be
    /// mistaken for the next one's): connect again.
    pub fn request(
        &mut self,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        if self.broken {
            return Err(TransportError::Closed(self.conn.addr.clone()));
        }
        if payload.len() > MAX_FRAME_PAYLOAD {
            return Err(wire::WireError::TooLarge {
                len: payload.len(),
                max: MAX_FRAME_PAYLOAD,
            }
            .into());
        }
        self.broken = true;
        self.conn.send_frame(FrameKind::ClientRequest, payload)?;
        match self.conn.read_frame(timeout)? {
            Some((FrameKind::ClientResponse, response)) => {
                self.broken = false;
                Ok(response)
            }
            Some((kind, _)) => Err(TransportError::Protocol {
                peer: self.conn.addr.clone(),
                detail: format!("expected a ClientResponse, got a {kind:?} frame"),
            }),
            None => Err(TransportError::Closed(self.conn.addr.clone())),
        }
    }
}

// ---------------------------------------------------------------------------
// Writer threads.
// ---------------------------------------------------------------------------

/// Jittered exponential backoff: each delay is drawn from [d/2, d], with d
/// doubling from `min` up to `max`.
struct Backoff {
    min: Duration,
    max: Duration,
    cur: Duration,
    rng: u64,
}

impl Backoff {
    fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Self {
            min,
            max: max.max(min),
            cur: min,
            rng: seed,
        }
    }

    fn reset(&mut self) {
        self.cur = self.min;
    }

    fn next(&mut self) -> Duration {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let d = self.cur;
        self.cur = (self.cur * 2).min(self.max);
        let half = d / 2;
        let span = (d - half).as_nanos().max(1) as u64;
        half + Duration::from_nanos(z % (span + 1))
    }
}

struct Outbound {
    stream: Stream,
    generation: u64,
    socket_key: Option<u64>,
}

fn writer_loop(shared: Arc<Shared>, link: Arc<PeerLink>, peer_id: u64) {
    let seed = peer_id
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    let cfg = &shared.cfg;
    let mut backoff = Backoff::new(cfg.backoff_min, cfg.backoff_max, seed);
    let mut failures = 0u32;
    let mut conn: Option<Outbound> = None;
    let close = |c: Outbound| {
        let mut c = c;
        c.stream.close();
        shared.unregister(c.socket_key);
    };
    loop {
        if shared.stopping() || link.queue.is_closed() {
            break;
        }
        let batch = link.queue.pop_all(POLL);
        if batch.is_empty() {
            continue;
        }
        let generation = link.generation.load(Ordering::SeqCst);
        if let Some(c) = conn.take() {
            if c.generation == generation {
                conn = Some(c);
            } else {
                close(c);
            }
        }
        if conn.is_none() {
            let target = link.target();
            let me = shared.my_peer_id.load(Ordering::Relaxed);
            let dialled = if me == 0 {
                Err(TransportError::NotAuthorized(
                    "this member's own peer id is not known yet".into(),
                ))
            } else {
                dial(
                    &cfg.security,
                    target.address.as_str(),
                    HelloRole::Peer { peer_id: me },
                    Some(&target.id),
                    cfg.connect_timeout,
                    cfg.io_timeout,
                    Some(&shared.stopping),
                )
            };
            match dialled {
                Ok((stream, _)) => {
                    if failures > 0 {
                        tracing::info!(peer_id, address = %target.address, "reconnected to peer");
                    }
                    failures = 0;
                    backoff.reset();
                    let socket_key = shared.register(stream.socket());
                    conn = Some(Outbound {
                        stream,
                        generation,
                        socket_key,
                    });
                }
                Err(e) => {
                    if shared.stopping() {
                        break;
                    }
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(peer_id, address = %target.address, "cannot reach peer: {e}");
                    } else {
                        tracing::debug!(peer_id, address = %target.address, failures, "cannot reach peer: {e}");
                    }
                    let bytes = batch.iter().map(Outgoing::cost).sum();
                    link.queue.count_lost(batch.len(), bytes);
                    shared.lost(peer_id, &batch);
                    let discarded = link.queue.discard();
                    shared.lost(peer_id, &discarded);
                    shared.report_unreachable(peer_id);
                    if link.queue.wait_closed(backoff.next()) {
                        break;
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = write_batch(&shared, &mut c.stream, &batch) {
            if !shared.stopping() {
                tracing::warn!(peer_id, "connection to peer lost: {e}");
            }
            let bytes = batch.iter().map(Outgoing::cost).sum();
            link.queue.count_lost(batch.len(), bytes);
            shared.lost(peer_id, &batch);
            shared.report_unreachable(peer_id);
            if let Some(c) = conn.take() {
                close(c);
            }
            continue;
        }
        if let Some(inbox) = shared.inbox.get() {
            let bytes: usize = batch.iter().map(Outgoing::cost).sum();
            inbox
                .traffic()
                .peer(peer_id)
                .bytes_out
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
        for item in &batch {
            if matches!(item, Outgoing::Snapshot(_)) {
                shared.snapshots_sent.fetch_add(1, Ordering::Relaxed);
                shared.report_snapshot(peer_id, true);
            }
        }
    }
    if let Some(c) = conn.take() {
        close(c);
    }
}

fn write_batch(
    shared: &Shared,
    stream: &mut Stream,
    batch: &[Outgoing],
) -> Result<(), std::io::Error> {
    let mut w = BufWriter::with_capacity(IO_BUF, stream);
    for item in batch {
        match item {
            Outgoing::Frame(f) => w.write_all(f)?,
            Outgoing::Snapshot(m) => {
                let stream_id = shared.next_stream.fetch_add(1, Ordering::Relaxed);
                for f in wire::snapshot_frames(stream_id, m, shared.cfg.snapshot_chunk_len) {
                    w.write_all(&f)?;
                }
            }
        }
    }
    w.flush()
}

// ---------------------------------------------------------------------------
// The listener.
// ---------------------------------------------------------------------------

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    while !shared.stopping() {
        match listener.accept() {
            Ok((sock, remote)) => {
                if shared.inbound.load(Ordering::SeqCst) >= shared.cfg.max_inbound {
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%remote, "refused a connection: too many inbound connections");
                    continue;
                }
                shared.inbound.fetch_add(1, Ordering::SeqCst);
                let key = shared.register(&sock);
                let s = shared.clone();
                let started = shared.spawn("synod-tcp-in".into(), move || {
                    serve(&s, sock, remote);
                    s.unregister(key);
                    s.inbound.fetch_sub(1, Ordering::SeqCst);
                });
                if let Err(e) = started {
                    tracing::warn!(%remote, "dropped a connection: {e}");
                    shared.unregister(key);
                    shared.inbound.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) => {
                tracing::warn!(addr = %shared.local_addr, "accept failed: {e}");
                std::thread::sleep(ACCEPT_POLL);
            }
        }
    }
}

/// How an inbound connection ended badly.
enum Ending {
    /// Refused before it was accepted (bad TLS, bad Hello, not a member).
    Refused(TransportError),
    /// Closed after it was accepted (bad frame or message).
    Bad(TransportError),
}

fn serve(shared: &Shared, sock: TcpStream, remote: SocketAddr) {
    let mut identity = None;
    match serve_inner(shared, sock, remote, &mut identity) {
        Ok(())
        | Err(Ending::Bad(TransportError::Shutdown))
        | Err(Ending::Refused(TransportError::Shutdown)) => {}
        Err(Ending::Refused(e)) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            match &identity {
                Some(id) => {
                    tracing::warn!(%remote, identity = %id, reason = %e, "refused a connection")
                }
                None => tracing::warn!(%remote, reason = %e, "refused a connection"),
            }
        }
        Err(Ending::Bad(e @ (TransportError::Io { .. } | TransportError::Closed(_)))) => {
            // The other side went away (reset, restart): not misbehaviour.
            let id = identity.as_ref().map_or("?", |i| i.as_str());
            tracing::debug!(%remote, identity = %id, reason = %e, "connection ended");
        }
        Err(Ending::Bad(e)) => {
            shared.bad.fetch_add(1, Ordering::Relaxed);
            let id = identity.as_ref().map_or("?", |i| i.as_str());
            tracing::warn!(%remote, identity = %id, reason = %e, "closed a connection");
        }
    }
}

fn serve_inner(
    shared: &Shared,
    sock: TcpStream,
    remote: SocketAddr,
    identity_out: &mut Option<NodeId>,
) -> Result<(), Ending> {
    let peer = remote.to_string();
    let cfg = &shared.cfg;
    let refuse = Ending::Refused;
    let setup = sock_err(&peer, "configuring the connection from");
    sock.set_nonblocking(false)
        .map_err(&setup)
        .map_err(refuse)?;
    sock.set_nodelay(true).map_err(&setup).map_err(refuse)?;
    sock.set_read_timeout(Some(POLL))
        .map_err(&setup)
        .map_err(refuse)?;
    sock.set_write_timeout(Some(cfg.io_timeout))
        .map_err(&setup)
        .map_err(refuse)?;
    let deadline = Instant::now() + cfg.io_timeout;
    let mut stream = match &cfg.security {
        Security::Tls(tls) => {
            accept_tls(tls, sock, &peer, deadline, Some(&shared.stopping)).map_err(refuse)?
        }
        Security::Insecure { .. } => Stream::Plain(sock),
    };
    let result = serve_stream(shared, &mut stream, &peer, deadline, identity_out);
    stream.close();
    result
}

fn serve_stream(
    shared: &Shared,
    stream: &mut Stream,
    peer: &str,
    deadline: Instant,
    identity_out: &mut Option<NodeId>,
) -> Result<(), Ending> {
    let refuse = Ending::Refused;
    let cert = stream.peer_identity().map_err(refuse)?;
    *identity_out = cert.clone();
    let mut reader = FrameReader::new(MAX_HELLO_PAYLOAD);
    let stop = Some(&shared.stopping);
    let hello = match reader
        .read(stream, stop, Some(deadline), peer)
        .map_err(refuse)?
    {
        None => return Ok(()),
        Some((FrameKind::Hello, p)) => decode_hello(&p)
            .map_err(TransportError::from)
            .map_err(refuse)?,
        Some((kind, _)) => {
            return Err(refuse(TransportError::Protocol {
                peer: peer.to_string(),
                detail: format!("expected a Hello, got a {kind:?} frame"),
            }))
        }
    };
    let identity = match (cert, hello.identity) {
        (Some(cert), Some(claimed)) if cert != claimed => {
            return Err(refuse(TransportError::NotAuthorized(format!(
                "the Hello claims {claimed} but the certificate says {cert}"
            ))))
        }
        (Some(cert), _) => cert,
        (None, Some(claimed)) => claimed,
        (None, None) => {
            return Err(refuse(TransportError::NotAuthorized(
                "no identity: an insecure Hello must name one".into(),
            )))
        }
    };
    *identity_out = Some(identity.clone());
    match hello.role {
        HelloRole::Peer { peer_id } => {
            shared
                .check_member(&identity, peer_id)
                .map_err(|reason| refuse(TransportError::NotAuthorized(reason)))?;
            write_frame(stream, FrameKind::HelloAck, &encode_hello_ack(), peer).map_err(refuse)?;
            tracing::debug!(peer, %identity, peer_id, "peer connected");
            reader.dec.set_limit(MAX_FRAME_PAYLOAD);
            let served = serve_peer(shared, stream, reader, &identity, peer_id, peer);
            // The peer's connection to us ended (a crashed member's sockets
            // close at once): tell the engine, so a follower that loses its
            // leader this way stops trusting the leader's lease right away.
            if !shared.stopping() {
                shared.report_unreachable(peer_id);
            }
            served.map_err(Ending::Bad)
        }
        HelloRole::Client => {
            let Some(handler) = shared.cfg.client_handler.clone() else {
                return Err(refuse(TransportError::NotAuthorized(
                    "this listener serves no clients".into(),
                )));
            };
            write_frame(stream, FrameKind::HelloAck, &encode_hello_ack(), peer).map_err(refuse)?;
            reader.dec.set_limit(MAX_FRAME_PAYLOAD);
            serve_client(shared, stream, reader, &identity, handler.as_ref(), peer)
                .map_err(Ending::Bad)
        }
    }
}

fn serve_peer(
    shared: &Shared,
    stream: &mut Stream,
    mut reader: FrameReader,
    identity: &NodeId,
    peer_id: u64,
    peer: &str,
) -> Result<(), TransportError> {
    let mut assembler = SnapshotAssembler::new(shared.cfg.max_snapshot_bytes);
    loop {
        let Some((kind, payload)) = reader.read(stream, Some(&shared.stopping), None, peer)? else {
            return Ok(());
        };
        if let Some(inbox) = shared.inbox.get() {
            inbox.traffic().peer(peer_id).bytes_in.fetch_add(
                (payload.len() + wire::FRAME_HEADER_LEN) as u64,
                Ordering::Relaxed,
            );
        }
        let msg = match kind {
            FrameKind::Raft => decode_message(&payload)?,
            FrameKind::SnapshotChunk => match assembler.push(&payload)? {
                None => continue,
                Some(bytes) => {
                    let msg = decode_message(&bytes)?;
                    if msg.get_msg_type() != MessageType::MsgSnapshot {
                        return Err(TransportError::Protocol {
                            peer: peer.to_string(),
                            detail: format!(
                                "a chunked message must be a snapshot, got {:?}",
                                msg.get_msg_type()
                            ),
                        });
                    }
                    shared.snapshots_received.fetch_add(1, Ordering::Relaxed);
                    msg
                }
            },
            other => {
                return Err(TransportError::Protocol {
                    peer: peer.to_string(),
                    detail: format!("a {other:?} frame on a peer connection"),
                })
            }
        };
        if msg.from != peer_id {
            return Err(TransportError::NotAuthorized(format!(
                "a message from peer {} on the connection of peer {peer_id}",
                msg.from
            )));
        }
        shared
            .check_member(identity, peer_id)
            .map_err(TransportError::NotAuthorized)?;
        match shared.inbox.get() {
            Some(inbox) => {
                if !inbox.deliver(msg) {
                    return Err(TransportError::Shutdown);
                }
                shared.delivered.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                shared.dropped_other.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn serve_client(
    shared: &Shared,
    stream: &mut Stream,
    mut reader: FrameReader,
    identity: &NodeId,
    handler: &dyn ClientHandler,
    peer: &str,
) -> Result<(), TransportError> {
    loop {
        let Some((kind, payload)) = reader.read(stream, Some(&shared.stopping), None, peer)? else {
            return Ok(());
        };
        if kind != FrameKind::ClientRequest {
            return Err(TransportError::Protocol {
                peer: peer.to_string(),
                detail: format!("a {kind:?} frame on a client connection"),
            });
        }
        let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.handle(identity, &payload)
        }))
        .map_err(|_| TransportError::Protocol {
            peer: peer.to_string(),
            detail: "the client handler panicked".into(),
        })?;
        if response.len() > MAX_FRAME_PAYLOAD {
            return Err(wire::WireError::TooLarge {
                len: response.len(),
                max: MAX_FRAME_PAYLOAD,
            }
            .into());
        }
        write_frame(stream, FrameKind::ClientResponse, &response, peer)?;
        shared.client_requests.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(80), 42);
        let mut caps = Vec::new();
        for _ in 0..6 {
            let d = b.next();
            caps.push(d);
        }
        let bounds = [10u64, 20, 40, 80, 80, 80];
        for (d, cap) in caps.iter().zip(bounds) {
            let cap = Duration::from_millis(cap);
            assert!(
                *d >= cap / 2 && *d <= cap,
                "{d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
        }
        b.reset();
        assert!(b.next() <= Duration::from_millis(10));
    }

    use crate::transport::certs::DevCa;
    use crate::transport::tls::TlsConfig;

    fn tls(ca: &DevCa, name: &str) -> Security {
        let c = ca.issue(name).unwrap();
        Security::Tls(
            TlsConfig::from_pem(
                c.cert_pem.as_bytes(),
                c.key_pem.as_bytes(),
                ca.cert_pem().as_bytes(),
            )
            .unwrap(),
        )
    }

    fn local() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    fn peer(peer_id: u64, name: &str) -> Peer {
        Peer {
            peer_id,
            id: NodeId::from_certificate_subject(name).unwrap(),
            address: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn the_dialer_checks_whom_it_reached() {
        let ca = DevCa::new("ca").unwrap();
        let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
        cfg.seed_peers = vec![peer(1, "CN=node-1"), peer(2, "CN=node-2")];
        let t = TcpTransport::bind(cfg).unwrap();
        let addr = t.local_addr().to_string();
        let node2 = tls(&ca, "node-2");
        let t5 = Duration::from_secs(5);
        let role = HelloRole::Peer { peer_id: 2 };
        let expect = NodeId::from_certificate_subject("CN=node-3").unwrap();
        match dial(&node2, &addr, role, Some(&expect), t5, t5, None) {
            Err(TransportError::NotAuthorized(_)) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("reached the wrong member"),
        }
        let expect = NodeId::from_certificate_subject("CN=node-1").unwrap();
        let (_, server) = dial(&node2, &addr, role, Some(&expect), t5, t5, None).unwrap();
        assert_eq!(server, Some(expect));
    }

    struct Nop;
    impl ClientHandler for Nop {
        fn handle(&self, _: &NodeId, _: &[u8]) -> Vec<u8> {
            Vec::new()
        }
    }

    #[test]
    fn connections_over_the_limit_are_refused() {
        let id = NodeId::from_certificate_subject("CN=x").unwrap();
        let sec = Security::Insecure { identity: id };
        let mut cfg = TcpConfig::new(local(), sec.clone());
        cfg.max_inbound = 1;
        cfg.client_handler = Some(Arc::new(Nop));
        let t = TcpTransport::bind(cfg).unwrap();
        let addr = t.local_addr().to_string();
        let t5 = Duration::from_secs(5);
        let mut first = connect_client(&addr, &sec, t5).unwrap();
        assert!(connect_client(&addr, &sec, t5).is_err());
        assert_eq!(t.stats().refused_connections, 1);
        assert_eq!(first.request(b"", t5).unwrap(), Vec::<u8>::new());
        drop(first);
        let deadline = Instant::now() + t5;
        while t.stats().inbound_connections > 0 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(connect_client(&addr, &sec, t5).is_ok());
    }

    #[test]
    fn shutdown_is_prompt_while_a_peer_is_unreachable() {
        let id = NodeId::from_certificate_subject("CN=x").unwrap();
        let mut cfg = TcpConfig::new(
            local(),
            Security::Insecure {
                identity: id.clone(),
            },
        );
        // A peer that does not answer: a listener that never accepts.
        let silent = std::net::TcpListener::bind(local()).unwrap();
        cfg.seed_peers = vec![
            Peer {
                peer_id: 1,
                id,
                address: "127.0.0.1:1".parse().unwrap(),
            },
            Peer {
                peer_id: 2,
                id: NodeId::from_certificate_subject("CN=y").unwrap(),
                address: silent.local_addr().unwrap().to_string().parse().unwrap(),
            },
        ];
        cfg.io_timeout = Duration::from_secs(30);
        let mut t = TcpTransport::bind(cfg).unwrap();
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        m.from = 1;
        m.to = 2;
        t.send(m);
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        t.shutdown();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }
}
