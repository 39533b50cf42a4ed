//! The store's test seam: the one point where the simulator's
//! `torn-tail-repair` mutant (listed in `src/sim/mutants.rs`) makes
//! recovery deviate from the real rules, to prove the simulator catches a
//! store that cuts fsynced records.
//!
//! A store follows the real rules unless it is opened with a deviation
//! (`DurableStore::open_with_seam`, crate-private, so only the simulator
//! and the storage tests can); with none, recovery pays one boolean test on
//! the path that has already found a bad record.

/// How recovery deviates from the real rules. The default is none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StoreSeam {
    /// The old torn-tail rule (before record format 2 and
    /// `torn_or_damaged`): in the final segment, the first bytes that are
    /// not a valid record are taken for a torn tail and cut together with
    /// everything after them, whatever follows them and whatever the header
    /// checksum says. A flipped bit in a synced record in the middle of the
    /// final segment then silently drops every record after it, fsynced
    /// and acknowledged ones included. (A bad record in an earlier segment,
    /// or in the head of the segment `CURRENT` names, still refuses.)
    pub(crate) cut_at_first_bad_record: bool,
}
