//! The catalog: membership and range ownership, as a deterministic state
//! machine applied only from committed log entries.
//!
//! Every replica applies the same committed entries in the same order and
//! computes the same [`ApplyOutcome`] for each: an entry is either applied
//! (the catalog version grows by one) or refused with a [`Refusal`] that every
//! replica derives identically from the catalog alone. Nothing here reads a
//! clock, a random number or the environment, and every collection is
//! ordered, so two catalogs that applied the same entries encode to the same
//! bytes ([`snapshot`]).
//!
//! The rules, each with its refusal:
//! * admit is idempotent (same kind and address: no change); an admitted
//!   member cannot be re-admitted with another kind or address, nor while it
//!   drains;
//! * begin-drain makes a member ineligible as a new owner;
//! * remove is refused while the member owns ranges (move them away first,
//!   with ordinary or forced transitions), and for the last member;
//! * an ownership transition needs an admitted, non-draining data member as
//!   the new owner (a witness never owns a range) and is a compare-and-set:
//!   its epoch must be exactly the range's current epoch plus one (a lower
//!   one is stale, a higher one skips epochs; both are refused, each with its
//!   own code); a forced transition moves the range to the current epoch plus
//!   one and is recorded in the audit list. A range's epoch therefore grows
//!   by exactly one per transition and can never be pushed to a value it
//!   cannot move on from;
//! * leader-configuration terms never go backwards, and one term has one
//!   leader;
//! * the catalog does not grow past its documented [`limits`] (members,
//!   the ranges' snapshot bytes, audit records): an entry that would add a
//!   member, a range or an audit record beyond one is refused
//!   ([`Refusal::CatalogFull`]); entries that change what exists still
//!   apply.
//!
//! Exactly-once: a proposal logged with a client session
//! ([`crate::entry::Proposal`]) is applied once; when a retry of it is
//! logged too, applying the retry changes nothing and answers the first
//! outcome ([`ApplyOutcome::Repeat`]); see [`sessions`].
//!
//! Fencing: [`Catalog::fence_check`] tells a data plane whether an
//! (owner, epoch) pair it is presented with is the current owner of a range.

pub mod limits;
mod outcome_codec;
mod refusal;
pub mod sessions;
pub mod snapshot;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::entry::{
    AuditReason, CatalogVersion, ControlPlaneEntry, Epoch, ForcedOwnershipTransition, Index,
    MemberAddress, MemberKind, MembershipChange, NodeId, OwnershipTransition, Proposal, RangeId,
    Term,
};
pub use limits::{CatalogLimit, MAX_AUDIT_RECORDS, MAX_MEMBERS, MAX_RANGE_BYTES};
pub(crate) use outcome_codec::{get_outcome, get_refusal, put_outcome, put_refusal};
pub use refusal::Refusal;
pub use sessions::{RecordedOutcome, SessionCheck, SessionTable};
pub use view::CatalogView;

/// Errors from using the catalog out of its contract (not refusals of an
/// entry, which are outcomes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// An entry was applied at or below the index already applied.
    #[error("entry at index {index} applied out of order; index {applied} is already applied")]
    OutOfOrder {
        /// The index offered.
        index: Index,
        /// The index already applied.
        applied: Index,
    },
    /// A bootstrap member list is unusable.
    #[error("invalid bootstrap membership: {0}")]
    InvalidBootstrap(String),
}

/// Whether a member is serving or on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Admitted and eligible as a new owner (if a data member).
    Active,
    /// Draining: not eligible as a new owner; its ranges are being moved away.
    Draining,
}

impl MemberState {
    /// The stable lower-case name (`active`, `draining`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Active => "active",
            MemberState::Draining => "draining",
        }
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A member as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// Its identity.
    pub id: NodeId,
    /// Data or witness.
    pub kind: MemberKind,
    /// Where peers reach it.
    pub address: MemberAddress,
    /// Active or draining.
    pub state: MemberState,
    /// The consensus engine's numeric peer id, assigned by the catalog at
    /// admission (never reused, so a removed member's old id stays dead).
    pub peer_id: u64,
}

/// A member of the initial configuration of a new cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMember {
    /// Its identity.
    pub id: NodeId,
    /// Data or witness.
    pub kind: MemberKind,
    /// Where peers reach it.
    pub address: MemberAddress,
}

/// Who owns a range now, and which log entry made it so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RangeOwnership {
    /// The current owner.
    pub owner: NodeId,
    /// The current ownership epoch.
    pub epoch: Epoch,
    /// The catalog version the transition produced.
    pub version: CatalogVersion,
    /// The term of the entry that set it.
    pub term: Term,
    /// The index of the entry that set it.
    pub index: Index,
}

/// The audit list: forced transitions, oldest first, in a persistent vector
/// (indexable, iterable; a clone shares its records).
pub type AuditLog = imbl::Vector<AuditRecord>;

/// One forced ownership transition, kept forever in the audit list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditRecord {
    /// The index of the entry.
    pub index: Index,
    /// The term of the entry.
    pub term: Term,
    /// The range that was moved.
    pub range: RangeId,
    /// The owner before, if the range had one.
    pub previous_owner: Option<NodeId>,
    /// The epoch before (0 if the range had no owner).
    pub previous_epoch: Epoch,
    /// The owner after.
    pub new_owner: NodeId,
    /// The epoch after.
    pub epoch: Epoch,
    /// The operator who forced it.
    pub operator: NodeId,
    /// Why.
    pub reason: AuditReason,
}

/// The answer of [`Catalog::fence_check`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FenceStatus {
    /// The pair is the range's current owner and epoch.
    Current,
    /// The pair is fenced: the range has moved on.
    Stale {
        /// The current owner.
        owner: NodeId,
        /// The current epoch.
        epoch: Epoch,
    },
    /// This replica cannot vouch for the pair: the range has no owner here,
    /// or the epoch is newer than anything this replica has applied (it may
    /// be behind).
    Unknown,
}

/// The result of applying one committed entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApplyOutcome {
    /// The entry changed the catalog, which is now at `version`.
    Applied {
        /// The catalog version after the change.
        version: CatalogVersion,
    },
    /// The entry was valid and already in effect (an idempotent repeat).
    Unchanged {
        /// The catalog version, unchanged.
        version: CatalogVersion,
    },
    /// The entry was refused; the catalog did not change.
    Refused(Refusal),
    /// A retry of a proposal (same client session) that was already
    /// applied: nothing changed, and this is what the first one did.
    Repeat(Box<RecordedOutcome>),
    /// A retry whose client session is older than the catalog remembers:
    /// nothing changed now, and whether the first attempt took effect is no
    /// longer known.
    RetryTooOld,
}

impl ApplyOutcome {
    /// Whether the entry took effect (applied, or already in effect; for a
    /// repeat, whether the first attempt did).
    pub fn is_effective(&self) -> bool {
        match self {
            ApplyOutcome::Applied { .. } | ApplyOutcome::Unchanged { .. } => true,
            ApplyOutcome::Refused(_) | ApplyOutcome::RetryTooOld => false,
            ApplyOutcome::Repeat(first) => first.outcome.is_effective(),
        }
    }
}

/// How many removed members the catalog remembers ([`Catalog::departed`]):
/// a removal leaves the raft configuration one change after the catalog, and
/// configuration changes go one at a time, so a handful is plenty.
pub const MAX_DEPARTED: usize = 16;

/// The refusal of growth past `what`.
fn full(what: CatalogLimit) -> Refusal {
    Refusal::CatalogFull {
        what,
        limit: what.max() as u64,
    }
}

/// The membership and ownership catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    // The parts readers share ([`Catalog::view`]) are persistent
    // structures: a clone shares everything unchanged, so publishing the
    // applied state after every batch costs O(1), not a copy.
    members: imbl::OrdMap<NodeId, Member>,
    ranges: imbl::OrdMap<RangeId, RangeOwnership>,
    audit: imbl::Vector<AuditRecord>,
    version: CatalogVersion,
    leader: Option<(Term, NodeId)>,
    applied_index: Index,
    applied_term: Term,
    next_peer_id: u64,
    /// Ranges owned per member: derived from `ranges`, kept to answer
    /// "does this member still own ranges" without a scan.
    owned: HashMap<NodeId, u64>,
    /// The ranges' snapshot bytes ([`limits::encoded_range_len`] summed):
    /// derived from `ranges` (grown by a new range, unchanged by a move,
    /// recomputed on decode), kept to check [`MAX_RANGE_BYTES`] without a
    /// scan.
    range_bytes: usize,
    /// Recent outcomes per client session (replicated, in the snapshot).
    sessions: SessionTable,
    /// The last [`MAX_DEPARTED`] removed members, by peer id (replicated,
    /// in the snapshot): the raft configuration drops a removed member
    /// only after the catalog does (through joint consensus), and until
    /// then its peers must still reach it and accept its messages.
    departed: BTreeMap<u64, Member>,
    /// Simulator mutant only: skip the epoch rule, to prove the checker
    /// catches a broken fence. Never set outside `sim`.
    skip_epoch_check: bool,
    /// Simulator mutant only: ignore client sessions (every retry is new),
    /// to prove the checker catches a retry applied twice. Never set
    /// outside `sim`.
    skip_session_check: bool,
}

impl Catalog {
    /// The catalog of a new cluster: the initial members, all active, with
    /// peer ids 1, 2, ... in identity order, and no ranges.
    pub fn bootstrap(initial: &[InitialMember]) -> Result<Self, CatalogError> {
        if initial.is_empty() {
            return Err(CatalogError::InvalidBootstrap(
                "at least one member is needed".into(),
            ));
        }
        if initial.len() > MAX_MEMBERS {
            return Err(CatalogError::InvalidBootstrap(format!(
                "{} members, more than the {MAX_MEMBERS} a catalog holds",
                initial.len()
            )));
        }
        let mut sorted: Vec<&InitialMember> = initial.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let mut members = imbl::OrdMap::new();
        for (i, m) in sorted.iter().enumerate() {
            let peer_id = i as u64 + 1;
            let member = Member {
                id: m.id.clone(),
                kind: m.kind,
                address: m.address.clone(),
                state: MemberState::Active,
                peer_id,
            };
            if members.insert(m.id.clone(), member).is_some() {
                return Err(CatalogError::InvalidBootstrap(format!(
                    "{} is listed twice",
                    m.id
                )));
            }
        }
        let next_peer_id = members.len() as u64 + 1;
        Ok(Self {
            members,
            ranges: imbl::OrdMap::new(),
            audit: imbl::Vector::new(),
            version: CatalogVersion(0),
            leader: None,
            applied_index: Index(0),
            applied_term: Term(0),
            next_peer_id,
            owned: HashMap::new(),
            range_bytes: 0,
            sessions: SessionTable::default(),
            departed: BTreeMap::new(),
            skip_epoch_check: false,
            skip_session_check: false,
        })
    }

    /// The catalog of a member that joined an existing cluster and has not
    /// yet received its first snapshot: no members, nothing applied.
    pub fn empty() -> Self {
        Self {
            members: imbl::OrdMap::new(),
            ranges: imbl::OrdMap::new(),
            audit: imbl::Vector::new(),
            version: CatalogVersion(0),
            leader: None,
            applied_index: Index(0),
            applied_term: Term(0),
            next_peer_id: 1,
            owned: HashMap::new(),
            range_bytes: 0,
            sessions: SessionTable::default(),
            departed: BTreeMap::new(),
            skip_epoch_check: false,
            skip_session_check: false,
        }
    }

    pub(crate) fn set_skip_epoch_check(&mut self, skip: bool) {
        self.skip_epoch_check = skip;
    }

    pub(crate) fn set_skip_session_check(&mut self, skip: bool) {
        self.skip_session_check = skip;
    }

    /// Applies the committed entry at (`index`, `term`). The index must be
    /// above every index applied before.
    pub fn apply(
        &mut self,
        index: Index,
        term: Term,
        entry: &ControlPlaneEntry,
    ) -> Result<ApplyOutcome, CatalogError> {
        self.advance(index, term)?;
        let outcome = match entry {
            ControlPlaneEntry::Membership(change) => self.apply_membership(change),
            ControlPlaneEntry::OwnershipTransition(t) => self.apply_transition(index, term, t),
            ControlPlaneEntry::ForcedOwnershipTransition(t) => self.apply_forced(index, term, t),
            ControlPlaneEntry::LeaderConfiguration {
                term: elected,
                leader,
            } => self.apply_leader(*elected, leader),
        };
        Ok(outcome)
    }

    /// Applies the committed proposal at (`index`, `term`): its entry, once
    /// per client session. A proposal without a session is applied as
    /// [`Catalog::apply`] applies its entry.
    pub fn apply_proposal(
        &mut self,
        index: Index,
        term: Term,
        proposal: &Proposal,
    ) -> Result<ApplyOutcome, CatalogError> {
        let Some(session) = &proposal.session else {
            return self.apply(index, term, &proposal.entry);
        };
        match self.session(session) {
            SessionCheck::Repeat(first) => {
                self.advance(index, term)?;
                Ok(ApplyOutcome::Repeat(Box::new(first)))
            }
            SessionCheck::TooOld => {
                self.advance(index, term)?;
                Ok(ApplyOutcome::RetryTooOld)
            }
            SessionCheck::New => {
                let outcome = self.apply(index, term, &proposal.entry)?;
                self.sessions.record(
                    session,
                    RecordedOutcome {
                        index,
                        term,
                        outcome: outcome.clone(),
                    },
                );
                Ok(outcome)
            }
        }
    }

    /// What the catalog remembers of a client session.
    pub fn session(&self, session: &crate::entry::ProposalSession) -> SessionCheck {
        if self.skip_session_check {
            return SessionCheck::New;
        }
        self.sessions.check(session)
    }

    /// The client sessions the catalog remembers.
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    /// Records that the log entry at (`index`, `term`) was applied without
    /// touching the catalog (an empty or configuration entry of the engine).
    pub fn skip(&mut self, index: Index, term: Term) -> Result<(), CatalogError> {
        self.advance(index, term)
    }

    fn advance(&mut self, index: Index, term: Term) -> Result<(), CatalogError> {
        if index <= self.applied_index {
            return Err(CatalogError::OutOfOrder {
                index,
                applied: self.applied_index,
            });
        }
        self.applied_index = index;
        self.applied_term = term;
        Ok(())
    }

    fn bump(&mut self) -> ApplyOutcome {
        self.version = CatalogVersion(self.version.0 + 1);
        ApplyOutcome::Applied {
            version: self.version,
        }
    }

    fn unchanged(&self) -> ApplyOutcome {
        ApplyOutcome::Unchanged {
            version: self.version,
        }
    }

    fn apply_membership(&mut self, change: &MembershipChange) -> ApplyOutcome {
        match change {
            MembershipChange::Admit {
                member,
                kind,
                address,
            } => {
                if let Some(existing) = self.members.get(member) {
                    if existing.kind != *kind || existing.address != *address {
                        return ApplyOutcome::Refused(Refusal::MemberConflict {
                            member: member.clone(),
                            kind: existing.kind,
                            address: existing.address.clone(),
                        });
                    }
                    if existing.state == MemberState::Draining {
                        return ApplyOutcome::Refused(Refusal::MemberDraining {
                            member: member.clone(),
                        });
                    }
                    return self.unchanged();
                }
                if self.members.len() >= MAX_MEMBERS {
                    return ApplyOutcome::Refused(full(CatalogLimit::Members));
                }
                let peer_id = self.next_peer_id;
                self.next_peer_id += 1;
                self.members.insert(
                    member.clone(),
                    Member {
                        id: member.clone(),
                        kind: *kind,
                        address: address.clone(),
                        state: MemberState::Active,
                        peer_id,
                    },
                );
                self.bump()
            }
            MembershipChange::BeginDrain { member } => match self.members.get_mut(member) {
                None => ApplyOutcome::Refused(Refusal::UnknownMember {
                    member: member.clone(),
                }),
                Some(m) if m.state == MemberState::Draining => self.unchanged(),
                Some(m) => {
                    m.state = MemberState::Draining;
                    self.bump()
                }
            },
            MembershipChange::Remove { member } => {
                if !self.members.contains_key(member) {
                    return ApplyOutcome::Refused(Refusal::UnknownMember {
                        member: member.clone(),
                    });
                }
                let ranges = self.ranges_owned_by(member);
                if ranges > 0 {
                    return ApplyOutcome::Refused(Refusal::MemberOwnsRanges {
                        member: member.clone(),
                        ranges,
                    });
                }
                if self.members.len() == 1 {
                    return ApplyOutcome::Refused(Refusal::LastMember {
                        member: member.clone(),
                    });
                }
                if let Some(m) = self.members.remove(member) {
                    self.departed.insert(m.peer_id, m);
                    while self.departed.len() > MAX_DEPARTED {
                        self.departed.pop_first();
                    }
                }
                self.bump()
            }
        }
    }

    /// Checks that `owner` may receive a range.
    fn eligible_owner(&self, owner: &NodeId) -> Result<(), Refusal> {
        match self.members.get(owner) {
            None => Err(Refusal::UnknownMember {
                member: owner.clone(),
            }),
            Some(m) if m.kind == MemberKind::Witness => Err(Refusal::WitnessCannotOwn {
                member: owner.clone(),
            }),
            Some(m) if m.state == MemberState::Draining => Err(Refusal::MemberDraining {
                member: owner.clone(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Why `transition` would be refused by this catalog, if it would. The
    /// leader uses this to refuse a stale proposal before it enters the log;
    /// apply always checks again.
    pub fn check_transition(&self, transition: &OwnershipTransition) -> Result<(), Refusal> {
        self.eligible_owner(&transition.new_owner)?;
        if !self.skip_epoch_check {
            self.check_next_epoch(transition)?;
        }
        self.room_for(&transition.range)
    }

    /// Checks that the catalog may hold `range`: it does already, or the
    /// range fits in what is left of [`MAX_RANGE_BYTES`].
    fn room_for(&self, range: &RangeId) -> Result<(), Refusal> {
        let after = self
            .range_bytes
            .saturating_add(limits::encoded_range_len(range));
        if after > MAX_RANGE_BYTES && !self.ranges.contains_key(range) {
            return Err(full(CatalogLimit::RangeBytes));
        }
        Ok(())
    }

    /// Checks that `transition`'s epoch is its range's current epoch plus one.
    fn check_next_epoch(&self, transition: &OwnershipTransition) -> Result<(), Refusal> {
        let current = self.epoch_of(&transition.range);
        let (range, proposed) = (transition.range.clone(), transition.epoch);
        match current.0.checked_add(1) {
            None => Err(Refusal::EpochExhausted { range }),
            Some(next) if proposed.0 == next => Ok(()),
            Some(next) if proposed.0 > next => Err(Refusal::EpochNotNext {
                range,
                current,
                proposed,
            }),
            Some(_) => Err(Refusal::StaleEpoch {
                range,
                current,
                proposed,
            }),
        }
    }

    fn apply_transition(
        &mut self,
        index: Index,
        term: Term,
        t: &OwnershipTransition,
    ) -> ApplyOutcome {
        if let Err(refusal) = self.check_transition(t) {
            return ApplyOutcome::Refused(refusal);
        }
        self.set_owner(index, term, &t.range, &t.new_owner, t.epoch);
        ApplyOutcome::Applied {
            version: self.version,
        }
    }

    fn apply_forced(
        &mut self,
        index: Index,
        term: Term,
        t: &ForcedOwnershipTransition,
    ) -> ApplyOutcome {
        if let Err(refusal) = self.eligible_owner(&t.new_owner) {
            return ApplyOutcome::Refused(refusal);
        }
        let previous = self.ranges.get(&t.range).cloned();
        let previous_epoch = previous.as_ref().map(|p| p.epoch).unwrap_or_default();
        let Some(epoch) = previous_epoch.0.checked_add(1).map(Epoch) else {
            return ApplyOutcome::Refused(Refusal::EpochExhausted {
                range: t.range.clone(),
            });
        };
        if let Err(refusal) = self.room_for(&t.range) {
            return ApplyOutcome::Refused(refusal);
        }
        if self.audit.len() >= MAX_AUDIT_RECORDS {
            return ApplyOutcome::Refused(full(CatalogLimit::AuditRecords));
        }
        self.set_owner(index, term, &t.range, &t.new_owner, epoch);
        self.audit.push_back(AuditRecord {
            index,
            term,
            range: t.range.clone(),
            previous_owner: previous.map(|p| p.owner),
            previous_epoch,
            new_owner: t.new_owner.clone(),
            epoch,
            operator: t.operator.clone(),
            reason: t.reason.clone(),
        });
        ApplyOutcome::Applied {
            version: self.version,
        }
    }

    fn set_owner(
        &mut self,
        index: Index,
        term: Term,
        range: &RangeId,
        owner: &NodeId,
        epoch: Epoch,
    ) {
        self.version = CatalogVersion(self.version.0 + 1);
        let record = RangeOwnership {
            owner: owner.clone(),
            epoch,
            version: self.version,
            term,
            index,
        };
        match self.ranges.insert(range.clone(), record) {
            Some(old) => self.release(&old.owner),
            None => self.range_bytes += limits::encoded_range_len(range),
        }
        *self.owned.entry(owner.clone()).or_insert(0) += 1;
    }

    fn release(&mut self, owner: &NodeId) {
        if let Some(n) = self.owned.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.owned.remove(owner);
            }
        }
    }

    fn apply_leader(&mut self, term: Term, leader: &NodeId) -> ApplyOutcome {
        if !self.members.contains_key(leader) {
            return ApplyOutcome::Refused(Refusal::UnknownMember {
                member: leader.clone(),
            });
        }
        match &self.leader {
            Some((latest, _)) if term < *latest => ApplyOutcome::Refused(Refusal::TermRegressed {
                term,
                latest: *latest,
            }),
            Some((latest, recorded)) if term == *latest => {
                if recorded == leader {
                    self.unchanged()
                } else {
                    ApplyOutcome::Refused(Refusal::ConflictingLeader {
                        term,
                        recorded: recorded.clone(),
                        proposed: leader.clone(),
                    })
                }
            }
            _ => {
                self.leader = Some((term, leader.clone()));
                self.bump()
            }
        }
    }

    /// The current owner of `range`, with the entry that set it.
    pub fn owner(&self, range: &RangeId) -> Option<&RangeOwnership> {
        self.ranges.get(range)
    }

    /// The current epoch of `range` (0 if it never had an owner).
    pub fn epoch_of(&self, range: &RangeId) -> Epoch {
        self.ranges.get(range).map(|r| r.epoch).unwrap_or_default()
    }

    /// Whether (`owner`, `epoch`) is the current owner of `range`.
    pub fn fence_check(&self, range: &RangeId, owner: &NodeId, epoch: Epoch) -> FenceStatus {
        view::fence(self.ranges.get(range), owner, epoch)
    }

    /// The members, in identity order.
    pub fn members(&self) -> impl ExactSizeIterator<Item = &Member> {
        self.members.values()
    }

    /// The most recently removed members (at most [`MAX_DEPARTED`]), by
    /// peer id: who a peer id that is still in the raft configuration
    /// belongs to while its removal goes through joint consensus.
    pub fn departed(&self) -> impl ExactSizeIterator<Item = &Member> {
        self.departed.values()
    }

    /// One member.
    pub fn member(&self, id: &NodeId) -> Option<&Member> {
        self.members.get(id)
    }

    /// Every owned range, in range order.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = (&RangeId, &RangeOwnership)> {
        self.ranges.iter()
    }

    /// The bytes the owned ranges take in the snapshot, which
    /// [`MAX_RANGE_BYTES`] bounds: [`limits::encoded_range_len`] summed
    /// over the ranges.
    pub fn range_bytes(&self) -> usize {
        self.range_bytes
    }

    /// How many ranges `member` owns.
    pub fn ranges_owned_by(&self, member: &NodeId) -> u64 {
        self.owned.get(member).copied().unwrap_or(0)
    }

    /// The forced transitions, oldest first.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// The catalog version.
    pub fn version(&self) -> CatalogVersion {
        self.version
    }

    /// The latest recorded leader configuration.
    pub fn leader(&self) -> Option<(Term, &NodeId)> {
        self.leader.as_ref().map(|(t, l)| (*t, l))
    }

    /// The index and term of the last applied log entry.
    pub fn applied(&self) -> (Index, Term) {
        (self.applied_index, self.applied_term)
    }

    /// The peer id the next admitted member will get.
    pub fn next_peer_id(&self) -> u64 {
        self.next_peer_id
    }
}

#[cfg(test)]
mod tests;
