//! `synod bench storage`: entries per second through [`DurableStore`] for
//! batches of small entries, next to the raw `fdatasync` floor measured on
//! the same file system in the same run. Figures go in
//! `docs/performance.md`.

// raft's protobuf messages are built field by field, as the storage and
// engine rooms do.
#![allow(clippy::field_reassign_with_default)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use raft::eraftpb::{Entry, HardState};

use synod::storage::disk::{Disk, RealDisk};
use synod::storage::store::{DurableStore, StoreOptions};
use synod::storage::{Result, StorageError};

/// The size of each benchmark entry's data.
pub const ENTRY_BYTES: usize = 64;

/// One batch size's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    /// Entries per sync.
    pub batch: usize,
    /// Syncs done.
    pub syncs: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl BatchResult {
    /// Entries made durable per second.
    pub fn entries_per_sec(&self) -> f64 {
        (self.syncs * self.batch as u64) as f64 / self.seconds
    }

    /// Syncs per second.
    pub fn syncs_per_sec(&self) -> f64 {
        self.syncs as f64 / self.seconds
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// The directory the run wrote in.
    pub dir: PathBuf,
    /// Raw `write` + `fdatasync` of one small record, per second, measured
    /// before the batches.
    pub fdatasync_per_sec: f64,
    /// The same, measured again after the batches (shared disks drift).
    pub fdatasync_after_per_sec: f64,
    /// One result per batch size.
    pub batches: Vec<BatchResult>,
    /// Reopening a store holding this many entries took this many seconds
    /// (if measured).
    pub recovery: Option<(u64, f64)>,
}

/// Runs the benchmark in a fresh subdirectory of `parent` (removed after),
/// spending about `per_case` on the fsync floor and on each batch size.
/// With `recovery_entries > 0`, also writes that many entries and times a
/// reopen.
pub fn bench_storage(
    parent: &Path,
    batches: &[usize],
    per_case: Duration,
    recovery_entries: u64,
) -> Result<BenchReport> {
    let dir = parent.join(format!("synod-bench-{}", std::process::id()));
    let res = run(&dir, batches, per_case).and_then(|mut r| {
        if recovery_entries > 0 {
            r.recovery = Some((
                recovery_entries,
                recovery(&dir.join("recovery"), recovery_entries)?,
            ));
        }
        Ok(r)
    });
    let _ = std::fs::remove_dir_all(&dir);
    res
}

fn run(dir: &Path, batches: &[usize], per_case: Duration) -> Result<BenchReport> {
    let disk = RealDisk;
    disk.create_dir_all(dir)
        .map_err(StorageError::io("create directory", dir))?;

    // The floor: what one durable small append costs on this disk.
    let fdatasync_per_sec = floor(&disk, &dir.join("fdatasync-floor"), per_case)?;
    let mut results = Vec::new();
    for &batch in batches {
        let case = dir.join(format!("batch-{batch}"));
        let (mut store, _) = DurableStore::open_dir(&case, StoreOptions::default())?;
        let data = Bytes::from(vec![0xa5u8; ENTRY_BYTES]);
        let mut hs = HardState::default();
        hs.term = 1;
        hs.vote = 1;
        let mut next = 1u64;
        let mut syncs = 0u64;
        let mut ents = Vec::with_capacity(batch);
        let start = Instant::now();
        while start.elapsed() < per_case || syncs < 10 {
            ents.clear();
            for _ in 0..batch {
                let mut e = Entry::default();
                e.index = next;
                e.term = 1;
                e.data = data.clone();
                ents.push(e);
                next += 1;
            }
            store.append(&ents)?;
            hs.commit = next - 1;
            store.set_hard_state(&hs)?;
            store.sync()?;
            syncs += 1;
        }
        results.push(BatchResult {
            batch,
            syncs,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let fdatasync_after_per_sec = floor(&disk, &dir.join("fdatasync-floor-2"), per_case)?;
    Ok(BenchReport {
        dir: dir.to_path_buf(),
        fdatasync_per_sec,
        fdatasync_after_per_sec,
        batches: results,
        recovery: None,
    })
}

fn floor(disk: &RealDisk, path: &Path, per_case: Duration) -> Result<f64> {
    let mut f = disk
        .create_file(path)
        .map_err(StorageError::io("create", path))?;
    let record = [0x5au8; ENTRY_BYTES + 30];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < per_case || n < 10 {
        f.write_all(&record)
            .map_err(StorageError::io("write", path))?;
        f.sync_data().map_err(StorageError::io("fsync", path))?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn recovery(dir: &Path, n: u64) -> Result<f64> {
    let (mut store, _) = DurableStore::open_dir(dir, StoreOptions::default())?;
    let data = Bytes::from(vec![0xa5u8; ENTRY_BYTES]);
    let mut next = 1u64;
    let mut ents = Vec::with_capacity(4096);
    while next <= n {
        ents.clear();
        while ents.len() < 4096 && next <= n {
            let mut e = Entry::default();
            e.index = next;
            e.term = 1;
            e.data = data.clone();
            ents.push(e);
            next += 1;
        }
        store.append(&ents)?;
        let mut hs = HardState::default();
        hs.term = 1;
        hs.commit = next - 1;
        store.set_hard_state(&hs)?;
        store.sync()?;
    }
    drop(store);
    let start = Instant::now();
    let (store, _) = DurableStore::open_dir(dir, StoreOptions::default())?;
    let secs = start.elapsed().as_secs_f64();
    if store.last_index() != n {
        return Err(StorageError::Misuse(format!(
            "recovered {} entries, wrote {n}",
            store.last_index()
        )));
    }
    Ok(secs)
}
