//! Synod's half of `synod bench`: real `synod node` processes on 127.0.0.1
//! (spawned from this binary, as the demo does), fsync on, mutual TLS by
//! default, and the measurements run against them.
//!
//! * [`SynodCluster`]: a temporary directory with dev certificates (or plain
//!   TCP), one configuration file per member, members started, killed and
//!   restarted as separate processes; each child gets `PR_SET_PDEATHSIG`
//!   (like the etcd harness), so it dies with the bench.
//! * [`measure_writes`]: closed-loop ownership transitions, one `Client`
//!   (one connection) per worker, each worker on its own ranges with
//!   increasing epochs so nothing is refused; the leader's metrics before
//!   and after give the entries committed per group-commit fsync.
//! * [`failover_trial`]: kill -9 of the leader, then the etcd side's probe
//!   ([`time_until_first_success`], a new proposal every 10 ms on a fresh
//!   connection to the next survivor).
//! * [`measure_restart`]: a data directory with many log entries and a
//!   snapshot, built directly with [`DurableStore`], opened by a
//!   single-member `synod node`; time to the first status answer and to a
//!   linearizable read.
//! * [`measure_catalog_scale`]: a leader whose data directory holds a
//!   snapshot with many owned ranges; a new member is admitted, started
//!   with `join`, and timed until it has applied what the leader has.

// raft's protobuf messages are built field by field, as the storage and
// engine rooms do.
#![allow(clippy::field_reassign_with_default)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use indicatif::ProgressBar;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use synod::node::client::Client;
use synod::node::config::TlsSettings;
use synod::node::protocol::StatusInfo;
use synod::node::runner::security_for;
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::transport::Security;
use synod::{
    ControlPlaneEntry, Epoch, Index, InitialMember, MemberKind, MembershipChange, NodeId,
    OwnershipTransition, RangeId, Term,
};

use super::load::{run_closed_loop, time_until_first_success, LoadResult, LoadSpec};

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
    /// concurrent writers plus peers and probes.
    pub max_inbound: usize,
}

impl ClusterOptions {
    /// This binary, mutual TLS, room for `max_writers` clients.
    pub fn new(tls: bool, parent_dir: Option<PathBuf>, max_writers: usize) -> SynodResult<Self> {
        Ok(Self {
            binary: std::env::current_exe().map_err(ctx("locate this binary"))?,
            tls,
            parent_dir,
            max_inbound: max_writers + 64,
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
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .map_err(ctx(format!("open {}", m.log.display())))?;
        let err = log.try_clone().map_err(ctx("duplicate a log handle"))?;
        let mut cmd = Command::new(&self.opts.binary);
        cmd.arg("node")
            .arg("--config")
            .arg(&m.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        // SAFETY: the closure runs in the forked child before exec and only
        // makes one async-signal-safe system call.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let t = Instant::now();
        let child = cmd
            .spawn()
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
        "id = \"CN={name}\"\nlisten = \"{addr}\"\ndata_dir = \"data/{name}\"\n\n[tls]\n{tls}\n\n[cluster]\n{cluster}\n\n[authorization]\noperators = [\"{BENCH_CLIENT}\"]\n\n[transport]\nmax_inbound = {max_inbound}\n"
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

/// Ranges each writer cycles through.
pub const RANGES_PER_WRITER: u64 = 100;

/// The range a writer's `k`-th transition moves: its own ranges (no two
/// writers share one), distinct per level (`tag`).
pub fn writer_range(tag: &str, worker: usize, k: u64) -> SynodResult<RangeId> {
    let r = k % RANGES_PER_WRITER;
    format!("bench-{tag}/w{worker:04}/users:[{r:06},{:06})", r + 1)
        .parse()
        .map_err(ctx("range id"))
}

/// What a write level measured, with the leader's group commit.
#[derive(Debug, Clone)]
pub struct WriteMeasurement {
    /// The load run.
    pub load: LoadResult,
    /// Proposals committed on the leader per leader fsync over the whole
    /// level (warmup included).
    pub entries_per_fsync: f64,
    /// Leader fsyncs over the level.
    pub fsyncs: u64,
    /// The leader's mean fsync over the level, milliseconds.
    pub fsync_mean_ms: f64,
    /// Proposals committed over the level.
    pub commits: u64,
}

/// Closed-loop transitions from `spec.concurrency` writers, each with its
/// own connection to the leader.
pub fn measure_writes(
    cluster: &SynodCluster,
    spec: &LoadSpec,
    tag: &str,
    progress: Option<&ProgressBar>,
) -> SynodResult<WriteMeasurement> {
    let leader = cluster.wait_healthy(Duration::from_secs(30))?;
    let endpoints = cluster.endpoints_from(leader);
    let owner = cluster.members[leader].id.clone();
    let before = cluster.commit_counters(leader)?;
    let load = run_closed_loop(
        spec,
        |worker| {
            let mut c = cluster.client(endpoints.clone(), Duration::from_secs(10));
            // Connect (and handshake) before the clock starts.
            c.status().map_err(|e| e.to_string())?;
            let ranges: Vec<RangeId> = (0..RANGES_PER_WRITER)
                .map(|k| writer_range(tag, worker, k))
                .collect::<SynodResult<_>>()?;
            let owner = owner.clone();
            let mut seq = 0u64;
            Ok(move || {
                let k = (seq % RANGES_PER_WRITER) as usize;
                let epoch = seq / RANGES_PER_WRITER + 1;
                seq += 1;
                c.propose(transition(ranges[k].clone(), &owner, epoch))
                    .map(|_| ())
            })
        },
        progress,
    )
    .map_err(|e| e.to_string())?;
    let after = cluster.commit_counters(leader)?;
    let fsyncs = after.fsyncs.saturating_sub(before.fsyncs);
    let commits = after.commits.saturating_sub(before.commits);
    let fsync_seconds = after.fsync_seconds - before.fsync_seconds;
    Ok(WriteMeasurement {
        fsync_mean_ms: if fsyncs > 0 {
            fsync_seconds * 1e3 / fsyncs as f64
        } else {
            0.0
        },
        load,
        entries_per_fsync: if fsyncs > 0 {
            commits as f64 / fsyncs as f64
        } else {
            0.0
        },
        fsyncs,
        commits,
    })
}

/// Failover trial `trial` (from 1): one commit, kill -9 of the leader, then
/// a new proposal every `probe_interval`, each with a fresh client (and
/// connection) to the next survivor, each bounded by `request_timeout`,
/// without waiting for the ones in flight (the etcd side's probe); the time
/// from the kill to the first commit. Then the killed member is restarted
/// and the cluster waited for.
pub fn failover_trial(
    cluster: &mut SynodCluster,
    trial: usize,
    probe_interval: Duration,
    request_timeout: Duration,
) -> SynodResult<Duration> {
    let leader = cluster.wait_healthy(Duration::from_secs(30))?;
    let survivors: Vec<String> = cluster.endpoints_from(leader)[1..].to_vec();
    if survivors.is_empty() {
        return Err("a cluster of one has no failover".into());
    }
    let owner = cluster.members[(leader + 1) % cluster.members.len()]
        .id
        .clone();
    let probe_range = |n: u64| -> SynodResult<RangeId> {
        format!("failover/t{trial}/p{n}")
            .parse()
            .map_err(ctx("range id"))
    };
    // The cluster commits before the kill.
    cluster
        .client(cluster.endpoints_from(leader), Duration::from_secs(10))
        .propose(transition(probe_range(0)?, &owner, 1))
        .map_err(ctx("commit before the kill"))?;
    let security = cluster.security().clone();
    let killed_at = cluster.kill(leader)?;
    let took = time_until_first_success(
        killed_at,
        move |n| -> SynodResult<()> {
            let addr = survivors[n as usize % survivors.len()].clone();
            let range = format!("failover/t{trial}/p{}", n + 1)
                .parse()
                .map_err(ctx("range id"))?;
            Client::new(vec![addr], security.clone(), request_timeout)
                .propose(transition(range, &owner, 1))
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
        probe_interval,
        256,
        Duration::from_secs(30),
    );
    cluster.spawn(leader)?;
    cluster.wait_healthy(Duration::from_secs(30))?;
    took.map_err(|m| format!("failover trial {trial}: {m}"))
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

/// A `raft` entry at (`index`, `term`) carrying `entry`.
fn log_entry(index: u64, term: u64, entry: &ControlPlaneEntry) -> Entry {
    let mut e = Entry::default();
    e.index = index;
    e.term = term;
    e.data = Bytes::from(entry.encode());
    e
}

/// Entries per append and sync while building a directory.
const BUILD_BATCH: usize = 4096;

/// What [`build_log_dir`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LogDir {
    /// The last (and commit) index.
    pub last_index: u64,
    /// The snapshot's index.
    pub snapshot_index: u64,
    /// Committed entries above the snapshot (applied again at restart).
    pub above_snapshot: u64,
}

/// Builds `dir` for a single-member cluster of `id` at `addr`: the genesis
/// snapshot, then `entries` committed ownership transitions (owner `id`,
/// cycling through `ranges` ranges with increasing epochs), then a snapshot
/// of the catalog `tail` entries below the last one (a running member takes
/// one every `snapshot_every` = 10,000 entries, so it never has more than
/// that above its snapshot). Segments are made large enough that the
/// directory keeps every entry.
pub fn build_log_dir(
    dir: &Path,
    id: &NodeId,
    addr: &str,
    entries: u64,
    ranges: u64,
    tail: u64,
    progress: Option<&ProgressBar>,
) -> SynodResult<LogDir> {
    let initial = [InitialMember {
        id: id.clone(),
        kind: MemberKind::Data,
        address: addr.parse().map_err(ctx("address"))?,
    }];
    let opts = StoreOptions {
        segment_bytes: 4 << 30,
        ..StoreOptions::default()
    };
    let (mut store, _) = DurableStore::bootstrap(Arc::new(RealDisk), dir, opts, &initial)
        .map_err(ctx("bootstrap the store"))?;
    let mut catalog = store.recover_catalog().map_err(ctx("genesis catalog"))?;
    let first = store.last_index() + 1;
    let last = first + entries - 1;
    let tail = tail.min(entries.saturating_sub(1));
    let snapshot_index = last - tail;
    let mut snapshot_data = None;
    let range_ids: Vec<RangeId> = (0..ranges.max(1))
        .map(|r| {
            format!("users:[{r:07},{:07})", r + 1)
                .parse()
                .map_err(ctx("range id"))
        })
        .collect::<SynodResult<_>>()?;
    let term = store.hard_state().term;
    let mut batch = Vec::with_capacity(BUILD_BATCH);
    let mut index = first;
    if let Some(pb) = progress {
        pb.set_length(entries);
        pb.set_position(0);
    }
    while index <= last {
        batch.clear();
        while batch.len() < BUILD_BATCH && index <= last {
            let k = index - first;
            let r = k % range_ids.len() as u64;
            let epoch = k / range_ids.len() as u64 + 1;
            let entry = transition(range_ids[r as usize].clone(), id, epoch);
            batch.push(log_entry(index, term, &entry));
            if index <= snapshot_index {
                catalog
                    .apply(Index(index), Term(term), &entry)
                    .map_err(ctx("apply"))?;
                if index == snapshot_index {
                    snapshot_data = Some(catalog.encode_snapshot());
                }
            }
            index += 1;
        }
        store.append(&batch).map_err(ctx("append"))?;
        let mut hs: HardState = store.hard_state();
        hs.commit = index - 1;
        store.set_hard_state(&hs).map_err(ctx("hard state"))?;
        store.sync().map_err(ctx("sync"))?;
        if let Some(pb) = progress {
            pb.set_position(index - first);
        }
    }
    let data = snapshot_data.ok_or("no snapshot taken")?;
    store
        .create_snapshot(snapshot_index, term, store.conf_state(), data)
        .map_err(ctx("create the snapshot"))?;
    Ok(LogDir {
        last_index: last,
        snapshot_index,
        above_snapshot: last - snapshot_index,
    })
}

/// Builds `dir` for a single-member cluster of `id` at `addr` whose
/// snapshot holds a catalog with `ranges` ranges, each owned by `id` at
/// epoch 1 (the state 1,000,000 committed transitions leave): the catalog
/// is built in-process and installed with [`DurableStore::apply_snapshot`],
/// as a snapshot from a leader is. Returns the snapshot's size in bytes.
pub fn build_catalog_dir(
    dir: &Path,
    id: &NodeId,
    addr: &str,
    ranges: u64,
    progress: Option<&ProgressBar>,
) -> SynodResult<u64> {
    let initial = [InitialMember {
        id: id.clone(),
        kind: MemberKind::Data,
        address: addr.parse().map_err(ctx("address"))?,
    }];
    let (mut store, _) =
        DurableStore::bootstrap(Arc::new(RealDisk), dir, StoreOptions::default(), &initial)
            .map_err(ctx("bootstrap the store"))?;
    let mut catalog = store.recover_catalog().map_err(ctx("genesis catalog"))?;
    let term = store.hard_state().term;
    let mut index = store.last_index();
    if let Some(pb) = progress {
        pb.set_length(ranges);
        pb.set_position(0);
    }
    for r in 0..ranges {
        index += 1;
        let range: RangeId = format!("users:[{r:07},{:07})", r + 1)
            .parse()
            .map_err(ctx("range id"))?;
        catalog
            .apply(Index(index), Term(term), &transition(range, id, 1))
            .map_err(ctx("apply"))?;
        if let Some(pb) = progress {
            if r % 65_536 == 0 {
                pb.set_position(r);
            }
        }
    }
    let data = catalog.encode_snapshot();
    let bytes = data.len() as u64;
    let mut snap = Snapshot::default();
    snap.data = Bytes::from(data);
    let meta = snap.mut_metadata();
    meta.index = index;
    meta.term = term;
    let mut cs = ConfState::default();
    cs.voters = vec![catalog.member(id).map_or(1, |m| m.peer_id)];
    meta.set_conf_state(cs);
    store
        .apply_snapshot(snap)
        .map_err(ctx("install the snapshot"))?;
    Ok(bytes)
}

/// What [`measure_restart`] measured.
#[derive(Debug, Clone)]
pub struct RestartMeasurement {
    /// The directory it opened.
    pub log: LogDir,
    /// Seconds spent building the directory (not part of the figure).
    pub build_seconds: f64,
    /// Process start to the first status answer.
    pub status_seconds: f64,
    /// Process start to the member reporting itself leader.
    pub leader_seconds: f64,
    /// Process start to a served linearizable read: the figure.
    pub read_seconds: f64,
}

/// Builds a directory with `entries` log entries and a snapshot `tail`
/// entries below the last (see [`build_log_dir`]), starts a single-member
/// `synod node` on it and times it until it serves: a status answer, then
/// a linearizable read (which needs it to have elected itself and
/// committed in its term).
pub fn measure_restart(
    opts: &ClusterOptions,
    entries: u64,
    tail: u64,
    progress: Option<&ProgressBar>,
) -> SynodResult<RestartMeasurement> {
    let name = "restart";
    let mut cluster = SynodCluster::new(opts.clone(), &[name])?;
    let addr = free_addr()?;
    let id = node_id(&format!("CN={name}"))?;
    let t = Instant::now();
    let log = build_log_dir(
        &cluster.data_dir(name),
        &id,
        &addr,
        entries,
        10_000,
        tail,
        progress,
    )?;
    let build_seconds = t.elapsed().as_secs_f64();
    let i = cluster.add_member(
        name,
        &addr,
        &Start::Bootstrap(vec![(name.to_string(), addr.clone())]),
    )?;
    // The client handshakes per attempt while the member is down; a short
    // timeout keeps the polling fine-grained.
    let mut client = cluster.client(vec![addr.clone()], Duration::from_millis(100));
    let t0 = cluster.spawn(i)?;
    let status = poll(
        "the restarted member to answer",
        Duration::from_secs(60),
        Duration::from_millis(2),
        || client.status_of(&addr).ok(),
    )
    .map_err(|e| format!("{e}\n{}", cluster.log_tail(800)))?;
    let status_seconds = t0.elapsed().as_secs_f64();
    let _ = status;
    poll(
        "the restarted member to lead",
        Duration::from_secs(30),
        Duration::from_millis(2),
        || client.status_of(&addr).ok().filter(|s| s.role == "leader"),
    )?;
    let leader_seconds = t0.elapsed().as_secs_f64();
    let range: RangeId = "users:[0000000,0000001)".parse().map_err(ctx("range"))?;
    let mut reader = cluster.client(vec![addr.clone()], Duration::from_secs(5));
    poll(
        "a linearizable read",
        Duration::from_secs(30),
        Duration::from_millis(2),
        || reader.owner(&range, true).ok(),
    )?;
    let read_seconds = t0.elapsed().as_secs_f64();
    Ok(RestartMeasurement {
        log,
        build_seconds,
        status_seconds,
        leader_seconds,
        read_seconds,
    })
}

/// What [`measure_catalog_scale`] measured.
#[derive(Debug, Clone)]
pub struct CatalogMeasurement {
    /// Ranges in the catalog.
    pub ranges: u64,
    /// The encoded catalog snapshot, bytes.
    pub snapshot_bytes: u64,
    /// Seconds spent building the leader's directory (not part of a
    /// figure).
    pub build_seconds: f64,
    /// Leader process start to leading (it decodes the snapshot).
    pub leader_start_seconds: f64,
    /// The joining member's process start to its applied index reaching
    /// the leader's: the install figure.
    pub install_seconds: f64,
    /// The joining member's RSS after installing.
    pub joiner_rss_bytes: u64,
    /// The leader's RSS after sending the snapshot.
    pub leader_rss_bytes: u64,
}

/// A leader whose directory holds a snapshot of `ranges` owned ranges; an
/// operator admits a new member, which starts with `join` and receives the
/// snapshot; timed until its applied index reaches the leader's.
pub fn measure_catalog_scale(
    opts: &ClusterOptions,
    ranges: u64,
    progress: Option<&ProgressBar>,
) -> SynodResult<CatalogMeasurement> {
    let (big, joiner) = ("holder", "joiner");
    let mut cluster = SynodCluster::new(opts.clone(), &[big, joiner])?;
    let (big_addr, join_addr) = (free_addr()?, free_addr()?);
    let big_id = node_id(&format!("CN={big}"))?;
    let t = Instant::now();
    let snapshot_bytes =
        build_catalog_dir(&cluster.data_dir(big), &big_id, &big_addr, ranges, progress)?;
    let build_seconds = t.elapsed().as_secs_f64();
    let b = cluster.add_member(
        big,
        &big_addr,
        &Start::Bootstrap(vec![(big.to_string(), big_addr.clone())]),
    )?;
    let t0 = cluster.spawn(b)?;
    let mut client = cluster.client(vec![big_addr.clone()], Duration::from_millis(200));
    poll(
        "the holder to lead",
        Duration::from_secs(60),
        Duration::from_millis(5),
        || {
            client
                .status_of(&big_addr)
                .ok()
                .filter(|s| s.role == "leader")
        },
    )
    .map_err(|e| format!("{e}\n{}", cluster.log_tail(800)))?;
    let leader_start_seconds = t0.elapsed().as_secs_f64();
    let joiner_id = node_id(&format!("CN={joiner}"))?;
    cluster
        .client(vec![big_addr.clone()], Duration::from_secs(10))
        .propose(ControlPlaneEntry::Membership(MembershipChange::Admit {
            member: joiner_id,
            kind: MemberKind::Data,
            address: join_addr.parse().map_err(ctx("address"))?,
        }))
        .map_err(ctx("admit the new member"))?;
    let j = cluster.add_member(joiner, &join_addr, &Start::Join(big_addr.clone()))?;
    let t1 = cluster.spawn(j)?;
    let mut watch = cluster.client(vec![big_addr.clone()], Duration::from_secs(2));
    poll(
        "the new member to catch up",
        Duration::from_secs(120),
        Duration::from_millis(5),
        || {
            let l = watch.status_of(&big_addr).ok()?;
            let s = watch.status_of(&join_addr).ok()?;
            (s.applied.0 >= l.applied.0 && s.applied.0 > 1).then_some(())
        },
    )
    .map_err(|e| format!("{e}\n{}", cluster.log_tail(800)))?;
    let install_seconds = t1.elapsed().as_secs_f64();
    let rss = |i: usize| {
        cluster.members[i]
            .pid()
            .and_then(super::rss_bytes)
            .unwrap_or(0)
    };
    Ok(CatalogMeasurement {
        ranges,
        snapshot_bytes,
        build_seconds,
        leader_start_seconds,
        install_seconds,
        joiner_rss_bytes: rss(j),
        leader_rss_bytes: rss(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod::Catalog;

    #[test]
    fn metric_reads_labelled_and_unlabelled_samples() {
        let text = "# HELP synod_fsync_seconds x\nsynod_fsync_seconds_bucket{member=\"CN=a\",le=\"0.001\"} 3\nsynod_fsync_seconds_sum{member=\"CN=a\"} 0.5\nsynod_fsync_seconds_count{member=\"CN=a\"} 42\nsynod_proposals_committed_total 1234\nsynod_proposals_committed_total_other 9\n";
        let metric = metric_f64;
        assert_eq!(metric(text, "synod_fsync_seconds_count"), Some(42.0));
        assert_eq!(
            metric(text, "synod_proposals_committed_total"),
            Some(1234.0)
        );
        assert_eq!(metric(text, "synod_fsync_seconds"), None);
        assert_eq!(metric(text, "missing"), None);
        assert_eq!(metric_f64(text, "synod_fsync_seconds_sum"), Some(0.5));
    }

    #[test]
    fn configs_parse_as_member_configurations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let boot = Start::Bootstrap(vec![
            ("node-1".into(), "127.0.0.1:7001".into()),
            ("node-2".into(), "127.0.0.1:7002".into()),
        ]);
        for (start, tls) in [(boot, true), (Start::Join("127.0.0.1:7001".into()), false)] {
            let text = member_config("node-2", "127.0.0.1:7002", &start, tls, 320);
            let path = dir.path().join("node-2.toml");
            let c = synod::node::config::NodeConfig::parse(&text, &path).expect(&text);
            assert_eq!(c.id.as_str(), "CN=node-2");
            assert_eq!(c.max_inbound, 320);
            assert_eq!(c.data_dir, dir.path().join("data/node-2"));
            assert_eq!(matches!(c.tls, TlsSettings::Mutual { .. }), tls);
            assert!(c
                .authorization
                .operators
                .contains(&node_id(BENCH_CLIENT).unwrap()));
        }
    }

    #[test]
    fn writer_ranges_are_disjoint_and_cycle() {
        let a = writer_range("1", 0, 0).unwrap();
        assert_eq!(a, writer_range("1", 0, RANGES_PER_WRITER).unwrap());
        assert_ne!(a, writer_range("1", 1, 0).unwrap());
        assert_ne!(a, writer_range("16", 0, 0).unwrap());
        assert_ne!(a, writer_range("1", 0, 1).unwrap());
    }

    #[test]
    fn built_log_dir_recovers_with_snapshot_and_every_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = node_id("CN=restart").unwrap();
        let d = dir.path().join("data");
        let log = build_log_dir(&d, &id, "127.0.0.1:7001", 5000, 100, 300, None).unwrap();
        assert_eq!(
            log,
            LogDir {
                last_index: 5001,
                snapshot_index: 4701,
                above_snapshot: 300
            }
        );
        let (store, _) = DurableStore::open_dir(&d, StoreOptions::default()).unwrap();
        assert_eq!(store.last_index(), 5001);
        assert_eq!(store.hard_state().commit, 5001);
        assert_eq!(store.snapshot().get_metadata().index, 4701);
        // The segment keeps every entry (one segment, never dropped).
        assert_eq!(store.segment_paths().len(), 1);
        let c = store.recover_catalog().unwrap();
        assert_eq!(c.ranges().len(), 100);
        // 5000 transitions over 100 ranges: each at epoch 50.
        let r: RangeId = "users:[0000099,0000100)".parse().unwrap();
        assert_eq!(c.epoch_of(&r), Epoch(50));
        assert_eq!(c.applied().0, Index(5001));
    }

    #[test]
    fn built_catalog_dir_holds_every_range_in_its_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = node_id("CN=holder").unwrap();
        let d = dir.path().join("data");
        let bytes = build_catalog_dir(&d, &id, "127.0.0.1:7001", 3000, None).unwrap();
        let (store, _) = DurableStore::open_dir(&d, StoreOptions::default()).unwrap();
        let snap = store.snapshot();
        assert_eq!(snap.data.len() as u64, bytes);
        assert_eq!(snap.get_metadata().index, 3001);
        let c = Catalog::decode_snapshot(&snap.data).unwrap();
        assert_eq!(c.ranges().len(), 3000);
        assert!(c
            .ranges()
            .all(|(_, o)| o.owner == id && o.epoch == Epoch(1)));
        assert_eq!(store.recover_catalog().unwrap().applied().0, Index(3001));
    }
}
