//! Tests of the report: recording, ratios, targets, table, JSON, files.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::histogram::Histogram;
use crate::load::LoadResult;

fn load(concurrency: usize, ops: u64, latency_ms: &[u64]) -> LoadResult {
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

fn sample() -> BenchReport {
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
    // Percentiles are within the histogram's precision (1/1024).
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
    assert!(t.contains("\ntargets\n"), "{t}");
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
