//! The catalog snapshot encoding: the whole catalog as versioned,
//! deterministic bytes.
//!
//! Layout (all integers little-endian, strings as in [`crate::entry::codec`]):
//! magic `SYNODCAT`, format version, applied index and term, catalog
//! version, next peer id, the leader configuration (flag, term, leader), then
//! the members, the ranges and the audit records, each as a count followed by
//! the items in their canonical order (members and ranges strictly ascending
//! by key, audit records by index), then (from format 2 on) the client
//! sessions: a count, then per client (ascending) its id, last applied index,
//! highest sequence and its recorded outcomes (ascending by sequence),
//! then (from format 3 on) the recently departed members: a count, then
//! each as a member is encoded, ascending by peer id.
//!
//! A range is its id, its owner, epoch, version, term and index. From
//! format 4 on the owner is a `u32`: the owner's position among the members
//! written just before (0 is the first); before, it was the owner's
//! identity. Owners are always admitted members (a transition names an
//! eligible member, and a member that owns ranges cannot be removed), so a
//! range takes `2 + id length + 4 + 32` bytes whoever owns it
//! ([`super::limits::encoded_range_len`]), which is what the ranges' byte
//! budget counts. Formats 1 (no sessions), 2 (no departed members) and 3
//! (owners as identities) are still read.
//!
//! Decoding checks what the catalog's own rules guarantee, so a snapshot that
//! could not have been produced by applying entries is refused rather than
//! installed: keys strictly ascending (no duplicates), every owner an
//! admitted data member (an owner index past the members is refused like an
//! unknown owner), peer ids unique and below the next peer id, audit
//! indexes ascending and not above the applied index.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::limits::encoded_range_len;
use super::outcome_codec::{get_recorded, put_recorded};
use super::sessions::{ClientSession, SessionTable};
use super::{AuditRecord, Catalog, Member, MemberState, RangeOwnership, MAX_DEPARTED};
use crate::entry::codec::{DecodeError, Reader, Writer};
use crate::entry::{CatalogVersion, ClientId, Epoch, Index, MemberKind, NodeId, Term};

const MAGIC: &[u8; 8] = b"SYNODCAT";
/// The snapshot format this build writes.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 4;
/// The first format, without client sessions: still read.
const SNAPSHOT_FORMAT_V1: u8 = 1;
/// The second format, without departed members: still read.
const SNAPSHOT_FORMAT_V2: u8 = 2;
/// The third format, with each range's owner as its identity: still read.
const SNAPSHOT_FORMAT_V3: u8 = 3;
const WHAT: &str = "catalog snapshot";

impl Catalog {
    /// Encodes the whole catalog. Equal catalogs give equal bytes.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64 + self.ranges.len() * 48);
        w.bytes(MAGIC);
        w.u8(SNAPSHOT_FORMAT_VERSION);
        w.u64(self.applied_index.0);
        w.u64(self.applied_term.0);
        w.u64(self.version.0);
        w.u64(self.next_peer_id);
        match &self.leader {
            None => w.u8(0),
            Some((term, leader)) => {
                w.u8(1);
                w.u64(term.0);
                w.str(leader.as_str());
            }
        }
        w.u64(self.members.len() as u64);
        for m in self.members.values() {
            put_member(&mut w, m);
        }
        w.u64(self.ranges.len() as u64);
        let owner_index: HashMap<&NodeId, u32> = self.members.keys().zip(0u32..).collect();
        for (range, r) in &self.ranges {
            w.str(range.as_str());
            // Every owner is an admitted member: transitions name eligible
            // members only, and a member that owns ranges is not removed
            // (`MemberOwnsRanges`). Were one not, the index past the
            // members makes decoding refuse the snapshot, as it refused the
            // format-3 snapshot of such a catalog.
            w.u32(owner_index.get(&r.owner).copied().unwrap_or(u32::MAX));
            w.u64(r.epoch.0);
            w.u64(r.version.0);
            w.u64(r.term.0);
            w.u64(r.index.0);
        }
        w.u64(self.audit.len() as u64);
        for a in &self.audit {
            w.u64(a.index.0);
            w.u64(a.term.0);
            w.str(a.range.as_str());
            match &a.previous_owner {
                None => w.u8(0),
                Some(p) => {
                    w.u8(1);
                    w.str(p.as_str());
                }
            }
            w.u64(a.previous_epoch.0);
            w.str(a.new_owner.as_str());
            w.u64(a.epoch.0);
            w.str(a.operator.as_str());
            w.str(a.reason.as_str());
        }
        put_sessions(&mut w, &self.sessions);
        w.u64(self.departed.len() as u64);
        for m in self.departed.values() {
            put_member(&mut w, m);
        }
        w.finish()
    }

    /// Decodes a snapshot made by [`Catalog::encode_snapshot`]. Arbitrary
    /// bytes give an error, never a panic; memory use is bounded by the
    /// input's length.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Catalog, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.take("magic", MAGIC.len())? != MAGIC {
            return Err(DecodeError::BadMagic { what: WHAT });
        }
        let version = r.u8("snapshot format version")?;
        if ![
            SNAPSHOT_FORMAT_V1,
            SNAPSHOT_FORMAT_V2,
            SNAPSHOT_FORMAT_V3,
            SNAPSHOT_FORMAT_VERSION,
        ]
        .contains(&version)
        {
            return Err(DecodeError::UnsupportedVersion {
                what: WHAT,
                version,
            });
        }
        let applied_index = Index(r.u64("applied index")?);
        let applied_term = Term(r.u64("applied term")?);
        let catalog_version = CatalogVersion(r.u64("catalog version")?);
        let next_peer_id = r.u64("next peer id")?;
        let leader = match r.bool("leader flag")? {
            false => None,
            true => Some((Term(r.u64("leader term")?), r.node_id("leader")?)),
        };

        // Smallest encodings: member 2+1+2+1+8, range 2+4+32 (2+2+32 before
        // format 4), audit 8+8+2+1+8+2+8+2+2.
        let n = r.count("member count", 14)?;
        let mut members = BTreeMap::new();
        let mut peer_ids = HashSet::with_capacity(n);
        for _ in 0..n {
            let m = get_member(&mut r, next_peer_id, &mut peer_ids)?;
            if members
                .last_key_value()
                .is_some_and(|(last, _)| *last >= m.id)
            {
                return Err(inconsistent(format!("member {} is out of order", m.id)));
            }
            members.insert(m.id.clone(), m);
        }
        if members.is_empty() {
            return Err(inconsistent("no members".into()));
        }

        let owner_by_index = version >= SNAPSHOT_FORMAT_VERSION;
        let n = r.count("range count", if owner_by_index { 38 } else { 36 })?;
        let by_index: Vec<&Member> = members.values().collect();
        let mut ranges = BTreeMap::new();
        let mut owned: HashMap<NodeId, u64> = HashMap::new();
        let mut range_bytes = 0usize;
        for _ in 0..n {
            let range = r.range_id("range")?;
            let owner = if owner_by_index {
                let i = r.u32("owner index")?;
                match usize::try_from(i).ok().and_then(|i| by_index.get(i)) {
                    Some(m) => *m,
                    None => {
                        return Err(inconsistent(format!(
                            "{range} is owned by member #{i}, past the {} members",
                            by_index.len()
                        )))
                    }
                }
            } else {
                let owner = r.node_id("owner")?;
                match members.get(&owner) {
                    Some(m) => m,
                    None => {
                        return Err(inconsistent(format!(
                            "{range} is owned by {owner}, which is not an admitted member"
                        )))
                    }
                }
            };
            if owner.kind != MemberKind::Data {
                return Err(inconsistent(format!(
                    "{range} is owned by {}, which is not a data member",
                    owner.id
                )));
            }
            // Share the member's copy of the identity instead of keeping a
            // second one per range.
            let owner = owner.id.clone();
            let epoch = Epoch(r.u64("epoch")?);
            let version = CatalogVersion(r.u64("range version")?);
            let term = Term(r.u64("range term")?);
            let index = Index(r.u64("range index")?);
            if epoch.0 == 0 || version > catalog_version || index > applied_index {
                return Err(inconsistent(format!(
                    "{range} has epoch {epoch}, version {version}, index {index} beyond the catalog"
                )));
            }
            if ranges
                .last_key_value()
                .is_some_and(|(last, _)| *last >= range)
            {
                return Err(inconsistent(format!("range {range} is out of order")));
            }
            *owned.entry(owner.clone()).or_insert(0) += 1;
            range_bytes += encoded_range_len(&range);
            ranges.insert(
                range,
                RangeOwnership {
                    owner,
                    epoch,
                    version,
                    term,
                    index,
                },
            );
        }

        let n = r.count("audit count", 43)?;
        let mut audit: Vec<AuditRecord> = Vec::with_capacity(n);
        for _ in 0..n {
            let index = Index(r.u64("audit index")?);
            let term = Term(r.u64("audit term")?);
            let range = r.range_id("audit range")?;
            let previous_owner = match r.bool("previous owner flag")? {
                false => None,
                true => Some(r.node_id("previous owner")?),
            };
            let previous_epoch = Epoch(r.u64("previous epoch")?);
            let new_owner = r.node_id("audit new owner")?;
            let epoch = Epoch(r.u64("audit epoch")?);
            let operator = r.node_id("operator")?;
            let reason = r.reason("reason")?;
            if index > applied_index || audit.last().is_some_and(|last| last.index >= index) {
                return Err(inconsistent(format!(
                    "audit record at {index} is out of order"
                )));
            }
            audit.push(AuditRecord {
                index,
                term,
                range,
                previous_owner,
                previous_epoch,
                new_owner,
                epoch,
                operator,
                reason,
            });
        }
        let sessions = if version == SNAPSHOT_FORMAT_V1 {
            SessionTable::default()
        } else {
            decode_sessions(&mut r, applied_index)?
        };
        let mut departed = BTreeMap::new();
        if version >= SNAPSHOT_FORMAT_V3 {
            let n = r.count("departed member count", 14)?;
            if n > MAX_DEPARTED {
                return Err(inconsistent(format!(
                    "{n} departed members, more than the {MAX_DEPARTED} kept"
                )));
            }
            for _ in 0..n {
                let m = get_member(&mut r, next_peer_id, &mut peer_ids)?;
                if departed
                    .last_key_value()
                    .is_some_and(|(last, _)| *last >= m.peer_id)
                {
                    return Err(inconsistent(format!(
                        "departed member {} is out of order",
                        m.id
                    )));
                }
                departed.insert(m.peer_id, m);
            }
        }
        r.finish(WHAT)?;
        Ok(Catalog {
            members: members.into_iter().collect(),
            ranges: ranges.into_iter().collect(),
            audit: audit.into_iter().collect(),
            version: catalog_version,
            leader,
            applied_index,
            applied_term,
            next_peer_id,
            owned,
            range_bytes,
            sessions,
            departed,
            skip_epoch_check: false,
            skip_session_check: false,
        })
    }
}

/// Encodes the client sessions: a count, then per client (ascending) its
/// id, last applied index, highest sequence and its recorded outcomes. The
/// clients take exactly [`SessionTable::bytes`] after the count.
pub(super) fn put_sessions(w: &mut Writer, table: &SessionTable) {
    w.u64(table.clients.len() as u64);
    for (client, c) in &table.clients {
        w.u64(client.0 as u64);
        w.u64((client.0 >> 64) as u64);
        w.u64(c.last_index.0);
        w.u64(c.max_seq);
        w.u64(c.outcomes.len() as u64);
        for (seq, rec) in &c.outcomes {
            w.u64(*seq);
            put_recorded(w, rec);
        }
    }
}

/// Encodes one member (of the members or the departed).
fn put_member(w: &mut Writer, m: &Member) {
    w.str(m.id.as_str());
    w.kind(m.kind);
    w.str(m.address.as_str());
    w.u8(match m.state {
        MemberState::Active => 0,
        MemberState::Draining => 1,
    });
    w.u64(m.peer_id);
}

/// Decodes one member; its peer id must be non-zero, below
/// `next_peer_id` and not in `peer_ids` (which it joins).
fn get_member(
    r: &mut Reader<'_>,
    next_peer_id: u64,
    peer_ids: &mut HashSet<u64>,
) -> Result<Member, DecodeError> {
    let id = r.node_id("member")?;
    let kind = r.kind("member kind")?;
    let address = r.address("member address")?;
    let state_offset = r.offset();
    let state = match r.u8("member state")? {
        0 => MemberState::Active,
        1 => MemberState::Draining,
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "member state",
                tag,
                offset: state_offset,
            })
        }
    };
    let peer_id = r.u64("peer id")?;
    if peer_id == 0 || peer_id >= next_peer_id || !peer_ids.insert(peer_id) {
        return Err(inconsistent(format!(
            "peer id {peer_id} of {id} is zero, reused or not below {next_peer_id}"
        )));
    }
    Ok(Member {
        id,
        kind,
        address,
        state,
        peer_id,
    })
}

fn decode_sessions(r: &mut Reader<'_>, applied_index: Index) -> Result<SessionTable, DecodeError> {
    // Smallest encodings: client 16+8+8+8, outcome 8+8+8+1+8.
    let n = r.count("session count", 40)?;
    let mut table = SessionTable::default();
    for _ in 0..n {
        let start = r.offset();
        let low = r.u64("client id")? as u128;
        let client = ClientId(((r.u64("client id")? as u128) << 64) | low);
        let last_index = Index(r.u64("session index")?);
        let max_seq = r.u64("session sequence")?;
        let k = r.count("session outcome count", 33)?;
        let mut c = ClientSession {
            last_index,
            max_seq,
            outcomes: BTreeMap::new(),
            bytes: 0,
        };
        for _ in 0..k {
            let seq = r.u64("sequence")?;
            let rec = get_recorded(r, 1)?;
            if seq > max_seq
                || rec.index > last_index
                || c.outcomes.last_key_value().is_some_and(|(s, _)| *s >= seq)
            {
                return Err(inconsistent(format!(
                    "session {client} sequence {seq} is out of order"
                )));
            }
            c.outcomes.insert(seq, rec);
        }
        if last_index > applied_index
            || table
                .clients
                .last_key_value()
                .is_some_and(|(last, _)| *last >= client)
        {
            return Err(inconsistent(format!("session {client} is out of order")));
        }
        // What this client took in the input is what it takes re-encoded:
        // the encoding is canonical (checked above).
        c.bytes = r.offset() - start;
        table.bytes += c.bytes;
        table.by_activity.insert((last_index, client));
        table.clients.insert(client, c);
    }
    Ok(table)
}

fn inconsistent(detail: String) -> DecodeError {
    DecodeError::Inconsistent { what: WHAT, detail }
}
