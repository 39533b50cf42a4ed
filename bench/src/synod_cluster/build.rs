//! The data directories the restart and catalog-scale measurements open,
//! written in-process with [`DurableStore`]: a long log with a snapshot
//! below its end, or a snapshot holding a large catalog.

// raft's protobuf messages are built field by field, as the storage and
// engine rooms do.
#![allow(clippy::field_reassign_with_default)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use indicatif::ProgressBar;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::{ControlPlaneEntry, Index, InitialMember, MemberKind, NodeId, RangeId, Term};

use super::{ctx, transition, SynodResult};

/// A `raft` entry at (`index`, `term`) carrying `entry`.
fn log_entry(index: u64, term: u64, entry: &ControlPlaneEntry) -> Entry {
    let mut e = Entry::default();
    e.index = index;
    e.term = term;
    e.data = Bytes::from(entry.encode());
    e
}

/// Entries per append and sync while building a directory.
const BUILD_BATCH: usize = 4096;

/// What [`build_log_dir`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LogDir {
    /// The last (and commit) index.
    pub last_index: u64,
    /// The snapshot's index.
    pub snapshot_index: u64,
    /// Committed entries above the snapshot (applied again at restart).
    pub above_snapshot: u64,
}

/// Builds `dir` for a single-member cluster of `id` at `addr`: the genesis
/// snapshot, then `entries` committed ownership transitions (owner `id`,
/// cycling through `ranges` ranges with increasing epochs), then a snapshot
/// of the catalog `tail` entries below the last one (a running member takes
/// one every `snapshot_every` = 10,000 entries, so it never has more than
/// that above its snapshot). Segments are made large enough that the
/// directory keeps every entry.
pub fn build_log_dir(
    dir: &Path,
    id: &NodeId,
    addr: &str,
    entries: u64,
    ranges: u64,
    tail: u64,
    progress: Option<&ProgressBar>,
) -> SynodResult<LogDir> {
    let initial = [InitialMember {
        id: id.clone(),
        kind: MemberKind::Data,
        address: addr.parse().map_err(ctx("address"))?,
    }];
    let opts = StoreOptions {
        segment_bytes: 4 << 30,
        ..StoreOptions::default()
    };
    let (mut store, _) = DurableStore::bootstrap(Arc::new(RealDisk), dir, opts, &initial)
        .map_err(ctx("bootstrap the store"))?;
    let mut catalog = store.recover_catalog().map_err(ctx("genesis catalog"))?;
    let first = store.last_index() + 1;
    let last = first + entries - 1;
    let tail = tail.min(entries.saturating_sub(1));
    let snapshot_index = last - tail;
    let mut snapshot_data = None;
    let range_ids: Vec<RangeId> = (0..ranges.max(1))
        .map(|r| {
            format!("users:[{r:07},{:07})", r + 1)
                .parse()
                .map_err(ctx("range id"))
        })
        .collect::<SynodResult<_>>()?;
    let term = store.hard_state().term;
    let mut batch = Vec::with_capacity(BUILD_BATCH);
    let mut index = first;
    if let Some(pb) = progress {
        pb.set_length(entries);
        pb.set_position(0);
    }
    while index <= last {
        batch.clear();
        while batch.len() < BUILD_BATCH && index <= last {
            let k = index - first;
            let r = k % range_ids.len() as u64;
            let epoch = k / range_ids.len() as u64 + 1;
            let entry = transition(range_ids[r as usize].clone(), id, epoch);
            batch.push(log_entry(index, term, &entry));
            if index <= snapshot_index {
                catalog
                    .apply(Index(index), Term(term), &entry)
                    .map_err(ctx("apply"))?;
                if index == snapshot_index {
                    snapshot_data = Some(catalog.encode_snapshot());
                }
            }
            index += 1;
        }
        store.append(&batch).map_err(ctx("append"))?;
        let mut hs: HardState = store.hard_state();
        hs.commit = index - 1;
        store.set_hard_state(&hs).map_err(ctx("hard state"))?;
        store.sync().map_err(ctx("sync"))?;
        if let Some(pb) = progress {
            pb.set_position(index - first);
        }
    }
    let data = snapshot_data.ok_or("no snapshot taken")?;
    store
        .create_snapshot(snapshot_index, term, store.conf_state(), data)
        .map_err(ctx("create the snapshot"))?;
    Ok(LogDir {
        last_index: last,
        snapshot_index,
        above_snapshot: last - snapshot_index,
    })
}

/// Builds `dir` for a single-member cluster of `id` at `addr` whose
/// snapshot holds a catalog with `ranges` ranges, each owned by `id` at
/// epoch 1 (the state 1,000,000 committed transitions leave): the catalog
/// is built in-process and installed with [`DurableStore::apply_snapshot`],
/// as a snapshot from a leader is. Returns the snapshot's size in bytes.
pub fn build_catalog_dir(
    dir: &Path,
    id: &NodeId,
    addr: &str,
    ranges: u64,
    progress: Option<&ProgressBar>,
) -> SynodResult<u64> {
    let initial = [InitialMember {
        id: id.clone(),
        kind: MemberKind::Data,
        address: addr.parse().map_err(ctx("address"))?,
    }];
    let (mut store, _) =
        DurableStore::bootstrap(Arc::new(RealDisk), dir, StoreOptions::default(), &initial)
            .map_err(ctx("bootstrap the store"))?;
    let mut catalog = store.recover_catalog().map_err(ctx("genesis catalog"))?;
    let term = store.hard_state().term;
    let mut index = store.last_index();
    if let Some(pb) = progress {
        pb.set_length(ranges);
        pb.set_position(0);
    }
    for r in 0..ranges {
        index += 1;
        let range: RangeId = format!("users:[{r:07},{:07})", r + 1)
            .parse()
            .map_err(ctx("range id"))?;
        let outcome = catalog
            .apply(Index(index), Term(term), &transition(range, id, 1))
            .map_err(ctx("apply"))?;
        // A refused range would make the catalog smaller than the one
        // reported: stop instead.
        if !matches!(outcome, synod::ApplyOutcome::Applied { .. }) {
            return Err(format!(
                "range {r} of {ranges} was not applied: {outcome:?}"
            ));
        }
        if let Some(pb) = progress {
            if r % 65_536 == 0 {
                pb.set_position(r);
            }
        }
    }
    let data = catalog.encode_snapshot();
    let bytes = data.len() as u64;
    let mut snap = Snapshot::default();
    snap.data = Bytes::from(data);
    let meta = snap.mut_metadata();
    meta.index = index;
    meta.term = term;
    let mut cs = ConfState::default();
    cs.voters = vec![catalog.member(id).map_or(1, |m| m.peer_id)];
    meta.set_conf_state(cs);
    store
        .apply_snapshot(snap)
        .map_err(ctx("install the snapshot"))?;
    Ok(bytes)
}
