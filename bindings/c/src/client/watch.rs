//! A client's change feed in C: `synod_client_watch` runs a
//! `synod::node::client_watch::ClientWatch` and hands each item to the
//! caller's callback as a borrowed `synod_watch_event` (the node watch's
//! event, callback and free types); `synod_remote_watch_cancel` and
//! `synod_remote_watch_free` stop it, with the node watch's semantics: one
//! callback at a time on the watch's own thread; the free function exactly
//! once, after the last callback and before cancel or free returns (right
//! after the callback, when a callback cancels its own watch).
//!
//! Two threads: a reader blocks in `ClientWatch::next` (which cannot be
//! interrupted, and needs waits of seconds to notice a silent member) and
//! hands items over a bounded channel to the caller's thread, which runs
//! the callbacks and is woken by a cancellation. A cancel therefore waits
//! for a running callback only; the reader notices within seconds, closes
//! its connection and ends, touching nothing of the caller's.
//!
//! A snapshot over the network arrives in parts; it is delivered as
//! `SYNOD_WATCH_SNAPSHOT_BEGIN`, one `SYNOD_WATCH_SNAPSHOT_MEMBER` per
//! member, one `SYNOD_WATCH_SNAPSHOT_RANGE` per owned range, and
//! `SYNOD_WATCH_SNAPSHOT_END`.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use synod::catalog::{ApplyOutcome, MemberState};
use synod::node::client::ClientCallError;
use synod::node::client_watch::ClientWatch;
use synod::node::protocol::WatchWireItem;
use synod::{ControlPlaneEntry, Index, RangeId};

use super::handle::{client_arg, client_error, parsed, synod_client, write_out};
use crate::error::{synod_status, Error, SYNOD_ERR_START};
use crate::node::{
    empty_event, entry_event, entry_range, kind_out, role_event, synod_free_callback,
    synod_watch_callback, synod_watch_event, synod_watch_kind, Texts, WatchRegistration,
    SYNOD_MEMBERSHIP_ADMIT, SYNOD_MEMBERSHIP_BEGIN_DRAIN, SYNOD_WATCH_END,
};
/// A client watch only: the member it reads from could not supply the
/// events up to `index` (the watch started before its history, or
/// `from_index` was 0 or 1): the catalog as of `index` follows in
/// `SYNOD_WATCH_SNAPSHOT_MEMBER` and `SYNOD_WATCH_SNAPSHOT_RANGE` events,
/// then `SYNOD_WATCH_SNAPSHOT_END`, then the events after `index`. A new
/// `SYNOD_WATCH_SNAPSHOT_BEGIN` before the `END` (a connection broke inside
/// a snapshot) discards the unfinished one: a whole snapshot follows, maybe
/// as of another index. `term` is 0 (not known over the network).
pub const SYNOD_WATCH_SNAPSHOT_BEGIN: synod_watch_kind = 7;
/// A client watch only: one member of the snapshot begun by the last
/// `SYNOD_WATCH_SNAPSHOT_BEGIN` (`index` is its index): `member`,
/// `member_kind`, `address`, and its state in `member_change`:
/// `SYNOD_MEMBERSHIP_ADMIT` for an active member,
/// `SYNOD_MEMBERSHIP_BEGIN_DRAIN` for a draining one.
pub const SYNOD_WATCH_SNAPSHOT_MEMBER: synod_watch_kind = 8;
/// A client watch only: one owned range of the snapshot (in range id
/// order; only the watch's range when it has a range filter): `range`,
/// `owner`, `epoch`, `version` and `term` of the transition that set it
/// (`index` is the snapshot's).
pub const SYNOD_WATCH_SNAPSHOT_RANGE: synod_watch_kind = 9;
/// A client watch only: the snapshot is complete, as of `index`; events
/// continue after it.
pub const SYNOD_WATCH_SNAPSHOT_END: synod_watch_kind = 10;

/// Items the reader may run ahead of the callbacks.
const AHEAD: usize = 256;
/// The reader's longest wait in one call: at least the client watch's
/// silence limit (three seconds), so a silent member is noticed.
const READ_WAIT: Duration = Duration::from_secs(4);

/// A running change feed of a cluster: made by `synod_client_watch`.
///
/// `synod_remote_watch_cancel` may be called from any thread, any number
/// of times; `synod_remote_watch_free` exactly once, not racing with other
/// calls on the same handle. It does not depend on its client: it stays
/// valid, and the watch goes on, after `synod_client_free`.
pub struct synod_remote_watch {
    shared: Arc<Shared>,
}

struct Shared {
    cancelled: AtomicBool,
    /// Wakes the callback thread when cancelled (dropped when it ends).
    wake: Mutex<Option<SyncSender<Msg>>>,
    state: Mutex<State>,
    ended: Condvar,
}

struct State {
    thread: Option<JoinHandle<()>>,
    done: bool,
}

enum Msg {
    Item(Box<WatchWireItem>),
    /// The watch cannot go on (its identity may not read, a member's answer
    /// did not decode).
    End(ClientCallError),
    /// Look at the flags.
    Wake,
}

thread_local! {
    /// The watch whose callback thread this is: compared, never
    /// dereferenced.
    static WATCH_OF_THREAD: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

impl Shared {
    fn on_own_thread(self: &Arc<Self>) -> bool {
        WATCH_OF_THREAD
            .try_with(|c| c.get() == Arc::as_ptr(self))
            .unwrap_or(false)
    }

    fn cancel(self: &Arc<Self>) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(tx) = self.wake.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // A full channel wakes it anyway (it has items to take).
            match tx.try_send(Msg::Wake) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            }
        }
        if self.on_own_thread() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(thread) = state.thread.take() {
            drop(state);
            let _ = thread.join();
            return;
        }
        while !state.done {
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

fn reader(mut watch: ClientWatch, tx: SyncSender<Msg>, shared: Arc<Shared>) {
    loop {
        if shared.cancelled.load(Ordering::SeqCst) {
            return;
        }
        let msg = match watch.next(READ_WAIT) {
            Ok(item) => Msg::Item(Box::new(item)),
            // No member could be read from yet: it keeps trying.
            Err(ClientCallError::Unreachable(_)) => continue,
            Err(e) => Msg::End(e),
        };
        let end = matches!(msg, Msg::End(_));
        // Fails once the callback thread ended (cancelled).
        if tx.send(msg).is_err() || end {
            return;
        }
    }
}

/// What runs on the callback thread.
struct Feed {
    rx: Receiver<Msg>,
    range: Option<RangeId>,
    registration: WatchRegistration,
    shared: Arc<Shared>,
    /// The epochs of the ranges as this feed has seen them (from a
    /// snapshot and the transitions since), to say a forced transition's
    /// epoch; `complete` when it has seen the whole catalog.
    epochs: HashMap<RangeId, u64>,
    complete: bool,
}

impl Feed {
    fn run(mut self) {
        let _ = WATCH_OF_THREAD.try_with(|c| c.set(Arc::as_ptr(&self.shared)));
        loop {
            if self.shared.cancelled.load(Ordering::SeqCst) {
                break;
            }
            match self.rx.recv() {
                Ok(Msg::Wake) => {}
                Ok(Msg::Item(item)) => {
                    if self.shared.cancelled.load(Ordering::SeqCst) {
                        break;
                    }
                    self.deliver(*item);
                }
                Ok(Msg::End(e)) => {
                    if !self.shared.cancelled.load(Ordering::SeqCst) {
                        let mut event = empty_event(SYNOD_WATCH_END);
                        event.status = crate::error::record(client_error(e));
                        self.call(&event);
                    }
                    break;
                }
                Err(_) => break,
            }
        }
        let Feed {
            rx,
            registration,
            shared,
            ..
        } = self;
        // The reader's next send fails and it ends.
        drop(rx);
        *shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // The free function, after the last callback.
        drop(registration);
        let _ = WATCH_OF_THREAD.try_with(|c| c.set(std::ptr::null()));
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.done = true;
        drop(state);
        shared.ended.notify_all();
    }

    fn call(&self, event: &synod_watch_event) {
        self.registration.call(event);
    }

    /// Whether a callback may still run (not cancelled, by itself too).
    fn live(&self) -> bool {
        !self.shared.cancelled.load(Ordering::SeqCst)
    }

    fn deliver(&mut self, item: WatchWireItem) {
        let mut texts = Texts::default();
        match item {
            WatchWireItem::Event {
                index,
                term,
                entry,
                outcome,
            } => {
                if let Some(event) = self.entry_event(index, term, &entry, &outcome, &mut texts) {
                    self.call(&event);
                }
            }
            WatchWireItem::Compacted { at } => {
                self.epochs.clear();
                self.complete = false;
                let mut event = empty_event(SYNOD_WATCH_SNAPSHOT_BEGIN);
                event.index = at.get();
                self.call(&event);
            }
            WatchWireItem::SnapshotPart {
                at,
                members,
                ranges,
                last,
            } => {
                for m in &members {
                    if !self.live() {
                        return;
                    }
                    let mut texts = Texts::default();
                    let mut event = empty_event(SYNOD_WATCH_SNAPSHOT_MEMBER);
                    event.index = at.get();
                    event.member = texts.add(m.id.as_str());
                    event.member_kind = kind_out(m.kind);
                    event.address = texts.add(m.address.as_str());
                    event.member_change = match m.state {
                        MemberState::Active => SYNOD_MEMBERSHIP_ADMIT,
                        MemberState::Draining => SYNOD_MEMBERSHIP_BEGIN_DRAIN,
                    };
                    self.call(&event);
                }
                for (r, o) in &ranges {
                    self.epochs.insert(r.clone(), o.epoch.get());
                    if self.range.as_ref().is_some_and(|want| want != r) {
                        continue;
                    }
                    if !self.live() {
                        return;
                    }
                    let mut texts = Texts::default();
                    let mut event = empty_event(SYNOD_WATCH_SNAPSHOT_RANGE);
                    event.index = at.get();
                    event.range = texts.add(r.as_str());
                    event.owner = texts.add(o.owner.as_str());
                    event.epoch = o.epoch.get();
                    event.version = o.version.get();
                    event.term = o.term.get();
                    self.call(&event);
                }
                if last && self.live() {
                    self.complete = true;
                    let mut event = empty_event(SYNOD_WATCH_SNAPSHOT_END);
                    event.index = at.get();
                    self.call(&event);
                }
            }
            WatchWireItem::Role { role, term, leader } => {
                self.call(&role_event(role, term, leader.as_ref(), &mut texts));
            }
        }
    }

    /// The event of a committed entry, or `None` when the filter skips it.
    fn entry_event(
        &mut self,
        index: Index,
        term: synod::Term,
        entry: &ControlPlaneEntry,
        outcome: &ApplyOutcome,
        texts: &mut Texts,
    ) -> Option<synod_watch_event> {
        let applied = matches!(outcome, ApplyOutcome::Applied { .. });
        // The epochs this feed has seen move first, filtered or not.
        let forced_epoch = match entry {
            ControlPlaneEntry::OwnershipTransition(t) => {
                if applied {
                    self.epochs.insert(t.range.clone(), t.epoch.get());
                }
                None
            }
            ControlPlaneEntry::ForcedOwnershipTransition(f) => {
                // The entry names no epoch: it moved the range to one past
                // the epoch this feed saw last (0: not known here).
                let before = match self.epochs.get(&f.range) {
                    Some(e) => Some(*e),
                    None if self.complete => Some(0),
                    None => None,
                };
                let epoch = match before {
                    Some(e) if applied => e + 1,
                    _ => 0,
                };
                if applied {
                    match before {
                        Some(_) => {
                            self.epochs.insert(f.range.clone(), epoch);
                        }
                        None => {
                            self.epochs.remove(&f.range);
                        }
                    }
                }
                Some(epoch)
            }
            _ => None,
        };
        if let Some(want) = &self.range {
            if entry_range(entry) != Some(want) {
                return None;
            }
        }
        let mut event = entry_event(index, term, entry, outcome, texts);
        if let Some(epoch) = forced_epoch {
            event.epoch = epoch;
        }
        Some(event)
    }
}

/// Starts a change feed of the cluster `client` talks to: every committed
/// catalog entry from log index `from_index` on, in log order and each
/// once, with its outcome, across member failures (the watch moves to
/// another endpoint and resumes after the last event it delivered); the
/// role changes of the member it reads from; and where the events are not
/// available (`from_index` 0 or 1, or before the member's history) a
/// snapshot in parts (`SYNOD_WATCH_SNAPSHOT_BEGIN`, `_MEMBER`, `_RANGE`,
/// `_END`) first. To resume after the last event seen, pass its index plus
/// one. With `range` not NULL, only the transitions (plain and forced) of
/// that range are delivered, plus the snapshot (its range rows of that
/// range only), role and end events. The events are the node watch's
/// `synod_watch_event`s, with two differences: a forced transition's
/// `epoch` is 0 unless the watch saw the range's epoch before (in a
/// snapshot or a transition), and `SYNOD_WATCH_SNAPSHOT` never comes.
///
/// `callback` runs on the watch's own library thread, one call at a time
/// (see `synod_watch_callback`; it may call any client function, on any
/// client). `free_user_data` (if not NULL) releases `user_data` exactly
/// once: after the last callback, when the watch is cancelled or ended. A
/// watch whose members are all unreachable keeps trying; it ends on its own
/// only when it cannot go on, with one last `SYNOD_WATCH_END` whose
/// `status` says why (`SYNOD_ERR_UNAUTHORIZED`: the identity may not read;
/// `SYNOD_ERR_PROTOCOL`). A cancelled watch gets no `SYNOD_WATCH_END`.
///
/// Returns `SYNOD_OK` and writes a new `synod_remote_watch` to `*out`,
/// which the caller owns and frees with `synod_remote_watch_free` (whether
/// or not the watch has ended). On failure the callback never runs,
/// `free_user_data` is called before this returns, and `*out` is
/// untouched: `SYNOD_ERR_NULL_ARGUMENT` (`client`, `callback`, `out`),
/// `SYNOD_ERR_INVALID_ARGUMENT` (a `range` the core refuses),
/// `SYNOD_ERR_START` when the system refused a thread. Serialized with the
/// client's other calls (it only copies the client's endpoints and
/// identity); connects on its own thread.
#[no_mangle]
pub unsafe extern "C" fn synod_client_watch(
    client: *const synod_client,
    from_index: u64,
    range: *const c_char,
    callback: synod_watch_callback,
    user_data: *mut c_void,
    free_user_data: synod_free_callback,
    out: *mut *mut synod_remote_watch,
) -> synod_status {
    ffi_boundary!(status "synod_client_watch", {
        // From here on the registration owns user_data: dropping it on any
        // early return releases it exactly once.
        let registration = WatchRegistration::new(callback, user_data, free_user_data)?;
        let client = unsafe { client_arg(client)? };
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let range: Option<RangeId> = if range.is_null() {
            None
        } else {
            Some(unsafe { parsed(range, "range")? })
        };
        let watch = client
            .lock(0)
            .watch(Index(from_index))
            .map_err(client_error)?;
        let (tx, rx) = sync_channel(AHEAD);
        let shared = Arc::new(Shared {
            cancelled: AtomicBool::new(false),
            wake: Mutex::new(Some(tx.clone())),
            state: Mutex::new(State {
                thread: None,
                done: false,
            }),
            ended: Condvar::new(),
        });
        let feed = Feed {
            rx,
            range,
            registration,
            shared: Arc::clone(&shared),
            epochs: HashMap::new(),
            complete: false,
        };
        let refused = |e: std::io::Error| {
            Error::new(SYNOD_ERR_START, format!("could not start a watch thread: {e}"))
        };
        // Should the callback thread not start, its closure (and the
        // registration in it) is dropped: the free function runs here.
        // Should the reader not start, the callback thread is cancelled and
        // joined, which runs the free function before this returns.
        let thread = std::thread::Builder::new()
            .name("synod-client-watch".into())
            .spawn(move || feed.run())
            .map_err(refused)?;
        shared.state.lock().unwrap_or_else(|p| p.into_inner()).thread = Some(thread);
        let reader_shared = Arc::clone(&shared);
        let started = std::thread::Builder::new()
            .name("synod-client-watch-reader".into())
            .spawn(move || reader(watch, tx, reader_shared));
        if let Err(e) = started {
            // No callback has run (nothing was read): end it quietly.
            shared.cancel();
            return Err(refused(e));
        }
        unsafe { write_out(out, Box::into_raw(Box::new(synod_remote_watch { shared }))) };
        Ok(())
    })
}

/// Stops a client watch: no callback of it starts after this returns, and
/// its free function has run by then. Called on another thread, it waits
/// for a running callback of the watch to return (not for the network);
/// called from the watch's own callback, it returns at once, no callback
/// runs after the current one, and the free function runs as soon as the
/// current callback returns. No `SYNOD_WATCH_END` event is sent for a
/// cancelled watch. Its connection closes within a few seconds.
///
/// Returns `SYNOD_OK`, also for a watch that already ended, or
/// `SYNOD_ERR_NULL_ARGUMENT`. Does not free `watch`: the caller still frees
/// it with `synod_remote_watch_free`. Thread-safe: any thread, any number
/// of times, before `synod_remote_watch_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_remote_watch_cancel(
    watch: *const synod_remote_watch,
) -> synod_status {
    ffi_boundary!(status "synod_remote_watch_cancel", {
        // SAFETY: NULL or a live handle (caller contract).
        let watch = unsafe { watch.as_ref() }.ok_or_else(|| Error::null("watch"))?;
        watch.shared.cancel();
        Ok(())
    })
}

/// Cancels the watch as `synod_remote_watch_cancel` does (unless it already
/// ended) and frees its handle; `synod_remote_watch_free(NULL)` does
/// nothing.
///
/// Takes ownership of `watch`, which must come from `synod_client_watch`
/// and not be used again. Allowed from the watch's own callback (then the
/// watch ends when that callback returns), and before or after its client
/// is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_remote_watch_free(watch: *mut synod_remote_watch) {
    ffi_boundary!(value "synod_remote_watch_free", (), {
        if !watch.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            let watch = unsafe { Box::from_raw(watch) };
            watch.shared.cancel();
        }
    })
}
