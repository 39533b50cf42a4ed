//! Replica tests over an in-memory network the test routes by hand, for
//! message orders the simulator reaches only by chance.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use raft::eraftpb::{Message, MessageType};

use super::{Completion, ProposalToken, ReadToken, Replica};
use crate::catalog::InitialMember;
use crate::consensus::{Committed, ProposeError};
use crate::engine::EngineConfig;
use crate::entry::{ControlPlaneEntry, Epoch, MemberKind, NodeId, OwnershipTransition, Proposal};
use crate::sim::Mutant;
use crate::storage::{DurableStore, Fault, SimDisk, StoreOptions};

const DIR: &str = "/data";

fn name(i: u64) -> NodeId {
    NodeId::from_certificate_subject(&format!("CN=n{i}")).expect("name")
}

fn config() -> EngineConfig {
    EngineConfig {
        heartbeat_ticks: 1,
        election_ticks: 10,
        ..EngineConfig::default()
    }
}

/// Three replicas and the messages between them, delivered in order unless
/// the test holds some back.
struct Cluster {
    disks: BTreeMap<u64, SimDisk>,
    replicas: BTreeMap<u64, Replica<DurableStore>>,
    queue: VecDeque<Message>,
    held: Vec<Message>,
    done: Vec<(u64, Completion)>,
    opened: u64,
}

impl Cluster {
    fn new() -> Self {
        let initial: Vec<InitialMember> = (1..=3)
            .map(|i| InitialMember {
                id: name(i),
                kind: MemberKind::Data,
                address: format!("sim:{i}").parse().expect("address"),
            })
            .collect();
        let mut c = Cluster {
            disks: BTreeMap::new(),
            replicas: BTreeMap::new(),
            queue: VecDeque::new(),
            held: Vec::new(),
            done: Vec::new(),
            opened: 0,
        };
        for i in 1..=3 {
            let disk = SimDisk::new();
            DurableStore::bootstrap(
                Arc::new(disk.clone()),
                Path::new(DIR),
                StoreOptions::default(),
                &initial,
            )
            .expect("bootstrap");
            c.disks.insert(i, disk);
            c.open(i);
        }
        c
    }

    fn open(&mut self, peer: u64) {
        self.open_with(peer, None);
    }

    /// Opens `peer` running `mutant`'s deviation (none: the real engine).
    fn open_with(&mut self, peer: u64, mutant: Option<Mutant>) {
        self.opened += 1;
        let disk = self.disks[&peer].clone();
        let (store, _) =
            DurableStore::open(Arc::new(disk), Path::new(DIR), StoreOptions::default())
                .expect("open");
        let mut r = Replica::open(config(), name(peer), None, store, 7 * self.opened + peer)
            .expect("replica");
        if mutant.is_some() {
            r.set_test_seam(Mutant::deviation(mutant));
        }
        self.replicas.insert(peer, r);
    }

    /// Power loss at `peer`, and a restart from what its disk kept.
    fn crash_and_restart(&mut self, peer: u64) {
        self.crash_and_restart_with(peer, None);
    }

    /// Like [`Cluster::crash_and_restart`], the new incarnation running
    /// `mutant`'s deviation.
    fn crash_and_restart_with(&mut self, peer: u64, mutant: Option<Mutant>) {
        self.replicas.remove(&peer);
        self.disks[&peer].crash();
        self.open_with(peer, mutant);
    }

    /// Runs every ready loop and delivers every message until all is
    /// quiet; messages `hold` picks are kept in `held` instead.
    fn settle(&mut self, hold: impl Fn(&Message) -> bool) {
        for _ in 0..100 {
            for (p, r) in self.replicas.iter_mut() {
                let mut out = Vec::new();
                for c in r.process_ready(&mut out).expect("ready") {
                    self.done.push((*p, c));
                }
                self.queue.extend(out);
            }
            if self.queue.is_empty() {
                return;
            }
            while let Some(m) = self.queue.pop_front() {
                if hold(&m) {
                    self.held.push(m);
                } else if let Some(r) = self.replicas.get_mut(&m.to) {
                    r.step(m).expect("step");
                }
            }
        }
        panic!("the cluster did not settle");
    }

    fn deliver_held(&mut self) {
        for m in std::mem::take(&mut self.held) {
            if let Some(r) = self.replicas.get_mut(&m.to) {
                r.step(m).expect("step");
            }
        }
    }

    fn tick(&mut self, n: usize) {
        for _ in 0..n {
            for r in self.replicas.values_mut() {
                r.tick();
            }
            self.settle(|_| false);
        }
    }

    fn leader(&self) -> u64 {
        *self
            .replicas
            .iter()
            .find(|(_, r)| r.is_leader())
            .expect("a leader")
            .0
    }

    fn reads(&self, peer: u64, token: u64) -> Vec<u64> {
        self.done
            .iter()
            .filter_map(|(p, c)| match c {
                Completion::Read(t, index) if *p == peer && t.0 == token => Some(index.0),
                _ => None,
            })
            .collect()
    }
}

fn elected() -> Cluster {
    let mut c = Cluster::new();
    for _ in 0..100 {
        c.tick(1);
        if c.replicas.values().any(|r| r.is_leader()) {
            // Let the leader commit an entry of its term (raft serves reads
            // only then) and everyone apply it.
            c.tick(3);
            return c;
        }
    }
    panic!("no leader");
}

#[test]
fn a_late_read_answer_for_an_earlier_incarnation_is_not_taken_for_a_new_read() {
    let mut c = elected();
    let leader = c.leader();
    let f = if leader == 1 { 2 } else { 1 };
    // The follower's first read (its driver's counter starts at 1); the
    // leader's answer is held back on the way.
    c.replicas.get_mut(&f).expect("f").read(ReadToken(1));
    let to_f_answer =
        move |m: &Message| m.get_msg_type() == MessageType::MsgReadIndexResp && m.to == f;
    c.settle(to_f_answer);
    assert_eq!(c.held.len(), 1, "the leader answered the read");
    let stale = c.held[0].index;
    // The follower restarts (its counter starts at 1 again) and a write is
    // acknowledged.
    c.crash_and_restart(f);
    c.tick(3);
    let entry = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: "r1".parse().expect("range"),
        new_owner: name(1),
        epoch: Epoch(1),
    });
    let l = c.replicas.get_mut(&leader).expect("leader");
    assert_eq!(
        l.propose(&Proposal::bare(entry), ProposalToken(1)),
        Ok(None)
    );
    c.settle(|_| false);
    let acked = c
        .done
        .iter()
        .find_map(|(_, d)| match d {
            Completion::Proposal(ProposalToken(1), Ok(committed)) => Some(committed.index.0),
            _ => None,
        })
        .expect("the write was acknowledged");
    assert!(acked > stale);
    // A new read, token 1 again, started after the acknowledgement. The old
    // answer arrives first; the new one is held.
    c.replicas.get_mut(&f).expect("f").read(ReadToken(1));
    c.settle(to_f_answer);
    assert_eq!(c.held.len(), 2);
    let fresh = c.held.pop().expect("the new answer");
    c.deliver_held();
    c.settle(|_| false);
    let served = c.reads(f, 1);
    assert!(
        served.iter().all(|i| *i >= acked),
        "read 1 of the new incarnation served at {served:?}, below the write acknowledged at {acked} before it started"
    );
    assert!(served.is_empty(), "the old answer completed nothing");
    c.held.push(fresh);
    c.deliver_held();
    c.settle(|_| false);
    let served = c.reads(f, 1);
    assert_eq!(served.len(), 1, "the new answer completes the read");
    assert!(served[0] >= acked);
}

#[test]
fn two_members_reads_with_the_same_token_both_complete() {
    let mut c = elected();
    let leader = c.leader();
    let f = if leader == 1 { 2 } else { 1 };
    // Both drivers' counters happen to be at 7.
    c.replicas.get_mut(&leader).expect("l").read(ReadToken(7));
    c.replicas.get_mut(&f).expect("f").read(ReadToken(7));
    c.settle(|_| false);
    c.tick(2);
    assert_eq!(c.reads(leader, 7).len(), 1, "the leader's read completed");
    assert_eq!(
        c.reads(f, 7).len(),
        1,
        "the follower's read completed (raft drops a read whose context is pending)"
    );
}

#[test]
fn an_abandoned_proposal_that_may_still_commit_is_not_answered_not_leader() {
    let mut c = elected();
    let l = c.leader();
    let others: Vec<u64> = (1..=3).filter(|p| *p != l).collect();
    let (f1, f2) = (others[0], others[1]);
    let entry = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: "r1".parse().expect("range"),
        new_owner: name(1),
        epoch: Epoch(1),
    });
    let leader = c.replicas.get_mut(&l).expect("leader");
    assert_eq!(
        leader.propose(&Proposal::bare(entry), ProposalToken(9)),
        Ok(None)
    );
    let index = leader.status().last_index.0;
    // The leader's append reaches f1 only, and nothing reaches the leader:
    // it is cut off with its entry in f1's log.
    c.settle(move |m| (m.from == l && m.to == f2) || m.to == l);
    c.held.clear();
    // f1 and f2 elect f1 (its log is longer) and commit the entry.
    for _ in 0..100 {
        for p in [f1, f2] {
            c.replicas.get_mut(&p).expect("follower").tick();
        }
        c.settle(move |m| m.from == l || m.to == l);
        c.held.clear();
        if c.replicas[&f1].catalog().applied().0 .0 >= index {
            break;
        }
    }
    assert!(c.replicas[&f1].is_leader());
    assert!(
        c.replicas[&f1].catalog().applied().0 .0 >= index,
        "the entry committed under the new leader"
    );
    // The old leader hears the new leader's heartbeat (not its appends),
    // steps down and learns who leads, then its client's deadline passes.
    c.replicas.get_mut(&f1).expect("f1").tick();
    c.settle(move |m| m.from == l || (m.to == l && m.get_msg_type() != MessageType::MsgHeartbeat));
    c.held.clear();
    let old = c.replicas.get_mut(&l).expect("old leader");
    assert!(!old.is_leader());
    assert!(old.leader_hint().is_some());
    assert!(old.has_pending(ProposalToken(9)));
    let answer = old.abandon(ProposalToken(9), std::time::Duration::ZERO);
    assert!(
        !matches!(answer, crate::consensus::ProposeError::NotLeader { .. }),
        "the entry committed, but abandoning it answered {answer:?} (\"did not take effect\")"
    );
}

/// raft-rs relays a read index request that reaches a follower (a leader
/// that just stepped down, say) to its leader with the original sender
/// still in `from`; on the network that is another member's message on this
/// member's connection, and the receiver cuts the connection as spoofed. A
/// replica sends only its own messages; the requester asks again itself.
#[test]
fn a_replica_sends_only_messages_from_itself() {
    let mut c = elected();
    let l = c.leader();
    let f = (1..=3).find(|p| *p != l).expect("a follower");
    let g = (1..=3)
        .find(|p| *p != l && *p != f)
        .expect("another follower");
    c.replicas.get_mut(&f).expect("f").read(ReadToken(1));
    let mut out = Vec::new();
    c.replicas
        .get_mut(&f)
        .expect("f")
        .process_ready(&mut out)
        .expect("ready");
    let mut req = out
        .into_iter()
        .find(|m| m.get_msg_type() == MessageType::MsgReadIndex)
        .expect("the follower asks its leader");
    // It reaches the other follower instead (its leader just stepped down).
    req.to = g;
    c.replicas.get_mut(&g).expect("g").step(req).expect("step");
    let mut relayed = Vec::new();
    c.replicas
        .get_mut(&g)
        .expect("g")
        .process_ready(&mut relayed)
        .expect("ready");
    for m in &relayed {
        assert_eq!(
            m.from,
            g,
            "{g} sent a message of {}: {:?}",
            m.from,
            m.get_msg_type()
        );
    }
}

/// The context the replica writes into a proposal's entry: its peer id,
/// the term it led when it appended, and its per-open sequence number.
fn context(peer: u64, term: u64, seq: u64) -> Vec<u8> {
    [peer, term, seq]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect()
}

fn transition(range: &str) -> Proposal {
    Proposal::bare(ControlPlaneEntry::OwnershipTransition(
        OwnershipTransition {
            range: range.parse().expect("range"),
            new_owner: name(1),
            epoch: Epoch(1),
        },
    ))
}

/// What [`a_restarted_leader_reuses_an_index_and_sequence`] observed.
#[derive(Debug)]
struct Collision {
    /// The first incarnation's term, the second's, and the term that
    /// committed the first incarnation's entries.
    terms: (u64, u64, u64),
    /// The index both incarnations' sequence-3 proposals were appended at.
    at: u64,
    /// Its answer.
    answer: Result<Committed, ProposeError>,
    /// The committed catalog, as the second incarnation applied it.
    catalog: crate::catalog::Catalog,
}

/// A leader appends three proposals (sequence numbers 1, 2, 3) that reach
/// one follower only, and crashes before they are durable. It restarts
/// (its sequence restarts at 0), wins the next term with the other
/// follower's vote, has two proposals dropped by raft during a leadership
/// transfer (sequence 1, 2) and appends a third (sequence 3) at the same
/// index as its first incarnation's third one. That proposal never leaves
/// it; the follower holding the first incarnation's entries is elected and
/// commits them, and the restarted member applies the first incarnation's
/// sequence-3 entry at the index its own proposal waits at. `mutant` runs
/// on the restarted incarnation.
fn a_restarted_leader_reuses_an_index_and_sequence(mutant: Option<Mutant>) -> Collision {
    let mut c = elected();
    let l = c.leader();
    let others: Vec<u64> = (1..=3).filter(|p| *p != l).collect();
    let (b, f) = (others[0], others[1]);
    let t1 = c.replicas[&l].status().term.0;

    // 1. Three proposals, seq 1, 2, 3, in one Ready.
    let leader = c.replicas.get_mut(&l).expect("leader");
    for (token, range) in [(1, "r1"), (2, "r2"), (3, "r3")] {
        assert_eq!(
            leader.propose(&transition(range), ProposalToken(token)),
            Ok(None)
        );
    }
    assert_eq!(leader.proposal_seq, 3);
    let last = leader.status().last_index.0;
    let first = last - 2;

    // 2. The Ready's writes fail (the disk dies), after the appends a leader
    // sends before persisting left; they reach `f` only. Power is lost: the
    // three entries are gone from the leader's disk.
    let disk = c.disks[&l].clone();
    disk.set_fault(Some(Fault {
        at_op: disk.stats().ops,
        then_dead: true,
    }));
    let mut out = Vec::new();
    let failed = c
        .replicas
        .get_mut(&l)
        .expect("leader")
        .process_ready(&mut out);
    assert!(failed.is_err(), "the dead disk fails the Ready: {failed:?}");
    let to_f: Vec<Message> = out
        .into_iter()
        .filter(|m| m.to == f && m.get_msg_type() == MessageType::MsgAppend)
        .collect();
    assert!(
        to_f.iter()
            .any(|m| m.get_entries().iter().any(|e| e.index == last)),
        "the leader sent its appends before persisting"
    );
    c.crash_and_restart_with(l, mutant);
    assert_eq!(c.replicas[&l].status().last_index.0, first - 1);
    for m in to_f {
        c.replicas.get_mut(&f).expect("f").step(m).expect("step");
    }
    // f's acknowledgements go nowhere.
    c.settle(move |m| m.to == l || m.from == l);
    c.held.clear();
    assert_eq!(c.replicas[&f].status().last_index.0, last);

    // 3-5. The restarted member and b, cut off from f. None of the new
    // incarnation's appends reaches anyone; heartbeats pass, so it keeps its
    // quorum.
    let cut = move |m: &Message| {
        m.to == f || m.from == f || (m.from == l && m.get_msg_type() == MessageType::MsgAppend)
    };
    // b gives up on the crashed leader's lease.
    c.replicas.get_mut(&b).expect("b").report_unreachable(l);
    for _ in 0..100 {
        c.replicas.get_mut(&l).expect("l").tick();
        c.settle(cut);
        c.held.clear();
        if c.replicas[&l].is_leader() {
            break;
        }
    }
    let l2 = &c.replicas[&l];
    assert!(l2.is_leader(), "the restarted member won with b's vote");
    let t2 = l2.status().term.0;
    // Its empty entry and its leader configuration.
    assert_eq!(l2.status().last_index.0, first + 1);
    assert_eq!(c.replicas[&b].status().last_index.0, first - 1);

    // A transfer to f, which cannot catch up: raft drops proposals
    // meanwhile, each still numbered.
    c.replicas.get_mut(&l).expect("l").transfer_leader(f);
    c.settle(cut);
    c.held.clear();
    let l2 = c.replicas.get_mut(&l).expect("l");
    assert!(l2.raw.raft.lead_transferee.is_some());
    for (token, range) in [(4, "r7"), (5, "r8")] {
        assert!(
            matches!(
                l2.propose(&transition(range), ProposalToken(token)),
                Err(ProposeError::NotLeader { .. })
            ),
            "raft drops a proposal during a transfer"
        );
    }
    assert_eq!(l2.proposal_seq, 2);
    for _ in 0..30 {
        c.replicas.get_mut(&l).expect("l").tick();
        c.settle(cut);
        c.held.clear();
        if c.replicas[&l].raw.raft.lead_transferee.is_none() {
            break;
        }
    }
    let l2 = c.replicas.get_mut(&l).expect("l");
    assert!(l2.raw.raft.lead_transferee.is_none(), "the transfer lapsed");
    assert!(l2.is_leader(), "still leading with b");
    assert_eq!(l2.status().term.0, t2);
    assert_eq!(l2.propose(&transition("r9"), ProposalToken(9)), Ok(None));
    assert_eq!(l2.proposal_seq, 3);
    let at = l2.status().last_index.0;
    assert_eq!(at, first + 2, "the index of the first incarnation's seq 3");
    assert_eq!(l2.pending[&at].context.to_vec(), context(l, t2, 3));
    c.settle(cut);
    c.held.clear();

    // 6. f is elected with b's vote while the restarted member hears
    // nothing, then everyone talks.
    c.replicas.get_mut(&b).expect("b").report_unreachable(l);
    c.replicas.get_mut(&f).expect("f").report_unreachable(l);
    for _ in 0..100 {
        c.replicas.get_mut(&f).expect("f").tick();
        c.settle(move |m| m.to == l || m.from == l);
        c.held.clear();
        if c.replicas[&f].is_leader() {
            break;
        }
    }
    assert!(c.replicas[&f].is_leader(), "f won with b's vote");
    let t3 = c.replicas[&f].status().term.0;
    let theirs = c.replicas[&f]
        .raw
        .raft
        .raft_log
        .entries(at, None, raft::GetEntriesContext::empty(false))
        .expect("f's log holds the first incarnation's entries");
    assert_eq!(
        theirs[0].context.to_vec(),
        context(l, t1, 3),
        "the entry that takes the index: same peer and seq, the earlier term"
    );
    c.settle(|_| false);
    c.tick(3);
    assert!(!c.replicas[&l].is_leader());
    assert!(c.replicas[&l].catalog().applied().0 .0 >= at);

    let answers: Vec<Result<Committed, ProposeError>> = c
        .done
        .iter()
        .filter_map(|(p, d)| match d {
            Completion::Proposal(ProposalToken(9), a) if *p == l => Some(a.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "the proposal was answered once: {answers:?}"
    );
    Collision {
        terms: (t1, t2, t3),
        at,
        answer: answers[0].clone(),
        catalog: c.replicas[&l].catalog().clone(),
    }
}

/// A proposal must never be acknowledged for another entry. Proposals were
/// matched to applied entries by (peer, sequence), and the sequence restarts
/// at 0 on every open: a restarted leader's proposal waiting at an index
/// was completed, `Ok`, by its earlier incarnation's entry with the same
/// sequence there, and the caller was told its write took effect with
/// another write's outcome. The context carries the leader's term, which no
/// two incarnations share.
#[test]
fn a_proposal_is_not_acknowledged_for_an_earlier_incarnations_entry() {
    let seen = a_restarted_leader_reuses_an_index_and_sequence(None);
    let (t1, t2, t3) = seen.terms;
    assert!(t1 < t2 && t2 < t3, "three terms: {:?}", seen.terms);
    assert!(
        matches!(seen.answer, Err(ProposeError::NotLeader { .. })),
        "the proposal's entry never committed, yet it was answered {:?}",
        seen.answer
    );
    let owner = |r: &str| seen.catalog.owner(&r.parse().expect("range")).cloned();
    for r in ["r1", "r2", "r3"] {
        assert!(owner(r).is_some_and(|o| o.term.0 == t1), "{r} committed");
    }
    let r3 = owner("r3").expect("r3");
    assert_eq!(
        r3.index.0, seen.at,
        "r3's entry took the index r9 waited at"
    );
    assert_eq!(owner("r9"), None, "r9 never committed");
}

/// The scenario above reaches the collision: with the term-less match (the
/// `proposal-context-only` mutant) the restarted leader's proposal is
/// acknowledged as committed at the earlier incarnation's entry.
#[test]
fn the_term_less_context_acknowledges_an_earlier_incarnations_entry() {
    let seen = a_restarted_leader_reuses_an_index_and_sequence(Some(Mutant::ProposalContextOnly));
    let committed = seen
        .answer
        .clone()
        .expect("the mutant acknowledges the earlier incarnation's entry");
    // Acknowledged at r3's entry, with r3's outcome, in the earlier term.
    let r3 = seen
        .catalog
        .owner(&"r3".parse().expect("range"))
        .expect("r3 committed")
        .clone();
    assert_eq!(committed.index.0, seen.at);
    assert_eq!((committed.term, committed.version), (r3.term, r3.version));
    assert_eq!(committed.term.0, seen.terms.0);
    assert_eq!(
        seen.catalog.owner(&"r9".parse().expect("range")),
        None,
        "yet r9 never committed"
    );
}
