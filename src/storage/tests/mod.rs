//! Storage tests: the store's contract on [`SimDisk`] and the real disk,
//! crash-point injection, a model-based property test, and damage.

mod corruption;
mod crash;
mod damage;
mod model;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, EntryType, HardState, Snapshot};
use raft::{GetEntriesContext, Storage as _};

use super::*;
use crate::catalog::InitialMember;
use crate::entry::{ControlPlaneEntry, MemberKind, NodeId, Term};

pub(super) const DIR: &str = "/data/node";

pub(super) fn dir() -> &'static Path {
    Path::new(DIR)
}

pub(super) fn ent(index: u64, term: u64, salt: u64) -> Entry {
    let mut e = Entry::default();
    e.index = index;
    e.term = term;
    e.data = Bytes::from(format!("e{index}-t{term}-s{salt}").into_bytes());
    e
}

pub(super) fn hs(term: u64, vote: u64, commit: u64) -> HardState {
    let mut h = HardState::default();
    h.term = term;
    h.vote = vote;
    h.commit = commit;
    h
}

pub(super) fn voters(ids: &[u64]) -> ConfState {
    let mut cs = ConfState::default();
    cs.voters = ids.to_vec();
    cs
}

pub(super) fn snapshot(index: u64, term: u64, cs: ConfState, data: &[u8]) -> Snapshot {
    let mut s = Snapshot::default();
    s.data = Bytes::copy_from_slice(data);
    let m = s.mut_metadata();
    m.index = index;
    m.term = term;
    m.set_conf_state(cs);
    s
}

pub(super) fn opts(segment_bytes: u64) -> StoreOptions {
    StoreOptions {
        segment_bytes,
        read_only: false,
    }
}

pub(super) fn open_sim(
    disk: &SimDisk,
    segment_bytes: u64,
) -> Result<(DurableStore, RecoveryReport)> {
    DurableStore::open(Arc::new(disk.clone()), dir(), opts(segment_bytes))
}

pub(super) fn members(names: &[&str]) -> Vec<InitialMember> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| InitialMember {
            id: NodeId::from_certificate_subject(n).unwrap(),
            kind: MemberKind::Data,
            address: format!("127.0.0.1:{}", 7000 + i).parse().unwrap(),
        })
        .collect()
}

/// Everything observable about a store, for comparisons.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct View {
    pub snap: (u64, u64),
    pub entries: Vec<(u64, u64, Bytes)>,
    pub hs: (u64, u64, u64),
    pub cs: ConfState,
}

pub(super) fn view(store: &DurableStore) -> View {
    let h = store.handle();
    let first = h.first_index().unwrap();
    let last = h.last_index().unwrap();
    let entries = if last >= first {
        h.entries(first, last + 1, None, GetEntriesContext::empty(false))
            .unwrap()
    } else {
        Vec::new()
    };
    let snap_term = h.term(first - 1).unwrap();
    let st = h.initial_state().unwrap();
    View {
        snap: (first - 1, snap_term),
        entries: entries
            .into_iter()
            .map(|e| (e.index, e.term, e.data))
            .collect(),
        hs: (st.hard_state.term, st.hard_state.vote, st.hard_state.commit),
        cs: st.conf_state,
    }
}

#[test]
fn fresh_store_is_empty() {
    let disk = SimDisk::new();
    let (store, report) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!((store.first_index(), store.last_index()), (1, 0));
    assert!(!store.is_initialized());
    assert!(report.segments.is_empty());
    let h = store.handle();
    assert_eq!(h.term(0).unwrap(), 0);
    assert_eq!(
        h.snapshot(0, 2),
        Err(raft::Error::Store(
            raft::StorageError::SnapshotTemporarilyUnavailable
        ))
    );
}

#[test]
fn synced_state_survives_reopen_and_unsynced_does_not() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.append(&[ent(1, 1, 0), ent(2, 1, 0)]).unwrap();
    store.set_hard_state(&hs(1, 2, 1)).unwrap();
    store.set_conf_state(&voters(&[1, 2, 3])).unwrap();
    assert_eq!(store.sync().unwrap(), 2);
    let durable = view(&store);
    store.append(&[ent(3, 1, 0)]).unwrap();
    store.set_hard_state(&hs(1, 2, 2)).unwrap();
    assert!(store.has_unsynced());
    drop(store);
    disk.crash();
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(view(&store), durable);
}

#[test]
fn one_sync_is_one_write_and_one_fsync() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.append(&[ent(1, 1, 0)]).unwrap();
    store.sync().unwrap(); // starts the first segment
    let before = disk.stats();
    let batch: Vec<Entry> = (2..=257).map(|i| ent(i, 1, 0)).collect();
    store.append(&batch).unwrap();
    store.set_hard_state(&hs(1, 1, 200)).unwrap();
    store.sync().unwrap();
    let after = disk.stats();
    assert_eq!(after.writes - before.writes, 1);
    assert_eq!(after.file_syncs - before.file_syncs, 1);
    assert_eq!(after.dir_syncs, before.dir_syncs);
    // Nothing staged: no I/O at all.
    store.sync().unwrap();
    assert_eq!(disk.stats().ops, after.ops);
}

#[test]
fn conflicting_suffix_is_replaced_durably() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store
        .append(&[ent(1, 1, 0), ent(2, 1, 0), ent(3, 1, 0), ent(4, 1, 0)])
        .unwrap();
    store.sync().unwrap();
    store.append(&[ent(3, 2, 1)]).unwrap();
    store.sync().unwrap();
    assert_eq!(store.last_index(), 3);
    let v = view(&store);
    drop(store);
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(view(&store), v);
    assert_eq!(store.term(3), Some(2));
    assert_eq!(store.last_index(), 3);
}

#[test]
fn appends_out_of_contract_are_refused() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.append(&[ent(1, 1, 0)]).unwrap();
    assert!(matches!(
        store.append(&[ent(3, 1, 0)]),
        Err(StorageError::Misuse(_))
    ));
    assert!(matches!(
        store.append(&[ent(2, 1, 0), ent(4, 1, 0)]),
        Err(StorageError::Misuse(_))
    ));
    assert_eq!(store.last_index(), 1);
}

#[test]
fn hard_state_never_moves_backwards() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.set_hard_state(&hs(3, 2, 0)).unwrap();
    store.sync().unwrap();
    // A second vote in term 3 is refused, staged or not.
    assert!(matches!(
        store.set_hard_state(&hs(3, 1, 0)),
        Err(StorageError::Misuse(_))
    ));
    assert!(matches!(
        store.set_hard_state(&hs(2, 0, 0)),
        Err(StorageError::Misuse(_))
    ));
    store.set_hard_state(&hs(4, 1, 0)).unwrap();
    assert!(matches!(
        store.set_hard_state(&hs(4, 0, 0)),
        Err(StorageError::Misuse(_))
    ));
    store.sync().unwrap();
    drop(store);
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(store.hard_state(), hs(4, 1, 0));
}

#[test]
fn bootstrap_writes_the_genesis_catalog_once() {
    let disk = SimDisk::new();
    let init = members(&["CN=a", "CN=b", "CN=c"]);
    let (store, _) =
        DurableStore::bootstrap(Arc::new(disk.clone()), dir(), opts(1 << 20), &init).unwrap();
    assert_eq!(store.conf_state().voters, vec![1, 2, 3]);
    // The genesis snapshot covers the log up to its index; no entry is held.
    assert_eq!(
        (store.first_index(), store.last_index()),
        (GENESIS_INDEX + 1, GENESIS_INDEX)
    );
    let meta = store.snapshot().get_metadata().clone();
    assert_eq!((meta.index, meta.term), (GENESIS_INDEX, GENESIS_TERM));
    assert_eq!(store.hard_state(), hs(GENESIS_TERM, 0, GENESIS_INDEX));
    let cat = store.recover_catalog().unwrap();
    assert_eq!(cat.members().count(), 3);
    assert_eq!(cat.applied().0.get(), GENESIS_INDEX);
    drop(store);
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(store.conf_state().voters, vec![1, 2, 3]);
    assert_eq!(
        (store.first_index(), store.last_index()),
        (GENESIS_INDEX + 1, GENESIS_INDEX)
    );
    assert_eq!(store.hard_state(), hs(GENESIS_TERM, 0, GENESIS_INDEX));
    assert_eq!(store.recover_catalog().unwrap().members().count(), 3);
    drop(store);
    assert!(matches!(
        DurableStore::bootstrap(Arc::new(disk.clone()), dir(), opts(1 << 20), &init),
        Err(StorageError::AlreadyInitialized { .. })
    ));
}

#[test]
fn recovered_catalog_applies_only_committed_catalog_entries() {
    let disk = SimDisk::new();
    let init = members(&["CN=a"]);
    let (mut store, _) =
        DurableStore::bootstrap(Arc::new(disk.clone()), dir(), opts(1 << 20), &init).unwrap();
    let leader = NodeId::from_certificate_subject("CN=a").unwrap();
    let config = |t: u64| {
        let mut e = Entry::default();
        e.term = t;
        e.data = Bytes::from(
            ControlPlaneEntry::LeaderConfiguration {
                term: Term(t),
                leader: leader.clone(),
            }
            .encode(),
        );
        e
    };
    // The log after the genesis snapshot: a no-op, a leader configuration,
    // a conf change, and a second leader configuration (not committed).
    let g = GENESIS_INDEX;
    let mut noop = Entry::default();
    noop.index = g + 1;
    noop.term = 1;
    let mut e2 = config(1);
    e2.index = g + 2;
    let mut cc = Entry::default();
    cc.index = g + 3;
    cc.term = 1;
    cc.entry_type = EntryType::EntryConfChangeV2;
    cc.data = Bytes::from_static(b"\x01\x02");
    let mut e4 = config(2);
    e4.index = g + 4;
    store.append(&[noop, e2, cc, e4]).unwrap();
    store.set_hard_state(&hs(2, 1, g + 3)).unwrap();
    store.sync().unwrap();
    drop(store);
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    let cat = store.recover_catalog().unwrap();
    // The last entry is not committed: the leader of term 1 is the latest.
    assert_eq!(cat.leader().map(|(t, _)| t), Some(Term(1)));
    assert_eq!(cat.applied().0.get(), g + 3);
}

#[test]
fn create_snapshot_compacts_whole_segments_and_survives_reopen() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 256).unwrap();
    for i in 1..=40 {
        store.append(&[ent(i, 1, 0)]).unwrap();
        store.set_hard_state(&hs(1, 1, i)).unwrap();
        store.sync().unwrap();
    }
    let segs_before = store.segment_paths().len();
    assert!(segs_before > 4, "{segs_before} segments");
    store
        .create_snapshot(30, 1, voters(&[1]), b"state".to_vec())
        .unwrap();
    let segs_after = store.segment_paths();
    assert!(segs_after.len() < segs_before);
    assert_eq!((store.first_index(), store.last_index()), (31, 40));
    let h = store.handle();
    assert_eq!(h.term(30).unwrap(), 1);
    assert_eq!(
        h.term(29),
        Err(raft::Error::Store(raft::StorageError::Compacted))
    );
    assert_eq!(
        h.entries(29, 31, None, GetEntriesContext::empty(false)),
        Err(raft::Error::Store(raft::StorageError::Compacted))
    );
    assert_eq!(h.snapshot(30, 2).unwrap().get_metadata().index, 30);
    let v = view(&store);
    drop(store);
    let (store, report) = open_sim(&disk, 256).unwrap();
    assert_eq!(view(&store), v);
    assert_eq!(report.segments, segs_after);
    assert_eq!(&store.snapshot().data[..], b"state");
    // Files on disk: the segments and one snapshot.
    let names = disk.list_dir(dir()).unwrap();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("snap-")).count(),
        1,
        "{names:?}"
    );
}

#[test]
fn snapshot_refusals() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.append(&[ent(1, 1, 0), ent(2, 1, 0)]).unwrap();
    store.set_hard_state(&hs(1, 1, 1)).unwrap();
    store.sync().unwrap();
    // Above commit.
    assert!(matches!(
        store.create_snapshot(2, 1, voters(&[1]), vec![]),
        Err(StorageError::Misuse(_))
    ));
    // Wrong term.
    assert!(matches!(
        store.create_snapshot(1, 2, voters(&[1]), vec![]),
        Err(StorageError::Misuse(_))
    ));
    store.create_snapshot(1, 1, voters(&[1]), vec![]).unwrap();
    assert!(matches!(
        store.create_snapshot(1, 1, voters(&[1]), vec![]),
        Err(StorageError::SnapshotOutOfDate { .. })
    ));
    assert!(matches!(
        store.apply_snapshot(snapshot(1, 1, voters(&[1]), b"")),
        Err(StorageError::SnapshotOutOfDate { .. })
    ));
    assert!(matches!(store.compact(5), Err(StorageError::Misuse(_))));
    store.compact(2).unwrap();
}

#[test]
fn apply_snapshot_replaces_the_log() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store
        .append(&[ent(1, 1, 0), ent(2, 1, 0), ent(3, 1, 0)])
        .unwrap();
    store.set_hard_state(&hs(1, 1, 1)).unwrap();
    store.sync().unwrap();
    store
        .apply_snapshot(snapshot(10, 3, voters(&[1, 2, 3]), b"leader state"))
        .unwrap();
    assert_eq!((store.first_index(), store.last_index()), (11, 10));
    assert_eq!(store.hard_state(), hs(3, 0, 10));
    assert_eq!(store.conf_state(), voters(&[1, 2, 3]));
    store.append(&[ent(11, 3, 0)]).unwrap();
    store.sync().unwrap();
    let v = view(&store);
    drop(store);
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(view(&store), v);
    assert_eq!(&store.snapshot().data[..], b"leader state");
    assert_eq!(store.segment_paths().len(), 1);
}

#[test]
fn a_second_store_cannot_open_a_locked_directory() {
    let disk = SimDisk::new();
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert!(matches!(
        open_sim(&disk, 1 << 20),
        Err(StorageError::Locked { .. })
    ));
    drop(store);
    open_sim(&disk, 1 << 20).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let (_store, _) = DurableStore::open_dir(tmp.path(), StoreOptions::default()).unwrap();
    assert!(matches!(
        DurableStore::open_dir(tmp.path(), StoreOptions::default()),
        Err(StorageError::Locked { .. })
    ));
}

#[test]
fn a_failed_fsync_is_returned_and_poisons_the_store() {
    for which in 0..3u64 {
        let disk = SimDisk::new();
        let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
        store.append(&[ent(1, 1, 0)]).unwrap();
        store.sync().unwrap();
        let ops = disk.stats().ops;
        // The next sync is write (ops), fsync (ops + 1); a third op fails
        // the sync after (its write).
        disk.set_fault(Some(Fault {
            at_op: ops + which,
            then_dead: false,
        }));
        store.append(&[ent(2, 1, 0)]).unwrap();
        let first = store.sync();
        if which < 2 {
            assert!(matches!(first, Err(StorageError::Io { .. })), "{first:?}");
            assert!(matches!(
                store.append(&[ent(3, 1, 0)]),
                Err(StorageError::Poisoned(_))
            ));
            assert!(matches!(store.sync(), Err(StorageError::Poisoned(_))));
        } else {
            first.unwrap();
        }
        drop(store);
        disk.crash();
        let (store, _) = open_sim(&disk, 1 << 20).unwrap();
        assert!(store.last_index() >= 1);
    }
}

#[test]
fn a_failed_directory_fsync_fails_the_sync() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    // First sync: create, write, fsync, fsync dir.
    disk.set_fault(Some(Fault {
        at_op: disk.stats().ops + 3,
        then_dead: false,
    }));
    store.append(&[ent(1, 1, 0)]).unwrap();
    assert!(matches!(
        store.sync(),
        Err(StorageError::Io {
            op: "fsync directory",
            ..
        })
    ));
    drop(store);
    disk.crash();
    // The segment's name never became durable: the entry was never
    // acknowledged, and the store opens empty.
    let (store, _) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(store.last_index(), 0);
}

#[test]
fn read_only_open_changes_nothing() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.append(&[ent(1, 1, 0)]).unwrap();
    store.sync().unwrap();
    let seg = store.segment_paths()[0].clone();
    drop(store);
    // A torn tail: half a record.
    let mut f = disk.open_append(&seg).unwrap();
    f.write_all(&[9, 0, 0, 0, 1]).unwrap();
    f.sync_data().unwrap();
    let before = disk.file_bytes(&seg).unwrap();
    let ro = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let (mut store, report) = DurableStore::open(Arc::new(disk.clone()), dir(), ro).unwrap();
    assert!(report.torn_tail.is_some());
    assert_eq!(disk.file_bytes(&seg).unwrap(), before);
    assert!(matches!(
        store.append(&[ent(2, 1, 0)]),
        Err(StorageError::ReadOnly)
    ));
}

/// A store with entries 1..=20 committed in small segments, so that a
/// snapshot makes whole segments obsolete.
fn store_with_segments(disk: &SimDisk) -> DurableStore {
    let (mut store, _) = open_sim(disk, 256).unwrap();
    for i in 1..=20 {
        store.append(&[ent(i, 1, 0)]).unwrap();
        store.set_hard_state(&hs(1, 1, i)).unwrap();
        store.sync().unwrap();
    }
    assert!(store.segment_paths().len() > 3);
    store
}

/// Ordering rule 5 covers compaction too: a failed remove or directory
/// fsync while dropping obsolete segments and snapshot files (after a
/// snapshot is created or installed, or in `compact`) poisons the store.
/// Every mutating operation of each call fails in turn.
#[test]
fn a_failed_compaction_poisons_the_store() {
    type Call = fn(&mut DurableStore) -> Result<()>;
    let calls: [(&str, Call); 2] = [
        ("create_snapshot", |s| {
            s.create_snapshot(15, 1, voters(&[1]), b"local".to_vec())
        }),
        ("apply_snapshot", |s| {
            s.apply_snapshot(snapshot(40, 2, voters(&[1]), b"leader"))
        }),
    ];
    for (name, call) in calls {
        let mut failed_removes = 0;
        for k in 0.. {
            let disk = SimDisk::new();
            let mut store = store_with_segments(&disk);
            let ops = disk.stats().ops;
            disk.set_fault(Some(Fault {
                at_op: ops + k,
                then_dead: false,
            }));
            let res = call(&mut store);
            if disk.stats().ops <= ops + k {
                // The fault was never reached: the call did everything.
                res.unwrap();
                break;
            }
            let err = res.expect_err("a fault was injected");
            if let StorageError::Io { op, .. } = &err {
                if *op == "remove" || *op == "fsync directory" {
                    failed_removes += 1;
                }
            }
            assert!(
                matches!(
                    store.append(&[ent(21, 1, 0)]),
                    Err(StorageError::Poisoned(_))
                ),
                "{name}, fault at op {k} ({err}): the store is not poisoned"
            );
            assert!(matches!(store.sync(), Err(StorageError::Poisoned(_))));
            drop(store);
            disk.crash();
            let (store, _) = open_sim(&disk, 256).unwrap();
            assert!(store.last_index() >= 20, "{name}, fault at op {k}");
        }
        assert!(failed_removes >= 2, "{name}: {failed_removes}");
    }

    // `compact` removing a snapshot file left by an interrupted snapshot
    // operation.
    for k in 0..2 {
        let disk = SimDisk::new();
        let mut store = store_with_segments(&disk);
        store
            .create_snapshot(15, 1, voters(&[1]), b"local".to_vec())
            .unwrap();
        let stray = dir().join(store::snapshot_name(18));
        disk.create_file(&stray).unwrap().sync_all().unwrap();
        disk.set_fault(Some(Fault {
            at_op: disk.stats().ops + k,
            then_dead: false,
        }));
        assert!(matches!(store.compact(16), Err(StorageError::Io { .. })));
        assert!(matches!(
            store.append(&[ent(21, 1, 0)]),
            Err(StorageError::Poisoned(_))
        ));
    }
}

/// A read-only open removes nothing, and says so: what a writable open
/// would remove is listed apart from what was removed.
#[test]
fn a_read_only_open_reports_what_it_would_remove() {
    let disk = SimDisk::new();
    let (mut store, _) = open_sim(&disk, 1 << 20).unwrap();
    store.append(&[ent(1, 1, 0)]).unwrap();
    store.sync().unwrap();
    drop(store);
    let tmp = dir().join("CURRENT.tmp");
    disk.create_file(&tmp).unwrap().sync_all().unwrap();
    disk.sync_dir(dir()).unwrap();
    let ro = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let (_, report) = DurableStore::open(Arc::new(disk.clone()), dir(), ro).unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(report.would_remove, vec![tmp.clone()]);
    assert!(disk.file_bytes(&tmp).is_some());
    // A writable open removes it, and says so.
    let (_, report) = open_sim(&disk, 1 << 20).unwrap();
    assert_eq!(report.removed, vec![tmp.clone()]);
    assert!(report.would_remove.is_empty());
    assert!(disk.file_bytes(&tmp).is_none());
}

/// The reference model of a log: what a store must show.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ModelLog {
    pub snap: (u64, u64),
    /// Entries above the snapshot: index -> (term, data).
    pub entries: std::collections::BTreeMap<u64, (u64, Bytes)>,
    pub hs: HardState,
    pub cs: ConfState,
}

impl ModelLog {
    pub fn first(&self) -> u64 {
        self.snap.0 + 1
    }

    pub fn last(&self) -> u64 {
        self.entries
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.snap.0)
    }

    pub fn term(&self, i: u64) -> Option<u64> {
        if i == self.snap.0 {
            return Some(self.snap.1);
        }
        self.entries.get(&i).map(|e| e.0)
    }

    pub fn append(&mut self, ents: &[Entry]) {
        if let Some(first) = ents.first() {
            self.entries.split_off(&first.index);
        }
        for e in ents {
            self.entries.insert(e.index, (e.term, e.data.clone()));
        }
    }

    pub fn create_snapshot(&mut self, index: u64, term: u64) {
        self.snap = (index, term);
        self.entries = self.entries.split_off(&(index + 1));
    }

    pub fn apply_snapshot(&mut self, index: u64, term: u64, cs: &ConfState) {
        self.snap = (index, term);
        self.entries.clear();
        if term > self.hs.term {
            self.hs.term = term;
            self.hs.vote = 0;
        }
        self.hs.commit = self.hs.commit.max(index);
        self.cs = cs.clone();
    }

    pub fn view(&self) -> View {
        View {
            snap: self.snap,
            entries: self
                .entries
                .iter()
                .map(|(i, (t, d))| (*i, *t, d.clone()))
                .collect(),
            hs: (self.hs.term, self.hs.vote, self.hs.commit),
            cs: self.cs.clone(),
        }
    }
}
