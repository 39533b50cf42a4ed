//! The simulated readers: local reads (one member's catalog, with the index
//! it has applied) and linearizable reads ([`Replica::read`], served from
//! the member's catalog once it applied the read index). A driver numbers
//! its reads from 1 in each incarnation of its member, as the real node's
//! driver does. Each read is checked against the committed history: the
//! state it saw must be the catalog's state at the index it reflects, and a
//! linearizable read must reflect every proposal acknowledged before it
//! started.
//!
//! [`Replica::read`]: crate::engine::Replica::read

use std::collections::BTreeMap;

use super::World;
use crate::engine::ReadToken;
use crate::entry::RangeId;

/// Ticks a linearizable read may wait (the reader's deadline).
const READ_TICKS: u64 = 60;

/// A linearizable read waiting for its completion.
pub(in crate::sim) struct PendingRead {
    range: RangeId,
    started: u64,
    /// The highest index acknowledged to a client before the read started.
    need: u64,
}

/// The reads in flight, by member and token.
#[derive(Default)]
pub(in crate::sim) struct Reads {
    pending: BTreeMap<(u64, ReadToken), PendingRead>,
    /// Reads lost in a crash, which their reader makes again at the same
    /// member once it is back and knows a leader: (member, range).
    again: Vec<(u64, RangeId)>,
}

fn range(i: u64) -> RangeId {
    format!("r{i}")
        .parse()
        .unwrap_or_else(|e| unreachable!("{e}"))
}

impl World {
    /// A read at a random live member: local or linearizable.
    pub(in crate::sim) fn read_op(&mut self) {
        let live = self.serving();
        if live.is_empty() {
            return;
        }
        let peer = live[self.rng.below(live.len() as u64) as usize];
        let range = range(self.rng.below(6));
        if self.rng.chance(1, 3) {
            let Some(r) = self.nodes.get(&peer).and_then(|n| n.replica.as_ref()) else {
                return;
            };
            let at = r.catalog().applied().0 .0;
            let seen = r
                .catalog()
                .owner(&range)
                .map(|o| (o.owner.clone(), o.epoch));
            self.checker.read(self.now, peer, at, range, seen, None);
            return;
        }
        self.linearizable_read(peer, range);
    }

    /// A linearizable read at `peer`, numbered by its driver.
    fn linearizable_read(&mut self, peer: u64, range: RangeId) {
        let Some(n) = self.nodes.get_mut(&peer) else {
            return;
        };
        n.reads_issued += 1;
        let token = ReadToken(n.reads_issued);
        let need = self.checker.acked_max();
        self.reads.pending.insert(
            (peer, token),
            PendingRead {
                range,
                started: self.now,
                need,
            },
        );
        let follower = match self.replica(peer) {
            Some(r) => {
                r.read(token);
                !r.is_leader()
            }
            None => return,
        };
        self.pump(peer);
        // A crash right after a read request leaves, most often the first
        // of an incarnation, is the moment that punishes read contexts that
        // do not name the incarnation: its answer may reach the next one.
        let odds = if token.0 == 1 { 2 } else { 25 };
        if follower && self.faults && self.rng.chance(1, odds) {
            self.crash_soon(peer);
        }
    }

    /// Reads lost in a crash are made again at their member once it is
    /// back and knows a leader (its driver refuses a read before that).
    pub(in crate::sim) fn read_again(&mut self) {
        let again = std::mem::take(&mut self.reads.again);
        for (peer, range) in again {
            let ready = self.nodes.get(&peer).map(|n| {
                (
                    n.serving(self.now),
                    n.replica
                        .as_ref()
                        .is_some_and(|r| r.leader_hint().is_some()),
                    n.removed,
                )
            });
            match ready {
                Some((true, true, _)) => self.linearizable_read(peer, range),
                Some((_, _, false)) => self.reads.again.push((peer, range)),
                _ => {}
            }
        }
    }

    /// `peer` completed the read `token` at read index `index`: the reader
    /// is served from its catalog now.
    pub(in crate::sim) fn read_done(&mut self, peer: u64, token: ReadToken, index: u64) {
        let Some(p) = self.reads.pending.remove(&(peer, token)) else {
            return;
        };
        let Some(r) = self.nodes.get(&peer).and_then(|n| n.replica.as_ref()) else {
            return;
        };
        let at = r.catalog().applied().0 .0;
        let seen = r
            .catalog()
            .owner(&p.range)
            .map(|o| (o.owner.clone(), o.epoch));
        self.stats.reads += 1;
        if at < index {
            self.checker.fail(
                self.now,
                format!("peer {peer} completed read {token:?} at read index {index} with only {at} applied"),
            );
        }
        self.checker
            .read(self.now, peer, at, p.range, seen, Some((p.need, p.started)));
    }

    /// Forgets `peer`'s reads: it crashed or restarted (its driver's reads
    /// failed with it).
    pub(in crate::sim) fn forget_reads(&mut self, peer: u64) {
        let again = &mut self.reads.again;
        self.reads.pending.retain(|(p, _), r| {
            if *p == peer {
                again.push((*p, r.range.clone()));
            }
            *p != peer
        });
    }

    /// Drops reads past their deadline.
    pub(in crate::sim) fn expire_reads(&mut self) {
        let now = self.now;
        self.reads
            .pending
            .retain(|_, r| now - r.started <= READ_TICKS);
    }
}
