//! The seed runner: one seed's run (the fault phase tick by tick, then the
//! liveness phase), and a sweep of seeds on several threads reported in seed
//! order.

use std::collections::BTreeMap;

use super::world::World;
use super::{SeedReport, SimOptions, SimStats};

/// Runs one seed. A panic inside the run (raft-rs stops a replica whose log
/// contradicts what it was told was committed, say) is a violation of the
/// seed, not the end of the sweep.
pub fn run_seed(opts: &SimOptions) -> SeedReport {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = World::new(opts.clone());
        w.run();
        for n in w.nodes.values() {
            if let Some(r) = &n.replica {
                w.checker.audit(w.now, r.peer_id(), r.catalog().audit_log());
            }
        }
        w.checker.finish(w.now);
        let mut violations = w.checker.violations().to_vec();
        violations.extend(w.engine_failures.iter().cloned());
        w.stats.committed = w.checker.committed_len() as u64;
        w.stats.acked = w.checker.acked_len() as u64;
        (violations, w.stats)
    }));
    let (violations, stats) = run.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        (vec![format!("panicked: {what}")], SimStats::default())
    });
    SeedReport {
        seed: opts.seed,
        violations,
        stats,
    }
}

impl World {
    fn run(&mut self) {
        while self.now < self.opts.fault_ticks && self.engine_failures.is_empty() {
            self.tick();
        }
        self.liveness();
    }

    /// One tick: faults, client work, clocks, deliveries, checks.
    fn tick(&mut self) {
        self.now += 1;
        self.stats.ticks += 1;
        if self.faults {
            self.inject_faults();
        }
        if self.rng.chance(1, 2) {
            self.client_op();
        }
        if self.rng.chance(1, 3) {
            self.read_op();
        }
        for p in self.live() {
            let now = self.now;
            let Some(n) = self.nodes.get_mut(&p) else {
                continue;
            };
            if !n.serving(now) {
                continue;
            }
            // Clocks run at their member's rate.
            let ticks = n.ticks_now();
            if let Some(r) = n.replica.as_mut() {
                for _ in 0..ticks {
                    r.tick();
                }
            }
            self.pump(p);
        }
        self.deliver();
        self.client_duties();
        self.read_again();
        self.expire_reads();
        self.spawn_admitted();
        self.start_due(false);
        if self.now.is_multiple_of(25) {
            self.check_logs();
        }
    }

    /// Faults stop; a leader and a new commit must follow within the bound,
    /// then every member in the configuration must catch up.
    fn liveness(&mut self) {
        if !self.engine_failures.is_empty() {
            return;
        }
        self.faults = false;
        self.net.blocked.clear();
        self.disarm_all();
        for p in self.down() {
            self.start(p);
        }
        self.start_due(true);
        let start = self.now;
        let committed_before = self.checker.max_committed();
        while self.checker.max_committed() == committed_before || self.leader().is_none() {
            if self.now - start > self.opts.liveness_ticks {
                let state = self.describe();
                self.checker.fail(
                    self.now,
                    format!(
                        "liveness: no new commit within {} ticks after faults stopped{state}",
                        self.opts.liveness_ticks
                    ),
                );
                return;
            }
            self.liveness_probe();
            self.tick();
            if !self.engine_failures.is_empty() {
                return;
            }
        }
        let target = self.checker.max_committed();
        let settle = self.now;
        loop {
            // Members of the leader's configuration must catch up.
            let conf = self
                .leader()
                .and_then(|l| self.nodes.get(&l))
                .and_then(|n| n.replica.as_ref())
                .map(|r| r.conf_state().clone())
                .unwrap_or_default();
            let behind: Vec<(u64, u64)> = self
                .nodes
                .iter()
                .filter_map(|(p, n)| n.replica.as_ref().map(|r| (*p, r)))
                .filter(|(p, _)| conf.voters.contains(p) || conf.learners.contains(p))
                .map(|(p, r)| (p, r.catalog().applied().0 .0))
                .filter(|(_, applied)| *applied < target)
                .collect();
            if behind.is_empty() {
                break;
            }
            if self.now - settle > self.opts.liveness_ticks {
                let state = self.describe();
                self.checker.fail(
                    self.now,
                    format!("convergence: members {behind:?} did not apply up to {target}{state}"),
                );
                break;
            }
            self.tick();
        }
        self.settle_configuration();
        self.check_logs();
    }

    /// Once faults stop and every member runs, the leader's raft
    /// configuration must come to equal the catalog within the bound: no
    /// joint configuration left, no learner left unpromoted, no removed
    /// member left in it (a stuck promotion or removal is reported).
    fn settle_configuration(&mut self) {
        let start = self.now;
        loop {
            let Some(r) = self
                .leader()
                .and_then(|l| self.nodes.get(&l))
                .and_then(|n| n.replica.as_ref())
            else {
                if self.now - start > self.opts.liveness_ticks {
                    let state = self.describe();
                    self.checker.fail(
                        self.now,
                        format!("membership: no leader to settle the configuration{state}"),
                    );
                    return;
                }
                self.tick();
                continue;
            };
            let cs = r.conf_state();
            let mut members: Vec<u64> = r.catalog().members().map(|m| m.peer_id).collect();
            members.sort_unstable();
            let mut voters = cs.voters.clone();
            voters.sort_unstable();
            if cs.voters_outgoing.is_empty() && cs.learners.is_empty() && voters == members {
                return;
            }
            if self.now - start > self.opts.liveness_ticks {
                let what = format!(
                    "voters {:?}, learners {:?}, outgoing {:?}, catalog members {members:?}",
                    cs.voters, cs.learners, cs.voters_outgoing
                );
                let state = self.describe();
                self.checker.fail(
                    self.now,
                    format!("membership: the configuration did not settle ({what}){state}"),
                );
                return;
            }
            self.tick();
        }
    }
}

/// Runs seeds `base.seed .. base.seed + count` (each with `base`'s other
/// options) on `threads` threads, calling `report` with each result in seed
/// order. Returns the number of violating seeds.
pub fn run_seeds(
    base: &SimOptions,
    count: u64,
    threads: usize,
    mut report: impl FnMut(&SeedReport),
) -> u64 {
    let threads = threads.max(1) as u64;
    let start = base.seed;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut failed = 0;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let tx = tx.clone();
            scope.spawn(move || {
                let mut seed = start + t;
                while seed < start + count {
                    let o = SimOptions {
                        seed,
                        ..base.clone()
                    };
                    if tx.send(run_seed(&o)).is_err() {
                        return;
                    }
                    seed += threads;
                }
            });
        }
        drop(tx);
        // Report in seed order so the output is the same for any thread count.
        let mut buffered: BTreeMap<u64, SeedReport> = BTreeMap::new();
        let mut next = start;
        for r in rx {
            buffered.insert(r.seed, r);
            while let Some(r) = buffered.remove(&next) {
                if !r.violations.is_empty() {
                    failed += 1;
                }
                report(&r);
                next += 1;
            }
        }
    });
    failed
}
