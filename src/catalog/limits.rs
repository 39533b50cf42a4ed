//! The catalog's documented limits, and the largest snapshot they allow.
//!
//! Three kinds of entries make the catalog bigger: admitting a new member,
//! the first transition (ordinary or forced) of a range, and every forced
//! transition (an audit record, kept forever). Each has a limit here. An
//! entry that would pass one is refused with [`Refusal::CatalogFull`]: every
//! replica computes the same refusal from the catalog alone, and nothing of
//! the entry is applied. Entries that change what already exists go on
//! working at a limit: moving an owned range, draining, removing or
//! re-admitting a member. The rest of the catalog is bounded by forgetting:
//! the client sessions ([`MAX_SESSIONS`], [`MAX_SESSION_BYTES`]) and the
//! departed members ([`MAX_DEPARTED`]).
//!
//! The limits are chosen so that a catalog at every limit, with every name
//! at its longest, encodes to at most [`MAX_SNAPSHOT_LEN`] bytes (about
//! 131 MiB), well under the 256 MiB a member accepts as one snapshot
//! message (`transport::wire::MAX_SNAPSHOT_MESSAGE`), so a member can always
//! join by snapshot. The arithmetic is below; the tests check each item's
//! longest encoding against the encoder and build and encode that largest
//! catalog, and the integration test `tests/catalog_limits.rs` checks that
//! at least an eighth of the transport's bound stays spare.
//!
//! A catalog that already holds more than a limit (one grown before the
//! limits existed) still decodes and serves; it only refuses to grow.

use std::fmt;

#[cfg(doc)]
use super::Refusal;
use super::MAX_DEPARTED;
use crate::entry::{AuditReason, MemberAddress, NodeId, RangeId};

pub use super::sessions::{MAX_SESSIONS, MAX_SESSION_BYTES};

/// The most members the catalog holds at once (witnesses included; the
/// departed are not members). Every member is a raft voter, so this is far
/// beyond any sensible cluster; it bounds the members' share of the
/// snapshot and of the `Members` answer.
pub const MAX_MEMBERS: usize = 256;
/// The most owned ranges the catalog holds.
pub const MAX_RANGES: usize = 65_536;
/// The most audit records (forced transitions) the catalog holds. Records
/// are kept forever, so once it is reached no more forced transitions are
/// accepted; ordinary transitions still are.
pub const MAX_AUDIT_RECORDS: usize = 16_384;

/// What a [`Refusal::CatalogFull`] ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogLimit {
    /// [`MAX_MEMBERS`].
    Members,
    /// [`MAX_RANGES`].
    Ranges,
    /// [`MAX_AUDIT_RECORDS`].
    AuditRecords,
}

impl CatalogLimit {
    /// The limit's value.
    pub fn max(self) -> usize {
        match self {
            CatalogLimit::Members => MAX_MEMBERS,
            CatalogLimit::Ranges => MAX_RANGES,
            CatalogLimit::AuditRecords => MAX_AUDIT_RECORDS,
        }
    }

    /// A stable short name (`members`, `ranges`, `audit-records`).
    pub fn name(self) -> &'static str {
        match self {
            CatalogLimit::Members => "members",
            CatalogLimit::Ranges => "ranges",
            CatalogLimit::AuditRecords => "audit-records",
        }
    }

    /// Its tag in encodings (never renumbered).
    pub(crate) fn tag(self) -> u8 {
        match self {
            CatalogLimit::Members => 0,
            CatalogLimit::Ranges => 1,
            CatalogLimit::AuditRecords => 2,
        }
    }

    /// The limit with encoding tag `tag`.
    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(CatalogLimit::Members),
            1 => Some(CatalogLimit::Ranges),
            2 => Some(CatalogLimit::AuditRecords),
            _ => None,
        }
    }
}

impl fmt::Display for CatalogLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            CatalogLimit::Members => "members",
            CatalogLimit::Ranges => "ranges",
            CatalogLimit::AuditRecords => "audit records",
        })
    }
}

/// A string in the snapshot: a `u16` length, then the bytes.
const fn string(max: usize) -> usize {
    2 + max
}

/// The longest snapshot header: magic, format, applied index and term,
/// catalog version, next peer id, the leader (flag, term, identity).
pub(crate) const HEADER_MAX_LEN: usize = 8 + 1 + 4 * 8 + 1 + 8 + string(NodeId::MAX_LEN);
/// The five counts: members, ranges, audit records, sessions, departed.
pub(crate) const COUNTS_LEN: usize = 5 * 8;
/// The longest member (or departed member): identity, kind, address,
/// state, peer id.
pub(crate) const MEMBER_MAX_LEN: usize =
    string(NodeId::MAX_LEN) + 1 + string(MemberAddress::MAX_LEN) + 1 + 8;
/// A range after its id: its owner (an index among the members, whoever
/// it is), epoch, version, term and index.
const RANGE_FIXED_LEN: usize = 4 + 4 * 8;
/// The longest range.
pub(crate) const RANGE_MAX_LEN: usize = string(RangeId::MAX_LEN) + RANGE_FIXED_LEN;

/// The bytes `range` takes in the catalog snapshot, whoever owns it: its
/// id (`u16` length and text), its owner's index among the members (`u32`)
/// and four `u64` (epoch, version, term, index). A 23-byte id such as
/// `users:[0000123,0000124)` takes 61.
pub fn encoded_range_len(range: &RangeId) -> usize {
    string(range.as_str().len()) + RANGE_FIXED_LEN
}
/// The longest audit record: index, term, range, previous owner (flag and
/// identity), previous epoch, new owner, epoch, operator, reason.
pub(crate) const AUDIT_RECORD_MAX_LEN: usize = 8
    + 8
    + string(RangeId::MAX_LEN)
    + 1
    + string(NodeId::MAX_LEN)
    + 8
    + string(NodeId::MAX_LEN)
    + 8
    + string(NodeId::MAX_LEN)
    + string(AuditReason::MAX_LEN);

/// The longest catalog snapshot this build writes for a catalog within its
/// limits: 137,765,420 bytes (131.4 MiB), of which ranges take 34.4 MiB,
/// audit records 64.7 MiB, client sessions 32 MiB and members 0.3 MiB.
pub const MAX_SNAPSHOT_LEN: usize = HEADER_MAX_LEN
    + COUNTS_LEN
    + (MAX_MEMBERS + MAX_DEPARTED) * MEMBER_MAX_LEN
    + MAX_RANGES * RANGE_MAX_LEN
    + MAX_AUDIT_RECORDS * AUDIT_RECORD_MAX_LEN
    + MAX_SESSION_BYTES;

#[cfg(test)]
mod tests;
