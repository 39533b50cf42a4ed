//! Opening a store: the directory scan, the replay of every segment into
//! the in-memory log, torn-tail handling, and the checks that refuse any
//! other damage; [`RecoveryReport`] says what was found and done.
//!
//! Promise (the "Recovery" section of [`crate::storage`]): only a torn
//! *final* record of the *final* segment is cut off (and reported); a bad
//! record with bytes after it, a missing segment, a disagreeing head, an
//! index gap, a commit beyond the last entry or a missing snapshot refuse
//! to open with an error naming the file and the offset. A read-only open
//! repairs and removes nothing, and reports what it would remove.

use std::path::Path;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, HardState};

use super::handle::Core;
use super::report::{RecoveryReport, TornTail};
use super::segment::{check_segment_run, parse_numbered, segment_name, Segment};
use super::snapshot::{read_snapshot_file, sweep_snapshots};
use super::{DurableStore, StoreOptions};
use crate::storage::disk::{Disk, RealDisk};
use crate::storage::error::{Result, StorageError};
use crate::storage::record::{self, Frame, Record, SegmentHead};

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

/// Replays segment `seq` (at `path`) into `replay`, oldest record first.
/// A bad or cut-short record is a torn tail only in the last segment
/// (`is_last`) and only if nothing but zeros, or nothing at all, follows
/// its declared end: it is reported and (unless read-only) truncated.
/// Returns the segment's head (none if it was torn inside its head) and
/// the offset where its valid records end.
fn replay_segment(
    disk: &dyn Disk,
    path: &Path,
    seq: u64,
    is_last: bool,
    ro: bool,
    replay: &mut Replay,
    report: &mut RecoveryReport,
) -> Result<(Option<SegmentHead>, usize)> {
    let buf = Bytes::from(
        disk.read_file(path)
            .map_err(StorageError::io("read", path))?,
    );
    let mut off = 0usize;
    let mut head: Option<SegmentHead> = None;
    while off < buf.len() {
        match record::check_frame(&buf, off) {
            Frame::Ok { start, end } => {
                let rec = record::decode(&buf, start, end).map_err(|e| StorageError::Corrupt {
                    path: path.to_path_buf(),
                    offset: off as u64,
                    detail: format!("undecodable record: {e}"),
                })?;
                match (&head, &rec) {
                    (None, Record::Head(h)) => {
                        if h.seq != seq {
                            return Err(StorageError::Corrupt {
                                path: path.to_path_buf(),
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
                            path: path.to_path_buf(),
                            offset: 0,
                            detail: "the segment does not start with its head".into(),
                        })
                    }
                    (Some(_), Record::Head(_)) => {
                        return Err(StorageError::Corrupt {
                            path: path.to_path_buf(),
                            offset: off as u64,
                            detail: "a second segment head".into(),
                        })
                    }
                    _ => {}
                }
                replay.apply(rec, path, off as u64)?;
                report.records += 1;
                off = end;
            }
            bad => {
                let rest = &buf[off..];
                let torn = is_last
                    && match bad {
                        Frame::Incomplete => true,
                        _ => rest.iter().all(|b| *b == 0) || declared_end(rest) == Some(rest.len()),
                    };
                if !torn {
                    let detail = match bad {
                        Frame::Bad(why) => why.to_string(),
                        _ => "incomplete record in a segment that is not the last".into(),
                    };
                    return Err(StorageError::Corrupt {
                        path: path.to_path_buf(),
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
                    path: path.to_path_buf(),
                    offset: off as u64,
                    dropped_bytes: dropped,
                });
                if !ro && off > 0 {
                    disk.truncate_file(path, off as u64)
                        .map_err(StorageError::io("truncate", path))?;
                }
                break;
            }
        }
    }
    Ok((head, off))
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
                if ro {
                    report.would_remove.push(p);
                } else {
                    disk.remove_file(&p)
                        .map_err(StorageError::io("remove", &p))?;
                    tracing::info!(path = %p.display(), "removed an unfinished temporary file");
                    report.removed.push(p);
                }
            }
        }
        seqs.sort_unstable();
        snaps.sort_unstable();
        check_segment_run(&*disk, dir, &names, &seqs)?;

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
            let (head, off) =
                replay_segment(&*disk, &path, seq, is_last, ro, &mut replay, &mut report)?;
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
                    if ro {
                        report.would_remove.push(path);
                    } else {
                        disk.remove_file(&path)
                            .map_err(StorageError::io("remove", &path))?;
                        disk.sync_dir(dir)
                            .map_err(StorageError::io("fsync directory", dir))?;
                        report.removed.push(path);
                    }
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
                core.snapshot = read_snapshot_file(&*disk, dir, s, t)?;
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
        sweep_snapshots(&*disk, dir, ro, snaps, current, &mut report)?;
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
}
