//! The change feed: [`Node::watch`] hands out a [`Watch`] that yields every
//! committed catalog entry this member applies, with its outcome, in log
//! order and each exactly once, from a chosen index on; and the member's
//! own role changes.
//!
//! The driver records what it applies (the replica's applied record) and
//! pushes it to a [`Hub`] after publishing the catalog view those entries
//! produced. The hub keeps the most recent events in a ring
//! ([`NodeOptions::watch_history`](super::NodeOptions::watch_history)), so a
//! watch may start in the recent past; one that starts before what the ring
//! covers (the member restarted, installed a snapshot, or the ring moved
//! on) first gets the catalog as of the ring's start
//! ([`WatchItem::Snapshot`]) and then every event after it: never a silent
//! gap. A watcher that falls more than
//! [`NodeOptions::watch_queue`](super::NodeOptions::watch_queue) items
//! behind is cut ([`WatchError::Lagged`], saying where to resume); the
//! driver never waits for a watcher.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
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
    /// The watcher fell too far behind and was cut; watch again from
    /// `resume_from` (nothing before it was missed).
    #[error("the watcher fell more than {limit} items behind and was cut; resume from index {resume_from}")]
    Lagged {
        /// The first event index not delivered.
        resume_from: Index,
        /// The queue bound it passed.
        limit: usize,
    },
    /// The member stopped (with why).
    #[error(transparent)]
    Stopped(ProposeError),
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<WatchItem>,
    /// The index of the next event this watcher is owed (for `Lagged`).
    next_index: Index,
    end: Option<WatchError>,
    dropped: bool,
}

/// One watcher's queue, shared by the hub (which pushes) and the
/// [`Watch`] (which pops).
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    limit: usize,
}

impl Queue {
    /// Queues `item` unless the watcher is gone or cut; false means drop it
    /// from the hub.
    fn push(&self, item: WatchItem) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.dropped || s.end.is_some() {
            return false;
        }
        if s.items.len() >= self.limit {
            // Cut: what is queued stays deliverable, then the error.
            s.end = Some(WatchError::Lagged {
                resume_from: s.next_index,
                limit: self.limit,
            });
            drop(s);
            self.ready.notify_all();
            return false;
        }
        match &item {
            WatchItem::Event(e) => s.next_index = Index(e.index.0 + 1),
            WatchItem::Snapshot(v) => s.next_index = Index(v.applied().0 .0 + 1),
            WatchItem::Role { .. } => {}
        }
        s.items.push_back(item);
        drop(s);
        self.ready.notify_all();
        true
    }

    fn end(&self, why: WatchError) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.end.is_none() {
            s.end = Some(why);
        }
        drop(s);
        self.ready.notify_all();
    }
}

/// A change feed from one member; see the module docs. Dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct Watch {
    queue: Arc<Queue>,
}

impl Watch {
    /// The next item, waiting at most `timeout` (a huge timeout waits as long
    /// as it takes). Items queued before a cut or a stop are delivered
    /// first; then the error, every time.
    pub fn next(&self, timeout: Duration) -> Result<WatchItem, WatchError> {
        let deadline = deadline_after(Instant::now(), timeout);
        let mut s = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(item) = s.items.pop_front() {
                return Ok(item);
            }
            if let Some(e) = &s.end {
                return Err(e.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WatchError::Timeout(timeout));
            }
            s = self
                .queue
                .ready
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The next item if one is queued now.
    pub fn try_next(&self) -> Option<Result<WatchItem, WatchError>> {
        let mut s = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.items.pop_front() {
            Some(item) => Some(Ok(item)),
            None => s.end.clone().map(Err),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut s = self.queue.state.lock().unwrap_or_else(|p| p.into_inner());
        s.dropped = true;
        s.items.clear();
    }
}

/// The member's watch hub: recent history and the live watchers. Locked
/// briefly by the driver (to push) and by `Node::watch` (to subscribe).
#[derive(Debug)]
pub(crate) struct Hub {
    ring: VecDeque<Arc<WatchEvent>>,
    capacity: usize,
    queue_limit: usize,
    /// Every event after this index is in `ring` (or was never an event:
    /// engine entries).
    covered_from: Index,
    /// The view as of the last index pushed.
    view: Arc<CatalogView>,
    watchers: Vec<Arc<Queue>>,
    last_role: Option<(Role, Term, Option<LeaderHint>)>,
    end: Option<WatchError>,
}

impl Hub {
    pub fn new(view: Arc<CatalogView>, capacity: usize, queue_limit: usize) -> Hub {
        Hub {
            ring: VecDeque::new(),
            capacity: capacity.max(1),
            queue_limit: queue_limit.max(1),
            covered_from: view.applied().0,
            view,
            watchers: Vec::new(),
            last_role: None,
            end: None,
        }
    }

    /// A new watcher of every event from index `from` on.
    pub fn subscribe(&mut self, from: Index) -> Watch {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                next_index: from,
                ..QueueState::default()
            }),
            ready: Condvar::new(),
            // The backlog it is handed counts against the bound too.
            limit: self.queue_limit.max(self.ring.len() + 1),
        });
        if let Some(e) = &self.end {
            queue.end(e.clone());
            return Watch { queue };
        }
        if from.0 <= self.covered_from.0 {
            // Before what the ring covers: the catalog as of its start is
            // all there is; the ring's events follow it.
            // (The view as of the ring's start is gone: the latest one
            // reflects the ring's events too, so they are skipped.)
            let start = Arc::clone(&self.view);
            let at = start.applied().0;
            queue.push(WatchItem::Snapshot(start));
            for e in self.ring.iter().filter(|e| e.index > at) {
                queue.push(WatchItem::Event(Arc::clone(e)));
            }
        } else {
            for e in self.ring.iter().filter(|e| e.index >= from) {
                queue.push(WatchItem::Event(Arc::clone(e)));
            }
        }
        if let Some((role, term, leader)) = &self.last_role {
            queue.push(WatchItem::Role {
                role: *role,
                term: *term,
                leader: leader.clone(),
            });
        }
        self.watchers.push(Arc::clone(&queue));
        Watch { queue }
    }

    /// What the driver applied since its last turn, and the view it
    /// published for it.
    pub fn applied(&mut self, applied: Vec<Applied>, view: &Arc<CatalogView>) {
        if applied.is_empty() && Arc::ptr_eq(view, &self.view) {
            return;
        }
        for a in applied {
            match a {
                Applied::Entry {
                    index,
                    term,
                    entry,
                    outcome,
                    ..
                } => {
                    let e = Arc::new(WatchEvent {
                        index,
                        term,
                        entry,
                        outcome,
                    });
                    self.ring.push_back(Arc::clone(&e));
                    if self.ring.len() > self.capacity {
                        if let Some(old) = self.ring.pop_front() {
                            self.covered_from = old.index;
                        }
                    }
                    self.watchers
                        .retain(|w| w.push(WatchItem::Event(Arc::clone(&e))));
                }
                Applied::Engine { .. } => {}
                Applied::Snapshot { index, .. } => {
                    // Everything up to `index` was replaced: the history
                    // before it is gone, and watchers get the new state.
                    self.ring.clear();
                    self.covered_from = index;
                    let v = Arc::clone(view);
                    self.watchers
                        .retain(|w| w.push(WatchItem::Snapshot(Arc::clone(&v))));
                }
            }
        }
        self.view = Arc::clone(view);
    }

    /// The member's role, term or leader as of the driver's last turn.
    pub fn role(&mut self, role: raft::StateRole, term: Term, leader: Option<LeaderHint>) {
        let now = (Role::of(role), term, leader);
        if self.last_role.as_ref() == Some(&now) {
            return;
        }
        self.last_role = Some(now.clone());
        let (role, term, leader) = now;
        self.watchers.retain(|w| {
            w.push(WatchItem::Role {
                role,
                term,
                leader: leader.clone(),
            })
        });
    }

    /// The member stopped: every watcher, present and future, is told why.
    pub fn stop(&mut self, why: ProposeError) {
        let e = WatchError::Stopped(why);
        for w in self.watchers.drain(..) {
            w.end(e.clone());
        }
        self.end = Some(e);
    }
}

impl super::Node {
    /// A change feed of every committed catalog entry this member applies
    /// from index `from` on (use the index after the last one seen to
    /// resume; `Index(0)` or `Index(1)`: from the start of what this member
    /// keeps, as a snapshot), in log order, each once, with its outcome; and
    /// this member's role changes. See [`watch`](self) for the history it
    /// keeps and how a slow watcher is cut. The stopped error on a stopped
    /// member.
    pub fn watch(&self, from: Index) -> Result<Watch, ProposeError> {
        self.running()?;
        Ok(self
            .shared
            .hub
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .subscribe(from))
    }
}
