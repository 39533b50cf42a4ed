//! The simulated world: the members (each a replica over its own simulated
//! disk, started, stopped and admitted as the run goes), the network between
//! them, the client proposals in flight and the checker watching it all; and
//! the pump that runs a member's ready loop and routes what comes out.

mod clients;
mod damage;
mod reads;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use raft::eraftpb::{Message, MessageType};

use super::checker::Checker;
use super::mutants::Mutant;
use super::{SimOptions, SimStats};
use crate::catalog::InitialMember;
use crate::engine::rng::SplitMix64;
use crate::engine::{Completion, EngineConfig, Replica};
use crate::entry::{MemberKind, NodeId};
use crate::storage::{DurableStore, SimDisk, StoreOptions};
use clients::Clients;
use damage::Damage;
use reads::Reads;

pub(super) const DIR: &str = "/data";

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

#[derive(Default)]
/// Messages in flight and the state of the links.
pub(super) struct Network {
    pub(super) queue: BTreeMap<(u64, u64), Message>,
    pub(super) seq: u64,
    /// Directed links that drop everything.
    pub(super) blocked: BTreeSet<(u64, u64)>,
    pub(super) loss: u64,
    pub(super) dup: u64,
    pub(super) max_delay: u64,
}

pub(super) struct SimNode {
    pub(super) id: NodeId,
    pub(super) disk: SimDisk,
    pub(super) replica: Option<Replica<DurableStore>>,
    /// Joined after bootstrap: needs its peer id to reopen an empty store.
    pub(super) joiner: bool,
    pub(super) removed: bool,
    /// The tick at which an admitted member's process first starts (an
    /// operator starts it some time after admitting it).
    pub(super) start_at: u64,
    pub(super) started: bool,
    /// Counts the member's starts: an attempt or read made in one
    /// incarnation is lost with it.
    pub(super) incarnation: u64,
    /// The driver's read counter, from 1 in each incarnation.
    pub(super) reads_issued: u64,
    /// A crash is armed at one of the disk's next operations: the I/O
    /// error it raises inside a Ready is the crash, not an engine failure.
    pub(super) armed: bool,
    /// When a member that crashed comes back (none: at a random time).
    pub(super) restart_at: Option<u64>,
    /// Paused (neither ticking nor handling messages) until this tick.
    pub(super) paused_until: Option<u64>,
    /// Its clock's rate: it ticks `rate` times per 4 world ticks.
    pub(super) rate: u64,
    rate_acc: u64,
    /// What it had applied when it last crashed.
    pub(super) applied_at_crash: Option<u64>,
    /// Damage done to its disk while it was down, not yet seen by a
    /// restart.
    pub(super) damage: Option<Damage>,
    /// Its store refused to open after damage: it stays down for good.
    pub(super) disk_lost: bool,
}

impl SimNode {
    fn new(id: NodeId, joiner: bool, start_at: u64) -> Self {
        SimNode {
            id,
            disk: SimDisk::new(),
            replica: None,
            joiner,
            removed: false,
            start_at,
            started: false,
            incarnation: 0,
            reads_issued: 0,
            armed: false,
            restart_at: None,
            paused_until: None,
            rate: 4,
            rate_acc: 0,
            applied_at_crash: None,
            damage: None,
            disk_lost: false,
        }
    }

    /// Whether it is up and not paused.
    pub(super) fn serving(&self, now: u64) -> bool {
        self.replica.is_some() && self.paused_until.is_none_or(|t| t <= now)
    }

    /// How many times its clock ticks during this world tick.
    pub(super) fn ticks_now(&mut self) -> u64 {
        self.rate_acc += self.rate;
        let n = self.rate_acc / 4;
        self.rate_acc %= 4;
        n
    }
}

/// Everything one run simulates.
pub(super) struct World {
    pub(super) opts: SimOptions,
    pub(super) rng: SplitMix64,
    pub(super) now: u64,
    pub(super) faults: bool,
    pub(super) nodes: BTreeMap<u64, SimNode>,
    pub(super) net: Network,
    pub(super) checker: Checker,
    pub(super) clients: Clients,
    pub(super) reads: Reads,
    pub(super) next_member: u64,
    pub(super) stats: SimStats,
    /// Set when a member reported an error that stopped it.
    pub(super) engine_failures: Vec<String>,
    /// Draws the media damage (`damage`), apart from everything else.
    pub(super) damage_rng: SplitMix64,
    /// The tick from which this seed damages a disk (none: never).
    pub(super) damage_at: Option<u64>,
    /// A disk was damaged (at most one per seed).
    pub(super) damaged: bool,
    /// One tick in this many, the operator changes membership: rarely in
    /// most seeds, often in a third of them (membership-heavy runs, where
    /// the cluster shrinks to two members and one, and grows again).
    pub(super) membership_every: u64,
}

pub(super) fn name(i: u64) -> NodeId {
    NodeId::from_certificate_subject(&format!("CN=n{i}")).unwrap_or_else(|e| unreachable!("{e}"))
}

impl World {
    pub(super) fn new(opts: SimOptions) -> Self {
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
        let main = rng.fork();
        let clients = Clients::new(&mut rng, 5);
        let mut damage_rng = rng.fork();
        let damage_at = damage::damage_tick(&mut damage_rng, opts.fault_ticks);
        let mut w = World {
            rng: main,
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
            clients,
            reads: Reads::default(),
            next_member: opts.nodes as u64 + 1,
            stats: SimStats::default(),
            engine_failures: Vec::new(),
            damage_rng,
            damage_at,
            damaged: false,
            // Drawn apart from the world's stream, so the other seeds run
            // exactly as they did before this knob existed.
            membership_every: if SplitMix64::new(opts.seed ^ 0x6d65_6d62_6572_7321).chance(1, 3) {
                15
            } else {
                200
            },
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
            let mut n = SimNode::new(m.id.clone(), false, 0);
            n.disk = disk;
            w.nodes.insert(i as u64 + 1, n);
        }
        let peers: Vec<u64> = w.nodes.keys().copied().collect();
        for p in peers {
            w.start(p);
        }
        w
    }

    pub(super) fn start(&mut self, peer: u64) {
        let seed = self.rng.next_u64();
        // Clocks run at different rates: most at the world's, some slower
        // or faster (3 to 6 ticks per 4).
        let rate = if self.faults && self.rng.chance(1, 3) {
            3 + self.rng.below(4)
        } else {
            4
        };
        let Some(n) = self.nodes.get(&peer) else {
            return;
        };
        // The store recovers as the mutant says (the real rules unless it
        // is `torn-tail-repair`).
        let seam = Mutant::store_seam(self.opts.mutant);
        let disk = Arc::new(n.disk.clone());
        let store = match DurableStore::open_with_seam(disk, Path::new(DIR), store_options(), seam)
        {
            Ok((store, _)) => store,
            Err(e) => return self.refused(peer, e),
        };
        self.opened_despite_damage(peer, &store);
        let Some(n) = self.nodes.get_mut(&peer) else {
            return;
        };
        let opened = match Replica::open(
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
        };
        match opened {
            Ok(None) => {
                n.removed = true;
                self.stats.removed += 1;
            }
            Ok(Some(mut r)) => {
                n.started = true;
                n.incarnation += 1;
                n.reads_issued = 0;
                n.rate = rate;
                n.restart_at = None;
                n.paused_until = None;
                if let Some(before) = n.applied_at_crash.take() {
                    // What a member applied must have been durable in its
                    // own log or snapshot first.
                    let kept = r
                        .store()
                        .last_index()
                        .max(r.store().snapshot().get_metadata().index);
                    if kept < before {
                        self.checker.fail(
                            self.now,
                            format!("durability: peer {peer} had applied up to {before} when it crashed, but its disk kept only up to {kept}"),
                        );
                    }
                }
                r.record_applied(true);
                r.set_test_seam(Mutant::deviation(self.opts.mutant));
                self.checker.restarted(self.now, peer, r.store());
                n.replica = Some(r);
                self.forget_reads(peer);
            }
            Err(e) => self.engine_failures.push(format!(
                "tick {}: peer {peer} failed to open: {e}",
                self.now
            )),
        }
    }

    pub(super) fn live(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.replica.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// Members up and not paused: where clients and readers go.
    pub(super) fn serving(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.serving(self.now))
            .map(|(p, _)| *p)
            .collect()
    }

    /// Starts admitted members whose start time came (all of them when
    /// `all`).
    pub(super) fn start_due(&mut self, all: bool) {
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

    /// Members that crashed and were not removed (nor lost their disk).
    pub(super) fn down(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.replica.is_none() && !n.removed && !n.disk_lost && n.started)
            .map(|(p, _)| *p)
            .collect()
    }

    pub(super) fn replica(&mut self, peer: u64) -> Option<&mut Replica<DurableStore>> {
        self.nodes.get_mut(&peer).and_then(|n| n.replica.as_mut())
    }

    pub(super) fn leader(&self) -> Option<u64> {
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

    /// Whether a peer `peer` can reach says it was removed: that peer's
    /// catalog assigned `peer`'s id and it no longer takes `peer` as a peer
    /// (the rule of the TCP listener's `removed` answer).
    fn told_removed(&self, peer: u64) -> bool {
        let now = self.now;
        self.nodes.iter().any(|(k, n)| {
            *k != peer
                && !self.net.blocked.contains(&(peer, *k))
                && n.serving(now)
                && n.replica
                    .as_ref()
                    .is_some_and(|r| peer < r.catalog().next_peer_id() && !r.talks_to(peer))
        })
    }

    /// Starts members the catalog admitted and the world does not run yet,
    /// and stops members the leader's configuration and catalog both
    /// dropped (a removed member does not always learn of its removal; its
    /// operator shuts it down). A leader that has not yet applied every
    /// entry known committed (one just elected, say) may not know of a
    /// member admitted since: it stops nobody.
    pub(super) fn spawn_admitted(&mut self) {
        let Some(l) = self.leader() else { return };
        let Some(r) = self.nodes.get(&l).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let cs = r.conf_state().clone();
        let caught_up = r.catalog().applied().0 .0 >= self.checker.max_committed();
        let gone: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(p, n)| {
                caught_up
                    && !n.removed
                    && !cs.voters.contains(p)
                    && !cs.learners.contains(p)
                    && !cs.voters_outgoing.contains(p)
                    && r.catalog().member(&n.id).is_none()
                    // A leader that has not applied the admission yet has
                    // not assigned the peer id: the member is new, not gone.
                    && **p < r.catalog().next_peer_id()
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
            let start_at = self.now + self.rng.below(80);
            self.nodes.insert(peer, SimNode::new(id, true, start_at));
        }
    }

    /// Runs a member's ready loop until it has nothing left to do, routing
    /// its messages and collecting what it applied and completed.
    pub(super) fn pump(&mut self, peer: u64) {
        for _ in 0..4 {
            let mut out: Vec<Message> = Vec::new();
            let Some(r) = self.replica(peer) else { return };
            let result = r.process_ready(&mut out);
            // The appends it acknowledged: raft answers an append only once
            // it is durable (the Ready that persists it was fsynced).
            let acks: Vec<(u64, u64)> = out
                .iter()
                .filter(|m| m.get_msg_type() == MessageType::MsgAppendResponse && !m.reject)
                .filter_map(|m| r.store().term(m.index).map(|t| (m.index, t)))
                .collect();
            let applied = r.take_applied();
            let leader = r.is_leader().then(|| r.hard_state().term);
            let removed = r.is_removed();
            if !applied.is_empty() {
                let max_term = self
                    .nodes
                    .values()
                    .filter_map(|n| n.replica.as_ref())
                    .map(|r| r.hard_state().term)
                    .max()
                    .unwrap_or(0);
                for a in applied {
                    self.checker.applied(self.now, peer, a, max_term);
                }
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
            for (index, term) in acks {
                self.checker.append_acked(peer, index, term);
            }
            // The messages handed over before anything failed have left.
            let mut granted_vote = false;
            for m in out {
                // Its term (and vote) were durable when the message left,
                // pre-votes aside (they carry a term not yet taken).
                let vote = match m.get_msg_type() {
                    MessageType::MsgRequestPreVote | MessageType::MsgRequestPreVoteResponse => None,
                    MessageType::MsgRequestVote => Some(Some(peer)),
                    MessageType::MsgRequestVoteResponse if !m.reject => Some(Some(m.to)),
                    _ => Some(None),
                };
                if let Some(vote) = vote.filter(|_| m.term > 0) {
                    self.checker.sent(peer, m.term, vote);
                }
                if m.get_msg_type() == MessageType::MsgRequestVoteResponse && !m.reject {
                    self.checker.vote(self.now, m.from, m.term, m.to);
                    granted_vote = true;
                }
                self.send(m);
            }
            let done = match result {
                Ok(done) => done,
                Err(_) if self.nodes.get(&peer).is_some_and(|n| n.armed) => {
                    // The armed crash: the machine went down at this I/O.
                    self.crash_soon(peer);
                    return;
                }
                Err(e) => {
                    self.engine_failures
                        .push(format!("tick {}: peer {peer} stopped: {e}", self.now));
                    if let Some(n) = self.nodes.get_mut(&peer) {
                        n.replica = None;
                    }
                    return;
                }
            };
            for c in done {
                match c {
                    Completion::Proposal(token, answer) => self.proposal_done(token, answer),
                    Completion::Read(token, index) => self.read_done(peer, token, index.0),
                }
            }
            // A member that applied its own removal lingers (answering its
            // peers, who may still need its vote to leave the joint
            // configuration) until a peer it reaches tells it it is gone,
            // as the TCP transport's probes and `removed` answers do.
            if removed && self.told_removed(peer) {
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
                self.crash_soon(peer);
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

    pub(super) fn check_logs(&mut self) {
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
    pub(super) fn describe(&self) -> String {
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
}
