//! Opening a store: the directory scan, the replay of every segment into
//! the in-memory log, torn-tail handling, and the checks that refuse any
//! other damage; [`RecoveryReport`] says what was found and done.
//!
//! Promise (the "Recovery" section of [`crate::storage`]): only a torn
//! *final* write of the *final* segment is cut off (and reported): bytes
//! that are not a valid record, after which no valid record header
//! starts, outside the head of a segment `CURRENT` names. A bad record
//! with a valid record after it, a missing segment, a disagreeing head, an
//! index gap, a commit beyond the last entry or a missing snapshot refuse
//! to open with an error naming the file and the offset. A read-only open
//! repairs and removes nothing, and reports what it would remove.

use std::path::Path;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, HardState};

use super::handle::Core;
use super::report::{RecoveryReport, TornTail};
use super::segment::{check_segment_run, parse_numbered, segment_name, Segment, CURRENT_FILE};
use super::snapshot::{read_snapshot_file, sweep_snapshots};
use super::{DurableStore, StoreOptions, StoreSeam};
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

/// The torn-tail rule, for the first bytes at `off` of the final segment
/// that are not a valid record (`bad`). A torn final write leaves a prefix
/// of the last write, possibly followed by zeros or garbage of the same
/// write, and nothing written after it. So the bytes are a torn tail
/// (`Ok`, with what was seen) only if no valid record header starts after
/// them; otherwise they are damage (`Err`, with what was seen):
/// * fewer bytes than a header: torn (nothing can follow);
/// * a valid header whose payload runs past the end of the file: torn (the
///   header's own checksum vouches for the length, so everything up to the
///   end of the file belongs to this one record);
/// * a valid header and a payload failing its checksum: torn only if no
///   valid header starts after the record's end;
/// * a damaged header (checksum or bounds): its length is not believed;
///   torn only if no valid header starts anywhere after its first byte.
fn torn_or_damaged(buf: &[u8], off: usize, bad: Frame) -> std::result::Result<String, String> {
    let (what, after) = match bad {
        Frame::Ok { .. } => return Err("a valid record".into()),
        Frame::ShortHeader => {
            return Ok(format!(
                "the file ends {} bytes into a record header",
                buf.len() - off
            ))
        }
        Frame::ShortPayload { end } => {
            return Ok(format!(
                "the record's header is intact but the file ends {} bytes before its payload does",
                end - buf.len()
            ))
        }
        Frame::BadPayload { end } => ("record payload checksum mismatch".to_string(), end),
        Frame::BadHeader(why) => (why.to_string(), off + 1),
    };
    match record::find_header(buf, after) {
        Some(at) => Err(format!(
            "{what}, and a valid record header follows at offset {at}: \
             damage, not a torn final write (refusing to cut records written after it)"
        )),
        None => Ok(format!("{what}, and no record header follows it")),
    }
}

/// What recovery knows about the final segment.
#[derive(Clone, Copy)]
struct Final {
    /// `CURRENT` names this segment, so its first write (its head at least)
    /// was fsynced before that: it cannot be torn.
    named_by_current: bool,
    /// Test seam ([`super::StoreSeam::cut_at_first_bad_record`]): the old
    /// rule, which cuts at the first bad record whatever follows it.
    cut_at_first_bad_record: bool,
}

/// Replays segment `seq` (at `path`) into `replay`, oldest record first.
/// Bytes that are not a valid record are a torn tail only in the final
/// segment (`last`), only by [`torn_or_damaged`]'s rule and never in the
/// head of a segment `CURRENT` names; a torn tail is reported and (unless
/// read-only) truncated. Returns the segment's head (none if it was torn
/// inside its head) and the offset where its valid records end.
fn replay_segment(
    disk: &dyn Disk,
    path: &Path,
    seq: u64,
    last: Option<Final>,
    ro: bool,
    replay: &mut Replay,
    report: &mut RecoveryReport,
) -> Result<(Option<SegmentHead>, usize)> {
    let buf = Bytes::from(
        disk.read_file(path)
            .map_err(StorageError::io("read", path))?,
    );
    let corrupt = |offset: usize, detail: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        detail,
    };
    let mut off = 0usize;
    let mut head: Option<SegmentHead> = None;
    while off < buf.len() {
        match record::check_frame(&buf, off) {
            Frame::Ok { start, end } => {
                let rec = record::decode(&buf, start, end)
                    .map_err(|e| corrupt(off, format!("undecodable record: {e}")))?;
                match (&head, &rec) {
                    (None, Record::Head(h)) => {
                        if h.seq != seq {
                            return Err(corrupt(
                                0,
                                format!(
                                    "the head names segment {} but the file name says {seq}",
                                    h.seq
                                ),
                            ));
                        }
                        head = Some(h.clone());
                    }
                    (None, _) => {
                        return Err(corrupt(
                            0,
                            "the segment does not start with its head".into(),
                        ))
                    }
                    (Some(_), Record::Head(_)) => {
                        return Err(corrupt(off, "a second segment head".into()))
                    }
                    _ => {}
                }
                replay.apply(rec, path, off as u64)?;
                report.records += 1;
                off = end;
            }
            bad => {
                if off == 0 {
                    if let Some(v) = record::legacy_segment_version(&buf) {
                        return Err(corrupt(
                            0,
                            format!(
                                "segment format version {v}, written by an older build (records \
                                 without a header checksum); this build reads version {} only \
                                 (move the directory aside and let the member rejoin from a snapshot)",
                                record::SEGMENT_FORMAT_VERSION
                            ),
                        ));
                    }
                }
                let verdict = match (last, torn_or_damaged(&buf, off, bad)) {
                    // Test seam: the old rule takes any bad record of the
                    // final segment for a torn tail.
                    (Some(f), Err(what)) if f.cut_at_first_bad_record => Ok(format!(
                        "{what} (cut anyway: the test seam's old torn-tail rule)"
                    )),
                    (_, verdict) => verdict,
                };
                let why = match (last, verdict) {
                    (None, Ok(what) | Err(what)) => {
                        return Err(corrupt(
                            off,
                            format!("{what}, in a segment that is not the last"),
                        ))
                    }
                    (Some(_), Err(what)) => return Err(corrupt(off, what)),
                    (Some(f), Ok(what)) if off == 0 && f.named_by_current => {
                        return Err(corrupt(
                            0,
                            format!(
                                "{what}, in the head of the segment {CURRENT_FILE} names, \
                                 which was fsynced before {CURRENT_FILE} named it"
                            ),
                        ))
                    }
                    (Some(_), Ok(what)) => what,
                };
                let dropped = (buf.len() - off) as u64;
                if ro {
                    tracing::warn!(
                        path = %path.display(),
                        offset = off,
                        dropped_bytes = dropped,
                        why = %why,
                        "found a torn final write (read-only: left in place)"
                    );
                } else {
                    tracing::warn!(
                        path = %path.display(),
                        offset = off,
                        dropped_bytes = dropped,
                        why = %why,
                        "truncating a torn final write"
                    );
                }
                report.torn_tail = Some(TornTail {
                    path: path.to_path_buf(),
                    offset: off as u64,
                    dropped_bytes: dropped,
                    detail: why,
                });
                if !ro && off > 0 {
                    disk.truncate_file(path, off as u64)
                        .map_err(StorageError::io("truncate", path))?;
                }
                break;
            }
        }
    }
    if buf.is_empty() && last.is_some_and(|f| f.named_by_current) {
        return Err(corrupt(
            0,
            format!("the segment {CURRENT_FILE} names is empty, but it was fsynced before {CURRENT_FILE} named it"),
        ));
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
        Self::open_with_seam(disk, dir, options, StoreSeam::default())
    }

    /// [`DurableStore::open`], with recovery deviating from the real rules
    /// as `seam` says (the simulator's `torn-tail-repair` mutant; see
    /// `store/seam.rs`).
    pub(crate) fn open_with_seam(
        disk: Arc<dyn Disk>,
        dir: &Path,
        options: StoreOptions,
        seam: StoreSeam,
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
        let current = check_segment_run(&*disk, dir, &names, &seqs)?;

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
            let last = (i + 1 == n_segs).then_some(Final {
                named_by_current: current.is_some_and(|c| seq <= c),
                cut_at_first_bad_record: seam.cut_at_first_bad_record,
            });
            let (head, off) =
                replay_segment(&*disk, &path, seq, last, ro, &mut replay, &mut report)?;
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
                    // Only a final segment that `CURRENT` does not name can
                    // get here (torn inside its head): it never held an
                    // acknowledged byte.
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
