//! Model-based property test: random operation sequences (append with
//! conflicting suffixes, hard state, sync, snapshot, compaction, snapshot
//! install, crash-and-reopen) run against the store on a [`SimDisk`] with
//! small segments and against [`ModelLog`]; after every operation the store
//! shows the model's staged state, and after every reopen its synced one.

use proptest::prelude::*;

use super::*;

const SEGMENT: u64 = 160;

#[derive(Debug, Clone)]
enum Op {
    /// Append `n` entries starting `back` entries before `last + 1`
    /// (never at or below the commit index), in a new term if `bump`.
    Append {
        back: u8,
        n: u8,
        bump: bool,
    },
    /// Advance the commit index by up to `by`, and maybe vote.
    HardState {
        by: u8,
        vote: bool,
    },
    ConfState(u8),
    Sync,
    /// Snapshot at a committed index (a fraction of the way from the
    /// snapshot to the commit index).
    CreateSnapshot(u8),
    /// Install a leader's snapshot `ahead` entries past the last index.
    ApplySnapshot(u8),
    Compact,
    /// Drop the store without syncing, lose everything unsynced, reopen.
    CrashReopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 1u8..6, any::<bool>()).prop_map(|(back, n, bump)| Op::Append { back, n, bump }),
        3 => (0u8..5, any::<bool>()).prop_map(|(by, vote)| Op::HardState { by, vote }),
        1 => (1u8..5).prop_map(Op::ConfState),
        4 => Just(Op::Sync),
        1 => any::<u8>().prop_map(Op::CreateSnapshot),
        1 => (0u8..5).prop_map(Op::ApplySnapshot),
        1 => Just(Op::Compact),
        2 => Just(Op::CrashReopen),
    ]
}

fn check(store: &DurableStore, model: &ModelLog, ctx: &str) -> Result<(), TestCaseError> {
    let v = view(store);
    prop_assert_eq!(&v, &model.view(), "{}", ctx);
    prop_assert_eq!(store.first_index(), model.first());
    prop_assert_eq!(store.last_index(), model.last());
    let h = store.handle();
    use raft::Storage as _;
    for i in model.first().saturating_sub(1)..=model.last() {
        prop_assert_eq!(h.term(i).ok(), model.term(i));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let disk = SimDisk::new();
        let (mut store, _) = open_sim(&disk, SEGMENT).unwrap();
        let mut staged = ModelLog::default();
        let mut synced = ModelLog::default();
        let mut term = 1u64;
        let mut salt = 0u64;
        for (n, op) in ops.iter().enumerate() {
            salt += 1;
            let ctx = format!("op {n}: {op:?}");
            match op {
                Op::Append { back, n, bump } => {
                    if *bump { term += 1; }
                    let floor = staged.first().max(staged.hs.commit + 1);
                    let start = (staged.last() + 1).saturating_sub(u64::from(*back)).max(floor);
                    let ents: Vec<Entry> = (start..start + u64::from(*n)).map(|i| ent(i, term, salt)).collect();
                    store.append(&ents).unwrap();
                    staged.append(&ents);
                }
                Op::HardState { by, vote } => {
                    let mut h = staged.hs.clone();
                    if term > h.term { h.term = term; h.vote = 0; }
                    if *vote && h.vote == 0 { h.vote = 1 + salt % 3; }
                    h.commit = (h.commit + u64::from(*by)).min(staged.last()).max(h.commit);
                    store.set_hard_state(&h).unwrap();
                    staged.hs = h;
                }
                Op::ConfState(k) => {
                    let cs = voters(&(1..=u64::from(*k)).collect::<Vec<_>>());
                    store.set_conf_state(&cs).unwrap();
                    staged.cs = cs;
                }
                Op::Sync => {
                    store.sync().unwrap();
                    synced = staged.clone();
                }
                Op::CreateSnapshot(frac) => {
                    let (s, c) = (staged.snap.0, staged.hs.commit);
                    if c > s {
                        let i = s + 1 + (c - s - 1) * u64::from(*frac) / 255;
                        let t = staged.term(i).unwrap();
                        store.create_snapshot(i, t, staged.cs.clone(), vec![1, 2, 3]).unwrap();
                        staged.create_snapshot(i, t);
                        synced = staged.clone();
                    }
                }
                Op::ApplySnapshot(ahead) => {
                    let i = staged.last().max(staged.snap.0 + 1) + u64::from(*ahead);
                    term += 1;
                    let cs = voters(&[1, 2, 3]);
                    store.apply_snapshot(snapshot(i, term, cs.clone(), b"x")).unwrap();
                    staged.apply_snapshot(i, term, &cs);
                    synced = staged.clone();
                }
                Op::Compact => {
                    store.compact(staged.first()).unwrap();
                }
                Op::CrashReopen => {
                    drop(store);
                    disk.crash();
                    store = open_sim(&disk, SEGMENT).unwrap().0;
                    staged = synced.clone();
                    term = term.max(staged.hs.term);
                }
            }
            check(&store, &staged, &ctx)?;
        }
        store.sync().unwrap();
        drop(store);
        let (store, report) = open_sim(&disk, SEGMENT).unwrap();
        prop_assert!(report.torn_tail.is_none());
        check(&store, &staged, "final reopen")?;
    }
}
