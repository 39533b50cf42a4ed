//! `synod bench watch`: watchers over the client protocol on one member
//! while transitions commit.
//!
//! A 3-member cluster of `synod node` processes (mutual TLS, fsync on);
//! `N` watchers (each a watch call on a connection of its own, run as
//! tasks of a two-thread runtime with [`AsyncClientConnection`]) read one
//! follower's stream while a writer commits transitions on the leader. Each
//! event's delivery is timed against the moment its proposal was
//! acknowledged to the writer (a delivery that came first counts as 0): the
//! commit-to-delivery latency. The follower's resident memory is read
//! before and after the watchers connect: the memory per watching
//! connection; then `idle` more connections that ask nothing after one
//! status request are held, for the memory per idle connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use synod::node::protocol::{Request, Response, WatchWireItem};
use synod::transport::tcp::AsyncClientConnection;
use synod::transport::Security;
use synod::{ControlPlaneEntry, Epoch, Index, NodeId, OwnershipTransition};

use crate::histogram::Histogram;
use crate::synod_cluster::{start_cluster, ClusterOptions, SynodResult};

/// What to run.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Watchers.
    pub watchers: usize,
    /// Transitions committed while they watch.
    pub transitions: usize,
    /// Idle client connections opened afterwards, for the member's memory
    /// per connection (0: none).
    pub idle: usize,
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct WatchReport {
    /// Watchers.
    pub watchers: usize,
    /// Commit-to-delivery latency, nanoseconds, over every (watcher, event).
    pub latency: Histogram,
    /// Deliveries counted.
    pub deliveries: u64,
    /// Deliveries expected (watchers x transitions).
    pub expected: u64,
    /// The watched member's resident memory per watching connection.
    pub rss_per_connection: Option<f64>,
    /// Idle connections held at once, and the member's resident memory per
    /// idle connection.
    pub idle: Option<(usize, Option<f64>)>,
}

/// One watcher: its connection, and when each benchmark event arrived.
async fn watcher(
    addr: String,
    security: Security,
    from: Index,
    want: usize,
    connected: std::sync::mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<(Index, Instant)>, String> {
    let mut c = AsyncClientConnection::connect(&addr, &security, Duration::from_secs(30))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    c.send_call(&Request::Watch { from }.encode())
        .await
        .map_err(|e| format!("watch: {e}"))?;
    let mut got = Vec::with_capacity(want);
    let mut up = false;
    loop {
        let reply = match tokio::time::timeout(Duration::from_secs(1), c.next_reply()).await {
            Ok(r) => r.map_err(|e| format!("read: {e}"))?,
            Err(_) if stop.load(Ordering::Relaxed) => return Ok(got),
            Err(_) => continue,
        };
        let now = Instant::now();
        if !up {
            // The first answer (the role, or a heartbeat) proves the
            // stream is up.
            up = true;
            let _ = connected.send(());
        }
        let items = match Response::decode(&reply.1) {
            Ok(Ok(Response::Watch(items))) => items,
            Ok(Ok(_)) => return Err("a watch answered something else".into()),
            Ok(Err(e)) => return Err(format!("the watch ended: {e}")),
            Err(e) => return Err(format!("bad watch batch: {e}")),
        };
        for item in items {
            if let WatchWireItem::Event {
                index,
                entry: ControlPlaneEntry::OwnershipTransition(t),
                ..
            } = &item
            {
                if t.range.as_str().starts_with(PREFIX) {
                    got.push((*index, now));
                    if got.len() >= want {
                        return Ok(got);
                    }
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(got);
        }
    }
}

/// The ranges the benchmark's transitions move.
const PREFIX: &str = "watchbench-";

/// Runs the measurement.
pub fn bench_watch(opts: &WatchOptions) -> SynodResult<WatchReport> {
    // It holds thousands of connections.
    let _ = synod::transport::raise_open_file_limit();
    let room = opts.watchers.max(opts.idle);
    let cluster = start_cluster(ClusterOptions::new(true, None, room)?, 3)?;
    let leader = cluster.wait_healthy(Duration::from_secs(30))?;
    let watched = (leader + 1) % 3;
    let watched_addr = cluster.members[watched].addr.clone();
    let pid = cluster.members[watched].pid();
    let leader_addr = cluster.members[leader].addr.clone();
    let from = Index(cluster.status(watched)?.applied.0 + 1);
    let rss_before = pid.and_then(crate::rss_bytes);

    // The watchers run as tasks on two threads (the member's serving is
    // what is measured, not a thousand client threads' scheduling).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (connected_tx, connected) = std::sync::mpsc::channel();
    let watchers: Vec<_> = (0..opts.watchers)
        .map(|_| {
            rt.spawn(watcher(
                watched_addr.clone(),
                cluster.security().clone(),
                from,
                opts.transitions,
                connected_tx.clone(),
                stop.clone(),
            ))
        })
        .collect();
    drop(connected_tx);
    let up_by = Instant::now() + Duration::from_secs(60);
    for n in 0..opts.watchers {
        let left = up_by.saturating_duration_since(Instant::now());
        if connected.recv_timeout(left).is_err() {
            stop.store(true, Ordering::Relaxed);
            return Err(format!("{n} of {} watchers came up", opts.watchers));
        }
    }
    let rss_after = pid.and_then(crate::rss_bytes);

    let mut writer = cluster.client(vec![leader_addr], Duration::from_secs(10));
    let owner = NodeId::from_certificate_subject("CN=node-1").map_err(|e| e.to_string())?;
    let mut acked: HashMap<Index, Instant> = HashMap::new();
    for i in 0..opts.transitions {
        let e = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: format!("{PREFIX}{i}")
                .parse()
                .map_err(|e| format!("range: {e}"))?,
            new_owner: owner.clone(),
            epoch: Epoch(1),
        });
        let c = writer.propose(e).map_err(|e| format!("propose: {e}"))?;
        acked.insert(c.index, Instant::now());
        // About 200 transitions a second: a steady stream, not a burst.
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut latency = Histogram::new();
    let mut deliveries = 0u64;
    let mut failures = Vec::new();
    let results = rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        for w in watchers {
            match tokio::time::timeout_at(deadline, w).await {
                Ok(r) => out.push(r.map_err(|e| format!("watcher task: {e}")).and_then(|r| r)),
                Err(_) => out.push(Err("no deliveries within 30 s".to_string())),
            }
        }
        out
    });
    stop.store(true, Ordering::Relaxed);
    for (n, r) in results.into_iter().enumerate() {
        match r {
            Ok(got) => {
                for (index, at) in got {
                    if let Some(acked_at) = acked.get(&index) {
                        latency.record_duration(at.saturating_duration_since(*acked_at));
                        deliveries += 1;
                    }
                }
            }
            Err(e) => failures.push(format!("watcher {n}: {e}")),
        }
    }
    if let Some(f) = failures.first() {
        return Err(format!("{} watcher(s) failed; first: {f}", failures.len()));
    }
    let rss_per_connection = match (rss_before, rss_after) {
        (Some(b), Some(a)) if opts.watchers > 0 => {
            Some(a.saturating_sub(b) as f64 / opts.watchers as f64)
        }
        _ => None,
    };
    let idle = if opts.idle == 0 {
        None
    } else {
        Some(idle_connections(&rt, &cluster, watched, opts.idle)?)
    };
    Ok(WatchReport {
        watchers: opts.watchers,
        latency,
        deliveries,
        expected: (opts.watchers * opts.transitions) as u64,
        rss_per_connection,
        idle,
    })
}

/// Opens `n` client connections to member `m` that ask nothing (each one
/// status request first, so each is an established client), and reads the
/// member's resident memory before and after: connections held and memory
/// per connection.
fn idle_connections(
    rt: &tokio::runtime::Runtime,
    cluster: &crate::synod_cluster::SynodCluster,
    m: usize,
    n: usize,
) -> SynodResult<(usize, Option<f64>)> {
    let addr = cluster.members[m].addr.clone();
    let pid = cluster.members[m].pid();
    let before = pid.and_then(crate::rss_bytes);
    let security = cluster.security().clone();
    let held = rt.block_on(async {
        let mut conns = Vec::with_capacity(n);
        // A few hundred handshakes at a time (the member's flood rules
        // make room from the oldest unfinished ones past its share).
        let mut rest = n;
        while rest > 0 {
            let batch = rest.min(200);
            rest -= batch;
            let tasks: Vec<_> = (0..batch)
                .map(|_| {
                    let (addr, security) = (addr.clone(), security.clone());
                    tokio::spawn(async move {
                        let mut c = AsyncClientConnection::connect(
                            &addr,
                            &security,
                            Duration::from_secs(30),
                        )
                        .await?;
                        c.send_call(&Request::Status.encode()).await?;
                        c.next_reply().await?;
                        Ok::<_, synod::transport::TransportError>(c)
                    })
                })
                .collect();
            for t in tasks {
                match t.await {
                    Ok(Ok(c)) => conns.push(c),
                    Ok(Err(e)) => return Err(format!("idle connection: {e}")),
                    Err(e) => return Err(format!("idle connection task: {e}")),
                }
            }
        }
        Ok(conns)
    })?;
    // Let the member settle (freed handshake buffers) before reading it.
    std::thread::sleep(Duration::from_secs(1));
    let after = pid.and_then(crate::rss_bytes);
    let count = held.len();
    drop(held);
    let per = match (before, after) {
        (Some(b), Some(a)) if count > 0 => Some(a.saturating_sub(b) as f64 / count as f64),
        _ => None,
    };
    Ok((count, per))
}

/// The report's lines; the last reads
/// `watch: N watchers, commit-to-delivery p50 A ms, p99 B ms`.
pub fn format_watch(r: &WatchReport) -> String {
    let ms = |q: f64| r.latency.value_at_quantile(q) as f64 / 1e6;
    let rss = r
        .rss_per_connection
        .map_or("unknown".to_string(), |b| format!("{:.1} KiB", b / 1024.0));
    let idle = match r.idle {
        None => String::new(),
        Some((n, per)) => format!(
            "idle: {n} client connections held, the member's memory per idle connection {}\n",
            per.map_or("unknown".to_string(), |b| format!("{:.1} KiB", b / 1024.0))
        ),
    };
    format!(
        "{idle}watch: {} of {} deliveries, the watched member's memory per watching connection {rss}\n\
         watch: p99.9 {:.2} ms, max {:.2} ms\n\
         watch: {} watchers, commit-to-delivery p50 {:.2} ms, p99 {:.2} ms\n",
        r.deliveries,
        r.expected,
        ms(0.999),
        r.latency.max() as f64 / 1e6,
        r.watchers,
        ms(0.5),
        ms(0.99),
    )
}
