//! `Client`: a frozen handle over the network client
//! (`synod::node::client::Client`), and the `Status` a member reports.
//!
//! The Rust client needs `&mut` (it keeps one connection and remembers where
//! the leader was), so it lives behind a mutex; every call runs with the GIL
//! released and takes a `timeout` in seconds that bounds it, retries and
//! leader-following included (the client's default when None). Errors keep
//! the shape of the exception tree: a member's refusal, not-leader or
//! unauthorized answer maps onto its class, and "no member could serve the
//! call" is `UnavailableError`. TLS material is read and checked when the
//! client is made: a bad file is an `InvalidArgumentError` naming it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

use synod::node::client::{Client as CoreClient, ClientCallError};
use synod::node::protocol::StatusInfo;
use synod::transport::tls::TlsConfig;
use synod::transport::{Security, TransportError};
use synod::{ControlPlaneEntry, Epoch, Index};

use crate::entries::{address, identity, log_number, py_repr, py_repr_opt, range_id, to_entry};
use crate::errors::{client_error, invalid_argument, shutdown};
use crate::node::{timeout, AuditRecord, Commit, FenceStatus, Member, Ownership};
use crate::watch::{Watch, WatchArgs};
use crate::{blocking, pytypes};

/// A member's view of itself and the cluster, as `Client.status` reports it.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Status {
    /// The member answering.
    #[pyo3(get)]
    id: String,
    /// Its consensus peer id.
    #[pyo3(get)]
    peer_id: u64,
    role: String,
    /// Its current term.
    #[pyo3(get)]
    term: u64,
    /// The leader it knows of, if any.
    #[pyo3(get)]
    leader: Option<String>,
    /// Where that leader is reached, if known.
    #[pyo3(get)]
    leader_address: Option<String>,
    /// Its commit index.
    #[pyo3(get)]
    commit: u64,
    /// Its applied index.
    #[pyo3(get)]
    applied: u64,
    /// Its catalog version.
    #[pyo3(get)]
    catalog_version: u64,
    /// The voters of its applied configuration: their identities (a peer
    /// id the member's catalog does not name yet reads `peer <id>`).
    #[pyo3(get)]
    voters: Vec<String>,
    /// The learners of its applied configuration, as `voters`.
    #[pyo3(get)]
    learners: Vec<String>,
    /// Every voter and learner: peer id, identity, address and, in the
    /// leader's status, each follower's replication progress.
    #[pyo3(get)]
    peers: Vec<Peer>,
}

/// A voter or learner as a member's status sees it.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Its consensus peer id.
    #[pyo3(get)]
    peer_id: u64,
    /// Its identity, if the member's catalog names that peer id.
    #[pyo3(get)]
    id: Option<String>,
    /// Its address in the catalog.
    #[pyo3(get)]
    address: Option<String>,
    /// A voter (else a learner).
    #[pyo3(get)]
    voter: bool,
    /// The highest index known replicated to it (the leader's status only,
    /// for the other members).
    #[pyo3(get)]
    matched: Option<u64>,
    /// How many entries it is behind the leader's last one (as `matched`).
    #[pyo3(get)]
    lag: Option<u64>,
}

#[pymethods]
impl Peer {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Peer(peer_id={}, id={}, address={}, voter={}, matched={}, lag={})",
            self.peer_id,
            py_repr_opt(py, self.id.as_deref())?,
            py_repr_opt(py, self.address.as_deref())?,
            if self.voter { "True" } else { "False" },
            self.matched.map_or("None".to_string(), |m| m.to_string()),
            self.lag.map_or("None".to_string(), |l| l.to_string()),
        ))
    }
}

/// The identity of peer id `peer` in `peers`, or `peer <id>` when the
/// catalog does not name it.
fn name_of(peers: &[synod::node::protocol::PeerInfo], peer: u64) -> String {
    peers
        .iter()
        .find(|p| p.peer_id == peer)
        .and_then(|p| p.id.as_ref())
        .map_or_else(|| format!("peer {peer}"), |i| i.as_str().to_owned())
}

impl Status {
    fn from_core(s: StatusInfo) -> Self {
        Self {
            id: s.id.as_str().to_owned(),
            peer_id: s.peer_id,
            role: s.role,
            term: s.term.get(),
            leader: s.leader.as_ref().map(|l| l.id.as_str().to_owned()),
            leader_address: s
                .leader
                .as_ref()
                .and_then(|l| l.address.as_ref())
                .map(|a| a.as_str().to_owned()),
            commit: s.commit.get(),
            applied: s.applied.get(),
            catalog_version: s.version.get(),
            voters: s.voters.iter().map(|p| name_of(&s.peers, *p)).collect(),
            learners: s.learners.iter().map(|p| name_of(&s.peers, *p)).collect(),
            peers: s
                .peers
                .iter()
                .map(|p| Peer {
                    peer_id: p.peer_id,
                    id: p.id.as_ref().map(|i| i.as_str().to_owned()),
                    address: p.address.as_ref().map(|a| a.as_str().to_owned()),
                    voter: p.voter,
                    matched: p.progress.map(|(m, _)| m.get()),
                    lag: p.progress.map(|(_, l)| l),
                })
                .collect(),
        }
    }
}

#[pymethods]
impl Status {
    /// Its role: a `Role` (a `str` enum, so `status.role == "leader"`
    /// holds); a plain string if this build does not know the role.
    #[getter]
    fn role<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match crate::pyclasses::member(py, crate::pyclasses::Class::Role, self.role.as_str()) {
            Ok(r) => Ok(r),
            Err(_) => Ok(PyString::new(py, &self.role).into_any()),
        }
    }

    /// True when the member answering is the leader.
    #[getter]
    fn is_leader(&self) -> bool {
        self.role == "leader"
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Status(id={}, peer_id={}, role={}, term={}, leader={}, leader_address={}, \
             commit={}, applied={}, catalog_version={}, voters={:?}, learners={:?}, peers={})",
            py_repr(py, &self.id)?,
            self.peer_id,
            py_repr(py, &self.role)?,
            self.term,
            py_repr_opt(py, self.leader.as_deref())?,
            py_repr_opt(py, self.leader_address.as_deref())?,
            self.commit,
            self.applied,
            self.catalog_version,
            self.voters,
            self.learners,
            {
                let rows: PyResult<Vec<String>> =
                    self.peers.iter().map(|p| p.__repr__(py)).collect();
                format!("({})", rows?.join(", "))
            }
        ))
    }
}

/// Reads `endpoints`: one `host:port` string or a sequence of them.
fn endpoint_list(py: Python<'_>, endpoints: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let raw: Vec<String> = if let Ok(s) = endpoints.cast::<PyString>() {
        vec![s.to_cow()?.into_owned()]
    } else {
        endpoints.extract().map_err(|_| {
            PyTypeError::new_err("endpoints must be a str or a sequence of str ('host:port')")
        })?
    };
    if raw.is_empty() {
        return Err(invalid_argument(
            py,
            "endpoints",
            "endpoints: give at least one member address ('host:port')",
        ));
    }
    raw.iter()
        .map(|e| Ok(address(py, "endpoints", e)?.as_str().to_owned()))
        .collect()
}

/// Which TLS file a problem is in: the argument's name and its path.
struct BadFile {
    field: &'static str,
    message: String,
}

/// Reads the PEM files of a client (or member) and builds its TLS
/// configuration; every failure names the file it is about.
fn tls_from_files(cert: &Path, key: &Path, ca: &Path) -> Result<TlsConfig, BadFile> {
    let read = |field: &'static str, what: &str, path: &Path| {
        std::fs::read(path).map_err(|e| BadFile {
            field,
            message: format!("{field}: cannot read the {what} {}: {e}", path.display()),
        })
    };
    let cert_pem = read("cert", "certificate", cert)?;
    let key_pem = read("key", "private key", key)?;
    let ca_pem = read("ca", "CA bundle", ca)?;
    TlsConfig::from_pem(&cert_pem, &key_pem, &ca_pem).map_err(|e| {
        let (field, files) = match &e {
            TransportError::Pem {
                what: "private key",
                ..
            } => ("key", key.display().to_string()),
            TransportError::Pem {
                what: "CA bundle", ..
            } => ("ca", ca.display().to_string()),
            // The key may not match the certificate, or a root may be
            // unusable: name all three.
            TransportError::TlsConfig(_) => (
                "cert",
                format!(
                    "{} (with key {} and ca {})",
                    cert.display(),
                    key.display(),
                    ca.display()
                ),
            ),
            _ => ("cert", cert.display().to_string()),
        };
        BadFile {
            field,
            message: format!("{field} {files}: {e}"),
        }
    })
}

/// A connection to a cluster over the client protocol.
///
/// It knows a few member `endpoints` (`host:port`) and talks to whichever
/// answers; proposals and leadership transfers follow the leader (a
/// follower's "not leader, the leader is X" sends it there). With mutual TLS
/// (`cert`, `key`, `ca`: PEM files) its identity is its certificate's
/// subject; with `insecure=True` (plain TCP, tests only) it claims
/// `identity`. `timeout` (seconds) bounds each call unless the call gives
/// its own. `close()` (or leaving a `with` block) drops the connection;
/// later calls raise `ShutdownError`.
#[pyclass(frozen, module = "synod._synod")]
pub struct Client {
    /// The Rust client while no call uses it (a call takes it out and puts
    /// it back; a call that finds it out, because another thread's call or
    /// an interrupted one has it, makes a new one).
    inner: Arc<Mutex<Option<CoreClient>>>,
    closed: Arc<AtomicBool>,
    identity: String,
    endpoints: Vec<String>,
    security: Security,
    timeout: Duration,
}

impl Client {
    /// Runs `f` against the client on a helper thread ([`blocking::run`]),
    /// bounded by `timeout` seconds (the client's default when None), with
    /// the GIL released; Ctrl-C interrupts the wait. An interrupted call
    /// goes on alone until its own timeout (a proposal may still commit);
    /// the next call uses a new connection meanwhile.
    fn call<T: Send + 'static>(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        f: impl FnOnce(&mut CoreClient) -> Result<T, ClientCallError> + Send + 'static,
    ) -> PyResult<T> {
        let limit = match timeout {
            None => self.timeout,
            Some(seconds) => self::timeout(py, seconds)?,
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(shutdown(py, "the client is closed"));
        }
        let slot = Arc::clone(&self.inner);
        let closed = Arc::clone(&self.closed);
        let (endpoints, security, default) =
            (self.endpoints.clone(), self.security.clone(), self.timeout);
        let result = blocking::run(py, move || {
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            let mut client = taken.unwrap_or_else(|| CoreClient::new(endpoints, security, default));
            client.set_timeout(limit);
            let r = f(&mut client);
            if !closed.load(Ordering::Acquire) {
                let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
                if guard.is_none() {
                    *guard = Some(client);
                }
            }
            r
        })?;
        if self.closed.load(Ordering::Acquire) && result.is_err() {
            return Err(shutdown(py, "the client is closed"));
        }
        result.map_err(|e| client_error(py, e, &self.identity))
    }
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(
        signature = (
            endpoints, *, cert = None, key = None, ca = None, insecure = false,
            identity = "CN=operator".to_owned(), timeout = 5.0
        ),
        text_signature = "(endpoints, *, cert=None, key=None, ca=None, insecure=False, \
                          identity='CN=operator', timeout=5.0)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        endpoints: &Bound<'_, PyAny>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        ca: Option<PathBuf>,
        insecure: bool,
        identity: String,
        timeout: f64,
    ) -> PyResult<Self> {
        let endpoints = endpoint_list(py, endpoints)?;
        let timeout = self::timeout(py, timeout)?;
        let security = match (insecure, cert, key, ca) {
            (true, None, None, None) => Security::Insecure {
                identity: self::identity(py, "identity", &identity)?,
            },
            (true, ..) => {
                return Err(invalid_argument(
                    py,
                    "insecure",
                    "insecure=True cannot be combined with cert, key or ca",
                ))
            }
            (false, Some(cert), Some(key), Some(ca)) => {
                let tls = py
                    .detach(|| tls_from_files(&cert, &key, &ca))
                    .map_err(|b| invalid_argument(py, b.field, b.message))?;
                Security::Tls(tls)
            }
            (false, cert, key, _) => {
                let missing = if cert.is_none() {
                    "cert"
                } else if key.is_none() {
                    "key"
                } else {
                    "ca"
                };
                return Err(invalid_argument(
                    py,
                    missing,
                    format!(
                        "{missing} is missing: give cert, key and ca (PEM files) for mutual \
                         TLS, or insecure=True for plain TCP"
                    ),
                ));
            }
        };
        let identity = security.identity().as_str().to_owned();
        Ok(Self {
            inner: Arc::new(Mutex::new(Some(CoreClient::new(
                endpoints.clone(),
                security.clone(),
                timeout,
            )))),
            closed: Arc::new(AtomicBool::new(false)),
            identity,
            endpoints,
            security,
            timeout,
        })
    }

    /// The status of the first member that answers.
    #[pyo3(signature = (timeout = None))]
    fn status(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Status> {
        self.call(py, timeout, |c| c.status())
            .map(Status::from_core)
    }

    /// The status of the member at `endpoint` (`host:port`), which need not
    /// be one of the client's endpoints.
    #[pyo3(signature = (endpoint, timeout = None))]
    fn status_of(
        &self,
        py: Python<'_>,
        endpoint: &Bound<'_, PyString>,
        timeout: Option<f64>,
    ) -> PyResult<Status> {
        let endpoint = address(py, "endpoint", &endpoint.to_cow()?)?;
        self.call(py, timeout, move |c| c.status_of(endpoint.as_str()))
            .map(Status::from_core)
    }

    /// Proposes `entry` at the leader and waits until it commits and
    /// applies (the member waits at most `timeout`, capped at 60 seconds).
    #[pyo3(signature = (entry, timeout = None))]
    fn propose(
        &self,
        py: Python<'_>,
        entry: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Commit> {
        let entry: ControlPlaneEntry = to_entry(entry)?;
        self.call(py, timeout, move |c| c.propose(entry))
            .map(Commit::from_core)
    }

    /// The owner of `range`, or None. A local read answers from what the
    /// member reached has applied; a linearizable one reflects every entry
    /// committed before the call.
    #[pyo3(signature = (range, linearizable = false, timeout = None))]
    fn owner(
        &self,
        py: Python<'_>,
        range: &Bound<'_, PyString>,
        linearizable: bool,
        timeout: Option<f64>,
    ) -> PyResult<Option<Ownership>> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let name = range.as_str().to_owned();
        let (found, _) = self.call(py, timeout, move |c| c.owner(&range, linearizable))?;
        Ok(found.map(|o| Ownership::from_core(name, o)))
    }

    /// Whether (`owner`, `epoch`) currently owns `range`.
    #[pyo3(signature = (range, owner, epoch, linearizable = false, timeout = None))]
    fn fence_check(
        &self,
        py: Python<'_>,
        range: &Bound<'_, PyString>,
        owner: &Bound<'_, PyString>,
        epoch: &Bound<'_, PyAny>,
        linearizable: bool,
        timeout: Option<f64>,
    ) -> PyResult<FenceStatus> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let owner = identity(py, "owner", &owner.to_cow()?)?;
        let epoch = Epoch(log_number("epoch", epoch)?);
        let (status, _) = self.call(py, timeout, move |c| {
            c.fence_check(&range, &owner, epoch, linearizable)
        })?;
        Ok(FenceStatus::from_core(status))
    }

    /// The members, in identity order.
    #[pyo3(signature = (linearizable = false, timeout = None))]
    fn members(
        &self,
        py: Python<'_>,
        linearizable: bool,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Member>> {
        let (members, _) = self.call(py, timeout, move |c| c.members(linearizable))?;
        Ok(members.into_iter().map(Member::from_core).collect())
    }

    /// Every owned range, in range order.
    #[pyo3(signature = (linearizable = false, timeout = None))]
    fn ranges(
        &self,
        py: Python<'_>,
        linearizable: bool,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Ownership>> {
        let ranges = self.call(py, timeout, move |c| c.ranges(linearizable))?;
        Ok(ranges
            .into_iter()
            .map(|(r, o)| Ownership::from_core(r.as_str().to_owned(), o))
            .collect())
    }

    /// The forced ownership transitions, oldest first.
    #[pyo3(signature = (linearizable = false, timeout = None))]
    fn audit_log(
        &self,
        py: Python<'_>,
        linearizable: bool,
        timeout: Option<f64>,
    ) -> PyResult<Vec<AuditRecord>> {
        let records = self.call(py, timeout, move |c| c.audit(linearizable))?;
        Ok(records.into_iter().map(AuditRecord::from_core).collect())
    }

    /// Asks the leader to hand leadership to member `to`. Returns once the
    /// leader accepted the request; watch `status()` for the outcome.
    #[pyo3(signature = (to, timeout = None))]
    fn transfer_leader(
        &self,
        py: Python<'_>,
        to: &Bound<'_, PyString>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let to = identity(py, "to", &to.to_cow()?)?;
        self.call(py, timeout, move |c| c.transfer_leader(&to))
    }

    /// The metrics of the first member that answers, in the Prometheus text
    /// format.
    #[pyo3(signature = (timeout = None))]
    fn metrics(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<String> {
        self.call(py, timeout, |c| c.metrics())
    }

    /// The owner of `range` at a read level, with the applied index and
    /// term the answer reflects: `ReadAt(value, index, term)`, `value` an
    /// `Ownership` or None. `level` is `ReadLevel.LOCAL` (the default: what
    /// the member reached has applied), `ReadLevel.LINEARIZABLE`
    /// (everything committed before the call) or `ReadLevel.AT_LEAST` with
    /// `at_least` (an index, e.g. a commit's: the member waits until it
    /// applied it; `at_least` alone implies that level).
    #[pyo3(
        signature = (range, *, level = None, at_least = None, timeout = None),
        text_signature = "(self, range, *, level=None, at_least=None, timeout=None)"
    )]
    fn owner_at<'py>(
        &self,
        py: Python<'py>,
        range: &Bound<'py, PyString>,
        level: Option<&Bound<'py, PyAny>>,
        at_least: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let level = pytypes::read_level(py, level, at_least)?;
        let name = range.as_str().to_owned();
        let r = self.call(py, timeout, move |c| c.owner_at(&range, level))?;
        let value = match r.value {
            Some(o) => Bound::new(py, Ownership::from_core(name, o))?.into_any(),
            None => py.None().into_bound(py),
        };
        pytypes::read_at(py, value, r.index.get(), r.term.get())
    }

    /// Whether (`owner`, `epoch`) owns `range`, at a read level (see
    /// `owner_at`): `ReadAt(FenceStatus, index, term)`.
    #[pyo3(
        signature = (range, owner, epoch, *, level = None, at_least = None, timeout = None),
        text_signature = "(self, range, owner, epoch, *, level=None, at_least=None, timeout=None)"
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
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let range = range_id(py, "range", &range.to_cow()?)?;
        let owner = identity(py, "owner", &owner.to_cow()?)?;
        let epoch = Epoch(log_number("epoch", epoch)?);
        let level = pytypes::read_level(py, level, at_least)?;
        let r = self.call(py, timeout, move |c| {
            c.fence_check_at(&range, &owner, epoch, level)
        })?;
        let value = Bound::new(py, FenceStatus::from_core(r.value))?.into_any();
        pytypes::read_at(py, value, r.index.get(), r.term.get())
    }

    /// The members (identity order) at a read level (see `owner_at`):
    /// `ReadAt(tuple[Member, ...], index, term)`.
    #[pyo3(
        signature = (*, level = None, at_least = None, timeout = None),
        text_signature = "(self, *, level=None, at_least=None, timeout=None)"
    )]
    fn members_at<'py>(
        &self,
        py: Python<'py>,
        level: Option<&Bound<'py, PyAny>>,
        at_least: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let level = pytypes::read_level(py, level, at_least)?;
        let r = self.call(py, timeout, move |c| c.members_at(level))?;
        let members = pytypes::member_tuple(py, r.value)?.into_any();
        pytypes::read_at(py, members, r.index.get(), r.term.get())
    }

    /// The leader as the first member that answers knows it: its identity,
    /// address and term (`LeaderInfo`), or None while it knows none.
    #[pyo3(signature = (timeout = None))]
    fn leader<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let s = self.call(py, timeout, |c| c.status())?;
        match &s.leader {
            Some(hint) => pytypes::leader_info(py, hint, s.term.get()).map(Some),
            None => Ok(None),
        }
    }

    /// A change feed from index `from_index` on: an iterator of
    /// `synod.Event`s (every committed entry with its outcome, once each and
    /// in log order across member failures; the role changes of the member
    /// it reads from; a `SNAPSHOT` when the events before an index are not
    /// available). With `range`, only the entries of that range (and role
    /// changes, and snapshots limited to it). `timeout` (seconds) bounds the
    /// wait for each event: when it passes, iteration stops; None waits for
    /// ever. Ctrl-C interrupts a waiting iteration.
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
        if self.closed.load(Ordering::Acquire) {
            return Err(shutdown(py, "the client is closed"));
        }
        let made = py.detach(|| {
            CoreClient::new(self.endpoints.clone(), self.security.clone(), self.timeout)
                .watch(Index(args.from))
        });
        match made {
            Err(e) => Err(client_error(py, e, &self.identity)),
            Ok(w) => Watch::remote(w, args, self.identity.clone()),
        }
    }

    /// The identity this client presents (its certificate's subject).
    #[getter]
    fn identity(&self) -> &str {
        &self.identity
    }

    /// The member addresses it was given.
    #[getter]
    fn endpoints(&self) -> Vec<String> {
        self.endpoints.clone()
    }

    /// The default bound on each call, in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        self.timeout.as_secs_f64()
    }

    /// Whether `close()` has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Drops the connection; later calls raise `ShutdownError`. A call in
    /// flight on another thread ends with its answer (`ShutdownError` if it
    /// failed) and its connection is dropped then. Idempotent.
    fn close(&self, py: Python<'_>) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let client = py.detach(|| self.inner.lock().unwrap_or_else(|p| p.into_inner()).take());
            py.detach(move || drop(client));
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
        let endpoints = self
            .endpoints
            .iter()
            .map(|e| py_repr(py, e))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(format!(
            "Client(endpoints=[{}], identity={}, closed={})",
            endpoints.join(", "),
            py_repr(py, &self.identity)?,
            if self.closed() { "True" } else { "False" }
        ))
    }
}
