//! What the transport's threads share: the configuration, the current
//! members, the peer links, the sockets shutdown must cut, the counters and
//! the member's inbox. Owns the membership check every inbound connection
//! and frame goes through, the inbound limits (making room for a new
//! connection, client slots, peer connections per peer id; the bookkeeping
//! is in `limits`), the reports to the inbox, and shutdown, which closes
//! every queue and socket and joins every thread.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use super::limits::{ClientRefusal, Clients, PeerConns, Pending, RaftClaim, Source};
use super::membership::Membership;
use super::membership::Vouching;
use super::{lock, Outgoing, SendQueue, TcpConfig, TcpStats};
use crate::entry::NodeId;
use crate::transport::{Inbox, Peer, TransportError};

/// The way to one peer: its send queue, where it is, and a generation
/// that changes when its identity or address does (the writer then dials
/// anew).
pub(super) struct PeerLink {
    pub(super) queue: SendQueue,
    pub(super) target: Mutex<Peer>,
    pub(super) generation: AtomicU64,
}

impl PeerLink {
    pub(super) fn target(&self) -> Peer {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// How long shutdown waits for handler calls in progress.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Refusals logged per second at most (see [`Shared::log_refusal`]).
pub(super) const REFUSAL_LOG_BURST: u64 = 10;

/// The state of one running transport, shared by its handle and threads.
pub(super) struct Shared {
    /// Serves accepted connections up to their Hello, and clients after
    /// it (taken at shutdown).
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    pub(super) cfg: TcpConfig,
    pub(super) local_addr: SocketAddr,
    pub(super) inbox: OnceLock<Inbox>,
    /// The catalog's members, next peer id and vouched peers.
    membership: RwLock<Membership>,
    /// The vouch gate, the refusal cache and their counter.
    pub(super) vouching: Vouching,
    pub(super) links: Mutex<HashMap<u64, Arc<PeerLink>>>,
    pub(super) my_peer_id: AtomicU64,
    pub(super) stopping: AtomicBool,
    /// A round of removal probes runs ([`super::probe`]).
    pub(super) probing: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next_socket: AtomicU64,
    pub(super) next_stream: AtomicU64,
    /// Per peer, the generation of its newest inbound connection.
    inbound_newest: Mutex<HashMap<u64, u64>>,
    pub(super) inbound: AtomicUsize,
    /// Inbound connections that have not had their Hello accepted yet, by
    /// acceptance order (socket key) and source: see [`Shared::make_room`].
    pending: Mutex<Pending>,
    /// Accepted client connections, in all (at most
    /// [`Shared::max_clients`]) and per identity.
    clients: Mutex<Clients>,
    /// Accepted peer connections per peer id.
    peer_conns: Mutex<PeerConns>,
    /// Pending connections closed to make room for newer ones.
    pub(super) evicted: AtomicU64,
    /// Client connections closed for asking nothing for
    /// `client_idle_timeout`.
    pub(super) idle_clients_closed: AtomicU64,
    /// Peer connections closed because a newer one of the same peer id
    /// took their place.
    pub(super) superseded: AtomicU64,
    /// The current one-second window of refusal logging, the refusals
    /// logged in it, and those not logged since the last one that was.
    refusal_log: Mutex<(Option<std::time::Instant>, u64, u64)>,
    // Counters.
    pub(super) dropped_other: AtomicU64,
    pub(super) dropped_other_bytes: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) bad: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) snapshots_sent: AtomicU64,
    pub(super) snapshots_received: AtomicU64,
    pub(super) client_requests: AtomicU64,
}

impl Shared {
    /// The state of a transport listening on `local_addr` that accepts
    /// `members` until its first `set_peers`.
    pub(super) fn new(
        cfg: TcpConfig,
        local_addr: SocketAddr,
        members: HashMap<u64, Peer>,
        runtime: tokio::runtime::Runtime,
    ) -> Self {
        Self {
            runtime: Mutex::new(Some(runtime)),
            cfg,
            local_addr,
            inbox: OnceLock::new(),
            membership: RwLock::new(Membership::new(members)),
            vouching: Vouching::default(),
            links: Mutex::new(HashMap::new()),
            my_peer_id: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            sockets: Mutex::new(HashMap::new()),
            next_socket: AtomicU64::new(0),
            next_stream: AtomicU64::new(1),
            inbound_newest: Mutex::new(HashMap::new()),
            inbound: AtomicUsize::new(0),
            pending: Mutex::new(Pending::default()),
            clients: Mutex::new(Clients::default()),
            peer_conns: Mutex::new(PeerConns::default()),
            evicted: AtomicU64::new(0),
            idle_clients_closed: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            refusal_log: Mutex::new((None, 0, 0)),
            dropped_other: AtomicU64::new(0),
            dropped_other_bytes: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bad: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            snapshots_sent: AtomicU64::new(0),
            snapshots_received: AtomicU64::new(0),
            client_requests: AtomicU64::new(0),
        }
    }

    /// A handle of the runtime, `None` once shutdown took it.
    pub(super) fn runtime(&self) -> Option<tokio::runtime::Handle> {
        lock(&self.runtime).as_ref().map(|rt| rt.handle().clone())
    }

    pub(super) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(super) fn spawn(
        self: &Arc<Self>,
        name: String,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<(), TransportError> {
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                crate::transport::block_sigpipe();
                f()
            })
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
    pub(super) fn register(&self, sock: &TcpStream) -> Option<u64> {
        let clone = sock.try_clone().ok()?;
        let key = self.next_socket.fetch_add(1, Ordering::Relaxed);
        lock(&self.sockets).insert(key, clone);
        Some(key)
    }

    pub(super) fn unregister(&self, key: Option<u64>) {
        if let Some(k) = key {
            lock(&self.sockets).remove(&k);
            lock(&self.pending).ended(k);
        }
    }

    /// Shuts down the registered socket `key` (its thread then ends).
    pub(super) fn cut(&self, key: u64) {
        if let Some(sock) = lock(&self.sockets).get(&key) {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Notes a new inbound connection from `source` that has not said
    /// Hello yet.
    pub(super) fn pending_opened(&self, key: Option<u64>, source: Source, sock: &TcpStream) {
        if let (Some(k), Ok(clone)) = (key, sock.try_clone()) {
            lock(&self.pending).opened(k, source, clone);
        }
    }

    /// The connection `key` said an accepted Hello: it no longer gives way.
    pub(super) fn pending_done(&self, key: Option<u64>) {
        if let Some(k) = key {
            lock(&self.pending).done(k);
        }
    }

    /// The sources of the members' addresses, whose handshakes a flood from
    /// elsewhere cannot push out.
    pub(super) fn set_member_sources(&self, sources: std::collections::HashSet<Source>) {
        lock(&self.pending).set_member_sources(sources);
    }

    /// Makes room for a new connection from `source`, closing connections
    /// that have not had their Hello accepted; false if it must be refused.
    ///
    /// * A source that holds [`Shared::max_pending_per_source`] pending
    ///   connections gives way its own oldest: one address cannot hold more
    ///   than its share of the handshake capacity, so a flood from one
    ///   address makes room from its own connections. (The new one is not
    ///   refused: members behind the same address as a flooder, as on
    ///   127.0.0.1 in tests or behind a NAT, would be locked out.)
    /// * When every slot is taken, the oldest pending connection of the
    ///   source holding the most gives way (a member's handshake takes
    ///   milliseconds), among sources that are not a member's address; a
    ///   member's pending connection gives way only to another member's;
    ///   if none can, the new one is refused.
    ///
    /// Closed connections leave within a poll; until then they count
    /// towards the hard bound of twice the slots.
    pub(super) fn make_room(&self, source: Source) -> bool {
        let max = self.cfg.max_inbound;
        let mut pending = lock(&self.pending);
        if pending.of_source(source) >= self.max_pending_per_source()
            && pending.evict_oldest_of(source)
        {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let open = self.inbound.load(Ordering::SeqCst);
        if open.saturating_sub(pending.leaving()) < max {
            return true;
        }
        if open >= 2 * max || !pending.evict_from_heaviest(source) {
            return false;
        }
        self.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// How many connections that have not said Hello one source may hold:
    /// [`TcpConfig::max_pending_per_source`], by default half the slots.
    pub(super) fn max_pending_per_source(&self) -> usize {
        self.cfg
            .max_pending_per_source
            .unwrap_or(self.cfg.max_inbound / 2)
            .max(1)
    }

    /// How many client connections may be open at once
    /// ([`TcpConfig::max_client_connections`]; clients that have said Hello
    /// hold no inbound slot).
    pub(super) fn max_clients(&self) -> usize {
        self.cfg.max_client_connections.max(1)
    }

    /// Takes a client slot for `identity` (at most [`Shared::max_clients`]
    /// in all, [`TcpConfig::max_client_connections_per_identity`] for one
    /// identity); the slot is given back when the returned guard drops.
    pub(super) fn take_client_slot(
        self: &Arc<Self>,
        identity: &NodeId,
    ) -> Result<ClientSlot, ClientRefusal> {
        lock(&self.clients).take(
            identity,
            self.max_clients(),
            self.cfg.max_client_connections_per_identity,
        )?;
        Ok(ClientSlot {
            shared: self.clone(),
            identity: identity.clone(),
        })
    }

    /// Notes the accepted connection `generation` of `peer_id` (socket
    /// `key`), closing its oldest spare connections beyond
    /// [`super::limits::PEER_SPARE_CONNECTIONS`].
    pub(super) fn peer_accepted(&self, peer_id: u64, generation: u64, key: Option<u64>) {
        let close = lock(&self.peer_conns).accepted(peer_id, generation, key);
        for k in close {
            self.superseded.fetch_add(1, Ordering::Relaxed);
            self.cut(k);
        }
    }

    /// Connection `generation` of `peer_id` carries raft frames: it becomes
    /// the peer's raft connection and an older one is closed; false if a
    /// newer one carries them already (this one should close).
    pub(super) fn peer_carries_raft(&self, peer_id: u64, generation: u64) -> bool {
        let claim = lock(&self.peer_conns).carries_raft(peer_id, generation);
        match claim {
            RaftClaim::Taken { replaced } => {
                if let Some(k) = replaced {
                    self.superseded.fetch_add(1, Ordering::Relaxed);
                    self.cut(k);
                }
                true
            }
            RaftClaim::Superseded => {
                self.superseded.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The connection `generation` of `peer_id` ended.
    pub(super) fn peer_ended(&self, peer_id: u64, generation: u64) {
        lock(&self.peer_conns).ended(peer_id, generation);
    }

    /// Accepted connections of `peer_id` now.
    #[cfg(test)]
    pub(super) fn peer_connections(&self, peer_id: u64) -> usize {
        lock(&self.peer_conns).of_peer(peer_id)
    }

    /// The registered socket of every inbound connection and connection in
    /// progress (for tests of socket options).
    #[cfg(test)]
    pub(super) fn registered_sockets(&self) -> Vec<TcpStream> {
        lock(&self.sockets)
            .values()
            .filter_map(|s| s.try_clone().ok())
            .collect()
    }

    /// Whether to log a refusal now: at most [`REFUSAL_LOG_BURST`] a
    /// second (a flood must not flood the log); the next one logged says
    /// how many were not. Returns that number, or `None` to stay quiet.
    pub(super) fn log_refusal(&self) -> Option<u64> {
        let mut l = lock(&self.refusal_log);
        let now = std::time::Instant::now();
        let (window, logged, suppressed) = &mut *l;
        if window.is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(1)) {
            *window = Some(now);
            *logged = 0;
        }
        if *logged >= REFUSAL_LOG_BURST {
            *suppressed += 1;
            return None;
        }
        *logged += 1;
        Some(std::mem::take(suppressed))
    }

    /// The membership, for reading.
    pub(super) fn membership(&self) -> RwLockReadGuard<'_, Membership> {
        self.membership.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The membership, for changing (then [`relink`](super::peer_link::relink)).
    pub(super) fn membership_mut(&self) -> RwLockWriteGuard<'_, Membership> {
        self.membership.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Why `identity` claiming `peer_id` is not a current member (or a
    /// vouched peer), if it is not.
    pub(super) fn check_member(&self, identity: &NodeId, peer_id: u64) -> Result<(), String> {
        self.member_check(identity, peer_id)
            .map_err(|(reason, _)| reason)
    }

    /// Whether `identity` may speak as raft peer `peer_id`: see
    /// [`Membership::check`].
    pub(super) fn member_check(
        &self,
        identity: &NodeId,
        peer_id: u64,
    ) -> Result<(), (String, bool)> {
        self.membership().check(identity, peer_id)
    }

    /// Notes a new inbound connection of `peer_id`; returns its generation
    /// and the generation it replaced as the peer's newest.
    pub(super) fn inbound_opened(&self, peer_id: u64) -> (u64, Option<u64>) {
        let generation = self.next_stream.fetch_add(1, Ordering::Relaxed);
        let previous = lock(&self.inbound_newest).insert(peer_id, generation);
        (generation, previous)
    }

    /// Forgets the inbound connection `generation` of `peer_id`, which only
    /// asked a question (WhoIs): the connection it replaced as the peer's
    /// newest is the newest again, so the peer's raft connection ending is
    /// still reported.
    pub(super) fn inbound_withdrawn(&self, peer_id: u64, generation: u64, previous: Option<u64>) {
        let mut newest = lock(&self.inbound_newest);
        if newest.get(&peer_id) == Some(&generation) {
            match previous {
                Some(p) => newest.insert(peer_id, p),
                None => newest.remove(&peer_id),
            };
        }
    }

    /// Notes the end of the inbound connection `generation` of `peer_id`;
    /// true if it was the peer's newest.
    pub(super) fn inbound_closed(&self, peer_id: u64, generation: u64) -> bool {
        let mut newest = lock(&self.inbound_newest);
        if newest.get(&peer_id) == Some(&generation) {
            newest.remove(&peer_id);
            true
        } else {
            false
        }
    }

    pub(super) fn report_unreachable(&self, peer_id: u64) {
        if let Some(inbox) = self.inbox.get() {
            inbox.report_unreachable(peer_id);
        }
    }

    pub(super) fn report_removed(&self, by_peer: u64, detail: String) {
        if let Some(inbox) = self.inbox.get() {
            inbox.report_removed(by_peer, detail);
        }
    }

    pub(super) fn report_snapshot(&self, peer_id: u64, delivered: bool) {
        if let Some(inbox) = self.inbox.get() {
            inbox.report_snapshot(peer_id, delivered);
        }
    }

    /// Reports lost items: snapshots as not delivered.
    pub(super) fn lost(&self, peer_id: u64, items: &[Outgoing]) {
        for item in items {
            if matches!(item, Outgoing::Snapshot(_)) {
                self.report_snapshot(peer_id, false);
            }
        }
    }

    pub(super) fn stats(&self) -> TcpStats {
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
            vouch_queries: self.vouching.queries(),
            vouched_peers: self.membership().vouched_count(),
            inbound_connections: self.inbound.load(Ordering::Relaxed),
            pending_connections: lock(&self.pending).len(),
            client_connections: lock(&self.clients).open(),
            evicted_connections: self.evicted.load(Ordering::Relaxed),
            idle_clients_closed: self.idle_clients_closed.load(Ordering::Relaxed),
            superseded_peer_connections: self.superseded.load(Ordering::Relaxed),
            queued_bytes: queued,
        }
    }

    pub(super) fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for link in lock(&self.links).values() {
            link.queue.close();
        }
        for sock in lock(&self.sockets).values() {
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        // The runtime's tasks end at their next wait; a handler call in
        // progress on its blocking pool is given a few seconds.
        if let Some(rt) = lock(&self.runtime).take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // On one of the runtime's own threads (a handler that
                // stopped its member): it cannot wait for itself.
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(SHUTDOWN_GRACE);
            }
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

/// A client slot taken by [`Shared::take_client_slot`], given back on drop.
pub(super) struct ClientSlot {
    shared: Arc<Shared>,
    identity: NodeId,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        lock(&self.shared.clients).release(&self.identity);
    }
}
