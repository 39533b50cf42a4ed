//! One replica of the control-plane log: raft-rs's `RawNode`, the durable
//! store, and the catalog, with no threads, no clock and no sockets.
//!
//! This file owns the replica's state, its opening, its inputs (ticks,
//! messages from peers) and the driver loop, which reads top to bottom in
//! [`Replica::process_ready`]:
//!
//! 1. send the messages raft allows before persistence (a leader's appends,
//!    which followers persist in parallel with the leader);
//! 2. install a snapshot from the leader (durable before anything else);
//! 3. apply committed entries (already durable here) to the catalog, and wake
//!    the proposers waiting for them;
//! 4. stage new entries and the hard state, then **one fsync** (group commit);
//! 5. only then send the messages that depend on it: vote grants and append
//!    acknowledgements. This is the rule that makes a vote durable before it
//!    is acknowledged and an entry durable before it counts toward a quorum;
//! 6. advance raft, apply what that commits, take a snapshot when due, and
//!    do the leader's duties (record its leader configuration, reconcile the
//!    raft configuration with the catalog's membership).
//!
//! Time enters only through [`Replica::tick`]; randomness only through the
//! replica's seeded generator, which replaces raft-rs's `thread_rng` draw of
//! the election timeout. The real node's driver thread and the simulator
//! drive the same code.
//!
//! The other duties live beside it, each in its own file:
//! * `proposals`: proposing, matching applied entries to the proposals
//!   waiting for them, linearizable reads;
//! * `membership`: configuration changes and the leader's duties. The
//!   catalog says who is admitted; the raft configuration follows it, one
//!   change at a time, driven by the leader: an admitted member joins as a
//!   learner and is promoted to voter once its log is within
//!   `max_learner_lag` entries; a removed member leaves through joint
//!   consensus (ConfChangeV2, explicit transition) and the leader proposes
//!   the leave step itself, so the cluster never stays joint; a leader that
//!   is removed or draining hands leadership to a caught-up voter first;
//! * `snapshot`: installing the leader's snapshots, taking and compacting;
//! * `status`: status, records, timings and accessors.
//!
//! The simulator's mutants deviate from this engine only through its test
//! seam (`engine::deviation`); each point that consults it is marked
//! `test seam`, and a real member installs no deviation.

mod membership;
mod proposals;
mod snapshot;
mod status;

use std::collections::BTreeMap;

use raft::eraftpb::{ConfState, Entry, EntryType, Message, MessageType};
use raft::{RawNode, StateRole};

use super::config::EngineConfig;
use super::deviation::{Deviation, TestSeam};
use super::rng::SplitMix64;
use super::{EngineError, ReplicaStore};
use crate::catalog::Catalog;
use crate::entry::{Index, NodeId, Proposal, Term};
use proposals::PendingProposal;
use snapshot::is_empty_snapshot;

pub use proposals::{Completion, ProposalToken, ReadToken};
pub use status::{Applied, ReadyTimings, ReplicaStatus};

/// Where messages go. The driver's transport and the simulator's network
/// implement it.
pub trait MessageSink {
    /// Queue `msg` for its `to` peer.
    fn send(&mut self, msg: Message);
}

/// Passes on only this replica's own messages. raft-rs relays a read index
/// request that reaches a follower to the leader with the original sender in
/// `from`; on the network that is another member's message on this member's
/// connection, which the receiver must refuse as spoofed (and cuts the
/// connection for). Dropping the relay is safe: the requester sends its read
/// again when its leader changes or after an election timeout.
struct OwnMessages<'a> {
    peer_id: u64,
    inner: &'a mut dyn MessageSink,
}

impl MessageSink for OwnMessages<'_> {
    fn send(&mut self, msg: Message) {
        if msg.from == self.peer_id {
            self.inner.send(msg);
        } else {
            tracing::debug!(
                from = msg.from,
                to = msg.to,
                "not relaying another member's {:?}",
                msg.get_msg_type()
            );
        }
    }
}

impl MessageSink for Vec<Message> {
    fn send(&mut self, msg: Message) {
        self.push(msg);
    }
}

/// One replica. See the module documentation for the loop.
pub struct Replica<S: ReplicaStore> {
    cfg: EngineConfig,
    id: NodeId,
    peer_id: u64,
    raw: RawNode<S::Handle>,
    store: S,
    catalog: Catalog,
    conf_state: ConfState,
    rng: SplitMix64,
    pending: BTreeMap<u64, PendingProposal>,
    proposal_seq: u64,
    /// Reads whose index raft has confirmed, waiting for apply to reach it.
    reads_waiting_apply: Vec<(ReadToken, u64)>,
    /// Drawn when the replica opens: with the peer id, the prefix of every
    /// read context, so a read-index answer meant for another member or an
    /// earlier incarnation of this one is never taken for one of ours.
    read_nonce: u64,
    last_snapshot_index: u64,
    /// The term whose leader configuration this replica has proposed.
    leader_config_term: u64,
    /// A catalog decoded from an incoming snapshot message, kept so the
    /// install does not decode it a second time.
    incoming_snapshot: Option<((u64, u64), Catalog)>,
    record: Option<Vec<Applied>>,
    /// Where a simulator mutant deviates; none in a real member.
    test_seam: TestSeam,
    removed: bool,
    /// (term, role, leader) when the election timeout was last drawn.
    timeout_fingerprint: Option<(u64, u8, u64)>,
    /// Wall-clock timings of fsyncs and applies, kept only when asked for
    /// (a real member's metrics); never used in a decision.
    timings: Option<ReadyTimings>,
    snapshots_created: u64,
    snapshots_installed: u64,
    last_snapshot_bytes: u64,
}

impl<S: ReplicaStore> std::fmt::Debug for Replica<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("id", &self.id)
            .field("peer_id", &self.peer_id)
            .field("role", &self.raw.raft.state)
            .field("term", &self.raw.raft.term)
            .finish_non_exhaustive()
    }
}

impl<S: ReplicaStore> Replica<S> {
    /// Opens a replica over `store`. A store bootstrapped with
    /// [`DurableStore::bootstrap`](crate::storage::DurableStore::bootstrap)
    /// or holding a snapshot knows this member's peer id from its catalog;
    /// an empty store (a member joining an existing cluster) needs
    /// `join_peer_id`, the id the catalog assigned at admission. `seed`
    /// drives the election-timeout draws.
    pub fn open(
        cfg: EngineConfig,
        id: NodeId,
        join_peer_id: Option<u64>,
        store: S,
        seed: u64,
    ) -> Result<Self, EngineError> {
        cfg.validate().map_err(EngineError::Config)?;
        let snap = store.latest_snapshot();
        let (catalog, conf_state) = if is_empty_snapshot(&snap) {
            (Catalog::empty(), ConfState::default())
        } else {
            let catalog = Catalog::decode_snapshot(&snap.data).map_err(|e| {
                EngineError::Storage(format!("the latest snapshot does not decode: {e}"))
            })?;
            (catalog, snap.get_metadata().get_conf_state().clone())
        };
        // A member the catalog removed (one of its departed) comes back
        // too: it lingers, answering its peers, until one of them says it
        // is gone. Members that stay may still need its vote (a joint
        // configuration whose commit index they have not learnt), and
        // refusing to start would leave them waiting forever.
        let known = catalog
            .member(&id)
            .map(|m| m.peer_id)
            .or_else(|| catalog.departed().find(|m| m.id == id).map(|m| m.peer_id));
        let peer_id = match (known, join_peer_id) {
            (Some(p), Some(j)) if p != j => {
                return Err(EngineError::Config(format!(
                    "{id} has peer id {p} in the catalog, not {j}"
                )))
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) if catalog.members().len() > 0 => {
                return Err(EngineError::NotAMember { id });
            }
            (None, None) => {
                return Err(EngineError::Config(format!(
                "{id} has an empty store; a joining member needs the peer id it was admitted with"
            )))
            }
        };
        let applied = snap.get_metadata().index;
        let raft_cfg = raft::Config {
            id: peer_id,
            election_tick: cfg.election_ticks,
            heartbeat_tick: cfg.heartbeat_ticks,
            // raft-rs draws the randomized timeout from thread_rng in
            // [min, max) whenever it resets; the replica replaces every such
            // draw with a seeded one (reseed_timeout).
            min_election_tick: cfg.election_ticks,
            max_election_tick: cfg.election_ticks * 2,
            applied,
            max_size_per_msg: cfg.max_size_per_msg,
            max_inflight_msgs: cfg.max_inflight_msgs,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        let logger = super::logger::raft_logger(peer_id);
        let raw =
            RawNode::new(&raft_cfg, store.raft_handle(), &logger).map_err(EngineError::Raft)?;
        let sole_voter = conf_state.voters == [peer_id];
        let mut replica = Self {
            cfg,
            id,
            peer_id,
            raw,
            store,
            catalog,
            conf_state,
            rng: SplitMix64::new(seed ^ peer_id.rotate_left(32)),
            pending: BTreeMap::new(),
            proposal_seq: 0,
            reads_waiting_apply: Vec::new(),
            read_nonce: 0,
            last_snapshot_index: applied,
            leader_config_term: 0,
            incoming_snapshot: None,
            record: None,
            test_seam: TestSeam::default(),
            removed: false,
            timeout_fingerprint: None,
            timings: None,
            snapshots_created: 0,
            snapshots_installed: 0,
            last_snapshot_bytes: 0,
        };
        replica.read_nonce = replica.draw_read_nonce();
        replica.reseed_timeout();
        replica.check_removed();
        if sole_voter {
            // The only voter needs nobody's vote: elect itself now rather
            // than wait out an election timeout (a restart serves sooner).
            replica.raw.campaign().map_err(EngineError::Raft)?;
            replica.reseed_timeout();
        }
        Ok(replica)
    }

    /// Installs the simulator's deviations (a mutant), or none: the test
    /// seam, never used by a real member.
    pub(crate) fn set_test_seam(&mut self, deviation: Option<Box<dyn Deviation>>) {
        self.test_seam = TestSeam::new(deviation);
        self.test_seam.configure(&mut self.catalog);
    }

    /// Consumes the replica, returning its store (a clean stop).
    pub fn into_store(self) -> S {
        self.store
    }

    /// Replaces raft-rs's `thread_rng` draw of the election timeout with a
    /// seeded one. raft redraws only in `reset`, which it calls exactly when
    /// it becomes follower, candidate or leader, and each of those changes
    /// the (term, role, leader) triple; so a changed triple means a fresh
    /// draw to replace.
    fn reseed_timeout(&mut self) {
        let r = &self.raw.raft;
        let fp = (r.term, r.state as u8, r.leader_id);
        if self.timeout_fingerprint != Some(fp) {
            self.timeout_fingerprint = Some(fp);
            let base = self.cfg.election_ticks;
            let extra = self.rng.below(base as u64) as usize;
            self.raw.raft.set_randomized_election_timeout(base + extra);
        }
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.raw.tick();
        self.reseed_timeout();
    }

    /// Steps a message from a peer. Proposals from peers are refused: entries
    /// enter only as typed proposals through [`Replica::propose`].
    pub fn step(&mut self, msg: Message) -> Result<(), EngineError> {
        let ty = msg.get_msg_type();
        if ty == MessageType::MsgPropose {
            return Err(EngineError::RemoteProposal { from: msg.from });
        }
        if raft::raw_node::is_local_msg(ty) {
            return Err(EngineError::Refused(format!(
                "local message type {ty:?} from the network"
            )));
        }
        if msg.to != self.peer_id {
            return Err(EngineError::Refused(format!(
                "message for peer {} delivered to peer {}",
                msg.to, self.peer_id
            )));
        }
        self.refuse_what_raft_would_panic_on(&msg)?;
        let mut incoming = None;
        if ty == MessageType::MsgSnapshot {
            // Validate the catalog before raft accepts the snapshot: an
            // undecodable one must be refused here, not fail at install.
            let snap = msg.get_snapshot();
            let catalog = Catalog::decode_snapshot(&snap.data).map_err(|e| {
                EngineError::Refused(format!(
                    "snapshot from peer {} does not decode: {e}",
                    msg.from
                ))
            })?;
            let meta = snap.get_metadata();
            incoming = Some(((meta.term, meta.index), catalog));
        }
        match self.raw.step(msg) {
            Ok(()) | Err(raft::Error::StepPeerNotFound) => {}
            Err(e) => return Err(EngineError::Raft(e)),
        }
        // Keep the decoded catalog only for the snapshot raft accepted (it
        // is now raft's pending snapshot): a snapshot raft refused, from a
        // stale leader say, must never be installed in its place.
        if let Some((at, catalog)) = incoming {
            let pending = self.raw.raft.raft_log.unstable.snapshot.as_ref();
            if pending.is_some_and(|s| (s.get_metadata().term, s.get_metadata().index) == at) {
                self.incoming_snapshot = Some((at, catalog));
            }
        }
        self.reseed_timeout();
        Ok(())
    }

    /// Refuses a message that would reach one of raft-rs's fatal checks (a
    /// panic that would kill this member): a heartbeat whose commit index is
    /// beyond this log, or an append that contradicts a committed entry. A
    /// correct leader never sends either; one frame from a faulty or hostile
    /// member must not take this one down.
    fn refuse_what_raft_would_panic_on(&self, msg: &Message) -> Result<(), EngineError> {
        let log = &self.raw.raft.raft_log;
        match msg.get_msg_type() {
            MessageType::MsgHeartbeat if msg.commit > log.last_index() => {
                Err(EngineError::Refused(format!(
                    "heartbeat from peer {} commits index {} beyond this log's last index {}",
                    msg.from,
                    msg.commit,
                    log.last_index()
                )))
            }
            MessageType::MsgAppend => {
                for (k, e) in msg.get_entries().iter().enumerate() {
                    if e.index != msg.index + 1 + k as u64 {
                        return Err(EngineError::Refused(format!(
                            "append from peer {} after index {} carries entry {} at position {k}",
                            msg.from, msg.index, e.index
                        )));
                    }
                    if e.index > log.committed {
                        break;
                    }
                    // Below the first index (compacted) or past the last one
                    // raft knows no term (it says 0): nothing to contradict.
                    let known = e.index >= log.first_index() && e.index <= log.last_index();
                    if known && log.term(e.index).is_ok_and(|t| t != e.term) {
                        return Err(EngineError::Refused(format!(
                            "append from peer {} contradicts committed entry {} (term {} here, {} sent)",
                            msg.from,
                            e.index,
                            log.term(e.index).unwrap_or(0),
                            e.term
                        )));
                    }
                }
                Ok(())
            }
            // A leader outside its own configuration (it applied its own
            // removal) has no progress of its own: raft-rs unwraps it when
            // an acknowledgement would advance the commit index.
            MessageType::MsgAppendResponse | MessageType::MsgHeartbeatResponse
                if self.raw.raft.state == StateRole::Leader
                    && self.raw.raft.prs().get(self.peer_id).is_none() =>
            {
                Err(EngineError::Refused(format!(
                    "an acknowledgement from peer {} reached a leader outside its configuration",
                    msg.from
                )))
            }
            _ => Ok(()),
        }
    }

    /// Asks raft to hand leadership to `peer_id`.
    pub fn transfer_leader(&mut self, peer_id: u64) {
        self.raw.transfer_leader(peer_id);
        self.reseed_timeout();
    }

    /// Tells raft that `peer_id` could not be reached.
    ///
    /// A follower that cannot reach its leader gives up the leader's lease
    /// at once: its election timer jumps to the base election timeout, so it
    /// grants (pre-)votes right away and campaigns after its randomized
    /// extra delay, instead of waiting out a full timeout first (a crashed
    /// leader's connections fail within a heartbeat). It changes nothing if
    /// the leader is in fact alive: its next heartbeat resets the timer.
    pub fn report_unreachable(&mut self, peer_id: u64) {
        self.raw.report_unreachable(peer_id);
        let r = &mut self.raw.raft;
        if r.state == StateRole::Follower && r.leader_id == peer_id {
            let base = r.election_timeout();
            if r.election_elapsed < base {
                r.election_elapsed = base;
            }
        }
    }

    /// Runs one pass of the loop described in the module documentation.
    /// Returns the proposals and reads that completed. Call it after every
    /// tick, step or proposal (it is cheap when there is nothing to do).
    pub fn process_ready(
        &mut self,
        sink: &mut dyn MessageSink,
    ) -> Result<Vec<Completion>, EngineError> {
        let sink = &mut OwnMessages {
            peer_id: self.peer_id,
            inner: sink,
        };
        let mut done = Vec::new();
        // Leader duties may propose, which makes a new Ready; two rounds
        // cover a duty proposed in the first.
        for _ in 0..2 {
            self.leader_duties();
            if !self.raw.has_ready() {
                break;
            }
            self.one_ready(sink, &mut done)?;
        }
        self.complete_reads(&mut done);
        self.reseed_timeout();
        Ok(done)
    }

    /// Whether raft has work for [`Replica::process_ready`].
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }

    fn one_ready(
        &mut self,
        sink: &mut dyn MessageSink,
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        let mut rd = self.raw.ready();
        // 0. A commit index that covers a configuration change is durable
        //    before anyone hears of it (see `persist_conf_commit`).
        if let Some(commit) = rd.hs().map(|hs| hs.commit) {
            self.persist_conf_commit(commit)?;
        }
        // 1. Messages that may leave before this replica persists.
        for m in rd.take_messages() {
            sink.send(m);
        }
        // 2. A snapshot from the leader: durable before anything uses it.
        if !is_empty_snapshot(rd.snapshot()) {
            self.install_snapshot(rd.snapshot().clone(), done)?;
        }
        // 3. Committed entries (durable here already).
        self.apply_entries(rd.take_committed_entries(), done)?;
        // Test seam: a mutant acknowledges before persisting, or applies
        // what is not yet durable here.
        if self.test_seam.ack_before_sync() {
            for m in rd.take_persisted_messages() {
                sink.send(m);
            }
        }
        if self.test_seam.apply_before_sync() {
            self.apply_unpersisted(rd.entries(), done)?;
        }
        // 4. Stage the new entries and hard state; one fsync covers all.
        let store = &mut self.store;
        if !rd.entries().is_empty() {
            store
                .append(rd.entries())
                .map_err(|e| EngineError::Storage(e.to_string()))?;
        }
        if let Some(hs) = rd.hs() {
            store
                .set_hard_state(hs)
                .map_err(|e| EngineError::Storage(e.to_string()))?;
        }
        // raft's `must_sync`: new entries, or a new term or vote. A Ready
        // that only moves the commit index needs no fsync of its own (the
        // commit index is recoverable from the leader); its record rides
        // with the next fsync. (Test seam: a mutant may skip one that is
        // due.)
        let skip_sync = !rd.must_sync() || self.test_seam.skip_fsync(!rd.entries().is_empty());
        if !skip_sync {
            let t0 = self.timings.is_some().then(std::time::Instant::now);
            store
                .sync()
                .map_err(|e| EngineError::Storage(e.to_string()))?;
            if let (Some(t), Some(t0)) = (self.timings.as_mut(), t0) {
                t.syncs.push(t0.elapsed());
            }
        }
        // 5. Messages that depend on what was just made durable.
        for m in rd.take_persisted_messages() {
            sink.send(m);
        }
        self.await_reads(rd.take_read_states());
        // 6. Advance; apply what that commits.
        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            let hs = self.raw.raft.hard_state();
            self.store
                .set_hard_state(&hs)
                .map_err(|e| EngineError::Storage(e.to_string()))?;
            self.persist_conf_commit(commit)?;
        }
        for m in light.take_messages() {
            sink.send(m);
        }
        self.apply_entries(light.take_committed_entries(), done)?;
        self.raw.advance_apply();
        self.maybe_snapshot()?;
        Ok(())
    }

    /// Makes the hard state durable now when the leader's new commit index
    /// `commit` covers its pending configuration change and the disk does
    /// not say so yet. Others act on a committed configuration change at
    /// once (a removed member stops, an operator decommissions it); a
    /// leader that then restarted with the older commit index would be
    /// back in the previous (joint) configuration, needing votes of members
    /// already gone. The leader is always in the new configuration (it
    /// hands leadership over before its own removal), so its durable commit
    /// index suffices. Costs one fsync per configuration change.
    fn persist_conf_commit(&mut self, commit: u64) -> Result<(), EngineError> {
        let pending = self.raw.raft.pending_conf_index;
        if self.raw.raft.state != StateRole::Leader
            || pending == 0
            || commit < pending
            || self.store.hard_state().commit >= pending
        {
            return Ok(());
        }
        let mut hs = self.raw.raft.hard_state();
        hs.commit = hs.commit.max(commit);
        self.store
            .set_hard_state(&hs)
            .and_then(|()| self.store.sync())
            .map_err(|e| EngineError::Storage(e.to_string()))
    }

    /// Makes the current hard state durable, commit index included (a
    /// Ready that only moves the commit index stages it for the next
    /// fsync). Called on a clean stop, so a restarted member applies at
    /// once everything it had applied, instead of waiting for a leader to
    /// tell it the commit index again.
    pub fn flush(&mut self) -> Result<(), EngineError> {
        let hs = self.raw.raft.hard_state();
        self.store
            .set_hard_state(&hs)
            .and_then(|()| self.store.sync())
            .map_err(|e| EngineError::Storage(e.to_string()))
    }

    fn apply_entries(
        &mut self,
        entries: Vec<Entry>,
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        if entries.is_empty() {
            return Ok(());
        }
        let t0 = self.timings.is_some().then(std::time::Instant::now);
        self.apply_batch(entries, done)?;
        if let (Some(t), Some(t0)) = (self.timings.as_mut(), t0) {
            t.applies.push(t0.elapsed());
        }
        Ok(())
    }

    fn apply_batch(
        &mut self,
        entries: Vec<Entry>,
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        for e in entries {
            let (index, term) = (Index(e.index), Term(e.term));
            if e.index <= self.catalog.applied().0 .0 {
                // Already reflected in an installed snapshot.
                continue;
            }
            let result = match e.get_entry_type() {
                EntryType::EntryNormal if e.data.is_empty() => {
                    self.skip(index, term)?;
                    None
                }
                EntryType::EntryNormal => {
                    let corrupt = |err: &dyn std::fmt::Display| EngineError::CorruptEntry {
                        index: e.index,
                        detail: err.to_string(),
                    };
                    let proposal = Proposal::decode(&e.data).map_err(|err| corrupt(&err))?;
                    let outcome = self
                        .catalog
                        .apply_proposal(index, term, &proposal)
                        .map_err(|err| corrupt(&err))?;
                    if let Some(r) = &mut self.record {
                        r.push(Applied::Entry {
                            index,
                            term,
                            entry: proposal.entry,
                            session: proposal.session,
                            outcome: outcome.clone(),
                        });
                    }
                    Some(outcome)
                }
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.apply_conf_change(&e)?;
                    self.skip(index, term)?;
                    None
                }
            };
            self.complete_proposal(&e, result, done);
        }
        Ok(())
    }

    /// For the apply-beyond-persisted mutant only: applies the entries of
    /// `unstable` (this Ready's, not yet durable here) that the commit index
    /// already covers. raft hands them over again once they are persisted,
    /// and [`Replica::apply_batch`] skips what was applied.
    fn apply_unpersisted(
        &mut self,
        unstable: &[Entry],
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        let (applied, commit) = (
            self.catalog.applied().0 .0,
            self.raw.raft.raft_log.committed,
        );
        let early: Vec<Entry> = unstable
            .iter()
            .filter(|e| e.index > applied && e.index <= commit)
            .cloned()
            .collect();
        self.apply_entries(early, done)
    }

    fn skip(&mut self, index: Index, term: Term) -> Result<(), EngineError> {
        self.catalog
            .skip(index, term)
            .map_err(|err| EngineError::CorruptEntry {
                index: index.0,
                detail: err.to_string(),
            })?;
        if let Some(r) = &mut self.record {
            r.push(Applied::Engine { index, term });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
