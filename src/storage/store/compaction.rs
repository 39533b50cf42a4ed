//! Compaction: dropping the whole segments a durable snapshot has made
//! obsolete, and every snapshot file but the current one.
//!
//! Promise (ordering rule 4 of [`crate::storage`]): nothing is removed
//! before the record that makes it obsolete is durable, and segments go
//! oldest first, so a crash part-way leaves a contiguous run. Entries are
//! only ever dropped once a durable snapshot covers them. A failed remove,
//! listing or directory fsync poisons the store like any failed write
//! (rule 5).

use super::handle::read;
use super::segment::parse_numbered;
use super::DurableStore;
use crate::storage::error::{Result, StorageError};

impl DurableStore {
    /// Drops every whole segment below the latest snapshot. `index` is the
    /// raft compaction point and must not pass the snapshot (entries are
    /// only ever dropped once a durable snapshot covers them).
    pub fn compact(&mut self, index: u64) -> Result<()> {
        self.check_writable()?;
        let s = read(&self.core).snap_index();
        if index > s + 1 {
            return Err(StorageError::Misuse(format!(
                "compaction to index {index} passes the snapshot at {s}; create a snapshot first"
            )));
        }
        self.remove_obsolete(s)
    }

    /// Removes the segments before the newest one that started at or below
    /// the snapshot index `s`, and every snapshot file but `s`'s. A failure
    /// poisons the store (rule 5): whether a remove reached the disk is
    /// unknown, and a failed directory fsync may have lost earlier ones.
    pub(super) fn remove_obsolete(&mut self, s: u64) -> Result<()> {
        match self.try_remove_obsolete(s) {
            Ok(()) => Ok(()),
            Err(e) => self.poison(e),
        }
    }

    fn try_remove_obsolete(&mut self, s: u64) -> Result<()> {
        let keep_seq = self
            .segments
            .iter()
            .rev()
            .find(|seg| seg.start_last <= s)
            .map(|seg| seg.seq);
        let mut removed = false;
        if let Some(keep_seq) = keep_seq {
            // Oldest first, so a crash part-way leaves a contiguous run.
            while let Some(seg) = self.segments.first().filter(|f| f.seq < keep_seq) {
                let path = seg.path.clone();
                self.disk
                    .remove_file(&path)
                    .map_err(StorageError::io("remove", &path))?;
                self.segments.remove(0);
                removed = true;
            }
        }
        let names = self
            .disk
            .list_dir(&self.dir)
            .map_err(StorageError::io("list", &self.dir))?;
        for name in names {
            if let Some(idx) = parse_numbered(&name, "snap-", ".snap") {
                if idx != s {
                    let p = self.dir.join(&name);
                    self.disk
                        .remove_file(&p)
                        .map_err(StorageError::io("remove", &p))?;
                    removed = true;
                }
            }
        }
        if removed {
            self.disk
                .sync_dir(&self.dir)
                .map_err(StorageError::io("fsync directory", &self.dir))?;
        }
        Ok(())
    }
}
