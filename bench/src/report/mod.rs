//! [`BenchReport`]: everything one `synod bench` run measured, for every
//! system present (Synod, etcd), in one shape: write levels (concurrency,
//! ops/s, latency percentiles) and failover trials, plus the run's context
//! (machine, fsync floor, timing). This module owns the data model and the
//! calls that fill it; the table text is in `table.rs`, the performance
//! targets in `targets.rs`, the JSON and the plot's data in `files.rs` (the
//! plot itself is drawn by [`crate::plot`]).
//!
//! Each measurement is added with one call ([`BenchReport::add_write_level`],
//! [`BenchReport::set_failover`], ...); ratios between Synod and etcd are
//! recomputed on every addition.

mod files;
mod table;
mod targets;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::load::LoadResult;

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

/// One of the performance targets, checked against this run.
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
    /// The performance targets against this run (see
    /// [`BenchReport::check_targets`]).
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
