//! Snapshots of a [`Replica`]: installing one the leader sent (the catalog
//! it carries replaces this replica's), taking one of the applied catalog
//! when due (which compacts the log below it), reporting a snapshot
//! message's fate to raft, and the snapshot counters.

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

use raft::eraftpb::{Snapshot, SnapshotMetadata};
use raft::{SnapshotStatus, StateRole};

use super::{Applied, Completion, Replica};
use crate::catalog::Catalog;
use crate::engine::{EngineError, ReplicaStore};
use crate::entry::{Index, Term};

/// Whether `s` is no snapshot at all (index 0).
pub(super) fn is_empty_snapshot(s: &Snapshot) -> bool {
    s.get_metadata().index == 0
}

impl<S: ReplicaStore> Replica<S> {
    /// Installs a snapshot from the leader: durable before anything uses it.
    pub(super) fn install_snapshot(
        &mut self,
        snap: Snapshot,
        done: &mut Vec<Completion>,
    ) -> Result<(), EngineError> {
        let meta = snap.get_metadata();
        let (index, term) = (meta.index, meta.term);
        let catalog = match self.incoming_snapshot.take() {
            Some((at, c)) if at == (term, index) => c,
            _ => Catalog::decode_snapshot(&snap.data).map_err(|e| {
                EngineError::Storage(format!("snapshot at {index} does not decode: {e}"))
            })?,
        };
        self.store
            .install_snapshot(&snap)
            .map_err(|e| EngineError::Storage(e.to_string()))?;
        self.conf_state = meta.get_conf_state().clone();
        self.snapshots_installed += 1;
        self.last_snapshot_bytes = snap.data.len() as u64;
        self.catalog = catalog;
        // Test seam: a mutant may turn off the new catalog's epoch check.
        self.test_seam.configure(&mut self.catalog);
        self.last_snapshot_index = index;
        self.fail_proposals_covered(index, done);
        if let Some(r) = &mut self.record {
            r.push(Applied::Snapshot {
                index: Index(index),
                term: Term(term),
            });
        }
        self.check_removed();
        Ok(())
    }

    /// Takes a snapshot of the applied catalog when one is due, which lets
    /// the store compact the log below it.
    pub(super) fn maybe_snapshot(&mut self) -> Result<(), EngineError> {
        let (applied, term) = self.catalog.applied();
        if applied.0 <= self.last_snapshot_index {
            return Ok(());
        }
        // A leader whose configuration gained a member since its latest
        // snapshot takes a new one: raft refuses to restore a snapshot that
        // does not name the receiving member, so a newcomer could otherwise
        // wait for the next periodic snapshot.
        let newcomer = self.raw.raft.state == StateRole::Leader && {
            let snap = self.store.latest_snapshot();
            let known = snap.get_metadata().get_conf_state();
            let cs = &self.conf_state;
            cs.voters
                .iter()
                .chain(cs.learners.iter())
                .any(|p| !known.voters.contains(p) && !known.learners.contains(p))
        };
        if !newcomer && applied.0 < self.last_snapshot_index + self.cfg.snapshot_every {
            return Ok(());
        }
        let data = self.catalog.encode_snapshot();
        self.snapshots_created += 1;
        self.last_snapshot_bytes = data.len() as u64;
        let mut meta = SnapshotMetadata::default();
        meta.index = applied.0;
        meta.term = term.0;
        meta.set_conf_state(self.conf_state.clone());
        self.store
            .create_snapshot(meta, data)
            .map_err(|e| EngineError::Storage(e.to_string()))?;
        self.last_snapshot_index = applied.0;
        Ok(())
    }

    /// Tells raft that a snapshot message to `peer_id` arrived or was lost.
    pub fn report_snapshot(&mut self, peer_id: u64, delivered: bool) {
        let status = if delivered {
            SnapshotStatus::Finish
        } else {
            SnapshotStatus::Failure
        };
        self.raw.report_snapshot(peer_id, status);
    }

    /// Snapshots taken, snapshots installed, and the size of the latest.
    pub fn snapshot_counters(&self) -> (u64, u64, u64) {
        (
            self.snapshots_created,
            self.snapshots_installed,
            self.last_snapshot_bytes,
        )
    }
}
