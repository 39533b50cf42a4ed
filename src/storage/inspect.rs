//! `synod inspect`: what a data directory holds, read without changing it.
//! The CLI only formats an [`InspectReport`].

use std::path::Path;
use std::sync::Arc;

use raft::eraftpb::ConfState;
use serde::Serialize;

use super::disk::{Disk, RealDisk};
use super::error::Result;
use super::store::{DurableStore, StoreOptions};
use crate::catalog::Catalog;

/// The hard state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HardStateView {
    /// Current term.
    pub term: u64,
    /// Vote in the current term (0: none).
    pub vote: u64,
    /// Commit index.
    pub commit: u64,
}

/// A conf state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfStateView {
    /// Voters.
    pub voters: Vec<u64>,
    /// Learners.
    pub learners: Vec<u64>,
    /// Outgoing voters of a joint configuration.
    pub voters_outgoing: Vec<u64>,
    /// Learners after leaving a joint configuration.
    pub learners_next: Vec<u64>,
    /// Whether the joint configuration is left automatically.
    pub auto_leave: bool,
}

impl From<&ConfState> for ConfStateView {
    fn from(cs: &ConfState) -> Self {
        Self {
            voters: cs.voters.clone(),
            learners: cs.learners.clone(),
            voters_outgoing: cs.voters_outgoing.clone(),
            learners_next: cs.learners_next.clone(),
            auto_leave: cs.auto_leave,
        }
    }
}

/// Snapshot metadata.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SnapshotView {
    /// Index covered.
    pub index: u64,
    /// Term of that index.
    pub term: u64,
    /// Its conf state.
    pub conf_state: ConfStateView,
    /// Bytes of state-machine data.
    pub data_bytes: u64,
}

/// A member of the catalog.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberView {
    /// Identity.
    pub id: String,
    /// `data` or `witness`.
    pub kind: String,
    /// Address.
    pub address: String,
    /// `active` or `draining`.
    pub state: String,
    /// Raft peer id.
    pub peer_id: u64,
}

/// A range's current ownership.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RangeView {
    /// The range.
    pub range: String,
    /// Its owner.
    pub owner: String,
    /// Its epoch.
    pub epoch: u64,
    /// The log index that set it.
    pub index: u64,
}

/// The catalog at the commit index.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CatalogSummary {
    /// Last applied index.
    pub applied_index: u64,
    /// Catalog version.
    pub version: u64,
    /// Latest leader configuration (term, leader).
    pub leader: Option<(u64, String)>,
    /// Members, by identity.
    pub members: Vec<MemberView>,
    /// Number of ranges with an owner.
    pub ranges: u64,
    /// The highest epoch of any range.
    pub max_epoch: u64,
    /// The most recently changed ranges (up to ten, newest first).
    pub latest_epochs: Vec<RangeView>,
    /// Forced transitions recorded in the audit list.
    pub forced_transitions: u64,
}

impl From<&Catalog> for CatalogSummary {
    fn from(c: &Catalog) -> Self {
        let mut ranges: Vec<RangeView> = c
            .ranges()
            .map(|(r, o)| RangeView {
                range: r.to_string(),
                owner: o.owner.to_string(),
                epoch: o.epoch.get(),
                index: o.index.get(),
            })
            .collect();
        let max_epoch = ranges.iter().map(|r| r.epoch).max().unwrap_or(0);
        let n = ranges.len() as u64;
        ranges.sort_by(|a, b| b.index.cmp(&a.index).then_with(|| a.range.cmp(&b.range)));
        ranges.truncate(10);
        Self {
            applied_index: c.applied().0.get(),
            version: c.version().get(),
            leader: c.leader().map(|(t, l)| (t.get(), l.to_string())),
            members: c
                .members()
                .map(|m| MemberView {
                    id: m.id.to_string(),
                    kind: m.kind.to_string(),
                    address: m.address.to_string(),
                    state: m.state.to_string(),
                    peer_id: m.peer_id,
                })
                .collect(),
            ranges: n,
            max_epoch,
            latest_epochs: ranges,
            forced_transitions: c.audit_log().len() as u64,
        }
    }
}

/// A torn final record seen (not repaired: inspection changes nothing).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TornView {
    /// The segment file.
    pub file: String,
    /// Where the torn record starts.
    pub offset: u64,
    /// Bytes the next open will drop.
    pub dropped_bytes: u64,
    /// What was found there, and why it counts as a torn write.
    pub detail: String,
}

/// What a data directory holds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InspectReport {
    /// The directory.
    pub dir: String,
    /// Hard state.
    pub hard_state: HardStateView,
    /// First index held.
    pub first_index: u64,
    /// Last index held.
    pub last_index: u64,
    /// Latest snapshot, if any.
    pub snapshot: Option<SnapshotView>,
    /// Current conf state.
    pub conf_state: ConfStateView,
    /// Segment files.
    pub segments: Vec<String>,
    /// A torn final record, if any.
    pub torn_tail: Option<TornView>,
    /// Snapshot files the log never recorded.
    pub ignored_snapshots: Vec<String>,
    /// Leftovers the next writable open will remove (temporary files,
    /// superseded snapshots, a final segment torn inside its head).
    pub would_remove: Vec<String>,
    /// The catalog at the commit index (absent if never bootstrapped).
    pub catalog: Option<CatalogSummary>,
}

/// Inspects `dir` on the real file system.
pub fn inspect(dir: &Path) -> Result<InspectReport> {
    inspect_on(Arc::new(RealDisk), dir)
}

/// Inspects `dir` on `disk`, read-only: nothing is locked, repaired or
/// removed. Damage that is not a torn final write is an error naming the
/// file and the offset (the same [`crate::storage::StorageError`] a
/// writable open gives; the CLI prints it and exits 2).
pub fn inspect_on(disk: Arc<dyn Disk>, dir: &Path) -> Result<InspectReport> {
    let options = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let (store, report) = DurableStore::open(disk, dir, options)?;
    let hs = store.hard_state();
    let snap = store.snapshot();
    let has_snapshot = store.has_snapshot();
    let catalog = if has_snapshot {
        Some(CatalogSummary::from(&store.recover_catalog()?))
    } else {
        None
    };
    let name = |p: &Path| p.display().to_string();
    Ok(InspectReport {
        dir: name(dir),
        hard_state: HardStateView {
            term: hs.term,
            vote: hs.vote,
            commit: hs.commit,
        },
        first_index: store.first_index(),
        last_index: store.last_index(),
        snapshot: has_snapshot.then(|| {
            let m = snap.get_metadata();
            SnapshotView {
                index: m.index,
                term: m.term,
                conf_state: ConfStateView::from(m.get_conf_state()),
                data_bytes: snap.data.len() as u64,
            }
        }),
        conf_state: ConfStateView::from(&store.conf_state()),
        segments: report.segments.iter().map(|p| name(p)).collect(),
        torn_tail: report.torn_tail.as_ref().map(|t| TornView {
            file: name(&t.path),
            offset: t.offset,
            dropped_bytes: t.dropped_bytes,
            detail: t.detail.clone(),
        }),
        ignored_snapshots: report.ignored_snapshots.iter().map(|p| name(p)).collect(),
        would_remove: report.would_remove.iter().map(|p| name(p)).collect(),
        catalog,
    })
}
