//! Membership of a [`Replica`]: applying configuration changes, noticing
//! this member's own removal, and the leader's duties: recording its leader
//! configuration, and bringing the raft configuration in line with the
//! catalog one change at a time (admitted members join as learners, caught-up
//! learners become voters, removed members leave through joint consensus,
//! and a leader that is removed or draining hands leadership over first).

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

use std::collections::BTreeMap;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType,
};
use raft::StateRole;

use super::Replica;
use crate::engine::{EngineError, ReplicaStore};
use crate::entry::{ControlPlaneEntry, NodeId, Term};

impl<S: ReplicaStore> Replica<S> {
    pub(super) fn apply_conf_change(&mut self, e: &Entry) -> Result<(), EngineError> {
        // The data is a ConfChangeV2 this engine produced (the wire codec
        // re-encodes configuration changes from validated fields, so these
        // bytes never come raw from a peer).
        let cs = if e.get_entry_type() == EntryType::EntryConfChangeV2 {
            let cc = ConfChangeV2::parse_from_bytes(&e.data).map_err(|err| {
                EngineError::CorruptEntry {
                    index: e.index,
                    detail: format!("configuration change: {err}"),
                }
            })?;
            self.raw.apply_conf_change(&cc)
        } else {
            let cc = raft::eraftpb::ConfChange::parse_from_bytes(&e.data).map_err(|err| {
                EngineError::CorruptEntry {
                    index: e.index,
                    detail: format!("configuration change: {err}"),
                }
            })?;
            self.raw.apply_conf_change(&cc)
        };
        match cs {
            Ok(cs) => {
                // Durable before anyone acts on it: the configuration and
                // the commit index that reached it (which otherwise rides
                // with the next fsync). A member that applied the step
                // leaving a joint configuration, and then restarted with
                // the joint one and an older commit index, needed the votes
                // of members the cluster had already let go.
                let mut hs = self.store.hard_state();
                hs.commit = hs.commit.max(e.index);
                self.store
                    .set_conf_state(&cs)
                    .and_then(|()| self.store.set_hard_state(&hs))
                    .and_then(|()| self.store.sync())
                    .map_err(|err| EngineError::Storage(err.to_string()))?;
                self.conf_state = cs;
                self.check_removed();
            }
            // Refused by raft's own rules (identically on every replica):
            // the configuration stays as it was.
            Err(err) => tracing::warn!(index = e.index, "configuration change refused: {err}"),
        }
        Ok(())
    }

    /// The members this one exchanges messages with: the catalog's
    /// members, and removed members the raft configuration still holds
    /// (a removal leaves the catalog first and the raft configuration
    /// through joint consensus after it, and until then the leader needs
    /// the removed member's acknowledgements). Ascending by peer id.
    pub fn peers(&self) -> Vec<crate::catalog::Member> {
        let cs = &self.conf_state;
        let mut peers: Vec<crate::catalog::Member> = self
            .catalog
            .members()
            .chain(self.catalog.departed().filter(|m| holds(cs, m.peer_id)))
            .cloned()
            .collect();
        peers.sort_by_key(|m| m.peer_id);
        peers
    }

    /// Whether this member exchanges messages with `peer_id` (one of
    /// [`Replica::peers`]). A member whose catalog names nobody yet (it
    /// joined and awaits its first snapshot) talks to anyone: its transport
    /// uses the configured seed peers.
    pub fn talks_to(&self, peer_id: u64) -> bool {
        let cs = &self.conf_state;
        let catalog = &self.catalog;
        catalog.members().len() == 0
            || catalog.members().any(|m| m.peer_id == peer_id)
            || (holds(cs, peer_id) && catalog.departed().any(|m| m.peer_id == peer_id))
    }

    pub(super) fn check_removed(&mut self) {
        let cs = &self.conf_state;
        let me = self.peer_id;
        let present = holds(cs, me);
        // A member with an empty configuration has not joined yet.
        let configured = !(cs.voters.is_empty() && cs.learners.is_empty());
        if configured && !present && !self.removed {
            tracing::info!(peer = me, "this member was removed from the configuration");
            self.removed = true;
            // It leads nobody any more (it lingers only to answer peers
            // that still need its vote to leave a joint configuration).
            if self.raw.raft.state == StateRole::Leader {
                let term = self.raw.raft.term;
                self.raw.raft.become_follower(term, raft::INVALID_ID);
            }
        }
    }

    /// The leader's own proposals: its leader configuration, and one step of
    /// bringing the raft configuration in line with the catalog.
    pub(super) fn leader_duties(&mut self) {
        if self.raw.raft.state != StateRole::Leader || self.removed {
            return;
        }
        let term = self.raw.raft.term;
        let recorded = self.catalog.leader().map(|(t, _)| t.0).unwrap_or(0);
        if self.leader_config_term != term && recorded < term {
            let lc = ControlPlaneEntry::LeaderConfiguration {
                term: Term(term),
                leader: self.id.clone(),
            };
            if self.raw.propose(Vec::new(), lc.encode()).is_ok() {
                self.leader_config_term = term;
            }
        }
        // One configuration change at a time.
        if self.raw.raft.pending_conf_index > self.raw.raft.raft_log.applied {
            return;
        }
        if let Some(cc) = self.next_conf_change() {
            if let Err(e) = self.raw.propose_conf_change(Vec::new(), cc) {
                tracing::debug!("configuration change not proposed: {e}");
            }
        }
    }

    /// The next configuration step, or a leadership transfer when the leader
    /// itself has to go.
    fn next_conf_change(&mut self) -> Option<ConfChangeV2> {
        let cs = self.conf_state.clone();
        let admitted: BTreeMap<u64, (NodeId, bool)> = self
            .catalog
            .members()
            .map(|m| {
                (
                    m.peer_id,
                    (
                        m.id.clone(),
                        m.state == crate::catalog::MemberState::Draining,
                    ),
                )
            })
            .collect();
        if !cs.voters_outgoing.is_empty() {
            // Joint: a leader that the new configuration leaves out hands
            // over to one of its voters first (the commit index of the
            // leave step must end up with a member that stays; a leaving
            // leader stops once others apply it). Then the leader proposes
            // the leave step itself (raft-rs's auto-leave can stall).
            if !cs.voters.contains(&self.peer_id) && self.hand_over_leadership(&admitted, true) {
                return None;
            }
            return Some(ConfChangeV2::default());
        }
        let in_conf = |p: u64| cs.voters.contains(&p) || cs.learners.contains(&p);
        // Removals first. The leader never removes itself: it hands over.
        let mut gone: Vec<u64> = cs
            .voters
            .iter()
            .chain(cs.learners.iter())
            .copied()
            .filter(|p| !admitted.contains_key(p) && *p != self.peer_id)
            .collect();
        gone.sort_unstable();
        if let Some(p) = gone.first().copied() {
            return Some(single(
                p,
                ConfChangeType::RemoveNode,
                ConfChangeTransition::Explicit,
            ));
        }
        match admitted.get(&self.peer_id) {
            // Removed: hand over. With no other voter to take over (the
            // others are still learners), go on promoting them below: a
            // removed leader that stopped here would stall membership.
            None => {
                if self.hand_over_leadership(&admitted, true) {
                    return None;
                }
            }
            Some((_, true)) => {
                self.hand_over_leadership(&admitted, false);
            }
            Some((_, false)) => {}
        }
        // Admitted members not yet in the configuration join as learners.
        if let Some(p) = admitted.keys().copied().find(|p| !in_conf(*p)) {
            return Some(single(
                p,
                ConfChangeType::AddLearnerNode,
                ConfChangeTransition::Auto,
            ));
        }
        // Learners that caught up become voters.
        let last = self.raw.raft.raft_log.last_index();
        let lag = self.cfg.max_learner_lag;
        let prs = self.raw.raft.prs();
        let mut learners = cs.learners.clone();
        learners.sort_unstable();
        // A learner has caught up once it has answered (matched > 0: a new
        // one starts at 0 and holds at least the genesis snapshot when it
        // answers), is in touch, and is within the lag bound. Promoting one
        // that never answered would count an absent member toward quorum.
        learners
            .into_iter()
            .find(|p| {
                prs.get(*p).is_some_and(|pr| {
                    pr.matched > 0 && pr.recent_active && pr.matched + lag >= last
                })
            })
            .map(|p| single(p, ConfChangeType::AddNode, ConfChangeTransition::Auto))
    }

    /// Transfers leadership to the most caught-up voter that is admitted and
    /// not draining (ties broken by identity order). A removed leader must
    /// go, so it settles for a draining voter when it has to; a draining
    /// leader only hands over to a voter that is not draining, or leadership
    /// would bounce between draining members forever.
    ///
    /// Returns whether a transfer is under way.
    fn hand_over_leadership(
        &mut self,
        admitted: &BTreeMap<u64, (NodeId, bool)>,
        must_go: bool,
    ) -> bool {
        if self.raw.raft.lead_transferee.is_some() {
            return true;
        }
        let prs = self.raw.raft.prs();
        let target = self
            .conf_state
            .voters
            .iter()
            .copied()
            .filter(|p| *p != self.peer_id)
            .filter_map(|p| {
                let (id, draining) = admitted.get(&p)?;
                let matched = prs.get(p)?.matched;
                Some((*draining, std::cmp::Reverse(matched), id.clone(), p))
            })
            .min()
            .filter(|(draining, _, _, _)| must_go || !*draining)
            .map(|(_, _, _, p)| p);
        match target {
            Some(p) => {
                tracing::info!(to = p, "handing leadership over");
                self.raw.transfer_leader(p);
                true
            }
            None => false,
        }
    }
}

/// Whether raft configuration `cs` holds `peer` in any role (voter or
/// learner, incoming or outgoing).
fn holds(cs: &ConfState, peer: u64) -> bool {
    cs.voters.contains(&peer)
        || cs.learners.contains(&peer)
        || cs.voters_outgoing.contains(&peer)
        || cs.learners_next.contains(&peer)
}

fn single(peer: u64, ty: ConfChangeType, transition: ConfChangeTransition) -> ConfChangeV2 {
    let mut s = ConfChangeSingle::default();
    s.set_change_type(ty);
    s.node_id = peer;
    let mut cc = ConfChangeV2::default();
    cc.set_transition(transition);
    cc.mut_changes().push(s);
    cc
}
