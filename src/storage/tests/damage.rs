//! Single-byte damage on a [`SimDisk`]: for random logs, flipping any byte
//! of any segment strictly before the final segment's last record either
//! refuses to open, naming the segment and the damaged record's offset, or
//! changes nothing acknowledged. It is never taken for a torn tail: only
//! the last record can be torn, and cutting anything before it would drop
//! fsynced, acknowledged records. (The test seam's old rule, which the
//! simulator's `torn-tail-repair` mutant runs, does exactly that.)

use proptest::prelude::*;

use super::*;
use crate::storage::store::StoreSeam;

/// The offsets at which the records of a segment's bytes start.
fn record_starts(buf: &[u8]) -> Vec<usize> {
    let mut offs = Vec::new();
    let mut off = 0;
    while let record::Frame::Ok { end, .. } = record::check_frame(buf, off) {
        offs.push(off);
        off = end;
    }
    assert_eq!(off, buf.len(), "a clean segment parses to its end");
    offs
}

fn read_only(disk: &SimDisk) -> Result<(DurableStore, RecoveryReport)> {
    let ro = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    DurableStore::open(Arc::new(disk.clone()), dir(), ro)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_byte_before_the_last_record_refuses_or_changes_nothing(
        batches in proptest::collection::vec((0u8..4, 0usize..48, any::<bool>()), 2..10),
        small in any::<bool>(),
        xor in 1u8..=255,
    ) {
        let segment = if small { 200 } else { 1 << 20 };
        let disk = SimDisk::new();
        let (mut store, _) = open_sim(&disk, segment).unwrap();
        let (mut term, mut commit) = (1, 0);
        for (n, (count, size, vote)) in batches.iter().enumerate() {
            let last = store.last_index();
            let ents: Vec<Entry> = (1..=u64::from(*count))
                .map(|k| {
                    let mut e = ent(last + k, term, n as u64);
                    e.data = Bytes::from(vec![n as u8; *size]);
                    e
                })
                .collect();
            store.append(&ents).unwrap();
            if *vote {
                term += 1;
                commit = commit.max(store.last_index() / 2);
                store.set_hard_state(&hs(term, 1 + n as u64 % 3, commit)).unwrap();
            }
            store.sync().unwrap();
        }
        let acknowledged = view(&store);
        drop(store);

        let segs: Vec<std::path::PathBuf> = {
            let (s, _) = read_only(&disk).unwrap();
            s.segment_paths()
        };
        for (i, seg) in segs.iter().enumerate() {
            let bytes = disk.file_bytes(seg).unwrap();
            let starts = record_starts(&bytes);
            let limit = if i + 1 == segs.len() { *starts.last().unwrap() } else { bytes.len() };
            for at in 0..limit {
                let rec = *starts.iter().rev().find(|s| **s <= at).unwrap();
                disk.corrupt_byte(seg, at, xor).unwrap();
                match read_only(&disk) {
                    Err(StorageError::Corrupt { path, offset, .. }) => {
                        prop_assert_eq!(&path, seg);
                        prop_assert_eq!(offset, rec as u64, "byte {} of {}", at, seg.display());
                    }
                    Ok((s, report)) => {
                        prop_assert_eq!(
                            view(&s), acknowledged.clone(),
                            "byte {} of {} (xor {:#x}): {:?}", at, seg.display(), xor, report
                        );
                    }
                    Err(e) => prop_assert!(false, "byte {} of {}: {}", at, seg.display(), e),
                }
                disk.corrupt_byte(seg, at, xor).unwrap();
            }
        }
    }
}

/// A store on `disk` with entries 1 to 12 in one segment, each synced with
/// the hard state that commits it; returns the segment and the offsets of
/// its records (the head first, then entry 1, its hard state, entry 2, ...).
fn synced_log(disk: &SimDisk) -> (std::path::PathBuf, Vec<usize>) {
    let (mut store, _) = open_sim(disk, 1 << 20).unwrap();
    for i in 1..=12 {
        store.append(&[ent(i, 2, 0)]).unwrap();
        store.set_hard_state(&hs(2, 1, i)).unwrap();
        store.sync().unwrap();
    }
    let seg = store.segment_paths().pop().unwrap();
    drop(store);
    let starts = record_starts(&disk.file_bytes(&seg).unwrap());
    assert_eq!(starts.len(), 25);
    (seg, starts)
}

/// Opens `disk` with the test seam's old torn-tail rule on or off.
fn open_seam(disk: &SimDisk, old_rule: bool) -> Result<(DurableStore, RecoveryReport)> {
    let seam = StoreSeam {
        cut_at_first_bad_record: old_rule,
    };
    DurableStore::open_with_seam(Arc::new(disk.clone()), dir(), opts(1 << 20), seam)
}

#[test]
fn a_flipped_bit_in_a_synced_middle_record_refuses_but_the_old_rule_cuts() {
    // Entry 5's record: a bit of its length field, of its payload.
    for (what, at) in [("length", 1usize), ("payload", record::HEADER_LEN + 3)] {
        let disk = SimDisk::new();
        let (seg, starts) = synced_log(&disk);
        let rec = starts[9];
        disk.corrupt_byte(&seg, rec + at, 0x10).unwrap();
        match open_seam(&disk, false) {
            Err(StorageError::Corrupt { path, offset, .. }) => {
                assert_eq!((path, offset), (seg.clone(), rec as u64), "{what}");
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
        // The refusal changed nothing; the old rule cuts entries 5 to 12,
        // all fsynced, and the hard states that committed them.
        let (store, report) = open_seam(&disk, true).unwrap();
        assert_eq!(store.last_index(), 4, "{what}");
        assert_eq!(store.hard_state(), hs(2, 1, 4), "{what}");
        let torn = report.torn_tail.unwrap();
        assert_eq!((torn.path, torn.offset), (seg.clone(), rec as u64));
        assert_eq!(disk.file_bytes(&seg).unwrap().len(), rec, "{what}");
    }
}

#[test]
fn the_old_rule_still_refuses_outside_the_final_segment() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 200).unwrap();
    for i in 1..=12 {
        store.append(&[ent(i, 2, 0)]).unwrap();
        store.set_hard_state(&hs(2, 1, i)).unwrap();
        store.sync().unwrap();
    }
    let segs = store.segment_paths();
    drop(store);
    assert!(segs.len() >= 3, "{segs:?}");
    let starts = record_starts(&disk.file_bytes(&segs[0]).unwrap());
    disk.corrupt_byte(&segs[0], starts[1] + 1, 0x10).unwrap();
    let seam = StoreSeam {
        cut_at_first_bad_record: true,
    };
    match DurableStore::open_with_seam(Arc::new(disk.clone()), dir(), opts(200), seam) {
        Err(StorageError::Corrupt { path, offset, .. }) => {
            assert_eq!((path, offset), (segs[0].clone(), starts[1] as u64));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
