//! The catalog's documented limits, and the largest snapshot they allow.
//!
//! Three kinds of entries make the catalog bigger: admitting a new member,
//! the first transition (ordinary or forced) of a range, and every forced
//! transition (an audit record, kept forever). Each has a limit here: a
//! count of members ([`MAX_MEMBERS`]), a byte budget for the ranges
//! ([`MAX_RANGE_BYTES`]) and a count of audit records
//! ([`MAX_AUDIT_RECORDS`]). An entry that would pass one is refused with
//! [`Refusal::CatalogFull`]: every replica computes the same refusal from
//! the catalog alone, and nothing of the entry is applied. Entries that
//! change what already exists go on working at a limit: moving an owned
//! range, draining, removing or re-admitting a member. The rest of the
//! catalog is bounded by forgetting: the client sessions
//! ([`MAX_SESSIONS`], [`MAX_SESSION_BYTES`]) and the departed members
//! ([`MAX_DEPARTED`]).
//!
//! The ranges are limited by what they take in the snapshot, not by their
//! number: a range takes [`encoded_range_len`] bytes (its id, and 36 bytes
//! whoever owns it, since the snapshot names the owner by its index among
//! the members), and the catalog keeps the sum. A million ranges with ids
//! like `users:[0000123,0000124)` take 61 MB of the 100 MiB budget; with
//! the longest ids (512 bytes) 190,650 fit. A count limit sized for the
//! longest names would refuse the realistic catalog long before its bytes
//! mattered. No count limit is kept besides the budget, because the budget
//! already bounds what a count would guard, the memory: it admits at
//! most 2,688,656 ranges (that many if every id took one byte; distinct
//! ids run out first, and about 2.5 million of the shortest fit), and a
//! range held in memory takes about 150 to 210 bytes of heap with a short id
//! (measured in a release build: 1,000,000 ranges with ids like the above
//! took 178 MB once decoded from a snapshot, 210 MB applied one by one;
//! the budget filled with the shortest ids about 410 MB, with the longest
//! 133 MB). A count limit above that bound would never bind, and one
//! below it would refuse ranges the snapshot has room for.
//!
//! The limits are chosen so that a catalog at every limit, with every name
//! at its longest, encodes to at most [`MAX_SNAPSHOT_LEN`] bytes (about
//! 197 MiB), some 59 MiB under the 256 MiB a member accepts as one snapshot
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
/// The ranges' budget: the most bytes the owned ranges may take in the
/// catalog snapshot, the sum of their [`encoded_range_len`] (100 MiB). A
/// range that would take the sum past it is refused; what it allows in
/// number depends on the ids' lengths (about 1.7 million ranges with ids
/// like `users:[0000123,0000124)`, 190,650 with the longest ids).
pub const MAX_RANGE_BYTES: usize = 100 << 20;
/// The most audit records (forced transitions) the catalog holds. Records
/// are kept forever, so once it is reached no more forced transitions are
/// accepted; ordinary transitions still are.
pub const MAX_AUDIT_RECORDS: usize = 16_384;

/// What a [`Refusal::CatalogFull`] ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogLimit {
    /// [`MAX_MEMBERS`].
    Members,
    /// The count of owned ranges that builds before the ranges' byte budget
    /// enforced (65,536). This build never refuses with it: it stays so
    /// that such a refusal, recorded in a client session by an earlier
    /// build (in the log or a snapshot), still decodes and reads as it did.
    Ranges,
    /// [`MAX_AUDIT_RECORDS`].
    AuditRecords,
    /// [`MAX_RANGE_BYTES`]: the new range would take the ranges' snapshot
    /// bytes past their budget.
    RangeBytes,
}

/// The count limit on ranges that builds before the byte budget enforced.
const FORMER_MAX_RANGES: usize = 65_536;

impl CatalogLimit {
    /// The limit's value.
    pub fn max(self) -> usize {
        match self {
            CatalogLimit::Members => MAX_MEMBERS,
            CatalogLimit::Ranges => FORMER_MAX_RANGES,
            CatalogLimit::AuditRecords => MAX_AUDIT_RECORDS,
            CatalogLimit::RangeBytes => MAX_RANGE_BYTES,
        }
    }

    /// A stable short name (`members`, `ranges`, `audit-records`,
    /// `range-bytes`).
    pub fn name(self) -> &'static str {
        match self {
            CatalogLimit::Members => "members",
            CatalogLimit::Ranges => "ranges",
            CatalogLimit::AuditRecords => "audit-records",
            CatalogLimit::RangeBytes => "range-bytes",
        }
    }

    /// Its tag in encodings (never renumbered).
    pub(crate) fn tag(self) -> u8 {
        match self {
            CatalogLimit::Members => 0,
            CatalogLimit::Ranges => 1,
            CatalogLimit::AuditRecords => 2,
            CatalogLimit::RangeBytes => 3,
        }
    }

    /// The limit with encoding tag `tag`.
    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(CatalogLimit::Members),
            1 => Some(CatalogLimit::Ranges),
            2 => Some(CatalogLimit::AuditRecords),
            3 => Some(CatalogLimit::RangeBytes),
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
            CatalogLimit::RangeBytes => "snapshot bytes of ranges",
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
/// The longest range (the budget, not this, bounds the ranges; the tests
/// build the worst case from it).
#[cfg(test)]
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
/// limits: 206,578,220 bytes (197.0 MiB), of which ranges take 100 MiB
/// ([`MAX_RANGE_BYTES`]), audit records 64.7 MiB, client sessions 32 MiB
/// and members 0.3 MiB.
pub const MAX_SNAPSHOT_LEN: usize = HEADER_MAX_LEN
    + COUNTS_LEN
    + (MAX_MEMBERS + MAX_DEPARTED) * MEMBER_MAX_LEN
    + MAX_RANGE_BYTES
    + MAX_AUDIT_RECORDS * AUDIT_RECORD_MAX_LEN
    + MAX_SESSION_BYTES;

#[cfg(test)]
mod tests;
