//! `RunningMember`: one member of a networked cluster run inside this
//! process from its configuration file (what `synod node --config` runs),
//! and `write_dev_certs`, the development CA of `synod certs`.
//!
//! The member (`synod::node::runner::RunningMember`: engine, mutual-TLS
//! listener, client service, metrics listener) lives inside the Python
//! object until `close()`; its `node` is a `synod.Node` over the same
//! engine, so every `Node` method works on it. Closing that `Node` only
//! stops proposals through that handle; closing the `RunningMember` stops
//! the member itself. Start-up and shut-down run with the GIL released.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

use synod::catalog::CatalogView;
use synod::node::config::{ConfigError, NodeConfig, TlsSettings};
use synod::node::runner::{start_member, RunError, RunningMember as CoreRunning};
use synod::node::ReadLevel;
use synod::transport::certs::validate_name;
use synod::transport::TransportError;
use synod::{ControlPlaneConsensus, Epoch, Index, RangeId};

use crate::config::Config;
use crate::entries::{identity, log_number, py_repr, range_id};
use crate::errors::{invalid_argument, new_err, propose_error, Kind};
use crate::node::{FenceStatus, Node, Ownership};
use crate::watch::{Watch, WatchArgs};
use crate::{blocking, pytypes};

/// Why a member did not start, before or after its configuration was read.
enum StartError {
    Config(ConfigError),
    Run(Box<(RunError, TlsSettings)>),
}

/// The path of the TLS file a PEM problem is in, if the configuration says.
fn pem_file(tls: &TlsSettings, what: &str) -> Option<PathBuf> {
    match tls {
        TlsSettings::Mutual { cert, key, ca } => match what {
            "certificate chain" => Some(cert.clone()),
            "private key" => Some(key.clone()),
            "CA bundle" => Some(ca.clone()),
            _ => None,
        },
        TlsSettings::Insecure => None,
    }
}

fn start_error(py: Python<'_>, path: &Path, err: StartError) -> PyErr {
    let field = "config_path";
    match err {
        StartError::Config(e) => invalid_argument(py, field, e.to_string()),
        StartError::Run(run) => {
            let (e, tls) = *run;
            let message = format!("{}: {e}", path.display());
            match &e {
                RunError::Transport(TransportError::Pem { what, .. }) => {
                    let named = match pem_file(&tls, what) {
                        Some(file) => format!("{message} (in {})", file.display()),
                        None => message,
                    };
                    invalid_argument(py, field, named)
                }
                RunError::Transport(TransportError::TlsConfig(_)) => {
                    let named = match &tls {
                        TlsSettings::Mutual { cert, key, ca } => format!(
                            "{message} (cert {}, key {}, ca {})",
                            cert.display(),
                            key.display(),
                            ca.display()
                        ),
                        TlsSettings::Insecure => message,
                    };
                    invalid_argument(py, field, named)
                }
                RunError::Transport(
                    TransportError::File { .. }
                    | TransportError::Certificate(_)
                    | TransportError::Identity(_)
                    | TransportError::Address { .. },
                )
                | RunError::IdentityMismatch { .. }
                | RunError::Address { .. } => invalid_argument(py, field, message),
                RunError::Storage(_) | RunError::DataDir { .. } => {
                    new_err(py, Kind::Storage, message, None)
                }
                RunError::Join { .. } => new_err(py, Kind::Unavailable, message, None),
                _ => new_err(py, Kind::Synod, message, None),
            }
        }
    }
}

/// One member of a cluster, running in this process.
///
/// `RunningMember.start(config_path)` reads the configuration file (the
/// format `synod node --config` takes) or takes a `synod.Config`, opens or
/// creates the data directory, bootstraps or joins, and starts serving peers
/// and clients.
/// `node` is a `synod.Node` over the same engine. `close()` (or leaving a
/// `with` block) stops the member: its listener closes and its `node`
/// answers `ShutdownError` to proposals.
#[pyclass(frozen, module = "synod._synod")]
pub struct RunningMember {
    member: Mutex<Option<CoreRunning>>,
    engine: Arc<synod::Node>,
    node: Py<Node>,
    id: String,
    local_addr: String,
    metrics_addr: Option<String>,
    closed: AtomicBool,
    /// The configuration file it started from (what a reload re-reads by
    /// default); None when it started from a `synod.Config`.
    config_path: Option<PathBuf>,
}

/// What `RunningMember.reload_revocation` put in force.
#[pyclass(frozen, module = "synod._synod")]
pub struct RevocationSummary {
    /// Identities on the deny list.
    #[pyo3(get)]
    denied: usize,
    /// Certificate revocation lists.
    #[pyo3(get)]
    crls: usize,
}

#[pymethods]
impl RevocationSummary {
    fn __repr__(&self) -> String {
        format!(
            "RevocationSummary(denied={}, crls={})",
            self.denied, self.crls
        )
    }
}

impl RunningMember {
    /// The catalog at a read level, with the GIL released and Ctrl-C
    /// answered while it waits (a local read never waits).
    fn view(&self, py: Python<'_>, level: ReadLevel, timeout: f64) -> PyResult<Arc<CatalogView>> {
        let limit = crate::node::timeout(py, timeout)?;
        let engine = Arc::clone(&self.engine);
        let got = match level {
            ReadLevel::Local => engine.view(),
            level => blocking::run(py, move || engine.read_view(level, limit))?,
        };
        got.map_err(|e| propose_error(py, e))
    }

    /// Reads `range`'s owner from `view` as a `ReadAt`.
    fn owner_in<'py>(
        py: Python<'py>,
        view: &CatalogView,
        range: &RangeId,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = match view.owner(range) {
            Some(o) => Bound::new(
                py,
                Ownership::from_core(range.as_str().to_owned(), o.clone()),
            )?
            .into_any(),
            None => py.None().into_bound(py),
        };
        let (index, term) = view.applied();
        pytypes::read_at(py, value, index.get(), term.get())
    }
}

#[pymethods]
impl RunningMember {
    /// Starts the member described by `config_path`: the path of a
    /// configuration file, or a `synod.Config`. Joining waits (up to 30
    /// seconds) for the member's admission to be visible.
    #[staticmethod]
    fn start(py: Python<'_>, config_path: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (built, config_path) = match config_path.cast::<Config>() {
            Ok(config) => (Some(config.get().node_config(py)?), None),
            Err(_) => {
                let path: PathBuf = config_path.extract().map_err(|_| {
                    let name = config_path
                        .get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    PyTypeError::new_err(format!(
                        "config_path must be a synod.Config, a str or an os.PathLike, not {name}"
                    ))
                })?;
                (None, Some(path))
            }
        };
        // On a helper thread, so Ctrl-C interrupts a start that waits (to
        // join, say): a member that starts after that is stopped again.
        let path = config_path.clone();
        let started = blocking::run(py, move || {
            let config = match (built, path) {
                (Some(config), _) => config,
                (None, Some(path)) => NodeConfig::load(&path).map_err(StartError::Config)?,
                (None, None) => unreachable!("a Config or a path"),
            };
            start_member(&config).map_err(|e| StartError::Run(Box::new((e, config.tls.clone()))))
        })?;
        let named = config_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("synod.Config"));
        let member = started.map_err(|e| start_error(py, &named, e))?;
        let engine = Arc::clone(member.node());
        let shared: Arc<dyn ControlPlaneConsensus> = engine.clone();
        // The handle's close only stops its own proposals; the member stops
        // with `RunningMember.close()`.
        let node = Py::new(py, Node::new(shared, Box::new(|| {})))?;
        Ok(Self {
            id: engine.id().as_str().to_owned(),
            local_addr: member.local_addr().to_string(),
            metrics_addr: member.metrics_addr().map(|a| a.to_string()),
            member: Mutex::new(Some(member)),
            engine,
            node,
            closed: AtomicBool::new(false),
            config_path,
        })
    }

    /// Re-reads the revocation lists (`[tls] deny` and `[tls] crl`) of the
    /// configuration file (`config_path`, by default the one the member
    /// started from) and puts them in force without a restart: new
    /// connections see them at once, open connections of a newly refused
    /// identity fail at their next read or write. What `synod node` does on
    /// SIGHUP; only these two settings are re-read. A reload that cannot
    /// apply (an invalid file, an unreadable CRL or one of another CA, lists
    /// that would refuse the member's own certificate, lists on a member
    /// without TLS) raises `InvalidArgumentError` and changes nothing;
    /// `ShutdownError` once the member is closed.
    #[pyo3(signature = (config_path=None))]
    fn reload_revocation(
        &self,
        py: Python<'_>,
        config_path: Option<PathBuf>,
    ) -> PyResult<RevocationSummary> {
        let Some(path) = config_path.or_else(|| self.config_path.clone()) else {
            return Err(invalid_argument(
                py,
                "config_path",
                "config_path: the member started from a synod.Config, not a file: pass the \
                 file to re-read",
            ));
        };
        let done = py.detach(|| {
            let config =
                NodeConfig::load(&path).map_err(|e| (Kind::InvalidArgument, e.to_string()))?;
            let member = self.member.lock().unwrap_or_else(|p| p.into_inner());
            match member.as_ref() {
                None => Err((Kind::Shutdown, "the member is closed".to_string())),
                Some(m) => m
                    .reload_revocation(&config)
                    .map_err(|e| (Kind::InvalidArgument, format!("{}: {e}", path.display()))),
            }
        });
        match done {
            Ok(s) => Ok(RevocationSummary {
                denied: s.denied,
                crls: s.crls,
            }),
            Err((Kind::InvalidArgument, m)) => Err(invalid_argument(py, "config_path", m)),
            Err((kind, m)) => Err(new_err(py, kind, m, None)),
        }
    }

    /// A `synod.Node` over this member's engine.
    #[getter]
    fn node(&self, py: Python<'_>) -> Py<Node> {
        self.node.clone_ref(py)
    }

    /// This member's identity.
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// Where it listens for peers and clients (`host:port`, the bound port
    /// when the configuration asked for port 0).
    #[getter]
    fn local_addr(&self) -> &str {
        &self.local_addr
    }

    /// Where its metrics HTTP listener listens, if configured.
    #[getter]
    fn metrics_addr(&self) -> Option<&str> {
        self.metrics_addr.as_deref()
    }

    /// Its metrics in the Prometheus text format.
    fn metrics(&self, py: Python<'_>) -> String {
        let engine = Arc::clone(&self.engine);
        py.detach(move || engine.metrics_text())
    }

    /// The owner of `range` at a read level, with the applied index and
    /// term the answer reflects: `ReadAt(value, index, term)`, `value` an
    /// `Ownership` or None. `level`: `ReadLevel.LOCAL` (the default; never
    /// waits), `ReadLevel.LINEARIZABLE`, or `ReadLevel.AT_LEAST` with
    /// `at_least` (an index: waits until this member applied it; `at_least`
    /// alone implies that level). Waits at most `timeout` seconds
    /// (`TimeoutError`); Ctrl-C interrupts the wait.
    #[pyo3(
        signature = (range, *, level = None, at_least = None, timeout = 5.0),
        text_signature = "(self, range, *, level=None, at_least=None, timeout=5.0)"
    )]
    fn owner_at<'py>(
        &self,
        py: Python<'py>,
        range: &Bound<'py, PyString>,
        level: Option<&Bound<'py, PyAny>>,
        at_least: Option<&Bound<'py, PyAny>>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let level = pytypes::read_level(py, level, at_least)?;
        let view = self.view(py, level, timeout)?;
        Self::owner_in(py, &view, &range)
    }

    /// Whether (`owner`, `epoch`) owns `range`, at a read level (see
    /// `owner_at`): `ReadAt(FenceStatus, index, term)`.
    #[pyo3(
        signature = (range, owner, epoch, *, level = None, at_least = None, timeout = 5.0),
        text_signature = "(self, range, owner, epoch, *, level=None, at_least=None, timeout=5.0)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn fence_check_at<'py>(
        &self,
        py: Python<'py>,
        range: &Bound<'py, PyString>,
        owner: &Bound<'py, PyString>,
        epoch: &Bound<'py, PyAny>,
        level: Option<&Bound<'py, PyAny>>,
        at_least: Option<&Bound<'py, PyAny>>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let owner = identity(py, "owner", &owner.to_cow()?)?;
        let epoch = Epoch(log_number("epoch", epoch)?);
        let level = pytypes::read_level(py, level, at_least)?;
        let view = self.view(py, level, timeout)?;
        let value = Bound::new(
            py,
            FenceStatus::from_core(view.fence_check(&range, &owner, epoch)),
        )?;
        let (index, term) = view.applied();
        pytypes::read_at(py, value.into_any(), index.get(), term.get())
    }

    /// The members (identity order) at a read level (see `owner_at`):
    /// `ReadAt(tuple[Member, ...], index, term)`.
    #[pyo3(
        signature = (*, level = None, at_least = None, timeout = 5.0),
        text_signature = "(self, *, level=None, at_least=None, timeout=5.0)"
    )]
    fn members_at<'py>(
        &self,
        py: Python<'py>,
        level: Option<&Bound<'py, PyAny>>,
        at_least: Option<&Bound<'py, PyAny>>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let level = pytypes::read_level(py, level, at_least)?;
        let view = self.view(py, level, timeout)?;
        let members = pytypes::member_tuple(py, view.members().cloned())?.into_any();
        let (index, term) = view.applied();
        pytypes::read_at(py, members, index.get(), term.get())
    }

    /// Waits until this member has applied log index `index` (at most
    /// `timeout` seconds: `TimeoutError`; Ctrl-C interrupts the wait) and
    /// returns the `(index, term)` it has applied then (`index` or later).
    #[pyo3(signature = (index, timeout = 5.0))]
    fn wait_applied(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        timeout: f64,
    ) -> PyResult<(u64, u64)> {
        let index = Index(log_number("index", index)?);
        let view = self.view(py, ReadLevel::AtLeast(index), timeout)?;
        let (i, t) = view.applied();
        Ok((i.get(), t.get()))
    }

    /// The leader this member knows of: its identity, address and the term
    /// it leads in (`LeaderInfo`), or None while it knows none. A stopped
    /// member raises `ShutdownError` (`StorageError`).
    fn leader<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let engine = Arc::clone(&self.engine);
        let (running, info) = py.detach(move || (engine.view().map(|_| ()), engine.leader_info()));
        running.map_err(|e| propose_error(py, e))?;
        match info {
            Some(l) => pytypes::leader_info(py, &l.hint, l.term.get()).map(Some),
            None => Ok(None),
        }
    }

    /// A change feed of this member from index `from_index` on: an
    /// iterator of `synod.Event`s (every entry this member applies, with its
    /// outcome, once each and in log order; its own role changes; a
    /// `SNAPSHOT` when the events before an index are no longer kept here).
    /// With `range`, only the entries of that range (and role changes, and
    /// snapshots limited to it). `timeout` (seconds) bounds the wait for
    /// each event: when it passes, iteration stops; None waits for ever.
    /// Ctrl-C interrupts a waiting iteration. Once the member stops,
    /// iteration raises `ShutdownError` (`StorageError`).
    #[pyo3(
        signature = (from_index = None, *, range = None, timeout = None),
        text_signature = "(self, from_index=0, *, range=None, timeout=None)"
    )]
    fn watch(
        &self,
        py: Python<'_>,
        from_index: Option<&Bound<'_, PyAny>>,
        range: Option<&Bound<'_, PyString>>,
        timeout: Option<f64>,
    ) -> PyResult<Watch> {
        let args = WatchArgs::parse(py, from_index, range, timeout)?;
        let w = self
            .engine
            .watch(Index(args.from))
            .map_err(|e| propose_error(py, e))?;
        Ok(Watch::local(w, args))
    }

    /// Whether `close()` has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops the member: its engine (every waiting proposal is answered),
    /// its listener and connections, its metrics listener; its `node` is
    /// closed too. Idempotent.
    fn close(&self, py: Python<'_>) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            py.detach(|| {
                let member = self.member.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(m) = member {
                    m.shutdown();
                }
            });
            self.node.get().close(py);
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
            "RunningMember(id={}, local_addr={}, closed={})",
            py_repr(py, &self.id)?,
            py_repr(py, &self.local_addr)?,
            if self.closed() { "True" } else { "False" }
        ))
    }
}

/// Writes a development CA and certificates into `out_dir` (created if
/// missing): `ca.pem`, `ca-key.pem`, then `<name>.pem` and `<name>-key.pem`
/// for every name in `nodes` and then `clients`, each certificate's
/// identity being `CN=<name>`. Returns the paths written, in that order.
/// Names (1-64 of `[A-Za-z0-9._-]`, not starting with `.`, not `ca`, no
/// repeats) are checked first, so a bad list writes nothing.
#[pyfunction]
#[pyo3(
    signature = (out_dir, nodes, clients = Vec::new()),
    text_signature = "(out_dir, nodes, clients=())"
)]
pub(crate) fn write_dev_certs(
    py: Python<'_>,
    out_dir: PathBuf,
    nodes: Vec<String>,
    clients: Vec<String>,
) -> PyResult<Vec<PathBuf>> {
    let mut seen = std::collections::BTreeSet::new();
    for (field, names) in [("nodes", &nodes), ("clients", &clients)] {
        for name in names {
            if let Err(e) = validate_name(name) {
                return Err(invalid_argument(py, field, format!("{field}: {e}")));
            }
            if !seen.insert(name.as_str()) {
                return Err(invalid_argument(
                    py,
                    field,
                    format!("{field}: the name {name:?} is given twice"),
                ));
            }
        }
    }
    py.detach(|| synod::transport::certs::write_dev_certs(&out_dir, &nodes, &clients))
        .map_err(|e| match e {
            TransportError::File { .. } => invalid_argument(py, "out_dir", e.to_string()),
            e => new_err(py, Kind::Synod, e.to_string(), None),
        })
}
