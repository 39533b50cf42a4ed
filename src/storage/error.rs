//! The storage room's one error type.

use std::io;
use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::entry::codec::DecodeError;

/// Everything that can go wrong in the storage room. Damage always names
/// the file and the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `fsync`, `rename`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Another process (or store) holds the directory's lock.
    #[error("{} is locked by another store", path.display())]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// A record or file is damaged.
    #[error("{} at offset {offset}: {detail}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An entry does not follow the one before it.
    #[error("{} at offset {offset}: log index gap, expected index {expected} or below, found {found}", path.display())]
    IndexGap {
        /// The segment file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// The highest index that could follow.
        expected: u64,
        /// The index found.
        found: u64,
    },
    /// A segment file that the log needs is not there.
    #[error("missing log segment {}: {detail}", path.display())]
    MissingSegment {
        /// The missing file (or, for a gap at the start, the first file
        /// present).
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// The snapshot the log refers to is missing or unreadable.
    #[error("snapshot {} at offset {offset}: {detail}", path.display())]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// Where the problem is.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An earlier write or fsync failed: what is on disk is unknown, so the
    /// store refuses further work and must be reopened.
    #[error("the store failed earlier and must be reopened: {0}")]
    Poisoned(String),
    /// A write was attempted on a store opened read-only.
    #[error("the store is open read-only")]
    ReadOnly,
    /// Bootstrap was asked of a directory that already holds a log.
    #[error("{} already holds a log; bootstrap refused", dir.display())]
    AlreadyInitialized {
        /// The data directory.
        dir: PathBuf,
    },
    /// The directory has no snapshot, so no catalog (it was never
    /// bootstrapped and never received a snapshot).
    #[error("{} holds no snapshot, so no catalog: the store was never bootstrapped", dir.display())]
    NotBootstrapped {
        /// The data directory.
        dir: PathBuf,
    },
    /// The caller broke the store's contract (an append with a gap or below
    /// the first index, a hard state going backwards, ...).
    #[error("refused: {0}")]
    Misuse(String),
    /// A snapshot not newer than the current one.
    #[error("snapshot at index {index} is not newer than the current snapshot at {current}")]
    SnapshotOutOfDate {
        /// The snapshot offered.
        index: u64,
        /// The current snapshot's index.
        current: u64,
    },
    /// A committed entry's data is not a control-plane entry.
    #[error("committed entry at index {index} does not decode: {source}")]
    EntryDecode {
        /// The entry's index.
        index: u64,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A snapshot's catalog bytes do not decode.
    #[error("snapshot at index {index} holds no valid catalog: {source}")]
    CatalogSnapshot {
        /// The snapshot's index.
        index: u64,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The catalog refused to replay.
    #[error("catalog replay: {0}")]
    Catalog(#[from] CatalogError),
}

impl StorageError {
    /// Maps an I/O error of operation `op` on `path` into [`StorageError::Io`]
    /// (for `map_err`).
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StorageError::Io { op, path, source }
    }
}

/// Result of the storage room.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
