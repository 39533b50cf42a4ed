//! Reads from the published catalog: [`ReadLevel`], [`Node::read_view`],
//! [`Node::wait_applied`] and [`Node::leader_info`].
//!
//! The driver publishes the applied catalog as an immutable
//! [`CatalogView`] after every applied batch (before it answers the
//! proposals the batch completed). A local read loads it: no lock, no
//! channel, no wait for the driver (which may be inside an fsync). Every
//! view says the log position it reflects ([`CatalogView::applied`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{LeaderHint, Node, ProposeError};
use crate::catalog::CatalogView;
use crate::consensus::deadline_after;
use crate::entry::{Index, Term};

/// How fresh a read must be; what each level promises is in
/// `docs/adr/0008-read-levels.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadLevel {
    /// What this member has applied, now. Never waits; may be behind the
    /// cluster (a follower, a partitioned member), by as much as the index
    /// it returns says.
    Local,
    /// At least this log index applied here: waits (up to the timeout) for
    /// this member to catch up. Read-your-writes across members: pass the
    /// index of a commit to any member.
    AtLeast(Index),
    /// Everything committed before the call began: the leader confirms its
    /// commit index (ReadIndex), this member applies up to it, and the read
    /// is served from that applied state.
    Linearizable,
}

/// The leader as this member knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInfo {
    /// Its identity and address.
    pub hint: LeaderHint,
    /// The term it leads in.
    pub term: Term,
}

impl Node {
    /// The catalog as this member has applied it: wait-free (loads the
    /// published view). Fails only on a stopped member (with why it
    /// stopped).
    pub fn view(&self) -> Result<Arc<CatalogView>, ProposeError> {
        if !self.shared.open.load(Ordering::SeqCst) {
            return Err(self.stopped_error());
        }
        Ok(self.shared.view.load_full())
    }

    /// Runs `f` on the published view without taking a reference to it
    /// (no reference count is touched: readers on many threads share no
    /// cache line but the pointer's); the stopped error on a stopped member.
    pub(super) fn with_view<R>(
        &self,
        f: impl FnOnce(&CatalogView) -> R,
    ) -> Result<R, ProposeError> {
        if !self.shared.open.load(Ordering::Acquire) {
            return Err(self.stopped_error());
        }
        Ok(f(&self.shared.view.load()))
    }

    /// The catalog at `level`, waiting at most `timeout` for it (a
    /// [`ReadLevel::Local`] read never waits). The view says the index and
    /// term it reflects.
    pub fn read_view(
        &self,
        level: ReadLevel,
        timeout: Duration,
    ) -> Result<Arc<CatalogView>, ProposeError> {
        match level {
            ReadLevel::Local => self.view(),
            ReadLevel::AtLeast(index) => self.wait_applied(index, timeout),
            ReadLevel::Linearizable => {
                let started = Instant::now();
                // ReadIndex through the leader; the driver answers once this
                // member applied up to the read index.
                let index = self.read_linearizable(timeout, |_, index| index)?;
                self.wait_applied(index, timeout.saturating_sub(started.elapsed()))
            }
        }
    }

    /// Waits until this member has applied `index` (at most `timeout`) and
    /// returns the catalog as then applied. `Timeout` if it did not catch up
    /// in time (the view it has is older); the stopped error once the member
    /// stops.
    pub fn wait_applied(
        &self,
        index: Index,
        timeout: Duration,
    ) -> Result<Arc<CatalogView>, ProposeError> {
        let deadline = deadline_after(Instant::now(), timeout);
        let mut applied = self
            .shared
            .applied
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            if !self.shared.open.load(Ordering::SeqCst) {
                drop(applied);
                return Err(self.stopped_error());
            }
            if *applied >= index {
                drop(applied);
                return Ok(self.shared.view.load_full());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProposeError::Timeout(timeout));
            }
            applied = self
                .shared
                .applied_changed
                .wait_timeout(applied, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The leader this member knows of, with its address and the term it
    /// leads in; `None` while none is known or once the member stopped.
    pub fn leader_info(&self) -> Option<LeaderInfo> {
        if !self.shared.open.load(Ordering::SeqCst) {
            return None;
        }
        let status = self.status();
        status.leader.map(|hint| LeaderInfo {
            hint,
            term: status.term,
        })
    }
}
