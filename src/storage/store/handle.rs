//! The in-memory log ([`Core`]) that [`super::DurableStore`] stages into,
//! and [`StoreHandle`], the cheap read view that implements
//! [`raft::Storage`] for `RawNode`.
//!
//! Promise: the handle sees exactly what the store has staged (as
//! `MemStorage` does), and `Core` keeps `entries[i].index == snapshot
//! index + 1 + i`.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState};

#[derive(Debug, Default)]
pub(crate) struct Core {
    pub(crate) hard_state: HardState,
    pub(crate) conf_state: ConfState,
    /// The latest snapshot (index 0, term 0, no data when there is none).
    pub(crate) snapshot: Snapshot,
    pub(crate) has_snapshot: bool,
    /// `entries[i].index == snapshot index + 1 + i`.
    pub(crate) entries: Vec<Entry>,
}

impl Core {
    pub(crate) fn snap_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    pub(crate) fn snap_term(&self) -> u64 {
        self.snapshot.get_metadata().term
    }

    pub(crate) fn first_index(&self) -> u64 {
        self.snap_index() + 1
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.snap_index() + self.entries.len() as u64
    }

    pub(crate) fn term(&self, idx: u64) -> Option<u64> {
        let s = self.snap_index();
        if idx == s {
            return Some(self.snap_term());
        }
        if idx < s {
            return None;
        }
        let i = usize::try_from(idx - s - 1).ok()?;
        self.entries.get(i).map(|e| e.term)
    }

    pub(super) fn truncate_from(&mut self, idx: u64) {
        let keep = idx.saturating_sub(self.first_index());
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        self.entries.truncate(keep);
    }
}

/// A cheap, cloneable, read-only view of a [`DurableStore`], implementing
/// [`raft::Storage`]. It sees what the store has staged (as
/// `MemStorage` does); raft only reads it from the Ready loop, after the
/// driver has synced.
///
/// [`DurableStore`]: super::DurableStore
#[derive(Debug, Clone)]
pub struct StoreHandle {
    pub(super) core: Arc<RwLock<Core>>,
}

pub(super) fn read(core: &RwLock<Core>) -> RwLockReadGuard<'_, Core> {
    // Core is only mutated by short sequences that cannot panic halfway in
    // a way that breaks its invariants, so a poisoned lock is still usable.
    core.read().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn write(core: &RwLock<Core>) -> RwLockWriteGuard<'_, Core> {
    core.write().unwrap_or_else(|p| p.into_inner())
}

impl StoreHandle {
    /// The hard state.
    pub fn hard_state(&self) -> HardState {
        read(&self.core).hard_state.clone()
    }

    /// The conf state.
    pub fn conf_state(&self) -> ConfState {
        read(&self.core).conf_state.clone()
    }

    /// The entries in `[low, high)` that are held (an empty vector for
    /// none; no error for compacted or missing indexes).
    pub fn held_entries(&self, low: u64, high: u64) -> Vec<Entry> {
        let c = read(&self.core);
        let first = c.first_index();
        let low = low.max(first);
        let high = high.min(c.last_index() + 1);
        if low >= high {
            return Vec::new();
        }
        c.entries[(low - first) as usize..(high - first) as usize].to_vec()
    }
}

impl raft::Storage for StoreHandle {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let c = read(&self.core);
        Ok(RaftState::new(c.hard_state.clone(), c.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let c = read(&self.core);
        if low < c.first_index() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > c.last_index() + 1 || low > high {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        let first = c.first_index();
        let mut ents = c.entries[(low - first) as usize..(high - first) as usize].to_vec();
        raft::util::limit_size(&mut ents, max_size.into());
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let c = read(&self.core);
        if idx < c.snap_index() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        c.term(idx)
            .ok_or(raft::Error::Store(raft::StorageError::Unavailable))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(read(&self.core).first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(read(&self.core).last_index())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let c = read(&self.core);
        if !c.has_snapshot || c.snap_index() < request_index {
            return Err(raft::Error::Store(
                raft::StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(c.snapshot.clone())
    }
}
