//! `synod bench watch`: watchers over the client protocol on one member
//! while transitions commit.
//!
//! A 3-member cluster of `synod node` processes (mutual TLS, fsync on);
//! `N` watchers (`Client::watch`, each on its own connection) read one
//! follower's stream while a writer commits transitions on the leader. Each
//! event's delivery is timed against the moment its proposal was
//! acknowledged to the writer (a delivery that came first counts as 0): the
//! commit-to-delivery latency. The follower's resident memory is read
//! before and after the watchers connect: the memory per watching
//! connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use synod::node::protocol::WatchWireItem;
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
}

/// Runs the measurement.
pub fn bench_watch(opts: &WatchOptions) -> SynodResult<WatchReport> {
    let cluster = start_cluster(ClusterOptions::new(true, None, opts.watchers)?, 3)?;
    let leader = cluster.wait_healthy(Duration::from_secs(30))?;
    let watched = (leader + 1) % 3;
    let watched_addr = cluster.members[watched].addr.clone();
    let pid = cluster.members[watched].pid();
    let leader_addr = cluster.members[leader].addr.clone();
    let from = Index(cluster.status(watched)?.applied.0 + 1);
    let rss_before = pid.and_then(crate::rss_bytes);

    let connected = Arc::new(Barrier::new(opts.watchers + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let prefix = "watchbench-";
    let watchers: Vec<_> = (0..opts.watchers)
        .map(|_| {
            let client = cluster.client(vec![watched_addr.clone()], Duration::from_secs(10));
            let (connected, stop) = (connected.clone(), stop.clone());
            let want = opts.transitions;
            std::thread::spawn(move || -> Result<Vec<(Index, Instant)>, String> {
                let mut w = client.watch(from).map_err(|e| e.to_string())?;
                // The first item (a role, or the first event) proves the
                // stream is up.
                let first = w.next(Duration::from_secs(30));
                connected.wait();
                let mut got = Vec::with_capacity(want);
                let mut item = first.map_err(|e| e.to_string())?;
                loop {
                    if let WatchWireItem::Event {
                        index,
                        entry: ControlPlaneEntry::OwnershipTransition(t),
                        ..
                    } = &item
                    {
                        if t.range.as_str().starts_with(prefix) {
                            got.push((*index, Instant::now()));
                            if got.len() >= want {
                                return Ok(got);
                            }
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return Ok(got);
                    }
                    item = match w.next(Duration::from_secs(1)) {
                        Ok(i) => i,
                        Err(synod::node::client::ClientCallError::Unreachable(_)) => continue,
                        Err(e) => return Err(e.to_string()),
                    };
                }
            })
        })
        .collect();
    connected.wait();
    let rss_after = pid.and_then(crate::rss_bytes);

    let mut writer = cluster.client(vec![leader_addr], Duration::from_secs(10));
    let owner = NodeId::from_certificate_subject("CN=node-1").map_err(|e| e.to_string())?;
    let acked: Arc<Mutex<HashMap<Index, Instant>>> = Arc::default();
    for i in 0..opts.transitions {
        let e = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: format!("{prefix}{i}")
                .parse()
                .map_err(|e| format!("range: {e}"))?,
            new_owner: owner.clone(),
            epoch: Epoch(1),
        });
        let c = writer.propose(e).map_err(|e| format!("propose: {e}"))?;
        acked
            .lock()
            .map_err(|_| "lock")?
            .insert(c.index, Instant::now());
        // About 200 transitions a second: a steady stream, not a burst.
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut latency = Histogram::new();
    let mut deliveries = 0u64;
    let mut failures = Vec::new();
    let acked = acked.lock().map_err(|_| "lock")?.clone();
    for (n, w) in watchers.into_iter().enumerate() {
        while !w.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !w.is_finished() {
            stop.store(true, Ordering::Relaxed);
        }
        match w.join() {
            Ok(Ok(got)) => {
                for (index, at) in got {
                    if let Some(acked_at) = acked.get(&index) {
                        latency.record_duration(at.saturating_duration_since(*acked_at));
                        deliveries += 1;
                    }
                }
            }
            Ok(Err(e)) => failures.push(format!("watcher {n}: {e}")),
            Err(_) => failures.push(format!("watcher {n} panicked")),
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
    Ok(WatchReport {
        watchers: opts.watchers,
        latency,
        deliveries,
        expected: (opts.watchers * opts.transitions) as u64,
        rss_per_connection,
    })
}

/// The report's lines; the last reads
/// `watch: N watchers, commit-to-delivery p50 A ms, p99 B ms`.
pub fn format_watch(r: &WatchReport) -> String {
    let ms = |q: f64| r.latency.value_at_quantile(q) as f64 / 1e6;
    let rss = r
        .rss_per_connection
        .map_or("unknown".to_string(), |b| format!("{:.1} KiB", b / 1024.0));
    format!(
        "watch: {} of {} deliveries, the watched member's memory per watching connection {rss}\n\
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
