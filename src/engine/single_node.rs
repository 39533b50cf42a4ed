//! The seed's single-node engine: one member, its own quorum, leader of term
//! 1, log in memory.
//!
//! It is deliberately not the replicated engine. What it shares with it is
//! everything callers can see: the [`ControlPlaneConsensus`] contract, the
//! catalog rules (a transition whose epoch cannot fence is refused before it
//! is logged, and every entry is applied through [`Catalog::apply`]), and the
//! first entry of a term being its leader configuration.

use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

use crate::catalog::{
    ApplyOutcome, AuditRecord, Catalog, CatalogError, FenceStatus, InitialMember, Member,
    RangeOwnership, SessionCheck,
};
use crate::consensus::{
    Committed, ControlPlaneConsensus, DurableVoteState, LeaderHint, ProposeError,
};
use crate::entry::{ControlPlaneEntry, Epoch, Index, NodeId, Proposal, RangeId, Term};

/// One committed entry of the single-node log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its index (from 1).
    pub index: Index,
    /// The term that wrote it.
    pub term: Term,
    /// The entry.
    pub entry: ControlPlaneEntry,
}

#[derive(Debug)]
struct State {
    term: Term,
    is_leader: bool,
    shut_down: bool,
    vote: DurableVoteState,
    log: Vec<LogRecord>,
    catalog: Catalog,
}

/// A single-member control plane: this member is the sole voter and so the
/// leader of term 1.
#[derive(Debug)]
pub struct SingleNodeControlPlane {
    me: InitialMember,
    state: Mutex<State>,
    /// Held (shared) by a registration while it runs its callback, and
    /// (exclusively) by shutdown: shutdown waits for callbacks in flight, so
    /// none runs after it returns.
    callbacks: RwLock<()>,
}

impl SingleNodeControlPlane {
    /// A control plane whose only member is `me`, elected leader of term 1
    /// with its own vote. The leader configuration for term 1 is the first
    /// committed entry, at index 1.
    pub fn bootstrap_leader(me: InitialMember) -> Result<Self, CatalogError> {
        let term = Term::GENESIS.next();
        let catalog = Catalog::bootstrap(std::slice::from_ref(&me))?;
        let node = Self {
            state: Mutex::new(State {
                term,
                is_leader: true,
                shut_down: false,
                vote: DurableVoteState {
                    term,
                    voted_for: Some(me.id.clone()),
                },
                log: Vec::new(),
                catalog,
            }),
            callbacks: RwLock::new(()),
            me,
        };
        let config = ControlPlaneEntry::LeaderConfiguration {
            term,
            leader: node.me.id.clone(),
        };
        let mut state = node.lock();
        Self::append(&mut state, Proposal::bare(config)).map_err(|e| {
            CatalogError::InvalidBootstrap(format!("the first leader configuration failed: {e}"))
        })?;
        drop(state);
        Ok(node)
    }

    /// The committed entries, in log order.
    pub fn entries(&self) -> Vec<LogRecord> {
        self.lock().log.clone()
    }

    /// Stops accepting proposals; later proposals answer
    /// [`ProposeError::Shutdown`]. Reads keep working.
    pub fn shutdown(&self) {
        let _no_callback_in_flight = self.callbacks.write().unwrap_or_else(|p| p.into_inner());
        self.lock().shut_down = true;
    }

    /// Runs `f` against the applied catalog.
    pub fn with_catalog<R>(&self, f: impl FnOnce(&Catalog) -> R) -> R {
        f(&self.lock().catalog)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written:
        // every mutation is a single push or a catalog apply that checks
        // before it writes. So a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(state: &mut State, proposal: Proposal) -> Result<Committed, ProposeError> {
        if let Some(session) = &proposal.session {
            // A retry whose first attempt is known answers its first outcome.
            let known = match state.catalog.session(session) {
                SessionCheck::New => None,
                SessionCheck::Repeat(first) => Some(ApplyOutcome::Repeat(Box::new(first))),
                SessionCheck::TooOld => Some(ApplyOutcome::RetryTooOld),
            };
            if let Some(outcome) = known {
                return Committed::from_outcome(outcome, Index(0), Term(0));
            }
        }
        if let ControlPlaneEntry::OwnershipTransition(t) = &proposal.entry {
            // Fence before the log: a transition that cannot win is not logged.
            state
                .catalog
                .check_transition(t)
                .map_err(|refusal| ProposeError::Refused { refusal, at: None })?;
        }
        let index = Index(state.log.len() as u64 + 1);
        let term = state.term;
        let outcome = state
            .catalog
            .apply_proposal(index, term, &proposal)
            .map_err(|e| ProposeError::Storage(e.to_string()))?;
        state.log.push(LogRecord {
            index,
            term,
            entry: proposal.entry,
        });
        Committed::from_outcome(outcome, index, term)
    }
}

impl ControlPlaneConsensus for SingleNodeControlPlane {
    fn id(&self) -> &NodeId {
        &self.me.id
    }

    fn current_term(&self) -> Term {
        self.lock().term
    }

    fn leader(&self) -> Option<NodeId> {
        self.lock().is_leader.then(|| self.me.id.clone())
    }

    fn is_leader(&self) -> bool {
        self.lock().is_leader
    }

    fn durable_vote(&self) -> DurableVoteState {
        self.lock().vote.clone()
    }

    fn commit_index(&self) -> Option<Index> {
        self.lock().log.last().map(|r| r.index)
    }

    /// Commits at once: the single member is a quorum. `timeout` is accepted
    /// for the contract's sake; nothing here waits on other members.
    fn submit(&self, proposal: Proposal, _timeout: Duration) -> Result<Committed, ProposeError> {
        let mut state = self.lock();
        if state.shut_down {
            return Err(ProposeError::Shutdown);
        }
        if !state.is_leader {
            return Err(ProposeError::NotLeader {
                leader: None::<LeaderHint>,
            });
        }
        if let ControlPlaneEntry::LeaderConfiguration { term, leader } = &proposal.entry {
            // Elections are the engine's to record; a caller may only
            // repeat the current one.
            if *term != state.term || *leader != self.me.id {
                return Err(ProposeError::Refused {
                    refusal: crate::catalog::Refusal::LeaderConfigurationNotCurrent {
                        term: *term,
                        leader: leader.clone(),
                    },
                    at: None,
                });
            }
        }
        Self::append(&mut state, proposal)
    }

    fn try_submit_with(
        &self,
        proposal: Proposal,
        timeout: Duration,
        callback: crate::consensus::ProposeCallback,
    ) -> Result<(), crate::consensus::Unsubmitted> {
        let _running = self.callbacks.read().unwrap_or_else(|p| p.into_inner());
        if self.lock().shut_down {
            return Err(crate::consensus::Unsubmitted {
                callback,
                error: ProposeError::Shutdown,
            });
        }
        callback(self.submit(proposal, timeout));
        Ok(())
    }

    fn owner(&self, range: &RangeId) -> Option<RangeOwnership> {
        self.lock().catalog.owner(range).cloned()
    }

    fn fence_check(&self, range: &RangeId, owner: &NodeId, epoch: Epoch) -> FenceStatus {
        self.lock().catalog.fence_check(range, owner, epoch)
    }

    fn members(&self) -> Vec<Member> {
        self.lock().catalog.members().cloned().collect()
    }

    fn audit_log(&self) -> Vec<AuditRecord> {
        self.lock().catalog.audit_log().iter().cloned().collect()
    }

    fn applied_index(&self) -> Index {
        self.lock().catalog.applied().0
    }
}

#[cfg(test)]
mod tests {
    //! The seed's four tests, ported to the replicable boundary.
    use super::*;
    use crate::catalog::Refusal;
    use crate::entry::{CatalogVersion, MemberKind, MembershipChange, OwnershipTransition};

    const T: Duration = Duration::from_secs(1);

    fn voter(cn: &str) -> NodeId {
        NodeId::from_certificate_subject(cn).unwrap()
    }

    fn bootstrap(cn: &str) -> SingleNodeControlPlane {
        SingleNodeControlPlane::bootstrap_leader(InitialMember {
            id: voter(cn),
            kind: MemberKind::Data,
            address: "127.0.0.1:7000".parse().unwrap(),
        })
        .unwrap()
    }

    fn admit(cn: &str) -> ControlPlaneEntry {
        ControlPlaneEntry::Membership(MembershipChange::Admit {
            member: voter(cn),
            kind: MemberKind::Data,
            address: "127.0.0.1:7001".parse().unwrap(),
        })
    }

    #[test]
    fn bootstrap_leader_elects_itself_in_term_one() {
        let id = voter("CN=node-a");
        let cp = bootstrap("CN=node-a");
        assert_eq!(cp.current_term(), Term(1));
        assert!(cp.is_leader());
        assert_eq!(cp.leader(), Some(id.clone()));
        assert_eq!(
            cp.durable_vote(),
            DurableVoteState {
                term: Term(1),
                voted_for: Some(id.clone()),
            }
        );
        // The election itself is the first committed fact.
        assert_eq!(cp.commit_index(), Some(Index(1)));
        assert_eq!(
            cp.entries()[0].entry,
            ControlPlaneEntry::LeaderConfiguration {
                term: Term(1),
                leader: id
            }
        );
    }

    #[test]
    fn leader_appends_ownership_transition_and_commit_index_advances() {
        let cp = bootstrap("CN=node-a");
        cp.propose(admit("CN=node-b"), T).unwrap();
        let committed = cp
            .propose(
                ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                    range: "users:[0,1000)".parse().unwrap(),
                    new_owner: voter("CN=node-b"),
                    epoch: Epoch(1),
                }),
                T,
            )
            .expect("leader may append");
        assert_eq!(committed.index, Index(3));
        assert_eq!(committed.term, Term(1));
        assert!(committed.changed);
        assert_eq!(cp.commit_index(), Some(Index(3)));
        assert_eq!(cp.entries().len(), 3);
        let owner = cp.owner(&"users:[0,1000)".parse().unwrap()).unwrap();
        assert_eq!(
            (owner.owner, owner.epoch, owner.index),
            (voter("CN=node-b"), Epoch(1), Index(3))
        );
    }

    #[test]
    fn membership_and_leader_config_entries_are_ordered() {
        let cp = bootstrap("CN=node-a");
        let first = cp
            .propose(
                ControlPlaneEntry::LeaderConfiguration {
                    term: Term(1),
                    leader: voter("CN=node-a"),
                },
                T,
            )
            .unwrap();
        assert!(
            !first.changed,
            "the term-1 configuration is already recorded"
        );
        let second = cp.propose(admit("CN=node-b"), T).unwrap();
        assert!(second.index > first.index);
        assert_eq!(second.version, CatalogVersion(2));
        assert_eq!(cp.commit_index(), Some(second.index));
    }

    #[test]
    fn a_follower_may_not_append() {
        let cp = bootstrap("CN=node-a");
        cp.lock().is_leader = false;
        let err = cp
            .propose(
                ControlPlaneEntry::Membership(MembershipChange::Remove {
                    member: voter("CN=node-b"),
                }),
                T,
            )
            .expect_err("a follower must not append");
        assert_eq!(err, ProposeError::NotLeader { leader: None });
        assert_eq!(
            err.to_string(),
            "not the control-plane leader; no leader currently known"
        );
    }

    #[test]
    fn a_stale_transition_is_refused_before_the_log() {
        let cp = bootstrap("CN=node-a");
        let t = |e| {
            ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                range: "r".parse().unwrap(),
                new_owner: voter("CN=node-a"),
                epoch: Epoch(e),
            })
        };
        cp.propose(t(1), T).unwrap();
        let before = cp.commit_index();
        let err = cp.propose(t(1), T).unwrap_err();
        assert!(matches!(
            err,
            ProposeError::Refused {
                refusal: Refusal::StaleEpoch { .. },
                at: None
            }
        ));
        assert_eq!(
            cp.commit_index(),
            before,
            "a stale transition is not logged"
        );
    }

    #[test]
    fn a_refusal_at_apply_reports_its_position() {
        let cp = bootstrap("CN=node-a");
        let err = cp
            .propose(
                ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                    member: voter("CN=ghost"),
                }),
                T,
            )
            .unwrap_err();
        assert_eq!(
            err,
            ProposeError::Refused {
                refusal: Refusal::UnknownMember {
                    member: voter("CN=ghost")
                },
                at: Some((Index(2), Term(1)))
            }
        );
    }

    #[test]
    fn only_the_current_leader_configuration_may_be_proposed() {
        let cp = bootstrap("CN=node-a");
        for (term, leader) in [(2, "CN=node-a"), (1, "CN=node-b"), (0, "CN=node-a")] {
            let err = cp
                .propose(
                    ControlPlaneEntry::LeaderConfiguration {
                        term: Term(term),
                        leader: voter(leader),
                    },
                    T,
                )
                .unwrap_err();
            assert!(matches!(
                err,
                ProposeError::Refused {
                    refusal: Refusal::LeaderConfigurationNotCurrent { .. },
                    at: None
                }
            ));
        }
        assert_eq!(cp.commit_index(), Some(Index(1)), "nothing was logged");
    }

    #[test]
    fn shutdown_stops_proposals() {
        let cp = bootstrap("CN=node-a");
        cp.shutdown();
        assert_eq!(cp.propose(admit("CN=b"), T), Err(ProposeError::Shutdown));
        assert_eq!(cp.members().len(), 1, "reads keep working");
    }
}
