//! The human-readable table of a report ([`BenchReport::table`]).

use std::fmt::Write as _;

use super::BenchReport;

impl BenchReport {
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
            let _ = writeln!(o, "\ntargets");
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
