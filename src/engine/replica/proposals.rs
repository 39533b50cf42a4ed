//! Proposal and read bookkeeping of a [`Replica`]: the tokens callers hold,
//! the [`Completion`]s they get back, proposing a typed entry (with the
//! leader's checks before it enters the log), matching a committed entry to
//! the proposal waiting at its index, giving up on a proposal, and
//! linearizable reads waiting for apply to reach their index.

use raft::eraftpb::Entry;
use raft::{ReadState, StateRole};

use super::Replica;
use crate::catalog::{ApplyOutcome, Refusal, SessionCheck};
use crate::consensus::{Committed, ProposeError};
use crate::engine::ReplicaStore;
use crate::entry::{ControlPlaneEntry, Index, Proposal, Term};

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

/// A proposal appended at some index, waiting for its entry to apply.
#[derive(Debug)]
pub(super) struct PendingProposal {
    pub(super) token: ProposalToken,
    /// The context written into the entry: this peer, the term it led when
    /// it appended the entry, and a sequence number within this replica's
    /// life. A peer leads a term in one incarnation only (a restarted member
    /// must win a later term), so no other entry, of this incarnation or an
    /// earlier one, carries the same context.
    pub(super) context: [u8; 24],
}

impl<S: ReplicaStore> Replica<S> {
    /// Proposes a typed entry with its client session, if any. Answers this
    /// replica can give now come back at once: `Err` for a refusal (not
    /// leader, a stale epoch) and `Ok(Some(..))` for a retry whose first
    /// attempt is already applied (its first outcome). Otherwise the entry
    /// is appended (`Ok(None)`) and its [`Completion`] arrives from a later
    /// [`Replica::process_ready`].
    pub fn propose(
        &mut self,
        proposal: &Proposal,
        token: ProposalToken,
    ) -> Result<Option<Committed>, ProposeError> {
        if self.removed {
            return Err(ProposeError::Shutdown);
        }
        if self.raw.raft.state != StateRole::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader_hint(),
            });
        }
        let entry = &proposal.entry;
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
        if let Some(session) = &proposal.session {
            match self.catalog.session(session) {
                SessionCheck::Repeat(first) => {
                    return Committed::from_outcome(
                        ApplyOutcome::Repeat(Box::new(first)),
                        Index(0),
                        Term(0),
                    )
                    .map(Some);
                }
                SessionCheck::TooOld => {
                    return Committed::from_outcome(ApplyOutcome::RetryTooOld, Index(0), Term(0))
                        .map(Some)
                }
                SessionCheck::New => {}
            }
        }
        // Refusing before the log is exact only when this replica's catalog
        // is the whole log: otherwise an earlier attempt of the same session
        // may sit unapplied in the log, and only apply can tell.
        let caught_up = proposal.session.is_none()
            || self.catalog.applied().0 .0 >= self.raw.raft.raft_log.last_index();
        if let (ControlPlaneEntry::OwnershipTransition(t), true) = (entry, caught_up) {
            // Test seam: a mutant may skip the leader's check.
            if !self.test_seam.skip_epoch_check() {
                self.catalog
                    .check_transition(t)
                    .map_err(|refusal| ProposeError::Refused { refusal, at: None })?;
            }
        }
        self.proposal_seq += 1;
        let mut context = [0u8; 24];
        context[..8].copy_from_slice(&self.peer_id.to_le_bytes());
        context[8..16].copy_from_slice(&self.raw.raft.term.to_le_bytes());
        context[16..].copy_from_slice(&self.proposal_seq.to_le_bytes());
        match self.raw.propose(context.to_vec(), proposal.encode()) {
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
        Ok(None)
    }

    /// Answers the proposal waiting at `e`'s index, if any, now that `e` was
    /// applied with `result` (`None`: not a catalog entry).
    pub(super) fn complete_proposal(
        &mut self,
        e: &Entry,
        result: Option<ApplyOutcome>,
        done: &mut Vec<Completion>,
    ) {
        let (index, term) = (Index(e.index), Term(e.term));
        // Test seam: a mutant matches by peer and sequence number alone,
        // wherever the proposal waits, as contexts were matched before.
        if self.test_seam.match_context_without_term() {
            let same = |c: &[u8; 24]| {
                e.context.len() == 24 && e.context[..8] == c[..8] && e.context[16..] == c[16..]
            };
            let hit = self.pending.iter().find(|(_, p)| same(&p.context));
            if let Some(at) = hit.map(|(i, _)| *i) {
                if let (Some(p), Some(outcome)) = (self.pending.remove(&at), result) {
                    let answer = Committed::from_outcome(outcome, index, term);
                    done.push(Completion::Proposal(p.token, answer));
                }
            }
            return;
        }
        let Some(p) = self.pending.remove(&e.index) else {
            return;
        };
        let ours = e.context[..] == p.context[..];
        let answer = if !ours {
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

    /// Fails the proposals waiting at or below `index`, which an installed
    /// snapshot covers: their fate is not knowable here (they may be in the
    /// snapshot), so the answer says so.
    pub(super) fn fail_proposals_covered(&mut self, index: u64, done: &mut Vec<Completion>) {
        let covered: Vec<u64> = self.pending.range(..=index).map(|(i, _)| *i).collect();
        for i in covered {
            if let Some(p) = self.pending.remove(&i) {
                done.push(Completion::Proposal(
                    p.token,
                    Err(ProposeError::Indeterminate(format!(
                        "the entry at index {i} was covered by a snapshot from the leader before this member applied it"
                    ))),
                ));
            }
        }
    }

    /// Gives up on a proposal (its caller's deadline passed). The entry was
    /// appended to the log when this member led, so it may still commit,
    /// whatever this member's role is now (a leader that stepped down may
    /// have replicated it to the next one): the answer is never "not
    /// leader", which promises the entry did not take effect. It says
    /// whether this member still leads with a quorum:
    /// [`ProposeError::Timeout`] if so or if another member leads now,
    /// [`ProposeError::NoQuorum`] if this leader lost its quorum or no
    /// leader is known.
    pub fn abandon(&mut self, token: ProposalToken, waited: std::time::Duration) -> ProposeError {
        self.pending.retain(|_, p| p.token != token);
        let leads = self.raw.raft.state == StateRole::Leader;
        if (leads && !self.quorum_recently_active()) || (!leads && self.raw.raft.leader_id == 0) {
            ProposeError::NoQuorum
        } else {
            ProposeError::Timeout(waited)
        }
    }

    /// Whether the voters this leader heard from since its last quorum check
    /// (and itself) form a quorum. Reads raft's activity flags without
    /// clearing them: raft's own check-quorum clears them once per election
    /// timeout, and a second clearing would make it step down for nothing.
    fn quorum_recently_active(&self) -> bool {
        let prs = self.raw.raft.prs();
        let mut active = Default::default();
        Extend::extend(
            &mut active,
            prs.iter()
                .filter(|(id, pr)| **id == self.peer_id || pr.recent_active)
                .map(|(id, _)| *id),
        );
        prs.has_quorum(&active)
    }

    /// Whether a proposal is still waiting for its entry.
    pub fn has_pending(&self, token: ProposalToken) -> bool {
        self.pending.values().any(|p| p.token == token)
    }

    /// Starts a linearizable read: its [`Completion::Read`] arrives once the
    /// leader confirmed its leadership and this replica applied the read
    /// index. `token` must differ from the tokens of this replica's other
    /// reads (the driver's counter); it need not differ from other members'
    /// tokens or from those of an earlier incarnation of this member: the
    /// read's context (this member's peer id and a nonce drawn when it
    /// opened, then the token) makes it unique.
    pub fn read(&mut self, token: ReadToken) {
        let mut ctx = self.read_context_prefix();
        ctx.extend_from_slice(&token.0.to_le_bytes());
        self.raw.read_index(ctx);
    }

    /// The bytes every read context of this replica starts with: its peer id
    /// and the nonce it drew when it opened. raft-rs keys pending reads by
    /// context alone (a second read with a pending context is dropped, and
    /// heartbeat acknowledgements count for whichever read holds the
    /// context), and a follower takes any read-index answer whose context it
    /// recognizes; with a bare per-process counter, another member's read or
    /// a late answer to an earlier incarnation's read would be taken for
    /// this one, and a read could be served below a write acknowledged
    /// before it started.
    pub(super) fn read_context_prefix(&self) -> Vec<u8> {
        // Test seam: a mutant uses the bare counter as the context.
        if self.test_seam.reuse_read_context() {
            return Vec::new();
        }
        let mut prefix = Vec::with_capacity(24);
        prefix.extend_from_slice(&self.peer_id.to_le_bytes());
        prefix.extend_from_slice(&self.read_nonce.to_le_bytes());
        prefix
    }

    /// A nonce for this incarnation's read contexts: a draw from the seeded
    /// generator (a real member seeds it from the clock and its id) mixed
    /// with the durable state it opened with, which differs between
    /// incarnations that ran anything.
    pub(super) fn draw_read_nonce(&mut self) -> u64 {
        let hs = self.raw.raft.hard_state();
        let last = self.raw.raft.raft_log.last_index();
        let mut mix = crate::engine::rng::SplitMix64::new(
            hs.term ^ hs.commit.rotate_left(21) ^ last.rotate_left(42) ^ hs.vote.rotate_left(11),
        );
        self.rng.next_u64() ^ mix.next_u64()
    }

    /// Keeps the reads whose index raft confirmed until apply reaches it.
    /// Answers whose context is not one of this incarnation's are dropped:
    /// they answer a read of an earlier incarnation (or are garbage).
    pub(super) fn await_reads(&mut self, read_states: Vec<ReadState>) {
        if read_states.is_empty() {
            return;
        }
        let prefix = self.read_context_prefix();
        for rs in read_states {
            let ctx = rs.request_ctx.as_slice();
            let Some(counter) = ctx
                .strip_prefix(prefix.as_slice())
                .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
            else {
                tracing::debug!(
                    index = rs.index,
                    "read-index answer for another incarnation dropped"
                );
                continue;
            };
            let token = ReadToken(u64::from_le_bytes(counter));
            // The network may deliver an answer twice.
            if !self.reads_waiting_apply.iter().any(|(t, _)| *t == token) {
                self.reads_waiting_apply.push((token, rs.index));
            }
        }
    }

    /// Completes the reads whose index the catalog has applied.
    pub(super) fn complete_reads(&mut self, done: &mut Vec<Completion>) {
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
}
