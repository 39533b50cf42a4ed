//! The change feed: [`Node::watch`](super::Node::watch) hands out a [`Watch`] that yields every
//! committed catalog entry this member applies, with its outcome, in log
//! order and each exactly once, from a chosen index on; and the member's
//! own role changes.
//!
//! The driver records what it applies (the replica's applied record) and
//! appends it to the member's hub, a ring of the most recent events
//! ([`NodeOptions::watch_history`](super::NodeOptions::watch_history)),
//! after publishing the catalog view those entries produced, and wakes the
//! watchers with one notification. Each [`Watch`] is a cursor (the next
//! index it owes) that reads the ring itself: the driver does O(1) work per
//! event however many watch, and a watcher costs no memory of its own. A
//! watch may start in the recent past; one whose cursor is before what the
//! ring covers (it started too early, the member restarted or installed a
//! snapshot, or it fell so far behind that the ring moved on) gets the
//! catalog as it is ([`WatchItem::Snapshot`]) and then every event after
//! it: never a silent gap, and a slow watcher is never cut. Role changes
//! are coalesced: a watcher sees the member's latest role.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::catalog::{ApplyOutcome, CatalogView};
use crate::consensus::{deadline_after, LeaderHint, ProposeError};
use crate::engine::replica::Applied;
use crate::entry::{ControlPlaneEntry, Index, Term};

/// One committed catalog entry as this member applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// Its log index.
    pub index: Index,
    /// Its term.
    pub term: Term,
    /// The entry.
    pub entry: ControlPlaneEntry,
    /// What applying it did (the same on every member).
    pub outcome: ApplyOutcome,
}

/// This member's raft role, for [`WatchItem::Role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Campaigns.
    Candidate,
    /// Pre-campaigns (checks it could win before raising the term).
    PreCandidate,
    /// Leads.
    Leader,
}

impl Role {
    fn of(role: raft::StateRole) -> Role {
        match role {
            raft::StateRole::Follower => Role::Follower,
            raft::StateRole::Candidate => Role::Candidate,
            raft::StateRole::PreCandidate => Role::PreCandidate,
            raft::StateRole::Leader => Role::Leader,
        }
    }
}

/// What a [`Watch`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// A committed entry, applied here.
    Event(Arc<WatchEvent>),
    /// The catalog as of [`CatalogView::applied`]: the events before it are
    /// not available here (before this member's history, or replaced by a
    /// snapshot from the leader). The events that follow continue after its
    /// index.
    Snapshot(Arc<CatalogView>),
    /// This member's role or known leader changed (not part of the log).
    Role {
        /// Its role now.
        role: Role,
        /// Its term.
        term: Term,
        /// The leader it knows of.
        leader: Option<LeaderHint>,
    },
}

/// Why a [`Watch`] yields nothing more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// No item within the timeout; the watch goes on.
    #[error("no change within {0:?}")]
    Timeout(Duration),
    /// The member stopped (with why).
    #[error(transparent)]
    Stopped(ProposeError),
}

#[derive(Debug)]
struct HubState {
    /// The most recent events, in index order.
    ring: VecDeque<Arc<WatchEvent>>,
    /// Every event after this index is in `ring` (or was no event: engine
    /// entries).
    covered_from: Index,
    /// The view as of the last index appended.
    view: Arc<CatalogView>,
    /// The member's role, and how many times it changed.
    role: Option<(Role, Term, Option<LeaderHint>)>,
    role_changes: u64,
    end: Option<WatchError>,
    /// The tasks of async watchers waiting for something new, by watcher
    /// id ([`Watch::poll_batch`]); all are woken at every change.
    wakers: HashMap<u64, Waker>,
}

/// The member's watch hub: recent history, shared by every watcher.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<HubState>,
    changed: Condvar,
    capacity: usize,
    next_watcher: AtomicU64,
}

/// A change feed from one member; see the module docs. Cheap: a cursor
/// into the member's history.
#[derive(Debug)]
pub struct Watch {
    hub: Arc<Hub>,
    /// This watcher's key for its waker in the hub.
    id: u64,
    /// The index of the next event owed.
    next_index: Index,
    /// The role changes already reported.
    roles_seen: u64,
}

impl Watch {
    /// The next item, waiting at most `timeout` (a huge timeout waits as long
    /// as it takes). Once the member stopped: the items still owed, then
    /// [`WatchError::Stopped`], every time.
    pub fn next(&mut self, timeout: Duration) -> Result<WatchItem, WatchError> {
        let mut batch = self.next_batch(1, timeout)?;
        batch.pop().ok_or(WatchError::Timeout(timeout))
    }

    /// The next item if one is ready now.
    pub fn try_next(&mut self) -> Option<Result<WatchItem, WatchError>> {
        match self.next_batch(1, Duration::ZERO) {
            Ok(mut b) => b.pop().map(Ok),
            Err(WatchError::Timeout(_)) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Up to `max` items (at least one), waiting at most `timeout` for the
    /// first.
    pub fn next_batch(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<WatchItem>, WatchError> {
        let deadline = deadline_after(Instant::now(), timeout);
        let hub = Arc::clone(&self.hub);
        let mut s = hub.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let batch = self.take(&s, max.max(1));
            if !batch.is_empty() {
                return Ok(batch);
            }
            if let Some(e) = &s.end {
                return Err(e.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WatchError::Timeout(timeout));
            }
            s = hub
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Up to `max` items (at least one) if any are ready; else `Pending`,
    /// with `cx`'s waker woken at the hub's next change (for async
    /// watchers: no thread waits). Once the member stopped: the items
    /// still owed, then [`WatchError::Stopped`], every time.
    pub fn poll_batch(
        &mut self,
        max: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Vec<WatchItem>, WatchError>> {
        let hub = Arc::clone(&self.hub);
        let mut s = hub.state.lock().unwrap_or_else(|p| p.into_inner());
        let batch = self.take(&s, max.max(1));
        if !batch.is_empty() {
            return Poll::Ready(Ok(batch));
        }
        if let Some(e) = &s.end {
            return Poll::Ready(Err(e.clone()));
        }
        // Registered under the lock the hub changes under: a change after
        // this check wakes it.
        match s.wakers.get_mut(&self.id) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                s.wakers.insert(self.id, cx.waker().clone());
            }
        }
        Poll::Pending
    }

    /// What is ready for this cursor in `s`, at most `max` items.
    fn take(&mut self, s: &HubState, max: usize) -> Vec<WatchItem> {
        let mut out = Vec::new();
        if s.role_changes > self.roles_seen {
            self.roles_seen = s.role_changes;
            if let Some((role, term, leader)) = &s.role {
                out.push(WatchItem::Role {
                    role: *role,
                    term: *term,
                    leader: leader.clone(),
                });
            }
        }
        if self.next_index <= s.covered_from && out.len() < max {
            // Before what the history holds: the catalog as it is, then
            // what follows it.
            let at = s.view.applied().0;
            out.push(WatchItem::Snapshot(Arc::clone(&s.view)));
            self.next_index = Index(at.0.saturating_add(1));
        }
        let start = s.ring.partition_point(|e| e.index < self.next_index);
        for e in s.ring.range(start..) {
            if out.len() >= max {
                break;
            }
            out.push(WatchItem::Event(Arc::clone(e)));
            self.next_index = Index(e.index.0.saturating_add(1));
        }
        out
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut s = self.hub.state.lock().unwrap_or_else(|p| p.into_inner());
        s.wakers.remove(&self.id);
    }
}

impl HubState {
    /// Takes the waiting async watchers' wakers (to wake after unlocking).
    fn take_wakers(&mut self) -> Vec<Waker> {
        if self.wakers.is_empty() {
            return Vec::new();
        }
        self.wakers.drain().map(|(_, w)| w).collect()
    }
}

impl Hub {
    /// Wakes what waits for a change: blocked watchers and async ones.
    fn wake(&self, wakers: Vec<Waker>) {
        self.changed.notify_all();
        for w in wakers {
            w.wake();
        }
    }

    pub fn new(view: Arc<CatalogView>, capacity: usize) -> Arc<Hub> {
        Arc::new(Hub {
            state: Mutex::new(HubState {
                ring: VecDeque::new(),
                covered_from: view.applied().0,
                view,
                role: None,
                role_changes: 0,
                end: None,
                wakers: HashMap::new(),
            }),
            changed: Condvar::new(),
            capacity: capacity.max(1),
            next_watcher: AtomicU64::new(0),
        })
    }

    /// A new watcher of every event from index `from` on.
    pub fn subscribe(self: &Arc<Self>, from: Index) -> Watch {
        Watch {
            hub: Arc::clone(self),
            id: self.next_watcher.fetch_add(1, Ordering::Relaxed),
            next_index: from,
            // A new watcher learns the member's role at once.
            roles_seen: 0,
        }
    }

    /// What the driver applied since its last turn, and the view it
    /// published for it.
    pub fn applied(&self, applied: Vec<Applied>, view: &Arc<CatalogView>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if applied.is_empty() && Arc::ptr_eq(view, &s.view) {
            return;
        }
        let mut changed = false;
        for a in applied {
            match a {
                Applied::Entry {
                    index,
                    term,
                    entry,
                    outcome,
                    ..
                } => {
                    s.ring.push_back(Arc::new(WatchEvent {
                        index,
                        term,
                        entry,
                        outcome,
                    }));
                    if s.ring.len() > self.capacity {
                        if let Some(old) = s.ring.pop_front() {
                            s.covered_from = old.index;
                        }
                    }
                    changed = true;
                }
                Applied::Engine { .. } => {}
                Applied::Snapshot { index, .. } => {
                    // Everything up to `index` was replaced: the history
                    // before it is gone; cursors before it get the new state.
                    s.ring.clear();
                    s.covered_from = index;
                    changed = true;
                }
            }
        }
        s.view = Arc::clone(view);
        let wakers = if changed { s.take_wakers() } else { Vec::new() };
        drop(s);
        if changed {
            self.wake(wakers);
        }
    }

    /// The member's role, term or leader as of the driver's last turn.
    pub fn role(&self, role: raft::StateRole, term: Term, leader: Option<LeaderHint>) {
        let now = (Role::of(role), term, leader);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.role.as_ref() == Some(&now) {
            return;
        }
        s.role = Some(now);
        s.role_changes += 1;
        let wakers = s.take_wakers();
        drop(s);
        self.wake(wakers);
    }

    /// The member stopped: every watcher, present and future, is told why
    /// (after the events it is still owed).
    pub fn stop(&self, why: ProposeError) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.end.is_none() {
            s.end = Some(WatchError::Stopped(why));
        }
        let wakers = s.take_wakers();
        drop(s);
        self.wake(wakers);
    }
}

impl super::Node {
    /// A change feed of every committed catalog entry this member applies
    /// from index `from` on (use the index after the last one seen to
    /// resume; `Index(0)` or `Index(1)`: from the start of what this member
    /// keeps, as a snapshot), in log order, each once, with its outcome; and
    /// this member's role changes. See [`watch`](self) for the history it
    /// keeps and what a watcher that starts or falls before it gets. The
    /// stopped error on a stopped member.
    pub fn watch(&self, from: Index) -> Result<Watch, ProposeError> {
        self.running()?;
        Ok(self.shared.hub.subscribe(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, InitialMember};
    use crate::entry::{Epoch, MemberKind, NodeId, OwnershipTransition};
    use proptest::prelude::*;

    /// One step of the driver or of a watcher.
    #[derive(Debug, Clone)]
    enum Step {
        /// The driver applied this many entries (and an engine entry after
        /// every third).
        Apply(u8),
        /// A snapshot from the leader replaced what is applied, this many
        /// entries ahead.
        Snapshot(u8),
        /// Watcher `w` reads up to this many items.
        Read(u8, u8),
        /// A new watcher starts this far back from the next index.
        Start(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (1u8..6).prop_map(Step::Apply),
            1 => (1u8..20).prop_map(Step::Snapshot),
            4 => (0u8..4, 1u8..8).prop_map(|(w, n)| Step::Read(w, n)),
            1 => (0u8..30).prop_map(Step::Start),
        ]
    }

    /// What a watcher has seen: the events in order, or a snapshot that
    /// covers everything up to its index.
    #[derive(Default)]
    struct Seen {
        /// Every index it is owed from (its start).
        from: u64,
        /// The indexes delivered or covered by a snapshot.
        covered: u64,
        last_event: u64,
    }

    proptest! {
        /// Whatever the driver appends (with snapshots that replace the
        /// history) and however watchers start and lag behind a small
        /// history, each watcher's events come in increasing index order,
        /// once, and every event after its start is either delivered or
        /// covered by a snapshot it was handed: never skipped silently.
        #[test]
        fn watchers_never_miss_or_repeat_an_event(steps in proptest::collection::vec(step(), 1..120)) {
            let a = NodeId::from_certificate_subject("CN=a").unwrap();
            let mut catalog = Catalog::bootstrap(&[InitialMember {
                id: a.clone(),
                kind: MemberKind::Data,
                address: "127.0.0.1:1".parse().unwrap(),
            }])
            .unwrap();
            let hub = Hub::new(Arc::new(catalog.view()), 5);
            let mut index = catalog.applied().0 .0;
            let mut events: Vec<u64> = Vec::new();
            let mut watchers: Vec<(Watch, Seen)> = Vec::new();
            for s in steps {
                match s {
                    Step::Apply(n) => {
                        let mut applied = Vec::new();
                        for _ in 0..n {
                            index += 1;
                            if index.is_multiple_of(3) {
                                catalog.skip(Index(index), Term(1)).unwrap();
                                applied.push(Applied::Engine { index: Index(index), term: Term(1) });
                                continue;
                            }
                            let entry = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                                range: format!("r{index}").parse().unwrap(),
                                new_owner: a.clone(),
                                epoch: Epoch(1),
                            });
                            let outcome = catalog.apply(Index(index), Term(1), &entry).unwrap();
                            applied.push(Applied::Entry {
                                index: Index(index),
                                term: Term(1),
                                entry,
                                session: None,
                                outcome,
                            });
                            events.push(index);
                        }
                        hub.applied(applied, &Arc::new(catalog.view()));
                    }
                    Step::Snapshot(n) => {
                        // The entries the snapshot covers are never seen as
                        // events here.
                        index += u64::from(n);
                        catalog.skip(Index(index), Term(1)).unwrap();
                        hub.applied(
                            vec![Applied::Snapshot { index: Index(index), term: Term(1) }],
                            &Arc::new(catalog.view()),
                        );
                    }
                    Step::Start(back) => {
                        let from = (index + 1).saturating_sub(u64::from(back));
                        watchers.push((
                            hub.subscribe(Index(from)),
                            Seen { from, covered: from.saturating_sub(1), last_event: 0 },
                        ));
                    }
                    Step::Read(w, n) => {
                        let Some((watch, seen)) = watchers.get_mut(usize::from(w)) else { continue };
                        let items = match watch.next_batch(usize::from(n), Duration::ZERO) {
                            Ok(items) => items,
                            Err(WatchError::Timeout(_)) => continue,
                            Err(e) => panic!("{e}"),
                        };
                        for item in items {
                            match item {
                                WatchItem::Event(e) => {
                                    let i = e.index.0;
                                    prop_assert!(i > seen.last_event, "repeat or out of order: {} after {}", i, seen.last_event);
                                    prop_assert!(i >= seen.from);
                                    // Nothing between what was covered and this event
                                    // was an event.
                                    let skipped: Vec<u64> = events
                                        .iter()
                                        .copied()
                                        .filter(|x| *x > seen.covered && *x < i)
                                        .collect();
                                    prop_assert!(skipped.is_empty(), "skipped {:?} before {}", skipped, i);
                                    seen.last_event = i;
                                    seen.covered = i;
                                }
                                WatchItem::Snapshot(v) => {
                                    let at = v.applied().0 .0;
                                    prop_assert!(at >= seen.covered);
                                    seen.covered = at;
                                    seen.last_event = seen.last_event.max(at);
                                }
                                WatchItem::Role { .. } => {}
                            }
                        }
                    }
                }
            }
            // Drained, every watcher covers everything applied.
            for (watch, seen) in &mut watchers {
                while let Ok(items) = watch.next_batch(64, Duration::ZERO) {
                    for item in items {
                        match item {
                            WatchItem::Event(e) => {
                                prop_assert!(e.index.0 > seen.last_event);
                                let skipped = events.iter().any(|x| *x > seen.covered && *x < e.index.0);
                                prop_assert!(!skipped);
                                seen.last_event = e.index.0;
                                seen.covered = e.index.0;
                            }
                            WatchItem::Snapshot(v) => {
                                seen.covered = v.applied().0 .0;
                                seen.last_event = seen.last_event.max(seen.covered);
                            }
                            WatchItem::Role { .. } => {}
                        }
                    }
                }
                let last_event = events.last().copied().unwrap_or(0);
                prop_assert!(seen.covered >= last_event.max(seen.from.saturating_sub(1)) || last_event < seen.from);
            }
        }
    }
}
