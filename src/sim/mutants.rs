//! The mutants: deliberately broken engines the simulator must catch, the
//! proof that its checker is not vacuous. Each is a [`Deviation`] the
//! simulator installs in every replica it runs, through the engine's
//! crate-private test seam (`engine::deviation`).
//!
//! One mutant breaks the store instead: `torn-tail-repair` is the store
//! seam (`storage::store::StoreSeam`) every store the simulator opens
//! recovers with, and answers no replica point.
//!
//! Adding a mutant: a variant and its name in [`Mutant::ALL`] here, and the
//! deviation point it answers in `engine::deviation` (a new one, if no
//! existing point fits, consulted at exactly one place in the replica), or
//! in the store's seam.

use crate::engine::deviation::Deviation;
use crate::storage::store::StoreSeam;

/// A deliberately broken behaviour of the engine (or of its store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// A vote (a Ready with a hard state but no entries) is acknowledged
    /// without being fsynced.
    VoteNotPersisted,
    /// The catalog does not check ownership epochs, before the log or at
    /// apply.
    EpochCheckSkippedAtApply,
    /// The catalog ignores client sessions: a retry whose first attempt
    /// already reached the log is applied again.
    RetryWithoutDedup,
    /// Read-index contexts are the driver's bare per-member counter, as
    /// before they carried the peer and a per-incarnation nonce.
    ReadContextReuse,
    /// Append acknowledgements and vote grants leave before the Ready that
    /// persists them is written and fsynced.
    AckBeforeSync,
    /// Committed entries are applied before they are durable in the
    /// replica's own log.
    ApplyBeyondPersisted,
    /// A committed entry is matched to a waiting proposal by the peer and
    /// sequence number of its context alone, wherever the proposal waits
    /// and whatever term appended it (as proposals were matched before
    /// contexts carried the term, and the sequence number restarts with
    /// every incarnation): an earlier incarnation's entry, applied after a
    /// restart, completes the new incarnation's proposal.
    ProposalContextOnly,
    /// Torn-tail repair past the last fsync: recovery takes the first bad
    /// record of the final segment for a torn tail and cuts it and
    /// everything after it, fsynced and acknowledged records included (the
    /// rule before record format 2). Its deviation point is the store's
    /// seam, not the replica's.
    TornTailRepair,
}

impl Mutant {
    /// Every mutant, by name.
    pub const ALL: [(&'static str, Mutant); 8] = [
        ("vote-not-persisted", Mutant::VoteNotPersisted),
        ("epoch-check-skipped", Mutant::EpochCheckSkippedAtApply),
        ("retry-without-dedup", Mutant::RetryWithoutDedup),
        ("read-context-reuse", Mutant::ReadContextReuse),
        ("ack-before-sync", Mutant::AckBeforeSync),
        ("apply-beyond-persisted", Mutant::ApplyBeyondPersisted),
        ("proposal-context-only", Mutant::ProposalContextOnly),
        ("torn-tail-repair", Mutant::TornTailRepair),
    ];

    /// Whether the seed sweeps catch this mutant (`synod sim --list-mutants`
    /// lists these, and `tests/run-all.sh` requires each to be caught in at
    /// least 10% of 300 seeds). Every mutant is swept.
    pub fn swept(self) -> bool {
        true
    }

    /// The mutant called `name`.
    pub fn by_name(name: &str) -> Option<Mutant> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The deviation a replica runs with for `mutant` (none: the real
    /// engine).
    pub(crate) fn deviation(mutant: Option<Mutant>) -> Option<Box<dyn Deviation>> {
        mutant.map(|m| Box::new(m) as Box<dyn Deviation>)
    }

    /// The seam every store opens with for `mutant` (the default: the real
    /// recovery rules).
    pub(crate) fn store_seam(mutant: Option<Mutant>) -> StoreSeam {
        StoreSeam {
            cut_at_first_bad_record: mutant == Some(Mutant::TornTailRepair),
        }
    }
}

impl Deviation for Mutant {
    fn skip_fsync(&self, appends_entries: bool) -> bool {
        *self == Mutant::VoteNotPersisted && !appends_entries
    }

    fn skip_epoch_check(&self) -> bool {
        *self == Mutant::EpochCheckSkippedAtApply
    }

    fn skip_session_check(&self) -> bool {
        *self == Mutant::RetryWithoutDedup
    }

    fn reuse_read_context(&self) -> bool {
        *self == Mutant::ReadContextReuse
    }

    fn ack_before_sync(&self) -> bool {
        *self == Mutant::AckBeforeSync
    }

    fn apply_before_sync(&self) -> bool {
        *self == Mutant::ApplyBeyondPersisted
    }

    fn match_context_without_term(&self) -> bool {
        *self == Mutant::ProposalContextOnly
    }
}
