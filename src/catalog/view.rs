//! [`CatalogView`]: the applied catalog as readers see it, an immutable
//! value that a member publishes after every applied batch and that any
//! thread reads without waiting for the member's driver.
//!
//! Its maps and the audit list are persistent structures shared with the
//! catalog: taking a view ([`Catalog::view`]) is O(1) whatever the catalog's
//! size, and the next applied entry copies only the path it changes.

use super::{AuditLog, Catalog, FenceStatus, Member, RangeOwnership};
use crate::entry::{CatalogVersion, Epoch, Index, NodeId, RangeId, Term};

/// The catalog as applied at one log position ([`CatalogView::applied`]):
/// ranges, members, the audit list, the version and the recorded leader.
/// Immutable; cheap to clone and to share between threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogView {
    pub(super) members: imbl::OrdMap<NodeId, Member>,
    pub(super) ranges: imbl::OrdMap<RangeId, RangeOwnership>,
    pub(super) audit: AuditLog,
    pub(super) version: CatalogVersion,
    pub(super) leader: Option<(Term, NodeId)>,
    pub(super) applied_index: Index,
    pub(super) applied_term: Term,
}

/// Whether (`owner`, `epoch`) owns a range whose record is `current`: the
/// one rule both the catalog and its views answer with.
pub(super) fn fence(current: Option<&RangeOwnership>, owner: &NodeId, epoch: Epoch) -> FenceStatus {
    match current {
        None => FenceStatus::Unknown,
        Some(r) if epoch > r.epoch => FenceStatus::Unknown,
        Some(r) if epoch == r.epoch && *owner == r.owner => FenceStatus::Current,
        Some(r) => FenceStatus::Stale {
            owner: r.owner.clone(),
            epoch: r.epoch,
        },
    }
}

impl CatalogView {
    /// The index and term of the last log entry this view reflects.
    pub fn applied(&self) -> (Index, Term) {
        (self.applied_index, self.applied_term)
    }

    /// The current owner of `range`, with the entry that set it.
    pub fn owner(&self, range: &RangeId) -> Option<&RangeOwnership> {
        self.ranges.get(range)
    }

    /// Whether (`owner`, `epoch`) is the current owner of `range`.
    pub fn fence_check(&self, range: &RangeId, owner: &NodeId, epoch: Epoch) -> FenceStatus {
        fence(self.ranges.get(range), owner, epoch)
    }

    /// The members, in identity order.
    pub fn members(&self) -> impl ExactSizeIterator<Item = &Member> {
        self.members.values()
    }

    /// One member.
    pub fn member(&self, id: &NodeId) -> Option<&Member> {
        self.members.get(id)
    }

    /// Every owned range, in range order.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = (&RangeId, &RangeOwnership)> {
        self.ranges.iter()
    }

    /// The owned ranges after `after` (all from the first with `None`), in
    /// range order.
    pub fn ranges_after<'a>(
        &'a self,
        after: Option<&RangeId>,
    ) -> impl Iterator<Item = (&'a RangeId, &'a RangeOwnership)> + 'a {
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a.clone()),
            None => std::ops::Bound::Unbounded,
        };
        self.ranges.range((start, std::ops::Bound::Unbounded))
    }

    /// The forced transitions, oldest first.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// The catalog version.
    pub fn version(&self) -> CatalogVersion {
        self.version
    }

    /// The latest recorded leader configuration.
    pub fn leader(&self) -> Option<(Term, &NodeId)> {
        self.leader.as_ref().map(|(t, l)| (*t, l))
    }
}

impl Catalog {
    /// The catalog as readers see it now: O(1), sharing everything with
    /// this catalog (later changes to the catalog do not show in it).
    pub fn view(&self) -> CatalogView {
        CatalogView {
            members: self.members.clone(),
            ranges: self.ranges.clone(),
            audit: self.audit.clone(),
            version: self.version,
            leader: self.leader.clone(),
            applied_index: self.applied_index,
            applied_term: self.applied_term,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::InitialMember;
    use crate::entry::{ControlPlaneEntry, MemberKind, OwnershipTransition};

    fn id(s: &str) -> NodeId {
        NodeId::from_certificate_subject(s).unwrap()
    }

    #[test]
    fn a_view_keeps_what_it_saw_and_answers_as_the_catalog_does() {
        let a = id("CN=a");
        let mut c = Catalog::bootstrap(&[InitialMember {
            id: a.clone(),
            kind: MemberKind::Data,
            address: "127.0.0.1:1".parse().unwrap(),
        }])
        .unwrap();
        let move_to = |range: &str, epoch| {
            ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                range: range.parse().unwrap(),
                new_owner: a.clone(),
                epoch: Epoch(epoch),
            })
        };
        c.apply(Index(1), Term(1), &move_to("r1", 1)).unwrap();
        let before = c.view();
        c.apply(Index(2), Term(1), &move_to("r2", 1)).unwrap();
        c.apply(Index(3), Term(2), &move_to("r1", 2)).unwrap();
        let after = c.view();
        let r1: RangeId = "r1".parse().unwrap();
        let r2: RangeId = "r2".parse().unwrap();
        assert_eq!(before.applied(), (Index(1), Term(1)));
        assert_eq!(before.owner(&r1).unwrap().epoch, Epoch(1));
        assert!(before.owner(&r2).is_none());
        assert_eq!(before.fence_check(&r1, &a, Epoch(1)), FenceStatus::Current);
        assert_eq!(after.applied(), (Index(3), Term(2)));
        for (range, owner, epoch) in [
            (&r1, &a, Epoch(1)),
            (&r1, &a, Epoch(2)),
            (&r2, &a, Epoch(1)),
        ] {
            assert_eq!(
                after.fence_check(range, owner, epoch),
                c.fence_check(range, owner, epoch)
            );
        }
        assert_eq!(after.ranges().count(), 2);
        assert_eq!(
            after
                .ranges_after(Some(&r1))
                .map(|(r, _)| r.clone())
                .collect::<Vec<_>>(),
            vec![r2]
        );
        assert_eq!(after.members().count(), 1);
        assert_eq!(after.version(), c.version());
    }
}
