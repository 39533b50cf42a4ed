//! `synod bench reads`: local fence checks on a follower while the leader
//! takes writes.
//!
//! An in-process 3-member cluster (real stores with fsync on disk, the
//! in-memory transport, real driver threads) is seeded with ranges; 256
//! proposer threads move ranges on the leader while reader threads run
//! `try_fence_check` on a follower (a load of the published catalog view
//! and a B-tree lookup). Each read is timed; per-core throughput divides the
//! reads by the readers' own CPU time (`CLOCK_THREAD_CPUTIME_ID`), so it
//! does not depend on how many cores the writers took.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use synod::catalog::InitialMember;
use synod::engine::EngineConfig;
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::transport::memory::MemoryNetwork;
use synod::{
    ControlPlaneConsensus, ControlPlaneEntry, Epoch, FenceStatus, MemberKind, Node, NodeId,
    NodeOptions, OwnershipTransition, RangeId,
};

use crate::histogram::Histogram;

/// What to run.
#[derive(Debug, Clone)]
pub struct ReadsOptions {
    /// Measured seconds.
    pub seconds: f64,
    /// Proposer threads on the leader.
    pub writers: usize,
    /// Reader threads on the follower.
    pub readers: usize,
    /// Ranges in the catalog (readers check them round-robin).
    pub ranges: usize,
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct ReadsReport {
    /// Read latency, nanoseconds.
    pub latency: Histogram,
    /// Reads per second of reader CPU time.
    pub per_core: f64,
    /// Reads in all.
    pub reads: u64,
    /// Writes committed meanwhile.
    pub writes: u64,
    /// Writer threads.
    pub writers: usize,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; this clock exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn id(s: &str) -> Result<NodeId, String> {
    NodeId::from_certificate_subject(s).map_err(|e| e.to_string())
}

fn range(i: usize) -> Result<RangeId, String> {
    format!("users:[{i:06},{:06})", i + 1)
        .parse()
        .map_err(|e| format!("range: {e}"))
}

fn transition(range: RangeId, owner: &NodeId, epoch: u64) -> ControlPlaneEntry {
    ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range,
        new_owner: owner.clone(),
        epoch: Epoch(epoch),
    })
}

/// Runs the measurement.
pub fn bench_reads(opts: &ReadsOptions) -> Result<ReadsReport, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let names: Vec<NodeId> = (0..3)
        .map(|i| id(&format!("CN=reads-{i}")))
        .collect::<Result<_, _>>()?;
    let initial: Vec<InitialMember> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Ok(InitialMember {
                id: n.clone(),
                kind: MemberKind::Data,
                address: format!("mem:{i}").parse().map_err(|e| format!("{e}"))?,
            })
        })
        .collect::<Result<_, String>>()?;
    let net = MemoryNetwork::new();
    let mut nodes = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let path = dir.path().join(n.as_str());
        DurableStore::bootstrap(Arc::new(RealDisk), &path, StoreOptions::default(), &initial)
            .map_err(|e| e.to_string())?;
        let (store, _) = DurableStore::open(Arc::new(RealDisk), &path, StoreOptions::default())
            .map_err(|e| e.to_string())?;
        let mut o = NodeOptions::new(n.clone());
        o.engine = EngineConfig {
            tick_interval: Duration::from_millis(20),
            ..EngineConfig::default()
        };
        let net = net.clone();
        let peer = i as u64 + 1;
        nodes.push(Arc::new(
            Node::start(o, store, move |inbox| net.join(peer, inbox)).map_err(|e| e.to_string())?,
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let leader = loop {
        if let Some(l) = nodes.iter().position(|n| n.is_leader()) {
            break l;
        }
        if Instant::now() > deadline {
            return Err("no leader within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let follower = Arc::clone(&nodes[(leader + 1) % 3]);
    let lead = Arc::clone(&nodes[leader]);
    let owner = names[leader].clone();
    // Seed the ranges, then wait for the follower to have them.
    let mut last = synod::Index(0);
    for i in 0..opts.ranges {
        let c = lead
            .propose(transition(range(i)?, &owner, 1), Duration::from_secs(10))
            .map_err(|e| format!("seeding: {e}"))?;
        last = c.index;
    }
    follower
        .wait_applied(last, Duration::from_secs(30))
        .map_err(|e| format!("the follower did not catch up: {e}"))?;
    let ranges: Vec<RangeId> = (0..opts.ranges).map(range).collect::<Result<_, _>>()?;

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    // Writers move ranges of their own (beyond the read set) on the leader.
    let writers: Vec<_> = (0..opts.writers)
        .map(|w| {
            let (stop, writes, lead, owner) =
                (stop.clone(), writes.clone(), lead.clone(), owner.clone());
            std::thread::spawn(move || {
                let Ok(r) = range(1_000_000 + w) else { return };
                let mut epoch = 0;
                while !stop.load(Ordering::Relaxed) {
                    epoch += 1;
                    match lead.propose(
                        transition(r.clone(), &owner, epoch),
                        Duration::from_secs(10),
                    ) {
                        Ok(_) => {
                            writes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let measure = Duration::from_secs_f64(opts.seconds.max(0.1));
    let writes_before = writes.load(Ordering::Relaxed);
    let readers: Vec<_> = (0..opts.readers)
        .map(|t| {
            let (follower, owner, ranges) = (follower.clone(), owner.clone(), ranges.clone());
            std::thread::spawn(move || -> Result<(Histogram, u64, Duration), String> {
                let mut h = Histogram::new();
                let mut n = 0u64;
                let cpu0 = thread_cpu();
                let end = Instant::now() + measure;
                let mut i = t;
                loop {
                    // Time 64 reads per clock check to keep the clock's own
                    // cost out of the loop's bound, but time each read.
                    for _ in 0..64 {
                        i = (i + 1) % ranges.len();
                        let t0 = Instant::now();
                        let f = follower.try_fence_check(&ranges[i], &owner, Epoch(1));
                        let dt = t0.elapsed();
                        match f {
                            Ok(FenceStatus::Current) => {}
                            other => return Err(format!("unexpected answer: {other:?}")),
                        }
                        h.record_duration(dt);
                        n += 1;
                    }
                    if Instant::now() >= end {
                        break;
                    }
                }
                Ok((h, n, thread_cpu().saturating_sub(cpu0)))
            })
        })
        .collect();
    let mut latency = Histogram::new();
    let (mut reads, mut cpu) = (0u64, Duration::ZERO);
    let mut failure = None;
    for r in readers {
        match r.join() {
            Ok(Ok((h, n, c))) => {
                latency.merge(&h);
                reads += n;
                cpu += c;
            }
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a reader panicked".into()),
        }
    }
    let writes_done = writes.load(Ordering::Relaxed) - writes_before;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    for n in &nodes {
        n.shutdown();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(ReadsReport {
        latency,
        per_core: reads as f64 / cpu.as_secs_f64().max(1e-9),
        reads,
        writes: writes_done,
        writers: opts.writers,
    })
}

/// The report's lines; the last reads
/// `reads: p50 A us, p99 B us, C reads/s per core under N writers`.
pub fn format_reads(r: &ReadsReport) -> String {
    let us = |q: f64| r.latency.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "reads: {} local fence checks on a follower, {} writes committed on the leader meanwhile\n\
         reads: p99.9 {:.3} us, max {:.3} us\n\
         reads: p50 {:.3} us, p99 {:.3} us, {:.0} reads/s per core under {} writers\n",
        r.reads,
        r.writes,
        us(0.999),
        r.latency.max() as f64 / 1000.0,
        us(0.5),
        us(0.99),
        r.per_core,
        r.writers
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_reads_and_writes_and_reports_its_line() {
        let r = bench_reads(&ReadsOptions {
            seconds: 0.2,
            writers: 4,
            readers: 1,
            ranges: 50,
        })
        .unwrap();
        assert!(r.reads > 0 && r.writes > 0, "{r:?}");
        let text = format_reads(&r);
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("reads: p50 "), "{last}");
        assert!(last.ends_with("under 4 writers"), "{last}");
    }
}
