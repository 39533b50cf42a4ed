//! The faults injected while the fault phase lasts: crashes that lose
//! unsynced writes (sometimes tearing the last one) and restarts from the
//! disk, partitions and heals, leadership transfers, and the operator's
//! membership changes (drawn in the workload).

use std::collections::BTreeMap;

use super::world::World;

impl World {
    pub(super) fn inject_faults(&mut self) {
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

    pub(super) fn crash(&mut self, peer: u64) {
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
