//! `synod.Config`: a member's configuration built in code, one keyword per
//! key of the configuration file (docs/configuration.md), or read from a
//! file; `RunningMember.start` starts a member from it.
//!
//! What it promises: a `Config` is checked whole when it is made, by the
//! core's own parser (`NodeConfig::parse`) over the TOML document it stands
//! for, so a built configuration and a file are checked by the same code;
//! a refusal is an `InvalidArgumentError` (`InvalidIdentityError` for an
//! identity) whose `field` is the keyword, and whose message names the
//! file's key too. It is frozen: `replace(**changes)` makes a new one,
//! checked again. Paths are made absolute when the `Config` is made (against
//! the working directory, or the file's directory in `from_file`).
//! What it does not check before a start: the files it names (the key
//! file's mode is checked by `RunningMember.start`, as for a file), and the
//! address of `join`, which only a start can reach.

use std::path::{Path, PathBuf};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple, PyType};
use toml::{Table, Value};

use synod::node::config::{check_key_permissions, ConfigError, NodeConfig, TlsSettings};
use synod::MemberAddress;

use crate::entries::{identity, member_kind};
use crate::errors::{invalid_argument, new_err, Kind};

/// What the core's parser names a configuration built in code.
const BUILT: &str = "synod.Config";

/// The numeric keywords: (keyword, section of the file, minimum).
const NUMBERS: [(&str, &str, u64); 11] = [
    ("tick_ms", "engine", 1),
    ("heartbeat_ticks", "engine", 1),
    ("election_ticks", "engine", 1),
    ("snapshot_every", "engine", 1),
    ("max_learner_lag", "engine", 0),
    ("max_pending_calls", "engine", 1),
    ("max_inbound_messages", "engine", 1),
    ("watch_history", "engine", 1),
    ("max_inbound", "transport", 1),
    ("max_client_connections", "transport", 1),
    ("max_client_connections_per_identity", "transport", 1),
];

/// One bootstrap member: identity, kind name, address.
type Founder = (String, String, String);

/// A member's configuration: the keys of its configuration file.
///
/// `Config(id=..., listen=..., data_dir=..., ...)` takes one keyword per
/// key of the file (docs/configuration.md has them all, with defaults);
/// unset keys are the file's defaults. It is checked whole when made, by the
/// core's parser: a refusal raises `InvalidArgumentError`
/// (`InvalidIdentityError` for an identity) whose `field` is the keyword; a
/// value of the wrong type raises `TypeError`. Frozen: `replace(**changes)`
/// returns a new one. `to_toml()` is the text of the file it stands for;
/// `Config.from_file(path)` reads one. `RunningMember.start(config)` starts
/// a member from it.
#[pyclass(frozen, eq, hash, module = "synod._synod")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Config {
    /// This member's identity (its certificate subject, RFC 4514).
    #[pyo3(get)]
    id: String,
    /// `host:port` peers and clients connect to.
    #[pyo3(get)]
    listen: String,
    /// The data directory (an absolute path).
    #[pyo3(get)]
    data_dir: String,
    /// `tls.cert`: this member's certificate chain (absolute path).
    #[pyo3(get)]
    cert: Option<String>,
    /// `tls.key`: its private key (absolute path).
    #[pyo3(get)]
    key: Option<String>,
    /// `tls.ca`: the CA bundle (absolute path).
    #[pyo3(get)]
    ca: Option<String>,
    /// `tls.insecure`: plain TCP, loopback only.
    #[pyo3(get)]
    insecure: bool,
    /// `tls.allow_insecure_non_loopback`.
    #[pyo3(get)]
    allow_insecure_non_loopback: bool,
    /// `tls.allow_key_readable_by_others`.
    #[pyo3(get)]
    allow_key_readable_by_others: bool,
    deny: Vec<String>,
    /// `tls.crl`: a PEM file of CRLs (absolute path).
    #[pyo3(get)]
    crl: Option<String>,
    bootstrap: Option<Vec<Founder>>,
    /// `cluster.join`: a member of the cluster to join through.
    #[pyo3(get)]
    join: Option<String>,
    readers: Vec<String>,
    proposers: Vec<String>,
    operators: Vec<String>,
    /// `admin.metrics_listen` as given (`host:port`, or a port alone).
    #[pyo3(get)]
    metrics_listen: Option<String>,
    /// The numbers, in the order of `NUMBERS`.
    numbers: [Option<u64>; 11],
}

fn type_error(field: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    let name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("{field} must be {expected}, not {name}"))
}

/// A `str` argument.
fn text(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(type_error(field, "a str", value)),
    }
}

/// An identity argument, checked as the core checks an identity.
fn identity_arg(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let s = text(field, value)?;
    Ok(identity(value.py(), field, &s)?.as_str().to_owned())
}

/// A sequence of identities (not a lone string).
fn identities(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if value.is_instance_of::<PyString>() {
        return Err(type_error(field, "a sequence of identities", value));
    }
    let mut out = Vec::new();
    for item in value
        .try_iter()
        .map_err(|_| type_error(field, "a sequence of identities", value))?
    {
        out.push(identity_arg(field, &item?)?);
    }
    Ok(out)
}

/// A `host:port` argument (port 0 allowed).
fn address_arg(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    let s = text(field, value)?.trim().to_string();
    s.parse::<MemberAddress>()
        .map_err(|e| invalid_argument(py, field, format!("{field}: {e}")))?;
    let bad = || invalid_argument(py, field, format!("{field}: {s:?} is not host:port"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(s)
}

/// A path argument (`str` or `os.PathLike`), made absolute against the
/// working directory.
fn path_arg(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    let path: PathBuf = value
        .extract()
        .map_err(|_| type_error(field, "a str or os.PathLike", value))?;
    if path.as_os_str().is_empty() {
        return Err(invalid_argument(
            py,
            field,
            format!("{field}: the path is empty"),
        ));
    }
    let path = std::path::absolute(&path)
        .map_err(|e| invalid_argument(py, field, format!("{field}: {e}")))?;
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid_argument(py, field, format!("{field}: the path is not UTF-8")))
}

fn opt<T>(
    value: Option<&Bound<'_, PyAny>>,
    f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
) -> PyResult<Option<T>> {
    match value {
        Some(v) if !v.is_none() => f(v).map(Some),
        _ => Ok(None),
    }
}

fn flag(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    match value {
        None => Ok(false),
        Some(v) => match v.cast::<PyBool>() {
            Ok(b) => Ok(b.is_true()),
            Err(_) => Err(type_error(field, "a bool", v)),
        },
    }
}

/// A number of `NUMBERS`: an int from `min` to 2**63 - 1.
fn number(field: &str, min: u64, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let py = value.py();
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(type_error(field, "an int", value));
    }
    match value.extract::<i64>() {
        Ok(n) if n >= 0 && n as u64 >= min => Ok(n as u64),
        _ => Err(invalid_argument(
            py,
            field,
            format!("{field} must be between {min} and 2**63 - 1, not {value}"),
        )),
    }
}

/// `metrics_listen`: `host:port`, or a port alone (a str or an int).
fn metrics_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let field = "metrics_listen";
    if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        return match value.extract::<u16>() {
            Ok(port) => Ok(port.to_string()),
            Err(_) => Err(invalid_argument(
                value.py(),
                field,
                format!("{field}: {value} is not a port"),
            )),
        };
    }
    if !value.is_instance_of::<PyString>() {
        return Err(type_error(
            field,
            "a str (host:port or a port) or an int",
            value,
        ));
    }
    Ok(text(field, value)?.trim().to_string())
}

/// One bootstrap member: `(id, address)`, `(id, kind, address)`, or a
/// mapping with `id`, `address` and optionally `kind`.
fn founder(value: &Bound<'_, PyAny>) -> PyResult<Founder> {
    let field = "bootstrap";
    let expected = "(id, address), (id, kind, address) or a mapping with id, kind, address";
    let (id, kind, address) = if let Ok(map) = value.cast::<PyDict>() {
        for key in map.keys() {
            let known = key
                .extract::<String>()
                .is_ok_and(|k| matches!(k.as_str(), "id" | "kind" | "address"));
            if !known {
                return Err(invalid_argument(
                    value.py(),
                    field,
                    format!("{field}: unknown key {key} in a member (id, kind, address)"),
                ));
            }
        }
        let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
            map.get_item(k)?.ok_or_else(|| {
                invalid_argument(value.py(), field, format!("{field}: a member without {k}"))
            })
        };
        (get("id")?, map.get_item("kind")?, get("address")?)
    } else if let Ok(t) = value.cast::<PyTuple>() {
        match t.len() {
            2 => (t.get_item(0)?, None, t.get_item(1)?),
            3 => (t.get_item(0)?, Some(t.get_item(1)?), t.get_item(2)?),
            _ => return Err(type_error(field, expected, value)),
        }
    } else {
        return Err(type_error(field, expected, value));
    };
    let id = identity_arg(field, &id)?;
    let kind = match kind {
        Some(k) if !k.is_none() => member_kind(field, &k)?.as_str().to_owned(),
        _ => "data".to_owned(),
    };
    Ok((id, kind, address_arg(field, &address)?))
}

/// The table `name` of `doc`, created empty if missing.
fn section<'a>(doc: &'a mut Table, name: &str) -> &'a mut Table {
    let entry = doc
        .entry(name.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    match entry {
        Value::Table(t) => t,
        _ => unreachable!("sections are only ever tables here"),
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

/// The keyword of a field the core's parser names (`tls.deny[1]` is
/// `deny`), and whether the field holds an identity.
fn keyword(config: &Config, field: &str) -> (String, bool) {
    let identity = field == "id"
        || field.ends_with(".id")
        || (field.ends_with(']') && !field.starts_with("cluster.bootstrap["));
    let name = match field {
        "tls" if config.insecure => "insecure",
        "tls" => "cert",
        "cluster" => "bootstrap",
        "engine" => "election_ticks",
        f => {
            let f = f.split('[').next().unwrap_or(f);
            f.rsplit('.').next().unwrap_or(f)
        }
    };
    (name.to_owned(), identity)
}

/// A refusal of the core's parser as the Python error naming the keyword.
fn config_error(py: Python<'_>, config: &Config, e: ConfigError) -> PyErr {
    match e {
        ConfigError::Invalid { field, message, .. } => {
            let (name, is_identity) = keyword(config, &field);
            let text = if name == field {
                format!("{name}: {message}")
            } else {
                format!("{name} ({field}): {message}")
            };
            let kind = if is_identity {
                Kind::InvalidIdentity
            } else {
                Kind::InvalidArgument
            };
            let kwargs = PyDict::new(py);
            if let Err(e) = kwargs.set_item("field", &name) {
                return e;
            }
            new_err(py, kind, text, Some(&kwargs))
        }
        other => new_err(py, Kind::InvalidArgument, other.to_string(), None),
    }
}

impl Config {
    /// The TOML document this configuration stands for.
    fn document(&self) -> Table {
        let mut doc = Table::new();
        doc.insert("id".into(), self.id.clone().into());
        doc.insert("listen".into(), self.listen.clone().into());
        doc.insert("data_dir".into(), self.data_dir.clone().into());
        let tls = section(&mut doc, "tls");
        for (k, v) in [
            ("cert", &self.cert),
            ("key", &self.key),
            ("ca", &self.ca),
            ("crl", &self.crl),
        ] {
            if let Some(v) = v {
                tls.insert(k.into(), v.clone().into());
            }
        }
        for (k, v) in [
            ("insecure", self.insecure),
            (
                "allow_insecure_non_loopback",
                self.allow_insecure_non_loopback,
            ),
            (
                "allow_key_readable_by_others",
                self.allow_key_readable_by_others,
            ),
        ] {
            if v {
                tls.insert(k.into(), Value::Boolean(true));
            }
        }
        if !self.deny.is_empty() {
            tls.insert("deny".into(), strings(&self.deny));
        }
        let cluster = section(&mut doc, "cluster");
        if let Some(members) = &self.bootstrap {
            let members = members
                .iter()
                .map(|(id, kind, address)| {
                    let mut m = Table::new();
                    m.insert("id".into(), id.clone().into());
                    m.insert("kind".into(), kind.clone().into());
                    m.insert("address".into(), address.clone().into());
                    Value::Table(m)
                })
                .collect();
            cluster.insert("bootstrap".into(), Value::Array(members));
        }
        if let Some(join) = &self.join {
            cluster.insert("join".into(), join.clone().into());
        }
        let authorization = section(&mut doc, "authorization");
        for (k, v) in [
            ("readers", &self.readers),
            ("proposers", &self.proposers),
            ("operators", &self.operators),
        ] {
            if !v.is_empty() {
                authorization.insert(k.into(), strings(v));
            }
        }
        if let Some(m) = &self.metrics_listen {
            section(&mut doc, "admin").insert("metrics_listen".into(), m.clone().into());
        }
        for ((name, sect, _), value) in NUMBERS.iter().zip(self.numbers) {
            if let Some(v) = value {
                // Below 2**63: checked when set.
                section(&mut doc, sect).insert((*name).into(), Value::Integer(v as i64));
            }
        }
        doc.retain(|_, v| !matches!(v, Value::Table(t) if t.is_empty()));
        doc
    }

    fn text(&self) -> String {
        toml::to_string(&self.document()).expect("a TOML table of strings, numbers and booleans")
    }

    /// Checks the whole configuration with the core's parser.
    fn check(&self, py: Python<'_>) -> PyResult<NodeConfig> {
        if self.bootstrap.is_some() && self.join.is_some() {
            return Err(invalid_argument(
                py,
                "join",
                "join: bootstrap members are set too: a member bootstraps (bootstrap) or joins \
                 (join), not both",
            ));
        }
        if self.bootstrap.is_none() && self.join.is_none() {
            return Err(invalid_argument(
                py,
                "bootstrap",
                "bootstrap: set bootstrap (the members of a new cluster) or join (the address of \
                 a member of an existing one)",
            ));
        }
        NodeConfig::parse(&self.text(), Path::new(BUILT)).map_err(|e| config_error(py, self, e))
    }

    /// The validated configuration of the core, as `NodeConfig::load` gives
    /// it for a file: parsed, and (on Unix) the private key's mode checked.
    pub(crate) fn node_config(&self, py: Python<'_>) -> PyResult<NodeConfig> {
        let mut config = self.check(py)?;
        if let TlsSettings::Mutual { key, .. } = &config.tls {
            let key = key.clone();
            match check_key_permissions(Path::new(BUILT), &key, config.allow_key_readable_by_others)
            {
                Ok(Some(w)) => config.warnings.push(w),
                Ok(None) => {}
                Err(e) => return Err(config_error(py, self, e)),
            }
        }
        Ok(config)
    }

    /// Every keyword with its value, as the constructor takes them.
    fn keywords<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", &self.id)?;
        d.set_item("listen", &self.listen)?;
        d.set_item("data_dir", &self.data_dir)?;
        d.set_item("cert", &self.cert)?;
        d.set_item("key", &self.key)?;
        d.set_item("ca", &self.ca)?;
        d.set_item("insecure", self.insecure)?;
        d.set_item(
            "allow_insecure_non_loopback",
            self.allow_insecure_non_loopback,
        )?;
        d.set_item(
            "allow_key_readable_by_others",
            self.allow_key_readable_by_others,
        )?;
        d.set_item("deny", PyTuple::new(py, &self.deny)?)?;
        d.set_item("crl", &self.crl)?;
        d.set_item("bootstrap", self.bootstrap_tuple(py)?)?;
        d.set_item("join", &self.join)?;
        d.set_item("readers", PyTuple::new(py, &self.readers)?)?;
        d.set_item("proposers", PyTuple::new(py, &self.proposers)?)?;
        d.set_item("operators", PyTuple::new(py, &self.operators)?)?;
        d.set_item("metrics_listen", &self.metrics_listen)?;
        for ((name, ..), value) in NUMBERS.iter().zip(self.numbers) {
            d.set_item(*name, value)?;
        }
        Ok(d)
    }

    fn bootstrap_tuple<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.bootstrap
            .as_ref()
            .map(|members| PyTuple::new(py, members))
            .transpose()
    }

    fn number_named(&self, name: &str) -> Option<u64> {
        NUMBERS
            .iter()
            .position(|(n, ..)| *n == name)
            .and_then(|i| self.numbers[i])
    }
}

/// Turns a value of a validated configuration file into the keyword's
/// Python value.
fn toml_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Integer(i) => i.into_pyobject(py)?.into_any(),
        Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|v| toml_to_py(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any()
        }
        Value::Table(t) => {
            let d = PyDict::new(py);
            for (k, v) in t {
                d.set_item(k, toml_to_py(py, v)?)?;
            }
            d.into_any()
        }
        other => PyString::new(py, &other.to_string()).into_any(),
    })
}

#[pymethods]
impl Config {
    #[new]
    #[pyo3(
        signature = (
            *, id, listen, data_dir, cert = None, key = None, ca = None, insecure = None,
            allow_insecure_non_loopback = None, allow_key_readable_by_others = None, deny = None,
            crl = None, bootstrap = None, join = None, readers = None, proposers = None,
            operators = None, tick_ms = None, heartbeat_ticks = None, election_ticks = None,
            snapshot_every = None, max_learner_lag = None, max_pending_calls = None,
            max_inbound_messages = None, watch_history = None, metrics_listen = None,
            max_inbound = None, max_client_connections = None,
            max_client_connections_per_identity = None
        ),
        text_signature = "(*, id, listen, data_dir, cert=None, key=None, ca=None, insecure=False, \
            allow_insecure_non_loopback=False, allow_key_readable_by_others=False, deny=(), \
            crl=None, bootstrap=None, join=None, readers=(), proposers=(), operators=(), \
            tick_ms=None, heartbeat_ticks=None, election_ticks=None, snapshot_every=None, \
            max_learner_lag=None, max_pending_calls=None, max_inbound_messages=None, \
            watch_history=None, metrics_listen=None, max_inbound=None, \
            max_client_connections=None, max_client_connections_per_identity=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        listen: &Bound<'_, PyAny>,
        data_dir: &Bound<'_, PyAny>,
        cert: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        ca: Option<&Bound<'_, PyAny>>,
        insecure: Option<&Bound<'_, PyAny>>,
        allow_insecure_non_loopback: Option<&Bound<'_, PyAny>>,
        allow_key_readable_by_others: Option<&Bound<'_, PyAny>>,
        deny: Option<&Bound<'_, PyAny>>,
        crl: Option<&Bound<'_, PyAny>>,
        bootstrap: Option<&Bound<'_, PyAny>>,
        join: Option<&Bound<'_, PyAny>>,
        readers: Option<&Bound<'_, PyAny>>,
        proposers: Option<&Bound<'_, PyAny>>,
        operators: Option<&Bound<'_, PyAny>>,
        tick_ms: Option<&Bound<'_, PyAny>>,
        heartbeat_ticks: Option<&Bound<'_, PyAny>>,
        election_ticks: Option<&Bound<'_, PyAny>>,
        snapshot_every: Option<&Bound<'_, PyAny>>,
        max_learner_lag: Option<&Bound<'_, PyAny>>,
        max_pending_calls: Option<&Bound<'_, PyAny>>,
        max_inbound_messages: Option<&Bound<'_, PyAny>>,
        watch_history: Option<&Bound<'_, PyAny>>,
        metrics_listen: Option<&Bound<'_, PyAny>>,
        max_inbound: Option<&Bound<'_, PyAny>>,
        max_client_connections: Option<&Bound<'_, PyAny>>,
        max_client_connections_per_identity: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let given = [
            tick_ms,
            heartbeat_ticks,
            election_ticks,
            snapshot_every,
            max_learner_lag,
            max_pending_calls,
            max_inbound_messages,
            watch_history,
            max_inbound,
            max_client_connections,
            max_client_connections_per_identity,
        ];
        let mut numbers = [None; 11];
        for (i, ((name, _, min), value)) in NUMBERS.iter().zip(given).enumerate() {
            numbers[i] = opt(value, |v| number(name, *min, v))?;
        }
        let bootstrap = opt(bootstrap, |v| {
            if v.is_instance_of::<PyString>() || v.is_instance_of::<PyDict>() {
                return Err(type_error("bootstrap", "a sequence of members", v));
            }
            v.try_iter()
                .map_err(|_| type_error("bootstrap", "a sequence of members", v))?
                .map(|m| founder(&m?))
                .collect::<PyResult<Vec<_>>>()
        })?;
        let none_if_null = |v: Option<&Bound<'_, PyAny>>| v.filter(|v| !v.is_none()).is_some();
        let config = Config {
            id: identity_arg("id", id)?,
            listen: address_arg("listen", listen)?,
            data_dir: path_arg("data_dir", data_dir)?,
            cert: opt(cert, |v| path_arg("cert", v))?,
            key: opt(key, |v| path_arg("key", v))?,
            ca: opt(ca, |v| path_arg("ca", v))?,
            insecure: flag("insecure", insecure)?,
            allow_insecure_non_loopback: flag(
                "allow_insecure_non_loopback",
                allow_insecure_non_loopback,
            )?,
            allow_key_readable_by_others: flag(
                "allow_key_readable_by_others",
                allow_key_readable_by_others,
            )?,
            deny: if none_if_null(deny) {
                identities("deny", deny)?
            } else {
                Vec::new()
            },
            crl: opt(crl, |v| path_arg("crl", v))?,
            bootstrap,
            join: opt(join, |v| address_arg("join", v))?,
            readers: identities("readers", readers.filter(|v| !v.is_none()))?,
            proposers: identities("proposers", proposers.filter(|v| !v.is_none()))?,
            operators: identities("operators", operators.filter(|v| !v.is_none()))?,
            metrics_listen: opt(metrics_listen, metrics_arg)?,
            numbers,
        };
        config.check(py)?;
        Ok(config)
    }

    /// Reads a configuration file (the format of `synod node --config`),
    /// checked whole as `RunningMember.start` checks it (on Unix, the
    /// private key's mode too); relative paths are made absolute against
    /// the file's directory. A file that cannot be read or is refused
    /// raises `InvalidArgumentError` (field `path`) naming the file and the
    /// key.
    #[classmethod]
    fn from_file(cls: &Bound<'_, PyType>, path: PathBuf) -> PyResult<Py<Self>> {
        let py = cls.py();
        let field = "path";
        let doc = py
            .detach(|| -> Result<Table, String> {
                NodeConfig::load(&path).map_err(|e| e.to_string())?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let mut doc: Table =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let base = path.parent().unwrap_or(Path::new("."));
                let absolute = |v: &mut Value| {
                    if let Value::String(s) = v {
                        let joined = base.join(s.as_str());
                        if let Some(t) = std::path::absolute(joined)
                            .ok()
                            .and_then(|p| p.to_str().map(str::to_owned))
                        {
                            *s = t;
                        }
                    }
                };
                if let Some(v) = doc.get_mut("data_dir") {
                    absolute(v);
                }
                if let Some(Value::Table(tls)) = doc.get_mut("tls") {
                    for key in ["cert", "key", "ca", "crl"] {
                        if let Some(v) = tls.get_mut(key) {
                            absolute(v);
                        }
                    }
                }
                Ok(doc)
            })
            .map_err(|m| invalid_argument(py, field, m))?;
        let kwargs = PyDict::new(py);
        for (name, value) in &doc {
            match value {
                Value::Table(t) => {
                    for (k, v) in t {
                        let v = match (name.as_str(), k.as_str(), v) {
                            ("cluster", "bootstrap", Value::Array(members)) => {
                                let members = members
                                    .iter()
                                    .map(|m| {
                                        let get = |k: &str| {
                                            m.get(k).and_then(Value::as_str).unwrap_or("data")
                                        };
                                        (get("id"), get("kind"), get("address"))
                                    })
                                    .collect::<Vec<_>>();
                                PyTuple::new(py, members)?.into_any()
                            }
                            _ => toml_to_py(py, v)?,
                        };
                        kwargs.set_item(k, v)?;
                    }
                }
                v => kwargs.set_item(name, toml_to_py(py, v)?)?,
            }
        }
        let made = cls.call((), Some(&kwargs)).map_err(|e| {
            // A file the core accepted but this keyword set refuses would be
            // a bug here; say which file.
            let message = format!("{}: {}", path.display(), e.value(py));
            invalid_argument(py, field, message)
        })?;
        Ok(made.cast_into::<Self>()?.unbind())
    }

    /// A new `Config` with the keywords in `changes` set (None resets a key
    /// to its default), checked whole again. This one is unchanged.
    #[pyo3(signature = (**changes))]
    fn replace(slf: &Bound<'_, Self>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Py<Self>> {
        let py = slf.py();
        let kwargs = slf.get().keywords(py)?;
        if let Some(changes) = changes {
            for (k, v) in changes {
                if !kwargs.contains(&k)? {
                    return Err(PyTypeError::new_err(format!(
                        "replace() got an unexpected keyword argument {}",
                        k.repr()?
                    )));
                }
                kwargs.set_item(k, v)?;
            }
        }
        let made = slf.get_type().call((), Some(&kwargs))?;
        Ok(made.cast_into::<Self>()?.unbind())
    }

    /// The text of the configuration file this `Config` stands for (TOML,
    /// paths absolute): what `synod node --config` would read.
    fn to_toml(&self) -> String {
        self.text()
    }

    /// `tls.deny`: identities refused although the CA signed them.
    #[getter]
    fn deny<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.deny)
    }

    /// `cluster.bootstrap`: the founding members as `(id, kind, address)`,
    /// or None (the member joins).
    #[getter]
    fn bootstrap<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.bootstrap_tuple(py)
    }

    /// `authorization.readers`.
    #[getter]
    fn readers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.readers)
    }

    /// `authorization.proposers`.
    #[getter]
    fn proposers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.proposers)
    }

    /// `authorization.operators`.
    #[getter]
    fn operators<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.operators)
    }

    /// `engine.tick_ms` (None: the default, 50).
    #[getter]
    fn tick_ms(&self) -> Option<u64> {
        self.number_named("tick_ms")
    }

    /// `engine.heartbeat_ticks` (None: the default, 1).
    #[getter]
    fn heartbeat_ticks(&self) -> Option<u64> {
        self.number_named("heartbeat_ticks")
    }

    /// `engine.election_ticks` (None: the default, 10).
    #[getter]
    fn election_ticks(&self) -> Option<u64> {
        self.number_named("election_ticks")
    }

    /// `engine.snapshot_every` (None: the default, 10000).
    #[getter]
    fn snapshot_every(&self) -> Option<u64> {
        self.number_named("snapshot_every")
    }

    /// `engine.max_learner_lag` (None: the default, 64).
    #[getter]
    fn max_learner_lag(&self) -> Option<u64> {
        self.number_named("max_learner_lag")
    }

    /// `engine.max_pending_calls` (None: the default, 4096).
    #[getter]
    fn max_pending_calls(&self) -> Option<u64> {
        self.number_named("max_pending_calls")
    }

    /// `engine.max_inbound_messages` (None: the default, 4096).
    #[getter]
    fn max_inbound_messages(&self) -> Option<u64> {
        self.number_named("max_inbound_messages")
    }

    /// `engine.watch_history` (None: the default, 65536).
    #[getter]
    fn watch_history(&self) -> Option<u64> {
        self.number_named("watch_history")
    }

    /// `transport.max_inbound` (None: the default, 64).
    #[getter]
    fn max_inbound(&self) -> Option<u64> {
        self.number_named("max_inbound")
    }

    /// `transport.max_client_connections` (None: the default, 16384).
    #[getter]
    fn max_client_connections(&self) -> Option<u64> {
        self.number_named("max_client_connections")
    }

    /// `transport.max_client_connections_per_identity` (None: the default,
    /// 16).
    #[getter]
    fn max_client_connections_per_identity(&self) -> Option<u64> {
        self.number_named("max_client_connections_per_identity")
    }

    /// `Config(...)` with the keywords that are set (not at their default).
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let kwargs = self.keywords(py)?;
        let mut parts = Vec::new();
        for (k, v) in kwargs.iter() {
            let unset = v.is_none()
                || v.cast::<PyBool>().is_ok_and(|b| !b.is_true())
                || v.cast::<PyTuple>().is_ok_and(|t| t.is_empty());
            if !unset {
                parts.push(format!("{}={}", k.extract::<String>()?, v.repr()?));
            }
        }
        Ok(format!("Config({})", parts.join(", ")))
    }
}
