//! The simulator's safety checker: the rules of Raft and of the catalog,
//! each checked as the run goes.
//!
//! * Election safety: at most one leader per term.
//! * Vote safety: no member grants its vote to two candidates in one term.
//! * State-machine safety: the same entry (and the same outcome) is applied
//!   at the same index everywhere; a snapshot agrees with what was applied.
//! * Leader completeness: a new leader holds every entry committed before.
//! * Log matching: two logs that agree on an (index, term) agree on every
//!   entry up to it.
//! * Durability: a restarted member's log agrees with everything committed,
//!   and still holds every append it acknowledged that committed (raft
//!   acknowledges an append only once it is durable; only a snapshot may
//!   replace a committed entry); its term is at least the term of every
//!   message it sent (pre-votes aside), and its vote in that term is the
//!   vote its messages showed (raft sends a follower's or candidate's
//!   messages only once its Ready is durable, and a leader campaigned in
//!   its term first).
//! * Fencing: per range, applied epochs strictly grow and one (range, epoch)
//!   has one owner.
//! * Acknowledgement: every acknowledged proposal is the committed entry at
//!   its index, with its term and its client session, and took effect there;
//!   a refusal answered with its index is the refused entry there.
//! * Exactly once: per client session, at most one logged copy has a fresh
//!   outcome (the others answer the first one's), so no session takes effect
//!   twice, and the audit list holds at most one forced transition per
//!   session; a session whose every attempt was answered "did not take
//!   effect" has no logged copy that took effect.
//! * Reads: what a read saw is the catalog's state at the index it reflects,
//!   and a linearizable read reflects every proposal acknowledged before it
//!   started.
//!
//! The durability rules live in `checker/durability.rs`.

mod durability;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::ApplyOutcome;
use crate::engine::Applied;
use crate::entry::{ControlPlaneEntry, Epoch, NodeId, ProposalSession, RangeId};
use crate::storage::DurableStore;

#[derive(Debug, Clone, PartialEq, Eq)]
struct CommittedEntry {
    term: u64,
    entry: Option<ControlPlaneEntry>,
    session: Option<ProposalSession>,
    outcome: Option<ApplyOutcome>,
}

/// A read waiting until the checker knows the state at its index.
#[derive(Debug)]
struct SeenRead {
    tick: u64,
    peer: u64,
    range: RangeId,
    seen: Option<(NodeId, Epoch)>,
}

/// Accumulates observations and the violations they reveal.
#[derive(Debug, Default)]
pub struct Checker {
    violations: Vec<String>,
    leaders: HashMap<u64, u64>,
    leaders_checked: HashSet<(u64, u64)>,
    votes: HashMap<(u64, u64), u64>,
    committed: BTreeMap<u64, CommittedEntry>,
    /// Per committed index, a term at or above the one in which it
    /// committed (the highest term any member had when it was first seen
    /// applied): a leader of a later term must hold it.
    committed_by: HashMap<u64, u64>,
    /// Committed indexes below this were checked for fencing.
    fence_cursor: u64,
    epochs: HashMap<RangeId, Epoch>,
    owners: HashMap<(RangeId, Epoch), NodeId>,
    acked: Vec<(u64, u64, ControlPlaneEntry)>,
    /// The highest index acknowledged so far.
    acked_max: u64,
    /// Per range, (index, owner, epoch) of each applied transition, in
    /// index order: the catalog's ownership at any walked index.
    history: HashMap<RangeId, Vec<(u64, NodeId, Epoch)>>,
    /// Reads of an index not yet walked, by that index.
    reads: BTreeMap<u64, Vec<SeenRead>>,
    /// Per session, the index of its logged copy with a fresh outcome, and
    /// whether that outcome took effect.
    fresh: HashMap<ProposalSession, (u64, bool)>,
    /// Sessions answered "did not take effect" on every attempt.
    not_taken: Vec<(ProposalSession, ControlPlaneEntry, String)>,
    /// Per member, the appends it acknowledged (index to term) that its
    /// restarts have not yet been checked against (because they were not
    /// yet known committed).
    appends: HashMap<u64, BTreeMap<u64, u64>>,
    /// Per member, the highest term of a message it sent (pre-votes aside),
    /// and the vote a message showed in that term (its grant, or its own
    /// candidacy), if one did.
    durable_terms: HashMap<u64, (u64, Option<u64>)>,
}

impl Checker {
    /// A checker with nothing observed.
    pub fn new() -> Self {
        Self {
            // Everything up to the genesis index is the bootstrap snapshot.
            fence_cursor: crate::storage::GENESIS_INDEX + 1,
            ..Self::default()
        }
    }

    /// Ends the run: every committed entry must have gone through the
    /// fencing check (a gap would make that check silently vacuous).
    pub fn finish(&mut self, tick: u64) {
        let max = self.max_committed();
        if self.fence_cursor <= max {
            let cursor = self.fence_cursor;
            self.violation(
                tick,
                format!("checker: committed entries from {cursor} to {max} were never checked (a gap in what was applied)"),
            );
        }
        for (session, entry, answers) in std::mem::take(&mut self.not_taken) {
            if let Some((index, true)) = self.fresh.get(&session) {
                let index = *index;
                self.violation(
                    tick,
                    format!("{entry} in session {}/{} was answered as not taking effect on every attempt ({answers}), but took effect at {index}", session.client, session.seq),
                );
            }
        }
    }

    /// The audit list of a member's catalog: at most one forced transition
    /// per client session.
    pub fn audit(&mut self, tick: u64, peer: u64, audit: &crate::catalog::AuditLog) {
        let mut seen: HashMap<ProposalSession, u64> = HashMap::new();
        for rec in audit {
            let Some(session) = self.committed.get(&rec.index.0).and_then(|c| c.session) else {
                continue;
            };
            if let Some(first) = seen.insert(session, rec.index.0) {
                let at = rec.index;
                self.violation(
                    tick,
                    format!("peer {peer}'s audit list holds the forced transition of session {}/{} twice: at {first} and {at}", session.client, session.seq),
                );
            }
        }
    }

    /// The violations found so far.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// How many entries are known committed.
    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// The highest index known committed.
    pub fn max_committed(&self) -> u64 {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }

    fn violation(&mut self, tick: u64, what: String) {
        // One report per distinct problem is enough to fail the seed.
        if self.violations.len() < 16 {
            self.violations.push(format!("tick {tick}: {what}"));
        }
    }

    /// `voter` granted its vote in `term` to `candidate`.
    pub fn vote(&mut self, tick: u64, voter: u64, term: u64, candidate: u64) {
        match self.votes.insert((voter, term), candidate) {
            Some(previous) if previous != candidate => self.violation(
                tick,
                format!(
                    "peer {voter} voted twice in term {term}: for {previous} and for {candidate}"
                ),
            ),
            _ => {}
        }
    }

    /// `peer` is leader of `term`; `store` is its log.
    pub fn leader(&mut self, tick: u64, term: u64, peer: u64, store: &DurableStore) {
        match self.leaders.insert(term, peer) {
            Some(other) if other != peer => self.violation(
                tick,
                format!("two leaders in term {term}: {other} and {peer}"),
            ),
            _ => {}
        }
        if !self.leaders_checked.insert((term, peer)) {
            return;
        }
        let first = store.first_index();
        let mut missing = None;
        for (index, c) in self.committed.range(first..) {
            // A leader of an older term (one that was cut off or paused)
            // need not hold what later terms committed.
            if self.committed_by.get(index).is_none_or(|t| *t >= term) {
                continue;
            }
            if store.term(*index) != Some(c.term) {
                missing = Some((*index, c.term, store.term(*index)));
                break;
            }
        }
        if let Some((index, want, got)) = missing {
            self.violation(
                tick,
                format!(
                    "leader completeness: leader {peer} of term {term} has term {got:?} at committed index {index} (term {want})"
                ),
            );
        }
    }

    /// `peer` applied `rec`; `max_term` is the highest term of any member
    /// now.
    pub fn applied(&mut self, tick: u64, peer: u64, rec: Applied, max_term: u64) {
        let (index, seen) = match rec {
            Applied::Entry {
                index,
                term,
                entry,
                session,
                outcome,
            } => (
                index.0,
                CommittedEntry {
                    term: term.0,
                    entry: Some(entry),
                    session,
                    outcome: Some(outcome),
                },
            ),
            Applied::Engine { index, term } => (
                index.0,
                CommittedEntry {
                    term: term.0,
                    entry: None,
                    session: None,
                    outcome: None,
                },
            ),
            Applied::Snapshot { index, term } => {
                if let Some(c) = self.committed.get(&index.0) {
                    if c.term != term.0 {
                        let want = c.term;
                        self.violation(
                            tick,
                            format!("peer {peer} installed a snapshot at {index} with term {term}, but term {want} committed there"),
                        );
                    }
                }
                return;
            }
        };
        match self.committed.get(&index) {
            None => {
                self.committed.insert(index, seen);
                self.committed_by.insert(index, max_term);
                self.check_fencing(tick);
            }
            Some(c) if *c == seen => {}
            Some(c) => {
                let c = c.clone();
                self.violation(
                    tick,
                    format!("state machine safety: peer {peer} applied {seen:?} at {index}, others applied {c:?}"),
                )
            }
        }
    }

    /// Walks newly contiguous committed entries and checks the fence.
    fn check_fencing(&mut self, tick: u64) {
        while let Some(c) = self.committed.get(&self.fence_cursor) {
            let c = c.clone();
            let index = self.fence_cursor;
            self.fence_cursor += 1;
            self.check_session(tick, index, &c);
            let applied = matches!(c.outcome, Some(ApplyOutcome::Applied { .. }));
            let (range, owner, epoch) = match (&c.entry, applied) {
                (Some(ControlPlaneEntry::OwnershipTransition(t)), true) => {
                    (t.range.clone(), t.new_owner.clone(), t.epoch)
                }
                (Some(ControlPlaneEntry::ForcedOwnershipTransition(t)), true) => {
                    let prev = self.epochs.get(&t.range).copied().unwrap_or_default();
                    (t.range.clone(), t.new_owner.clone(), Epoch(prev.0 + 1))
                }
                _ => continue,
            };
            let prev = self.epochs.get(&range).copied().unwrap_or_default();
            if epoch <= prev {
                self.violation(
                    tick,
                    format!("fencing: {range} moved to epoch {epoch} from epoch {prev}"),
                );
            }
            if let Some(o) = self.owners.get(&(range.clone(), epoch)) {
                if *o != owner {
                    let o = o.clone();
                    self.violation(
                        tick,
                        format!("fencing: {range} at epoch {epoch} owned by both {o} and {owner}"),
                    );
                }
            }
            self.owners.insert((range.clone(), epoch), owner.clone());
            self.history
                .entry(range.clone())
                .or_default()
                .push((index, owner, epoch));
            self.epochs.insert(range, epoch.max(prev));
        }
        self.check_reads(tick);
    }

    /// Exactly once: the logged copy at `index` of a session is its first
    /// with a fresh outcome, or answers as a repeat.
    fn check_session(&mut self, tick: u64, index: u64, c: &CommittedEntry) {
        let (Some(session), Some(outcome)) = (c.session, &c.outcome) else {
            return;
        };
        if matches!(outcome, ApplyOutcome::Repeat(_) | ApplyOutcome::RetryTooOld) {
            return;
        }
        let effective = outcome.is_effective();
        if let Some((first, _)) = self.fresh.insert(session, (index, effective)) {
            let entry = c.entry.as_ref().map(|e| e.to_string()).unwrap_or_default();
            self.violation(
                tick,
                format!(
                    "exactly once: session {}/{} ({entry}) had a fresh outcome at {first} and again at {index} ({outcome:?})",
                    session.client, session.seq
                ),
            );
        }
    }

    /// The ownership of `range` in the catalog at `index` (walked).
    fn owner_at(&self, range: &RangeId, index: u64) -> Option<(NodeId, Epoch)> {
        let h = self.history.get(range)?;
        let n = h.partition_point(|(i, _, _)| *i <= index);
        n.checked_sub(1).map(|k| (h[k].1.clone(), h[k].2))
    }

    /// Checks the reads whose index is walked now.
    fn check_reads(&mut self, tick: u64) {
        while let Some(entry) = self.reads.first_entry() {
            let at = *entry.key();
            if at >= self.fence_cursor {
                return;
            }
            for r in entry.remove() {
                let want = self.owner_at(&r.range, at);
                if want != r.seen {
                    self.violation(
                        tick.max(r.tick),
                        format!(
                            "read at peer {} (tick {}) saw {} as {:?} at applied index {at}, but the log makes it {want:?} there",
                            r.peer, r.tick, r.range, r.seen
                        ),
                    );
                }
            }
        }
    }

    /// A read at `peer` saw `seen` as the ownership of `range` with `at`
    /// applied; `linearizable` is (the highest index acknowledged before it
    /// started, the tick it started) for a linearizable read.
    pub fn read(
        &mut self,
        tick: u64,
        peer: u64,
        at: u64,
        range: RangeId,
        seen: Option<(NodeId, Epoch)>,
        linearizable: Option<(u64, u64)>,
    ) {
        if let Some((need, started)) = linearizable {
            if at < need {
                self.violation(
                    tick,
                    format!("linearizable read at peer {peer} started at tick {started} was served at applied index {at}, below index {need} acknowledged before it started"),
                );
            }
        }
        self.reads.entry(at).or_default().push(SeenRead {
            tick,
            peer,
            range,
            seen,
        });
        self.check_reads(tick);
    }

    /// The highest index acknowledged to a client so far.
    pub fn acked_max(&self) -> u64 {
        self.acked_max
    }

    /// A client settled its session as not taking effect.
    pub fn not_taken(
        &mut self,
        session: ProposalSession,
        entry: ControlPlaneEntry,
        answers: String,
    ) {
        self.not_taken.push((session, entry, answers));
    }

    /// A proposal of `entry` in `session` was acknowledged as committed at
    /// (`index`, `term`) (for a retry, where its first attempt committed).
    pub fn acked(
        &mut self,
        tick: u64,
        index: u64,
        term: u64,
        entry: ControlPlaneEntry,
        session: Option<ProposalSession>,
    ) {
        self.answer_matches_log(tick, (index, term), &entry, session, true);
        self.acked_max = self.acked_max.max(index);
        self.acked.push((index, term, entry));
    }

    /// A proposal of `entry` in `session` was answered refused where it was
    /// logged, at (`index`, `term`).
    pub fn refused_at(
        &mut self,
        tick: u64,
        index: u64,
        term: u64,
        entry: ControlPlaneEntry,
        session: Option<ProposalSession>,
    ) {
        self.answer_matches_log(tick, (index, term), &entry, session, false);
    }

    /// An answer naming (`index`, `term`) must name the committed entry of
    /// that session there, with an outcome that took effect (`effective`) or
    /// was refused.
    fn answer_matches_log(
        &mut self,
        tick: u64,
        (index, term): (u64, u64),
        entry: &ControlPlaneEntry,
        session: Option<ProposalSession>,
        effective: bool,
    ) {
        match self.committed.get(&index) {
            Some(c)
                if c.term == term
                    && c.entry.as_ref() == Some(entry)
                    && c.session == session
                    && c.outcome
                        .as_ref()
                        .is_some_and(|o| o.is_effective() == effective) => {}
            other => {
                let other = other.cloned();
                let answered = if effective {
                    "acknowledged"
                } else {
                    "answered refused"
                };
                self.violation(
                    tick,
                    format!(
                        "{answered} {entry} (session {session:?}) at ({index}, {term}) but committed there: {other:?}"
                    ),
                )
            }
        }
    }

    /// How many proposals were acknowledged.
    pub fn acked_len(&self) -> usize {
        self.acked.len()
    }

    /// Log matching between two members' logs.
    pub fn log_matching(&mut self, tick: u64, a: (u64, &DurableStore), b: (u64, &DurableStore)) {
        let lo = a.1.first_index().max(b.1.first_index());
        let hi = a.1.last_index().min(b.1.last_index());
        if lo > hi {
            return;
        }
        let Some(top) = (lo..=hi)
            .rev()
            .find(|i| a.1.term(*i).is_some() && a.1.term(*i) == b.1.term(*i))
        else {
            return;
        };
        let ea = a.1.entries(lo, top + 1);
        let eb = b.1.entries(lo, top + 1);
        if ea != eb {
            let at = ea
                .iter()
                .zip(eb.iter())
                .find(|(x, y)| x != y)
                .map(|(x, _)| x.index)
                .unwrap_or(lo);
            self.violation(
                tick,
                format!(
                    "log matching: peers {} and {} agree at ({top}, {:?}) but differ at {at}",
                    a.0,
                    b.0,
                    a.1.term(top)
                ),
            );
        }
    }

    /// Records a violation found by the runner (liveness, convergence, an
    /// engine error).
    pub fn fail(&mut self, tick: u64, what: String) {
        self.violation(tick, what);
    }
}
