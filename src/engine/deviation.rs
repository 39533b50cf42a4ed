//! The replica's test seam: the few points where the simulator's mutants
//! (deliberately broken engines, listed in `src/sim/mutants.rs`) make a
//! [`Replica`](super::Replica) deviate from the real engine, to prove the
//! simulator's checker catches each of them.
//!
//! A replica runs the real engine unless a [`Deviation`] is installed
//! (`Replica::set_test_seam`, crate-private, called only by the simulator);
//! every point then answers "behave correctly". The replica consults the
//! seam in one line per deviation point, each marked `test seam`.
//!
//! Adding a mutant: add a method to [`Deviation`] that defaults to the
//! correct behaviour, a forwarding method to [`TestSeam`], consult it at
//! exactly one point in the replica, and list the mutant in
//! `src/sim/mutants.rs`.

use crate::catalog::Catalog;

/// The points where a deliberately broken replica may deviate. Every method
/// defaults to the correct behaviour.
pub(crate) trait Deviation: Send + Sync {
    /// Skip the fsync of a Ready that must be synced (a new term or vote,
    /// and new entries when `appends_entries`), yet still send the messages
    /// that depend on it.
    fn skip_fsync(&self, appends_entries: bool) -> bool {
        let _ = appends_entries;
        false
    }

    /// Do not check ownership epochs: neither the leader's check before a
    /// transition enters the log, nor the catalog's at apply.
    fn skip_epoch_check(&self) -> bool {
        false
    }

    /// Use the caller's bare read token as the read-index context (as before
    /// contexts carried the peer and a per-incarnation nonce).
    fn reuse_read_context(&self) -> bool {
        false
    }

    /// Ignore client sessions: a retry is applied as a new proposal, before
    /// the log and at apply.
    fn skip_session_check(&self) -> bool {
        false
    }

    /// Send the messages that depend on a Ready's persistence (append
    /// acknowledgements, vote grants) before its writes and fsync.
    fn ack_before_sync(&self) -> bool {
        false
    }

    /// Apply committed entries before they are durable in this replica's
    /// own log (before the Ready that appends them is fsynced).
    fn apply_before_sync(&self) -> bool {
        false
    }

    /// Match a committed entry to a waiting proposal by the peer and
    /// sequence number of its context alone (not its term, not its index).
    fn match_context_without_term(&self) -> bool {
        false
    }
}

/// A replica's seam: no deviation (the real engine) unless the simulator
/// installed one.
#[derive(Default)]
pub(crate) struct TestSeam(Option<Box<dyn Deviation>>);

impl TestSeam {
    /// The seam that deviates as `deviation` says (none: the real engine).
    pub(crate) fn new(deviation: Option<Box<dyn Deviation>>) -> Self {
        Self(deviation)
    }

    /// See [`Deviation::skip_fsync`].
    pub(crate) fn skip_fsync(&self, appends_entries: bool) -> bool {
        self.0
            .as_ref()
            .is_some_and(|d| d.skip_fsync(appends_entries))
    }

    /// See [`Deviation::skip_epoch_check`].
    pub(crate) fn skip_epoch_check(&self) -> bool {
        self.0.as_ref().is_some_and(|d| d.skip_epoch_check())
    }

    /// See [`Deviation::reuse_read_context`].
    pub(crate) fn reuse_read_context(&self) -> bool {
        self.0.as_ref().is_some_and(|d| d.reuse_read_context())
    }

    /// See [`Deviation::skip_session_check`].
    pub(crate) fn skip_session_check(&self) -> bool {
        self.0.as_ref().is_some_and(|d| d.skip_session_check())
    }

    /// See [`Deviation::ack_before_sync`].
    pub(crate) fn ack_before_sync(&self) -> bool {
        self.0.as_ref().is_some_and(|d| d.ack_before_sync())
    }

    /// See [`Deviation::apply_before_sync`].
    pub(crate) fn apply_before_sync(&self) -> bool {
        self.0.as_ref().is_some_and(|d| d.apply_before_sync())
    }

    /// See [`Deviation::match_context_without_term`].
    pub(crate) fn match_context_without_term(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|d| d.match_context_without_term())
    }

    /// Makes `catalog`'s own checks (the epoch rule at apply, the session
    /// table) follow the seam (for a catalog the replica starts using).
    pub(crate) fn configure(&self, catalog: &mut Catalog) {
        catalog.set_skip_epoch_check(self.skip_epoch_check());
        catalog.set_skip_session_check(self.skip_session_check());
    }
}
