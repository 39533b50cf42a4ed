//! Damage on the real file system: each case refuses to open with an error
//! naming the file and offset, except a torn final record, which is cut.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// A store in `dir` with several segments, a snapshot at 10 and entries up
/// to 30 (from right after the genesis snapshot), all committed. Returns
/// the segment paths.
fn build(dir: &Path) -> Vec<PathBuf> {
    let (mut store, _) = DurableStore::bootstrap(
        Arc::new(RealDisk),
        dir,
        opts(300),
        &members(&["CN=a", "CN=b"]),
    )
    .unwrap();
    for i in GENESIS_INDEX + 1..=30 {
        // Empty data: a leader's no-op, which the catalog skips.
        let mut e = ent(i, 1, 0);
        e.data = Bytes::new();
        store.append(&[e]).unwrap();
        store.set_hard_state(&hs(1, 1, i)).unwrap();
        store.sync().unwrap();
        if i == 10 {
            let cat = store.recover_catalog().unwrap();
            store
                .create_snapshot(10, 1, voters(&[1, 2]), cat.encode_snapshot())
                .unwrap();
        }
    }
    let segs = store.segment_paths();
    assert!(segs.len() >= 4, "{segs:?}");
    segs
}

/// The offsets of the records in a segment file.
fn record_offsets(path: &Path) -> Vec<usize> {
    let buf = fs::read(path).unwrap();
    let mut offs = Vec::new();
    let mut off = 0;
    while let record::Frame::Ok { end, .. } = record::check_frame(&buf, off) {
        offs.push(off);
        off = end;
    }
    offs
}

fn reopen(dir: &Path) -> Result<(DurableStore, RecoveryReport)> {
    DurableStore::open_dir(dir, opts(300))
}

fn flip(path: &Path, offset: usize) {
    let mut b = fs::read(path).unwrap();
    b[offset] ^= 0x40;
    fs::write(path, b).unwrap();
}

#[test]
fn a_clean_directory_reopens_identically() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let (store, report) = reopen(tmp.path()).unwrap();
    assert!(report.torn_tail.is_none());
    assert_eq!((store.first_index(), store.last_index()), (11, 30));
    assert_eq!(store.hard_state(), hs(1, 1, 30));
    let cat = store.recover_catalog().unwrap();
    assert_eq!(cat.applied().0.get(), 30);
}

#[test]
fn a_flipped_byte_in_a_middle_record_names_file_and_offset() {
    for which in [0usize, 1] {
        let tmp = tempfile::tempdir().unwrap();
        let segs = build(tmp.path());
        // A non-final segment, and the final one (not its last record).
        let seg = if which == 0 {
            &segs[1]
        } else {
            &segs[segs.len() - 1]
        };
        let offs = record_offsets(seg);
        assert!(offs.len() >= 3, "{offs:?}");
        flip(seg, offs[1] + 10);
        match reopen(tmp.path()) {
            Err(StorageError::Corrupt { path, offset, .. }) => {
                assert_eq!(&path, seg);
                assert_eq!(offset, offs[1] as u64);
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }
}

#[test]
fn a_torn_final_record_is_truncated_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    let tail = *offs.last().unwrap();
    let len = fs::metadata(last).unwrap().len();
    // Cut the final record in half.
    fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(tail as u64 + 5)
        .unwrap();
    let (store, report) = reopen(tmp.path()).unwrap();
    let torn = report.torn_tail.unwrap();
    assert_eq!(
        (torn.path.as_path(), torn.offset),
        (last.as_path(), tail as u64)
    );
    assert_eq!(fs::metadata(last).unwrap().len(), tail as u64);
    assert!(len > tail as u64);
    // The final record was the hard state of entry 30's batch.
    assert_eq!(store.last_index(), 30);
    assert_eq!(store.hard_state(), hs(1, 1, 29));
    drop(store);
    let (_, report) = reopen(tmp.path()).unwrap();
    assert!(report.torn_tail.is_none());
}

#[test]
fn a_zero_filled_tail_is_torn() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let len = fs::metadata(last).unwrap().len();
    let mut b = fs::read(last).unwrap();
    b.extend_from_slice(&[0u8; 4096]);
    fs::write(last, b).unwrap();
    let (store, report) = reopen(tmp.path()).unwrap();
    assert_eq!(report.torn_tail.unwrap().offset, len);
    assert_eq!(store.last_index(), 30);
}

#[test]
fn a_truncated_middle_segment_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let seg = &segs[1];
    let len = fs::metadata(seg).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(seg)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    match reopen(tmp.path()) {
        Err(StorageError::Corrupt { path, offset, .. }) => {
            assert_eq!(&path, seg);
            assert_eq!(
                offset,
                *record_offsets(seg).last().unwrap() as u64 + {
                    // The cut record is after the last valid one.
                    let buf = fs::read(seg).unwrap();
                    match record::check_frame(&buf, *record_offsets(seg).last().unwrap()) {
                        record::Frame::Ok { end, start } => {
                            (end - start + record::HEADER_LEN) as u64
                        }
                        _ => 0,
                    }
                }
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_deleted_segment_refuses() {
    // A middle segment: a gap in the numbering.
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    fs::remove_file(&segs[1]).unwrap();
    match reopen(tmp.path()) {
        Err(StorageError::MissingSegment { path, .. }) => assert_eq!(path, segs[1]),
        other => panic!("expected a missing segment, got {other:?}"),
    }
    // The first segment: the log no longer reaches back to the snapshot.
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    fs::remove_file(&segs[0]).unwrap();
    match reopen(tmp.path()) {
        Err(StorageError::MissingSegment { path, detail }) => {
            assert_eq!(path, segs[1], "{detail}")
        }
        other => panic!("expected a missing segment, got {other:?}"),
    }
    // The final segment: committed entries are missing.
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    fs::remove_file(segs.last().unwrap()).unwrap();
    assert!(matches!(
        reopen(tmp.path()),
        Err(StorageError::MissingSegment { .. })
    ));
}

#[test]
fn a_garbage_or_missing_snapshot_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let snap = tmp.path().join(store::snapshot_name(10));
    let len = fs::metadata(&snap).unwrap().len() as usize;
    fs::write(&snap, vec![0x77u8; len]).unwrap();
    match reopen(tmp.path()) {
        Err(StorageError::Snapshot { path, offset, .. }) => {
            assert_eq!(path, snap);
            assert_eq!(offset, 0);
        }
        other => panic!("expected a snapshot error, got {other:?}"),
    }
    // A flipped byte inside an otherwise valid snapshot.
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    flip(&snap_path(tmp.path()), 30);
    assert!(matches!(
        reopen(tmp.path()),
        Err(StorageError::Snapshot { .. })
    ));
    // Deleted.
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    fs::remove_file(snap_path(tmp.path())).unwrap();
    assert!(matches!(
        reopen(tmp.path()),
        Err(StorageError::Snapshot { .. })
    ));
}

fn snap_path(dir: &Path) -> PathBuf {
    dir.join(store::snapshot_name(10))
}

#[test]
fn leftovers_of_interrupted_operations_are_cleaned_or_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let t = tmp.path().join("snap-00000000000000000020.snap.tmp");
    fs::write(&t, b"partial").unwrap();
    // A complete snapshot file the log never recorded.
    let newer = tmp.path().join(store::snapshot_name(25));
    fs::write(
        &newer,
        record::encode_snapshot_file(25, 1, &voters(&[1]), b""),
    )
    .unwrap();
    let (store, report) = reopen(tmp.path()).unwrap();
    assert_eq!(report.removed, vec![t.clone()]);
    assert_eq!(report.ignored_snapshots, vec![newer]);
    assert!(!t.exists());
    assert_eq!(store.snapshot().get_metadata().index, 10);
}
