//! The faults injected while the fault phase lasts: crashes that lose
//! unsynced writes (sometimes tearing the last one), at any moment or at a
//! chosen I/O inside a Ready (the messages it already handed over still
//! leave), and restarts from the disk; partitions (symmetric, one-way and
//! partial) and heals; members paused for many election timeouts, a leader
//! among them; clocks that run at different rates (drawn when a member
//! starts); leadership transfers, and the operator's membership changes
//! (drawn in the workload); and, at most once a seed, media damage to a
//! down member's fsynced log (`world/damage.rs`), after which its store
//! must refuse to open and it stays down.

use std::collections::BTreeMap;

use raft::eraftpb::{Message, MessageType};

use super::world::World;
use crate::storage::Fault;

impl World {
    pub(super) fn inject_faults(&mut self) {
        let live = self.live();
        if !live.is_empty() && self.rng.chance(1, 120) {
            let p = live[self.rng.below(live.len() as u64) as usize];
            self.crash(p);
        }
        if !live.is_empty() && self.rng.chance(1, 60) {
            // A crash at one of the next few disk operations: between two
            // writes, or between the writes and their fsync.
            let p = live[self.rng.below(live.len() as u64) as usize];
            let k = self.rng.below(8);
            self.arm_crash(p, k);
        }
        for p in self.down() {
            let due = self
                .nodes
                .get(&p)
                .and_then(|n| n.restart_at)
                .map(|t| t <= self.now);
            if due.unwrap_or_else(|| self.rng.chance(1, 15)) {
                self.start(p);
            }
        }
        if self.rng.chance(1, 100) {
            self.partition();
        }
        if self.rng.chance(1, 250) {
            // A member (often the leader) stops for many election timeouts
            // (a long pause of its process), then goes on where it was.
            let target = if self.rng.chance(1, 2) {
                self.leader()
            } else {
                self.live().first().copied()
            };
            if let Some(p) = target {
                let until = self.now + 20 + self.rng.below(60);
                if let Some(n) = self.nodes.get_mut(&p) {
                    n.paused_until = Some(until);
                }
            }
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
        if self.rng.chance(1, self.membership_every) {
            self.membership_op();
        }
    }

    fn partition(&mut self) {
        let peers: Vec<u64> = self.nodes.keys().copied().collect();
        self.net.blocked.clear();
        let kind = self.rng.below(4);
        if kind == 0 {
            // Isolate one member.
            let x = peers[self.rng.below(peers.len() as u64) as usize];
            for p in &peers {
                if *p != x {
                    self.net.blocked.insert((x, *p));
                    self.net.blocked.insert((*p, x));
                }
            }
        } else if kind == 1 {
            // One way: a member hears everyone but reaches nobody, or the
            // other way round.
            let x = peers[self.rng.below(peers.len() as u64) as usize];
            let outbound = self.rng.chance(1, 2);
            for p in &peers {
                if *p != x {
                    self.net
                        .blocked
                        .insert(if outbound { (x, *p) } else { (*p, x) });
                }
            }
        } else if kind == 2 {
            // Partial: some links are cut, the rest work (a member may
            // reach the leader while a third cannot).
            for a in &peers {
                for b in &peers {
                    if a < b && self.rng.chance(1, 3) {
                        self.net.blocked.insert((*a, *b));
                        self.net.blocked.insert((*b, *a));
                    }
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

    /// Arms a crash at the `k`th next operation of `peer`'s disk.
    pub(super) fn arm_crash(&mut self, peer: u64, k: u64) {
        if let Some(n) = self.nodes.get_mut(&peer) {
            if n.replica.is_some() && !n.armed {
                let at_op = n.disk.stats().ops + k;
                n.disk.set_fault(Some(Fault {
                    at_op,
                    then_dead: true,
                }));
                n.armed = true;
            }
        }
    }

    /// Disarms every armed crash (faults stop).
    pub(super) fn disarm_all(&mut self) {
        for n in self.nodes.values_mut() {
            n.disk.set_fault(None);
            n.armed = false;
            n.paused_until = None;
        }
    }

    /// A crash at a chosen moment, and a quick restart: the member comes
    /// back within a few ticks, while what it did just before is still in
    /// flight.
    pub(super) fn crash_soon(&mut self, peer: u64) {
        self.crash(peer);
        let at = self.now + 1 + self.rng.below(3);
        if let Some(n) = self.nodes.get_mut(&peer) {
            if !n.removed {
                n.restart_at = Some(at);
            }
        }
    }

    /// Targeted faults when `msg` is about to reach `to`: a crash inside
    /// the Ready that persists what it asks for (a vote, appended entries,
    /// entries already committed), before or at its fsync.
    pub(super) fn crash_on_receipt(&mut self, to: u64, msg: &Message) {
        let ty = msg.get_msg_type();
        let target = match ty {
            MessageType::MsgRequestVote => self.rng.chance(1, 4),
            MessageType::MsgAppend if !msg.entries.is_empty() => {
                let committed = msg.entries[0].index <= msg.commit;
                self.rng.chance(1, if committed { 20 } else { 100 })
            }
            _ => false,
        };
        if target {
            let k = self.rng.below(3);
            self.arm_crash(to, k);
        }
    }

    pub(super) fn crash(&mut self, peer: u64) {
        let tear = self.rng.chance(1, 2).then(|| self.rng.below(64) as usize);
        let Some(n) = self.nodes.get_mut(&peer) else {
            return;
        };
        let Some(r) = n.replica.take() else {
            return;
        };
        n.applied_at_crash = Some(r.catalog().applied().0 .0);
        n.armed = false;
        n.paused_until = None;
        n.restart_at = None;
        self.stats.crashes += 1;
        if self.opts.trace {
            eprintln!("[{}] crash peer {peer} (tear {tear:?})", self.now);
        }
        let synced = n
            .disk
            .durable_files(std::path::Path::new(super::world::DIR));
        n.disk.crash_tearing(tear);
        self.maybe_damage(peer, &synced);
        self.forget_reads(peer);
        // Its connections close: every live member's transport notices, as
        // the TCP transport reports a closed peer connection.
        for q in self.live() {
            if let Some(r) = self.replica(q) {
                r.report_unreachable(peer);
            }
        }
    }
}
