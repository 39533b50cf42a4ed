//! `synod bench`: measurements of whole clusters of real processes on
//! loopback, with fsync on, next to the raw fsync floor of the same run.
//!
//! The pieces are system-agnostic where they can be:
//! * [`histogram`]: a log-bucketed latency histogram;
//! * [`load`]: the closed-loop load driver and the failover probe;
//! * [`report`]: [`report::BenchReport`], one shape for every system, with
//!   the table and JSON writers; [`svg`] draws its latency plot;
//! * [`http`] and [`etcd`]: the etcd baseline (harness, client,
//!   measurements).
//!
//! `synod bench etcd` runs the etcd part alone ([`cmd_bench_etcd`]); the
//! full `synod bench` adds Synod's own cluster through the same report.

pub mod etcd;
pub mod histogram;
pub mod http;
pub mod load;
pub mod report;
pub mod svg;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use synod::engine::EngineConfig;
use synod::{ControlPlaneEntry, Epoch, NodeId, OwnershipTransition};

use etcd::{EtcdCluster, EtcdError, EtcdOptions};
use load::LoadSpec;
use report::{BenchReport, ETCD};

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
    let r = synod::storage::bench::bench_storage(dir, &[], per_case, 0)?;
    Ok((r.fdatasync_per_sec, r.fdatasync_after_per_sec))
}

/// Resident set size of process `pid` in bytes (Linux), if readable.
#[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
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
#[derive(Debug, Clone)]
pub struct EtcdArgs {
    /// Write the JSON report here, and the plot next to it.
    pub json: Option<PathBuf>,
    /// Measured seconds per level.
    pub seconds: f64,
    /// Warmup seconds per level.
    pub warmup: f64,
    /// Failover trials.
    pub trials: usize,
    /// Concurrency levels.
    pub levels: Vec<usize>,
    /// Where the cluster and the fsync floor write.
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
    fn rss_of_this_process() {
        let rss = rss_bytes(std::process::id()).expect("rss");
        assert!(rss > 1 << 20);
        assert_eq!(rss_bytes(u32::MAX), None);
    }
}
