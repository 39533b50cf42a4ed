//! The boundary between callers and a control-plane engine: the
//! [`ControlPlaneConsensus`] trait every engine implements, and the results it
//! answers with.
//!
//! This is the seed's trait made replicable. Appending became
//! [`ControlPlaneConsensus::propose`]: it takes only a typed
//! [`ControlPlaneEntry`] (never bytes), waits at most `timeout`, and returns
//! once the entry is committed and applied, with its index, term and outcome.
//! Writes are leader-only: a follower answers [`ProposeError::NotLeader`] with
//! the leader it knows, so the caller can go there. An entry the catalog
//! refuses comes back as [`ProposeError::Refused`], whether the leader saw the
//! refusal before the entry entered the log or every replica computed it at
//! apply time; an `Ok` always means the entry took effect.
//!
//! The durable vote is part of the contract: [`DurableVoteState`] is what a
//! member persisted before it acknowledged any vote.
//!
//! The room sits below the engines (which implement it) and the node (which
//! serves it): it imports only the entry set and the catalog's read types.

use std::time::Duration;

use crate::catalog::{ApplyOutcome, AuditRecord, FenceStatus, Member, RangeOwnership, Refusal};
use crate::entry::{
    CatalogVersion, ControlPlaneEntry, Epoch, Index, MemberAddress, NodeId, Proposal, RangeId, Term,
};

/// The durable per-member vote state, persisted before any vote is
/// acknowledged so a member that restarts mid-term cannot vote twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DurableVoteState {
    /// The highest term this member has seen.
    pub term: Term,
    /// Whom it voted for in `term`, if anyone.
    pub voted_for: Option<NodeId>,
}

impl DurableVoteState {
    /// The vote state of a member that has never voted.
    pub fn initial() -> Self {
        Self {
            term: Term::GENESIS,
            voted_for: None,
        }
    }
}

/// The instant `timeout` after `start`, saturating: a timeout too large to
/// add (`Duration::MAX`, or a caller's `1e19` seconds) means "wait as long as
/// it takes" (about a century), never an overflow.
pub fn deadline_after(start: std::time::Instant, timeout: Duration) -> std::time::Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    start
        .checked_add(timeout.min(CENTURY))
        .or_else(|| start.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(start)
}

/// The answer to a proposal.
pub type ProposeResult = Result<Committed, ProposeError>;

/// A callback that receives a proposal's answer, exactly once.
pub type ProposeCallback = Box<dyn FnOnce(ProposeResult) + Send + 'static>;

/// The leader a follower knows of, with where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaderHint {
    /// The leader's identity.
    pub id: NodeId,
    /// Its peer address, if the catalog knows it.
    pub address: Option<MemberAddress>,
}

/// A proposal that was committed and took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Committed {
    /// Where the entry sits in the log.
    pub index: Index,
    /// The term that committed it.
    pub term: Term,
    /// The catalog version after applying it.
    pub version: CatalogVersion,
    /// False when the entry was an idempotent repeat that changed nothing.
    pub changed: bool,
}

/// Why a proposal did not take effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This member is not the leader; go to `leader` if one is known.
    #[error("{}", not_leader_text(leader))]
    NotLeader {
        /// The leader this member knows of, if any.
        leader: Option<LeaderHint>,
    },
    /// The leader could not reach a quorum in time.
    #[error("no quorum: the leader could not replicate the entry to a majority")]
    NoQuorum,
    /// The deadline passed before the outcome was known. The entry may still
    /// commit later.
    #[error("timed out after {0:?} waiting for the entry to commit")]
    Timeout(Duration),
    /// The catalog refused the entry. `at` is the log position when the
    /// refusal was computed at apply time, `None` when the leader refused it
    /// before it entered the log.
    #[error("refused: {refusal}")]
    Refused {
        /// Why.
        refusal: Refusal,
        /// The committed (index, term) of the refused entry, if it was logged.
        at: Option<(Index, Term)>,
    },
    /// The member is shutting down or shut down.
    #[error("the member is shut down")]
    Shutdown,
    /// Durable storage failed; the member stops accepting writes.
    #[error("storage failure: {0}")]
    Storage(String),
    /// Whether the proposal took effect is not known and cannot be found
    /// out here: it may have committed (for example, a retry whose first
    /// attempt is older than the cluster remembers, or a client that lost
    /// its connection after sending and ran out of retries). Read the state
    /// before acting on it.
    #[error("outcome unknown: {0}")]
    Indeterminate(String),
    /// A leadership transfer did not happen in time (the target did not
    /// win the election the leader asked it to start); leadership stays
    /// where it was. Says why, as far as the leader knows.
    #[error("leadership did not move: {0}")]
    NotTransferred(String),
    /// The member has as many calls in flight as it takes
    /// (`NodeOptions::max_pending_calls`) and none finished before the
    /// call's deadline. Nothing was proposed: the call did not take effect;
    /// retry later (with backoff) or elsewhere.
    #[error("overloaded: {0}")]
    Overloaded(String),
}

/// A proposal [`ControlPlaneConsensus::try_submit_with`] did not register:
/// its callback, uncalled, and why (the member stopped:
/// [`ProposeError::Shutdown`] or the fatal error; or it is overloaded:
/// [`ProposeError::Overloaded`]). Nothing was proposed.
pub struct Unsubmitted {
    /// The callback, never called.
    pub callback: ProposeCallback,
    /// Why the proposal was not registered.
    pub error: ProposeError,
}

impl std::fmt::Debug for Unsubmitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unsubmitted")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Committed {
    /// The answer to a proposal that was applied at (`index`, `term`) with
    /// `outcome`. A repeat of an earlier attempt answers as that attempt
    /// did, with its position.
    pub fn from_outcome(
        outcome: ApplyOutcome,
        index: Index,
        term: Term,
    ) -> Result<Committed, ProposeError> {
        match outcome {
            ApplyOutcome::Applied { version } => Ok(Committed {
                index,
                term,
                version,
                changed: true,
            }),
            ApplyOutcome::Unchanged { version } => Ok(Committed {
                index,
                term,
                version,
                changed: false,
            }),
            ApplyOutcome::Refused(refusal) => Err(ProposeError::Refused {
                refusal,
                at: Some((index, term)),
            }),
            ApplyOutcome::Repeat(first) => Self::from_outcome(first.outcome, first.index, first.term),
            ApplyOutcome::RetryTooOld => Err(ProposeError::Indeterminate(format!(
                "the retry logged at index {index} is older than the cluster's memory of its client session; the first attempt may have taken effect"
            ))),
        }
    }
}

fn not_leader_text(leader: &Option<LeaderHint>) -> String {
    match leader {
        Some(LeaderHint {
            id,
            address: Some(a),
        }) => format!("not the control-plane leader; current leader is {id} at {a}"),
        Some(LeaderHint { id, address: None }) => {
            format!("not the control-plane leader; current leader is {id}")
        }
        None => "not the control-plane leader; no leader currently known".into(),
    }
}

/// The boundary between callers and a control-plane engine. The single-node
/// engine and the replicated engine both sit behind it, so swapping one for
/// the other does not reach callers.
pub trait ControlPlaneConsensus: Send + Sync {
    /// This member's identity.
    fn id(&self) -> &NodeId;

    /// The current election term.
    fn current_term(&self) -> Term;

    /// The leader of the current term, if one is known.
    fn leader(&self) -> Option<NodeId>;

    /// Whether this member is the leader: false on a stopped member (shut
    /// down, failed, removed), which leads nobody.
    fn is_leader(&self) -> bool;

    /// The persisted vote state.
    fn durable_vote(&self) -> DurableVoteState;

    /// The index of the highest committed entry, or `None` if nothing is
    /// committed yet.
    fn commit_index(&self) -> Option<Index>;

    /// Proposes `entry` and waits up to `timeout` for it to commit and apply
    /// (a proposal without a client session: every logged copy applies).
    fn propose(
        &self,
        entry: ControlPlaneEntry,
        timeout: Duration,
    ) -> Result<Committed, ProposeError> {
        self.submit(Proposal::bare(entry), timeout)
    }

    /// Proposes `entry` without waiting: `callback` gets the answer exactly
    /// once (see [`ControlPlaneConsensus::submit_with`]).
    fn propose_with(&self, entry: ControlPlaneEntry, timeout: Duration, callback: ProposeCallback) {
        self.submit_with(Proposal::bare(entry), timeout, callback);
    }

    /// Proposes `proposal` (an entry and, for exactly-once retries, the
    /// client session of its first attempt) and waits up to `timeout` for it
    /// to commit and apply. A retry whose first attempt already took effect
    /// answers the first outcome and changes nothing.
    fn submit(&self, proposal: Proposal, timeout: Duration) -> Result<Committed, ProposeError>;

    /// [`ControlPlaneConsensus::submit`] without waiting: `callback` gets
    /// the answer exactly once. The default runs the blocking form and calls
    /// back before it returns; the replicated member (`node::Node`) calls
    /// back from a callback thread of its own, never its driver thread (so a
    /// callback may call the member's blocking methods, and a slow one does
    /// not hold up consensus), before its `shutdown` returns at the latest.
    fn submit_with(&self, proposal: Proposal, timeout: Duration, callback: ProposeCallback) {
        callback(self.submit(proposal, timeout));
    }

    /// Registers `proposal` unless the engine is shut down or shutting down,
    /// or has as many calls in flight as it takes. `Ok`: `callback` is
    /// called exactly once (never after `shutdown` returns). `Err`: nothing
    /// was registered and the callback comes back uncalled with the reason
    /// ([`Unsubmitted`]), so a caller registering concurrently with a
    /// shutdown is told on its own thread and no callback runs late. Never
    /// waits for room. The default registers through
    /// [`ControlPlaneConsensus::submit_with`].
    fn try_submit_with(
        &self,
        proposal: Proposal,
        timeout: Duration,
        callback: ProposeCallback,
    ) -> Result<(), Unsubmitted> {
        self.submit_with(proposal, timeout, callback);
        Ok(())
    }

    /// The owner of `range` as this member has applied it.
    ///
    /// Answers `None` on a stopped member (shut down, failed, removed), as
    /// if nothing were owned: prefer [`ControlPlaneConsensus::try_owner`],
    /// which says that the member stopped.
    fn owner(&self, range: &RangeId) -> Option<RangeOwnership>;

    /// Whether (`owner`, `epoch`) currently owns `range`, as this member has
    /// applied it.
    ///
    /// Answers [`FenceStatus::Unknown`] on a stopped member: prefer
    /// [`ControlPlaneConsensus::try_fence_check`], which says that the member
    /// stopped.
    fn fence_check(&self, range: &RangeId, owner: &NodeId, epoch: Epoch) -> FenceStatus;

    /// The members, in identity order.
    ///
    /// Answers an empty list on a stopped member: prefer
    /// [`ControlPlaneConsensus::try_members`], which says that the member
    /// stopped.
    fn members(&self) -> Vec<Member>;

    /// The forced transitions, oldest first.
    ///
    /// Answers an empty list on a stopped member: prefer
    /// [`ControlPlaneConsensus::try_audit_log`], which says that the member
    /// stopped.
    fn audit_log(&self) -> Vec<AuditRecord>;

    /// Whether this engine still answers: `Ok` while it runs, else why it
    /// stopped: [`ProposeError::Shutdown`] after a shutdown or its removal
    /// from the cluster, [`ProposeError::Storage`] after a fatal error. A
    /// stopped engine answers every fallible call with the same error. The
    /// default (an engine that never stops answering reads, like the
    /// single-node engine) is always `Ok`.
    fn check_running(&self) -> Result<(), ProposeError> {
        Ok(())
    }

    /// [`ControlPlaneConsensus::owner`], or why this member cannot answer:
    /// a stopped member answers [`ProposeError::Shutdown`] (or the fatal
    /// [`ProposeError::Storage`]) instead of "no owner". The default asks
    /// [`ControlPlaneConsensus::check_running`], then `owner`.
    fn try_owner(&self, range: &RangeId) -> Result<Option<RangeOwnership>, ProposeError> {
        self.check_running().map(|()| self.owner(range))
    }

    /// [`ControlPlaneConsensus::fence_check`], or why this member cannot
    /// answer: a stopped member answers [`ProposeError::Shutdown`] (or the
    /// fatal [`ProposeError::Storage`]) instead of
    /// [`FenceStatus::Unknown`]. The default asks
    /// [`ControlPlaneConsensus::check_running`], then `fence_check`.
    fn try_fence_check(
        &self,
        range: &RangeId,
        owner: &NodeId,
        epoch: Epoch,
    ) -> Result<FenceStatus, ProposeError> {
        self.check_running()
            .map(|()| self.fence_check(range, owner, epoch))
    }

    /// [`ControlPlaneConsensus::members`], or why this member cannot answer:
    /// a stopped member answers [`ProposeError::Shutdown`] (or the fatal
    /// [`ProposeError::Storage`]) instead of an empty list. The default
    /// asks [`ControlPlaneConsensus::check_running`], then `members`.
    fn try_members(&self) -> Result<Vec<Member>, ProposeError> {
        self.check_running().map(|()| self.members())
    }

    /// [`ControlPlaneConsensus::audit_log`], or why this member cannot
    /// answer: a stopped member answers [`ProposeError::Shutdown`] (or the
    /// fatal [`ProposeError::Storage`]) instead of an empty list. The
    /// default asks [`ControlPlaneConsensus::check_running`], then
    /// `audit_log`.
    fn try_audit_log(&self) -> Result<Vec<AuditRecord>, ProposeError> {
        self.check_running().map(|()| self.audit_log())
    }

    /// The index of the last entry this member applied: what its local reads
    /// reflect.
    fn applied_index(&self) -> Index;
}
