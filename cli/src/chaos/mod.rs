//! `synod chaos`: a process-level chaos test of a real cluster.
//!
//! Real `synod node` processes (this binary) on 127.0.0.1 with mutual TLS
//! (dev certificates), their peer traffic through a fault-injecting TCP
//! proxy inside this process (`proxy`: one-way and two-way partitions that
//! drop or black-hole connections, no root needed). Faults on a schedule
//! drawn from the seed (`faults`): kill -9 of the leader, of a minority, of
//! every member (restarted from their data directories); SIGSTOP of the
//! leader past the election timeout, then SIGCONT; partitions that isolate
//! the leader or split a minority from a majority, both ways or one way;
//! each healed after a while. Meanwhile compare-and-set writers and
//! linearizable readers (`workload`) record every operation with its
//! invocation and completion time and its result (`history`).
//!
//! Checked (`check`): after each heal, the history so far and that the
//! cluster commits a write within [`RECOVERY_BOUND`]; at the end, after the
//! final heal and catch-up, the whole history, every member's state (a
//! local read) and every member's data directory (its log replayed); and
//! throughout, that no member process exits unless the harness killed it.
//!
//! The last line is `chaos: N faults, W writes acknowledged, R reads, V
//! violations`; the exit code is 0 only when V is 0. On failure the
//! directory is kept and each member's log tail printed. The seed fixes the
//! schedule (which faults, victims, durations, workload choices), not the
//! processes' timing.

mod check;
mod cluster;
mod faults;
mod history;
mod proxy;
mod rng;
mod workload;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use synod::node::client::Client;
use synod::NodeId;

use cluster::Cluster;
use history::{counts, History, MemberFinal, Seen};
use rng::Rng;
use workload::Workload;

/// A heal must be followed by an acknowledged write within this bound.
pub const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// How long the members get to agree after the final heal.
const CONVERGE_BOUND: Duration = Duration::from_secs(30);
/// How long the first leader may take.
const START_BOUND: Duration = Duration::from_secs(30);

/// The options of `synod chaos`.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// How long to inject faults.
    pub seconds: u64,
    /// Members (3 or 5; any odd number from 3 to 7 works).
    pub members: usize,
    /// The schedule's seed.
    pub seed: u64,
    /// Where to keep certificates, configurations, data and logs (a
    /// temporary directory, removed after a clean run, when `None`).
    pub data_dir: Option<PathBuf>,
}

/// Runs the chaos test; the exit code is 0 only without violations.
pub fn run(opts: ChaosOptions) -> ExitCode {
    if !(3..=7).contains(&opts.members) {
        eprintln!("synod chaos: --members must be between 3 and 7 (3 or 5 are the usual)");
        return ExitCode::from(2);
    }
    let (dir, temp) = match &opts.data_dir {
        Some(d) => {
            if std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()) {
                eprintln!("synod chaos: {} is not empty", d.display());
                return ExitCode::from(2);
            }
            if let Err(e) = std::fs::create_dir_all(d) {
                eprintln!("synod chaos: cannot create {}: {e}", d.display());
                return ExitCode::from(2);
            }
            (d.clone(), None)
        }
        None => match tempfile::Builder::new().prefix("synod-chaos-").tempdir() {
            Ok(t) => (t.path().to_path_buf(), Some(t)),
            Err(e) => {
                eprintln!("synod chaos: cannot create a temporary directory: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    println!(
        "chaos: seed {}, {} members, {} s of faults, directory {}",
        opts.seed,
        opts.members,
        opts.seconds,
        dir.display()
    );
    let outcome = run_in(&dir, &opts);
    let v = outcome.violations.len();
    if v > 0 {
        if let Some(t) = temp {
            let _ = t.keep();
        }
        println!("violations:");
        for x in &outcome.violations {
            println!("  - {x}");
        }
        for tail in &outcome.log_tails {
            println!("{tail}");
        }
        println!("kept {} for inspection", dir.display());
        println!(
            "schedule replay: synod chaos --seed {} --members {} --seconds {}",
            opts.seed, opts.members, opts.seconds
        );
    }
    println!(
        "chaos: {} faults, {} writes acknowledged, {} reads, {v} violations",
        outcome.faults, outcome.acked, outcome.reads
    );
    if v == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What a run found.
#[derive(Default)]
struct Outcome {
    faults: usize,
    acked: usize,
    reads: usize,
    violations: Vec<String>,
    log_tails: Vec<String>,
}

/// The harness's state during a run.
struct Run {
    cluster: Cluster,
    history: History,
    rng: Rng,
    t0: Instant,
    owners: workload::Owners,
    probe: Client,
    violations: Vec<String>,
    reported: HashSet<String>,
    own_exits: usize,
    recoveries: Vec<Duration>,
}

impl Run {
    fn stamp(&self) -> String {
        format!("[{:6.1}s]", self.t0.elapsed().as_secs_f64())
    }

    fn violation(&mut self, v: String) {
        if self.reported.insert(v.clone()) {
            println!("{} VIOLATION: {v}", self.stamp());
            self.violations.push(v);
        }
    }

    /// Notes members that exited on their own (they stay down until the
    /// next heal restarts them).
    fn watch(&mut self) {
        for (i, how) in self.cluster.reap_unexpected() {
            self.own_exits += 1;
            let name = self.cluster.members[i].name.clone();
            self.violation(format!(
                "{name} {how} without being killed by the harness (log: {})",
                self.cluster.log_path(i).display()
            ));
        }
    }

    /// Sleeps for `d`, watching the members.
    fn idle(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            self.watch();
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Opens every link, continues every paused member and starts every
    /// member that is down.
    fn heal_everything(&mut self) {
        self.cluster.net.heal();
        for i in 0..self.cluster.members.len() {
            if let Err(e) = self.cluster.resume(i) {
                self.violation(format!("harness: {e}"));
            }
            if !self.cluster.running(i) {
                if let Err(e) = self.cluster.spawn(i) {
                    self.violation(format!("harness: {e}"));
                }
            }
        }
    }

    /// The recovery check after a heal at `healed`.
    fn recovery(&mut self, healed: Instant, after: &str) -> String {
        let r = workload::probe_commit(
            &mut self.probe,
            &self.history,
            &self.owners,
            &mut self.rng,
            healed,
            RECOVERY_BOUND,
        );
        self.watch();
        match r {
            Ok(d) if d <= RECOVERY_BOUND => {
                self.recoveries.push(d);
                format!("first commit {:.2} s after the heal", d.as_secs_f64())
            }
            Ok(d) => {
                self.violation(format!(
                    "no write committed within {RECOVERY_BOUND:?} of the heal after {after} (first after {:.1} s)",
                    d.as_secs_f64()
                ));
                format!("first commit only {:.2} s after the heal", d.as_secs_f64())
            }
            Err(e) => {
                self.violation(format!(
                    "no write committed within {RECOVERY_BOUND:?} of the heal after {after} (last error: {e})"
                ));
                "no commit after the heal".into()
            }
        }
    }

    /// Checks the history so far; says how it went.
    fn check_so_far(&mut self) -> String {
        let ops = self.history.snapshot();
        let found = check::check_history(&ops);
        let c = counts(&ops);
        let mut new = 0;
        for v in found {
            if !self.reported.contains(&v) {
                new += 1;
                self.violation(v);
            }
        }
        format!(
            "history: {} acked, {} unknown or in flight, {} reads, {}",
            c.acked,
            c.indeterminate,
            c.reads,
            if new == 0 {
                "ok".to_string()
            } else {
                format!("{new} new violation(s)")
            }
        )
    }
}

fn run_in(dir: &Path, opts: &ChaosOptions) -> Outcome {
    let t0 = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let cluster = match Cluster::create(dir, opts.members, &mut rng) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                violations: vec![format!("harness: {e}")],
                ..Outcome::default()
            }
        }
    };
    let ids: Vec<NodeId> = cluster.members.iter().map(|m| m.id.clone()).collect();
    let owners = workload::Owners::new(&ids);
    let probe = cluster.client(0, Duration::from_secs(2));
    let mut run = Run {
        history: History::new(t0),
        cluster,
        rng,
        t0,
        owners,
        probe,
        violations: Vec::new(),
        reported: HashSet::new(),
        own_exits: 0,
        recoveries: Vec::new(),
    };
    let mut kinds: BTreeMap<faults::Kind, usize> = BTreeMap::new();
    let faults = chaos_phase(&mut run, opts, &mut kinds);
    let mut outcome = final_phase(&mut run);
    outcome.faults = faults;

    let ops = run.history.snapshot();
    let c = counts(&ops);
    let stats = run.cluster.net.stats();
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let mut rec = run.recoveries.clone();
    rec.sort();
    println!("summary:");
    println!("  faults: {faults} ({})", kinds.join(", "));
    println!(
        "  writes: {} acknowledged, {} of unknown outcome, {} not taken effect; reads: {} answered, {} failed",
        c.acked, c.indeterminate, c.failed, c.reads, c.read_errors
    );
    if let (Some(first), Some(last)) = (rec.first(), rec.last()) {
        println!(
            "  first commit after a heal: median {:.2} s, max {:.2} s, min {:.2} s (bound {} s)",
            rec[rec.len() / 2].as_secs_f64(),
            last.as_secs_f64(),
            first.as_secs_f64(),
            RECOVERY_BOUND.as_secs()
        );
    }
    println!(
        "  proxies: {} connections forwarded, {} closed by a cut, {} refused, {} black-holed, {} of unknown origin",
        stats.forwarded.load(Ordering::Relaxed),
        stats.cut.load(Ordering::Relaxed),
        stats.dropped.load(Ordering::Relaxed),
        stats.stalled.load(Ordering::Relaxed),
        stats.unidentified.load(Ordering::Relaxed)
    );
    println!(
        "  member exits not caused by the harness: {}",
        run.own_exits
    );
    println!("  member logs: {}", run.cluster.log_notes());
    if let Some((kb, name)) = run.cluster.peak_rss() {
        println!(
            "  peak memory: {} MiB in a member ({name}), {} MiB in the harness",
            kb / 1024,
            cluster::peak_rss_kb(std::process::id()).unwrap_or(0) / 1024
        );
    }
    outcome.acked = c.acked;
    outcome.reads = c.reads;
    outcome.violations = std::mem::take(&mut run.violations);
    if !outcome.violations.is_empty() {
        for i in 0..run.cluster.members.len() {
            outcome.log_tails.push(format!(
                "--- last lines of {} ({}):\n{}",
                run.cluster.members[i].name,
                run.cluster.log_path(i).display(),
                run.cluster.log_tail(i, 20)
            ));
        }
    }
    outcome
}

/// Starts the cluster and the workload and injects faults until the time
/// is up; returns how many faults were injected.
fn chaos_phase(
    run: &mut Run,
    opts: &ChaosOptions,
    kinds: &mut BTreeMap<faults::Kind, usize>,
) -> usize {
    for i in 0..run.cluster.members.len() {
        if let Err(e) = run.cluster.spawn(i) {
            run.violation(format!("harness: {e}"));
            return 0;
        }
    }
    let start = Instant::now();
    let leader = loop {
        run.watch();
        if let Some(l) = run.cluster.leader() {
            break l;
        }
        if start.elapsed() > START_BOUND {
            run.violation(format!("no leader within {START_BOUND:?} of the start"));
            return 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let members = run.cluster.members.len();
    let workload = {
        let c = &run.cluster;
        Workload::start(&run.history, &run.owners, &mut run.rng, |k| {
            c.client(k % members, workload::call_timeout(k))
        })
    };
    let workload = match workload {
        Ok(w) => w,
        Err(e) => {
            run.violation(format!("harness: cannot start the workload: {e}"));
            return 0;
        }
    };
    println!(
        "{} cluster up, leader {}; workload: {} writers x {} ranges (compare-and-set), {} linearizable readers",
        run.stamp(),
        run.cluster.members[leader].name,
        workload::WRITERS,
        workload::RANGES_PER_WRITER,
        workload::READERS
    );
    let end = run.t0 + Duration::from_secs(opts.seconds);
    let mut n = 0;
    loop {
        let quiet = run.rng.millis(300, 1200);
        run.idle(quiet);
        let left = end.saturating_duration_since(Instant::now());
        if left < Duration::from_secs(2) {
            break;
        }
        let kind = faults::draw(&mut run.rng);
        let mut f = match faults::inject(&mut run.cluster, kind, &mut run.rng) {
            Ok(f) => f,
            Err(e) => {
                run.violation(format!("harness: {e}"));
                break;
            }
        };
        n += 1;
        *kinds.entry(kind).or_default() += 1;
        // Hold no longer than the run has left (a pause always outlasts
        // the election timeout).
        let floor = if kind == faults::Kind::PauseLeader {
            Duration::from_millis(1500)
        } else {
            Duration::from_millis(200)
        };
        f.hold = f
            .hold
            .min(left.saturating_sub(Duration::from_millis(500)))
            .max(floor);
        println!(
            "{} fault {n}: {} for {:.1} s",
            run.stamp(),
            f.what,
            f.hold.as_secs_f64()
        );
        run.idle(f.hold);
        let during = run.cluster.leader_text();
        if let Err(e) = faults::heal(&mut run.cluster, &f) {
            run.violation(format!("harness: {e}"));
        }
        let healed = Instant::now();
        let rec = run.recovery(healed, &f.what);
        let hist = run.check_so_far();
        let after = run.cluster.leader_text();
        println!(
            "{}   healed ({during} before the heal, {after} now); {rec}; {hist}",
            run.stamp()
        );
    }
    run.heal_everything();
    let healed = Instant::now();
    let rec = run.recovery(healed, "the final heal");
    println!(
        "{} final heal (every link open, every member running); {rec}",
        run.stamp()
    );
    workload.stop();
    n
}

/// Catch-up, the members' states, their shutdown and data directories,
/// and the whole history.
fn final_phase(run: &mut Run) -> Outcome {
    run.watch();
    let n = run.cluster.members.len();
    let committed = match run.cluster.wait_converged(CONVERGE_BOUND) {
        Ok(commit) => {
            println!(
                "{} every member caught up with the leader's commit index {commit}",
                run.stamp()
            );
            Some(commit)
        }
        Err(e) => {
            run.violation(format!(
                "the members did not converge within {CONVERGE_BOUND:?} of the final heal: {e}"
            ));
            None
        }
    };
    let mut finals: Vec<MemberFinal> = Vec::new();
    for i in 0..n {
        let name = run.cluster.members[i].name.clone();
        let live = match run
            .cluster
            .client_of(i, Duration::from_secs(5))
            .ranges(false)
        {
            Ok(v) => Some(
                v.into_iter()
                    .map(|(r, o)| {
                        (
                            r.as_str().to_string(),
                            Seen {
                                owner: o.owner.as_str().into(),
                                epoch: o.epoch.0,
                                index: o.index.0,
                            },
                        )
                    })
                    .collect(),
            ),
            Err(e) => {
                println!("{} cannot read {name}'s ranges: {e}", run.stamp());
                None
            }
        };
        finals.push(MemberFinal {
            name,
            live,
            log: None,
        });
    }
    run.watch();
    for p in run.cluster.stop_all(Duration::from_secs(10)) {
        run.violation(p);
    }
    let ops = run.history.snapshot();
    let mut compacted_below = 0u64;
    for (i, f) in finals.iter_mut().enumerate() {
        match cluster::read_log_view(&run.cluster.members[i].data, committed) {
            Ok(v) => {
                compacted_below = compacted_below.max(v.snapshot_index);
                f.log = Some(v);
            }
            Err(e) => println!(
                "{} cannot read {}'s data directory: {e}",
                run.stamp(),
                f.name
            ),
        }
    }
    let in_logs = ops
        .iter()
        .filter(|op| {
            matches!(op, history::Op::Write {
                result: history::WriteResult::Acked { index }, ..
            } if *index > compacted_below)
        })
        .count();
    let mut found = check::check_history(&ops);
    found.extend(check::check_final(&ops, &finals));
    let before = run.violations.len();
    for v in found {
        run.violation(v);
    }
    let ranges = finals
        .iter()
        .find_map(|f| f.live.as_ref().map(|l| l.len()))
        .unwrap_or(0);
    let acked = counts(&ops).acked;
    println!(
        "{} final check: {n} members, {ranges} ranges; {acked} acknowledged transitions checked against every member's state, {in_logs} of them also in every member's log at their index (the rest compacted into snapshots); {} new violation(s)",
        run.stamp(),
        run.violations.len() - before
    );
    Outcome::default()
}
