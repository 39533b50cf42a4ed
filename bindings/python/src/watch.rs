//! `Watch`: the change feed as a Python iterator of `synod.Event`s, over the
//! network (`Client.watch`, the Rust `ClientWatch`) or from a member running
//! in this process (`RunningMember.watch`, the Rust `node::watch::Watch`).
//!
//! Iteration releases the GIL and waits in slices of at most
//! [`SLICE`], checking for signals between them, so Ctrl-C interrupts a
//! waiting `next()` within about that long (raising `KeyboardInterrupt`;
//! the watch stays usable and loses nothing). `timeout` bounds the wait for
//! each item: when it passes with nothing new, iteration stops
//! (`StopIteration`); iterating again resumes where it stopped.
//!
//! The network watch reads on a helper thread of its own (the Rust client's
//! calls cannot be sliced: a connection attempt must not be cut short by a
//! slice), which assembles the snapshot parts that follow a `Compacted`
//! into one `Snapshot` (a new `Compacted` discards an unfinished one) and
//! hands items over a bounded channel. The thread ends when the watch is
//! closed or dropped, or on an error the watch cannot get past.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

use synod::catalog::{ApplyOutcome, Member as CoreMember, RangeOwnership};
use synod::node::client::ClientCallError;
use synod::node::client_watch::ClientWatch;
use synod::node::protocol::WatchWireItem;
use synod::node::watch::{Role, Watch as CoreWatch, WatchError, WatchItem};
use synod::{ControlPlaneEntry, Index, LeaderHint, RangeId};

use crate::blocking::SLICE;
use crate::entries::{log_number, range_id};
use crate::errors::{client_error, propose_error, shutdown};
use crate::pytypes;

/// How many items the network watch's thread reads ahead.
const READ_AHEAD: usize = 1024;

/// One item the network watch's thread hands over.
enum Msg {
    Event {
        index: Index,
        term: u64,
        entry: ControlPlaneEntry,
        outcome: ApplyOutcome,
    },
    Role {
        role: Role,
        term: u64,
        leader: Option<LeaderHint>,
    },
    Snapshot {
        at: Index,
        members: Vec<CoreMember>,
        ranges: Vec<(RangeId, RangeOwnership)>,
    },
    Failed(ClientCallError),
}

/// A snapshot being assembled: its index, the members and the ranges so far.
type Partial = (Index, Vec<CoreMember>, Vec<(RangeId, RangeOwnership)>);

/// Reads `w` until `stop` is set or the receiver is gone, assembling
/// snapshots.
fn pump(mut w: ClientWatch, tx: SyncSender<Msg>, stop: Arc<AtomicBool>) {
    let mut partial: Option<Partial> = None;
    while !stop.load(Ordering::Acquire) {
        let msg = match w.next(Duration::from_millis(500)) {
            Ok(WatchWireItem::Event {
                index,
                term,
                entry,
                outcome,
            }) => Msg::Event {
                index,
                term: term.get(),
                entry,
                outcome,
            },
            Ok(WatchWireItem::Role { role, term, leader }) => Msg::Role {
                role,
                term: term.get(),
                leader,
            },
            Ok(WatchWireItem::Compacted { at }) => {
                // A new snapshot starts; an unfinished one is discarded.
                partial = Some((at, Vec::new(), Vec::new()));
                continue;
            }
            Ok(WatchWireItem::SnapshotPart {
                at,
                members,
                ranges,
                last,
            }) => {
                let Some((pat, m, r)) = partial.as_mut() else {
                    continue;
                };
                if *pat != at {
                    continue;
                }
                m.extend(members);
                r.extend(ranges);
                if !last {
                    continue;
                }
                let Some((at, members, ranges)) = partial.take() else {
                    continue;
                };
                Msg::Snapshot {
                    at,
                    members,
                    ranges,
                }
            }
            // Nothing new yet, or no member reachable yet: keep trying (the
            // Python side's timeout decides how long to wait).
            Err(ClientCallError::Unreachable(_)) => continue,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

enum Source {
    /// The network: the helper thread's channel (None once closed).
    Remote(Mutex<Option<Receiver<Msg>>>),
    /// A member in this process (None once closed).
    Local(Mutex<Option<CoreWatch>>),
}

/// A change feed: iterate it for `synod.Event`s. See the module docs.
#[pyclass(frozen, module = "synod._synod")]
pub struct Watch {
    source: Source,
    /// Tells the helper thread to end (network watches).
    stop: Arc<AtomicBool>,
    closed: AtomicBool,
    /// The index of the next entry event owed.
    next_index: AtomicU64,
    /// Only events of this range (and role changes and snapshots, limited
    /// to it).
    only: Option<RangeId>,
    /// The bound on the wait for each item; None waits as long as it takes.
    timeout: Option<Duration>,
    /// The identity of the client (for `UnauthorizedError`).
    identity: String,
    /// Set by a fatal error: later calls raise it again as `ShutdownError`.
    failed: AtomicBool,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The arguments of `Client.watch` and `RunningMember.watch`, read and
/// checked.
pub(crate) struct WatchArgs {
    /// The index to start from.
    pub(crate) from: u64,
    /// The range filter.
    only: Option<RangeId>,
    /// The bound on the wait for each item.
    timeout: Option<Duration>,
}

impl WatchArgs {
    /// Reads `from_index` (0 when None), `range` and `timeout` (seconds)
    /// in that order.
    pub(crate) fn parse(
        py: Python<'_>,
        from_index: Option<&Bound<'_, PyAny>>,
        range: Option<&Bound<'_, PyString>>,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        let from = match from_index {
            Some(i) => log_number("from_index", i)?,
            None => 0,
        };
        let only = match range {
            Some(r) => Some(range_id(py, "range", &r.to_cow()?)?),
            None => None,
        };
        let timeout = match timeout {
            Some(s) => Some(crate::node::timeout(py, s)?),
            None => None,
        };
        Ok(Self {
            from,
            only,
            timeout,
        })
    }
}

impl Watch {
    /// A network watch reading `w` on a helper thread.
    pub(crate) fn remote(w: ClientWatch, args: WatchArgs, identity: String) -> PyResult<Self> {
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("synod-py-watch".into())
            .spawn(move || pump(w, tx, flag))
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        Ok(Self::with(
            Source::Remote(Mutex::new(Some(rx))),
            stop,
            args,
            identity,
        ))
    }

    /// A watch of a member in this process.
    pub(crate) fn local(w: CoreWatch, args: WatchArgs) -> Self {
        Self::with(
            Source::Local(Mutex::new(Some(w))),
            Arc::new(AtomicBool::new(false)),
            args,
            String::new(),
        )
    }

    fn with(source: Source, stop: Arc<AtomicBool>, args: WatchArgs, identity: String) -> Self {
        Self {
            source,
            stop,
            closed: AtomicBool::new(false),
            next_index: AtomicU64::new(args.from),
            only: args.only,
            timeout: args.timeout,
            identity,
            failed: AtomicBool::new(false),
        }
    }

    /// Whether an entry event passes the range filter.
    fn wanted(&self, entry: &ControlPlaneEntry) -> bool {
        match &self.only {
            None => true,
            Some(r) => pytypes::entry_range(entry) == Some(r),
        }
    }

    /// One slice of waiting on the network watch: the Python event, None
    /// for nothing (yet, or filtered out).
    fn remote_slice<'py>(
        &self,
        py: Python<'py>,
        rx: &Mutex<Option<Receiver<Msg>>>,
        wait: Duration,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let got = py.detach(|| {
            let guard = rx.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                None => Err(None),
                Some(rx) => match rx.recv_timeout(wait) {
                    Ok(m) => Ok(Some(m)),
                    Err(RecvTimeoutError::Timeout) => Ok(None),
                    Err(RecvTimeoutError::Disconnected) => Err(Some(())),
                },
            }
        });
        let msg = match got {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(None) => return Err(shutdown(py, "the watch is closed")),
            Err(Some(())) => return Err(shutdown(py, "the watch ended")),
        };
        match msg {
            Msg::Event {
                index,
                term,
                entry,
                outcome,
            } => {
                self.next_index.store(index.get() + 1, Ordering::Release);
                if !self.wanted(&entry) {
                    return Ok(None);
                }
                pytypes::entry_event(py, index.get(), term, &entry, &outcome).map(Some)
            }
            Msg::Role { role, term, leader } => {
                pytypes::role_event(py, role, term, leader.as_ref()).map(Some)
            }
            Msg::Snapshot {
                at,
                members,
                ranges,
            } => {
                self.next_index.store(at.get() + 1, Ordering::Release);
                pytypes::snapshot_event(
                    py,
                    at.get(),
                    None,
                    members.iter(),
                    ranges.iter().map(|(r, o)| (r, o)),
                    self.only.as_ref(),
                )
                .map(Some)
            }
            Msg::Failed(e) => {
                self.failed.store(true, Ordering::Release);
                Err(client_error(py, e, &self.identity))
            }
        }
    }

    /// One slice of waiting on a member's watch.
    fn local_slice<'py>(
        &self,
        py: Python<'py>,
        w: &Mutex<Option<CoreWatch>>,
        wait: Duration,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let got = py.detach(|| {
            let mut guard = w.lock().unwrap_or_else(|p| p.into_inner());
            guard.as_mut().map(|w| w.next(wait))
        });
        let item = match got {
            None => return Err(shutdown(py, "the watch is closed")),
            Some(Err(WatchError::Timeout(_))) => return Ok(None),
            Some(Err(WatchError::Stopped(e))) => return Err(propose_error(py, e)),
            Some(Ok(item)) => item,
        };
        match item {
            WatchItem::Event(e) => {
                self.next_index.store(e.index.get() + 1, Ordering::Release);
                if !self.wanted(&e.entry) {
                    return Ok(None);
                }
                pytypes::entry_event(py, e.index.get(), e.term.get(), &e.entry, &e.outcome)
                    .map(Some)
            }
            WatchItem::Snapshot(view) => {
                self.next_index
                    .store(view.applied().0.get() + 1, Ordering::Release);
                pytypes::view_event(py, &view, self.only.as_ref()).map(Some)
            }
            WatchItem::Role { role, term, leader } => {
                pytypes::role_event(py, role, term.get(), leader.as_ref()).map(Some)
            }
        }
    }

    fn next_event<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Duration>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(shutdown(py, "the watch is closed"));
        }
        if self.failed.load(Ordering::Acquire) {
            return Err(shutdown(py, "the watch ended on an error"));
        }
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        loop {
            let wait = match deadline {
                None | Some(None) => SLICE,
                Some(Some(d)) => d.saturating_duration_since(Instant::now()).min(SLICE),
            };
            let got = match &self.source {
                Source::Remote(rx) => self.remote_slice(py, rx, wait)?,
                Source::Local(w) => self.local_slice(py, w, wait)?,
            };
            if got.is_some() {
                return Ok(got);
            }
            py.check_signals()?;
            if let Some(Some(d)) = deadline {
                if Instant::now() >= d {
                    return Ok(None);
                }
            }
        }
    }
}

#[pymethods]
impl Watch {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.next_event(py, self.timeout)
    }

    /// The next event, waiting at most `timeout` seconds (the watch's own
    /// `timeout` when None, for ever if that is None too); None when none
    /// came in time.
    #[pyo3(signature = (timeout = None))]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let limit = match timeout {
            None => self.timeout,
            Some(s) => Some(crate::node::timeout(py, s)?),
        };
        self.next_event(py, limit)
    }

    /// The index of the next entry event owed: a new watch from here
    /// continues where this one is.
    #[getter]
    fn next_index(&self) -> u64 {
        self.next_index.load(Ordering::Acquire)
    }

    /// The bound on the wait for each item, in seconds (None: no bound).
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.timeout.map(|t| t.as_secs_f64())
    }

    /// Whether `close()` has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops the watch (and its connection); later iteration raises
    /// `ShutdownError`. Idempotent.
    fn close(&self, py: Python<'_>) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.stop.store(true, Ordering::Release);
            py.detach(|| match &self.source {
                Source::Remote(rx) => drop(rx.lock().unwrap_or_else(|p| p.into_inner()).take()),
                Source::Local(w) => drop(w.lock().unwrap_or_else(|p| p.into_inner()).take()),
            });
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyType>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) {
        let _ = (exc_type, exc_value, traceback);
        self.close(py);
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Watch(next_index={}, range={}, closed={})",
            self.next_index(),
            crate::entries::py_repr_opt(py, self.only.as_ref().map(|r| r.as_str()))?,
            if self.closed() { "True" } else { "False" }
        ))
    }
}
