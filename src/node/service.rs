//! Serving clients: authorization, then the request against the local
//! [`Node`].
//!
//! Identities are certificate subjects, for members and clients alike. The
//! policy names who may **read** (status, catalog queries), who may
//! **propose** ownership transitions, and who holds the **operator**
//! capability (forced transitions, membership changes, leadership
//! transfers). Each level includes the ones below it. Members of the
//! cluster may read, so a joining member can learn its peer id. Everything
//! else is refused with [`ClientError::Unauthorized`], and logged.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::protocol::{ClientError, Request, Response, StatusInfo, MAX_PAGE};
use super::{Node, ProposeError};
use crate::entry::{ControlPlaneEntry, ForcedOwnershipTransition, NodeId};

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// Status and catalog reads.
    Read,
    /// Ordinary ownership transitions.
    Propose,
    /// Forced transitions, membership changes, leadership transfers.
    Operate,
}

impl Capability {
    fn verb(self) -> &'static str {
        match self {
            Capability::Read => "read",
            Capability::Propose => "propose ownership transitions",
            Capability::Operate => "use the operator capability",
        }
    }
}

/// Who may do what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// May read.
    pub readers: BTreeSet<NodeId>,
    /// May read and propose ownership transitions.
    pub proposers: BTreeSet<NodeId>,
    /// May do everything.
    pub operators: BTreeSet<NodeId>,
}

impl Authorization {
    /// Whether `who` may use `cap`; `is_member` grants reading.
    pub fn allows(&self, who: &NodeId, cap: Capability, is_member: bool) -> bool {
        let level = if self.operators.contains(who) {
            Some(Capability::Operate)
        } else if self.proposers.contains(who) {
            Some(Capability::Propose)
        } else if self.readers.contains(who) || is_member {
            Some(Capability::Read)
        } else {
            None
        };
        level.is_some_and(|l| l >= cap)
    }
}

/// What proposing `entry` needs.
pub fn capability_for(entry: &ControlPlaneEntry) -> Capability {
    match entry {
        ControlPlaneEntry::OwnershipTransition(_) => Capability::Propose,
        ControlPlaneEntry::ForcedOwnershipTransition(_)
        | ControlPlaneEntry::Membership(_)
        | ControlPlaneEntry::LeaderConfiguration { .. } => Capability::Operate,
    }
}

/// Answers client requests for one member.
#[derive(Debug, Clone)]
pub struct ClientService {
    node: Arc<Node>,
    policy: Arc<Authorization>,
    /// The longest a read may wait for the leader.
    read_timeout: Duration,
}

impl ClientService {
    /// A service for `node` under `policy`.
    pub fn new(node: Arc<Node>, policy: Authorization) -> Self {
        Self {
            node,
            policy: Arc::new(policy),
            read_timeout: Duration::from_secs(5),
        }
    }

    /// Handles one encoded request from the authenticated `client` and
    /// returns the encoded response.
    pub fn handle_bytes(&self, client: &NodeId, request: &[u8]) -> Vec<u8> {
        let response = match Request::decode(request) {
            Ok(req) => self.handle(client, req),
            Err(e) => Response::Error(ClientError::BadRequest(e.to_string())),
        };
        response.encode()
    }

    fn is_member(&self, who: &NodeId) -> bool {
        let who = who.clone();
        self.node
            .read_local(move |c, _| c.member(&who).is_some())
            .unwrap_or(false)
    }

    fn authorize(&self, who: &NodeId, cap: Capability) -> Result<(), ClientError> {
        let member = cap == Capability::Read && self.is_member(who);
        if self.policy.allows(who, cap, member) {
            Ok(())
        } else {
            tracing::warn!(identity = %who, "refused: not authorized to {}", cap.verb());
            Err(ClientError::Unauthorized {
                identity: who.clone(),
                action: cap.verb().into(),
            })
        }
    }

    /// Handles one request from the authenticated `client`.
    pub fn handle(&self, client: &NodeId, req: Request) -> Response {
        match self.serve(client, req) {
            Ok(r) => r,
            Err(e) => Response::Error(e),
        }
    }

    fn read<R: Send + 'static>(
        &self,
        linearizable: bool,
        f: impl FnOnce(&crate::catalog::Catalog, crate::entry::Index) -> R + Send + 'static,
    ) -> Result<R, ClientError> {
        let r = if linearizable {
            self.node.read_linearizable(self.read_timeout, f)
        } else {
            self.node.read_local(f)
        };
        r.map_err(ClientError::from)
    }

    fn serve(&self, client: &NodeId, req: Request) -> Result<Response, ClientError> {
        let cap = match &req {
            Request::Propose { entry, .. } => capability_for(entry),
            Request::TransferLeader { .. } => Capability::Operate,
            _ => Capability::Read,
        };
        self.authorize(client, cap)?;
        Ok(match req {
            Request::Status => {
                let st = self.node.status();
                let version = self.read(false, |c, _| c.version())?;
                Response::Status(StatusInfo {
                    id: st.id,
                    peer_id: st.peer_id,
                    role: role_name(st.role).into(),
                    term: st.term,
                    leader: st.leader,
                    commit: st.commit,
                    applied: st.applied,
                    version,
                    voters: st.voters,
                    learners: st.learners,
                })
            }
            Request::Owner {
                range,
                linearizable,
            } => {
                let (o, at) =
                    self.read(linearizable, move |c, at| (c.owner(&range).cloned(), at))?;
                Response::Owner(o, at)
            }
            Request::FenceCheck {
                range,
                owner,
                epoch,
                linearizable,
            } => {
                let (f, at) = self.read(linearizable, move |c, at| {
                    (c.fence_check(&range, &owner, epoch), at)
                })?;
                Response::Fence(f, at)
            }
            Request::Members { linearizable } => {
                let (m, at) =
                    self.read(linearizable, |c, at| (c.members().cloned().collect(), at))?;
                Response::Members(m, at)
            }
            Request::Ranges {
                after,
                limit,
                linearizable,
            } => {
                let limit = limit.clamp(1, MAX_PAGE) as usize;
                let (page, more, at) = self.read(linearizable, move |c, at| {
                    let mut it = c
                        .ranges()
                        .filter(|(r, _)| after.as_ref().is_none_or(|a| *r > a))
                        .map(|(r, o)| (r.clone(), o.clone()));
                    let page: Vec<_> = it.by_ref().take(limit).collect();
                    let more = it.next().is_some();
                    (page, more, at)
                })?;
                Response::Ranges(page, more, at)
            }
            Request::Audit { linearizable } => {
                let (a, at) = self.read(linearizable, |c, at| (c.audit_log().to_vec(), at))?;
                Response::Audit(a, at)
            }
            Request::Propose {
                entry,
                session,
                timeout_ms,
            } => {
                let entry = attributed(entry, client);
                let timeout = Duration::from_millis(u64::from(timeout_ms.clamp(1, 60_000)));
                use crate::node::ControlPlaneConsensus;
                let proposal = crate::entry::Proposal { session, entry };
                Response::Committed(self.node.submit(proposal, timeout)?)
            }
            Request::TransferLeader { to } => {
                self.node.transfer_leadership(&to)?;
                Response::Done
            }
            Request::Metrics => Response::Metrics(self.node.metrics_text()),
        })
    }
}

/// A forced transition's audit record names the identity that
/// authenticated the proposal, whatever operator the request wrote: the
/// free-text reason is the client's, the name is not.
fn attributed(entry: ControlPlaneEntry, client: &NodeId) -> ControlPlaneEntry {
    match entry {
        ControlPlaneEntry::ForcedOwnershipTransition(t) => {
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                operator: client.clone(),
                ..t
            })
        }
        other => other,
    }
}

/// The stable lower-case name of a raft role.
pub fn role_name(role: raft::StateRole) -> &'static str {
    match role {
        raft::StateRole::Leader => "leader",
        raft::StateRole::Follower => "follower",
        raft::StateRole::Candidate => "candidate",
        raft::StateRole::PreCandidate => "pre-candidate",
    }
}

impl From<ProposeError> for Response {
    fn from(e: ProposeError) -> Self {
        Response::Error(ClientError::Propose(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::from_certificate_subject(s).unwrap()
    }

    #[test]
    fn capabilities_nest() {
        let mut p = Authorization::default();
        p.readers.insert(id("CN=r"));
        p.proposers.insert(id("CN=p"));
        p.operators.insert(id("CN=o"));
        for (who, read, propose, operate) in [
            ("CN=r", true, false, false),
            ("CN=p", true, true, false),
            ("CN=o", true, true, true),
            ("CN=x", false, false, false),
        ] {
            let who = id(who);
            assert_eq!(p.allows(&who, Capability::Read, false), read, "{who}");
            assert_eq!(p.allows(&who, Capability::Propose, false), propose, "{who}");
            assert_eq!(p.allows(&who, Capability::Operate, false), operate, "{who}");
        }
        // Membership grants reading only.
        assert!(p.allows(&id("CN=x"), Capability::Read, true));
        assert!(!p.allows(&id("CN=x"), Capability::Propose, true));
    }

    #[test]
    fn entries_need_the_right_capability() {
        use crate::entry::*;
        let t = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: "r".parse().unwrap(),
            new_owner: id("CN=a"),
            epoch: Epoch(1),
        });
        assert_eq!(capability_for(&t), Capability::Propose);
        let m = ControlPlaneEntry::Membership(MembershipChange::Remove { member: id("CN=a") });
        assert_eq!(capability_for(&m), Capability::Operate);
    }
}
