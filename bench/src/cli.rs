//! The arguments of `synod bench` and its dispatch: the `synod` command line
//! flattens [`BenchArgs`] into its `bench` subcommand and calls [`run`].

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::storage::{bench_storage, BenchReport};
use crate::{cmd_bench, cmd_bench_etcd, EtcdArgs, FullArgs};

/// `synod bench [SUBCOMMAND] [FULL RUN OPTIONS]`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// A part measured alone; without one, the full run.
    #[command(subcommand)]
    pub what: Option<BenchCommand>,
    /// The options of the full run.
    #[command(flatten)]
    pub full: FullArgs,
}

/// The parts of `synod bench` that run alone.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable appends per second for batches of 1, 16 and 256 small
    /// entries, next to the raw fdatasync floor of the same disk.
    Storage {
        /// Where to write (a temporary subdirectory is made and removed).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Also write this many entries and time a reopen (0: skip).
        #[arg(long, default_value_t = 1_000_000)]
        recovery_entries: u64,
    },
    /// The etcd baseline: a 3-member etcd cluster on loopback (fsync on,
    /// Synod's heartbeat and election timeout), writes/s and latency at
    /// each concurrency level, and kill -9 failover trials. Needs `etcd` on
    /// PATH (exit code 2 without it).
    Etcd(EtcdArgs),
    /// Watchers over the client protocol on one follower of a 3-member
    /// cluster of `synod node` processes while transitions commit. The last
    /// line reads `watch: N watchers, commit-to-delivery p50 A ms, p99 B
    /// ms`; the exit code is 1 when a delivery is missing or p99 > 20 ms.
    Watch {
        /// A short run (100 watchers, 50 transitions).
        #[arg(long)]
        quick: bool,
        /// Watchers (default 1,000; quick 100).
        #[arg(long)]
        watchers: Option<usize>,
        /// Transitions committed while they watch (default 200; quick 50).
        #[arg(long)]
        transitions: Option<usize>,
        /// Idle client connections held afterwards, for the member's memory
        /// per connection (default 10,000; quick 1,000; 0: none).
        #[arg(long)]
        idle: Option<usize>,
    },
    /// Local fence checks on a follower of an in-process 3-member cluster
    /// while proposers write to the leader. The last line reads `reads:
    /// p50 A us, p99 B us, C reads/s per core under N writers`; the exit
    /// code is 1 when a goal (p99 <= 2 us, >= 5 M reads/s per core) is
    /// missed.
    Reads {
        /// A short run (2 s, 32 writers).
        #[arg(long)]
        quick: bool,
        /// Measured seconds (default 10, quick 2).
        #[arg(long)]
        seconds: Option<f64>,
        /// Proposer threads on the leader (default 256, quick 32).
        #[arg(long)]
        writers: Option<usize>,
        /// Reader threads on the follower.
        #[arg(long, default_value_t = 2)]
        readers: usize,
    },
}

/// Runs what the arguments name; the exit code follows each part's rules.
pub fn run(args: BenchArgs) -> ExitCode {
    match args.what {
        None => cmd_bench(args.full),
        Some(BenchCommand::Storage {
            dir,
            seconds,
            recovery_entries,
        }) => cmd_bench_storage(dir, seconds, recovery_entries),
        Some(BenchCommand::Etcd(etcd)) => cmd_bench_etcd(etcd),
        Some(BenchCommand::Watch {
            quick,
            watchers,
            transitions,
            idle,
        }) => cmd_bench_watch(crate::watch::WatchOptions {
            watchers: watchers.unwrap_or(if quick { 100 } else { 1000 }),
            transitions: transitions.unwrap_or(if quick { 50 } else { 200 }),
            idle: idle.unwrap_or(if quick { 1000 } else { 10_000 }),
        }),
        Some(BenchCommand::Reads {
            quick,
            seconds,
            writers,
            readers,
        }) => cmd_bench_reads(crate::reads::ReadsOptions {
            seconds: seconds.unwrap_or(if quick { 2.0 } else { 10.0 }),
            writers: writers.unwrap_or(if quick { 32 } else { 256 }),
            readers: readers.max(1),
            ranges: 10_000,
        }),
    }
}

/// `synod bench watch`: exit 0 when every delivery arrived and p99 <= 20
/// ms, 1 when not, 2 when the run failed.
fn cmd_bench_watch(opts: crate::watch::WatchOptions) -> ExitCode {
    match crate::watch::bench_watch(&opts) {
        Ok(r) => {
            print!("{}", crate::watch::format_watch(&r));
            let p99_ms = r.latency.value_at_quantile(0.99) as f64 / 1e6;
            if r.deliveries == r.expected && p99_ms <= 20.0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("goal missed: every delivery, p99 <= 20 ms");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("synod bench watch: {e}");
            ExitCode::from(2)
        }
    }
}

/// `synod bench reads`: exit 0 when the goals are met, 1 when one is
/// missed, 2 when the run failed.
fn cmd_bench_reads(opts: crate::reads::ReadsOptions) -> ExitCode {
    match crate::reads::bench_reads(&opts) {
        Ok(r) => {
            print!("{}", crate::reads::format_reads(&r));
            let p99_us = r.latency.value_at_quantile(0.99) as f64 / 1000.0;
            if p99_us <= 2.0 && r.per_core >= 5e6 {
                ExitCode::SUCCESS
            } else {
                eprintln!("goal missed: p99 <= 2 us and >= 5,000,000 reads/s per core");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("synod bench reads: {e}");
            ExitCode::from(2)
        }
    }
}

/// `synod bench storage`: exit 0 on success, 2 when the store fails.
fn cmd_bench_storage(dir: PathBuf, seconds: f64, recovery_entries: u64) -> ExitCode {
    let per_case = Duration::from_secs_f64(seconds.max(0.1));
    match bench_storage(&dir, &[1, 16, 256], per_case, recovery_entries) {
        Ok(r) => {
            print!("{}", format_storage(&r));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("synod bench storage: {e}");
            ExitCode::from(2)
        }
    }
}

fn format_storage(r: &BenchReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "directory: {}", r.dir.display());
    let _ = writeln!(
        o,
        "raw write+fdatasync floor: {:.0} syncs/s before, {:.0} after",
        r.fdatasync_per_sec, r.fdatasync_after_per_sec
    );
    let floor = (r.fdatasync_per_sec + r.fdatasync_after_per_sec) / 2.0;
    let _ = writeln!(
        o,
        "{:>6} {:>14} {:>12} {:>14}",
        "batch", "entries/s", "syncs/s", "vs mean floor"
    );
    for b in &r.batches {
        let _ = writeln!(
            o,
            "{:>6} {:>14.0} {:>12.0} {:>13.0}%",
            b.batch,
            b.entries_per_sec(),
            b.syncs_per_sec(),
            100.0 * b.syncs_per_sec() / floor
        );
    }
    if let Some((n, secs)) = r.recovery {
        let _ = writeln!(o, "reopen with {n} entries: {secs:.3} s");
    }
    o
}
