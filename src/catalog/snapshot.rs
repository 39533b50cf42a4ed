//! The catalog snapshot encoding: the whole catalog as versioned,
//! deterministic bytes.
//!
//! Layout (all integers little-endian, strings as in [`crate::entry::codec`]):
//! magic `SYNODCAT`, format version, applied index and term, catalog
//! version, next peer id, the leader configuration (flag, term, leader), then
//! the members, the ranges and the audit records, each as a count followed by
//! the items in their canonical order (members and ranges strictly ascending
//! by key, audit records by index).
//!
//! Decoding checks what the catalog's own rules guarantee, so a snapshot that
//! could not have been produced by applying entries is refused rather than
//! installed: keys strictly ascending (no duplicates), every owner an
//! admitted data member, peer ids unique and below the next peer id, audit
//! indexes ascending and not above the applied index.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{AuditRecord, Catalog, Member, MemberState, RangeOwnership};
use crate::entry::codec::{DecodeError, Reader, Writer};
use crate::entry::{CatalogVersion, Epoch, Index, MemberKind, NodeId, Term};

const MAGIC: &[u8; 8] = b"SYNODCAT";
/// The snapshot format this build writes.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 1;
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
            w.str(m.id.as_str());
            w.kind(m.kind);
            w.str(m.address.as_str());
            w.u8(match m.state {
                MemberState::Active => 0,
                MemberState::Draining => 1,
            });
            w.u64(m.peer_id);
        }
        w.u64(self.ranges.len() as u64);
        for (range, r) in &self.ranges {
            w.str(range.as_str());
            w.str(r.owner.as_str());
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
        r.version("snapshot format version", WHAT, SNAPSHOT_FORMAT_VERSION)?;
        let applied_index = Index(r.u64("applied index")?);
        let applied_term = Term(r.u64("applied term")?);
        let catalog_version = CatalogVersion(r.u64("catalog version")?);
        let next_peer_id = r.u64("next peer id")?;
        let leader = match r.bool("leader flag")? {
            false => None,
            true => Some((Term(r.u64("leader term")?), r.node_id("leader")?)),
        };

        // Smallest encodings: member 2+1+2+1+8, range 2+2+32, audit 8+8+2+1+8+2+8+2+2.
        let n = r.count("member count", 14)?;
        let mut members = BTreeMap::new();
        let mut peer_ids = HashSet::with_capacity(n);
        for _ in 0..n {
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
            if members
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(inconsistent(format!("member {id} is out of order")));
            }
            members.insert(
                id.clone(),
                Member {
                    id,
                    kind,
                    address,
                    state,
                    peer_id,
                },
            );
        }
        if members.is_empty() {
            return Err(inconsistent("no members".into()));
        }

        let n = r.count("range count", 36)?;
        let mut ranges = BTreeMap::new();
        let mut owned: HashMap<NodeId, u64> = HashMap::new();
        for _ in 0..n {
            let range = r.range_id("range")?;
            let owner = r.node_id("owner")?;
            let epoch = Epoch(r.u64("epoch")?);
            let version = CatalogVersion(r.u64("range version")?);
            let term = Term(r.u64("range term")?);
            let index = Index(r.u64("range index")?);
            // Share the member's copy of the identity instead of keeping a
            // second one per range.
            let owner = match members.get(&owner) {
                Some(m) if m.kind == MemberKind::Data => m.id.clone(),
                _ => {
                    return Err(inconsistent(format!(
                        "{range} is owned by {owner}, which is not an admitted data member"
                    )))
                }
            };
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
        r.finish(WHAT)?;
        Ok(Catalog {
            members,
            ranges,
            audit,
            version: catalog_version,
            leader,
            applied_index,
            applied_term,
            next_peer_id,
            owned,
            skip_epoch_check: false,
        })
    }
}

fn inconsistent(detail: String) -> DecodeError {
    DecodeError::Inconsistent { what: WHAT, detail }
}
