//! One replica of the control-plane log: raft-rs's `RawNode`, the durable
//! store, and the catalog, with no threads, no clock and no sockets.
//!
//! The driver loop reads top to bottom in [`Replica::process_ready`]:
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
//! Membership: the catalog says who is admitted; the raft configuration
//! follows it, one change at a time, driven by the leader: an admitted member
//! joins as a learner and is promoted to voter once its log is within
//! `max_learner_lag` entries; a removed member leaves through joint consensus
//! (ConfChangeV2, explicit transition) and the leader proposes the leave step
//! itself, so the cluster never stays joint; a leader that is removed or
//! draining hands leadership to a caught-up voter first.

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

use std::collections::BTreeMap;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft::{RawNode, SnapshotStatus, StateRole};

use super::config::EngineConfig;
use super::rng::SplitMix64;
use super::{EngineError, Mutant, ReplicaStore};
use crate::catalog::{ApplyOutcome, Catalog, Refusal};
use crate::consensus::{Committed, DurableVoteState, LeaderHint, ProposeError};
use crate::entry::{ControlPlaneEntry, Index, NodeId, Term};

/// A caller's handle on one proposal, echoed in its [`Completion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProposalToken(pub u64);

/// A caller's handle on one linearizable read, echoed in its [`Completion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadToken(pub u64);

/// The end of a proposal or a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// A proposal committed and applied, or failed.
    Proposal(ProposalToken, Result<Committed, ProposeError>),
    /// A linearizable read may be served: the catalog has applied at least
    /// the read index.
    Read(ReadToken, Index),
}

/// What a replica applied at one index (recorded only when asked for, for
/// the simulator's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A catalog entry and its outcome.
    Entry {
        /// Where.
        index: Index,
        /// Its term.
        term: Term,
        /// The entry.
        entry: ControlPlaneEntry,
        /// The outcome every replica must agree on.
        outcome: ApplyOutcome,
    },
    /// An engine entry (a leader's no-op or a configuration change).
    Engine {
        /// Where.
        index: Index,
        /// Its term.
        term: Term,
    },
    /// A snapshot from the leader replaced everything up to `index`.
    Snapshot {
        /// The snapshot's index.
        index: Index,
        /// Its term.
        term: Term,
    },
}

/// Where messages go. The driver's transport and the simulator's network
/// implement it.
pub trait MessageSink {
    /// Queue `msg` for its `to` peer.
    fn send(&mut self, msg: Message);
}

impl MessageSink for Vec<Message> {
    fn send(&mut self, msg: Message) {
        self.push(msg);
    }
}

#[derive(Debug)]
struct PendingProposal {
    token: ProposalToken,
    /// The context written into the entry: this peer and a sequence number.
    context: [u8; 16],
}

/// A replica's view of itself, for status queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// This member.
    pub id: NodeId,
    /// Its raft peer id.
    pub peer_id: u64,
    /// Leader, follower, candidate or pre-candidate.
    pub role: StateRole,
    /// The current term.
    pub term: Term,
    /// The leader of the current term, if known.
    pub leader: Option<LeaderHint>,
    /// The persisted vote.
    pub vote: DurableVoteState,
    /// The commit index.
    pub commit: Index,
    /// The applied index.
    pub applied: Index,
    /// The last index in the log.
    pub last_index: Index,
    /// The voters of the applied configuration.
    pub voters: Vec<u64>,
    /// The learners of the applied configuration.
    pub learners: Vec<u64>,
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
    last_snapshot_index: u64,
    /// The term whose leader configuration this replica has proposed.
    leader_config_term: u64,
    /// A catalog decoded from an incoming snapshot message, kept so the
    /// install does not decode it a second time.
    incoming_snapshot: Option<(u64, Catalog)>,
    record: Option<Vec<Applied>>,
    mutant: Option<Mutant>,
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

/// Wall-clock durations measured inside the ready loop, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyTimings {
    /// Each group-commit fsync.
    pub syncs: Vec<std::time::Duration>,
    /// Each batch of committed entries applied.
    pub applies: Vec<std::time::Duration>,
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

fn is_empty_snapshot(s: &Snapshot) -> bool {
    s.get_metadata().index == 0
}

impl<S: ReplicaStore> Replica<S> {
    /// Opens a replica over `store`. A store bootstrapped with
    /// [`bootstrap_store`] or holding a snapshot knows this member's peer id
    /// from its catalog; an empty store (a member joining an existing
    /// cluster) needs `join_peer_id`, the id the catalog assigned at
    /// admission. `seed` drives the election-timeout draws.
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
        let peer_id = match (catalog.member(&id).map(|m| m.peer_id), join_peer_id) {
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
            last_snapshot_index: applied,
            leader_config_term: 0,
            incoming_snapshot: None,
            record: None,
            mutant: None,
            removed: false,
            timeout_fingerprint: None,
            timings: None,
            snapshots_created: 0,
            snapshots_installed: 0,
            last_snapshot_bytes: 0,
        };
        replica.reseed_timeout();
        if sole_voter {
            // The only voter needs nobody's vote: elect itself now rather
            // than wait out an election timeout (a restart serves sooner).
            replica.raw.campaign().map_err(EngineError::Raft)?;
            replica.reseed_timeout();
        }
        Ok(replica)
    }

    /// Turns on a deliberately broken behaviour (simulator mutants only).
    pub(crate) fn set_mutant(&mut self, mutant: Option<Mutant>) {
        self.mutant = mutant;
        self.catalog
            .set_skip_epoch_check(mutant == Some(Mutant::EpochCheckSkippedAtApply));
    }

    /// Measures fsync and apply durations, drained by
    /// [`Replica::take_timings`] (a real member's metrics).
    pub fn measure_timings(&mut self, on: bool) {
        self.timings = on.then(ReadyTimings::default);
    }

    /// The timings measured since the last call.
    pub fn take_timings(&mut self) -> ReadyTimings {
        self.timings
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Snapshots taken, snapshots installed, and the size of the latest.
    pub fn snapshot_counters(&self) -> (u64, u64, u64) {
        (
            self.snapshots_created,
            self.snapshots_installed,
            self.last_snapshot_bytes,
        )
    }

    /// The leader's view of each follower's replication: (peer, matched).
    /// Empty when this replica does not lead.
    pub fn follower_progress(&self) -> Vec<(u64, u64)> {
        if self.raw.raft.state != StateRole::Leader {
            return Vec::new();
        }
        let mut v: Vec<(u64, u64)> = self
            .raw
            .raft
            .prs()
            .iter()
            .filter(|(p, _)| **p != self.peer_id)
            .map(|(p, pr)| (*p, pr.matched))
            .collect();
        v.sort_unstable();
        v
    }

    /// Keeps a record of everything applied, drained by
    /// [`Replica::take_applied`] (for the simulator's checks).
    pub fn record_applied(&mut self, on: bool) {
        self.record = on.then(Vec::new);
    }

    /// What was applied since the last call.
    pub fn take_applied(&mut self) -> Vec<Applied> {
        self.record.as_mut().map(std::mem::take).unwrap_or_default()
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
            self.incoming_snapshot = Some((snap.get_metadata().index, catalog));
        }
        match self.raw.step(msg) {
            Ok(()) | Err(raft::Error::StepPeerNotFound) => {}
            Err(e) => return Err(EngineError::Raft(e)),
        }
        self.reseed_timeout();
        Ok(())
    }

    /// Proposes a typed entry. Refusals this replica can see now come back at
    /// once (not leader, a stale epoch); otherwise the entry is appended and
    /// its [`Completion`] arrives from a later [`Replica::process_ready`].
    pub fn propose(
        &mut self,
        entry: &ControlPlaneEntry,
        token: ProposalToken,
    ) -> Result<(), ProposeError> {
        if self.removed {
            return Err(ProposeError::Shutdown);
        }
        if self.raw.raft.state != StateRole::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader_hint(),
            });
        }
        if let ControlPlaneEntry::LeaderConfiguration { term, leader } = entry {
            if term.0 != self.raw.raft.term || *leader != self.id {
                return Err(ProposeError::Refused {
                    refusal: Refusal::LeaderConfigurationNotCurrent {
                        term: *term,
                        leader: leader.clone(),
                    },
                    at: None,
                });
            }
        }
        if let ControlPlaneEntry::OwnershipTransition(t) = entry {
            if self.mutant != Some(Mutant::EpochCheckSkippedAtApply) {
                self.catalog
                    .check_transition(t)
                    .map_err(|refusal| ProposeError::Refused { refusal, at: None })?;
            }
        }
        self.proposal_seq += 1;
        let mut context = [0u8; 16];
        context[..8].copy_from_slice(&self.peer_id.to_le_bytes());
        context[8..].copy_from_slice(&self.proposal_seq.to_le_bytes());
        match self.raw.propose(context.to_vec(), entry.encode()) {
            Ok(()) => {}
            Err(raft::Error::ProposalDropped) => {
                return Err(ProposeError::NotLeader {
                    leader: self.leader_hint(),
                })
            }
            Err(e) => return Err(ProposeError::Storage(e.to_string())),
        }
        let index = self.raw.raft.raft_log.last_index();
        if let Some(old) = self
            .pending
            .insert(index, PendingProposal { token, context })
        {
            // A new entry at the same index means the old one was truncated.
            tracing::debug!(index, "pending proposal {:?} overwritten", old.token);
        }
        Ok(())
    }

    /// Starts a linearizable read: its [`Completion::Read`] arrives once the
    /// leader confirmed its leadership and this replica applied the read
    /// index.
    pub fn read(&mut self, token: ReadToken) {
        self.raw.read_index(token.0.to_le_bytes().to_vec());
    }

    /// Asks raft to hand leadership to `peer_id`.
    pub fn transfer_leader(&mut self, peer_id: u64) {
        self.raw.transfer_leader(peer_id);
        self.reseed_timeout();
    }

    /// Tells raft that a snapshot message to `peer_id` arrived or was lost.
    pub fn report_snapshot(&mut self, peer_id: u64, delivered: bool) {
        let status = if delivered {
            SnapshotStatus::Finish
        } else {
            SnapshotStatus::Failure
        };
        self.raw.report_snapshot(peer_id, status);
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

    /// Gives up on a proposal (its caller's deadline passed). The answer says
    /// whether the leader still had a quorum: [`ProposeError::Timeout`] if
    /// so, [`ProposeError::NoQuorum`] if not. The entry may still commit.
    pub fn abandon(&mut self, token: ProposalToken, waited: std::time::Duration) -> ProposeError {
        self.pending.retain(|_, p| p.token != token);
        if self.raw.raft.state == StateRole::Leader
            && self.raw.raft.mut_prs().quorum_recently_active(self.peer_id)
        {
            ProposeError::Timeout(waited)
        } else if self.raw.raft.state == StateRole::Leader || self.raw.raft.leader_id == 0 {
            ProposeError::NoQuorum
        } else {
            ProposeError::NotLeader {
                leader: self.leader_hint(),
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

    fn one_ready(
        &mut self,
        sink: &mut dyn MessageSink,
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        let mut rd = self.raw.ready();
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
        // with the next fsync.
        let skip_sync = !rd.must_sync()
            || (self.mutant == Some(Mutant::VoteNotPersisted) && rd.entries().is_empty());
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
        for rs in rd.take_read_states() {
            if let Ok(ctx) = <[u8; 8]>::try_from(rs.request_ctx.as_slice()) {
                self.reads_waiting_apply
                    .push((ReadToken(u64::from_le_bytes(ctx)), rs.index));
            }
        }
        // 6. Advance; apply what that commits.
        let mut light = self.raw.advance(rd);
        if light.commit_index().is_some() {
            let hs = self.raw.raft.hard_state();
            self.store
                .set_hard_state(&hs)
                .map_err(|e| EngineError::Storage(e.to_string()))?;
        }
        for m in light.take_messages() {
            sink.send(m);
        }
        self.apply_entries(light.take_committed_entries(), done)?;
        self.raw.advance_apply();
        self.maybe_snapshot()?;
        Ok(())
    }

    fn install_snapshot(
        &mut self,
        snap: Snapshot,
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        let meta = snap.get_metadata();
        let (index, term) = (meta.index, meta.term);
        let catalog = match self.incoming_snapshot.take() {
            Some((i, c)) if i == index => c,
            _ => Catalog::decode_snapshot(&snap.data).map_err(|e| {
                EngineError::Storage(format!("snapshot at {index} does not decode: {e}"))
            })?,
        };
        self.store
            .install_snapshot(&snap)
            .map_err(|e| EngineError::Storage(e.to_string()))?;
        self.conf_state = meta.get_conf_state().clone();
        self.snapshots_installed += 1;
        self.last_snapshot_bytes = snap.data.len() as u64;
        self.catalog = catalog;
        self.catalog
            .set_skip_epoch_check(self.mutant == Some(Mutant::EpochCheckSkippedAtApply));
        self.last_snapshot_index = index;
        // Proposals the snapshot covers: their fate is not knowable here.
        let covered: Vec<u64> = self.pending.range(..=index).map(|(i, _)| *i).collect();
        for i in covered {
            if let Some(p) = self.pending.remove(&i) {
                done.push(Completion::Proposal(
                    p.token,
                    Err(ProposeError::NotLeader {
                        leader: self.leader_hint(),
                    }),
                ));
            }
        }
        if let Some(r) = &mut self.record {
            r.push(Applied::Snapshot {
                index: Index(index),
                term: Term(term),
            });
        }
        self.check_removed();
        Ok(())
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
                    let entry = ControlPlaneEntry::decode(&e.data).map_err(|err| {
                        EngineError::CorruptEntry {
                            index: e.index,
                            detail: err.to_string(),
                        }
                    })?;
                    let outcome = self.catalog.apply(index, term, &entry).map_err(|err| {
                        EngineError::CorruptEntry {
                            index: e.index,
                            detail: err.to_string(),
                        }
                    })?;
                    if let Some(r) = &mut self.record {
                        r.push(Applied::Entry {
                            index,
                            term,
                            entry,
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
            if let Some(p) = self.pending.remove(&e.index) {
                let answer = if e.context[..] != p.context[..] {
                    // Another leader's entry took this index: ours is gone.
                    Err(ProposeError::NotLeader {
                        leader: self.leader_hint(),
                    })
                } else {
                    match result {
                        Some(outcome) => Committed::from_outcome(outcome, index, term),
                        None => Err(ProposeError::Storage(format!(
                            "entry {index} carrying our proposal is not a catalog entry"
                        ))),
                    }
                };
                done.push(Completion::Proposal(p.token, answer));
            }
        }
        Ok(())
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

    fn apply_conf_change(&mut self, e: &Entry) -> Result<(), EngineError> {
        // The data is a ConfChangeV2 this engine produced (the wire codec
        // re-encodes configuration changes from validated fields, so these
        // bytes never come raw from a peer).
        let cs = if e.get_entry_type() == EntryType::EntryConfChangeV2 {
            let cc = ConfChangeV2::parse_from_bytes(&e.data).map_err(|err| {
                EngineError::CorruptEntry {
                    index: e.index,
                    detail: format!("configuration change: {err}"),
                }
            })?;
            self.raw.apply_conf_change(&cc)
        } else {
            let cc = raft::eraftpb::ConfChange::parse_from_bytes(&e.data).map_err(|err| {
                EngineError::CorruptEntry {
                    index: e.index,
                    detail: format!("configuration change: {err}"),
                }
            })?;
            self.raw.apply_conf_change(&cc)
        };
        match cs {
            Ok(cs) => {
                self.store
                    .set_conf_state(&cs)
                    .map_err(|err| EngineError::Storage(err.to_string()))?;
                self.conf_state = cs;
                self.check_removed();
            }
            // Refused by raft's own rules (identically on every replica):
            // the configuration stays as it was.
            Err(err) => tracing::warn!(index = e.index, "configuration change refused: {err}"),
        }
        Ok(())
    }

    fn check_removed(&mut self) {
        let cs = &self.conf_state;
        let me = self.peer_id;
        let present = cs.voters.contains(&me)
            || cs.learners.contains(&me)
            || cs.voters_outgoing.contains(&me)
            || cs.learners_next.contains(&me);
        // A member with an empty configuration has not joined yet.
        let configured = !(cs.voters.is_empty() && cs.learners.is_empty());
        if configured && !present && !self.removed {
            tracing::info!(peer = me, "this member was removed from the configuration");
            self.removed = true;
        }
    }

    fn maybe_snapshot(&mut self) -> Result<(), EngineError> {
        let (applied, term) = self.catalog.applied();
        if applied.0 <= self.last_snapshot_index {
            return Ok(());
        }
        // A leader whose configuration gained a member since its latest
        // snapshot takes a new one: raft refuses to restore a snapshot that
        // does not name the receiving member, so a newcomer could otherwise
        // wait for the next periodic snapshot.
        let newcomer = self.raw.raft.state == StateRole::Leader && {
            let snap = self.store.latest_snapshot();
            let known = snap.get_metadata().get_conf_state();
            let cs = &self.conf_state;
            cs.voters
                .iter()
                .chain(cs.learners.iter())
                .any(|p| !known.voters.contains(p) && !known.learners.contains(p))
        };
        if !newcomer && applied.0 < self.last_snapshot_index + self.cfg.snapshot_every {
            return Ok(());
        }
        let data = self.catalog.encode_snapshot();
        self.snapshots_created += 1;
        self.last_snapshot_bytes = data.len() as u64;
        let mut meta = SnapshotMetadata::default();
        meta.index = applied.0;
        meta.term = term.0;
        meta.set_conf_state(self.conf_state.clone());
        self.store
            .create_snapshot(meta, data)
            .map_err(|e| EngineError::Storage(e.to_string()))?;
        self.last_snapshot_index = applied.0;
        Ok(())
    }

    fn complete_reads(&mut self, done: &mut Vec<Completion>) {
        let applied = self.catalog.applied().0 .0;
        self.reads_waiting_apply.retain(|(token, index)| {
            if *index <= applied {
                done.push(Completion::Read(*token, Index(*index)));
                false
            } else {
                true
            }
        });
    }

    /// The leader's own proposals: its leader configuration, and one step of
    /// bringing the raft configuration in line with the catalog.
    fn leader_duties(&mut self) {
        if self.raw.raft.state != StateRole::Leader || self.removed {
            return;
        }
        let term = self.raw.raft.term;
        let recorded = self.catalog.leader().map(|(t, _)| t.0).unwrap_or(0);
        if self.leader_config_term != term && recorded < term {
            let lc = ControlPlaneEntry::LeaderConfiguration {
                term: Term(term),
                leader: self.id.clone(),
            };
            if self.raw.propose(Vec::new(), lc.encode()).is_ok() {
                self.leader_config_term = term;
            }
        }
        // One configuration change at a time.
        if self.raw.raft.pending_conf_index > self.raw.raft.raft_log.applied {
            return;
        }
        if let Some(cc) = self.next_conf_change() {
            if let Err(e) = self.raw.propose_conf_change(Vec::new(), cc) {
                tracing::debug!("configuration change not proposed: {e}");
            }
        }
    }

    /// The next configuration step, or a leadership transfer when the leader
    /// itself has to go.
    fn next_conf_change(&mut self) -> Option<ConfChangeV2> {
        let cs = self.conf_state.clone();
        if !cs.voters_outgoing.is_empty() {
            // Joint: propose the leave step ourselves (raft-rs's auto-leave
            // can stall).
            return Some(ConfChangeV2::default());
        }
        let in_conf = |p: u64| cs.voters.contains(&p) || cs.learners.contains(&p);
        let admitted: BTreeMap<u64, (NodeId, bool)> = self
            .catalog
            .members()
            .map(|m| {
                (
                    m.peer_id,
                    (
                        m.id.clone(),
                        m.state == crate::catalog::MemberState::Draining,
                    ),
                )
            })
            .collect();
        // Removals first. The leader never removes itself: it hands over.
        let mut gone: Vec<u64> = cs
            .voters
            .iter()
            .chain(cs.learners.iter())
            .copied()
            .filter(|p| !admitted.contains_key(p))
            .collect();
        gone.sort_unstable();
        if let Some(p) = gone.first().copied() {
            if p == self.peer_id {
                self.hand_over_leadership(&admitted, true);
                return None;
            }
            return Some(single(
                p,
                ConfChangeType::RemoveNode,
                ConfChangeTransition::Explicit,
            ));
        }
        if admitted
            .get(&self.peer_id)
            .is_some_and(|(_, draining)| *draining)
        {
            self.hand_over_leadership(&admitted, false);
        }
        // Admitted members not yet in the configuration join as learners.
        if let Some(p) = admitted.keys().copied().find(|p| !in_conf(*p)) {
            return Some(single(
                p,
                ConfChangeType::AddLearnerNode,
                ConfChangeTransition::Auto,
            ));
        }
        // Learners that caught up become voters.
        let last = self.raw.raft.raft_log.last_index();
        let lag = self.cfg.max_learner_lag;
        let prs = self.raw.raft.prs();
        let mut learners = cs.learners.clone();
        learners.sort_unstable();
        // A learner has caught up once it has answered (matched > 0: a new
        // one starts at 0 and holds at least the genesis snapshot when it
        // answers), is in touch, and is within the lag bound. Promoting one
        // that never answered would count an absent member toward quorum.
        learners
            .into_iter()
            .find(|p| {
                prs.get(*p).is_some_and(|pr| {
                    pr.matched > 0 && pr.recent_active && pr.matched + lag >= last
                })
            })
            .map(|p| single(p, ConfChangeType::AddNode, ConfChangeTransition::Auto))
    }

    /// Transfers leadership to the most caught-up voter that is admitted and
    /// not draining (ties broken by identity order). A removed leader must
    /// go, so it settles for a draining voter when it has to; a draining
    /// leader only hands over to a voter that is not draining, or leadership
    /// would bounce between draining members forever.
    fn hand_over_leadership(&mut self, admitted: &BTreeMap<u64, (NodeId, bool)>, must_go: bool) {
        if self.raw.raft.lead_transferee.is_some() {
            return;
        }
        let prs = self.raw.raft.prs();
        let target = self
            .conf_state
            .voters
            .iter()
            .copied()
            .filter(|p| *p != self.peer_id)
            .filter_map(|p| {
                let (id, draining) = admitted.get(&p)?;
                let matched = prs.get(p)?.matched;
                Some((*draining, std::cmp::Reverse(matched), id.clone(), p))
            })
            .min()
            .filter(|(draining, _, _, _)| must_go || !*draining)
            .map(|(_, _, _, p)| p);
        if let Some(p) = target {
            tracing::info!(to = p, "handing leadership over");
            self.raw.transfer_leader(p);
        }
    }

    /// The leader this replica knows of, with its address.
    pub fn leader_hint(&self) -> Option<LeaderHint> {
        let leader = self.raw.raft.leader_id;
        if leader == 0 {
            return None;
        }
        self.catalog
            .members()
            .find(|m| m.peer_id == leader)
            .map(|m| LeaderHint {
                id: m.id.clone(),
                address: Some(m.address.clone()),
            })
    }

    /// This replica's status.
    pub fn status(&self) -> ReplicaStatus {
        let hs = self.raw.raft.hard_state();
        let voted_for = (hs.vote != 0)
            .then(|| self.catalog.members().find(|m| m.peer_id == hs.vote))
            .flatten()
            .map(|m| m.id.clone());
        ReplicaStatus {
            id: self.id.clone(),
            peer_id: self.peer_id,
            role: self.raw.raft.state,
            term: Term(hs.term),
            leader: self.leader_hint(),
            vote: DurableVoteState {
                term: Term(hs.term),
                voted_for,
            },
            commit: Index(hs.commit),
            applied: self.catalog.applied().0,
            last_index: Index(self.raw.raft.raft_log.last_index()),
            voters: self.conf_state.voters.clone(),
            learners: self.conf_state.learners.clone(),
        }
    }

    /// The applied catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// This member's identity.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// This member's raft peer id.
    pub fn peer_id(&self) -> u64 {
        self.peer_id
    }

    /// Whether this replica leads.
    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    /// Whether this member was removed from the configuration.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// The raw hard state raft holds now (term, vote, commit).
    pub fn hard_state(&self) -> HardState {
        self.raw.raft.hard_state()
    }

    /// The store (for inspection and tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The applied raft configuration.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// Whether raft has work for [`Replica::process_ready`].
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }

    /// Whether a proposal is still waiting for its entry.
    pub fn has_pending(&self, token: ProposalToken) -> bool {
        self.pending.values().any(|p| p.token == token)
    }

    /// Consumes the replica, returning its store (a clean stop).
    pub fn into_store(self) -> S {
        self.store
    }
}

fn single(peer: u64, ty: ConfChangeType, transition: ConfChangeTransition) -> ConfChangeV2 {
    let mut s = ConfChangeSingle::default();
    s.set_change_type(ty);
    s.node_id = peer;
    let mut cc = ConfChangeV2::default();
    cc.set_transition(transition);
    cc.mut_changes().push(s);
    cc
}
