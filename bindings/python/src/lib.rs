//! `synod._synod`: the PyO3 extension behind the `synod` Python package.
//!
//! It owns the Python face of the core and nothing else: the closed entry
//! set as frozen classes ([`entries`]), a `Node` handle over any
//! `ControlPlaneConsensus` engine with frozen answer classes ([`node`]),
//! the exception tree under `SynodError` ([`errors`]), the network client
//! `Client` with the `Status` it reports ([`client`]), and `RunningMember`,
//! a member of a networked cluster run in-process from its configuration
//! file, with `write_dev_certs` for a development CA ([`member`]). It
//! promises what the conventions promise: only the six entry classes can be
//! proposed (no bytes, no dicts), every call into the engine or the network
//! releases the GIL, every proposal and network call takes a `timeout`, and
//! every error carries its fields as attributes. It does not carry any rule of its own: validation and refusal
//! are the core's, surfaced unchanged. The stubs are hand-written in
//! `python/synod/_synod.pyi` and checked with `mypy.stubtest`.

use pyo3::prelude::*;
use pyo3::types::PyString;

mod blocking;
mod client;
mod config;
mod embedded;
mod entries;
mod errors;
mod logs;
mod member;
mod node;
mod pyclasses;
mod pytypes;
mod testing;
mod watch;

/// Validates a certificate subject as a member identity, exactly as the
/// core does (trimmed, non-empty, at most 1024 bytes, no control
/// characters), and returns the identity.
#[pyfunction]
fn parse_identity(py: Python<'_>, subject: &Bound<'_, PyString>) -> PyResult<String> {
    Ok(entries::identity(py, "subject", &subject.to_cow()?)?
        .as_str()
        .to_owned())
}

#[pymodule]
fn _synod(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", synod::VERSION)?;
    errors::register(m)?;
    pyclasses::register(m)?;
    m.add_class::<entries::Admit>()?;
    m.add_class::<entries::BeginDrain>()?;
    m.add_class::<entries::Remove>()?;
    m.add_class::<entries::OwnershipTransition>()?;
    m.add_class::<entries::ForcedOwnershipTransition>()?;
    m.add_class::<entries::LeaderConfiguration>()?;
    m.add_class::<node::Node>()?;
    m.add_class::<node::Commit>()?;
    m.add_class::<node::Ownership>()?;
    m.add_class::<node::FenceStatus>()?;
    m.add_class::<node::Member>()?;
    m.add_class::<node::AuditRecord>()?;
    m.add_class::<node::DurableVote>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Status>()?;
    m.add_class::<client::Peer>()?;
    m.add_class::<config::Config>()?;
    m.add_class::<member::RunningMember>()?;
    m.add_class::<member::RevocationSummary>()?;
    m.add_class::<watch::Watch>()?;
    m.add_function(wrap_pyfunction!(parse_identity, m)?)?;
    m.add_function(wrap_pyfunction!(member::write_dev_certs, m)?)?;
    logs::register(m)?;
    // The test hook is reachable as `_synod._scripted_node` but is not
    // exported: `add_function` would list it in `__all__`.
    m.setattr(
        "_scripted_node",
        wrap_pyfunction!(testing::_scripted_node, m)?,
    )?;
    Ok(())
}
