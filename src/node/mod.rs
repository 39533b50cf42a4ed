//! The public face of a control-plane member: [`Node`], the replicated
//! engine behind the [`ControlPlaneConsensus`] boundary (defined in
//! [`crate::consensus`] and re-exported here), with its client protocol,
//! service, configuration, runner, metrics and admin metrics listener.

pub(crate) mod admin;
mod admission;
pub mod client;
pub mod client_watch;
pub mod config;
pub(crate) mod driver;
pub mod metrics;
pub mod protocol;
mod reads;
pub mod runner;
pub mod service;
pub mod watch;

pub use crate::consensus::{
    Committed, ControlPlaneConsensus, DurableVoteState, LeaderHint, ProposeCallback, ProposeError,
    ProposeResult, Unsubmitted,
};

use std::time::Duration;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::catalog::{AuditRecord, Catalog, FenceStatus, Member, RangeOwnership};
use crate::engine::replica::ReplicaStatus;
use crate::engine::{EngineConfig, EngineError, Replica, ReplicaStore};
use crate::entry::{ControlPlaneEntry, Epoch, Index, NodeId, Proposal, RangeId, Term};
use crate::transport::{Inbox, Transport};
use driver::{CallbackQueue, Command, Driver, Reply, Shared};
pub use reads::{LeaderInfo, ReadLevel};

/// Why a member stopped on its own ([`Node::stopped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// A fatal error: its store failed (an fsync error poisons it) or the
    /// engine failed. The text says what; the data directory needs an
    /// operator's look before the member starts again.
    Failed(String),
    /// It was removed from the cluster: a member it contacted answered that
    /// it is done with it (its catalog and configuration no longer list
    /// it). A member that applies its own removal lingers until then,
    /// answering peers that may still need its vote (to leave a joint
    /// configuration) and refusing proposals, and asks its peers once an
    /// election timeout. Its data directory belongs to a removed member and
    /// cannot rejoin.
    Removed(String),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Failed(t) => write!(f, "failed: {t}"),
            Stopped::Removed(t) => f.write_str(t),
        }
    }
}

/// Errors starting or running a [`Node`].
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The engine refused to open.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The driver thread or the callback thread could not be started.
    #[error("could not start the driver thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// How to start a member.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// This member's identity.
    pub id: NodeId,
    /// Timing, snapshots, promotion.
    pub engine: EngineConfig,
    /// For a member joining an existing cluster with an empty store: the
    /// peer id the catalog assigned when it was admitted.
    pub join_peer_id: Option<u64>,
    /// Seed for the election-timeout draws (defaults to the clock).
    pub seed: Option<u64>,
    /// At most this many calls (proposals, reads, leadership transfers) in
    /// flight at once, counting queued, waiting and answered-but-not-yet-
    /// called-back ones. A blocking call waits for room until its deadline;
    /// an asynchronous proposal is answered [`ProposeError::Overloaded`] at
    /// once. Bounds the member's memory under a flood of calls.
    pub max_pending_calls: usize,
    /// At most this many messages from peers waiting for the driver. A
    /// transport thread delivering into a full inbox waits up to one tick
    /// for room (back-pressure on the connection), then drops a raft message
    /// (raft retransmits; `synod_inbox_dropped_total` counts it).
    pub max_inbound_messages: usize,
    /// How many recent committed entries a member keeps for watches that
    /// start in the past ([`Node::watch`]); an older start gets a snapshot
    /// of the catalog first.
    pub watch_history: usize,
}

impl NodeOptions {
    /// Defaults for member `id`.
    pub fn new(id: NodeId) -> Self {
        Self {
            id,
            engine: EngineConfig::default(),
            join_peer_id: None,
            seed: None,
            max_pending_calls: 4096,
            max_inbound_messages: 4096,
            watch_history: 65_536,
        }
    }
}

/// A running member of the replicated control plane: a driver thread that
/// owns the replica, its store and its transport, and a callback thread that
/// runs completion callbacks. Cheap to share behind an `Arc`; every method
/// is thread-safe.
///
/// Once the member stopped (shut down, failed on a fatal error, removed from
/// the cluster), every fallible call answers why: [`ProposeError::Shutdown`]
/// or the fatal [`ProposeError::Storage`]; it leads nobody.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    tx: mpsc::Sender<Command>,
    /// The calls in flight (see [`NodeOptions::max_pending_calls`]).
    calls: Arc<admission::Slots>,
    /// How long a leadership transfer may take to start waiting.
    election_timeout: Duration,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The callback thread, joined by shutdown after the driver.
    callbacks: Mutex<Option<JoinHandle<()>>>,
    /// What the callback thread runs; a callback that shuts its own member
    /// down runs the rest of it.
    callback_queue: Arc<CallbackQueue>,
}

impl Node {
    /// Opens the replica over `store` and starts its driver thread.
    /// `transport` receives the member's [`Inbox`] and returns the transport
    /// the driver sends through.
    pub fn start<S, T>(
        options: NodeOptions,
        store: S,
        transport: impl FnOnce(Inbox) -> T,
    ) -> Result<Node, NodeError>
    where
        S: ReplicaStore + Send + 'static,
        T: Transport + 'static,
    {
        let seed = options.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        let tick = options.engine.tick_interval;
        let resend_reads_after = options.engine.election_timeout();
        let mut replica = Replica::open(
            options.engine,
            options.id.clone(),
            options.join_peer_id,
            store,
            seed,
        )?;
        replica.measure_timings(true);
        // The change feed is built from what the replica applies.
        replica.record_applied(true);
        let (tx, rx) = mpsc::channel();
        let metrics = Arc::new(metrics::Metrics::new());
        let deliver = inbox_deliver(
            tx.clone(),
            admission::Slots::new(options.max_inbound_messages),
            tick,
            metrics.clone(),
        );
        let transport = transport(Inbox::new(deliver, metrics.traffic().clone()));
        let first_view = Arc::new(replica.catalog().view());
        let shared = Arc::new(Shared {
            status: Mutex::new(replica.status()),
            metrics,
            fatal: Mutex::new(None),
            removed: Mutex::new(None),
            gate: Mutex::new(true),
            open: std::sync::atomic::AtomicBool::new(true),
            view: arc_swap::ArcSwap::new(Arc::clone(&first_view)),
            hub: watch::Hub::new(first_view, options.watch_history),
            applied: Mutex::new(replica.catalog().applied().0),
            applied_changed: std::sync::Condvar::new(),
        });
        // The callback thread first: should the driver not start, dropping
        // it drops the queue's only sender and the callback thread ends.
        let (callback_tx, callback_rx) = mpsc::channel();
        let callback_queue = Arc::new(Mutex::new(callback_rx));
        let queue = Arc::clone(&callback_queue);
        let callbacks = std::thread::Builder::new()
            .name(format!("synod-cb-{}", options.id))
            .spawn(move || {
                crate::transport::block_sigpipe();
                driver::callback_thread(queue)
            })?;
        let driver = Driver::new(
            replica,
            transport,
            rx,
            shared.clone(),
            callback_tx,
            tick,
            resend_reads_after,
        );
        let thread = std::thread::Builder::new()
            .name(format!("synod-{}", options.id))
            .spawn(move || {
                crate::transport::block_sigpipe();
                driver.run()
            })?;
        Ok(Node {
            id: options.id,
            tx,
            calls: admission::Slots::new(options.max_pending_calls),
            election_timeout: resend_reads_after,
            shared,
            thread: Mutex::new(Some(thread)),
            callbacks: Mutex::new(Some(callbacks)),
            callback_queue,
        })
    }

    /// Hands `cmd` to the driver unless the member is closed (shutting down,
    /// shut down, or stopped on a fatal error): then it comes back. Every
    /// command sent while open is answered: the driver closes the gate before
    /// its last drain of the channel, and shutdown closes it before it asks
    /// the driver to stop, so nothing can slip in after the last drain.
    fn send(&self, cmd: Command) -> Result<(), Box<Command>> {
        let open = self.shared.gate.lock().unwrap_or_else(|p| p.into_inner());
        if !*open {
            return Err(Box::new(cmd));
        }
        self.tx
            .send(cmd)
            .map_err(|mpsc::SendError(cmd)| Box::new(cmd))
    }

    /// A call slot (see [`NodeOptions::max_pending_calls`]), waiting for one
    /// until `timeout` from now; on the member's own callback thread it never
    /// waits (the callbacks holding the slots queue behind it) and goes over
    /// the bound by that one call instead.
    fn call_slot(&self, timeout: Duration) -> Result<Option<admission::Permit>, ProposeError> {
        self.running()?;
        if let Some(p) = self.calls.try_acquire() {
            return Ok(Some(p));
        }
        if driver::serves(&self.callback_queue) {
            return Ok(None);
        }
        let deadline = crate::consensus::deadline_after(std::time::Instant::now(), timeout);
        match self.calls.acquire_until(Some(deadline)) {
            Some(p) => Ok(Some(p)),
            None => Err(self.overloaded()),
        }
    }

    fn overloaded(&self) -> ProposeError {
        ProposeError::Overloaded(format!(
            "{} has {} calls in flight, the most it takes (max_pending_calls); nothing was proposed",
            self.id,
            self.calls.in_use()
        ))
    }

    fn stopped_error(&self) -> ProposeError {
        match &*self.shared.fatal.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => ProposeError::Storage(e.clone()),
            None => ProposeError::Shutdown,
        }
    }

    /// Proposes `entry` and calls `callback` on the member's callback thread
    /// with the answer (exactly once, unless the member is already shut
    /// down, in which case it is called at once on this thread with the
    /// error). The callback may call any method of this member, blocking
    /// ones included; while it runs, later callbacks wait (not consensus).
    pub fn propose_with(
        &self,
        entry: ControlPlaneEntry,
        timeout: Duration,
        callback: ProposeCallback,
    ) {
        self.submit_with(Proposal::bare(entry), timeout, callback);
    }

    /// [`Node::propose_with`] for a proposal with its client session.
    pub fn submit_with(&self, proposal: Proposal, timeout: Duration, callback: ProposeCallback) {
        if let Err(u) = self.try_submit_with(proposal, timeout, callback) {
            (u.callback)(Err(u.error));
        }
    }

    /// Registers `proposal` unless the member is closed or has
    /// [`NodeOptions::max_pending_calls`] calls in flight. `Ok`: `callback`
    /// is called exactly once on the member's callback thread, before
    /// [`Node::shutdown`] returns at the latest. `Err`: the member is shutting
    /// down or stopped, or overloaded ([`ProposeError::Overloaded`]; this
    /// never waits for room), and the callback comes back uncalled with the
    /// reason.
    pub fn try_submit_with(
        &self,
        proposal: Proposal,
        timeout: Duration,
        callback: ProposeCallback,
    ) -> Result<(), Unsubmitted> {
        if let Err(error) = self.running() {
            return Err(Unsubmitted { callback, error });
        }
        let Some(permit) = self.calls.try_acquire() else {
            return Err(Unsubmitted {
                callback,
                error: self.overloaded(),
            });
        };
        // The slot is held until the callback has run: queued callbacks
        // count against the bound too.
        let held = std::sync::Arc::new(Mutex::new(Some(callback)));
        let inner = std::sync::Arc::clone(&held);
        let cmd = Command::Propose {
            proposal,
            timeout,
            reply: Reply::Callback(Box::new(move |result| {
                let _permit = permit;
                let cb = inner.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(cb) = cb {
                    cb(result);
                }
            })),
        };
        match self.send(cmd) {
            Ok(()) => Ok(()),
            Err(_) => {
                // Handed back uncalled: take the caller's callback out of the
                // wrapper (the wrapper, dropped, frees the slot).
                let callback = held.lock().unwrap_or_else(|p| p.into_inner()).take();
                match callback {
                    Some(callback) => Err(Unsubmitted {
                        callback,
                        error: self.stopped_error(),
                    }),
                    None => Ok(()),
                }
            }
        }
    }

    /// Runs `f` on the driver thread against the applied catalog (a local
    /// read: it reflects the applied index passed to `f`).
    pub fn read_local<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Catalog, Index) -> R + Send + 'static,
    ) -> Result<R, ProposeError> {
        self.read(false, Duration::from_secs(3600), f)
    }

    /// Runs `f` against a catalog that reflects every entry committed before
    /// this call (ReadIndex through the leader), or fails after `timeout`.
    pub fn read_linearizable<R: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&Catalog, Index) -> R + Send + 'static,
    ) -> Result<R, ProposeError> {
        self.read(true, timeout, f)
    }

    fn read<R: Send + 'static>(
        &self,
        linearizable: bool,
        timeout: Duration,
        f: impl FnOnce(&Catalog, Index) -> R + Send + 'static,
    ) -> Result<R, ProposeError> {
        let _permit = self.call_slot(timeout)?;
        let (tx, rx) = mpsc::channel();
        let cmd = Command::Read {
            linearizable,
            timeout,
            f: Box::new(move |arg| {
                let _ = tx.send(arg.map(|(c, i)| f(c, i)));
            }),
        };
        if self.send(cmd).is_err() {
            return Err(self.stopped_error());
        }
        rx.recv().unwrap_or_else(|_| Err(self.stopped_error()))
    }

    /// Hands leadership to `to` and returns once it has moved (`Ok`, also
    /// when this member already leads and `to` is itself). Otherwise says
    /// why not: [`ProposeError::NotLeader`] on a follower (with the leader
    /// to ask), `Refused` for a member the catalog does not know, and
    /// [`ProposeError::NotTransferred`] when the target did not take over
    /// within two election timeouts.
    pub fn transfer_leadership(&self, to: &NodeId) -> Result<(), ProposeError> {
        let _permit = self.call_slot(self.election_timeout * 2)?;
        let (tx, rx) = mpsc::channel();
        let cmd = Command::TransferLeader {
            to: to.clone(),
            reply: tx,
        };
        if self.send(cmd).is_err() {
            return Err(self.stopped_error());
        }
        rx.recv().unwrap_or_else(|_| Err(self.stopped_error()))
    }

    /// This member's metrics (shared with its driver and transport).
    pub fn metrics(&self) -> Arc<metrics::Metrics> {
        self.shared.metrics.clone()
    }

    /// This member's metrics in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render(self.id.as_str())
    }

    /// Why this member stopped on its own, if it did: a fatal error, or its
    /// removal from the cluster. `None` while it runs and after a plain
    /// [`Node::shutdown`]. A host polls this to notice that its member is
    /// gone (`synod node` exits with the reason).
    pub fn stopped(&self) -> Option<Stopped> {
        let fatal = self.shared.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = fatal.as_ref() {
            return Some(Stopped::Failed(f.clone()));
        }
        drop(fatal);
        self.shared
            .removed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .map(Stopped::Removed)
    }

    /// This member's status as of the driver's last turn.
    pub fn status(&self) -> ReplicaStatus {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops the driver and waits for it, then for the callback thread.
    /// Every waiting proposal is answered [`ProposeError::Shutdown`]; after
    /// this returns no callback fires. Idempotent. A callback may call it on
    /// its own member: the callbacks still queued then run on that thread
    /// before this returns.
    pub fn shutdown(&self) {
        self.shared.close();
        let _ = self.tx.send(Command::Shutdown);
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("the driver thread of {} panicked", self.id);
            }
        }
        // The driver answered everything it owed and dropped the queue's
        // sender: the callback thread runs what is left and ends.
        let callbacks = self
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if driver::serves(&self.callback_queue) {
            // Called from a callback: joining would wait for this very call.
            // Run the rest of the queue here instead (it returns once the
            // driver is gone and the queue is empty); the callback thread
            // ends after this callback returns.
            driver::run_callbacks(&self.callback_queue);
            drop(callbacks);
        } else if let Some(h) = callbacks {
            if h.join().is_err() {
                tracing::error!("the callback thread of {} panicked", self.id);
            }
        }
    }

    /// `Ok` while the member takes commands, else why not (see
    /// [`ControlPlaneConsensus::check_running`]).
    fn running(&self) -> Result<(), ProposeError> {
        if *self.shared.gate.lock().unwrap_or_else(|p| p.into_inner()) {
            Ok(())
        } else {
            Err(self.stopped_error())
        }
    }
}

/// What a transport calls to hand the driver a peer's message (or a report):
/// it takes an inbound slot (see [`NodeOptions::max_inbound_messages`]),
/// waiting up to `wait` for one (never on a driver thread: a driver
/// delivering into another's full inbox must not wait on it), and drops a
/// raft message that finds none (raft retransmits). Reports are rare and
/// bounded by the number of peers: they always go through.
fn inbox_deliver(
    tx: mpsc::Sender<Command>,
    slots: Arc<admission::Slots>,
    wait: Duration,
    metrics: Arc<metrics::Metrics>,
) -> crate::transport::Deliver {
    Arc::new(move |inbound| {
        let permit = match slots.try_acquire() {
            Some(p) => Some(p),
            None if driver::on_driver_thread() => None,
            None => slots.acquire_until(Some(std::time::Instant::now() + wait)),
        };
        if permit.is_none() && matches!(inbound, crate::transport::Inbound::Message(_)) {
            let n = metrics
                .inbox_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "the inbox is full: a message from a peer was dropped (the driver is behind)"
                );
            }
            return true;
        }
        tx.send(Command::Inbound(inbound, permit)).is_ok()
    })
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl ControlPlaneConsensus for Node {
    fn id(&self) -> &NodeId {
        &self.id
    }

    fn current_term(&self) -> Term {
        self.status().term
    }

    fn leader(&self) -> Option<NodeId> {
        if self.running().is_err() {
            return None;
        }
        self.status().leader.map(|l| l.id)
    }

    /// False once the member stopped (or began to): a stopped member leads
    /// nobody, even before its driver has published its last status.
    fn is_leader(&self) -> bool {
        self.running().is_ok() && self.status().role == raft::StateRole::Leader
    }

    fn durable_vote(&self) -> DurableVoteState {
        self.status().vote
    }

    fn commit_index(&self) -> Option<Index> {
        let c = self.status().commit;
        (c.0 > 0).then_some(c)
    }

    fn submit(&self, proposal: Proposal, timeout: Duration) -> Result<Committed, ProposeError> {
        let started = std::time::Instant::now();
        let _permit = self.call_slot(timeout)?;
        // What waiting for a slot used up comes off the commit's wait.
        let timeout = timeout.saturating_sub(started.elapsed());
        let (tx, rx) = mpsc::channel();
        let cmd = Command::Propose {
            proposal,
            timeout,
            reply: Reply::Wait(tx),
        };
        if self.send(cmd).is_err() {
            return Err(self.stopped_error());
        }
        rx.recv().unwrap_or_else(|_| Err(self.stopped_error()))
    }

    fn submit_with(&self, proposal: Proposal, timeout: Duration, callback: ProposeCallback) {
        Node::submit_with(self, proposal, timeout, callback);
    }

    fn try_submit_with(
        &self,
        proposal: Proposal,
        timeout: Duration,
        callback: ProposeCallback,
    ) -> Result<(), Unsubmitted> {
        Node::try_submit_with(self, proposal, timeout, callback)
    }

    /// `None` on a stopped member as well: prefer `try_owner`.
    fn owner(&self, range: &RangeId) -> Option<RangeOwnership> {
        self.try_owner(range).ok().flatten()
    }

    /// `Unknown` on a stopped member as well: prefer `try_fence_check`.
    fn fence_check(&self, range: &RangeId, owner: &NodeId, epoch: Epoch) -> FenceStatus {
        self.try_fence_check(range, owner, epoch)
            .unwrap_or(FenceStatus::Unknown)
    }

    /// Empty on a stopped member: prefer `try_members`.
    fn members(&self) -> Vec<Member> {
        self.try_members().unwrap_or_default()
    }

    /// Empty on a stopped member: prefer `try_audit_log`.
    fn audit_log(&self) -> Vec<AuditRecord> {
        self.try_audit_log().unwrap_or_default()
    }

    fn check_running(&self) -> Result<(), ProposeError> {
        self.running()
    }

    fn try_owner(&self, range: &RangeId) -> Result<Option<RangeOwnership>, ProposeError> {
        self.with_view(|v| v.owner(range).cloned())
    }

    fn try_fence_check(
        &self,
        range: &RangeId,
        owner: &NodeId,
        epoch: Epoch,
    ) -> Result<FenceStatus, ProposeError> {
        self.with_view(|v| v.fence_check(range, owner, epoch))
    }

    fn try_members(&self) -> Result<Vec<Member>, ProposeError> {
        self.with_view(|v| v.members().cloned().collect())
    }

    fn try_audit_log(&self) -> Result<Vec<AuditRecord>, ProposeError> {
        self.with_view(|v| v.audit_log().iter().cloned().collect())
    }

    fn applied_index(&self) -> Index {
        self.status().applied
    }
}
