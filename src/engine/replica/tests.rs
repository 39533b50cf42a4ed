//! Replica tests over an in-memory network the test routes by hand, for
//! message orders the simulator reaches only by chance.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use raft::eraftpb::{Message, MessageType};

use super::{Completion, ProposalToken, ReadToken, Replica};
use crate::catalog::InitialMember;
use crate::engine::EngineConfig;
use crate::entry::{ControlPlaneEntry, Epoch, MemberKind, NodeId, OwnershipTransition, Proposal};
use crate::storage::{DurableStore, SimDisk, StoreOptions};

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
        self.opened += 1;
        let disk = self.disks[&peer].clone();
        let (store, _) =
            DurableStore::open(Arc::new(disk), Path::new(DIR), StoreOptions::default())
                .expect("open");
        let r = Replica::open(config(), name(peer), None, store, 7 * self.opened + peer)
            .expect("replica");
        self.replicas.insert(peer, r);
    }

    /// Power loss at `peer`, and a restart from what its disk kept.
    fn crash_and_restart(&mut self, peer: u64) {
        self.replicas.remove(&peer);
        self.disks[&peer].crash();
        self.open(peer);
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
