//! The `synod` command line.
//!
//! Each subcommand lives in its own function; subcommands that belong to a
//! room (for example `inspect` to storage) call into that room and only
//! format its answers here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use synod::storage::inspect::{inspect, ConfStateView, InspectReport};

mod chaos;
mod cluster;
mod demo;

/// Synod: a replicated control-plane log for membership and a fenced
/// range-ownership catalog.
#[derive(Debug, Parser)]
#[command(name = "synod", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version.
    Version,
    /// Run one member in the foreground (logs to stderr; stops cleanly on
    /// SIGTERM or SIGINT).
    Node {
        /// The member's configuration file (see `synod::node::config`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Show each endpoint's view of the cluster.
    Status {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the catalog: members, owned ranges, forced transitions.
    Catalog {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// Read through the leader (reflects every committed entry).
        #[arg(long)]
        linearizable: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One range's owner, with the applied index the answer reflects.
    Owner {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// The range.
        #[arg(long)]
        range: String,
        #[command(flatten)]
        level: cluster::LevelArgs,
        /// Print JSON (one object).
        #[arg(long)]
        json: bool,
    },
    /// Whether an owner at an epoch currently owns a range (exit 0 when it
    /// does, 5 when it is stale or unknown).
    Fence {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// The range.
        #[arg(long)]
        range: String,
        /// The owner's identity.
        #[arg(long)]
        owner: String,
        /// The epoch it claims.
        #[arg(long)]
        epoch: u64,
        #[command(flatten)]
        level: cluster::LevelArgs,
        /// Print JSON (one object).
        #[arg(long)]
        json: bool,
    },
    /// Print every committed catalog entry from an index on, one line each
    /// (one JSON object with --json), across leader changes and member
    /// failures, until interrupted.
    Watch {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// The first log index wanted (default: what comes next).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Only transitions of this range.
        #[arg(long)]
        range: Option<String>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// The leader: its identity, address and term.
    Leader {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// Print JSON (one object).
        #[arg(long)]
        json: bool,
    },
    /// Propose a typed entry (exit 3 when refused, 4 when not authorized).
    Propose {
        #[command(flatten)]
        client: cluster::ClientArgs,
        #[command(subcommand)]
        what: cluster::ProposeCommand,
    },
    /// Ask the leader to hand leadership to a member.
    Transfer {
        #[command(flatten)]
        client: cluster::ClientArgs,
        /// The member to lead.
        #[arg(long)]
        to: String,
    },
    /// Print a member's metrics (Prometheus text).
    Metrics {
        #[command(flatten)]
        client: cluster::ClientArgs,
    },
    /// Run the local cluster demo: dev certificates, members as separate
    /// processes over mutual TLS, admission and join by snapshot, fenced
    /// transitions, SIGKILL of the leader, restart, and a check that every
    /// acknowledged transition is on every member (last line `demo ok`).
    Demo {
        /// Members.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Keep certificates, configurations, data and logs here (default:
        /// a temporary directory, removed afterwards).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Ownership transitions before the failover (half as many after).
        #[arg(long, default_value_t = 200)]
        transitions: usize,
    },
    /// Run a process-level chaos test: real members over mutual TLS behind
    /// a fault-injecting proxy; kill -9, SIGSTOP and partitions on a seeded
    /// schedule under compare-and-set writers and linearizable readers; a
    /// history checker and a check of every member's state and log. The
    /// last line reads `chaos: N faults, W writes acknowledged, R reads, V
    /// violations`; the exit code is 1 when V > 0.
    Chaos {
        /// How long to inject faults (the final heal and checks follow).
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Members (3 or 5).
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// The schedule's seed (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Keep certificates, configurations, data and logs here (default:
        /// a temporary directory, removed after a clean run).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run the seeded deterministic simulator over many seeds. The last line
    /// reads `N seeds, V violations`; the exit code is 1 when V > 0.
    Sim(SimArgs),
    /// Show what a node's data directory holds: hard state, log bounds,
    /// snapshot, conf state and the catalog. Read-only. Exit code 2 if the
    /// directory is damaged or unreadable.
    Inspect {
        /// The node's data directory.
        data_dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a development CA and, for each name, a certificate whose
    /// identity is `CN=<name>` (valid for 127.0.0.1 and localhost, server
    /// and client auth): ca.pem, ca-key.pem, <name>.pem, <name>-key.pem.
    /// For tests and development clusters only.
    Certs {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Member names, comma-separated (e.g. a,b,c).
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<String>,
        /// Client names, comma-separated (e.g. ops,reader).
        #[arg(long, value_delimiter = ',')]
        clients: Vec<String>,
    },
    /// Benchmarks. Without a subcommand: the full run on a 3-member
    /// cluster of `synod node` processes on 127.0.0.1 (mutual TLS, fsync
    /// on): the fdatasync floor, proposals/s and commit latency at 1, 16
    /// and 256 proposers with the group-commit batching, kill -9 failover,
    /// restart with 1,000,000 log entries, a 1,000,000-range catalog
    /// installed on a new member; `--etcd` adds the etcd baseline and the
    /// ratios. Every performance target is checked at the end.
    Bench(synod_bench::cli::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The simulator injects faults on purpose: raft's warnings about them
    // are noise there. RUST_LOG overrides either default.
    let default_filter = match cli.command {
        Command::Sim(_) => "off",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Node { config } => cluster::cmd_node(&config),
        Command::Status { client, json } => cluster::cmd_status(&client, json),
        Command::Catalog {
            client,
            linearizable,
            json,
        } => cluster::cmd_catalog(&client, linearizable, json),
        Command::Owner {
            client,
            range,
            level,
            json,
        } => cluster::cmd_owner(&client, &range, &level, json),
        Command::Fence {
            client,
            range,
            owner,
            epoch,
            level,
            json,
        } => cluster::cmd_fence(&client, &range, &owner, epoch, &level, json),
        Command::Leader { client, json } => cluster::cmd_leader(&client, json),
        Command::Watch {
            client,
            from,
            range,
            count,
            json,
        } => cluster::cmd_watch(&client, from, range.as_deref(), count, json),
        Command::Propose { client, what } => cluster::cmd_propose(&client, &what),
        Command::Transfer { client, to } => cluster::cmd_transfer(&client, &to),
        Command::Metrics { client } => cluster::cmd_metrics(&client),
        Command::Version => {
            println!("synod {}", synod::VERSION);
            ExitCode::SUCCESS
        }
        Command::Sim(args) => cmd_sim(args),
        Command::Demo {
            nodes,
            data_dir,
            transitions,
        } => match demo::run(demo::DemoOptions {
            nodes,
            data_dir,
            transitions,
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Chaos {
            seconds,
            members,
            seed,
            data_dir,
        } => chaos::run(chaos::ChaosOptions {
            seconds,
            members,
            seed: seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64 % 1_000_000_000)
                    .unwrap_or(1)
            }),
            data_dir,
        }),
        Command::Inspect { data_dir, json } => cmd_inspect(&data_dir, json),
        Command::Certs {
            out,
            nodes,
            clients,
        } => cmd_certs(&out, &nodes, &clients),
        Command::Bench(args) => synod_bench::cli::run(args),
    }
}

fn cmd_certs(out: &std::path::Path, nodes: &[String], clients: &[String]) -> ExitCode {
    match synod::transport::certs::write_dev_certs(out, nodes, clients) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("synod certs: {e}");
            ExitCode::from(2)
        }
    }
}

/// The options of `synod sim`.
#[derive(Debug, clap::Args)]
struct SimArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Members at bootstrap.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Run a deliberately broken engine (see --list-mutants).
    #[arg(long)]
    mutant: Option<String>,
    /// Print the names of the mutants a sweep must catch, one per line, and
    /// exit.
    #[arg(long)]
    list_mutants: bool,
    /// Worker threads (default: the number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Print a line for every seed, not only for failing ones.
    #[arg(long)]
    verbose: bool,
    /// Print every delivery, crash and refusal to stderr (use with
    /// --seeds 1 to study a replay).
    #[arg(long)]
    trace: bool,
    /// Sweep open-ended for this many minutes (from --start, in batches),
    /// instead of a fixed number of seeds.
    #[arg(long, conflicts_with = "seeds")]
    minutes: Option<f64>,
}

fn cmd_sim(args: SimArgs) -> ExitCode {
    use synod::sim::Mutant;
    let SimArgs {
        seeds,
        start,
        nodes,
        mutant,
        list_mutants,
        threads,
        verbose,
        trace,
        minutes,
    } = args;
    if list_mutants {
        // The mutants the sweeps must catch (see `Mutant::swept`).
        for (name, m) in Mutant::ALL {
            if m.swept() {
                println!("{name}");
            }
        }
        return ExitCode::SUCCESS;
    }
    let m = match mutant.as_deref().map(|n| (n, Mutant::by_name(n))) {
        None => None,
        Some((_, Some(m))) => Some(m),
        Some((n, None)) => {
            eprintln!("unknown mutant {n:?}; `synod sim --list-mutants` lists them");
            return ExitCode::from(2);
        }
    };
    if !(1..=9).contains(&nodes) {
        eprintln!("--nodes must be between 1 and 9");
        return ExitCode::from(2);
    }
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let t0 = std::time::Instant::now();
    let mutant_flag = mutant.map(|n| format!(" --mutant {n}")).unwrap_or_default();
    let mut base = synod::sim::SimOptions::new(start);
    base.nodes = nodes;
    base.mutant = m;
    base.trace = trace;
    if !trace {
        // A replica that panics (raft-rs stops on a log that contradicts
        // what it was told) is reported as the seed's violation; the
        // default hook's message would only repeat it.
        std::panic::set_hook(Box::new(|_| {}));
    }
    let mut report = |r: &synod::sim::SeedReport| {
        if !r.violations.is_empty() {
            println!("seed {}: {} violation(s)", r.seed, r.violations.len());
            for v in &r.violations {
                println!("  {v}");
            }
            println!(
                "  replay: synod sim --start {} --seeds 1 --nodes {nodes}{mutant_flag}",
                r.seed
            );
        } else if verbose {
            let s = &r.stats;
            println!(
                "seed {}: ok ({} ticks, {} committed, {} acked, {} retries, {} reads, {} crashes, {} disks damaged, {} refused, {} admitted, {} removed, {} messages)",
                r.seed, s.ticks, s.committed, s.acked, s.retries, s.reads, s.crashes, s.damaged, s.refused, s.admitted, s.removed, s.messages
            );
        }
    };
    let (seeds, violations) = match minutes {
        None => (
            seeds,
            synod::sim::run_seeds(&base, seeds, threads, &mut report),
        ),
        Some(m) => {
            // Open-ended: batches of seeds until the time is up.
            let budget = std::time::Duration::from_secs_f64(m.max(0.0) * 60.0);
            let batch = 250 * threads as u64;
            let (mut done, mut bad) = (0u64, 0u64);
            while t0.elapsed() < budget {
                let b = synod::sim::SimOptions {
                    seed: start + done,
                    ..base.clone()
                };
                bad += synod::sim::run_seeds(&b, batch, threads, &mut report);
                done += batch;
            }
            (done, bad)
        }
    };
    eprintln!(
        "{:.1?} for {seeds} seeds on {threads} thread(s)",
        t0.elapsed()
    );
    println!("{seeds} seeds, {violations} violations");
    if violations > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn cmd_inspect(dir: &std::path::Path, json: bool) -> ExitCode {
    let report = match inspect(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("synod inspect: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("synod inspect: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", format_inspect(&report));
    }
    ExitCode::SUCCESS
}

fn ids(v: &[u64]) -> String {
    let s: Vec<String> = v.iter().map(u64::to_string).collect();
    format!("[{}]", s.join(", "))
}

fn conf(cs: &ConfStateView) -> String {
    let mut s = format!("voters {}", ids(&cs.voters));
    if !cs.learners.is_empty() {
        s += &format!(", learners {}", ids(&cs.learners));
    }
    if !cs.voters_outgoing.is_empty() {
        s += &format!(", outgoing voters {}", ids(&cs.voters_outgoing));
    }
    if !cs.learners_next.is_empty() {
        s += &format!(", next learners {}", ids(&cs.learners_next));
    }
    if cs.auto_leave {
        s += ", auto-leave";
    }
    s
}

fn format_inspect(r: &InspectReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "data directory  {}", r.dir);
    let hs = &r.hard_state;
    let _ = writeln!(
        o,
        "hard state      term {}, vote {}, commit {}",
        hs.term,
        if hs.vote == 0 {
            "none".to_string()
        } else {
            hs.vote.to_string()
        },
        hs.commit
    );
    let _ = writeln!(
        o,
        "log             first index {}, last index {}",
        r.first_index, r.last_index
    );
    let _ = writeln!(o, "segments        {}", r.segments.len());
    match &r.snapshot {
        Some(s) => {
            let _ = writeln!(
                o,
                "snapshot        index {}, term {}, {} bytes, {}",
                s.index,
                s.term,
                s.data_bytes,
                conf(&s.conf_state)
            );
        }
        None => {
            let _ = writeln!(o, "snapshot        none");
        }
    }
    let _ = writeln!(o, "conf state      {}", conf(&r.conf_state));
    if let Some(t) = &r.torn_tail {
        let _ = writeln!(
            o,
            "torn tail       {} at offset {} ({} bytes; the next open truncates it): {}",
            t.file, t.offset, t.dropped_bytes, t.detail
        );
    }
    for p in &r.would_remove {
        let _ = writeln!(o, "leftover        {p} (the next open removes it)");
    }
    for p in &r.ignored_snapshots {
        let _ = writeln!(o, "ignored         {p} (a snapshot the log never recorded)");
    }
    match &r.catalog {
        None => {
            let _ = writeln!(o, "catalog         none (never bootstrapped)");
        }
        Some(c) => {
            let _ = writeln!(
                o,
                "catalog         applied index {}, version {}, {} ranges, max epoch {}, {} forced transitions",
                c.applied_index, c.version, c.ranges, c.max_epoch, c.forced_transitions
            );
            if let Some((t, l)) = &c.leader {
                let _ = writeln!(o, "leader          {l} (term {t})");
            }
            let _ = writeln!(o, "members         {}", c.members.len());
            for m in &c.members {
                let _ = writeln!(
                    o,
                    "  {:<4} {} {} {} {}",
                    m.peer_id, m.id, m.kind, m.state, m.address
                );
            }
            if !c.latest_epochs.is_empty() {
                let _ = writeln!(o, "latest epochs");
                for rv in &c.latest_epochs {
                    let _ = writeln!(
                        o,
                        "  {} owner {} epoch {} (index {})",
                        rv.range, rv.owner, rv.epoch, rv.index
                    );
                }
            }
        }
    }
    o
}
