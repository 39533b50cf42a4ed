//! The one typed description of an entry a caller may propose
//! (`synod_entry`: a kind and the fields that kind reads; no field takes
//! bytes), and the one place C arguments become a `ControlPlaneEntry`: the
//! typed `synod_node_propose_*` and `synod_client_propose_*` functions and
//! `synod_node_submit` all build their entry here.

use std::ffi::c_char;

use synod::{
    AuditReason, ControlPlaneEntry, Epoch, ForcedOwnershipTransition, MembershipChange,
    OwnershipTransition,
};

use super::handle::parsed_arg;
use super::values::{kind_arg, synod_member_kind};
use crate::error::{Error, SYNOD_ERR_INVALID_ARGUMENT};
use crate::identity::identity_arg;

/// Which entry a `synod_entry` describes.
pub type synod_entry_kind = u32;
/// Admit `member` as a `member_kind` member reachable at `address`.
pub const SYNOD_ENTRY_ADMIT: synod_entry_kind = 1;
/// Put `member` into drain.
pub const SYNOD_ENTRY_BEGIN_DRAIN: synod_entry_kind = 2;
/// Remove `member` (it must own no range).
pub const SYNOD_ENTRY_REMOVE: synod_entry_kind = 3;
/// The fenced transition of `range` to `new_owner` at `epoch` (the range's
/// current epoch plus one).
pub const SYNOD_ENTRY_TRANSITION: synod_entry_kind = 4;
/// An operator's forced transition of `range` to `new_owner`, recorded with
/// `operator_id` and `reason`.
pub const SYNOD_ENTRY_FORCED_TRANSITION: synod_entry_kind = 5;

/// One entry to propose: `kind` says which, and which fields it reads (the
/// others are ignored and may be NULL or 0). Strings are borrowed for the
/// call only. There is no field for bytes: user data cannot be proposed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_entry {
    /// A `SYNOD_ENTRY_*` kind.
    pub kind: synod_entry_kind,
    /// ADMIT, BEGIN_DRAIN, REMOVE: the member's identity.
    pub member: *const c_char,
    /// ADMIT: what the member does.
    pub member_kind: synod_member_kind,
    /// ADMIT: where the member is reached (`host:port`).
    pub address: *const c_char,
    /// TRANSITION, FORCED_TRANSITION: the range.
    pub range: *const c_char,
    /// TRANSITION, FORCED_TRANSITION: its new owner.
    pub new_owner: *const c_char,
    /// TRANSITION: the epoch (the current epoch plus one).
    pub epoch: u64,
    /// FORCED_TRANSITION: the operator's identity.
    pub operator_id: *const c_char,
    /// FORCED_TRANSITION: why (never blank).
    pub reason: *const c_char,
}

impl synod_entry {
    /// No kind, no fields (each constructor sets what its kind reads).
    fn empty(kind: synod_entry_kind) -> Self {
        Self {
            kind,
            member: std::ptr::null(),
            member_kind: 0,
            address: std::ptr::null(),
            range: std::ptr::null(),
            new_owner: std::ptr::null(),
            epoch: 0,
            operator_id: std::ptr::null(),
            reason: std::ptr::null(),
        }
    }

    /// Admit `member` as a `kind` member at `address`.
    pub(crate) fn admit(
        member: *const c_char,
        kind: synod_member_kind,
        address: *const c_char,
    ) -> Self {
        Self {
            member,
            member_kind: kind,
            address,
            ..Self::empty(SYNOD_ENTRY_ADMIT)
        }
    }

    /// Put `member` into drain.
    pub(crate) fn begin_drain(member: *const c_char) -> Self {
        Self {
            member,
            ..Self::empty(SYNOD_ENTRY_BEGIN_DRAIN)
        }
    }

    /// Remove `member`.
    pub(crate) fn remove(member: *const c_char) -> Self {
        Self {
            member,
            ..Self::empty(SYNOD_ENTRY_REMOVE)
        }
    }

    /// The fenced transition of `range` to `new_owner` at `epoch`.
    pub(crate) fn transition(range: *const c_char, new_owner: *const c_char, epoch: u64) -> Self {
        Self {
            range,
            new_owner,
            epoch,
            ..Self::empty(SYNOD_ENTRY_TRANSITION)
        }
    }

    /// An operator's forced transition.
    pub(crate) fn forced_transition(
        range: *const c_char,
        new_owner: *const c_char,
        operator_id: *const c_char,
        reason: *const c_char,
    ) -> Self {
        Self {
            range,
            new_owner,
            operator_id,
            reason,
            ..Self::empty(SYNOD_ENTRY_FORCED_TRANSITION)
        }
    }
}

/// The entry `e` describes.
pub(crate) unsafe fn entry_arg(e: *const synod_entry) -> Result<ControlPlaneEntry, Error> {
    // SAFETY: NULL or a valid `synod_entry` (caller contract).
    let e = unsafe { e.as_ref() }.ok_or_else(|| Error::null("entry"))?;
    // SAFETY: the strings are NULL or NUL-terminated (caller contract).
    unsafe {
        Ok(match e.kind {
            SYNOD_ENTRY_ADMIT => ControlPlaneEntry::Membership(MembershipChange::Admit {
                member: identity_arg(e.member, "member")?,
                kind: kind_arg(e.member_kind)?,
                address: parsed_arg(e.address, "address")?,
            }),
            SYNOD_ENTRY_BEGIN_DRAIN => {
                ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                    member: identity_arg(e.member, "member")?,
                })
            }
            SYNOD_ENTRY_REMOVE => ControlPlaneEntry::Membership(MembershipChange::Remove {
                member: identity_arg(e.member, "member")?,
            }),
            SYNOD_ENTRY_TRANSITION => ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                range: parsed_arg(e.range, "range")?,
                new_owner: identity_arg(e.new_owner, "new_owner")?,
                epoch: Epoch(e.epoch),
            }),
            SYNOD_ENTRY_FORCED_TRANSITION => {
                ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                    range: parsed_arg(e.range, "range")?,
                    new_owner: identity_arg(e.new_owner, "new_owner")?,
                    operator: identity_arg(e.operator_id, "operator_id")?,
                    reason: parsed_arg::<AuditReason>(e.reason, "reason")?,
                })
            }
            other => {
                return Err(Error::new(
                    SYNOD_ERR_INVALID_ARGUMENT,
                    format!("entry kind {other} is not a synod_entry_kind"),
                ))
            }
        })
    }
}
