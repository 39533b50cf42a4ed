//! Segment files and the `CURRENT` manifest: their names, the checks at
//! open that the segments form one unbroken run up to the one `CURRENT`
//! names, and the writing side (starting a segment, appending to the
//! active one, replacing a file atomically and durably).
//!
//! Promise (ordering rule 2 of [`crate::storage`]): a new segment is
//! durable, bytes and name, before `CURRENT` names it, and `CURRENT` is
//! replaced through a fsynced temporary file and a rename, so a deleted
//! final segment is detected at open.

use std::path::{Path, PathBuf};

use super::handle::read;
use super::DurableStore;
use crate::storage::disk::Disk;
use crate::storage::error::{Result, StorageError};
use crate::storage::record::{self, SegmentHead};

#[derive(Debug)]
pub(super) struct Segment {
    pub(super) seq: u64,
    pub(super) path: PathBuf,
    /// The log's last index when the segment was started.
    pub(super) start_last: u64,
}

/// The manifest naming the newest segment.
pub const CURRENT_FILE: &str = "CURRENT";

/// The name of segment `seq`.
pub fn segment_name(seq: u64) -> String {
    format!("log-{seq:020}.seg")
}

pub(super) fn parse_numbered(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Checks, at open, the segment numbers present (`seqs`, sorted) against
/// `CURRENT` (if `names` holds it: the newest present must not be older
/// than the one it names) and against each other (consecutive). Returns
/// the segment `CURRENT` names, if there is one.
pub(super) fn check_segment_run(
    disk: &dyn Disk,
    dir: &Path,
    names: &[String],
    seqs: &[u64],
) -> Result<Option<u64>> {
    let mut current = None;
    if names.iter().any(|n| n == CURRENT_FILE) {
        let path = dir.join(CURRENT_FILE);
        let bytes = disk
            .read_file(&path)
            .map_err(StorageError::io("read", &path))?;
        let newest = record::decode_current(&bytes).map_err(|detail| StorageError::Corrupt {
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
        current = Some(newest);
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
    Ok(current)
}

impl DurableStore {
    pub(super) fn head(&self, seq: u64) -> SegmentHead {
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

    pub(super) fn next_seq(&self) -> u64 {
        self.segments.last().map_or(1, |s| s.seq + 1)
    }

    /// Writes `head` followed by `body` into a new segment and makes both
    /// the bytes and the new name durable.
    pub(super) fn start_segment(&mut self, head: SegmentHead, body: &[u8]) -> Result<()> {
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

    pub(super) fn write_active(&mut self, buf: &[u8]) -> Result<()> {
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

    /// Writes `bytes` under `name` in the data directory atomically and
    /// durably: a temporary file, fsynced, renamed over `name`, then the
    /// directory fsynced. A crash leaves the old file or the new one.
    pub(super) fn replace_durably(&self, name: &str, bytes: &[u8]) -> Result<()> {
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
}
