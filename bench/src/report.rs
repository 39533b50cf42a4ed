//! [`BenchReport`]: everything one `synod bench` run measured, for every
//! system present (Synod, etcd), in one shape: write levels (concurrency,
//! ops/s, latency percentiles) and failover trials, plus the run's context
//! (machine, fsync floor, timing). It prints as a table, serializes as JSON
//! and draws the latency plot (see `svg.rs`).
//!
//! Each measurement is added with one call ([`BenchReport::add_write_level`],
//! [`BenchReport::set_failover`], ...); ratios between Synod and etcd are
//! recomputed on every addition.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::load::LoadResult;

/// The system name Synod's results are filed under.
pub const SYNOD: &str = "synod";
/// The system name etcd's results are filed under.
pub const ETCD: &str = "etcd";

/// The machine the run was on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cores: usize,
    /// CPU model (from `/proc/cpuinfo`).
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// Physical memory in bytes.
    pub memory_bytes: u64,
}

impl Machine {
    /// Reads this machine's description (best effort; unknowns are empty).
    pub fn detect() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            memory_bytes,
        }
    }
}

/// Raw `write` + `fdatasync` of one small record, measured in the same run
/// on the file system the clusters write to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsyncFloor {
    /// Where it was measured.
    pub dir: String,
    /// Syncs per second before the other cases.
    pub before_per_sec: f64,
    /// Syncs per second after them.
    pub after_per_sec: f64,
    /// Median latency of one such `write` + `fdatasync`, milliseconds (if
    /// measured).
    #[serde(default)]
    pub p50_ms: Option<f64>,
    /// Its 99th percentile, milliseconds.
    #[serde(default)]
    pub p99_ms: Option<f64>,
}

/// Closed-loop writes at one concurrency level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteLevel {
    /// Concurrent writers (each with one write in flight).
    pub concurrency: usize,
    /// Successful writes measured.
    pub ops: u64,
    /// Failed writes measured.
    pub errors: u64,
    /// The measured window in seconds.
    pub seconds: f64,
    /// Successful writes per second.
    pub ops_per_sec: f64,
    /// Mean latency, milliseconds.
    pub mean_ms: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile, milliseconds.
    pub p999_ms: f64,
    /// Slowest write, milliseconds.
    pub max_ms: f64,
    /// Writes committed per leader fsync over the level (group commit), if
    /// the system reports it.
    #[serde(default)]
    pub entries_per_fsync: Option<f64>,
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl WriteLevel {
    /// Summarizes a load run.
    pub fn from_load(r: &LoadResult) -> Self {
        let h = &r.latency;
        Self {
            concurrency: r.concurrency,
            ops: r.ops,
            errors: r.errors,
            seconds: r.elapsed.as_secs_f64(),
            ops_per_sec: r.ops_per_sec(),
            mean_ms: h.mean() / 1e6,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            entries_per_fsync: None,
        }
    }
}

/// Kill -9 of the leader until the next successful commit, over trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failover {
    /// The configured (base) election timeout, for comparison.
    pub election_timeout_ms: f64,
    /// Each trial, milliseconds.
    pub trials_ms: Vec<f64>,
    /// Median of the trials.
    pub median_ms: f64,
    /// Slowest trial.
    pub max_ms: f64,
}

/// Reopening a member with a long log and a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restart {
    /// Log entries written before the restart.
    pub log_entries: u64,
    /// Whether a snapshot was present.
    pub snapshot: bool,
    /// From process start to serving (a linearizable read answered),
    /// seconds.
    pub seconds: f64,
    /// Committed entries above the snapshot, applied again at start.
    #[serde(default)]
    pub above_snapshot: Option<u64>,
    /// From process start to the first status answer, seconds.
    #[serde(default)]
    pub status_seconds: Option<f64>,
    /// From process start to leading (a single member elects itself),
    /// seconds.
    #[serde(default)]
    pub leader_seconds: Option<f64>,
}

/// A catalog with many ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogScale {
    /// Ranges in the catalog.
    pub ranges: u64,
    /// Encoded snapshot size in bytes.
    pub snapshot_bytes: u64,
    /// Time for a new member to install it, seconds.
    pub install_seconds: f64,
    /// Resident set size of a member holding it (the one that installed
    /// it), bytes.
    pub rss_bytes: u64,
    /// The resident set size of the leader that sent it, bytes.
    #[serde(default)]
    pub leader_rss_bytes: Option<u64>,
    /// From the leader's process start to leading (it decodes the
    /// snapshot), seconds.
    #[serde(default)]
    pub leader_start_seconds: Option<f64>,
}

/// One of issue #6's targets, checked against this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// What is measured.
    pub name: String,
    /// The target, in words.
    pub target: String,
    /// What this run measured, in words.
    pub measured: String,
    /// Met, missed, or `None` when this run could not tell (a part was not
    /// run).
    pub met: Option<bool>,
}

/// One system's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemResult {
    /// [`SYNOD`], [`ETCD`], ...
    pub name: String,
    /// The system's version, if known.
    pub version: Option<String>,
    /// Write levels, in the order measured.
    pub writes: Vec<WriteLevel>,
    /// Failover trials, if measured.
    pub failover: Option<Failover>,
}

/// Synod's figure over etcd's for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// `ops_per_sec`, `p50_ms`, `p99_ms` or `failover_median_ms`.
    pub metric: String,
    /// The concurrency level (write metrics only).
    pub concurrency: Option<usize>,
    /// Synod's figure.
    pub synod: f64,
    /// etcd's figure.
    pub etcd: f64,
    /// `synod / etcd`: above 1 is better for throughput, below 1 for
    /// latency and failover.
    pub synod_over_etcd: f64,
}

/// One whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// This synod's version.
    pub synod_version: String,
    /// The command line that produced the report.
    pub command: String,
    /// When the run started (seconds since the Unix epoch).
    pub unix_time: u64,
    /// The machine.
    pub machine: Machine,
    /// Members per cluster.
    pub members: usize,
    /// Bytes per written value (an encoded ownership transition).
    pub value_bytes: usize,
    /// Heartbeat interval both systems run with, milliseconds.
    pub heartbeat_ms: f64,
    /// Base election timeout both systems run with, milliseconds.
    pub election_timeout_ms: f64,
    /// The raw fsync floor of the same run.
    pub fdatasync_floor: Option<FsyncFloor>,
    /// Results per system.
    pub systems: Vec<SystemResult>,
    /// Synod over etcd, where both measured the same thing.
    pub ratios: Vec<Ratio>,
    /// Synod's restart with a long log.
    pub restart: Option<Restart>,
    /// Synod's catalog at scale.
    pub catalog_scale: Option<CatalogScale>,
    /// Issue #6's targets against this run (see [`BenchReport::check_targets`]).
    #[serde(default)]
    pub targets: Vec<TargetCheck>,
    /// Free-form remarks (for example "the disk is shared").
    pub notes: Vec<String>,
}

impl BenchReport {
    /// An empty report for a run of `members`-member clusters writing
    /// `value_bytes`-byte values with the given timing.
    pub fn new(
        members: usize,
        value_bytes: usize,
        heartbeat: Duration,
        election_timeout: Duration,
    ) -> Self {
        Self {
            synod_version: synod::VERSION.to_string(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            unix_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: Machine::detect(),
            members,
            value_bytes,
            heartbeat_ms: heartbeat.as_secs_f64() * 1e3,
            election_timeout_ms: election_timeout.as_secs_f64() * 1e3,
            fdatasync_floor: None,
            systems: Vec::new(),
            ratios: Vec::new(),
            restart: None,
            catalog_scale: None,
            targets: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn system_mut(&mut self, name: &str) -> &mut SystemResult {
        let i = match self.systems.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.systems.push(SystemResult {
                    name: name.to_string(),
                    version: None,
                    writes: Vec::new(),
                    failover: None,
                });
                self.systems.len() - 1
            }
        };
        &mut self.systems[i]
    }

    /// A system's results, if any.
    pub fn system(&self, name: &str) -> Option<&SystemResult> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// Records the fsync floor (syncs per second before and after).
    pub fn set_fdatasync_floor(&mut self, dir: &Path, before_per_sec: f64, after_per_sec: f64) {
        self.fdatasync_floor = Some(FsyncFloor {
            dir: dir.display().to_string(),
            before_per_sec,
            after_per_sec,
            p50_ms: None,
            p99_ms: None,
        });
    }

    /// Records the latency of one `write` + `fdatasync` (with the floor).
    pub fn set_fdatasync_latency(&mut self, p50_ms: f64, p99_ms: f64) {
        if let Some(f) = &mut self.fdatasync_floor {
            f.p50_ms = Some(p50_ms);
            f.p99_ms = Some(p99_ms);
        }
    }

    /// Records the writes committed per fsync at `system`'s level
    /// `concurrency` (added before with [`BenchReport::add_write_level`]).
    pub fn set_entries_per_fsync(&mut self, system: &str, concurrency: usize, per_fsync: f64) {
        if let Some(w) = self
            .system_mut(system)
            .writes
            .iter_mut()
            .find(|w| w.concurrency == concurrency)
        {
            w.entries_per_fsync = Some(per_fsync);
        }
    }

    /// Records a system's version string.
    pub fn set_version(&mut self, system: &str, version: impl Into<String>) {
        self.system_mut(system).version = Some(version.into());
    }

    /// Adds one concurrency level of `system`'s writes (replacing an earlier
    /// result at the same level).
    pub fn add_write_level(&mut self, system: &str, r: &LoadResult) {
        let level = WriteLevel::from_load(r);
        let s = self.system_mut(system);
        s.writes.retain(|w| w.concurrency != level.concurrency);
        s.writes.push(level);
        self.recompute_ratios();
    }

    /// Records `system`'s failover trials.
    pub fn set_failover(&mut self, system: &str, trials: &[Duration]) {
        let trials_ms: Vec<f64> = trials.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        let f = Failover {
            election_timeout_ms: self.election_timeout_ms,
            median_ms: median(&trials_ms),
            max_ms: trials_ms.iter().copied().fold(0.0, f64::max),
            trials_ms,
        };
        self.system_mut(system).failover = Some(f);
        self.recompute_ratios();
    }

    /// Records Synod's restart measurement.
    pub fn set_restart(&mut self, restart: Restart) {
        self.restart = Some(restart);
    }

    /// Records Synod's catalog-scale measurement.
    pub fn set_catalog_scale(&mut self, scale: CatalogScale) {
        self.catalog_scale = Some(scale);
    }

    /// Adds a remark.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Checks issue #6's targets against what this run measured and keeps
    /// the verdicts in [`BenchReport::targets`] (replacing earlier ones).
    /// A target whose parts were not measured is kept with `met: None`.
    pub fn check_targets(&mut self) {
        let mut out = Vec::new();
        let mut push = |name: &str, target: &str, got: Option<(String, bool)>| {
            let (measured, met) = match got {
                Some((m, ok)) => (m, Some(ok)),
                None => ("not measured at this size in this run".to_string(), None),
            };
            out.push(TargetCheck {
                name: name.to_string(),
                target: target.to_string(),
                measured,
                met,
            });
        };
        let level = |system: &str, c: usize| {
            self.system(system)
                .and_then(|s| s.writes.iter().find(|w| w.concurrency == c))
        };
        let fsync_p50 = self.fdatasync_floor.as_ref().and_then(|f| f.p50_ms);
        push(
            "1 proposer: commit p50",
            "within 2x the fsync p50",
            level(SYNOD, 1).zip(fsync_p50).map(|(w, f)| {
                let x = w.p50_ms / f;
                (
                    format!("{:.2} ms = {x:.2}x the fsync p50 of {f:.2} ms", w.p50_ms),
                    x <= 2.0,
                )
            }),
        );
        for (c, want) in [(1usize, 3.0), (256, 10.0)] {
            push(
                &format!("{c} proposer{}: writes/s", if c == 1 { "" } else { "s" }),
                &format!("at least {want}x etcd's"),
                level(SYNOD, c).zip(level(ETCD, c)).map(|(s, e)| {
                    let x = s.ops_per_sec / e.ops_per_sec.max(f64::MIN_POSITIVE);
                    (
                        format!(
                            "{:.0}/s = {x:.2}x etcd's {:.0}/s",
                            s.ops_per_sec, e.ops_per_sec
                        ),
                        x >= want,
                    )
                }),
            );
        }
        let synod_failover = self.system(SYNOD).and_then(|s| s.failover.as_ref());
        let etcd_failover = self.system(ETCD).and_then(|s| s.failover.as_ref());
        push(
            "failover (median)",
            "within 1.3x the election timeout",
            synod_failover.map(|f| {
                let x = f.median_ms / f.election_timeout_ms;
                (
                    format!(
                        "{:.0} ms = {x:.2}x the {:.0} ms timeout (max {:.0} ms)",
                        f.median_ms, f.election_timeout_ms, f.max_ms
                    ),
                    x <= 1.3,
                )
            }),
        );
        push(
            "failover (median)",
            "at most half of etcd's at equal timeout",
            synod_failover.zip(etcd_failover).map(|(s, e)| {
                let x = s.median_ms / e.median_ms.max(f64::MIN_POSITIVE);
                (
                    format!(
                        "{:.0} ms = {x:.2}x etcd's {:.0} ms",
                        s.median_ms, e.median_ms
                    ),
                    x <= 0.5,
                )
            }),
        );
        // A smaller run (--quick) cannot tell whether the 1M targets hold.
        let big_catalog = self
            .catalog_scale
            .as_ref()
            .filter(|c| c.ranges >= 1_000_000);
        push(
            "restart with 1M log entries",
            "serving within 1 s",
            self.restart
                .as_ref()
                .filter(|r| r.log_entries >= 1_000_000)
                .map(|r| {
                    (
                        format!("{:.3} s with {} entries", r.seconds, r.log_entries),
                        r.seconds < 1.0,
                    )
                }),
        );
        push(
            "1M-range snapshot: install",
            "within 3 s",
            big_catalog.map(|c| {
                (
                    format!("{:.3} s for {} ranges", c.install_seconds, c.ranges),
                    c.install_seconds < 3.0,
                )
            }),
        );
        push(
            "1M-range snapshot: RSS",
            "under 300 MB per member",
            big_catalog.map(|c| {
                let most = c.rss_bytes.max(c.leader_rss_bytes.unwrap_or(0));
                (
                    format!(
                        "{:.0} MB new member, {:.0} MB leader ({} ranges)",
                        c.rss_bytes as f64 / 1e6,
                        c.leader_rss_bytes.unwrap_or(0) as f64 / 1e6,
                        c.ranges
                    ),
                    most < 300_000_000,
                )
            }),
        );
        self.targets = out;
    }

    fn recompute_ratios(&mut self) {
        self.ratios.clear();
        let (Some(s), Some(e)) = (self.system(SYNOD), self.system(ETCD)) else {
            return;
        };
        let mut out = Vec::new();
        let mut push = |metric: &str, concurrency, synod: f64, etcd: f64| {
            if etcd > 0.0 {
                out.push(Ratio {
                    metric: metric.to_string(),
                    concurrency,
                    synod,
                    etcd,
                    synod_over_etcd: synod / etcd,
                });
            }
        };
        for w in &s.writes {
            if let Some(x) = e.writes.iter().find(|x| x.concurrency == w.concurrency) {
                let c = Some(w.concurrency);
                push("ops_per_sec", c, w.ops_per_sec, x.ops_per_sec);
                push("p50_ms", c, w.p50_ms, x.p50_ms);
                push("p99_ms", c, w.p99_ms, x.p99_ms);
            }
        }
        if let (Some(a), Some(b)) = (&s.failover, &e.failover) {
            push("failover_median_ms", None, a.median_ms, b.median_ms);
            push("failover_max_ms", None, a.max_ms, b.max_ms);
        }
        self.ratios = out;
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Only finite floats and strings: serialization cannot fail, but a
        // NaN would become `null`, which is still valid JSON.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Writes the JSON to `json_path` and the latency plot next to it (same
    /// name, `.svg`); returns the plot's path.
    pub fn write_files(&self, json_path: &Path) -> std::io::Result<PathBuf> {
        let svg_path = json_path.with_extension("svg");
        std::fs::write(json_path, self.to_json() + "\n")?;
        std::fs::write(&svg_path, super::svg::latency_svg(self))?;
        Ok(svg_path)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(
            o,
            "{} members per cluster on 127.0.0.1, fsync on, {}-byte values",
            self.members, self.value_bytes
        );
        let _ = writeln!(
            o,
            "machine: {} cores, {}, Linux {}, {:.1} GiB",
            m.cores,
            if m.cpu.is_empty() {
                "unknown CPU"
            } else {
                &m.cpu
            },
            m.kernel,
            m.memory_bytes as f64 / (1u64 << 30) as f64
        );
        let _ = writeln!(
            o,
            "heartbeat {} ms, election timeout {} ms (every system)",
            self.heartbeat_ms, self.election_timeout_ms
        );
        for s in &self.systems {
            if let Some(v) = &s.version {
                let _ = writeln!(o, "{}: {v}", s.name);
            }
        }
        if let Some(f) = &self.fdatasync_floor {
            let _ = writeln!(
                o,
                "raw write+fdatasync floor: {:.0}/s before, {:.0}/s after ({})",
                f.before_per_sec, f.after_per_sec, f.dir
            );
            if let (Some(p50), Some(p99)) = (f.p50_ms, f.p99_ms) {
                let _ = writeln!(
                    o,
                    "raw write+fdatasync latency: p50 {p50:.3} ms, p99 {p99:.3} ms"
                );
            }
        }
        if self.systems.iter().any(|s| !s.writes.is_empty()) {
            let _ = writeln!(o, "\nwrites (closed loop, one write in flight per writer)");
            let _ = writeln!(
                o,
                "{:<7} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>10}",
                "system",
                "writers",
                "writes/s",
                "mean ms",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "errors",
                "per fsync"
            );
            for s in &self.systems {
                for w in &s.writes {
                    let _ = writeln!(
                        o,
                        "{:<7} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>10}",
                        s.name,
                        w.concurrency,
                        w.ops_per_sec,
                        w.mean_ms,
                        w.p50_ms,
                        w.p99_ms,
                        w.p999_ms,
                        w.max_ms,
                        w.errors,
                        w.entries_per_fsync
                            .map_or_else(|| "-".to_string(), |x| format!("{x:.1}"))
                    );
                }
            }
        }
        if self.systems.iter().any(|s| s.failover.is_some()) {
            let _ = writeln!(
                o,
                "\nfailover: kill -9 of the leader until the next successful write"
            );
            let _ = writeln!(
                o,
                "{:<7} {:>6} {:>10} {:>8} {:>13}  trials (ms)",
                "system", "trials", "median ms", "max ms", "election ms"
            );
            for s in &self.systems {
                if let Some(f) = &s.failover {
                    let each: Vec<String> = f.trials_ms.iter().map(|t| format!("{t:.0}")).collect();
                    let _ = writeln!(
                        o,
                        "{:<7} {:>6} {:>10.0} {:>8.0} {:>13.0}  {}",
                        s.name,
                        f.trials_ms.len(),
                        f.median_ms,
                        f.max_ms,
                        f.election_timeout_ms,
                        each.join(", ")
                    );
                }
            }
        }
        if let Some(r) = &self.restart {
            let _ = writeln!(
                o,
                "\nrestart with {} log entries{}: serving (linearizable read) after {:.3} s",
                r.log_entries,
                if r.snapshot { " and a snapshot" } else { "" },
                r.seconds
            );
            if let (Some(st), Some(l)) = (r.status_seconds, r.leader_seconds) {
                let _ = writeln!(
                    o,
                    "  first status answer {st:.3} s, leading {l:.3} s{}",
                    r.above_snapshot
                        .map(|n| format!(" ({n} entries above the snapshot applied at start)"))
                        .unwrap_or_default()
                );
            }
        }
        if let Some(c) = &self.catalog_scale {
            let _ = writeln!(
                o,
                "\ncatalog with {} ranges: snapshot {:.1} MiB, installed on a new member in {:.3} s, RSS {:.0} MiB",
                c.ranges,
                c.snapshot_bytes as f64 / (1u64 << 20) as f64,
                c.install_seconds,
                c.rss_bytes as f64 / (1u64 << 20) as f64
            );
            if let (Some(l), Some(st)) = (c.leader_rss_bytes, c.leader_start_seconds) {
                let _ = writeln!(
                    o,
                    "  the leader holding it: RSS {:.0} MiB, leading {st:.3} s after its start",
                    l as f64 / (1u64 << 20) as f64
                );
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(
                o,
                "\nsynod / etcd (throughput: above 1 is better; latency and failover: below 1)"
            );
            for r in &self.ratios {
                let at = r
                    .concurrency
                    .map(|c| format!(" at {c}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  {:<20} {:>10.2}x  ({:.2} vs {:.2})",
                    format!("{}{at}", r.metric),
                    r.synod_over_etcd,
                    r.synod,
                    r.etcd
                );
            }
        }
        if !self.targets.is_empty() {
            let _ = writeln!(o, "\ntargets (issue #6)");
            for t in &self.targets {
                let verdict = match t.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "n/a",
                };
                let _ = writeln!(
                    o,
                    "  {verdict:<6} {}: {} (target: {})",
                    t.name, t.measured, t.target
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(o, "note: {n}");
        }
        o
    }
}

/// The median (mean of the middle two for an even count; 0 when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::histogram::Histogram;
    use super::*;

    pub(crate) fn load(concurrency: usize, ops: u64, latency_ms: &[u64]) -> LoadResult {
        let mut latency = Histogram::new();
        for &l in latency_ms {
            latency.record(l * 1_000_000);
        }
        LoadResult {
            concurrency,
            ops,
            errors: 1,
            elapsed: Duration::from_secs(2),
            latency,
            first_error: None,
        }
    }

    pub(crate) fn sample() -> BenchReport {
        let mut r = BenchReport::new(3, 70, Duration::from_millis(50), Duration::from_millis(500));
        r.set_fdatasync_floor(Path::new("/tmp"), 7000.0, 6000.0);
        r.set_version(ETCD, "etcd Version: 3.4.23");
        r.add_write_level(ETCD, &load(1, 1000, &[2, 2, 2, 3, 9]));
        r.add_write_level(ETCD, &load(16, 8000, &[4, 4, 5, 20]));
        r.set_failover(
            ETCD,
            &[
                Duration::from_millis(900),
                Duration::from_millis(700),
                Duration::from_millis(1300),
            ],
        );
        r
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn levels_failover_and_ratios() {
        let mut r = sample();
        let e = r.system(ETCD).expect("etcd");
        assert_eq!(e.writes.len(), 2);
        assert_eq!(e.writes[0].ops_per_sec, 500.0);
        // Percentiles are within the histogram's 1/256.
        let near = |got: f64, want: f64| (got - want).abs() <= want / 256.0;
        assert!(near(e.writes[0].p50_ms, 2.0), "{}", e.writes[0].p50_ms);
        assert!(near(e.writes[0].p99_ms, 9.0), "{}", e.writes[0].p99_ms);
        assert_eq!(e.writes[0].max_ms, 9.0);
        let f = e.failover.as_ref().expect("failover");
        assert_eq!(
            (f.median_ms, f.max_ms, f.election_timeout_ms),
            (900.0, 1300.0, 500.0)
        );
        assert!(r.ratios.is_empty(), "no synod yet");
        // The other engineer's calls: one per measurement.
        r.add_write_level(SYNOD, &load(1, 2000, &[1, 1, 1, 2]));
        r.add_write_level(SYNOD, &load(256, 9000, &[30]));
        r.set_failover(SYNOD, &[Duration::from_millis(600)]);
        let at1: Vec<_> = r
            .ratios
            .iter()
            .filter(|x| x.concurrency == Some(1))
            .map(|x| (x.metric.as_str(), x.synod_over_etcd))
            .collect();
        assert_eq!(at1[0], ("ops_per_sec", 2.0));
        assert_eq!(at1[1].0, "p50_ms");
        assert!((at1[1].1 - 0.5).abs() < 0.01, "{}", at1[1].1);
        assert_eq!(at1.len(), 3);
        assert!(r.ratios.iter().all(|x| x.concurrency != Some(256)));
        let fo = r
            .ratios
            .iter()
            .find(|x| x.metric == "failover_median_ms")
            .expect("failover ratio");
        assert!((fo.synod_over_etcd - 600.0 / 900.0).abs() < 1e-12);
        // Re-adding a level replaces it.
        r.add_write_level(SYNOD, &load(1, 4000, &[1]));
        assert_eq!(r.system(SYNOD).map(|s| s.writes.len()), Some(2));
        assert_eq!(r.ratios[0].synod_over_etcd, 4.0);
    }

    #[test]
    fn json_round_trips_and_names_the_fields() {
        let mut r = sample();
        r.set_restart(Restart {
            log_entries: 1_000_000,
            snapshot: true,
            seconds: 0.2,
            above_snapshot: Some(10_000),
            status_seconds: Some(0.1),
            leader_seconds: Some(0.15),
        });
        r.note("the disk is shared");
        let j = r.to_json();
        let back: BenchReport = serde_json::from_str(&j).expect("parse");
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&j).expect("parse");
        assert_eq!(v["systems"][0]["name"], "etcd");
        assert_eq!(v["systems"][0]["writes"][1]["concurrency"], 16);
        assert_eq!(v["systems"][0]["failover"]["median_ms"], 900.0);
        assert_eq!(v["fdatasync_floor"]["before_per_sec"], 7000.0);
        assert_eq!(v["election_timeout_ms"], 500.0);
        assert_eq!(v["catalog_scale"], serde_json::Value::Null);
    }

    #[test]
    fn table_shows_every_part() {
        let mut r = sample();
        r.add_write_level(SYNOD, &load(1, 2000, &[1]));
        r.set_catalog_scale(CatalogScale {
            ranges: 1_000_000,
            snapshot_bytes: 50 << 20,
            install_seconds: 1.5,
            rss_bytes: 300 << 20,
            leader_rss_bytes: None,
            leader_start_seconds: None,
        });
        let t = r.table();
        for want in [
            "3 members per cluster",
            "70-byte values",
            "election timeout 500 ms",
            "floor: 7000/s before, 6000/s after",
            "etcd: etcd Version: 3.4.23",
            "etcd          1        500",
            "etcd         16       4000",
            "synod         1       1000",
            "etcd         3        900     1300           500  900, 700, 1300",
            "catalog with 1000000 ranges: snapshot 50.0 MiB",
            "ops_per_sec at 1",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
    }

    #[test]
    fn targets_are_checked_against_the_run() {
        let mut r = sample();
        r.check_targets();
        assert_eq!(r.targets.len(), 8);
        // Only etcd so far: every Synod target is unknown.
        assert!(r.targets.iter().all(|t| t.met.is_none()), "{:?}", r.targets);
        r.set_fdatasync_latency(0.5, 2.0);
        r.add_write_level(SYNOD, &load(1, 8000, &[1, 1, 1, 1]));
        r.set_entries_per_fsync(SYNOD, 1, 1.0);
        r.add_write_level(SYNOD, &load(256, 40_000, &[5]));
        r.set_failover(SYNOD, &[Duration::from_millis(600)]);
        r.set_restart(Restart {
            log_entries: 1_000_000,
            snapshot: true,
            seconds: 0.8,
            above_snapshot: None,
            status_seconds: None,
            leader_seconds: None,
        });
        r.set_catalog_scale(CatalogScale {
            ranges: 1_000_000,
            snapshot_bytes: 50 << 20,
            install_seconds: 3.5,
            rss_bytes: 200_000_000,
            leader_rss_bytes: Some(310_000_000),
            leader_start_seconds: None,
        });
        r.check_targets();
        let verdicts: Vec<(&str, &str, Option<bool>)> = r
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t.target.as_str(), t.met))
            .collect();
        assert_eq!(
            verdicts,
            [
                // 1 ms over a 0.5 ms fsync: 2x exactly.
                (
                    "1 proposer: commit p50",
                    "within 2x the fsync p50",
                    Some(true)
                ),
                // 4000/s against etcd's 500/s.
                ("1 proposer: writes/s", "at least 3x etcd's", Some(true)),
                // etcd did not run 256 writers in the sample.
                ("256 proposers: writes/s", "at least 10x etcd's", None),
                (
                    "failover (median)",
                    "within 1.3x the election timeout",
                    Some(true)
                ),
                // 600 against etcd's 900: not half.
                (
                    "failover (median)",
                    "at most half of etcd's at equal timeout",
                    Some(false)
                ),
                (
                    "restart with 1M log entries",
                    "serving within 1 s",
                    Some(true)
                ),
                ("1M-range snapshot: install", "within 3 s", Some(false)),
                // The leader's 310 MB counts.
                (
                    "1M-range snapshot: RSS",
                    "under 300 MB per member",
                    Some(false)
                ),
            ]
        );
        let t = r.table();
        assert!(t.contains("targets (issue #6)"), "{t}");
        assert!(
            t.contains("MISSED failover (median): 600 ms = 0.67x etcd's 900 ms"),
            "{t}"
        );
        assert!(t.contains("n/a    256 proposers"), "{t}");
        assert!(
            t.contains("raw write+fdatasync latency: p50 0.500 ms"),
            "{t}"
        );
        assert!(t.contains("synod         1       4000"), "{t}");
        assert!(t.contains("        1.0\n"), "{t}");
    }

    #[test]
    fn files_are_written_side_by_side() {
        let d = tempfile::tempdir().expect("tempdir");
        let json = d.path().join("bench.json");
        let svg = sample().write_files(&json).expect("write");
        assert_eq!(svg, d.path().join("bench.svg"));
        let back: BenchReport =
            serde_json::from_slice(&std::fs::read(&json).expect("read json")).expect("parse");
        assert_eq!(back.systems.len(), 1);
        assert!(std::fs::read_to_string(&svg)
            .expect("read svg")
            .starts_with("<svg"));
    }
}
