//! Snapshot files: their name, reading the one the log refers to at open,
//! sorting out the others (older ones removed, unrecorded newer ones
//! ignored), and the two ways a snapshot enters the store: installing one
//! from the leader ([`DurableStore::apply_snapshot`]) and recording one of
//! the local state machine ([`DurableStore::create_snapshot`]).
//!
//! Promise (ordering rule 3 of [`crate::storage`]): a snapshot file is
//! durable under its final name before the log records it, and that record
//! is synced before the snapshot is reported installed; a snapshot file the
//! log never recorded is ignored at open.

use std::path::Path;

use bytes::Bytes;
use raft::eraftpb::{ConfState, Snapshot};

use super::handle::{read, write};
use super::report::RecoveryReport;
use super::DurableStore;
use crate::storage::disk::Disk;
use crate::storage::error::{Result, StorageError};
use crate::storage::record::{self, SegmentHead, SnapshotFile};

/// The name of the snapshot file at `index`.
pub fn snapshot_name(index: u64) -> String {
    format!("snap-{index:020}.snap")
}

/// Reads, at open, the snapshot file the log refers to (index `s`, term
/// `t`); an unreadable or undecodable file, or one that holds another
/// snapshot, is an error.
pub(super) fn read_snapshot_file(disk: &dyn Disk, dir: &Path, s: u64, t: u64) -> Result<Snapshot> {
    let path = dir.join(snapshot_name(s));
    let bytes = disk.read_file(&path).map_err(|e| StorageError::Snapshot {
        path: path.clone(),
        offset: 0,
        detail: format!("the log refers to it but it cannot be read: {e}"),
    })?;
    let file =
        record::decode_snapshot_file(bytes).map_err(|(offset, detail)| StorageError::Snapshot {
            path: path.clone(),
            offset: offset as u64,
            detail,
        })?;
    if (file.index, file.term) != (s, t) {
        return Err(StorageError::Snapshot {
            path,
            offset: 0,
            detail: format!(
                "it holds index {} term {} but the log refers to index {s} term {t}",
                file.index, file.term
            ),
        });
    }
    Ok(to_snapshot(file))
}

/// Sorts out, at open, the snapshot files present (`snaps`) against the
/// one the log refers to (`current`): older ones are removed (read-only:
/// listed as `would_remove`), newer ones (or all, when the log refers to
/// none) are ignored. Both are reported.
pub(super) fn sweep_snapshots(
    disk: &dyn Disk,
    dir: &Path,
    ro: bool,
    snaps: Vec<u64>,
    current: Option<u64>,
    report: &mut RecoveryReport,
) -> Result<()> {
    for idx in snaps {
        let p = dir.join(snapshot_name(idx));
        match current {
            Some(c) if idx == c => {}
            Some(c) if idx < c => {
                if ro {
                    report.would_remove.push(p);
                } else {
                    disk.remove_file(&p)
                        .map_err(StorageError::io("remove", &p))?;
                    report.removed.push(p);
                }
            }
            _ => {
                tracing::warn!(path = %p.display(), "ignoring a snapshot the log never recorded (an interrupted snapshot operation)");
                report.ignored_snapshots.push(p);
            }
        }
    }
    Ok(())
}

impl DurableStore {
    fn write_snapshot_file(
        &self,
        index: u64,
        term: u64,
        cs: &ConfState,
        data: &[u8],
    ) -> Result<()> {
        let bytes = record::encode_snapshot_file(index, term, cs, data);
        self.replace_durably(&snapshot_name(index), &bytes)
    }

    /// Installs a snapshot received from the leader: it replaces the whole
    /// log. Durable before it returns. Staged records are synced first.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        self.check_writable()?;
        let meta = snapshot.get_metadata();
        let (index, term) = (meta.index, meta.term);
        {
            let c = read(&self.core);
            if c.has_snapshot && index <= c.snap_index() {
                return Err(StorageError::SnapshotOutOfDate {
                    index,
                    current: c.snap_index(),
                });
            }
        }
        let cs = meta.get_conf_state().clone();
        self.install(index, term, cs, snapshot.data)
    }

    pub(super) fn install(
        &mut self,
        index: u64,
        term: u64,
        cs: ConfState,
        data: Bytes,
    ) -> Result<()> {
        self.sync()?;
        let mut hs = self.hard_state();
        if term > hs.term {
            // A vote belongs to its term: none is cast in the new one yet.
            hs.term = term;
            hs.vote = 0;
        }
        hs.commit = hs.commit.max(index);
        // 1. The snapshot file, durable under its final name. Until the log
        //    records it (step 2) recovery ignores it.
        if let Err(e) = self.write_snapshot_file(index, term, &cs, &data) {
            return self.poison(e);
        }
        // 2. A new segment whose head resets the log to the snapshot.
        let head = SegmentHead {
            seq: self.next_seq(),
            last_index: index,
            snapshot: Some((index, term)),
            reset: true,
            hard_state: hs.clone(),
            conf_state: cs.clone(),
        };
        if let Err(e) = self.start_segment(head, &[]) {
            return self.poison(e);
        }
        {
            let mut c = write(&self.core);
            c.entries.clear();
            c.snapshot = make_snapshot(index, term, cs.clone(), data);
            c.has_snapshot = true;
            c.hard_state = hs.clone();
            c.conf_state = cs.clone();
        }
        self.durable_last = index;
        self.durable_hs = hs;
        self.durable_cs = cs;
        // 3. Drop what the snapshot replaced.
        self.remove_obsolete(index)
    }

    /// Records a snapshot of the local state machine at `index` (committed,
    /// held, with term `term`): writes the snapshot file, records it in the
    /// log, drops the entries up to `index` from memory and every whole
    /// segment that only holds entries at or below it. Durable before it
    /// returns. Staged records are synced first.
    pub fn create_snapshot(
        &mut self,
        index: u64,
        term: u64,
        conf_state: ConfState,
        data: Vec<u8>,
    ) -> Result<()> {
        self.check_writable()?;
        {
            let c = read(&self.core);
            if c.has_snapshot && index <= c.snap_index() {
                return Err(StorageError::SnapshotOutOfDate {
                    index,
                    current: c.snap_index(),
                });
            }
            if index > c.hard_state.commit {
                return Err(StorageError::Misuse(format!(
                    "snapshot at index {index} above the commit index {}",
                    c.hard_state.commit
                )));
            }
            match c.term(index) {
                Some(t) if t == term => {}
                Some(t) => {
                    return Err(StorageError::Misuse(format!(
                        "snapshot at index {index} with term {term}, but the entry's term is {t}"
                    )))
                }
                None => {
                    return Err(StorageError::Misuse(format!(
                        "snapshot at index {index}, which the log does not hold"
                    )))
                }
            }
        }
        self.sync()?;
        if let Err(e) = self.write_snapshot_file(index, term, &conf_state, &data) {
            return self.poison(e);
        }
        record::frame_snapshot_mark(&mut self.pending, index, term);
        self.sync()?;
        {
            let mut c = write(&self.core);
            let n = (index - c.snap_index()) as usize;
            c.entries.drain(..n);
            c.snapshot = make_snapshot(index, term, conf_state, Bytes::from(data));
            c.has_snapshot = true;
        }
        self.remove_obsolete(index)
    }
}

fn make_snapshot(index: u64, term: u64, cs: ConfState, data: Bytes) -> Snapshot {
    let mut snap = Snapshot::default();
    snap.data = data;
    let meta = snap.mut_metadata();
    meta.index = index;
    meta.term = term;
    meta.set_conf_state(cs);
    snap
}

fn to_snapshot(f: SnapshotFile) -> Snapshot {
    make_snapshot(f.index, f.term, f.conf_state, f.data)
}
