//! Crash-point injection: a fixed workload runs on a [`SimDisk`] that fails
//! every mutating operation from number `k` on ("the machine is going
//! down"), then crashes, dropping every unsynced byte, name and removal, or
//! tearing the last unsynced write to a prefix (the rest of the write gone,
//! or left as zeros or garbage). For every `k` and tear,
//! reopening must succeed and show exactly the state after the last
//! acknowledged step, or a state the interrupted step could have reached
//! (a prefix of its records, in order). So every acknowledged entry is
//! present unless a later *staged* append replaced it, and the hard state
//! never moves backwards: no second vote in a term.

use std::sync::Arc;

use std::cell::Cell;

use super::*;

thread_local! {
    static FAULTED: Cell<bool> = const { Cell::new(false) };
}

/// Tiny segments (a rotation at almost every sync) and large ones (none).
const SEGMENTS: [u64; 2] = [200, 1 << 20];

enum Step {
    Bootstrap,
    Batch {
        entries: Vec<Entry>,
        hs: Option<HardState>,
        cs: Option<ConfState>,
    },
    CreateSnapshot(u64, u64),
    ApplySnapshot(Snapshot),
}

fn batch(range: std::ops::RangeInclusive<u64>, term: u64, hs: Option<HardState>) -> Step {
    Step::Batch {
        entries: range.map(|i| ent(i, term, term)).collect(),
        hs,
        cs: None,
    }
}

/// Indexes are written `g + i`: the log starts right after the genesis
/// snapshot at `g`.
fn workload() -> Vec<Step> {
    let g = GENESIS_INDEX;
    vec![
        Step::Bootstrap,
        // Term 1: a vote, then entries.
        Step::Batch {
            entries: vec![],
            hs: Some(hs(1, 1, g)),
            cs: None,
        },
        batch(g + 1..=g + 3, 1, Some(hs(1, 1, g))),
        batch(g + 4..=g + 5, 1, Some(hs(1, 1, g + 3))),
        // Term 2: a new leader replaces g+4..g+5.
        batch(g + 4..=g + 6, 2, Some(hs(2, 2, g + 3))),
        Step::Batch {
            entries: vec![],
            hs: Some(hs(2, 2, g + 6)),
            cs: Some(voters(&[1, 2])),
        },
        Step::CreateSnapshot(g + 5, 2),
        batch(g + 7..=g + 10, 2, Some(hs(2, 2, g + 8))),
        // Term 3: no vote yet, then a vote.
        batch(g + 11..=g + 11, 3, Some(hs(3, 0, g + 8))),
        batch(g + 12..=g + 12, 3, Some(hs(3, 3, g + 9))),
        Step::ApplySnapshot(snapshot(g + 20, 4, voters(&[1, 2, 3]), b"from the leader")),
        batch(g + 21..=g + 23, 4, Some(hs(4, 1, g + 22))),
        Step::CreateSnapshot(g + 22, 4),
        batch(g + 24..=g + 30, 4, Some(hs(4, 1, g + 30))),
        batch(g + 31..=g + 31, 5, Some(hs(5, 2, g + 30))),
    ]
}

/// Runs the workload until a step fails. Returns the states a reopen may
/// show: the last acknowledged state first.
fn run(disk: &SimDisk, segment: u64) -> Vec<ModelLog> {
    let mut model = ModelLog::default();
    let mut store: Option<DurableStore> = None;
    for step in workload() {
        let mut candidates = vec![model.clone()];
        let mut m = model.clone();
        let res = match step {
            Step::Bootstrap => {
                // The genesis snapshot, committed, in its term, no vote.
                m.snap = (GENESIS_INDEX, GENESIS_TERM);
                m.hs = hs(GENESIS_TERM, 0, GENESIS_INDEX);
                m.cs = voters(&[1]);
                candidates.push(m);
                DurableStore::bootstrap(
                    Arc::new(disk.clone()),
                    dir(),
                    opts(segment),
                    &members(&["CN=a"]),
                )
                .map(|(s, _)| store = Some(s))
            }
            Step::Batch { entries, hs, cs } => {
                for e in &entries {
                    m.append(std::slice::from_ref(e));
                    candidates.push(m.clone());
                }
                if let Some(h) = &hs {
                    m.hs = h.clone();
                    candidates.push(m.clone());
                }
                if let Some(c) = &cs {
                    m.cs = c.clone();
                    candidates.push(m.clone());
                }
                let Some(s) = store.as_mut() else { break };
                (|| {
                    s.append(&entries)?;
                    if let Some(h) = &hs {
                        s.set_hard_state(h)?;
                    }
                    if let Some(c) = &cs {
                        s.set_conf_state(c)?;
                    }
                    s.sync().map(|_| ())
                })()
            }
            Step::CreateSnapshot(i, t) => {
                m.create_snapshot(i, t);
                candidates.push(m);
                let Some(s) = store.as_mut() else { break };
                s.create_snapshot(i, t, voters(&[1, 2]), b"local".to_vec())
            }
            Step::ApplySnapshot(snap) => {
                let meta = snap.get_metadata();
                m.apply_snapshot(meta.index, meta.term, meta.get_conf_state());
                candidates.push(m);
                let Some(s) = store.as_mut() else { break };
                s.apply_snapshot(snap)
            }
        };
        match res {
            Ok(()) => model = candidates.pop().unwrap_or_default(),
            Err(e) => {
                if disk.stats().ops > 0 && !FAULTED.with(|f| f.get()) {
                    panic!("step failed without a fault: {e}");
                }
                return candidates;
            }
        }
    }
    vec![model]
}

#[test]
fn every_crash_point_recovers_an_acknowledged_or_in_flight_state() {
    for segment in SEGMENTS {
        crash_points(segment);
    }
}

/// Tear sizes (bytes of the last write kept; `None`: none of it), each with
/// the rest of the write gone, zero-filled or garbage. Sizes cut inside a
/// header (1, 9), inside a payload (40) and after the last record.
fn tears() -> Vec<(Option<usize>, TearFill)> {
    let mut out = vec![(None, TearFill::Nothing)];
    for keep in [0, 1, 9, 40, 100] {
        for fill in [TearFill::Nothing, TearFill::Zeros, TearFill::Garbage] {
            out.push((Some(keep), fill));
        }
    }
    out.push((Some(usize::MAX), TearFill::Nothing));
    out
}

fn crash_points(segment: u64) {
    // A clean run counts the operations.
    FAULTED.with(|f| f.set(false));
    let clean = SimDisk::new();
    let end = run(&clean, segment);
    assert_eq!(end.len(), 1);
    let total = clean.stats().ops;
    assert!(total > 40, "only {total} operations");
    let (store, _) = open_sim(&clean, segment).unwrap();
    assert_eq!(view(&store), end[0].view());
    drop(store);

    FAULTED.with(|f| f.set(true));
    let mut runs = 0;
    for k in 0..=total {
        for (tear, fill) in tears() {
            let disk = SimDisk::new();
            disk.set_fault(Some(Fault {
                at_op: k,
                then_dead: true,
            }));
            let allowed = run(&disk, segment);
            disk.crash_tearing_filled(tear, fill);
            let (mut store, report) = match open_sim(&disk, segment) {
                Ok(s) => s,
                Err(e) => {
                    panic!("segment {segment}, crash at op {k}, tear {tear:?} {fill:?}: reopen failed: {e}")
                }
            };
            let got = view(&store);
            let ok = allowed.iter().any(|m| m.view() == got);
            assert!(
                ok,
                "segment {segment}, crash at op {k}, tear {tear:?} {fill:?}: recovered {got:#?}\nallowed {:#?}\nreport {report:?}",
                allowed.iter().map(ModelLog::view).collect::<Vec<_>>()
            );
            // The recovered store keeps working and stays recovered.
            if store.is_initialized() {
                let last = store.last_index();
                let term = store.hard_state().term.max(store.term(last).unwrap_or(0));
                store.append(&[ent(last + 1, term, 99)]).unwrap();
                store.sync().unwrap();
                let after = view(&store);
                drop(store);
                let (store, report) = open_sim(&disk, segment).unwrap();
                assert_eq!(
                    view(&store),
                    after,
                    "segment {segment}, crash at op {k}, tear {tear:?} {fill:?}"
                );
                assert!(report.torn_tail.is_none());
            }
            runs += 1;
        }
    }
    assert!(runs > 200);
}
