//! The driver thread: one per member, owning its [`Replica`], its store and
//! its transport. Everything else talks to it through a channel, so the
//! replica is never shared and never locked.
//!
//! Each turn of the loop: wait for a command or the next tick; drain every
//! queued command (so proposals that arrive together share one fsync); tick
//! when due; run [`Replica::process_ready`]; answer completed proposals and
//! reads; expire deadlines; publish the status. When the loop ends, every
//! waiter is answered ([`ProposeError::Shutdown`]).
//!
//! Completion callbacks do not run here: the driver hands each one, with its
//! answer, to the member's callback thread ([`run_callbacks`]), so a
//! callback may call the member's blocking methods (the driver is free to
//! answer them) and a slow one does not hold up ticks. The driver owns the
//! only sender of that queue: when it ends, the callback thread runs what is
//! left and ends too, and `Node::shutdown` joins it after the driver, so no
//! callback fires after `shutdown` returns.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SendError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use raft::eraftpb::Message;

use crate::catalog::{Catalog, CatalogView};
use crate::consensus::{deadline_after, ProposeCallback, ProposeError, ProposeResult};
use crate::engine::replica::ReplicaStatus;
use crate::engine::{Completion, MessageSink, ProposalToken, ReadToken, Replica, ReplicaStore};
use crate::entry::{CatalogVersion, Index, NodeId, Proposal};
use crate::transport::{Inbound, Peer, Transport};

/// A read run on the driver thread against the applied catalog and the
/// index it reflects, or with the reason the read could not be served.
pub type ReadFn =
    Box<dyn for<'a> FnOnce(Result<(&'a Catalog, Index), ProposeError>) + Send + 'static>;

/// At most this many commands are handled between two turns of the engine.
const MAX_BATCH: usize = 1024;

pub(crate) enum Reply {
    Wait(Sender<ProposeResult>),
    Callback(ProposeCallback),
}

/// A completion callback with its answer, on its way to the callback thread.
pub(crate) type CallbackJob = (ProposeCallback, ProposeResult);

/// The callback thread's end of the queue. Shared (behind a lock held only
/// while waiting for the next job, never while a callback runs) so that a
/// callback that shuts its own member down can run the rest of the queue
/// itself, before its `shutdown` returns.
pub(crate) type CallbackQueue = std::sync::Mutex<Receiver<CallbackJob>>;

impl Reply {
    /// Answers a waiter at once, or queues a callback for the callback
    /// thread.
    fn answer(self, result: ProposeResult, callbacks: &Sender<CallbackJob>) {
        match self {
            // The waiter may have given up; nobody to tell then.
            Reply::Wait(tx) => {
                let _ = tx.send(result);
            }
            Reply::Callback(f) => {
                // The callback thread ends only once the driver's sender is
                // gone, so this cannot fail; should it, the answer is still
                // owed exactly once.
                if let Err(SendError((f, result))) = callbacks.send((f, result)) {
                    run_callback(f, result);
                }
            }
        }
    }
}

thread_local! {
    /// On a callback thread: the queue it serves (compared, never read).
    static SERVING: std::cell::Cell<*const CallbackQueue> =
        const { std::cell::Cell::new(std::ptr::null()) };
    /// On a driver thread: true.
    static DRIVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is a member's driver thread (which must
/// never wait for room in another member's inbox: that one may be waiting
/// for room in its own).
pub(crate) fn on_driver_thread() -> bool {
    DRIVING.try_with(|d| d.get()).unwrap_or(false)
}

/// The body of a member's callback thread: [`run_callbacks`], on a thread
/// that knows it serves `queue`.
pub(crate) fn callback_thread(queue: Arc<CallbackQueue>) {
    SERVING.with(|s| s.set(Arc::as_ptr(&queue)));
    run_callbacks(&queue);
}

/// Whether the calling thread is the callback thread serving `queue` (a
/// callback of that member is calling).
pub(crate) fn serves(queue: &CallbackQueue) -> bool {
    SERVING
        .try_with(|s| std::ptr::eq(s.get(), queue))
        .unwrap_or(false)
}

/// Runs every queued callback, in the order the driver answered them, until
/// the driver is gone and the queue is empty: the callback thread's loop, and
/// what a callback that shuts its own member down runs to finish the queue
/// before that `shutdown` returns.
pub(crate) fn run_callbacks(queue: &CallbackQueue) {
    loop {
        // The guard is a temporary: released before the callback runs.
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match job {
            Ok((f, result)) => run_callback(f, result),
            Err(_) => return,
        }
    }
}

fn run_callback(f: ProposeCallback, result: ProposeResult) {
    // A panicking host callback must not take the callback thread down.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(result))).is_err() {
        tracing::error!("a proposal callback panicked");
    }
}

pub(crate) enum Command {
    /// From a peer, with its inbound slot (freed once stepped).
    Inbound(Inbound, Option<super::admission::Permit>),
    Propose {
        proposal: Proposal,
        timeout: Duration,
        reply: Reply,
    },
    Read {
        linearizable: bool,
        timeout: Duration,
        f: ReadFn,
    },
    TransferLeader {
        to: NodeId,
        reply: Sender<Result<(), ProposeError>>,
    },
    Shutdown,
}

struct ProposalWaiter {
    deadline: Instant,
    started: Instant,
    reply: Reply,
}

/// A leadership transfer the leader started, answered once leadership
/// moved to its target or at its deadline.
struct TransferWaiter {
    to: NodeId,
    deadline: Instant,
    reply: Sender<Result<(), ProposeError>>,
}

struct ReadWaiter {
    deadline: Instant,
    /// When its read index request was last sent.
    sent: Instant,
    f: ReadFn,
}

/// State shared between the driver and the [`super::Node`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub status: Mutex<ReplicaStatus>,
    pub metrics: Arc<super::metrics::Metrics>,
    /// Why the driver stopped on its own (a storage failure), if it did.
    pub fatal: Mutex<Option<String>>,
    /// Why the driver stopped because this member was removed from the
    /// cluster, if it did.
    pub removed: Mutex<Option<String>>,
    /// Whether the driver takes commands: closed (false) by shutdown before
    /// it asks the driver to stop, and by the driver before its last drain.
    /// Senders send only while holding it open, so every command sent is
    /// answered and none arrives after the last drain.
    pub gate: Mutex<bool>,
    /// Mirrors `gate` for readers that must not lock (the published view's
    /// readers): false once the member closed.
    pub open: std::sync::atomic::AtomicBool,
    /// The applied catalog, published after every applied batch and before
    /// the proposals it completes are answered (so a caller reads its own
    /// write). Read by any thread without waiting for the driver.
    pub view: arc_swap::ArcSwap<CatalogView>,
    /// The applied index of `view`, for waiters on an index
    /// ([`super::Node::wait_applied`]), and their wake-up.
    pub applied: Mutex<Index>,
    pub applied_changed: std::sync::Condvar,
    /// The change feed's history and watchers.
    pub hub: Arc<super::watch::Hub>,
}

impl Shared {
    /// Publishes `view` if it moved past the last one, and wakes whoever
    /// waits for its index.
    fn publish_view(&self, catalog: &Catalog) -> Arc<CatalogView> {
        let (index, _) = catalog.applied();
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.view.load_full();
        if index == *applied && current.version() == catalog.version() {
            return current;
        }
        let view = Arc::new(catalog.view());
        self.view.store(Arc::clone(&view));
        *applied = index;
        drop(applied);
        self.applied_changed.notify_all();
        view
    }

    /// Closes the member to new commands and wakes every waiter.
    pub fn close(&self) {
        *self.gate.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        // Waiters on an index re-check and see the member closed.
        let _guard = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        self.applied_changed.notify_all();
    }
}

struct Sink<'a, T: Transport>(&'a mut T);

impl<T: Transport> MessageSink for Sink<'_, T> {
    fn send(&mut self, msg: Message) {
        self.0.send(msg);
    }
}

pub(crate) struct Driver<S: ReplicaStore, T: Transport> {
    pub replica: Replica<S>,
    pub transport: T,
    pub rx: Receiver<Command>,
    pub shared: Arc<Shared>,
    pub tick_interval: Duration,
    /// Where completion callbacks go to run (the callback thread); the
    /// only sender, dropped with the driver.
    callbacks: Sender<CallbackJob>,
    proposals: HashMap<ProposalToken, ProposalWaiter>,
    reads: HashMap<ReadToken, ReadWaiter>,
    transfers: Vec<TransferWaiter>,
    next_token: u64,
    peers_at: Option<(CatalogVersion, raft::eraftpb::ConfState)>,
    last_leader: Option<NodeId>,
    had_followers: bool,
    /// The leader the pending linearizable reads were last sent through.
    reads_via: Option<(NodeId, crate::entry::Term)>,
    /// A pending linearizable read is sent again after this long (a new
    /// leader drops read requests until it commits in its term).
    resend_reads_after: Duration,
    /// When a removed member next asks its peers whether they are done
    /// with it.
    next_probe: Instant,
}

impl<S: ReplicaStore, T: Transport> Driver<S, T> {
    pub fn new(
        replica: Replica<S>,
        transport: T,
        rx: Receiver<Command>,
        shared: Arc<Shared>,
        callbacks: Sender<CallbackJob>,
        tick_interval: Duration,
        resend_reads_after: Duration,
    ) -> Self {
        Self {
            replica,
            transport,
            rx,
            shared,
            callbacks,
            tick_interval,
            proposals: HashMap::new(),
            reads: HashMap::new(),
            transfers: Vec::new(),
            next_token: 0,
            peers_at: None,
            last_leader: None,
            had_followers: false,
            reads_via: None,
            resend_reads_after,
            next_probe: Instant::now(),
        }
    }

    /// Runs until shutdown or a fatal error. A panic inside the engine (a
    /// bug, or raft-rs's own fatal checks) does not end the thread silently:
    /// it becomes the member's fatal state, logged, in its status, and the
    /// answer of every waiting and later call.
    pub fn run(mut self) {
        DRIVING.with(|d| d.set(true));
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop()));
        if let Err(panic) = ran {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let text = format!("the consensus engine failed: {what}");
            tracing::error!("member stops: {text}");
            *self.shared.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(text.clone());
            self.close();
            // What is owed an answer still gets one; a second panic here
            // (the engine state is suspect) must not escape either.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.fail_all(ProposeError::Storage(text));
            }));
        }
        // A stopped member leads nobody and follows nobody.
        let mut st = self.shared.status.lock().unwrap_or_else(|p| p.into_inner());
        st.role = raft::StateRole::Follower;
        st.leader = None;
    }

    fn run_loop(&mut self) {
        let mut next_tick = Instant::now() + self.tick_interval;
        self.publish();
        'outer: loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(cmd) => {
                    if !self.handle(cmd) {
                        break;
                    }
                    // What else is queued, so proposals that arrive together
                    // share one fsync; but never past a due tick or a batch
                    // bound: a steady stream of commands must not hold up
                    // heartbeats and elections.
                    let mut batch = 1;
                    while batch < MAX_BATCH && Instant::now() < next_tick {
                        let Ok(cmd) = self.rx.try_recv() else { break };
                        batch += 1;
                        if !self.handle(cmd) {
                            break 'outer;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if now >= next_tick {
                self.replica.tick();
                next_tick += self.tick_interval;
                if next_tick < now {
                    // Far behind (the process was stopped): do not burst.
                    next_tick = now + self.tick_interval;
                }
            }
            match self.replica.process_ready(&mut Sink(&mut self.transport)) {
                Ok(done) => {
                    // Published before the answers: whoever is told its
                    // proposal committed reads it here at once.
                    let view = self.shared.publish_view(self.replica.catalog());
                    let applied = self.replica.take_applied();
                    self.shared.hub.applied(applied, &view);
                    self.complete(done);
                    // Removed: it lingers (answering peers that may still
                    // need its vote) and asks its peers, once an election
                    // timeout, whether they are done with it; the first
                    // that says so stops it (`Inbound::Removed`).
                    if self.replica.is_removed() && now >= self.next_probe {
                        self.next_probe = now + self.resend_reads_after;
                        self.transport.probe_removed(self.replica.peer_id());
                    }
                }
                Err(e) => {
                    tracing::error!("member stops: {e}");
                    let text = e.to_string();
                    *self.shared.fatal.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(text.clone());
                    self.close();
                    self.fail_all(ProposeError::Storage(text));
                    self.publish();
                    return;
                }
            }
            self.resend_reads(now);
            self.settle_transfers(now);
            self.expire(now);
            self.publish();
        }
        self.close();
        self.fail_all(ProposeError::Shutdown);
        if let Err(e) = self.replica.flush() {
            tracing::warn!("the commit index was not made durable at stop: {e}");
        }
        self.publish();
    }

    /// Sends pending linearizable reads again when the leader changed (a
    /// read index request forwarded to a leader that died is lost with it)
    /// and when one waited an election timeout (a new leader drops read
    /// requests until it has committed in its term). Otherwise such a read
    /// waits for its deadline. A read answered twice is answered once: the
    /// second answer finds no waiter.
    fn resend_reads(&mut self, now: Instant) {
        if self.reads.is_empty() {
            self.reads_via = None;
            return;
        }
        let term = crate::entry::Term(self.replica.hard_state().term);
        let via = self.replica.leader_hint().map(|l| (l.id, term));
        if via.is_none() {
            return;
        }
        let changed = self.reads_via.is_some() && via != self.reads_via;
        self.reads_via = via;
        for (token, w) in self.reads.iter_mut() {
            if changed || now.duration_since(w.sent) >= self.resend_reads_after {
                w.sent = now;
                self.replica.read(*token);
            }
        }
    }

    /// Answers the transfers whose target now leads (as this former leader
    /// has learned from it), and those whose deadline passed.
    fn settle_transfers(&mut self, now: Instant) {
        if self.transfers.is_empty() {
            return;
        }
        let leader = self.replica.leader_hint().map(|l| l.id);
        let still_leading = self.replica.is_leader();
        self.transfers.retain_mut(|w| {
            let answer = if leader.as_ref() == Some(&w.to) && !still_leading {
                Ok(())
            } else if now >= w.deadline {
                Err(ProposeError::NotTransferred(format!(
                    "{} did not take over within two election timeouts (it may be unreachable or behind); the leader is {}",
                    w.to,
                    leader.as_ref().map_or("unknown".to_string(), |l| l.to_string())
                )))
            } else {
                return true;
            };
            let _ = w.reply.send(answer);
            false
        });
    }

    /// Takes no more commands (see [`Shared::gate`]).
    /// Records that this member was removed, and why (the loop then stops:
    /// every waiting call is answered [`ProposeError::Shutdown`], which
    /// promises it did not take effect here).
    fn stop_removed(&self, why: String) {
        let text = format!("{} was removed from the cluster: {why}", self.replica.id());
        tracing::error!("member stops: {text}");
        *self
            .shared
            .removed
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(text);
    }

    fn close(&self) {
        self.shared.close();
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Handles one command; false means stop.
    fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Inbound(Inbound::Message(m), _slot) => {
                let from = m.from;
                if let Err(e) = self.replica.step(m) {
                    tracing::warn!(from, "message refused: {e}");
                }
            }
            Command::Inbound(Inbound::SnapshotReport { peer_id, delivered }, _slot) => {
                self.replica.report_snapshot(peer_id, delivered)
            }
            Command::Inbound(Inbound::Unreachable { peer_id }, _slot) => {
                self.replica.report_unreachable(peer_id)
            }
            Command::Inbound(Inbound::Removed { by_peer, detail }, _slot) => {
                self.stop_removed(format!("peer {by_peer} says so: {detail}"));
                return false;
            }
            Command::Propose {
                proposal,
                timeout,
                reply,
            } => {
                let token = ProposalToken(self.token());
                match self.replica.propose(&proposal, token) {
                    Ok(Some(first)) => reply.answer(Ok(first), &self.callbacks),
                    Ok(None) => {
                        let started = Instant::now();
                        self.proposals.insert(
                            token,
                            ProposalWaiter {
                                deadline: deadline_after(started, timeout),
                                started,
                                reply,
                            },
                        );
                    }
                    Err(e) => reply.answer(Err(e), &self.callbacks),
                }
            }
            Command::Read {
                linearizable,
                timeout,
                f,
            } => {
                if linearizable && self.replica.leader_hint().is_none() {
                    // raft drops a read index request while no leader is
                    // known: say so now instead of at the deadline.
                    run_read(f, Err(ProposeError::NotLeader { leader: None }));
                } else if linearizable {
                    let token = ReadToken(self.token());
                    self.replica.read(token);
                    self.reads.insert(
                        token,
                        ReadWaiter {
                            deadline: deadline_after(Instant::now(), timeout),
                            sent: Instant::now(),
                            f,
                        },
                    );
                } else {
                    let applied = self.replica.catalog().applied().0;
                    run_read(f, Ok((self.replica.catalog(), applied)));
                }
            }
            Command::TransferLeader { to, reply } => {
                let target = self.replica.catalog().member(&to).map(|m| m.peer_id);
                match target {
                    None => {
                        let _ = reply.send(Err(ProposeError::Refused {
                            refusal: crate::catalog::Refusal::UnknownMember { member: to },
                            at: None,
                        }));
                    }
                    // Only the leader can hand leadership over; a follower
                    // says where the leader is instead of accepting.
                    Some(_) if !self.replica.is_leader() => {
                        let _ = reply.send(Err(ProposeError::NotLeader {
                            leader: self.replica.leader_hint(),
                        }));
                    }
                    Some(p) if p == self.replica.peer_id() => {
                        let _ = reply.send(Ok(()));
                    }
                    Some(p) => {
                        self.replica.transfer_leader(p);
                        self.transfers.push(TransferWaiter {
                            to,
                            deadline: deadline_after(Instant::now(), self.resend_reads_after * 2),
                            reply,
                        });
                    }
                }
            }
            Command::Shutdown => return false,
        }
        true
    }

    fn complete(&mut self, done: Vec<Completion>) {
        for c in done {
            match c {
                Completion::Proposal(token, result) => {
                    if let Some(w) = self.proposals.remove(&token) {
                        let m = &self.shared.metrics;
                        if result.is_ok() {
                            m.commit_latency.observe(w.started.elapsed());
                            m.proposals_committed.fetch_add(1, Relaxed);
                        } else {
                            m.proposals_failed.fetch_add(1, Relaxed);
                        }
                        w.reply.answer(result, &self.callbacks);
                    }
                }
                Completion::Read(token, index) => {
                    if let Some(w) = self.reads.remove(&token) {
                        run_read(w.f, Ok((self.replica.catalog(), index)));
                    }
                }
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        let late: Vec<ProposalToken> = self
            .proposals
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            if let Some(w) = self.proposals.remove(&token) {
                let err = self.replica.abandon(token, now - w.started);
                w.reply.answer(Err(err), &self.callbacks);
            }
        }
        let late: Vec<ReadToken> = self
            .reads
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            if let Some(w) = self.reads.remove(&token) {
                let err = match self.replica.leader_hint() {
                    None => ProposeError::NoQuorum,
                    Some(_) if self.replica.is_leader() => ProposeError::Timeout(Duration::ZERO),
                    Some(leader) => ProposeError::NotLeader {
                        leader: Some(leader),
                    },
                };
                run_read(w.f, Err(err));
            }
        }
    }

    fn fail_all(&mut self, err: ProposeError) {
        self.shared.hub.stop(err.clone());
        for w in self.transfers.drain(..) {
            let _ = w.reply.send(Err(err.clone()));
        }
        for (_, w) in self.proposals.drain() {
            w.reply.answer(Err(err.clone()), &self.callbacks);
        }
        for (_, w) in self.reads.drain() {
            run_read(w.f, Err(err.clone()));
        }
        // Commands still queued get the same answer.
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                Command::Propose { reply, .. } => reply.answer(Err(err.clone()), &self.callbacks),
                Command::Read { f, .. } => run_read(f, Err(err.clone())),
                Command::TransferLeader { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Command::Inbound(..) | Command::Shutdown => {}
            }
        }
    }

    fn publish(&mut self) {
        let status = self.replica.status();
        self.record_metrics(&status);
        self.shared
            .hub
            .role(status.role, status.term, status.leader.clone());
        *self.shared.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
        // Who this member talks to changes with the catalog's members and
        // with the raft configuration (a removed member stays a peer until
        // the configuration drops it).
        let version = self.replica.catalog().version();
        let changed = self
            .peers_at
            .as_ref()
            .is_none_or(|(v, cs)| *v != version || cs != self.replica.conf_state());
        if changed {
            self.peers_at = Some((version, self.replica.conf_state().clone()));
            let peers: Vec<Peer> = self
                .replica
                .peers()
                .iter()
                .map(|m| Peer {
                    peer_id: m.peer_id,
                    id: m.id.clone(),
                    address: m.address.clone(),
                })
                .collect();
            self.transport.set_peers(&peers);
            self.transport
                .set_next_peer_id(self.replica.catalog().next_peer_id());
        }
    }
}

impl<S: ReplicaStore, T: Transport> Driver<S, T> {
    fn record_metrics(&mut self, status: &ReplicaStatus) {
        let m = &self.shared.metrics;
        let t = self.replica.take_timings();
        for d in t.syncs {
            m.fsync.observe(d);
        }
        for d in t.applies {
            m.apply_latency.observe(d);
        }
        m.term.store(status.term.0, Relaxed);
        m.role.store(
            match status.role {
                raft::StateRole::Follower => 0,
                raft::StateRole::Candidate => 1,
                raft::StateRole::PreCandidate => 2,
                raft::StateRole::Leader => 3,
            },
            Relaxed,
        );
        let leader = status.leader.as_ref().map(|l| l.id.clone());
        if leader.is_some() && leader != self.last_leader {
            m.leader_changes.fetch_add(1, Relaxed);
        }
        if leader.is_some() {
            self.last_leader = leader;
        }
        m.commit_index.store(status.commit.0, Relaxed);
        m.applied_index.store(status.applied.0, Relaxed);
        m.proposals_pending
            .store(self.proposals.len() as u64, Relaxed);
        let (created, installed, bytes) = self.replica.snapshot_counters();
        m.snapshots_created.store(created, Relaxed);
        m.snapshots_installed.store(installed, Relaxed);
        m.snapshot_bytes.store(bytes, Relaxed);
        let progress = self.replica.follower_progress();
        if !progress.is_empty() || self.had_followers {
            self.had_followers = !progress.is_empty();
            let last = status.last_index.0;
            m.set_followers(
                progress
                    .into_iter()
                    .map(|(p, matched)| {
                        (
                            p,
                            super::metrics::FollowerProgress {
                                matched,
                                lag: last.saturating_sub(matched),
                            },
                        )
                    })
                    .collect(),
            );
        }
    }
}

fn run_read(f: ReadFn, arg: Result<(&Catalog, Index), ProposeError>) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(arg))).is_err() {
        tracing::error!("a read callback panicked");
    }
}
