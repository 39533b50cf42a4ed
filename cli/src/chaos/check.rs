//! The checker of `synod chaos`: what a history of compare-and-set
//! transitions and linearizable reads, and the members' final states, must
//! satisfy. Each rule returns a violation naming the range, epoch, member
//! and times involved; an empty list means the run was correct.
//!
//! Per range:
//! * acknowledged epochs strictly increase in acknowledgement order, no two
//!   acknowledged transitions share an epoch, and no two acknowledged
//!   transitions (of any ranges) share a log index;
//! * every value seen (by a read, in a member's state, applied in a member's
//!   log) is (owner, epoch) of a transition that was proposed before it was
//!   seen and not answered as failed; for an acknowledged epoch it is that
//!   transition, at its index; one (range, epoch) is never seen with two
//!   different owners or indexes;
//! * a read that began after (range, epoch) was acknowledged sees that epoch
//!   or a later one, and a read that began after another read ended sees
//!   that read's epoch or a later one.
//!
//! At the end, on every member: every acknowledged transition is there (the
//! range is at its epoch with its owner and index, or at a later epoch), the
//! members agree, and the log in its data directory holds each
//! acknowledged transition at its index (unless compacted into a snapshot).
//! Writes of unknown outcome may or may not appear.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::history::{MemberFinal, Op, ReadResult, Seen, WriteResult};

/// A proposed transition.
struct Attempt<'a> {
    worker: &'a str,
    owner: &'a str,
    epoch: u64,
    invoke: u64,
    complete: u64,
    result: &'a WriteResult,
}

/// A read that returned a value.
struct ReadSeen<'a> {
    worker: &'a str,
    invoke: u64,
    complete: u64,
    seen: Option<&'a Seen>,
}

impl ReadSeen<'_> {
    fn epoch(&self) -> u64 {
        self.seen.map_or(0, |s| s.epoch)
    }
}

#[derive(Default)]
struct RangeOps<'a> {
    attempts: Vec<Attempt<'a>>,
    reads: Vec<ReadSeen<'a>>,
    /// Positions in `attempts` by epoch.
    by_epoch: HashMap<u64, Vec<usize>>,
    /// The acknowledged attempts (position, index), in acknowledgement
    /// order.
    acked: Vec<(usize, u64)>,
}

fn secs(us: u64) -> String {
    if us == u64::MAX {
        "never".into()
    } else {
        format!("{:.3}s", us as f64 / 1e6)
    }
}

fn show(seen: Option<&Seen>) -> String {
    match seen {
        None => "no owner".into(),
        Some(s) => format!("epoch {} owner {} index {}", s.epoch, s.owner, s.index),
    }
}

/// The history grouped by range.
struct Ranges<'a> {
    by_range: BTreeMap<&'a str, RangeOps<'a>>,
}

impl<'a> Ranges<'a> {
    fn new(ops: &'a [Op]) -> Self {
        let mut by_range: BTreeMap<&str, RangeOps> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Write {
                    worker,
                    range,
                    owner,
                    epoch,
                    invoke,
                    complete,
                    result,
                } => by_range
                    .entry(range.as_ref())
                    .or_default()
                    .attempts
                    .push(Attempt {
                        worker: worker.as_ref(),
                        owner: owner.as_ref(),
                        epoch: *epoch,
                        invoke: *invoke,
                        complete: *complete,
                        result,
                    }),
                Op::Read {
                    worker,
                    range,
                    invoke,
                    complete,
                    result: ReadResult::Value(seen),
                } => by_range
                    .entry(range.as_ref())
                    .or_default()
                    .reads
                    .push(ReadSeen {
                        worker: worker.as_ref(),
                        invoke: *invoke,
                        complete: *complete,
                        seen: seen.as_ref(),
                    }),
                Op::Read { .. } => {}
            }
        }
        for r in by_range.values_mut() {
            for (i, a) in r.attempts.iter().enumerate() {
                r.by_epoch.entry(a.epoch).or_default().push(i);
                if let WriteResult::Acked { index } = a.result {
                    r.acked.push((i, *index));
                }
            }
            let attempts = &r.attempts;
            r.acked.sort_by_key(|&(i, _)| attempts[i].complete);
        }
        Self { by_range }
    }

    /// The acknowledged transitions of `range`, in acknowledgement order.
    fn acked(&self, range: &str) -> Vec<(&Attempt<'a>, u64)> {
        self.by_range.get(range).map_or_else(Vec::new, |r| {
            r.acked
                .iter()
                .map(|&(i, index)| (&r.attempts[i], index))
                .collect()
        })
    }

    /// Why `seen` cannot be a value of `range` observed by an operation that
    /// completed at `before` (`None`: at the end), if it cannot.
    fn impossible(&self, range: &str, seen: &Seen, before: Option<u64>) -> Option<String> {
        let same: Vec<&Attempt> = self.by_range.get(range).map_or_else(Vec::new, |r| {
            r.by_epoch
                .get(&seen.epoch)
                .map_or_else(Vec::new, |v| v.iter().map(|&i| &r.attempts[i]).collect())
        });
        if let Some((a, index)) = same.iter().find_map(|a| match a.result {
            WriteResult::Acked { index } => Some((a, *index)),
            _ => None,
        }) {
            if a.owner != &*seen.owner || index != seen.index {
                return Some(format!(
                    "conflicts with the acknowledged transition to epoch {} owner {} at index {} ({})",
                    a.epoch, a.owner, index, a.worker
                ));
            }
            if before.is_some_and(|b| a.invoke >= b) {
                return Some(format!(
                    "that transition was proposed only later, at {} ({})",
                    secs(a.invoke),
                    a.worker
                ));
            }
            return None;
        }
        let candidates: Vec<&&Attempt> = same.iter().filter(|a| a.owner == &*seen.owner).collect();
        if candidates.iter().any(|a| {
            before.is_none_or(|b| a.invoke < b)
                && matches!(
                    a.result,
                    WriteResult::Indeterminate(_) | WriteResult::Pending
                )
        }) {
            return None;
        }
        if let Some(a) = candidates
            .iter()
            .find(|a| matches!(a.result, WriteResult::Failed(_)))
        {
            let why = match a.result {
                WriteResult::Failed(e) => e.as_str(),
                _ => "",
            };
            return Some(format!(
                "that transition was answered as not taken effect ({}, {}..{}: {why})",
                a.worker,
                secs(a.invoke),
                secs(a.complete)
            ));
        }
        if let Some(a) = candidates.first() {
            return Some(format!(
                "that transition was proposed only later, at {} ({})",
                secs(a.invoke),
                a.worker
            ));
        }
        Some("no such transition was ever proposed".into())
    }
}

/// Checks the history alone (usable mid-run: pending writes count as of
/// unknown outcome).
pub fn check_history(ops: &[Op]) -> Vec<String> {
    let ranges = Ranges::new(ops);
    let mut out = Vec::new();
    let mut by_index: HashMap<u64, (&str, u64)> = HashMap::new();
    for (range, r) in &ranges.by_range {
        let acked = ranges.acked(range);
        // Acknowledged epochs strictly increase; none is acknowledged twice.
        for w in acked.windows(2) {
            let ((a, ia), (b, ib)) = (w[0], w[1]);
            if b.epoch <= a.epoch {
                out.push(format!(
                    "{range}: epoch {} (index {ib}, acknowledged at {}) was acknowledged after epoch {} (index {ia}, at {})",
                    b.epoch,
                    secs(b.complete),
                    a.epoch,
                    secs(a.complete)
                ));
            }
        }
        for &(a, index) in &acked {
            if let Some((other, epoch)) = by_index.insert(index, (range, a.epoch)) {
                out.push(format!(
                    "index {index} acknowledged twice: {other} epoch {epoch} and {range} epoch {}",
                    a.epoch
                ));
            }
        }
        // One (range, epoch) has one value.
        let mut values: BTreeMap<u64, &Seen> = BTreeMap::new();
        for rd in &r.reads {
            if let Some(s) = rd.seen {
                match values.get(&s.epoch) {
                    Some(v) if *v != s => out.push(format!(
                        "{range}: epoch {} seen as owner {} index {} and as owner {} index {}",
                        s.epoch, v.owner, v.index, s.owner, s.index
                    )),
                    Some(_) => {}
                    None => {
                        values.insert(s.epoch, s);
                    }
                }
                if let Some(why) = ranges.impossible(range, s, Some(rd.complete)) {
                    out.push(format!(
                        "{range}: a read by {} ({}..{}) saw {}: {why}",
                        rd.worker,
                        secs(rd.invoke),
                        secs(rd.complete),
                        show(Some(s))
                    ));
                }
            }
        }
        // A read sees every transition acknowledged before it began.
        let mut prefix_max: Vec<(u64, usize)> = Vec::with_capacity(acked.len());
        for (i, (a, _)) in acked.iter().enumerate() {
            let best = match prefix_max.last() {
                Some(&(e, j)) if e >= a.epoch => (e, j),
                _ => (a.epoch, i),
            };
            prefix_max.push(best);
        }
        for rd in &r.reads {
            let n = acked.partition_point(|(a, _)| a.complete < rd.invoke);
            if n == 0 {
                continue;
            }
            let (epoch, j) = prefix_max[n - 1];
            if rd.epoch() < epoch {
                let (a, index) = acked[j];
                out.push(format!(
                    "{range}: stale read by {} ({}..{}) saw {}, but epoch {epoch} (owner {}, index {index}) was acknowledged at {}",
                    rd.worker,
                    secs(rd.invoke),
                    secs(rd.complete),
                    show(rd.seen),
                    a.owner,
                    secs(a.complete)
                ));
            }
        }
        // Reads never go back in real time.
        let mut by_complete: Vec<&ReadSeen> = r.reads.iter().collect();
        by_complete.sort_by_key(|rd| rd.complete);
        let mut best: Vec<usize> = Vec::with_capacity(by_complete.len());
        for (i, rd) in by_complete.iter().enumerate() {
            let b = match best.last() {
                Some(&j) if by_complete[j].epoch() >= rd.epoch() => j,
                _ => i,
            };
            best.push(b);
        }
        for rd in &r.reads {
            let n = by_complete.partition_point(|p| p.complete < rd.invoke);
            if n == 0 {
                continue;
            }
            let earlier = by_complete[best[n - 1]];
            if rd.epoch() < earlier.epoch() {
                out.push(format!(
                    "{range}: a read by {} ({}..{}) saw {}, after a read by {} ({}..{}) saw {}",
                    rd.worker,
                    secs(rd.invoke),
                    secs(rd.complete),
                    show(rd.seen),
                    earlier.worker,
                    secs(earlier.invoke),
                    secs(earlier.complete),
                    show(earlier.seen)
                ));
            }
        }
    }
    out
}

/// Checks the members' final states (and their logs) against the history.
pub fn check_final(ops: &[Op], finals: &[MemberFinal]) -> Vec<String> {
    let ranges = Ranges::new(ops);
    let mut out = Vec::new();
    let written: BTreeSet<&str> = ranges.by_range.keys().copied().collect();
    let state_check = |out: &mut Vec<String>, what: &str, state: &BTreeMap<String, Seen>| {
        for &range in &written {
            let have = state.get(range);
            if let Some(&(a, index)) = ranges.acked(range).last() {
                if have.is_none_or(|h| h.epoch < a.epoch) {
                    out.push(format!(
                        "{what}: the acknowledged transition of {range} to epoch {} (owner {}, index {index}) is missing: it has {}",
                        a.epoch,
                        a.owner,
                        show(have)
                    ));
                    continue;
                }
            }
            if let Some(h) = have {
                if let Some(why) = ranges.impossible(range, h, None) {
                    out.push(format!("{what}: {range} is at {}: {why}", show(Some(h))));
                }
            }
        }
        for range in state.keys().filter(|r| !written.contains(r.as_str())) {
            out.push(format!("{what}: holds {range}, which no one wrote"));
        }
    };
    let mut reference: Option<(&str, &BTreeMap<String, Seen>)> = None;
    for m in finals {
        match &m.live {
            None => out.push(format!("{}: its state could not be read", m.name)),
            Some(live) => {
                state_check(&mut out, &m.name, live);
                match reference {
                    None => reference = Some((&m.name, live)),
                    Some((other, theirs)) => {
                        for range in live.keys().chain(theirs.keys()).collect::<BTreeSet<_>>() {
                            if live.get(range) != theirs.get(range) {
                                out.push(format!(
                                    "{} and {other} disagree on {range}: {} vs {}",
                                    m.name,
                                    show(live.get(range)),
                                    show(theirs.get(range))
                                ));
                            }
                        }
                    }
                }
            }
        }
        let Some(log) = &m.log else {
            out.push(format!("{}: its data directory could not be read", m.name));
            continue;
        };
        let what = format!("{} (data directory)", m.name);
        state_check(&mut out, &what, &log.ranges);
        for &range in &written {
            for (a, index) in ranges.acked(range) {
                if index <= log.snapshot_index {
                    continue;
                }
                if index > log.replayed_to {
                    out.push(format!(
                        "{what}: the acknowledged transition of {range} to epoch {} at index {index} is not in its log up to the commit index ({} replayed; recorded commit {})",
                        a.epoch, log.replayed_to, log.recorded_commit
                    ));
                    continue;
                }
                let expect = (range.to_string(), a.owner.to_string(), a.epoch);
                match log.applied.get(&index) {
                    Some(got) if *got == expect => {}
                    got => out.push(format!(
                        "{what}: the acknowledged transition of {range} to epoch {} (owner {}) at index {index} is not what its log applied there ({})",
                        a.epoch,
                        a.owner,
                        got.map_or("nothing".into(), |(r, o, e)| format!("{r} epoch {e} owner {o}"))
                    )),
                }
            }
        }
        for (&index, (range, owner, epoch)) in &log.applied {
            let seen = Seen {
                owner: owner.as_str().into(),
                epoch: *epoch,
                index,
            };
            if let Some(why) = ranges.impossible(range, &seen, None) {
                out.push(format!(
                    "{what}: its log applied {range} epoch {epoch} owner {owner} at index {index}: {why}"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::history::LogView;
    use super::*;

    fn write(range: &str, owner: &str, epoch: u64, t: (u64, u64), result: WriteResult) -> Op {
        Op::Write {
            worker: "w".into(),
            range: range.into(),
            owner: owner.into(),
            epoch,
            invoke: t.0,
            complete: t.1,
            result,
        }
    }

    fn read(range: &str, t: (u64, u64), seen: Option<(&str, u64, u64)>) -> Op {
        Op::Read {
            worker: "r".into(),
            range: range.into(),
            invoke: t.0,
            complete: t.1,
            result: ReadResult::Value(seen.map(|(o, e, i)| Seen {
                owner: o.into(),
                epoch: e,
                index: i,
            })),
        }
    }

    fn acked(index: u64) -> WriteResult {
        WriteResult::Acked { index }
    }

    /// Two transitions of range `a`, an indeterminate third, and reads
    /// that are all correct.
    fn good() -> Vec<Op> {
        vec![
            write("a", "n1", 1, (0, 10), acked(5)),
            read("a", (11, 12), Some(("n1", 1, 5))),
            write("a", "n2", 2, (20, 30), acked(7)),
            write(
                "a",
                "n3",
                3,
                (40, 50),
                WriteResult::Indeterminate("t".into()),
            ),
            read("a", (31, 60), Some(("n3", 3, 9))),
            read("a", (61, 62), Some(("n3", 3, 9))),
            write(
                "a",
                "n1",
                4,
                (70, 71),
                WriteResult::Failed("refused".into()),
            ),
            read("a", (72, 73), Some(("n3", 3, 9))),
        ]
    }

    fn state(entries: &[(&str, &str, u64, u64)]) -> BTreeMap<String, Seen> {
        entries
            .iter()
            .map(|&(r, o, e, i)| {
                (
                    r.to_string(),
                    Seen {
                        owner: o.into(),
                        epoch: e,
                        index: i,
                    },
                )
            })
            .collect()
    }

    fn member(
        name: &str,
        live: &[(&str, &str, u64, u64)],
        applied: &[(u64, &str, &str, u64)],
    ) -> MemberFinal {
        MemberFinal {
            name: name.into(),
            live: Some(state(live)),
            log: Some(LogView {
                snapshot_index: 4,
                recorded_commit: 8,
                replayed_to: 9,
                applied: applied
                    .iter()
                    .map(|&(i, r, o, e)| (i, (r.to_string(), o.to_string(), e)))
                    .collect(),
                ranges: state(live),
            }),
        }
    }

    fn good_members() -> Vec<MemberFinal> {
        let applied = [(5, "a", "n1", 1), (7, "a", "n2", 2), (9, "a", "n3", 3)];
        vec![
            member("m1", &[("a", "n3", 3, 9)], &applied),
            member("m2", &[("a", "n3", 3, 9)], &applied),
        ]
    }

    #[test]
    fn a_correct_history_passes() {
        assert_eq!(check_history(&good()), Vec::<String>::new());
        assert_eq!(check_final(&good(), &good_members()), Vec::<String>::new());
    }

    fn fails(ops: &[Op], finals: &[MemberFinal], needle: &str) {
        let mut v = check_history(ops);
        v.extend(check_final(ops, finals));
        assert!(
            v.iter().any(|x| x.contains(needle)),
            "expected a violation containing {needle:?}, got {v:#?}"
        );
    }

    #[test]
    fn a_stale_read_is_caught() {
        let mut h = good();
        h.push(read("a", (35, 36), Some(("n1", 1, 5))));
        fails(&h, &good_members(), "stale read");
    }

    #[test]
    fn a_read_going_back_is_caught() {
        let mut h = good();
        // After the read at 31..60 saw epoch 3 (of unknown outcome, so no
        // acknowledgement forces it), a later read sees epoch 2.
        h.push(read("a", (65, 66), Some(("n2", 2, 7))));
        fails(&h, &good_members(), "after a read by");
    }

    #[test]
    fn values_never_proposed_or_refused_or_from_the_future_are_caught() {
        let mut h = good();
        h.push(read("a", (80, 81), Some(("n9", 9, 99))));
        fails(&h, &good_members(), "was ever proposed");
        let mut h = good();
        h.push(read("a", (80, 81), Some(("n1", 4, 11))));
        fails(&h, &good_members(), "not taken effect");
        let mut h = good();
        h.push(read("a", (1, 2), Some(("n2", 2, 7))));
        fails(&h, &good_members(), "only later");
        let mut h = good();
        h.push(read("a", (80, 81), Some(("n1", 2, 7))));
        fails(&h, &good_members(), "conflicts with the acknowledged");
    }

    #[test]
    fn acknowledgements_out_of_order_or_twice_are_caught() {
        let mut h = good();
        h.push(write("a", "n1", 2, (90, 91), acked(12)));
        fails(&h, &good_members(), "was acknowledged after epoch");
        let mut h = good();
        h.push(write("b", "n1", 1, (90, 91), acked(7)));
        fails(&h, &good_members(), "acknowledged twice");
    }

    #[test]
    fn a_transition_missing_on_a_member_is_caught() {
        // Epoch 4 is acknowledged at index 11; m1 has it, m2 stops at 3.
        let mut members = good_members();
        let mut h = good();
        h.push(write("a", "n1", 4, (80, 90), acked(11)));
        members[1] = member(
            "m2",
            &[("a", "n3", 3, 9)],
            &[(5, "a", "n1", 1), (7, "a", "n2", 2), (9, "a", "n3", 3)],
        );
        members[0] = member(
            "m1",
            &[("a", "n1", 4, 11)],
            &[(5, "a", "n1", 1), (7, "a", "n2", 2), (9, "a", "n3", 3)],
        );
        fails(&h, &members, "is missing");
        fails(&h, &members, "disagree");
        fails(&h, &members, "not in its log up to the commit index");
    }

    #[test]
    fn a_log_that_applied_something_else_is_caught() {
        let mut members = good_members();
        members[0] = member(
            "m1",
            &[("a", "n3", 3, 9)],
            &[(5, "a", "n1", 1), (7, "a", "n3", 2), (9, "a", "n3", 3)],
        );
        fails(&good(), &members, "is not what its log applied");
        members[0] = member(
            "m1",
            &[("a", "n3", 3, 9)],
            &[
                (5, "a", "n1", 1),
                (7, "a", "n2", 2),
                (9, "a", "n3", 3),
                (8, "a", "n1", 4),
            ],
        );
        fails(&good(), &members, "its log applied a epoch 4 owner n1");
        let mut members = good_members();
        members[1].live = None;
        fails(&good(), &members, "could not be read");
        let mut members = good_members();
        members[1].live = Some(state(&[("a", "n3", 3, 9), ("z", "n1", 1, 3)]));
        fails(&good(), &members, "which no one wrote");
    }
}
