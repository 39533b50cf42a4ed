//! The exception tree and the mapping from core errors onto it.
//!
//! The classes are defined in `errors.py` (compiled into the extension) and
//! registered on the module at import; the Rust side keeps the class objects
//! so it can raise them with their attributes. Every error a caller can see
//! is one of them, except `TypeError` for a value of the wrong Python type.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use synod::node::client::ClientCallError;
use synod::node::protocol::RemoteError;
use synod::{IdentityError, LeaderHint, ProposeError, Refusal};

use crate::embedded::Classes;

/// The names, in definition order, of the classes `errors.py` defines.
const NAMES: [&str; 14] = [
    "SynodError",
    "InvalidArgumentError",
    "InvalidIdentityError",
    "NotLeaderError",
    "NoQuorumError",
    "TimeoutError",
    "RefusedError",
    "ShutdownError",
    "StorageError",
    "UnauthorizedError",
    "UnavailableError",
    "IndeterminateError",
    "OverloadedError",
    "TlsError",
];

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Synod = 0,
    InvalidArgument = 1,
    InvalidIdentity = 2,
    NotLeader = 3,
    NoQuorum = 4,
    Timeout = 5,
    Refused = 6,
    Shutdown = 7,
    Storage = 8,
    Unauthorized = 9,
    Unavailable = 10,
    Indeterminate = 11,
    Overloaded = 12,
    Tls = 13,
}

static CLASSES: Classes = Classes::new();

/// Defines the classes and adds them to `module`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let source = pyo3::ffi::c_str!(include_str!("errors.py"));
    CLASSES.define(module, "errors.py", source, &NAMES)
}

/// Builds an exception of `kind` with `message` and keyword attributes.
pub(crate) fn new_err(
    py: Python<'_>,
    kind: Kind,
    message: impl Into<String>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyErr {
    let message = message.into();
    let Some(class) = CLASSES.get(py, kind as usize) else {
        return PyRuntimeError::new_err(message);
    };
    match class.call((message,), kwargs) {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

/// `InvalidArgumentError` for argument `field`.
pub(crate) fn invalid_argument(py: Python<'_>, field: &str, message: impl Into<String>) -> PyErr {
    with_field(py, Kind::InvalidArgument, field, message.into())
}

/// `InvalidIdentityError` (an identity) or `InvalidArgumentError` (another
/// name) for argument `field`.
pub(crate) fn invalid_name(py: Python<'_>, field: &str, err: &IdentityError) -> PyErr {
    let kind = match err {
        IdentityError::Empty { what }
        | IdentityError::TooLong { what, .. }
        | IdentityError::ControlCharacter { what, .. }
        | IdentityError::NotUtf8 { what }
            if *what == "identity" =>
        {
            Kind::InvalidIdentity
        }
        IdentityError::SurroundingWhitespace => Kind::InvalidIdentity,
        _ => Kind::InvalidArgument,
    };
    with_field(py, kind, field, format!("{field}: {err}"))
}

fn with_field(py: Python<'_>, kind: Kind, field: &str, message: String) -> PyErr {
    let kwargs = PyDict::new(py);
    if let Err(e) = kwargs.set_item("field", field) {
        return e;
    }
    new_err(py, kind, message, Some(&kwargs))
}

/// `ShutdownError` with `message`.
pub(crate) fn shutdown(py: Python<'_>, message: impl Into<String>) -> PyErr {
    new_err(py, Kind::Shutdown, message, None)
}

/// Sets the `leader` and `leader_address` attributes of a `NotLeaderError`.
fn set_leader(kwargs: &Bound<'_, PyDict>, leader: Option<&LeaderHint>) -> PyResult<()> {
    kwargs.set_item("leader", leader.map(|l| l.id.as_str()))?;
    kwargs.set_item(
        "leader_address",
        leader.and_then(|l| l.address.as_ref()).map(|a| a.as_str()),
    )
}

/// The exception for a failed call of the network client; `identity` is
/// the identity the client presented (for `UnauthorizedError`).
pub(crate) fn client_error(py: Python<'_>, err: ClientCallError, identity: &str) -> PyErr {
    let message = err.to_string();
    let kwargs = PyDict::new(py);
    let filled = (|| -> PyResult<Kind> {
        Ok(match &err {
            ClientCallError::Remote(remote) => match remote {
                RemoteError::NotLeader { leader } => {
                    set_leader(&kwargs, leader.as_ref())?;
                    Kind::NotLeader
                }
                RemoteError::NoQuorum => Kind::NoQuorum,
                RemoteError::Timeout(ms) => {
                    kwargs.set_item("timeout", *ms as f64 / 1000.0)?;
                    Kind::Timeout
                }
                RemoteError::Refused { refusal, at } => {
                    kwargs.set_item("code", refusal_code(py, refusal.code)?)?;
                    kwargs.set_item("name", refusal.name.as_str())?;
                    kwargs.set_item("reason", refusal.text.as_str())?;
                    // The facts, when the member sent them (members of
                    // this version do).
                    match refusal.refusal.as_deref() {
                        Some(whole) => kwargs.set_item("details", refusal_details(py, whole)?)?,
                        None => kwargs.set_item("details", PyDict::new(py))?,
                    }
                    kwargs.set_item("index", at.map(|(i, _)| i.get()))?;
                    kwargs.set_item("term", at.map(|(_, t)| t.get()))?;
                    Kind::Refused
                }
                RemoteError::Shutdown => Kind::Shutdown,
                RemoteError::Storage(_) => Kind::Storage,
                RemoteError::Unauthorized(_) => {
                    kwargs.set_item("identity", identity)?;
                    Kind::Unauthorized
                }
                // The member did not understand what this client sent: not
                // the caller's argument, a protocol mismatch.
                RemoteError::BadRequest(_) => Kind::Synod,
                RemoteError::Indeterminate(_) => Kind::Indeterminate,
                RemoteError::NotTransferred(_) => Kind::Timeout,
                RemoteError::Overloaded(_) => Kind::Overloaded,
            },
            ClientCallError::Unreachable(_) => Kind::Unavailable,
            ClientCallError::Tls(_) => Kind::Tls,
            ClientCallError::Indeterminate(_) => Kind::Indeterminate,
            ClientCallError::NoEndpoints => {
                kwargs.set_item("field", "endpoints")?;
                Kind::InvalidArgument
            }
            ClientCallError::Protocol(_) | ClientCallError::Unexpected(_) => Kind::Synod,
        })
    })();
    match filled {
        Ok(kind) => new_err(py, kind, message, Some(&kwargs)),
        Err(e) => e,
    }
}

/// The exception for a failed proposal.
pub(crate) fn propose_error(py: Python<'_>, err: ProposeError) -> PyErr {
    let message = err.to_string();
    let kwargs = PyDict::new(py);
    let filled = (|| -> PyResult<Kind> {
        Ok(match &err {
            ProposeError::NotLeader { leader } => {
                set_leader(&kwargs, leader.as_ref())?;
                Kind::NotLeader
            }
            ProposeError::NoQuorum => Kind::NoQuorum,
            ProposeError::Timeout(d) => {
                kwargs.set_item("timeout", d.as_secs_f64())?;
                Kind::Timeout
            }
            ProposeError::Refused { refusal, at } => {
                kwargs.set_item("code", refusal_code(py, refusal.code())?)?;
                kwargs.set_item("name", refusal.name())?;
                kwargs.set_item("reason", refusal.to_string())?;
                kwargs.set_item("details", refusal_details(py, refusal)?)?;
                kwargs.set_item("index", at.map(|(i, _)| i.get()))?;
                kwargs.set_item("term", at.map(|(_, t)| t.get()))?;
                Kind::Refused
            }
            ProposeError::Shutdown => Kind::Shutdown,
            ProposeError::Storage(_) => Kind::Storage,
            ProposeError::Indeterminate(_) => Kind::Indeterminate,
            ProposeError::NotTransferred(_) => Kind::Timeout,
            ProposeError::Overloaded(_) => Kind::Overloaded,
        })
    })();
    match filled {
        Ok(kind) => new_err(py, kind, message, Some(&kwargs)),
        Err(e) => e,
    }
}

/// A refusal code as a `synod.Refusal` (an `IntEnum`), or the plain int
/// for a code this build does not know (a newer member's).
fn refusal_code(py: Python<'_>, code: u32) -> PyResult<Bound<'_, PyAny>> {
    match crate::pyclasses::member(py, crate::pyclasses::Class::Refusal, code) {
        Ok(r) => Ok(r),
        Err(_) => Ok(code.into_pyobject(py)?.into_any()),
    }
}

/// The fields of a refusal, as a dict of str to str or int.
pub(crate) fn refusal_details<'py>(
    py: Python<'py>,
    refusal: &Refusal,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match refusal {
        Refusal::UnknownMember { member }
        | Refusal::MemberDraining { member }
        | Refusal::LastMember { member }
        | Refusal::WitnessCannotOwn { member } => d.set_item("member", member.as_str())?,
        Refusal::MemberConflict {
            member,
            kind,
            address,
        } => {
            d.set_item("member", member.as_str())?;
            d.set_item("kind", kind.as_str())?;
            d.set_item("address", address.as_str())?;
        }
        Refusal::MemberOwnsRanges { member, ranges } => {
            d.set_item("member", member.as_str())?;
            d.set_item("ranges", *ranges)?;
        }
        Refusal::StaleEpoch {
            range,
            current,
            proposed,
        }
        | Refusal::EpochNotNext {
            range,
            current,
            proposed,
        } => {
            d.set_item("range", range.as_str())?;
            d.set_item("current", current.get())?;
            d.set_item("proposed", proposed.get())?;
        }
        Refusal::EpochExhausted { range } => d.set_item("range", range.as_str())?,
        Refusal::TermRegressed { term, latest } => {
            d.set_item("term", term.get())?;
            d.set_item("latest", latest.get())?;
        }
        Refusal::ConflictingLeader {
            term,
            recorded,
            proposed,
        } => {
            d.set_item("term", term.get())?;
            d.set_item("recorded", recorded.as_str())?;
            d.set_item("proposed", proposed.as_str())?;
        }
        Refusal::LeaderConfigurationNotCurrent { term, leader } => {
            d.set_item("term", term.get())?;
            d.set_item("leader", leader.as_str())?;
        }
        Refusal::CatalogFull { what, limit } => {
            d.set_item("what", what.name())?;
            d.set_item("limit", *limit)?;
        }
    }
    Ok(d)
}
