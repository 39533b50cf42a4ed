//! The control-plane log's closed entry set and its binary encoding.
//!
//! **User data never enters this log.** [`ControlPlaneEntry`] is the only
//! thing a proposer can append, and none of its variants can carry a row, a
//! document, a message or any other user payload: every field is a bounded,
//! validated name ([`NodeId`], [`RangeId`], [`MemberAddress`],
//! [`AuditReason`]) or a number. Adding a user-payload variant would reverse
//! the decision this crate is built on (the seed's ADR 0052) and needs a new
//! ADR, not a code change.
//!
//! The log carries exactly:
//! * [`MembershipChange`]: a member admitted (with kind and address), put into
//!   drain, or removed;
//! * [`OwnershipTransition`]: a fenced change of a range's owner, with the
//!   ownership epoch it moves to;
//! * [`ForcedOwnershipTransition`]: an operator's override, always audited;
//! * [`ControlPlaneEntry::LeaderConfiguration`]: the record that a term
//!   elected a leader.
//!
//! Entries are encoded with a versioned, deterministic binary format
//! ([`ControlPlaneEntry::encode`] / [`ControlPlaneEntry::decode`]); see
//! [`codec`] for the rules every decoder here follows. A proposal is logged
//! with the client session that makes its retries exactly-once
//! ([`session::Proposal`]).

pub mod codec;
pub mod session;

use std::fmt;

pub use crate::identity::{AuditReason, MemberAddress, MemberKind, NodeId, RangeId};
pub use codec::DecodeError;
pub use session::{ClientId, Proposal, ProposalSession};

macro_rules! log_number {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw number.
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                Self(v)
            }
        }
    };
}

log_number!(
    /// An election term: a strictly monotonic generation that fences a stale
    /// leader. Term 0 is genesis, before any election.
    Term
);
log_number!(
    /// A position in the control-plane log. Raft numbers entries from 1; 0
    /// means "nothing yet".
    Index
);
log_number!(
    /// A range's ownership epoch. Each transition moves a range to a strictly
    /// greater epoch, which is what fences an owner that reappears with an
    /// older one. A range that has never been assigned is at epoch 0.
    Epoch
);
log_number!(
    /// The catalog's version: it grows by one on every applied change, so two
    /// replicas at the same version hold the same catalog.
    CatalogVersion
);

impl Term {
    /// The genesis term, before any election has run.
    pub const GENESIS: Term = Term(0);

    /// The term a candidate stands for: one more than this one.
    pub fn next(self) -> Term {
        Term(self.0.saturating_add(1))
    }
}

/// A change to the authorized member set, agreed through the log rather than
/// guessed locally by each node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MembershipChange {
    /// Admit a member with its kind and peer address. Admitting a member that
    /// is already admitted with the same kind and address changes nothing.
    Admit {
        /// The member's identity.
        member: NodeId,
        /// Whether it may own ranges.
        kind: MemberKind,
        /// Where its peers reach it.
        address: MemberAddress,
    },
    /// Start draining a member: from now on it is not eligible as a new
    /// owner. Its ranges are moved away by ordinary transitions.
    BeginDrain {
        /// The member to drain.
        member: NodeId,
    },
    /// Remove a member from the authorized set. Refused while it still owns
    /// ranges.
    Remove {
        /// The member to remove.
        member: NodeId,
    },
}

impl MembershipChange {
    /// The member this change is about.
    pub fn member(&self) -> &NodeId {
        match self {
            MembershipChange::Admit { member, .. }
            | MembershipChange::BeginDrain { member }
            | MembershipChange::Remove { member } => member,
        }
    }
}

/// A fenced change of one range's owner: the leader's normal write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnershipTransition {
    /// The range whose owner changes.
    pub range: RangeId,
    /// The owner after the transition.
    pub new_owner: NodeId,
    /// The epoch the range moves to; it must be exactly the range's current
    /// epoch plus one (a compare-and-set).
    pub epoch: Epoch,
}

/// An operator's override of a range's owner. It does not require the
/// proposer to know the current epoch (the range moves to the current epoch
/// plus one, so the old owner is still fenced) and is always recorded in the
/// catalog's audit list with who forced it and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForcedOwnershipTransition {
    /// The range whose owner changes.
    pub range: RangeId,
    /// The owner after the transition.
    pub new_owner: NodeId,
    /// The holder of the operator capability who forced it.
    pub operator: NodeId,
    /// Why; never blank.
    pub reason: AuditReason,
}

/// The complete, closed set of things that may be appended to the
/// control-plane log. There is no user-data variant, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ControlPlaneEntry {
    /// A member admitted, put into drain, or removed.
    Membership(MembershipChange),
    /// A fenced ownership transition.
    OwnershipTransition(OwnershipTransition),
    /// An audited operator override of a range's owner.
    ForcedOwnershipTransition(ForcedOwnershipTransition),
    /// The record that `term` elected `leader`.
    LeaderConfiguration {
        /// The term that elected the leader.
        term: Term,
        /// The elected leader.
        leader: NodeId,
    },
}

impl ControlPlaneEntry {
    /// A short stable name of the variant, for logs and metrics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ControlPlaneEntry::Membership(MembershipChange::Admit { .. }) => "admit",
            ControlPlaneEntry::Membership(MembershipChange::BeginDrain { .. }) => "begin-drain",
            ControlPlaneEntry::Membership(MembershipChange::Remove { .. }) => "remove",
            ControlPlaneEntry::OwnershipTransition(_) => "ownership-transition",
            ControlPlaneEntry::ForcedOwnershipTransition(_) => "forced-ownership-transition",
            ControlPlaneEntry::LeaderConfiguration { .. } => "leader-configuration",
        }
    }

    /// Encodes the entry in the current format version. The encoding is
    /// deterministic: equal entries give equal bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_entry(self)
    }

    /// Decodes an entry. Arbitrary bytes give an error, never a panic, and
    /// never an allocation larger than the input.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_entry(bytes)
    }
}

impl fmt::Display for ControlPlaneEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlPlaneEntry::Membership(MembershipChange::Admit {
                member,
                kind,
                address,
            }) => write!(f, "admit {member} as {kind} at {address}"),
            ControlPlaneEntry::Membership(MembershipChange::BeginDrain { member }) => {
                write!(f, "begin draining {member}")
            }
            ControlPlaneEntry::Membership(MembershipChange::Remove { member }) => {
                write!(f, "remove {member}")
            }
            ControlPlaneEntry::OwnershipTransition(t) => write!(
                f,
                "move {} to {} at epoch {}",
                t.range, t.new_owner, t.epoch
            ),
            ControlPlaneEntry::ForcedOwnershipTransition(t) => write!(
                f,
                "force {} to {} by {} ({})",
                t.range, t.new_owner, t.operator, t.reason
            ),
            ControlPlaneEntry::LeaderConfiguration { term, leader } => {
                write!(f, "term {term} elected {leader}")
            }
        }
    }
}
