//! The performance targets: [`BenchReport::check_targets`] checks them
//! against what a run measured.

use super::{BenchReport, TargetCheck, ETCD, SYNOD};

impl BenchReport {
    /// Checks the performance targets against what this run measured and keeps
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
}
