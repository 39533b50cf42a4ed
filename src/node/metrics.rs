//! A member's metrics: how they are recorded and how they are exposed.
//!
//! One [`Metrics`] per member, shared by its driver (raft state, latencies,
//! snapshots), its replica (fsync and apply latency) and its transport
//! (bytes per peer, in [`Traffic`]). Recording is lock-free counters and
//! fixed-bucket histograms, except the followers' progress and the per-peer
//! map, which the driver and the transport replace or extend rarely.
//!
//! [`Metrics::render`] writes the exposition text served by the client
//! protocol (`synod metrics`) and by the optional admin HTTP listener: at
//! each scrape it reads the current values into a `prometheus-client`
//! collector and lets that crate write the Prometheus text format
//! (version 0.0.4), every series labelled with the member.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    prometheus_text, DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::transport::Traffic;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

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

    /// The current values, for exposition.
    fn values(&self) -> HistogramValues {
        HistogramValues {
            buckets: std::array::from_fn(|i| (BUCKETS[i], self.counts[i].load(Relaxed))),
            sum: self.sum_nanos.load(Relaxed) as f64 / 1e9,
            count: self.count(),
        }
    }
}

/// A histogram's values read at one scrape: per-bucket (not cumulative)
/// counts, the sum in seconds and the count (the `+Inf` bucket).
#[derive(Debug, Clone, Copy)]
struct HistogramValues {
    buckets: [(f64, u64); 16],
    sum: f64,
    count: u64,
}

impl EncodeMetric for HistogramValues {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
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
    /// Messages from peers dropped because the inbox was full.
    pub inbox_dropped: AtomicU64,
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

    /// The exposition text ([`CONTENT_TYPE`]), every series labelled with
    /// this member.
    pub fn render(&self, member: &str) -> String {
        let member = (Cow::Borrowed("member"), Cow::Owned(member.to_owned()));
        let mut registry = Registry::with_labels(std::iter::once(member));
        registry.register_collector(Box::new(self.exposition()));
        let mut out = String::with_capacity(8192);
        // Neither the String nor the collector can fail to write.
        if let Err(e) = prometheus_text::encode(&mut out, &registry) {
            tracing::warn!("encoding the metrics failed: {e}");
        }
        out
    }

    /// Every family's current values, in exposition order.
    fn exposition(&self) -> Exposition {
        let gauge = |name, help, v: &AtomicU64| Family {
            name,
            help,
            values: Values::Gauge(v.load(Relaxed)),
        };
        let counter = |name, help, v: &AtomicU64| Family {
            name,
            help,
            values: Values::Counter(v.load(Relaxed)),
        };
        let histogram = |name, help, h: &Histogram| Family {
            name,
            help,
            values: Values::Histogram(Box::new(h.values())),
        };
        let role = self.role.load(Relaxed);
        let followers = self.followers();
        let peers = self.traffic.peers();
        let per_peer = |get: fn(&crate::transport::PeerTraffic) -> &AtomicU64| {
            peers
                .iter()
                .map(|(p, t)| (*p, get(t).load(Relaxed)))
                .collect()
        };
        Exposition(vec![
            gauge("synod_term", "Current raft term.", &self.term),
            Family {
                name: "synod_role",
                help: "Raft role: 0 follower, 1 candidate, 2 pre-candidate, 3 leader.",
                values: Values::Gauge(role),
            },
            Family {
                name: "synod_is_leader",
                help: "1 if this member leads.",
                values: Values::Gauge(u64::from(role == 3)),
            },
            counter(
                "synod_leader_changes_total",
                "Times the known leader changed.",
                &self.leader_changes,
            ),
            gauge("synod_commit_index", "Commit index.", &self.commit_index),
            gauge("synod_applied_index", "Applied index.", &self.applied_index),
            gauge(
                "synod_proposals_pending",
                "Proposals waiting to commit.",
                &self.proposals_pending,
            ),
            counter(
                "synod_proposals_committed_total",
                "Proposals committed.",
                &self.proposals_committed,
            ),
            counter(
                "synod_proposals_failed_total",
                "Proposals that did not take effect.",
                &self.proposals_failed,
            ),
            histogram(
                "synod_fsync_seconds",
                "Group-commit fsync latency.",
                &self.fsync,
            ),
            histogram(
                "synod_commit_latency_seconds",
                "Proposal arrival to commit.",
                &self.commit_latency,
            ),
            histogram(
                "synod_apply_seconds",
                "Time to apply a batch of committed entries.",
                &self.apply_latency,
            ),
            counter(
                "synod_inbox_dropped_total",
                "Messages from peers dropped because the driver's inbox was full.",
                &self.inbox_dropped,
            ),
            counter(
                "synod_snapshots_created_total",
                "Snapshots taken.",
                &self.snapshots_created,
            ),
            counter(
                "synod_snapshots_installed_total",
                "Snapshots installed from a leader.",
                &self.snapshots_installed,
            ),
            gauge(
                "synod_snapshot_bytes",
                "Size of the latest snapshot.",
                &self.snapshot_bytes,
            ),
            Family {
                name: "synod_follower_match_index",
                help: "Highest index replicated to a follower (leader only).",
                values: Values::PeerGauges(
                    followers.iter().map(|(p, f)| (*p, f.matched)).collect(),
                ),
            },
            Family {
                name: "synod_follower_lag_entries",
                help: "How far a follower is behind (leader only).",
                values: Values::PeerGauges(followers.iter().map(|(p, f)| (*p, f.lag)).collect()),
            },
            Family {
                name: "synod_peer_bytes_in_total",
                help: "Bytes received from a peer.",
                values: Values::PeerCounters(per_peer(|t| &t.bytes_in)),
            },
            Family {
                name: "synod_peer_bytes_out_total",
                help: "Bytes sent to a peer.",
                values: Values::PeerCounters(per_peer(|t| &t.bytes_out)),
            },
            Family {
                name: "synod_peer_dropped_messages_total",
                help: "Messages dropped on a full send queue.",
                values: Values::PeerCounters(per_peer(|t| &t.dropped)),
            },
        ])
    }
}

/// One metric family's values read at one scrape.
#[derive(Debug)]
enum Values {
    Gauge(u64),
    Counter(u64),
    Histogram(Box<HistogramValues>),
    /// One gauge per peer id.
    PeerGauges(Vec<(u64, u64)>),
    /// One counter per peer id.
    PeerCounters(Vec<(u64, u64)>),
}

/// A metric family: its exposed name (counters with their `_total`), help
/// text and values.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    values: Values,
}

/// The collector a scrape's registry encodes: the member's values as read
/// when the scrape began.
#[derive(Debug)]
struct Exposition(Vec<Family>);

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            // The encoder appends `_total` to a counter's name itself.
            let counter_name = f.name.strip_suffix("_total").unwrap_or(f.name);
            match &f.values {
                Values::Gauge(v) => {
                    let m = encoder.encode_descriptor(f.name, f.help, None, MetricType::Gauge)?;
                    ConstGauge::new(*v).encode(m)?;
                }
                Values::Counter(v) => {
                    let m = encoder.encode_descriptor(
                        counter_name,
                        f.help,
                        None,
                        MetricType::Counter,
                    )?;
                    ConstCounter::new(*v).encode(m)?;
                }
                Values::Histogram(h) => {
                    let m =
                        encoder.encode_descriptor(f.name, f.help, None, MetricType::Histogram)?;
                    h.encode(m)?;
                }
                Values::PeerGauges(vs) => {
                    let mut m =
                        encoder.encode_descriptor(f.name, f.help, None, MetricType::Gauge)?;
                    for (peer, v) in vs {
                        ConstGauge::new(*v).encode(m.encode_family(&[("peer", *peer)])?)?;
                    }
                }
                Values::PeerCounters(vs) => {
                    let mut m = encoder.encode_descriptor(
                        counter_name,
                        f.help,
                        None,
                        MetricType::Counter,
                    )?;
                    for (peer, v) in vs {
                        ConstCounter::new(*v).encode(m.encode_family(&[("peer", *peer)])?)?;
                    }
                }
            }
        }
        Ok(())
    }
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
        let member = (Cow::Borrowed("member"), Cow::Borrowed("a"));
        let mut registry = Registry::with_labels(std::iter::once(member));
        registry.register("x", "help", h.values());
        let mut out = String::new();
        prometheus_text::encode(&mut out, &registry).unwrap();
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

    #[test]
    fn render_keeps_the_names_types_and_values() {
        let m = Metrics::new();
        m.leader_changes.store(2, Relaxed);
        m.proposals_committed.store(100, Relaxed);
        m.fsync.observe(Duration::from_micros(40));
        m.fsync.observe(Duration::from_millis(20));
        m.traffic().peer(3).dropped.store(4, Relaxed);
        let text = m.render("CN=a");
        for line in [
            "# HELP synod_term Current raft term.",
            "# TYPE synod_term gauge",
            "synod_term{member=\"CN=a\"} 0",
            "# HELP synod_leader_changes_total Times the known leader changed.",
            "# TYPE synod_leader_changes_total counter",
            "synod_leader_changes_total{member=\"CN=a\"} 2",
            "synod_proposals_committed_total{member=\"CN=a\"} 100",
            "# TYPE synod_inbox_dropped_total counter",
            "# TYPE synod_fsync_seconds histogram",
            "synod_fsync_seconds_bucket{member=\"CN=a\",le=\"5e-05\"} 1",
            "synod_fsync_seconds_bucket{member=\"CN=a\",le=\"0.01\"} 1",
            "synod_fsync_seconds_bucket{member=\"CN=a\",le=\"0.025\"} 2",
            "synod_fsync_seconds_bucket{member=\"CN=a\",le=\"10\"} 2",
            "synod_fsync_seconds_bucket{member=\"CN=a\",le=\"+Inf\"} 2",
            "synod_fsync_seconds_sum{member=\"CN=a\"} 0.02004",
            "synod_fsync_seconds_count{member=\"CN=a\"} 2",
            "# HELP synod_follower_match_index Highest index replicated to a follower (leader only).",
            "# TYPE synod_peer_dropped_messages_total counter",
            "synod_peer_dropped_messages_total{member=\"CN=a\",peer=\"3\"} 4",
            "synod_peer_bytes_in_total{member=\"CN=a\",peer=\"3\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line} in\n{text}"
            );
        }
        // Every sample carries the member label; no family is repeated.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(l.contains("{member=\"CN=a\""), "{l}");
        }
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(types.len(), 21);
    }
}
