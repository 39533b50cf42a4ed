//! Single-byte damage on a [`SimDisk`]: for random logs, flipping any byte
//! of any segment strictly before the final segment's last record either
//! refuses to open, naming the segment and the damaged record's offset, or
//! changes nothing acknowledged. It is never taken for a torn tail: only
//! the last record can be torn, and cutting anything before it would drop
//! fsynced, acknowledged records.

use proptest::prelude::*;

use super::*;

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
