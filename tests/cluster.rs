//! A 3-member cluster in one process: real stores on disk, the in-memory
//! transport, real driver threads and clocks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use synod::catalog::InitialMember;
use synod::engine::EngineConfig;
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::transport::memory::MemoryNetwork;
use synod::{
    ControlPlaneConsensus, ControlPlaneEntry, Epoch, MemberKind, MembershipChange, Node, NodeId,
    NodeOptions, OwnershipTransition, ProposeError,
};

const T: Duration = Duration::from_secs(5);

fn id(s: &str) -> NodeId {
    NodeId::from_certificate_subject(s).unwrap()
}

fn engine() -> EngineConfig {
    EngineConfig {
        tick_interval: Duration::from_millis(10),
        snapshot_every: 16,
        max_learner_lag: 4,
        ..EngineConfig::default()
    }
}

struct Cluster {
    dir: tempfile::TempDir,
    net: MemoryNetwork,
    nodes: Vec<Option<Node>>,
    names: Vec<NodeId>,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<NodeId> = (0..n).map(|i| id(&format!("CN=node-{i}"))).collect();
        let initial: Vec<InitialMember> = names
            .iter()
            .enumerate()
            .map(|(i, n)| InitialMember {
                id: n.clone(),
                kind: MemberKind::Data,
                address: format!("mem:{i}").parse().unwrap(),
            })
            .collect();
        for n in &names {
            let path = dir.path().join(n.as_str());
            DurableStore::bootstrap(Arc::new(RealDisk), &path, StoreOptions::default(), &initial)
                .unwrap();
        }
        let mut c = Cluster {
            dir,
            net: MemoryNetwork::new(),
            nodes: Vec::new(),
            names,
        };
        for i in 0..n {
            let node = c.start(i, None);
            c.nodes.push(Some(node));
        }
        c
    }

    fn start(&self, i: usize, join_peer_id: Option<u64>) -> Node {
        self.start_with(i, join_peer_id, |_| {})
    }

    fn start_with(
        &self,
        i: usize,
        join_peer_id: Option<u64>,
        options: impl FnOnce(&mut NodeOptions),
    ) -> Node {
        let name = &self.names[i];
        let path = self.dir.path().join(name.as_str());
        let (store, _) =
            DurableStore::open(Arc::new(RealDisk), &path, StoreOptions::default()).unwrap();
        let mut opts = NodeOptions::new(name.clone());
        opts.engine = engine();
        opts.join_peer_id = join_peer_id;
        options(&mut opts);
        let peer = join_peer_id.unwrap_or(i as u64 + 1);
        let net = self.net.clone();
        Node::start(opts, store, move |inbox| net.join(peer, inbox))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn leader_of(&self, node: &Node) {
        wait_until("the member leads", Duration::from_secs(5), || {
            node.is_leader()
        });
    }

    fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.as_ref().is_some_and(|n| n.is_leader()) {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader within {within:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn transition(range: &str, owner: &NodeId, epoch: u64) -> ControlPlaneEntry {
    ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: range.parse().unwrap(),
        new_owner: owner.clone(),
        epoch: Epoch(epoch),
    })
}

#[test]
fn a_three_member_cluster_elects_commits_and_survives_its_leader() {
    let mut c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let mut acked = Vec::new();
    for i in 0..20u64 {
        let owner = c.names[(i % 3) as usize].clone();
        let r = format!("r{i}");
        let committed = leader.propose(transition(&r, &owner, 1), T).unwrap();
        acked.push((r, owner, committed.index));
    }
    // A follower refuses writes and names the leader.
    let f = (l + 1) % 3;
    match c.nodes[f]
        .as_ref()
        .unwrap()
        .propose(transition("x", &c.names[0], 1), T)
    {
        Err(ProposeError::NotLeader { leader: Some(hint) }) => assert_eq!(hint.id, c.names[l]),
        other => panic!("expected NotLeader with a hint, got {other:?}"),
    }
    // Kill the leader; a new one is elected within the timeout bound.
    let killed = c.nodes[l].take().unwrap();
    let t0 = Instant::now();
    killed.shutdown();
    c.net.leave(l as u64 + 1);
    drop(killed);
    let bound = engine().election_timeout() * 2 + Duration::from_millis(500);
    let nl = c.leader(bound * 2);
    let new_leader = c.nodes[nl].as_ref().unwrap();
    let committed = loop {
        match new_leader.propose(transition("after", &c.names[nl], 1), T) {
            Ok(x) => break x,
            Err(ProposeError::NotLeader { .. }) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("{e}"),
        }
    };
    let failover = t0.elapsed();
    assert!(failover < bound * 2, "failover took {failover:?}");
    assert!(committed.index.0 > acked.last().unwrap().2 .0);
    // Nothing acknowledged was lost, on either survivor.
    for n in c.nodes.iter().flatten() {
        for (r, owner, index) in &acked {
            let deadline = Instant::now() + T;
            let o = loop {
                if let Some(o) = n.owner(&r.parse().unwrap()) {
                    break o;
                }
                assert!(Instant::now() < deadline, "{r} missing");
                std::thread::sleep(Duration::from_millis(5));
            };
            assert_eq!((&o.owner, o.index), (owner, *index));
        }
    }
    // Restart the old leader from its disk: it catches up.
    c.nodes[l] = Some(c.start(l, None));
    let back = c.nodes[l].as_ref().unwrap();
    let deadline = Instant::now() + T;
    while back.owner(&"after".parse().unwrap()).is_none() {
        assert!(
            Instant::now() < deadline,
            "restarted member did not catch up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_admitted_member_joins_as_learner_and_is_promoted() {
    let mut c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let newcomer = id("CN=node-3");
    c.names.push(newcomer.clone());
    let leader = c.nodes[l].as_ref().unwrap();
    leader
        .propose(
            ControlPlaneEntry::Membership(MembershipChange::Admit {
                member: newcomer.clone(),
                kind: MemberKind::Data,
                address: "mem:3".parse().unwrap(),
            }),
            T,
        )
        .unwrap();
    let peer = leader
        .members()
        .into_iter()
        .find(|m| m.id == newcomer)
        .unwrap()
        .peer_id;
    for i in 0..30u64 {
        leader
            .propose(transition(&format!("r{i}"), &c.names[0], 1), T)
            .unwrap();
    }
    std::fs::create_dir_all(c.dir.path().join(newcomer.as_str())).unwrap();
    let node = c.start(3, Some(peer));
    c.nodes.push(Some(node));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = c.nodes[l].as_ref().unwrap().status();
        if st.voters.contains(&peer) {
            break;
        }
        assert!(Instant::now() < deadline, "not promoted: {st:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let joined = c.nodes[3].as_ref().unwrap();
    let deadline = Instant::now() + T;
    while joined.owner(&"r29".parse().unwrap()).is_none() {
        assert!(Instant::now() < deadline, "joined member did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn membership(change: MembershipChange) -> ControlPlaneEntry {
    ControlPlaneEntry::Membership(change)
}

#[test]
fn a_removed_member_leaves_the_configuration() {
    let c = Cluster::new(4);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let victim = (l + 1) % 4;
    let victim_id = c.names[victim].clone();
    leader
        .propose(
            membership(MembershipChange::BeginDrain {
                member: victim_id.clone(),
            }),
            T,
        )
        .unwrap();
    leader
        .propose(
            membership(MembershipChange::Remove {
                member: victim_id.clone(),
            }),
            T,
        )
        .unwrap();
    let peer = victim as u64 + 1;
    wait_until("the leader's configuration drops the member", T, || {
        let st = leader.status();
        !st.voters.contains(&peer) && !st.learners.contains(&peer)
    });
    assert!(leader.members().iter().all(|m| m.id != victim_id));
    // The rest of the cluster keeps committing without it.
    leader
        .propose(transition("after-remove", &c.names[l], 1), T)
        .unwrap();
}

#[test]
fn removing_the_leader_hands_leadership_over_first() {
    let c = Cluster::new(4);
    let l = c.leader(Duration::from_secs(5));
    let old = c.names[l].clone();
    c.nodes[l]
        .as_ref()
        .unwrap()
        .propose(
            membership(MembershipChange::Remove {
                member: old.clone(),
            }),
            T,
        )
        .unwrap();
    let peer = l as u64 + 1;
    wait_until(
        "another member leads without the old leader in its configuration",
        Duration::from_secs(10),
        || {
            c.nodes.iter().enumerate().any(|(i, n)| {
                i != l
                    && n.as_ref().is_some_and(|n| {
                        let st = n.status();
                        n.is_leader() && !st.voters.contains(&peer)
                    })
            })
        },
    );
}

#[test]
fn a_draining_leader_hands_leadership_to_a_member_that_is_not_draining() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    c.nodes[l]
        .as_ref()
        .unwrap()
        .propose(
            membership(MembershipChange::BeginDrain {
                member: c.names[l].clone(),
            }),
            T,
        )
        .unwrap();
    wait_until(
        "leadership moves off the draining member",
        Duration::from_secs(10),
        || {
            c.nodes
                .iter()
                .enumerate()
                .any(|(i, n)| i != l && n.as_ref().is_some_and(|n| n.is_leader()))
        },
    );
}

#[test]
fn leadership_moves_on_request() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let to = (l + 2) % 3;
    c.nodes[l]
        .as_ref()
        .unwrap()
        .transfer_leadership(&c.names[to])
        .unwrap();
    wait_until(
        "the requested member leads",
        Duration::from_secs(10),
        || c.nodes[to].as_ref().unwrap().is_leader(),
    );
}

#[test]
fn linearizable_reads_on_a_follower_see_every_committed_write() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let follower = c.nodes[(l + 1) % 3].as_ref().unwrap();
    for i in 1..=5u64 {
        let committed = leader
            .propose(transition("hot", &c.names[(i % 3) as usize], i), T)
            .unwrap();
        let (epoch, index) = follower
            .read_linearizable(T, |cat, applied| {
                (cat.epoch_of(&"hot".parse().unwrap()), applied)
            })
            .unwrap();
        assert_eq!(
            epoch,
            Epoch(i),
            "a linearizable read missed a committed write"
        );
        assert!(index >= committed.index);
    }
    // A local read says which index it reflects.
    let (_, applied) = follower
        .read_local(|cat, applied| (cat.version(), applied))
        .unwrap();
    assert!(applied.0 > 0);
}

#[test]
fn metrics_describe_the_leader_and_its_followers() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    for i in 0..5u64 {
        leader
            .propose(transition(&format!("m{i}"), &c.names[0], 1), T)
            .unwrap();
    }
    let mut text = String::new();
    wait_until("the metrics show the leader with two followers", T, || {
        text = leader.metrics_text();
        text.contains("synod_is_leader{member=\"CN=node-")
            && text.contains(" 1\n")
            && text.matches("synod_follower_match_index{").count() == 2
    });
    assert!(text.contains("synod_proposals_committed_total"));
    let m = leader.metrics();
    assert!(m.commit_latency.count() >= 5);
    assert!(
        m.fsync.count() >= 5,
        "every commit needs an fsync on the leader"
    );
}

#[test]
fn an_isolated_leader_answers_no_quorum_and_steps_down() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    c.net.isolate(l as u64 + 1);
    let err = leader
        .propose(
            transition("cut-off", &c.names[l], 1),
            Duration::from_millis(300),
        )
        .unwrap_err();
    assert!(
        matches!(err, ProposeError::NoQuorum | ProposeError::NotLeader { .. }),
        "an isolated leader cannot commit: {err:?}"
    );
    // check-quorum: it steps down; the majority elects another leader.
    wait_until(
        "the isolated leader steps down",
        Duration::from_secs(5),
        || !leader.is_leader(),
    );
    wait_until(
        "the majority elects a leader",
        Duration::from_secs(5),
        || {
            c.nodes
                .iter()
                .enumerate()
                .any(|(i, n)| i != l && n.as_ref().is_some_and(|n| n.is_leader()))
        },
    );
    c.net.heal();
    // The entry proposed while cut off was never acknowledged; whatever
    // happened to it, the healed cluster agrees.
    let nl = c.leader(Duration::from_secs(5));
    c.nodes[nl]
        .as_ref()
        .unwrap()
        .propose(transition("healed", &c.names[nl], 1), T)
        .unwrap();
}

#[test]
fn callbacks_answer_exactly_once_and_never_after_shutdown() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..10u64 {
        let calls = calls.clone();
        let tx = tx.clone();
        leader.propose_with(
            transition(&format!("cb{i}"), &c.names[l], 1),
            T,
            Box::new(move |r| {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(r.is_ok());
            }),
        );
    }
    for _ in 0..10 {
        assert!(rx.recv_timeout(T).unwrap(), "a proposal failed");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 10);
    // After shutdown returns, a proposal's callback runs at once with
    // Shutdown, on the caller's thread, and nothing else fires later.
    let f = (l + 1) % 3;
    let follower = c.nodes[f].as_ref().unwrap();
    follower.shutdown();
    let got = Arc::new(std::sync::Mutex::new(None));
    let g = got.clone();
    follower.propose_with(
        transition("late", &c.names[f], 1),
        T,
        Box::new(move |r| *g.lock().unwrap() = Some(r)),
    );
    assert_eq!(*got.lock().unwrap(), Some(Err(ProposeError::Shutdown)));
}

fn in_session(entry: ControlPlaneEntry, client: u128, seq: u64) -> synod::entry::Proposal {
    synod::entry::Proposal {
        session: Some(synod::entry::ProposalSession {
            client: synod::entry::ClientId(client),
            seq,
        }),
        entry,
    }
}

#[test]
fn a_retried_proposal_takes_effect_once_whether_or_not_its_retry_reaches_the_log() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let forced = ControlPlaneEntry::ForcedOwnershipTransition(synod::ForcedOwnershipTransition {
        range: "r1".parse().unwrap(),
        new_owner: c.names[0].clone(),
        operator: id("CN=ops"),
        reason: "bring-up".parse().unwrap(),
    });
    // Two attempts of one proposal sent together: both reach the log before
    // either applies, and apply answers the second with the first outcome.
    let p = in_session(forced.clone(), 42, 1);
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let tx = tx.clone();
        leader.submit_with(p.clone(), T, Box::new(move |r| tx.send(r).unwrap()));
    }
    let a = rx.recv_timeout(T).unwrap().unwrap();
    let b = rx.recv_timeout(T).unwrap().unwrap();
    assert_eq!(
        a, b,
        "the retry answers where and how the first took effect"
    );
    // A retry after the outcome is applied is answered before the log.
    wait_until("the leader's log is applied", T, || {
        let s = leader.status();
        s.applied == s.last_index
    });
    let before = leader.status().last_index;
    assert_eq!(leader.submit(p, T).unwrap(), a);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(leader.status().last_index, before, "nothing new was logged");
    // The range moved once: one audit record, epoch 1, on every member.
    for n in c.nodes.iter().flatten() {
        wait_until("the forced transition applied", T, || {
            n.applied_index() >= a.index
        });
        assert_eq!(n.owner(&"r1".parse().unwrap()).unwrap().epoch, Epoch(1));
        assert_eq!(n.audit_log().len(), 1);
    }
    // A compare-and-set transition retried after it committed answers its
    // commit, not a refusal of its own (now stale) epoch.
    let t = in_session(transition("r1", &c.names[1], 2), 42, 2);
    let first = leader.submit(t.clone(), T).unwrap();
    assert_eq!(leader.submit(t, T).unwrap(), first);
}

/// Registrations racing a shutdown: each is either refused on the caller's
/// thread (its callback handed back uncalled) or answered exactly once, and
/// no callback runs after `shutdown` returns or is dropped uncalled.
#[test]
fn registrations_racing_a_shutdown_are_answered_once_or_refused_never_late() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    /// Counts a callback dropped without being called.
    struct Guard(Arc<AtomicUsize>, bool);
    impl Drop for Guard {
        fn drop(&mut self) {
            if !self.1 {
                self.0.fetch_add(1, SeqCst);
            }
        }
    }
    for round in 0..8 {
        let mut c = Cluster::new(1);
        let node = Arc::new(c.nodes[0].take().unwrap());
        let refused = Arc::new(AtomicUsize::new(0));
        let returned = Arc::new(AtomicBool::new(false));
        let late = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for t in 0..3 {
            let refused = refused.clone();
            let (node, returned, late, dropped, answered, accepted, stop) = (
                node.clone(),
                returned.clone(),
                late.clone(),
                dropped.clone(),
                answered.clone(),
                accepted.clone(),
                stop.clone(),
            );
            let owner = c.names[0].clone();
            threads.push(std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(SeqCst) {
                    i += 1;
                    let guard = Guard(dropped.clone(), false);
                    let (returned, late, answered) =
                        (returned.clone(), late.clone(), answered.clone());
                    let cb: synod::consensus::ProposeCallback = Box::new(move |_| {
                        // Take the whole guard (not only its flag) into the call.
                        let mut guard = guard;
                        guard.1 = true;
                        if returned.load(SeqCst) {
                            late.fetch_add(1, SeqCst);
                        }
                        answered.fetch_add(1, SeqCst);
                    });
                    let p = synod::entry::Proposal::bare(transition(
                        &format!("race{round}-{t}-{i}"),
                        &owner,
                        1,
                    ));
                    match node.try_submit_with(p, T, cb) {
                        Ok(()) => {
                            accepted.fetch_add(1, SeqCst);
                        }
                        Err(uncalled) => {
                            // Handed back uncalled: dropping it is the refusal.
                            refused.fetch_add(1, SeqCst);
                            drop(uncalled);
                            break;
                        }
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(30));
        node.shutdown();
        returned.store(true, SeqCst);
        stop.store(true, SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            late.load(SeqCst),
            0,
            "a callback ran after shutdown returned"
        );
        assert_eq!(
            answered.load(SeqCst),
            accepted.load(SeqCst),
            "every accepted registration is answered exactly once"
        );
        assert_eq!(
            dropped.load(SeqCst),
            refused.load(SeqCst),
            "only refused registrations are dropped uncalled"
        );
        assert!(accepted.load(SeqCst) > 0);
    }
}

/// A huge timeout means "wait as long as it takes": it must not overflow the
/// deadline arithmetic and kill the driver.
#[test]
fn a_huge_timeout_waits_and_does_not_kill_the_member() {
    let c = Cluster::new(1);
    let node = c.nodes[0].as_ref().unwrap();
    c.leader(Duration::from_secs(5));
    let huge = [Duration::MAX, Duration::from_secs_f64(1e19)];
    for (i, t) in huge.into_iter().enumerate() {
        let committed = node
            .propose(transition(&format!("huge{i}"), &c.names[0], 1), t)
            .unwrap();
        assert!(committed.changed);
        let (tx, rx) = std::sync::mpsc::channel();
        node.propose_with(
            transition(&format!("huge-async{i}"), &c.names[0], 1),
            t,
            Box::new(move |r| tx.send(r).unwrap()),
        );
        assert!(rx.recv_timeout(T).unwrap().is_ok());
        assert!(node.read_linearizable(t, |_, i| i).is_ok());
    }
    // The member is alive and still leads.
    assert!(node.is_leader());
    node.propose(transition("after", &c.names[0], 1), T)
        .unwrap();
}

/// A linearizable read a follower forwarded to a leader that then died is
/// sent again to the next leader, and answered well before its deadline.
#[test]
fn a_read_forwarded_to_a_dead_leader_is_sent_to_the_next_one() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    leader
        .propose(transition("before", &c.names[l], 1), T)
        .unwrap();
    let f = (l + 1) % 3;
    let follower = c.nodes[f].as_ref().unwrap();
    wait_until("the follower applied the write", T, || {
        follower.owner(&"before".parse().unwrap()).is_some()
    });
    // The leader goes silent; the follower still believes in it and
    // forwards the read there, where it is lost.
    c.net.isolate(l as u64 + 1);
    let t0 = Instant::now();
    let got = follower.read_linearizable(Duration::from_secs(20), |cat, i| {
        (cat.owner(&"before".parse().unwrap()).is_some(), i)
    });
    let took = t0.elapsed();
    let (saw, _) = got.unwrap_or_else(|e| panic!("read failed after {took:?}: {e}"));
    assert!(saw, "the read reflects the acknowledged write");
    // Answered once the survivors elected a leader, not at the deadline.
    assert!(took < Duration::from_secs(5), "the read took {took:?}");
}

fn admit(leader: &Node, who: &NodeId, address: &str) -> u64 {
    leader
        .propose(
            membership(MembershipChange::Admit {
                member: who.clone(),
                kind: MemberKind::Data,
                address: address.parse().unwrap(),
            }),
            T,
        )
        .unwrap();
    leader
        .members()
        .into_iter()
        .find(|m| &m.id == who)
        .unwrap()
        .peer_id
}

/// A leader removed while every other member is still a learner cannot hand
/// over yet: it must keep promoting the learners, then hand over and leave.
#[test]
fn a_removed_leader_whose_others_are_learners_promotes_them_then_leaves() {
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let old = c.names[0].clone();
    let mut peers = Vec::new();
    for i in 1..=2usize {
        let who = id(&format!("CN=node-{i}"));
        c.names.push(who.clone());
        let leader = c.nodes[0].as_ref().unwrap();
        peers.push(admit(leader, &who, &format!("mem:{i}")));
    }
    c.nodes[0]
        .as_ref()
        .unwrap()
        .propose(membership(MembershipChange::Remove { member: old }), T)
        .unwrap();
    for (k, peer) in peers.iter().enumerate() {
        let i = k + 1;
        std::fs::create_dir_all(c.dir.path().join(c.names[i].as_str())).unwrap();
        let node = c.start(i, Some(*peer));
        c.nodes.push(Some(node));
    }
    wait_until(
        "a newcomer leads, both are voters and the old leader is gone",
        Duration::from_secs(15),
        || {
            c.nodes.iter().skip(1).flatten().any(|n| {
                let st = n.status();
                n.is_leader()
                    && peers.iter().all(|p| st.voters.contains(p))
                    && !st.voters.contains(&1)
                    && !st.learners.contains(&1)
            })
        },
    );
}

/// A member that stopped says so: it is no longer the leader, knows no
/// leader, and every proposal answers Shutdown.
#[test]
fn a_stopped_leader_no_longer_says_it_leads() {
    let c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let node = c.nodes[0].as_ref().unwrap();
    assert!(node.is_leader());
    node.shutdown();
    assert!(!node.is_leader(), "a stopped member still claims to lead");
    assert_eq!(node.leader(), None);
    assert_eq!(
        node.propose(transition("late", &c.names[0], 1), T),
        Err(ProposeError::Shutdown)
    );
}

/// Members that joined (admitted, caught up, promoted) take leadership on
/// request like bootstrap members do, between every pair.
#[test]
fn leadership_moves_on_request_between_members_that_joined() {
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let mut peers = vec![1u64];
    for i in 1..=2usize {
        let who = id(&format!("CN=node-{i}"));
        c.names.push(who.clone());
        let peer = admit(c.nodes[0].as_ref().unwrap(), &who, &format!("mem:{i}"));
        std::fs::create_dir_all(c.dir.path().join(who.as_str())).unwrap();
        let node = c.start(i, Some(peer));
        c.nodes.push(Some(node));
        peers.push(peer);
    }
    wait_until("both newcomers are voters", Duration::from_secs(10), || {
        let st = c.nodes[0].as_ref().unwrap().status();
        peers.iter().all(|p| st.voters.contains(p))
    });
    for (from, to) in [(0usize, 1usize), (1, 2), (2, 1), (1, 0), (0, 2), (2, 0)] {
        wait_until("the expected leader leads", Duration::from_secs(10), || {
            c.nodes[from].as_ref().unwrap().is_leader()
        });
        // A transfer promises only to try for two election timeouts (on a
        // loaded machine the target may miss them): ask again, as a caller
        // would.
        let mut tries = 0;
        loop {
            match c.nodes[from]
                .as_ref()
                .unwrap()
                .transfer_leadership(&c.names[to])
            {
                Ok(()) => break,
                // It took over just after the deadline.
                Err(_) if c.nodes[to].as_ref().unwrap().is_leader() => break,
                Err(ProposeError::NotTransferred(why)) if tries < 5 => {
                    tries += 1;
                    eprintln!("transfer {from} -> {to} again: {why}");
                }
                Err(e) => panic!("transfer {from} -> {to}: {e}"),
            }
        }
        wait_until(
            &format!("leadership moves from {from} to {to}"),
            Duration::from_secs(10),
            || c.nodes[to].as_ref().unwrap().is_leader(),
        );
    }
}

/// A transfer either happens or says why not: a follower answers "not the
/// leader" (naming it) instead of accepting a request it cannot carry out,
/// and the leader answers once leadership has moved.
#[test]
fn a_transfer_happens_or_says_why_not() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let f = (l + 1) % 3;
    let to = (l + 2) % 3;
    let follower = c.nodes[f].as_ref().unwrap();
    match follower.transfer_leadership(&c.names[to]) {
        Err(ProposeError::NotLeader { leader: Some(hint) }) => assert_eq!(hint.id, c.names[l]),
        other => panic!("a follower accepted a transfer it cannot carry out: {other:?}"),
    }
    let leader = c.nodes[l].as_ref().unwrap();
    leader.transfer_leadership(&c.names[to]).unwrap();
    // When the call returns, leadership has moved.
    assert!(
        !leader.is_leader(),
        "the transfer returned before it happened"
    );
    wait_until("the target leads", T, || {
        c.nodes[to].as_ref().unwrap().is_leader()
    });
}

/// Proposals that expire in the same turn of a healthy leader all answer
/// Timeout: giving up on one must not clear raft's activity flags and make
/// the next look like a lost quorum (or make the leader step down).
#[test]
fn proposals_expiring_together_on_a_healthy_leader_all_time_out() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    leader
        .propose(transition("warm", &c.names[l], 1), T)
        .unwrap();
    for round in 0..5 {
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..4 {
            let tx = tx.clone();
            leader.propose_with(
                transition(&format!("fast{round}-{i}"), &c.names[l], 1),
                Duration::from_nanos(1),
                Box::new(move |r| tx.send(r).unwrap()),
            );
        }
        for _ in 0..4 {
            match rx.recv_timeout(T).unwrap() {
                Ok(_) | Err(ProposeError::Timeout(_)) => {}
                Err(e) => panic!("a healthy leader answered {e:?}"),
            }
        }
    }
    assert!(leader.is_leader(), "the healthy leader stepped down");
}

/// A clean stop makes the commit index durable: a Ready that only moves it
/// rides on the next fsync, and without one at the stop a restarted member
/// came back with an older commit index (seen in `synod inspect`) and
/// applied less than it had until a leader told it again.
#[test]
fn a_clean_stop_leaves_the_commit_index_on_disk() {
    let mut c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let follower = (l + 1) % 3;
    for e in 1..=5 {
        c.nodes[l]
            .as_ref()
            .unwrap()
            .propose(transition("r", &c.names[l], e), T)
            .unwrap();
    }
    let target = c.nodes[l].as_ref().unwrap().status().commit;
    wait_until("the follower applies every write", T, || {
        c.nodes[follower].as_ref().unwrap().status().applied >= target
    });
    let commit = c.nodes[follower].as_ref().unwrap().status().commit;
    c.nodes[follower].take().unwrap().shutdown();
    let path = c.dir.path().join(c.names[follower].as_str());
    let (store, _) =
        DurableStore::open(Arc::new(RealDisk), &path, StoreOptions::default()).unwrap();
    assert!(
        store.hard_state().commit >= commit.0,
        "the stopped member's disk says commit {}, it had {}",
        store.hard_state().commit,
        commit.0
    );
}

/// Every read of a member that was shut down says so: `Shutdown`, not "no
/// owner", an empty list or `Unknown`; and it leads nobody.
#[test]
fn a_shut_down_member_answers_every_read_with_shutdown() {
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    leader.propose(transition("r", &c.names[l], 1), T).unwrap();
    let range: synod::RangeId = "r".parse().unwrap();
    // Running: the fallible reads answer what the infallible ones do.
    assert!(leader.check_running().is_ok());
    assert_eq!(leader.try_owner(&range).unwrap(), leader.owner(&range));
    assert_eq!(leader.try_members().unwrap().len(), 3);
    assert_eq!(
        leader.try_fence_check(&range, &c.names[l], Epoch(1)),
        Ok(synod::FenceStatus::Current)
    );
    assert_eq!(leader.try_audit_log(), Ok(Vec::new()));

    leader.shutdown();
    assert_eq!(leader.check_running(), Err(ProposeError::Shutdown));
    assert_eq!(leader.try_owner(&range), Err(ProposeError::Shutdown));
    assert_eq!(leader.try_members(), Err(ProposeError::Shutdown));
    assert_eq!(
        leader.try_fence_check(&range, &c.names[l], Epoch(1)),
        Err(ProposeError::Shutdown)
    );
    assert_eq!(leader.try_audit_log(), Err(ProposeError::Shutdown));
    assert_eq!(
        leader.read_local(|cat, _| cat.members().count()),
        Err(ProposeError::Shutdown)
    );
    assert!(!leader.is_leader());
    assert_eq!(leader.leader(), None);
    // The infallible forms answer as if empty, as documented.
    assert_eq!(leader.owner(&range), None);
    assert!(leader.members().is_empty());
    assert_eq!(
        leader.fence_check(&range, &c.names[l], Epoch(1)),
        synod::FenceStatus::Unknown
    );
    // Through the boundary trait object too (what the C and Python bindings
    // hold).
    let dynamic: &dyn ControlPlaneConsensus = leader;
    assert_eq!(dynamic.try_owner(&range), Err(ProposeError::Shutdown));
    assert_eq!(dynamic.try_members(), Err(ProposeError::Shutdown));
}

/// A member whose store failed answers every read with the fatal error
/// (`Storage`), not with an empty catalog; it leads nobody.
#[test]
fn a_member_whose_store_failed_answers_every_read_with_the_fatal_error() {
    use synod::storage::sim::{Fault, SimDisk};
    let dir = std::path::Path::new("/sim/solo");
    let me = id("CN=solo");
    let disk = SimDisk::new();
    DurableStore::bootstrap(
        Arc::new(disk.clone()),
        dir,
        StoreOptions::default(),
        &[InitialMember {
            id: me.clone(),
            kind: MemberKind::Data,
            address: "mem:0".parse().unwrap(),
        }],
    )
    .unwrap();
    let (store, _) =
        DurableStore::open(Arc::new(disk.clone()), dir, StoreOptions::default()).unwrap();
    let mut opts = NodeOptions::new(me.clone());
    opts.engine = engine();
    let net = MemoryNetwork::new();
    let node = Node::start(opts, store, move |inbox| net.join(1, inbox)).unwrap();
    wait_until("the sole member leads", T, || node.is_leader());
    node.propose(transition("r", &me, 1), T).unwrap();
    let range: synod::RangeId = "r".parse().unwrap();
    assert!(node.try_owner(&range).unwrap().is_some());

    // The disk dies: the next write fails and the member stops on it.
    disk.set_fault(Some(Fault {
        at_op: disk.stats().ops,
        then_dead: true,
    }));
    let failed = node.propose(transition("r", &me, 2), T);
    assert!(
        matches!(failed, Err(ProposeError::Storage(_))),
        "{failed:?}"
    );
    wait_until("the member stops", T, || node.stopped().is_some());
    let fatal = node.check_running().unwrap_err();
    assert!(matches!(fatal, ProposeError::Storage(_)), "{fatal:?}");
    assert_eq!(node.try_owner(&range), Err(fatal.clone()));
    assert_eq!(node.try_members(), Err(fatal.clone()));
    assert_eq!(
        node.try_fence_check(&range, &me, Epoch(1)),
        Err(fatal.clone())
    );
    assert_eq!(node.try_audit_log(), Err(fatal.clone()));
    assert!(!node.is_leader());
    assert_eq!(node.leader(), None);
    node.shutdown();
    // Shutting it down afterwards keeps the fatal error as the answer.
    assert_eq!(node.try_members(), Err(fatal));
}

/// A completion callback may call the member's blocking API: callbacks run
/// on a thread of their own, so the driver is free to answer. (When they ran
/// on the driver thread this deadlocked the member.)
#[test]
fn a_callback_may_call_the_blocking_api_of_its_own_member() {
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let node = Arc::new(c.nodes[0].take().unwrap());
    let me = c.names[0].clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let inner = Arc::clone(&node);
    node.propose_with(
        transition("outer", &me, 1),
        T,
        Box::new(move |first| {
            let nested = inner.propose(transition("nested", &me, 1), T);
            let read = inner.try_owner(&"outer".parse().unwrap());
            let _ = tx.send((first, nested, read));
        }),
    );
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok((first, nested, read)) => {
            assert!(first.is_ok(), "{first:?}");
            assert!(nested.is_ok(), "{nested:?}");
            assert!(read.unwrap().is_some());
        }
        Err(_) => {
            // Deadlocked: dropping the node would wait for its stuck driver
            // forever, so leave it and fail instead of hanging.
            std::mem::forget(node);
            panic!("a callback that called propose on its own member never finished");
        }
    }
    node.shutdown();
}

/// A slow callback holds up later callbacks, not consensus: while one sleeps
/// 2 s, the leader keeps its leadership (heartbeats go out) and other
/// proposals commit.
#[test]
fn a_slow_callback_does_not_stall_the_member() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let term = leader.current_term();
    let (started, finished) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (s, f) = (started.clone(), finished.clone());
    leader.propose_with(
        transition("slow", &c.names[l], 1),
        T,
        Box::new(move |r| {
            s.store(true, SeqCst);
            assert!(r.is_ok(), "{r:?}");
            std::thread::sleep(Duration::from_secs(2));
            f.store(true, SeqCst);
        }),
    );
    wait_until("the slow callback runs", T, || started.load(SeqCst));
    let t0 = Instant::now();
    for i in 0..5 {
        leader
            .propose(
                transition(&format!("meanwhile{i}"), &c.names[l], 1),
                Duration::from_secs(1),
            )
            .unwrap_or_else(|e| panic!("a proposal during the slow callback failed: {e}"));
    }
    // Several election timeouts (10 ms ticks) pass while the callback sleeps.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !finished.load(SeqCst),
        "the callback finished early ({:?}): the test proves nothing",
        t0.elapsed()
    );
    assert!(leader.is_leader(), "the leader lost its leadership");
    assert_eq!(leader.current_term(), term, "an election happened");
    for n in c.nodes.iter().flatten() {
        assert_eq!(n.current_term(), term);
    }
    wait_until("the slow callback ends", T, || finished.load(SeqCst));
}

/// A callback may shut its own member down: the call returns (no deadlock),
/// and every other registered callback has run by then, exactly once.
#[test]
fn a_callback_may_shut_its_own_member_down() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let node = Arc::new(c.nodes[0].take().unwrap());
    let me = c.names[0].clone();
    let returned = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let (inner, ret) = (Arc::clone(&node), returned.clone());
    node.propose_with(
        transition("stopper", &me, 1),
        T,
        Box::new(move |_| {
            inner.shutdown();
            ret.store(true, SeqCst);
            let _ = tx.send(());
        }),
    );
    for i in 0..20 {
        let (returned, late, answered) = (returned.clone(), late.clone(), answered.clone());
        node.propose_with(
            transition(&format!("after{i}"), &me, 1),
            Duration::from_secs(60),
            Box::new(move |_| {
                if returned.load(SeqCst) {
                    late.fetch_add(1, SeqCst);
                }
                answered.fetch_add(1, SeqCst);
            }),
        );
    }
    if rx.recv_timeout(Duration::from_secs(10)).is_err() {
        std::mem::forget(node);
        panic!("shutdown called from a callback never returned");
    }
    node.shutdown();
    assert_eq!(answered.load(SeqCst), 20, "every callback ran exactly once");
    assert_eq!(
        late.load(SeqCst),
        0,
        "a callback ran after shutdown returned"
    );
    assert_eq!(node.check_running(), Err(ProposeError::Shutdown));
}

/// A member's driver thread held inside a local read (and one call slot
/// taken) until released: what a long fsync or a slow batch looks like to
/// everything else.
struct HeldDriver {
    release: std::sync::mpsc::Sender<()>,
    blocker: std::thread::JoinHandle<Result<(), ProposeError>>,
}

impl HeldDriver {
    fn hold(node: &Arc<Node>) -> HeldDriver {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let node = Arc::clone(node);
        let blocker = std::thread::spawn(move || {
            node.read_local(move |_, _| {
                let _ = held.recv();
            })
        });
        std::thread::sleep(Duration::from_millis(50));
        HeldDriver { release, blocker }
    }

    fn release(self) {
        self.release.send(()).unwrap();
        self.blocker.join().unwrap().unwrap();
    }
}

/// A steady stream of calls must not hold up the leader's ticks: with 32
/// threads keeping its queue full of slow local reads for two seconds (20
/// election timeouts), its followers keep hearing from it and nobody starts
/// an election.
#[test]
fn a_flood_of_calls_does_not_stop_the_leaders_heartbeats() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    leader
        .propose(transition("before", &c.names[l], 1), T)
        .unwrap();
    let term = leader.current_term();
    let stop = AtomicBool::new(false);
    let served = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..32 {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    let r = leader.read_local(|_, _| std::thread::sleep(Duration::from_millis(2)));
                    assert!(r.is_ok(), "{r:?}");
                    served.fetch_add(1, SeqCst);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, SeqCst);
    });
    assert!(served.load(SeqCst) > 100, "the flood did not flow");
    for n in c.nodes.iter().flatten() {
        assert_eq!(
            n.current_term(),
            term,
            "{}: an election happened while the leader was flooded",
            n.id()
        );
    }
    assert!(leader.is_leader());
    leader
        .propose(transition("after", &c.names[l], 1), T)
        .unwrap();
}

/// Calls in flight are bounded (`max_pending_calls`): with the driver held
/// up, the calls past the bound are answered `Overloaded` (an asynchronous
/// one at once, a blocking one at its deadline) and take no effect; the
/// ones admitted commit once the driver moves again, and room comes back.
#[test]
fn calls_past_the_bound_are_answered_overloaded_and_take_no_effect() {
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    c.nodes[0].take().unwrap().shutdown();
    let node = Arc::new(c.start_with(0, None, |o| o.max_pending_calls = 8));
    c.leader_of(&node);
    let me = c.names[0].clone();
    // One call holds the driver (and one slot) until released.
    let held = HeldDriver::hold(&node);
    let (tx, answers) = std::sync::mpsc::channel();
    let mut overloaded = Vec::new();
    for i in 0..12 {
        let tx = tx.clone();
        let p = synod::entry::Proposal::bare(transition(&format!("r{i}"), &me, 1));
        match node.try_submit_with(p, T, Box::new(move |r| tx.send((i, r)).unwrap())) {
            Ok(()) => {}
            Err(u) => {
                assert!(
                    matches!(u.error, ProposeError::Overloaded(_)),
                    "{:?}",
                    u.error
                );
                overloaded.push(i);
            }
        }
    }
    assert_eq!(
        overloaded,
        vec![7, 8, 9, 10, 11],
        "7 admitted besides the blocker"
    );
    let t0 = Instant::now();
    let late = node.propose(transition("sync", &me, 1), Duration::from_millis(200));
    assert!(matches!(late, Err(ProposeError::Overloaded(_))), "{late:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "it waited for room"
    );
    held.release();
    drop(tx);
    let mut committed: Vec<i32> = answers
        .iter()
        .map(|(i, r)| {
            assert!(r.is_ok(), "r{i}: {r:?}");
            i
        })
        .collect();
    committed.sort();
    assert_eq!(committed, vec![0, 1, 2, 3, 4, 5, 6]);
    for i in 7..12 {
        assert!(node
            .try_owner(&format!("r{i}").parse().unwrap())
            .unwrap()
            .is_none());
    }
    assert!(node.try_owner(&"sync".parse().unwrap()).unwrap().is_none());
    // Room came back.
    node.propose(transition("later", &me, 1), T).unwrap();
    node.shutdown();
}

/// Messages from peers wait for the driver in a bounded inbox
/// (`max_inbound_messages`): a transport thread delivering into a full one
/// waits (back-pressure) and then drops the raft message, counted; reports
/// still go through; and the member carries on once its driver moves.
#[test]
fn a_full_inbox_pushes_back_then_drops_peer_messages_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let me = id("CN=node-0");
    let initial = vec![InitialMember {
        id: me.clone(),
        kind: MemberKind::Data,
        address: "mem:0".parse().unwrap(),
    }];
    let path = dir.path().join("n0");
    DurableStore::bootstrap(Arc::new(RealDisk), &path, StoreOptions::default(), &initial).unwrap();
    let (store, _) =
        DurableStore::open(Arc::new(RealDisk), &path, StoreOptions::default()).unwrap();
    let mut opts = NodeOptions::new(me.clone());
    opts.engine = engine();
    opts.max_inbound_messages = 4;
    let net = MemoryNetwork::new();
    let (inbox_tx, inbox_rx) = std::sync::mpsc::channel();
    let node = Arc::new(
        Node::start(opts, store, move |inbox| {
            inbox_tx.send(inbox.clone()).unwrap();
            net.join(1, inbox)
        })
        .unwrap(),
    );
    let inbox = inbox_rx.recv().unwrap();
    wait_until("the member leads", Duration::from_secs(5), || {
        node.is_leader()
    });
    let held = HeldDriver::hold(&node);
    let heartbeat = || {
        let mut m = raft::eraftpb::Message::default();
        m.set_msg_type(raft::eraftpb::MessageType::MsgHeartbeatResponse);
        m.from = 7;
        m.to = 1;
        m
    };
    let t0 = Instant::now();
    for _ in 0..10 {
        assert!(inbox.deliver(heartbeat()));
    }
    let waited = t0.elapsed();
    // Four fit; each of the six others waited a tick (10 ms) for room.
    assert!(
        waited >= Duration::from_millis(50),
        "no back-pressure: {waited:?}"
    );
    let metrics = node.metrics();
    assert_eq!(
        metrics
            .inbox_dropped
            .load(std::sync::atomic::Ordering::SeqCst),
        6
    );
    assert!(
        inbox.report_unreachable(7),
        "a report goes through a full inbox"
    );
    assert!(node.metrics_text().contains("synod_inbox_dropped_total"));
    held.release();
    node.propose(transition("after", &me, 1), T).unwrap();
    // Room came back: nothing more is dropped.
    for _ in 0..3 {
        assert!(inbox.deliver(heartbeat()));
    }
    assert_eq!(
        metrics
            .inbox_dropped
            .load(std::sync::atomic::Ordering::SeqCst),
        6
    );
    node.shutdown();
    assert!(
        !inbox.deliver(heartbeat()),
        "a stopped member takes nothing"
    );
}

/// Local reads load the published catalog: they answer while the driver
/// is held up (inside an fsync, or here a slow read), with the index they
/// reflect.
#[test]
fn local_reads_never_wait_for_the_driver() {
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let node = Arc::new(c.nodes[0].take().unwrap());
    let me = c.names[0].clone();
    let committed = node.propose(transition("r", &me, 1), T).unwrap();
    let held = HeldDriver::hold(&node);
    let (tx, answered) = std::sync::mpsc::channel();
    {
        let node = Arc::clone(&node);
        let me = me.clone();
        std::thread::spawn(move || {
            let r: synod::RangeId = "r".parse().unwrap();
            let fence = node.try_fence_check(&r, &me, Epoch(1));
            let view = node.view().map(|v| v.applied());
            let _ = tx.send((fence, view));
        });
    }
    let got = answered.recv_timeout(Duration::from_secs(2));
    held.release();
    let (fence, view) = got.expect("a local read waited for the driver");
    assert_eq!(fence, Ok(synod::FenceStatus::Current));
    let (index, term) = view.unwrap();
    assert!(index >= committed.index && term >= committed.term);
    node.shutdown();
    assert_eq!(node.view().err(), Some(ProposeError::Shutdown));
}

/// Whoever is told a proposal committed reads it at once from the member
/// that answered (the view is published before the answer), and at any
/// member with `AtLeast(index)`; a linearizable read on a follower
/// reflects everything committed before it began.
#[test]
fn reads_say_their_index_and_levels_keep_their_promises() {
    use synod::node::ReadLevel;
    let c = Cluster::new(3);
    let l = c.leader(Duration::from_secs(5));
    let leader = c.nodes[l].as_ref().unwrap();
    let f = (l + 1) % 3;
    let follower = c.nodes[f].as_ref().unwrap();
    for i in 0..50 {
        let range = format!("ryw{i}");
        let committed = leader
            .propose(transition(&range, &c.names[l], 1), T)
            .unwrap();
        let r: synod::RangeId = range.parse().unwrap();
        let here = leader.view().unwrap();
        assert!(here.applied().0 >= committed.index);
        assert!(
            here.owner(&r).is_some(),
            "the leader's own answer is readable at once"
        );
        let there = follower
            .read_view(ReadLevel::AtLeast(committed.index), T)
            .unwrap();
        assert!(there.applied().0 >= committed.index);
        assert_eq!(there.owner(&r).map(|o| o.index), Some(committed.index));
    }
    let committed = leader
        .propose(transition("lin", &c.names[l], 1), T)
        .unwrap();
    let v = follower.read_view(ReadLevel::Linearizable, T).unwrap();
    assert!(v.applied().0 >= committed.index);
    assert!(v.owner(&"lin".parse().unwrap()).is_some());
    // An index nobody reached: the wait ends at its deadline.
    let far = synod::Index(committed.index.0 + 1_000_000);
    let t0 = Instant::now();
    assert_eq!(
        follower.wait_applied(far, Duration::from_millis(100)).err(),
        Some(ProposeError::Timeout(Duration::from_millis(100)))
    );
    assert!(t0.elapsed() >= Duration::from_millis(100));
    // The leader, as every member knows it.
    let info = follower.leader_info().unwrap();
    assert_eq!(info.hint.id, c.names[l]);
    assert_eq!(info.term, leader.current_term());
    assert!(info.hint.address.is_some());
}

/// A waiter on an index is woken by the member's shutdown and told so.
#[test]
fn a_wait_for_an_index_ends_when_the_member_stops() {
    let mut c = Cluster::new(1);
    c.leader(Duration::from_secs(5));
    let node = Arc::new(c.nodes[0].take().unwrap());
    let waiter = {
        let node = Arc::clone(&node);
        std::thread::spawn(move || {
            node.wait_applied(synod::Index(1 << 40), Duration::from_secs(60))
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    node.shutdown();
    assert_eq!(waiter.join().unwrap().err(), Some(ProposeError::Shutdown));
    assert!(t0.elapsed() < Duration::from_secs(5));
}

mod watching {
    use super::*;
    use synod::node::watch::{WatchError, WatchItem};
    use synod::{ApplyOutcome, Index};

    /// Collects the events of `w` until one at `last` or later arrived.
    fn events_until(w: &mut synod::node::watch::Watch, last: Index) -> Vec<WatchItem> {
        let mut got = Vec::new();
        loop {
            match w.next(Duration::from_secs(10)) {
                Ok(item) => {
                    let done = match &item {
                        WatchItem::Event(e) => e.index >= last,
                        // The catalog as of `last` or later covers it.
                        WatchItem::Snapshot(v) => v.applied().0 >= last,
                        WatchItem::Role { .. } => false,
                    };
                    got.push(item);
                    if done {
                        return got;
                    }
                }
                Err(e) => panic!("the watch ended early: {e}; got {got:?}"),
            }
        }
    }

    fn event_indexes(items: &[WatchItem]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|i| match i {
                WatchItem::Event(e) => Some(e.index.0),
                _ => None,
            })
            .collect()
    }

    /// Concurrent writers on the leader; a watcher on a follower sees every
    /// acknowledged transition once, in log order, with its outcome; a
    /// second watcher started later from the first's start gets the same
    /// events from the history.
    #[test]
    fn a_watch_sees_every_committed_entry_once_in_order() {
        let c = Cluster::new(3);
        let l = c.leader(Duration::from_secs(5));
        let leader = c.nodes[l].as_ref().unwrap();
        let follower = c.nodes[(l + 1) % 3].as_ref().unwrap();
        let from = Index(follower.view().unwrap().applied().0 .0 + 1);
        let mut w = follower.watch(from).unwrap();
        let acked = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..4 {
                let acked = &acked;
                let owner = c.names[l].clone();
                s.spawn(move || {
                    for i in 0..25 {
                        let r = format!("w{t}-{i}");
                        let done = leader.propose(transition(&r, &owner, 1), T).unwrap();
                        acked.lock().unwrap().push((done.index, r));
                    }
                });
            }
        });
        let mut acked = acked.into_inner().unwrap();
        acked.sort();
        let last = acked.last().unwrap().0;
        let items = events_until(&mut w, last);
        let indexes = event_indexes(&items);
        assert!(
            indexes.windows(2).all(|p| p[0] < p[1]),
            "in order, once: {indexes:?}"
        );
        for (index, range) in &acked {
            let e = items
                .iter()
                .find_map(|i| match i {
                    WatchItem::Event(e) if e.index == *index => Some(e),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("index {index} ({range}) was not delivered"));
            match &e.entry {
                ControlPlaneEntry::OwnershipTransition(t) => assert_eq!(t.range.as_str(), range),
                other => panic!("{other:?}"),
            }
            assert!(
                matches!(e.outcome, ApplyOutcome::Applied { .. }),
                "{:?}",
                e.outcome
            );
        }
        // The same events again, from the history, for a later watcher.
        let mut again = follower.watch(from).unwrap();
        let replay = events_until(&mut again, last);
        assert_eq!(event_indexes(&replay), indexes);
    }

    /// A watch that starts before what the member keeps gets the catalog
    /// first, then what follows; a watcher that falls so far behind that
    /// the history moved on gets the catalog as it is, then carries on: it
    /// is never cut and never misses silently; a shutdown ends every watch
    /// with the reason, after what it was still owed.
    #[test]
    fn history_limits_and_stops_are_said_never_silent() {
        let mut c = Cluster::new(1);
        c.leader(Duration::from_secs(5));
        c.nodes[0].take().unwrap().shutdown();
        let node = c.start_with(0, None, |o| o.watch_history = 8);
        c.leader_of(&node);
        let me = c.names[0].clone();
        let first = node.propose(transition("h0", &me, 1), T).unwrap().index;
        let mut slow = node.watch(Index(first.0 + 1)).unwrap();
        // Reads two events, then stops reading while 18 more commit.
        let mut early = Vec::new();
        let mut last = first;
        for i in 1..20 {
            last = node
                .propose(transition(&format!("h{i}"), &me, 1), T)
                .unwrap()
                .index;
            if i == 2 {
                while early.len() < 2 {
                    if let WatchItem::Event(e) = slow.next(T).unwrap() {
                        early.push(e.index.0);
                    }
                }
            }
        }
        assert_eq!(early, vec![first.0 + 1, first.0 + 2]);
        // Too old for the history of 8: the catalog as of now, then events.
        let mut old = node.watch(first).unwrap();
        let mut items = vec![old.next(T).unwrap(), old.next(T).unwrap()];
        items.retain(|i| !matches!(i, WatchItem::Role { .. }));
        match items.first() {
            Some(WatchItem::Snapshot(v)) => {
                assert!(v.applied().0 >= last);
                assert!(v.owner(&"h19".parse().unwrap()).is_some());
            }
            other => panic!("{other:?}"),
        }
        let next = node.propose(transition("after", &me, 1), T).unwrap().index;
        assert_eq!(event_indexes(&events_until(&mut old, next)), vec![next.0]);
        // The slow watcher: the history moved past it, so it gets the catalog
        // as it is, then what follows; nothing after the snapshot is missed.
        let rest = events_until(&mut slow, next);
        let snapshot_at = rest
            .iter()
            .find_map(|i| match i {
                WatchItem::Snapshot(v) => Some(v.applied().0 .0),
                _ => None,
            })
            .expect("the slow watcher was told the history moved on");
        assert!(snapshot_at >= last.0);
        // What follows the snapshot comes after it, up to the last commit.
        let after: Vec<u64> = event_indexes(&rest);
        assert!(
            after.iter().all(|i| *i > snapshot_at),
            "{after:?} after {snapshot_at}"
        );
        assert!(snapshot_at >= next.0 || after.last() == Some(&next.0));
        let mut live = node.watch(Index(next.0 + 1)).unwrap();
        node.shutdown();
        let mut end = live.next(T);
        while let Ok(WatchItem::Role { .. }) = end {
            end = live.next(T);
        }
        assert_eq!(end, Err(WatchError::Stopped(ProposeError::Shutdown)));
        assert_eq!(node.watch(Index(1)).err(), Some(ProposeError::Shutdown));
    }

    /// The leader dies: a watcher on a follower carries on across the
    /// failover, and one that resumes on the other follower from the last
    /// index seen gets exactly the rest: no gap, no duplicate.
    #[test]
    fn a_watch_survives_the_leaders_death_without_a_gap_or_a_duplicate() {
        let mut c = Cluster::new(3);
        let l = c.leader(Duration::from_secs(5));
        let (f1, f2) = ((l + 1) % 3, (l + 2) % 3);
        let from = Index(c.nodes[f1].as_ref().unwrap().view().unwrap().applied().0 .0 + 1);
        let mut w = c.nodes[f1].as_ref().unwrap().watch(from).unwrap();
        let mut acked = Vec::new();
        for i in 0..10 {
            let owner = c.names[f1].clone();
            acked.push(
                c.nodes[l]
                    .as_ref()
                    .unwrap()
                    .propose(transition(&format!("pre{i}"), &owner, 1), T)
                    .unwrap()
                    .index,
            );
        }
        let before = events_until(&mut w, *acked.last().unwrap());
        c.nodes[l].take().unwrap().shutdown();
        let l2 = c.leader(Duration::from_secs(10));
        for i in 0..10 {
            let owner = c.names[f1].clone();
            acked.push(
                c.nodes[l2]
                    .as_ref()
                    .unwrap()
                    .propose(transition(&format!("post{i}"), &owner, 1), T)
                    .unwrap()
                    .index,
            );
        }
        let last = *acked.last().unwrap();
        let after = events_until(&mut w, last);
        let mut all = event_indexes(&before);
        all.extend(event_indexes(&after));
        assert!(all.windows(2).all(|p| p[0] < p[1]), "{all:?}");
        for a in &acked {
            assert!(all.contains(&a.0), "{a} missing from {all:?}");
        }
        // A watcher that resumes on the other member from the middle.
        let mid = Index(event_indexes(&before).last().unwrap() + 1);
        let mut other = c.nodes[f2].as_ref().unwrap().watch(mid).unwrap();
        let rest = event_indexes(&events_until(&mut other, last));
        let expected: Vec<u64> = all.iter().copied().filter(|i| *i >= mid.0).collect();
        assert_eq!(rest, expected);
        // The follower's own role changes are in its feed too.
        let roles = before
            .iter()
            .chain(after.iter())
            .filter(|i| matches!(i, WatchItem::Role { .. }))
            .count();
        assert!(roles >= 1, "no role item");
    }
}
