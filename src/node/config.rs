//! A member's configuration file (`synod node --config node.toml`).
//!
//! ```toml
//! id = "CN=node-a"                 # this member: its certificate subject
//! listen = "127.0.0.1:7401"        # peers and clients connect here
//! data_dir = "/var/lib/synod/a"
//!
//! [tls]                            # mutual TLS (or: insecure = true)
//! cert = "certs/node-a.pem"
//! key = "certs/node-a-key.pem"
//! ca = "certs/ca.pem"
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
//!
//! [admin]
//! metrics_listen = "127.0.0.1:9401"  # optional HTTP GET /metrics
//!
//! [transport]                      # optional
//! max_inbound = 64                 # peer + client connections served at once
//! ```
//!
//! Relative paths are relative to the configuration file's directory.
//! Every identity and address is validated when the file is read, with an
//! error that names the field.

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
}

/// The default of `transport.max_inbound` (as [`crate::transport::tcp::TcpConfig::new`]).
pub const DEFAULT_MAX_INBOUND: usize = 64;

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
    /// The optional metrics HTTP listener.
    pub metrics_listen: Option<String>,
    /// Most inbound connections (peers and clients) served at once; more
    /// are refused.
    pub max_inbound: usize,
}

impl NodeConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
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
        let tls = match (raw.tls.insecure, raw.tls.cert, raw.tls.key, raw.tls.ca) {
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
                .map(|(i, s)| node_id(&format!("authorization.{field}[{i}]"), s))
                .collect()
        };
        let authorization = Authorization {
            readers: ids("readers", raw.authorization.readers)?,
            proposers: ids("proposers", raw.authorization.proposers)?,
            operators: ids("operators", raw.authorization.operators)?,
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
        engine.validate().map_err(|e| invalid("engine", e))?;
        let max_inbound = raw.transport.max_inbound.unwrap_or(DEFAULT_MAX_INBOUND);
        if max_inbound == 0 {
            return Err(invalid(
                "transport.max_inbound",
                "at least 1 connection is needed".into(),
            ));
        }
        Ok(NodeConfig {
            id,
            listen,
            data_dir: resolve(raw.data_dir),
            tls,
            cluster,
            authorization,
            engine,
            metrics_listen: raw.admin.metrics_listen,
            max_inbound,
        })
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
}
