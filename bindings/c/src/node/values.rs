//! The node API's plain C values (no handles): member kinds, member states,
//! fence answers, raft roles and the commit record a proposal returns, with
//! the conversions of kinds, fence answers and roles to and from the core's.
//!
//! Their constants are declared here in the order `include/synod.h` lists
//! them.

use synod::{FenceStatus, MemberKind};

use crate::error::{Error, SYNOD_ERR_INVALID_ARGUMENT};

/// What a member does: `SYNOD_MEMBER_KIND_DATA` or `SYNOD_MEMBER_KIND_WITNESS`.
/// Any other value is refused with `SYNOD_ERR_INVALID_ARGUMENT`; 0 is never a
/// kind, so a zeroed variable is never mistaken for one.
pub type synod_member_kind = u32;
/// A member that votes and may own ranges.
pub const SYNOD_MEMBER_KIND_DATA: synod_member_kind = 1;
/// A member that votes and never owns a range.
pub const SYNOD_MEMBER_KIND_WITNESS: synod_member_kind = 2;

/// Whether a member is serving or on its way out. 0 is never a state.
pub type synod_member_state = u32;
/// Admitted and eligible as a new owner (if a data member).
pub const SYNOD_MEMBER_STATE_ACTIVE: synod_member_state = 1;
/// Draining: not eligible as a new owner.
pub const SYNOD_MEMBER_STATE_DRAINING: synod_member_state = 2;

/// The answer of `synod_node_fence_check`. 0 is never an answer, so a zeroed
/// variable is never mistaken for `SYNOD_FENCE_CURRENT`.
pub type synod_fence_status = u32;
/// The (owner, epoch) pair is the range's current owner and epoch.
pub const SYNOD_FENCE_CURRENT: synod_fence_status = 1;
/// The pair is fenced: the range has moved on to another owner or epoch.
pub const SYNOD_FENCE_STALE: synod_fence_status = 2;
/// This member cannot vouch for the pair: the range has no owner here, or the
/// epoch is newer than anything it has applied.
pub const SYNOD_FENCE_UNKNOWN: synod_fence_status = 3;

/// A member's raft role, as `synod_node_status` and role watch events say
/// it. 0 is never a role.
pub type synod_role = u32;
/// Follows a leader (or waits for one).
pub const SYNOD_ROLE_FOLLOWER: synod_role = 1;
/// Campaigns for leadership.
pub const SYNOD_ROLE_CANDIDATE: synod_role = 2;
/// Checks it could win an election before raising the term.
pub const SYNOD_ROLE_PRE_CANDIDATE: synod_role = 3;
/// Leads.
pub const SYNOD_ROLE_LEADER: synod_role = 4;

/// A proposal that was committed and took effect.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct synod_commit {
    /// Where the entry sits in the log (from 1).
    pub index: u64,
    /// The term that committed it.
    pub term: u64,
    /// The catalog version after applying it.
    pub version: u64,
    /// False when the entry was an idempotent repeat that changed nothing.
    pub changed: bool,
}

impl From<&synod::Committed> for synod_commit {
    fn from(c: &synod::Committed) -> Self {
        Self {
            index: c.index.get(),
            term: c.term.get(),
            version: c.version.get(),
            changed: c.changed,
        }
    }
}

pub(crate) fn kind_arg(kind: synod_member_kind) -> Result<MemberKind, Error> {
    match kind {
        SYNOD_MEMBER_KIND_DATA => Ok(MemberKind::Data),
        SYNOD_MEMBER_KIND_WITNESS => Ok(MemberKind::Witness),
        other => Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!("kind {other} is not a synod_member_kind"),
        )),
    }
}

pub(crate) fn kind_out(kind: MemberKind) -> synod_member_kind {
    match kind {
        MemberKind::Data => SYNOD_MEMBER_KIND_DATA,
        MemberKind::Witness => SYNOD_MEMBER_KIND_WITNESS,
    }
}

pub(crate) fn fence_out(status: &FenceStatus) -> synod_fence_status {
    match status {
        FenceStatus::Current => SYNOD_FENCE_CURRENT,
        FenceStatus::Stale { .. } => SYNOD_FENCE_STALE,
        FenceStatus::Unknown => SYNOD_FENCE_UNKNOWN,
    }
}

pub(super) fn raft_role_out(role: raft::StateRole) -> synod_role {
    match role {
        raft::StateRole::Follower => SYNOD_ROLE_FOLLOWER,
        raft::StateRole::Candidate => SYNOD_ROLE_CANDIDATE,
        raft::StateRole::PreCandidate => SYNOD_ROLE_PRE_CANDIDATE,
        raft::StateRole::Leader => SYNOD_ROLE_LEADER,
    }
}

pub(crate) fn watch_role_out(role: synod::node::watch::Role) -> synod_role {
    use synod::node::watch::Role;
    match role {
        Role::Follower => SYNOD_ROLE_FOLLOWER,
        Role::Candidate => SYNOD_ROLE_CANDIDATE,
        Role::PreCandidate => SYNOD_ROLE_PRE_CANDIDATE,
        Role::Leader => SYNOD_ROLE_LEADER,
    }
}
