//! The plain-Python enums and frozen result dataclasses of the extension
//! (`types.py`, compiled in): defining them at import and building their
//! instances. Imports nothing else of this crate but `embedded`.
//!
//! Like the exception tree ([`crate::errors`]), the classes are defined by
//! running `types.py` at import in the module's namespace; the Rust side
//! keeps the class objects and builds instances by calling them.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyType};

use crate::embedded::Classes;

/// The classes `types.py` defines, in this order.
const NAMES: [&str; 12] = [
    "EventKind",
    "Role",
    "OutcomeKind",
    "Refusal",
    "ReadLevel",
    "Outcome",
    "Snapshot",
    "Event",
    "ReadAt",
    "LeaderInfo",
    "MemberKind",
    "MemberState",
];

#[derive(Clone, Copy)]
pub(crate) enum Class {
    EventKind = 0,
    Role = 1,
    OutcomeKind = 2,
    Refusal = 3,
    ReadLevel = 4,
    Outcome = 5,
    Snapshot = 6,
    Event = 7,
    ReadAt = 8,
    LeaderInfo = 9,
    MemberKind = 10,
    MemberState = 11,
}

static CLASSES: Classes = Classes::new();

/// Defines the classes and adds them to `module`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let source = pyo3::ffi::c_str!(include_str!("types.py"));
    CLASSES.define(module, "types.py", source, &NAMES)
}

/// The class `c`.
pub(crate) fn class(py: Python<'_>, c: Class) -> PyResult<Bound<'_, PyType>> {
    CLASSES
        .get(py, c as usize)
        .cloned()
        .ok_or_else(|| PyRuntimeError::new_err("synod._synod is not initialised"))
}

/// The member of enum `c` with value `value`.
pub(crate) fn member<'py, V: IntoPyObject<'py>>(
    py: Python<'py>,
    c: Class,
    value: V,
) -> PyResult<Bound<'py, PyAny>> {
    class(py, c)?.call1((value,))
}

/// An instance of dataclass `c` from keyword arguments.
pub(crate) fn build<'py>(
    py: Python<'py>,
    c: Class,
    kwargs: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    class(py, c)?.call((), Some(kwargs))
}
