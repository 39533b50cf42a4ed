//! The simulator is green on a sweep of seeds, replays bit for bit, and
//! catches every deliberately broken engine: the proof its checker is not
//! vacuous. (`tests/run-all.sh` also sweeps 20,000 seeds with the release
//! build, and each mutant over 300.)

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
    assert!(
        a.stats.reads > 0,
        "linearizable reads were served: {:?}",
        a.stats
    );
    let c = run_seed(&SimOptions::new(43));
    assert_ne!(a.stats, c.stats, "another seed is another run");
}

/// The first seed (of `seeds` from 0) where `mutant` is caught, with its
/// violations; seeds run in small batches so a mutant caught early costs
/// little.
fn caught_within(mutant: Mutant, seeds: u64) -> Option<(u64, Vec<String>)> {
    let mut first = None;
    let mut start = 0;
    while first.is_none() && start < seeds {
        let mut base = SimOptions::new(start);
        base.mutant = Some(mutant);
        let n = 8.min(seeds - start);
        run_seeds(&base, n, threads(), |r| {
            if first.is_none() && !r.violations.is_empty() {
                first = Some((r.seed, r.violations.clone()));
            }
        });
        start += n;
    }
    first
}

fn assert_caught(mutant: Mutant, seeds: u64, what: &[&str]) {
    let (seed, v) = caught_within(mutant, seeds).expect("the mutant was not caught");
    assert!(
        v.iter().any(|v| what.iter().any(|w| v.contains(w))),
        "seed {seed}: {v:?}"
    );
}

#[test]
fn a_vote_not_persisted_before_granting_is_caught() {
    assert_caught(
        Mutant::VoteNotPersisted,
        400,
        &["voted twice", "two leaders", "durability: peer"],
    );
}

#[test]
fn an_epoch_check_skipped_at_apply_is_caught() {
    assert_caught(Mutant::EpochCheckSkippedAtApply, 400, &["fencing"]);
}

#[test]
fn a_retry_applied_twice_is_caught() {
    assert_caught(Mutant::RetryWithoutDedup, 200, &["exactly once"]);
}

#[test]
fn a_read_context_reused_across_incarnations_is_caught() {
    assert_caught(Mutant::ReadContextReuse, 200, &["linearizable read"]);
}

#[test]
fn an_acknowledgement_sent_before_its_fsync_is_caught() {
    assert_caught(
        Mutant::AckBeforeSync,
        200,
        &[
            "voted twice",
            "two leaders",
            "state machine safety",
            "durability",
            "leader completeness",
            "panicked",
        ],
    );
}

#[test]
fn an_entry_applied_before_it_is_durable_is_caught() {
    assert_caught(Mutant::ApplyBeyondPersisted, 200, &["durability"]);
}

#[test]
fn a_torn_tail_repair_past_the_last_fsync_is_caught() {
    // A damaged store that opens, or refuses without naming the damage, is
    // reported as such; the checker must also see what the cut loses: an
    // acknowledged, committed append, an applied entry, or a term or vote
    // the member's messages showed.
    let mut base = SimOptions::new(0);
    base.mutant = Some(Mutant::TornTailRepair);
    let (mut caught, mut lost) = (0, 0);
    run_seeds(&base, 40, threads(), |r| {
        caught += u32::from(!r.violations.is_empty());
        lost += u32::from(r.violations.iter().any(|v| v.contains("durability: peer")));
    });
    assert!(caught >= 8, "caught in {caught} of 40 seeds");
    assert!(lost >= 4, "lost records seen in {lost} of 40 seeds");
}

#[test]
fn a_damaged_disk_is_refused_and_its_member_stays_down() {
    let (mut damaged, mut refused) = (0, 0);
    let mut failures = Vec::new();
    let bad = run_seeds(&SimOptions::new(30_000), 40, threads(), |r| {
        damaged += r.stats.damaged;
        refused += r.stats.refused;
        if !r.violations.is_empty() {
            failures.push((r.seed, r.violations.clone()));
        }
    });
    assert_eq!(bad, 0, "{failures:#?}");
    assert!(damaged >= 10, "disks were damaged in {damaged} of 40 seeds");
    assert_eq!(refused, damaged, "every damaged store refused to open");
}
