//! The catalog's parts on the wire, shared by answers and watch batches:
//! a range's ownership, a member list, a page of ranges.

use crate::catalog::{Member, MemberState, RangeOwnership};
use crate::entry::codec::{Reader, Writer};
use crate::entry::{CatalogVersion, DecodeError, Epoch, Index, RangeId, Term};

pub(super) fn put_ownership(w: &mut Writer, o: &RangeOwnership) {
    w.str(o.owner.as_str());
    w.u64(o.epoch.0);
    w.u64(o.version.0);
    w.u64(o.term.0);
    w.u64(o.index.0);
}

pub(super) fn get_ownership(r: &mut Reader<'_>) -> Result<RangeOwnership, DecodeError> {
    Ok(RangeOwnership {
        owner: r.node_id("owner")?,
        epoch: Epoch(r.u64("epoch")?),
        version: CatalogVersion(r.u64("version")?),
        term: Term(r.u64("term")?),
        index: Index(r.u64("index")?),
    })
}

/// Writes a member list (a `Members` answer's, a watch snapshot's).
pub(super) fn put_members(w: &mut Writer, ms: &[Member]) {
    w.u64(ms.len() as u64);
    for m in ms {
        w.str(m.id.as_str());
        w.kind(m.kind);
        w.str(m.address.as_str());
        w.u8(matches!(m.state, MemberState::Draining) as u8);
        w.u64(m.peer_id);
    }
}

/// Reads a member list.
pub(super) fn get_members(r: &mut Reader<'_>) -> Result<Vec<Member>, DecodeError> {
    let n = r.count("member count", 14)?;
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.node_id("member")?;
        let kind = r.kind("kind")?;
        let address = r.address("address")?;
        let state = if r.bool("draining")? {
            MemberState::Draining
        } else {
            MemberState::Active
        };
        ms.push(Member {
            id,
            kind,
            address,
            state,
            peer_id: r.u64("peer id")?,
        });
    }
    Ok(ms)
}

/// Writes a page of ranges with their owners.
pub(super) fn put_ranges(w: &mut Writer, rs: &[(RangeId, RangeOwnership)]) {
    w.u64(rs.len() as u64);
    for (range, o) in rs {
        w.str(range.as_str());
        put_ownership(w, o);
    }
}

/// Reads a page of ranges with their owners.
pub(super) fn get_ranges(
    r: &mut Reader<'_>,
) -> Result<Vec<(RangeId, RangeOwnership)>, DecodeError> {
    let n = r.count("range count", 38)?;
    let mut rs = Vec::with_capacity(n);
    for _ in 0..n {
        let range = r.range_id("range")?;
        rs.push((range, get_ownership(r)?));
    }
    Ok(rs)
}

/// The length of a range's encoding in a page (its id and ownership).
pub(crate) fn range_len(range: &RangeId, o: &RangeOwnership) -> usize {
    2 + range.as_str().len() + 2 + o.owner.as_str().len() + 32
}
