//! A member's configuration file (`synod node --config node.toml`).
//!
//! ```toml
//! id = "CN=node-a"                 # this member: its certificate subject
//! listen = "127.0.0.1:7401"        # peers and clients connect here
//! data_dir = "/var/lib/synod/a"
//!
//! [tls]                            # mutual TLS (or: insecure = true)
//! cert = "certs/node-a.pem"
//! key = "certs/node-a-key.pem"     # mode 600: refused if group or others may read it
//! ca = "certs/ca.pem"
//! deny = ["CN=old-client"]         # optional: refused although the CA signed them
//! crl = "certs/ca.crl.pem"         # optional: the CA's revocation lists (PEM)
//!
//! [cluster]                        # exactly one of bootstrap / join
//! bootstrap = [
//!   { id = "CN=node-a", kind = "data", address = "127.0.0.1:7401" },
//! ]
//! # join = "127.0.0.1:7401"        # a member of the cluster to join
//!
//! [authorization]                  # each level includes the ones below
//! readers = ["CN=reader"]
//! proposers = ["CN=app"]
//! operators = ["CN=ops"]
//!
//! [engine]                         # all optional; defaults documented in
//! tick_ms = 50                     # synod::engine::EngineConfig
//! election_ticks = 10
//! max_pending_calls = 4096         # calls in flight; past it: Overloaded
//! max_inbound_messages = 4096      # peer messages waiting for the driver
//! watch_history = 65536            # recent entries kept for watches
//!
//! [admin]
//! metrics_listen = "127.0.0.1:9401"  # optional HTTP GET /metrics ("9401": loopback)
//!
//! [transport]                      # optional
//! max_inbound = 64                 # handshakes + peer connections served at once
//! max_client_connections = 16384   # client connections open at once
//! max_client_connections_per_identity = 16   # one client identity's share
//! ```
//!
//! Relative paths are relative to the configuration file's directory.
//! Every identity and address is validated when the file is read, with an
//! error that names the field.
//!
//! **Exposure rules**, checked when the file is read (`docs/configuration.md`
//! has the whole list):
//! * `insecure = true` (plain TCP, identities merely claimed) is refused on a
//!   `listen` address that is not loopback, unless
//!   `allow_insecure_non_loopback = true` says it is meant;
//! * on Unix, [`NodeConfig::load`] refuses a private key file that its group
//!   or others may read, write or execute (`chmod 600` fixes it), unless
//!   `allow_key_readable_by_others = true` (then it is a warning);
//! * a `metrics_listen` that is only a port binds loopback; a non-loopback
//!   metrics address is allowed, with a warning ([`NodeConfig::warnings`]);
//! * `deny` and `crl` ([`RevocationSettings`]) are the only settings a
//!   running member re-reads (`synod node` on SIGHUP).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::service::Authorization;
use crate::catalog::InitialMember;
use crate::engine::EngineConfig;
use crate::entry::{MemberAddress, MemberKind, NodeId};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value is invalid.
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    id: String,
    listen: String,
    data_dir: PathBuf,
    #[serde(default)]
    tls: RawTls,
    cluster: RawCluster,
    #[serde(default)]
    authorization: RawAuthorization,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    transport: RawTransport,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    allow_insecure_non_loopback: bool,
    #[serde(default)]
    allow_key_readable_by_others: bool,
    #[serde(default)]
    deny: Vec<String>,
    crl: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    id: String,
    #[serde(default = "default_kind")]
    kind: String,
    address: String,
}

fn default_kind() -> String {
    "data".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    bootstrap: Option<Vec<RawMember>>,
    join: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthorization {
    #[serde(default)]
    readers: Vec<String>,
    #[serde(default)]
    proposers: Vec<String>,
    #[serde(default)]
    operators: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    tick_ms: Option<u64>,
    heartbeat_ticks: Option<usize>,
    election_ticks: Option<usize>,
    snapshot_every: Option<u64>,
    max_learner_lag: Option<u64>,
    max_pending_calls: Option<usize>,
    max_inbound_messages: Option<usize>,
    watch_history: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    metrics_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransport {
    max_inbound: Option<usize>,
    max_client_connections: Option<usize>,
    max_client_connections_per_identity: Option<usize>,
}

/// The default of `transport.max_inbound` (as [`crate::transport::tcp::TcpConfig::new`]).
pub const DEFAULT_MAX_INBOUND: usize = 64;

pub use crate::engine::config::MAX_ELECTION_TIMEOUT;

/// The host a `metrics_listen` that is only a port (`"9401"`) binds.
pub const DEFAULT_METRICS_HOST: &str = "127.0.0.1";

/// Certificates refused although they chain to the CA bundle: `[tls] deny`
/// and `[tls] crl`. A running member re-reads them on request
/// ([`crate::node::runner::RunningMember::reload_revocation`]; `synod node`
/// does on SIGHUP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSettings {
    /// Identities (certificate subjects, RFC 4514) refused as peers and as
    /// clients, in both directions.
    pub deny: BTreeSet<NodeId>,
    /// A PEM file of X.509 CRLs issued by CAs of the bundle.
    pub crl: Option<PathBuf>,
}

impl RevocationSettings {
    /// Whether nothing is refused.
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty() && self.crl.is_none()
    }
}

/// How a member authenticates to peers and clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSettings {
    /// Mutual TLS with these PEM files.
    Mutual {
        /// This member's certificate chain.
        cert: PathBuf,
        /// Its private key.
        key: PathBuf,
        /// The CA bundle peers and clients must chain to.
        ca: PathBuf,
    },
    /// Plain TCP (tests and development only).
    Insecure,
}

/// How a member comes to be part of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterStart {
    /// A new cluster of these members (identical on every one of them).
    Bootstrap(Vec<InitialMember>),
    /// Join the cluster a member of which listens at this address; an
    /// operator must have admitted this member first.
    Join(String),
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This member.
    pub id: NodeId,
    /// The listen address.
    pub listen: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// TLS settings.
    pub tls: TlsSettings,
    /// Bootstrap or join.
    pub cluster: ClusterStart,
    /// Who may do what.
    pub authorization: Authorization,
    /// Engine settings.
    pub engine: EngineConfig,
    /// The optional metrics HTTP listener's address (`host:port`; a bare
    /// port in the file is [`DEFAULT_METRICS_HOST`]).
    pub metrics_listen: Option<String>,
    /// `engine.max_pending_calls` ([`super::NodeOptions::max_pending_calls`]).
    pub max_pending_calls: usize,
    /// `engine.max_inbound_messages`
    /// ([`super::NodeOptions::max_inbound_messages`]).
    pub max_inbound_messages: usize,
    /// `engine.watch_history` ([`super::NodeOptions::watch_history`]).
    pub watch_history: usize,
    /// Most inbound connections handshaking or serving peers at once (see
    /// [`crate::transport::tcp::TcpConfig::max_inbound`]).
    pub max_inbound: usize,
    /// Most client connections open at once (the TCP transport's default
    /// when not set).
    pub max_client_connections: Option<usize>,
    /// Most client connections one identity may hold at once (the TCP
    /// transport's default when not set).
    pub max_client_connections_per_identity: Option<usize>,
    /// Identities and CRLs refused although the CA signed them.
    pub revocation: RevocationSettings,
    /// Whether `allow_key_readable_by_others = true` was set (the key file's
    /// mode is then a warning, not an error).
    pub allow_key_readable_by_others: bool,
    /// What is allowed but exposed, one sentence each (a non-loopback
    /// metrics address, an insecure non-loopback listener, a key file others
    /// may read): [`crate::node::runner::start_member`] logs them as
    /// warnings.
    pub warnings: Vec<String>,
}

impl NodeConfig {
    /// Reads and validates a configuration file, then checks the files it
    /// names that [`NodeConfig::parse`] cannot: on Unix, the private key's
    /// permissions ([`check_key_permissions`]).
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        if let TlsSettings::Mutual { key, .. } = &config.tls {
            let key = key.clone();
            if let Some(warning) =
                check_key_permissions(path, &key, config.allow_key_readable_by_others)?
            {
                config.warnings.push(warning);
            }
        }
        Ok(config)
    }

    /// Validates configuration text; `path` names it in errors and anchors
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<NodeConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.into(),
            message,
        };
        let node_id = |field: &str, s: &str| {
            rfc4514_form(s).map_err(|m| invalid(field, m))?;
            NodeId::from_certificate_subject(s).map_err(|e| invalid(field, e.to_string()))
        };
        let id = node_id("id", &raw.id)?;
        let listen = raw.listen.trim().to_string();
        listen
            .parse::<MemberAddress>()
            .map_err(|e| invalid("listen", e.to_string()))?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut warnings = Vec::new();
        let raw_tls = raw.tls;
        if raw_tls.insecure {
            let mutual_only = [
                (
                    "allow_key_readable_by_others",
                    raw_tls.allow_key_readable_by_others,
                ),
                ("deny", !raw_tls.deny.is_empty()),
                ("crl", raw_tls.crl.is_some()),
            ];
            if let Some((name, _)) = mutual_only.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    &format!("tls.{name}"),
                    "applies to mutual TLS only, not to insecure = true".into(),
                ));
            }
            if is_loopback(&listen) {
                if raw_tls.allow_insecure_non_loopback {
                    return Err(invalid(
                        "tls.allow_insecure_non_loopback",
                        format!("{listen} is a loopback address: remove the setting"),
                    ));
                }
            } else if raw_tls.allow_insecure_non_loopback {
                warnings.push(format!(
                    "plain TCP (insecure = true) on {listen}, which is not a loopback address: \
                     anyone who can reach it can claim to be any member or client"
                ));
            } else {
                return Err(invalid(
                    "tls.insecure",
                    format!(
                        "plain TCP on {listen}, which is not a loopback address, would let anyone \
                         who can reach it claim to be any member or client; use mutual TLS \
                         (cert, key, ca), listen on 127.0.0.1, or set \
                         allow_insecure_non_loopback = true in [tls] if this is really meant"
                    ),
                ));
            }
        } else if raw_tls.allow_insecure_non_loopback {
            return Err(invalid(
                "tls.allow_insecure_non_loopback",
                "applies to insecure = true only".into(),
            ));
        }
        let tls = match (raw_tls.insecure, raw_tls.cert, raw_tls.key, raw_tls.ca) {
            (true, None, None, None) => TlsSettings::Insecure,
            (true, ..) => {
                return Err(invalid(
                    "tls",
                    "insecure = true cannot be combined with cert/key/ca".into(),
                ))
            }
            (false, Some(cert), Some(key), Some(ca)) => TlsSettings::Mutual {
                cert: resolve(cert),
                key: resolve(key),
                ca: resolve(ca),
            },
            (false, ..) => {
                return Err(invalid(
                    "tls",
                    "set cert, key and ca (mutual TLS), or insecure = true for plain TCP".into(),
                ))
            }
        };
        let cluster = match (raw.cluster.bootstrap, raw.cluster.join) {
            (Some(members), None) => {
                if members.is_empty() {
                    return Err(invalid(
                        "cluster.bootstrap",
                        "at least one member is needed".into(),
                    ));
                }
                let mut seen = BTreeSet::new();
                let mut out = Vec::with_capacity(members.len());
                for (i, m) in members.into_iter().enumerate() {
                    let field = format!("cluster.bootstrap[{i}]");
                    let mid = node_id(&format!("{field}.id"), &m.id)?;
                    if !seen.insert(mid.clone()) {
                        return Err(invalid(&field, format!("{mid} is listed twice")));
                    }
                    out.push(InitialMember {
                        id: mid,
                        kind: m
                            .kind
                            .parse::<MemberKind>()
                            .map_err(|e| invalid(&format!("{field}.kind"), e.to_string()))?,
                        address: m.address.parse().map_err(
                            |e: crate::identity::IdentityError| {
                                invalid(&format!("{field}.address"), e.to_string())
                            },
                        )?,
                    });
                }
                if !seen.contains(&id) {
                    return Err(invalid(
                        "cluster.bootstrap",
                        format!("{id} is not among the bootstrap members"),
                    ));
                }
                ClusterStart::Bootstrap(out)
            }
            (None, Some(addr)) => ClusterStart::Join(addr.trim().to_string()),
            _ => {
                return Err(invalid(
                    "cluster",
                    "set exactly one of bootstrap (a new cluster) or join (an existing one)".into(),
                ))
            }
        };
        let ids = |field: &str, v: Vec<String>| -> Result<BTreeSet<NodeId>, ConfigError> {
            v.iter()
                .enumerate()
                .map(|(i, s)| node_id(&format!("{field}[{i}]"), s))
                .collect()
        };
        let deny = ids("tls.deny", raw_tls.deny)?;
        if deny.contains(&id) {
            return Err(invalid(
                "tls.deny",
                format!("{id} is this member's own identity"),
            ));
        }
        let revocation = RevocationSettings {
            deny,
            crl: raw_tls.crl.map(resolve),
        };
        let authorization = Authorization {
            readers: ids("authorization.readers", raw.authorization.readers)?,
            proposers: ids("authorization.proposers", raw.authorization.proposers)?,
            operators: ids("authorization.operators", raw.authorization.operators)?,
        };
        let mut engine = EngineConfig::default();
        if let Some(ms) = raw.engine.tick_ms {
            engine.tick_interval = Duration::from_millis(ms);
        }
        if let Some(v) = raw.engine.heartbeat_ticks {
            engine.heartbeat_ticks = v;
        }
        if let Some(v) = raw.engine.election_ticks {
            engine.election_ticks = v;
        }
        if let Some(v) = raw.engine.snapshot_every {
            engine.snapshot_every = v;
        }
        if let Some(v) = raw.engine.max_learner_lag {
            engine.max_learner_lag = v;
        }
        // Also bounds the election timeout (a day), so the member cannot
        // overflow computing it (and deadlines twice as far) at start.
        engine.validate().map_err(|e| invalid("engine", e))?;
        let defaults = super::NodeOptions::new(id.clone());
        let max_pending_calls = raw
            .engine
            .max_pending_calls
            .unwrap_or(defaults.max_pending_calls);
        if max_pending_calls == 0 {
            return Err(invalid(
                "engine.max_pending_calls",
                "at least 1 call is needed".into(),
            ));
        }
        let max_inbound_messages = raw
            .engine
            .max_inbound_messages
            .unwrap_or(defaults.max_inbound_messages);
        if max_inbound_messages == 0 {
            return Err(invalid(
                "engine.max_inbound_messages",
                "at least 1 message is needed".into(),
            ));
        }
        let watch_history = raw.engine.watch_history.unwrap_or(defaults.watch_history);
        if watch_history == 0 {
            return Err(invalid(
                "engine.watch_history",
                "at least 1 is needed".into(),
            ));
        }
        let max_inbound = raw.transport.max_inbound.unwrap_or(DEFAULT_MAX_INBOUND);
        if max_inbound == 0 {
            return Err(invalid(
                "transport.max_inbound",
                "at least 1 connection is needed".into(),
            ));
        }
        let max_client_connections = raw.transport.max_client_connections;
        if max_client_connections == Some(0) {
            return Err(invalid(
                "transport.max_client_connections",
                "at least 1 connection is needed".into(),
            ));
        }
        let max_client_connections_per_identity = raw.transport.max_client_connections_per_identity;
        if max_client_connections_per_identity == Some(0) {
            return Err(invalid(
                "transport.max_client_connections_per_identity",
                "at least 1 connection is needed".into(),
            ));
        }
        let metrics_listen = match raw.admin.metrics_listen {
            None => None,
            Some(addr) => {
                let addr =
                    metrics_address(&addr).map_err(|m| invalid("admin.metrics_listen", m))?;
                if !is_loopback(&addr) {
                    warnings.push(format!(
                        "the metrics listener (admin.metrics_listen) is on {addr}, which is not a \
                         loopback address: anyone who can reach it reads the metrics (member \
                         identities, addresses, terms) in plain HTTP"
                    ));
                }
                Some(addr)
            }
        };
        Ok(NodeConfig {
            id,
            listen,
            data_dir: resolve(raw.data_dir),
            tls,
            cluster,
            authorization,
            engine,
            metrics_listen,
            max_pending_calls,
            max_inbound_messages,
            watch_history,
            max_inbound,
            max_client_connections,
            max_client_connections_per_identity,
            revocation,
            allow_key_readable_by_others: raw_tls.allow_key_readable_by_others,
            warnings,
        })
    }
}

/// The metrics address in `host:port` form: a bare port is
/// [`DEFAULT_METRICS_HOST`]'s.
fn metrics_address(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(format!("{DEFAULT_METRICS_HOST}:{port}"));
    }
    let Some((host, port)) = split_host_port(s) else {
        return Err(format!(
            "{s:?} is neither host:port nor a port (a port alone binds {DEFAULT_METRICS_HOST})"
        ));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!(
            "{s:?} is neither host:port nor a port (a port alone binds {DEFAULT_METRICS_HOST})"
        ));
    }
    Ok(s.to_string())
}

/// `host:port` split at its last colon, the brackets of `[v6]:port` taken
/// off the host.
fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    let (host, port) = addr.trim().rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, port))
}

/// Whether `host:port` names a loopback host: an address of 127.0.0.0/8 or
/// `::1` (IPv4-mapped included), or the name `localhost`. Any other name
/// counts as not loopback (it is not resolved), and so do the unspecified
/// addresses `0.0.0.0` and `::`, which listen on every interface.
pub fn is_loopback(addr: &str) -> bool {
    let Some((host, _)) = split_host_port(addr) else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// On Unix, refuses a private key file whose group or others have any
/// permission on it (`mode & 0o077 != 0`: a key others can read is a key
/// others hold, one they can write is one they can replace), naming the file,
/// its mode and the fix; with `allow` set, returns that as a warning instead.
/// Permissions are those of the file a symbolic link points to. Elsewhere,
/// nothing is checked.
pub fn check_key_permissions(
    config: &Path,
    key: &Path,
    allow: bool,
) -> Result<Option<String>, ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(key).map_err(|source| ConfigError::Read {
            path: key.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return Ok(None);
        }
        let what = format!(
            "the private key {} has mode {mode:04o}: its group or others may read or change it",
            key.display()
        );
        if allow {
            return Ok(Some(format!(
                "{what} (allowed by allow_key_readable_by_others = true)"
            )));
        }
        Err(ConfigError::Invalid {
            path: config.to_path_buf(),
            field: "tls.key".into(),
            message: format!(
                "{what}; run `chmod 600 {}` (owned by the user synod runs as), or set \
                 allow_key_readable_by_others = true in [tls] to accept it",
                key.display()
            ),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (config, key, allow);
        Ok(None)
    }
}

/// Refuses a subject written in OpenSSL's styles (`CN=ops, O=Acme` or
/// `/CN=ops/O=Acme`): a certificate's identity is its subject in RFC 4514
/// form (`CN=ops,O=Acme`, no space after the comma), so such an entry could
/// never match anyone and would lock that identity out silently.
fn rfc4514_form(s: &str) -> Result<(), String> {
    let s = s.trim();
    let mut escaped = false;
    let mut prev_comma = false;
    for c in s.chars() {
        if prev_comma && c == ' ' {
            return Err(format!(
                "{s:?} looks like OpenSSL's subject style (a space after a comma); identities are certificate subjects in RFC 4514 form, for example \"CN=ops,O=Acme\""
            ));
        }
        prev_comma = c == ',' && !escaped;
        escaped = c == '\\' && !escaped;
    }
    if s.starts_with('/') {
        return Err(format!(
            "{s:?} looks like OpenSSL's /-separated subject style; identities are certificate subjects in RFC 4514 form, for example \"CN=ops,O=Acme\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "CN=node-a"
listen = "127.0.0.1:7401"
data_dir = "data/a"
[tls]
cert = "certs/node-a.pem"
key = "certs/node-a-key.pem"
ca = "/etc/synod/ca.pem"
[cluster]
bootstrap = [
  { id = "CN=node-a", address = "127.0.0.1:7401" },
  { id = "CN=node-w", kind = "witness", address = "127.0.0.1:7403" },
]
[authorization]
operators = ["CN=ops"]
[engine]
tick_ms = 20
election_ticks = 15
"#;

    #[test]
    fn a_full_configuration_parses_with_relative_paths_resolved() {
        let c = NodeConfig::parse(GOOD, Path::new("/srv/synod/node.toml")).unwrap();
        assert_eq!(c.id.as_str(), "CN=node-a");
        assert_eq!(c.data_dir, PathBuf::from("/srv/synod/data/a"));
        assert_eq!(
            c.tls,
            TlsSettings::Mutual {
                cert: "/srv/synod/certs/node-a.pem".into(),
                key: "/srv/synod/certs/node-a-key.pem".into(),
                ca: "/etc/synod/ca.pem".into(),
            }
        );
        match &c.cluster {
            ClusterStart::Bootstrap(m) => {
                assert_eq!(m.len(), 2);
                assert_eq!(m[1].kind, MemberKind::Witness);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.engine.tick_interval, Duration::from_millis(20));
        assert_eq!(c.engine.election_ticks, 15);
        assert_eq!(c.max_inbound, DEFAULT_MAX_INBOUND);
        assert!(c
            .authorization
            .operators
            .contains(&NodeId::from_certificate_subject("CN=ops").unwrap()));
    }

    fn refused(text: &str) -> String {
        NodeConfig::parse(text, Path::new("n.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn mistakes_are_named() {
        let e = refused(&GOOD.replace("CN=node-a\"\nlisten", "  \"\nlisten"));
        assert!(e.contains("id"), "{e}");
        let e = refused(&GOOD.replace("cert = \"certs/node-a.pem\"\n", ""));
        assert!(e.contains("tls"), "{e}");
        let e = refused(&GOOD.replace("kind = \"witness\"", "kind = \"voter\""));
        assert!(e.contains("cluster.bootstrap[1].kind"), "{e}");
        let e = refused(&GOOD.replace("bootstrap = [", "join = \"127.0.0.1:1\"\nbootstrap = ["));
        assert!(e.contains("exactly one"), "{e}");
        let e = refused(&GOOD.replace("election_ticks = 15", "election_ticks = 1"));
        assert!(e.contains("engine"), "{e}");
        let e = refused(&GOOD.replace("[engine]", "[engine]\nbogus = 1"));
        assert!(e.contains("bogus"), "{e}");
        let e = refused(&GOOD.replace("operators = [\"CN=ops\"]", "operators = [\"\"]"));
        assert!(e.contains("authorization.operators[0]"), "{e}");
        let e = refused(&GOOD.replace(
            "{ id = \"CN=node-a\", address",
            "{ id = \"CN=node-z\", address",
        ));
        assert!(e.contains("not among the bootstrap members"), "{e}");
        let e = refused(&format!("{GOOD}[transport]\nmax_inbound = 0\n"));
        assert!(e.contains("transport.max_inbound"), "{e}");
        let e = refused(&format!("{GOOD}[transport]\nmax_client_connections = 0\n"));
        assert!(e.contains("transport.max_client_connections"), "{e}");
        let e = refused(&format!(
            "{GOOD}[transport]\nmax_client_connections_per_identity = 0\n"
        ));
        assert!(e.contains("max_client_connections_per_identity"), "{e}");
        let c = NodeConfig::parse(
            &format!("{GOOD}[transport]\nmax_client_connections_per_identity = 5\n"),
            Path::new("n.toml"),
        )
        .expect("valid");
        assert_eq!(c.max_client_connections_per_identity, Some(5));
        let c = NodeConfig::parse(
            &GOOD.replace(
                "[engine]",
                "[engine]\nmax_pending_calls = 9\nmax_inbound_messages = 10",
            ),
            Path::new("n.toml"),
        )
        .expect("valid");
        assert_eq!((c.max_pending_calls, c.max_inbound_messages), (9, 10));
        let e = refused(&GOOD.replace("[engine]", "[engine]\nwatch_history = 0"));
        assert!(e.contains("engine.watch_history"), "{e}");
        let e = refused(&GOOD.replace("[engine]", "[engine]\nmax_pending_calls = 0"));
        assert!(e.contains("engine.max_pending_calls"), "{e}");
        let e = refused(&format!("{GOOD}[transport]\nmax_outbound = 3\n"));
        assert!(e.contains("max_outbound"), "{e}");
        let c = NodeConfig::parse(
            &format!("{GOOD}[transport]\nmax_inbound = 300\n"),
            Path::new("n.toml"),
        )
        .unwrap();
        assert_eq!(c.max_inbound, 300);
    }

    #[test]
    fn an_election_timeout_over_a_day_is_refused() {
        // The config_file fuzz target's start property: this was accepted,
        // then the member panicked at start computing its election timeout
        // (tick_ms × election_ticks overflowed a Duration).
        let huge = GOOD
            .replace("tick_ms = 20", "tick_ms = 9000000000000000000")
            .replace("election_ticks = 15", "election_ticks = 5000");
        let e = refused(&huge);
        assert!(e.contains("engine"), "{e}");
        assert!(e.contains("election timeout"), "{e}");
        // A count beyond u32 was truncated in that product, not refused.
        let e = refused(&GOOD.replace("election_ticks = 15", "election_ticks = 4294967306"));
        assert!(e.contains("election timeout"), "{e}");
        // Exactly a day is the limit.
        let day = GOOD
            .replace("tick_ms = 20", "tick_ms = 86400")
            .replace("election_ticks = 15", "election_ticks = 1000");
        let c = NodeConfig::parse(&day, Path::new("n.toml")).expect("a day is allowed");
        assert_eq!(c.engine.election_timeout(), MAX_ELECTION_TIMEOUT);
        refused(&day.replace("tick_ms = 86400", "tick_ms = 86401"));
    }

    #[test]
    fn openssl_style_subjects_are_refused_at_load_with_the_rfc4514_form() {
        for bad in ["CN=ops, O=Acme", "/CN=ops/O=Acme"] {
            let e = refused(&GOOD.replace(
                "operators = [\"CN=ops\"]",
                &format!("operators = [\"{bad}\"]"),
            ));
            assert!(e.contains("authorization.operators[0]"), "{e}");
            assert!(e.contains("RFC 4514"), "{e}");
        }
        // RFC 4514 itself, with an escaped comma followed by a space, is fine.
        let ok = GOOD.replace(
            "operators = [\"CN=ops\"]",
            "operators = [\"CN=ops,O=Acme\\\\, Inc\"]",
        );
        let c = NodeConfig::parse(&ok, Path::new("n.toml")).unwrap();
        assert!(c
            .authorization
            .operators
            .contains(&NodeId::from_certificate_subject("CN=ops,O=Acme\\, Inc").unwrap()));
    }

    #[test]
    fn insecure_and_join_parse() {
        let text = "id = \"CN=n\"\nlisten = \"127.0.0.1:1\"\ndata_dir = \"/d\"\n[tls]\ninsecure = true\n[cluster]\njoin = \"127.0.0.1:2\"\n";
        let c = NodeConfig::parse(text, Path::new("n.toml")).unwrap();
        assert_eq!(c.tls, TlsSettings::Insecure);
        assert_eq!(c.cluster, ClusterStart::Join("127.0.0.1:2".into()));
    }

    const INSECURE: &str = "id = \"CN=n\"\nlisten = \"LISTEN\"\ndata_dir = \"/d\"\n[tls]\ninsecure = true\nEXTRA\n[cluster]\njoin = \"127.0.0.1:2\"\n";

    fn insecure(listen: &str, extra: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::parse(
            &INSECURE.replace("LISTEN", listen).replace("EXTRA", extra),
            Path::new("n.toml"),
        )
    }

    #[test]
    fn insecure_on_a_non_loopback_address_needs_the_second_setting() {
        for ok in [
            "127.0.0.1:7401",
            "127.1.2.3:7401",
            "localhost:7401",
            "[::1]:7401",
        ] {
            let c = insecure(ok, "").unwrap();
            assert!(c.warnings.is_empty(), "{ok}: {:?}", c.warnings);
        }
        for exposed in [
            "0.0.0.0:7401",
            "[::]:7401",
            "10.1.2.3:7401",
            "node-a.example:7401",
        ] {
            let e = insecure(exposed, "").unwrap_err().to_string();
            assert!(e.contains("tls.insecure"), "{e}");
            assert!(e.contains("not a loopback address"), "{e}");
            assert!(e.contains("allow_insecure_non_loopback = true"), "{e}");
            let c = insecure(exposed, "allow_insecure_non_loopback = true").unwrap();
            assert_eq!(c.tls, TlsSettings::Insecure);
            assert!(
                c.warnings.iter().any(|w| w.contains(exposed)),
                "{:?}",
                c.warnings
            );
        }
        // The setting where it means nothing is a mistake.
        let e = insecure("127.0.0.1:7401", "allow_insecure_non_loopback = true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("loopback"), "{e}");
        let e =
            refused(&GOOD.replace("[cluster]", "allow_insecure_non_loopback = true\n[cluster]"));
        assert!(e.contains("tls.allow_insecure_non_loopback"), "{e}");
    }

    #[test]
    fn loopback_is_the_loopback_range_and_localhost_only() {
        for yes in [
            "127.0.0.1:1",
            "127.255.0.9:1",
            "[::1]:1",
            "LOCALHOST:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "0.0.0.0:1",
            "[::]:1",
            "192.168.1.1:1",
            "example.com:1",
            "no-port",
            "",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn the_metrics_listener_defaults_to_loopback_and_warns_elsewhere() {
        let with = |v: &str| {
            NodeConfig::parse(
                &format!("{GOOD}[admin]\nmetrics_listen = {v}\n"),
                Path::new("n.toml"),
            )
        };
        let c = with("\"9401\"").unwrap();
        assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9401"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = with("\"[::1]:0\"").unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = with("\"0.0.0.0:9401\"").unwrap();
        assert_eq!(c.metrics_listen.as_deref(), Some("0.0.0.0:9401"));
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("admin.metrics_listen") && w.contains("0.0.0.0:9401")),
            "{:?}",
            c.warnings
        );
        for bad in ["\"\"", "\"x\"", "\"host:port\"", "\"99999\""] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.contains("admin.metrics_listen"), "{bad}: {e}");
        }
        assert_eq!(
            NodeConfig::parse(GOOD, Path::new("n.toml"))
                .unwrap()
                .metrics_listen,
            None
        );
    }

    #[test]
    fn deny_and_crl_are_validated_identities_and_a_resolved_path() {
        let text = GOOD.replace(
            "[cluster]",
            "deny = [\"CN=old\", \"CN=gone,O=Acme\"]\ncrl = \"certs/ca.crl.pem\"\n[cluster]",
        );
        let c = NodeConfig::parse(&text, Path::new("/srv/synod/node.toml")).unwrap();
        let denied: Vec<&str> = c.revocation.deny.iter().map(|i| i.as_str()).collect();
        assert_eq!(denied, ["CN=gone,O=Acme", "CN=old"]);
        assert_eq!(
            c.revocation.crl.as_deref(),
            Some(Path::new("/srv/synod/certs/ca.crl.pem"))
        );
        let e = refused(&GOOD.replace("[cluster]", "deny = [\"CN=ok\", \"CN=x, O=y\"]\n[cluster]"));
        assert!(e.contains("tls.deny[1]") && e.contains("RFC 4514"), "{e}");
        let e = refused(&GOOD.replace("[cluster]", "deny = [\"CN=node-a\"]\n[cluster]"));
        assert!(e.contains("tls.deny") && e.contains("own identity"), "{e}");
        for extra in [
            "deny = [\"CN=x\"]",
            "crl = \"c.pem\"",
            "allow_key_readable_by_others = true",
        ] {
            let e = insecure("127.0.0.1:1", extra).unwrap_err().to_string();
            assert!(e.contains("mutual TLS only"), "{extra}: {e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused_at_load_unless_allowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("certs/node-a-key.pem");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        std::fs::write(&key, "a key").unwrap();
        let config = dir.path().join("node.toml");
        std::fs::write(&config, GOOD).unwrap();
        let chmod = |mode: u32| {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for mode in [0o644, 0o640, 0o604, 0o660, 0o602] {
            chmod(mode);
            let e = NodeConfig::load(&config).unwrap_err().to_string();
            assert!(e.contains("tls.key"), "{e}");
            assert!(e.contains(&key.display().to_string()), "{e}");
            assert!(e.contains(&format!("{mode:04o}")), "{e}");
            assert!(e.contains("chmod 600"), "{e}");
        }
        for mode in [0o600, 0o400] {
            chmod(mode);
            let c = NodeConfig::load(&config).unwrap();
            assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        }
        chmod(0o640);
        std::fs::write(
            &config,
            GOOD.replace(
                "[cluster]",
                "allow_key_readable_by_others = true\n[cluster]",
            ),
        )
        .unwrap();
        let c = NodeConfig::load(&config).unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("0640")),
            "{:?}",
            c.warnings
        );
        // A missing key file is named at load.
        std::fs::remove_file(&key).unwrap();
        let e = NodeConfig::load(&config).unwrap_err().to_string();
        assert!(e.contains(&key.display().to_string()), "{e}");
    }
}
