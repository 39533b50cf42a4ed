//! Storage: the durable raft state of one node in its data directory (term,
//! vote, commit, conf state, log entries, snapshots), implementing
//! [`raft::Storage`]. raft-rs does no I/O; this room is everything durable.
//!
//! **Promise.** A member that crashes and restarts recovers its term, its
//! vote and every entry it acknowledged; it never double-votes and never
//! loses a committed entry. Damage is never repaired by guessing: only a
//! torn *final* record is cut off (and logged); anything else refuses to
//! open with an error naming the file and the offset.
//!
//! **Not here.** Timing, transport and applying entries belong to the
//! engine; this room only offers [`replay::replay_catalog`] so the engine
//! and `synod inspect` rebuild the catalog the same way.
//!
//! # On-disk layout (format version 1)
//!
//! ```text
//! DATA_DIR/
//!   LOCK                          exclusive lock (flock), no content
//!   CURRENT                       one record: the newest segment's number
//!   log-00000000000000000001.seg  segment 1 (sequence numbers are consecutive)
//!   log-00000000000000000002.seg  ... the last segment is the active one
//!   snap-00000000000000000042.snap the snapshot the log refers to
//!   *.tmp                         unfinished writes, removed at open
//! ```
//!
//! A segment is a sequence of records `len u32 | crc32c u32 | payload`
//! ([`record`]). Its first record is its *head*: magic, version, sequence
//! number, the log's last index when it was started, the snapshot (index,
//! term) then in force, a `reset` flag, and the hard state and conf state
//! then in force. Then, in the order they were staged: entries, hard
//! states, conf states and snapshot marks. Entries, hard state and conf
//! state share the stream, so one fsync covers them all, and each head
//! restates the state, so dropping older segments never loses it.
//!
//! Replay rules: an entry at an index at or below the current last index
//! replaces it and everything after it (raft's conflicting-suffix
//! truncation); an entry above `last + 1` is a gap (damage). A snapshot
//! mark `(i, t)` says a durable snapshot file `snap-i.snap` now covers the
//! log up to `i`. A head with `reset` (written when a leader's snapshot is
//! installed) replaces the whole log by its snapshot.
//!
//! A snapshot file is `SYNODSNP | version | index | term | conf state |
//! data length | data | crc32c` where data is the catalog snapshot
//! ([`crate::catalog::Catalog::encode_snapshot`]). Bootstrap writes the
//! *genesis* snapshot: the bootstrap catalog at index 1, term 1
//! ([`GENESIS_INDEX`], [`GENESIS_TERM`]), every initial member a voter.
//! Starting above zero matters: raft treats a snapshot at index 0 as none,
//! so a member that joins later would be sent the log from index 1 and
//! never learn the genesis membership; with the genesis at index 1 the
//! leader must send it a snapshot, and the snapshot carries the catalog.
//! After bootstrap the hard state is term [`GENESIS_TERM`], no vote,
//! commit [`GENESIS_INDEX`], and the first entry appended is at
//! `GENESIS_INDEX + 1`. So a bootstrapped directory always holds its
//! membership, and the catalog is always "latest snapshot + committed
//! entries above it".
//!
//! # Ordering (enforced in [`DurableStore`])
//!
//! 1. `append`, `set_hard_state` and `set_conf_state` only *stage* records
//!    in memory. [`DurableStore::sync`] writes all of them with one write
//!    and one `fdatasync` (group commit). The driver must call `sync` and
//!    see it succeed **before** sending raft's persisted messages (vote
//!    grants and append acknowledgements are among them) and before
//!    advancing the Ready.
//! 2. A new segment is written (head + staged records), fdatasynced, then
//!    its directory is fsynced; then `CURRENT` is replaced (temporary file,
//!    fsync, rename, directory fsync) to name it; all before `sync`
//!    returns. Segments are started only when the previous one holds no
//!    unsynced byte, so only the last segment can have a torn tail.
//! 3. A snapshot is written to `snap-i.snap.tmp`, fsynced, renamed, and the
//!    directory fsynced, *before* the log records it (a mark record, or a
//!    reset head), and that record is synced before the snapshot is
//!    reported installed. A snapshot file the log never recorded is
//!    ignored at open, so a crash in the middle leaves the old state.
//! 4. Obsolete segments and snapshot files are removed only after the
//!    record that makes them obsolete is durable; segments oldest first, so
//!    a crash leaves a contiguous run. A failed remove or directory fsync
//!    there poisons the store like any other failed write (rule 5).
//! 5. Every I/O error, fsync errors included, is returned. After a failed
//!    write or fsync the store is *poisoned* (what reached the disk is
//!    unknown; retrying an fsync may lie): every later write answers
//!    [`StorageError::Poisoned`] and the node must reopen the store, which
//!    recovers from what is really on disk.
//! 6. `set_hard_state` refuses to move backwards (lower term, a second vote
//!    in a term, lower commit): defence in depth against double voting.
//!
//! # Recovery
//!
//! Segments are read whole, one sequential read each, and parsed in memory
//! (entry data are slices of the read buffer, not copies). A record that
//! fails its checksum or is cut short is a *torn tail* only if it is the
//! last record of the last segment (it reaches the end of the file, or
//! everything after it is zeros): it is truncated and reported in the
//! [`RecoveryReport`] and the log. Anything else refuses to open: a bad
//! record with bytes after it, a missing segment number, a segment whose
//! head disagrees with the one before it, an index gap, a commit index
//! beyond the last entry, a newest segment older than the one `CURRENT`
//! names, a missing or unreadable snapshot.
//!
//! An exclusive lock on `DATA_DIR/LOCK` (`File::try_lock`) stops a second
//! store, in this or another process, from opening the directory.
//!
//! # Rooms inside
//! * [`disk`]: the [`Disk`] seam and [`RealDisk`];
//! * [`sim`]: [`SimDisk`], the deterministic crashable disk;
//! * [`record`]: framing and our own encoding of raft's values;
//! * [`store`]: [`DurableStore`] and [`StoreHandle`]:
//!   - `store/mod.rs`: options, staging and the group-commit sync;
//!   - `store/handle.rs`: the in-memory log and [`StoreHandle`];
//!   - `store/segment.rs`: segment files and the `CURRENT` manifest;
//!   - `store/recovery.rs`: open, replay, torn tails ([`RecoveryReport`]);
//!   - `store/snapshot.rs`: snapshot files, installing and creating them;
//!   - `store/compaction.rs`: removing obsolete segments and snapshots;
//! * [`replay`]: catalog recovery; [`inspect`]: `synod inspect`.

// raft's protobuf messages are built field by field, the way their own
// documentation and `MemStorage` do.
#![allow(clippy::field_reassign_with_default)]

pub mod disk;
mod error;
pub mod inspect;
pub mod record;
pub mod replay;
pub mod sim;
pub mod store;

pub use disk::{DirLock, Disk, DiskFile, RealDisk};
pub use error::{Result, StorageError};
pub use replay::{apply_entry, replay_catalog};
pub use sim::{Fault, SimDisk, SimStats, TearFill};
pub use store::{DurableStore, RecoveryReport, StoreHandle, StoreOptions, TornTail};

/// The index of the genesis snapshot a bootstrapped store starts from.
pub const GENESIS_INDEX: u64 = 1;
/// The term of the genesis snapshot.
pub const GENESIS_TERM: u64 = 1;

/// The lock file's name in a data directory.
pub const LOCK_FILE: &str = "LOCK";

#[cfg(test)]
mod tests;
