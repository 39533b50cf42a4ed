//! `Node`: a frozen handle over any `ControlPlaneConsensus` engine, and the
//! frozen value classes its answers come in.
//!
//! Every call into the engine runs with the GIL released (`Python::detach`):
//! a proposal may wait up to its timeout, and even a read takes the engine's
//! lock, which a proposal on another thread may hold. Values crossing back
//! are copied into plain frozen objects, so nothing Python holds borrows from
//! the engine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

use synod::catalog::{
    AuditRecord as CoreAudit, Member as CoreMember, MemberState as CoreState, RangeOwnership,
};
use synod::{
    Committed, ControlPlaneConsensus, ControlPlaneEntry, Epoch, FenceStatus as CoreFence,
    InitialMember, ProposeError, SingleNodeControlPlane,
};

use crate::entries::{identity, log_number, py_repr, py_repr_opt, range_id, to_entry, KindArg};
use crate::errors::{invalid_argument, new_err, propose_error, shutdown, Kind};

/// Converts a `timeout` in seconds; negative, NaN or infinite values (and
/// values too large for a `Duration`) are an `InvalidArgumentError`.
pub(crate) fn timeout(py: Python<'_>, seconds: f64) -> PyResult<Duration> {
    if !seconds.is_finite() {
        return Err(invalid_argument(
            py,
            "timeout",
            format!("timeout must be a finite number of seconds, not {seconds}"),
        ));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        let what = if seconds < 0.0 {
            "non-negative"
        } else {
            "at most about 1.8e19"
        };
        invalid_argument(
            py,
            "timeout",
            format!("timeout must be {what} seconds, not {seconds}"),
        )
    })
}

/// A proposal that committed and took effect.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Commit {
    /// Where the entry sits in the log.
    #[pyo3(get)]
    index: u64,
    /// The term that committed it.
    #[pyo3(get)]
    term: u64,
    /// The catalog version after applying it.
    #[pyo3(get)]
    version: u64,
    /// False when the entry was an idempotent repeat that changed nothing.
    #[pyo3(get)]
    changed: bool,
}

#[pymethods]
impl Commit {
    #[staticmethod]
    #[pyo3(name = "_restore")]
    fn restore(index: u64, term: u64, version: u64, changed: bool) -> Self {
        Self {
            index,
            term,
            version,
            changed,
        }
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (u64, u64, u64, bool))> {
        let s = slf.get();
        Ok((
            slf.get_type().getattr("_restore")?,
            (s.index, s.term, s.version, s.changed),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "Commit(index={}, term={}, version={}, changed={})",
            self.index,
            self.term,
            self.version,
            if self.changed { "True" } else { "False" }
        )
    }
}

impl Commit {
    pub(crate) fn from_core(c: Committed) -> Self {
        Self {
            index: c.index.get(),
            term: c.term.get(),
            version: c.version.get(),
            changed: c.changed,
        }
    }
}

/// Who owns a range, and which log entry made it so.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ownership {
    /// The range.
    #[pyo3(get)]
    range: String,
    /// The current owner.
    #[pyo3(get)]
    owner: String,
    /// The current ownership epoch.
    #[pyo3(get)]
    epoch: u64,
    /// The catalog version the transition produced.
    #[pyo3(get)]
    version: u64,
    /// The term of the entry that set it.
    #[pyo3(get)]
    term: u64,
    /// The index of the entry that set it.
    #[pyo3(get)]
    index: u64,
}

#[pymethods]
impl Ownership {
    #[staticmethod]
    #[pyo3(name = "_restore")]
    fn restore(
        range: String,
        owner: String,
        epoch: u64,
        version: u64,
        term: u64,
        index: u64,
    ) -> Self {
        Self {
            range,
            owner,
            epoch,
            version,
            term,
            index,
        }
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (String, String, u64, u64, u64, u64))> {
        let s = slf.get();
        Ok((
            slf.get_type().getattr("_restore")?,
            (
                s.range.clone(),
                s.owner.clone(),
                s.epoch,
                s.version,
                s.term,
                s.index,
            ),
        ))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Ownership(range={}, owner={}, epoch={}, version={}, term={}, index={})",
            py_repr(py, &self.range)?,
            py_repr(py, &self.owner)?,
            self.epoch,
            self.version,
            self.term,
            self.index
        ))
    }
}

impl Ownership {
    pub(crate) fn from_core(range: String, o: RangeOwnership) -> Self {
        Self {
            range,
            owner: o.owner.as_str().to_owned(),
            epoch: o.epoch.get(),
            version: o.version.get(),
            term: o.term.get(),
            index: o.index.get(),
        }
    }
}

/// The answer of `Node.fence_check`.
///
/// `status` is `"current"` (the pair is the range's current owner and
/// epoch), `"stale"` (the range has moved on: `current_owner` and
/// `current_epoch` say where) or `"unknown"` (this replica cannot vouch for
/// the pair: the range has no owner here, or the epoch is newer than
/// anything it has applied). Only `"current"` authorizes the pair.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FenceStatus {
    /// `"current"`, `"stale"` or `"unknown"`.
    #[pyo3(get)]
    status: &'static str,
    /// For `"stale"`: the range's current owner; otherwise None.
    #[pyo3(get)]
    current_owner: Option<String>,
    /// For `"stale"`: the range's current epoch; otherwise None.
    #[pyo3(get)]
    current_epoch: Option<u64>,
}

#[pymethods]
impl FenceStatus {
    #[staticmethod]
    #[pyo3(name = "_restore")]
    fn restore(status: &str, current_owner: Option<String>, current_epoch: Option<u64>) -> Self {
        Self {
            status: match status {
                "current" => "current",
                "stale" => "stale",
                _ => "unknown",
            },
            current_owner,
            current_epoch,
        }
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (&'static str, Option<String>, Option<u64>),
    )> {
        let s = slf.get();
        Ok((
            slf.get_type().getattr("_restore")?,
            (s.status, s.current_owner.clone(), s.current_epoch),
        ))
    }

    /// True when the pair is the range's current owner and epoch.
    #[getter]
    fn is_current(&self) -> bool {
        self.status == "current"
    }

    /// True when the pair is fenced by a newer owner or epoch.
    #[getter]
    fn is_stale(&self) -> bool {
        self.status == "stale"
    }

    /// True when this replica cannot vouch for the pair.
    #[getter]
    fn is_unknown(&self) -> bool {
        self.status == "unknown"
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match self.current_epoch {
            Some(epoch) => format!(
                "FenceStatus(status='stale', current_owner={}, current_epoch={epoch})",
                py_repr_opt(py, self.current_owner.as_deref())?
            ),
            None => format!("FenceStatus(status='{}')", self.status),
        })
    }
}

impl FenceStatus {
    pub(crate) fn from_core(f: CoreFence) -> Self {
        match f {
            CoreFence::Current => Self {
                status: "current",
                current_owner: None,
                current_epoch: None,
            },
            CoreFence::Stale { owner, epoch } => Self {
                status: "stale",
                current_owner: Some(owner.as_str().to_owned()),
                current_epoch: Some(epoch.get()),
            },
            CoreFence::Unknown => Self {
                status: "unknown",
                current_owner: None,
                current_epoch: None,
            },
        }
    }
}

/// A member as the catalog knows it.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// Its identity.
    #[pyo3(get)]
    id: String,
    kind: synod::MemberKind,
    /// Where peers reach it.
    #[pyo3(get)]
    address: String,
    state: CoreState,
    /// The consensus engine's numeric peer id (never reused).
    #[pyo3(get)]
    peer_id: u64,
}

#[pymethods]
impl Member {
    #[staticmethod]
    #[pyo3(name = "_restore")]
    fn restore(
        py: Python<'_>,
        id: String,
        kind: &str,
        address: String,
        state: &str,
        peer_id: u64,
    ) -> PyResult<Self> {
        Ok(Self {
            id,
            kind: kind
                .parse()
                .map_err(|e| crate::errors::invalid_name(py, "kind", &e))?,
            address,
            state: if state == "draining" {
                CoreState::Draining
            } else {
                CoreState::Active
            },
            peer_id,
        })
    }

    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (String, &'static str, String, &'static str, u64),
    )> {
        let s = slf.get();
        Ok((
            slf.get_type().getattr("_restore")?,
            (
                s.id.clone(),
                s.kind.as_str(),
                s.address.clone(),
                s.state.as_str(),
                s.peer_id,
            ),
        ))
    }

    /// Data or witness (`MemberKind`).
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::entries::kind_to_py(py, self.kind)
    }

    /// Active or draining (`MemberState`).
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::pyclasses::member(
            py,
            crate::pyclasses::Class::MemberState,
            self.state.as_str(),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Member(id={}, kind=MemberKind.{}, address={}, state=MemberState.{}, peer_id={})",
            py_repr(py, &self.id)?,
            self.kind.as_str().to_uppercase(),
            py_repr(py, &self.address)?,
            self.state.as_str().to_uppercase(),
            self.peer_id
        ))
    }
}

impl Member {
    pub(crate) fn from_core(m: CoreMember) -> Self {
        Self {
            id: m.id.as_str().to_owned(),
            kind: m.kind,
            address: m.address.as_str().to_owned(),
            state: m.state,
            peer_id: m.peer_id,
        }
    }
}

/// One forced ownership transition, as kept in the audit list.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuditRecord {
    /// The index of the entry.
    #[pyo3(get)]
    index: u64,
    /// The term of the entry.
    #[pyo3(get)]
    term: u64,
    /// The range that was moved.
    #[pyo3(get)]
    range: String,
    /// The owner before, if the range had one.
    #[pyo3(get)]
    previous_owner: Option<String>,
    /// The epoch before (0 if the range had no owner).
    #[pyo3(get)]
    previous_epoch: u64,
    /// The owner after.
    #[pyo3(get)]
    new_owner: String,
    /// The epoch after.
    #[pyo3(get)]
    epoch: u64,
    /// The operator who forced it.
    #[pyo3(get)]
    operator: String,
    /// Why.
    #[pyo3(get)]
    reason: String,
}

#[pymethods]
impl AuditRecord {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "AuditRecord(index={}, term={}, range={}, previous_owner={}, previous_epoch={}, \
             new_owner={}, epoch={}, operator={}, reason={})",
            self.index,
            self.term,
            py_repr(py, &self.range)?,
            py_repr_opt(py, self.previous_owner.as_deref())?,
            self.previous_epoch,
            py_repr(py, &self.new_owner)?,
            self.epoch,
            py_repr(py, &self.operator)?,
            py_repr(py, &self.reason)?
        ))
    }
}

impl AuditRecord {
    pub(crate) fn from_core(a: CoreAudit) -> Self {
        Self {
            index: a.index.get(),
            term: a.term.get(),
            range: a.range.as_str().to_owned(),
            previous_owner: a.previous_owner.map(|o| o.as_str().to_owned()),
            previous_epoch: a.previous_epoch.get(),
            new_owner: a.new_owner.as_str().to_owned(),
            epoch: a.epoch.get(),
            operator: a.operator.as_str().to_owned(),
            reason: a.reason.as_str().to_owned(),
        }
    }
}

/// The persisted vote state: the highest term seen and whom this member
/// voted for in it.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DurableVote {
    /// The highest term this member has seen.
    #[pyo3(get)]
    term: u64,
    /// Whom it voted for in `term`, if anyone.
    #[pyo3(get)]
    voted_for: Option<String>,
}

#[pymethods]
impl DurableVote {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "DurableVote(term={}, voted_for={})",
            self.term,
            py_repr_opt(py, self.voted_for.as_deref())?
        ))
    }
}

/// Stops an engine's proposals (what `close()` does to the engine).
type Stop = Box<dyn Fn() + Send + Sync>;

/// A control-plane member. Writes go through `propose`, which takes only the
/// entry classes; reads answer from what this member has applied.
///
/// `close()` (or leaving a `with` block) stops proposals through this
/// handle: later proposals raise `ShutdownError`. Reads keep answering from
/// the applied state while the engine runs (the single-node engine's always
/// do).
///
/// A member that stopped (its `RunningMember` closed, stopped on a storage
/// failure, removed from its cluster) raises `ShutdownError` (`StorageError`
/// after a storage failure) from every method and property but `id` and
/// `closed`, reads included: it never answers None, an empty list or an
/// "unknown" fence for want of a running member.
#[pyclass(frozen, module = "synod._synod")]
pub struct Node {
    engine: Arc<dyn ControlPlaneConsensus>,
    stop: Stop,
    closed: AtomicBool,
}

impl Node {
    pub(crate) fn new(engine: Arc<dyn ControlPlaneConsensus>, stop: Stop) -> Self {
        Self {
            engine,
            stop,
            closed: AtomicBool::new(false),
        }
    }

    /// Runs `f` against the engine with the GIL released.
    fn with_engine<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&dyn ControlPlaneConsensus) -> T + Send,
    ) -> T {
        let engine = Arc::clone(&self.engine);
        py.detach(move || f(engine.as_ref()))
    }

    /// Runs a fallible read with the GIL released; a stopped member's error
    /// becomes its exception (`ShutdownError`, `StorageError`).
    fn read<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&dyn ControlPlaneConsensus) -> Result<T, ProposeError> + Send,
    ) -> PyResult<T> {
        self.with_engine(py, f).map_err(|e| propose_error(py, e))
    }

    /// Runs `f` with the GIL released once the engine says it runs.
    fn status<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&dyn ControlPlaneConsensus) -> T + Send,
    ) -> PyResult<T> {
        self.read(py, |e| e.check_running().map(|()| f(e)))
    }
}

#[pymethods]
impl Node {
    /// Opens a single-member control plane: `identity` is its only member
    /// (a data member unless `kind` says otherwise), the leader of term 1.
    #[staticmethod]
    #[pyo3(
        signature = (identity, address, kind = KindArg(synod::MemberKind::Data)),
        text_signature = "(identity, address, kind='data')"
    )]
    fn single(
        py: Python<'_>,
        identity: &Bound<'_, PyString>,
        address: &Bound<'_, PyString>,
        kind: KindArg,
    ) -> PyResult<Self> {
        let me = InitialMember {
            id: crate::entries::identity(py, "identity", &identity.to_cow()?)?,
            kind: kind.0,
            address: crate::entries::address(py, "address", &address.to_cow()?)?,
        };
        let engine = Arc::new(
            SingleNodeControlPlane::bootstrap_leader(me)
                .map_err(|e| new_err(py, Kind::Synod, e.to_string(), None))?,
        );
        let stopper = Arc::clone(&engine);
        Ok(Self::new(engine, Box::new(move || stopper.shutdown())))
    }

    /// Proposes `entry` and waits up to `timeout` seconds for it to commit
    /// and apply, with the GIL released; Ctrl-C interrupts the wait (the
    /// proposal may still commit, as after a timeout).
    #[pyo3(signature = (entry, timeout = 5.0))]
    fn propose(&self, py: Python<'_>, entry: &Bound<'_, PyAny>, timeout: f64) -> PyResult<Commit> {
        let entry: ControlPlaneEntry = to_entry(entry)?;
        let timeout = self::timeout(py, timeout)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(shutdown(py, "the node is closed"));
        }
        // On a helper thread, so Ctrl-C interrupts the wait (the proposal
        // itself goes on and may still commit, as after a timeout).
        let engine = Arc::clone(&self.engine);
        let result = crate::blocking::run(py, move || engine.propose(entry, timeout))?;
        result
            .map(Commit::from_core)
            .map_err(|e| propose_error(py, e))
    }

    /// The owner of `range` as this member has applied it, or None when it
    /// has none. A stopped member raises `ShutdownError` (`StorageError`
    /// after a storage failure) instead of answering None.
    fn owner(&self, py: Python<'_>, range: &Bound<'_, PyString>) -> PyResult<Option<Ownership>> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let name = range.as_str().to_owned();
        let found = self.read(py, move |e| e.try_owner(&range))?;
        Ok(found.map(|o| Ownership::from_core(name, o)))
    }

    /// Whether (`owner`, `epoch`) currently owns `range`, as this member has
    /// applied it. A stopped member raises `ShutdownError` (`StorageError`
    /// after a storage failure) instead of answering "unknown".
    fn fence_check(
        &self,
        py: Python<'_>,
        range: &Bound<'_, PyString>,
        owner: &Bound<'_, PyString>,
        epoch: &Bound<'_, PyAny>,
    ) -> PyResult<FenceStatus> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let owner = identity(py, "owner", &owner.to_cow()?)?;
        let epoch = Epoch(log_number("epoch", epoch)?);
        let status = self.read(py, move |e| e.try_fence_check(&range, &owner, epoch))?;
        Ok(FenceStatus::from_core(status))
    }

    /// The members, in identity order. A stopped member raises
    /// `ShutdownError` (`StorageError` after a storage failure) instead of
    /// answering an empty list.
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Member>> {
        Ok(self
            .read(py, |e| e.try_members())?
            .into_iter()
            .map(Member::from_core)
            .collect())
    }

    /// The forced ownership transitions, oldest first. A stopped member
    /// raises `ShutdownError` (`StorageError` after a storage failure)
    /// instead of answering an empty list.
    fn audit_log(&self, py: Python<'_>) -> PyResult<Vec<AuditRecord>> {
        Ok(self
            .read(py, |e| e.try_audit_log())?
            .into_iter()
            .map(AuditRecord::from_core)
            .collect())
    }

    /// This member's identity.
    #[getter]
    fn id(&self) -> &str {
        self.engine.id().as_str()
    }

    /// The current election term. A stopped member raises `ShutdownError`
    /// (`StorageError` after a storage failure).
    #[getter]
    fn current_term(&self, py: Python<'_>) -> PyResult<u64> {
        self.status(py, |e| e.current_term().get())
    }

    /// The leader of the current term, if one is known. A stopped member
    /// raises `ShutdownError` (`StorageError` after a storage failure).
    #[getter]
    fn leader(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.status(py, |e| e.leader().map(|l| l.as_str().to_owned()))
    }

    /// Whether this member is the leader. A stopped member raises
    /// `ShutdownError` (`StorageError` after a storage failure) rather than
    /// answer for a member that leads nobody.
    #[getter]
    fn is_leader(&self, py: Python<'_>) -> PyResult<bool> {
        self.status(py, |e| e.is_leader())
    }

    /// The index of the highest committed entry, or None before any commit.
    /// A stopped member raises `ShutdownError` (`StorageError` after a
    /// storage failure).
    #[getter]
    fn commit_index(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        self.status(py, |e| e.commit_index().map(|i| i.get()))
    }

    /// The index of the last entry this member applied. A stopped member
    /// raises `ShutdownError` (`StorageError` after a storage failure).
    #[getter]
    fn applied_index(&self, py: Python<'_>) -> PyResult<u64> {
        self.status(py, |e| e.applied_index().get())
    }

    /// The persisted vote state. A stopped member raises `ShutdownError`
    /// (`StorageError` after a storage failure).
    #[getter]
    fn durable_vote(&self, py: Python<'_>) -> PyResult<DurableVote> {
        let v = self.status(py, |e| e.durable_vote())?;
        Ok(DurableVote {
            term: v.term.get(),
            voted_for: v.voted_for.map(|n| n.as_str().to_owned()),
        })
    }

    /// Whether `close()` has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops proposals; later proposals raise `ShutdownError`. Idempotent.
    pub(crate) fn close(&self, py: Python<'_>) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            py.detach(&self.stop);
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

    /// Never raises: a stopped member shows its last term and `stopped`.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (term, leads, running) = self.with_engine(py, |e| {
            (
                e.current_term().get(),
                e.is_leader(),
                e.check_running().is_ok(),
            )
        });
        Ok(format!(
            "Node(id={}, term={}, is_leader={}, closed={}{})",
            py_repr(py, self.engine.id().as_str())?,
            term,
            if leads { "True" } else { "False" },
            if self.closed() { "True" } else { "False" },
            if running { "" } else { ", stopped=True" }
        ))
    }
}
