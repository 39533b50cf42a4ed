//! The simulated network: every message crosses the wire codec, then may be
//! lost, duplicated or delayed (and so reordered); partitioned links drop
//! everything and tell the sender its peer is unreachable, as a refused
//! connection would. As over TCP, a member sends to and accepts from only
//! its peers (the catalog's members, and removed members the raft
//! configuration still holds). Delivery steps each due message into its
//! member and pumps it.

use raft::eraftpb::{Message, MessageType};

use super::world::World;
use crate::transport::wire;

impl World {
    pub(super) fn send(&mut self, msg: Message) {
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
        // A member sends only to its peers (the transport has no link to
        // anyone else).
        if !self.link_allowed(from, to) {
            return;
        }
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

    /// Whether `me`'s transport has `other` as a peer, as the TCP transport
    /// decides: one of `me`'s [`Replica::peers`], or a member admitted after
    /// `me`'s catalog was last updated (its peer id is at or above `me`'s
    /// next peer id) that one of `me`'s peers vouches for (the TCP
    /// transport asks them). A member that is not running has no say.
    ///
    /// [`Replica::peers`]: crate::engine::Replica::peers
    fn link_allowed(&self, me: u64, other: u64) -> bool {
        let Some(r) = self.nodes.get(&me).and_then(|n| n.replica.as_ref()) else {
            return true;
        };
        if r.talks_to(other) {
            return true;
        }
        if other < r.catalog().next_peer_id() {
            return false;
        }
        let known: Vec<u64> = r.peers().iter().map(|m| m.peer_id).collect();
        let now = self.now;
        known.iter().any(|k| {
            *k != me
                && !self.net.blocked.contains(&(me, *k))
                && self.nodes.get(k).is_some_and(|n| {
                    n.serving(now)
                        && n.replica
                            .as_ref()
                            .is_some_and(|kr| kr.catalog().members().any(|m| m.peer_id == other))
                })
        })
    }

    pub(super) fn deliver(&mut self) {
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
            if let Some(until) = self
                .nodes
                .get(&to)
                .and_then(|n| n.paused_until)
                .filter(|t| *t > self.now)
            {
                // A paused process reads nothing; its socket buffers hold
                // the message until it resumes.
                self.net.seq += 1;
                self.net.queue.insert((until, self.net.seq), msg);
                continue;
            }
            if self.faults {
                self.crash_on_receipt(to, &msg);
            }
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
            // A member accepts messages only from its peers (the listener
            // refuses anyone else's connection).
            let refused = !self.link_allowed(to, from);
            let delivered = !blocked
                && !refused
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
}
