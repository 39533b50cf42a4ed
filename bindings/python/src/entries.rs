//! The closed entry set as frozen Python classes, and the argument parsing
//! they share with `Node`.
//!
//! One class per `ControlPlaneEntry` variant; each constructor validates its
//! arguments exactly as the core does, so an entry object that exists is a
//! valid entry. These six classes are the only things `Node.propose` takes:
//! there is no class, method or conversion that carries bytes or any other
//! user payload into the log.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};

use synod::{
    AuditReason, ControlPlaneEntry, Epoch, ForcedOwnershipTransition as CoreForced, MemberAddress,
    MemberKind as CoreKind, MembershipChange, NodeId, OwnershipTransition as CoreTransition,
    RangeId, Term,
};

use crate::errors::{invalid_argument, invalid_name};

/// Python's `repr` of a string.
pub(crate) fn py_repr(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_string())
}

/// `repr` of an optional string (`None` or the quoted string).
pub(crate) fn py_repr_opt(py: Python<'_>, s: Option<&str>) -> PyResult<String> {
    match s {
        Some(s) => py_repr(py, s),
        None => Ok("None".into()),
    }
}

/// Parses a member identity (a certificate subject) for argument `field`.
pub(crate) fn identity(py: Python<'_>, field: &str, s: &str) -> PyResult<NodeId> {
    NodeId::from_certificate_subject(s).map_err(|e| invalid_name(py, field, &e))
}

/// Parses a range id for argument `field`.
pub(crate) fn range_id(py: Python<'_>, field: &str, s: &str) -> PyResult<RangeId> {
    s.parse().map_err(|e| invalid_name(py, field, &e))
}

/// Parses a member address for argument `field`.
pub(crate) fn address(py: Python<'_>, field: &str, s: &str) -> PyResult<MemberAddress> {
    s.parse().map_err(|e| invalid_name(py, field, &e))
}

/// Reads an unsigned 64-bit log number (epoch, term). A non-int (or a bool)
/// is a `TypeError`; an int out of range is an `InvalidArgumentError`.
pub(crate) fn log_number(field: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let py = value.py();
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{field} must be an int, not {}",
            value.get_type().name()?
        )));
    }
    value.extract::<u64>().map_err(|_| {
        invalid_argument(
            py,
            field,
            format!("{field} must be between 0 and 2**64 - 1, not {value}"),
        )
    })
}

/// Reads a member kind: a `MemberKind` or its name, `"data"` or `"witness"`.
pub(crate) fn member_kind(field: &str, value: &Bound<'_, PyAny>) -> PyResult<CoreKind> {
    let py = value.py();
    if value
        .is_instance(crate::pyclasses::class(py, crate::pyclasses::Class::MemberKind)?.as_any())?
    {
        return value
            .getattr("value")?
            .extract::<String>()?
            .parse::<CoreKind>()
            .map_err(|e| invalid_name(py, field, &e));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return s
            .to_cow()?
            .parse::<CoreKind>()
            .map_err(|e| invalid_name(py, field, &e));
    }
    Err(PyTypeError::new_err(format!(
        "{field} must be a MemberKind or 'data' or 'witness', not {}",
        value.get_type().name()?
    )))
}

/// A `kind` argument: a `MemberKind` or its name.
pub(crate) struct KindArg(pub(crate) CoreKind);

impl<'a, 'py> FromPyObject<'a, 'py> for KindArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        member_kind("kind", &obj).map(KindArg)
    }
}

/// The `synod.MemberKind` of a core kind.
pub(crate) fn kind_to_py(py: Python<'_>, k: CoreKind) -> PyResult<Bound<'_, PyAny>> {
    crate::pyclasses::member(py, crate::pyclasses::Class::MemberKind, k.as_str())
}

/// Admit a member with its kind and peer address.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Admit {
    member: NodeId,
    kind: CoreKind,
    address: MemberAddress,
}

#[pymethods]
impl Admit {
    #[classattr]
    #[pyo3(name = "__match_args__")]
    const MATCH_ARGS: (&'static str, &'static str, &'static str) = ("member", "kind", "address");

    #[new]
    fn new(
        py: Python<'_>,
        member: &Bound<'_, PyString>,
        kind: KindArg,
        address: &Bound<'_, PyString>,
    ) -> PyResult<Self> {
        Ok(Self {
            member: identity(py, "member", &member.to_cow()?)?,
            kind: kind.0,
            address: self::address(py, "address", &address.to_cow()?)?,
        })
    }

    /// The member's identity.
    #[getter]
    fn member(&self) -> &str {
        self.member.as_str()
    }

    /// Data or witness.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        kind_to_py(py, self.kind)
    }

    /// Where its peers reach it.
    #[getter]
    fn address(&self) -> &str {
        self.address.as_str()
    }

    fn __getnewargs__(&self) -> (&str, &'static str, &str) {
        (
            self.member.as_str(),
            self.kind.as_str(),
            self.address.as_str(),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Admit(member={}, kind=MemberKind.{}, address={})",
            py_repr(py, self.member.as_str())?,
            self.kind.as_str().to_uppercase(),
            py_repr(py, self.address.as_str())?
        ))
    }

    fn __str__(&self) -> String {
        self.entry().to_string()
    }
}

impl Admit {
    fn entry(&self) -> ControlPlaneEntry {
        ControlPlaneEntry::Membership(MembershipChange::Admit {
            member: self.member.clone(),
            kind: self.kind,
            address: self.address.clone(),
        })
    }
}

/// Start draining a member: it is no longer eligible as a new owner.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BeginDrain {
    member: NodeId,
}

#[pymethods]
impl BeginDrain {
    #[classattr]
    #[pyo3(name = "__match_args__")]
    const MATCH_ARGS: (&'static str,) = ("member",);

    #[new]
    fn new(py: Python<'_>, member: &Bound<'_, PyString>) -> PyResult<Self> {
        Ok(Self {
            member: identity(py, "member", &member.to_cow()?)?,
        })
    }

    /// The member to drain.
    #[getter]
    fn member(&self) -> &str {
        self.member.as_str()
    }

    fn __getnewargs__(&self) -> (&str,) {
        (self.member.as_str(),)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "BeginDrain(member={})",
            py_repr(py, self.member.as_str())?
        ))
    }

    fn __str__(&self) -> String {
        self.entry().to_string()
    }
}

impl BeginDrain {
    fn entry(&self) -> ControlPlaneEntry {
        ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
            member: self.member.clone(),
        })
    }
}

/// Remove a member from the authorized set (refused while it owns ranges).
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Remove {
    member: NodeId,
}

#[pymethods]
impl Remove {
    #[classattr]
    #[pyo3(name = "__match_args__")]
    const MATCH_ARGS: (&'static str,) = ("member",);

    #[new]
    fn new(py: Python<'_>, member: &Bound<'_, PyString>) -> PyResult<Self> {
        Ok(Self {
            member: identity(py, "member", &member.to_cow()?)?,
        })
    }

    /// The member to remove.
    #[getter]
    fn member(&self) -> &str {
        self.member.as_str()
    }

    fn __getnewargs__(&self) -> (&str,) {
        (self.member.as_str(),)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Remove(member={})",
            py_repr(py, self.member.as_str())?
        ))
    }

    fn __str__(&self) -> String {
        self.entry().to_string()
    }
}

impl Remove {
    fn entry(&self) -> ControlPlaneEntry {
        ControlPlaneEntry::Membership(MembershipChange::Remove {
            member: self.member.clone(),
        })
    }
}

/// A fenced change of a range's owner to `new_owner` at `epoch`, which must
/// be exactly the range's current epoch plus one (a compare-and-set: a lower
/// epoch is refused as stale, a higher one as skipping epochs).
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OwnershipTransition(CoreTransition);

#[pymethods]
impl OwnershipTransition {
    #[classattr]
    #[pyo3(name = "__match_args__")]
    const MATCH_ARGS: (&'static str, &'static str, &'static str) = ("range", "new_owner", "epoch");

    #[new]
    fn new(
        py: Python<'_>,
        range: &Bound<'_, PyString>,
        new_owner: &Bound<'_, PyString>,
        epoch: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        Ok(Self(CoreTransition {
            range: range_id(py, "range", &range.to_cow()?)?,
            new_owner: identity(py, "new_owner", &new_owner.to_cow()?)?,
            epoch: Epoch(log_number("epoch", epoch)?),
        }))
    }

    /// The range whose owner changes.
    #[getter]
    fn range(&self) -> &str {
        self.0.range.as_str()
    }

    /// The owner after the transition.
    #[getter]
    fn new_owner(&self) -> &str {
        self.0.new_owner.as_str()
    }

    /// The epoch the range moves to.
    #[getter]
    fn epoch(&self) -> u64 {
        self.0.epoch.get()
    }

    fn __getnewargs__(&self) -> (&str, &str, u64) {
        (
            self.0.range.as_str(),
            self.0.new_owner.as_str(),
            self.0.epoch.get(),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "OwnershipTransition(range={}, new_owner={}, epoch={})",
            py_repr(py, self.0.range.as_str())?,
            py_repr(py, self.0.new_owner.as_str())?,
            self.0.epoch
        ))
    }

    fn __str__(&self) -> String {
        ControlPlaneEntry::OwnershipTransition(self.0.clone()).to_string()
    }
}

/// An operator's audited override of a range's owner: the range moves to its
/// current epoch plus one, so the old owner is still fenced.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ForcedOwnershipTransition(CoreForced);

#[pymethods]
impl ForcedOwnershipTransition {
    #[classattr]
    #[pyo3(name = "__match_args__")]
    const MATCH_ARGS: (&'static str, &'static str, &'static str, &'static str) =
        ("range", "new_owner", "operator", "reason");

    #[new]
    fn new(
        py: Python<'_>,
        range: &Bound<'_, PyString>,
        new_owner: &Bound<'_, PyString>,
        operator: &Bound<'_, PyString>,
        reason: &Bound<'_, PyString>,
    ) -> PyResult<Self> {
        Ok(Self(CoreForced {
            range: range_id(py, "range", &range.to_cow()?)?,
            new_owner: identity(py, "new_owner", &new_owner.to_cow()?)?,
            operator: identity(py, "operator", &operator.to_cow()?)?,
            reason: reason
                .to_cow()?
                .parse::<AuditReason>()
                .map_err(|e| invalid_name(py, "reason", &e))?,
        }))
    }

    /// The range whose owner changes.
    #[getter]
    fn range(&self) -> &str {
        self.0.range.as_str()
    }

    /// The owner after the transition.
    #[getter]
    fn new_owner(&self) -> &str {
        self.0.new_owner.as_str()
    }

    /// Who forced it.
    #[getter]
    fn operator(&self) -> &str {
        self.0.operator.as_str()
    }

    /// Why; never blank.
    #[getter]
    fn reason(&self) -> &str {
        self.0.reason.as_str()
    }

    fn __getnewargs__(&self) -> (&str, &str, &str, &str) {
        (
            self.0.range.as_str(),
            self.0.new_owner.as_str(),
            self.0.operator.as_str(),
            self.0.reason.as_str(),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ForcedOwnershipTransition(range={}, new_owner={}, operator={}, reason={})",
            py_repr(py, self.0.range.as_str())?,
            py_repr(py, self.0.new_owner.as_str())?,
            py_repr(py, self.0.operator.as_str())?,
            py_repr(py, self.0.reason.as_str())?
        ))
    }

    fn __str__(&self) -> String {
        ControlPlaneEntry::ForcedOwnershipTransition(self.0.clone()).to_string()
    }
}

/// The record that `term` elected `leader`.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LeaderConfiguration {
    term: Term,
    leader: NodeId,
}

#[pymethods]
impl LeaderConfiguration {
    #[classattr]
    #[pyo3(name = "__match_args__")]
    const MATCH_ARGS: (&'static str, &'static str) = ("term", "leader");

    #[new]
    fn new(
        py: Python<'_>,
        term: &Bound<'_, PyAny>,
        leader: &Bound<'_, PyString>,
    ) -> PyResult<Self> {
        Ok(Self {
            term: Term(log_number("term", term)?),
            leader: identity(py, "leader", &leader.to_cow()?)?,
        })
    }

    /// The term that elected the leader.
    #[getter]
    fn term(&self) -> u64 {
        self.term.get()
    }

    /// The elected leader.
    #[getter]
    fn leader(&self) -> &str {
        self.leader.as_str()
    }

    fn __getnewargs__(&self) -> (u64, &str) {
        (self.term.get(), self.leader.as_str())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "LeaderConfiguration(term={}, leader={})",
            self.term,
            py_repr(py, self.leader.as_str())?
        ))
    }

    fn __str__(&self) -> String {
        self.entry().to_string()
    }
}

impl LeaderConfiguration {
    fn entry(&self) -> ControlPlaneEntry {
        ControlPlaneEntry::LeaderConfiguration {
            term: self.term,
            leader: self.leader.clone(),
        }
    }
}

/// The core entry behind one of the six entry classes; anything else is a
/// `TypeError`, because nothing else may enter the log.
pub(crate) fn to_entry(value: &Bound<'_, PyAny>) -> PyResult<ControlPlaneEntry> {
    if let Ok(e) = value.cast::<Admit>() {
        return Ok(e.get().entry());
    }
    if let Ok(e) = value.cast::<BeginDrain>() {
        return Ok(e.get().entry());
    }
    if let Ok(e) = value.cast::<Remove>() {
        return Ok(e.get().entry());
    }
    if let Ok(e) = value.cast::<OwnershipTransition>() {
        return Ok(ControlPlaneEntry::OwnershipTransition(e.get().0.clone()));
    }
    if let Ok(e) = value.cast::<ForcedOwnershipTransition>() {
        return Ok(ControlPlaneEntry::ForcedOwnershipTransition(
            e.get().0.clone(),
        ));
    }
    if let Ok(e) = value.cast::<LeaderConfiguration>() {
        return Ok(e.get().entry());
    }
    Err(PyTypeError::new_err(format!(
        "only a control-plane entry (Admit, BeginDrain, Remove, OwnershipTransition, \
         ForcedOwnershipTransition, LeaderConfiguration) can be proposed, not {}",
        value.get_type().name()?
    )))
}

/// The Python entry object (`Admit`, ..., `LeaderConfiguration`) of a core
/// entry (for watch events).
pub(crate) fn entry_to_py<'py>(
    py: Python<'py>,
    entry: &ControlPlaneEntry,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match entry {
        ControlPlaneEntry::Membership(MembershipChange::Admit {
            member,
            kind,
            address,
        }) => Bound::new(
            py,
            Admit {
                member: member.clone(),
                kind: *kind,
                address: address.clone(),
            },
        )?
        .into_any(),
        ControlPlaneEntry::Membership(MembershipChange::BeginDrain { member }) => Bound::new(
            py,
            BeginDrain {
                member: member.clone(),
            },
        )?
        .into_any(),
        ControlPlaneEntry::Membership(MembershipChange::Remove { member }) => Bound::new(
            py,
            Remove {
                member: member.clone(),
            },
        )?
        .into_any(),
        ControlPlaneEntry::OwnershipTransition(t) => {
            Bound::new(py, OwnershipTransition(t.clone()))?.into_any()
        }
        ControlPlaneEntry::ForcedOwnershipTransition(t) => {
            Bound::new(py, ForcedOwnershipTransition(t.clone()))?.into_any()
        }
        ControlPlaneEntry::LeaderConfiguration { term, leader } => Bound::new(
            py,
            LeaderConfiguration {
                term: *term,
                leader: leader.clone(),
            },
        )?
        .into_any(),
    })
}
