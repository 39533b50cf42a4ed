//! [`DurableStore`] (the writer the engine drives) and [`StoreHandle`] (the
//! cheap clone that implements [`raft::Storage`] for `RawNode`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState};

use super::disk::{DirLock, Disk, DiskFile, RealDisk};
use super::error::{Result, StorageError};
use super::record::{self, Frame, Record, SegmentHead, SnapshotFile};
use super::{GENESIS_INDEX, GENESIS_TERM};
use crate::catalog::{Catalog, InitialMember};
use crate::entry::{Index, Term};

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

/// A torn final record found (and, unless read-only, cut off) at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The final segment.
    pub path: PathBuf,
    /// Where the torn record starts (the file's new length).
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The segment files replayed, oldest first.
    pub segments: Vec<PathBuf>,
    /// Records replayed.
    pub records: u64,
    /// The torn final record, if any.
    pub torn_tail: Option<TornTail>,
    /// Leftovers removed: temporary files, superseded snapshots, a final
    /// segment torn inside its head.
    pub removed: Vec<PathBuf>,
    /// Snapshot files newer than the one the log refers to: written by a
    /// snapshot operation that crashed before the log recorded it. They are
    /// ignored, and deleted by the next snapshot operation.
    pub ignored_snapshots: Vec<PathBuf>,
}

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

    fn truncate_from(&mut self, idx: u64) {
        let keep = idx.saturating_sub(self.first_index());
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        self.entries.truncate(keep);
    }
}

/// A cheap, cloneable, read-only view of a [`DurableStore`], implementing
/// [`raft::Storage`]. It sees what the store has staged (as
/// `MemStorage` does); raft only reads it from the Ready loop, after the
/// driver has synced.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    core: Arc<RwLock<Core>>,
}

fn read(core: &RwLock<Core>) -> RwLockReadGuard<'_, Core> {
    // Core is only mutated by short sequences that cannot panic halfway in
    // a way that breaks its invariants, so a poisoned lock is still usable.
    core.read().unwrap_or_else(|p| p.into_inner())
}

fn write(core: &RwLock<Core>) -> RwLockWriteGuard<'_, Core> {
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

#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    /// The log's last index when the segment was started.
    start_last: u64,
}

/// The manifest naming the newest segment.
pub const CURRENT_FILE: &str = "CURRENT";

/// The name of segment `seq`.
pub fn segment_name(seq: u64) -> String {
    format!("log-{seq:020}.seg")
}

/// The name of the snapshot file at `index`.
pub fn snapshot_name(index: u64) -> String {
    format!("snap-{index:020}.snap")
}

fn parse_numbered(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
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

/// Replay state while reading the segments.
struct Replay {
    floor: u64,
    last: u64,
    entries: Vec<Entry>,
    mark: Option<(u64, u64)>,
    hs: HardState,
    cs: ConfState,
    started: bool,
}

impl Replay {
    fn apply(&mut self, rec: Record, path: &Path, offset: u64) -> Result<()> {
        let corrupt = |detail: String| StorageError::Corrupt {
            path: path.to_path_buf(),
            offset,
            detail,
        };
        match rec {
            Record::Head(h) => {
                if !self.started || h.reset {
                    self.started = true;
                    self.floor = h.last_index;
                    self.last = h.last_index;
                    self.entries.clear();
                    self.mark = h.snapshot;
                    if h.reset && h.snapshot.map(|s| s.0) != Some(h.last_index) {
                        return Err(corrupt(
                            "a reset segment head does not match its snapshot".into(),
                        ));
                    }
                } else if h.last_index != self.last {
                    return Err(StorageError::MissingSegment {
                        path: path.to_path_buf(),
                        detail: format!(
                            "its head says the log ended at index {} but the segments before it end at {}",
                            h.last_index, self.last
                        ),
                    });
                }
                self.hs = h.hard_state;
                self.cs = h.conf_state;
            }
            Record::Entry(e) => {
                let i = e.index;
                if i <= self.floor {
                    // An overwrite of indexes the final snapshot covers: it
                    // truncated everything after it, and the entries up to
                    // the floor come from the snapshot.
                    self.entries.clear();
                    self.last = self.floor;
                } else {
                    if i > self.last + 1 {
                        return Err(StorageError::IndexGap {
                            path: path.to_path_buf(),
                            offset,
                            expected: self.last + 1,
                            found: i,
                        });
                    }
                    self.entries.truncate((i - self.floor - 1) as usize);
                    self.entries.push(e);
                    self.last = i;
                }
            }
            Record::HardState(hs) => self.hs = hs,
            Record::ConfState(cs) => self.cs = cs,
            Record::SnapshotMark { index, term } => {
                if index > self.last {
                    return Err(corrupt(format!(
                        "snapshot mark at index {index} beyond the last index {}",
                        self.last
                    )));
                }
                if index > self.floor {
                    let n = (index - self.floor) as usize;
                    if let Some(e) = self.entries.get(n - 1) {
                        if e.term != term {
                            return Err(corrupt(format!(
                                "snapshot mark ({index}, term {term}) disagrees with the entry's term {}",
                                e.term
                            )));
                        }
                    }
                    self.entries.drain(..n);
                    self.floor = index;
                }
                self.mark = Some((index, term));
            }
        }
        Ok(())
    }
}

fn declared_end(rest: &[u8]) -> Option<usize> {
    if rest.len() < record::HEADER_LEN {
        return None;
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    Some(record::HEADER_LEN + len)
}

impl DurableStore {
    /// Opens (creating if needed) the store in `dir` on the real file
    /// system.
    pub fn open_dir(dir: &Path, options: StoreOptions) -> Result<(Self, RecoveryReport)> {
        Self::open(Arc::new(RealDisk), dir, options)
    }

    /// Opens the store in `dir`, creating an empty one (first index 1, last
    /// index 0) if the directory holds none, and recovers it: replays the
    /// segments, cuts a torn final record, and refuses any other damage
    /// with an error naming the file and offset.
    pub fn open(
        disk: Arc<dyn Disk>,
        dir: &Path,
        options: StoreOptions,
    ) -> Result<(Self, RecoveryReport)> {
        let ro = options.read_only;
        let lock = if ro {
            if !disk
                .dir_exists(dir)
                .map_err(StorageError::io("stat", dir))?
            {
                return Err(StorageError::Io {
                    op: "open",
                    path: dir.to_path_buf(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
                });
            }
            None
        } else {
            disk.create_dir_all(dir)
                .map_err(StorageError::io("create directory", dir))?;
            match disk.lock_dir(dir) {
                Ok(l) => Some(l),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(StorageError::Locked {
                        path: dir.to_path_buf(),
                    })
                }
                Err(e) => return Err(StorageError::io("lock", dir)(e)),
            }
        };
        let mut report = RecoveryReport::default();
        let names = disk.list_dir(dir).map_err(StorageError::io("list", dir))?;
        let mut seqs = Vec::new();
        let mut snaps = Vec::new();
        for name in &names {
            if let Some(seq) = parse_numbered(name, "log-", ".seg") {
                seqs.push(seq);
            } else if let Some(idx) = parse_numbered(name, "snap-", ".snap") {
                snaps.push(idx);
            } else if name.ends_with(".tmp") {
                let p = dir.join(name);
                if !ro {
                    disk.remove_file(&p)
                        .map_err(StorageError::io("remove", &p))?;
                    tracing::info!(path = %p.display(), "removed an unfinished temporary file");
                }
                report.removed.push(p);
            }
        }
        seqs.sort_unstable();
        snaps.sort_unstable();
        if names.iter().any(|n| n == CURRENT_FILE) {
            let path = dir.join(CURRENT_FILE);
            let bytes = disk
                .read_file(&path)
                .map_err(StorageError::io("read", &path))?;
            let newest =
                record::decode_current(&bytes).map_err(|detail| StorageError::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    detail,
                })?;
            let present = seqs.last().copied().unwrap_or(0);
            if newest > present {
                return Err(StorageError::MissingSegment {
                    path: dir.join(segment_name(newest)),
                    detail: format!(
                        "{CURRENT_FILE} names segment {newest} as the newest, but the newest present is {present}"
                    ),
                });
            }
        }
        for w in seqs.windows(2) {
            if w[1] != w[0] + 1 {
                return Err(StorageError::MissingSegment {
                    path: dir.join(segment_name(w[0] + 1)),
                    detail: format!(
                        "segments {} and {} are present, {} is not",
                        segment_name(w[0]),
                        segment_name(w[1]),
                        segment_name(w[0] + 1)
                    ),
                });
            }
        }

        let mut replay = Replay {
            floor: 0,
            last: 0,
            entries: Vec::new(),
            mark: None,
            hs: HardState::default(),
            cs: ConfState::default(),
            started: false,
        };
        let mut segments = Vec::new();
        let mut active_len = 0u64;
        let n_segs = seqs.len();
        for (i, &seq) in seqs.iter().enumerate() {
            let path = dir.join(segment_name(seq));
            let is_last = i + 1 == n_segs;
            let buf = Bytes::from(
                disk.read_file(&path)
                    .map_err(StorageError::io("read", &path))?,
            );
            let mut off = 0usize;
            let mut head: Option<SegmentHead> = None;
            while off < buf.len() {
                match record::check_frame(&buf, off) {
                    Frame::Ok { start, end } => {
                        let rec = record::decode(&buf, start, end).map_err(|e| {
                            StorageError::Corrupt {
                                path: path.clone(),
                                offset: off as u64,
                                detail: format!("undecodable record: {e}"),
                            }
                        })?;
                        match (&head, &rec) {
                            (None, Record::Head(h)) => {
                                if h.seq != seq {
                                    return Err(StorageError::Corrupt {
                                        path: path.clone(),
                                        offset: 0,
                                        detail: format!(
                                            "the head names segment {} but the file name says {seq}",
                                            h.seq
                                        ),
                                    });
                                }
                                head = Some(h.clone());
                            }
                            (None, _) => {
                                return Err(StorageError::Corrupt {
                                    path: path.clone(),
                                    offset: 0,
                                    detail: "the segment does not start with its head".into(),
                                })
                            }
                            (Some(_), Record::Head(_)) => {
                                return Err(StorageError::Corrupt {
                                    path: path.clone(),
                                    offset: off as u64,
                                    detail: "a second segment head".into(),
                                })
                            }
                            _ => {}
                        }
                        replay.apply(rec, &path, off as u64)?;
                        report.records += 1;
                        off = end;
                    }
                    bad => {
                        let rest = &buf[off..];
                        let torn = is_last
                            && match bad {
                                Frame::Incomplete => true,
                                _ => {
                                    rest.iter().all(|b| *b == 0)
                                        || declared_end(rest) == Some(rest.len())
                                }
                            };
                        if !torn {
                            let detail = match bad {
                                Frame::Bad(why) => why.to_string(),
                                _ => "incomplete record in a segment that is not the last".into(),
                            };
                            return Err(StorageError::Corrupt {
                                path: path.clone(),
                                offset: off as u64,
                                detail,
                            });
                        }
                        let dropped = (buf.len() - off) as u64;
                        tracing::warn!(
                            path = %path.display(),
                            offset = off,
                            dropped_bytes = dropped,
                            "truncating a torn final record"
                        );
                        report.torn_tail = Some(TornTail {
                            path: path.clone(),
                            offset: off as u64,
                            dropped_bytes: dropped,
                        });
                        if !ro && off > 0 {
                            disk.truncate_file(&path, off as u64)
                                .map_err(StorageError::io("truncate", &path))?;
                        }
                        break;
                    }
                }
            }
            match head {
                Some(h) => {
                    segments.push(Segment {
                        seq,
                        path: path.clone(),
                        start_last: h.last_index,
                    });
                    report.segments.push(path);
                    active_len = off as u64;
                }
                None => {
                    // Only the final segment can get here (torn inside its
                    // head): it never held an acknowledged byte.
                    if !ro {
                        disk.remove_file(&path)
                            .map_err(StorageError::io("remove", &path))?;
                        disk.sync_dir(dir)
                            .map_err(StorageError::io("fsync directory", dir))?;
                    }
                    report.removed.push(path);
                }
            }
        }

        // The snapshot the log refers to.
        let mut core = Core::default();
        let first_seg = segments
            .first()
            .map(|s| s.path.clone())
            .unwrap_or_else(|| dir.to_path_buf());
        match replay.mark {
            Some((s, t)) => {
                if replay.floor != s {
                    return Err(StorageError::MissingSegment {
                        path: first_seg,
                        detail: format!(
                            "the log starts after index {} but the snapshot is at {s}: segments are missing",
                            replay.floor
                        ),
                    });
                }
                let path = dir.join(snapshot_name(s));
                let bytes = disk.read_file(&path).map_err(|e| StorageError::Snapshot {
                    path: path.clone(),
                    offset: 0,
                    detail: format!("the log refers to it but it cannot be read: {e}"),
                })?;
                let file = record::decode_snapshot_file(bytes).map_err(|(offset, detail)| {
                    StorageError::Snapshot {
                        path: path.clone(),
                        offset: offset as u64,
                        detail,
                    }
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
                core.snapshot = to_snapshot(file);
                core.has_snapshot = true;
            }
            None => {
                if replay.floor != 0 {
                    return Err(StorageError::MissingSegment {
                        path: first_seg,
                        detail: format!(
                            "the log starts after index {} and there is no snapshot",
                            replay.floor
                        ),
                    });
                }
            }
        }
        let current = replay.mark.map(|m| m.0);
        for idx in snaps {
            let p = dir.join(snapshot_name(idx));
            match current {
                Some(c) if idx == c => {}
                Some(c) if idx < c => {
                    if !ro {
                        disk.remove_file(&p)
                            .map_err(StorageError::io("remove", &p))?;
                    }
                    report.removed.push(p);
                }
                _ => {
                    tracing::warn!(path = %p.display(), "ignoring a snapshot the log never recorded (an interrupted snapshot operation)");
                    report.ignored_snapshots.push(p);
                }
            }
        }
        if replay.hs.commit > replay.last {
            return Err(StorageError::MissingSegment {
                path: segments
                    .last()
                    .map(|s| s.path.clone())
                    .unwrap_or_else(|| dir.to_path_buf()),
                detail: format!(
                    "the hard state's commit index {} is beyond the last index {}: committed entries are missing",
                    replay.hs.commit, replay.last
                ),
            });
        }
        core.hard_state = replay.hs;
        core.conf_state = replay.cs;
        core.entries = replay.entries;

        let active = match (ro, segments.last()) {
            (false, Some(seg)) => Some(
                disk.open_append(&seg.path)
                    .map_err(StorageError::io("open", &seg.path))?,
            ),
            _ => None,
        };
        let store = DurableStore {
            durable_last: core.last_index(),
            durable_hs: core.hard_state.clone(),
            durable_cs: core.conf_state.clone(),
            core: Arc::new(RwLock::new(core)),
            disk,
            dir: dir.to_path_buf(),
            options,
            segments,
            active,
            active_len,
            pending: Vec::new(),
            poisoned: None,
            _lock: lock,
        };
        Ok((store, report))
    }

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

    fn head(&self, seq: u64) -> SegmentHead {
        let c = read(&self.core);
        SegmentHead {
            seq,
            last_index: self.durable_last,
            snapshot: c.has_snapshot.then(|| (c.snap_index(), c.snap_term())),
            reset: false,
            hard_state: self.durable_hs.clone(),
            conf_state: self.durable_cs.clone(),
        }
    }

    fn next_seq(&self) -> u64 {
        self.segments.last().map_or(1, |s| s.seq + 1)
    }

    /// Writes `head` followed by `body` into a new segment and makes both
    /// the bytes and the new name durable.
    fn start_segment(&mut self, head: SegmentHead, body: &[u8]) -> Result<()> {
        let path = self.dir.join(segment_name(head.seq));
        let mut buf = Vec::with_capacity(128 + body.len());
        record::frame_head(&mut buf, &head);
        buf.extend_from_slice(body);
        let mut f = self
            .disk
            .create_file(&path)
            .map_err(StorageError::io("create", &path))?;
        f.write_all(&buf)
            .map_err(StorageError::io("write", &path))?;
        f.sync_data().map_err(StorageError::io("fsync", &path))?;
        self.disk
            .sync_dir(&self.dir)
            .map_err(StorageError::io("fsync directory", &self.dir))?;
        // Only now that the segment is durable may the manifest name it.
        self.write_current(head.seq)?;
        self.segments.push(Segment {
            seq: head.seq,
            path,
            start_last: head.last_index,
        });
        self.active = Some(f);
        self.active_len = buf.len() as u64;
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

    fn write_active(&mut self, buf: &[u8]) -> Result<()> {
        let path = match self.segments.last() {
            Some(s) => s.path.clone(),
            None => self.dir.clone(),
        };
        let Some(f) = self.active.as_mut() else {
            return Err(StorageError::Misuse("no active segment".into()));
        };
        f.write_all(buf).map_err(StorageError::io("write", &path))?;
        f.sync_data().map_err(StorageError::io("fsync", &path))?;
        self.active_len += buf.len() as u64;
        Ok(())
    }

    /// Replaces `CURRENT`, which names the newest segment, atomically and
    /// durably, so a deleted final segment is detected at open.
    fn write_current(&self, seq: u64) -> Result<()> {
        let mut bytes = Vec::new();
        record::frame_current(&mut bytes, seq);
        self.replace_durably(CURRENT_FILE, &bytes)
    }

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

    /// Writes `bytes` under `name` in the data directory atomically and
    /// durably: a temporary file, fsynced, renamed over `name`, then the
    /// directory fsynced. A crash leaves the old file or the new one.
    fn replace_durably(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut f = self
            .disk
            .create_file(&tmp)
            .map_err(StorageError::io("create", &tmp))?;
        f.write_all(bytes)
            .map_err(StorageError::io("write", &tmp))?;
        f.sync_all().map_err(StorageError::io("fsync", &tmp))?;
        drop(f);
        self.disk
            .rename(&tmp, &path)
            .map_err(StorageError::io("rename", &tmp))?;
        self.disk
            .sync_dir(&self.dir)
            .map_err(StorageError::io("fsync directory", &self.dir))
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

    fn install(&mut self, index: u64, term: u64, cs: ConfState, data: Bytes) -> Result<()> {
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
    /// the snapshot index `s`, and every snapshot file but `s`'s.
    fn remove_obsolete(&mut self, s: u64) -> Result<()> {
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

    /// The segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
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
