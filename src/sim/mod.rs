//! The seeded deterministic simulator.
//!
//! K members run in one thread over an in-memory network and one simulated
//! disk each ([`crate::storage::SimDisk`]), through the same
//! [`Replica`](crate::engine::Replica) code a real member runs. One seed
//! drives everything: message loss, duplication, delay and so reordering,
//! partitions and heals, crashes that lose unsynced writes (sometimes
//! tearing the last one), restarts from the disk, membership changes
//! (admit, drain, remove; new members join by snapshot), leadership
//! transfers, and a client workload of ownership transitions with expected
//! epochs, some deliberately stale. Election timeouts come from the seed
//! too, so a run replays bit for bit. Every message also goes through the
//! wire codec, as it would between processes.
//!
//! After every tick the [`checker::Checker`] checks Raft's and the catalog's
//! safety rules. When the fault phase ends, a liveness phase heals the
//! network, restarts every member, and requires a leader and a new commit
//! within a bounded number of ticks, then every member to catch up.
//!
//! [`Mutant`]s are deliberately broken builds of the engine; the simulator
//! must catch each of them, which is the proof that the checker is not
//! vacuous.

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

pub mod checker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use raft::eraftpb::{Message, MessageType};

use crate::catalog::{InitialMember, MemberState};
use crate::consensus::ProposeError;
use crate::engine::rng::SplitMix64;
use crate::engine::{Completion, EngineConfig, Mutant, ProposalToken, Replica};
use crate::entry::{
    ControlPlaneEntry, Epoch, ForcedOwnershipTransition, MemberKind, MembershipChange, NodeId,
    OwnershipTransition,
};
use crate::storage::{DurableStore, SimDisk, StoreOptions};
use crate::transport::wire;
use checker::Checker;

/// What one simulated run does.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The seed everything is drawn from.
    pub seed: u64,
    /// Members at bootstrap.
    pub nodes: usize,
    /// A deliberately broken engine, or none.
    pub mutant: Option<Mutant>,
    /// Ticks with faults.
    pub fault_ticks: u64,
    /// Ticks allowed for a leader and a new commit once faults stop.
    pub liveness_ticks: u64,
    /// Print every delivery, fault and refusal to stderr (for replays).
    pub trace: bool,
}

impl SimOptions {
    /// The defaults for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            nodes: 3,
            mutant: None,
            fault_ticks: 400,
            liveness_ticks: 400,
            trace: false,
        }
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Ticks simulated.
    pub ticks: u64,
    /// Entries known committed.
    pub committed: u64,
    /// Proposals acknowledged to clients.
    pub acked: u64,
    /// Crashes.
    pub crashes: u64,
    /// Distinct (term, leader) pairs seen.
    pub leaders: u64,
    /// Members admitted during the run.
    pub admitted: u64,
    /// Members removed from the configuration during the run.
    pub removed: u64,
    /// Messages sent.
    pub messages: u64,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Every violation found (empty when the run is clean).
    pub violations: Vec<String>,
    /// Counters.
    pub stats: SimStats,
}

const DIR: &str = "/data";

fn store_options() -> StoreOptions {
    // Small segments so rotation and compaction happen in every run.
    StoreOptions {
        segment_bytes: 4096,
        ..StoreOptions::default()
    }
}

fn engine_config() -> EngineConfig {
    EngineConfig {
        heartbeat_ticks: 1,
        election_ticks: 10,
        snapshot_every: 24,
        max_learner_lag: 4,
        max_size_per_msg: 64 * 1024,
        max_inflight_msgs: 16,
        ..EngineConfig::default()
    }
}

struct SimNode {
    id: NodeId,
    disk: SimDisk,
    replica: Option<Replica<DurableStore>>,
    /// Joined after bootstrap: needs its peer id to reopen an empty store.
    joiner: bool,
    removed: bool,
    /// The tick at which an admitted member's process first starts (an
    /// operator starts it some time after admitting it).
    start_at: u64,
    started: bool,
}

struct PendingOp {
    entry: ControlPlaneEntry,
    peer: u64,
    issued: u64,
}

#[derive(Default)]
struct Network {
    queue: BTreeMap<(u64, u64), Message>,
    seq: u64,
    /// Directed links that drop everything.
    blocked: BTreeSet<(u64, u64)>,
    loss: u64,
    dup: u64,
    max_delay: u64,
}

struct World {
    opts: SimOptions,
    rng: SplitMix64,
    now: u64,
    faults: bool,
    nodes: BTreeMap<u64, SimNode>,
    net: Network,
    checker: Checker,
    pending: BTreeMap<ProposalToken, PendingOp>,
    next_token: u64,
    next_member: u64,
    stats: SimStats,
    /// Set when a member reported an error that stopped it.
    engine_failures: Vec<String>,
}

/// Runs one seed.
pub fn run_seed(opts: &SimOptions) -> SeedReport {
    let mut w = World::new(opts.clone());
    w.run();
    w.checker.finish(w.now);
    let mut violations = w.checker.violations().to_vec();
    violations.extend(w.engine_failures.iter().cloned());
    w.stats.committed = w.checker.committed_len() as u64;
    w.stats.acked = w.checker.acked_len() as u64;
    SeedReport {
        seed: opts.seed,
        violations,
        stats: w.stats,
    }
}

fn name(i: u64) -> NodeId {
    NodeId::from_certificate_subject(&format!("CN=n{i}")).unwrap_or_else(|e| unreachable!("{e}"))
}

impl World {
    fn new(opts: SimOptions) -> Self {
        let mut rng = SplitMix64::new(opts.seed);
        let initial: Vec<InitialMember> = (1..=opts.nodes as u64)
            .map(|i| InitialMember {
                id: name(i),
                kind: MemberKind::Data,
                address: format!("sim:{i}")
                    .parse()
                    .unwrap_or_else(|e| unreachable!("{e}")),
            })
            .collect();
        let mut w = World {
            rng: rng.fork(),
            now: 0,
            faults: true,
            nodes: BTreeMap::new(),
            net: Network {
                loss: 3,
                dup: 2,
                max_delay: 3,
                ..Network::default()
            },
            checker: Checker::new(),
            pending: BTreeMap::new(),
            next_token: 0,
            next_member: opts.nodes as u64 + 1,
            stats: SimStats::default(),
            engine_failures: Vec::new(),
            opts,
        };
        // Identity order equals numeric order for n1..n9, so peer i is n{i}.
        for (i, m) in initial.iter().enumerate() {
            let disk = SimDisk::new();
            if let Err(e) = DurableStore::bootstrap(
                Arc::new(disk.clone()),
                Path::new(DIR),
                store_options(),
                &initial,
            ) {
                w.engine_failures
                    .push(format!("bootstrap of {}: {e}", m.id));
            }
            w.nodes.insert(
                i as u64 + 1,
                SimNode {
                    id: m.id.clone(),
                    disk,
                    replica: None,
                    joiner: false,
                    removed: false,
                    start_at: 0,
                    started: false,
                },
            );
        }
        let peers: Vec<u64> = w.nodes.keys().copied().collect();
        for p in peers {
            w.start(p);
        }
        w
    }

    fn start(&mut self, peer: u64) {
        let seed = self.rng.next_u64();
        let Some(n) = self.nodes.get_mut(&peer) else {
            return;
        };
        let opened = DurableStore::open(Arc::new(n.disk.clone()), Path::new(DIR), store_options())
            .map_err(|e| e.to_string())
            .and_then(|(store, _)| {
                match Replica::open(
                    engine_config(),
                    n.id.clone(),
                    n.joiner.then_some(peer),
                    store,
                    seed,
                ) {
                    Ok(r) => Ok(Some(r)),
                    // Its own store says it was removed: it stays down.
                    Err(crate::engine::EngineError::NotAMember { .. }) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            });
        match opened {
            Ok(None) => {
                n.removed = true;
                self.stats.removed += 1;
            }
            Ok(Some(mut r)) => {
                n.started = true;
                r.record_applied(true);
                r.set_mutant(self.opts.mutant);
                self.checker.restarted(self.now, peer, r.store());
                n.replica = Some(r);
            }
            Err(e) => self.engine_failures.push(format!(
                "tick {}: peer {peer} failed to open: {e}",
                self.now
            )),
        }
    }

    fn crash(&mut self, peer: u64) {
        let tear = self.rng.chance(1, 2).then(|| self.rng.below(64) as usize);
        let Some(n) = self.nodes.get_mut(&peer) else {
            return;
        };
        if n.replica.take().is_none() {
            return;
        }
        self.stats.crashes += 1;
        if self.opts.trace {
            eprintln!("[{}] crash peer {peer} (tear {tear:?})", self.now);
        }
        n.disk.crash_tearing(tear);
        self.pending.retain(|_, op| op.peer != peer);
        // Its connections close: every live member's transport notices, as
        // the TCP transport reports a closed peer connection.
        for q in self.live() {
            if let Some(r) = self.replica(q) {
                r.report_unreachable(peer);
            }
        }
    }

    fn live(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.replica.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// Starts admitted members whose start time came (all of them when
    /// `all`).
    fn start_due(&mut self, all: bool) {
        let due: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| !n.started && !n.removed && (all || n.start_at <= self.now))
            .map(|(p, _)| *p)
            .collect();
        for p in due {
            self.start(p);
        }
    }

    /// Members that crashed and were not removed.
    fn down(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.replica.is_none() && !n.removed && n.started)
            .map(|(p, _)| *p)
            .collect()
    }

    fn replica(&mut self, peer: u64) -> Option<&mut Replica<DurableStore>> {
        self.nodes.get_mut(&peer).and_then(|n| n.replica.as_mut())
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(p, n)| {
                n.replica
                    .as_ref()
                    .filter(|r| r.is_leader())
                    .map(|r| (r.status().term, *p))
            })
            .max()
            .map(|(_, p)| p)
    }

    fn run(&mut self) {
        while self.now < self.opts.fault_ticks && self.engine_failures.is_empty() {
            self.tick();
        }
        self.liveness();
    }

    /// One tick: faults, client work, clocks, deliveries, checks.
    fn tick(&mut self) {
        self.now += 1;
        self.stats.ticks += 1;
        if self.faults {
            self.inject_faults();
        }
        if self.rng.chance(1, 2) {
            self.client_op();
        }
        for p in self.live() {
            if let Some(r) = self.replica(p) {
                r.tick();
            }
            self.pump(p);
        }
        self.deliver();
        self.expire();
        self.spawn_admitted();
        self.start_due(false);
        if self.now.is_multiple_of(25) {
            self.check_logs();
        }
    }

    fn inject_faults(&mut self) {
        let live = self.live();
        if !live.is_empty() && self.rng.chance(1, 120) {
            let p = live[self.rng.below(live.len() as u64) as usize];
            self.crash(p);
        }
        for p in self.down() {
            if self.rng.chance(1, 15) {
                self.start(p);
            }
        }
        if self.rng.chance(1, 100) {
            self.partition();
        }
        if self.rng.chance(1, 25) {
            self.net.blocked.clear();
        }
        if self.rng.chance(1, 150) {
            if let Some(l) = self.leader() {
                let voters = self
                    .replica(l)
                    .map(|r| r.conf_state().voters.clone())
                    .unwrap_or_default();
                if !voters.is_empty() {
                    let to = voters[self.rng.below(voters.len() as u64) as usize];
                    if let Some(r) = self.replica(l) {
                        r.transfer_leader(to);
                    }
                }
            }
        }
        if self.rng.chance(1, 200) {
            self.membership_op();
        }
    }

    fn partition(&mut self) {
        let peers: Vec<u64> = self.nodes.keys().copied().collect();
        self.net.blocked.clear();
        if self.rng.chance(1, 2) {
            // Isolate one member.
            let x = peers[self.rng.below(peers.len() as u64) as usize];
            for p in &peers {
                if *p != x {
                    self.net.blocked.insert((x, *p));
                    self.net.blocked.insert((*p, x));
                }
            }
        } else {
            // Split in two random halves.
            let side: BTreeMap<u64, bool> =
                peers.iter().map(|p| (*p, self.rng.chance(1, 2))).collect();
            for a in &peers {
                for b in &peers {
                    if side[a] != side[b] {
                        self.net.blocked.insert((*a, *b));
                    }
                }
            }
        }
    }

    fn token(&mut self) -> ProposalToken {
        self.next_token += 1;
        ProposalToken(self.next_token)
    }

    /// Proposes at a random live member, following one not-leader redirect
    /// as a real client would.
    fn propose(&mut self, entry: ControlPlaneEntry) {
        let live = self.live();
        if live.is_empty() {
            return;
        }
        let mut peer = live[self.rng.below(live.len() as u64) as usize];
        for _ in 0..2 {
            let token = self.token();
            let Some(r) = self.replica(peer) else { return };
            match r.propose(&entry, token) {
                Ok(()) => {
                    self.pending.insert(
                        token,
                        PendingOp {
                            entry,
                            peer,
                            issued: self.now,
                        },
                    );
                    self.pump(peer);
                    return;
                }
                Err(ProposeError::NotLeader { leader: Some(hint) }) => {
                    match self.nodes.iter().find(|(_, n)| n.id == hint.id) {
                        Some((p, _)) => peer = *p,
                        None => return,
                    }
                }
                Err(_) => return,
            }
        }
    }

    fn client_op(&mut self) {
        let Some(view) = self.live().first().copied() else {
            return;
        };
        let Some(r) = self.nodes.get(&view).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let catalog = r.catalog();
        let owners: Vec<NodeId> = catalog
            .members()
            .filter(|m| m.kind == MemberKind::Data && m.state == MemberState::Active)
            .map(|m| m.id.clone())
            .collect();
        if owners.is_empty() {
            return;
        }
        let range: crate::entry::RangeId = format!("r{}", self.rng.below(6))
            .parse()
            .unwrap_or_else(|e| unreachable!("{e}"));
        let owner = owners[self.rng.below(owners.len() as u64) as usize].clone();
        let current = catalog.epoch_of(&range);
        let entry = if self.rng.chance(1, 20) {
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                range,
                new_owner: owner,
                operator: NodeId::from_certificate_subject("CN=operator")
                    .unwrap_or_else(|e| unreachable!("{e}")),
                reason: "simulated operator override"
                    .parse()
                    .unwrap_or_else(|e| unreachable!("{e}")),
            })
        } else {
            // Mostly the next epoch as this client sees it (which may be
            // behind), sometimes a deliberately stale one.
            let epoch = if self.rng.chance(1, 6) {
                Epoch(current.0.saturating_sub(self.rng.below(2)))
            } else {
                Epoch(current.0 + 1)
            };
            ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                range,
                new_owner: owner,
                epoch,
            })
        };
        self.propose(entry);
    }

    /// A proposal that is valid in any catalog: re-admitting an active
    /// member as it is, or re-draining a draining one (both idempotent), so
    /// the liveness phase always has something to commit.
    fn liveness_probe(&mut self) {
        let Some(view) = self.live().first().copied() else {
            return;
        };
        let Some(r) = self.nodes.get(&view).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let Some(m) = r.catalog().members().next() else {
            return;
        };
        let entry = match m.state {
            MemberState::Active => ControlPlaneEntry::Membership(MembershipChange::Admit {
                member: m.id.clone(),
                kind: m.kind,
                address: m.address.clone(),
            }),
            MemberState::Draining => ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                member: m.id.clone(),
            }),
        };
        self.propose(entry);
    }

    fn membership_op(&mut self) {
        let Some(l) = self.leader() else { return };
        let Some(r) = self.nodes.get(&l).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let members: Vec<(NodeId, MemberState, u64)> = r
            .catalog()
            .members()
            .map(|m| (m.id.clone(), m.state, r.catalog().ranges_owned_by(&m.id)))
            .collect();
        let choice = self.rng.below(3);
        let entry = if choice == 0 && members.len() < 6 {
            let n = self.next_member;
            self.next_member += 1;
            let kind = if self.rng.chance(1, 4) {
                MemberKind::Witness
            } else {
                MemberKind::Data
            };
            ControlPlaneEntry::Membership(MembershipChange::Admit {
                member: name(n),
                kind,
                address: format!("sim:{n}")
                    .parse()
                    .unwrap_or_else(|e| unreachable!("{e}")),
            })
        } else if choice == 1 && members.len() > 3 {
            let m = &members[self.rng.below(members.len() as u64) as usize];
            ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                member: m.0.clone(),
            })
        } else if members.len() > 3 {
            // Remove a drained member; first move its ranges away.
            let Some(m) = members.iter().find(|m| m.1 == MemberState::Draining) else {
                return;
            };
            if m.2 > 0 {
                let ranges: Vec<_> = r
                    .catalog()
                    .ranges()
                    .filter(|(_, o)| o.owner == m.0)
                    .map(|(range, _)| range.clone())
                    .collect();
                let Some(to) = members.iter().find(|x| x.1 == MemberState::Active) else {
                    return;
                };
                for range in ranges {
                    self.propose(ControlPlaneEntry::ForcedOwnershipTransition(
                        ForcedOwnershipTransition {
                            range,
                            new_owner: to.0.clone(),
                            operator: NodeId::from_certificate_subject("CN=operator")
                                .unwrap_or_else(|e| unreachable!("{e}")),
                            reason: "drain".parse().unwrap_or_else(|e| unreachable!("{e}")),
                        },
                    ));
                }
                return;
            }
            ControlPlaneEntry::Membership(MembershipChange::Remove {
                member: m.0.clone(),
            })
        } else {
            return;
        };
        self.propose(entry);
    }

    /// Starts members the catalog admitted and the world does not run yet,
    /// and stops members the leader's configuration and catalog both
    /// dropped (a removed member does not always learn of its removal; its
    /// operator shuts it down).
    fn spawn_admitted(&mut self) {
        let Some(l) = self.leader() else { return };
        let Some(r) = self.nodes.get(&l).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let cs = r.conf_state().clone();
        let gone: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(p, n)| {
                !n.removed
                    && !cs.voters.contains(p)
                    && !cs.learners.contains(p)
                    && !cs.voters_outgoing.contains(p)
                    && r.catalog().member(&n.id).is_none()
            })
            .map(|(p, _)| *p)
            .collect();
        for p in gone {
            if let Some(n) = self.nodes.get_mut(&p) {
                n.replica = None;
                n.removed = true;
                self.stats.removed += 1;
            }
        }
        let Some(r) = self.nodes.get(&l).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let fresh: Vec<(u64, NodeId)> = r
            .catalog()
            .members()
            .filter(|m| !self.nodes.contains_key(&m.peer_id))
            .map(|m| (m.peer_id, m.id.clone()))
            .collect();
        for (peer, id) in fresh {
            self.stats.admitted += 1;
            self.nodes.insert(
                peer,
                SimNode {
                    id,
                    disk: SimDisk::new(),
                    replica: None,
                    joiner: true,
                    removed: false,
                    start_at: self.now + self.rng.below(80),
                    started: false,
                },
            );
        }
    }

    /// Runs a member's ready loop until it has nothing left to do, routing
    /// its messages and collecting what it applied and completed.
    fn pump(&mut self, peer: u64) {
        for _ in 0..4 {
            let mut out: Vec<Message> = Vec::new();
            let Some(r) = self.replica(peer) else { return };
            let result = r.process_ready(&mut out);
            let applied = r.take_applied();
            let leader = r.is_leader().then(|| r.status().term.0);
            let removed = r.is_removed();
            for a in applied {
                self.checker.applied(self.now, peer, a);
            }
            if let Some(term) = leader {
                if let Some(r) = self.nodes.get(&peer).and_then(|n| n.replica.as_ref()) {
                    let before = self.checker.violations().len();
                    self.checker.leader(self.now, term, peer, r.store());
                    if self.checker.violations().len() == before {
                        self.stats.leaders = self.stats.leaders.max(term);
                    }
                }
            }
            let done = match result {
                Ok(done) => done,
                Err(e) => {
                    self.engine_failures
                        .push(format!("tick {}: peer {peer} stopped: {e}", self.now));
                    if let Some(n) = self.nodes.get_mut(&peer) {
                        n.replica = None;
                    }
                    return;
                }
            };
            let mut granted_vote = false;
            for m in out {
                if m.get_msg_type() == MessageType::MsgRequestVoteResponse && !m.reject {
                    self.checker.vote(self.now, m.from, m.term, m.to);
                    granted_vote = true;
                }
                self.send(m);
            }
            for c in done {
                if let Completion::Proposal(token, Ok(committed)) = c {
                    if let Some(op) = self.pending.remove(&token) {
                        self.checker
                            .acked(self.now, committed.index.0, committed.term.0, op.entry);
                    }
                } else if let Completion::Proposal(token, Err(_)) = c {
                    self.pending.remove(&token);
                }
            }
            if removed {
                if let Some(n) = self.nodes.get_mut(&peer) {
                    n.replica = None;
                    n.removed = true;
                    self.stats.removed += 1;
                }
                return;
            }
            // A crash right after a vote is acknowledged is the moment
            // that punishes a vote that was not made durable first.
            if granted_vote && self.faults && self.rng.chance(1, 2) {
                self.crash(peer);
                return;
            }
            let busy = self
                .nodes
                .get(&peer)
                .and_then(|n| n.replica.as_ref())
                .is_some_and(|r| r.has_ready());
            if !busy {
                return;
            }
        }
    }

    fn send(&mut self, msg: Message) {
        self.stats.messages += 1;
        // Every message crosses the wire codec, as between processes.
        let msg = match wire::encode_message(&msg)
            .map_err(wire::WireError::from)
            .and_then(|b| wire::decode_message(&b))
        {
            Ok(m) => m,
            Err(e) => {
                self.checker.fail(
                    self.now,
                    format!("wire codec failed on {:?}: {e}", msg.get_msg_type()),
                );
                return;
            }
        };
        let (from, to) = (msg.from, msg.to);
        let blocked = self.net.blocked.contains(&(from, to));
        let lost = blocked || (self.faults && self.rng.chance(self.net.loss, 100));
        if blocked {
            // A partitioned link refuses connections: the sender hears so.
            if let Some(r) = self.replica(from) {
                r.report_unreachable(to);
            }
        }
        if lost {
            if msg.get_msg_type() == MessageType::MsgSnapshot {
                if let Some(r) = self.replica(from) {
                    r.report_snapshot(to, false);
                }
            }
            return;
        }
        let copies = if self.faults && self.rng.chance(self.net.dup, 100) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + self.rng.below(self.net.max_delay + 1);
            self.net.seq += 1;
            self.net.queue.insert((at, self.net.seq), msg.clone());
        }
    }

    fn deliver(&mut self) {
        let due: Vec<(u64, u64)> = self
            .net
            .queue
            .range(..=(self.now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let Some(msg) = self.net.queue.remove(&k) else {
                continue;
            };
            let (from, to) = (msg.from, msg.to);
            let is_snap = msg.get_msg_type() == MessageType::MsgSnapshot;
            let blocked = self.net.blocked.contains(&(from, to));
            let trace = self.opts.trace.then(|| {
                format!(
                    "{:?} {from}->{to} term {} index {} commit {} entries {} reject {}",
                    msg.get_msg_type(),
                    msg.term,
                    msg.index,
                    msg.commit,
                    msg.entries.len(),
                    msg.reject
                )
            });
            let delivered = !blocked
                && match self.replica(to) {
                    Some(r) => match r.step(msg) {
                        Ok(()) => true,
                        Err(e) => {
                            if self.opts.trace {
                                eprintln!("[{}] refused by {to}: {e}", self.now);
                            }
                            false
                        }
                    },
                    None => false,
                };
            if let Some(t) = trace {
                eprintln!(
                    "[{}] {} {t}",
                    self.now,
                    if delivered { "deliver" } else { "DROP" }
                );
            }
            if is_snap {
                if let Some(r) = self.replica(from) {
                    r.report_snapshot(to, delivered);
                }
            }
            if delivered {
                self.pump(to);
            }
        }
    }

    fn expire(&mut self) {
        let late: Vec<(ProposalToken, u64)> = self
            .pending
            .iter()
            .filter(|(_, op)| self.now - op.issued > 60)
            .map(|(t, op)| (*t, op.peer))
            .collect();
        for (token, peer) in late {
            self.pending.remove(&token);
            if let Some(r) = self.replica(peer) {
                r.abandon(token, std::time::Duration::ZERO);
            }
        }
    }

    fn check_logs(&mut self) {
        let peers = self.live();
        for (i, a) in peers.iter().enumerate() {
            for b in &peers[i + 1..] {
                let (Some(ra), Some(rb)) = (
                    self.nodes.get(a).and_then(|n| n.replica.as_ref()),
                    self.nodes.get(b).and_then(|n| n.replica.as_ref()),
                ) else {
                    continue;
                };
                self.checker
                    .log_matching(self.now, (*a, ra.store()), (*b, rb.store()));
            }
        }
    }

    /// One line per member, for failure reports.
    fn describe(&self) -> String {
        let mut out = String::new();
        for (p, n) in &self.nodes {
            match &n.replica {
                None => out.push_str(&format!(
                    "\n    peer {p} ({}): down{}",
                    n.id,
                    if n.removed { ", removed" } else { "" }
                )),
                Some(r) => {
                    let s = r.status();
                    out.push_str(&format!(
                        "\n    peer {p} ({}): {:?} term {} commit {} applied {} last {} first {} voters {:?} learners {:?} outgoing {:?} leader {:?}",
                        n.id,
                        s.role,
                        s.term,
                        s.commit,
                        s.applied,
                        s.last_index,
                        r.store().first_index(),
                        s.voters,
                        s.learners,
                        r.conf_state().voters_outgoing,
                        s.leader.map(|l| l.id.to_string())
                    ));
                }
            }
        }
        out
    }

    /// Faults stop; a leader and a new commit must follow within the bound,
    /// then every member in the configuration must catch up.
    fn liveness(&mut self) {
        if !self.engine_failures.is_empty() {
            return;
        }
        self.faults = false;
        self.net.blocked.clear();
        for p in self.down() {
            self.start(p);
        }
        self.start_due(true);
        let start = self.now;
        let committed_before = self.checker.max_committed();
        while self.checker.max_committed() == committed_before || self.leader().is_none() {
            if self.now - start > self.opts.liveness_ticks {
                let state = self.describe();
                self.checker.fail(
                    self.now,
                    format!(
                        "liveness: no new commit within {} ticks after faults stopped{state}",
                        self.opts.liveness_ticks
                    ),
                );
                return;
            }
            self.liveness_probe();
            self.tick();
            if !self.engine_failures.is_empty() {
                return;
            }
        }
        let target = self.checker.max_committed();
        let settle = self.now;
        loop {
            // Members of the leader's configuration must catch up.
            let conf = self
                .leader()
                .and_then(|l| self.nodes.get(&l))
                .and_then(|n| n.replica.as_ref())
                .map(|r| r.conf_state().clone())
                .unwrap_or_default();
            let behind: Vec<(u64, u64)> = self
                .nodes
                .iter()
                .filter_map(|(p, n)| n.replica.as_ref().map(|r| (*p, r)))
                .filter(|(p, _)| conf.voters.contains(p) || conf.learners.contains(p))
                .map(|(p, r)| (p, r.catalog().applied().0 .0))
                .filter(|(_, applied)| *applied < target)
                .collect();
            if behind.is_empty() {
                break;
            }
            if self.now - settle > self.opts.liveness_ticks {
                let state = self.describe();
                self.checker.fail(
                    self.now,
                    format!("convergence: members {behind:?} did not apply up to {target}{state}"),
                );
                break;
            }
            self.tick();
        }
        self.check_logs();
    }
}

/// Runs seeds `base.seed .. base.seed + count` (each with `base`'s other
/// options) on `threads` threads, calling `report` with each result in seed
/// order. Returns the number of violating seeds.
pub fn run_seeds(
    base: &SimOptions,
    count: u64,
    threads: usize,
    mut report: impl FnMut(&SeedReport),
) -> u64 {
    let threads = threads.max(1) as u64;
    let start = base.seed;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut failed = 0;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let tx = tx.clone();
            scope.spawn(move || {
                let mut seed = start + t;
                while seed < start + count {
                    let o = SimOptions {
                        seed,
                        ..base.clone()
                    };
                    if tx.send(run_seed(&o)).is_err() {
                        return;
                    }
                    seed += threads;
                }
            });
        }
        drop(tx);
        // Report in seed order so the output is the same for any thread count.
        let mut buffered: BTreeMap<u64, SeedReport> = BTreeMap::new();
        let mut next = start;
        for r in rx {
            buffered.insert(r.seed, r);
            while let Some(r) = buffered.remove(&next) {
                if !r.violations.is_empty() {
                    failed += 1;
                }
                report(&r);
                next += 1;
            }
        }
    });
    failed
}
