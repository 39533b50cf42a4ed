//! The simulator is green on a sweep of seeds, replays bit for bit, and
//! catches every deliberately broken engine: the proof its checker is not
//! vacuous. (`.ci/run` also sweeps 2,000 seeds with the release build.)

use synod::sim::Mutant;
use synod::sim::{run_seed, run_seeds, SimOptions};

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn a_sweep_of_seeds_is_clean() {
    let mut failures = Vec::new();
    let bad = run_seeds(&SimOptions::new(10_000), 150, threads(), |r| {
        if !r.violations.is_empty() {
            failures.push((r.seed, r.violations.clone()));
        }
    });
    assert_eq!(bad, 0, "{failures:#?}");
}

#[test]
fn five_members_are_clean_too() {
    let mut base = SimOptions::new(20_000);
    base.nodes = 5;
    let mut failures = Vec::new();
    let bad = run_seeds(&base, 40, threads(), |r| {
        if !r.violations.is_empty() {
            failures.push((r.seed, r.violations.clone()));
        }
    });
    assert_eq!(bad, 0, "{failures:#?}");
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let a = run_seed(&SimOptions::new(42));
    let b = run_seed(&SimOptions::new(42));
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.violations, b.violations);
    assert!(a.stats.acked > 10, "the workload did work: {:?}", a.stats);
    assert!(a.stats.crashes > 0, "faults were injected: {:?}", a.stats);
    let c = run_seed(&SimOptions::new(43));
    assert_ne!(a.stats, c.stats, "another seed is another run");
}

fn caught_within(mutant: Mutant, seeds: u64) -> Option<(u64, Vec<String>)> {
    let mut base = SimOptions::new(0);
    base.mutant = Some(mutant);
    let mut first = None;
    run_seeds(&base, seeds, threads(), |r| {
        if first.is_none() && !r.violations.is_empty() {
            first = Some((r.seed, r.violations.clone()));
        }
    });
    first
}

#[test]
fn a_vote_not_persisted_before_granting_is_caught() {
    let (seed, v) =
        caught_within(Mutant::VoteNotPersisted, 400).expect("the mutant was not caught");
    assert!(
        v.iter()
            .any(|v| v.contains("voted twice") || v.contains("two leaders")),
        "seed {seed}: {v:?}"
    );
}

#[test]
fn an_epoch_check_skipped_at_apply_is_caught() {
    let (seed, v) =
        caught_within(Mutant::EpochCheckSkippedAtApply, 400).expect("the mutant was not caught");
    assert!(
        v.iter().any(|v| v.contains("fencing")),
        "seed {seed}: {v:?}"
    );
}
