//! [`DurableStore`] (the writer the engine drives) and [`StoreHandle`] (the
//! cheap clone that implements [`raft::Storage`] for `RawNode`).
//!
//! This file is the store's public face: [`StoreOptions`], the
//! [`DurableStore`] type, bootstrap, the read accessors, staging (`append`,
//! `set_hard_state`, `set_conf_state`) and the group-commit
//! [`DurableStore::sync`], with the poisoning that follows a failed write.
//! The rest lives beside it:
//! * `handle.rs`: the in-memory log and [`StoreHandle`];
//! * `segment.rs`: segment files and the `CURRENT` manifest;
//! * `recovery.rs`: opening, replay, torn tails, [`RecoveryReport`];
//! * `snapshot.rs`: snapshot files, installing and creating snapshots;
//! * `compaction.rs`: removing obsolete segments and snapshot files;
//! * `seam.rs`: the crate-private test seam the simulator's
//!   `torn-tail-repair` mutant sets.

mod compaction;
mod handle;
mod recovery;
mod report;
mod seam;
mod segment;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

use super::disk::{DirLock, Disk, DiskFile};
use super::error::{Result, StorageError};
use super::record;
use super::{GENESIS_INDEX, GENESIS_TERM};
use crate::catalog::{Catalog, InitialMember};
use crate::entry::{Index, Term};
use handle::{read, write, Core};
use segment::Segment;

pub(crate) use seam::StoreSeam;

pub use handle::StoreHandle;
pub use report::{RecoveryReport, TornTail};
pub use segment::{segment_name, CURRENT_FILE};
pub use snapshot::snapshot_name;

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// A segment that has reached this many bytes is closed at the next
    /// sync and a new one started.
    pub segment_bytes: u64,
    /// Open without the lock and without repairing anything (for
    /// `synod inspect`): a torn tail is reported, not truncated; every write
    /// answers [`StorageError::ReadOnly`].
    pub read_only: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            read_only: false,
        }
    }
}

/// The durable raft log of one node. See the module docs for the layout
/// and the ordering rules.
#[derive(Debug)]
pub struct DurableStore {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    options: StoreOptions,
    core: Arc<RwLock<Core>>,
    segments: Vec<Segment>,
    active: Option<Box<dyn DiskFile>>,
    active_len: u64,
    /// Framed records staged since the last sync.
    pending: Vec<u8>,
    durable_last: u64,
    durable_hs: HardState,
    durable_cs: ConfState,
    poisoned: Option<String>,
    _lock: Option<Box<dyn DirLock>>,
}

impl DurableStore {
    /// Opens `dir` and, if it holds no log yet, writes the genesis
    /// snapshot: the bootstrap catalog of `initial` at [`GENESIS_INDEX`],
    /// [`GENESIS_TERM`] (hard state: that term, no vote, committed up to
    /// that index), with every initial member a voter (peer ids as the
    /// catalog assigns them: 1, 2, ... in identity order). Refused on a
    /// directory that already holds a log.
    pub fn bootstrap(
        disk: Arc<dyn Disk>,
        dir: &Path,
        options: StoreOptions,
        initial: &[InitialMember],
    ) -> Result<(Self, RecoveryReport)> {
        let mut catalog = Catalog::bootstrap(initial)?;
        catalog.skip(Index(GENESIS_INDEX), Term(GENESIS_TERM))?;
        let (mut store, report) = Self::open(disk, dir, options)?;
        if store.is_initialized() {
            return Err(StorageError::AlreadyInitialized {
                dir: dir.to_path_buf(),
            });
        }
        let mut cs = ConfState::default();
        cs.voters = catalog.members().map(|m| m.peer_id).collect();
        cs.voters.sort_unstable();
        store.install(
            GENESIS_INDEX,
            GENESIS_TERM,
            cs,
            Bytes::from(catalog.encode_snapshot()),
        )?;
        Ok((store, report))
    }

    /// Whether the store holds anything: a snapshot, an entry, a hard state
    /// or a conf state.
    pub fn is_initialized(&self) -> bool {
        let c = read(&self.core);
        c.has_snapshot
            || !c.entries.is_empty()
            || c.hard_state != HardState::default()
            || c.conf_state != ConfState::default()
    }

    /// Whether the store holds a snapshot (the genesis one counts).
    pub fn has_snapshot(&self) -> bool {
        read(&self.core).has_snapshot
    }

    /// A handle for `RawNode` (implements [`raft::Storage`]).
    pub fn handle(&self) -> StoreHandle {
        StoreHandle {
            core: Arc::clone(&self.core),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hard state (staged).
    pub fn hard_state(&self) -> HardState {
        read(&self.core).hard_state.clone()
    }

    /// The conf state (staged).
    pub fn conf_state(&self) -> ConfState {
        read(&self.core).conf_state.clone()
    }

    /// The first index held.
    pub fn first_index(&self) -> u64 {
        read(&self.core).first_index()
    }

    /// The last index held (staged).
    pub fn last_index(&self) -> u64 {
        read(&self.core).last_index()
    }

    /// The last index made durable by the last successful sync.
    pub fn durable_last_index(&self) -> u64 {
        self.durable_last
    }

    /// Whether records are staged and not yet synced.
    pub fn has_unsynced(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The latest snapshot (index 0 and no data if none).
    pub fn snapshot(&self) -> Snapshot {
        read(&self.core).snapshot.clone()
    }

    /// The term of the entry at `idx`, if held (or the snapshot's term at
    /// its index).
    pub fn term(&self, idx: u64) -> Option<u64> {
        read(&self.core).term(idx)
    }

    /// The entries in `[low, high)` that are held.
    pub fn entries(&self, low: u64, high: u64) -> Vec<Entry> {
        self.handle().held_entries(low, high)
    }

    /// The catalog as of the hard state's commit index: the latest
    /// snapshot's catalog with the committed entries above it applied.
    pub fn recover_catalog(&self) -> Result<Catalog> {
        let c = read(&self.core);
        if !c.has_snapshot {
            return Err(StorageError::NotBootstrapped {
                dir: self.dir.clone(),
            });
        }
        let commit = c.hard_state.commit.min(c.last_index());
        let first = c.first_index();
        let upto = commit.saturating_sub(first - 1) as usize;
        super::replay::replay_catalog(&c.snapshot, &c.entries[..upto.min(c.entries.len())])
    }

    fn check_writable(&self) -> Result<()> {
        if self.options.read_only {
            return Err(StorageError::ReadOnly);
        }
        if let Some(why) = &self.poisoned {
            return Err(StorageError::Poisoned(why.clone()));
        }
        Ok(())
    }

    fn poison<T>(&mut self, e: StorageError) -> Result<T> {
        tracing::error!(error = %e, "storage write failed; the store must be reopened");
        self.poisoned = Some(e.to_string());
        Err(e)
    }

    /// Stages `entries` (contiguous indexes): every held entry at or after
    /// the first new index is replaced, as `MemStorage::append` does. Not
    /// durable until [`DurableStore::sync`].
    pub fn append(&mut self, entries: &[Entry]) -> Result<()> {
        self.check_writable()?;
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let (first_index, last_index) = {
            let c = read(&self.core);
            (c.first_index(), c.last_index())
        };
        if first.index < first_index {
            return Err(StorageError::Misuse(format!(
                "append at index {} below the first index {first_index} (compacted)",
                first.index
            )));
        }
        if first.index > last_index + 1 {
            return Err(StorageError::Misuse(format!(
                "append at index {} leaves a gap after the last index {last_index}",
                first.index
            )));
        }
        for (k, e) in entries.iter().enumerate() {
            if e.index != first.index + k as u64 {
                return Err(StorageError::Misuse(format!(
                    "appended entries are not contiguous: index {} follows {}",
                    e.index,
                    first.index + k as u64 - 1
                )));
            }
            if record::entry_payload_len(e) > record::MAX_RECORD {
                return Err(StorageError::Misuse(format!(
                    "entry {} is larger than the record limit of {} bytes",
                    e.index,
                    record::MAX_RECORD
                )));
            }
        }
        for e in entries {
            record::frame_entry(&mut self.pending, e);
        }
        let mut c = write(&self.core);
        c.truncate_from(first.index);
        c.entries.extend_from_slice(entries);
        Ok(())
    }

    /// Stages a new hard state. Refused if it would move backwards: a lower
    /// term, another vote in the same term, or a lower commit index.
    pub fn set_hard_state(&mut self, hs: &HardState) -> Result<()> {
        self.check_writable()?;
        let cur = self.hard_state();
        if *hs == cur {
            return Ok(());
        }
        if hs.term < cur.term {
            return Err(StorageError::Misuse(format!(
                "hard state term would go back from {} to {}",
                cur.term, hs.term
            )));
        }
        if hs.term == cur.term && cur.vote != 0 && hs.vote != cur.vote {
            return Err(StorageError::Misuse(format!(
                "a second vote in term {}: {} after {}",
                hs.term, hs.vote, cur.vote
            )));
        }
        if hs.commit < cur.commit {
            return Err(StorageError::Misuse(format!(
                "commit index would go back from {} to {}",
                cur.commit, hs.commit
            )));
        }
        record::frame_hard_state(&mut self.pending, hs);
        write(&self.core).hard_state = hs.clone();
        Ok(())
    }

    /// Stages a new conf state.
    pub fn set_conf_state(&mut self, cs: &ConfState) -> Result<()> {
        self.check_writable()?;
        let mut c = write(&self.core);
        if c.conf_state == *cs {
            return Ok(());
        }
        record::frame_conf_state(&mut self.pending, cs);
        c.conf_state = cs.clone();
        Ok(())
    }

    /// Group commit: makes every staged entry, hard state and conf state
    /// durable with one write and one `fdatasync` (plus a directory fsync
    /// when a new segment is started). Only after it returns may the driver
    /// send raft's persisted messages (including vote grants). Returns the
    /// durable last index. A failure poisons the store.
    pub fn sync(&mut self) -> Result<u64> {
        self.check_writable()?;
        if self.pending.is_empty() {
            return Ok(self.durable_last);
        }
        let pending = std::mem::take(&mut self.pending);
        let rotate = self.active.is_none() || self.active_len >= self.options.segment_bytes;
        let res = if rotate {
            let head = self.head(self.next_seq());
            self.start_segment(head, &pending)
        } else {
            self.write_active(&pending)
        };
        if let Err(e) = res {
            return self.poison(e);
        }
        let c = read(&self.core);
        self.durable_last = c.last_index();
        self.durable_hs = c.hard_state.clone();
        self.durable_cs = c.conf_state.clone();
        drop(c);
        Ok(self.durable_last)
    }

    /// The segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }
}
