//! The measurements run on Synod's clusters: write levels with the
//! leader's group commit, failover trials, the restart of a member with a
//! long log and the install of a large catalog on a new member.

use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use synod::node::client::Client;
use synod::{ControlPlaneEntry, MemberKind, MembershipChange, RangeId};

use super::build::{build_catalog_dir, build_log_dir, LogDir};
use super::{
    ctx, free_addr, node_id, poll, transition, ClusterOptions, Start, SynodCluster, SynodResult,
};
use crate::load::{run_closed_loop, time_until_first_success, LoadResult, LoadSpec};

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
            .and_then(crate::rss_bytes)
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
