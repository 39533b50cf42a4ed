//! The node API's plain C values (no handles): member kinds, member states,
//! fence answers and the commit record a proposal returns, with the
//! conversions of kinds to and from the core's.
//!
//! Their constants are declared here in the order `include/synod.h` lists
//! them.

use synod::MemberKind;

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

pub(super) fn kind_arg(kind: synod_member_kind) -> Result<MemberKind, Error> {
    match kind {
        SYNOD_MEMBER_KIND_DATA => Ok(MemberKind::Data),
        SYNOD_MEMBER_KIND_WITNESS => Ok(MemberKind::Witness),
        other => Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!("kind {other} is not a synod_member_kind"),
        )),
    }
}

pub(super) fn kind_out(kind: MemberKind) -> synod_member_kind {
    match kind {
        MemberKind::Data => SYNOD_MEMBER_KIND_DATA,
        MemberKind::Witness => SYNOD_MEMBER_KIND_WITNESS,
    }
}
