//! Metrics a production operator expects, in the Prometheus text format.
//!
//! One [`Metrics`] per member, shared by its driver (raft state, latencies,
//! snapshots), its replica (fsync and apply latency) and its transport
//! (bytes per peer). Everything is lock-free counters and fixed-bucket
//! histograms except the per-peer maps. [`Metrics::render`] writes the
//! exposition text served by the client protocol (`synod metrics`) and by
//! the optional admin HTTP listener.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::transport::Traffic;

/// Histogram bucket upper bounds, in seconds.
pub const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// A fixed-bucket latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 16],
    over: AtomicU64,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        match BUCKETS.iter().position(|b| s <= *b) {
            Some(i) => self.counts[i].fetch_add(1, Relaxed),
            None => self.over.fetch_add(1, Relaxed),
        };
        self.sum_nanos
            .fetch_add(d.as_nanos().min(u128::from(u64::MAX)) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The smallest bucket bound below which at least `q` of the
    /// observations fall (an upper estimate of the quantile).
    pub fn quantile_upper_bound(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            if seen >= want {
                return Some(BUCKETS[i]);
            }
        }
        Some(f64::INFINITY)
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{b}\"}} {cumulative}");
        }
        let total = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {total}");
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        let trimmed = labels.trim_end_matches(',');
        let _ = writeln!(out, "{name}_sum{{{trimmed}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{trimmed}}} {total}");
    }
}

/// Replication progress of one follower, as the leader sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The highest index known replicated to it.
    pub matched: u64,
    /// How far behind the leader's last index it is.
    pub lag: u64,
}

/// A member's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The current term.
    pub term: AtomicU64,
    /// 0 follower, 1 candidate, 2 pre-candidate, 3 leader.
    pub role: AtomicU64,
    /// How often the known leader changed.
    pub leader_changes: AtomicU64,
    /// The commit index.
    pub commit_index: AtomicU64,
    /// The applied index.
    pub applied_index: AtomicU64,
    /// Proposals waiting for their entry to commit.
    pub proposals_pending: AtomicU64,
    /// Proposals that committed.
    pub proposals_committed: AtomicU64,
    /// Proposals that failed (refused, not leader, timeout, ...).
    pub proposals_failed: AtomicU64,
    /// Durations of the store's group-commit fsyncs.
    pub fsync: Histogram,
    /// From a proposal's arrival to its answer, for committed proposals.
    pub commit_latency: Histogram,
    /// Time to apply one batch of committed entries.
    pub apply_latency: Histogram,
    /// Snapshots this member took.
    pub snapshots_created: AtomicU64,
    /// Snapshots this member installed from a leader.
    pub snapshots_installed: AtomicU64,
    /// Size of the latest snapshot taken or installed, in bytes.
    pub snapshot_bytes: AtomicU64,
    followers: Mutex<BTreeMap<u64, FollowerProgress>>,
    traffic: Arc<Traffic>,
}

impl Metrics {
    /// Fresh metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the followers' progress (the leader's view; empty otherwise).
    pub fn set_followers(&self, f: BTreeMap<u64, FollowerProgress>) {
        *self.followers.lock().unwrap_or_else(|p| p.into_inner()) = f;
    }

    /// The followers' progress.
    pub fn followers(&self) -> BTreeMap<u64, FollowerProgress> {
        self.followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The per-peer traffic counters the transport keeps.
    pub fn traffic(&self) -> &Arc<Traffic> {
        &self.traffic
    }

    /// The exposition text, every series labelled with this member.
    pub fn render(&self, member: &str) -> String {
        let mut out = String::with_capacity(4096);
        let m = escape(member);
        let labels = format!("member=\"{m}\",");
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name}{{member=\"{m}\"}} {v}");
        };
        gauge(
            &mut out,
            "synod_term",
            "Current raft term.",
            "gauge",
            self.term.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_role",
            "Raft role: 0 follower, 1 candidate, 2 pre-candidate, 3 leader.",
            "gauge",
            self.role.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_is_leader",
            "1 if this member leads.",
            "gauge",
            u64::from(self.role.load(Relaxed) == 3),
        );
        gauge(
            &mut out,
            "synod_leader_changes_total",
            "Times the known leader changed.",
            "counter",
            self.leader_changes.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_commit_index",
            "Commit index.",
            "gauge",
            self.commit_index.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_applied_index",
            "Applied index.",
            "gauge",
            self.applied_index.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_proposals_pending",
            "Proposals waiting to commit.",
            "gauge",
            self.proposals_pending.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_proposals_committed_total",
            "Proposals committed.",
            "counter",
            self.proposals_committed.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_proposals_failed_total",
            "Proposals that did not take effect.",
            "counter",
            self.proposals_failed.load(Relaxed),
        );
        self.fsync.render(
            &mut out,
            "synod_fsync_seconds",
            "Group-commit fsync latency.",
            &labels,
        );
        self.commit_latency.render(
            &mut out,
            "synod_commit_latency_seconds",
            "Proposal arrival to commit.",
            &labels,
        );
        self.apply_latency.render(
            &mut out,
            "synod_apply_seconds",
            "Time to apply a batch of committed entries.",
            &labels,
        );
        gauge(
            &mut out,
            "synod_snapshots_created_total",
            "Snapshots taken.",
            "counter",
            self.snapshots_created.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_snapshots_installed_total",
            "Snapshots installed from a leader.",
            "counter",
            self.snapshots_installed.load(Relaxed),
        );
        gauge(
            &mut out,
            "synod_snapshot_bytes",
            "Size of the latest snapshot.",
            "gauge",
            self.snapshot_bytes.load(Relaxed),
        );
        let followers = self.followers();
        let _ = writeln!(out, "# HELP synod_follower_match_index Highest index replicated to a follower (leader only).");
        let _ = writeln!(out, "# TYPE synod_follower_match_index gauge");
        for (p, f) in &followers {
            let _ = writeln!(
                out,
                "synod_follower_match_index{{{labels}peer=\"{p}\"}} {}",
                f.matched
            );
        }
        let _ = writeln!(
            out,
            "# HELP synod_follower_lag_entries How far a follower is behind (leader only)."
        );
        let _ = writeln!(out, "# TYPE synod_follower_lag_entries gauge");
        for (p, f) in &followers {
            let _ = writeln!(
                out,
                "synod_follower_lag_entries{{{labels}peer=\"{p}\"}} {}",
                f.lag
            );
        }
        let peers = self.traffic.peers();
        for (name, help, get) in [
            (
                "synod_peer_bytes_in_total",
                "Bytes received from a peer.",
                0,
            ),
            ("synod_peer_bytes_out_total", "Bytes sent to a peer.", 1),
            (
                "synod_peer_dropped_messages_total",
                "Messages dropped on a full send queue.",
                2,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (p, t) in &peers {
                let v = match get {
                    0 => t.bytes_in.load(Relaxed),
                    1 => t.bytes_out.load(Relaxed),
                    _ => t.dropped.load(Relaxed),
                };
                let _ = writeln!(out, "{name}{{{labels}peer=\"{p}\"}} {v}");
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_quantiles_bound() {
        let h = Histogram::default();
        for ms in [1u64, 1, 2, 3, 40] {
            h.observe(Duration::from_millis(ms));
        }
        assert_eq!(h.count(), 5);
        assert_eq!(h.quantile_upper_bound(0.5), Some(0.0025));
        assert_eq!(h.quantile_upper_bound(1.0), Some(0.05));
        let mut out = String::new();
        h.render(&mut out, "x", "help", "member=\"a\",");
        assert!(out.contains("x_bucket{member=\"a\",le=\"0.001\"} 2"));
        assert!(out.contains("x_bucket{member=\"a\",le=\"+Inf\"} 5"));
        assert!(out.contains("x_count{member=\"a\"} 5"));
    }

    #[test]
    fn render_has_every_family_and_escapes_labels() {
        let m = Metrics::new();
        m.term.store(7, Relaxed);
        m.role.store(3, Relaxed);
        m.set_followers(
            [(
                2,
                FollowerProgress {
                    matched: 10,
                    lag: 3,
                },
            )]
            .into(),
        );
        m.traffic().peer(2).bytes_out.fetch_add(100, Relaxed);
        let text = m.render("CN=a,\"x\"");
        for family in [
            "synod_term{member=\"CN=a,\\\"x\\\"\"} 7",
            "synod_is_leader{",
            "synod_leader_changes_total",
            "synod_commit_index",
            "synod_applied_index",
            "synod_proposals_pending",
            "synod_fsync_seconds_bucket",
            "synod_commit_latency_seconds_count",
            "synod_apply_seconds_sum",
            "synod_snapshots_created_total",
            "synod_snapshot_bytes",
            "peer=\"2\"} 10",
            "synod_follower_lag_entries",
            "synod_peer_bytes_out_total",
        ] {
            assert!(text.contains(family), "missing {family} in\n{text}");
        }
    }
}
