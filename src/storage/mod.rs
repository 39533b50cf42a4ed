//! Storage: the durable raft state of one node in its data directory (term,
//! vote, commit, conf state, log entries, snapshots), implementing
//! [`raft::Storage`]. raft-rs does no I/O; this room is everything durable.
//!
//! **Promise.** A member that crashes and restarts recovers its term, its
//! vote and every entry it acknowledged; it never double-votes and never
//! loses a committed entry. Damage is never repaired by guessing: only a
//! torn *final write* is cut off (and logged); anything else refuses to
//! open with an error naming the file and the offset.
//!
//! **Not here.** Timing, transport and applying entries belong to the
//! engine; this room only offers [`replay::replay_catalog`] so the engine
//! and `synod inspect` rebuild the catalog the same way.
//!
//! # On-disk layout (segment format version 2)
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
//! A segment is a sequence of records `len u32 | crc u32 | hcrc u32 |
//! payload` ([`record`]): `crc` is the CRC32C of the length and the
//! payload, `hcrc` the CRC32C of the eight header bytes before it, so a
//! damaged length is seen as damage and never believed. (Version 1 had no
//! `hcrc`; a directory written by it is refused by name: segment and
//! `CURRENT` errors say "format version 1".) Its first record is its
//! *head*: magic, version, sequence
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
//! (entry data are slices of the read buffer, not copies).
//!
//! **Torn tails.** Only bytes written after the last completed fsync can be
//! torn, and they are all in the last write to the last segment (rule 2).
//! A crash there leaves a prefix of that write, possibly followed by zeros
//! or garbage in place of the rest of it, and nothing written after it. So
//! the first bytes of the final segment that are not a valid record are a
//! *torn tail*, cut off (truncated, reported in the [`RecoveryReport`] and
//! logged), exactly when no valid record header starts after them:
//! * fewer than a header's bytes remain: torn;
//! * a valid header (its checksum vouches for the length) whose payload
//!   runs past the end of the file: torn, everything to the end of the
//!   file belongs to that one record;
//! * a valid header whose payload fails its checksum: torn only if no
//!   valid header starts after the record's end;
//! * a damaged header (checksum or length bounds): its length is not
//!   believed; torn only if no valid header starts at any later offset;
//! * and never in the head of the segment `CURRENT` names: that segment's
//!   first write was fsynced before `CURRENT` named it. (A final segment
//!   newer than `CURRENT`, torn inside its head, held nothing acknowledged
//!   and is removed.)
//!
//! Otherwise the bytes are damage and open refuses, naming the file and
//! the offset where the bad record starts: a flipped bit anywhere before
//! the final segment's last record always has a valid record after it, so
//! fsynced records are never cut. Two consequences, chosen on purpose:
//! damage to the *last* record of the final segment (nothing valid after
//! it) cannot be told from a torn write of that record and is cut (no log
//! can tell, without another copy, which of its last bytes were fsynced);
//! and a final write that a real disk persisted out of order (a later part
//! intact after a lost earlier part) refuses to open rather than be cut,
//! since it looks exactly like damage followed by valid records.
//!
//! Anything else refuses to open too: a bad or short record in a segment
//! that is not the last, a missing segment number, a segment whose head
//! disagrees with the one before it, an index gap, a commit index beyond
//! the last entry, a newest segment older than the one `CURRENT` names, a
//! missing or unreadable snapshot. A read-only open (`synod inspect`)
//! applies the same rules, repairs nothing, and lists what a writable open
//! would remove apart from what was removed.
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
//!   - `store/recovery.rs`: open, replay, the torn-tail rule
//!     ([`RecoveryReport`]);
//!   - `store/snapshot.rs`: snapshot files, installing and creating them;
//!   - `store/compaction.rs`: removing obsolete segments and snapshots;
//!   - `store/seam.rs`: the crate-private test seam the simulator's
//!     `torn-tail-repair` mutant opens stores with (the old torn-tail
//!     rule), unused by a real member;
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
