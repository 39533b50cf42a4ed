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

fn flip_mask(path: &Path, offset: usize, mask: u8) {
    let mut b = fs::read(path).unwrap();
    b[offset] ^= mask;
    fs::write(path, b).unwrap();
}

/// The bug this file was extended for: a flipped bit in the *length* of a
/// record in the middle of the final segment made the record look longer
/// than the file, so it was "torn" and everything after it (fsynced,
/// acknowledged entries and hard states) was cut. Every bit of every
/// header byte of every record but the last is damage: open refuses,
/// naming the file and the record's offset.
#[test]
fn a_flipped_length_bit_in_the_final_segment_refuses_naming_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    assert!(offs.len() >= 3, "{offs:?}");
    let original = fs::read(last).unwrap();
    // The head, the first record after it and the one before the last
    // (every byte before the last record is covered on the simulated disk
    // by `damage.rs`).
    let n = offs.len();
    for &rec in &[offs[0], offs[1], offs[n - 2]] {
        for bit in 0..8 * record::HEADER_LEN {
            fs::write(last, &original).unwrap();
            flip_mask(last, rec + bit / 8, 1 << (bit % 8));
            match reopen(tmp.path()) {
                Err(StorageError::Corrupt { path, offset, .. }) => {
                    assert_eq!(&path, last);
                    assert_eq!(offset, rec as u64, "record at {rec}, bit {bit}");
                }
                other => {
                    panic!("record at {rec}, header bit {bit}: expected corruption, got {other:?}")
                }
            }
            // Nothing was cut.
            assert_eq!(fs::read(last).unwrap().len(), original.len());
        }
    }
}

/// `synod inspect` on such a directory is an error naming file and offset
/// (the CLI exits 2), not a report of a shorter log.
#[test]
fn inspect_refuses_a_damaged_length_naming_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    // The highest bit of the length: the record now claims to run far past
    // the end of the file.
    flip_mask(last, offs[1] + 3, 0x02);
    match inspect::inspect(tmp.path()) {
        Err(e @ StorageError::Corrupt { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&last.display().to_string()), "{text}");
            assert!(text.contains(&format!("offset {}", offs[1])), "{text}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// A damaged header of the *last* record, with nothing after it, cannot be
/// told from a torn final write of that record (see the storage module's
/// "Recovery" section): it is cut and reported, and the state before it
/// survives.
#[test]
fn a_damaged_header_of_the_last_record_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    let tail = *offs.last().unwrap();
    let original = fs::read(last).unwrap();
    for bit in 0..8 * record::HEADER_LEN {
        fs::write(last, &original).unwrap();
        flip_mask(last, tail + bit / 8, 1 << (bit % 8));
        let (store, report) = match reopen(tmp.path()) {
            Ok(s) => s,
            Err(e) => panic!("header bit {bit}: {e}"),
        };
        let torn = report.torn_tail.expect("a torn tail");
        assert_eq!(
            (torn.path.as_path(), torn.offset),
            (last.as_path(), tail as u64)
        );
        assert_eq!(fs::metadata(last).unwrap().len(), tail as u64);
        // The final record was the hard state of entry 30's batch.
        assert_eq!(store.last_index(), 30);
        assert_eq!(store.hard_state(), hs(1, 1, 29));
    }
}

/// A torn final write on a real disk may leave the rest of the write as
/// zeros or garbage rather than nothing: still torn.
#[test]
fn a_torn_record_followed_by_zeros_or_garbage_of_the_same_write_is_torn() {
    for fill in [0x00u8, 0xa5] {
        let tmp = tempfile::tempdir().unwrap();
        let segs = build(tmp.path());
        let last = segs.last().unwrap();
        let offs = record_offsets(last);
        // The last write was entry 30 and its hard state: keep a prefix of
        // the entry's record (past its header) and fill the rest.
        let entry = offs[offs.len() - 2];
        let mut b = fs::read(last).unwrap();
        let len = b.len();
        for x in &mut b[entry + record::HEADER_LEN + 3..] {
            *x = fill;
        }
        fs::write(last, &b).unwrap();
        let (store, report) = reopen(tmp.path()).unwrap();
        let torn = report.torn_tail.expect("a torn tail");
        assert_eq!(torn.offset, entry as u64, "fill {fill:#x}");
        assert_eq!(torn.dropped_bytes, (len - entry) as u64);
        assert_eq!(store.last_index(), 29);
        assert_eq!(store.hard_state(), hs(1, 1, 29));
    }
}

/// A hole of zeros followed by a valid record is not a torn write: the
/// record after it was written later, so the hole is damage.
#[test]
fn a_valid_record_after_a_bad_one_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    let mut b = fs::read(last).unwrap();
    let len = b.len();
    let tail = b[*offs.last().unwrap()..].to_vec();
    b.extend_from_slice(&[0u8; 100]);
    b.extend_from_slice(&tail);
    fs::write(last, &b).unwrap();
    match reopen(tmp.path()) {
        Err(StorageError::Corrupt { path, offset, .. }) => {
            assert_eq!(&path, last);
            assert_eq!(offset, len as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// The segment `CURRENT` names was fsynced (its first write, head
/// included) before `CURRENT` named it, so a damaged head there is damage,
/// even with nothing after it: here, the head of the segment an installed
/// snapshot started, which alone holds the install.
#[test]
fn a_damaged_head_of_the_segment_current_names_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let (mut store, _) = reopen(tmp.path()).unwrap();
    store
        .apply_snapshot(snapshot(50, 2, voters(&[1, 2]), b""))
        .unwrap();
    let last = store.segment_paths().last().unwrap().clone();
    drop(store);
    assert_eq!(record_offsets(&last), vec![0]);
    flip(&last, 20);
    match reopen(tmp.path()) {
        Err(StorageError::Corrupt { path, offset, .. }) => {
            assert_eq!(path, last);
            assert_eq!(offset, 0);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert!(last.exists());
}

/// A final segment newer than the one `CURRENT` names may be torn inside
/// its head (a crash before its first fsync, on a file system that kept
/// the name): it held nothing acknowledged and is removed.
#[test]
fn a_torn_head_of_a_segment_current_does_not_name_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = build(tmp.path());
    let last = segs.last().unwrap();
    let head = fs::read(last).unwrap();
    let next = tmp
        .path()
        .join(store::segment_name(first_seq(&segs) + segs.len() as u64));
    fs::write(&next, &head[..10]).unwrap();
    let (store, report) = reopen(tmp.path()).unwrap();
    assert_eq!(report.removed, vec![next.clone()]);
    assert!(!next.exists());
    assert_eq!(store.last_index(), 30);
}

fn first_seq(segs: &[PathBuf]) -> u64 {
    let name = segs[0].file_name().unwrap().to_str().unwrap();
    name["log-".len().."log-".len() + 20].parse().unwrap()
}

/// Frames `payload` the way segment format version 1 did: `len | crc |
/// payload`, no header checksum.
fn frame_v1(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len), payload);
    let mut out = len.to_vec();
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A directory written by a version-1 build is refused by name, not
/// misread: by its `CURRENT`, or, without one, by its first segment.
#[test]
fn a_version_1_directory_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = tmp.path().join(store::segment_name(1));
    let mut v2 = Vec::new();
    record::frame_head(
        &mut v2,
        &record::SegmentHead {
            seq: 1,
            last_index: 0,
            snapshot: None,
            reset: false,
            hard_state: hs(1, 1, 0),
            conf_state: voters(&[1]),
        },
    );
    let mut payload = v2[record::HEADER_LEN..].to_vec();
    // kind, magic, then the version byte.
    assert_eq!(payload[1 + 8], record::SEGMENT_FORMAT_VERSION);
    payload[1 + 8] = 1;
    let mut bytes = frame_v1(&payload);
    bytes.extend_from_slice(&frame_v1(&[3; 25]));
    fs::write(&seg, &bytes).unwrap();
    match reopen(tmp.path()) {
        Err(e @ StorageError::Corrupt { .. }) => {
            let StorageError::Corrupt { path, offset, .. } = &e else {
                unreachable!()
            };
            assert_eq!((path, *offset), (&seg, 0));
            assert!(e.to_string().contains("format version 1"), "{e}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // `CURRENT` in version-1 framing (kind 6, then the segment number).
    let mut cur = vec![6u8];
    cur.extend_from_slice(&1u64.to_le_bytes());
    let current = tmp.path().join(store::CURRENT_FILE);
    fs::write(&current, frame_v1(&cur)).unwrap();
    match reopen(tmp.path()) {
        Err(e @ StorageError::Corrupt { .. }) => {
            assert!(
                e.to_string().contains(&current.display().to_string()),
                "{e}"
            );
            assert!(e.to_string().contains("format version 1"), "{e}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Nothing was changed.
    assert_eq!(fs::read(&seg).unwrap(), bytes);
}
