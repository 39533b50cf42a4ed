//! Synod's half of `synod bench`: real `synod node` processes on 127.0.0.1
//! (spawned from this binary, as the demo does), fsync on, mutual TLS by
//! default, and the measurements run against them.
//!
//! This module owns the cluster of processes: [`SynodCluster`], a temporary
//! directory with dev certificates (or plain TCP), one configuration file
//! per member, members started, killed and restarted as separate processes;
//! each child gets `PR_SET_PDEATHSIG` (like the etcd harness), so it dies
//! with the bench. Beside it:
//!
//! * `measure.rs`, the measurements run on it:
//!   * [`measure_writes`]: closed-loop ownership transitions, one `Client`
//!     (one connection) per worker, each worker on its own ranges with
//!     increasing epochs so nothing is refused; the leader's metrics before
//!     and after give the entries committed per group-commit fsync.
//!   * [`failover_trial`]: kill -9 of the leader, then the etcd side's probe
//!     ([`crate::load::time_until_first_success`], a new proposal every
//!     10 ms on a fresh connection to the next survivor).
//!   * [`measure_restart`]: a data directory with many log entries and a
//!     snapshot, opened by a single-member `synod node`; time to the first
//!     status answer and to a linearizable read.
//!   * [`measure_catalog_scale`]: a leader whose data directory holds a
//!     snapshot with many owned ranges; a new member is admitted, started
//!     with `join`, and timed until it has applied what the leader has.
//! * `build.rs`, the data directories those last two open, written directly
//!   with [`synod::storage::DurableStore`] ([`build_log_dir`],
//!   [`build_catalog_dir`]).

mod build;
mod measure;
#[cfg(test)]
mod tests;

pub use build::{build_catalog_dir, build_log_dir, LogDir};
pub use measure::{
    failover_trial, measure_catalog_scale, measure_restart, measure_writes, writer_range,
    CatalogMeasurement, RestartMeasurement, WriteMeasurement, RANGES_PER_WRITER,
};

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use synod::node::client::Client;
use synod::node::config::TlsSettings;
use synod::node::protocol::StatusInfo;
use synod::node::runner::security_for;
use synod::transport::Security;
use synod::{ControlPlaneEntry, Epoch, NodeId, OwnershipTransition, RangeId};

/// Errors of Synod's half: a message naming what failed.
pub type SynodResult<T> = Result<T, String>;

fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// The identity the bench's clients use (an operator: it admits members).
pub const BENCH_CLIENT: &str = "CN=bench";

/// How the bench's clusters run.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The `synod` binary to start members from.
    pub binary: PathBuf,
    /// Mutual TLS (the production mode) or plain TCP.
    pub tls: bool,
    /// Where the temporary directories are made (default: the system's
    /// temporary directory).
    pub parent_dir: Option<PathBuf>,
    /// Each member's `transport.max_inbound`: enough for the most
    /// concurrent writers (clients hold at most three quarters of the
    /// slots, all writers share one identity, whose limit is set to the
    /// same) plus peers and probes.
    pub max_inbound: usize,
}

impl ClusterOptions {
    /// This binary, mutual TLS, room for `max_writers` clients.
    pub fn new(tls: bool, parent_dir: Option<PathBuf>, max_writers: usize) -> SynodResult<Self> {
        Ok(Self {
            binary: std::env::current_exe().map_err(ctx("locate this binary"))?,
            tls,
            parent_dir,
            max_inbound: max_writers * 4 / 3 + 64,
        })
    }
}

/// One member process.
#[derive(Debug)]
pub struct MemberProc {
    /// Its short name (`node-1`); the identity is `CN=<name>`.
    pub name: String,
    /// Its identity.
    pub id: NodeId,
    /// Where it listens (peers and clients).
    pub addr: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl MemberProc {
    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A local cluster of `synod node` processes.
pub struct SynodCluster {
    dir: tempfile::TempDir,
    opts: ClusterOptions,
    security: Security,
    /// The members, in the order added.
    pub members: Vec<MemberProc>,
}

/// A free port on 127.0.0.1 (closed again at once; a race with other
/// programs is possible but unlikely).
pub fn free_addr() -> SynodResult<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(ctx("bind a free port"))?;
    let a = l.local_addr().map_err(ctx("local address"))?;
    Ok(a.to_string())
}

fn node_id(s: &str) -> SynodResult<NodeId> {
    NodeId::from_certificate_subject(s).map_err(ctx(s))
}

/// How a member enters its cluster.
#[derive(Debug, Clone)]
pub enum Start {
    /// Bootstrap with these members (`(name, address)`), or open the
    /// existing data directory.
    Bootstrap(Vec<(String, String)>),
    /// Join through the member at this address (admitted first).
    Join(String),
}

impl SynodCluster {
    /// A new directory with certificates for `names` and the bench client
    /// (with TLS); no member is started yet.
    pub fn new(opts: ClusterOptions, names: &[&str]) -> SynodResult<Self> {
        let mut b = tempfile::Builder::new();
        b.prefix("synod-bench-cluster-");
        let dir = match &opts.parent_dir {
            Some(p) => b.tempdir_in(p),
            None => b.tempdir(),
        }
        .map_err(ctx("create the cluster directory"))?;
        let client_id = node_id(BENCH_CLIENT)?;
        let security = if opts.tls {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let certs = dir.path().join("certs");
            synod::transport::certs::write_dev_certs(&certs, &names, &["bench".to_string()])
                .map_err(ctx("write dev certificates"))?;
            security_for(
                &client_id,
                &TlsSettings::Mutual {
                    cert: certs.join("bench.pem"),
                    key: certs.join("bench-key.pem"),
                    ca: certs.join("ca.pem"),
                },
            )
            .map_err(ctx("client TLS"))?
        } else {
            Security::Insecure {
                identity: client_id,
            }
        };
        Ok(Self {
            dir,
            opts,
            security,
            members: Vec::new(),
        })
    }

    /// A member's data directory (`data/<name>` in the cluster directory).
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("data").join(name)
    }

    /// The bench client's security (TLS identity or insecure claim).
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Adds member `name` listening at `addr` and writes its configuration;
    /// returns its position. It is not started.
    pub fn add_member(&mut self, name: &str, addr: &str, start: &Start) -> SynodResult<usize> {
        let id = node_id(&format!("CN={name}"))?;
        let config = self.dir.path().join(format!("{name}.toml"));
        let text = member_config(name, addr, start, self.opts.tls, self.opts.max_inbound);
        std::fs::write(&config, text).map_err(ctx(format!("write {}", config.display())))?;
        self.members.push(MemberProc {
            name: name.to_string(),
            id,
            addr: addr.to_string(),
            log: self.dir.path().join(format!("{name}.log")),
            config,
            child: None,
        });
        Ok(self.members.len() - 1)
    }

    /// Starts member `i` (a no-op while it runs); returns the instant just
    /// before the process was spawned.
    pub fn spawn(&mut self, i: usize) -> SynodResult<Instant> {
        let m = &mut self.members[i];
        if m.child.is_some() {
            return Ok(Instant::now());
        }
        let t = Instant::now();
        let child = crate::process::spawn_member(&self.opts.binary, &m.config, &m.log)
            .map_err(ctx(format!("start {}", self.opts.binary.display())))?;
        m.child = Some(child);
        Ok(t)
    }

    /// Kills member `i` with SIGKILL and reaps it; returns the instant just
    /// before the signal.
    pub fn kill(&mut self, i: usize) -> SynodResult<Instant> {
        let m = &mut self.members[i];
        let Some(mut child) = m.child.take() else {
            return Err(format!("{} is not running", m.name));
        };
        let t = Instant::now();
        child.kill().map_err(ctx(format!("kill {}", m.name)))?;
        child.wait().map_err(ctx(format!("reap {}", m.name)))?;
        Ok(t)
    }

    /// A client for `endpoints` with this cluster's identity.
    pub fn client(&self, endpoints: Vec<String>, timeout: Duration) -> Client {
        Client::new(endpoints, self.security.clone(), timeout)
    }

    /// Every member's address, `first` first.
    pub fn endpoints_from(&self, first: usize) -> Vec<String> {
        let mut v = vec![self.members[first].addr.clone()];
        v.extend(
            self.members
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != first)
                .map(|(_, m)| m.addr.clone()),
        );
        v
    }

    /// The status of member `i`.
    pub fn status(&self, i: usize) -> SynodResult<StatusInfo> {
        let addr = &self.members[i].addr;
        self.client(vec![addr.clone()], Duration::from_secs(2))
            .status_of(addr)
            .map_err(ctx(addr))
    }

    /// Waits until one running member leads and every running member
    /// follows it and has applied its commit index; returns the leader.
    pub fn wait_healthy(&self, timeout: Duration) -> SynodResult<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.healthy() {
                Ok(l) => return Ok(l),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "the cluster did not become healthy within {timeout:?}: {last}\n{}",
                    self.log_tail(800)
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn healthy(&self) -> SynodResult<usize> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some())
            .collect();
        let mut states = Vec::new();
        for &i in &running {
            states.push((i, self.status(i)?));
        }
        let (leader, ls) = states
            .iter()
            .find(|(_, s)| s.role == "leader")
            .ok_or("no leader")?;
        for (i, s) in &states {
            let follows = s.leader.as_ref().map(|l| &l.id) == Some(&ls.id);
            if !follows || s.term != ls.term || s.applied.0 < ls.commit.0 {
                return Err(format!(
                    "{} is behind (term {}, applied {}; leader term {}, commit {})",
                    self.members[*i].name, s.term, s.applied, ls.term, ls.commit
                ));
            }
        }
        Ok(*leader)
    }

    /// Member `i`'s group-commit counters.
    pub fn commit_counters(&self, i: usize) -> SynodResult<CommitCounters> {
        let addr = &self.members[i].addr;
        let text = self
            .client(vec![addr.clone()], Duration::from_secs(2))
            .metrics()
            .map_err(ctx(format!("metrics of {addr}")))?;
        let get = |name: &str| metric_f64(&text, name).ok_or(format!("no {name} in the metrics"));
        Ok(CommitCounters {
            fsyncs: get("synod_fsync_seconds_count")? as u64,
            fsync_seconds: get("synod_fsync_seconds_sum")?,
            commits: get("synod_proposals_committed_total")? as u64,
        })
    }

    /// The last `bytes` of every member's log.
    pub fn log_tail(&self, bytes: usize) -> String {
        let mut out = String::new();
        for m in &self.members {
            if let Ok(t) = std::fs::read(&m.log) {
                let start = t.len().saturating_sub(bytes);
                out += &format!(
                    "--- {} ({}):\n{}\n",
                    m.name,
                    m.log.display(),
                    String::from_utf8_lossy(&t[start..])
                );
            }
        }
        out
    }
}

impl Drop for SynodCluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(c) = m.child.take() {
                crate::process::stop(c, Duration::from_secs(3));
            }
        }
    }
}

/// A member's configuration file.
pub fn member_config(
    name: &str,
    addr: &str,
    start: &Start,
    tls: bool,
    max_inbound: usize,
) -> String {
    let tls = if tls {
        format!(
            "cert = \"certs/{name}.pem\"\nkey = \"certs/{name}-key.pem\"\nca = \"certs/ca.pem\""
        )
    } else {
        "insecure = true".to_string()
    };
    let cluster = match start {
        Start::Bootstrap(members) => {
            let list: Vec<String> = members
                .iter()
                .map(|(n, a)| format!("{{ id = \"CN={n}\", address = \"{a}\" }}"))
                .collect();
            format!("bootstrap = [ {} ]", list.join(", "))
        }
        Start::Join(a) => format!("join = \"{a}\""),
    };
    format!(
        "id = \"CN={name}\"\nlisten = \"{addr}\"\ndata_dir = \"data/{name}\"\n\n[tls]\n{tls}\n\n[cluster]\n{cluster}\n\n[authorization]\noperators = [\"{BENCH_CLIENT}\"]\n\n[transport]\nmax_inbound = {max_inbound}\nmax_client_connections_per_identity = {max_inbound}\n"
    )
}

/// A member's group-commit counters (from its metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommitCounters {
    /// Group-commit fsyncs.
    pub fsyncs: u64,
    /// Seconds spent in them.
    pub fsync_seconds: f64,
    /// Proposals committed.
    pub commits: u64,
}

/// The value of the first Prometheus sample of series `name` in `text`
/// (whatever its labels; a member labels every series with itself).
pub fn metric_f64(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = match rest.strip_prefix('{') {
            Some(labelled) => &labelled[labelled.find('}')? + 1..],
            None => rest,
        };
        if !rest.starts_with(' ') {
            return None;
        }
        rest.trim().parse().ok()
    })
}

/// Starts a 3-member (or `n`-member) cluster bootstrapped together and
/// waits for a leader.
pub fn start_cluster(opts: ClusterOptions, n: usize) -> SynodResult<SynodCluster> {
    let names: Vec<String> = (1..=n).map(|i| format!("node-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut c = SynodCluster::new(opts, &refs)?;
    let members: Vec<(String, String)> = names
        .iter()
        .map(|n| free_addr().map(|a| (n.clone(), a)))
        .collect::<SynodResult<_>>()?;
    let start = Start::Bootstrap(members.clone());
    for (name, addr) in &members {
        c.add_member(name, addr, &start)?;
    }
    for i in 0..n {
        c.spawn(i)?;
    }
    c.wait_healthy(Duration::from_secs(30))?;
    Ok(c)
}

fn transition(range: RangeId, owner: &NodeId, epoch: u64) -> ControlPlaneEntry {
    ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range,
        new_owner: owner.clone(),
        epoch: Epoch(epoch),
    })
}

/// Polls `f` every `every` until it answers `Some` or `within` passes.
fn poll<T>(
    what: &str,
    within: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> SynodResult<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {within:?} waiting for {what}"));
        }
        std::thread::sleep(every);
    }
}
