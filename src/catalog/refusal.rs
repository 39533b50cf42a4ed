//! Why the catalog refuses an entry: [`Refusal`], computed identically by
//! every replica from the catalog alone, with a stable code and name per
//! kind for foreign callers (never renumbered).

use super::limits::CatalogLimit;
use crate::entry::{Epoch, MemberAddress, MemberKind, NodeId, RangeId, Term};

/// Why an entry was refused. Every replica computes the same refusal for the
/// same entry at the same index; [`Refusal::code`] is a stable number for
/// foreign callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Refusal {
    /// The named member is not admitted.
    #[error("{member} is not an admitted member")]
    UnknownMember {
        /// The member.
        member: NodeId,
    },
    /// The member is admitted with another kind or address.
    #[error("{member} is already admitted as {kind} at {address}")]
    MemberConflict {
        /// The member.
        member: NodeId,
        /// Its admitted kind.
        kind: MemberKind,
        /// Its admitted address.
        address: MemberAddress,
    },
    /// The member is draining.
    #[error("{member} is draining")]
    MemberDraining {
        /// The member.
        member: NodeId,
    },
    /// The member still owns ranges.
    #[error("{member} still owns {ranges} range(s); move them away first")]
    MemberOwnsRanges {
        /// The member.
        member: NodeId,
        /// How many ranges it owns.
        ranges: u64,
    },
    /// Removing the member would leave the cluster without members.
    #[error("{member} is the last member and cannot be removed")]
    LastMember {
        /// The member.
        member: NodeId,
    },
    /// A witness was named as a range owner.
    #[error("{member} is a witness and cannot own ranges")]
    WitnessCannotOwn {
        /// The member.
        member: NodeId,
    },
    /// The proposed epoch does not fence the current owner.
    #[error("epoch {proposed} for {range} is not above the current epoch {current}")]
    StaleEpoch {
        /// The range.
        range: RangeId,
        /// Its current epoch.
        current: Epoch,
        /// The epoch proposed.
        proposed: Epoch,
    },
    /// The proposed epoch skips epochs: a transition moves a range to
    /// exactly its current epoch plus one.
    #[error("epoch {proposed} for {range} is not the next epoch {}", current.0.saturating_add(1))]
    EpochNotNext {
        /// The range.
        range: RangeId,
        /// Its current epoch.
        current: Epoch,
        /// The epoch proposed.
        proposed: Epoch,
    },
    /// The range's epoch cannot grow any more.
    #[error("the epoch of {range} is exhausted")]
    EpochExhausted {
        /// The range.
        range: RangeId,
    },
    /// A leader configuration for a term older than the latest one.
    #[error("leader configuration for term {term} is older than the recorded term {latest}")]
    TermRegressed {
        /// The term proposed.
        term: Term,
        /// The latest recorded term.
        latest: Term,
    },
    /// A caller proposed a leader configuration other than the proposing
    /// leader's own for its current term. Only the engine records
    /// elections; a caller may at most repeat the current one.
    #[error("leader configuration (term {term}, {leader}) is not the current leader's own")]
    LeaderConfigurationNotCurrent {
        /// The term proposed.
        term: Term,
        /// The leader proposed.
        leader: NodeId,
    },
    /// A second, different leader for an already recorded term.
    #[error("term {term} already elected {recorded}, not {proposed}")]
    ConflictingLeader {
        /// The term.
        term: Term,
        /// The leader already recorded.
        recorded: NodeId,
        /// The leader proposed.
        proposed: NodeId,
    },
    /// The entry would grow the catalog past one of its documented limits
    /// ([`super::limits`]): a new member, a new range (past the ranges'
    /// byte budget), or an audit record (any forced transition). Nothing of
    /// it was applied; entries that change what already exists still are.
    #[error("{}", catalog_full(*.what, *.limit))]
    CatalogFull {
        /// Which limit.
        what: CatalogLimit,
        /// Its value.
        limit: u64,
    },
}

/// The message of [`Refusal::CatalogFull`].
fn catalog_full(what: CatalogLimit, limit: u64) -> String {
    match what {
        CatalogLimit::RangeBytes => format!(
            "the new range would take the ranges past their budget of {limit} snapshot bytes; \
             nothing was applied"
        ),
        _ => format!("the catalog holds the most {what} it may ({limit}); nothing was applied"),
    }
}

impl Refusal {
    /// A stable number for this kind of refusal (never renumbered), for the
    /// C and Python layers.
    pub fn code(&self) -> u32 {
        match self {
            Refusal::UnknownMember { .. } => 1,
            Refusal::MemberConflict { .. } => 2,
            Refusal::MemberDraining { .. } => 3,
            Refusal::MemberOwnsRanges { .. } => 4,
            Refusal::LastMember { .. } => 5,
            Refusal::WitnessCannotOwn { .. } => 6,
            Refusal::StaleEpoch { .. } => 7,
            Refusal::EpochExhausted { .. } => 8,
            Refusal::TermRegressed { .. } => 9,
            Refusal::ConflictingLeader { .. } => 10,
            Refusal::LeaderConfigurationNotCurrent { .. } => 11,
            Refusal::EpochNotNext { .. } => 12,
            Refusal::CatalogFull { .. } => 13,
        }
    }

    /// A stable short name for this kind of refusal.
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::UnknownMember { .. } => "unknown-member",
            Refusal::MemberConflict { .. } => "member-conflict",
            Refusal::MemberDraining { .. } => "member-draining",
            Refusal::MemberOwnsRanges { .. } => "member-owns-ranges",
            Refusal::LastMember { .. } => "last-member",
            Refusal::WitnessCannotOwn { .. } => "witness-cannot-own",
            Refusal::StaleEpoch { .. } => "stale-epoch",
            Refusal::EpochExhausted { .. } => "epoch-exhausted",
            Refusal::TermRegressed { .. } => "term-regressed",
            Refusal::ConflictingLeader { .. } => "conflicting-leader",
            Refusal::LeaderConfigurationNotCurrent { .. } => "leader-configuration-not-current",
            Refusal::EpochNotNext { .. } => "epoch-not-next",
            Refusal::CatalogFull { .. } => "catalog-full",
        }
    }
}
