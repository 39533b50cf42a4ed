//! Tests of Synod's cluster harness: configurations, metrics, ranges and
//! the directories built in-process.

use synod::storage::{DurableStore, StoreOptions};
use synod::{Catalog, Epoch, Index};

use super::*;

#[test]
fn metric_reads_labelled_and_unlabelled_samples() {
    let text = "# HELP synod_fsync_seconds x\nsynod_fsync_seconds_bucket{member=\"CN=a\",le=\"0.001\"} 3\nsynod_fsync_seconds_sum{member=\"CN=a\"} 0.5\nsynod_fsync_seconds_count{member=\"CN=a\"} 42\nsynod_proposals_committed_total 1234\nsynod_proposals_committed_total_other 9\n";
    let metric = metric_f64;
    assert_eq!(metric(text, "synod_fsync_seconds_count"), Some(42.0));
    assert_eq!(
        metric(text, "synod_proposals_committed_total"),
        Some(1234.0)
    );
    assert_eq!(metric(text, "synod_fsync_seconds"), None);
    assert_eq!(metric(text, "missing"), None);
    assert_eq!(metric_f64(text, "synod_fsync_seconds_sum"), Some(0.5));
}

#[test]
fn configs_parse_as_member_configurations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let boot = Start::Bootstrap(vec![
        ("node-1".into(), "127.0.0.1:7001".into()),
        ("node-2".into(), "127.0.0.1:7002".into()),
    ]);
    for (start, tls) in [(boot, true), (Start::Join("127.0.0.1:7001".into()), false)] {
        let text = member_config("node-2", "127.0.0.1:7002", &start, tls, 320);
        let path = dir.path().join("node-2.toml");
        let c = synod::node::config::NodeConfig::parse(&text, &path).expect(&text);
        assert_eq!(c.id.as_str(), "CN=node-2");
        assert_eq!(c.max_inbound, 320);
        assert_eq!(c.max_client_connections_per_identity, Some(320));
        assert_eq!(c.data_dir, dir.path().join("data/node-2"));
        assert_eq!(matches!(c.tls, TlsSettings::Mutual { .. }), tls);
        assert!(c
            .authorization
            .operators
            .contains(&node_id(BENCH_CLIENT).unwrap()));
    }
}

#[test]
fn writer_ranges_are_disjoint_and_cycle() {
    let a = writer_range("1", 0, 0).unwrap();
    assert_eq!(a, writer_range("1", 0, RANGES_PER_WRITER).unwrap());
    assert_ne!(a, writer_range("1", 1, 0).unwrap());
    assert_ne!(a, writer_range("16", 0, 0).unwrap());
    assert_ne!(a, writer_range("1", 0, 1).unwrap());
}

#[test]
fn built_log_dir_recovers_with_snapshot_and_every_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = node_id("CN=restart").unwrap();
    let d = dir.path().join("data");
    let log = build_log_dir(&d, &id, "127.0.0.1:7001", 5000, 100, 300, None).unwrap();
    assert_eq!(
        log,
        LogDir {
            last_index: 5001,
            snapshot_index: 4701,
            above_snapshot: 300
        }
    );
    let (store, _) = DurableStore::open_dir(&d, StoreOptions::default()).unwrap();
    assert_eq!(store.last_index(), 5001);
    assert_eq!(store.hard_state().commit, 5001);
    assert_eq!(store.snapshot().get_metadata().index, 4701);
    // The segment keeps every entry (one segment, never dropped).
    assert_eq!(store.segment_paths().len(), 1);
    let c = store.recover_catalog().unwrap();
    assert_eq!(c.ranges().len(), 100);
    // 5000 transitions over 100 ranges: each at epoch 50.
    let r: RangeId = "users:[0000099,0000100)".parse().unwrap();
    assert_eq!(c.epoch_of(&r), Epoch(50));
    assert_eq!(c.applied().0, Index(5001));
}

#[test]
fn built_catalog_dir_holds_every_range_in_its_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = node_id("CN=holder").unwrap();
    let d = dir.path().join("data");
    let bytes = build_catalog_dir(&d, &id, "127.0.0.1:7001", 3000, None).unwrap();
    let (store, _) = DurableStore::open_dir(&d, StoreOptions::default()).unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.data.len() as u64, bytes);
    assert_eq!(snap.get_metadata().index, 3001);
    let c = Catalog::decode_snapshot(&snap.data).unwrap();
    assert_eq!(c.ranges().len(), 3000);
    assert!(c
        .ranges()
        .all(|(_, o)| o.owner == id && o.epoch == Epoch(1)));
    assert_eq!(store.recover_catalog().unwrap().applied().0, Index(3001));
}
