//! The change feed in C: `synod_node_watch` runs a `synod::node::watch::Watch`
//! on a library thread of its own and hands each item to the caller's
//! callback as a borrowed `synod_watch_event`; `synod_watch_cancel` and
//! `synod_watch_free` stop it, and a node's shutdown ends every watch on it.
//!
//! What it promises, beyond the core's feed (every committed entry once, in
//! log order, a snapshot where history is missing, role changes): the
//! callback runs on that watch's thread only, one call at a time, so a slow
//! callback holds back its own watch and nothing else; the free function
//! runs exactly once, after the last callback, and before
//! `synod_watch_cancel`, `synod_watch_free` or `synod_node_shutdown` returns
//! (whichever ends the watch), except when a callback cancels its own watch,
//! where it runs right after that callback returns. A watch ended by its
//! node (shut down, or stopped on its own) gets one last
//! `SYNOD_WATCH_END` event saying why; a cancelled one does not.
//!
//! The thread waits for items parked, woken by the core's feed
//! (`Watch::poll_batch` with a waker that unparks it) or by a cancellation
//! or shutdown (which unpark it too): a cancel returns as soon as the
//! running callback does.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use synod::catalog::ApplyOutcome;
use synod::node::watch::{Role, Watch, WatchError, WatchEvent, WatchItem};
use synod::{ControlPlaneEntry, Index, LeaderHint, MembershipChange, RangeId};

use super::handle::{node_arg, parsed_arg, running_member, synod_node, write_out, EndsWithNode};
use super::propose::synod_free_callback;
use super::reads::synod_view;
use super::values::{kind_out, synod_member_kind, synod_role, watch_role_out};
use crate::error::{
    synod_refusal_code, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT, SYNOD_ERR_SHUTDOWN,
    SYNOD_ERR_START,
};

/// The longest the watch thread stays parked without a wake (a safety net:
/// every change and every cancellation unparks it).
const PARK: Duration = Duration::from_secs(1);
/// At most this many items are taken from the feed at once.
const BATCH: usize = 64;

/// What a `synod_watch_event` is. 0 is never a kind.
pub type synod_watch_kind = u32;
/// A committed ownership transition, plain or forced (`forced`): `range`,
/// `owner`, `epoch`, and for a forced one `operator_id` and `reason`.
pub const SYNOD_WATCH_TRANSITION: synod_watch_kind = 1;
/// A committed membership change: `member`, `member_change`, and for an
/// admission `member_kind` and `address`.
pub const SYNOD_WATCH_MEMBERSHIP: synod_watch_kind = 2;
/// A committed leader configuration (the record of an election):
/// `leader_id` and `leader_term`.
pub const SYNOD_WATCH_LEADER_CONFIGURATION: synod_watch_kind = 3;
/// The entries before `index` are not available as events here (the watch
/// started before this member's history, fell behind it, or the member
/// installed a snapshot): re-read the catalog as of `index` (`view` is it,
/// borrowed for the call). Events continue after `index`.
pub const SYNOD_WATCH_SNAPSHOT: synod_watch_kind = 4;
/// This member's role, term or known leader changed (not a log entry;
/// coalesced, so the latest one counts): `role`, `term`, `leader_id`,
/// `leader_address`.
pub const SYNOD_WATCH_ROLE: synod_watch_kind = 5;
/// The last event of a watch its node ended: `status` says why
/// (`SYNOD_ERR_SHUTDOWN` for a shutdown or the member's removal,
/// `SYNOD_ERR_STORAGE` for a storage failure), and this thread's last error
/// says it in words during the call. Never sent to a cancelled watch.
pub const SYNOD_WATCH_END: synod_watch_kind = 6;

/// What applying a committed entry did, the same on every member. 0 (for
/// events that are not entries) is never an outcome.
pub type synod_watch_outcome = u32;
/// The entry changed the catalog, now at `version`.
pub const SYNOD_OUTCOME_APPLIED: synod_watch_outcome = 1;
/// The entry was valid and already in effect (an idempotent repeat).
pub const SYNOD_OUTCOME_UNCHANGED: synod_watch_outcome = 2;
/// The catalog refused the entry (`refusal` says why); nothing changed.
pub const SYNOD_OUTCOME_REFUSED: synod_watch_outcome = 3;
/// A retry of a proposal already applied in the same client session:
/// nothing changed now; `refusal` and `version` are what the first did.
pub const SYNOD_OUTCOME_REPEAT: synod_watch_outcome = 4;
/// A retry whose client session is older than the catalog remembers:
/// nothing changed now, and whether the first attempt took effect is not
/// known.
pub const SYNOD_OUTCOME_RETRY_TOO_OLD: synod_watch_outcome = 5;

/// Which membership change a `SYNOD_WATCH_MEMBERSHIP` event is. 0 is never
/// one.
pub type synod_membership_change = u32;
/// The member was admitted (`member_kind`, `address`).
pub const SYNOD_MEMBERSHIP_ADMIT: synod_membership_change = 1;
/// The member began to drain.
pub const SYNOD_MEMBERSHIP_BEGIN_DRAIN: synod_membership_change = 2;
/// The member was removed.
pub const SYNOD_MEMBERSHIP_REMOVE: synod_membership_change = 3;

/// One item of a watch, borrowed by its callback for the duration of the
/// call (every pointer in it too). Fields that do not apply to its `kind`
/// are 0, false or NULL.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_watch_event {
    /// What this is (`SYNOD_WATCH_*`).
    pub kind: synod_watch_kind,
    /// A log entry's index; for `SYNOD_WATCH_SNAPSHOT` the index the
    /// catalog is at.
    pub index: u64,
    /// A log entry's term; for `SYNOD_WATCH_SNAPSHOT` the term of the entry
    /// at `index`; for `SYNOD_WATCH_ROLE` the member's current term.
    pub term: u64,
    /// For entries: what applying it did (`SYNOD_OUTCOME_*`).
    pub outcome: synod_watch_outcome,
    /// For a refused entry (or the repeat of one): why.
    pub refusal: synod_refusal_code,
    /// For an entry that applied or was already in effect (or the repeat of
    /// one): the catalog version after it.
    pub version: u64,
    /// `SYNOD_WATCH_TRANSITION`: the range.
    pub range: *const c_char,
    /// `SYNOD_WATCH_TRANSITION`: the new owner.
    pub owner: *const c_char,
    /// `SYNOD_WATCH_TRANSITION`: the epoch a plain transition named; for a
    /// forced one, the epoch it moved the range to (0 if it was refused).
    pub epoch: u64,
    /// `SYNOD_WATCH_TRANSITION`: an operator's forced transition.
    pub forced: bool,
    /// A forced transition: the operator who forced it.
    pub operator_id: *const c_char,
    /// A forced transition: why.
    pub reason: *const c_char,
    /// `SYNOD_WATCH_MEMBERSHIP`: the member.
    pub member: *const c_char,
    /// `SYNOD_WATCH_MEMBERSHIP`: which change.
    pub member_change: synod_membership_change,
    /// An admission: the member's kind.
    pub member_kind: synod_member_kind,
    /// An admission: the member's peer address.
    pub address: *const c_char,
    /// `SYNOD_WATCH_ROLE`: the member's role (`SYNOD_ROLE_*`).
    pub role: synod_role,
    /// `SYNOD_WATCH_ROLE`: the leader it knows of (NULL: none);
    /// `SYNOD_WATCH_LEADER_CONFIGURATION`: the elected leader.
    pub leader_id: *const c_char,
    /// `SYNOD_WATCH_ROLE`: that leader's address (NULL: not known).
    pub leader_address: *const c_char,
    /// `SYNOD_WATCH_LEADER_CONFIGURATION`: the term that elected the leader.
    pub leader_term: u64,
    /// `SYNOD_WATCH_SNAPSHOT`: the catalog as of `index`, borrowed for the
    /// call (read it with the `synod_view_*` functions; never free it).
    pub view: *const synod_view,
    /// `SYNOD_WATCH_END`: why the watch ended.
    pub status: synod_status,
}

/// Called with each item of a watch, on that watch's own library thread,
/// one call at a time and in order. `user_data` is the pointer given to
/// `synod_node_watch`; `event` and everything it points to are valid during
/// the call only.
///
/// A callback may call any read function on any node (`synod_node_read`,
/// `synod_node_owner`, ...), blocking ones included, and proposals;
/// `synod_watch_cancel` and `synod_watch_free` on its own watch (then no
/// callback of it runs after this one returns, and its free function runs
/// right after) or on another (which waits for that one's callback).
/// It must not call `synod_node_shutdown` on the node of its watch (which
/// returns `SYNOD_ERR_INVALID_ARGUMENT` and does nothing) nor
/// `synod_node_free` on it. A slow callback holds back its own watch only:
/// one that falls behind the member's history gets `SYNOD_WATCH_SNAPSHOT`.
pub type synod_watch_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const synod_watch_event)>;

/// A running change feed: made by `synod_node_watch`.
///
/// `synod_watch_cancel` may be called from any thread, any number of times;
/// `synod_watch_free` exactly once, not racing with other calls on the same
/// handle. The handle stays valid until freed, also after its watch ended
/// and after its node was shut down or freed.
pub struct synod_watch {
    shared: Arc<WatchShared>,
}

/// What a watch's handle, its node and its thread share.
pub struct WatchShared {
    /// The caller cancelled it: no further callback, no final event.
    cancelled: AtomicBool,
    /// Its node is shutting down: a final `SYNOD_WATCH_END`, then the end.
    node_stopping: AtomicBool,
    /// The watch's thread, to unpark when something changes.
    waiter: std::sync::OnceLock<std::thread::Thread>,
    state: Mutex<ThreadState>,
    ended: Condvar,
}

struct ThreadState {
    /// The thread, until someone joins it.
    thread: Option<JoinHandle<()>>,
    /// The thread called the free function and will call nothing more.
    done: bool,
}

impl WatchShared {
    fn done(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).done
    }

    /// Unparks the watch's thread (to look at its flags and its feed).
    fn wake(&self) {
        if let Some(t) = self.waiter.get() {
            t.unpark();
        }
    }

    /// Waits until the thread has run its last callback and the free
    /// function; returns at once on the watch's own thread (its callback is
    /// running: the rest happens when it returns).
    fn wait_ended(&self) {
        if on_thread_of(self) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(thread) = state.thread.take() {
            drop(state);
            // Its callbacks run inside `catch_unwind`: it does not panic.
            let _ = thread.join();
            return;
        }
        while !state.done {
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

thread_local! {
    /// The watch whose thread this is (NULL elsewhere): compared, never
    /// dereferenced.
    static WATCH_OF_THREAD: Cell<*const WatchShared> = const { Cell::new(std::ptr::null()) };
    /// The node of that watch (NULL elsewhere): compared, never
    /// dereferenced.
    static NODE_OF_THREAD: Cell<*const synod_node> = const { Cell::new(std::ptr::null()) };
}

fn on_thread_of(shared: &WatchShared) -> bool {
    WATCH_OF_THREAD
        .try_with(|c| std::ptr::eq(c.get(), shared))
        .unwrap_or(false)
}

impl EndsWithNode for WatchShared {
    fn node_stopping(&self) {
        self.node_stopping.store(true, Ordering::SeqCst);
        self.wake();
    }

    fn wait_ended(&self) {
        WatchShared::wait_ended(self);
    }

    fn ended(&self) -> bool {
        self.done()
    }
}

/// Whether this thread is a watch thread of `node` (inside its callback).
pub(super) fn in_watch_of(node: *const synod_node) -> bool {
    NODE_OF_THREAD
        .try_with(|c| !node.is_null() && c.get() == node)
        .unwrap_or(false)
}

/// Ends every watch of `node` (its shutdown or free): each gets its final
/// `SYNOD_WATCH_END` and its free function before this returns. Called after
/// the member stopped, so the final callbacks see it stopped.
pub(super) fn end_watches(node: &synod_node) {
    let watches = std::mem::take(&mut *node.watches.lock().unwrap_or_else(|p| p.into_inner()));
    for w in &watches {
        w.node_stopping();
    }
    for w in &watches {
        w.wait_ended();
    }
}

/// The caller's callback, user data and its release: the free function runs
/// exactly once, when this is dropped (on the watch thread when it ends, or
/// at once when the watch could not start). A node's and a client's watch
/// (`client::watch`) hold one each.
pub(crate) struct WatchRegistration {
    callback: unsafe extern "C" fn(*mut c_void, *const synod_watch_event),
    user_data: *mut c_void,
    free: synod_free_callback,
}

// SAFETY: the caller hands user_data over to the library for the watch's
// lifetime; the header says the callback and the free function run on the
// watch's own thread.
unsafe impl Send for WatchRegistration {}

impl WatchRegistration {
    /// The registration of `callback`; with no callback, `user_data` is
    /// released here and the NULL-argument error returned.
    pub(crate) fn new(
        callback: synod_watch_callback,
        user_data: *mut c_void,
        free: synod_free_callback,
    ) -> Result<Self, Error> {
        let Some(callback) = callback else {
            if let Some(free) = free {
                // SAFETY: the caller's release function, called exactly once.
                unsafe { free(user_data) };
            }
            return Err(Error::null("callback"));
        };
        Ok(Self {
            callback,
            user_data,
            free,
        })
    }

    /// Calls the callback with `event`. A C callback does not unwind;
    /// should a panic come through it, the watch thread survives it.
    pub(crate) fn call(&self, event: &synod_watch_event) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: the caller's callback with its own user data; the event
            // and its strings live until it returns.
            unsafe { (self.callback)(self.user_data, event) }
        }));
    }
}

impl Drop for WatchRegistration {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller's release function, called exactly once.
            unsafe { free(self.user_data) };
        }
    }
}

/// What runs on a watch's thread.
struct Feed {
    watch: Watch,
    member: Arc<synod::Node>,
    range: Option<RangeId>,
    registration: WatchRegistration,
    shared: Arc<WatchShared>,
    /// Compared, never dereferenced (see `NODE_OF_THREAD`).
    node: usize,
}

/// The strings an event points into, kept alive for the call.
#[derive(Default)]
pub(crate) struct Texts(Vec<CString>);

impl Texts {
    pub(crate) fn add(&mut self, s: &str) -> *const c_char {
        // An interior NUL cannot occur in validated names and addresses;
        // should it, the field is NULL rather than a cut string.
        match CString::new(s) {
            Ok(c) => {
                let p = c.as_ptr();
                self.0.push(c);
                p
            }
            Err(_) => std::ptr::null(),
        }
    }
}

pub(crate) fn empty_event(kind: synod_watch_kind) -> synod_watch_event {
    synod_watch_event {
        kind,
        index: 0,
        term: 0,
        outcome: 0,
        refusal: 0,
        version: 0,
        range: std::ptr::null(),
        owner: std::ptr::null(),
        epoch: 0,
        forced: false,
        operator_id: std::ptr::null(),
        reason: std::ptr::null(),
        member: std::ptr::null(),
        member_change: 0,
        member_kind: 0,
        address: std::ptr::null(),
        role: 0,
        leader_id: std::ptr::null(),
        leader_address: std::ptr::null(),
        leader_term: 0,
        view: std::ptr::null(),
        status: 0,
    }
}

/// (outcome, refusal, version) of an applied entry.
pub(crate) fn outcome_out(o: &ApplyOutcome) -> (synod_watch_outcome, synod_refusal_code, u64) {
    match o {
        ApplyOutcome::Applied { version } => (SYNOD_OUTCOME_APPLIED, 0, version.get()),
        ApplyOutcome::Unchanged { version } => (SYNOD_OUTCOME_UNCHANGED, 0, version.get()),
        ApplyOutcome::Refused(r) => (SYNOD_OUTCOME_REFUSED, r.code(), 0),
        ApplyOutcome::Repeat(first) => {
            let (_, refusal, version) = outcome_out(&first.outcome);
            (SYNOD_OUTCOME_REPEAT, refusal, version)
        }
        ApplyOutcome::RetryTooOld => (SYNOD_OUTCOME_RETRY_TOO_OLD, 0, 0),
    }
}

/// The event of a role change (its leader's strings in `texts`).
pub(crate) fn role_event(
    role: Role,
    term: synod::Term,
    leader: Option<&LeaderHint>,
    texts: &mut Texts,
) -> synod_watch_event {
    let mut event = empty_event(SYNOD_WATCH_ROLE);
    event.role = watch_role_out(role);
    event.term = term.get();
    if let Some(l) = leader {
        event.leader_id = texts.add(l.id.as_str());
        if let Some(a) = &l.address {
            event.leader_address = texts.add(a.as_str());
        }
    }
    event
}

/// The range an entry moves, if it moves one (what a range filter reads).
pub(crate) fn entry_range(entry: &ControlPlaneEntry) -> Option<&RangeId> {
    match entry {
        ControlPlaneEntry::OwnershipTransition(t) => Some(&t.range),
        ControlPlaneEntry::ForcedOwnershipTransition(f) => Some(&f.range),
        _ => None,
    }
}

/// The event of the committed entry at (`index`, `term`) with its outcome,
/// its strings in `texts`. A forced transition names no epoch: its `epoch`
/// is 0 here, for the caller to fill.
pub(crate) fn entry_event(
    index: Index,
    term: synod::Term,
    entry: &ControlPlaneEntry,
    outcome: &ApplyOutcome,
    texts: &mut Texts,
) -> synod_watch_event {
    let mut event = empty_event(0);
    event.index = index.get();
    event.term = term.get();
    (event.outcome, event.refusal, event.version) = outcome_out(outcome);
    match entry {
        ControlPlaneEntry::OwnershipTransition(t) => {
            event.kind = SYNOD_WATCH_TRANSITION;
            event.range = texts.add(t.range.as_str());
            event.owner = texts.add(t.new_owner.as_str());
            event.epoch = t.epoch.get();
        }
        ControlPlaneEntry::ForcedOwnershipTransition(f) => {
            event.kind = SYNOD_WATCH_TRANSITION;
            event.forced = true;
            event.range = texts.add(f.range.as_str());
            event.owner = texts.add(f.new_owner.as_str());
            event.operator_id = texts.add(f.operator.as_str());
            event.reason = texts.add(f.reason.as_str());
        }
        ControlPlaneEntry::Membership(m) => {
            event.kind = SYNOD_WATCH_MEMBERSHIP;
            event.member = texts.add(m.member().as_str());
            event.member_change = match m {
                MembershipChange::Admit { kind, address, .. } => {
                    event.member_kind = kind_out(*kind);
                    event.address = texts.add(address.as_str());
                    SYNOD_MEMBERSHIP_ADMIT
                }
                MembershipChange::BeginDrain { .. } => SYNOD_MEMBERSHIP_BEGIN_DRAIN,
                MembershipChange::Remove { .. } => SYNOD_MEMBERSHIP_REMOVE,
            };
        }
        ControlPlaneEntry::LeaderConfiguration { term, leader } => {
            event.kind = SYNOD_WATCH_LEADER_CONFIGURATION;
            event.leader_id = texts.add(leader.as_str());
            event.leader_term = term.get();
        }
    }
    event
}

/// Wakes a watch thread parked for its feed.
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl Feed {
    fn run(mut self) {
        let _ = self.shared.waiter.set(std::thread::current());
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let _ = WATCH_OF_THREAD.try_with(|c| c.set(Arc::as_ptr(&self.shared)));
        let _ = NODE_OF_THREAD.try_with(|c| c.set(self.node as *const synod_node));
        'feed: loop {
            if self.shared.cancelled.load(Ordering::SeqCst) {
                break;
            }
            if self.shared.node_stopping.load(Ordering::SeqCst) {
                let why = match synod::ControlPlaneConsensus::check_running(&*self.member) {
                    Err(e) => Error::from(e),
                    Ok(()) => Error::new(SYNOD_ERR_SHUTDOWN, "the node is shutting down"),
                };
                self.end(why);
                break;
            }
            let polled = self.watch.poll_batch(BATCH, &mut cx);
            let std::task::Poll::Ready(batch) = polled else {
                // Unparked by the feed's waker, a cancellation or shutdown
                // (an unpark that came first is not lost).
                std::thread::park_timeout(PARK);
                continue;
            };
            match batch {
                Ok(items) => {
                    for item in items {
                        if self.shared.cancelled.load(Ordering::SeqCst)
                            || self.shared.node_stopping.load(Ordering::SeqCst)
                        {
                            continue 'feed;
                        }
                        self.deliver(item);
                    }
                }
                Err(WatchError::Timeout(_)) => {}
                Err(WatchError::Stopped(e)) => {
                    self.end(Error::from(e));
                    break;
                }
            }
        }
        let Feed {
            registration,
            shared,
            member,
            ..
        } = self;
        // The free function, after the last callback.
        drop(registration);
        drop(member);
        let _ = WATCH_OF_THREAD.try_with(|c| c.set(std::ptr::null()));
        let _ = NODE_OF_THREAD.try_with(|c| c.set(std::ptr::null()));
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.done = true;
        drop(state);
        shared.ended.notify_all();
    }

    /// The final event of a watch its node ended (none once cancelled).
    fn end(&self, why: Error) {
        if self.shared.cancelled.load(Ordering::SeqCst) {
            return;
        }
        let mut event = empty_event(SYNOD_WATCH_END);
        // The thread's last error says why during the call.
        event.status = crate::error::record(why);
        self.call(&event);
    }

    fn call(&self, event: &synod_watch_event) {
        self.registration.call(event);
    }

    fn deliver(&self, item: WatchItem) {
        let mut texts = Texts::default();
        match item {
            WatchItem::Event(e) => {
                if let Some(event) = self.entry_event(&e, &mut texts) {
                    self.call(&event);
                }
            }
            WatchItem::Snapshot(view) => {
                let (index, term) = view.applied();
                let borrowed = synod_view { view };
                let mut event = empty_event(SYNOD_WATCH_SNAPSHOT);
                event.index = index.get();
                event.term = term.get();
                event.view = &borrowed;
                self.call(&event);
            }
            WatchItem::Role { role, term, leader } => {
                self.call(&role_event(role, term, leader.as_ref(), &mut texts));
            }
        }
    }

    /// The event of a committed entry, or `None` when the filter skips it.
    fn entry_event(&self, e: &WatchEvent, texts: &mut Texts) -> Option<synod_watch_event> {
        if let Some(want) = &self.range {
            if entry_range(&e.entry) != Some(want) {
                return None;
            }
        }
        let mut event = entry_event(e.index, e.term, &e.entry, &e.outcome, texts);
        if let ControlPlaneEntry::ForcedOwnershipTransition(_) = &e.entry {
            // The audit record of its index says the epoch it moved the
            // range to (none if refused).
            event.epoch = self.forced_epoch(e.index);
        }
        Some(event)
    }

    fn forced_epoch(&self, index: Index) -> u64 {
        let Ok(view) = self.member.view() else {
            return 0;
        };
        view.audit_log()
            .iter()
            .rev()
            .find(|r| r.index == index)
            .map_or(0, |r| r.epoch.get())
    }
}

/// Starts a change feed of this started member: every committed catalog
/// entry it applies from log index `from_index` on, in log order and each
/// once, with its outcome; its role changes; `SYNOD_WATCH_SNAPSHOT` where
/// entries are not available (`from_index` 0 or 1, or before the member's
/// history: the catalog first, then what follows it). To resume after the
/// last event seen, pass its index plus one. With `range` not NULL, only
/// the transitions (plain and forced) of that range are delivered, plus the
/// snapshot, role and end events; NULL delivers everything.
///
/// `callback` runs on the watch's own library thread (see
/// `synod_watch_callback`). `free_user_data` (if not NULL) releases
/// `user_data` exactly once: after the last callback, when the watch is
/// cancelled (`synod_watch_cancel`, `synod_watch_free`) or its node ended it.
/// A node's shutdown (`synod_node_shutdown`, `synod_node_free`) and a
/// member that stops on its own (removed, storage failure) end every watch
/// on it with one last `SYNOD_WATCH_END` event; a shutdown returns only
/// after those callbacks and free functions ran, and no callback of the
/// watch runs after that.
///
/// Returns `SYNOD_OK` and writes a new `synod_watch` to `*out`, which the
/// caller owns and frees with `synod_watch_free` (whether or not the watch
/// has ended). On failure the callback never runs, `free_user_data` is
/// called before this returns, and `*out` is untouched:
/// `SYNOD_ERR_NULL_ARGUMENT` (`node`, `callback`, `out`),
/// `SYNOD_ERR_INVALID_ARGUMENT` (a `range` the core refuses; a single-node
/// engine), `SYNOD_ERR_SHUTDOWN` once shutdown began or the member stopped,
/// `SYNOD_ERR_STORAGE` once it stopped on a storage failure,
/// `SYNOD_ERR_START` when the system refused a new thread. Thread-safe; may
/// be called from a callback.
#[no_mangle]
pub unsafe extern "C" fn synod_node_watch(
    node: *const synod_node,
    from_index: u64,
    range: *const c_char,
    callback: synod_watch_callback,
    user_data: *mut c_void,
    free_user_data: synod_free_callback,
    out: *mut *mut synod_watch,
) -> synod_status {
    ffi_boundary!(status "synod_node_watch", {
        // From here on the registration owns user_data: dropping it on any
        // early return releases it exactly once.
        let registration = WatchRegistration::new(callback, user_data, free_user_data)?;
        let raw = node;
        let node = unsafe { node_arg(node)? };
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let range: Option<RangeId> = if range.is_null() {
            None
        } else {
            Some(unsafe { parsed_arg(range, "range")? })
        };
        let member = running_member(node, "synod_node_watch")?;
        // Registered under the list's lock, so a shutdown either refuses
        // this watch or finds it and ends it.
        let mut watches = node.watches.lock().unwrap_or_else(|p| p.into_inner());
        if node.shut_down.load(Ordering::SeqCst) {
            return Err(Error::new(SYNOD_ERR_SHUTDOWN, "the node is shut down"));
        }
        watches.retain(|w| !w.ended());
        let watch = member.watch(Index(from_index))?;
        let shared = Arc::new(WatchShared {
            cancelled: AtomicBool::new(false),
            node_stopping: AtomicBool::new(false),
            waiter: std::sync::OnceLock::new(),
            state: Mutex::new(ThreadState {
                thread: None,
                done: false,
            }),
            ended: Condvar::new(),
        });
        let feed = Feed {
            watch,
            member: Arc::clone(member),
            range,
            registration,
            shared: Arc::clone(&shared),
            node: raw as usize,
        };
        // Should the thread not start, the closure (and the registration in
        // it) is dropped: the free function runs here.
        let thread = std::thread::Builder::new()
            .name(format!("synod-watch-{}", member_name(node)))
            .spawn(move || feed.run())
            .map_err(|e| Error::new(SYNOD_ERR_START, format!("could not start the watch thread: {e}")))?;
        shared.state.lock().unwrap_or_else(|p| p.into_inner()).thread = Some(thread);
        watches.push(Arc::clone(&shared) as Arc<dyn EndsWithNode>);
        drop(watches);
        unsafe { write_out(out, Box::into_raw(Box::new(synod_watch { shared }))) };
        Ok(())
    })
}

fn member_name(node: &synod_node) -> String {
    node.id.to_string_lossy().into_owned()
}

/// Stops a watch: no callback of it starts after this returns, and its free
/// function has run by then. Called on another thread, it waits for a
/// running callback of the watch to return; called from the watch's own callback, it
/// returns at once, no callback runs after the current one, and the free
/// function runs as soon as the current callback returns. No
/// `SYNOD_WATCH_END` event is sent for a cancelled watch.
///
/// Returns `SYNOD_OK`, also for a watch that already ended (cancelled, or
/// ended by its node: nothing more happens), or `SYNOD_ERR_NULL_ARGUMENT`.
/// Does not free `watch`: the caller still frees it with `synod_watch_free`.
/// Thread-safe: any thread, any number of times, before `synod_watch_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_watch_cancel(watch: *const synod_watch) -> synod_status {
    ffi_boundary!(status "synod_watch_cancel", {
        // SAFETY: NULL or a live handle (caller contract).
        let watch = unsafe { watch.as_ref() }.ok_or_else(|| Error::null("watch"))?;
        watch.shared.cancelled.store(true, Ordering::SeqCst);
        watch.shared.wake();
        watch.shared.wait_ended();
        Ok(())
    })
}

/// Cancels the watch as `synod_watch_cancel` does (unless it already ended)
/// and frees its handle; `synod_watch_free(NULL)` does nothing.
///
/// Takes ownership of `watch`, which must come from `synod_node_watch` and
/// not be used again. Allowed from the watch's own callback (then the watch
/// ends when that callback returns), and before or after its node is shut
/// down or freed.
#[no_mangle]
pub unsafe extern "C" fn synod_watch_free(watch: *mut synod_watch) {
    ffi_boundary!(value "synod_watch_free", (), {
        if !watch.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            let watch = unsafe { Box::from_raw(watch) };
            watch.shared.cancelled.store(true, Ordering::SeqCst);
            watch.shared.wake();
            watch.shared.wait_ended();
        }
    })
}

/// Refuses a shutdown from a watch callback of the same node (it would wait
/// for that very callback).
pub(super) fn refuse_shutdown_from_watch(node: *const synod_node) -> Result<(), Error> {
    if in_watch_of(node) {
        return Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            "synod_node_shutdown was called from a watch callback of the same node, which \
             shutdown waits for: cancel the watch, or shut down from another thread",
        ));
    }
    Ok(())
}
