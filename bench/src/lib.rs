//! `synod bench`: measurements of whole clusters of real processes on
//! loopback, with fsync on, next to the raw fsync floor of the same run.
//! This file owns the runs themselves: the fsync floor, the Synod and etcd
//! parts ([`run_synod`], [`run_etcd`]) and the commands that put them into
//! one report ([`cmd_bench`], [`cmd_bench_etcd`]).
//!
//! The modules, system-agnostic where they can be:
//! * [`cli`]: the arguments of `synod bench` and their dispatch;
//! * [`histogram`]: the latency histogram (hdrhistogram buckets, exact
//!   extremes and mean);
//! * [`load`]: the closed-loop load driver and the failover probe;
//! * [`report`]: [`report::BenchReport`], one shape for every system, with
//!   its table, JSON and performance targets;
//! * [`plot`]: the latency plot (SVG, drawn with plotters) from plain data
//!   the report hands it;
//! * [`http`] and [`etcd`]: the etcd baseline (the gateway's HTTP over
//!   ureq; the harness, client and measurements);
//! * [`synod_cluster`]: Synod's own clusters of `synod node` processes and
//!   the measurements run on them;
//! * [`storage`]: `synod bench storage`, the durable store alone;
//! * [`process`]: stopping the member processes the bench starts.
//!
//! `synod bench etcd` runs the etcd part alone ([`cmd_bench_etcd`]); the
//! full `synod bench` ([`cmd_bench`]) runs Synod's part and, with `--etcd`,
//! the etcd part, into one report.

pub mod cli;
pub mod etcd;
pub mod histogram;
pub mod http;
pub mod load;
pub mod plot;
pub mod process;
pub mod reads;
pub mod report;
pub mod storage;
pub mod synod_cluster;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use synod::engine::EngineConfig;
use synod::{ControlPlaneEntry, Epoch, NodeId, OwnershipTransition};

use etcd::{EtcdCluster, EtcdError, EtcdOptions};
use load::LoadSpec;
use report::{BenchReport, CatalogScale, Restart, ETCD, SYNOD};

/// The entry every write workload writes (or, for etcd, whose encoding it
/// writes as the value): a typical ownership transition.
pub fn typical_transition() -> ControlPlaneEntry {
    // Both names are constants that satisfy the bounded-name rules.
    let range = "users:[000123,000124)".parse();
    let owner = NodeId::from_certificate_subject("CN=node-b");
    match (range, owner) {
        (Ok(range), Ok(new_owner)) => ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range,
            new_owner,
            epoch: Epoch(7),
        }),
        (r, o) => unreachable!("constant names refused: {r:?} {o:?}"),
    }
}

/// The bytes etcd writes per put: [`typical_transition`] encoded.
pub fn typical_value() -> Vec<u8> {
    typical_transition().encode()
}

/// Synod's configured heartbeat interval and base election timeout; the
/// etcd baseline runs with the same.
pub fn synod_timing() -> (Duration, Duration) {
    let c = EngineConfig::default();
    (
        c.tick_interval * c.heartbeat_ticks as u32,
        c.election_timeout(),
    )
}

/// Measures the raw `write` + `fdatasync` floor in `dir` for about `per_case`
/// before and again after (syncs per second), reusing `synod bench
/// storage`'s measurement.
pub fn measure_fsync_floor(
    dir: &Path,
    per_case: Duration,
) -> Result<(f64, f64), synod::storage::StorageError> {
    let r = crate::storage::bench_storage(dir, &[], per_case, 0)?;
    Ok((r.fdatasync_per_sec, r.fdatasync_after_per_sec))
}

/// Measures the latency of the floor's operation (one small `write` +
/// `fdatasync`) for about `per_case` in a fresh file under `dir` (removed
/// after); returns (p50, p99) in milliseconds.
pub fn measure_fsync_latency(dir: &Path, per_case: Duration) -> std::io::Result<(f64, f64)> {
    use std::io::Write as _;
    let path = dir.join(format!("synod-bench-fsync-{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&path)?;
        let record = [0x5au8; crate::storage::ENTRY_BYTES + 30];
        let mut h = histogram::Histogram::new();
        let start = std::time::Instant::now();
        while start.elapsed() < per_case || h.count() < 10 {
            let t = std::time::Instant::now();
            f.write_all(&record)?;
            f.sync_data()?;
            h.record_duration(t.elapsed());
        }
        Ok((
            h.value_at_quantile(0.50) as f64 / 1e6,
            h.value_at_quantile(0.99) as f64 / 1e6,
        ))
    })();
    let _ = std::fs::remove_file(&path);
    res
}

/// Writes back every dirty page of the system (`sync(2)`): on ext4 a
/// journal commit waits for other files' dirty data, so what an earlier
/// phase (or run) left unwritten would otherwise weigh on the next fsync
/// measured.
pub fn flush_dirty_pages() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Resident set size of process `pid` in bytes (Linux), if readable.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// A progress bar on stderr for a phase of `len` steps (hidden when stderr
/// is not a terminal).
pub fn progress_bar(len: u64, label: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let pb = ProgressBar::new(len).with_style(style);
    pb.set_prefix(label.to_string());
    pb
}

/// A spinner on stderr for a phase of unknown length.
pub fn spinner(label: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_message(label.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// How often a failover probe starts a new write (the resolution of the
/// failover figures).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// What the etcd part runs.
#[derive(Debug, Clone)]
pub struct EtcdBenchOptions {
    /// Concurrent writers per level.
    pub levels: Vec<usize>,
    /// Unmeasured warmup per level.
    pub warmup: Duration,
    /// Measured window per level.
    pub measure: Duration,
    /// Failover trials (0: skip).
    pub trials: usize,
    /// Where the cluster's temporary directory is made (default: the
    /// system's temporary directory).
    pub parent_dir: Option<PathBuf>,
}

/// Starts etcd, runs the write levels and the failover trials, and files
/// the results under [`ETCD`] in `report` (whose value size and timing it
/// uses).
pub fn run_etcd(report: &mut BenchReport, opts: &EtcdBenchOptions) -> Result<(), EtcdError> {
    let binary = etcd::find_etcd()?;
    if let Some(v) = etcd::etcd_version(&binary) {
        report.set_version(ETCD, v);
    }
    let mut eo = EtcdOptions::new(
        binary,
        Duration::from_secs_f64(report.heartbeat_ms / 1e3),
        Duration::from_secs_f64(report.election_timeout_ms / 1e3),
    );
    eo.members = report.members;
    eo.parent_dir = opts.parent_dir.clone();
    let value = typical_value();
    flush_dirty_pages();
    let sp = spinner("starting a 3-member etcd cluster");
    let started = EtcdCluster::start(eo);
    sp.finish_and_clear();
    let mut cluster = started?;
    for &c in &opts.levels {
        let spec = LoadSpec::timed(c, opts.warmup, opts.measure);
        let pb = progress_bar(0, &format!("etcd, {c} writers"));
        let r = etcd::measure_writes(&mut cluster, &spec, &value, Some(&pb));
        pb.finish_and_clear();
        let r = r?;
        if let Some(e) = &r.first_error {
            report.note(format!(
                "etcd at {c} writers: {} errors, first: {e}",
                r.errors
            ));
        }
        report.add_write_level(ETCD, &r);
    }
    if opts.trials > 0 {
        let pb = progress_bar(opts.trials as u64, "etcd failover trials");
        let mut trials = Vec::with_capacity(opts.trials);
        for t in 1..=opts.trials {
            let r = etcd::failover_trial(
                &mut cluster,
                t,
                &value,
                PROBE_INTERVAL,
                Duration::from_secs(10),
            );
            pb.inc(1);
            match r {
                Ok(d) => trials.push(d),
                Err(e) => {
                    pb.finish_and_clear();
                    return Err(e);
                }
            }
        }
        pb.finish_and_clear();
        report.set_failover(ETCD, &trials);
    }
    Ok(())
}

/// Arguments of `synod bench etcd`.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdArgs {
    /// Write the JSON report here and the latency plot (SVG) next to it.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Measured seconds per concurrency level.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Unmeasured warmup seconds per concurrency level.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Failover trials (0: skip).
    #[arg(long, default_value_t = 5)]
    pub trials: usize,
    /// Concurrent writers, one level after another.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    pub levels: Vec<usize>,
    /// Where the cluster's temporary directory and the fsync floor
    /// write (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// `synod bench etcd`: exit 0 on success, 2 when etcd is missing or the
/// arguments are unusable, 1 when a measurement fails.
pub fn cmd_bench_etcd(args: EtcdArgs) -> ExitCode {
    if etcd::find_etcd().is_err() {
        eprintln!("synod bench etcd: {}", etcd::INSTALL_HINT);
        return ExitCode::from(2);
    }
    if args.levels.is_empty() || args.levels.contains(&0) {
        eprintln!("synod bench etcd: --levels needs positive concurrency levels");
        return ExitCode::from(2);
    }
    if !(args.seconds > 0.0 && args.warmup >= 0.0) {
        eprintln!("synod bench etcd: --seconds must be positive and --warmup not negative");
        return ExitCode::from(2);
    }
    let (heartbeat, election) = synod_timing();
    let value = typical_value();
    let mut report = BenchReport::new(3, value.len(), heartbeat, election);
    let floor_dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let sp = spinner("measuring the fdatasync floor");
    let floor = measure_fsync_floor(&floor_dir, Duration::from_secs(1));
    sp.finish_and_clear();
    match floor {
        Ok((before, after)) => report.set_fdatasync_floor(&floor_dir, before, after),
        Err(e) => {
            eprintln!("synod bench etcd: fsync floor: {e}");
            return ExitCode::FAILURE;
        }
    }
    let opts = EtcdBenchOptions {
        levels: args.levels,
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
        trials: args.trials,
        parent_dir: args.dir,
    };
    let res = run_etcd(&mut report, &opts);
    // Whatever was measured is shown, also when a later phase failed.
    print!("{}", report.table());
    if let Some(path) = &args.json {
        match report.write_files(path) {
            Ok(svg) => println!("wrote {} and {}", path.display(), svg.display()),
            Err(e) => {
                eprintln!("synod bench etcd: write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(EtcdError::NotInstalled) => {
            eprintln!("synod bench etcd: {}", etcd::INSTALL_HINT);
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("synod bench etcd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What Synod's part runs.
#[derive(Debug, Clone)]
pub struct SynodBenchOptions {
    /// Concurrent proposers per level.
    pub levels: Vec<usize>,
    /// Unmeasured warmup per level.
    pub warmup: Duration,
    /// Measured window per level.
    pub measure: Duration,
    /// Failover trials (0: skip).
    pub trials: usize,
    /// Log entries of the restart measurement (0: skip).
    pub restart_entries: u64,
    /// Ranges of the catalog-scale measurement (0: skip).
    pub catalog_ranges: u64,
    /// Mutual TLS (default) or plain TCP.
    pub tls: bool,
    /// Where the clusters' temporary directories are made.
    pub parent_dir: Option<PathBuf>,
}

/// Entries above the snapshot in the restart directory: at most what a
/// running member keeps above its latest snapshot (`snapshot_every`).
pub fn restart_tail(entries: u64) -> u64 {
    EngineConfig::default().snapshot_every.min(entries / 2)
}

/// Runs Synod's part into `report`: the write levels and failover trials
/// on a 3-member cluster, the restart and the catalog-scale measurements.
/// A failed phase is reported on stderr and in the notes, and the next one
/// still runs; the result is `Err` if any failed.
pub fn run_synod(report: &mut BenchReport, opts: &SynodBenchOptions) -> Result<(), String> {
    report.set_version(SYNOD, format!("synod {}", synod::VERSION));
    let max_writers = opts.levels.iter().copied().max().unwrap_or(1);
    let copts = synod_cluster::ClusterOptions::new(opts.tls, opts.parent_dir.clone(), max_writers)?;
    let mut failed = Vec::new();
    let mut fail = |report: &mut BenchReport, phase: &str, e: String| {
        eprintln!("synod bench: {phase}: {e}");
        report.note(format!(
            "synod {phase} failed: {}",
            e.lines().next().unwrap_or("")
        ));
        failed.push(phase.to_string());
    };

    flush_dirty_pages();
    let sp = spinner("starting a 3-member Synod cluster");
    let started = synod_cluster::start_cluster(copts.clone(), report.members);
    sp.finish_and_clear();
    match started {
        Err(e) => fail(report, "cluster start", e),
        Ok(mut cluster) => {
            for &c in &opts.levels {
                flush_dirty_pages();
                let spec = LoadSpec::timed(c, opts.warmup, opts.measure);
                let pb = progress_bar(0, &format!("synod, {c} proposers"));
                let r = synod_cluster::measure_writes(&cluster, &spec, &c.to_string(), Some(&pb));
                pb.finish_and_clear();
                match r {
                    Ok(m) => {
                        if let Some(e) = &m.load.first_error {
                            report.note(format!(
                                "synod at {c} proposers: {} errors, first: {e}",
                                m.load.errors
                            ));
                        }
                        report.add_write_level(SYNOD, &m.load);
                        report.set_entries_per_fsync(SYNOD, c, m.entries_per_fsync);
                        report.note(format!(
                            "synod at {c} proposers: {} proposals committed in {} leader fsyncs over the level, warmup included ({:.1} per fsync; the leader's fsync took {:.2} ms on average)",
                            m.commits, m.fsyncs, m.entries_per_fsync, m.fsync_mean_ms
                        ));
                    }
                    Err(e) => fail(report, &format!("writes at {c}"), e),
                }
            }
            if opts.trials > 0 {
                let pb = progress_bar(opts.trials as u64, "synod failover trials");
                let mut trials = Vec::with_capacity(opts.trials);
                for t in 1..=opts.trials {
                    match synod_cluster::failover_trial(
                        &mut cluster,
                        t,
                        PROBE_INTERVAL,
                        Duration::from_secs(10),
                    ) {
                        Ok(d) => trials.push(d),
                        Err(e) => {
                            fail(report, "failover", e);
                            break;
                        }
                    }
                    pb.inc(1);
                }
                pb.finish_and_clear();
                if !trials.is_empty() {
                    report.set_failover(SYNOD, &trials);
                }
            }
        }
    }

    if opts.restart_entries > 0 {
        let pb = progress_bar(opts.restart_entries, "building a long log");
        let r = synod_cluster::measure_restart(
            &copts,
            opts.restart_entries,
            restart_tail(opts.restart_entries),
            Some(&pb),
        );
        pb.finish_and_clear();
        match r {
            Ok(m) => {
                report.set_restart(Restart {
                    log_entries: opts.restart_entries,
                    snapshot: true,
                    seconds: m.read_seconds,
                    above_snapshot: Some(m.log.above_snapshot),
                    status_seconds: Some(m.status_seconds),
                    leader_seconds: Some(m.leader_seconds),
                });
                report.note(format!(
                    "restart directory: {} entries (index 2 to {}), snapshot at {}, built in {:.1} s",
                    opts.restart_entries,
                    m.log.last_index,
                    m.log.snapshot_index,
                    m.build_seconds
                ));
            }
            Err(e) => fail(report, "restart", e),
        }
    }

    if opts.catalog_ranges > 0 {
        let pb = progress_bar(opts.catalog_ranges, "building a large catalog");
        let r = synod_cluster::measure_catalog_scale(&copts, opts.catalog_ranges, Some(&pb));
        pb.finish_and_clear();
        match r {
            Ok(m) => {
                report.set_catalog_scale(CatalogScale {
                    ranges: m.ranges,
                    snapshot_bytes: m.snapshot_bytes,
                    install_seconds: m.install_seconds,
                    rss_bytes: m.joiner_rss_bytes,
                    leader_rss_bytes: Some(m.leader_rss_bytes),
                    leader_start_seconds: Some(m.leader_start_seconds),
                });
                report.note(format!(
                    "catalog directory with {} ranges built in {:.1} s",
                    m.ranges, m.build_seconds
                ));
            }
            Err(e) => fail(report, "catalog scale", e),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

/// Arguments of the full `synod bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct FullArgs {
    /// Write the JSON report here and the latency plot (SVG) next to it.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also run the etcd baseline (same workload, same timing) and print
    /// Synod/etcd ratios. Needs `etcd` on PATH (exit code 2 without it).
    #[arg(long)]
    pub etcd: bool,
    /// Mutual TLS between members and clients: the default (production)
    /// mode; the flag only makes it explicit.
    #[arg(long, conflicts_with = "insecure")]
    pub tls: bool,
    /// Plain TCP instead of mutual TLS (development mode).
    #[arg(long)]
    pub insecure: bool,
    /// Measured seconds per concurrency level [default: 5, --quick 0.5].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Unmeasured warmup seconds per level [default: 1, --quick 0.2].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Failover trials per system [default: 5, --quick 1].
    #[arg(long)]
    pub trials: Option<usize>,
    /// Concurrent proposers, one level after another [default: 1,16,256,
    /// --quick 1,8].
    #[arg(long, value_delimiter = ',')]
    pub levels: Option<Vec<usize>>,
    /// Log entries in the restart measurement [default: 1000000, --quick
    /// 20000] (0: skip).
    #[arg(long)]
    pub restart_entries: Option<u64>,
    /// Ranges in the catalog-scale measurement [default: 1000000, --quick
    /// 20000] (0: skip).
    #[arg(long)]
    pub ranges: Option<u64>,
    /// A short smoke run (seconds, not minutes): small defaults for every
    /// size not given.
    #[arg(long)]
    pub quick: bool,
    /// Where the clusters' temporary directories and the fsync floor write
    /// (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The settings of a full run: what was given, else the defaults (full or
/// `--quick`).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Measured seconds per level.
    pub seconds: f64,
    /// Warmup seconds per level.
    pub warmup: f64,
    /// Failover trials.
    pub trials: usize,
    /// Concurrency levels.
    pub levels: Vec<usize>,
    /// Restart log entries.
    pub restart_entries: u64,
    /// Catalog ranges.
    pub ranges: u64,
    /// Seconds of each fsync floor measurement.
    pub floor_seconds: f64,
}

impl FullArgs {
    /// Fills in the defaults; refuses unusable values.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let q = self.quick;
        let r = Resolved {
            seconds: self.seconds.unwrap_or(if q { 0.5 } else { 5.0 }),
            warmup: self.warmup.unwrap_or(if q { 0.2 } else { 1.0 }),
            trials: self.trials.unwrap_or(if q { 1 } else { 5 }),
            levels: self.levels.clone().unwrap_or_else(|| {
                if q {
                    vec![1, 8]
                } else {
                    vec![1, 16, 256]
                }
            }),
            restart_entries: self
                .restart_entries
                .unwrap_or(if q { 20_000 } else { 1_000_000 }),
            ranges: self.ranges.unwrap_or(if q { 20_000 } else { 1_000_000 }),
            floor_seconds: if q { 0.3 } else { 1.0 },
        };
        if r.levels.is_empty() || r.levels.contains(&0) {
            return Err("--levels needs positive concurrency levels".into());
        }
        if !(r.seconds > 0.0 && r.warmup >= 0.0) {
            return Err("--seconds must be positive and --warmup not negative".into());
        }
        Ok(r)
    }
}

/// `synod bench`: exit 0 on success, 2 when the arguments are unusable or
/// `--etcd` is asked for without etcd, 1 when a measurement fails (what was
/// measured is still printed and written).
pub fn cmd_bench(args: FullArgs) -> ExitCode {
    let r = match args.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("synod bench: {e}");
            return ExitCode::from(2);
        }
    };
    if args.etcd && etcd::find_etcd().is_err() {
        eprintln!("synod bench --etcd: {}", etcd::INSTALL_HINT);
        return ExitCode::from(2);
    }
    let (heartbeat, election) = synod_timing();
    let value = typical_value();
    let mut report = BenchReport::new(3, value.len(), heartbeat, election);
    let floor_dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let per = Duration::from_secs_f64(r.floor_seconds);
    let sp = spinner("measuring the fdatasync floor");
    flush_dirty_pages();
    let floor = measure_fsync_floor(&floor_dir, per)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            measure_fsync_latency(&floor_dir, per)
                .map(|l| (f, l))
                .map_err(|e| e.to_string())
        });
    sp.finish_and_clear();
    match floor {
        Ok(((before, after), (p50, p99))) => {
            report.set_fdatasync_floor(&floor_dir, before, after);
            report.set_fdatasync_latency(p50, p99);
        }
        Err(e) => {
            eprintln!("synod bench: fsync floor: {e}");
            return ExitCode::FAILURE;
        }
    }
    report.note(format!(
        "synod members: separate `synod node` processes, {}, fsync on; every proposer has its own client connection to the leader; one `synod` client process drives them all on the same cores",
        if args.insecure { "plain TCP (--insecure)" } else { "mutual TLS 1.3" }
    ));
    let mut ok = true;
    let sopts = SynodBenchOptions {
        levels: r.levels.clone(),
        warmup: Duration::from_secs_f64(r.warmup),
        measure: Duration::from_secs_f64(r.seconds),
        trials: r.trials,
        restart_entries: r.restart_entries,
        catalog_ranges: r.ranges,
        tls: !args.insecure,
        parent_dir: args.dir.clone(),
    };
    if let Err(e) = run_synod(&mut report, &sopts) {
        eprintln!("synod bench: {e}");
        ok = false;
    }
    if args.etcd {
        let eopts = EtcdBenchOptions {
            levels: r.levels.clone(),
            warmup: Duration::from_secs_f64(r.warmup),
            measure: Duration::from_secs_f64(r.seconds),
            trials: r.trials,
            parent_dir: args.dir.clone(),
        };
        if let Err(e) = run_etcd(&mut report, &eopts) {
            eprintln!("synod bench: etcd: {e}");
            report.note(format!("etcd failed: {e}"));
            ok = false;
        }
    }
    report.check_targets();
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let written = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => std::fs::create_dir_all(p),
            None => Ok(()),
        }
        .and_then(|()| report.write_files(path));
        match written {
            Ok(svg) => println!("wrote {} and {}", path.display(), svg.display()),
            Err(e) => {
                eprintln!("synod bench: write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_value_is_an_encoded_transition() {
        let v = typical_value();
        assert_eq!(v, typical_transition().encode());
        assert!(v.len() > 30 && v.len() < 200, "{}", v.len());
        assert_eq!(
            synod_timing(),
            (Duration::from_millis(50), Duration::from_millis(500))
        );
    }

    #[test]
    fn quick_and_full_defaults_and_refusals() {
        let mut a = FullArgs {
            json: None,
            etcd: false,
            tls: false,
            insecure: false,
            seconds: None,
            warmup: None,
            trials: None,
            levels: None,
            restart_entries: None,
            ranges: None,
            quick: false,
            dir: None,
        };
        let full = a.resolve().expect("full");
        assert_eq!(full.levels, [1, 16, 256]);
        assert_eq!((full.restart_entries, full.ranges), (1_000_000, 1_000_000));
        a.quick = true;
        a.trials = Some(2);
        let quick = a.resolve().expect("quick");
        assert_eq!(quick.trials, 2, "a given value wins over --quick");
        assert!(quick.seconds < 1.0 && quick.ranges < 100_000);
        a.levels = Some(vec![1, 0]);
        assert!(a.resolve().unwrap_err().contains("--levels"));
        a.levels = None;
        a.seconds = Some(0.0);
        assert!(a.resolve().unwrap_err().contains("--seconds"));
        assert_eq!(restart_tail(1_000_000), 10_000);
        assert_eq!(restart_tail(5_000), 2_500);
    }

    #[test]
    fn fsync_latency_is_measured_and_cleaned_up() {
        let d = tempfile::tempdir().expect("tempdir");
        let (p50, p99) =
            measure_fsync_latency(d.path(), Duration::from_millis(30)).expect("measure");
        assert!(p50 > 0.0 && p99 >= p50, "{p50} {p99}");
        assert_eq!(std::fs::read_dir(d.path()).expect("list").count(), 0);
    }

    #[test]
    fn rss_of_this_process() {
        let rss = rss_bytes(std::process::id()).expect("rss");
        assert!(rss > 1 << 20);
        assert_eq!(rss_bytes(u32::MAX), None);
    }
}
