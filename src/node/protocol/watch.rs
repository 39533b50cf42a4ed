//! The watch stream on the wire: [`Request::Watch`](super::Request::Watch)
//! is answered by a stream of [`Response::Watch`](super::Response::Watch)
//! batches of [`WatchWireItem`]s (an empty batch is a heartbeat, every
//! second while nothing happens), until an error response ends it or the
//! connection closes. A watch that starts (or falls) before what the member
//! keeps gets `Compacted { at }` and the catalog as of `at` in
//! [`WatchWireItem::SnapshotPart`]s (each at most [`SNAPSHOT_PART_BYTES`]
//! of ranges), then the events after `at`.

use super::catalog_codec::{get_members, get_ranges, put_members, put_ranges};
use super::request::{get_entry, put_entry};
use super::{get_hint, put_hint};
use crate::catalog::{get_outcome, put_outcome, ApplyOutcome, Member, RangeOwnership};
use crate::entry::codec::{Reader, Writer};
use crate::entry::{ControlPlaneEntry, DecodeError, Index, RangeId, Term};
use crate::node::watch::Role;
use crate::node::LeaderHint;

/// Most items in one [`Response::Watch`](super::Response::Watch) batch.
pub const MAX_WATCH_BATCH: usize = 256;

/// About the most bytes of ranges in one [`WatchWireItem::SnapshotPart`]
/// (a range alone may exceed it: it then goes alone).
pub const SNAPSHOT_PART_BYTES: usize = 1 << 20;

/// One item of a watch stream as a client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchWireItem {
    /// A committed entry, applied by the member, with its outcome.
    Event {
        /// Its log index.
        index: Index,
        /// Its term.
        term: Term,
        /// The entry.
        entry: ControlPlaneEntry,
        /// What applying it did.
        outcome: ApplyOutcome,
    },
    /// The events up to `at` are not available from this member (before
    /// its history, or replaced by a snapshot): read the catalog at least at
    /// `at`; the events that follow continue after it.
    Compacted {
        /// The index the stream continues after.
        at: Index,
    },
    /// Part of the catalog as it was at `at`, following a
    /// `Compacted { at }`: the members (in the first part; empty in the
    /// others), a page of ranges with their owners (in range order), and
    /// whether this is the last part. The parts of one snapshot come
    /// together, before any later event; a new `Compacted` starts a new
    /// snapshot (a resumed stream may restart one).
    SnapshotPart {
        /// The index the catalog is as of.
        at: Index,
        /// The members (first part only).
        members: Vec<Member>,
        /// A page of ranges and their owners.
        ranges: Vec<(RangeId, RangeOwnership)>,
        /// The last part of this snapshot.
        last: bool,
    },
    /// The member's role or known leader changed.
    Role {
        /// Its role.
        role: Role,
        /// Its term.
        term: Term,
        /// The leader it knows of.
        leader: Option<LeaderHint>,
    },
}

fn role_tag(role: Role) -> u8 {
    match role {
        Role::Follower => 0,
        Role::Candidate => 1,
        Role::PreCandidate => 2,
        Role::Leader => 3,
    }
}

/// Writes a batch.
pub(super) fn put_items(w: &mut Writer, items: &[WatchWireItem]) {
    w.u64(items.len() as u64);
    for item in items {
        match item {
            WatchWireItem::Event {
                index,
                term,
                entry,
                outcome,
            } => {
                w.u8(1);
                w.u64(index.0);
                w.u64(term.0);
                put_entry(w, entry);
                put_outcome(w, outcome);
            }
            WatchWireItem::Compacted { at } => {
                w.u8(2);
                w.u64(at.0);
            }
            WatchWireItem::SnapshotPart {
                at,
                members,
                ranges,
                last,
            } => {
                w.u8(4);
                w.u64(at.0);
                put_members(w, members);
                put_ranges(w, ranges);
                w.u8(*last as u8);
            }
            WatchWireItem::Role { role, term, leader } => {
                w.u8(3);
                w.u8(role_tag(*role));
                w.u64(term.0);
                put_hint(w, leader.as_ref());
            }
        }
    }
}

/// Reads a batch.
pub(super) fn get_items(r: &mut Reader<'_>) -> Result<Vec<WatchWireItem>, DecodeError> {
    let n = r.count("watch items", 9)?;
    let mut items = Vec::with_capacity(n.min(MAX_WATCH_BATCH));
    for _ in 0..n {
        let offset = r.offset();
        items.push(match r.u8("watch item")? {
            1 => {
                let index = Index(r.u64("index")?);
                let term = Term(r.u64("term")?);
                WatchWireItem::Event {
                    index,
                    term,
                    entry: get_entry(r)?,
                    outcome: get_outcome(r, 1)?,
                }
            }
            2 => WatchWireItem::Compacted {
                at: Index(r.u64("compacted at")?),
            },
            4 => WatchWireItem::SnapshotPart {
                at: Index(r.u64("snapshot at")?),
                members: get_members(r)?,
                ranges: get_ranges(r)?,
                last: r.bool("last part")?,
            },
            3 => {
                let tag_at = r.offset();
                let role = match r.u8("role")? {
                    0 => Role::Follower,
                    1 => Role::Candidate,
                    2 => Role::PreCandidate,
                    3 => Role::Leader,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "role",
                            tag,
                            offset: tag_at,
                        })
                    }
                };
                WatchWireItem::Role {
                    role,
                    term: Term(r.u64("term")?),
                    leader: get_hint(r)?,
                }
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "watch item",
                    tag,
                    offset,
                })
            }
        });
    }
    Ok(items)
}
