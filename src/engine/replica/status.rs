//! What can be learned about a [`Replica`] from outside without changing
//! its behaviour: its [`ReplicaStatus`], the leader it knows of, the
//! leader's view of replication, the record of what it applied (for the
//! simulator's checks), the timings of its ready loop (for a real member's
//! metrics), and read-only accessors.

use raft::eraftpb::{ConfState, HardState};
use raft::StateRole;

use super::Replica;
use crate::catalog::{ApplyOutcome, Catalog};
use crate::consensus::{DurableVoteState, LeaderHint};
use crate::engine::ReplicaStore;
use crate::entry::{ControlPlaneEntry, Index, NodeId, ProposalSession, Term};

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
        /// The client session it was proposed in, if any.
        session: Option<ProposalSession>,
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

/// Wall-clock durations measured inside the ready loop, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyTimings {
    /// Each group-commit fsync.
    pub syncs: Vec<std::time::Duration>,
    /// Each batch of committed entries applied.
    pub applies: Vec<std::time::Duration>,
}

impl<S: ReplicaStore> Replica<S> {
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

    /// Keeps a record of everything applied, drained by
    /// [`Replica::take_applied`] (for the simulator's checks).
    pub fn record_applied(&mut self, on: bool) {
        self.record = on.then(Vec::new);
    }

    /// What was applied since the last call.
    pub fn take_applied(&mut self) -> Vec<Applied> {
        self.record.as_mut().map(std::mem::take).unwrap_or_default()
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
}
