//! The client and operator workload: ownership transitions with expected
//! epochs (some deliberately stale) and forced transitions, membership
//! changes (admit, drain, remove after moving ranges away), and the liveness
//! probe. Each is submitted in a client session (`clients`).

use super::world::{name, World};
use crate::catalog::MemberState;
use crate::entry::{
    ControlPlaneEntry, Epoch, ForcedOwnershipTransition, MemberKind, MembershipChange, NodeId,
    OwnershipTransition,
};

impl World {
    pub(super) fn client_op(&mut self) {
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
        self.submit(entry);
    }

    /// A proposal that is valid in any catalog: re-admitting an active
    /// member as it is, or re-draining a draining one (both idempotent), so
    /// the liveness phase always has something to commit.
    pub(super) fn liveness_probe(&mut self) {
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
        self.submit(entry);
    }

    pub(super) fn membership_op(&mut self) {
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
        // While a member's disk is lost for good, the operator drains and
        // removes nobody: the remaining voters must keep a quorum.
        if choice != 0 && self.disk_lost() {
            return;
        }
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
        } else if choice == 1 && members.len() > 1 {
            let m = &members[self.rng.below(members.len() as u64) as usize];
            ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                member: m.0.clone(),
            })
        } else if members.len() > 1 {
            // Remove a drained member; first move its ranges away. Down to
            // a single member: a removal whose joint configuration needs
            // the leaving member's acknowledgements (two members to one)
            // must still complete.
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
                    self.submit(ControlPlaneEntry::ForcedOwnershipTransition(
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
        self.submit(entry);
    }
}
