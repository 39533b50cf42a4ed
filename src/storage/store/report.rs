//! What opening a store found and did: [`RecoveryReport`] (and the torn
//! final record, [`TornTail`]), for the caller, `synod inspect` and the logs.

use std::path::PathBuf;

/// A torn final write found (and, unless read-only, cut off) at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The final segment.
    pub path: PathBuf,
    /// Where the torn record starts (the file's new length).
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
    /// What was found there, and why it counts as a torn write.
    pub detail: String,
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
    /// segment torn inside its head. Always empty for a read-only open.
    pub removed: Vec<PathBuf>,
    /// The leftovers a read-only open found and left alone: a writable open
    /// would remove them. Always empty for a writable open.
    pub would_remove: Vec<PathBuf>,
    /// Snapshot files newer than the one the log refers to: written by a
    /// snapshot operation that crashed before the log recorded it. They are
    /// ignored, and deleted by the next snapshot operation.
    pub ignored_snapshots: Vec<PathBuf>,
}
