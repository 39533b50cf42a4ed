//! The conversions of core values (outcomes, events, snapshots, read
//! answers, roles) into the plain-Python result classes of `pyclasses`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use synod::catalog::{ApplyOutcome, CatalogView, Member as CoreMember, RangeOwnership};
use synod::node::watch::Role as CoreRole;
use synod::{ControlPlaneEntry, LeaderHint, MembershipChange, RangeId};

use crate::node::{Member, Ownership};
use crate::pyclasses::{build, class, member, Class};

/// `synod.Role` of a core role.
pub(crate) fn role<'py>(py: Python<'py>, r: CoreRole) -> PyResult<Bound<'py, PyAny>> {
    let v = match r {
        CoreRole::Follower => "follower",
        CoreRole::Candidate => "candidate",
        CoreRole::PreCandidate => "pre-candidate",
        CoreRole::Leader => "leader",
    };
    member(py, Class::Role, v)
}

/// `synod.Outcome` of an apply outcome.
pub(crate) fn outcome<'py>(py: Python<'py>, o: &ApplyOutcome) -> PyResult<Bound<'py, PyAny>> {
    let kw = PyDict::new(py);
    let kind = match o {
        ApplyOutcome::Applied { version } => {
            kw.set_item("version", version.get())?;
            "applied"
        }
        ApplyOutcome::Unchanged { version } => {
            kw.set_item("version", version.get())?;
            "unchanged"
        }
        ApplyOutcome::Refused(r) => {
            kw.set_item("refusal", member(py, Class::Refusal, r.code())?)?;
            kw.set_item("reason", r.to_string())?;
            kw.set_item("details", crate::errors::refusal_details(py, r)?)?;
            "refused"
        }
        ApplyOutcome::Repeat(first) => {
            let inner = outcome(py, &first.outcome)?;
            kw.set_item("refusal", inner.getattr("refusal")?)?;
            kw.set_item("first", inner)?;
            kw.set_item("first_index", first.index.get())?;
            kw.set_item("first_term", first.term.get())?;
            "repeat"
        }
        ApplyOutcome::RetryTooOld => "retry-too-old",
    };
    kw.set_item("kind", member(py, Class::OutcomeKind, kind)?)?;
    build(py, Class::Outcome, &kw)
}

/// The `EventKind` value of an entry.
fn entry_kind(e: &ControlPlaneEntry) -> &'static str {
    match e {
        ControlPlaneEntry::Membership(_) => "membership",
        ControlPlaneEntry::OwnershipTransition(_) => "transition",
        ControlPlaneEntry::ForcedOwnershipTransition(_) => "forced-transition",
        ControlPlaneEntry::LeaderConfiguration { .. } => "leader-configuration",
    }
}

/// The range an entry is about, if any.
pub(crate) fn entry_range(e: &ControlPlaneEntry) -> Option<&RangeId> {
    match e {
        ControlPlaneEntry::OwnershipTransition(t) => Some(&t.range),
        ControlPlaneEntry::ForcedOwnershipTransition(t) => Some(&t.range),
        ControlPlaneEntry::Membership(
            MembershipChange::Admit { .. }
            | MembershipChange::BeginDrain { .. }
            | MembershipChange::Remove { .. },
        )
        | ControlPlaneEntry::LeaderConfiguration { .. } => None,
    }
}

/// An entry `Event`.
pub(crate) fn entry_event<'py>(
    py: Python<'py>,
    index: u64,
    term: u64,
    entry: &ControlPlaneEntry,
    o: &ApplyOutcome,
) -> PyResult<Bound<'py, PyAny>> {
    let kw = PyDict::new(py);
    kw.set_item("kind", member(py, Class::EventKind, entry_kind(entry))?)?;
    kw.set_item("index", index)?;
    kw.set_item("term", term)?;
    kw.set_item("entry", crate::entries::entry_to_py(py, entry)?)?;
    kw.set_item("outcome", outcome(py, o)?)?;
    build(py, Class::Event, &kw)
}

/// A `ROLE` event.
pub(crate) fn role_event<'py>(
    py: Python<'py>,
    r: CoreRole,
    term: u64,
    leader: Option<&LeaderHint>,
) -> PyResult<Bound<'py, PyAny>> {
    let kw = PyDict::new(py);
    kw.set_item("kind", member(py, Class::EventKind, "role")?)?;
    kw.set_item("index", py.None())?;
    kw.set_item("term", term)?;
    kw.set_item("role", role(py, r)?)?;
    kw.set_item("leader", leader.map(|l| l.id.as_str()))?;
    kw.set_item(
        "leader_address",
        leader.and_then(|l| l.address.as_ref()).map(|a| a.as_str()),
    )?;
    build(py, Class::Event, &kw)
}

/// A `SNAPSHOT` event of the catalog as of `index`, the ranges limited to
/// `only` when given.
pub(crate) fn snapshot_event<'py, 'a>(
    py: Python<'py>,
    index: u64,
    term: Option<u64>,
    members: impl Iterator<Item = &'a CoreMember>,
    ranges: impl Iterator<Item = (&'a RangeId, &'a RangeOwnership)>,
    only: Option<&RangeId>,
) -> PyResult<Bound<'py, PyAny>> {
    let members = member_tuple(py, members.cloned())?;
    let ranges = ranges
        .filter(|(r, _)| only.is_none_or(|o| o == *r))
        .map(|(r, o)| Py::new(py, Ownership::from_core(r.as_str().to_owned(), o.clone())))
        .collect::<PyResult<Vec<_>>>()?;
    let snap = PyDict::new(py);
    snap.set_item("index", index)?;
    snap.set_item("term", term)?;
    snap.set_item("members", members)?;
    snap.set_item("ranges", PyTuple::new(py, ranges)?)?;
    let snap = build(py, Class::Snapshot, &snap)?;
    let kw = PyDict::new(py);
    kw.set_item("kind", member(py, Class::EventKind, "snapshot")?)?;
    kw.set_item("index", index)?;
    kw.set_item("term", term)?;
    kw.set_item("snapshot", snap)?;
    build(py, Class::Event, &kw)
}

/// A `SNAPSHOT` event of a member's published view.
pub(crate) fn view_event<'py>(
    py: Python<'py>,
    view: &CatalogView,
    only: Option<&RangeId>,
) -> PyResult<Bound<'py, PyAny>> {
    let (index, term) = view.applied();
    snapshot_event(
        py,
        index.get(),
        Some(term.get()),
        view.members(),
        view.ranges(),
        only,
    )
}

/// A tuple of `Member`s.
pub(crate) fn member_tuple<'py>(
    py: Python<'py>,
    members: impl IntoIterator<Item = CoreMember>,
) -> PyResult<Bound<'py, PyTuple>> {
    let members = members
        .into_iter()
        .map(|m| Py::new(py, Member::from_core(m)))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, members)
}

/// A `ReadAt(value, index, term)`.
pub(crate) fn read_at<'py>(
    py: Python<'py>,
    value: Bound<'py, PyAny>,
    index: u64,
    term: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let kw = PyDict::new(py);
    kw.set_item("value", value)?;
    kw.set_item("index", index)?;
    kw.set_item("term", term)?;
    build(py, Class::ReadAt, &kw)
}

/// A `LeaderInfo`.
pub(crate) fn leader_info<'py>(
    py: Python<'py>,
    hint: &LeaderHint,
    term: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let kw = PyDict::new(py);
    kw.set_item("id", hint.id.as_str())?;
    kw.set_item("address", hint.address.as_ref().map(|a| a.as_str()))?;
    kw.set_item("term", term)?;
    build(py, Class::LeaderInfo, &kw)
}

/// Reads the `level` and `at_least` arguments of a read: `at_least` alone
/// (or with `AT_LEAST`) waits for that index; neither is a local read.
pub(crate) fn read_level(
    py: Python<'_>,
    level: Option<&Bound<'_, PyAny>>,
    at_least: Option<&Bound<'_, PyAny>>,
) -> PyResult<synod::node::ReadLevel> {
    use crate::errors::invalid_argument;
    use synod::node::ReadLevel as L;
    let name = match level {
        None => None,
        Some(l) if l.is_none() => None,
        Some(l) => {
            let l = if l.is_instance(class(py, Class::ReadLevel)?.as_any())? {
                l.clone()
            } else {
                class(py, Class::ReadLevel)?.call1((l,)).map_err(|_| {
                    invalid_argument(
                        py,
                        "level",
                        format!(
                            "level must be a ReadLevel ('local', 'at-least', 'linearizable'), not {l}"
                        ),
                    )
                })?
            };
            Some(l.getattr("value")?.extract::<String>()?)
        }
    };
    let index = match at_least {
        Some(i) if !i.is_none() => Some(synod::Index(crate::entries::log_number("at_least", i)?)),
        _ => None,
    };
    match (name.as_deref(), index) {
        (None | Some("local"), None) => Ok(L::Local),
        (None | Some("at-least"), Some(i)) => Ok(L::AtLeast(i)),
        (Some("linearizable"), None) => Ok(L::Linearizable),
        (Some("at-least"), None) => Err(invalid_argument(
            py,
            "at_least",
            "level=ReadLevel.AT_LEAST needs the index as at_least",
        )),
        (Some(other), Some(_)) => Err(invalid_argument(
            py,
            "at_least",
            format!("at_least goes with level=ReadLevel.AT_LEAST, not {other:?}"),
        )),
        (Some(other), None) => Err(invalid_argument(
            py,
            "level",
            format!("unknown read level {other:?}"),
        )),
    }
}
