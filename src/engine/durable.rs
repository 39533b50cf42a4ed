//! The engine's view of the durable store: [`ReplicaStore`] for
//! [`DurableStore`], and the handle raft-rs reads through.
//!
//! One rule lives here: raft-rs is started with `applied` = the latest
//! snapshot's index and replays every committed entry above it, so the
//! configuration it starts from must be the snapshot's, not the latest one
//! the log recorded (that one already includes changes raft is about to
//! replay). [`SnapshotConfHandle`] answers `initial_state` accordingly.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage};

use super::ReplicaStore;
use crate::storage::{DurableStore, StorageError, StoreHandle};

/// A [`StoreHandle`] whose initial configuration is the latest snapshot's.
#[derive(Debug, Clone)]
pub struct SnapshotConfHandle {
    inner: StoreHandle,
}

impl Storage for SnapshotConfHandle {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let state = self.inner.initial_state()?;
        let conf = match self.inner.snapshot(0, 0) {
            Ok(snap) if snap.get_metadata().index > 0 => {
                snap.get_metadata().get_conf_state().clone()
            }
            // No snapshot yet (a joining member): nothing to replay from.
            Ok(_) | Err(raft::Error::Store(raft::StorageError::SnapshotTemporarilyUnavailable)) => {
                state.conf_state
            }
            Err(e) => return Err(e),
        };
        Ok(RaftState::new(state.hard_state, conf))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.inner.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.inner.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.inner.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.inner.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        self.inner.snapshot(request_index, to)
    }
}

impl ReplicaStore for DurableStore {
    type Handle = SnapshotConfHandle;
    type Error = StorageError;

    fn raft_handle(&self) -> SnapshotConfHandle {
        SnapshotConfHandle {
            inner: self.handle(),
        }
    }

    fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        DurableStore::append(self, entries)
    }

    fn set_hard_state(&mut self, hs: &HardState) -> Result<(), StorageError> {
        DurableStore::set_hard_state(self, hs)
    }

    fn hard_state(&self) -> HardState {
        DurableStore::hard_state(self)
    }

    fn set_conf_state(&mut self, cs: &ConfState) -> Result<(), StorageError> {
        DurableStore::set_conf_state(self, cs)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        DurableStore::sync(self).map(|_| ())
    }

    fn install_snapshot(&mut self, snap: &Snapshot) -> Result<(), StorageError> {
        DurableStore::apply_snapshot(self, snap.clone())
    }

    fn create_snapshot(
        &mut self,
        meta: SnapshotMetadata,
        data: Vec<u8>,
    ) -> Result<(), StorageError> {
        let cs = meta.get_conf_state().clone();
        DurableStore::create_snapshot(self, meta.index, meta.term, cs, data)
    }

    fn latest_snapshot(&self) -> Snapshot {
        DurableStore::snapshot(self)
    }
}
